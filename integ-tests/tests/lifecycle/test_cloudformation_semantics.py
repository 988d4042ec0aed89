"""The runner plays CloudFormation's rollbacks, cancelled creates and retention policies.

The custom resources here are served by fixtures/scripted_resource.py, which answers
as its properties say and writes every request it gets to a journal, so each test sees
exactly which requests CloudFormation would have sent, with which physical ids and
properties, and the stack status it would report.
"""

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from runner import provision
from runner.assets import asset_folder
from runner.custom import CANCELLED
from runner.stack import OperationFailed, Stack
from runner.template import Template

from .conftest import stack_for

SCRIPT = Path(__file__).resolve().parent / "fixtures" / "scripted_resource.py"


@pytest.fixture(autouse=True)
def scripted_bootstrap(monkeypatch):
    """Functions run the bootstrap in their own asset folder (the scripted resource), not a built handler."""
    monkeypatch.setattr(
        provision,
        "host_bootstrap",
        lambda asset_dir, logical_id, resource: asset_folder(asset_dir, logical_id, resource) / "bootstrap",
    )


class Scripted:
    """Templates of scripted custom resources in one cdk.out-like folder, and their journal."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.journal = folder / "journal.jsonl"
        asset = folder / "asset.scripted"
        asset.mkdir()
        (asset / "bootstrap").write_text(f"#!{sys.executable}\n" + SCRIPT.read_text())
        (asset / "bootstrap").chmod(0o755)
        self.count = 0

    def thing(self, depends_on: list[str] | None = None, policy: str | None = None, **props: Any) -> dict[str, Any]:
        """A scripted custom resource."""
        resource: dict[str, Any] = {
            "Type": "Custom::Thing",
            "Properties": {"ServiceToken": {"Fn::GetAtt": ["Function", "Arn"]}, "Journal": str(self.journal), **props},
        }
        if depends_on:
            resource["DependsOn"] = depends_on
        if policy:
            resource["DeletionPolicy"] = policy
        return resource

    def template(self, resources: dict[str, Any]) -> Template:
        """The function, its role, and these resources."""
        body = {
            "Resources": {
                "Role": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "AssumeRolePolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
                            ],
                        }
                    },
                },
                "Function": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Code": {"S3Bucket": "assets", "S3Key": "scripted.zip"},
                        "Handler": "bootstrap",
                        "Runtime": "provided.al2023",
                        "Timeout": 30,
                        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    },
                    "Metadata": {"aws:asset:path": "asset.scripted"},
                },
                **copy.deepcopy(resources),
            }
        }
        self.count += 1
        path = self.folder / f"Scripted{self.count}" / "Scripted.template.json"
        path.parent.mkdir()
        (path.parent / "asset.scripted").symlink_to(self.folder / "asset.scripted")
        path.write_text(json.dumps(body))
        return Template.load(path)

    def requests(self) -> list[tuple[str, str | None, dict[str, Any], dict[str, Any] | None]]:
        """(type, physical id, properties without ServiceToken and Journal, old properties) of every request."""

        def strip(props: dict[str, Any] | None) -> dict[str, Any] | None:
            return None if props is None else {k: v for k, v in props.items() if k not in ("ServiceToken", "Journal")}

        if not self.journal.exists():
            return []
        entries = [json.loads(line) for line in self.journal.read_text().splitlines()]
        return [
            (e["RequestType"], e["PhysicalResourceId"], strip(e["ResourceProperties"]), strip(e["OldResourceProperties"]))
            for e in entries
        ]


@pytest.fixture
def scripted(tmp_path) -> Scripted:
    return Scripted(tmp_path)


def answered_once(stack: Stack) -> None:
    """Every request the runner sent got exactly one response (a cancelled create: at most one, ignored)."""
    operations = [op for op, _ in stack.progress.operations]
    assert len({op.request_id for op in operations}) == len(operations)
    for op in operations:
        assert op.outcome is not None
        received = stack.driver.responses.count(op.request_id)
        expected = (0, 1) if op.outcome.reason == CANCELLED else (1,)
        assert received in expected, f"{op.label}: {received} responses"


def test_a_failed_update_sends_the_failed_resource_its_rollback_update(emulator, scripted):
    stack, out = stack_for(scripted.template({"Thing": scripted.thing(Size=2, RefuseSize=3)}), emulator)
    stack.create()
    assert stack.status == "CREATE_COMPLETE"
    with pytest.raises(OperationFailed) as failed:
        stack.update(scripted.template({"Thing": scripted.thing(Size=3, RefuseSize=3)}))
    assert "Size 3 is refused" in str(failed.value)
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    # The rollback Update goes to the resource that failed, old and new properties swapped.
    assert scripted.requests() == [
        ("Create", None, {"Size": "2", "RefuseSize": "3"}, None),
        ("Update", "thing-Thing", {"Size": "3", "RefuseSize": "3"}, {"Size": "2", "RefuseSize": "3"}),
        ("Update", "thing-Thing", {"Size": "2", "RefuseSize": "3"}, {"Size": "3", "RefuseSize": "3"}),
    ]
    assert stack.resources["Thing"].properties["Size"] == 2
    assert stack.resources["Thing"].attributes == {"Size": "2"}
    answered_once(stack)
    assert "UPDATE_ROLLBACK_COMPLETE" in out.getvalue()
    stack.delete()
    assert stack.status == "DELETE_COMPLETE"


def test_a_resource_that_refuses_its_rollback_leaves_the_stack_update_rollback_failed(emulator, scripted):
    stack, _ = stack_for(scripted.template({"Thing": scripted.thing(Size=2)}), emulator)
    stack.create()
    with pytest.raises(OperationFailed) as failed:
        stack.update(scripted.template({"Thing": scripted.thing(Size=3, RefuseUpdates="true")}))
    assert stack.status == "UPDATE_ROLLBACK_FAILED"
    assert "the rollback also failed: rollback Update Thing FAILED: RefuseUpdates is set" in str(failed.value)
    assert [r[0] for r in scripted.requests()] == ["Create", "Update", "Update"]
    answered_once(stack)


def test_an_update_rollback_reverts_every_updated_resource_and_deletes_what_it_created(emulator, scripted):
    old = {"First": scripted.thing(Size=1), "Second": scripted.thing(Size=1, RefuseSize=2, depends_on=["First"])}
    stack, _ = stack_for(scripted.template(old), emulator)
    stack.create()
    new = {
        "First": scripted.thing(Size=2),
        "Added": scripted.thing(Size=1, depends_on=["First"]),
        "AddedKeepOnce": scripted.thing(Size=1, depends_on=["First"], policy="RetainExceptOnCreate"),
        "AddedRetained": scripted.thing(Size=1, depends_on=["First"], policy="Retain"),
        "Second": scripted.thing(Size=2, RefuseSize=2, depends_on=["Added", "AddedKeepOnce", "AddedRetained"]),
    }
    with pytest.raises(OperationFailed):
        stack.update(scripted.template(new))
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    after_create = scripted.requests()[2:]
    assert [(kind, pid, props.get("Size"), old and old.get("Size")) for kind, pid, props, old in after_create] == [
        ("Update", "thing-First", "2", "1"),
        ("Create", None, "1", None),  # Added
        ("Create", None, "1", None),  # AddedKeepOnce
        ("Create", None, "1", None),  # AddedRetained
        ("Update", "thing-Second", "2", "1"),  # refused
        # Rollback: the failed resource first, then the one updated before it.
        ("Update", "thing-Second", "1", "2"),
        ("Update", "thing-First", "1", "2"),
        # Cleanup of what the update created: RetainExceptOnCreate is deleted too, Retain is kept.
        ("Delete", "thing-AddedKeepOnce", "1", None),
        ("Delete", "thing-Added", "1", None),
    ]
    assert set(stack.resources) == {"Role", "Function", "First", "Second"}
    answered_once(stack)


def test_a_create_cancelled_by_another_failure_gets_a_delete_with_a_generated_physical_id(emulator, scripted):
    template = scripted.template(
        {
            "Thing": scripted.thing(Size=1, CreateSeconds=3, depends_on=["Function"]),
            # Fails at once while Thing is still creating: nothing ties the two.
            "Broken": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": "vpc-0missing", "CidrBlock": "10.9.0.0/24"},
                "DependsOn": ["Function"],
            },
        }
    )
    stack, out = stack_for(template, emulator)
    with pytest.raises(OperationFailed) as failed:
        stack.create()
    assert "Broken (AWS::EC2::Subnet): create failed" in str(failed.value)
    assert stack.status == "ROLLBACK_COMPLETE"
    cancelled = [op for op, _ in stack.progress.operations if op.request_type == "Create"]
    assert [(op.logical_id, op.outcome.status, op.outcome.reason) for op in cancelled] == [("Thing", "FAILED", CANCELLED)]
    [delete] = [op for op, _ in stack.progress.operations if op.request_type == "Delete"]
    assert delete.outcome.status == "SUCCESS"
    generated = delete.outcome.physical_id
    assert re.fullmatch(r"Scripted-Thing-[A-Z0-9]{12}", generated), generated
    # The function got the Create (still running when the Delete came) and the Delete with the generated id.
    requests = scripted.requests()
    assert sorted((kind, pid) for kind, pid, _, _ in requests) == [("Create", None), ("Delete", generated)]
    assert f"CREATE_FAILED Thing: {CANCELLED}" in out.getvalue()
    assert stack.resources == {}
    answered_once(stack)


def test_a_create_rollback_keeps_retain_and_deletes_retain_except_on_create(emulator, scripted):
    template = scripted.template(
        {
            "Kept": scripted.thing(Size=1, policy="Retain"),
            "KeptOnce": scripted.thing(Size=1, policy="RetainExceptOnCreate"),
            "Parameter": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/scripted/kept-once", "Type": "String", "Value": "v"},
                "DeletionPolicy": "RetainExceptOnCreate",
            },
            "Failing": scripted.thing(Size=1, FailCreate="true", depends_on=["Kept", "KeptOnce", "Parameter"]),
        }
    )
    stack, _ = stack_for(template, emulator)
    with pytest.raises(OperationFailed):
        stack.create()
    assert stack.status == "ROLLBACK_COMPLETE"
    deletes = [(kind, pid) for kind, pid, _, _ in scripted.requests() if kind == "Delete"]
    assert deletes == [("Delete", "thing-Failing"), ("Delete", "thing-KeptOnce")]
    ssm = stack.aws.client("ssm")
    assert ssm.get_parameters(Names=["/scripted/kept-once"])["Parameters"] == [], "deleted: created by the rolled back create"
    answered_once(stack)


def test_a_stack_delete_keeps_both_retaining_policies(emulator, scripted):
    template = scripted.template(
        {
            "Kept": scripted.thing(Size=1, policy="Retain"),
            "KeptOnce": scripted.thing(Size=1, policy="RetainExceptOnCreate"),
            "Gone": scripted.thing(Size=1),
            "Parameter": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/scripted/kept", "Type": "String", "Value": "v"},
                "DeletionPolicy": "RetainExceptOnCreate",
            },
        }
    )
    stack, out = stack_for(template, emulator)
    stack.create()
    stack.delete()
    assert stack.status == "DELETE_COMPLETE"
    assert [(kind, pid) for kind, pid, _, _ in scripted.requests() if kind == "Delete"] == [("Delete", "thing-Gone")]
    assert "DELETE_SKIPPED KeptOnce: DeletionPolicy RetainExceptOnCreate" in out.getvalue()
    assert stack.aws.client("ssm").get_parameter(Name="/scripted/kept")["Parameter"]["Value"] == "v"


def test_a_replaced_resource_is_deleted_unless_its_update_replace_policy_retains_it(emulator, scripted):
    kept = {**scripted.thing(Size=1, Name="kept-1"), "UpdateReplacePolicy": "Retain"}
    old = {
        "Kept": kept,
        "Gone": scripted.thing(Size=1, Name="gone-1"),
        "Dropped": scripted.thing(Size=1, policy="RetainExceptOnCreate"),
    }
    stack, out = stack_for(scripted.template(old), emulator)
    stack.create()
    new = {
        "Kept": {**scripted.thing(Size=1, Name="kept-2"), "UpdateReplacePolicy": "Retain"},
        "Gone": scripted.thing(Size=1, Name="gone-2"),
    }
    stack.update(scripted.template(new))
    assert stack.status == "UPDATE_COMPLETE"
    assert (stack.resources["Kept"].physical_id, stack.resources["Gone"].physical_id) == ("kept-2", "gone-2")
    deletes = [pid for kind, pid, _, _ in scripted.requests() if kind == "Delete"]
    # The replaced old ids: only Gone's; Dropped left the template under RetainExceptOnCreate: kept.
    assert deletes == ["gone-1"]
    assert "DELETE_SKIPPED Kept kept-1: UpdateReplacePolicy Retain" in out.getvalue()
    assert "Dropped" not in stack.resources


def test_a_replacement_that_is_rolled_back_deletes_the_new_resource(emulator, scripted):
    old = {
        "Replaced": scripted.thing(Size=1, Name="old"),
        "Refusing": scripted.thing(Size=1, RefuseSize=2, depends_on=["Replaced"]),
    }
    stack, _ = stack_for(scripted.template(old), emulator)
    stack.create()
    new = {
        "Replaced": scripted.thing(Size=1, Name="new"),
        "Refusing": scripted.thing(Size=2, RefuseSize=2, depends_on=["Replaced"]),
    }
    with pytest.raises(OperationFailed):
        stack.update(scripted.template(new))
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    tail = [(kind, pid) for kind, pid, _, _ in scripted.requests()][2:]
    assert tail == [("Update", "old"), ("Update", "thing-Refusing"), ("Update", "thing-Refusing"), ("Delete", "new")]
    assert stack.resources["Replaced"].physical_id == "old"
