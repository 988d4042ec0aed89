"""Live progress of custom resource operations and the closing summary table.

While a request is pending, the workflow it started is found among the executions of
the stack's state machines (the entry function names each execution after the request:
`<RequestType>-<RequestId>`); its history gives the current state, the states entered
so far and the Lambda invocations. On a TTY the progress line is rewritten in place;
otherwise a line is printed whenever the state changes.
"""

import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from .aws import Aws
from .custom import Operation

BAR_WIDTH = 20


def count_states(definition: dict[str, Any]) -> int:
    """States in an ASL definition, nested Parallel branches and Map processors included."""
    total = 0
    for state in definition.get("States", {}).values():
        total += 1
        for branch in state.get("Branches", []):
            total += count_states(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                total += count_states(state[key])
    return total


@dataclass
class WorkflowStatus:
    """Where an execution stands, read from its history."""

    execution_arn: str
    status: str
    current_state: str
    states_entered: int
    lambda_invocations: int
    total_states: int


@dataclass
class HistoryRead:
    """What the events of an execution read so far say."""

    last_event: int = 0
    current_state: str = "-"
    states_entered: int = 0
    lambda_invocations: int = 0

    def add(self, event: dict[str, Any]) -> None:
        self.last_event = max(self.last_event, event["id"])
        if event["type"].endswith("StateEntered"):
            self.states_entered += 1
            self.current_state = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "LambdaFunctionScheduled" or (
            event["type"] == "TaskScheduled" and event.get("taskScheduledEventDetails", {}).get("resourceType") == "lambda"
        ):
            self.lambda_invocations += 1


# Events asked for at a time: a poll finds a few new ones, the first read of a long history more.
HISTORY_PAGE = 100


def events_after(aws: Aws, execution_arn: str, last_event: int) -> list[dict[str, Any]]:
    """The events of an execution after event `last_event`, oldest first: the history is read
    newest first, page by page, down to that event, so a poll does not read it all again."""
    sfn = aws.client("stepfunctions")
    newest_first: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": HISTORY_PAGE}
    while True:
        page = sfn.get_execution_history(**kwargs)
        for event in page["events"]:
            if event["id"] <= last_event:
                return newest_first[::-1]
            newest_first.append(event)
        if not page.get("nextToken"):
            return newest_first[::-1]
        kwargs["nextToken"] = page["nextToken"]


class WorkflowTracker:
    """Finds the execution a request started among the stack's state machines, and follows its
    history: states entered, Lambda tasks scheduled, the current state (the last entered)."""

    def __init__(self, aws: Aws):
        self.aws = aws
        self.total_states: dict[str, int] = {}
        self._read: dict[str, HistoryRead] = {}

    def track(self, state_machine_arn: str, definition: str) -> None:
        """Look for executions of this state machine too."""
        self.total_states[state_machine_arn] = count_states(json.loads(definition))

    def status(self, request_id: str) -> WorkflowStatus | None:
        sfn = self.aws.client("stepfunctions")
        for arn, total in self.total_states.items():
            for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
                if execution["name"].endswith(request_id):
                    execution_arn = execution["executionArn"]
                    read = self._read.setdefault(execution_arn, HistoryRead())
                    for event in events_after(self.aws, execution_arn, read.last_event):
                        read.add(event)
                    return WorkflowStatus(
                        execution_arn,
                        execution["status"],
                        read.current_state,
                        read.states_entered,
                        read.lambda_invocations,
                        total,
                    )
        return None


class Progress:
    """Prints the progress of the running operation and the summary of all of them."""

    def __init__(self, tracker: WorkflowTracker, out: TextIO = sys.stdout):
        self.tracker = tracker
        self.out = out
        self.tty = out.isatty()
        self.operations: list[tuple[Operation, WorkflowStatus | None]] = []
        self._last_line = ""

    def log(self, line: str) -> None:
        """A plain line (the progress line, if any, is cleared first)."""
        if self.tty and self._last_line:
            self.out.write("\r\x1b[K")
            self._last_line = ""
        print(line, file=self.out, flush=True)

    def _line(self, operation: Operation, workflow: WorkflowStatus | None) -> str:
        if workflow is None:
            return f"{operation.label}: waiting for the response ({operation.duration:.1f} s)"
        total = max(workflow.total_states, 1)
        done = min(workflow.states_entered, total)
        bar = "#" * (BAR_WIDTH * done // total) + "." * (BAR_WIDTH - BAR_WIDTH * done // total)
        return (
            f"{operation.label}: [{bar}] {workflow.states_entered}/{workflow.total_states} states, "
            f"now {workflow.current_state} ({workflow.status}, {operation.duration:.1f} s)"
        )

    def waiting(self, operation: Operation) -> None:
        """Called while a request is pending: show where its workflow is."""
        line = self._line(operation, self.tracker.status(operation.request_id))
        if self.tty:
            self.out.write("\r\x1b[K" + line)
            self.out.flush()
            self._last_line = line
        elif line.split(" (")[0] != self._last_line.split(" (")[0]:
            print(line, file=self.out, flush=True)
            self._last_line = line

    def finished(self, operation: Operation) -> None:
        """Record a finished operation and print its outcome."""
        workflow = self.tracker.status(operation.request_id)
        self.operations.append((operation, workflow))
        outcome = operation.outcome
        assert outcome is not None
        text = f"{operation.label}: {outcome.status} in {operation.duration:.1f} s"
        if outcome.reason:
            text += f": {outcome.reason}"
        self.log(text)
        self._last_line = ""

    def summary(self) -> str:
        """The table of every operation: status, duration, Lambda invocations, state transitions."""
        headers = ("Operation", "Status", "Duration", "Lambda", "States", "Reason")
        rows = []
        for operation, workflow in self.operations:
            outcome = operation.outcome
            assert outcome is not None
            # The runner's own invocation of the service token, plus the workflow's Lambda tasks.
            invocations = 1 + (workflow.lambda_invocations if workflow else 0)
            rows.append(
                (
                    operation.label,
                    outcome.status,
                    f"{operation.duration:.1f} s",
                    str(invocations),
                    str(workflow.states_entered if workflow else 0),
                    outcome.reason if outcome.status == "FAILED" else "",
                )
            )
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers[:-1])]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers[:-1], widths, strict=True)) + "  " + headers[-1]]
        for row in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
        return "\n".join(lines)
