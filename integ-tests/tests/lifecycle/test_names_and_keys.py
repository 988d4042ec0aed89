"""Lifecycles that only pass when names are unique and key policies are right, as in AWS.

- two CloudHsmClusters in one stack (a fixed launch template name used to fail the second);
- the example app deployed twice, side by side, in one account and region;
- a cluster whose `encryptionKey` is made in the same stack: the construct adds the
  CloudWatch Logs statement to the key policy; without it the first log group fails
  with the logs service's AccessDeniedException, as a real deploy would.
Each ends with the emulator holding no cluster (so no HSM).
"""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runner.assets import REPO_ROOT
from runner.stack import OperationFailed, Stack
from runner.template import Template

from .conftest import stack_for
from .test_cluster_lifecycle import client, outcome

VARIANTS = Path(__file__).resolve().parent / "apps" / "variants.ts"
LOGS_SID = "AllowCloudWatchLogsOfThisAccountAndRegion"


def synth(out: Path, stack_name: str, app: str | None = None, **context: str) -> Template:
    """cdk-app (or a test app) synthesized with these context values and 1 s polling."""
    args = " ".join(f"-c {k}={v}" for k, v in context.items())
    app_arg = f"--app 'node {app}'" if app else ""
    done = subprocess.run(
        ["bash", "-c", f"source scripts/lib.sh && cd cdk-app && npx cdk synth --quiet {app_arg} {args} -o {out}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return Template.load(out / f"{stack_name}.template.json")


def of_type(template: Template, resource_type: str) -> list[str]:
    return sorted(lid for lid, r in template.resources.items() if r["Type"] == resource_type)


def nothing_left(emulator) -> None:
    state = emulator.state()
    assert state["clusters"] == [], "no cluster, so no HSM, is left"
    hsm_enis = [
        i
        for i in client(emulator, "ec2").describe_network_interfaces()["NetworkInterfaces"]
        if "cloudhsm" in i.get("Description", "").lower()
    ]
    assert hsm_enis == [], "no HSM network interface is left"


def create(stack: Stack, emulator) -> None:
    """stack.create(); a failure also shows the output of every failed SSM command."""
    try:
        stack.create()
    except OperationFailed as err:
        ssm = client(emulator, "ssm")
        failed = [i for i in ssm.list_command_invocations(Details=True)["CommandInvocations"] if i["Status"] != "Success"]
        outputs = [
            f"{i['InstanceId']} {i['DocumentName']} {i.get('Comment', '')}: " + (p.get("Output") or "")
            for i in failed
            for p in i.get("CommandPlugins", [])
        ]
        raise AssertionError(f"{err}\nfailed commands' output:\n" + "\n---\n".join(outputs)) from err


def active_hsms(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for h in cluster["Hsms"] if h["State"] == "ACTIVE"]


def test_two_clusters_in_one_stack_both_become_active_and_are_deleted(emulator, tmp_path):
    template = synth(tmp_path / "out", "TwoClusters", app=str(VARIANTS), variant="two-clusters")
    assert len(of_type(template, "Custom::CloudHsmCluster")) == 2
    templates = of_type(template, "AWS::EC2::LaunchTemplate")
    assert len(templates) == 2
    assert all("LaunchTemplateName" not in template.resources[lid]["Properties"] for lid in templates)

    stack, _ = stack_for(template, emulator)
    create(stack, emulator)
    clusters = emulator.state()["clusters"]
    assert [c["State"] for c in clusters] == ["ACTIVE", "ACTIVE"]
    assert [len(active_hsms(c)) for c in clusters] == [2, 2]
    assert len({c["SecurityGroup"] for c in clusters}) == 2
    for lid in of_type(template, "Custom::CloudHsmCluster"):
        assert outcome(stack, "Create", lid).physical_id in {c["ClusterId"] for c in clusters}
    stack.delete()
    nothing_left(emulator)


def test_the_example_app_deployed_twice_side_by_side(emulator, tmp_path):
    stacks: list[Stack] = []
    for name in ("CloudHsmExampleBlue", "CloudHsmExampleGreen"):
        stack, _ = stack_for(synth(tmp_path / name, name, stackName=name), emulator)
        create(stack, emulator)
        stacks.append(stack)
    clusters = emulator.state()["clusters"]
    assert [c["State"] for c in clusters] == ["ACTIVE", "ACTIVE"]
    assert [len(active_hsms(c)) for c in clusters] == [2, 2]
    machines = client(emulator, "stepfunctions").list_state_machines()["stateMachines"]
    assert len(machines) == 2 * len(of_type(stacks[0].template, "AWS::StepFunctions::StateMachine"))
    for stack in reversed(stacks):
        stack.delete()
    nothing_left(emulator)


def test_the_example_app_keeps_its_default_stack_name(tmp_path):
    synth(tmp_path / "out", "CloudHsmExample")


def encrypted(tmp_path: Path, name: str, **context: str) -> Template:
    return synth(tmp_path / name, "Encrypted", app=str(VARIANTS), variant="encrypted", **context)


def key_policy(template: Template) -> dict[str, Any]:
    [key] = of_type(template, "AWS::KMS::Key")
    return template.resources[key]["Properties"]["KeyPolicy"]


def test_an_encryption_key_of_the_stack_encrypts_the_logs_through_create_resize_and_delete(emulator, tmp_path):
    template = encrypted(tmp_path, "create")
    assert [s for s in key_policy(template)["Statement"] if s.get("Sid") == LOGS_SID], "the construct adds the statement"
    stack, _ = stack_for(template, emulator)
    create(stack, emulator)
    [cluster] = emulator.state()["clusters"]
    assert cluster["State"] == "ACTIVE" and len(active_hsms(cluster)) == 2
    key_arn = client(emulator, "kms").describe_key(KeyId=stack.resources[of_type(template, "AWS::KMS::Key")[0]].physical_id)[
        "KeyMetadata"
    ]["Arn"]
    groups = client(emulator, "logs").describe_log_groups()["logGroups"]
    encrypted_groups = [g for g in groups if g.get("kmsKeyId") == key_arn]
    assert len(encrypted_groups) == len(of_type(template, "AWS::Logs::LogGroup")) > 0, "every log group uses the key"

    stack.update(encrypted(tmp_path, "resize", hsmsPerSubnet="2"))
    [cluster] = emulator.state()["clusters"]
    assert len(active_hsms(cluster)) == 4
    stack.delete()
    nothing_left(emulator)


def test_without_the_logs_statement_the_first_log_group_is_refused(emulator, tmp_path):
    template = encrypted(tmp_path, "create")
    body = json.loads(template.path.read_text())
    [key] = of_type(template, "AWS::KMS::Key")
    statements = body["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
    body["Resources"][key]["Properties"]["KeyPolicy"]["Statement"] = [s for s in statements if s.get("Sid") != LOGS_SID]
    assert len(body["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]) == len(statements) - 1
    template.path.write_text(json.dumps(body))

    stack, _ = stack_for(Template.load(template.path), emulator)
    with pytest.raises(OperationFailed) as failed:
        stack.create()
    message = str(failed.value)
    [failed_at] = [lid for lid in of_type(template, "AWS::Logs::LogGroup") if f"create failed at {lid}:" in message]
    assert "AccessDeniedException" in message
    assert "The specified KMS key does not exist or is not allowed to be used with Arn 'arn:aws:logs:us-east-1:" in message
    assert stack.resources == {}, "the rollback removed everything it created"
    nothing_left(emulator)
    assert failed_at
