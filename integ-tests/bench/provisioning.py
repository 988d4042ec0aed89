"""The example app's lifecycle through the runner, timed per operation on the emulator's clock.

Each round plays, on a freshly reset emulator: the default app (2 AZs x 1 HSM)
created, resized to 2 HSMs per subnet, scaled to 0 and back to 2, deleted; then
3 AZs x 2 HSMs created and deleted. The growth rounds create 2, 6, 12 and 28 HSMs.
The apps are synthesized as shipped (the workflows' default polling). The emulator
runs with `real_due` off, so that AWS's latencies fall due on its clock only.

An operation's emulated time is the emulator's clock (`GET /_emulator/clock`) read
before the runner plays it and after: waits count in AWS seconds, work (the runner,
the emulator, the handlers) at real speed. Its Lambda invocations, states entered and
how soon each wait noticed its change come from the execution histories.
"""

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from runner.assets import REPO_ROOT
from runner.aws import Aws
from runner.cli import _post_json
from runner.custom import CustomResourceDriver, emulated_now
from runner.progress import Progress, WorkflowTracker
from runner.stack import Stack
from runner.template import Template

from . import detection
from .detection import Noticed

# The operations measured: label, bound path (bench.bound.PATHS) and app context.
DEFAULT = "create, 2 AZs x 1 HSM"
RESIZE = "resize 1 -> 2 HSMs per subnet"
SHRINK = "scale 2 -> 0"
REGROW = "scale 0 -> 2"
DELETE = "delete, 2 AZs x 2 HSMs"
LARGE = "create, 3 AZs x 2 HSMs"
LARGE_DELETE = "delete, 3 AZs x 2 HSMs"
BOUND_OF = {DEFAULT: "create", RESIZE: "grow", SHRINK: "shrink_to_zero", REGROW: "grow_from_zero",
            DELETE: "delete", LARGE: "create", LARGE_DELETE: "delete"}  # fmt: skip

HSMS_TYPE = "Custom::CloudHsmHsms"

APPS: dict[str, dict[str, str]] = {
    "one": {},
    "two": {"hsmsPerSubnet": "2"},
    "zero": {"hsmsPerSubnet": "0"},
    "large": {"azs": "3", "hsmsPerSubnet": "2"},
}


