"""IAM enforcement in front of moto: every signed request is authorized as its principal.

`AUTHORIZER.check(environ)` runs before moto sees a request and answers with the
error AWS would send, or None to let the request through:
- an access key the emulator never issued: the service's invalid-token error;
- the administrator (the runner, the tests): allowed;
- a role session: each resource of the call (authz/resources.py) must be allowed by
  the role's identity policies (inline and attached, AWS managed ones included), an
  explicit Deny winning; then CloudHSM's dependent actions (from the IAM service
  reference), the CloudHSM service-linked role on an account's first cluster
  (`iam:CreateServiceLinkedRole` with `iam:AWSServiceName`), KMS's CreateCustomKeyStore
  of a CloudHSM key store (the caller needs `cloudhsm:DescribeClusters`, and may have to
  create KMS's custom key store service-linked role), and KMS: a call to KMS,
  or to Secrets Manager on a secret under a customer managed key (`kms:ViaService`),
  needs the key policy too (naming the caller, or the account so that IAM decides).
Every statement that allowed a request is recorded (`USAGE`), for the least-privilege
report. `propagation_seconds` (a knob) keeps a role's new or changed policies from
taking effect for that many emulated seconds, as AWS takes a few seconds to.
"""

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.secretsmanager.models import secretsmanager_backends

from ..core.runtime import RUNTIME
from . import reference
from .policy import (
    Caller,
    Decision,
    Request,
    Statement,
    UnsupportedPolicy,
    as_list,
    evaluate_identity,
    evaluate_resource,
    statements,
)
from .principals import Principal, principal_of
from .requests import SignedRequest, parse
from .resources import UNAUTHENTICATED_ACTIONS, Target, UnmappedAction, requests_for

Response = tuple[str, list[tuple[str, str]], bytes]

CLOUDHSM_SERVICE_ROLE = "AWSServiceRoleForCloudHSM"
# CloudHSM calls that act on EC2 (and IAM) for the caller: the caller must hold these too.
CLOUDHSM_WITH_DEPENDENTS = {"cloudhsm:CreateCluster", "cloudhsm:CreateHsm", "cloudhsm:DeleteHsm", "cloudhsm:DeleteCluster"}
AWS_MANAGED_SECRETS_KEY = "alias/aws/secretsmanager"


@dataclass(frozen=True)
class ServiceLinkedRole:
    """A service-linked role an account's first use of a feature creates, as the caller."""

    service: str  # iam:AWSServiceName
    name: str
    description: str
    denied_code: str  # the calling service's error code when the caller may not create it
    feature: str  # for the message


CLOUDHSM_ROLE = ServiceLinkedRole(
    "cloudhsm.amazonaws.com",
    CLOUDHSM_SERVICE_ROLE,
    "Allows CloudHSM to manage its resources for you",
    "CloudHsmAccessDeniedException",
    "CloudHSM",
)
# KMS makes it on an account's first CloudHSM key store: "Users who create AWS CloudHSM key
# stores must have the iam:CreateServiceLinkedRole permission" (KMS developer guide).
KMS_KEY_STORES_ROLE = ServiceLinkedRole(
    "cks.kms.amazonaws.com",
    "AWSServiceRoleForKeyManagementServiceCustomKeyStores",
    "Enables access to AWS services and resources required for AWS KMS custom key stores",
    "AccessDeniedException",
    "AWS KMS custom key stores",
)
# What KMS's CreateCustomKeyStore of an AWS_CLOUDHSM store needs the caller to hold (the IAM
# service reference's dependent actions, and the KMS guide's key store managers' permissions).
KMS_KEY_STORE_DEPENDENTS = ("cloudhsm:DescribeClusters",)


class Denied(Exception):
    """A request IAM refuses: the error code and message the service returns."""

    def __init__(self, code: str, message: str, status: str = "400 Bad Request"):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Usage:
    """Which statement allowed which requests, and which requests were refused."""

    allowed: dict[tuple[str, str, int, str, tuple[str, ...]], set[str]] = field(default_factory=dict)
    denied: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, role: str, statement: Statement, request: Request) -> None:
        actions = tuple(str(a) for a in as_list(statement.body.get("Action") or statement.body.get("NotAction") or []))
        key = (role, statement.policy, statement.index, statement.sid or "", actions)
        with self.lock:
            self.allowed.setdefault(key, set()).add(f"{request.action} {request.resource}")

    def refuse(self, principal: Principal, action: str, resource: str, reason: str) -> None:
        with self.lock:
            self.denied.append({"Role": principal.role_name, "Action": action, "Resource": resource, "Reason": reason})

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            allowed = [
                {
                    "Role": role,
                    "Policy": policy,
                    "Index": index,
                    "Sid": sid,
                    "Actions": list(actions),
                    "Requests": sorted(requests),
                }
                for (role, policy, index, sid, actions), requests in sorted(self.allowed.items())
            ]
            return {"Allowed": allowed, "Denied": list(self.denied)}

    def clear(self) -> None:
        with self.lock:
            self.allowed.clear()
            self.denied.clear()


