"""IAM policy evaluation: statements against one request (action, resource, context).

A request is an action (`service:Action`), one resource ARN (or `*` for an action
without resource-level permissions) and a context of condition keys, each with one or
more values (`aws:TagKeys` has several). `evaluate` looks at every statement of every
policy given and answers with AWS's rule: an explicit Deny wins, otherwise an Allow is
needed, otherwise the request is implicitly denied. It says which statement decided,
so the emulator can record what allowed each request.

Identity policies have no Principal; resource policies (a KMS key policy) do, and
`evaluate` matches it against the caller's `Caller` (its session ARN, role ARN,
account, or the service it is). Action and Resource match with IAM's wildcards (`*`
any run, `?` one character); actions and condition keys ignore case, resources do
not. Condition operators: String*, Arn*, Bool, Null, each with `IfExists`, and the
`ForAnyValue:`/`ForAllValues:` set prefixes. Any other operator, or a policy variable,
raises `UnsupportedPolicy`: the emulator refuses to guess.
"""

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal


class UnsupportedPolicy(ValueError):
    """A policy uses something this evaluator does not implement."""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


def arn_like(pattern: str, value: str) -> bool:
    """ArnLike: the six colon-separated parts match one by one (the resource part may hold colons)."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(like(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringNotEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": like,
    "StringNotLike": like,
    "ArnEquals": lambda p, v: p == v,
    "ArnNotEquals": lambda p, v: p == v,
    "ArnLike": arn_like,
    "ArnNotLike": arn_like,
    "Bool": lambda p, v: p.lower() == v.lower(),
}
# These hold when no value matches any of the patterns (the matcher above is the positive form).
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _check_variables(pattern: str) -> str:
    if "${" in pattern:
        raise UnsupportedPolicy(f"policy variable in {pattern!r}")
    return pattern


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, list[str]]) -> bool:
    """One operator and key of a Condition block against the request context."""
    actual = context.get(key.lower())
    set_prefix, _, base = operator.rpartition(":")
    if set_prefix not in ("", "ForAnyValue", "ForAllValues"):
        raise UnsupportedPolicy(f"condition set operator {set_prefix!r}")
    if base == "Null":
        want_null = str(as_list(expected)[0]).lower() == "true"
        return (actual is None) == want_null
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    matcher = _MATCHERS.get(base)
    if matcher is None:
        raise UnsupportedPolicy(f"condition operator {operator!r}")
    patterns = [_check_variables(str(p)) for p in as_list(expected)]
    if actual is None:
        # A missing key: IfExists holds; ForAllValues holds over the empty set; else no match.
        return if_exists or set_prefix == "ForAllValues" or base in _NEGATED

    def matches(value: str) -> bool:
        return any(matcher(p, value) for p in patterns)

    if set_prefix == "ForAllValues":
        hits = [matches(v) for v in actual]
        return all(not h for h in hits) if base in _NEGATED else all(hits)
    hit = any(matches(v) for v in actual)
    return not hit if base in _NEGATED else hit


def conditions_hold(block: dict[str, Any], context: dict[str, list[str]]) -> bool:
    return all(
        _condition_holds(operator, key, expected, context) for operator, keys in block.items() for key, expected in keys.items()
    )


@dataclass(frozen=True)
class Caller:
    """Who makes a request, as a resource policy's Principal element can name it."""

    arn: str  # the session ARN (arn:aws:sts::<account>:assumed-role/<role>/<session>) or a service name
    account: str = ""
    role_arn: str = ""
    service: str = ""  # set for an AWS service principal such as logs.us-east-1.amazonaws.com

    def named_by(self, block: Any) -> Literal["caller", "account", "none"]:
        """Does a Principal element name this caller itself, only its account (root), or neither?"""
        if block == "*":
            return "caller"
        if not isinstance(block, dict):
            return "none"
        named = [str(p) for p in as_list(block.get("AWS", []))]
        if "*" in named:
            return "caller"
        if self.service:
            return "caller" if self.service in [str(s) for s in as_list(block.get("Service", []))] else "none"
        if self.arn in named or (self.role_arn and self.role_arn in named):
            return "caller"
        if self.account and (self.account in named or f"arn:aws:iam::{self.account}:root" in named):
            return "account"
        return "none"


