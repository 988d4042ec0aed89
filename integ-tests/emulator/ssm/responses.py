"""SSM with Run Command that really runs: moto's SSM handlers plus SendCommand,
GetCommandInvocation, ListCommandInvocations and DescribeInstanceInformation.

SendCommand on instances that exist in moto's EC2 runs the script (see models.py and
sandbox.py); other documents keep moto's behaviour (reported as Success at once,
nothing runs). An instance is a managed instance only while it runs and can register
(registration.py: its role allows the SSM Agent, its subnet reaches Systems Manager):
DescribeInstanceInformation lists only those, and SendCommand to any other instance
answers InvalidInstanceId, as AWS does.
"""

import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from ..authz.principals import assume_role
from ..core.runtime import RUNTIME
from .exceptions import InvalidInstanceId, InvalidParameters, InvocationDoesNotExist
from .models import DOCUMENT, PLUGIN, RunCommandBackend, document_commands, run_command_backends, shell_document
from .registration import online


def _instance_credentials(ec2: Any, instance_id: str) -> dict[str, str]:
    """What the instance's AWS CLI signs with: its instance profile role's credentials (none without one)."""
    association = ec2.iam_instance_profile_associations.get(instance_id)
    profile = association.iam_instance_profile if association is not None else None
    if profile is None or not profile.roles:
        return {}
    return assume_role(profile.roles[0].arn, instance_id).environment()


def instance_environment(ec2: Any, instance: Any, account: str, region: str) -> dict[str, str]:
    """The environment a script on the instance runs with (commands and user data alike)."""
    return {
        # The AWS CLI on the instance talks to the emulator.
        "AWS_ENDPOINT_URL": RUNTIME.endpoint,
        "AWS_DEFAULT_REGION": region,
        **_instance_credentials(ec2, instance.id),
        "EMULATOR_ENDPOINT": RUNTIME.endpoint,
        "EMULATOR_ACCOUNT_ID": account,
        "EMULATOR_REGION": region,
        "EMULATOR_INSTANCE_ID": instance.id,
        "EMULATOR_VPC_ID": instance.vpc_id or "",
        "EMULATOR_TIME_SCALE": str(RUNTIME.time_scale),
    }


class SsmWithRunCommandResponse(SimpleSystemManagerResponse):
    """moto's SSM handlers, with SendCommand / Get- / ListCommandInvocations really running."""

    @property
    def run_command(self) -> RunCommandBackend:
        return run_command_backends[self.current_account][self.region]

    def send_command(self) -> ActionResult:
        name = self._get_param("DocumentName")
        parameters = self._get_param("Parameters", {})
        if name == DOCUMENT:
            commands = parameters.get("commands")
            if not commands:
                raise InvalidParameters("AWS-RunShellScript needs the parameter commands")
        else:
            content = shell_document(self.ssm_backend, name)
            if content is None:
                return super().send_command()
            commands = document_commands(content, parameters)
        ec2 = ec2_backends[self.current_account][self.region]
        instances = {}
        if RUNTIME.faults.instances_unregistered and self._get_param("InstanceIds", []):
            raise InvalidInstanceId(
                "Instances " + str(self._get_param("InstanceIds")) + " not in a valid state for account "
                + self.current_account
            )
        for instance_id in self._get_param("InstanceIds", []):
            try:
                instances[instance_id] = ec2.get_instance(instance_id)
            except Exception as err:  # moto raises InvalidInstanceIdError
                raise InvalidInstanceId(f"Instance {instance_id} does not exist") from err
        unmanaged = [i for i, instance in instances.items() if not online(ec2, instance)]
        if unmanaged:
            # AWS's answer for an instance whose agent never registered (or is not Online).
            raise InvalidInstanceId(
                f"Instances {unmanaged} not in a valid state for account {self.current_account}"
            )
        timeout = float((parameters.get("executionTimeout") or ["3600"])[0])
        result = super().send_command()
        command = self.ssm_backend.get_command_by_id(result.result["Command"]["CommandId"])  # type: ignore[index]
        envs = {}
        for instance_id in command.instance_ids:
            instance = instances.get(instance_id) or ec2.get_instance(instance_id)
            envs[instance_id] = instance_environment(ec2, instance, self.current_account, self.region)
        self.run_command.start(command, commands, envs, timeout)
        return ActionResult({"Command": command.response_object()})

    def describe_instance_information(self) -> ActionResult:
        """The running instances that can register (registration.py) are Online managed instances (Amazon
        Linux 2023), unless the `instances_unregistered` fault says none is registered."""
        wanted: set[str] = set()
        for entry in self._get_param("Filters", []):
            if entry.get("Key") == "InstanceIds":
                wanted |= set(entry.get("Values", []))
        for entry in self._get_param("InstanceInformationFilterList", []):
            if entry.get("key") == "InstanceIds":
                wanted |= set(entry.get("valueSet", []))
        ec2 = ec2_backends[self.current_account][self.region]
        now = datetime.datetime.now(datetime.UTC)
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
            if (not wanted or instance.id in wanted)
            and not RUNTIME.faults.instances_unregistered
            and online(ec2, instance)
        ]
        return ActionResult({"InstanceInformationList": instances})

    def get_command_invocation(self) -> ActionResult:
        runs = self.run_command.runs.get(self._get_param("CommandId"))
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
            runs = self.run_command.invocations(command_id, instance_id)
            return ActionResult({"CommandInvocations": [run.list_json(details) for run in runs]})
