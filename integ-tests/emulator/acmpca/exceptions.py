"""AWS Private CA errors moto does not have, named after their AWS error codes."""

from moto.core.exceptions import JsonRESTError


class MalformedCSRException(JsonRESTError):
    """The CSR is not a PKCS#10 request."""

    code = 400

    def __init__(self, message: str):
        super().__init__("MalformedCSRException", message)


class InvalidStateException(JsonRESTError):
    """The CA is not in a state that allows the action."""

    code = 400

    def __init__(self, message: str):
        super().__init__("InvalidStateException", message)


class RequestInProgressException(JsonRESTError):
    """The certificate is still being issued."""

    code = 400

    def __init__(self, message: str):
        super().__init__("RequestInProgressException", message)
