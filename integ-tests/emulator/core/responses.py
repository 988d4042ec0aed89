"""Helpers for the emulator's JSON 1.1 response handlers."""

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from moto.core.responses import BaseResponse

from .runtime import RUNTIME

R = TypeVar("R", bound=BaseResponse)


def emulated(handler: Callable[[R], dict[str, Any]]) -> Callable[[R], str]:
    """Run an action under the runtime lock and return its JSON body."""

    @functools.wraps(handler)
    def wrapper(self: R) -> str:
        with RUNTIME.lock:
            return json.dumps(handler(self))

    return wrapper


def json_params(response: BaseResponse) -> dict[str, Any]:
    """The request's JSON body as a dict (`{}` when empty)."""
    return json.loads(response.body or "{}")
