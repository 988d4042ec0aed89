"""CreateStateMachine and GetExecutionHistory as AWS answers them.

A definition that does not parse is InvalidDefinition (moto's exception reaches the
client with no error code).

moto answers a second CreateStateMachine of a name with the existing machine, whatever
the request says. AWS treats it as idempotent only when it describes the same machine:
its idempotency check covers the definition, type, logging, tracing and encryption
configurations, `publish` and `versionDescription`; a different `roleArn` or tags are
ignored (and not applied). Any other difference is StateMachineAlreadyExists.

moto answers GetExecutionHistory with every event, oldest first, whatever the request
says. AWS answers a page: `maxResults` events (100 when it is 0 or not given, at most
1000), newest first with `reverseOrder`, and a `nextToken` for the rest. A caller that
reads one page of a long history sees only that page, as in AWS.
"""

import base64
import binascii
import hashlib
import json
from typing import Any

from moto.core.responses import ActionResult
from moto.stepfunctions.exceptions import StateMachineDoesNotExist
from moto.stepfunctions.parser.api import InvalidDefinition as MotoInvalidDefinition
from moto.stepfunctions.responses import StepFunctionResponse

from ..core.runtime import RUNTIME
from .exceptions import InvalidDefinition, InvalidToken, StateMachineAlreadyExists, ValidationException

HISTORY_PAGE = 100  # GetExecutionHistory's default maxResults
HISTORY_PAGE_MAX = 1000


class StepFunctionsWithNamesResponse(StepFunctionResponse):
    """moto's Step Functions handlers; CreateStateMachine refuses a name used by another machine."""

    def create_state_machine(self) -> ActionResult:
        name = self._get_param("name")
        arn = f"arn:aws:states:{self.region}:{self.current_account}:stateMachine:{name}"
        with RUNTIME.lock:
            try:
                existing = self.stepfunction_backend.describe_state_machine(arn)
            except StateMachineDoesNotExist:
                existing = None
            if existing is not None and not self._same_machine(existing):
                raise StateMachineAlreadyExists(arn)
            try:
                return super().create_state_machine()
            except MotoInvalidDefinition as e:
                raise InvalidDefinition(e.message) from e

    def get_execution_history(self) -> ActionResult:
        arn = self._get_param("executionArn")
        size = self._get_param("maxResults") or HISTORY_PAGE
        if not 0 < size <= HISTORY_PAGE_MAX:
            raise ValidationException(
                f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
                f"Member must have value less than or equal to {HISTORY_PAGE_MAX}"
            )
        reverse = bool(self._get_param("reverseOrder"))
        events = list(self.stepfunction_backend.get_execution_history(arn)["events"])
        if reverse:
            events.reverse()
        token = self._get_param("nextToken")
        start = _token_offset(token, arn, reverse) if token else 0
        page: dict[str, Any] = {"events": events[start : start + size]}
        if start + size < len(events):
            page["nextToken"] = _history_token(arn, reverse, start + size)
        return ActionResult(page)

    def _same_machine(self, existing: Any) -> bool:
        """Does this request describe the machine that exists (AWS's idempotency check)?"""
        publish = bool(self._get_param("publish"))
        first_version = existing.versions.get(1)
        requested = (
            self._get_param("definition"),
            self._get_param("type") or "STANDARD",
            self._get_param("loggingConfiguration") or {"level": "OFF"},
            self._get_param("tracingConfiguration") or {"enabled": False},
            self._get_param("encryptionConfiguration") or {"type": "AWS_OWNED_KEY"},
            publish,
            self._get_param("versionDescription") if publish else None,
        )
        current = (
            existing.definition,
            existing.type,
            existing.loggingConfiguration,
            existing.tracingConfiguration,
            existing.encryptionConfiguration,
            first_version is not None,
            first_version.description if first_version is not None else None,
        )
        return requested == current


def _history_of(arn: str, reverse: bool) -> list[Any]:
    """What a token names besides its offset: the execution (hashed) and the order."""
    return [hashlib.sha256(arn.encode()).hexdigest()[:16], reverse]


def _history_token(arn: str, reverse: bool, offset: int) -> str:
    """An opaque token for the history of `arn` in this order from `offset`."""
    return base64.b64encode(json.dumps([*_history_of(arn, reverse), offset]).encode()).decode()


def _token_offset(token: str, arn: str, reverse: bool) -> int:
    """Where a token issued for this execution and order goes on; InvalidToken for any other."""
    try:
        *history, offset = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, TypeError) as e:
        raise InvalidToken(token) from e
    if history != _history_of(arn, reverse) or not isinstance(offset, int):
        raise InvalidToken(token)
    return offset
