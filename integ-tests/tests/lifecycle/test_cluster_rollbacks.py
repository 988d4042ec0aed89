"""The example app's cluster under CloudFormation's rollbacks, cancelled creates and failed creates.

Each test drives the synthesized app with the lifecycle runner, which plays
CloudFormation's rollback Update (old and new properties swapped), its Delete with a
made-up physical id for a create it cancelled, and its create rollback. After each,
the emulator's inventory shows what is left: clusters, HSMs.
"""

import json
import time
from pathlib import Path
from typing import Any

import pytest

from runner import provision
from runner.custom import CANCELLED
from runner.stack import OperationFailed, Stack, with_property
from runner.template import Template

from .conftest import stack_for
from .test_cloudformation_semantics import answered_once
from .test_cluster_lifecycle import CLUSTER, HSMS, outcome, secrets


def inventory(emulator) -> dict[str, Any]:
    """Every cluster left, with its state and its HSMs' ids and states."""
    return {
        c["ClusterId"]: {"State": c["State"], "Hsms": sorted((h["HsmId"], h["State"]) for h in c["Hsms"])}
        for c in emulator.state()["clusters"]
    }


def operations_since(stack: Stack, start: int) -> list[tuple[str, str, str]]:
    """(request type, logical id, status) of the operations after the first `start`."""
    return [(op.request_type, op.logical_id, op.outcome.status) for op, _ in stack.progress.operations[start:]]


def test_forbidden_changes_are_refused_nothing_is_touched_and_the_rollback_succeeds(emulator, app):
    template = app()
    stack, _ = stack_for(template, emulator, timeout=120)
    stack.create()
    before = inventory(emulator)
    [cluster_id] = before
    first_subnet = json.dumps(template.resources[CLUSTER]["Properties"]["SubnetIds"][:1])
    changes = {
        "Mode=NON_FIPS": "mode (the cluster has FIPS, the update asks for NON_FIPS)",
        "NetworkType=DUALSTACK": "networkType (the cluster has IPV4, the update asks for DUALSTACK)",
        f"SubnetIds={first_subnet}": "vpcSubnets (the cluster has subnet-",
        "SourceBackupId=backup-abcdefghijk": "the source backup (the cluster has none, the update asks for backup-abcdefghijk)",
    }
    for change, refusal in changes.items():
        start = len(stack.progress.operations)
        with pytest.raises(OperationFailed):
            stack.update(with_property(template, f"{CLUSTER}.{change}"))
        assert stack.status == "UPDATE_ROLLBACK_COMPLETE", change
        # The refused Update, then CloudFormation's rollback Update of the same resource, which succeeds.
        assert operations_since(stack, start) == [("Update", CLUSTER, "FAILED"), ("Update", CLUSTER, "SUCCESS")], change
        refused = stack.progress.operations[start][0].outcome.reason
        assert refusal in refused, refused
        assert "cannot change on an existing cluster. Nothing was changed" in refused
        assert f"restore a new cluster from a backup of {cluster_id}" in refused
        assert inventory(emulator) == before, f"{change}: nothing touched"
        assert stack.resources[CLUSTER].physical_id == cluster_id
    answered_once(stack)
    stack.delete()
    assert inventory(emulator) == {}


def test_destroy_removes_cluster_hsms_and_secrets_but_the_ca_certificate(emulator, app):
    stack, _ = stack_for(app(), emulator, timeout=120)
    stack.create()
    assert len(secrets(emulator)) == 4
    stack.delete()
    assert stack.status == "DELETE_COMPLETE"
    assert inventory(emulator) == {}
    [(kept, value)] = secrets(emulator)
    assert "trust anchor" in kept and value.startswith("-----BEGIN CERTIFICATE-----"), "only the CA certificate is kept"


def test_retain_keeps_cluster_hsms_and_secrets_and_says_so(emulator, app):
    stack, out = stack_for(app(removalPolicy="retain"), emulator, timeout=120)
    stack.create()
    before, kept_secrets = inventory(emulator), secrets(emulator)
    try:
        stack.delete()
    except OperationFailed as failed:
        # The retained cluster's network interfaces are in the stack's subnets, as in AWS; the
        # client's security group, which the kept cluster's group names, is kept rather than refused.
        assert "Subnet" in str(failed) or "Vpc" in str(failed), failed
        assert "SecurityGroup" not in str(failed), failed
    for logical_id in (CLUSTER, HSMS):
        assert f"DELETE_SKIPPED {logical_id}: DeletionPolicy Retain" in out.getvalue()
    assert not [op for op, _ in stack.progress.operations if op.request_type == "Delete"], "no Delete was sent"
    assert inventory(emulator) == before, "the cluster and its HSMs are kept"
    assert secrets(emulator) == kept_secrets, "the password, CSR, certificate and CA certificate are kept"


