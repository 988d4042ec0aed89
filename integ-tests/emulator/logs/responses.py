"""CloudWatch Logs with customer managed keys checked as AWS checks them.

CreateLogGroup with a `kmsKeyId`, and AssociateKmsKey (which moto lacks), succeed only
when the key exists, is enabled, and its key policy lets the regional logs service
principal (`logs.<region>.amazonaws.com`) encrypt, decrypt and generate data keys
with the encryption context `kms:EncryptionContext:aws:logs:arn` = the log group's
ARN. Only the key policy counts for a service principal: the account root statement
grants it nothing. Otherwise the answer is AWS's AccessDeniedException.
DisassociateKmsKey (also missing from moto) removes the association.
"""

from typing import Any

from moto.kms.models import kms_backends
from moto.logs.exceptions import ResourceAlreadyExistsException, ResourceNotFoundException
from moto.logs.responses import LogsResponse

from ..core.responses import emulated, json_params
from ..kms import policy
from .exceptions import AccessDeniedException

# What CloudWatch Logs does with the key of an encrypted log group.
LOGS_KMS_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
ENCRYPTION_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"


class LogsWithKeyPoliciesResponse(LogsResponse):
    """moto's CloudWatch Logs handlers, with the KMS key policy check."""

    def _log_group_arn(self, name: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.current_account}:log-group:{name}"

    def _check_key(self, key_id: str, log_group_name: str) -> str:
        """The key's ARN when CloudWatch Logs may use it for this log group; AccessDeniedException otherwise."""
        group_arn = self._log_group_arn(log_group_name)
        refused = AccessDeniedException(
            f"The specified KMS key does not exist or is not allowed to be used with Arn '{group_arn}'"
        )
        kms = kms_backends[self.current_account][self.region]
        try:
            key = kms.describe_key(key_id)
        except (KeyError, AttributeError, TypeError):  # no such key id, ARN or alias
            raise refused from None
        symmetric = (key.key_usage or "ENCRYPT_DECRYPT", key.key_spec) == ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT")
        if key.key_state != "Enabled" or not symmetric:
            raise refused
        principal = f"logs.{self.region}.amazonaws.com"
        if policy.denied_actions(key.policy, principal, LOGS_KMS_ACTIONS, key.arn, {ENCRYPTION_CONTEXT_KEY: group_arn}):
            raise refused
        return key.arn

    def create_log_group(self) -> str:
        params = json_params(self)
        name, key_id = params.get("logGroupName", ""), params.get("kmsKeyId")
        if key_id:
            if name in self.logs_backend.groups:
                raise ResourceAlreadyExistsException()
            self._check_key(key_id, name)
        return super().create_log_group()

    @emulated
    def associate_kms_key(self) -> dict[str, Any]:
        params = json_params(self)
        name = params.get("logGroupName", "")
        group = self.logs_backend.groups.get(name)
        if group is None:
            raise ResourceNotFoundException()
        self._check_key(params.get("kmsKeyId", ""), name)
        group.kms_key_id = params["kmsKeyId"]
        return {}

    @emulated
    def disassociate_kms_key(self) -> dict[str, Any]:
        name = json_params(self).get("logGroupName", "")
        group = self.logs_backend.groups.get(name)
        if group is None:
            raise ResourceNotFoundException()
        group.kms_key_id = None
        return {}
