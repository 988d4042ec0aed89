"""`/_emulator/*` requests: config, reset, state, Lambda registration, stand-in CLI calls."""

import json
from collections.abc import Callable
from typing import Any

from moto.moto_api._internal.models import moto_api_backend

from ..awslambda import models as lambda_models
from ..cloudhsmv2 import hsm_cli
from ..core.faults import ConfigError
from ..core.runtime import RUNTIME
from . import state


def reset_all() -> None:
    """Drop the emulator's state and moto's (same as POST /moto-api/reset)."""
    RUNTIME.reset()
    moto_api_backend.reset()


def _config(body: Any) -> dict[str, Any]:
    RUNTIME.configure(body)
    return RUNTIME.config_json()


def _reset(body: Any) -> dict[str, Any]:
    reset_all()
    return {"reset": True}


ROUTES: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("POST", "/_emulator/config"): _config,
    ("GET", "/_emulator/config"): lambda body: RUNTIME.config_json(),
    ("POST", "/_emulator/reset"): _reset,
    ("GET", "/_emulator/state"): lambda body: state.snapshot(),
    ("POST", "/_emulator/hsm-cli"): hsm_cli.handle,
    ("POST", "/_emulator/lambda/register"): lambda_models.register,
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
