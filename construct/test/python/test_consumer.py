"""The Python package, installed into a fresh venv, synthesizes a stack whose
Lambda assets are the prebuilt handler binaries shipped inside the wheel."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

from runner.contract import CONTRACT

CONSTRUCT = Path(__file__).resolve().parents[2]
# The aws-cdk-lib the library is built and tested against.
AWS_CDK_LIB = "aws-cdk-lib==2.257.0"

APP = textwrap.dedent(
    """
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2, aws_lambda as lambda_
    from cdk_cloudhsm import CloudHsmCluster, ClusterPki

    app = cdk.App(outdir="cdk.out")
    stack = cdk.Stack(app, "PythonConsumer")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="hsm", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    ])
    CloudHsmCluster(stack, "Hsm", vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        hsms_per_subnet=2, pki=ClusterPki.external(),
        handler_architecture=lambda_.Architecture.X86_64)
    app.synth()
    """
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheel_synthesizes_from_python(tmp_path: Path) -> None:
    wheels = sorted((CONSTRUCT / "dist" / "python").glob("cdk_cloudhsm-*.whl"))
    assert wheels, "no wheel in construct/dist/python: run `npm run build` first"
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(wheels[-1]), AWS_CDK_LIB],
        check=True,
    )

    (tmp_path / "app.py").write_text(APP)
    # Run from the temporary folder so that the package comes from the venv,
    # never from the source tree.
    subprocess.run([python, "app.py"], cwd=tmp_path, check=True, env={**os.environ, "PYTHONPATH": ""})

    out = tmp_path / "cdk.out"
    template = json.loads((out / "PythonConsumer.template.json").read_text())
    resources = template["Resources"].values()
    cluster = [r for r in resources if r["Type"] == "Custom::CloudHsmCluster"]
    assert len(cluster) == 1
    assert cluster[0]["Properties"]["HsmsPerSubnet"] == 2
    assert cluster[0]["Properties"]["Pki"] == {"Kind": "EXTERNAL"}
    functions = [r for r in resources if r["Type"] == "AWS::Lambda::Function"]
    rust = [f for f in functions if f["Properties"].get("Runtime") == "provided.al2023"]
    assert len(rust) == 2, "the entry function and the cluster workflow steps"
    assert all(f["Properties"]["Architectures"] == ["x86_64"] for f in rust)

    # The staged assets are the very binaries built from handlers/, executable.
    built = {sha256(path): path.parent.parent.name for path in (CONSTRUCT / "assets").glob("*/x86_64/bootstrap")}
    staged = [p / "bootstrap" for p in out.iterdir() if p.name.startswith("asset.")]
    assert all(os.access(bootstrap, os.X_OK) for bootstrap in staged), "bootstrap must be executable"
    assert sorted(built[sha256(bootstrap)] for bootstrap in staged) == sorted(CONTRACT.handlers)


if __name__ == "__main__":
    sys.exit("run with pytest")
