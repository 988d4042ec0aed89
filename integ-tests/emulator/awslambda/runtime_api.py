"""A minimal Lambda Runtime API, one server per instance on 127.0.0.1:

GET  /2018-06-01/runtime/invocation/next
POST /2018-06-01/runtime/invocation/{id}/response
POST /2018-06-01/runtime/invocation/{id}/error
POST /2018-06-01/runtime/init/error
"""

import json
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Instance

API_PREFIX = "/2018-06-01/runtime"


def error_payload(error_type: str, message: str) -> bytes:
    """The `{"errorType", "errorMessage"}` body Lambda reports a failure with."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def runtime_api_handler(instance: "Instance") -> type[BaseHTTPRequestHandler]:
    """The Runtime API of one instance."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            if self.path != f"{API_PREFIX}/invocation/next":
                self._reply(404, error_payload("NotFound", f"no Runtime API endpoint GET {self.path}"))
                return
            invocation = instance.next_invocation()
            if invocation is None:  # the process is being killed: just hang up
                self.close_connection = True
                return
            headers = {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(int(invocation.deadline * 1000)),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            }
            self._reply(200, invocation.payload, headers)

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = self.path[len(API_PREFIX) :].strip("/").split("/")
            if parts == ["init", "error"]:
                instance.init_error = body or error_payload("Runtime.Unknown", "init failed")
                self._reply(202, b'{"status":"OK"}')
                return
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                invocation = instance.current
                if invocation is None or invocation.request_id != parts[1]:
                    self._reply(400, error_payload("InvalidRequestID", f"unknown request id {parts[1]}"))
                    return
                invocation.finish(body, error=parts[2] == "error")
                self._reply(202, b'{"status":"OK"}')
                return
            self._reply(404, error_payload("NotFound", f"no Runtime API endpoint POST {self.path}"))

    return Handler
