"""Emulated CloudHSM v2 state: clusters, HSMs, backups and each cluster's HSM users.

Rules enforced are the ones AWS enforces (see DESIGN.md): the lifecycle order
CREATE_IN_PROGRESS -> UNINITIALIZED -> (one HSM, CSR) -> InitializeCluster ->
INITIALIZED -> `cloudhsm-cli cluster activate` -> ACTIVE; a backup when the last HSM
of an initialized cluster goes; a restore when an HSM is added to an emptied cluster;
account quotas; real EC2 security groups and ENIs in moto.
"""

import copy
import ipaddress
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.ec2.models import ec2_backends
from moto.utilities.paginator import paginate

from ..core import pki
from ..core.runtime import RUNTIME
from .exceptions import (
    CloudHsmInvalidRequestException,
    CloudHsmResourceLimitExceededException,
    CloudHsmResourceNotFoundException,
)

HSM_TYPES = {"hsm2m.medium"}
RETIRED_HSM_TYPES = {"hsm1.medium"}
CLUSTER_QUOTA = 4
HSM_QUOTA = 6
HSMS_PER_CLUSTER = 28
HSM_PORTS = (2223, 2225)
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def new_id(prefix: str) -> str:
    """An AWS-looking id: prefix, dash, 11 lowercase base32 characters."""
    return f"{prefix}-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(11))


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    """The dict without its None values (AWS omits absent members)."""
    return {k: v for k, v in values.items() if v is not None}


@dataclass
class HsmUser:
    """One user of the HSM user database (roles: admin, crypto-user, unactivated-admin)."""

    username: str
    role: str
    password: str | None
    logged_in: bool = False
    # HSMs whose user database lacks this user (out of sync); empty: on every HSM.
    missing_on: set[str] = field(default_factory=set)

    def present_on_all(self, hsm_ids: Iterable[str]) -> bool:
        """Whether every one of these HSMs has the user."""
        return not self.missing_on.intersection(hsm_ids)

    def public_json(self, hsm_ids: Iterable[str] = ()) -> dict[str, Any]:
        """The user as `cloudhsm-cli user list` shows it (never the password)."""
        coverage = "full" if self.present_on_all(hsm_ids) else "partial"
        return {"username": self.username, "role": self.role, "locked": "false", "mfa": [], "cluster-coverage": coverage}


def initial_users() -> dict[str, HsmUser]:
    """A new cluster's user database: only the unactivated admin."""
    return {"admin": HsmUser("admin", "unactivated-admin", None)}


@dataclass
class Hsm:
    hsm_id: str
    cluster_id: str
    availability_zone: str
    subnet_id: str
    eni_id: str
    eni_ip: str
    hsm_type: str
    state: str = "CREATE_IN_PROGRESS"
    ends_degraded: bool = False
    stuck: bool = False  # the hsm_stuck_creating fault: never leaves CREATE_IN_PROGRESS

    def to_json(self) -> dict[str, Any]:
        return {
            "AvailabilityZone": self.availability_zone,
            "ClusterId": self.cluster_id,
            "SubnetId": self.subnet_id,
            "EniId": self.eni_id,
            "EniIp": self.eni_ip,
            "HsmId": self.hsm_id,
            "HsmType": self.hsm_type,
            "State": self.state,
            "StateMessage": {
                "CREATE_IN_PROGRESS": "HSM is being created.",
                "DELETE_IN_PROGRESS": "HSM is being deleted.",
                "DEGRADED": "HSM is degraded.",
            }.get(self.state, "HSM created."),
        }


@dataclass
class Backup:
    backup_id: str
    account_id: str
    region: str
    cluster_id: str
    hsm_type: str
    mode: str
    lineage: str
    users: dict[str, HsmUser]
    trust_anchor: str
    cluster_certificate: str
    state: str = "CREATE_IN_PROGRESS"
    create_timestamp: float = field(default_factory=RUNTIME.now)
    delete_timestamp: float | None = None
    tags: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return drop_none(
            {
                "BackupId": self.backup_id,
                "BackupArn": f"arn:aws:cloudhsm:{self.region}:{self.account_id}:backup/{self.backup_id}",
                "BackupState": self.state,
                "ClusterId": self.cluster_id,
                "CreateTimestamp": self.create_timestamp,
                "DeleteTimestamp": self.delete_timestamp,
                "NeverExpires": False,
                "SourceRegion": self.region,
                "HsmType": self.hsm_type,
                "Mode": self.mode,
                "TagList": self.tags,
            }
        )


