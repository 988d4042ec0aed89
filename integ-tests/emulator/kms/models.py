"""KMS custom key stores of type AWS_CLOUDHSM, on top of moto's KMS (which has none).

Checks follow the KMS API reference: a store needs an ACTIVE cluster with two ACTIVE
HSMs in different AZs, the cluster's trust anchor, one store per cluster lineage.
ConnectCustomKeyStore is asynchronous and ends CONNECTED (KMS then rotates the
`kmsuser` password) or FAILED with a ConnectionErrorCode. Keys created in a store are
moto keys with Origin AWS_CLOUDHSM plus CustomKeyStoreId/CloudHsmClusterId.
"""

import secrets
from dataclasses import dataclass, field
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.utilities.paginator import paginate

from ..cloudhsmv2.models import CloudHsmV2Backend, Cluster, cloudhsmv2_backends
from ..core import pki
from ..core.runtime import RUNTIME
from .exceptions import (
    CloudHsmClusterInUseException,
    CloudHsmClusterInvalidConfigurationException,
    CloudHsmClusterNotActiveException,
    CloudHsmClusterNotFoundException,
    CloudHsmClusterNotRelatedException,
    CustomKeyStoreHasCMKsException,
    CustomKeyStoreInvalidStateException,
    CustomKeyStoreNameInUseException,
    CustomKeyStoreNotFoundException,
    IncorrectTrustAnchorException,
    UnsupportedOperationException,
    ValidationException,
)


@dataclass
class KeyStore:
    store_id: str
    name: str
    cluster_id: str
    trust_anchor: str
    password: str
    lineage: str
    state: str = "DISCONNECTED"
    error_code: str | None = None
    creation_date: float = field(default_factory=RUNTIME.now)
    attempt: int = 0

    def to_json(self) -> dict[str, Any]:
        entry = {
            "CustomKeyStoreId": self.store_id,
            "CustomKeyStoreName": self.name,
            "CloudHsmClusterId": self.cluster_id,
            "TrustAnchorCertificate": self.trust_anchor,
            "ConnectionState": self.state,
            "CreationDate": self.creation_date,
            "CustomKeyStoreType": "AWS_CLOUDHSM",
        }
        if self.state == "FAILED" and self.error_code:
            entry["ConnectionErrorCode"] = self.error_code
        return entry


