"""The example app's lifecycle through the runner, timed per operation.

Each round plays, on a freshly reset emulator: the default app (2 AZs x 1 HSM)
created, resized to 2 HSMs per subnet, scaled to 0 and back to 2, deleted; then
3 AZs x 2 HSMs created and deleted. An operation's time is the time its custom
resource requests took, from the request sent to the response received
(CloudFormation's part, provisioning the VPC and the roles, is the runner's and
not timed here); emulated seconds are those real seconds times the time scale.
"""

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from runner.assets import REPO_ROOT
from runner.aws import Aws
from runner.cli import _post_json
from runner.contract import CONTRACT
from runner.custom import CustomResourceDriver
from runner.progress import Progress, WorkflowTracker
from runner.stack import Stack
from runner.template import Template

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


def synth_command(out: Path, context: dict[str, str]) -> str:
    """The `cdk synth` command line (run in cdk-app/) for an app variant, with 1 s polling."""
    values = {CONTRACT.poll_seconds_context: "1", **context}
    return " ".join(["npx cdk synth --quiet", *(f"-c {k}={v}" for k, v in values.items()), f"-o {out}"])


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
    the emulator being measured); the histories are still read when each request ends."""

    def waiting(self, operation: Any) -> None:
        pass


@dataclass
class Measured:
    """One operation of one round."""

    label: str
    seconds: float  # real seconds of its custom resource requests
    requests: int
    lambda_invocations: int
    states_entered: int
    step_seconds: float  # real seconds of the whole stack step (provisioning included)
    hsms_seconds: float = 0.0  # real seconds of the Custom::CloudHsmHsms request: the HSMs beyond the first


def _open(template: Template, endpoint: str, log: TextIO) -> Stack:
    _post_json(f"{endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
    aws = Aws(endpoint, template.stack_name)
    stack_id = Stack.new_stack_id(template.stack_name)
    return Stack(template, aws, CustomResourceDriver(aws, stack_id, 600), QuietProgress(WorkflowTracker(aws), log), stack_id)


def _measure(stack: Stack, label: str, step: Callable[[], Any]) -> Measured:
    before = len(stack.progress.operations)
    started = time.monotonic()
    step()
    elapsed = time.monotonic() - started
    new = stack.progress.operations[before:]
    failed = [op.label for op, _ in new if op.outcome is None or op.outcome.status != "SUCCESS"]
    if failed:
        raise RuntimeError(f"{label}: {', '.join(failed)} failed")
    return Measured(
        label,
        seconds=sum(op.duration for op, _ in new),
        requests=len(new),
        # The request's own invocation of the entry function, plus the workflow's Lambda tasks.
        lambda_invocations=sum(1 + (wf.lambda_invocations if wf else 0) for _, wf in new),
        states_entered=sum(wf.states_entered if wf else 0 for _, wf in new),
        step_seconds=elapsed,
        hsms_seconds=sum(op.duration for op, _ in new if op.resource_type == HSMS_TYPE),
    )


def one_round(emulator: Any, templates: dict[str, Template], log: TextIO) -> list[Measured]:
    """Every operation once, on a reset emulator."""
    emulator.reset()
    stack = _open(templates["one"], emulator.endpoint, log)
    try:
        measured = [_measure(stack, DEFAULT, stack.create)]
        measured.append(_measure(stack, RESIZE, lambda: stack.update(templates["two"])))
        measured.append(_measure(stack, SHRINK, lambda: stack.update(templates["zero"])))
        measured.append(_measure(stack, REGROW, lambda: stack.update(templates["two"])))
        measured.append(_measure(stack, DELETE, stack.delete))
    finally:
        stack.driver.close()
    emulator.reset()
    stack = _open(templates["large"], emulator.endpoint, log)
    try:
        measured.append(_measure(stack, LARGE, stack.create))
        measured.append(_measure(stack, LARGE_DELETE, stack.delete))
    finally:
        stack.driver.close()
    return measured


def summary_line(measured: list[Measured]) -> str:
    return json.dumps({m.label: round(m.seconds, 2) for m in measured})
