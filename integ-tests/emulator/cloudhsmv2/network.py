"""Whether a client instance can open the CLI's TLS connection to an HSM, as in AWS.

The CloudHSM client reaches an HSM's ENI on TCP 2223-2225 and checks the HSM's
certificate chain against its trust anchor, `/opt/cloudhsm/etc/customerCA.crt`. So a
connection needs, in moto's EC2:
- the instance and the HSM in one VPC (no peering is emulated);
- a security group of the instance allowing egress on every one of those ports to a
  group of the HSM's ENI (the cluster's group) or to a CIDR holding the HSM's IP;
- a group of the HSM's ENI allowing ingress on those ports from a group of the
  instance or from a CIDR holding the instance's IP (security groups are stateful:
  the answers need no rule);
- a CA file whose certificate is the cluster's trust anchor (InitializeCluster's).
Each missing piece is refused with what the client would report: a connection that
times out, or a TLS handshake that fails.
"""

import ipaddress
from typing import Any

from cryptography import x509
from moto.ec2.models import ec2_backends

from .models import HSM_PORTS, Cluster, Hsm

CA_FILE = "/opt/cloudhsm/etc/customerCA.crt"


class Unreachable(Exception):
    """The client cannot connect to the HSM; the message says why, as the client would."""


def _ports() -> range:
    return range(HSM_PORTS[0], HSM_PORTS[1] + 1)


def _covers_port(rule: Any, port: int) -> bool:
    if rule.ip_protocol == "-1":
        return True
    return rule.ip_protocol == "tcp" and rule.from_port is not None and rule.from_port <= port <= rule.to_port


def _reaches(rule: Any, groups: set[str], ip: str) -> bool:
    """Whether the rule's peer is one of `groups` or a CIDR holding `ip`."""
    if rule.source_group.get("GroupId") in groups:
        return True
    cidr = rule.ip_range.get("CidrIp")
    return bool(cidr) and ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)


def _missing_ports(rules: list[Any], groups: set[str], ip: str) -> list[int]:
    return [port for port in _ports() if not any(_covers_port(r, port) and _reaches(r, groups, ip) for r in rules)]


def check_path(account_id: str, region: str, instance_id: str | None, cluster: Cluster, hsm: Hsm) -> None:
    """Refuse unless the security groups let `instance_id` reach `hsm` on 2223-2225."""
    ec2 = ec2_backends[account_id][region]
    timeout = f"Failed to connect to HSM {hsm.eni_ip}:{HSM_PORTS[0]}: connection timed out"
    if not instance_id:
        raise Unreachable(f"{timeout} (the CLI runs on no known instance)")
    try:
        instance = ec2.get_instance(instance_id)
    except Exception as err:  # moto's InvalidInstanceID.NotFound
        raise Unreachable(f"{timeout} (no instance {instance_id})") from err
    if instance.vpc_id != cluster.vpc_id:
        raise Unreachable(f"{timeout}: instance {instance_id} is in {instance.vpc_id}, the cluster in {cluster.vpc_id}")
    client_groups = _instance_groups(ec2, instance)
    eni = ec2.enis.get(hsm.eni_id)
    hsm_groups = {group.id for group in eni.group_set} if eni is not None else {cluster.security_group}
    egress = [rule for gid in sorted(client_groups) for rule in _group(ec2, gid).egress_rules]
    missing = _missing_ports(egress, hsm_groups, hsm.eni_ip)
    if missing:
        raise Unreachable(
            f"{timeout}: no security group of instance {instance_id} ({', '.join(sorted(client_groups))}) allows "
            f"egress on TCP {_spell(missing)} to {', '.join(sorted(hsm_groups))} or {hsm.eni_ip}"
        )
    ingress = [rule for gid in sorted(hsm_groups) for rule in _group(ec2, gid).ingress_rules]
    missing = _missing_ports(ingress, client_groups, instance.private_ip or "0.0.0.0")
    if missing:
        raise Unreachable(
            f"{timeout}: the cluster's security group {', '.join(sorted(hsm_groups))} allows no ingress on TCP "
            f"{_spell(missing)} from {', '.join(sorted(client_groups))} (instance {instance_id}, {instance.private_ip})"
        )


def _instance_groups(ec2: Any, instance: Any) -> set[str]:
    """The groups of the instance's network interfaces (where AWS keeps them); an instance
    launched without a group is in its VPC's default group."""
    groups = {group.id for nic in instance.nics.values() for group in nic.group_set}
    groups |= {group.id for group in instance.security_groups}
    return groups or {ec2.get_default_security_group(instance.vpc_id).id}


def _group(ec2: Any, group_id: str) -> Any:
    group = ec2.get_security_group_from_id(group_id)
    if group is None:
        raise Unreachable(f"security group {group_id} does not exist")
    return group


def _spell(ports: list[int]) -> str:
    return ", ".join(str(p) for p in ports)


def check_trust_anchor(cluster: Cluster, hsm: Hsm, ca_pem: str | None) -> None:
    """Refuse unless the CA file holds the cluster's trust anchor (an uninitialized cluster has none yet)."""
    if cluster.trust_anchor is None:
        return
    failed = f"Failed to connect to HSM {hsm.eni_ip}:{HSM_PORTS[0]}: TLS handshake failed"
    if ca_pem is None:
        raise Unreachable(f"{failed}: the HSM CA certificate file {CA_FILE} does not exist")
    try:
        given = x509.load_pem_x509_certificates(ca_pem.encode())
    except ValueError as err:
        raise Unreachable(f"{failed}: {CA_FILE} holds no PEM certificate") from err
    anchor = x509.load_pem_x509_certificate(cluster.trust_anchor.encode())
    if anchor not in given:
        raise Unreachable(
            f"{failed}: the HSM's certificate is not issued by a CA in {CA_FILE} "
            f"(put there the trust anchor cluster {cluster.cluster_id} was initialized with)"
        )