@dataclass
class Cluster:
    cluster_id: str
    hsm_type: str
    mode: str
    network_type: str
    vpc_id: str
    subnet_mapping: dict[str, str]
    security_group: str
    backup_retention: dict[str, str]
    tags: list[dict[str, str]]
    source_backup_id: str | None = None
    state: str = "CREATE_IN_PROGRESS"
    create_timestamp: float = field(default_factory=RUNTIME.now)
    hsms: list[Hsm] = field(default_factory=list)
    users: dict[str, HsmUser] = field(default_factory=initial_users)
    certificates: dict[str, str] = field(default_factory=dict)
    csr_key: Any = None
    csr_reads: int = 0
    trust_anchor: str | None = None
    lineage: str | None = None

    def to_json(self) -> dict[str, Any]:
        return drop_none(
            {
                "BackupPolicy": "DEFAULT",
                "BackupRetentionPolicy": self.backup_retention,
                "ClusterId": self.cluster_id,
                "CreateTimestamp": self.create_timestamp,
                "Hsms": [hsm.to_json() for hsm in self.hsms],
                "HsmType": self.hsm_type,
                "SecurityGroup": self.security_group,
                "SourceBackupId": self.source_backup_id,
                "State": self.state,
                "SubnetMapping": self.subnet_mapping,
                "VpcId": self.vpc_id,
                "NetworkType": self.network_type,
                "Certificates": self.certificates,
                "TagList": self.tags,
                "Mode": self.mode,
            }
        )

    def active_hsms(self) -> list[Hsm]:
        return [hsm for hsm in self.hsms if hsm.state == "ACTIVE"]

    def find_hsm(self, hsm_id: str | None = None, eni_id: str | None = None, eni_ip: str | None = None) -> Hsm | None:
        for hsm in self.hsms:
            if (hsm_id and hsm.hsm_id == hsm_id) or (eni_id and hsm.eni_id == eni_id) or (eni_ip and hsm.eni_ip == eni_ip):
                return hsm
        return None


def validate_retention(policy: Any) -> dict[str, str]:
    """BackupRetentionPolicy must be {Type: DAYS, Value: "7".."379"}."""
    if not isinstance(policy, dict) or policy.get("Type") != "DAYS":
        raise CloudHsmInvalidRequestException("BackupRetentionPolicy.Type must be DAYS")
    value = str(policy.get("Value", ""))
    if not value.isdigit() or not 7 <= int(value) <= 379:
        raise CloudHsmInvalidRequestException(f"BackupRetentionPolicy.Value must be between 7 and 379 days, got {value!r}")
    return {"Type": "DAYS", "Value": value}


# CloudHSM's Tag: Key 1-128 and Value 0-256 characters of letters, digits, spaces and _.:/=+-@.
TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$")


def validate_tags(tags: list[dict[str, str]]) -> None:
    """Refuse tags that CloudHSM refuses: a comma in a value, a key too long, ..."""
    for tag in tags:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if not 1 <= len(key) <= 128 or not TAG_TEXT.match(key):
            raise CloudHsmInvalidRequestException(
                f"Tag key {key!r} must be 1 to 128 letters, digits, spaces or _.:/=+-@"
            )
        if len(value) > 256 or not TAG_TEXT.match(value):
            raise CloudHsmInvalidRequestException(
                f"Tag value {value!r} of key {key!r} must be at most 256 letters, digits, spaces or _.:/=+-@"
            )