class KeyStoreBackend(BaseBackend):
    """The AWS_CLOUDHSM key stores of one account and region, and which KMS keys are in them.

    The keys themselves live in moto's KMS backend (`moto.kms.models.kms_backends`).
    """

    PAGINATION_MODEL = {
        "describe": {
            "input_token": "marker",
            "limit_key": "limit",
            "limit_default": 1000,
            "unique_attribute": "store_id",
            "fail_on_invalid_token": False,
        },
    }

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.stores: dict[str, KeyStore] = {}
        self.key_store_of: dict[str, str] = {}  # KMS key id -> key store id

    @property
    def _hsm_backend(self) -> CloudHsmV2Backend:
        return cloudhsmv2_backends[self.account_id][self.region_name]

    def get(self, store_id: str | None) -> KeyStore:
        store = self.stores.get(store_id or "")
        if store is None:
            raise CustomKeyStoreNotFoundException(f"Custom key store {store_id} does not exist")
        return store

    def _cluster(self, cluster_id: str | None) -> Cluster:
        cluster = self._hsm_backend.clusters.get(cluster_id or "")
        if cluster is None or cluster.state in ("DELETE_IN_PROGRESS", "DELETED"):
            raise CloudHsmClusterNotFoundException(f"CloudHSM cluster {cluster_id} not found")
        return cluster

    @staticmethod
    def _check_usable(cluster: Cluster) -> None:
        """ACTIVE, and at least two ACTIVE HSMs in different Availability Zones."""
        if cluster.state != "ACTIVE":
            raise CloudHsmClusterNotActiveException(f"Cluster {cluster.cluster_id} is {cluster.state}, not ACTIVE")
        zones = {hsm.availability_zone for hsm in cluster.active_hsms()}
        if len(zones) < 2:
            raise CloudHsmClusterInvalidConfigurationException(
                f"Cluster {cluster.cluster_id} needs at least two ACTIVE HSMs in different Availability Zones; "
                f"it has ACTIVE HSMs in {len(zones)} zone(s)",
            )

    def _check_name_free(self, name: str, store: KeyStore | None = None) -> None:
        if any(other.name == name and other is not store for other in self.stores.values()):
            raise CustomKeyStoreNameInUseException(f"A custom key store named {name} already exists")

    def create(self, params: dict[str, Any]) -> KeyStore:
        if params.get("CustomKeyStoreType", "AWS_CLOUDHSM") != "AWS_CLOUDHSM":
            raise UnsupportedOperationException("Only AWS_CLOUDHSM key stores are emulated")
        name, password = params.get("CustomKeyStoreName") or "", params.get("KeyStorePassword") or ""
        anchor = params.get("TrustAnchorCertificate") or ""
        if not name or not anchor or not 7 <= len(password) <= 32:
            raise ValidationException(
                "CustomKeyStoreName, TrustAnchorCertificate and a 7-32 character KeyStorePassword are required",
            )
        self._check_name_free(name)
        cluster = self._cluster(params.get("CloudHsmClusterId"))
        if any(store.lineage == cluster.lineage for store in self.stores.values()):
            raise CloudHsmClusterInUseException(
                f"Cluster {cluster.cluster_id} (or one sharing its backup history) already has a custom key store",
            )
        self._check_usable(cluster)
        if not pki.same_certificate(anchor, cluster.trust_anchor or ""):
            raise IncorrectTrustAnchorException(f"The trust anchor does not match cluster {cluster.cluster_id}'s")
        store = KeyStore(
            store_id="cks-" + secrets.token_hex(9)[:17],
            name=name,
            cluster_id=cluster.cluster_id,
            trust_anchor=anchor,
            password=password,
            lineage=cluster.lineage or cluster.cluster_id,
        )
        self.stores[store.store_id] = store
        return store

    @paginate(PAGINATION_MODEL)
    def describe(self, store_id: str | None, name: str | None) -> list[KeyStore]:
        if store_id:
            return [self.get(store_id)]
        if name:
            found = [store for store in self.stores.values() if store.name == name]
            if not found:
                raise CustomKeyStoreNotFoundException(f"No custom key store is named {name}")
            return found
        return list(self.stores.values())

    def connect(self, store_id: str | None) -> None:
        store = self.get(store_id)
        if store.state in ("CONNECTED", "CONNECTING"):
            return
        if store.state != "DISCONNECTED":
            raise CustomKeyStoreInvalidStateException(
                f"Custom key store {store_id} is {store.state}; disconnect it before connecting again",
            )
        cluster = self._cluster(store.cluster_id)
        if cluster.state != "ACTIVE":
            raise CloudHsmClusterNotActiveException(f"Cluster {cluster.cluster_id} is {cluster.state}, not ACTIVE")
        store.state, store.error_code = "CONNECTING", None
        store.attempt += 1
        attempt = store.attempt
        RUNTIME.schedule("key_store_connect", lambda: self._connected(store, attempt))

    def _connected(self, store: KeyStore, attempt: int) -> None:
        if store.state != "CONNECTING" or store.attempt != attempt:
            return
        error = self._connection_error(store)
        if error:
            store.state, store.error_code = "FAILED", error
            return
        kmsuser = self._hsm_backend.clusters[store.cluster_id].users["kmsuser"]
        kmsuser.password = store.password = secrets.token_urlsafe(24)
        store.state = "CONNECTED"

    def _connection_error(self, store: KeyStore) -> str | None:
        cluster = self._hsm_backend.clusters.get(store.cluster_id)
        if cluster is None or cluster.state in ("DELETE_IN_PROGRESS", "DELETED"):
            return "CLUSTER_NOT_FOUND"
        if not cluster.active_hsms():
            return "INSUFFICIENT_CLOUDHSM_HSMS"
        kmsuser = cluster.users.get("kmsuser")
        if kmsuser is None or kmsuser.role != "crypto-user":
            return "USER_NOT_FOUND"
        if not kmsuser.present_on_all(hsm.hsm_id for hsm in cluster.active_hsms()):
            return "USER_NOT_FOUND"
        if kmsuser.logged_in:
            return "USER_LOGGED_IN"
        if kmsuser.password != store.password:
            return "INVALID_CREDENTIALS"
        return None

    def disconnect(self, store_id: str | None) -> None:
        store = self.get(store_id)
        if store.state == "DISCONNECTED":
            return
        store.state, store.error_code = "DISCONNECTING", None
        store.attempt += 1
        RUNTIME.schedule("key_store_disconnect", lambda: setattr(store, "state", "DISCONNECTED"))

    def update(self, params: dict[str, Any]) -> None:
        store = self.get(params.get("CustomKeyStoreId"))
        if store.state != "DISCONNECTED":
            raise CustomKeyStoreInvalidStateException(f"Custom key store {store.store_id} must be DISCONNECTED to update it")
        new_name, password = params.get("NewCustomKeyStoreName"), params.get("KeyStorePassword")
        if new_name:
            self._check_name_free(new_name, store)
        if password is not None and not 7 <= len(password) <= 32:
            raise ValidationException("KeyStorePassword must be 7 to 32 characters long")
        cluster = None
        if params.get("CloudHsmClusterId"):
            cluster = self._cluster(params["CloudHsmClusterId"])
            if cluster.lineage != store.lineage:
                raise CloudHsmClusterNotRelatedException(
                    f"Cluster {cluster.cluster_id} does not share a backup history with cluster {store.cluster_id}",
                )
            self._check_usable(cluster)
        store.name = new_name or store.name
        store.password = store.password if password is None else password
        store.cluster_id = cluster.cluster_id if cluster else store.cluster_id

    def delete(self, store_id: str | None, live_keys: set[str]) -> None:
        store = self.get(store_id)
        if store.state != "DISCONNECTED":
            raise CustomKeyStoreInvalidStateException(f"Custom key store {store_id} must be DISCONNECTED to delete it")
        keys = [key for key, owner in self.key_store_of.items() if owner == store_id and key in live_keys]
        if keys:
            raise CustomKeyStoreHasCMKsException(
                f"Custom key store {store_id} still holds {len(keys)} KMS key(s), including keys pending deletion",
            )
        del self.stores[store.store_id]

    def check_new_key(self, store_id: str, params: dict[str, Any]) -> KeyStore:
        store = self.get(store_id)
        if params.get("Origin") != "AWS_CLOUDHSM":
            raise UnsupportedOperationException("Keys in an AWS_CLOUDHSM key store need Origin AWS_CLOUDHSM")
        spec = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
        if spec != "SYMMETRIC_DEFAULT" or params.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
            raise UnsupportedOperationException("AWS_CLOUDHSM key stores hold only SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys")
        if params.get("MultiRegion"):
            raise UnsupportedOperationException("Multi-Region keys cannot be created in a custom key store")
        if store.state != "CONNECTED":
            raise CustomKeyStoreInvalidStateException(f"Custom key store {store_id} is {store.state}, not CONNECTED")
        self._check_usable(self._cluster(store.cluster_id))
        return store


key_store_backends = BackendDict(KeyStoreBackend, "kms")
