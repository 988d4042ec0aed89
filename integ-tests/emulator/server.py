"""Start and stop the emulator: moto's werkzeug server on 127.0.0.1, in a thread."""

import shutil
import tempfile
import threading
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import BaseWSGIServer, make_server

from .app import EmulatorApp, install_handlers
from .authz.enforce import AUTHORIZER
from .awslambda import models as lambda_models
from .core.runtime import DEFAULT_TIME_SCALE, RUNTIME
from .emulator_api import state
from .emulator_api.responses import hsm_user_knob, iam_knobs, reset_all


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without one log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Emulator:
    """A running emulator. Use `start_emulator()` to get one."""

    def __init__(self, server: BaseWSGIServer, sandbox_root: str):
        self._server = server
        self._sandbox_root = sandbox_root
        self._thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def configure(
        self, time_scale: float | None = None, faults: dict[str, Any] | None = None, real_due: bool | None = None
    ) -> dict[str, Any]:
        """Same as POST /_emulator/config; returns the resulting config."""
        raw: dict[str, Any] = {}
        if time_scale is not None:
            raw["time_scale"] = time_scale
        if real_due is not None:
            raw["real_due"] = real_due
        if faults is not None:
            raw["faults"] = faults
        RUNTIME.configure(raw)
        return RUNTIME.config_json()

    def reset(self) -> None:
        """Same as POST /_emulator/reset."""
        reset_all()

    def state(self) -> dict[str, Any]:
        """Same as GET /_emulator/state."""
        return state.snapshot()

    def register_lambda(
        self, function_name: str, bootstrap: str, environment: dict[str, str] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Same as POST /_emulator/lambda/register; answers {"FunctionName", "LogFile"}."""
        return lambda_models.register(
            {"FunctionName": function_name, "Bootstrap": bootstrap, "Environment": environment, "Timeout": timeout}
        )

    def hsm_user_missing_on(self, cluster_id: str, username: str, hsm_ids: list[str]) -> dict[str, Any]:
        """Same as POST /_emulator/hsm-user: `username` is absent from these HSMs of the cluster."""
        return hsm_user_knob({"ClusterId": cluster_id, "Username": username, "MissingOn": hsm_ids})

    def configure_iam(self, propagation_seconds: float) -> dict[str, Any]:
        """Same as POST /_emulator/iam."""
        return iam_knobs({"propagation_seconds": propagation_seconds})

    def iam_usage(self) -> dict[str, Any]:
        """Same as GET /_emulator/iam/usage: which statement allowed which requests, and the refusals."""
        return AUTHORIZER.usage.to_json()

    def stop(self) -> None:
        """Stop serving and the Lambda processes, wait for the server thread, remove the SSM sandboxes."""
        lambda_models.stop_all()
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        shutil.rmtree(self._sandbox_root, ignore_errors=True)


def start_emulator(port: int = 0, time_scale: float = DEFAULT_TIME_SCALE, verbose: bool = False) -> Emulator:
    """Start an emulator on 127.0.0.1:`port` (0 = any free port), with fresh state.

    `verbose` logs one line per request to stderr, as moto's server does.
    """
    install_handlers()
    handler = MotoRequestHandler if verbose else QuietRequestHandler
    server = make_server("127.0.0.1", port, EmulatorApp(), threaded=True, request_handler=handler)
    RUNTIME.default_time_scale = time_scale
    reset_all()
    RUNTIME.endpoint = f"http://{server.host}:{server.port}"
    RUNTIME.sandbox_root = tempfile.mkdtemp(prefix="cloudhsm-emulator-")
    return Emulator(server, RUNTIME.sandbox_root)
