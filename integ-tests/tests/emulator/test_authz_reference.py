"""The emulator's resource mappings agree with AWS's service reference."""

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