# Growth: HSMs in all, as 2 AZs x hsmsPerSubnet (28 is CloudHSM's most per cluster).
GROWTH_SIZES = (2, 6, 12, 28)
GROWTH_APPS: dict[int, dict[str, str]] = {n: {"hsmsPerSubnet": str(n // 2)} for n in GROWTH_SIZES}
# The account's HSM quota the growth rounds need (AWS: 6 by default, adjustable).
GROWTH_QUOTA = max(GROWTH_SIZES)
# Part of the CloudHSM requests throttled while the HSMs grow: AWS publishes no request
# rate for CloudHSM, so the emulator throttles a fixed share and the handlers must back off.
GROWTH_THROTTLE = 0.1


def synth_command(out: Path, context: dict[str, str]) -> str:
    """The `cdk synth` command line (run in cdk-app/) for an app variant, polling as shipped."""
    return " ".join(["npx cdk synth --quiet", *(f"-c {k}={v}" for k, v in context.items()), f"-o {out}"])


def synth(out: Path, context: dict[str, str]) -> Template:
    done = subprocess.run(
        ["bash", "-c", f"source scripts/lib.sh && cd cdk-app && {synth_command(out, context)}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cdk synth failed:\n{done.stderr}")
    return Template.load(out / "CloudHsmExample.template.json")


class QuietProgress(Progress):
    """The runner's progress, without polling the workflow while it runs (that would load
    the emulator being measured); each request's execution history is read when it ends
    (before a stack delete takes the state machines and their executions with it)."""

    def __init__(self, tracker: WorkflowTracker, out: TextIO):
        super().__init__(tracker, out)
        self.histories: dict[str, list[dict[str, Any]]] = {}

    def waiting(self, operation: Any) -> None:
        pass

    def finished(self, operation: Any) -> None:
        super().finished(operation)
        _, workflow = self.operations[-1]
        if workflow is not None:
            self.histories[operation.request_id] = _history(self.tracker.aws, workflow.execution_arn)


@dataclass
class Measured:
    """One operation of one round."""

    label: str
    seconds: float  # emulated seconds of the whole stack step: the emulator's clock before and after
    requests: int
    lambda_invocations: int
    states_entered: int
    real_seconds: float  # real seconds of the same
    hsms_seconds: float = 0.0  # emulated seconds of the Custom::CloudHsmHsms workflow: the HSMs beyond the first
    noticed: list[Noticed] = field(default_factory=list)


def _open(template: Template, emulator: Any, log: TextIO, faults: dict[str, Any] | None = None) -> Stack:
    """A new stack on a reset emulator whose latencies fall due on its clock only."""
    emulator.reset()
    emulator.configure(real_due=False, faults=faults)
    _post_json(f"{emulator.endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
    aws = Aws(emulator.endpoint, template.stack_name)
    stack_id = Stack.new_stack_id(template.stack_name)
    return Stack(template, aws, CustomResourceDriver(aws, stack_id, 600), QuietProgress(WorkflowTracker(aws), log), stack_id)


def _history(aws: Aws, execution_arn: str) -> list[dict[str, Any]]:
    sfn = aws.client("stepfunctions")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def _changes(endpoint: str) -> list[dict[str, Any]]:
    return list(_get_json(f"{endpoint}/_emulator/changes")["changes"])


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _timeline(out: TextIO, title: str, events: list[dict[str, Any]]) -> None:
    """Each state entered, at its emulated seconds after the execution started, into the run's log."""
    if not events:
        return
    start = events[0]["timestamp"]
    print(f"--- {title}", file=out)
    for e in events:
        if e["type"].endswith("StateEntered"):
            print(f"{(e['timestamp'] - start).total_seconds():9.1f}  {e['stateEnteredEventDetails']['name']}", file=out)
    out.flush()


def _duration(events: list[dict[str, Any]]) -> float:
    """Emulated seconds from an execution's first history event to its last."""
    return (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds() if events else 0.0


def _measure(stack: Stack, label: str, step: Callable[[], Any]) -> Measured:
    endpoint = stack.aws.endpoint
    before = len(stack.progress.operations)
    emulated_start, real_start = emulated_now(endpoint), time.monotonic()
    step()
    emulated, real = emulated_now(endpoint) - emulated_start, time.monotonic() - real_start
    new = stack.progress.operations[before:]
    failed = [op.label for op, _ in new if op.outcome is None or op.outcome.status != "SUCCESS"]
    if failed:
        raise RuntimeError(f"{label}: {', '.join(failed)} failed")
    changes = _changes(endpoint)
    noticed: list[Noticed] = []
    hsms_seconds = 0.0
    progress = stack.progress
    assert isinstance(progress, QuietProgress)
    histories = progress.histories
    for op, wf in new:
        if wf is None:
            continue
        events = histories[op.request_id]
        _timeline(progress.out, f"{label}: {op.label}", events)
        noticed += detection.noticed(events, changes)
        if op.resource_type == HSMS_TYPE:
            hsms_seconds += _duration(events)
    return Measured(
        label,
        seconds=emulated,
        requests=len(new),
        # The request's own invocation of the entry function, plus the workflow's Lambda tasks.
        lambda_invocations=sum(1 + (wf.lambda_invocations if wf else 0) for _, wf in new),
        states_entered=sum(wf.states_entered if wf else 0 for _, wf in new),
        real_seconds=real,
        hsms_seconds=hsms_seconds,
        noticed=noticed,
    )


def one_round(emulator: Any, templates: dict[str, Template], log: TextIO) -> list[Measured]:
    """Every operation once, on a reset emulator."""
    stack = _open(templates["one"], emulator, log)
    try:
        measured = [_measure(stack, DEFAULT, stack.create)]
        measured.append(_measure(stack, RESIZE, lambda: stack.update(templates["two"])))
        measured.append(_measure(stack, SHRINK, lambda: stack.update(templates["zero"])))
        measured.append(_measure(stack, REGROW, lambda: stack.update(templates["two"])))
        measured.append(_measure(stack, DELETE, stack.delete))
    finally:
        stack.driver.close()
    stack = _open(templates["large"], emulator, log)
    try:
        measured.append(_measure(stack, LARGE, stack.create))
        measured.append(_measure(stack, LARGE_DELETE, stack.delete))
    finally:
        stack.driver.close()
    return measured


def growth_label(hsms: int) -> str:
    return f"create, {hsms} HSMs"


def growth_round(emulator: Any, templates: dict[int, Template], log: TextIO) -> list[Measured]:
    """A create of each size, each on a reset emulator with the quota raised and some throttling."""
    measured = []
    for hsms, template in templates.items():
        faults = {"hsm_quota": GROWTH_QUOTA, "throttle": {"cloudhsmv2": GROWTH_THROTTLE}}
        stack = _open(template, emulator, log, faults)
        try:
            measured.append(_measure(stack, growth_label(hsms), stack.create))
        finally:
            stack.driver.close()
    return measured


def summary_line(measured: list[Measured]) -> str:
    return json.dumps({m.label: round(m.seconds, 1) for m in measured})
