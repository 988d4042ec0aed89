"""Knobs over HTTP (config, reset, state), fault injection, and the launcher."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_PASSWORD, TIME_SCALE, ZONES, wait_for

INTEG_TESTS = Path(__file__).resolve().parents[2]


def post(endpoint: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        endpoint + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def get(endpoint: str, path: str) -> dict:
    with urllib.request.urlopen(endpoint + path) as response:
        return json.loads(response.read())


def test_config_over_http_and_validation(emulator):
    status, config = post(emulator.endpoint, "/_emulator/config", {"time_scale": 60, "faults": {"hsm_quota": 3}})
    assert status == 200 and config["time_scale"] == 60 and config["faults"]["hsm_quota"] == 3
    assert get(emulator.endpoint, "/_emulator/config") == config
    status, error = post(emulator.endpoint, "/_emulator/config", {"faults": {"hsm_quota": "many"}})
    assert status == 400 and "hsm_quota" in error["error"]
    status, error = post(emulator.endpoint, "/_emulator/config", {"faults": {"meteor": 1}})
    assert status == 400 and "meteor" in error["error"]


def test_reset_drops_state_and_restores_config(lab, emulator):
    lab.create_cluster()
    post(emulator.endpoint, "/_emulator/config", {"time_scale": 5, "faults": {"hsm_quota": 1}})
    status, _ = post(emulator.endpoint, "/_emulator/reset", {})
    assert status == 200
    state = get(emulator.endpoint, "/_emulator/state")
    assert state["clusters"] == [] and state["config"]["time_scale"] == TIME_SCALE
    assert state["config"]["faults"]["hsm_quota"] is None
    assert lab.vpc_id not in {vpc["VpcId"] for vpc in lab.ec2.describe_vpcs()["Vpcs"]}  # moto was reset too


def test_state_snapshot_lists_users_without_passwords(lab, emulator):
    cluster_id, _ = lab.active_cluster(hsms=1)
    state = get(emulator.endpoint, "/_emulator/state")
    [cluster] = state["clusters"]
    assert cluster["ClusterId"] == cluster_id and cluster["State"] == "ACTIVE"
    assert cluster["Users"] == [{"username": "admin", "role": "admin", "logged_in": False}]
    assert ADMIN_PASSWORD not in json.dumps(state)
    # Writing customerCA.crt, then the activation.
    assert [c["Status"] for c in state["commands"]] == ["Success", "Success"]


def test_throttling_fault_hits_a_fraction_of_one_service(lab, emulator, kms):
    emulator.configure(faults={"throttle": {"cloudhsmv2": 0.5}})
    outcomes = []
    for _ in range(4):
        try:
            lab.hsm.describe_clusters()
            outcomes.append("ok")
        except ClientError as err:
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            outcomes.append(err.response["Error"]["Code"])
    assert outcomes == ["ok", "ThrottlingException", "ok", "ThrottlingException"]
    assert kms.list_keys()["Keys"] == []
    assert emulator.state()["throttled"] == {"cloudhsm": 2}, "counted under the signing name"


def test_the_runner_plays_cloudformation_whose_calls_are_not_throttled(emulator):
    from runner.aws import Aws

    emulator.configure(faults={"throttle": {"cloudhsmv2": 1.0}})
    runner = Aws(emulator.endpoint, "Throttled")
    assert runner.client("cloudhsmv2").describe_clusters()["Clusters"] == []
    assert emulator.state()["throttled"] == {}


def test_hsm_degraded_fault(lab, emulator):
    emulator.configure(faults={"hsm_degraded": 2})
    cluster_id, _ = lab.active_cluster(hsms=1)
    lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[1])
    states = wait_for(
        lambda: (s := [h["State"] for h in lab.cluster(cluster_id)["Hsms"]]) and "CREATE_IN_PROGRESS" not in s and s,
        what="HSMs settled",
    )
    assert states == ["ACTIVE", "DEGRADED"]


def test_hsm_replaced_before_init_changes_csr(lab, emulator):
    emulator.configure(faults={"hsm_replaced_before_init": 1})
    cluster_id = lab.create_cluster()
    first = lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[0])["Hsm"]
    old_csr = lab.csr(cluster_id)
    stale = lab.ca.sign(old_csr)
    replaced = lab.cluster(cluster_id)["Hsms"]
    assert [h["HsmId"] for h in replaced] != [first["HsmId"]] and replaced[0]["EniId"] != first["EniId"]
    new_csr = lab.csr(cluster_id)
    assert new_csr != old_csr
    with pytest.raises(ClientError, match="public key differs"):
        lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=stale, TrustAnchor=lab.ca.pem)
    lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=lab.ca.sign(new_csr), TrustAnchor=lab.ca.pem)
    lab.wait_cluster(cluster_id, "INITIALIZED")


def test_command_fails_fault(lab, emulator):
    emulator.configure(faults={"command_fails": [{"match": "cluster activate", "stderr": "HSM unreachable", "exit_code": 7}]})
    cluster_id, ip = lab.initialized_cluster()
    result = lab.run(f"/opt/cloudhsm/bin/configure-cli -a {ip}", f"cloudhsm-cli cluster activate --password {ADMIN_PASSWORD}")
    assert (result["Status"], result["ResponseCode"], result["StandardErrorContent"]) == ("Failed", 7, "HSM unreachable")
    assert lab.cluster(cluster_id)["State"] == "INITIALIZED"
    assert lab.run("echo unaffected")["Status"] == "Success"


def test_hsm_quota_fault(lab, emulator):
    emulator.configure(faults={"hsm_quota": 2})
    cluster_id, _ = lab.active_cluster(hsms=2)
    with pytest.raises(ClientError) as excinfo:
        lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[2])
    assert excinfo.value.response["Error"]["Code"] == "CloudHsmResourceLimitExceededException"


def test_default_time_scale_lifecycle_timing(lab, emulator):
    emulator.configure(time_scale=300)
    started = time.monotonic()
    cluster_id = lab.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=lab.subnets)["Cluster"]["ClusterId"]
    lab.wait_cluster(cluster_id, "UNINITIALIZED")
    assert 0.9 <= time.monotonic() - started < 3  # 300 s / 300


def test_launcher_prints_ready_and_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0"],
        cwd=INTEG_TESTS,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("EMULATOR_READY http://127.0.0.1:")
        endpoint = line.split()[1]
        assert get(endpoint, "/_emulator/config")["time_scale"] == 300
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()


def test_lambda_fault_rules_are_checked(emulator):
    with pytest.raises(Exception, match="mode is"):
        emulator.configure(faults={"lambda_fails": [{"function": "x", "mode": "explode"}]})
    config = emulator.configure(faults={"lambda_fails": {"function": "Tasks", "nth": 2, "times": 3, "mode": "timeout"}})
    assert config["faults"]["lambda_fails"] == [{"function": "Tasks", "nth": 2, "times": 3, "mode": "timeout"}]
    config = emulator.configure(faults={"lambda_fails": {"function": "Tasks", "mode": "crash_after"}})
    assert config["faults"]["lambda_fails"] == [{"function": "Tasks", "nth": 1, "times": 1, "mode": "crash_after"}]
    config = emulator.configure(faults={"lambda_fails": {"function": "Tasks", "step": "IssueCertificate"}})
    assert config["faults"]["lambda_fails"] == [
        {"function": "Tasks", "nth": 1, "times": 1, "mode": "crash", "step": "IssueCertificate"}
    ]


def test_stuck_resource_faults(lab, emulator, ssm):
    emulator.configure(faults={"hsm_stuck_creating": 1, "cluster_stuck_deleting": True})
    cluster_id = lab.create_cluster()
    stuck = lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[0])["Hsm"]["HsmId"]
    time.sleep(1800 / TIME_SCALE)  # twice as long as an HSM takes
    assert [(h["HsmId"], h["State"]) for h in lab.cluster(cluster_id)["Hsms"]] == [(stuck, "CREATE_IN_PROGRESS")]
    lab.hsm.delete_hsm(ClusterId=cluster_id, HsmId=stuck)  # a stuck HSM can still be deleted
    wait_for(lambda: lab.cluster(cluster_id)["Hsms"] == [], what="HSM deleted")
    lab.hsm.delete_cluster(ClusterId=cluster_id)
    time.sleep(600 / TIME_SCALE)
    assert lab.cluster(cluster_id)["State"] == "DELETE_IN_PROGRESS"
    assert get(emulator.endpoint, "/_emulator/config")["faults"]["cluster_stuck_deleting"] is True


def test_command_and_registration_faults(lab, emulator, ssm):
    emulator.configure(faults={"command_hangs": ["sleepless"]})
    assert lab.run("echo fine")["Status"] == "Success"
    command = ssm.send_command(InstanceIds=[lab.instance_id], DocumentName="AWS-RunShellScript",
                               Parameters={"commands": ["echo sleepless"]})["Command"]["CommandId"]
    time.sleep(0.3)
    invocation = ssm.get_command_invocation(CommandId=command, InstanceId=lab.instance_id)
    assert invocation["Status"] == "InProgress"
    emulator.configure(faults={"instances_unregistered": True})
    with pytest.raises(ClientError) as excinfo:
        ssm.send_command(InstanceIds=[lab.instance_id], DocumentName="AWS-RunShellScript",
                         Parameters={"commands": ["echo hi"]})
    assert excinfo.value.response["Error"]["Code"] == "InvalidInstanceId"
    assert ssm.describe_instance_information()["InstanceInformationList"] == []
    status, answer = post(emulator.endpoint, "/_emulator/config", {"faults": {"instances_unregistered": "yes"}})
    assert status == 400 and "instances_unregistered must be true or false" in json.dumps(answer)
