"""Step Functions names a failed call to Lambda as AWS does, so a workflow's Retry on
AWS's error names behaves in the emulator as it would in AWS."""

import json
import time
from typing import Any

import pytest

from conftest import STATES_TRUST

pytestmark = pytest.mark.usefixtures("executing")
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:absent"



def run(client, statements: list[dict[str, Any]], task: dict[str, Any]) -> dict[str, Any]:
    """Runs a one-task state machine as a role with these statements; the task's failure event."""
    iam, sfn = client("iam"), client("stepfunctions")
    role = iam.create_role(RoleName="machine", AssumeRolePolicyDocument=STATES_TRUST)["Role"]["Arn"]
    if statements:
        document = json.dumps({"Version": "2012-10-17", "Statement": statements})
        iam.put_role_policy(RoleName="machine", PolicyName="inline", PolicyDocument=document)
    definition = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "End": True, **task}}}
    machine = sfn.create_state_machine(name="calls", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    for _ in range(200):
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            break
        time.sleep(0.05)
    events = sfn.get_execution_history(executionArn=execution)["events"]
    [failed] = [e for e in events if e["type"] in ("LambdaFunctionFailed", "TaskFailed")]
    return failed.get("lambdaFunctionFailedEventDetails") or failed["taskFailedEventDetails"]


def test_an_invoke_the_role_may_not_make_is_lambda_aws_lambda_exception(client):
    failed = run(client, [], {"Resource": FUNCTION})
    assert failed["error"] == "Lambda.AWSLambdaException", failed
    assert "is not authorized to perform: lambda:InvokeFunction" in failed["cause"], failed
    assert "Error Code: AccessDeniedException" in failed["cause"], failed


def test_the_invoke_integration_names_it_the_same_way(client):
    task = {"Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": FUNCTION}}
    failed = run(client, [], task)
    assert failed["error"] == "Lambda.AWSLambdaException", failed


def test_an_error_lambda_s_invoke_declares_keeps_its_name(client):
    allowed = [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]
    failed = run(client, allowed, {"Resource": FUNCTION})
    assert failed["error"] == "Lambda.ResourceNotFoundException", failed
    assert "Error Code: ResourceNotFoundException" in failed["cause"], failed
