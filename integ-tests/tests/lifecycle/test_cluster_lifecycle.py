"""The example app's cluster through its whole lifecycle in the emulator.

Each test synthesizes cdk-app/ with context values (as a user changes props), then
creates, updates and deletes it with the lifecycle runner: the real entry and
cluster-tasks binaries run the synthesized workflows on moto's Step Functions, and
the activation script runs on the emulated management client.
"""

import time

import boto3
import pytest
from botocore.config import Config
from cryptography import x509

from runner.stack import OperationFailed, Stack

from .conftest import stack_for

CLUSTER = "Hsm2CBA3DD8"
HSMS = "HsmHsms20B6A642"


def client(emulator, service: str):
    return boto3.client(
        service,
        endpoint_url=emulator.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def secrets(emulator) -> list[tuple[str, str]]:
    """Every secret in the emulator, as (description, value)."""
    client_ = client(emulator, "secretsmanager")
    return [
        (entry.get("Description", ""), client_.get_secret_value(SecretId=entry["ARN"])["SecretString"])
        for entry in client_.list_secrets()["SecretList"]
    ]


def secret(emulator, description_part: str) -> str:
    [value] = [v for d, v in secrets(emulator) if description_part in d]
    return value


def only_cluster(emulator) -> dict:
    [cluster] = emulator.state()["clusters"]
    return cluster


def outcome(stack: Stack, request_type: str, logical_id: str):
    found = [op.outcome for op, _ in stack.progress.operations if (op.request_type, op.logical_id) == (request_type, logical_id)]
    assert found, f"no {request_type} of {logical_id}"
    return found[-1]


def test_default_cluster_is_created_activated_resized_to_zero_and_back_and_deleted(emulator, app):
    stack, _ = stack_for(app(), emulator)
    stack.create()

    cluster = only_cluster(emulator)
    assert cluster["State"] == "ACTIVE", "initialized and activated through the management client"
    hsms = [h for h in cluster["Hsms"] if h["State"] == "ACTIVE"]
    assert len(hsms) == 2 and len({h["AvailabilityZone"] for h in hsms}) == 2, "one HSM in each of the two AZs"
    assert {"username": "admin", "role": "admin", "logged_in": False} in cluster["Users"]
    created = outcome(stack, "Create", CLUSTER)
    assert created.physical_id == cluster["ClusterId"]
    assert created.data["ClusterId"] == cluster["ClusterId"]
    assert created.data["SecurityGroupId"] == cluster["SecurityGroup"]
    ips = outcome(stack, "Create", HSMS).data["HsmIpAddresses"].split(",")
    assert sorted(ips) == sorted(h["EniIp"] for h in hsms)
    # The trust anchor is kept; the CSR and certificate were published; the password is 32 letters and digits.
    assert secret(emulator, "trust anchor").startswith("-----BEGIN CERTIFICATE-----")
    assert secret(emulator, "cluster CSR").startswith("-----BEGIN CERTIFICATE REQUEST-----")
    password = secret(emulator, "initial password")
    assert len(password) == 32 and password.isalnum()
    # The HSM ports between the client and the cluster, opened by the workflow, and nothing else.
    groups = {g["GroupId"]: g for g in client(emulator, "ec2").describe_security_groups()["SecurityGroups"]}
    [client_group] = [g for g in groups.values() if "management client" in g["Description"]]
    egress = {
        (
            p["IpProtocol"],
            p.get("FromPort"),
            p.get("ToPort"),
            tuple(sorted(x["GroupId"] for x in p["UserIdGroupPairs"])),
            tuple(sorted(r["CidrIp"] for r in p["IpRanges"])),
        )
        for p in client_group["IpPermissionsEgress"]
    }
    assert egress == {("tcp", 443, 443, (), ("0.0.0.0/0",)), ("tcp", 2223, 2225, (cluster["SecurityGroup"],), ())}
    ingress = groups[cluster["SecurityGroup"]]["IpPermissions"]
    assert any(
        p["FromPort"] == 2223 and p["ToPort"] == 2225 and client_group["GroupId"] in [x["GroupId"] for x in p["UserIdGroupPairs"]]
        for p in ingress
    )

    stack.update(app(hsmsPerSubnet="2"))
    assert len([h for h in only_cluster(emulator)["Hsms"] if h["State"] == "ACTIVE"]) == 4
    assert len(outcome(stack, "Update", HSMS).data["HsmIpAddresses"].split(",")) == 4

    stack.update(app(hsmsPerSubnet="0"))
    emptied = only_cluster(emulator)
    assert emptied["State"] == "ACTIVE" and emptied["Hsms"] == [], "no HSM to pay for, the cluster stays"
    assert any(b["ClusterId"] == emptied["ClusterId"] for b in emulator.state()["backups"]), "the last HSM left a backup"

    stack.update(app(hsmsPerSubnet="1"))
    assert len(only_cluster(emulator)["Hsms"]) == 2, "restored from the backup"

    stack.delete()
    assert emulator.state()["clusters"] == []
    assert secret(emulator, "trust anchor").startswith("-----BEGIN CERTIFICATE-----"), "the CA certificate outlives the stack"


def test_three_zones_with_two_hsms_each(emulator, app):
    stack, _ = stack_for(app(azs="3", hsmsPerSubnet="2"), emulator)
    stack.create()
    hsms = only_cluster(emulator)["Hsms"]
    assert len(hsms) == 6
    assert sorted({h["AvailabilityZone"] for h in hsms}) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    stack.delete()
    assert emulator.state()["clusters"] == []


def test_an_external_pki_stops_at_the_published_csr(emulator, app):
    stack, out = stack_for(app(pki="external"), emulator)
    stack.create()
    cluster = only_cluster(emulator)
    assert cluster["State"] == "UNINITIALIZED"
    assert len(cluster["Hsms"]) == 1, "more HSMs come once the cluster is activated"
    assert outcome(stack, "Create", CLUSTER).data["State"] == "UNINITIALIZED"
    assert secret(emulator, "cluster CSR") == cluster["Certificates"]["ClusterCsr"]
    assert not secret(emulator, "trust anchor").startswith("-----BEGIN"), "nothing was issued for the user"
    stack.delete()
    assert emulator.state()["clusters"] == []


def issued_by(emulator, ca_arn: str) -> None:
    """The cluster certificate was issued by that CA, whose certificate is the trust anchor."""
    cluster = only_cluster(emulator)
    assert cluster["State"] == "ACTIVE"
    ca_pem = client(emulator, "acm-pca").get_certificate_authority_certificate(CertificateAuthorityArn=ca_arn)["Certificate"]
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    certificate = x509.load_pem_x509_certificate(cluster["Certificates"]["ClusterCertificate"].encode())
    assert certificate.issuer == ca.subject
    certificate.verify_directly_issued_by(ca)
    assert x509.load_pem_x509_certificate(secret(emulator, "trust anchor").encode()) == ca
    csr = x509.load_pem_x509_csr(secret(emulator, "cluster CSR").encode())
    assert certificate.public_key() == csr.public_key()


def new_ca(emulator, name: str, parent: str | None = None) -> str:
    """An ACTIVE AWS Private CA made outside the stack: a root, or a subordinate of `parent`."""
    pca = client(emulator, "acm-pca")
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": "RSA_2048", "SigningAlgorithm": "SHA256WITHRSA", "Subject": {"CommonName": name},
        },
        CertificateAuthorityType="SUBORDINATE" if parent else "ROOT",
    )["CertificateAuthorityArn"]
    request = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    template = "SubordinateCACertificate_PathLen0/V1" if parent else "RootCACertificate/V1"
    issued = pca.issue_certificate(
        CertificateAuthorityArn=parent or arn, Csr=request.encode(), SigningAlgorithm="SHA256WITHRSA",
        TemplateArn=f"arn:aws:acm-pca:::template/{template}", Validity={"Type": "YEARS", "Value": 10},
    )["CertificateArn"]
    for _ in range(100):
        try:
            got = pca.get_certificate(CertificateAuthorityArn=parent or arn, CertificateArn=issued)
            break
        except pca.exceptions.RequestInProgressException:
            time.sleep(0.05)
    chain = {"CertificateChain": got["CertificateChain"].encode()} if parent else {}
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=got["Certificate"].encode(), **chain)
    return arn


