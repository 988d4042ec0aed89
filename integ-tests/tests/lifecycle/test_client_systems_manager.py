"""The management client's network as it really is: a client that cannot reach Systems Manager
never registers, and the create fails at the deadline with one answer and nothing left."""

import re
from pathlib import Path

import pytest

from runner.stack import OperationFailed

from .conftest import stack_for
from .test_cluster_lifecycle import CLUSTER, outcome
from .test_deadlines import answered_once
from .test_names_and_keys import VARIANTS, nothing_left, synth


def test_a_client_in_a_subnet_without_a_route_fails_the_create_at_the_deadline(emulator, tmp_path: Path):
    template = synth(tmp_path / "out", "IsolatedClient", app=str(VARIANTS), variant="isolated-client")
    stack, _ = stack_for(template, emulator)
    with pytest.raises(OperationFailed):
        stack.create()
    failed = outcome(stack, "Create", CLUSTER)
    assert failed.status == "FAILED"
    assert "is still not registered with Systems Manager 40 minutes after the operation began" in failed.reason
    assert "the management client i-" in failed.reason, failed.reason
    [instance_id] = re.findall(r"the management client (i-[0-9a-f]+)", failed.reason)
    [client] = [i for i in emulator.state()["instances"] if i["InstanceId"] == instance_id]
    assert (
        f"Missing in the template: a route 0.0.0.0/0 to a NAT gateway from the client's subnet {client['SubnetId']}"
        in failed.reason
    ), failed.reason
    assert "or interface endpoints for ssm, ssmmessages, ec2messages in its VPC" in failed.reason, failed.reason
    answered_once(stack)
    state = emulator.state()
    assert state["commands"] == [], "no command ever reached the client"
    nothing_left(emulator)


def _client(emulator) -> dict:
    [client] = [i for i in emulator.state()["instances"] if i["UserData"] is not None]
    return dict(client)


def test_a_first_boot_install_that_failed_is_done_by_the_command_script(emulator, app):
    emulator.configure(faults={"package_source_down": 1})
    stack, _ = stack_for(app(), emulator)
    stack.create()
    client = _client(emulator)
    assert client["UserData"]["Status"] == "Failed", client["UserData"]
    assert "Status code: 503" in client["UserData"]["Output"]
    results = [d["Result"] for d in client["Downloads"]]
    assert results[-1] == "installed" and "Status code: 503" in results[0], results
    [cluster] = emulator.state()["clusters"]
    assert cluster["State"] == "ACTIVE", "activated through the CLI the command script installed"
    answered_once(stack)


def test_a_package_source_that_stays_down_fails_the_create_saying_why(emulator, app):
    emulator.configure(faults={"package_source_down": True})
    stack, _ = stack_for(app(), emulator)
    with pytest.raises(OperationFailed):
        stack.create()
    failed = outcome(stack, "Create", CLUSTER)
    assert failed.status == "FAILED"
    assert "activating the cluster on the management client i-" in failed.reason, failed.reason
    assert "cloudhsm-cli could not be installed from https://s3.amazonaws.com/cloudhsmv2-software/" in failed.reason
    assert "after 5 attempts: [MIRROR]" in failed.reason and "Status code: 503" in failed.reason, failed.reason
    assert "routes 0.0.0.0/0 to a NAT gateway" in failed.reason
    answered_once(stack)
    client = _client(emulator)
    assert len(client["Downloads"]) == 6, "the first boot's attempt and the command script's five"
    nothing_left(emulator)