def _identity_statements(principal: Principal) -> list[Statement]:
    role = principal.role()
    if role is None:
        return []
    found = [s for name, document in role.policies.items() for s in statements(f"inline:{name}", document)]
    for arn, managed in role.managed_policies.items():
        default = next((v for v in managed.versions if v.is_default), None)
        if default is not None:
            found.extend(statements(arn, default.document))
    return found


def _not_authorized(principal: Principal, request: Request, decision: Decision, kind: str = "identity-based") -> str:
    if decision.effect == "Deny" and decision.statement is not None:
        why = f"with an explicit deny in an {kind} policy ({decision.statement.label()})"
    else:
        why = f"because no {kind} policy allows the {request.action} action"
    return f"User: {principal.arn} is not authorized to perform: {request.action} on resource: {request.resource} {why}"


class Authorizer:
    def __init__(self) -> None:
        self.usage = Usage()
        self.propagation_seconds = 0.0  # emulated seconds
        self._changed: dict[str, float] = {}  # role ARN -> when its policies last changed (epoch)

    # --- knobs and hooks -----------------------------------------------------------

    def policies_changed(self, role_arn: str) -> None:
        """Called when a role is created or its policies change (see install())."""
        with RUNTIME.lock:
            self._changed[role_arn] = RUNTIME.now()

    def reset(self) -> None:
        self._changed.clear()
        self.propagation_seconds = 0.0

    def _propagated(self, role_arn: str) -> bool:
        changed = self._changed.get(role_arn)
        if changed is None or self.propagation_seconds <= 0:
            return True
        return RUNTIME.now() - changed >= self.propagation_seconds

    # --- the check -------------------------------------------------------------------

    def check(self, environ: dict[str, Any]) -> Response | None:
        call = parse(environ)
        if call is None:
            return None
        principal = principal_of(call.access_key_id)
        if principal is None:
            return _invalid_token(call)
        try:
            self._authorize(principal, call)
        except Denied as denied:
            return _error(call, denied)
        except UnmappedAction as err:
            message = (
                f"the emulator cannot authorize {err.args[0]}: it has no resource mapping for it "
                "(add one in integ-tests/emulator/authz/resources.py)"
            )
            return _error(call, Denied("EmulatorUnmappedAction", message))
        except UnsupportedPolicy as err:
            return _error(call, Denied("EmulatorUnsupportedPolicy", f"the emulator cannot evaluate a policy: {err}"))
        return None

    def _authorize(self, principal: Principal, call: SignedRequest) -> None:
        action = call.iam_action
        target = Target(call, principal.account)
        if action == "cloudhsm:CreateCluster":
            self._service_linked_role(principal, target, CLOUDHSM_ROLE)
        cloudhsm_key_store = action == "kms:CreateCustomKeyStore" and target.params.get(
            "CustomKeyStoreType", "AWS_CLOUDHSM"
        ) == "AWS_CLOUDHSM"
        if action == "ec2:RunInstances":
            self._volume_keys(principal, target)
        if principal.admin or action in UNAUTHENTICATED_ACTIONS:
            if cloudhsm_key_store:
                self._service_linked_role(principal, target, KMS_KEY_STORES_ROLE)
            return
        identity = self._identity(principal)
        requests = requests_for(target)
        for request in requests:
            self._allow(principal, identity, request)
            if call.service == "kms":
                self._key_policy(principal, target, identity, request, str(call.params.get("KeyId", "")), via=None)
        if action in CLOUDHSM_WITH_DEPENDENTS:
            self._dependents(principal, identity, target, requests[0].context)
        if cloudhsm_key_store:
            self._key_store_dependents(principal, identity, target)
            self._service_linked_role(principal, target, KMS_KEY_STORES_ROLE)
        if call.service == "secretsmanager":
            self._secret_key(principal, identity, target)

    def _identity(self, principal: Principal) -> list[Statement]:
        """The role's identity policies, once they have propagated (none before)."""
        return _identity_statements(principal) if self._propagated(principal.role_arn) else []

    def _allow(
        self,
        principal: Principal,
        identity: list[Statement],
        request: Request,
        code: str = "",
        explain: Callable[[Decision], str] | None = None,
    ) -> Decision:
        """Record the statement that allows `request`, or record and raise the refusal."""
        decision = evaluate_identity(identity, request)
        if not decision.allowed:
            message = explain(decision) if explain else _not_authorized(principal, request, decision)
            self.usage.refuse(principal, request.action, request.resource, message)
            raise Denied(code or "AccessDenied", message)
        assert decision.statement is not None
        self.usage.record(principal.role_name, decision.statement, request)
        return decision

    def _dependents(self, principal: Principal, identity: list[Statement], target: Target, context: dict[str, list[str]]) -> None:
        """The dependent actions, on `*` with the call's own condition keys (its request tags, say)."""
        action = target.call.iam_action
        for dependent in reference.dependent_actions(action):
            if dependent == "iam:CreateServiceLinkedRole":
                continue  # checked when the role is missing (_service_linked_role)
            if dependent == "cloudhsm:TagResource" and not target.params.get("TagList"):
                continue

            def explain(decision: Decision, dependent: str = dependent) -> str:
                why = "an explicit deny refuses it" if decision.effect == "Deny" else "no identity-based policy allows it"
                return (
                    f"User: {principal.arn} is not authorized to perform {action}: it needs {dependent}, "
                    f"which {action} performs on the caller's behalf, and {why}"
                )

            self._allow(
                principal, identity, Request(dependent, "*", context), code="CloudHsmAccessDeniedException", explain=explain
            )

    def _key_store_dependents(self, principal: Principal, identity: list[Statement], target: Target) -> None:
        """What CreateCustomKeyStore of a CloudHSM key store does as the caller: DescribeClusters."""
        for dependent in KMS_KEY_STORE_DEPENDENTS:

            def explain(decision: Decision, dependent: str = dependent) -> str:
                why = "an explicit deny refuses it" if decision.effect == "Deny" else "no identity-based policy allows it"
                return (
                    f"User: {principal.arn} is not authorized to perform kms:CreateCustomKeyStore: it needs "
                    f"{dependent} to read the CloudHSM cluster, and {why}"
                )

            self._allow(principal, identity, Request.of(dependent, "*"), code="AccessDeniedException", explain=explain)

    def _service_linked_role(self, principal: Principal, target: Target, slr: ServiceLinkedRole) -> None:
        """An account's first use of the feature creates the service's service-linked role, if the caller may."""
        iam = iam_backends[target.account]["aws"]
        if any(role.name == slr.name for role in iam.roles.values()):
            return
        if not principal.admin:
            role_arn = f"arn:aws:iam::{target.account}:role/aws-service-role/{slr.service}/{slr.name}"
            request = Request.of("iam:CreateServiceLinkedRole", role_arn, {"iam:AWSServiceName": slr.service})
            self._allow(
                principal,
                self._identity(principal),
                request,
                code=slr.denied_code,
                explain=lambda decision: (
                    f"The service-linked role for {slr.feature} does not exist in this account and the caller may not "
                    f"create it: {_not_authorized(principal, request, decision)}"
                ),
            )
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": slr.service}, "Action": "sts:AssumeRole"}],
        }
        with RUNTIME.lock:
            iam.create_role(
                slr.name,
                json.dumps(trust),
                f"/aws-service-role/{slr.service}/",
                permissions_boundary=None,
                description=slr.description,
                tags=[],
                max_session_duration="3600",
                linked_service=slr.service,
            )

    def _volume_keys(self, principal: Principal, target: Target) -> None:
        """EC2 gives EBS a grant on each volume's customer managed key, as the caller."""
        for name, key_id in target.params.items():
            if not (name.startswith("BlockDeviceMapping.") and name.endswith(".Ebs.KmsKeyId")):
                continue
            backend = kms_backends[target.account][target.region]
            try:
                key = backend.describe_key(str(key_id))
            except Exception:  # noqa: BLE001 - an unknown key is refused by EC2 itself
                continue
            request = Request.of(
                "kms:CreateGrant",
                key.arn,
                {"kms:ViaService": f"ec2.{target.region}.amazonaws.com", "kms:GrantIsForAWSResource": "true"},
            )
            caller = Caller(arn=principal.arn, account=principal.account, role_arn=principal.role_arn)
            decision = evaluate_resource(statements(f"key-policy:{key.id}", key.policy), caller, request)
            if decision.effect == "AllowCaller" or (decision.effect == "AllowAccount" and principal.admin):
                continue
            if decision.effect == "AllowAccount":
                self._allow(principal, self._identity(principal), request, code="UnauthorizedOperation")
                continue
            raise Denied(
                "UnauthorizedOperation",
                f"EBS cannot use KMS key {key.arn} for the volume {name.split('.')[1]}: its key policy neither names "
                f"{principal.arn} nor lets the account's IAM policies grant kms:CreateGrant",
            )

    def _secret_key(self, principal: Principal, identity: list[Statement], target: Target) -> None:
        """Secrets Manager uses the secret's KMS key as the caller (kms:ViaService)."""
        kms_action = {"GetSecretValue": "kms:Decrypt", "PutSecretValue": "kms:GenerateDataKey"}.get(target.call.action)
        if kms_action is None:
            return
        backend = secretsmanager_backends[target.account][target.region]
        secret_id = str(target.params.get("SecretId", ""))
        if secret_id not in backend.secrets:
            return
        secret = backend.secrets[secret_id]
        key_id = getattr(secret, "kms_key_id", None)
        if not key_id or key_id == AWS_MANAGED_SECRETS_KEY:
            return
        context = {
            "kms:ViaService": f"secretsmanager.{target.region}.amazonaws.com",
            "kms:CallerAccount": target.account,
            "kms:EncryptionContext:SecretARN": secret.arn,
            "kms:EncryptionContextKeys": "SecretARN",
        }
        try:
            self._key_policy(principal, target, identity, None, key_id, via=(kms_action, context))
        except Denied as denied:
            raise Denied("AccessDeniedException", f"Access to KMS is not allowed: {denied.message}") from None

    def _key_policy(
        self,
        principal: Principal,
        target: Target,
        identity: list[Statement],
        request: Request | None,
        key_id: str,
        via: tuple[str, dict[str, str]] | None,
    ) -> None:
        """KMS: the key policy must allow the caller, or allow its account and IAM allow it."""
        backend = kms_backends[target.account][target.region]
        try:
            key = backend.describe_key(key_id)
        except Exception:  # noqa: BLE001 - an unknown key is KMS's NotFoundException, answered by moto
            return
        if via is not None:
            action, context = via
            request = Request.of(action, key.arn, context)
        elif request is not None:
            request = Request(request.action, key.arn, request.context)
        assert request is not None
        caller = Caller(arn=principal.arn, account=principal.account, role_arn=principal.role_arn)
        key_decision = evaluate_resource(statements(f"key-policy:{key.id}", key.policy), caller, request)
        if key_decision.effect == "Deny" or key_decision.effect == "ImplicitDeny":
            why = Decision("Deny", key_decision.statement) if key_decision.effect == "Deny" else Decision("ImplicitDeny")
            message = _not_authorized(principal, request, why, "resource-based")
            self.usage.refuse(principal, request.action, request.resource, message)
            raise Denied("AccessDeniedException", message)
        if key_decision.effect == "AllowAccount":
            self._allow(principal, identity, request, code="AccessDeniedException")
        else:
            deny = evaluate_identity(identity, request)
            if deny.effect == "Deny":
                raise Denied("AccessDeniedException", _not_authorized(principal, request, deny))
            assert key_decision.statement is not None
            self.usage.record(principal.role_name, key_decision.statement, request)


