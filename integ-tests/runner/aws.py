"""boto3 clients for the emulator, and CloudFormation-style generated names."""

import secrets
import string
from typing import Any

import boto3
from botocore.config import Config

from .intrinsics import REGION

RUNNER_HEADER = "X-Emulator-Caller"


class Aws:
    """Clients for one emulator endpoint; retries off, as the emulator's tests do."""

    def __init__(self, endpoint: str, stack_name: str):
        self.endpoint = endpoint.rstrip("/")
        self.stack_name = stack_name
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.endpoint,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                # One attempt: unimplemented actions answer 500, which would be retried.
                config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
            )
            # CloudFormation retries its own throttled calls: the emulator does not throttle the runner's.
            self._clients[service].meta.events.register("before-sign.*.*", _as_cloudformation)
        return self._clients[service]

    def physical_name(self, logical_id: str, max_length: int = 64, separator: str = "-") -> str:
        """A name as CloudFormation generates it: `<stack>-<logical id>-<12 random>`, shortened to fit."""
        suffix = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(12))
        head = f"{self.stack_name}{separator}{logical_id}"
        return f"{head[: max_length - len(suffix) - 1]}{separator}{suffix}"


def _as_cloudformation(request: Any, **_: Any) -> None:
    """Marks a request as the runner's own (see the emulator's throttle fault)."""
    request.headers[RUNNER_HEADER] = "cloudformation"
