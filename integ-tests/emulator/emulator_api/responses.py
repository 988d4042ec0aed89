"""`/_emulator/*` requests: config, reset, state, Lambda registration, stand-in CLI calls."""

import json
from collections.abc import Callable
from typing import Any

from moto.moto_api._internal.models import moto_api_backend

from ..authz.enforce import AUTHORIZER
from ..awslambda import models as lambda_models
from ..cloudhsmv2 import hsm_cli
from ..cloudhsmv2.models import cloudhsmv2_backends
from ..core.faults import ConfigError
from ..core.runtime import RUNTIME
from ..ssm import packages
from . import state


def reset_all() -> None:
    """Drop the emulator's state and moto's (same as POST /moto-api/reset)."""
    RUNTIME.reset()
    moto_api_backend.reset()


def _config(body: Any) -> dict[str, Any]:
    RUNTIME.configure(body)
    return RUNTIME.config_json()


def iam_knobs(body: Any) -> dict[str, Any]:
    """IAM knobs: {"propagation_seconds": n} (emulated seconds before a role's new policies apply)."""
    if not isinstance(body, dict) or set(body) - {"propagation_seconds"}:
        raise ConfigError('iam takes a JSON object with "propagation_seconds"')
    if "propagation_seconds" in body:
        seconds = body["propagation_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ConfigError(f"propagation_seconds must be a number >= 0, got {seconds!r}")
        AUTHORIZER.propagation_seconds = float(seconds)
    return {"propagation_seconds": AUTHORIZER.propagation_seconds}


def _clear_usage(body: Any) -> dict[str, Any]:
    AUTHORIZER.usage.clear()
    return {"cleared": True}


def hsm_user_knob(body: Any) -> dict[str, Any]:
    """`{"AccountId"?, "Region"?, "ClusterId", "Username", "MissingOn": [hsm ids]}`: the user is absent from
    those HSMs (their user databases fell out of sync); `[]` puts it back on every HSM."""
    account, region = str(body.get("AccountId", "123456789012")), str(body.get("Region", "us-east-1"))
    with RUNTIME.lock:
        cluster = cloudhsmv2_backends[account][region].clusters.get(str(body.get("ClusterId", "")))
        if cluster is None:
            raise ConfigError(f"no cluster {body.get('ClusterId')!r} in {account}/{region}")
        try:
            return hsm_cli.missing_on(cluster, str(body.get("Username", "")), list(body.get("MissingOn") or []))
        except hsm_cli.CliError as err:
            raise ConfigError(str(err)) from err


def _reset(body: Any) -> dict[str, Any]:
    reset_all()
    return {"reset": True}


ROUTES: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("POST", "/_emulator/config"): _config,
    ("GET", "/_emulator/config"): lambda body: RUNTIME.config_json(),
    ("GET", "/_emulator/clock"): lambda body: RUNTIME.clock_json(),
    ("GET", "/_emulator/changes"): lambda body: RUNTIME.changes_json(),
    ("POST", "/_emulator/reset"): _reset,
    ("GET", "/_emulator/state"): lambda body: state.snapshot(),
    ("POST", "/_emulator/hsm-cli"): hsm_cli.handle,
    ("POST", "/_emulator/package-source"): packages.handle,
    ("POST", "/_emulator/hsm-user"): hsm_user_knob,
    ("POST", "/_emulator/lambda/register"): lambda_models.register,
    ("POST", "/_emulator/iam"): iam_knobs,
    ("GET", "/_emulator/iam/usage"): lambda body: AUTHORIZER.usage.to_json(),
    ("DELETE", "/_emulator/iam/usage"): _clear_usage,
}


def handle(environ: dict[str, Any], path: str) -> tuple[str, Any]:
    """Answer one `/_emulator/*` request: (HTTP status line, JSON payload)."""
    method = environ.get("REQUEST_METHOD", "GET")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
        route = ROUTES.get((method, path))
        if route is not None:
            return "200 OK", route(body)
    except (ConfigError, lambda_models.RegistrationError, json.JSONDecodeError) as err:
        return "400 Bad Request", {"error": str(err)}
    return "404 Not Found", {"error": f"no emulator endpoint {method} {path}"}
