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
from dataclasses import dataclass, field
from typing import Any

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


class ConfigError(ValueError):
    """A knob was given a value the emulator does not understand."""


@dataclass
class CommandFailure:
    """Fault: SSM commands whose text contains `match` exit `exit_code` with `stderr`."""

    match: str
    stderr: str = "emulated failure"
    exit_code: int = 1


@dataclass
class LambdaFailure:
    """Fault: invocations `nth` to `nth + times - 1` of the functions whose name
    contains `function` crash (`mode` "crash") or time out (`mode` "timeout")."""

    function: str
    nth: int = 1
    times: int = 1
    mode: str = "crash"


@dataclass
class Faults:
    """Fault knobs (see README.md for the JSON shape of each)."""

    throttle: dict[str, float] = field(default_factory=dict)
    hsm_degraded: int | None = None
    hsm_replaced_before_init: int | None = None
    command_fails: list[CommandFailure] = field(default_factory=list)
    hsm_quota: int | None = None
    lambda_fails: list[LambdaFailure] = field(default_factory=list)

    @classmethod
    def from_json(cls, raw: Any) -> "Faults":
        """Validate and build the faults from their JSON form."""
        if not isinstance(raw, dict):
            raise ConfigError("faults must be a JSON object")
        unknown = set(raw) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ConfigError(f"unknown fault(s): {sorted(unknown)}")
        throttle = raw.get("throttle", {})
        if not isinstance(throttle, dict) or not all(
            isinstance(v, (int, float)) and 0 <= v <= 1 for v in throttle.values()
        ):
            raise ConfigError('throttle must map a service name to a fraction 0..1, e.g. {"kms": 0.5}')
        fails = raw.get("command_fails", [])
        if isinstance(fails, dict):
            fails = [fails]
        try:
            command_fails = [CommandFailure(**rule) for rule in fails]
        except TypeError as err:
            raise ConfigError(f"command_fails rules take match, stderr, exit_code: {err}") from err
        lambda_raw = raw.get("lambda_fails", [])
        try:
            lambda_fails = [LambdaFailure(**rule) for rule in ([lambda_raw] if isinstance(lambda_raw, dict) else lambda_raw)]
        except TypeError as err:
            raise ConfigError(f"lambda_fails rules take function, nth, times, mode: {err}") from err
        if any(rule.mode not in ("crash", "timeout") or rule.nth < 1 or rule.times < 1 for rule in lambda_fails):
            raise ConfigError('lambda_fails: mode is "crash" or "timeout"; nth and times are >= 1')
        return cls(
            lambda_fails=lambda_fails,
            throttle={_service_alias(k): float(v) for k, v in throttle.items()},
            hsm_degraded=_positive_int(raw, "hsm_degraded"),
            hsm_replaced_before_init=_positive_int(raw, "hsm_replaced_before_init"),
            command_fails=command_fails,
            hsm_quota=_positive_int(raw, "hsm_quota", minimum=0),
        )

    def to_json(self) -> dict[str, Any]:
        """The faults in the JSON form accepted by `from_json`."""
        return {
            "throttle": dict(self.throttle),
            "hsm_degraded": self.hsm_degraded,
            "hsm_replaced_before_init": self.hsm_replaced_before_init,
            "command_fails": [vars(rule) for rule in self.command_fails],
            "hsm_quota": self.hsm_quota,
            "lambda_fails": [vars(rule) for rule in self.lambda_fails],
        }


def _positive_int(raw: dict[str, Any], name: str, minimum: int = 1) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _service_alias(name: str) -> str:
    """CloudHSM v2 signs its requests as `cloudhsm`; accept both names."""
    return "cloudhsm" if name == "cloudhsmv2" else name


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
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._reset_hooks: list[Callable[[], None]] = []

    @staticmethod
    def now() -> float:
        """Current wall-clock time as epoch seconds."""
        return time.time()

    def delay(self, latency: str, multiplier: float = 1.0) -> float:
        """Real seconds the emulator waits for the named AWS latency."""
        return LATENCY[latency] * multiplier / self.time_scale

    def schedule(self, latency: str, callback: Callable[[], None], multiplier: float = 1.0) -> float:
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
