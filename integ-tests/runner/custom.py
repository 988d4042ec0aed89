"""Custom resources, played as CloudFormation plays them.

`CustomResourceDriver.send()` builds the request (every scalar property as a string,
as CloudFormation sends them), invokes the service token function asynchronously
(`InvocationType: Event`), and waits for the response PUT to a pre-signed-looking URL
served by `ResponseServer` on 127.0.0.1 (plain HTTP, or HTTPS with a TLS context the
caller gives it, as S3's pre-signed URLs are). The response is validated as CloudFormation
validates it; an invalid response or no response in time is a FAILED outcome.
`start()` and `wait()` split `send()` for a Create that CloudFormation leaves running
while it creates other resources; `cancel()` stops waiting for it.
"""

import json
import secrets
import ssl
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from .aws import Aws

MAX_RESPONSE_BYTES = 4096
# CloudFormation waits one hour for a custom resource's response: on the emulator's clock.
CLOUDFORMATION_TIMEOUT = 3600.0


def emulated_now(endpoint: str) -> float:
    """The emulator's clock at `endpoint` (epoch seconds): real time plus what waits skipped."""
    with urllib.request.urlopen(f"{endpoint}/_emulator/clock", timeout=10) as response:
        return float(json.loads(response.read())["now"])
# CloudFormation's reason for a resource whose create it stopped waiting for.
CANCELLED = "Resource creation cancelled"


