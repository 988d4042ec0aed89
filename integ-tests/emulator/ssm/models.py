"""SSM Run Command state: each command's invocations, run in threads in the instances' sandboxes.

An invocation goes Pending -> (delivery latency) -> InProgress -> Success | Failed |
TimedOut; its states are rolled up into moto's Command, which ListCommands shows.
Documents: AWS-RunShellScript, or a stored Command document of schema 2.2 made only
of aws:runShellScript steps, whose parameters are checked against their
allowedPattern and substituted for `{{ Name }}` as SSM does.
"""

import datetime
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.ssm.models import Command

from ..core.runtime import RUNTIME
from . import packages, sandbox, user_data
from .exceptions import InvalidParameters

DOCUMENT = "AWS-RunShellScript"
PLUGIN = "aws:runShellScript"
STDOUT_LIMIT = 24000  # GetCommandInvocation StandardOutputContent
STDERR_LIMIT = 8000  # GetCommandInvocation StandardErrorContent
PLUGIN_OUTPUT_LIMIT = 2500  # ListCommandInvocations CommandPlugins[].Output
TERMINAL = ("Success", "Failed", "TimedOut")


def _iso(moment: datetime.datetime | None) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else ""


@dataclass
class Invocation:
    """One instance's run of a command."""

    command: Any  # moto.ssm.models.Command
    instance_id: str
    status: str = "Pending"
    response_code: int = -1
    stdout: str = ""
    stderr: str = ""
    started: datetime.datetime | None = None
    ended: datetime.datetime | None = None
    details: str = "Pending"

    def to_json(self) -> dict[str, Any]:
        elapsed = (self.ended - self.started).total_seconds() if self.started and self.ended else 0.0
        return {
            "CommandId": self.command.command_id,
            "InstanceId": self.instance_id,
            "Comment": self.command.comment,
            "DocumentName": DOCUMENT,
            "DocumentVersion": "$DEFAULT",
            "PluginName": PLUGIN,
            "ResponseCode": self.response_code,
            "ExecutionStartDateTime": _iso(self.started),
            "ExecutionElapsedTime": f"PT{elapsed:.3f}S",
            "ExecutionEndDateTime": _iso(self.ended),
            "Status": self.status,
            "StatusDetails": self.details,
            "StandardOutputContent": self.stdout[:STDOUT_LIMIT],
            "StandardOutputUrl": "",
            "StandardErrorContent": self.stderr[:STDERR_LIMIT],
            "StandardErrorUrl": "",
            "CloudWatchOutputConfig": {"CloudWatchOutputEnabled": False},
        }

    def list_json(self, details: bool) -> dict[str, Any]:
        entry = {
            "CommandId": self.command.command_id,
            "InstanceId": self.instance_id,
            "Comment": self.command.comment,
            "DocumentName": DOCUMENT,
            "DocumentVersion": "$DEFAULT",
            "RequestedDateTime": self.command.requested_date_time,
            "Status": self.status,
            "StatusDetails": self.details,
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
            "CommandPlugins": [],
        }
        if details:
            entry["CommandPlugins"] = [
                {
                    "Name": PLUGIN,
                    "Status": self.status,
                    "StatusDetails": self.details,
                    "ResponseCode": self.response_code,
                    "ResponseStartDateTime": self.started,
                    "ResponseFinishDateTime": self.ended,
                    "Output": (self.stdout + self.stderr)[:PLUGIN_OUTPUT_LIMIT],
                    "StandardOutputUrl": "",
                    "StandardErrorUrl": "",
                }
            ]
        return entry