@dataclass(frozen=True)
class Request:
    action: str  # service:Action
    resource: str  # an ARN, or * for an action without resource-level permissions
    context: dict[str, list[str]] = field(default_factory=dict)  # condition keys, lower case

    @staticmethod
    def of(action: str, resource: str, context: dict[str, Any] | None = None) -> "Request":
        normalized = {k.lower(): [str(v) for v in as_list(value)] for k, value in (context or {}).items()}
        return Request(action, resource, normalized)


@dataclass(frozen=True)
class Statement:
    """One statement and where it comes from: a policy's name and its position there."""

    policy: str
    index: int
    body: dict[str, Any]

    @property
    def sid(self) -> str | None:
        sid = self.body.get("Sid")
        return str(sid) if sid else None

    @property
    def effect(self) -> str:
        return str(self.body.get("Effect", ""))

    def label(self) -> str:
        return f"{self.policy}#{self.sid or self.index}"

    def covers(self, request: Request) -> bool:
        """Action, resource and conditions (not the principal) apply to the request."""
        body = self.body
        if "Action" in body and not any(like(a, request.action, True) for a in as_list(body["Action"])):
            return False
        if "NotAction" in body and any(like(a, request.action, True) for a in as_list(body["NotAction"])):
            return False
        if "Resource" in body and not any(like(_check_variables(r), request.resource) for r in as_list(body["Resource"])):
            return False
        if "NotResource" in body and any(like(r, request.resource) for r in as_list(body["NotResource"])):
            return False
        return conditions_hold(body.get("Condition", {}), request.context)


def statements(name: str, policy: str | dict[str, Any]) -> list[Statement]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    return [Statement(name, i, s) for i, s in enumerate(as_list(document.get("Statement", []))) if isinstance(s, dict)]


@dataclass(frozen=True)
class Decision:
    effect: Literal["Allow", "Deny", "ImplicitDeny"]
    statement: Statement | None = None

    @property
    def allowed(self) -> bool:
        return self.effect == "Allow"


def evaluate_identity(policies: Iterable[Statement], request: Request) -> Decision:
    """Identity policies (no Principal element) for one request."""
    allow: Statement | None = None
    for statement in policies:
        if not statement.covers(request):
            continue
        if statement.effect == "Deny":
            return Decision("Deny", statement)
        if statement.effect == "Allow" and allow is None:
            allow = statement
    return Decision("Allow", allow) if allow else Decision("ImplicitDeny")


@dataclass(frozen=True)
class ResourceDecision:
    """A resource policy's answer: Deny, Allow of the caller itself, Allow of its account only, or nothing."""

    effect: Literal["Deny", "AllowCaller", "AllowAccount", "ImplicitDeny"]
    statement: Statement | None = None


def evaluate_resource(policy: Iterable[Statement], caller: Caller, request: Request) -> ResourceDecision:
    """A resource policy (its statements name principals) for one request by `caller`."""
    caller_allow: Statement | None = None
    account_allow: Statement | None = None
    for statement in policy:
        body = statement.body
        if "Principal" in body:
            named = caller.named_by(body["Principal"])
        elif "NotPrincipal" in body:
            named = "none" if caller.named_by(body["NotPrincipal"]) != "none" else "caller"
        else:
            continue  # a resource policy statement without a principal grants nobody
        if named == "none" or not statement.covers(request):
            continue
        if statement.effect == "Deny":
            return ResourceDecision("Deny", statement)
        if statement.effect == "Allow":
            if named == "caller" and caller_allow is None:
                caller_allow = statement
            elif named == "account" and account_allow is None:
                account_allow = statement
    if caller_allow:
        return ResourceDecision("AllowCaller", caller_allow)
    if account_allow:
        return ResourceDecision("AllowAccount", account_allow)
    return ResourceDecision("ImplicitDeny")