def test_a_private_ca_issues_the_certificate(emulator, app):
    stack, _ = stack_for(app(pki="private-ca"), emulator)
    stack.create()
    [ca] = client(emulator, "acm-pca").list_certificate_authorities()["CertificateAuthorities"]
    assert ca["Type"] == "ROOT"
    issued_by(emulator, ca["Arn"])
    stack.delete()


def test_an_existing_root_ca_issues_the_certificate(emulator, app):
    ca = new_ca(emulator, "existing root")
    stack, _ = stack_for(app(pki="certificate-authority", certificateAuthorityArn=ca), emulator, timeout=120)
    stack.create()
    issued_by(emulator, ca)
    stack.delete()


def test_a_subordinate_ca_is_refused_with_the_reason_and_nothing_is_left(emulator, app):
    root = new_ca(emulator, "root")
    subordinate = new_ca(emulator, "issuing", parent=root)
    stack, _ = stack_for(app(pki="certificate-authority", certificateAuthorityArn=subordinate), emulator, timeout=120)
    with pytest.raises(OperationFailed):
        stack.create()
    failed = outcome(stack, "Create", CLUSTER)
    assert failed.status == "FAILED"
    assert f"private CA {subordinate} is a subordinate CA (its chain has 2 certificates)" in failed.reason
    assert "issued directly by a root CA" in failed.reason
    assert emulator.state()["clusters"] == [], "the rollback deleted every HSM and the cluster"


