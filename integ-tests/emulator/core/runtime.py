"""Process-wide emulator runtime: one lock, a scaled clock, a scheduler and the knobs.

moto keeps its backends in process globals, so the emulator is a process singleton
too: `RUNTIME` holds everything the extensions share.

Time: every AWS latency is given in real AWS seconds (`LATENCY`) and divided by the
configured `time_scale`. Delayed state changes are scheduled callbacks; they run
lazily, in due-time order, before each request is handled (and on `state()`), so
nothing changes behind a caller's back while a request is being answered.
"""

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from .faults import ConfigError, Faults

DEFAULT_TIME_SCALE = 300.0

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
        self._queue: list[tuple[float, int, Callable[[], object]]] = []
        self._sequence = itertools.count()
        self._reset_hooks: list[Callable[[], None]] = []

    @staticmethod
    def now() -> float:
        """Current wall-clock time as epoch seconds."""
        return time.time()

    def delay(self, latency: str, multiplier: float = 1.0) -> float:
        """Real seconds the emulator waits for the named AWS latency."""
        return LATENCY[latency] * multiplier / self.time_scale

    def schedule(self, latency: str, callback: Callable[[], object], multiplier: float = 1.0) -> float:
        """Run `callback` once the named latency has elapsed; returns the due time."""
        due = self.now() + self.delay(latency, multiplier)
        with self.lock:
            heapq.heappush(self._queue, (due, next(self._sequence), callback))
        return due

    def advance(self) -> None:
        """Run every scheduled callback that is due, oldest first."""
        with self.lock:
            now = self.now()
            while self._queue and self._queue[0][0] <= now:
                _, _, callback = heapq.heappop(self._queue)
                callback()

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
            return throttled

    def configure(self, raw: Any) -> None:
        """Apply `{"time_scale": n, "faults": {...}}`; faults replace the previous set."""
        if not isinstance(raw, dict) or set(raw) - {"time_scale", "faults"}:
            raise ConfigError('config takes a JSON object with "time_scale" and/or "faults"')
        with self.lock:
            if "time_scale" in raw:
                scale = raw["time_scale"]
                if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
                    raise ConfigError(f"time_scale must be a number > 0, got {scale!r}")
                self.time_scale = float(scale)
            if "faults" in raw:
                self.faults = Faults.from_json(raw["faults"])
                self.counters.clear()

    def config_json(self) -> dict[str, Any]:
        """The current knobs, in the shape `configure` accepts."""
        return {"time_scale": self.time_scale, "faults": self.faults.to_json()}

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Register a function that drops one extension's state on reset."""
        self._reset_hooks.append(hook)

    def reset(self) -> None:
        """Drop all emulated state, pending transitions, faults and counters."""
        with self.lock:
            self._queue.clear()
            self.time_scale = self.default_time_scale
            self.faults = Faults()
            self.counters.clear()
            for hook in self._reset_hooks:
                hook()


RUNTIME = Runtime()
