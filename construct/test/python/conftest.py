"""Puts integ-tests/ on sys.path, so that the tests read the protocol values from
`runner.contract` (handlers/contract.json) instead of spelling them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "integ-tests"))
