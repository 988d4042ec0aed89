"""Lambda forwarding: invocations run a bootstrap under the emulator's Runtime API.

The bootstrap is fixtures/fake_bootstrap.py, a Python implementation of the runtime
loop, installed into tmp_path as an executable `bootstrap`.
"""

import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from emulator.awslambda import models as lambda_models

FAKE = Path(__file__).resolve().parent / "fixtures" / "fake_bootstrap.py"


@pytest.fixture
def client(emulator):
    def make(service: str):
        return boto3.client(
            service,
            endpoint_url=emulator.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),
        )

    return make


@pytest.fixture
def function(emulator, client, tmp_path) -> str:
    """A moto function `fake` (timeout 2 s) forwarded to the fake bootstrap."""
    bootstrap = tmp_path / "bootstrap"
    bootstrap.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
    bootstrap.chmod(0o755)
    role = client("iam").create_role(RoleName="fake", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("bootstrap", "")
    client("lambda").create_function(
        FunctionName="fake",
        Runtime="provided.al2023",
        Role=role,
        Handler="bootstrap",
        Code={"ZipFile": code.getvalue()},
        Timeout=2,
        MemorySize=256,
    )
    emulator.register_lambda("fake", str(bootstrap), {"GREETING": "hello"})
    return "fake"


def invoke(client, payload: dict, **kwargs) -> tuple[str | None, dict]:
    response = client("lambda").invoke(FunctionName="fake", Payload=json.dumps(payload).encode(), **kwargs)
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_sync_invocations_reach_a_warm_process_with_the_lambda_environment(client, function):
    error, first = invoke(client, {"echo": [1, 2], "env": "GREETING"})
    assert error is None and first["echo"] == [1, 2] and first["env"] == "hello"
    assert first["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:fake"
    assert first["deadline_ms"] / 1000 == pytest.approx(time.time() + 2, abs=1.5)
    _, second = invoke(client, {"env": "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"})
    assert second["pid"] == first["pid"] and second["env"] == "256"
    assert second["request_id"] != first["request_id"]
    for name, expected in (("AWS_REGION", "us-east-1"), ("AWS_MAX_ATTEMPTS", "2"), ("AWS_LAMBDA_FUNCTION_NAME", "fake")):
        assert invoke(client, {"env": name})[1]["env"] == expected
    assert invoke(client, {"env": "AWS_ENDPOINT_URL"})[1]["env"].startswith("http://127.0.0.1:")


def test_errors_are_unhandled_with_the_posted_payload(client, function):
    error, payload = invoke(client, {"fail": "the disk is full"})
    assert error == "Unhandled" and payload == {"errorType": "Boom", "errorMessage": "the disk is full"}


def test_a_process_that_dies_is_an_exit_error_and_is_restarted(client, function):
    pid = invoke(client, {})[1]["pid"]
    error, payload = invoke(client, {"exit": 3})
    assert error == "Unhandled" and payload["errorType"] == "Runtime.ExitError" and "exit status 3" in payload["errorMessage"]
    assert invoke(client, {})[1]["pid"] != pid


def test_the_function_timeout_is_enforced(client, function):
    started = time.monotonic()
    error, payload = invoke(client, {"sleep": 10})
    assert time.monotonic() - started < 5
    assert error == "Unhandled" and payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in payload["errorMessage"]
    assert invoke(client, {"echo": "after"})[1]["echo"] == "after"


def test_event_invocations_answer_202_and_run_in_the_background(emulator, client, function):
    response = client("lambda").invoke(FunctionName="fake", InvocationType="Event", Payload=b'{"echo": "async-42"}')
    assert response["StatusCode"] == 202
    log_file = lambda_models.log_path("fake")
    deadline = time.monotonic() + 5
    while "async-42" not in log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 'event {"echo": "async-42"}' in log_file.read_text()


def test_step_functions_tasks_reach_the_bootstrap(emulator, client, function):
    urllib.request.urlopen(
        urllib.request.Request(
            f"{emulator.endpoint}/moto-api/config", data=b'{"stepfunctions": {"execute_state_machine": true}}', method="POST"
        )
    ).read()
    sfn = client("stepfunctions")
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "fake", "Payload": {"echo.$": "$.value"}},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    # The state machine's role must allow the invoke: its tasks sign as that role.
    iam = client("iam")
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    invoke_fake = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:*:*:function:fake"}
    iam.put_role_policy(
        RoleName="sfn",
        PolicyName="invoke",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [invoke_fake]}),
    )
    arn = sfn.create_state_machine(name="calls-fake", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1", input='{"value": "from-sfn"}')["executionArn"]
    deadline = time.monotonic() + 10
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["echo"] == "from-sfn"


def test_registration_errors_and_reset_stops_the_processes(emulator, client, function):
    with pytest.raises(ValueError, match="absolute path to an executable"):
        emulator.register_lambda("fake", "relative/bootstrap")
    request = urllib.request.Request(
        f"{emulator.endpoint}/_emulator/lambda/register", data=b'{"FunctionName": "x"}', method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400
    pid = invoke(client, {})[1]["pid"]
    emulator.reset()
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Whether the process exists (the emulator reaps its children)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
