"""KMS key policy evaluation for an AWS service principal (say `logs.us-east-1.amazonaws.com`).

A service principal gets nothing from IAM: only the key policy can grant it a KMS
action, and only through a statement whose Principal names the service (or is `*`).
The account root statement (`"AWS": "arn:aws:iam::<account>:root"`, `kms:*`) lets
IAM policies of the account grant access; it grants a service nothing. The evaluation
itself is IAM's (authz/policy.py); callers that are roles are checked by authz/enforce.py.
"""

from collections.abc import Iterable
from typing import Any

from ..authz.policy import Caller, Request, evaluate_resource, statements


def allows(policy: str | dict[str, Any], principal: str, action: str, key_arn: str, context: dict[str, str]) -> bool:
    """Whether the key policy lets the service `principal` do `action` on the key in this context."""
    decision = evaluate_resource(
        statements("key-policy", policy), Caller(arn=principal, service=principal), Request.of(action, key_arn, context)
    )
    return decision.effect == "AllowCaller"


def denied_actions(
    policy: str | dict[str, Any], principal: str, actions: Iterable[str], key_arn: str, context: dict[str, str]
) -> list[str]:
    """The actions of `actions` the key policy does not allow the service (empty: all allowed)."""
    return [a for a in actions if not allows(policy, principal, a, key_arn, context)]
