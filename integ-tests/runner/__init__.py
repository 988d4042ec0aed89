"""Lifecycle runner: plays CloudFormation for a synthesized cdk-cloudhsm template in the emulator.

    cd integ-tests && ../.venv/bin/python -m runner lifecycle

See README.md for the commands, what is provisioned and how handler binaries are chosen.
"""
