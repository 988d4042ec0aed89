"""Physical names are unique per account and region, as AWS enforces them.

For each type the example app's template creates, a second create with the same name
is refused with the service's own error code and message shape. moto already refuses
all of them but Step Functions, whose rule the emulator adds (stepfunctions/).
"""

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

SHELL_DOCUMENT = json.dumps(
    {
        "schemaVersion": "2.2",
        "description": "a shell step",
        "mainSteps": [{"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": ["true"]}}],
    }
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


def definition(state: str) -> str:
    return json.dumps({"StartAt": state, "States": {state: {"Type": "Pass", "End": True}}})


def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response


def role(client, name: str = "machine-role") -> str:
    return client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def test_a_launch_template_name_is_taken_once(client):
    ec2 = client("ec2")
    ec2.create_launch_template(LaunchTemplateName="client-template", LaunchTemplateData={})
    answer = refused(lambda: ec2.create_launch_template(LaunchTemplateName="client-template", LaunchTemplateData={}))
    assert answer["Error"]["Code"] == "InvalidLaunchTemplateName.AlreadyExistsException"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_ssm_document_name_is_taken_once(client):
    ssm = client("ssm")
    ssm.create_document(Name="activate", Content=SHELL_DOCUMENT, DocumentType="Command", DocumentFormat="JSON")
    answer = refused(
        lambda: ssm.create_document(Name="activate", Content=SHELL_DOCUMENT, DocumentType="Command", DocumentFormat="JSON")
    )
    assert answer["Error"] == {"Code": "DocumentAlreadyExists", "Message": "The specified document already exists."}


def test_a_log_group_name_is_taken_once(client):
    logs = client("logs")
    logs.create_log_group(logGroupName="/cdk-cloudhsm/tasks")
    answer = refused(lambda: logs.create_log_group(logGroupName="/cdk-cloudhsm/tasks"))
    assert answer["Error"] == {
        "Code": "ResourceAlreadyExistsException",
        "Message": "The specified log group already exists",
    }


def test_a_secret_name_is_taken_once(client):
    secrets = client("secretsmanager")
    secrets.create_secret(Name="cluster/trust-anchor", SecretString="x")
    answer = refused(lambda: secrets.create_secret(Name="cluster/trust-anchor", SecretString="y"))
    assert answer["Error"]["Code"] == "ResourceExistsException"
    assert "cluster/trust-anchor already exists" in answer["Error"]["Message"]


def test_an_iam_role_name_is_taken_once(client):
    role(client, "tasks-role")
    answer = refused(lambda: role(client, "tasks-role"))
    assert answer["Error"]["Code"] == "EntityAlreadyExists"
    assert answer["Error"]["Message"] == "Role with name tasks-role already exists."
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_a_state_machine_created_again_as_the_same_machine_is_the_same_machine(client):
    sfn = client("stepfunctions")
    first = sfn.create_state_machine(name="create-cluster", definition=definition("A"), roleArn=role(client))
    again = sfn.create_state_machine(name="create-cluster", definition=definition("A"), roleArn=role(client, "other-role"))
    assert again["stateMachineArn"] == first["stateMachineArn"]
    assert again["creationDate"] == first["creationDate"]
    # A different role is ignored, not applied, as AWS documents.
    assert sfn.describe_state_machine(stateMachineArn=first["stateMachineArn"])["roleArn"].endswith("/machine-role")
    assert len(sfn.list_state_machines()["stateMachines"]) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"definition": definition("B")},
        {"type": "EXPRESS"},
        {
            "loggingConfiguration": {
                "level": "ERROR",
                "includeExecutionData": False,
                "destinations": [
                    {"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:x:*"}}
                ],
            }
        },
        {"tracingConfiguration": {"enabled": True}},
        {"publish": True},
    ],
    ids=["definition", "type", "logging", "tracing", "publish"],
)
def test_a_state_machine_name_is_refused_for_a_different_machine(client, change):
    sfn = client("stepfunctions")
    arn = sfn.create_state_machine(name="create-cluster", definition=definition("A"), roleArn=role(client))["stateMachineArn"]
    request = {"name": "create-cluster", "definition": definition("A"), "roleArn": role(client, "r2"), **change}
    answer = refused(lambda: sfn.create_state_machine(**request))
    assert answer["Error"] == {"Code": "StateMachineAlreadyExists", "Message": f"State Machine Already Exists: '{arn}'"}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == definition("A"), "the machine is unchanged"


def test_a_state_machine_name_is_free_again_once_deleted(client):
    sfn = client("stepfunctions")
    arn = sfn.create_state_machine(name="create-cluster", definition=definition("A"), roleArn=role(client))["stateMachineArn"]
    sfn.delete_state_machine(stateMachineArn=arn)
    again = sfn.create_state_machine(name="create-cluster", definition=definition("B"), roleArn=role(client, "r2"))
    assert sfn.describe_state_machine(stateMachineArn=again["stateMachineArn"])["definition"] == definition("B")
