"""CloudHSM v2 errors, named after their AWS error codes (HTTP 400, `{"__type", "message"}`)."""

from moto.core.exceptions import JsonRESTError


class CloudHsmClientError(JsonRESTError):
    """Base of the CloudHSM v2 errors: the class name is the AWS error code."""

    code = 400

    def __init__(self, message: str):
        super().__init__(type(self).__name__, message)


class CloudHsmInvalidRequestException(CloudHsmClientError):
    """The request is not valid for the resource's current state or arguments."""


class CloudHsmResourceNotFoundException(CloudHsmClientError):
    """No cluster, HSM or backup with the given id."""


class CloudHsmResourceLimitExceededException(CloudHsmClientError):
    """A cluster or HSM quota is reached."""
