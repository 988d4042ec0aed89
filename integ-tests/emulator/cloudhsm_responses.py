"""CloudHSM v2 JSON 1.1 API (X-Amz-Target: BaldrApiService.<Action>), replacing moto's stub.

Timestamps are epoch-second numbers, as the SDKs expect. Actions not listed here
(resource policies, CopyBackupToRegion, ModifyBackupAttributes) are not emulated.
"""

import functools
import json
from collections.abc import Callable
from typing import Any

from moto.core.responses import BaseResponse

from .cloudhsm_models import CloudHsmBackend, backend, paginate
from .runtime import RUNTIME


def emulated(handler: Callable[[Any], dict[str, Any]]) -> Callable[[Any], str]:
    """Run an action under the runtime lock and return its JSON body."""

    @functools.wraps(handler)
    def wrapper(self: Any) -> str:
        with RUNTIME.lock:
            return json.dumps(handler(self))

    return wrapper


class CloudHsmV2Response(BaseResponse):
    """Handlers named after the CloudHSM v2 actions (moto maps CamelCase to snake_case)."""

    def __init__(self) -> None:
        super().__init__(service_name="cloudhsmv2")

    @property
    def params(self) -> dict[str, Any]:
        return json.loads(self.body or "{}")

    @property
    def hsm_backend(self) -> CloudHsmBackend:
        return backend(self.current_account, self.region)

    @emulated
    def create_cluster(self) -> dict[str, Any]:
        return {"Cluster": self.hsm_backend.create_cluster(self.params).to_json()}

    @emulated
    def describe_clusters(self) -> dict[str, Any]:
        params = self.params
        clusters = self.hsm_backend.describe_clusters(params.get("Filters") or {})
        page, token = paginate(clusters, params.get("NextToken"), params.get("MaxResults"))
        result = [cluster.to_json() for cluster in page]
        for cluster in page:
            self.hsm_backend.note_csr_read(cluster)
        return {"Clusters": result, "NextToken": token}

    @emulated
    def initialize_cluster(self) -> dict[str, Any]:
        params = self.params
        cluster = self.hsm_backend.initialize_cluster(
            params.get("ClusterId"), params.get("SignedCert", ""), params.get("TrustAnchor", "")
        )
        return {"State": cluster.state, "StateMessage": "Cluster is initializing."}

    @emulated
    def modify_cluster(self) -> dict[str, Any]:
        params = self.params
        cluster = self.hsm_backend.modify_cluster(
            params.get("ClusterId"), params.get("BackupRetentionPolicy"), params.get("HsmType")
        )
        return {"Cluster": cluster.to_json()}

    @emulated
    def delete_cluster(self) -> dict[str, Any]:
        return {"Cluster": self.hsm_backend.delete_cluster(self.params.get("ClusterId")).to_json()}

    @emulated
    def create_hsm(self) -> dict[str, Any]:
        params = self.params
        hsm = self.hsm_backend.create_hsm(params.get("ClusterId"), params.get("AvailabilityZone"), params.get("IpAddress"))
        return {"Hsm": hsm.to_json()}

    @emulated
    def delete_hsm(self) -> dict[str, Any]:
        params = self.params
        hsm = self.hsm_backend.delete_hsm(
            params.get("ClusterId"), params.get("HsmId"), params.get("EniId"), params.get("EniIp")
        )
        return {"HsmId": hsm.hsm_id}

    @emulated
    def describe_backups(self) -> dict[str, Any]:
        params = self.params
        backups = self.hsm_backend.describe_backups(
            params.get("Filters") or {}, bool(params.get("Shared")), bool(params.get("SortAscending"))
        )
        page, token = paginate(backups, params.get("NextToken"), params.get("MaxResults"))
        return {"Backups": [b.to_json() for b in page], "NextToken": token}

    @emulated
    def delete_backup(self) -> dict[str, Any]:
        return {"Backup": self.hsm_backend.delete_backup(self.params.get("BackupId")).to_json()}

    @emulated
    def restore_backup(self) -> dict[str, Any]:
        return {"Backup": self.hsm_backend.restore_backup(self.params.get("BackupId")).to_json()}

    @emulated
    def tag_resource(self) -> dict[str, Any]:
        params = self.params
        self.hsm_backend.tag_resource(params.get("ResourceId", ""), params.get("TagList") or [])
        return {}

    @emulated
    def untag_resource(self) -> dict[str, Any]:
        params = self.params
        self.hsm_backend.untag_resource(params.get("ResourceId", ""), params.get("TagKeyList") or [])
        return {}

    @emulated
    def list_tags(self) -> dict[str, Any]:
        params = self.params
        tags = self.hsm_backend.list_tags(params.get("ResourceId", ""))
        page, token = paginate(tags, params.get("NextToken"), params.get("MaxResults"))
        return {"TagList": page, "NextToken": token}
