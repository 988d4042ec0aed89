"""Command line: `python -m runner create|update|delete|lifecycle`.

Without `--endpoint`, the runner starts its own emulator in-process (fresh state, gone
when the command ends), so `create`, `update` and `delete` as separate commands need a
long-running emulator (`python -m emulator --port 4566`) and `--endpoint`; the stack's
resources are then recorded in a state file between commands. `lifecycle` runs
create, update (when `--set` or `--update-template` is given) and delete in one process.

Exit status: 0 when every step succeeded, 1 when a step failed (the reason is
printed), 2 for a template or usage error.
"""

import argparse
import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from .assets import REPO_ROOT
from .aws import Aws
from .custom import CustomResourceDriver
from .intrinsics import TemplateError
from .progress import Progress, WorkflowTracker
from .provision import ProvisionError
from .stack import OperationFailed, Stack, with_property
from .template import Template

DEFAULT_TEMPLATE = REPO_ROOT / "cdk-app" / "cdk.out" / "CloudHsmExample.template.json"


def _post_json(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@contextmanager
def emulator_endpoint(endpoint: str | None, time_scale: float) -> Iterator[str]:
    """The given endpoint, or an in-process emulator started (and stopped) here."""
    if endpoint:
        yield endpoint.rstrip("/")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    from emulator import start_emulator

    emulator = start_emulator(time_scale=time_scale)
    try:
        yield emulator.endpoint
    finally:
        emulator.stop()


def open_stack(
    template: Template, endpoint: str, timeout: float | None, out: TextIO, stack_id: str | None = None
) -> Stack:
    """A stack on the emulator at `endpoint`, with its response server and progress output."""
    # Step Functions executes state machines only when asked to.
    _post_json(f"{endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
    aws = Aws(endpoint, template.stack_name)
    stack_id = stack_id or Stack.new_stack_id(template.stack_name)
    driver = CustomResourceDriver(aws, stack_id, timeout)
    return Stack(template, aws, driver, Progress(WorkflowTracker(aws), out), stack_id)


def _run_step(stack: Stack, name: str, step: Callable[[], Any]) -> bool:
    """Run one lifecycle step; print its outcome; answer whether it succeeded."""
    started = time.monotonic()
    stack.progress.log(f"== {name} {stack.template.stack_name} ==")
    try:
        step()
    except OperationFailed as err:
        stack.progress.log(f"== {name} FAILED after {time.monotonic() - started:.1f} s: {err}")
        return False
    stack.progress.log(f"== {name} COMPLETE in {time.monotonic() - started:.1f} s")
    return True


def _changed(template: Template, assignments: list[str] | None) -> Template:
    for assignment in assignments or []:
        template = with_property(template, assignment)
    return template


def _steps(args: argparse.Namespace, stack: Stack) -> list[tuple[str, Callable[[], Any]]]:
    """The lifecycle steps of a command."""
    if args.command == "create":
        return [("CREATE", stack.create)]
    if args.command == "delete":
        return [("DELETE", stack.delete)]
    if args.command == "update":
        new = _changed(Template.load(args.template) if args.template else stack.template, args.set)
        return [("UPDATE", lambda: stack.update(new))]
    steps: list[tuple[str, Callable[[], Any]]] = [("CREATE", stack.create)]
    if args.set or args.update_template:
        new = _changed(Template.load(args.update_template) if args.update_template else stack.template, args.set)
        steps.append(("UPDATE", lambda: stack.update(new)))
    return steps


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the command; answers the exit status."""
    template_path = Path(args.template) if args.template else DEFAULT_TEMPLATE
    state_file = Path(args.state) if args.state else template_path.parent / ".lifecycle-state.json"
    state = None
    if args.command in ("update", "delete"):
        if not args.endpoint:
            raise TemplateError(f"{args.command} needs --endpoint: the emulator that holds the stack")
        if not state_file.is_file():
            raise TemplateError(f"no stack state at {state_file}: run `create --endpoint ...` first")
        state = json.loads(state_file.read_text())
    with emulator_endpoint(args.endpoint, args.time_scale) as endpoint:
        base = Template.load(state["template"] if state else template_path)
        stack = open_stack(base, endpoint, args.timeout, out, state["stack_id"] if state else None)
        if state:
            stack.restore(state)
        try:
            ok = all(_run_step(stack, name, step) for name, step in _steps(args, stack))
            if args.command == "lifecycle":
                if not (args.set or args.update_template):
                    stack.progress.log("== UPDATE skipped: give --set LogicalId.Prop=value or --update-template")
                if stack.resources:  # after a failed update too: leave nothing behind
                    ok = _run_step(stack, "DELETE", stack.delete) and ok
            stack.progress.log("\n" + stack.progress.summary())
            if args.endpoint and args.command != "lifecycle":
                if stack.resources:
                    state_file.write_text(json.dumps(stack.to_json(), indent=2))
                    stack.progress.log(f"stack state: {state_file}")
                elif state_file.exists():
                    state_file.unlink()
            elif args.command == "create" and stack.resources:
                stack.progress.log("note: the runner's own emulator stops now; pass --endpoint to keep the stack")
            return 0 if ok else 1
        finally:
            stack.driver.close()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m runner", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = top.add_subparsers(dest="command", required=True)
    helps = {
        "create": "provision the template and send Create to its custom resources",
        "update": "send Update to the custom resources whose properties change (--set, or a new --template)",
        "delete": "send Delete to the custom resources, then tear down everything",
        "lifecycle": "create, update (with --set or --update-template), delete in one process",
    }
    for name, text in helps.items():
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--template", help=f"template file (default: {DEFAULT_TEMPLATE}); for update: the new template")
        sub.add_argument("--endpoint", help="use this running emulator instead of starting one")
        sub.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="real seconds to wait for each custom resource response (default: one hour on the emulator's clock)",
        )
        sub.add_argument("--time-scale", type=float, default=300.0, help="time scale of the emulator the runner starts")
        sub.add_argument("--state", help="stack state file between commands (default: <cdk.out>/.lifecycle-state.json)")
        if name in ("update", "lifecycle"):
            sub.add_argument(
                "--set", action="append", metavar="LogicalId.Prop=value", help="change a property (JSON or text); repeatable"
            )
        if name == "lifecycle":
            sub.add_argument("--update-template", help="the template to update to")
    return top


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Parse the arguments and run; answers the exit status. Output goes to `out` (stdout)."""
    args = parser().parse_args(argv)
    if args.command == "update" and not args.set and not args.template:
        print("update needs --set LogicalId.Prop=value or --template NEW.json", file=sys.stderr)
        return 2
    try:
        return run(args, out or sys.stdout)
    except (TemplateError, ProvisionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
