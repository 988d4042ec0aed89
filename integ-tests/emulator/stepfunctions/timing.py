"""Step Functions on the emulator's clock, and its status change events.

moto's interpreter waits real seconds and stamps real time. Here a Wait state and a
Retry interval are waits on the emulated clock (`RUNTIME.wait`: N AWS seconds sleep
N / time_scale real seconds, then the clock moves to their end); the execution
timeout (`TimeoutSeconds`) is due when the emulated clock has passed it; and
`$$.Execution.StartTime`, the history's timestamps and the start and stop dates
are emulated time. A Task's `TimeoutSeconds` and Lambda timeouts stay real seconds:
they bound real work.

Every execution that ends sends its "Step Functions Execution Status Change" event
(events/delivery.py).
"""

import datetime as _datetime
import sys
import threading
import types
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.utils import TMP_THREADS

from ..core.runtime import RUNTIME
from ..events import delivery

# moto's modules that stamp executions, states and history events with `datetime.datetime.now`.
STAMPING_MODULES = (
    "moto.stepfunctions.parser.models",
    "moto.stepfunctions.parser.backend.execution",
    "moto.stepfunctions.parser.asl.eval.event.event_manager",
    "moto.stepfunctions.parser.asl.component.state.state",
)


class _EmulatedDatetime(_datetime.datetime):
    """`datetime.datetime` whose `now()` is the emulated clock."""

    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> "_EmulatedDatetime":
        return cls.fromtimestamp(RUNTIME.now(), tz)

    @classmethod
    def utcnow(cls) -> "_EmulatedDatetime":
        return cls.fromtimestamp(RUNTIME.now(), _datetime.UTC).replace(tzinfo=None)


EMULATED_DATETIME = types.ModuleType("datetime")
EMULATED_DATETIME.__dict__.update({k: v for k, v in vars(_datetime).items() if not k.startswith("__")})
EMULATED_DATETIME.datetime = _EmulatedDatetime  # type: ignore[attr-defined]


class _EmulatedTime:
    """Stands in for the `time` module in moto's retrier: `sleep` is a wait in AWS seconds."""

    @staticmethod
    def sleep(seconds: float) -> None:
        RUNTIME.wait(seconds)


def _wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
    """WaitFunction._wait_interval on the emulated clock; a stopped or timed-out execution stops waiting."""
    RUNTIME.wait(wait_seconds, running=env.is_running, wakeup=env.program_state_event)


def _program_eval(self: Program, env: Any) -> None:
    """Program.eval with the execution timeout due on the emulated clock."""
    timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
    env.next_state_name = self.start_at.start_at_name
    worker_thread = threading.Thread(target=super(Program, self).eval, args=(env,), daemon=True)
    TMP_THREADS.append(worker_thread)
    started = RUNTIME.now()
    worker_thread.start()
    while worker_thread.is_alive():
        if timeout is not None and RUNTIME.now() - started >= timeout:
            env.set_timed_out()
            return
        worker_thread.join(0.05)


_moto_terminated = BaseExecutionWorkerCommunication.terminated


def _terminated(self: BaseExecutionWorkerCommunication) -> None:
    _moto_terminated(self)
    delivery.execution_ended(self.execution)


def install() -> None:
    """Patch moto's interpreter."""
    retrier_decl.time = _EmulatedTime  # type: ignore[assignment]
    WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]
    Program.eval = _program_eval  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]
    for name in STAMPING_MODULES:
        __import__(name)
        sys.modules[name].datetime = EMULATED_DATETIME  # type: ignore[attr-defined]
    RUNTIME.on_reset(delivery.reset)
