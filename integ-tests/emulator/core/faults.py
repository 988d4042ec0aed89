"""The fault knobs: what `POST /_emulator/config {"faults": ...}` accepts.

Each fault makes the emulator fail the way AWS sometimes does (throttling, a DEGRADED
or replaced HSM, a failing SSM command, a quota, a crashing or hanging Lambda) or get
stuck (an HSM that never becomes ACTIVE, a cluster that is never deleted, a command that
never finishes, an instance that never registers with Systems Manager), so that the
product's handling of it can be tested. See README.md for the JSON shapes.
"""

from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A knob was given a value the emulator does not understand."""


@dataclass
class CommandFailure:
    """Fault: SSM commands whose text contains `match` exit `exit_code` with `stderr`."""

    match: str
    stderr: str = "emulated failure"
    exit_code: int = 1


LAMBDA_FAILURE_MODES = ("crash", "timeout", "crash_after", "timeout_after")


@dataclass
class LambdaFailure:
    """Fault: invocations `nth` to `nth + times - 1` of the functions whose name
    contains `function` crash (`mode` "crash") or time out (`mode` "timeout")
    before the handler runs, or after it ran ("crash_after", "timeout_after": its
    AWS calls went out, its answer is lost).
    With `step`, only invocations whose payload's "Step" is that step count: a
    workflow step fails at a given stage however many polls came before it."""

    function: str
    nth: int = 1
    times: int = 1
    mode: str = "crash"
    step: str | None = None


@dataclass
class LostResponse:
    """Fault: calls `nth` to `nth + times - 1` of `action` (the X-Amz-Target operation,
    such as "CreateHsm") take effect, and their answer is lost: the caller gets an
    HTTP 500 InternalFailure instead, as when a response never makes it back."""

    action: str
    nth: int = 1
    times: int = 1


@dataclass
class Faults:
    """Fault knobs (see README.md for the JSON shape of each)."""

    throttle: dict[str, float] = field(default_factory=dict)
    hsm_degraded: int | None = None
    hsm_replaced_before_init: int | None = None
    command_fails: list[CommandFailure] = field(default_factory=list)
    hsm_quota: int | None = None
    lambda_fails: list[LambdaFailure] = field(default_factory=list)
    hsm_stuck_creating: int | None = None
    cluster_stuck_deleting: bool = False
    command_hangs: list[str] = field(default_factory=list)
    instances_unregistered: bool = False
    package_source_down: bool | int = False
    lost_responses: list[LostResponse] = field(default_factory=list)

    @classmethod
    def from_json(cls, raw: Any) -> "Faults":
        """Validate and build the faults from their JSON form."""
        if not isinstance(raw, dict):
            raise ConfigError("faults must be a JSON object")
        unknown = set(raw) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ConfigError(f"unknown fault(s): {sorted(unknown)}")
        throttle = raw.get("throttle", {})
        if not isinstance(throttle, dict) or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in throttle.values()):
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
            raise ConfigError(f"lambda_fails rules take function, nth, times, mode, step: {err}") from err
        if any(rule.mode not in LAMBDA_FAILURE_MODES or rule.nth < 1 or rule.times < 1 for rule in lambda_fails):
            raise ConfigError(f"lambda_fails: mode is one of {', '.join(LAMBDA_FAILURE_MODES)}; nth and times are >= 1")
        hangs = raw.get("command_hangs", [])
        if isinstance(hangs, str):
            hangs = [hangs]
        if not isinstance(hangs, list) or not all(isinstance(m, str) and m for m in hangs):
            raise ConfigError('command_hangs takes the texts of the scripts that never finish, e.g. ["cluster activate"]')
        lost_raw = raw.get("lost_responses", [])
        try:
            lost = [LostResponse(**rule) for rule in ([lost_raw] if isinstance(lost_raw, dict) else lost_raw)]
        except TypeError as err:
            raise ConfigError(f"lost_responses rules take action, nth, times: {err}") from err
        if any(not rule.action or rule.nth < 1 or rule.times < 1 for rule in lost):
            raise ConfigError("lost_responses: action is an operation name; nth and times are >= 1")
        return cls(
            lost_responses=lost,
            hsm_stuck_creating=_positive_int(raw, "hsm_stuck_creating"),
            cluster_stuck_deleting=_flag(raw, "cluster_stuck_deleting"),
            command_hangs=list(hangs),
            instances_unregistered=_flag(raw, "instances_unregistered"),
            package_source_down=_down(raw),
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
            "lambda_fails": [{k: v for k, v in vars(rule).items() if v is not None} for rule in self.lambda_fails],
            "lost_responses": [vars(rule) for rule in self.lost_responses],
            "hsm_stuck_creating": self.hsm_stuck_creating,
            "cluster_stuck_deleting": self.cluster_stuck_deleting,
            "command_hangs": list(self.command_hangs),
            "instances_unregistered": self.instances_unregistered,
            "package_source_down": self.package_source_down,
        }


def _down(raw: dict[str, Any]) -> bool | int:
    """package_source_down: true (every download fails), false, or N >= 1 (the next N downloads fail)."""
    value = raw.get("package_source_down", False)
    if isinstance(value, bool):
        return value
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"package_source_down must be true, false or an integer >= 1, got {value!r}")
    return value


def _positive_int(raw: dict[str, Any], name: str, minimum: int = 1) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _flag(raw: dict[str, Any], name: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


def _service_alias(name: str) -> str:
    """CloudHSM v2 signs its requests as `cloudhsm`; accept both names."""
    return "cloudhsm" if name == "cloudhsmv2" else name