AUTHORIZER = Authorizer()


def _error(call: SignedRequest, denied: Denied) -> Response:
    request_id = str(uuid.uuid4())
    if call.protocol == "json":
        code = "AccessDeniedException" if denied.code == "AccessDenied" else denied.code
        body = json.dumps({"__type": code, "Message": denied.message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
        return denied.status, headers, body
    if call.protocol == "rest":
        code = "AccessDeniedException" if denied.code == "AccessDenied" else denied.code
        body = json.dumps({"Type": "User", "Message": denied.message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
        return "403 Forbidden", headers, body
    message = _xml_escape(denied.message)
    if call.service == "ec2":
        code = "UnauthorizedOperation" if denied.code == "AccessDenied" else denied.code
        text = f"You are not authorized to perform this operation. {message}" if code == "UnauthorizedOperation" else message
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{text}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
        return "403 Forbidden", [("Content-Type", "text/xml")], body
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{denied.code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return "403 Forbidden", [("Content-Type", "text/xml")], body


def _invalid_token(call: SignedRequest) -> Response:
    message = "The security token included in the request is invalid."
    if call.protocol in ("json", "rest"):
        return _error(call, Denied("UnrecognizedClientException", message))
    if call.service == "ec2":
        return _error(call, Denied("AuthFailure", "AWS was not able to validate the provided access credentials"))
    return _error(call, Denied("InvalidClientTokenId", message))


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
