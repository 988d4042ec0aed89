"""CloudHSM v2 JSON 1.1 API (X-Amz-Target: BaldrApiService.<Action>), replacing moto's stub.

Timestamps are epoch-second numbers, as the SDKs expect. Actions not listed here
(resource policies, CopyBackupToRegion, ModifyBackupAttributes) are not emulated.
"""

from typing import Any

from moto.core.responses import BaseResponse

from ..core.responses import emulated, json_params
from .models import CloudHsmV2Backend, cloudhsmv2_backends


class CloudHsmV2Response(BaseResponse):
    """Handlers named after the CloudHSM v2 actions (moto maps CamelCase to snake_case)."""

    def __init__(self) -> None:
        super().__init__(service_name="cloudhsmv2")

    @property
    def params(self) -> dict[str, Any]:
        return json_params(self)

    @property
    def hsm_backend(self) -> CloudHsmV2Backend:
        return cloudhsmv2_backends[self.current_account][self.region]

    @emulated
    def create_cluster(self) -> dict[str, Any]:
        return {"Cluster": self.hsm_backend.create_cluster(self.params).to_json()}

    @emulated
    def describe_clusters(self) -> dict[str, Any]:
        params = self.params
        page, token = self.hsm_backend.describe_clusters(
            filters=params.get("Filters") or {}, next_token=params.get("NextToken"), max_results=params.get("MaxResults")
        )
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
        hsm = self.hsm_backend.delete_hsm(params.get("ClusterId"), params.get("HsmId"), params.get("EniId"), params.get("EniIp"))
        return {"HsmId": hsm.hsm_id}

    @emulated
    def describe_backups(self) -> dict[str, Any]:
        params = self.params
        page, token = self.hsm_backend.describe_backups(
            filters=params.get("Filters") or {},
            shared=bool(params.get("Shared")),
            ascending=bool(params.get("SortAscending")),
            next_token=params.get("NextToken"),
            max_results=params.get("MaxResults"),
        )
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
        page, token = self.hsm_backend.list_tags(
            resource_id=params.get("ResourceId", ""), next_token=params.get("NextToken"), max_results=params.get("MaxResults")
        )
        return {"TagList": page, "NextToken": token}
