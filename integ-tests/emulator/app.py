"""The WSGI application: moto's dispatcher with our handlers, behind the `/_emulator` knobs.

`install_handlers()` swaps the url handlers moto reads for acm-pca, cloudhsmv2, kms, logs,
ssm and stepfunctions for ours (`<service>/urls.py`; moto reads `moto.<service>.urls.url_paths` lazily when
it builds a service app) and installs Lambda forwarding (awslambda/forwarding.py), the
SendCommand targeting fix (ssm/models.py), DeleteSecurityGroup's DependencyViolation
(ec2/security_groups.py), Step Functions' scaled clock and status change
events (stepfunctions/timing.py) and AWS's names of the errors of Lambda and SDK
integrations (stepfunctions/lambda_errors.py, stepfunctions/errors.py), and parses each
state machine definition once (stepfunctions/parsing.py).
`EmulatorApp` applies due state changes before every request, answers `/_emulator/*`
itself, authorizes every signed request as its principal (authz/), injects throttling
faults, and passes everything else to moto.
"""

import json
import uuid
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
from .ec2 import security_groups as ec2_security_groups
from .emulator_api import responses as emulator_api
from .kms import urls as kms_urls
from .logs import urls as logs_urls
from .ssm import models as ssm_models
from .ssm import urls as ssm_urls
from .stepfunctions import errors as stepfunctions_errors
from .stepfunctions import lambda_errors
from .stepfunctions import parsing as stepfunctions_parsing
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
    ec2_security_groups.install()
    stepfunctions_errors.install()
    forwarding.install()
    stepfunctions_timing.install()
    stepfunctions_parsing.install()
    authz.install()
    lambda_errors.install()


def _signing_service(environ: dict[str, Any]) -> str | None:
    """The SigV4 service name of a request (`.../us-east-1/kms/aws4_request`)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return auth.split("Credential=", 1)[1].split(",")[0].split("/")[3]
    except IndexError:
        return None


def _throttled(environ: dict[str, Any], service: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """The throttling error in the service's protocol, with a request id as AWS sends it:
    JSON with `x-amzn-RequestId`, EC2's `<Response><Errors>` with `<RequestID>`, other query
    services' `<ErrorResponse>` with `<RequestId>`."""
    request_id = str(uuid.uuid4())
    if environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)]
        return "400 Bad Request", headers, body.encode()
    if service == "ec2":
        body = (
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return "503 Service Unavailable", [("Content-Type", "text/xml")], body.encode()
    body = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return "400 Bad Request", [("Content-Type", "text/xml")], body.encode()


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
        # The lifecycle runner plays CloudFormation, which retries its own throttled calls.
        if service and environ.get("HTTP_X_EMULATOR_CALLER") != "cloudformation" and RUNTIME.should_throttle(service):
            status, headers, body = _throttled(environ, service)
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body]
        lost = self._lost_response(environ)
        if lost is None:
            return self.moto_app(environ, start_response)
        # The call takes effect; its answer never reaches the caller.
        b"".join(self.moto_app(environ, lambda *_args, **_kwargs: lambda _data: None))
        body = json.dumps({"__type": "InternalFailure", "message": f"{lost}: the response was lost"}).encode()
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", str(uuid.uuid4())),
             ("Content-Length", str(len(body)))],
        )
        return [body]

    @staticmethod
    def _lost_response(environ: dict[str, Any]) -> str | None:
        """The operation of this call if a `lost_responses` fault is due for it."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        action = target.rsplit(".", 1)[-1]
        if not action:
            return None
        for index, rule in enumerate(RUNTIME.faults.lost_responses):
            if rule.action == action:
                count = RUNTIME.next_counter(f"lost_responses:{index}")
                if rule.nth <= count < rule.nth + rule.times:
                    return action
        return None
