"""Benchmarks of cdk-cloudhsm: provisioning against AWS's lower bound, the handlers
against a Python peer, the template's economy. `python -m bench` (what `npm run
bench` runs) writes BENCHMARKS.md."""
