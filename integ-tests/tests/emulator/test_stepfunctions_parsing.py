"""A definition is parsed once (emulator/stepfunctions/parsing.py); each execution still
evaluates on its own, and a definition that does not parse is still refused."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import wait_for

pytestmark = pytest.mark.usefixtures("executing")
# Each item goes through a Choice and a Pass that reads it: state that a shared evaluation would mix up.
DEFINITION = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "StartAt": "Big",
                "States": {
                    "Big": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$", "NumericGreaterThan": 10, "Next": "Large"}],
                        "Default": "Small",
                    },
                    "Large": {"Type": "Pass", "Parameters": {"size": "large", "n.$": "$"}, "End": True},
                    "Small": {"Type": "Pass", "Parameters": {"size": "small", "n.$": "$"}, "End": True},
                },
            },
            "End": True,
        }
    },
}


def test_executions_of_one_definition_each_evaluate_their_own_input(client, states_role):
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name="sizes", definition=json.dumps(DEFINITION), roleArn=states_role)["stateMachineArn"]
    inputs = [[1, 20, 3], [50], [7, 8]]
    executions = [
        sfn.start_execution(stateMachineArn=machine, name=f"run-{n}", input=json.dumps({"items": i}))["executionArn"]
        for n, i in enumerate(inputs)
    ]
    outputs = []
    for arn in executions:
        wait_for(lambda arn=arn: sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED", what="the execution")
        outputs.append(json.loads(sfn.describe_execution(executionArn=arn)["output"]))
    assert outputs == [
        [{"size": "small", "n": 1}, {"size": "large", "n": 20}, {"size": "small", "n": 3}],
        [{"size": "large", "n": 50}],
        [{"size": "small", "n": 7}, {"size": "small", "n": 8}],
    ]


def test_a_definition_that_does_not_parse_is_refused_each_time(client, states_role):
    sfn = client("stepfunctions")
    broken = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Nxt": "B"}}})
    for name in ("first", "second"):
        with pytest.raises(ClientError) as refused:
            sfn.create_state_machine(name=name, definition=broken, roleArn=states_role)
        assert refused.value.response["Error"]["Code"] == "InvalidDefinition", refused.value.response
