"""The emulator's own API under `/_emulator/` (as moto has `/moto-api/`): the knobs,
the state snapshot, Lambda registration and the server side of the stand-in CLI."""
