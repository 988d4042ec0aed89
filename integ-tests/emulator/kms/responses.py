"""KMS with custom key stores: moto's KMS handlers plus the key store actions.

CreateKey with a CustomKeyStoreId makes a moto key and records it in the store;
DescribeKey shows CustomKeyStoreId and CloudHsmClusterId; ScheduleKeyDeletion of a key
in a store really removes the key when its (scaled) waiting period ends.
"""

import json
from typing import Any

from moto.kms.responses import KmsResponse

from ..core.responses import emulated, json_params
from ..core.runtime import RUNTIME
from .exceptions import ValidationException
from .models import KeyStoreBackend, key_store_backends


class KmsWithKeyStoresResponse(KmsResponse):
    """moto's KMS handlers plus the custom key store actions."""

    @property
    def params(self) -> dict[str, Any]:
        return json_params(self)

    @property
    def stores(self) -> KeyStoreBackend:
        return key_store_backends[self.current_account][self.region]

    @emulated
    def create_custom_key_store(self) -> dict[str, Any]:
        return {"CustomKeyStoreId": self.stores.create(self.params).store_id}

    @emulated
    def describe_custom_key_stores(self) -> dict[str, Any]:
        params = self.params
        stores, marker = self.stores.describe(
            store_id=params.get("CustomKeyStoreId"),
            name=params.get("CustomKeyStoreName"),
            marker=params.get("Marker"),
            limit=params.get("Limit"),
        )
        page: dict[str, Any] = {"CustomKeyStores": [store.to_json() for store in stores], "Truncated": marker is not None}
        if marker is not None:
            page["NextMarker"] = marker
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
                raise ValidationException("Origin AWS_CLOUDHSM needs a CustomKeyStoreId")
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
