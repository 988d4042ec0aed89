"""Step Functions errors moto lacks, named after their AWS error codes."""

from moto.core.exceptions import AWSError


class StateMachineAlreadyExists(AWSError):
    """A state machine of that name exists and the request does not describe the same machine."""

    TYPE = "StateMachineAlreadyExists"
    STATUS = 400

    def __init__(self, arn: str):
        super().__init__(f"State Machine Already Exists: '{arn}'")
