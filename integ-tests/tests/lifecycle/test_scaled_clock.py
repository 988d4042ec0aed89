"""Step Functions and the handlers on the emulator's clock, and the status change events.

The emulated clock is the real clock plus what waits skipped: work counts at real speed,
a Wait state or Retry interval of N AWS seconds lasts N / time_scale real seconds and
moves the clock N seconds (concurrent waits once), and the execution timeout, scheduled
state changes and `$$.Execution.StartTime` are on that clock. A forwarded function is
told where the clock is (`CDK_CLOUDHSM_EMULATOR_CLOCK`); an execution that ends sends its
"Step Functions Execution Status Change" event to the Lambda targets of matching rules
whose resource policy lets EventBridge invoke them.
"""

import io
import json
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from emulator.core.runtime import RUNTIME
from emulator.events import delivery

FAKE = Path(__file__).resolve().parent / "fixtures" / "fake_bootstrap.py"
ROLE = "arn:aws:iam::123456789012:role/sfn"


def aws(emulator, service: str):
    return boto3.client(
        service, endpoint_url=emulator.endpoint, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def function(emulator, tmp_path) -> str:
    """A function `fake` forwarded to the fake bootstrap; answers its ARN."""
    bootstrap = tmp_path / "bootstrap"
    bootstrap.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
    bootstrap.chmod(0o755)
    role = aws(emulator, "iam").create_role(RoleName="fake", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("bootstrap", "")
    arn = aws(emulator, "lambda").create_function(
        FunctionName="fake", Runtime="provided.al2023", Role=role, Handler="bootstrap", Code={"ZipFile": code.getvalue()},
        Timeout=2, MemorySize=128,
    )["FunctionArn"]
    emulator.register_lambda("fake", str(bootstrap), {})
    return arn


def run(emulator, definition: dict, name: str) -> dict:
    """Start an execution of a new machine and wait (real seconds) for its end."""
    executing = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/config", data=executing, method="POST", headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).read()
    sfn = aws(emulator, "stepfunctions")
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name=f"{name}-1", input='{"Request": {}}')["executionArn"]
    for _ in range(200):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError(f"{execution} still runs")


def clock(emulator) -> float:
    with urllib.request.urlopen(f"{emulator.endpoint}/_emulator/clock", timeout=10) as response:
        return float(json.loads(response.read())["now"])


def test_the_handlers_are_told_where_the_emulators_clock_is(emulator, function):
    lam = aws(emulator, "lambda")
    told = json.loads(lam.invoke(FunctionName="fake", Payload=b'{"env": "CDK_CLOUDHSM_EMULATOR_CLOCK"}')["Payload"].read())
    assert f"http://{told['env']}" == emulator.endpoint
    emulator.configure(time_scale=600)
    again = json.loads(lam.invoke(FunctionName="fake", Payload=b'{"env": "CDK_CLOUDHSM_EMULATOR_CLOCK"}')["Payload"].read())
    assert again["pid"] == told["pid"], "a new time scale needs no new process: the clock is asked, not computed"


def test_work_counts_at_real_speed(emulator):
    before = clock(emulator)
    time.sleep(0.2)
    elapsed = clock(emulator) - before
    assert 0.2 <= elapsed < 5, f"0.2 real seconds without a wait are {elapsed} emulated seconds, not 0.2 x 10000"


def test_concurrent_waits_move_the_clock_once(emulator):
    emulator.configure(time_scale=6000)
    before = clock(emulator)
    pause = {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 1200, "End": True}}}
    ended: list[dict] = []
    runs = [threading.Thread(target=lambda n=n: ended.append(run(emulator, pause, f"together{n}"))) for n in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    assert [e["status"] for e in ended] == ["SUCCEEDED", "SUCCEEDED"]
    elapsed = clock(emulator) - before
    assert 1200 <= elapsed < 2000, f"two 20-minute waits side by side took {elapsed} emulated seconds"
    started = [e["startDate"].timestamp() for e in ended]
    stopped = [e["stopDate"].timestamp() for e in ended]
    assert all(1200 <= b - a < 2000 for a, b in zip(started, stopped, strict=True)), (started, stopped)


def test_a_scheduled_change_is_due_when_the_clock_passes_it(emulator):
    emulator.configure(time_scale=1)  # the real-time path would take 15 minutes
    changed: list[bool] = []
    RUNTIME.schedule("hsm_create", lambda: changed.append(True))
    RUNTIME.advance()
    assert changed == []
    RUNTIME.advance_to(RUNTIME.now() + 900)
    RUNTIME.advance()
    assert changed == [True]


def test_a_wait_passes_at_real_speed_while_work_it_may_wait_for_runs(emulator):
    emulator.configure(time_scale=6000)  # a minute is 10 ms
    released = threading.Event()

    def command() -> None:
        with RUNTIME.busy():
            released.wait(0.3)

    worker = threading.Thread(target=command)
    before, started = RUNTIME.now(), time.monotonic()
    worker.start()
    time.sleep(0.01)
    assert RUNTIME.wait(60)
    worker.join()
    assert time.monotonic() - started >= 0.25, "the 0.3 s of work counted once, not 6000 times"
    assert 60 <= RUNTIME.now() - before < 65


def test_without_real_due_a_latency_is_due_on_the_emulated_clock_only_and_each_change_is_kept(emulator):
    emulator.configure(time_scale=1000, real_due=False)  # its scaled real time is 0.9 s
    changed: list[bool] = []
    due = RUNTIME.schedule("hsm_create", lambda: changed.append(True))
    time.sleep(1.0)
    RUNTIME.advance()
    assert changed == [], "with real_due off, scaled real time does not make a latency due"
    RUNTIME.advance_to(due)
    with urllib.request.urlopen(f"{emulator.endpoint}/_emulator/changes", timeout=10) as response:
        changes = json.loads(response.read())["changes"]
    assert changed == [True]
    assert changes[-1] == {"latency": "hsm_create", "at": due}
    emulator.reset()
    assert RUNTIME.real_due and RUNTIME.changes == []


def test_waits_take_aws_seconds_on_the_emulators_clock(emulator):
    emulator.configure(time_scale=6000)
    started = time.monotonic()
    ended = run(emulator, {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 1200, "End": True}}}, "pause")
    assert ended["status"] == "SUCCEEDED"
    assert 0.15 <= time.monotonic() - started < 3, "20 AWS minutes are 0.2 s at 6000 times AWS's pace"


