"""Local AWS emulator for cdk-cloudhsm tests: moto plus CloudHSM v2, KMS key stores, SSM Run Command.

    from emulator import start_emulator
    emu = start_emulator()          # 127.0.0.1, free port, fresh state
    emu.endpoint                    # http://127.0.0.1:<port>
    emu.configure(time_scale=3000, faults={"hsm_quota": 2})
    emu.reset(); emu.state(); emu.stop()

See README.md for the knobs and what is not emulated.
"""

from .core.runtime import DEFAULT_TIME_SCALE
from .server import Emulator, start_emulator

__all__ = ["DEFAULT_TIME_SCALE", "Emulator", "start_emulator"]
