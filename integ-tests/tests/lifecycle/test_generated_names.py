"""Names the runner generates, as CloudFormation does, for resources without a name property.

The same template created as two stacks in one account and region: every named type
of the example app gets `<stack>-<logicalId>-<random>`, so both stacks coexist. A
fixed name in the template makes the second stack fail at that resource with the
service's own error, and roll back.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from runner.stack import OperationFailed
from runner.template import Template

from .conftest import stack_for

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
DOCUMENT = {
    "schemaVersion": "2.2",
    "description": "d",
    "mainSteps": [{"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": ["true"]}}],
}
RESOURCES: dict[str, Any] = {
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
    "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 365}},
    "Template": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {}}},
    "Document": {"Type": "AWS::SSM::Document", "Properties": {"Content": DOCUMENT, "DocumentType": "Command"}},
    "Password": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {}}},
    "Machine": {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "DefinitionString": json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
            "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
        },
    },
}


def template(folder: Path, stack_name: str, resources: dict[str, Any]) -> Template:
    folder.mkdir(exist_ok=True)
    path = folder / f"{stack_name}.template.json"
    path.write_text(json.dumps({"Resources": resources}))
    return Template.load(path)


def names(stack) -> dict[str, str]:
    """The generated name of each resource, from its physical id (ARNs: the last part)."""
    return {lid: re.split(r"[:/]", r.physical_id)[-1] for lid, r in stack.resources.items() if lid != "Password"}


def test_two_stacks_of_one_template_get_their_own_names(emulator, tmp_path):
    first, _ = stack_for(template(tmp_path, "First", RESOURCES), emulator)
    second, _ = stack_for(template(tmp_path, "Second", RESOURCES), emulator)
    first.create()
    second.create()

    ec2 = first.aws.client("ec2")
    launch_templates = {
        t["LaunchTemplateId"]: t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]
    }
    secrets = {s["ARN"]: s["Name"] for s in first.aws.client("secretsmanager").list_secrets()["SecretList"]}
    for stack, stack_name in ((first, "First"), (second, "Second")):
        generated = names(stack)
        generated["Template"] = launch_templates[stack.resources["Template"].physical_id]
        generated["Password"] = secrets[stack.resources["Password"].physical_id]
        for logical_id, name in generated.items():
            assert re.fullmatch(rf"{stack_name}-{logical_id}-[A-Z0-9]{{12}}", name), (logical_id, name)
    assert len(launch_templates) == 2 and len(secrets) == 2

    first.delete()
    second.delete()
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []


@pytest.mark.parametrize(
    "logical_id, name_property, code",
    [
        ("Template", "LaunchTemplateName", "InvalidLaunchTemplateName.AlreadyExistsException"),
        ("Logs", "LogGroupName", "ResourceAlreadyExistsException"),
        ("Document", "Name", "DocumentAlreadyExists"),
        ("Password", "Name", "ResourceExistsException"),
        ("Role", "RoleName", "EntityAlreadyExists"),
    ],
)
def test_a_fixed_name_fails_the_second_stack_with_the_service_error(emulator, tmp_path, logical_id, name_property, code):
    resources = json.loads(json.dumps(RESOURCES))
    resources[logical_id]["Properties"][name_property] = "fixed-name"
    first, _ = stack_for(template(tmp_path, "First", resources), emulator)
    second, _ = stack_for(template(tmp_path, "Second", resources), emulator)
    first.create()
    with pytest.raises(OperationFailed, match=f"create failed at {logical_id}: .*{re.escape(code)}"):
        second.create()
    assert second.resources == {}, "the second stack rolled back"
    first.delete()


def test_a_fixed_state_machine_name_fails_the_second_stack_unless_it_is_the_same_machine(emulator, tmp_path):
    resources = json.loads(json.dumps(RESOURCES))
    resources["Machine"]["Properties"]["StateMachineName"] = "fixed-name"
    first, _ = stack_for(template(tmp_path, "First", resources), emulator)
    first.create()
    other = json.loads(json.dumps(resources))
    other["Machine"]["Properties"]["DefinitionString"] = json.dumps(
        {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": True}}}
    )
    second, _ = stack_for(template(tmp_path, "Second", other), emulator)
    with pytest.raises(OperationFailed, match="create failed at Machine: .*StateMachineAlreadyExists"):
        second.create()
    first.delete()