def test_a_timed_out_execution_sends_its_event_to_a_permitted_target_only(emulator, function):
    emulator.configure(time_scale=6000)
    events, lam = aws(emulator, "events"), aws(emulator, "lambda")
    pattern = {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
               "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"]}}
    allowed = events.put_rule(Name="allowed", EventPattern=json.dumps(pattern))["RuleArn"]
    events.put_targets(Rule="allowed", Targets=[{"Id": "fn", "Arn": function}])
    lam.add_permission(FunctionName="fake", StatementId="events", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=allowed)
    events.put_rule(Name="unpermitted", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="unpermitted", Targets=[{"Id": "fn", "Arn": function}])
    before = len(delivery.delivered)
    ended = run(emulator, {"StartAt": "Pause", "TimeoutSeconds": 600,
                           "States": {"Pause": {"Type": "Wait", "Seconds": 36000, "End": True}}}, "slow")
    assert ended["status"] == "TIMED_OUT", "10 AWS minutes are 0.1 s"
    for _ in range(100):
        if len(delivery.delivered) > before:
            break
        time.sleep(0.02)
    time.sleep(0.1)
    sent = delivery.delivered[before:]
    assert [d["Rule"] for d in sent] == [allowed], "the rule whose target lacks the permission delivers nothing"
    detail = sent[0]["Event"]["detail"]
    assert (detail["status"], detail["name"], json.loads(detail["input"])) == ("TIMED_OUT", "slow-1", {"Request": {}})
    assert sent[0]["Event"]["detail-type"] == "Step Functions Execution Status Change"
