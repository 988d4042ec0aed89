"""CloudWatch Logs errors moto lacks, named after their AWS error codes (HTTP 400, `{"__type", "message"}`)."""

from moto.logs.exceptions import LogsClientError


class AccessDeniedException(LogsClientError):
    """The KMS key does not exist, or its policy does not let CloudWatch Logs use it for this log group."""

    def __init__(self, message: str):
        super().__init__("AccessDeniedException", message)
