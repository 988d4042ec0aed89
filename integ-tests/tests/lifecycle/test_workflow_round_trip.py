"""A full round trip through the real entry bootstrap and moto's Step Functions interpreter.

The fixture's entry function routes Custom::Thing to a state machine whose Task
invokes the entry function again with {"Completion": ...}: Create answers SUCCESS with
PhysicalResourceId "x" and Data {"A": "1"} (read by a later resource's Fn::GetAtt),
Update and Delete go the same way.
"""

import json

from runner.cli import main
from runner.stack import with_property

from .conftest import stack_for


def test_create_update_delete_through_the_workflow(emulator, workflow_template):
    stack, out = stack_for(workflow_template, emulator)
    stack.create()
    create, workflow = stack.progress.operations[0]
    assert (create.request_type, create.outcome.status, create.outcome.physical_id) == ("Create", "SUCCESS", "x")
    assert create.outcome.data == {"A": "1"}
    assert workflow is not None and workflow.status == "SUCCEEDED"
    assert workflow.execution_arn.endswith(f":Create-{create.request_id}")
    assert (workflow.states_entered, workflow.total_states, workflow.lambda_invocations) == (2, 2, 1)
    # Fn::GetAtt Thing.A reached the parameter created after the custom resource.
    parameter = stack.resources["ThingAttribute"]
    ssm = stack.aws.client("ssm")
    assert ssm.get_parameter(Name=parameter.physical_id)["Parameter"]["Value"] == "1"

    stack.update(with_property(workflow_template, "Thing.Size=3"))
    update, _ = stack.progress.operations[1]
    assert (update.request_type, update.outcome.status, update.outcome.physical_id) == ("Update", "SUCCESS", "x")
    assert stack.resources["Thing"].properties["Size"] == 3

    stack.delete()
    delete, workflow = stack.progress.operations[2]
    assert (delete.request_type, delete.outcome.status) == ("Delete", "SUCCESS")
    assert workflow.execution_arn.endswith(f":Delete-{delete.request_id}")
    assert stack.resources == {}
    assert stack.aws.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert "Create Thing (Custom::Thing): SUCCESS" in out.getvalue()


def test_the_request_carries_string_properties(emulator, workflow_template):
    stack, _ = stack_for(workflow_template, emulator)
    stack.create()
    create, workflow = stack.progress.operations[0]
    sfn = stack.aws.client("stepfunctions")
    request = json.loads(sfn.describe_execution(executionArn=workflow.execution_arn)["input"])["Request"]
    assert request["RequestType"] == "Create" and request["LogicalResourceId"] == "Thing"
    assert request["ResourceProperties"]["Size"] == "2" and request["ResourceProperties"]["Enabled"] == "true"
    assert request["ResourceProperties"]["Nested"] == {"Zones": ["us-east-1a"], "Count": "1"}
    assert request["ResponseURL"].startswith("http://127.0.0.1:") and "X-Amz-Signature=" in request["ResponseURL"]
    stack.delete()


def test_lifecycle_command(emulator, workflow_template, capsys):
    status = main(
        ["lifecycle", "--template", str(workflow_template.path), "--endpoint", emulator.endpoint, "--set", "Thing.Size=5"]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    for step in ("CREATE", "UPDATE", "DELETE"):
        assert f"== {step} COMPLETE" in out
    summary = out[out.index("Operation  ") :].splitlines()
    assert [line.split("  ")[0] for line in summary[1:4]] == [
        "Create Thing (Custom::Thing)",
        "Update Thing (Custom::Thing)",
        "Delete Thing (Custom::Thing)",
    ]
    assert all("SUCCESS" in line for line in summary[1:4])
