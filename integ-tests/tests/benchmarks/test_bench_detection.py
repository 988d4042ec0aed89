"""How soon a wait noticed its change, from an execution history and the emulator's changes."""

from datetime import UTC, datetime

import pytest

from bench.detection import Noticed, noticed

WAIT = "Wait for every HSM to be ACTIVE"
COMMAND = "Point the management client at the HSMs"


def entered(at: float, name: str) -> dict:
    return {
        "type": "TaskStateEntered" if name.startswith("Check") else "PassStateEntered",
        "timestamp": datetime.fromtimestamp(at, UTC),
        "stateEnteredEventDetails": {"name": name},
    }


def sleeping_wait(start: float, name: str = WAIT) -> list[dict]:
    """A first check, two sleeps of 120 s, then checks every 10 s until ready at the third."""
    names = [f"Expect: {name}", f"Check: {name}", f"{name}?"]
    events = [entered(start, names[0]), entered(start, names[1]), entered(start + 0.1, names[2])]
    t = start
    for i in (1, 2):
        events += [entered(t + 0.2, f"Count {3 - i}: {name}"), entered(t + 0.2, f"Sleep: {name}")]
        t += 120.5
        events += [entered(t, f"Check: {name}"), entered(t + 0.1, f"{name}?")]
    for _ in range(3):
        events.append(entered(t + 0.2, f"Wait: {name}"))
        t += 10.5
        events += [entered(t, f"Check: {name}"), entered(t + 0.1, f"{name}?")]
    return [*events, entered(t + 0.2, f"Done: {name}")]


def test_a_change_the_emulator_made_is_timed_from_when_it_was_due_to_the_check_that_saw_it():
    events = sleeping_wait(1000.0)
    ready_check = 1000.0 + 2 * 120.5 + 3 * 10.5
    changes = [{"latency": "hsm_create", "at": ready_check - 4.0}, {"latency": "hsm_create", "at": ready_check - 12.0}]
    [found] = noticed(events, changes)
    assert found.wait == WAIT and found.exact
    assert found.seconds == pytest.approx(4.0), "the last HSM to become ACTIVE is the change the wait waited for"


def test_without_a_recorded_change_the_gap_between_the_two_checks_bounds_it():
    [found] = noticed(sleeping_wait(0.0, COMMAND), [{"latency": "hsm_create", "at": 5.0}])
    assert found == Noticed(COMMAND, pytest.approx(10.5), False)


def test_a_wait_ready_at_its_first_check_noticed_nothing_late():
    name = "Delete the cluster"
    events = [entered(0, f"Expect: {name}"), entered(0, f"Check: {name}"), entered(1, f"{name}?"), entered(1, f"Done: {name}")]
    assert noticed(events, [{"latency": "cluster_delete", "at": -5.0}]) == []


def test_each_wait_of_an_execution_is_counted_once_in_the_order_they_ended():
    first, second = sleeping_wait(0.0), sleeping_wait(1000.0, COMMAND)
    found = noticed(first + [entered(900, "Some other step")] + second, [])
    assert [n.wait for n in found] == [WAIT, COMMAND]
