"""KMS custom key stores of type AWS_CLOUDHSM, on top of moto's KMS (which has none).

Checks follow the KMS API reference: a store needs an ACTIVE cluster with two ACTIVE
HSMs in different AZs, the cluster's trust anchor, one store per cluster lineage.
ConnectCustomKeyStore is asynchronous and ends CONNECTED (KMS then rotates the
`kmsuser` password) or FAILED with a ConnectionErrorCode. Keys created in a store are
moto keys with Origin AWS_CLOUDHSM plus CustomKeyStoreId/CloudHsmClusterId.
"""

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.kms.responses import KmsResponse

from . import pki
from .cloudhsm_models import Cluster, backend as hsm_backend
from .cloudhsm_responses import emulated
from .runtime import RUNTIME


class KmsError(JsonRESTError):
    """A KMS error: HTTP 400 with `{"__type": <error name>, "message"}`."""

    code = 400


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


class KeyStoreBackend:
    """The AWS_CLOUDHSM key stores of one account and region, and the keys in them."""

    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self.stores: dict[str, KeyStore] = {}
        self.key_store_of: dict[str, str] = {}  # KMS key id -> key store id

    def get(self, store_id: str | None) -> KeyStore:
        store = self.stores.get(store_id or "")
        if store is None:
            raise KmsError("CustomKeyStoreNotFoundException", f"Custom key store {store_id} does not exist")
        return store

    def _cluster(self, cluster_id: str | None) -> Cluster:
        cluster = hsm_backend(self.account_id, self.region).clusters.get(cluster_id or "")
        if cluster is None or cluster.state in ("DELETE_IN_PROGRESS", "DELETED"):
            raise KmsError("CloudHsmClusterNotFoundException", f"CloudHSM cluster {cluster_id} not found")
        return cluster

    @staticmethod
    def _check_usable(cluster: Cluster) -> None:
        """ACTIVE, and at least two ACTIVE HSMs in different Availability Zones."""
        if cluster.state != "ACTIVE":
            raise KmsError("CloudHsmClusterNotActiveException", f"Cluster {cluster.cluster_id} is {cluster.state}, not ACTIVE")
        zones = {hsm.availability_zone for hsm in cluster.active_hsms()}
        if len(zones) < 2:
            raise KmsError(
                "CloudHsmClusterInvalidConfigurationException",
                f"Cluster {cluster.cluster_id} needs at least two ACTIVE HSMs in different Availability Zones; "
                f"it has ACTIVE HSMs in {len(zones)} zone(s)",
            )

    def _check_name_free(self, name: str, store: KeyStore | None = None) -> None:
        if any(other.name == name and other is not store for other in self.stores.values()):
            raise KmsError("CustomKeyStoreNameInUseException", f"A custom key store named {name} already exists")

    def create(self, params: dict[str, Any]) -> KeyStore:
        if params.get("CustomKeyStoreType", "AWS_CLOUDHSM") != "AWS_CLOUDHSM":
            raise KmsError("UnsupportedOperationException", "Only AWS_CLOUDHSM key stores are emulated")
        name, password = params.get("CustomKeyStoreName") or "", params.get("KeyStorePassword") or ""
        anchor = params.get("TrustAnchorCertificate") or ""
        if not name or not anchor or not 7 <= len(password) <= 32:
            raise KmsError(
                "ValidationException",
                "CustomKeyStoreName, TrustAnchorCertificate and a 7-32 character KeyStorePassword are required",
            )
        self._check_name_free(name)
        cluster = self._cluster(params.get("CloudHsmClusterId"))
        if any(store.lineage == cluster.lineage for store in self.stores.values()):
            raise KmsError(
                "CloudHsmClusterInUseException",
                f"Cluster {cluster.cluster_id} (or one sharing its backup history) already has a custom key store",
            )
        self._check_usable(cluster)
        if not pki.same_certificate(anchor, cluster.trust_anchor or ""):
            raise KmsError("IncorrectTrustAnchorException", f"The trust anchor does not match cluster {cluster.cluster_id}'s")
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

    def describe(self, store_id: str | None, name: str | None) -> list[KeyStore]:
        if store_id:
            return [self.get(store_id)]
        if name:
            found = [store for store in self.stores.values() if store.name == name]
            if not found:
                raise KmsError("CustomKeyStoreNotFoundException", f"No custom key store is named {name}")
            return found
        return list(self.stores.values())

    def connect(self, store_id: str) -> None:
        store = self.get(store_id)
        if store.state in ("CONNECTED", "CONNECTING"):
            return
        if store.state != "DISCONNECTED":
            raise KmsError(
                "CustomKeyStoreInvalidStateException",
                f"Custom key store {store_id} is {store.state}; disconnect it before connecting again",
            )
        cluster = self._cluster(store.cluster_id)
        if cluster.state != "ACTIVE":
            raise KmsError("CloudHsmClusterNotActiveException", f"Cluster {cluster.cluster_id} is {cluster.state}, not ACTIVE")
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
        kmsuser = hsm_backend(self.account_id, self.region).clusters[store.cluster_id].users["kmsuser"]
        kmsuser.password = store.password = secrets.token_urlsafe(24)
        store.state = "CONNECTED"

    def _connection_error(self, store: KeyStore) -> str | None:
        cluster = hsm_backend(self.account_id, self.region).clusters.get(store.cluster_id)
        if cluster is None or cluster.state in ("DELETE_IN_PROGRESS", "DELETED"):
            return "CLUSTER_NOT_FOUND"
        if not cluster.active_hsms():
            return "INSUFFICIENT_CLOUDHSM_HSMS"
        kmsuser = cluster.users.get("kmsuser")
        if kmsuser is None or kmsuser.role != "crypto-user":
            return "USER_NOT_FOUND"
        if kmsuser.logged_in:
            return "USER_LOGGED_IN"
        if kmsuser.password != store.password:
            return "INVALID_CREDENTIALS"
        return None

    def disconnect(self, store_id: str) -> None:
        store = self.get(store_id)
        if store.state == "DISCONNECTED":
            return
        store.state, store.error_code = "DISCONNECTING", None
        store.attempt += 1
        RUNTIME.schedule("key_store_disconnect", lambda: setattr(store, "state", "DISCONNECTED"))

    def update(self, params: dict[str, Any]) -> None:
        store = self.get(params.get("CustomKeyStoreId"))
        if store.state != "DISCONNECTED":
            raise KmsError("CustomKeyStoreInvalidStateException", f"Custom key store {store.store_id} must be DISCONNECTED to update it")
        new_name, password = params.get("NewCustomKeyStoreName"), params.get("KeyStorePassword")
        if new_name:
            self._check_name_free(new_name, store)
        if password is not None and not 7 <= len(password) <= 32:
            raise KmsError("ValidationException", "KeyStorePassword must be 7 to 32 characters long")
        cluster = None
        if params.get("CloudHsmClusterId"):
            cluster = self._cluster(params["CloudHsmClusterId"])
            if cluster.lineage != store.lineage:
                raise KmsError(
                    "CloudHsmClusterNotRelatedException",
                    f"Cluster {cluster.cluster_id} does not share a backup history with cluster {store.cluster_id}",
                )
            self._check_usable(cluster)
        store.name = new_name or store.name
        store.password = store.password if password is None else password
        store.cluster_id = cluster.cluster_id if cluster else store.cluster_id

    def delete(self, store_id: str, live_keys: set[str]) -> None:
        store = self.get(store_id)
        if store.state != "DISCONNECTED":
            raise KmsError("CustomKeyStoreInvalidStateException", f"Custom key store {store_id} must be DISCONNECTED to delete it")
        keys = [key for key, owner in self.key_store_of.items() if owner == store_id and key in live_keys]
        if keys:
            raise KmsError(
                "CustomKeyStoreHasCMKsException",
                f"Custom key store {store_id} still holds {len(keys)} KMS key(s), including keys pending deletion",
            )
        del self.stores[store_id]

    def check_new_key(self, store_id: str, params: dict[str, Any]) -> KeyStore:
        store = self.get(store_id)
        if params.get("Origin") != "AWS_CLOUDHSM":
            raise KmsError("UnsupportedOperationException", "Keys in an AWS_CLOUDHSM key store need Origin AWS_CLOUDHSM")
        spec = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
        if spec != "SYMMETRIC_DEFAULT" or params.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
            raise KmsError("UnsupportedOperationException", "AWS_CLOUDHSM key stores hold only SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys")
        if params.get("MultiRegion"):
            raise KmsError("UnsupportedOperationException", "Multi-Region keys cannot be created in a custom key store")
        if store.state != "CONNECTED":
            raise KmsError("CustomKeyStoreInvalidStateException", f"Custom key store {store_id} is {store.state}, not CONNECTED")
        self._check_usable(self._cluster(store.cluster_id))
        return store