class CloudHsmV2Backend(BaseBackend):
    """CloudHSM v2 for one account and region (`cloudhsmv2_backends[account][region]`)."""

    PAGINATION_MODEL = {
        "describe_clusters": {
            "input_token": "next_token",
            "limit_key": "max_results",
            "limit_default": 100,
            "unique_attribute": "cluster_id",
            "fail_on_invalid_token": False,
        },
        "describe_backups": {
            "input_token": "next_token",
            "limit_key": "max_results",
            "limit_default": 100,
            "unique_attribute": "backup_id",
            "fail_on_invalid_token": False,
        },
        "list_tags": {
            "input_token": "next_token",
            "limit_key": "max_results",
            "limit_default": 100,
            "unique_attribute": "Key",
            "fail_on_invalid_token": False,
        },
    }

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.clusters: dict[str, Cluster] = {}
        self.backups: dict[str, Backup] = {}

    @property
    def ec2(self) -> Any:
        return ec2_backends[self.account_id][self.region_name]

    # Clusters

    def get_cluster(self, cluster_id: str | None) -> Cluster:
        cluster = self.clusters.get(cluster_id or "")
        if cluster is None or cluster.state == "DELETED":
            raise CloudHsmResourceNotFoundException(f"Cluster {cluster_id} not found in {self.region_name}")
        return cluster

    def create_cluster(self, params: dict[str, Any]) -> Cluster:
        source = self._source_backup(params.get("SourceBackupId"))
        hsm_type = params.get("HsmType") or (source.hsm_type if source else None)
        if hsm_type in RETIRED_HSM_TYPES:
            raise CloudHsmInvalidRequestException(f"HsmType {hsm_type} can no longer be used for new clusters; use hsm2m.medium")
        if hsm_type not in HSM_TYPES:
            raise CloudHsmInvalidRequestException(f"HsmType must be one of {sorted(HSM_TYPES)}, got {hsm_type!r}")
        mode = params.get("Mode") or (source.mode if source else "FIPS")
        if mode not in ("FIPS", "NON_FIPS"):
            raise CloudHsmInvalidRequestException(f"Mode must be FIPS or NON_FIPS, got {mode!r}")
        if mode == "NON_FIPS" and not hsm_type.startswith("hsm2m."):
            raise CloudHsmInvalidRequestException("Mode NON_FIPS is available only with hsm2m HSM types")
        network_type = params.get("NetworkType") or "IPV4"
        if network_type not in ("IPV4", "DUALSTACK"):
            raise CloudHsmInvalidRequestException(f"NetworkType must be IPV4 or DUALSTACK, got {network_type!r}")
        retention = validate_retention(params.get("BackupRetentionPolicy") or {"Type": "DAYS", "Value": "90"})
        validate_tags(params.get("TagList") or [])
        vpc_id, mapping = self._subnet_mapping(params.get("SubnetIds") or [], network_type)
        live = [c for c in self.clusters.values() if c.state not in ("DELETE_IN_PROGRESS", "DELETED")]
        if len(live) >= CLUSTER_QUOTA:
            raise CloudHsmResourceLimitExceededException(
                f"The account already has {CLUSTER_QUOTA} clusters in {self.region_name} (quota)"
            )
        cluster_id = new_id("cluster")
        cluster = Cluster(
            cluster_id=cluster_id,
            hsm_type=hsm_type,
            mode=mode,
            network_type=network_type,
            vpc_id=vpc_id,
            subnet_mapping=mapping,
            security_group=self._create_security_group(cluster_id, vpc_id),
            backup_retention=retention,
            tags=list(params.get("TagList") or []),
            source_backup_id=source.backup_id if source else None,
        )
        if source:
            cluster.users = copy.deepcopy(source.users)
            cluster.trust_anchor = source.trust_anchor
            cluster.certificates = {"ClusterCertificate": source.cluster_certificate}
            cluster.lineage = source.lineage
        self.clusters[cluster_id] = cluster
        RUNTIME.schedule("cluster_create", lambda: self._cluster_created(cluster))
        return cluster

    def _source_backup(self, backup_id: str | None) -> Backup | None:
        if not backup_id:
            return None
        backup = self.backups.get(backup_id)
        if backup is None:
            raise CloudHsmResourceNotFoundException(f"Backup {backup_id} not found")
        if backup.state != "READY":
            raise CloudHsmInvalidRequestException(f"Backup {backup_id} is {backup.state}; only READY backups can be restored")
        return backup

    def _subnet_mapping(self, subnet_ids: list[str], network_type: str) -> tuple[str, dict[str, str]]:
        if not subnet_ids:
            raise CloudHsmInvalidRequestException("SubnetIds must name at least one subnet")
        mapping: dict[str, str] = {}
        vpcs = set()
        for subnet_id in subnet_ids:
            try:
                subnet = self.ec2.get_subnet(subnet_id)
            except Exception as err:  # moto raises InvalidSubnetIdError
                raise CloudHsmInvalidRequestException(f"Subnet {subnet_id} does not exist") from err
            zone = subnet.availability_zone
            if zone in mapping:
                raise CloudHsmInvalidRequestException(
                    f"Subnets {mapping[zone]} and {subnet_id} are both in {zone}; give one subnet per Availability Zone"
                )
            if network_type == "DUALSTACK" and not subnet.ipv6_cidr_block_associations:
                raise CloudHsmInvalidRequestException(
                    f"NetworkType DUALSTACK needs IPv6 CIDR blocks; subnet {subnet_id} has none"
                )
            mapping[zone] = subnet_id
            vpcs.add(subnet.vpc_id)
        if len(vpcs) != 1:
            raise CloudHsmInvalidRequestException(f"All subnets must be in one VPC, got {sorted(vpcs)}")
        return vpcs.pop(), mapping

    def _create_security_group(self, cluster_id: str, vpc_id: str) -> str:
        name = f"cloudhsm-cluster-{cluster_id}-sg"
        group = self.ec2.create_security_group(name, f"Security group for {cluster_id}", vpc_id=vpc_id)
        self_ref = [{"GroupId": group.id}]
        for authorize in (self.ec2.authorize_security_group_ingress, self.ec2.authorize_security_group_egress):
            authorize(
                group.id, "tcp", str(HSM_PORTS[0]), str(HSM_PORTS[1]), [], source_groups=copy.deepcopy(self_ref), vpc_id=vpc_id
            )
        return group.id

    def _cluster_created(self, cluster: Cluster) -> None:
        if cluster.state == "CREATE_IN_PROGRESS":
            cluster.state = "ACTIVE" if cluster.source_backup_id else "UNINITIALIZED"

    @paginate(PAGINATION_MODEL)
    def describe_clusters(self, filters: dict[str, list[str]]) -> list[Cluster]:
        unknown = set(filters) - {"clusterIds", "vpcIds", "states"}
        if unknown:
            raise CloudHsmInvalidRequestException(f"Unsupported filter(s) {sorted(unknown)}; use clusterIds, vpcIds, states")
        result = []
        for cluster in self.clusters.values():
            if "clusterIds" in filters and cluster.cluster_id not in filters["clusterIds"]:
                continue
            if "vpcIds" in filters and cluster.vpc_id not in filters["vpcIds"]:
                continue
            if "states" in filters and cluster.state not in filters["states"]:
                continue
            result.append(cluster)
        return result

    def note_csr_read(self, cluster: Cluster) -> None:
        """Count reads of an uninitialized CSR: the `hsm_replaced_before_init` fault fires on the Nth."""
        threshold = RUNTIME.faults.hsm_replaced_before_init
        if threshold is None or cluster.state != "UNINITIALIZED" or "ClusterCsr" not in cluster.certificates:
            return
        if RUNTIME.counters.get("hsm_replaced"):
            return
        cluster.csr_reads += 1
        if cluster.csr_reads >= threshold:
            RUNTIME.counters["hsm_replaced"] = 1
            self._replace_first_hsm(cluster)

    def _replace_first_hsm(self, cluster: Cluster) -> None:
        old = cluster.hsms[0]
        self._remove_hsm(cluster, old)
        cluster.certificates = {}
        cluster.csr_key = None
        self._launch_hsm(cluster, old.availability_zone, None)

    def initialize_cluster(self, cluster_id: str | None, signed_cert: str, trust_anchor: str) -> Cluster:
        cluster = self.get_cluster(cluster_id)
        if cluster.state != "UNINITIALIZED":
            raise CloudHsmInvalidRequestException(
                f"Cluster {cluster_id} is {cluster.state}; only an UNINITIALIZED cluster can be initialized"
            )
        if cluster.csr_key is None:
            raise CloudHsmInvalidRequestException(f"Cluster {cluster_id} has no CSR yet: wait until its first HSM is ACTIVE")
        if not signed_cert or not trust_anchor:
            raise CloudHsmInvalidRequestException("SignedCert and TrustAnchor are required")
        try:
            pki.check_signed_cluster_cert(signed_cert, trust_anchor, cluster.csr_key)
        except pki.CertificateError as err:
            raise CloudHsmInvalidRequestException(str(err)) from err
        cluster.state = "INITIALIZE_IN_PROGRESS"
        cluster.trust_anchor = trust_anchor
        cluster.certificates["ClusterCertificate"] = signed_cert
        cluster.lineage = cluster.cluster_id
        RUNTIME.schedule("cluster_initialize", lambda: self._cluster_initialized(cluster))
        return cluster

    def _cluster_initialized(self, cluster: Cluster) -> None:
        if cluster.state == "INITIALIZE_IN_PROGRESS":
            cluster.state = "INITIALIZED"

    def modify_cluster(self, cluster_id: str | None, retention: Any, hsm_type: str | None) -> Cluster:
        cluster = self.get_cluster(cluster_id)
        if hsm_type and hsm_type != cluster.hsm_type:
            raise CloudHsmInvalidRequestException("Changing HsmType is not emulated; create a cluster with the wanted type")
        if retention is not None:
            cluster.backup_retention = validate_retention(retention)
        return cluster

    def delete_cluster(self, cluster_id: str | None) -> Cluster:
        cluster = self.get_cluster(cluster_id)
        if cluster.hsms:
            raise CloudHsmInvalidRequestException(f"Cluster {cluster_id} still has {len(cluster.hsms)} HSM(s); delete them first")
        if cluster.state == "DELETE_IN_PROGRESS":
            raise CloudHsmInvalidRequestException(f"Cluster {cluster_id} is already being deleted")
        cluster.state = "DELETE_IN_PROGRESS"
        if not RUNTIME.faults.cluster_stuck_deleting:
            RUNTIME.schedule("cluster_delete", lambda: self._cluster_deleted(cluster))
        return cluster

    def _cluster_deleted(self, cluster: Cluster) -> None:
        cluster.state = "DELETED"
        try:
            self.ec2.delete_security_group(group_id=cluster.security_group)
        except Exception:  # already deleted by the user, or still in use: AWS leaves it too
            pass
        RUNTIME.schedule("cluster_delete", lambda: self.clusters.pop(cluster.cluster_id, None))

    # HSMs

    def create_hsm(self, cluster_id: str | None, availability_zone: str | None, ip_address: str | None) -> Hsm:
        cluster = self.get_cluster(cluster_id)
        if cluster.state == "UNINITIALIZED" and cluster.hsms:
            raise CloudHsmInvalidRequestException(
                f"Cluster {cluster_id} is UNINITIALIZED and already has an HSM: "
                "initialize and activate the cluster before adding more HSMs"
            )
        if cluster.state not in ("UNINITIALIZED", "ACTIVE"):
            raise CloudHsmInvalidRequestException(
                f"Cluster {cluster_id} is {cluster.state}: HSMs can be added only when it is ACTIVE"
            )
        if availability_zone not in cluster.subnet_mapping:
            raise CloudHsmInvalidRequestException(
                f"Cluster {cluster_id} has no subnet in {availability_zone}; its zones are {sorted(cluster.subnet_mapping)}"
            )
        if len(cluster.hsms) >= HSMS_PER_CLUSTER:
            raise CloudHsmResourceLimitExceededException(f"Cluster {cluster_id} already has {HSMS_PER_CLUSTER} HSMs (quota)")
        quota = RUNTIME.faults.hsm_quota if RUNTIME.faults.hsm_quota is not None else HSM_QUOTA
        in_account = sum(len(c.hsms) for c in self.clusters.values())
        if in_account >= quota:
            raise CloudHsmResourceLimitExceededException(
                f"The account already has {in_account} HSMs in {self.region_name} (quota {quota})"
            )
        if cluster.state == "ACTIVE" and not cluster.hsms:
            self._restore_latest_backup(cluster)
        return self._launch_hsm(cluster, availability_zone, ip_address)

    def _restore_latest_backup(self, cluster: Cluster) -> None:
        own = [b for b in self.backups.values() if b.cluster_id == cluster.cluster_id and b.state != "PENDING_DELETION"]
        source = self.backups.get(cluster.source_backup_id or "")
        candidates = own or ([source] if source else [])
        if not candidates:
            raise CloudHsmInvalidRequestException(f"Cluster {cluster.cluster_id} has no HSM and no backup to restore from")
        latest = max(candidates, key=lambda b: b.create_timestamp)
        cluster.users = copy.deepcopy(latest.users)

    def _launch_hsm(self, cluster: Cluster, availability_zone: str, ip_address: str | None) -> Hsm:
        subnet = self.ec2.get_subnet(cluster.subnet_mapping[availability_zone])
        if ip_address:
            self._check_ip(subnet, ip_address)
        hsm_id = new_id("hsm")
        eni = self.ec2.create_network_interface(
            subnet, ip_address, group_ids=[cluster.security_group], description=f"CloudHSM managed interface for {hsm_id}"
        )
        hsm = Hsm(
            hsm_id=hsm_id,
            cluster_id=cluster.cluster_id,
            availability_zone=availability_zone,
            subnet_id=subnet.id,
            eni_id=eni.id,
            eni_ip=eni.private_ip_address,
            hsm_type=cluster.hsm_type,
            ends_degraded=RUNTIME.faults.hsm_degraded == (nth := RUNTIME.next_counter("hsms_created")),
            stuck=RUNTIME.faults.hsm_stuck_creating == nth,
        )
        cluster.hsms.append(hsm)
        RUNTIME.schedule("hsm_create", lambda: self._hsm_created(cluster, hsm))
        return hsm

    def _check_ip(self, subnet: Any, ip_address: str) -> None:
        try:
            inside = ipaddress.ip_address(ip_address) in ipaddress.ip_network(subnet.cidr_block)
        except ValueError as err:
            raise CloudHsmInvalidRequestException(f"IpAddress {ip_address!r} is not an IPv4 address") from err
        if not inside:
            raise CloudHsmInvalidRequestException(f"IpAddress {ip_address} is not in subnet {subnet.id} ({subnet.cidr_block})")
        if any(eni.private_ip_address == ip_address for eni in self.ec2.enis.values()):
            raise CloudHsmInvalidRequestException(f"IpAddress {ip_address} is already in use in subnet {subnet.id}")

    def _hsm_created(self, cluster: Cluster, hsm: Hsm) -> None:
        if hsm not in cluster.hsms or hsm.state != "CREATE_IN_PROGRESS" or hsm.stuck:
            return
        hsm.state = "DEGRADED" if hsm.ends_degraded else "ACTIVE"
        if cluster.state == "UNINITIALIZED" and cluster.csr_key is None and hsm.state == "ACTIVE":
            cluster.csr_key = pki.new_cluster_key()
            cluster.csr_reads = 0
            cluster.certificates = {
                "ClusterCsr": pki.cluster_csr(cluster.cluster_id, hsm.hsm_id, cluster.csr_key),
                "HsmCertificate": pki.self_signed(f"{hsm.hsm_id} HSM"),
                "AwsHardwareCertificate": pki.self_signed("AWS CloudHSM hardware (emulated)"),
                "ManufacturerHardwareCertificate": pki.self_signed("HSM manufacturer (emulated)"),
            }

    def delete_hsm(self, cluster_id: str | None, hsm_id: str | None, eni_id: str | None, eni_ip: str | None) -> Hsm:
        cluster = self.get_cluster(cluster_id)
        if not (hsm_id or eni_id or eni_ip):
            raise CloudHsmInvalidRequestException("Give one of HsmId, EniId or EniIp")
        hsm = cluster.find_hsm(hsm_id, eni_id, eni_ip)
        if hsm is None:
            raise CloudHsmResourceNotFoundException(f"No HSM {hsm_id or eni_id or eni_ip} in cluster {cluster_id}")
        if hsm.state == "DELETE_IN_PROGRESS":
            return hsm
        remaining = [h for h in cluster.hsms if h.state != "DELETE_IN_PROGRESS" and h is not hsm]
        backup = self._backup(cluster) if not remaining and cluster.trust_anchor else None
        hsm.state = "DELETE_IN_PROGRESS"
        RUNTIME.schedule("hsm_delete", lambda: self._hsm_deleted(cluster, hsm, backup))
        return hsm

    def _backup(self, cluster: Cluster) -> Backup:
        backup = Backup(
            backup_id=new_id("backup"),
            account_id=self.account_id,
            region=self.region_name,
            cluster_id=cluster.cluster_id,
            hsm_type=cluster.hsm_type,
            mode=cluster.mode,
            lineage=cluster.lineage or cluster.cluster_id,
            users=copy.deepcopy(cluster.users),
            trust_anchor=cluster.trust_anchor or "",
            cluster_certificate=cluster.certificates.get("ClusterCertificate", ""),
        )
        self.backups[backup.backup_id] = backup
        return backup

    def _hsm_deleted(self, cluster: Cluster, hsm: Hsm, backup: Backup | None) -> None:
        self._remove_hsm(cluster, hsm)
        if cluster.state == "UNINITIALIZED" and not cluster.hsms:
            cluster.certificates = {}
            cluster.csr_key = None
        if backup is not None and backup.state == "CREATE_IN_PROGRESS":
            backup.state = "READY"

    def _remove_hsm(self, cluster: Cluster, hsm: Hsm) -> None:
        if hsm in cluster.hsms:
            cluster.hsms.remove(hsm)
        self.ec2.enis.pop(hsm.eni_id, None)

    # Backups

    def get_backup(self, backup_id: str | None) -> Backup:
        backup = self.backups.get(backup_id or "")
        if backup is None:
            raise CloudHsmResourceNotFoundException(f"Backup {backup_id} not found")
        return backup

    @paginate(PAGINATION_MODEL)
    def describe_backups(self, filters: dict[str, list[str]], shared: bool, ascending: bool) -> list[Backup]:
        unknown = set(filters) - {"backupIds", "sourceBackupIds", "clusterIds", "states", "neverExpires"}
        if unknown:
            raise CloudHsmInvalidRequestException(f"Unsupported filter(s) {sorted(unknown)}")
        if shared:
            return []
        # Emulated backups are never copies (no source backup) and always expire.
        fields = {
            "backupIds": lambda b: b.backup_id,
            "clusterIds": lambda b: b.cluster_id,
            "states": lambda b: b.state,
            "sourceBackupIds": lambda b: None,
            "neverExpires": lambda b: "false",
        }

        def matches(b: Backup) -> bool:
            for name, values in filters.items():
                wanted = [str(v).lower() for v in values] if name == "neverExpires" else values
                if fields[name](b) not in wanted:
                    return False
            return True

        result = [b for b in self.backups.values() if matches(b)]
        return sorted(result, key=lambda b: b.create_timestamp, reverse=not ascending)

    def delete_backup(self, backup_id: str | None) -> Backup:
        backup = self.get_backup(backup_id)
        if backup.state != "READY":
            raise CloudHsmInvalidRequestException(f"Backup {backup_id} is {backup.state}; only READY backups can be deleted")
        backup.state = "PENDING_DELETION"
        backup.delete_timestamp = RUNTIME.now() + 7 * 86400
        return backup

    def restore_backup(self, backup_id: str | None) -> Backup:
        backup = self.get_backup(backup_id)
        if backup.state != "PENDING_DELETION":
            raise CloudHsmInvalidRequestException(
                f"Backup {backup_id} is {backup.state}; only PENDING_DELETION backups can be restored"
            )
        backup.state = "READY"
        backup.delete_timestamp = None
        return backup

    # Tags

    def _taggable(self, resource_id: str) -> list[dict[str, str]]:
        if resource_id in self.backups:
            return self.backups[resource_id].tags
        return self.get_cluster(resource_id).tags

    def tag_resource(self, resource_id: str, tags: list[dict[str, str]]) -> None:
        current = self._taggable(resource_id)
        validate_tags(tags)
        keys = {tag["Key"] for tag in tags}
        merged = [t for t in current if t["Key"] not in keys] + list(tags)
        if len(merged) > 50:
            raise CloudHsmInvalidRequestException(f"Resource {resource_id} would have more than 50 tags")
        current[:] = merged

    def untag_resource(self, resource_id: str, keys: list[str]) -> None:
        current = self._taggable(resource_id)
        current[:] = [t for t in current if t["Key"] not in keys]

    @paginate(PAGINATION_MODEL)
    def list_tags(self, resource_id: str) -> list[dict[str, str]]:
        return list(self._taggable(resource_id))


cloudhsmv2_backends = BackendDict(CloudHsmV2Backend, "cloudhsmv2")
