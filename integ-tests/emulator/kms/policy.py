"""KMS key policy evaluation for an AWS service principal (say `logs.us-east-1.amazonaws.com`).

A service principal gets nothing from IAM: only the key policy can grant it a KMS
action, and only through a statement whose Principal names the service (or is `*`).
The account root statement (`"AWS": "arn:aws:iam::<account>:root"`, `kms:*`) lets
IAM policies of the account grant access; it grants a service nothing.

`allows(policy, principal, action, key_arn, context)`: an explicit Deny wins, then an
Allow is needed. Action, Resource and condition values match with `*` and `?`.
Condition operators: String*, Arn*, Bool, Null, each with `IfExists`, and the
`ForAnyValue:`/`ForAllValues:` set prefixes. An operator not listed here fails the
condition (the emulator refuses rather than grants when it does not understand).
"""

import json
import re
from collections.abc import Callable, Iterable
from typing import Any


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: the six colon-separated parts match one by one (the resource part may hold colons)."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(_like(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p != v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringNotEqualsIgnoreCase": lambda p, v: p.lower() != v.lower(),
    "StringLike": _like,
    "StringNotLike": lambda p, v: not _like(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnNotEquals": lambda p, v: p != v,
    "ArnLike": _arn_like,
    "ArnNotLike": lambda p, v: not _arn_like(p, v),
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    """One operator and key of a Condition block against the request context."""
    values = {k.lower(): v for k, v in context.items()}
    actual = values.get(key.lower())
    set_prefix, _, operator = operator.rpartition(":")
    if operator == "Null":
        want_null = str(_as_list(expected)[0]).lower() == "true"
        return (actual is None) == want_null
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    matcher = _MATCHERS.get(base)
    if matcher is None:
        return False
    if actual is None:
        return if_exists
    patterns = [str(p) for p in _as_list(expected)]
    if base in _NEGATED:
        # Negated operators hold when the value matches none of the patterns.
        return all(matcher(p, actual) for p in patterns)
    if set_prefix in ("", "ForAnyValue", "ForAllValues"):
        return any(matcher(p, actual) for p in patterns)
    return False


def _conditions_hold(block: dict[str, Any], context: dict[str, str]) -> bool:
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, keys in block.items()
        for key, expected in keys.items()
    )


def _principal_matches(principal_block: Any, principal: str) -> bool:
    """Does a Principal element name this service principal (`*` names everyone)?"""
    if principal_block == "*":
        return True
    if not isinstance(principal_block, dict):
        return False
    if "*" in _as_list(principal_block.get("AWS", [])):
        return True
    return principal in [str(s) for s in _as_list(principal_block.get("Service", []))]


def _statement_applies(statement: dict[str, Any], principal: str, action: str, resource: str, context: dict[str, str]) -> bool:
    if "Principal" in statement and not _principal_matches(statement["Principal"], principal):
        return False
    if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], principal):
        return False
    if "Principal" not in statement and "NotPrincipal" not in statement:
        return False  # a key policy statement without a principal grants nobody
    if "Action" in statement and not any(_like(a, action, ignore_case=True) for a in _as_list(statement["Action"])):
        return False
    if "NotAction" in statement and any(_like(a, action, ignore_case=True) for a in _as_list(statement["NotAction"])):
        return False
    if "Resource" in statement and not any(_like(r, resource) for r in _as_list(statement["Resource"])):
        return False
    if "NotResource" in statement and any(_like(r, resource) for r in _as_list(statement["NotResource"])):
        return False
    return _conditions_hold(statement.get("Condition", {}), context)


def statements(policy: str | dict[str, Any]) -> list[dict[str, Any]]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    return [s for s in _as_list(document.get("Statement", [])) if isinstance(s, dict)]


def allows(policy: str | dict[str, Any], principal: str, action: str, resource: str, context: dict[str, str]) -> bool:
    """Whether the key policy lets `principal` do `action` on the key `resource` in this context."""
    applicable = [s for s in statements(policy) if _statement_applies(s, principal, action, resource, context)]
    if any(s.get("Effect") == "Deny" for s in applicable):
        return False
    return any(s.get("Effect") == "Allow" for s in applicable)


def denied_actions(
    policy: str | dict[str, Any], principal: str, actions: Iterable[str], resource: str, context: dict[str, str]
) -> list[str]:
    """The actions of `actions` the key policy does not allow (empty: all allowed)."""
    return [a for a in actions if not allows(policy, principal, a, resource, context)]

