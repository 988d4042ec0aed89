"""User data runs at launch, as cloud-init runs it on the first boot.

RunInstances (moto's) is patched so that each launched instance with user data runs
the decoded script in its sandbox (sandbox.py), in a thread, with the instance
profile's credentials, as commands do. A `dnf install` there really installs the
stand-in CLI from the package source (packages.py), or fails as dnf does. The outcome
(as /var/log/cloud-init-output.log would show it) is in the emulator's state.
"""

import base64
import binascii
import threading
from typing import Any

from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import InstanceBackend

from ..core.runtime import RUNTIME
from . import sandbox

BOOT_TIMEOUT = 1800.0  # real seconds a first-boot script may take


class _Boots:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        with self.lock:
            self.outcomes.clear()

    def set(self, instance_id: str, **outcome: Any) -> None:
        with self.lock:
            self.outcomes[instance_id] = outcome

    def get(self, instance_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.outcomes.get(instance_id)
            return dict(found) if found is not None else None


BOOTS = _Boots()


def _decode(user_data: Any) -> str | None:
    raw = user_data[0] if isinstance(user_data, list) and user_data else user_data
    if not raw:
        return None
    try:
        return base64.b64decode(str(raw)).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return str(raw)


def _boot(account: str, region: str, instance_id: str, script: str) -> None:
    """Thread body: after the boot (the delivery latency), run the script in the sandbox."""
    from .responses import instance_environment  # noqa: PLC0415 - responses imports this module's siblings

    threading.Event().wait(RUNTIME.delay("ssm_delivery"))
    with RUNTIME.lock:
        ec2 = ec2_backends[account][region]
        try:
            instance = ec2.get_instance(instance_id)
        except Exception:  # terminated and gone already
            return
        env = instance_environment(ec2, instance, account, region)
    home = sandbox.prepare(RUNTIME.sandbox_root, instance_id)
    with RUNTIME.busy():
        outcome = sandbox.run(home, [script], env, BOOT_TIMEOUT)
    status = "TimedOut" if outcome.timed_out else ("Success" if outcome.exit_code == 0 else "Failed")
    BOOTS.set(instance_id, Status=status, ExitCode=outcome.exit_code, Output=(outcome.stdout + outcome.stderr)[-4000:])


_moto_run_instances = InstanceBackend.run_instances


def _run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
    reservation = _moto_run_instances(self, *args, **kwargs)
    for instance in reservation.instances:
        script = _decode(instance.user_data)
        if not script:
            continue
        BOOTS.set(instance.id, Status="InProgress", ExitCode=-1, Output="")
        threading.Thread(
            target=_boot, args=(self.account_id, self.region_name, instance.id, script), daemon=True
        ).start()
    return reservation


def install() -> None:
    InstanceBackend.run_instances = _run_instances  # type: ignore[method-assign]
    RUNTIME.on_reset(BOOTS.reset)
