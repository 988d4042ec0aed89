"""CreateStateMachine as AWS answers it for a name already in use.

moto answers a second CreateStateMachine of a name with the existing machine, whatever
the request says. AWS treats it as idempotent only when it describes the same machine:
its idempotency check covers the definition, type, logging, tracing and encryption
configurations, `publish` and `versionDescription`; a different `roleArn` or tags are
ignored (and not applied). Any other difference is StateMachineAlreadyExists.
"""

from typing import Any

from moto.core.responses import ActionResult
from moto.stepfunctions.exceptions import StateMachineDoesNotExist
from moto.stepfunctions.responses import StepFunctionResponse

from ..core.runtime import RUNTIME
from .exceptions import StateMachineAlreadyExists


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
            return super().create_state_machine()

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
