"""SSM Run Command really runs shell lines; the stand-in cloudhsm-cli manages HSM users."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_PASSWORD, wait_for


def cli_output(invocation: dict) -> list[dict]:
    """The JSON documents cloudhsm-cli printed, in order."""
    decoder, text, documents = json.JSONDecoder(), invocation["StandardOutputContent"], []
    index = 0
    while (start := text.find("{", index)) != -1:
        document, index = decoder.raw_decode(text, start)
        documents.append(document)
    return documents


def test_run_shell_script_runs_and_reports(lab):
    ok = lab.run("echo hello", "echo oops >&2", "pwd")
    assert ok["Status"] == "Success" and ok["ResponseCode"] == 0
    assert ok["StandardOutputContent"].startswith("hello\n")
    assert ok["StandardErrorContent"] == "oops\n"
    failed = lab.run("exit 3")
    assert (failed["Status"], failed["ResponseCode"]) == ("Failed", 3)


def test_outputs_are_truncated_like_aws(lab):
    result = lab.run("head -c 30000 /dev/zero | tr '\\0' a", "head -c 9000 /dev/zero | tr '\\0' b >&2")
    assert len(result["StandardOutputContent"]) == 24000
    assert len(result["StandardErrorContent"]) == 8000


def test_invocation_pending_then_listed(lab, ssm):
    command = ssm.send_command(
        InstanceIds=[lab.instance_id], DocumentName="AWS-RunShellScript", Parameters={"commands": ["sleep 3"]}
    )["Command"]
    assert command["Status"] == "Pending"
    first = ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=lab.instance_id)
    assert first["Status"] in ("Pending", "InProgress")
    wait_for(
        lambda: ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=lab.instance_id)["Status"] == "Success",
        what="command success",
    )
    [listed] = ssm.list_command_invocations(CommandId=command["CommandId"], Details=True)["CommandInvocations"]
    assert listed["Status"] == "Success" and listed["CommandPlugins"][0]["Name"] == "aws:runShellScript"
    assert ssm.list_commands(CommandId=command["CommandId"])["Commands"][0]["Status"] == "Success"


def test_send_command_to_unknown_instance_refused(ssm):
    with pytest.raises(ClientError) as excinfo:
        ssm.send_command(
            InstanceIds=["i-0123456789abcdef0"], DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]}
        )
    assert excinfo.value.response["Error"]["Code"] == "InvalidInstanceId"


def test_unknown_invocation_does_not_exist(lab, ssm):
    command_id = lab.run("true")["CommandId"]
    with pytest.raises(ClientError) as excinfo:
        ssm.get_command_invocation(CommandId=command_id, InstanceId="i-0000000000000000f")
    assert excinfo.value.response["Error"]["Code"] == "InvocationDoesNotExist"


def test_activation_through_ssm_sets_admin_password(lab):
    cluster_id, ip = lab.initialized_cluster()
    before = lab.run(f"sudo /opt/cloudhsm/bin/configure-cli -a {ip}", "cloudhsm-cli user list")
    roles = {u["username"]: u["role"] for u in cli_output(before)[0]["data"]["users"]}
    assert roles["admin"] == "unactivated-admin"
    activated = lab.run(
        f"printf '%s\\n%s\\n' {ADMIN_PASSWORD} {ADMIN_PASSWORD} | /opt/cloudhsm/bin/cloudhsm-cli cluster activate"
    )
    assert activated["Status"] == "Success", activated["StandardOutputContent"]
    assert cli_output(activated) == [{"error_code": 0, "data": "Cluster activation successful"}]
    lab.wait_cluster(cluster_id, "ACTIVE")
    again = lab.run(f"cloudhsm-cli cluster activate --password {ADMIN_PASSWORD}")
    assert again["Status"] == "Failed" and "already activated" in again["StandardOutputContent"]
    login = lab.run(f"cloudhsm-cli login --username admin --role admin --password {ADMIN_PASSWORD}")
    assert login["Status"] == "Success"


def test_activation_refused_before_initialization(lab):
    cluster_id = lab.create_cluster()
    lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone="us-east-1a")
    ip = lab.wait_hsms_active(cluster_id, 1)["Hsms"][0]["EniIp"]
    result = lab.run(f"/opt/cloudhsm/bin/configure-cli -a {ip}", f"cloudhsm-cli cluster activate --password {ADMIN_PASSWORD}")
    assert result["Status"] == "Failed" and result["ResponseCode"] == 1
    assert "initialize it before activating" in result["StandardOutputContent"]


def test_user_management_needs_admin_and_checks_logins(lab):
    _, ip = lab.active_cluster(hsms=1)
    created = lab.as_admin(
        ip,
        "cloudhsm-cli user create --username KMSuser --role crypto-user --password kms-pass-1",
        "cloudhsm-cli user list",
    )
    assert created["Status"] == "Success", created["StandardOutputContent"]
    create_out, list_out = cli_output(created)
    assert create_out["data"] == {"username": "kmsuser", "role": "crypto-user"}
    assert {"username": "kmsuser", "role": "crypto-user"}.items() <= list_out["data"]["users"][1].items()
    wrong = lab.run("cloudhsm-cli login --username kmsuser --role crypto-user --password nope-nope")
    assert wrong["Status"] == "Failed" and "Invalid username, role or password" in wrong["StandardOutputContent"]
    no_creds = lab.run("cloudhsm-cli user create --username bob --role crypto-user --password bob-pass-1")
    assert no_creds["Status"] == "Failed" and "Not logged in" in no_creds["StandardOutputContent"]
    deleted = lab.as_admin(ip, "cloudhsm-cli user delete --username kmsuser --role crypto-user")
    assert deleted["Status"] == "Success"
    listed = lab.run("cloudhsm-cli user list")
    assert "kmsuser" not in {u["username"] for u in cli_output(listed)[0]["data"]["users"]}


def test_cli_without_configuration_fails_clearly(lab):
    result = lab.run("cloudhsm-cli user list")
    assert result["Status"] == "Failed" and "No cluster configured" in result["StandardOutputContent"]


def test_running_instances_are_online_managed_instances(lab, ssm, ec2):
    [info] = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [lab.instance_id]}])[
        "InstanceInformationList"
    ]
    assert (info["InstanceId"], info["PingStatus"], info["PlatformType"]) == (lab.instance_id, "Online", "Linux")
    ec2.stop_instances(InstanceIds=[lab.instance_id])
    assert ssm.describe_instance_information()["InstanceInformationList"] == []


def _shell_document(ssm, name: str, lines: list[str]) -> None:
    ssm.create_document(
        Name=name,
        DocumentType="Command",
        DocumentFormat="JSON",
        Content=json.dumps(
            {
                "schemaVersion": "2.2",
                "description": "test",
                "parameters": {
                    "SecretArn": {
                        "type": "String",
                        "allowedPattern": "^arn:aws:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$",
                    },
                    "Greeting": {"type": "String", "default": "hello"},
                },
                "mainSteps": [{"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": lines}}],
            }
        ),
    )


def test_command_documents_run_with_their_parameters_and_the_aws_cli(lab, ssm, client):
    secret = client("secretsmanager").create_secret(Name="s", SecretString="-----BEGIN CERTIFICATE-----x")["ARN"]
    _shell_document(
        ssm,
        "Custom",
        [
            "set -euo pipefail",
            "echo '{{ Greeting }}'",
            "aws secretsmanager get-secret-value --secret-id '{{ SecretArn }}' --query SecretString --output text"
            " | sudo tee /opt/cloudhsm/etc/customerCA.crt >/dev/null",
            "head -c 27 /opt/cloudhsm/etc/customerCA.crt",
        ],
    )
    command_id = ssm.send_command(InstanceIds=[lab.instance_id], DocumentName="Custom", Parameters={"SecretArn": [secret]})[
        "Command"
    ]["CommandId"]
    result = wait_for(
        lambda: (
            (r := ssm.get_command_invocation(CommandId=command_id, InstanceId=lab.instance_id))["Status"] in ("Success", "Failed")
            and r
        ),
        what="document command",
    )
    assert result["Status"] == "Success", result["StandardErrorContent"]
    assert result["StandardOutputContent"] == "hello\n-----BEGIN CERTIFICATE-----"


def test_document_parameters_are_checked_against_their_pattern(lab, ssm):
    _shell_document(ssm, "Strict", ["true"])
    with pytest.raises(ClientError) as excinfo:
        ssm.send_command(InstanceIds=[lab.instance_id], DocumentName="Strict", Parameters={"SecretArn": ["x'; rm -rf /"]})
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameters"


def test_a_command_for_one_instance_runs_on_that_instance_only(lab, ssm, ec2):
    other = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=lab.subnets[1])["Instances"][0]
    result = lab.run("echo $EMULATOR_INSTANCE_ID")
    assert result["Status"] == "Success" and result["StandardOutputContent"].strip() == lab.instance_id
    [command] = ssm.list_commands(CommandId=result["CommandId"])["Commands"]
    assert command["InstanceIds"] == [lab.instance_id]
    invocations = ssm.list_command_invocations(CommandId=result["CommandId"])["CommandInvocations"]
    assert [i["InstanceId"] for i in invocations] == [lab.instance_id], f"not run on {other['InstanceId']}"