class RunCommandBackend(BaseBackend):
    """The Run Command invocations of one account and region, by command id."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.runs: dict[str, list[Invocation]] = {}

    def start(self, command: Any, commands: list[str], envs: dict[str, dict[str, str]], timeout: float) -> None:
        """Track a command sent to `envs`' instances and run it on each, in a thread."""
        with RUNTIME.lock:
            runs = [Invocation(command, instance_id) for instance_id in command.instance_ids]
            self.runs[command.command_id] = runs
            command.status = command.status_details = "Pending"
            command.completed_count = 0
        for run in runs:
            threading.Thread(target=self._execute, args=(run, commands, envs[run.instance_id], timeout), daemon=True).start()

    def _execute(self, invocation: Invocation, commands: list[str], env: dict[str, str], timeout: float) -> None:
        """Thread body: wait for delivery, run the script (or the injected failure), record it."""
        threading.Event().wait(RUNTIME.delay("ssm_delivery"))
        with RUNTIME.lock:
            invocation.status = invocation.details = "InProgress"
            invocation.started = datetime.datetime.now(datetime.UTC)
            script = "\n".join(commands)
            failure = next((rule for rule in RUNTIME.faults.command_fails if rule.match in script), None)
            if any(match in script for match in RUNTIME.faults.command_hangs):
                return  # the command_hangs fault: InProgress for ever
        if failure:
            outcome = sandbox.Outcome(failure.exit_code, "", failure.stderr)
        else:
            home = sandbox.prepare(RUNTIME.sandbox_root, invocation.instance_id)
            with RUNTIME.busy():  # the script's real seconds are AWS's too
                outcome = sandbox.run(home, commands, env, timeout)
        with RUNTIME.lock:
            invocation.ended = datetime.datetime.now(datetime.UTC)
            invocation.stdout, invocation.stderr = outcome.stdout, outcome.stderr
            invocation.response_code = outcome.exit_code
            if outcome.timed_out:
                invocation.status, invocation.details = "TimedOut", "ExecutionTimedOut"
            else:
                invocation.status = invocation.details = "Success" if outcome.exit_code == 0 else "Failed"
            self._update_command(invocation.command)

    def _update_command(self, command: Any) -> None:
        """Roll the invocations' states up into moto's Command (seen by ListCommands)."""
        runs = self.runs.get(command.command_id, [])
        done = [run for run in runs if run.status in TERMINAL]
        command.completed_count = len(done)
        command.error_count = sum(1 for run in done if run.status != "Success")
        if len(done) < len(runs):
            command.status = command.status_details = "InProgress"
        elif command.error_count == 0:
            command.status = command.status_details = "Success"
        else:
            statuses = {run.status for run in done if run.status != "Success"}
            command.status = command.status_details = "TimedOut" if statuses == {"TimedOut"} else "Failed"

    def invocations(self, command_id: str | None, instance_id: str | None) -> list[Invocation]:
        """The tracked invocations, optionally of one command and/or one instance."""
        return [
            run
            for cid, command_runs in self.runs.items()
            if command_id in (None, cid)
            for run in command_runs
            if instance_id in (None, run.instance_id)
        ]


def shell_document(backend: Any, name: str) -> dict[str, Any] | None:
    """The content of a stored Command document made only of aws:runShellScript steps."""
    documents = backend._documents.get(name)  # moto keeps documents by name
    if documents is None:
        return None
    content = json.loads(documents.find(None, None).content)
    steps = content.get("mainSteps", [])
    if content.get("schemaVersion") != "2.2" or not steps or any(s.get("action") != PLUGIN for s in steps):
        return None
    return content


def document_commands(content: dict[str, Any], given: dict[str, list[str]]) -> list[str]:
    """The script lines of a document, with its parameters checked and substituted."""
    declared = content.get("parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InvalidParameters(f"unknown parameters {unknown}")
    values = {}
    for name, spec in declared.items():
        value = (given.get(name) or [spec.get("default")])[0]
        if value is None:
            raise InvalidParameters(f"missing the parameter {name}")
        pattern = spec.get("allowedPattern")
        if pattern and not re.search(pattern, value):
            raise InvalidParameters(f"{name} does not match {pattern}")
        values[name] = value
    lines = [line for step in content["mainSteps"] for line in step["inputs"]["runCommand"]]
    return [re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), line) for line in lines]


run_command_backends = BackendDict(RunCommandBackend, "ssm")


_moto_instance_ids_from_targets = Command._get_instance_ids_from_targets


def _instance_ids_from_targets(self: Command) -> list[str]:
    """The instances `Targets` selects: none without Targets (moto's filterless lookup picks every instance)."""
    return _moto_instance_ids_from_targets(self) if self.targets else []


def install() -> None:
    """Patch moto's Command: a SendCommand with InstanceIds runs on those instances only, as in AWS;
    run user data at launch (user_data.py); keep the package source's state (packages.py)."""
    Command._get_instance_ids_from_targets = _instance_ids_from_targets  # type: ignore[method-assign]
    user_data.install()
    packages.install()
