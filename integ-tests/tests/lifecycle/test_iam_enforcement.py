"""The lifecycle under IAM as AWS enforces it: a missing statement fails, a propagating one is waited out.

Every lifecycle test runs with IAM enforced (the emulator always enforces it). These
prove that the enforcement bites on the construct's own roles, and that the product
survives IAM's propagation delay on a new stack's first request.
"""

import json
from pathlib import Path

import pytest

from runner.stack import OperationFailed
from runner.template import Template

from .conftest import stack_for
from .test_cluster_lifecycle import CLUSTER, outcome
from .test_names_and_keys import client, encrypted, nothing_left, of_type

TASKS_ROLE = "HsmTasksFunctionServiceRole"


def without_action(template: Template, role_prefix: str, sid: str, action: str, out: Path) -> Template:
    """The template with `action` taken out of the statement `sid` of that role's policy."""
    document = json.loads(template.path.read_text())
    removed = 0
    for resource in document["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if not any(ref.get("Ref", "").startswith(role_prefix) for ref in resource["Properties"]["Roles"]):
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement.get("Sid") == sid and action in actions:
                statement["Action"] = [a for a in actions if a != action]
                removed += 1
    assert removed == 1, f"{action} in {sid} of {role_prefix}"
    path = out / template.path.name
    path.write_text(json.dumps(document))
    return Template.load(path)


def test_without_put_secret_value_the_create_fails_naming_action_role_and_resource(emulator, app, tmp_path):  # noqa: F811
    base = app()
    template = without_action(base, TASKS_ROLE, "CertificateSecrets", "secretsmanager:PutSecretValue", base.path.parent)
    stack, _ = stack_for(template, emulator, timeout=120)
    with pytest.raises(OperationFailed):
        stack.create()
    failed = outcome(stack, "Create", CLUSTER)
    assert failed.status == "FAILED"
    reason = failed.reason
    assert "secretsmanager:PutSecretValue" in reason, reason
    assert ":assumed-role/CloudHsmExample-HsmTasksFunctionServiceRole" in reason, reason
    assert ":secret:" in reason, reason
    refused = [d for d in emulator.iam_usage()["Denied"] if d["Action"] == "secretsmanager:PutSecretValue"]
    assert refused and refused[-1]["Role"].startswith("CloudHsmExample-HsmTasksFunctionServiceRole"), refused
    nothing_left(emulator)


def test_the_workflow_waits_out_iam_propagation_on_a_new_stack(emulator, app):  # noqa: F811
    # 30 emulated seconds: longer than the work from the roles' policies to the entry
    # function's first StartExecution (nothing waits in between, so the clock runs at
    # real speed), shorter than the minute the entry function retries for and than the
    # tasks' Retry on Lambda.AWSLambdaException (62 s of waits), AWS's name for a refused
    # invoke, in case the state machine's first invoke also comes within it.
    def start_refusals() -> int:
        return sum(d["Action"] == "states:StartExecution" for d in emulator.iam_usage()["Denied"])

    template, before = app(), start_refusals()
    emulator.configure_iam(propagation_seconds=30)
    stack, _ = stack_for(template, emulator, timeout=120)
    stack.create()
    assert outcome(stack, "Create", CLUSTER).status == "SUCCESS"
    assert start_refusals() > before, "the entry function's first start was refused while its policy propagated"
    stack.delete()
    nothing_left(emulator)


def test_a_restore_whose_ca_secret_is_under_another_stack_s_key_fails_naming_the_missing_grant(
    emulator,
    app,  # noqa: F811
    tmp_path,
):
    source, _ = stack_for(encrypted(tmp_path, "source"), emulator, timeout=180)
    source.create()
    source.update(encrypted(tmp_path, "emptied", hsmsPerSubnet="0"))
    [backup] = [b for b in emulator.state()["backups"] if b["BackupState"] == "READY"]
    key_id = source.resources[of_type(source.template, "AWS::KMS::Key")[0]].physical_id
    key_arn = client(emulator, "kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    source.delete()  # the CA certificate secret and the key are kept

    restored, _ = stack_for(app(sourceBackupId=backup["BackupId"]), emulator, timeout=120)
    with pytest.raises(OperationFailed):
        restored.create()
    reason = outcome(restored, "Create", CLUSTER).reason
    assert "Access to KMS is not allowed" in reason and f"kms:Decrypt on resource: {key_arn}" in reason, reason
    nothing_left(emulator)
