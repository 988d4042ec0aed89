"""How soon each wait of a workflow noticed the change it waited for, from its execution
history and the emulator's record of the changes it made (`GET /_emulator/changes`).

A wait (`WorkflowKit.waitUntil`) enters `Check: <wait>` for every check and
`Done: <wait>` once a check answered Ready. The check that answered Ready saw the
change; the one before it did not. When the emulator made the change (a delayed one of
the kinds the wait is for, due between those two checks), the wait noticed it the
time from the change to the ready check: *exact*. Otherwise (the management client's
commands run at real speed and make no delayed change) the change happened somewhere
between the two checks, so the time between them bounds it: *at most*. A wait that
was ready at its first check noticed nothing late and is left out.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The emulator's delayed changes (runtime.LATENCY names) that each wait waits for.
CHANGES_OF: dict[str, tuple[str, ...]] = {
    "Wait for the cluster to be UNINITIALIZED": ("cluster_create",),
    "Wait for the first HSM and the CSR": ("hsm_create",),
    "Wait for the cluster to be INITIALIZED": ("cluster_initialize",),
    "Wait for the restored cluster to be ACTIVE": ("cluster_create",),
    "Wait for every HSM to be ACTIVE": ("hsm_create", "hsm_delete"),  # a resize may only delete
    "Delete every HSM": ("hsm_delete",),
    "Delete the cluster": ("cluster_delete",),
}


@dataclass(frozen=True)
class Noticed:
    """One wait that saw its change after at least one check that did not."""

    wait: str
    seconds: float  # emulated seconds from the change (or the last check before it) to the check that saw it
    exact: bool  # False: the change's own time is unknown; `seconds` is the gap between the two checks


def _seconds(timestamp: Any) -> float:
    return timestamp.timestamp() if isinstance(timestamp, datetime) else float(timestamp)


def _belongs(name: str, wait: str) -> bool:
    return name == f"{wait}?" or name.endswith(f": {wait}")


def noticed(events: Iterable[Mapping[str, Any]], changes: Iterable[Mapping[str, Any]]) -> list[Noticed]:
    """Each wait of one execution that saw its change late, in the order they ended."""
    entered = [
        (_seconds(e["timestamp"]), e["stateEnteredEventDetails"]["name"])
        for e in events
        if e["type"].endswith("StateEntered")
    ]
    made = [(str(c["latency"]), float(c["at"])) for c in changes]
    found = []
    for i, (_, name) in enumerate(entered):
        if not name.startswith("Done: "):
            continue
        wait = name.removeprefix("Done: ")
        checks: list[float] = []
        for at, earlier in reversed(entered[:i]):
            if not _belongs(earlier, wait) or earlier.startswith(("Expect", "Prepare: ")):
                break
            if earlier == f"Check: {wait}":
                checks.append(at)
        if len(checks) < 2:
            continue
        seen, before = checks[0], checks[1]
        kinds = CHANGES_OF.get(wait, ())
        during = [at for latency, at in made if latency in kinds and before < at <= seen]
        if during:
            found.append(Noticed(wait, seen - max(during), True))
        else:
            found.append(Noticed(wait, seen - before, False))
    return found
