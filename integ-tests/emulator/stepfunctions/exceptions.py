"""Step Functions errors moto lacks, named after their AWS error codes."""

from moto.core.exceptions import AWSError


class StateMachineAlreadyExists(AWSError):
    """A state machine of that name exists and the request does not describe the same machine."""

    TYPE = "StateMachineAlreadyExists"
    STATUS = 400

    def __init__(self, arn: str):
        super().__init__(f"State Machine Already Exists: '{arn}'")


class InvalidToken(AWSError):
    """A nextToken that was not issued for this request's execution and order."""

    TYPE = "InvalidToken"
    STATUS = 400

    def __init__(self, token: str):
        super().__init__(f"Invalid Token: '{token}'")


class ValidationException(AWSError):
    """A parameter outside the range AWS accepts."""

    TYPE = "ValidationException"
    STATUS = 400


class InvalidDefinition(AWSError):
    """A definition that does not parse (moto's own exception reaches the client without its code)."""

    TYPE = "InvalidDefinition"
    STATUS = 400
