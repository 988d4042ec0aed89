"""Partial failures as AWS has them: calls throttled all through a deployment.

The runner's own calls (CloudFormation's) are not throttled; the handlers' calls and
the workflows' EC2 calls through Step Functions are.
"""

import pytest

from runner.stack import Stack

from .conftest import stack_for
from .test_cluster_lifecycle import CLUSTER, HSMS, client, only_cluster

# EC2 at half: the workflows make three EC2 calls (two rules added, one revoked) through
# Step Functions, which the emulator's even spread of 30% would never reach.
THROTTLED = {"cloudhsmv2": 0.3, "secretsmanager": 0.3, "ssm": 0.3, "ec2": 0.5}


def answers(stack: Stack) -> dict[tuple[str, str], list[str]]:
    """Each request's responses, by request type and resource: CloudFormation takes exactly one."""
    found: dict[tuple[str, str], list[str]] = {}
    for op, _ in stack.progress.operations:
        if op.logical_id in (CLUSTER, HSMS):
            count = stack.driver.responses.count(op.request_id)
            found.setdefault((op.request_type, op.logical_id), []).append(f"{op.outcome.status}x{count}")
    return found


def test_a_create_and_delete_with_thirty_percent_of_calls_throttled_succeed(emulator, app):
    emulator.configure(faults={"throttle": THROTTLED})
    stack, _ = stack_for(app(), emulator)
    stack.create()
    cluster = only_cluster(emulator)
    assert cluster["State"] == "ACTIVE"
    assert [h["State"] for h in cluster["Hsms"]] == ["ACTIVE", "ACTIVE"]
    assert [c["Status"] for c in emulator.state()["commands"]] == ["Success", "Success"], "one activation, one configuration"
    throttled = emulator.state()["throttled"]
    signing_names = {"cloudhsm", "secretsmanager", "ssm", "ec2"}
    assert set(throttled) == signing_names and min(throttled.values()) >= 1, f"every service was throttled: {throttled}"
    # Step Functions' own EC2 calls were throttled too, and their Retry took them again.
    assert failed_attempts(emulator, "Ec2.Ec2Exception"), "an EC2 call of a workflow was throttled and retried"
    stack.delete()
    assert emulator.state()["clusters"] == []
    assert answers(stack) == {
        ("Create", CLUSTER): ["SUCCESSx1"], ("Create", HSMS): ["SUCCESSx1"],
        ("Delete", HSMS): ["SUCCESSx1"], ("Delete", CLUSTER): ["SUCCESSx1"],
    }


def failed_attempts(emulator, error: str) -> list[str]:
    """The state names of the Lambda tasks that failed with `error`, in every execution."""
    sfn = client(emulator, "stepfunctions")
    found = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
            pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution["executionArn"])
            events = [event for page in pages for event in page["events"]]
            entered = {}
            for event in events:
                if "stateEnteredEventDetails" in event:
                    entered[event["id"]] = event["stateEnteredEventDetails"]["name"]
                details = event.get("lambdaFunctionFailedEventDetails") or event.get("taskFailedEventDetails") or {}
                if details.get("error") == error:
                    state = next((name for i, name in sorted(entered.items(), reverse=True) if i < event["id"]), "?")
                    found.append(state)
    return found


@pytest.mark.parametrize(
    "step",
    ["CreateCluster", "CreateFirstHsm", "IssueCertificate", "InitializeCluster", "ActivateCluster", "ResizeHsms"],
)
def test_a_step_that_dies_after_its_calls_went_out_runs_again_and_converges(emulator, app, step):
    # The step's calls reach AWS; its answer is lost (the process died): Step Functions runs it again.
    emulator.configure(faults={"lambda_fails": [{"function": "TasksFunction", "step": step, "mode": "crash_after"}]})
    stack, _ = stack_for(app(), emulator)
    stack.create()
    failed = failed_attempts(emulator, "Runtime.ExitError")
    assert len(failed) == 1, f"exactly the one lost answer: {failed}"
    [cluster] = emulator.state()["clusters"]
    assert cluster["State"] == "ACTIVE"
    assert [h["State"] for h in cluster["Hsms"]] == ["ACTIVE", "ACTIVE"], "the right HSMs, none twice"
    admins = [u for u in cluster["Users"] if u["username"] == "admin"]
    assert [u["role"] for u in admins] == ["admin"], "activated"
    assert all(c["Status"] == "Success" for c in emulator.state()["commands"])
    stack.delete()
    assert emulator.state()["clusters"] == []
    assert answers(stack) == {
        ("Create", CLUSTER): ["SUCCESSx1"], ("Create", HSMS): ["SUCCESSx1"],
        ("Delete", HSMS): ["SUCCESSx1"], ("Delete", CLUSTER): ["SUCCESSx1"],
    }


@pytest.mark.parametrize("nth", [1, 2], ids=["the first HSM", "an HSM of the HSMs resource"])
def test_a_create_hsm_whose_answer_is_lost_makes_one_hsm(emulator, app, nth):
    # CreateHsm has no idempotency token: sent again blindly, it would make a second, billed HSM
    # (or, for the first HSM, be refused: a cluster takes a second HSM only once activated).
    emulator.configure(faults={"lost_responses": [{"action": "CreateHsm", "nth": nth}]})
    stack, _ = stack_for(app(), emulator)
    stack.create()
    [cluster] = emulator.state()["clusters"]
    assert cluster["State"] == "ACTIVE"
    assert sorted(h["SubnetId"] for h in cluster["Hsms"]) == sorted(set(h["SubnetId"] for h in cluster["Hsms"]))
    assert [h["State"] for h in cluster["Hsms"]] == ["ACTIVE", "ACTIVE"], "one HSM per subnet, none twice"
    stack.delete()
    assert emulator.state()["clusters"] == []
