"""Template economy: `cdk synth` time of the example app and what its template holds."""

import collections
import json
import subprocess
import time
from pathlib import Path

from runner.assets import REPO_ROOT

SYNTH = "npx cdk synth --quiet"
COUNTED = ("AWS::Lambda::Function", "AWS::IAM::Role", "AWS::StepFunctions::StateMachine")
# The seed's template for the cluster alone.
SEED = {"AWS::Lambda::Function": 19, "AWS::IAM::Role": 26, "AWS::StepFunctions::StateMachine": 5}
CLUSTER_PATH = "CloudHsmExample/Hsm/"


def timed_synth(out: Path) -> float:
    """Seconds of one `cdk synth` of the example app (default context) into `out`."""
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", f"source scripts/lib.sh && cd cdk-app && {SYNTH} -o {out}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"cdk synth failed:\n{done.stderr}")
    return elapsed


def counts(template: dict) -> tuple[dict[str, int], dict[str, int]]:
    """Resources of the counted types: in the whole template, and under the cluster construct."""
    everything: collections.Counter[str] = collections.Counter()
    cluster: collections.Counter[str] = collections.Counter()
    for resource in template["Resources"].values():
        if resource["Type"] not in COUNTED:
            continue
        everything[resource["Type"]] += 1
        if resource.get("Metadata", {}).get("aws:cdk:path", "").startswith(CLUSTER_PATH):
            cluster[resource["Type"]] += 1
    return {t: everything[t] for t in COUNTED}, {t: cluster[t] for t in COUNTED}


def total_resources(template: dict) -> int:
    return len(template["Resources"])


def memory_sizes(template: dict) -> dict[str, int]:
    """MemorySize of each function by logical id (128, Lambda's default, when unset)."""
    return {
        logical_id: int(r.get("Properties", {}).get("MemorySize", 128))
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
    }


def load(out: Path) -> dict:
    return json.loads((out / "CloudHsmExample.template.json").read_text())
