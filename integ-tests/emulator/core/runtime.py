"""Process-wide emulator runtime: one lock, the emulated clock, a scheduler and the knobs.

moto keeps its backends in process globals, so the emulator is a process singleton
too: `RUNTIME` holds everything the extensions share.

Time: the emulated clock is the real clock plus an offset that only grows
(`now()`). Work (requests, Lambda invocations, moto) runs at real speed and counts
once; only waiting is compressed: a wait of N AWS seconds (`wait()`: Step Functions
Wait states and Retry intervals) lasts N / `time_scale` real seconds, during which it
moves the clock along towards its end (never back, so concurrent waits never count
twice), and ends at once if the clock passed its end otherwise. While work that
a workflow waits for runs outside any request (an SSM command's script: `busy()`),
waits pass at real speed, so that its real seconds count once and not `time_scale`
times over. The
handlers' deadlines, `$$.Execution.StartTime`, execution history and the runner's
CloudFormation hour all read this clock (`GET /_emulator/clock`).

Every AWS latency is given in AWS seconds (`LATENCY`). Delayed state changes are
scheduled callbacks, due when the emulated clock has passed the latency or when
latency / `time_scale` real seconds have passed, whichever comes first: a workflow
that polls sees the change after the polls AWS would need at most, and a caller that
polls the emulator without waiting sees it after the scaled latency. They run lazily,
in due-time order, before each request is handled (and on `state()`), so nothing
changes behind a caller's back while a request is being answered. With `real_due`
off (the benchmark's setting) a latency is due on the emulated clock only, so that
the time a workflow measures is AWS's. Every change that ran is kept, with the
emulated time it was due, for `GET /_emulator/changes`.
"""

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .faults import ConfigError, Faults

DEFAULT_TIME_SCALE = 300.0

# The delayed changes `GET /_emulator/changes` keeps at most (a long test makes thousands).
MAX_CHANGES_KEPT = 10_000

# Base AWS latencies in seconds, before division by the time scale.
LATENCY = {
    "cluster_create": 300.0,
    "cluster_initialize": 60.0,
    "cluster_delete": 120.0,
    "hsm_create": 900.0,
    "hsm_delete": 300.0,
    "key_store_connect": 600.0,
    "key_store_disconnect": 10.0,
    "ssm_delivery": 2.0,
    "kms_key_pending_day": 86400.0,
}


