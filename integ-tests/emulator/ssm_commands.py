"""SSM Run Command that really runs shell scripts, extending moto's SSM handlers.

SendCommand with document AWS-RunShellScript, or with a Command document of schema
2.2 whose steps are all aws:runShellScript (as the construct ships), on instances
that exist in moto's EC2 runs the script lines with bash in the instance's sandbox
(see sandbox.py; document parameters are checked against their allowedPattern and
substituted for `{{ Name }}` as SSM does), in a
thread: Pending -> InProgress -> Success | Failed | TimedOut. GetCommandInvocation and
ListCommandInvocations report them with AWS's output limits; DescribeInstanceInformation
shows running instances as Online managed instances. Other documents keep moto's
behaviour (reported as Success at once, nothing runs).
"""

import datetime
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from . import sandbox
from .runtime import RUNTIME

DOCUMENT = "AWS-RunShellScript"
PLUGIN = "aws:runShellScript"
STDOUT_LIMIT = 24000  # GetCommandInvocation StandardOutputContent
STDERR_LIMIT = 8000  # GetCommandInvocation StandardErrorContent
PLUGIN_OUTPUT_LIMIT = 2500  # ListCommandInvocations CommandPlugins[].Output
TERMINAL = ("Success", "Failed", "TimedOut")


class InvocationDoesNotExist(ServiceException):
    code = "InvocationDoesNotExist"
    message = "The command invocation does not exist."


class InvalidInstanceId(ServiceException):
    code = "InvalidInstanceId"


class InvalidParameters(ServiceException):
    code = "InvalidParameters"


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


_RUNS: dict[str, list[Invocation]] = {}
RUNTIME.on_reset(_RUNS.clear)


def all_runs() -> dict[str, list[Invocation]]:
    """Every tracked command id with its invocations."""
    return dict(_RUNS)


def _execute(invocation: Invocation, commands: list[str], env: dict[str, str], timeout: float) -> None:
    """Thread body: wait for delivery, run the script (or the injected failure), record it."""
    threading.Event().wait(RUNTIME.delay("ssm_delivery"))
    with RUNTIME.lock:
        invocation.status = invocation.details = "InProgress"
        invocation.started = datetime.datetime.now(datetime.timezone.utc)
        script = "\n".join(commands)
        failure = next((rule for rule in RUNTIME.faults.command_fails if rule.match in script), None)
    if failure:
        outcome = sandbox.Outcome(failure.exit_code, "", failure.stderr)
    else:
        home = sandbox.prepare(RUNTIME.sandbox_root, invocation.instance_id)
        outcome = sandbox.run(home, commands, env, timeout)
    with RUNTIME.lock:
        invocation.ended = datetime.datetime.now(datetime.timezone.utc)
        invocation.stdout, invocation.stderr = outcome.stdout, outcome.stderr
        invocation.response_code = outcome.exit_code
        if outcome.timed_out:
            invocation.status, invocation.details = "TimedOut", "ExecutionTimedOut"
        else:
            invocation.status = invocation.details = "Success" if outcome.exit_code == 0 else "Failed"
        _update_command(invocation.command)


def _update_command(command: Any) -> None:
    """Roll the invocations' states up into moto's Command (seen by ListCommands)."""
    runs = _RUNS.get(command.command_id, [])
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


def _shell_document(backend: Any, name: str) -> dict[str, Any] | None:
    """The content of a stored Command document made only of aws:runShellScript steps."""
    documents = backend._documents.get(name)  # moto keeps documents by name
    if documents is None:
        return None
    content = json.loads(documents.find(None, None).content)
    steps = content.get("mainSteps", [])
    if content.get("schemaVersion") != "2.2" or not steps or any(s.get("action") != PLUGIN for s in steps):
        return None
    return content


def _document_commands(content: dict[str, Any], given: dict[str, list[str]]) -> list[str]:
    """The script lines of a document, with its parameters checked and substituted."""
    declared = content.get("parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InvalidParameters("InvalidParameters", f"unknown parameters {unknown}")
    values = {}
    for name, spec in declared.items():
        value = (given.get(name) or [spec.get("default")])[0]
        if value is None:
            raise InvalidParameters("InvalidParameters", f"missing the parameter {name}")
        pattern = spec.get("allowedPattern")
        if pattern and not re.search(pattern, value):
            raise InvalidParameters("InvalidParameters", f"{name} does not match {pattern}")
        values[name] = value
    lines = [line for step in content["mainSteps"] for line in step["inputs"]["runCommand"]]
    return [re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), line) for line in lines]


