"""SSM Run Command errors, on moto's SSM exception base (moto serializes SSM errors
from the service model, so they are `ServiceException`s rather than `JsonRESTError`s)."""

from moto.ssm.exceptions import SSMException


class InvocationDoesNotExist(SSMException):
    code = "InvocationDoesNotExist"
    message = "The command invocation does not exist."


class InvalidInstanceId(SSMException):
    code = "InvalidInstanceId"


class InvalidParameters(SSMException):
    code = "InvalidParameters"
