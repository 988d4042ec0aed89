"""Patches of moto's Lambda: invocations of registered functions run their bootstrap.

Whatever the path (the Invoke API, InvokeAsync, or moto's Step Functions interpreter,
which is pointed at this emulator), `LambdaFunction.invoke` of a registered function
runs it through `models.Function.invoke`; DeleteFunction also stops its processes.
"""

import threading
from typing import Any

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.stepfunctions.parser.asl.utils import boto_client

from ..core.runtime import RUNTIME
from .models import registered, unregister


def _header(headers: Any, name: str, default: str) -> str:
    """A request header, whatever the case of its name."""
    for key, value in dict(headers or {}).items():
        if key.lower() == name:
            return value
    return default


_moto_invoke = LambdaFunction.invoke


def _invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
    """LambdaFunction.invoke, forwarded to the bootstrap when the function is registered."""
    function = registered(self.function_name)
    if function is None:
        return _moto_invoke(self, body, request_headers, response_headers)
    payload = body.encode() if isinstance(body, str) else (body or b"{}")
    timeout = function.registration.timeout or float(self.timeout)
    args = (payload, self.function_arn, timeout, int(self.memory_size))
    if _header(request_headers, "x-amz-invocation-type", "RequestResponse") == "Event":
        threading.Thread(target=function.invoke, args=args, name=f"lambda-event-{self.function_name}", daemon=True).start()
        return b""
    invocation = function.invoke(*args)
    if invocation.error:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-executed-version"] = "$LATEST"
    return invocation.result


_moto_delete_function = LambdaBackend.delete_function


def _delete_function(self: LambdaBackend, function_name: str, qualifier: str | None = None) -> None:
    """LambdaBackend.delete_function that also stops the forwarded processes of an unqualified delete."""
    name = self.get_function(function_name, qualifier).function_name
    _moto_delete_function(self, function_name, qualifier)
    if qualifier is None:
        unregister(name)


def _emulator_port() -> str:
    """moto's Step Functions interpreter calls `localhost:<port>`: make that this emulator."""
    return RUNTIME.endpoint.rsplit(":", 1)[-1]


def install() -> None:
    """Patch moto: forward invocations and point the Step Functions interpreter here."""
    LambdaFunction.invoke = _invoke  # type: ignore[method-assign]
    LambdaBackend.delete_function = _delete_function  # type: ignore[method-assign]
    boto_client.moto_server_port = _emulator_port
