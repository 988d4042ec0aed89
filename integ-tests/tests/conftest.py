"""The session's emulator, shared by every suite: moto keeps process globals, so one per process."""

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Each reset rebuilds moto's EC2 backend; skipping its ~1000 default AMIs saves ~0.15 s a test.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

from emulator import start_emulator  # noqa: E402

TIME_SCALE = 10000  # 15 min HSM create -> 0.09 s


# Where the session leaves what IAM allowed, for `python -m emulator.authz.report`.
IAM_USAGE = Path(__file__).resolve().parents[1] / ".reports" / "iam-usage.json"


@pytest.fixture(scope="session")
def emulator():
    emu = start_emulator(time_scale=TIME_SCALE)
    yield emu
    usage = emu.iam_usage()
    if usage["Allowed"]:
        IAM_USAGE.parent.mkdir(exist_ok=True)
        IAM_USAGE.write_text(json.dumps(usage, indent=1))
    emu.stop()
