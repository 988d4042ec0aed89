"""Each action's resources and condition keys, read from the request as AWS reads them.

`MAPPINGS[service:Action](target)` answers the requests IAM evaluates for one call:
one per resource ARN (all must be allowed), each with the condition keys of that
resource (`aws:ResourceTag/...`, `secretsmanager:ResourceTag/...`, `ec2:Vpc`) and of
the request (`aws:RequestTag/...`, `aws:TagKeys`, `iam:AWSServiceName`). An action
without resource-level permissions (the IAM service reference lists no resource type
for it) is evaluated against `*`. An action missing here is refused by the emulator
(`UnmappedAction`), so a new call cannot slip through unevaluated; add it here, and
`tests/emulator/test_authz_reference.py` checks it against the service reference.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.ec2.models import ec2_backends
from moto.kms.models import kms_backends
from moto.secretsmanager.models import secretsmanager_backends

from ..cloudhsmv2.models import cloudhsmv2_backends
from .policy import Request
from .requests import SignedRequest


class UnmappedAction(LookupError):
    """The emulator does not know the resources of an action, so it cannot evaluate it."""


@dataclass(frozen=True)
class Target:
    """One call, with where it happens."""

    call: SignedRequest
    account: str

    @property
    def region(self) -> str:
        return self.call.region

    @property
    def params(self) -> dict[str, Any]:
        return self.call.params

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"

    def request(self, resource: str, context: dict[str, Any] | None = None) -> Request:
        base = {
            "aws:RequestedRegion": self.region,
            "aws:PrincipalAccount": self.account,
            "aws:SecureTransport": "false",
        }
        return Request.of(self.call.iam_action, resource, {**base, **(context or {})})


def _tag_keys(tags: list[dict[str, str]] | dict[str, str] | None, prefix: str) -> dict[str, Any]:
    if not tags:
        return {}
    pairs = tags.items() if isinstance(tags, dict) else ((t["Key"], t["Value"]) for t in tags)
    return {f"{prefix}/{k}": v for k, v in pairs}


def _request_tags(tags: list[dict[str, str]] | None) -> dict[str, Any]:
    context = _tag_keys(tags, "aws:RequestTag")
    if tags:
        context["aws:TagKeys"] = [t["Key"] for t in tags]
    return context


# --- CloudHSM ---------------------------------------------------------------------


def _cloudhsm_tags(t: Target, resource_id: str) -> dict[str, Any]:
    backend = cloudhsmv2_backends[t.account][t.region]
    owner = backend.backups.get(resource_id) or backend.clusters.get(resource_id)
    return _tag_keys(owner.tags if owner else None, "aws:ResourceTag")


def _cloudhsm_resource(t: Target, resource_id: str) -> str:
    kind = "backup" if resource_id.startswith("backup-") else "cluster"
    return t.arn("cloudhsm", f"{kind}/{resource_id}")


def _cluster(t: Target) -> list[Request]:
    cluster_id = str(t.params.get("ClusterId", ""))
    return [t.request(_cloudhsm_resource(t, cluster_id), _cloudhsm_tags(t, cluster_id))]


def _create_cluster(t: Target) -> list[Request]:
    context = _request_tags(t.params.get("TagList"))
    backup = t.params.get("SourceBackupId")
    if backup:
        return [t.request(_cloudhsm_resource(t, backup), {**context, **_cloudhsm_tags(t, backup)})]
    return [t.request("*", context)]


def _tag_cloudhsm(t: Target) -> list[Request]:
    resource_id = str(t.params.get("ResourceId", ""))
    context = {**_request_tags(t.params.get("TagList")), **_cloudhsm_tags(t, resource_id)}
    return [t.request(_cloudhsm_resource(t, resource_id), context)]


def _backup(t: Target) -> list[Request]:
    backup_id = str(t.params.get("BackupId", ""))
    return [t.request(_cloudhsm_resource(t, backup_id), _cloudhsm_tags(t, backup_id))]


# --- Secrets Manager ----------------------------------------------------------------


def _secret(t: Target) -> list[Request]:
    secret_id = str(t.params.get("SecretId", ""))
    backend = secretsmanager_backends[t.account][t.region]
    context: dict[str, Any] = {"secretsmanager:SecretId": secret_id}
    arn = secret_id if secret_id.startswith("arn:") else t.arn("secretsmanager", f"secret:{secret_id}")
    if secret_id in backend.secrets:
        secret = backend.secrets[secret_id]
        arn = secret.arn
        context["secretsmanager:SecretId"] = arn
        context.update(_tag_keys(secret.tags, "aws:ResourceTag"))
        context.update(_tag_keys(secret.tags, "secretsmanager:ResourceTag"))
    if "Tags" in t.params:
        context.update(_request_tags(t.params.get("Tags")))
    return [t.request(arn, context)]


# --- SSM ----------------------------------------------------------------------------


def _send_command(t: Target) -> list[Request]:
    name = str(t.params.get("DocumentName", ""))
    if name.startswith("arn:"):
        document = name
    elif name.startswith("AWS-"):
        document = f"arn:aws:ssm:{t.region}::document/{name}"
    else:
        document = t.arn("ssm", f"document/{name}")
    requests = [t.request(document)]
    ec2 = ec2_backends[t.account][t.region]
    for instance_id in t.params.get("InstanceIds") or []:
        tags = ec2.tags.get(instance_id, {})
        context = {**_tag_keys(tags, "ssm:resourceTag"), **_tag_keys(tags, "aws:ResourceTag")}
        requests.append(t.request(t.arn("ec2", f"instance/{instance_id}"), context))
    return requests


def _parameter(t: Target) -> list[Request]:
    name = str(t.params.get("Name", ""))
    return [t.request(name if name.startswith("arn:") else t.arn("ssm", f"parameter/{name.lstrip('/')}"))]


# --- EC2 ----------------------------------------------------------------------------


def _security_group(t: Target) -> list[Request]:
    group_id = str(t.params.get("GroupId", ""))
    ec2 = ec2_backends[t.account][t.region]
    group = ec2.get_security_group_from_id(group_id)
    context: dict[str, Any] = {}
    if group is not None:
        context["ec2:Vpc"] = t.arn("ec2", f"vpc/{group.vpc_id}")
        tags = ec2.tags.get(group_id, {})
        context.update({**_tag_keys(tags, "aws:ResourceTag"), **_tag_keys(tags, "ec2:ResourceTag")})
    return [t.request(t.arn("ec2", f"security-group/{group_id}"), context)]


# --- KMS ----------------------------------------------------------------------------


def _kms_key(t: Target) -> list[Request]:
    """A key by id, ARN or alias, with the condition keys of the key itself (`kms:KeyOrigin`, ...)."""
    key_id = str(t.params.get("KeyId", ""))
    backend = kms_backends[t.account][t.region]
    try:
        key = backend.describe_key(key_id)
    except Exception:  # noqa: BLE001 - an unknown key is KMS's NotFoundException, answered by moto
        return [t.request(key_id if key_id.startswith("arn:") else t.arn("kms", f"key/{key_id}"))]
    context = {"kms:KeyOrigin": key.origin, "kms:KeySpec": key.key_spec, "kms:KeyUsage": key.key_usage}
    return [t.request(key.arn, context)]


# --- Step Functions, Lambda, ACM Private CA -------------------------------------------


def _state_machine(t: Target) -> list[Request]:
    return [t.request(str(t.params.get("stateMachineArn", "")))]


def _execution(t: Target) -> list[Request]:
    return [t.request(str(t.params.get("executionArn", "")))]


def _function(t: Target) -> list[Request]:
    name = str(t.params.get("FunctionName", ""))
    arn = name if name.startswith("arn:") else t.arn("lambda", f"function:{name}")
    return [t.request(arn)]


def _certificate_authority(t: Target) -> list[Request]:
    return [t.request(str(t.params.get("CertificateAuthorityArn", "")))]


def _anything(t: Target) -> list[Request]:
    return [t.request("*")]


Mapping = Callable[[Target], list[Request]]

MAPPINGS: dict[str, Mapping] = {
    "cloudhsm:CreateCluster": _create_cluster,
    "cloudhsm:DescribeClusters": _anything,
    "cloudhsm:DescribeBackups": _anything,
    "cloudhsm:CreateHsm": _cluster,
    "cloudhsm:DeleteHsm": _anything,
    "cloudhsm:DeleteCluster": _cluster,
    "cloudhsm:InitializeCluster": _cluster,
    "cloudhsm:ModifyCluster": _cluster,
    "cloudhsm:TagResource": _tag_cloudhsm,
    "cloudhsm:ListTags": _anything,
    "cloudhsm:DeleteBackup": _backup,
    "secretsmanager:GetSecretValue": _secret,
    "secretsmanager:PutSecretValue": _secret,
    "secretsmanager:DescribeSecret": _secret,
    "secretsmanager:TagResource": _secret,
    "secretsmanager:UpdateSecret": _secret,
    "secretsmanager:ListSecrets": _anything,
    "ssm:SendCommand": _send_command,
    "ssm:GetCommandInvocation": _anything,
    "ssm:ListCommandInvocations": _anything,
    "ssm:DescribeInstanceInformation": _anything,
    "ssm:GetParameter": _parameter,
    "ec2:AuthorizeSecurityGroupIngress": _security_group,
    "ec2:AuthorizeSecurityGroupEgress": _security_group,
    "ec2:RevokeSecurityGroupIngress": _security_group,
    "ec2:RevokeSecurityGroupEgress": _security_group,
    "ec2:DescribeSecurityGroups": _anything,
    "ec2:DescribeSecurityGroupRules": _anything,
    "ec2:DescribeInstances": _anything,
    "states:StartExecution": _state_machine,
    "states:ListExecutions": _state_machine,
    "states:DescribeExecution": _execution,
    "states:GetExecutionHistory": _execution,
    "states:StopExecution": _execution,
    "lambda:InvokeFunction": _function,
    "kms:CreateCustomKeyStore": _anything,
    "kms:DescribeCustomKeyStores": _anything,
    "kms:ConnectCustomKeyStore": _anything,
    "kms:DisconnectCustomKeyStore": _anything,
    "kms:UpdateCustomKeyStore": _anything,
    "kms:DeleteCustomKeyStore": _anything,
    "kms:CreateKey": _anything,
    "kms:ListKeys": _anything,
    "kms:DescribeKey": _kms_key,
    "kms:ListResourceTags": _kms_key,
    "kms:ScheduleKeyDeletion": _kms_key,
    "kms:UpdateKeyDescription": _kms_key,
    "kms:PutKeyPolicy": _kms_key,
    "kms:TagResource": _kms_key,
    "kms:Encrypt": _kms_key,
    "acm-pca:IssueCertificate": _certificate_authority,
    "acm-pca:GetCertificate": _certificate_authority,
    "acm-pca:GetCertificateAuthorityCertificate": _certificate_authority,
    "acm-pca:DescribeCertificateAuthority": _certificate_authority,
}

# Answered for any caller, as AWS does.
UNAUTHENTICATED_ACTIONS = {"sts:GetCallerIdentity"}


def requests_for(target: Target) -> list[Request]:
    mapping = MAPPINGS.get(target.call.iam_action)
    if mapping is None:
        raise UnmappedAction(target.call.iam_action)
    return mapping(target)