def test_a_failed_resize_rolls_back_to_the_old_hsm_count(emulator, app):
    stack, _ = stack_for(app(), emulator, timeout=120)
    stack.create()
    before = inventory(emulator)
    emulator.configure(faults={"hsm_quota": 3})
    start = len(stack.progress.operations)
    with pytest.raises(OperationFailed) as failed:
        stack.update(app(hsmsPerSubnet="2"))
    assert "CloudHsmResourceLimitExceededException" in str(failed.value)
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert operations_since(stack, start) == [
        ("Update", CLUSTER, "SUCCESS"),
        ("Update", HSMS, "FAILED"),
        ("Update", HSMS, "SUCCESS"),  # the rollback: back to one HSM per subnet
        ("Update", CLUSTER, "SUCCESS"),
    ]
    [(cluster_id, after)] = inventory(emulator).items()
    active = [hsm for hsm, state in after["Hsms"] if state == "ACTIVE"]
    assert len(after["Hsms"]) == len(active) == 2, after
    assert [h for h, _ in before[cluster_id]["Hsms"]] == active, "the HSMs that were there stay; the new one went"
    assert outcome(stack, "Update", HSMS).data["HsmIpAddresses"].count(",") == 1
    answered_once(stack)
    emulator.configure(faults={})
    stack.delete()
    assert inventory(emulator) == {}


@pytest.mark.parametrize(
    "step",
    ["CreateFirstHsm", "IssueCertificate", "ActivateCluster", "ResizeHsms"],
    ids=["after CreateCluster", "after the first HSM", "during activation (initialized)", "during the HSMs resource"],
)
def test_a_create_that_fails_at_any_stage_leaves_no_cluster_and_no_hsm(emulator, app, step):
    # Every attempt of the step crashes (the first and the workflow's two retries).
    emulator.configure(faults={"lambda_fails": [{"function": "TasksFunction", "step": step, "times": 3, "mode": "crash"}]})
    stack, _ = stack_for(app(), emulator, timeout=120)
    with pytest.raises(OperationFailed) as failed:
        stack.create()
    assert "Runtime exited with error" in str(failed.value)
    assert stack.status == "ROLLBACK_COMPLETE"
    failing = HSMS if step == "ResizeHsms" else CLUSTER
    assert outcome(stack, "Create", failing).status == "FAILED"
    assert outcome(stack, "Delete", CLUSTER).status == "SUCCESS"
    assert inventory(emulator) == {}, "every HSM and the cluster were deleted"
    answered_once(stack)


def test_a_create_cancelled_while_the_cluster_is_being_made_is_stopped_and_leaves_nothing(emulator, app, monkeypatch):
    """Another resource fails once the cluster's first HSM exists: CloudFormation cancels the
    cluster's create and sends a Delete with a physical id it made up."""
    template = app()
    body = json.loads(json.dumps(template.body))
    cluster = body["Resources"][CLUSTER]
    # After the cluster in the template and on the same dependencies: created while it creates.
    body["Resources"]["Broken"] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Type": "String", "Value": "never"},
        "DependsOn": sorted(Template(template.path, body).dependencies(CLUSTER) | set(cluster.get("DependsOn", []))),
    }
    template.path.write_text(json.dumps(body))
    broken_template = Template.load(template.path)

    create = provision.create
    function_logs: list[Path] = []

    def fails_once_the_first_hsm_exists(request: provision.Request) -> provision.Provisioned:
        if request.logical_id != "Broken":
            created = create(request)
            if request.resource["Type"] == "AWS::Lambda::Function":
                function_logs.append(Path(created.attributes["LogFile"]))
            return created
        for _ in range(1200):
            if any(c["Hsms"] for c in emulator.state()["clusters"]):
                break
            time.sleep(0.05)
        raise provision.ProvisionError("Broken (AWS::SSM::Parameter): create failed: emulated failure")

    monkeypatch.setattr(provision, "create", fails_once_the_first_hsm_exists)
    stack, out = stack_for(broken_template, emulator, timeout=120)
    with pytest.raises(OperationFailed):
        stack.create()
    assert stack.status == "ROLLBACK_COMPLETE"
    [cancelled] = [op for op, _ in stack.progress.operations if (op.request_type, op.logical_id) == ("Create", CLUSTER)]
    assert cancelled.outcome.reason == CANCELLED
    delete = outcome(stack, "Delete", CLUSTER)
    assert delete.status == "SUCCESS"
    assert delete.physical_id.startswith(f"{broken_template.stack_name}-{CLUSTER}-"), delete.physical_id
    # The entry function stopped the create's execution before the delete looked for what it made.
    logs = "".join(log.read_text() for log in function_logs if log.is_file())
    assert "stopped the create of the resource being deleted" in logs
    assert f"Create-{cancelled.request_id}" in logs
    assert inventory(emulator) == {}, "the cluster and its HSM, found by their tags, were deleted"
    answered_once(stack)
    assert f"CREATE_FAILED {CLUSTER}: {CANCELLED}" in out.getvalue()
