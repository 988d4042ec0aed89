"""The runner's progress reads a history a page at a time, and only what it has not read."""

import json
import time
import urllib.request

from runner.aws import Aws
from runner.progress import HISTORY_PAGE, HistoryRead, events_after

PASSES = 70  # 2 events each, with the execution's start and end: 142 events, more than a page


def long_execution(aws: Aws, endpoint: str) -> str:
    """A finished execution of PASSES chained Pass states."""
    executing = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/config", data=executing, method="POST")).close()
    states = {f"P{i}": {"Type": "Pass", **({"Next": f"P{i + 1}"} if i + 1 < PASSES else {"End": True})} for i in range(PASSES)}
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="passes", definition=json.dumps({"StartAt": "P0", "States": states}), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="passes-1")["executionArn"]
    for _ in range(200):
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            return execution
        time.sleep(0.02)
    raise AssertionError(f"{execution} still runs")


def test_events_after_a_point_come_oldest_first_across_pages(emulator):
    aws = Aws(emulator.endpoint, "Progress")
    execution = long_execution(aws, emulator.endpoint)
    total = 2 * PASSES + 2
    assert total > HISTORY_PAGE
    assert [e["id"] for e in events_after(aws, execution, 0)] == list(range(1, total + 1))
    assert [e["id"] for e in events_after(aws, execution, 130)] == list(range(131, total + 1))
    assert events_after(aws, execution, total) == []


def test_a_history_read_in_parts_counts_as_one_read_at_once(emulator):
    aws = Aws(emulator.endpoint, "Progress")
    execution = long_execution(aws, emulator.endpoint)
    whole, parts = HistoryRead(), HistoryRead()
    for event in events_after(aws, execution, 0):
        whole.add(event)
    for event in events_after(aws, execution, 0)[:57]:
        parts.add(event)
    for event in events_after(aws, execution, parts.last_event):
        parts.add(event)
    assert parts == whole
    assert (whole.states_entered, whole.current_state, whole.lambda_invocations) == (PASSES, f"P{PASSES - 1}", 0)
