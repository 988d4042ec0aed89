"""`GET /_emulator/state`: a JSON snapshot of the emulated resources (no secrets)."""

from typing import Any

from . import cloudhsm_models, kms_stores, ssm_commands
from .runtime import RUNTIME


def snapshot() -> dict[str, Any]:
    """Clusters (with HSMs and users, without passwords), backups, key stores, commands."""
    with RUNTIME.lock:
        RUNTIME.advance()
        clusters, backups = [], []
        for hsm_backend in cloudhsm_models.all_backends():
            for cluster in hsm_backend.clusters.values():
                entry = cluster.to_json()
                entry["Users"] = [
                    {"username": u.username, "role": u.role, "logged_in": u.logged_in} for u in cluster.users.values()
                ]
                clusters.append(entry)
            backups += [backup.to_json() for backup in hsm_backend.backups.values()]
        stores = []
        for store_backend in kms_stores.all_backends():
            for store in store_backend.stores.values():
                keys = [k for k, owner in store_backend.key_store_of.items() if owner == store.store_id]
                stores.append({**store.to_json(), "KeyIds": keys})
        commands = [
            {"CommandId": command_id, "InstanceId": run.instance_id, "Status": run.status, "ResponseCode": run.response_code}
            for command_id, runs in ssm_commands.all_runs().items()
            for run in runs
        ]
        return {
            "config": RUNTIME.config_json(),
            "clusters": clusters,
            "backups": backups,
            "key_stores": stores,
            "commands": commands,
        }
