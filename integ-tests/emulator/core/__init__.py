"""What the emulated services share: the runtime (lock, scaled clock, scheduler,
knobs), the fault knobs, the PKI helpers and the response helpers."""