class SsmWithRunCommandResponse(SimpleSystemManagerResponse):
    """moto's SSM handlers, with SendCommand / Get- / ListCommandInvocations really running."""

    def send_command(self) -> ActionResult:
        name = self._get_param("DocumentName")
        parameters = self._get_param("Parameters", {})
        if name == DOCUMENT:
            commands = parameters.get("commands")
            if not commands:
                raise InvalidParameters("InvalidParameters", "AWS-RunShellScript needs the parameter commands")
        else:
            content = _shell_document(self.ssm_backend, name)
            if content is None:
                return super().send_command()
            commands = _document_commands(content, parameters)
        ec2 = ec2_backends[self.current_account][self.region]
        instances = {}
        for instance_id in self._get_param("InstanceIds", []):
            try:
                instances[instance_id] = ec2.get_instance(instance_id)
            except Exception as err:  # moto raises InvalidInstanceIdError
                raise InvalidInstanceId("InvalidInstanceId", f"Instance {instance_id} does not exist") from err
        timeout = float((parameters.get("executionTimeout") or ["3600"])[0])
        result = super().send_command()
        command = self.ssm_backend.get_command_by_id(result.result["Command"]["CommandId"])  # type: ignore[index]
        with RUNTIME.lock:
            runs = [Invocation(command, instance_id) for instance_id in command.instance_ids]
            _RUNS[command.command_id] = runs
            command.status = command.status_details = "Pending"
            command.completed_count = 0
        for run in runs:
            instance = instances.get(run.instance_id) or ec2.get_instance(run.instance_id)
            env = {
                # The AWS CLI on the instance talks to the emulator.
                "AWS_ENDPOINT_URL": RUNTIME.endpoint,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "EMULATOR_ENDPOINT": RUNTIME.endpoint,
                "EMULATOR_ACCOUNT_ID": self.current_account,
                "EMULATOR_REGION": self.region,
                "EMULATOR_INSTANCE_ID": run.instance_id,
                "EMULATOR_VPC_ID": instance.vpc_id or "",
            }
            threading.Thread(target=_execute, args=(run, commands, env, timeout), daemon=True).start()
        return ActionResult({"Command": command.response_object()})

    def describe_instance_information(self) -> ActionResult:
        """Every running moto EC2 instance is an Online managed instance (Amazon Linux 2023)."""
        wanted: set[str] = set()
        for entry in self._get_param("Filters", []):
            if entry.get("Key") == "InstanceIds":
                wanted |= set(entry.get("Values", []))
        for entry in self._get_param("InstanceInformationFilterList", []):
            if entry.get("key") == "InstanceIds":
                wanted |= set(entry.get("valueSet", []))
        ec2 = ec2_backends[self.current_account][self.region]
        now = datetime.datetime.now(datetime.timezone.utc)
        instances = [
            {
                "InstanceId": instance.id,
                "PingStatus": "Online",
                "LastPingDateTime": now,
                "AgentVersion": "3.3.0.0",
                "IsLatestVersion": True,
                "PlatformType": "Linux",
                "PlatformName": "Amazon Linux",
                "PlatformVersion": "2023",
                "ResourceType": "EC2Instance",
                "IPAddress": instance.private_ip,
                "ComputerName": instance.private_dns_name,
            }
            for instance in ec2.all_instances()
            if instance.state == "running" and (not wanted or instance.id in wanted)
        ]
        return ActionResult({"InstanceInformationList": instances})

    def get_command_invocation(self) -> ActionResult:
        runs = _RUNS.get(self._get_param("CommandId"))
        if runs is None:
            return super().get_command_invocation()
        plugin = self._get_param("PluginName")
        with RUNTIME.lock:
            for run in runs:
                if run.instance_id == self._get_param("InstanceId") and plugin in (None, PLUGIN):
                    return ActionResult(run.to_json())
        raise InvocationDoesNotExist()

    def list_command_invocations(self) -> ActionResult:
        command_id, instance_id = self._get_param("CommandId"), self._get_param("InstanceId")
        details = bool(self._get_param("Details"))
        with RUNTIME.lock:
            runs = [
                run
                for cid, command_runs in _RUNS.items()
                if command_id in (None, cid)
                for run in command_runs
                if instance_id in (None, run.instance_id)
            ]
            return ActionResult({"CommandInvocations": [run.list_json(details) for run in runs]})
