"""Fixtures of the lifecycle runner tests: a fresh emulator state per test, the handler builds."""

import io
import shutil
from pathlib import Path

import pytest

from runner.assets import HANDLER_ASSETS, HOST_ARCH
from runner.cli import open_stack
from runner.contract import CONTRACT
from runner.stack import Stack
from runner.template import Template

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ENTRY_BOOTSTRAP = CONTRACT.bootstrap(HANDLER_ASSETS, CONTRACT.entry_handler, HOST_ARCH)


# The workflows keep AWS's time on the emulator's clock: their polls, backoff, deadline
# and timeout, and CloudFormation's hour in the runner, all pass this many times faster.
# An emulated hour is 3600 / LIFECYCLE_TIME_SCALE real seconds, and the real time each
# step takes counts that many times over, so the scale is kept well below the point
# where the runner's own overhead would eat the workflows' deadline.
LIFECYCLE_TIME_SCALE = 60


@pytest.fixture(autouse=True)
def fresh(emulator):
    emulator.reset()
    emulator.configure(time_scale=LIFECYCLE_TIME_SCALE)
    yield


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
