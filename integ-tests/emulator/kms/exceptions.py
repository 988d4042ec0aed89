"""KMS errors of the custom key store actions, named after their AWS error codes
(HTTP 400, `{"__type", "message"}`)."""

from moto.core.exceptions import JsonRESTError


class KmsKeyStoreError(JsonRESTError):
    """Base of the key store errors: the class name is the AWS error code."""

    code = 400

    def __init__(self, message: str):
        super().__init__(type(self).__name__, message)


class CloudHsmClusterInUseException(KmsKeyStoreError):
    """The cluster (or one sharing its backup history) already has a key store."""


class CloudHsmClusterInvalidConfigurationException(KmsKeyStoreError):
    """The cluster lacks two ACTIVE HSMs in different Availability Zones."""


class CloudHsmClusterNotActiveException(KmsKeyStoreError):
    """The cluster is not ACTIVE."""


class CloudHsmClusterNotFoundException(KmsKeyStoreError):
    """No such cluster (or it is being deleted)."""


class CloudHsmClusterNotRelatedException(KmsKeyStoreError):
    """The new cluster does not share a backup history with the key store's."""


class CustomKeyStoreHasCMKsException(KmsKeyStoreError):
    """The key store still holds KMS keys, including keys pending deletion."""


class CustomKeyStoreInvalidStateException(KmsKeyStoreError):
    """The key store's connection state does not allow the operation."""


class CustomKeyStoreNameInUseException(KmsKeyStoreError):
    """Another key store has this name."""


class CustomKeyStoreNotFoundException(KmsKeyStoreError):
    """No key store with this id or name."""


class IncorrectTrustAnchorException(KmsKeyStoreError):
    """The trust anchor is not the cluster's."""


class UnsupportedOperationException(KmsKeyStoreError):
    """The operation is not supported for this key store or key."""


class ValidationException(KmsKeyStoreError):
    """A parameter is missing or out of range."""
