"""Updates of the example app's cluster in the emulator: an external PKI's second phase,
re-runs of the workflow's security group rules, backup retention, scaling to zero and
back to the same IP addresses, and an AWS Private CA imported by ARN that is not ACTIVE.

Each test asserts the emulator's state afterwards (clusters, HSMs, rules, tags), not
only the answers CloudFormation got.
"""

import datetime

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from runner.stack import OperationFailed, Stack

from .conftest import stack_for
from .test_cluster_lifecycle import CLUSTER, HSMS, client, new_ca, only_cluster, outcome

HSM_IPS_TAG = "cdk-cloudhsm:hsm-ips:"


def secret_arn(emulator, description_part: str) -> str:
    [arn] = [
        s["ARN"] for s in client(emulator, "secretsmanager").list_secrets()["SecretList"] if description_part in s["Description"]
    ]
    return arn


def read_secret(emulator, description_part: str) -> str:
    arn = secret_arn(emulator, description_part)
    return client(emulator, "secretsmanager").get_secret_value(SecretId=arn)["SecretString"]


def put_secret(emulator, description_part: str, value: str) -> str:
    arn = secret_arn(emulator, description_part)
    client(emulator, "secretsmanager").put_secret_value(SecretId=arn, SecretString=value)
    return arn


CERTIFICATE = "the cluster certificate (PEM)"
TRUST_ANCHOR = "trust anchor"
CSR = "cluster CSR"

NOW = datetime.datetime.now(datetime.UTC)


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def root_ca(name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The user's own root CA: a key and its self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def issue(
    csr_pem: str,
    ca: tuple[rsa.RSAPrivateKey, x509.Certificate],
    valid_from_days: int = -1,
    valid_days: int = 3650,
    public_key=None,
) -> str:
    """What the user's PKI answers: the CSR's subject and key, signed by the CA."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    ca_key, ca_certificate = ca
    start = NOW + datetime.timedelta(days=valid_from_days)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_certificate.subject)
        .public_key(public_key or csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=valid_days))
        .sign(ca_key, hashes.SHA256())
    )
    return pem(certificate)


def failed_update(stack: Stack, template, reason_part: str) -> str:
    """The update fails with the reason, and CloudFormation's rollback Update of the cluster succeeds."""
    before = len(stack.progress.operations)
    with pytest.raises(OperationFailed) as raised:
        stack.update(template)
    assert reason_part in str(raised.value), str(raised.value)
    ops = stack.progress.operations[before:]
    updates = [op.outcome for op, _ in ops if (op.request_type, op.logical_id) == ("Update", CLUSTER)]
    assert [u.status for u in updates] == ["FAILED", "SUCCESS"], [(u.status, u.reason) for u in updates]
    assert reason_part in updates[0].reason, updates[0].reason
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    return updates[0].reason


def test_an_external_pki_cluster_is_finished_by_an_update_once_its_certificates_are_right(emulator, app):
    stack, _ = stack_for(app(pki="external"), emulator, timeout=120)
    stack.create()
    assert only_cluster(emulator)["State"] == "UNINITIALIZED"
    ready = app(pki="external", certificatesReady="true")
    csr = read_secret(emulator, CSR)
    ca = root_ca("my root CA")
    cert_arn, ca_arn = secret_arn(emulator, CERTIFICATE), secret_arn(emulator, TRUST_ANCHOR)

    # Each wrong answer is refused before any call to CloudHSM, with its own sentence.
    reason = failed_update(stack, ready, f"the cluster certificate secret {cert_arn} is empty")
    assert "then update the stack again" in reason
    put_secret(emulator, CERTIFICATE, "MIIC...not PEM")
    put_secret(emulator, TRUST_ANCHOR, pem(ca[1]))
    failed_update(stack, ready, f"the cluster certificate secret {cert_arn} does not hold a PEM certificate")
    put_secret(emulator, CERTIFICATE, issue(csr, root_ca("another CA")))
    unsigned = f"the certificate in secret {cert_arn} was not signed by the CA certificate in secret {ca_arn}"
    failed_update(stack, ready, unsigned)
    put_secret(emulator, CERTIFICATE, issue(csr, ca, valid_from_days=-400, valid_days=30))
    failed_update(stack, ready, f"the cluster certificate in secret {cert_arn} expired on")
    put_secret(emulator, CERTIFICATE, issue(csr, ca, valid_from_days=10))
    failed_update(stack, ready, f"the cluster certificate in secret {cert_arn} is not valid yet")
    good = issue(csr, ca)
    put_secret(emulator, CERTIFICATE, good)
    put_secret(emulator, TRUST_ANCHOR, good)
    failed_update(stack, ready, f"the CA certificate in secret {ca_arn} is not self-signed")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    put_secret(emulator, CERTIFICATE, issue(csr, ca, public_key=other_key))
    put_secret(emulator, TRUST_ANCHOR, pem(ca[1]))
    put_secret(emulator, CSR, "pending: not issued yet")
    failed_update(stack, ready, "was issued for another key than the one in the cluster's current CSR")
    assert read_secret(emulator, CSR) == csr, "the current CSR is published again for the user to sign"

    refused = only_cluster(emulator)
    assert refused["State"] == "UNINITIALIZED" and len(refused["Hsms"]) == 1, "every refusal left the cluster as it was"
    assert refused["Certificates"].get("ClusterCertificate") is None

    # The corrected certificates: initialized, activated, and the HSMs grow in the same deployment.
    put_secret(emulator, CERTIFICATE, good)
    stack.update(ready)
    cluster = only_cluster(emulator)
    assert cluster["State"] == "ACTIVE"
    hsms = [h for h in cluster["Hsms"] if h["State"] == "ACTIVE"]
    assert len(hsms) == 2 and len({h["AvailabilityZone"] for h in hsms}) == 2
    initialized_with = x509.load_pem_x509_certificate(cluster["Certificates"]["ClusterCertificate"].encode())
    assert initialized_with == x509.load_pem_x509_certificate(good.encode())
    assert {"username": "admin", "role": "admin", "logged_in": False} in cluster["Users"]
    assert outcome(stack, "Update", CLUSTER).data["State"] == "ACTIVE"
    assert sorted(outcome(stack, "Update", HSMS).data["HsmIpAddresses"].split(",")) == sorted(h["EniIp"] for h in hsms)

    # The same update again changes nothing.
    assert stack.update(ready) == []
    assert only_cluster(emulator) == cluster
    stack.delete()
    assert emulator.state()["clusters"] == []


