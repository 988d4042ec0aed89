"""Lambda forwarding state: the registered functions, their warm instances (one
bootstrap process each, under its own Runtime API server) and their invocations."""

import json
import os
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from moto.awslambda.models import lambda_backends

from ..authz.principals import ACCOUNT, assume_role
from ..core.runtime import RUNTIME
from .runtime_api import error_payload, runtime_api_handler

REGION = "us-east-1"
MAX_INSTANCES = 4


class RegistrationError(ValueError):
    """A registration request is incomplete or points at no executable."""


@dataclass
class Invocation:
    """One invocation: the event in, the outcome out."""

    payload: bytes
    function_arn: str
    deadline: float  # epoch seconds
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    done: threading.Event = field(default_factory=threading.Event)
    delivered: bool = False
    result: bytes = b""
    error: bool = False

    def finish(self, result: bytes, error: bool) -> bool:
        """Record the outcome once; later outcomes (after a timeout, say) are ignored."""
        if self.done.is_set():
            return False
        self.result, self.error = result, error
        self.done.set()
        return True


@dataclass
class Registration:
    """How to run one function."""

    function_name: str
    bootstrap: str
    environment: dict[str, str]
    timeout: float | None  # None: the moto function's configured timeout
    log_path: Path


class Instance:
    """One warm execution environment: a Runtime API server and the bootstrap process."""

    def __init__(self, registration: Registration, memory_size: int):
        self.registration = registration
        self.memory_size = memory_size
        self.cond = threading.Condition()
        self.current: Invocation | None = None
        self.init_error: bytes | None = None
        self.stopped = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), runtime_api_handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="lambda-runtime-api", daemon=True).start()
        try:
            self.process = self._spawn()
        except OSError:
            self.server.shutdown()
            self.server.server_close()
            raise
        threading.Thread(target=self._watch, name="lambda-process-watch", daemon=True).start()

    @property
    def alive(self) -> bool:
        return not self.stopped and self.process.poll() is None

    def _spawn(self) -> subprocess.Popen[bytes]:
        reg = self.registration
        host, port = "127.0.0.1", self.server.server_port
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **reg.environment,
            "AWS_LAMBDA_RUNTIME_API": f"{host}:{port}",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **self._credentials(),
            "AWS_ENDPOINT_URL": RUNTIME.endpoint,
            "AWS_MAX_ATTEMPTS": "2",
            "AWS_EC2_METADATA_DISABLED": "true",
            # The handlers measure their deadlines on the emulator's clock (GET /_emulator/clock).
            "CDK_CLOUDHSM_EMULATOR_CLOCK": RUNTIME.endpoint.split("://", 1)[-1],
            "AWS_LAMBDA_FUNCTION_NAME": reg.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{reg.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
            "LAMBDA_TASK_ROOT": str(Path(reg.bootstrap).parent),
            "_HANDLER": "bootstrap",
        }
        with reg.log_path.open("ab") as log:
            return subprocess.Popen(
                [reg.bootstrap],
                env=env,
                cwd=str(Path(reg.bootstrap).parent),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _credentials(self) -> dict[str, str]:
        """The execution role's temporary credentials, as Lambda gives them to the process.

        A function moto does not know (or without a role) gets none: its calls are refused."""
        name = self.registration.function_name
        try:
            role = lambda_backends[ACCOUNT][REGION].get_function(name).role
        except Exception:  # noqa: BLE001 - moto raises its own not-found errors
            return {}
        if not role:
            return {}
        return assume_role(role, name).environment()

    def _watch(self) -> None:
        """Fail the invocation in flight when the process exits."""
        code = self.process.wait()
        with self.cond:
            self.stopped = True
            invocation = self.current
            self.cond.notify_all()
        if invocation is not None:
            payload = self.init_error or error_payload(
                "Runtime.ExitError",
                f"RequestId: {invocation.request_id} Error: Runtime exited with error: exit status {code}",
            )
            invocation.finish(payload, error=True)
        self.server.shutdown()
        self.server.server_close()

    def run(self, invocation: Invocation, timeout: float) -> None:
        """Hand the invocation to the process and wait for its outcome or the timeout."""
        with self.cond:
            self.current = invocation
            self.cond.notify_all()
        if not invocation.done.wait(timeout):
            message = f"RequestId: {invocation.request_id} Error: Task timed out after {timeout:.2f} seconds"
            if invocation.finish(error_payload("Sandbox.Timedout", message), error=True):
                self.stop()  # Lambda discards the environment of a timed-out invocation
        with self.cond:
            self.current = None

    def next_invocation(self) -> Invocation | None:
        """Block until an invocation is waiting (None once the instance is stopped)."""
        with self.cond:
            while not self.stopped:
                invocation = self.current
                if invocation is not None and not invocation.delivered and not invocation.done.is_set():
                    invocation.delivered = True
                    return invocation
                self.cond.wait(0.5)
        return None

    def stop(self) -> None:
        """Kill the process; the watcher then closes the Runtime API server."""
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
        if self.process.poll() is None:
            self.process.kill()


class Function:
    """The instances of one registered function."""

    def __init__(self, registration: Registration):
        self.registration = registration
        self.lock = threading.Condition()
        self.idle: list[Instance] = []
        self.instances: set[Instance] = set()
        self.busy = 0
        self.closed = False

    def _acquire(self, memory_size: int) -> Instance:
        with self.lock:
            while True:
                while self.idle:
                    instance = self.idle.pop()
                    if instance.alive:
                        self.busy += 1
                        return instance
                    instance.stop()
                    self.instances.discard(instance)
                if self.busy < MAX_INSTANCES:
                    self.busy += 1
                    break
                self.lock.wait()
        try:
            instance = Instance(self.registration, memory_size)
        except BaseException:
            with self.lock:
                self.busy -= 1
                self.lock.notify()
            raise
        with self.lock:
            self.instances.add(instance)
        return instance

    def _release(self, instance: Instance) -> None:
        with self.lock:
            self.busy -= 1
            if instance.alive and not self.closed:
                self.idle.append(instance)
            else:
                instance.stop()
                self.instances.discard(instance)
            self.lock.notify()

    def _injected_failure(self, invocation: Invocation, timeout: float) -> bool:
        """Apply a `lambda_fails` fault to this invocation, if one is due."""
        for index, rule in enumerate(RUNTIME.faults.lambda_fails):
            if rule.function not in self.registration.function_name:
                continue
            if rule.step is not None and _step_of(invocation.payload) != rule.step:
                continue
            count = RUNTIME.next_counter(f"lambda_fails:{index}")
            if rule.nth <= count < rule.nth + rule.times:
                if rule.mode == "crash":
                    message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: signal: killed"
                    invocation.finish(error_payload("Runtime.ExitError", message), error=True)
                else:
                    message = f"{invocation.request_id} Task timed out after {timeout:.2f} seconds"
                    invocation.finish(error_payload("Sandbox.Timedout", message), error=True)
                return True
        return False

    def invoke(self, payload: bytes, function_arn: str, timeout: float, memory_size: int) -> Invocation:
        """Run one invocation to its end on a warm (or new) instance."""
        invocation = Invocation(payload=payload, function_arn=function_arn, deadline=time.time() + timeout)
        log = self.registration.log_path
        with log.open("a") as out:
            out.write(f"START RequestId: {invocation.request_id} Version: $LATEST\n")
        started = time.monotonic()
        if not self._injected_failure(invocation, timeout):
            self._run(invocation, timeout, memory_size)
        with log.open("a") as out:
            out.write(f"END RequestId: {invocation.request_id}\n")
            out.write(
                f"REPORT RequestId: {invocation.request_id}\tDuration: {(time.monotonic() - started) * 1000:.2f} ms"
                f"\tStatus: {'error' if invocation.error else 'success'}\n"
            )
        return invocation

    def _run(self, invocation: Invocation, timeout: float, memory_size: int) -> None:
        """Run the invocation on a warm (or new) instance of the bootstrap."""
        try:
            instance = self._acquire(memory_size)
        except OSError as err:
            message = f"RequestId: {invocation.request_id} Error: cannot start {self.registration.bootstrap}: {err}"
            invocation.finish(error_payload("Runtime.InvalidEntrypoint", message), error=True)
        else:
            try:
                instance.run(invocation, timeout)
            finally:
                self._release(instance)

    def close(self) -> None:
        """Stop every instance; an invocation in flight ends with Runtime.ExitError."""
        with self.lock:
            self.closed = True
            instances, self.instances, self.idle = list(self.instances), set(), []
        for instance in instances:
            instance.stop()


_functions: dict[str, Function] = {}
_functions_lock = threading.Lock()
_log_dir: str | None = None


def register(raw: Any) -> dict[str, Any]:
    """Register (or replace) forwarding for a function; answers its log file path.

    `raw`: {"FunctionName", "Bootstrap": "/abs/path", "Environment": {...}, "Timeout": s}.
    """
    global _log_dir
    if not isinstance(raw, dict) or not isinstance(raw.get("FunctionName"), str) or not raw.get("Bootstrap"):
        raise RegistrationError('register takes {"FunctionName", "Bootstrap", "Environment"?, "Timeout"?}')
    bootstrap = str(raw["Bootstrap"])
    if not os.path.isabs(bootstrap) or not os.access(bootstrap, os.X_OK):
        raise RegistrationError(f"Bootstrap must be an absolute path to an executable file, got {bootstrap!r}")
    environment = raw.get("Environment") or {}
    if not isinstance(environment, dict):
        raise RegistrationError("Environment must map variable names to values")
    timeout = raw.get("Timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise RegistrationError(f"Timeout must be a number of seconds > 0, got {timeout!r}")
    name = raw["FunctionName"]
    with _functions_lock:
        if _log_dir is None:
            _log_dir = tempfile.mkdtemp(prefix="emulator-lambda-logs-")
        registration = Registration(
            function_name=name,
            bootstrap=bootstrap,
            environment={str(k): str(v) for k, v in environment.items()},
            timeout=float(timeout) if timeout is not None else None,
            log_path=Path(_log_dir) / f"{name}.log",
        )
        registration.log_path.touch()
        previous = _functions.get(name)
        _functions[name] = Function(registration)
    if previous is not None:
        previous.close()
    return {"FunctionName": name, "LogFile": str(registration.log_path)}


def unregister(function_name: str) -> None:
    """Stop a function's processes and forget it (its log file stays)."""
    with _functions_lock:
        function = _functions.pop(function_name, None)
    if function is not None:
        function.close()


def registered(function_name: str) -> Function | None:
    """The registered function of this name, if any."""
    return _functions.get(function_name)


def log_path(function_name: str) -> Path | None:
    """The log file of a registered function."""
    function = _functions.get(function_name)
    return function.registration.log_path if function else None


def stop_all() -> None:
    """Stop every process and forget the registrations (on reset and on stop)."""
    with _functions_lock:
        functions = list(_functions.values())
        _functions.clear()
    for function in functions:
        function.close()


RUNTIME.on_reset(stop_all)


def _step_of(payload: bytes) -> str | None:
    """The workflow step an invocation runs (its payload's "Step"), if any."""
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    return event.get("Step") if isinstance(event, dict) else None
