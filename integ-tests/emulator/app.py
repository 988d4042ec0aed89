"""The WSGI application: moto's dispatcher with our handlers, behind the `/_emulator` knobs.

`install_handlers()` swaps the url handlers moto reads for acm-pca, cloudhsmv2, kms, logs,
ssm and stepfunctions for ours (`<service>/urls.py`; moto reads `moto.<service>.urls.url_paths` lazily when
it builds a service app) and installs Lambda forwarding (awslambda/forwarding.py), the
SendCommand targeting fix (ssm/models.py), Step Functions' scaled clock and status change
events (stepfunctions/timing.py) and AWS's names of the errors of Lambda and SDK
integrations (stepfunctions/lambda_errors.py, stepfunctions/errors.py).
`EmulatorApp` applies due state changes before every request, answers `/_emulator/*`
itself, authorizes every signed request as its principal (authz/), injects throttling
faults, and passes everything else to moto.
"""

import json
from typing import Any

import moto.acmpca.urls
import moto.cloudhsmv2.urls
import moto.kms.urls
import moto.logs.urls
import moto.ssm.urls
import moto.stepfunctions.urls
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from . import authz
from .acmpca import urls as acmpca_urls
from .authz.enforce import AUTHORIZER
from .awslambda import forwarding
from .cloudhsmv2 import urls as cloudhsmv2_urls
from .core.runtime import RUNTIME
from .emulator_api import responses as emulator_api
from .kms import urls as kms_urls
from .logs import urls as logs_urls
from .ssm import models as ssm_models
from .ssm import urls as ssm_urls
from .stepfunctions import errors as stepfunctions_errors
from .stepfunctions import lambda_errors
from .stepfunctions import timing as stepfunctions_timing
from .stepfunctions import urls as stepfunctions_urls


def install_handlers() -> None:
    """Register the emulator's handlers in place of moto's for the extended services."""
    moto.acmpca.urls.url_paths = acmpca_urls.url_paths
    moto.cloudhsmv2.urls.url_paths = cloudhsmv2_urls.url_paths
    moto.kms.urls.url_paths = kms_urls.url_paths
    moto.logs.urls.url_paths = logs_urls.url_paths
    moto.ssm.urls.url_paths = ssm_urls.url_paths
    moto.stepfunctions.urls.url_paths = stepfunctions_urls.url_paths
    ssm_models.install()
    stepfunctions_errors.install()
    forwarding.install()
    stepfunctions_timing.install()
    authz.install()
    lambda_errors.install()


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
            status, payload = emulator_api.handle(environ, path)
            body = json.dumps(payload).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/moto-api/reset":
            RUNTIME.reset()
        denied = AUTHORIZER.check(environ)
        if denied is not None:
            status, headers, body = denied
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body]
        service = _signing_service(environ)
        if service and RUNTIME.should_throttle(service):
            status, content_type, body = _throttled(environ, service)
            start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [body]
        return self.moto_app(environ, start_response)
