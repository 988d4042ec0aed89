"""Fixtures of the lifecycle runner tests: a fresh emulator state per test, the handler builds."""

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from runner.assets import HANDLER_ASSETS, HOST_ARCH, REPO_ROOT
from runner.cli import open_stack
from runner.contract import CONTRACT
from runner.custom import emulated_now
from runner.stack import Stack
from runner.template import Template

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ENTRY_BOOTSTRAP = CONTRACT.bootstrap(HANDLER_ASSETS, CONTRACT.entry_handler, HOST_ARCH)


# The workflows keep AWS's time on the emulator's clock: their polls and backoff are waits
# that pass at the session's time scale, while the work between them (Lambda, moto, the
# runner) counts at real speed, so the deadline, the execution timeout and CloudFormation's
# hour in the runner keep their meaning however loaded the machine is.
@pytest.fixture(autouse=True)
def fresh(emulator, request):
    emulator.reset()
    started = emulated_now(emulator.endpoint)
    yield
    # CDK_CLOUDHSM_EMULATED_DURATIONS=<file>: each test's emulated seconds, one JSON line each.
    report = os.environ.get("CDK_CLOUDHSM_EMULATED_DURATIONS")
    if report:
        seconds = emulated_now(emulator.endpoint) - started
        with open(report, "a", encoding="utf-8") as out:
            out.write(json.dumps({"test": request.node.nodeid, "emulated_seconds": round(seconds)}) + "\n")


@pytest.fixture
def entry_bootstrap() -> Path:
    """The real entry handler, built for this host."""
    if not ENTRY_BOOTSTRAP.is_file():
        pytest.fail(f"{ENTRY_BOOTSTRAP} is missing: run `bash scripts/build-handlers.sh`")
    return ENTRY_BOOTSTRAP


@pytest.fixture
def workflow_template(tmp_path: Path, entry_bootstrap: Path) -> Template:
    """The fixture template in a cdk.out-like folder whose asset holds the real entry bootstrap."""
    (tmp_path / "asset.entry").mkdir()
    shutil.copy(entry_bootstrap, tmp_path / "asset.entry" / "bootstrap")
    path = tmp_path / "Fixture.template.json"
    shutil.copy(FIXTURES / "workflow-stack.template.json", path)
    return Template.load(path)


def stack_for(template: Template, emulator, timeout: float | None = None) -> tuple[Stack, io.StringIO]:
    """A stack on the session emulator; its progress output goes to the returned buffer. Each
    response is awaited CloudFormation's hour on the emulator's clock, unless `timeout` (real s)."""
    out = io.StringIO()
    return open_stack(template, emulator.endpoint, timeout, out), out


def run_synth(out: Path, *flags: str, **context: str) -> subprocess.CompletedProcess[str]:
    """`cdk synth` of the example app into `out`, with these context values and other flags, as it ended."""
    args = " ".join([*flags, *(f"-c {k}={v}" for k, v in context.items())])
    return subprocess.run(
        ["bash", "-c", f"source scripts/lib.sh && cd cdk-app && npx cdk synth --quiet {args} -o {out}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def synth(out: Path, *flags: str, **context: str) -> Template:
    """The example app synthesized with these context values (and these other `cdk synth` flags)."""
    done = run_synth(out, *flags, **context)
    assert done.returncode == 0, f"the example app does not synthesize:\n{done.stderr}"
    return Template.load(out / "CloudHsmExample.template.json")


@pytest.fixture
def app(tmp_path):
    """Synthesizes the example app with context values into a fresh folder per call."""
    count = iter(range(100))
    return lambda **context: synth(tmp_path / f"out{next(count)}", **context)