def hsm_rules(emulator, cluster: dict) -> tuple[list, list]:
    """The 2223-2225 rules between the client's group and the cluster's."""
    groups = {g["GroupId"]: g for g in client(emulator, "ec2").describe_security_groups()["SecurityGroups"]}
    [client_group] = [g for g in groups.values() if "management client" in g["Description"]]
    egress = [p for p in client_group["IpPermissionsEgress"] if p.get("FromPort") == 2223]
    ingress = [
        p for p in groups[cluster["SecurityGroup"]]["IpPermissions"]
        if p.get("FromPort") == 2223 and client_group["GroupId"] in [x["GroupId"] for x in p["UserIdGroupPairs"]]
    ]
    return egress, ingress


def test_a_second_try_after_a_failed_activation_adds_the_rules_again_and_finishes(emulator, app):
    stack, _ = stack_for(app(pki="external"), emulator, timeout=120)
    stack.create()
    ca = root_ca("my root CA")
    put_secret(emulator, CERTIFICATE, issue(read_secret(emulator, CSR), ca))
    put_secret(emulator, TRUST_ANCHOR, pem(ca[1]))
    ready = app(pki="external", certificatesReady="true")

    unreachable = {"match": "cluster activate", "stderr": "error: HSM unreachable", "exit_code": 4}
    emulator.configure(faults={"command_fails": [unreachable]})
    failed_update(stack, ready, "activating the cluster on the management client i-")
    halfway = only_cluster(emulator)
    assert halfway["State"] == "INITIALIZED", "initialized, not activated"
    egress, ingress = hsm_rules(emulator, halfway)
    assert len(egress) == 1 and len(ingress) == 1, "the first try opened the ports"

    # The second try adds the same rules: EC2 refuses them as duplicates, the workflow goes on.
    emulator.configure(faults={})
    stack.update(ready)
    cluster = only_cluster(emulator)
    assert cluster["State"] == "ACTIVE"
    assert len([h for h in cluster["Hsms"] if h["State"] == "ACTIVE"]) == 2
    assert hsm_rules(emulator, cluster) == (egress, ingress), "still one rule each way"
    # The emulator refuses the duplicate as EC2 does, so the second try did go through that path.
    ec2 = client(emulator, "ec2")
    [client_group] = [g for g in ec2.describe_security_groups()["SecurityGroups"] if "management client" in g["Description"]]
    to_cluster = {
        "IpProtocol": "tcp", "FromPort": 2223, "ToPort": 2225, "UserIdGroupPairs": [{"GroupId": cluster["SecurityGroup"]}],
    }
    with pytest.raises(ClientError, match="InvalidPermission.Duplicate"):
        ec2.authorize_security_group_egress(GroupId=client_group["GroupId"], IpPermissions=[to_cluster])
    stack.delete()
    assert emulator.state()["clusters"] == []


def test_backup_retention_is_changed_in_place(emulator, app):
    stack, _ = stack_for(app(), emulator, timeout=120)
    stack.create()
    before = only_cluster(emulator)
    assert before["BackupRetentionPolicy"] == {"Type": "DAYS", "Value": "90"}
    stack.update(app(backupRetentionDays="30"))
    after = only_cluster(emulator)
    assert after["BackupRetentionPolicy"] == {"Type": "DAYS", "Value": "30"}
    assert after["ClusterId"] == before["ClusterId"] and after["Hsms"] == before["Hsms"], "the same cluster, HSMs untouched"
    assert outcome(stack, "Update", CLUSTER).physical_id == before["ClusterId"]
    stack.delete()
    assert emulator.state()["clusters"] == []


