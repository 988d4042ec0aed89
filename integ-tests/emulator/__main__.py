"""`python -m emulator [--port 0] [--time-scale 300]`: serve until SIGTERM or Ctrl-C.

Prints `EMULATOR_READY http://127.0.0.1:<port>` once requests are accepted.
"""

import argparse
import signal
import threading

from . import DEFAULT_TIME_SCALE, start_emulator


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE, help="divide AWS latencies by this")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args()
    emulator = start_emulator(args.port, args.time_scale, args.verbose)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    print(f"EMULATOR_READY {emulator.endpoint}", flush=True)
    stopping.wait()
    emulator.stop()


if __name__ == "__main__":
    main()
