"""Cold start of one Lambda process under a minimal stand-in Runtime API.

The process is started with Lambda's environment; the Runtime API notes when the
first `GET /runtime/invocation/next` arrives (the runtime is initialized: clients
built, ready for an event), hands it one event, and notes when the outcome is
posted (the event handled, its AWS calls made against the emulator). The process
is then killed; its peak RSS is the high-water mark of its own image (`VmHWM` in
/proc/<pid>/status, read once the event is handled; the child's rusage would
report the parent's RSS from before the exec).
"""

import os
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

API_PREFIX = "/2018-06-01/runtime"


@dataclass
class ColdStart:
    """One measured cold start."""

    first_poll_ms: float  # process start to the first GET /invocation/next
    handled_ms: float  # process start to the first event's response (or error) posted
    peak_rss_kib: int
    error: bool  # the event ended in /invocation/{id}/error
    body: bytes


class _Api:
    """One event, handed out once; later polls block until the process is killed."""

    def __init__(self, event: bytes) -> None:
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.started = 0.0
        self.first_poll: float | None = None
        self.done: float | None = None
        self.error = False
        self.body = b""
        self.finished = threading.Event()
        self.stop = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                now = time.perf_counter()
                if self.path != f"{API_PREFIX}/invocation/next":
                    self._reply(404, b"{}")
                    return
                if api.first_poll is None:
                    api.first_poll = now
                    deadline_ms = int((time.time() + 60) * 1000)
                    self._reply(
                        200,
                        api.event,
                        {
                            "Lambda-Runtime-Aws-Request-Id": api.request_id,
                            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
                            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                        },
                    )
                    return
                api.stop.wait(120)  # the next event never comes: the process is killed first
                self.close_connection = True

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                now = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                first = api.done is None
                if first:
                    api.done = now
                    api.error = not self.path.endswith("/response")
                    api.body = body
                self._reply(202, b'{"status":"OK"}')
                if first:  # answered before the process may be killed
                    api.finished.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="bench-runtime-api", daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def lambda_environment(runtime_api: str, function_name: str, endpoint: str, extra: dict[str, str]) -> dict[str, str]:
    """The environment Lambda gives a function process, pointed at the emulator."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **extra,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_MAX_ATTEMPTS": "2",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"2026/01/01/[$LATEST]{uuid.uuid4().hex}",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "_HANDLER": "bootstrap",
    }


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set size so far, in KiB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def measure(
    command: list[str], event: bytes, endpoint: str, environment: dict[str, str], log: Path, timeout: float = 60
) -> ColdStart:
    """Start `command` as a Lambda process with `environment`, hand it `event`, and measure its cold start."""
    api = _Api(event)
    env = lambda_environment(api.address, "bench", endpoint, environment)
    try:
        with log.open("ab") as out:
            api.started = time.perf_counter()
            process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        finished = api.finished.wait(timeout)
        peak = peak_rss_kib(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        if not finished or api.first_poll is None or api.done is None:
            raise RuntimeError(f"{command[0]} handled no event within {timeout:g} s (exit {process.returncode}); see {log}")
        return ColdStart(
            first_poll_ms=(api.first_poll - api.started) * 1000,
            handled_ms=(api.done - api.started) * 1000,
            peak_rss_kib=peak,
            error=api.error,
            body=api.body,
        )
    finally:
        api.close()
