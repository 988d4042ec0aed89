"""The emulator's rules, checked through the Rust SDK clients the handlers use.

Each Rust test in integ-tests/conformance runs against a freshly reset emulator with
a VPC, one subnet per zone and a client instance made here, told to it through
environment variables.
"""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import ZONES

REPO = Path(__file__).resolve().parents[3]
CRATE = "emulator-conformance"


def cargo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["cargo", "test", "-p", CRATE, "--test", "conformance", "--locked", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


def rust_tests() -> list[str]:
    listed = cargo("--", "--list")
    assert listed.returncode == 0, listed.stderr[-3000:]
    return [line.removesuffix(": test") for line in listed.stdout.splitlines() if line.endswith(": test")]


@pytest.mark.parametrize("name", rust_tests())
def test_rust_sdk_conformance(name, emulator, lab):
    # The lab's client is a managed instance (core role, NAT route) whose first boot installed the CLI.
    subnets, instance = lab.subnets, lab.instance_id
    env = {
        **os.environ,
        "EMULATOR_ENDPOINT": emulator.endpoint,
        "AWS_ENDPOINT_URL": emulator.endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CONFORMANCE_SUBNETS": ",".join(subnets),
        "CONFORMANCE_ZONES": ",".join(ZONES),
        "CONFORMANCE_INSTANCE": instance,
        "CONFORMANCE_CLIENT_GROUP": lab.client_group,
        # A failure's message, not a backtrace that would push it out of the assertion.
        "RUST_BACKTRACE": "0",
    }
    done = cargo("--", "--exact", name, env=env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "test result: ok. 1 passed" in done.stdout, done.stdout[-2000:]
