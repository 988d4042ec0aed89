"""Step Functions on the emulator's clock, and its status change events.

moto's interpreter waits real seconds: a Wait state, a Retry interval and the
execution timeout (`TimeoutSeconds`) are AWS seconds here, divided by the time scale
like every AWS latency, so that the workflows' polling, backoff and timeout keep their
proportions to CloudHSM's latencies and to the handlers' deadlines. A Task's
`TimeoutSeconds` and Lambda timeouts stay real seconds: they bound real work.

Every execution that ends sends its "Step Functions Execution Status Change" event
(events/delivery.py).
"""

import threading
import time
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.utils import TMP_THREADS

from ..core.runtime import RUNTIME
from ..events import delivery


class _ScaledTime:
    """Stands in for the `time` module in moto's retrier: `sleep` in AWS seconds."""

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds / RUNTIME.time_scale)


def _wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
    """WaitFunction._wait_interval in AWS seconds; a stopped or timed-out execution stops waiting."""
    deadline = time.monotonic() + wait_seconds / RUNTIME.time_scale
    while env.is_running():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        env.program_state_event.wait(left)


def _program_eval(self: Program, env: Any) -> None:
    """Program.eval with the execution timeout in AWS seconds."""
    timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
    env.next_state_name = self.start_at.start_at_name
    worker_thread = threading.Thread(target=super(Program, self).eval, args=(env,), daemon=True)
    TMP_THREADS.append(worker_thread)
    worker_thread.start()
    worker_thread.join(timeout=None if timeout is None else timeout / RUNTIME.time_scale)
    if worker_thread.is_alive():
        env.set_timed_out()


_moto_terminated = BaseExecutionWorkerCommunication.terminated


def _terminated(self: BaseExecutionWorkerCommunication) -> None:
    _moto_terminated(self)
    delivery.execution_ended(self.execution)


def install() -> None:
    """Patch moto's interpreter."""
    retrier_decl.time = _ScaledTime  # type: ignore[assignment]
    WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]
    Program.eval = _program_eval  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]
    RUNTIME.on_reset(delivery.reset)
