"""Time as AWS keeps it: stuck resources and stopped executions in the emulator.

The workflows, the handlers' deadline and CloudFormation's hour run on the emulator's
clock (emulator/core/runtime.py): only waits are compressed, so a stuck resource reaches
the deadline after the polls AWS would make, about 80 waits of 30 s. Each stuck resource ends in exactly one
FAILED answer, within the execution's deadline, whose reason names the resource, its
state and what to do; an execution stopped from outside still gets exactly one FAILED
answer, from the entry function through the EventBridge rule on its status change.
"""

import threading
import time

import pytest

from runner.stack import OperationFailed, Stack

from .conftest import stack_for
from .test_cluster_lifecycle import CLUSTER, HSMS, client, only_cluster, outcome


def answered_once(stack: Stack) -> None:
    """CloudFormation got exactly one response for every request the runner sent."""
    counts = {op.label: stack.driver.responses.count(op.request_id) for op, _ in stack.progress.operations}
    assert counts and all(n == 1 for n in counts.values()), counts


def test_an_hsm_that_never_becomes_active_fails_the_create_at_the_deadline(emulator, app):
    emulator.configure(faults={"hsm_stuck_creating": 1})
    stack, _ = stack_for(app(), emulator)
    with pytest.raises(OperationFailed):
        stack.create()
    failed = outcome(stack, "Create", CLUSTER)
    assert failed.status == "FAILED"
    assert "CREATE_IN_PROGRESS" in failed.reason and "(HSMs: hsm-" in failed.reason, failed.reason
    assert "40 minutes after the operation began" in failed.reason
    assert "Inspect it in the CloudHSM console" in failed.reason
    assert failed.physical_id.startswith("cluster-"), "the rollback gets the cluster to delete"
    answered_once(stack)
    assert emulator.state()["clusters"] == [], "the rollback deleted the stuck HSM and the cluster"


def test_a_cluster_stuck_deleting_fails_the_delete_at_the_deadline(emulator, app):
    stack, _ = stack_for(app(), emulator)
    stack.create()
    cluster_id = only_cluster(emulator)["ClusterId"]
    emulator.configure(faults={"cluster_stuck_deleting": True})
    with pytest.raises(OperationFailed):
        stack.delete()
    failed = outcome(stack, "Delete", CLUSTER)
    assert failed.status == "FAILED"
    assert failed.reason.startswith(f"cluster {cluster_id} is still DELETE_IN_PROGRESS 40 minutes after the deletion began")
    assert "retry the stack's deletion" in failed.reason
    assert outcome(stack, "Delete", HSMS).status == "SUCCESS"
    answered_once(stack)
    [left] = emulator.state()["clusters"]
    assert (left["ClusterId"], left["State"], left["Hsms"]) == (cluster_id, "DELETE_IN_PROGRESS", [])


def test_an_activation_that_never_finishes_fails_the_create_at_the_deadline(emulator, app):
    emulator.configure(faults={"command_hangs": ["cluster activate"]})
    stack, _ = stack_for(app(), emulator)
    with pytest.raises(OperationFailed):
        stack.create()
    failed = outcome(stack, "Create", CLUSTER)
    assert failed.status == "FAILED"
    assert "activating the cluster on the management client i-" in failed.reason
    assert "is still running 40 minutes after the operation began (command " in failed.reason
    assert "cancel it, then retry" in failed.reason
    answered_once(stack)
    assert emulator.state()["clusters"] == []
    assert [c["Status"] for c in emulator.state()["commands"]] == ["InProgress"], "the command is still running"


def test_a_management_client_that_never_registers_fails_the_create_at_the_deadline(emulator, app):
    emulator.configure(faults={"instances_unregistered": True})
    stack, _ = stack_for(app(), emulator)
    with pytest.raises(OperationFailed):
        stack.create()
    failed = outcome(stack, "Create", CLUSTER)
    assert failed.status == "FAILED"
    assert "is still not registered with Systems Manager 40 minutes after the operation began" in failed.reason
    assert "NAT or VPC endpoints for ssm, ssmmessages, ec2messages" in failed.reason
    answered_once(stack)
    assert emulator.state()["clusters"] == []
    assert emulator.state()["commands"] == []


def test_a_stopped_execution_still_gets_exactly_one_failed_answer(emulator, app):
    # The first HSM never comes, so the create is still waiting when it is stopped.
    emulator.configure(faults={"hsm_stuck_creating": 1})
    stack, _ = stack_for(app(), emulator)
    sfn = client(emulator, "stepfunctions")
    stopped: list[str] = []

    def stop_the_create() -> None:
        for _ in range(2000):
            # Once it waits for the first HSM (moto cannot stop an execution still starting).
            if not any(c["Hsms"] for c in emulator.state()["clusters"]):
                time.sleep(0.05)
                continue
            for machine in sfn.list_state_machines()["stateMachines"]:
                if "ClusterWorkflow" not in machine["name"]:
                    continue
                for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
                    if execution["status"] == "RUNNING" and execution["name"].startswith("Create-"):
                        sfn.stop_execution(executionArn=execution["executionArn"], cause="stopped by the test")
                        stopped.append(execution["executionArn"])
                        return
            time.sleep(0.05)

    stopper = threading.Thread(target=stop_the_create)
    stopper.start()
    with pytest.raises(OperationFailed):
        stack.create()
    stopper.join()
    assert stopped, "the create execution was running"
    failed = outcome(stack, "Create", CLUSTER)
    assert failed.status == "FAILED"
    assert failed.reason.startswith(f"the workflow execution {stopped[0]} was stopped before it answered CloudFormation")
    assert failed.physical_id.startswith("cluster-"), "the cluster the execution had recorded, for the rollback"
    answered_once(stack)
    assert emulator.state()["clusters"] == [], "the rollback deleted what the stopped execution made"