def stringify(value: Any) -> Any:
    """Property values as CloudFormation sends them: scalars become strings, structure stays."""
    if isinstance(value, dict):
        return {key: stringify(item) for key, item in value.items()}
    if isinstance(value, list):
        return [stringify(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


@dataclass
class Outcome:
    """What CloudFormation makes of a response (or of its absence)."""

    status: str  # SUCCESS or FAILED
    physical_id: str | None
    data: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def validate(body: bytes, request: dict[str, Any]) -> Outcome:
    """Check a response body the way CloudFormation does."""
    if len(body) > MAX_RESPONSE_BYTES:
        return Outcome("FAILED", None, reason=f"Response object is too long ({len(body)} bytes, at most {MAX_RESPONSE_BYTES})")
    try:
        response = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return Outcome("FAILED", None, reason=f"Invalid response object: the body is not JSON ({err})")
    if not isinstance(response, dict):
        return Outcome("FAILED", None, reason="Invalid response object: the body is not a JSON object")
    status = response.get("Status")
    if status not in ("SUCCESS", "FAILED"):
        return Outcome("FAILED", None, reason=f"Invalid response object: Status must be SUCCESS or FAILED, got {status!r}")
    for key in ("RequestId", "LogicalResourceId", "StackId"):
        if response.get(key) != request[key]:
            return Outcome(
                "FAILED",
                None,
                reason=f"Invalid response object: {key} {response.get(key)!r} does not echo the request's {request[key]!r}",
            )
    physical_id = response.get("PhysicalResourceId")
    if not isinstance(physical_id, str) or not physical_id:
        return Outcome("FAILED", None, reason="Invalid response object: PhysicalResourceId is missing")
    data = response.get("Data") or {}
    if not isinstance(data, dict):
        return Outcome("FAILED", physical_id, reason="Invalid response object: Data must be a JSON object")
    if status == "FAILED":
        reason = response.get("Reason")
        if not reason:
            return Outcome("FAILED", physical_id, reason="Invalid response object: a FAILED response needs a Reason")
        return Outcome("FAILED", physical_id, reason=str(reason))
    return Outcome("SUCCESS", physical_id, data=data)


class ResponseServer:
    """Takes response PUTs at `/<request id>?X-Amz-Signature=<secret>` on 127.0.0.1.

    With `tls` (a server-side context whose certificate names 127.0.0.1) the URLs are
    https and the handler must trust that certificate's CA.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, threading.Event]] = {}
        self._bodies: dict[str, bytes] = {}
        self._counts: dict[str, int] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        threading.Thread(target=self._server.serve_forever, name="response-url", daemon=True).start()

    def url_for(self, request_id: str) -> str:
        """A fresh response URL for one request."""
        signature = secrets.token_hex(32)
        with self._lock:
            self._pending[request_id] = (signature, threading.Event())
        host, port = "127.0.0.1", self._server.server_port
        return f"{self._scheme}://{host}:{port}/cloudformation-responses/{request_id}?X-Amz-Signature={signature}"

    def wait(self, request_id: str, timeout: float) -> bytes | None:
        """The body PUT for the request, or None after `timeout` seconds."""
        _signature, arrived = self._pending[request_id]
        if not arrived.wait(timeout):
            return None
        with self._lock:
            return self._bodies[request_id]

    def count(self, request_id: str) -> int:
        """How many responses arrived for the request (CloudFormation reads the first)."""
        with self._lock:
            return self._counts.get(request_id, 0)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _accept(self, path: str, body: bytes) -> int:
        """Store a PUT body; 403 for an unknown request or a wrong signature, as S3 would."""
        url = urlparse(path)
        request_id = url.path.rsplit("/", 1)[-1]
        signature = parse_qs(url.query).get("X-Amz-Signature", [""])[0]
        with self._lock:
            expected = self._pending.get(request_id)
            if expected is None or not secrets.compare_digest(expected[0], signature):
                return 403
            self._bodies.setdefault(request_id, body)
            self._counts[request_id] = self._counts.get(request_id, 0) + 1
            expected[1].set()
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def do_PUT(self) -> None:  # noqa: N802 - stdlib name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = server._accept(self.path, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler


@dataclass
class Operation:
    """One request sent to a custom resource, for progress and the summary."""

    request_type: str
    logical_id: str
    resource_type: str
    request_id: str
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    outcome: Outcome | None = None

    @property
    def label(self) -> str:
        return f"{self.request_type} {self.logical_id} ({self.resource_type})"

    @property
    def duration(self) -> float:
        return (self.ended or time.monotonic()) - self.started


@dataclass
class Pending:
    """A request sent and not answered yet."""

    operation: Operation
    request: dict[str, Any]
    over: Callable[[], bool]  # whether CloudFormation has stopped waiting for the response


class CustomResourceDriver:
    """Sends requests to custom resources and waits for their responses."""

    def __init__(self, aws: Aws, stack_id: str, timeout: float | None = None):
        self.aws = aws
        self.stack_id = stack_id
        self.timeout = timeout  # real seconds; None: CloudFormation's hour on the emulator's clock
        self.responses = ResponseServer()

    def send(
        self,
        request_type: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
        on_wait: Callable[[Operation], None] | None = None,
    ) -> Operation:
        """Send one request and wait for its outcome; `on_wait` is called while waiting."""
        return self.wait(self.start(request_type, logical_id, resource_type, properties, physical_id, old_properties), on_wait)

    def start(
        self,
        request_type: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> Pending:
        """Send one request without waiting: CloudFormation goes on with other resources meanwhile."""
        request_id = str(uuid.uuid4())
        request: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": properties["ServiceToken"],
            "ResponseURL": self.responses.url_for(request_id),
            "StackId": self.stack_id,
            "RequestId": request_id,
            "ResourceType": resource_type,
            "LogicalResourceId": logical_id,
            "ResourceProperties": stringify(properties),
        }
        if physical_id is not None:
            request["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            request["OldResourceProperties"] = stringify(old_properties)
        operation = Operation(request_type, logical_id, resource_type, request_id)
        self.aws.client("lambda").invoke(
            FunctionName=properties["ServiceToken"], InvocationType="Event", Payload=json.dumps(request).encode()
        )
        # CloudFormation's hour passes on the emulator's clock; a given timeout is real seconds.
        if self.timeout is None:
            limit = emulated_now(self.aws.endpoint) + CLOUDFORMATION_TIMEOUT
            over = lambda: emulated_now(self.aws.endpoint) >= limit  # noqa: E731
        else:
            deadline = time.monotonic() + self.timeout
            over = lambda: time.monotonic() >= deadline  # noqa: E731
        return Pending(operation, request, over)

    def wait(self, pending: Pending, on_wait: Callable[[Operation], None] | None = None) -> Operation:
        """The outcome of a started request: its response, or FAILED once the timeout has passed."""
        operation, request_id = pending.operation, pending.operation.request_id
        body = None
        while body is None and not pending.over():
            body = self.responses.wait(request_id, 0.25)
            if on_wait is not None:
                on_wait(operation)
        operation.ended = time.monotonic()
        if body is None:
            operation.outcome = Outcome(
                "FAILED",
                pending.request.get("PhysicalResourceId"),
                reason="CloudFormation did not receive a response from your Custom Resource within "
                + ("one hour" if self.timeout is None else f"{self.timeout:g} s"),
            )
        else:
            operation.outcome = validate(body, pending.request)
        return operation

    @staticmethod
    def cancel(pending: Pending) -> Operation:
        """Stop waiting for a started Create, as CloudFormation does when another resource fails.

        A response that arrives later is ignored; the resource has no physical id of its own.
        """
        operation = pending.operation
        operation.ended = time.monotonic()
        operation.outcome = Outcome("FAILED", None, reason=CANCELLED)
        return operation

    def close(self) -> None:
        self.responses.close()
