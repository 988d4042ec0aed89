"""The Python 3 + boto3 peer of the Rust handlers, for the cold-start benchmark.

`python peer.py custom-resource` builds the Step Functions client and, for a
CloudFormation request, starts the workflow of its resource type (WORKFLOWS) as
the entry function does. `python peer.py cluster-tasks` builds the CloudHSM,
Secrets Manager, Private CA and SSM clients and answers an AwaitCluster step
with one DescribeClusters, as the tasks function does. Both run a minimal Lambda
runtime loop on the stdlib (no awslambdaric: less start-up work than the real
Python runtime, so the comparison favours the peer).

Runs as a script, with nothing of this repository imported.
"""

import json
import os
import sys
import urllib.request
from typing import Any

import boto3

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"


def entry_handler() -> Any:
    sfn = boto3.client("stepfunctions")
    routes = json.loads(os.environ["WORKFLOWS"])

    def handle(event: dict[str, Any]) -> dict[str, Any]:
        started = sfn.start_execution(
            stateMachineArn=routes[event["ResourceType"]],
            name=f"{event['RequestType']}-{event['RequestId']}",
            input=json.dumps({"Request": event}),
        )
        return {"ExecutionArn": started["executionArn"]}

    return handle


def tasks_handler() -> Any:
    hsm = boto3.client("cloudhsmv2")
    # Built as the tasks function builds them, though this step uses only CloudHSM.
    clients = [boto3.client(name) for name in ("secretsmanager", "acm-pca", "ssm")]
    assert clients

    def handle(event: dict[str, Any]) -> dict[str, Any]:
        [cluster] = hsm.describe_clusters(Filters={"clusterIds": [event["ClusterId"]]})["Clusters"]
        return {"Ready": cluster["State"] == event["Expect"], "Cluster": {"State": cluster["State"]}}

    return handle


def main() -> None:
    handle = entry_handler() if sys.argv[1] == "custom-resource" else tasks_handler()
    while True:
        with urllib.request.urlopen(f"{API}/invocation/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(response.read())
        try:
            path, body = "response", handle(event)
        except Exception as err:  # noqa: BLE001 - reported to the runtime as Lambda does
            path, body = "error", {"errorType": type(err).__name__, "errorMessage": str(err)}
        request = urllib.request.Request(f"{API}/invocation/{request_id}/{path}", data=json.dumps(body).encode(), method="POST")
        urllib.request.urlopen(request).close()


if __name__ == "__main__":
    main()
