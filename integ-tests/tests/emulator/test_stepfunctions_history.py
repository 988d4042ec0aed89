"""GetExecutionHistory answers a page, as AWS does: a caller that does not follow
`nextToken` sees only the first `maxResults` events (100 by default)."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import wait_for

pytestmark = pytest.mark.usefixtures("executing")
PASSES = 70  # each Pass state adds an entered and an exited event: 142 events in all


@pytest.fixture
def long_history(client, states_role) -> str:
    """The ARN of a finished execution of PASSES chained Pass states."""
    sfn = client("stepfunctions")
    states = {f"P{i}": {"Type": "Pass", **({"Next": f"P{i + 1}"} if i + 1 < PASSES else {"End": True})} for i in range(PASSES)}
    definition = json.dumps({"StartAt": "P0", "States": states})
    machine = sfn.create_state_machine(name="passes", definition=definition, roleArn=states_role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    wait_for(lambda: sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED", what="the execution")
    return execution


def test_one_call_answers_the_first_hundred_events_and_a_token_for_the_rest(client, long_history):
    sfn = client("stepfunctions")
    first = sfn.get_execution_history(executionArn=long_history)
    assert [e["id"] for e in first["events"]] == list(range(1, 101))
    rest = sfn.get_execution_history(executionArn=long_history, nextToken=first["nextToken"])
    assert [e["id"] for e in rest["events"]] == list(range(101, 2 * PASSES + 3))
    assert rest["events"][-1]["type"] == "ExecutionSucceeded"
    assert "nextToken" not in rest


def test_reverse_order_pages_from_the_newest_event(client, long_history):
    sfn = client("stepfunctions")
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=long_history, reverseOrder=True, PaginationConfig={"PageSize": 50}
    )
    sizes, ids = [], []
    for page in pages:
        sizes.append(len(page["events"]))
        ids += [e["id"] for e in page["events"]]
    assert sizes == [50, 50, 42]
    assert ids == list(range(2 * PASSES + 2, 0, -1))


def test_max_results_above_a_thousand_and_foreign_tokens_are_refused(client, long_history):
    sfn = client("stepfunctions")
    with pytest.raises(ClientError) as too_many:
        sfn.get_execution_history(executionArn=long_history, maxResults=1001)
    assert too_many.value.response["Error"]["Code"] == "ValidationException"
    forward = sfn.get_execution_history(executionArn=long_history, maxResults=10)["nextToken"]
    with pytest.raises(ClientError) as reused:
        sfn.get_execution_history(executionArn=long_history, reverseOrder=True, nextToken=forward)
    assert reused.value.response["Error"]["Code"] == "InvalidToken"
    with pytest.raises(ClientError) as garbage:
        sfn.get_execution_history(executionArn=long_history, nextToken="not a token")
    assert garbage.value.response["Error"]["Code"] == "InvalidToken"
