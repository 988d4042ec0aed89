"""`GET /_emulator/state`: a JSON snapshot of the emulated resources (no secrets)."""

from collections.abc import Iterator
from typing import Any, TypeVar

from moto.core.base_backend import BackendDict, BaseBackend
from moto.ec2.models import ec2_backends

from ..cloudhsmv2.models import cloudhsmv2_backends
from ..core.runtime import RUNTIME
from ..kms.models import key_store_backends
from ..ssm.models import run_command_backends
from ..ssm.registration import instances_json

B = TypeVar("B", bound=BaseBackend)


def _all(backends: BackendDict[B]) -> Iterator[B]:
    """The backends of every account and region in use."""
    for account in backends.values():
        yield from account.values()


def snapshot() -> dict[str, Any]:
    """Clusters (with HSMs and users, without passwords), backups, key stores, commands, EC2 instances
    (with what keeps each from registering with Systems Manager), throttled calls."""
    with RUNTIME.lock:
        RUNTIME.advance()
        clusters, backups = [], []
        for hsm_backend in _all(cloudhsmv2_backends):
            for cluster in hsm_backend.clusters.values():
                entry = cluster.to_json()
                entry["Users"] = [
                    {"username": u.username, "role": u.role, "logged_in": u.logged_in} for u in cluster.users.values()
                ]
                clusters.append(entry)
            backups += [backup.to_json() for backup in hsm_backend.backups.values()]
        stores = []
        for store_backend in _all(key_store_backends):
            for store in store_backend.stores.values():
                keys = [k for k, owner in store_backend.key_store_of.items() if owner == store.store_id]
                stores.append({**store.to_json(), "KeyIds": keys})
        commands = [
            {"CommandId": command_id, "InstanceId": run.instance_id, "Status": run.status, "ResponseCode": run.response_code}
            for commands_backend in _all(run_command_backends)
            for command_id, runs in commands_backend.runs.items()
            for run in runs
        ]
        return {
            "config": RUNTIME.config_json(),
            "clusters": clusters,
            "backups": backups,
            "key_stores": stores,
            "commands": commands,
            "instances": instances_json(ec2_backends),
            "throttled": RUNTIME.throttled(),
        }
