"""The WSGI application: moto's dispatcher with our handlers, behind the `/_emulator` knobs.

`install_handlers()` swaps the url handlers moto reads for cloudhsmv2, kms and ssm
(moto reads `moto.<service>.urls.url_paths` lazily when it builds a service app) and
installs Lambda forwarding (lambda_runtime.py).
`EmulatorApp` applies due state changes before every request, answers `/_emulator/*`
itself, injects throttling faults, and passes everything else to moto.
"""

import json
from typing import Any

import moto.cloudhsmv2.urls
import moto.kms.urls
import moto.ssm.urls
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from . import hsm_cli, lambda_runtime, state
from .cloudhsm_responses import CloudHsmV2Response
from .kms_stores import KmsWithKeyStoresResponse
from .runtime import RUNTIME, ConfigError
from .ssm_commands import SsmWithRunCommandResponse


def install_handlers() -> None:
    """Register the emulator's handlers in place of moto's for the extended services."""
    moto.cloudhsmv2.urls.url_paths = {"{0}/$": CloudHsmV2Response.dispatch}
    moto.kms.urls.url_paths = {"{0}/$": KmsWithKeyStoresResponse.dispatch}
    moto.ssm.urls.url_paths = {"{0}/$": SsmWithRunCommandResponse.dispatch}
    lambda_runtime.install()


def reset_all() -> None:
    """Drop the emulator's state and moto's (same as POST /moto-api/reset)."""
    RUNTIME.reset()
    moto_api_backend.reset()


def _signing_service(environ: dict[str, Any]) -> str | None:
    """The SigV4 service name of a request (`.../us-east-1/kms/aws4_request`)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return auth.split("Credential=", 1)[1].split(",")[0].split("/")[3]
    except IndexError:
        return None


def _throttled(environ: dict[str, Any], service: str) -> tuple[str, str, bytes]:
    """The throttling error in the service's protocol (JSON or query/XML)."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
        return "400 Bad Request", "application/x-amz-json-1.1", body.encode()
    code = "RequestLimitExceeded" if service == "ec2" else "Throttling"
    body = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"
    return "400 Bad Request", "text/xml", body.encode()


class EmulatorApp:
    """WSGI middleware in front of moto's DomainDispatcherApplication."""

    def __init__(self) -> None:
        self.moto_app = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        RUNTIME.advance()
        if path.startswith("/_emulator/"):
            status, payload = self._knob(environ, path)
            body = json.dumps(payload).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/moto-api/reset":
            RUNTIME.reset()
        service = _signing_service(environ)
        if service and RUNTIME.should_throttle(service):
            status, content_type, body = _throttled(environ, service)
            start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [body]
        return self.moto_app(environ, start_response)

    def _knob(self, environ: dict[str, Any], path: str) -> tuple[str, Any]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            if path == "/_emulator/config" and method == "POST":
                RUNTIME.configure(body)
                return "200 OK", RUNTIME.config_json()
            if path == "/_emulator/config" and method == "GET":
                return "200 OK", RUNTIME.config_json()
            if path == "/_emulator/reset" and method == "POST":
                reset_all()
                return "200 OK", {"reset": True}
            if path == "/_emulator/state" and method == "GET":
                return "200 OK", state.snapshot()
            if path == "/_emulator/hsm-cli" and method == "POST":
                return "200 OK", hsm_cli.handle(body)
            if path == "/_emulator/lambda/register" and method == "POST":
                return "200 OK", lambda_runtime.register(body)
        except (ConfigError, lambda_runtime.RegistrationError, json.JSONDecodeError) as err:
            return "400 Bad Request", {"error": str(err)}
        return "404 Not Found", {"error": f"no emulator endpoint {method} {path}"}