class Runtime:
    """Shared state of the emulator: lock, clock, scheduler, knobs and reset hooks."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.default_time_scale = DEFAULT_TIME_SCALE
        self.time_scale = DEFAULT_TIME_SCALE
        self.faults = Faults()
        self.counters: dict[str, float] = {}
        self.endpoint = ""  # set by the server: where the stand-in CLI reaches the emulator
        self.sandbox_root = ""  # set by the server: per-emulator directory for SSM sandboxes
        self._offset = 0.0  # emulated minus real seconds; only grows
        self._busy = 0  # work in flight that waits pass at real speed for
        self._queue: list[tuple[float, int, Callable[[], object]]] = []
        self._real_due: dict[int, float] = {}
        self._latency_of: dict[int, str] = {}
        self.real_due = True  # a latency is also over once its scaled real time has passed
        self.changes: list[dict[str, float | str]] = []  # the delayed changes that ran, oldest first
        self._sequence = itertools.count()
        self._reset_hooks: list[Callable[[], None]] = []

    def now(self) -> float:
        """The emulated time as epoch seconds: the real clock plus what waits skipped."""
        return time.time() + self._offset

    def advance_to(self, target: float) -> None:
        """Move the emulated clock to at least `target` (never back)."""
        with self.lock:
            self._offset = max(self._offset, target - time.time())

    def wait(
        self,
        seconds: float,
        running: Callable[[], bool] = lambda: True,
        wakeup: threading.Event | None = None,
    ) -> bool:
        """Wait `seconds` of AWS time: they pass `time_scale` times faster than real time
        (the clock moves along as the wait goes, so that timeouts and state changes
        due during it happen in it) and end early if the clock passes them otherwise.
        Returns False, leaving the clock where it is, once `running()` is false (checked
        whenever `wakeup` is set and every 20 ms)."""
        start = self.now()
        target = start + seconds
        progress, last = 0.0, time.monotonic()
        while running():
            real = time.monotonic()
            progress += (real - last) * (1.0 if self._busy else self.time_scale)
            last = real
            if progress >= seconds or self.now() >= target:
                self.advance_to(target)
                return True
            self.advance_to(start + progress)
            pause = min((seconds - progress) / self.time_scale, 0.02)
            if wakeup is None:
                time.sleep(pause)
            else:
                wakeup.wait(pause)
        return False

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Work a workflow may be waiting for runs: meanwhile waits pass at real speed."""
        with self.lock:
            self._busy += 1
        try:
            yield
        finally:
            with self.lock:
                self._busy -= 1

    def delay(self, latency: str, multiplier: float = 1.0) -> float:
        """Real seconds after which the named AWS latency is over even if nothing waited."""
        return LATENCY[latency] * multiplier / self.time_scale

    def schedule(self, latency: str, callback: Callable[[], object], multiplier: float = 1.0) -> float:
        """Run `callback` once the named latency has elapsed on the emulated clock, or its
        scaled real time has passed, whichever comes first; returns the emulated due time."""
        due = self.now() + LATENCY[latency] * multiplier
        real_due = time.time() + self.delay(latency, multiplier)
        with self.lock:
            sequence = next(self._sequence)
            self._real_due[sequence] = real_due
            self._latency_of[sequence] = latency
            heapq.heappush(self._queue, (due, sequence, callback))
        return due

    def advance(self) -> None:
        """Run every scheduled callback that is due, in due-time order."""
        with self.lock:
            now, real = self.now(), time.time()
            due = [
                entry for entry in self._queue if entry[0] <= now or (self.real_due and self._real_due[entry[1]] <= real)
            ]
            if not due:
                return
            self._queue = [entry for entry in self._queue if entry not in due]
            heapq.heapify(self._queue)
            for at, sequence, callback in sorted(due, key=lambda entry: (entry[0], entry[1])):
                real_due = self._real_due.pop(sequence)
                # Due on the emulated clock, or (scaled real time first) about when the real time passed.
                when = at if at <= now else min(now, real_due + self._offset)
                if len(self.changes) < MAX_CHANGES_KEPT:
                    self.changes.append({"latency": self._latency_of.pop(sequence), "at": when})
                else:
                    self._latency_of.pop(sequence)
                callback()

    def changes_json(self) -> dict[str, Any]:
        """The delayed changes that ran, as `GET /_emulator/changes` answers them."""
        self.advance()
        with self.lock:
            return {"changes": list(self.changes)}

    def clock_json(self) -> dict[str, float]:
        """The emulated clock, as `GET /_emulator/clock` answers it."""
        return {"now": self.now(), "time_scale": self.time_scale}

    def next_counter(self, name: str) -> int:
        """Increment and return a named counter (reset with the faults)."""
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + 1
            return int(self.counters[name])

    def should_throttle(self, service: str) -> bool:
        """Deterministic throttling: a fraction f throttles f of the calls, evenly spread."""
        fraction = self.faults.throttle.get(service, 0.0)
        if fraction <= 0:
            return False
        with self.lock:
            key = f"throttle:{service}"
            credit = self.counters.get(key, 0.0) + fraction
            throttled = credit >= 1.0 - 1e-9
            self.counters[key] = credit - 1.0 if throttled else credit
            if throttled:
                self.counters[f"throttled:{service}"] = self.counters.get(f"throttled:{service}", 0) + 1
            return throttled

    def throttled(self) -> dict[str, int]:
        """How many calls of each service were throttled since the faults were last set."""
        with self.lock:
            return {k.removeprefix("throttled:"): int(v) for k, v in self.counters.items() if k.startswith("throttled:")}

    def configure(self, raw: Any) -> None:
        """Apply `{"time_scale": n, "real_due": bool, "faults": {...}}`; faults replace the previous set."""
        if not isinstance(raw, dict) or set(raw) - {"time_scale", "real_due", "faults"}:
            raise ConfigError('config takes a JSON object with "time_scale", "real_due" and/or "faults"')
        if "real_due" in raw and not isinstance(raw["real_due"], bool):
            raise ConfigError(f"real_due must be true or false, got {raw['real_due']!r}")
        with self.lock:
            if "time_scale" in raw:
                scale = raw["time_scale"]
                if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
                    raise ConfigError(f"time_scale must be a number > 0, got {scale!r}")
                self.time_scale = float(scale)
            if "real_due" in raw:
                self.real_due = raw["real_due"]
            if "faults" in raw:
                self.faults = Faults.from_json(raw["faults"])
                self.counters.clear()

    def config_json(self) -> dict[str, Any]:
        """The current knobs, in the shape `configure` accepts."""
        return {"time_scale": self.time_scale, "real_due": self.real_due, "faults": self.faults.to_json()}

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Register a function that drops one extension's state on reset."""
        self._reset_hooks.append(hook)

    def reset(self) -> None:
        """Drop all emulated state, pending transitions, faults and counters."""
        with self.lock:
            self._queue.clear()
            self._real_due.clear()
            self._latency_of.clear()
            self.changes.clear()
            self.real_due = True
            self.time_scale = self.default_time_scale
            self.faults = Faults()
            self.counters.clear()
            for hook in self._reset_hooks:
                hook()


RUNTIME = Runtime()