_BACKENDS: dict[tuple[str, str], KeyStoreBackend] = {}
RUNTIME.on_reset(_BACKENDS.clear)


def stores_backend(account_id: str, region: str) -> KeyStoreBackend:
    """The key store backend of an account and region (created on first use)."""
    return _BACKENDS.setdefault((account_id, region), KeyStoreBackend(account_id, region))


def all_backends() -> list[KeyStoreBackend]:
    return list(_BACKENDS.values())


class KmsWithKeyStoresResponse(KmsResponse):
    """moto's KMS handlers plus the custom key store actions."""

    @property
    def params(self) -> dict[str, Any]:
        return json.loads(self.body or "{}")

    @property
    def stores(self) -> KeyStoreBackend:
        return stores_backend(self.current_account, self.region)

    @emulated
    def create_custom_key_store(self) -> dict[str, Any]:
        return {"CustomKeyStoreId": self.stores.create(self.params).store_id}

    @emulated
    def describe_custom_key_stores(self) -> dict[str, Any]:
        params = self.params
        stores = self.stores.describe(params.get("CustomKeyStoreId"), params.get("CustomKeyStoreName"))
        start = int(params.get("Marker") or 0)
        end = start + int(params.get("Limit") or 1000)
        page = {"CustomKeyStores": [store.to_json() for store in stores[start:end]], "Truncated": end < len(stores)}
        if end < len(stores):
            page["NextMarker"] = str(end)
        return page

    @emulated
    def connect_custom_key_store(self) -> dict[str, Any]:
        self.stores.connect(self.params.get("CustomKeyStoreId"))
        return {}

    @emulated
    def disconnect_custom_key_store(self) -> dict[str, Any]:
        self.stores.disconnect(self.params.get("CustomKeyStoreId"))
        return {}

    @emulated
    def update_custom_key_store(self) -> dict[str, Any]:
        self.stores.update(self.params)
        return {}

    @emulated
    def delete_custom_key_store(self) -> dict[str, Any]:
        self.stores.delete(self.params.get("CustomKeyStoreId"), set(self.kms_backend.keys))
        return {}

    def create_key(self) -> str:
        params = self.params
        store_id = params.get("CustomKeyStoreId")
        if not store_id:
            if params.get("Origin") == "AWS_CLOUDHSM":
                raise KmsError("ValidationException", "Origin AWS_CLOUDHSM needs a CustomKeyStoreId")
            return super().create_key()
        with RUNTIME.lock:
            store = self.stores.check_new_key(store_id, params)
            metadata = json.loads(super().create_key())
            key_id = metadata["KeyMetadata"]["KeyId"]
            self.stores.key_store_of[key_id] = store.store_id
            return json.dumps(self._with_store(metadata))

    def describe_key(self) -> str:
        with RUNTIME.lock:
            return json.dumps(self._with_store(json.loads(super().describe_key())))

    def schedule_key_deletion(self) -> str:
        """As moto, and a key in a key store really goes once its (scaled) window ends."""
        response = super().schedule_key_deletion()
        key_id = self.kms_backend.get_key_id(self.params.get("KeyId", ""))
        if key_id in self.stores.key_store_of:
            days = int(self.params.get("PendingWindowInDays") or 30)
            kms = self.kms_backend
            RUNTIME.schedule("kms_key_pending_day", lambda: self._purge(kms, key_id), multiplier=days)
        return response

    @staticmethod
    def _purge(kms: Any, key_id: str) -> None:
        key = kms.keys.get(key_id)
        if key is not None and key.key_state == "PendingDeletion":
            kms.delete_key(key_id)

    def _with_store(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """Add CustomKeyStoreId and CloudHsmClusterId to a key in a key store."""
        store_id = self.stores.key_store_of.get(metadata["KeyMetadata"]["KeyId"])
        store = self.stores.stores.get(store_id or "")
        if store_id:
            metadata["KeyMetadata"]["CustomKeyStoreId"] = store_id
        if store:
            metadata["KeyMetadata"]["CloudHsmClusterId"] = store.cluster_id
        return metadata
