"""The handlers: zipped size per architecture, cold start and peak RSS against the Python peer."""

import json
import statistics
import sys
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from runner.assets import HANDLER_ASSETS, HOST_ARCH
from runner.contract import CONTRACT, CONTRACT_FILE

from .coldstart import ColdStart, measure

PEER = Path(__file__).resolve().parent / "peer.py"
ENTRY = CONTRACT.entry_handler
TASKS = CONTRACT.tasks_handler


def zipped_size(bootstrap: Path) -> int:
    """Bytes of a Lambda zip holding `bootstrap` (deflated, as the CDK asset zips it)."""
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "code.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
            zipped.write(bootstrap, "bootstrap")
        return archive.stat().st_size


def sizes() -> list[tuple[str, str, int, int]]:
    """(handler, arch, bootstrap bytes, zipped bytes) for every built binary."""
    rows = []
    for handler in CONTRACT.handlers:
        for arch in CONTRACT.architectures:
            path = CONTRACT.bootstrap(HANDLER_ASSETS, handler, arch)
            rows.append((handler, arch, path.stat().st_size, zipped_size(path)))
    return rows


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


@dataclass
class Fixture:
    """What the first events need in the emulator: a workflow to start, a cluster to describe."""

    state_machine_arn: str
    cluster_id: str


def prepare(endpoint: str) -> Fixture:
    sfn = _client(endpoint, "stepfunctions")
    machine = sfn.create_state_machine(
        name="bench-workflow",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/bench-workflow",
    )["stateMachineArn"]
    ec2 = _client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"]["SubnetId"]
        for i, zone in enumerate("ab")
    ]
    cluster = _client(endpoint, "cloudhsmv2").create_cluster(HsmType="hsm2m.medium", SubnetIds=subnets)["Cluster"]
    return Fixture(machine, cluster["ClusterId"])


def event_for(handler: str, fixture: Fixture) -> bytes:
    """The first event of each handler: a Create request, an AwaitCluster step."""
    if handler == ENTRY:
        request_id = str(uuid.uuid4())
        return json.dumps(
            {
                "RequestType": "Create",
                "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:bench",
                "ResponseURL": "http://127.0.0.1:9/unused",
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Bench/1",
                "RequestId": request_id,
                "ResourceType": "Custom::CloudHsmCluster",
                "LogicalResourceId": "Hsm",
                "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:bench"},
            }
        ).encode()
    start = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps(
        {
            "Step": "AwaitCluster",
            "Deadline": {"Start": start, "Minutes": 40},
            "ClusterId": fixture.cluster_id,
            "Expect": "UNINITIALIZED",
        }
    ).encode()


def environment_for(handler: str, fixture: Fixture) -> dict[str, str]:
    if handler == ENTRY:
        return {"WORKFLOWS": json.dumps({"Custom::CloudHsmCluster": fixture.state_machine_arn})}
    # The tasks function reads its cluster's fixed resources at start-up; this step uses none.
    variables = json.loads(CONTRACT_FILE.read_text())["tasksEnv"].values()
    return {variable: f"bench-{variable.lower()}" for variable in variables}


@dataclass
class Comparison:
    """Cold starts of one handler and of its Python peer, measured alternately."""

    handler: str
    rust: list[ColdStart]
    python: list[ColdStart]

    @staticmethod
    def median(runs: list[ColdStart], attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in runs)


def compare(endpoint: str, runs: int, log_dir: Path) -> list[Comparison]:
    """Each handler and its peer, `runs` times each (after one run not counted), alternating,
    against the emulator at `endpoint`."""
    fixture = prepare(endpoint)
    results = []
    for handler in (ENTRY, TASKS):
        bootstrap = CONTRACT.bootstrap(HANDLER_ASSETS, handler, HOST_ARCH)
        commands = {"rust": [str(bootstrap)], "python": [sys.executable, str(PEER), handler]}
        measured: dict[str, list[ColdStart]] = {"rust": [], "python": []}
        for run_index in range(runs + 1):
            for kind, command in commands.items():
                run = measure(
                    command,
                    event_for(handler, fixture),
                    endpoint,
                    environment_for(handler, fixture),
                    log_dir / f"{handler}-{kind}.log",
                )
                if run.error:
                    raise RuntimeError(f"{kind} {handler} failed its first event: {run.body.decode(errors='replace')}")
                if run_index > 0:  # the first run of each only warms the page cache
                    measured[kind].append(run)
        results.append(Comparison(handler, measured["rust"], measured["python"]))
    return results
