"""The stand-in package source: what `dnf install <cloudhsm-cli rpm URL>` in a sandbox reaches.

The sandbox's `dnf` (dnf.py) POSTs each package URL to `/_emulator/package-source`; the
download works only if the instance reaches the internet (its subnet routes 0.0.0.0/0 to
a NAT gateway, or to an internet gateway with a public IP: interface endpoints for
Systems Manager do not carry it) and the `package_source_down` fault does not say the
source is down. A download that works installs the stand-in CLI into the sandbox; before
that the sandbox has no /opt/cloudhsm at all.
"""

import re
import threading
from typing import Any

from moto.ec2.models import ec2_backends

from ..core.runtime import RUNTIME
from . import sandbox
from .registration import internet_route

# The SDK 5 CLI for Amazon Linux 2023 in the cloudhsmv2-software bucket.
CLI_URL = re.compile(
    r"^https://s3\.amazonaws\.com/cloudhsmv2-software/CloudHsmClient/Amzn2023/"
    r"cloudhsm-cli-latest\.amzn2023\.(x86_64|aarch64)\.rpm$"
)
HOST = "s3.amazonaws.com"


class _Downloads:
    """Every download attempt, per instance (for the emulator's state)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts: dict[str, list[dict[str, str]]] = {}

    def reset(self) -> None:
        with self.lock:
            self.attempts.clear()

    def of(self, instance_id: str) -> list[dict[str, str]]:
        with self.lock:
            return list(self.attempts.get(instance_id, []))

    def record(self, instance_id: str, url: str, result: str) -> None:
        with self.lock:
            self.attempts.setdefault(instance_id, []).append({"Url": url, "Result": result})


DOWNLOADS = _Downloads()


def _source_down() -> bool:
    """The package_source_down fault: true (always down) or N (the next N downloads fail)."""
    down = RUNTIME.faults.package_source_down
    if down is True:
        return True
    if not down:
        return False
    with RUNTIME.lock:
        return RUNTIME.next_counter("package_source_down") <= down


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """One download: {"installed": package} or {"error": what dnf prints}."""
    account, region = str(request.get("account_id", "")), str(request.get("region", ""))
    instance_id, url = str(request.get("instance_id", "")), str(request.get("url", ""))
    with RUNTIME.lock:
        ec2 = ec2_backends[account][region]
        try:
            instance = ec2.get_instance(instance_id)
        except Exception:  # moto raises InvalidInstanceIdError
            return {"error": f"Curl error (6): Couldn't resolve host name for {url} [instance {instance_id} is gone]"}
        route = internet_route(ec2, instance)
    if route is None:
        result = (
            f"Curl error (28): Timeout was reached for {url} [Failed to connect to {HOST} port 443 after 30000 ms: "
            f"Timeout was reached] (subnet {instance.subnet_id} has no route to the internet)"
        )
    elif _source_down():
        result = f"Status code: 503 for {url} (IP: 52.216.0.1) [the package source is down]"
    elif not CLI_URL.match(url):
        result = f"Status code: 404 for {url} (IP: 52.216.0.1)"
    else:
        sandbox.install_cli(sandbox.prepare(RUNTIME.sandbox_root, instance_id))
        DOWNLOADS.record(instance_id, url, "installed")
        return {"installed": "cloudhsm-cli"}
    DOWNLOADS.record(instance_id, url, result)
    return {"error": result}


def install() -> None:
    RUNTIME.on_reset(DOWNLOADS.reset)