def test_a_cluster_restored_from_a_backup_skips_initialization(emulator, app):
    first, _ = stack_for(app(), emulator)
    first.create()
    original_ca = secret(emulator, "trust anchor")
    first.update(app(hsmsPerSubnet="0"))
    [backup] = [b for b in emulator.state()["backups"] if b["BackupState"] == "READY"]
    first.delete()

    second, _ = stack_for(app(sourceBackupId=backup["BackupId"]), emulator)
    second.create()
    restored = only_cluster(emulator)
    assert restored["State"] == "ACTIVE"
    assert restored["SourceBackupId"] == backup["BackupId"]
    assert len([h for h in restored["Hsms"] if h["State"] == "ACTIVE"]) == 2
    # The first stack's CA certificate was kept and carried over to the restored cluster.
    anchors = [v.strip() for d, v in secrets(emulator) if "trust anchor" in d]
    assert anchors == [original_ca.strip()] * 2
    second.delete()


@pytest.mark.parametrize(
    "context, fault, reason",
    [
        ({"azs": "3"}, {"hsm_quota": 2}, "CreateHsm on cluster cluster-"),
        (
            {},
            {"command_fails": [{"match": "cluster activate", "stderr": "error: HSM unreachable", "exit_code": 4}]},
            "activating the cluster on the management client i-",
        ),
        ({}, {"hsm_degraded": 1}, "is DEGRADED"),
    ],
    ids=["quota reached at the 3rd HSM", "activation command fails", "first HSM degraded"],
)
def test_failures_end_in_a_clear_failed_answer_and_leave_nothing_behind(emulator, app, context, fault, reason):
    emulator.configure(faults=fault)
    stack, _ = stack_for(app(**context), emulator)
    with pytest.raises(OperationFailed) as failed:
        stack.create()
    assert reason in str(failed.value)
    failures = [op for op, _ in stack.progress.operations if op.outcome and op.outcome.status == "FAILED"]
    assert failures and all(op.duration < 60 for op in failures), "answered in seconds, not an hour"
    assert emulator.state()["clusters"] == [], "the rollback deleted every HSM and the cluster"


def test_quota_reason_names_the_limit_and_the_fix(emulator, app):
    emulator.configure(faults={"hsm_quota": 2})
    stack, _ = stack_for(app(azs="3"), emulator)
    with pytest.raises(OperationFailed):
        stack.create()
    failed = outcome(stack, "Create", HSMS)
    assert failed.status == "FAILED"
    assert "CloudHsmResourceLimitExceededException" in failed.reason
    assert "ask AWS for a higher quota" in failed.reason


def test_an_hsm_replaced_before_initialization_gets_a_certificate_for_its_new_csr(emulator, app):
    emulator.configure(faults={"hsm_replaced_before_init": 3})
    stack, _ = stack_for(app(), emulator)
    stack.create()
    cluster = only_cluster(emulator)
    assert cluster["State"] == "ACTIVE"
    # Published again after the replacement: a certificate for the old CSR would not have initialized it.
    assert secret(emulator, "cluster CSR") == cluster["Certificates"]["ClusterCsr"]
    stack.delete()


def test_a_step_that_crashes_once_is_run_again(emulator, app):
    emulator.configure(faults={"lambda_fails": [{"function": "TasksFunction", "nth": 3, "mode": "crash"}]})
    stack, _ = stack_for(app(), emulator)
    stack.create()
    assert only_cluster(emulator)["State"] == "ACTIVE"
    stack.delete()
    assert emulator.state()["clusters"] == []


def test_a_step_that_keeps_timing_out_fails_the_resource_in_seconds(emulator, app):
    emulator.configure(faults={"lambda_fails": [{"function": "TasksFunction", "nth": 4, "times": 3, "mode": "timeout"}]})
    stack, _ = stack_for(app(), emulator)
    with pytest.raises(OperationFailed) as failed:
        stack.create()
    assert "Task timed out after" in str(failed.value)
    failed_op = outcome(stack, "Create", CLUSTER)
    assert failed_op.status == "FAILED"
    assert [op.duration < 60 for op, _ in stack.progress.operations if op.request_type == "Create"] == [True]
    assert emulator.state()["clusters"] == [], "the rollback removed the cluster"


def test_a_new_cluster_without_hsms_is_refused_before_anything_is_created(emulator, app):
    stack, _ = stack_for(app(hsmsPerSubnet="0"), emulator)
    with pytest.raises(OperationFailed) as failed:
        stack.create()
    assert "hsmsPerSubnet is 0, but a new cluster needs an HSM to be initialized and activated" in str(failed.value)
    assert emulator.state()["clusters"] == []
