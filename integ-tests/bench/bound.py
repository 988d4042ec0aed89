"""The lower bound of each provisioning operation: the longest dependency path
through AWS's own latencies, as the emulator's `LATENCY` table gives them.

Nothing the construct does can make an operation shorter than the AWS changes it
must wait for one after the other. Work that can overlap (the management client's
boot, the throwaway CA, the secrets, the security group rules) is not on the path;
HSMs beyond the first are created in parallel, so they count once, whatever their
number.
"""

from collections.abc import Mapping

# The AWS latencies on the longest path of each operation, in order.
PATHS: dict[str, tuple[str, ...]] = {
    # Cluster, first HSM (its CSR comes with it), initialization, activation on the
    # management client (one SSM command), the other HSMs in parallel, and the
    # client pointed at them (one SSM command).
    "create": ("cluster_create", "hsm_create", "cluster_initialize", "ssm_delivery", "hsm_create", "ssm_delivery"),
    # New HSMs in parallel, then the client pointed at them.
    "grow": ("hsm_create", "ssm_delivery"),
    # Every HSM deleted in parallel; no HSM left to point the client at.
    "shrink_to_zero": ("hsm_delete",),
    # The HSMs in parallel (the first restores the latest backup), then the client.
    "grow_from_zero": ("hsm_create", "ssm_delivery"),
    # Every HSM deleted in parallel, then the cluster (until it is DELETED).
    "delete": ("hsm_delete", "cluster_delete"),
}


def lower_bound(operation: str, latency: Mapping[str, float]) -> float:
    """AWS seconds the operation cannot go below."""
    return sum(latency[name] for name in PATHS[operation])


def formula(operation: str, latency: Mapping[str, float]) -> str:
    """The bound spelled out: `cluster_create 300 + hsm_create 900 + ... = 2164 s`."""
    terms = " + ".join(f"{name} {latency[name]:g}" for name in PATHS[operation])
    return f"{terms} = {lower_bound(operation, latency):g} s"