def remembered(cluster: dict) -> dict[str, list[str]]:
    tags = cluster["TagList"]
    return {t["Key"].removeprefix(HSM_IPS_TAG): t["Value"].split() for t in tags if t["Key"].startswith(HSM_IPS_TAG)}


def test_scaling_to_zero_and_back_gives_the_hsms_their_ip_addresses_again(emulator, app):
    stack, _ = stack_for(app(), emulator, timeout=120)
    stack.create()
    first = {h["SubnetId"]: h["EniIp"] for h in only_cluster(emulator)["Hsms"]}
    assert len(first) == 2

    stack.update(app(hsmsPerSubnet="0"))
    emptied = only_cluster(emulator)
    assert emptied["Hsms"] == []
    assert remembered(emptied) == {subnet: [ip] for subnet, ip in first.items()}, "each address kept in a tag of its subnet"

    stack.update(app(hsmsPerSubnet="1"))
    back = only_cluster(emulator)
    assert {h["SubnetId"]: h["EniIp"] for h in back["Hsms"]} == first
    assert outcome(stack, "Update", HSMS).data["IpAddressesNotKept"] == ""

    # Taken meanwhile: the HSM is made anyway, with a new address, and the answer says which was lost.
    stack.update(app(hsmsPerSubnet="0"))
    taken_subnet, taken_ip = sorted(first.items())[0]
    eni = client(emulator, "ec2").create_network_interface(SubnetId=taken_subnet, PrivateIpAddress=taken_ip)
    stack.update(app(hsmsPerSubnet="1"))
    again = {h["SubnetId"]: h["EniIp"] for h in only_cluster(emulator)["Hsms"]}
    assert again[taken_subnet] != taken_ip
    assert {s: ip for s, ip in again.items() if s != taken_subnet} == {s: ip for s, ip in first.items() if s != taken_subnet}
    assert outcome(stack, "Update", HSMS).data["IpAddressesNotKept"] == taken_ip
    client(emulator, "ec2").delete_network_interface(NetworkInterfaceId=eni["NetworkInterface"]["NetworkInterfaceId"])
    stack.delete()
    assert emulator.state()["clusters"] == []


def test_an_imported_ca_that_is_not_active_is_refused_before_anything_billable(emulator, app):
    ca = new_ca(emulator, "disabled root")
    client(emulator, "acm-pca").update_certificate_authority(CertificateAuthorityArn=ca, Status="DISABLED")
    stack, _ = stack_for(app(pki="certificate-authority", certificateAuthorityArn=ca), emulator, timeout=120)
    with pytest.raises(OperationFailed):
        stack.create()
    failed = outcome(stack, "Create", CLUSTER)
    assert failed.status == "FAILED"
    assert f"private CA {ca} is DISABLED, not ACTIVE" in failed.reason
    assert "nothing was created" in failed.reason
    assert emulator.state()["clusters"] == [], "no cluster and no HSM were made"


def client_instance(stack: Stack) -> str:
    [instance] = [r.physical_id for r in stack.resources.values() if r.type == "AWS::EC2::Instance"]
    return instance


def commands_on(emulator, instance_id: str) -> list[dict]:
    return [c for c in emulator.state()["commands"] if c["InstanceId"] == instance_id]


def test_a_replaced_client_is_configured_for_the_cluster_and_then_resizes_it(emulator, app):
    stack, _ = stack_for(app(), emulator, timeout=120)
    stack.create()
    before = only_cluster(emulator)
    old = client_instance(stack)
    assert commands_on(emulator, old), "the first client activated the cluster"

    # Another subnet: CloudFormation replaces the instance; the HSMs resource follows it.
    stack.update(app(clientSubnet="1"))
    new = client_instance(stack)
    assert new != old
    ec2 = client(emulator, "ec2")
    [old_state] = [i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=[old])["Reservations"] for i in r["Instances"]]
    assert old_state in ("shutting-down", "terminated"), "the old client is removed in the cleanup phase"
    configured = commands_on(emulator, new)
    assert [c["Status"] for c in configured] == ["Success"], "the new client was configured once, in the same deployment"
    after = only_cluster(emulator)
    assert after["Hsms"] == before["Hsms"], "the HSMs were not touched"
    assert outcome(stack, "Update", HSMS).status == "SUCCESS"
    assert [op.logical_id for op, _ in stack.progress.operations if op.request_type == "Update"] == [HSMS]

    # The next workflow that needs the client runs on the new one.
    sent_to_old = len(commands_on(emulator, old))
    stack.update(app(clientSubnet="1", hsmsPerSubnet="2"))
    assert len([h for h in only_cluster(emulator)["Hsms"] if h["State"] == "ACTIVE"]) == 4
    assert [c["Status"] for c in commands_on(emulator, new)] == ["Success", "Success"]
    assert len(commands_on(emulator, old)) == sent_to_old, "nothing was sent to the old client"
    stack.delete()
    assert emulator.state()["clusters"] == []
