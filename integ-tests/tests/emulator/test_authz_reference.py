"""The emulator's resource mappings agree with AWS's service reference."""

import re
from pathlib import Path

import pytest

from emulator.authz import reference
from emulator.authz.resources import MAPPINGS, _anything


@pytest.mark.parametrize("action", sorted(MAPPINGS))
def test_every_mapped_action_exists_and_is_evaluated_at_its_resource_level(action):
    types = reference.resource_types(action)  # KeyError: AWS has no such action
    required = [t for t in types if t.required]
    if not reference.has_resource_level_permissions(action):
        assert MAPPINGS[action] is _anything, f"{action} has no resource-level permissions: map it to *"
    if required:
        assert MAPPINGS[action] is not _anything, f"{action} needs its {required[0].name} resource named"


def test_cloudhsm_lists_the_dependent_actions_the_emulator_checks():
    assert "ec2:CreateNetworkInterface" in reference.dependent_actions("cloudhsm:CreateHsm")
    assert "ec2:DeleteSecurityGroup" in reference.dependent_actions("cloudhsm:DeleteCluster")
    assert "iam:CreateServiceLinkedRole" in reference.dependent_actions("cloudhsm:CreateCluster")


def test_the_construct_s_wildcard_allowlist_holds_only_actions_without_resource_level_permissions():
    """construct/test/iam.test.ts lets `Resource: *` without a condition only for these actions."""
    source = (Path(__file__).resolve().parents[3] / "construct" / "test" / "iam.test.ts").read_text()
    block = re.search(r"NO_RESOURCE_LEVEL = new Set\(\[(.*?)\]\)", source, re.DOTALL)
    assert block is not None
    actions = re.findall(r"'([a-z0-9-]+:[A-Za-z]+)'", block.group(1))
    assert len(actions) > 10
    for action in actions:
        assert not reference.has_resource_level_permissions(action), f"{action} has resource-level permissions"
