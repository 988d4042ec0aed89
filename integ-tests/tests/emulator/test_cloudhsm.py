"""CloudHSM v2: validation, lifecycle order, certificates, quotas, backups and restore."""

import json
import re
import urllib.request

import pytest
from botocore.exceptions import ClientError
from cryptography import x509

from conftest import ADMIN_PASSWORD, ZONES, CustomerCa, IntermediateCa, wait_for


def error_code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"HsmType": "hsm1.medium"}, "no longer be used"),
        ({"HsmType": "hsm9.huge"}, "HsmType must be one of"),
        ({"Mode": "SOMETIMES"}, "Mode must be FIPS or NON_FIPS"),
        ({"NetworkType": "IPV6"}, "NetworkType must be IPV4 or DUALSTACK"),
        ({"NetworkType": "DUALSTACK"}, "needs IPv6 CIDR blocks"),
        ({"BackupRetentionPolicy": {"Type": "DAYS", "Value": "6"}}, "between 7 and 379"),
        ({"BackupRetentionPolicy": {"Type": "DAYS", "Value": "380"}}, "between 7 and 379"),
        ({"SubnetIds": ["subnet-12345678"]}, "does not exist"),
    ],
)
def test_create_cluster_validation_errors(lab, overrides, message):
    params = {"HsmType": "hsm2m.medium", "SubnetIds": lab.subnets[:2], **overrides}
    with pytest.raises(ClientError) as excinfo:
        lab.hsm.create_cluster(**params)
    assert error_code(excinfo) == "CloudHsmInvalidRequestException"
    assert message in excinfo.value.response["Error"]["Message"]


def test_create_cluster_needs_one_subnet_per_zone_in_one_vpc(lab, ec2):
    same_zone = ec2.create_subnet(VpcId=lab.vpc_id, CidrBlock="10.0.9.0/24", AvailabilityZone=ZONES[0])["Subnet"]["SubnetId"]
    with pytest.raises(ClientError, match="one subnet per Availability Zone"):
        lab.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=[lab.subnets[0], same_zone])
    other_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    elsewhere = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.1.1.0/24", AvailabilityZone=ZONES[1])["Subnet"]["SubnetId"]
    with pytest.raises(ClientError, match="one VPC"):
        lab.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=[lab.subnets[0], elsewhere])


def test_create_cluster_with_unknown_source_backup_is_not_found(lab):
    with pytest.raises(ClientError) as excinfo:
        lab.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=lab.subnets[:1], SourceBackupId="backup-aaaaaaaaaaa")
    assert error_code(excinfo) == "CloudHsmResourceNotFoundException"


def test_cluster_shape_ids_security_group_and_epoch_timestamps(lab, emulator, ec2):
    cluster = lab.hsm.create_cluster(
        HsmType="hsm2m.medium", Mode="NON_FIPS", SubnetIds=lab.subnets, TagList=[{"Key": "team", "Value": "x"}]
    )["Cluster"]
    assert re.fullmatch(r"cluster-[a-z2-7]{11}", cluster["ClusterId"])
    assert cluster["State"] == "CREATE_IN_PROGRESS"
    assert cluster["Mode"] == "NON_FIPS" and cluster["VpcId"] == lab.vpc_id
    assert cluster["SubnetMapping"] == dict(zip(ZONES, lab.subnets, strict=True))
    group = ec2.describe_security_groups(GroupIds=[cluster["SecurityGroup"]])["SecurityGroups"][0]
    assert group["GroupName"] == f"cloudhsm-cluster-{cluster['ClusterId']}-sg" and group["VpcId"] == lab.vpc_id
    [rule] = group["IpPermissions"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 2223, 2225)
    assert rule["UserIdGroupPairs"][0]["GroupId"] == group["GroupId"]
    raw = urllib.request.Request(
        emulator.endpoint,
        data=json.dumps({"Filters": {"clusterIds": [cluster["ClusterId"]]}}).encode(),
        headers={
            "X-Amz-Target": "BaldrApiService.DescribeClusters",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/cloudhsm/aws4_request, "
            "SignedHeaders=host, Signature=x",
        },
    )
    body = json.loads(urllib.request.urlopen(raw).read())
    assert isinstance(body["Clusters"][0]["CreateTimestamp"], float)


def test_cluster_states_progress_and_filters(lab, emulator):
    emulator.configure(time_scale=1000)  # long enough to observe the transient state under load
    cluster_id = lab.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=lab.subnets)["Cluster"]["ClusterId"]
    assert lab.cluster(cluster_id)["State"] == "CREATE_IN_PROGRESS"
    lab.wait_cluster(cluster_id, "UNINITIALIZED")
    by_vpc = lab.hsm.describe_clusters(Filters={"vpcIds": [lab.vpc_id], "states": ["UNINITIALIZED"]})["Clusters"]
    assert [c["ClusterId"] for c in by_vpc] == [cluster_id]
    assert lab.hsm.describe_clusters(Filters={"states": ["ACTIVE"]})["Clusters"] == []


def test_create_hsm_makes_real_eni_and_csr(lab, ec2):
    cluster_id = lab.create_cluster()
    assert "ClusterCsr" not in lab.cluster(cluster_id)["Certificates"]
    hsm = lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[1], IpAddress="10.0.1.50")["Hsm"]
    assert re.fullmatch(r"hsm-[a-z2-7]{11}", hsm["HsmId"]) and hsm["State"] == "CREATE_IN_PROGRESS"
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[hsm["EniId"]])["NetworkInterfaces"][0]
    assert eni["PrivateIpAddress"] == hsm["EniIp"] == "10.0.1.50" and eni["SubnetId"] == lab.subnets[1]
    csr = lab.csr(cluster_id)
    assert csr.startswith("-----BEGIN CERTIFICATE REQUEST-----")
    assert lab.cluster(cluster_id)["Hsms"][0]["State"] == "ACTIVE"


def test_second_hsm_refused_before_active(lab):
    cluster_id = lab.create_cluster()
    lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[0])
    with pytest.raises(ClientError) as excinfo:
        lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[1])
    assert error_code(excinfo) == "CloudHsmInvalidRequestException"


def test_create_hsm_in_zone_without_subnet_refused(lab):
    cluster_id = lab.create_cluster(zones=1)
    with pytest.raises(ClientError, match="no subnet in us-east-1b"):
        lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[1])


def test_initialize_accepts_cert_signed_by_trust_anchor(lab):
    cluster_id = lab.create_cluster()
    lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[0])
    signed = lab.ca.sign(lab.csr(cluster_id))
    response = lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=lab.ca.pem)
    assert response["State"] == "INITIALIZE_IN_PROGRESS"
    certificates = lab.wait_cluster(cluster_id, "INITIALIZED")["Certificates"]
    assert certificates["ClusterCertificate"] == signed
    assert {"AwsHardwareCertificate", "ManufacturerHardwareCertificate", "HsmCertificate"} <= set(certificates)
    with pytest.raises(ClientError, match="only an UNINITIALIZED cluster"):
        lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=lab.ca.pem)


def test_initialize_refuses_cert_for_another_key_or_from_another_ca(lab):
    cluster_id = lab.create_cluster()
    other_id = lab.create_cluster()
    for cid in (cluster_id, other_id):
        lab.hsm.create_hsm(ClusterId=cid, AvailabilityZone=ZONES[0])
    for_other_csr = lab.ca.sign(lab.csr(other_id))
    with pytest.raises(ClientError, match="public key differs") as excinfo:
        lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=for_other_csr, TrustAnchor=lab.ca.pem)
    assert error_code(excinfo) == "CloudHsmInvalidRequestException"
    by_other_ca = CustomerCa("Someone Else").sign(lab.csr(cluster_id))
    with pytest.raises(ClientError, match="not issued by the TrustAnchor"):
        lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=by_other_ca, TrustAnchor=lab.ca.pem)
    with pytest.raises(ClientError, match="not a valid PEM"):
        lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert="junk", TrustAnchor=lab.ca.pem)
    assert lab.cluster(cluster_id)["State"] == "UNINITIALIZED"


def test_the_csr_has_the_shape_of_an_hsm2m_csr(lab):
    cluster_id = lab.create_cluster()
    hsm_id = lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[0])["Hsm"]["HsmId"]
    csr = x509.load_pem_x509_csr(lab.csr(cluster_id).encode())
    assert csr.is_signature_valid
    first, second = list(csr.subject.rdns)
    assert {(a.oid._name, a.value) for a in first} == {
        ("countryName", "US"), ("stateOrProvinceName", "CA"), ("organizationalUnitName", "LS2"),
        ("localityName", "SanJose"), ("organizationName", "Marvell"),
    }, "one multi-valued RDN, as openssl shows `C=US + ST=CA + OU=LS2 + L=SanJose + O=Marvell`"
    [common_name] = list(second)
    assert re.fullmatch(rf"HSM:{hsm_id[4:].upper()}:PARTN:\d+, for FIPS mode", common_name.value)


def test_initialize_refuses_a_chain_or_an_intermediate_as_trust_anchor(lab):
    """The certificate that signed the CSR must be the root: a self-signed trust anchor."""
    cluster_id = lab.create_cluster()
    lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[0])
    root = lab.ca
    intermediate = IntermediateCa(root)
    signed = intermediate.sign(lab.csr(cluster_id))
    with pytest.raises(ClientError, match="not a self-signed certificate"):
        lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=intermediate.pem)
    with pytest.raises(ClientError, match="not a chain"):
        lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=intermediate.pem + root.pem)
    with pytest.raises(ClientError, match="not issued by the TrustAnchor"):
        lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=root.pem)
    assert lab.cluster(cluster_id)["State"] == "UNINITIALIZED"


def test_initialize_refuses_a_trust_anchor_with_extensions_but_no_basic_constraints(lab):
    cluster_id = lab.create_cluster()
    lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[0])
    ca = CustomerCa("No Basic Constraints", basic_constraints=False)
    with pytest.raises(ClientError, match="no Basic Constraints"):
        lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=ca.sign(lab.csr(cluster_id)), TrustAnchor=ca.pem)


def test_initialize_before_csr_refused(lab):
    cluster_id = lab.create_cluster()
    with pytest.raises(ClientError, match="no CSR yet"):
        lab.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert="x", TrustAnchor=lab.ca.pem)


def test_cluster_quota_is_four(lab):
    for _ in range(4):
        lab.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=lab.subnets[:1])
    with pytest.raises(ClientError) as excinfo:
        lab.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=lab.subnets[:1])
    assert error_code(excinfo) == "CloudHsmResourceLimitExceededException"


def test_hsm_quota_is_six_per_account(lab):
    cluster_a, _ = lab.active_cluster(hsms=3)
    cluster_b, _ = lab.active_cluster(hsms=3)
    with pytest.raises(ClientError) as excinfo:
        lab.hsm.create_hsm(ClusterId=cluster_b, AvailabilityZone=ZONES[0])
    assert error_code(excinfo) == "CloudHsmResourceLimitExceededException"
    assert "quota 6" in excinfo.value.response["Error"]["Message"]
    assert len(lab.cluster(cluster_a)["Hsms"]) == 3


def test_delete_ordering_and_backup_on_last_hsm(lab, emulator):
    cluster_id, _ = lab.active_cluster(hsms=2)
    with pytest.raises(ClientError, match="delete them first") as excinfo:
        lab.hsm.delete_cluster(ClusterId=cluster_id)
    assert error_code(excinfo) == "CloudHsmInvalidRequestException"
    first, second = lab.cluster(cluster_id)["Hsms"]
    emulator.configure(time_scale=1000)  # long enough to observe the transient states under load
    lab.hsm.delete_hsm(ClusterId=cluster_id, HsmId=first["HsmId"])
    assert lab.cluster(cluster_id)["Hsms"][0]["State"] == "DELETE_IN_PROGRESS"
    wait_for(lambda: len(lab.cluster(cluster_id)["Hsms"]) == 1, what="first HSM gone")
    assert lab.hsm.describe_backups()["Backups"] == []
    lab.hsm.delete_hsm(ClusterId=cluster_id, EniIp=second["EniIp"])
    wait_for(lambda: not lab.cluster(cluster_id)["Hsms"], what="cluster empty")
    [backup] = lab.hsm.describe_backups(Filters={"clusterIds": [cluster_id]})["Backups"]
    assert backup["BackupState"] == "READY" and backup["SourceRegion"] == "us-east-1"
    assert re.fullmatch(r"backup-[a-z2-7]{11}", backup["BackupId"])
    assert lab.cluster(cluster_id)["State"] == "ACTIVE"
    lab.hsm.delete_cluster(ClusterId=cluster_id)
    assert lab.cluster(cluster_id)["State"] == "DELETE_IN_PROGRESS"
    lab.wait_cluster(cluster_id, "DELETED")
    wait_for(lambda: not lab.hsm.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"], what="cluster gone")


def test_hsm_added_to_emptied_cluster_restores_users_from_backup(lab):
    cluster_id, ip = lab.active_cluster(hsms=1)
    assert (
        lab.as_admin(ip, "cloudhsm-cli user create --username app --role crypto-user --password app-pass-1")["Status"]
        == "Success"
    )
    lab.hsm.delete_hsm(ClusterId=cluster_id, HsmId=lab.cluster(cluster_id)["Hsms"][0]["HsmId"])
    wait_for(lambda: not lab.cluster(cluster_id)["Hsms"], what="cluster empty")
    hsm = lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[1])["Hsm"]
    lab.wait_hsms_active(cluster_id, 1)
    assert lab.cluster(cluster_id)["State"] == "ACTIVE"
    result = lab.run(
        f"/opt/cloudhsm/bin/configure-cli -a {hsm['EniIp']}",
        "cloudhsm-cli login --username app --role crypto-user --password app-pass-1",
    )
    assert result["Status"] == "Success", result["StandardOutputContent"]


def test_cluster_from_backup_comes_back_active_with_users(lab):
    cluster_id, ip = lab.active_cluster(hsms=1)
    lab.as_admin(ip, "cloudhsm-cli user create --username kmsuser --role crypto-user --password kms-pass-1")
    lab.hsm.delete_hsm(ClusterId=cluster_id, HsmId=lab.cluster(cluster_id)["Hsms"][0]["HsmId"])
    backup = wait_for(lambda: lab.hsm.describe_backups(Filters={"states": ["READY"]})["Backups"], what="backup")[0]
    restored = lab.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=lab.subnets, SourceBackupId=backup["BackupId"])["Cluster"]
    assert restored["SourceBackupId"] == backup["BackupId"]
    active = lab.wait_cluster(restored["ClusterId"], "ACTIVE")
    assert active["Certificates"]["ClusterCertificate"] == lab.cluster(cluster_id)["Certificates"]["ClusterCertificate"]
    hsm = lab.hsm.create_hsm(ClusterId=restored["ClusterId"], AvailabilityZone=ZONES[2])["Hsm"]
    lab.wait_hsms_active(restored["ClusterId"], 1)
    # A restored cluster has a new security group: the client is not let in yet.
    refused = lab.run(f"/opt/cloudhsm/bin/configure-cli -a {hsm['EniIp']}", "cloudhsm-cli user list")
    assert refused["Status"] == "Failed" and "allows no ingress" in refused["StandardOutputContent"]
    lab.let_in(restored["ClusterId"])
    # customerCA.crt still holds the backed-up cluster's trust anchor, which the restored cluster keeps.
    result = lab.run(
        f"/opt/cloudhsm/bin/configure-cli -a {hsm['EniIp']}",
        "cloudhsm-cli login --username kmsuser --role crypto-user --password kms-pass-1",
        f"cloudhsm-cli login --username admin --role admin --password {ADMIN_PASSWORD}",
    )
    assert result["Status"] == "Success", result["StandardOutputContent"]


def test_backups_describe_sort_delete_restore_and_tags(lab):
    cluster_id, _ = lab.active_cluster(hsms=1)
    hsm_id = lab.cluster(cluster_id)["Hsms"][0]["HsmId"]
    lab.hsm.delete_hsm(ClusterId=cluster_id, HsmId=hsm_id)
    wait_for(lambda: not lab.cluster(cluster_id)["Hsms"], what="cluster empty")
    lab.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[0])
    lab.wait_hsms_active(cluster_id, 1)
    lab.hsm.delete_hsm(ClusterId=cluster_id, HsmId=lab.cluster(cluster_id)["Hsms"][0]["HsmId"])
    wait_for(lambda: not lab.cluster(cluster_id)["Hsms"], what="cluster empty again")
    newest_first = lab.hsm.describe_backups()["Backups"]
    oldest_first = lab.hsm.describe_backups(SortAscending=True)["Backups"]
    assert len(newest_first) == 2 and newest_first == oldest_first[::-1]
    assert isinstance(newest_first[0]["CreateTimestamp"].year, int)
    victim = oldest_first[0]["BackupId"]
    assert lab.hsm.delete_backup(BackupId=victim)["Backup"]["BackupState"] == "PENDING_DELETION"
    assert [b["BackupId"] for b in lab.hsm.describe_backups(Filters={"states": ["PENDING_DELETION"]})["Backups"]] == [victim]
    assert lab.hsm.describe_backups(Shared=True)["Backups"] == []
    lab.hsm.tag_resource(ResourceId=victim, TagList=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    lab.hsm.untag_resource(ResourceId=victim, TagKeyList=["a"])
    assert lab.hsm.list_tags(ResourceId=victim)["TagList"] == [{"Key": "b", "Value": "2"}]
    too_long = [{"Key": "k" * 129, "Value": ""}, {"Key": "v", "Value": "1" * 257}]
    for refused in [{"Key": "ips", "Value": "10.0.0.1,10.0.0.2"}, *too_long]:
        with pytest.raises(ClientError) as excinfo:
            lab.hsm.tag_resource(ResourceId=victim, TagList=[refused])
        assert error_code(excinfo) == "CloudHsmInvalidRequestException"
    lab.hsm.tag_resource(ResourceId=victim, TagList=[{"Key": "cdk-cloudhsm:hsm-ips:subnet-1", "Value": "10.0.0.1 10.0.0.2"}])
    with pytest.raises(ClientError) as excinfo:
        lab.hsm.list_tags(ResourceId="cluster-aaaaaaaaaaa")
    assert error_code(excinfo) == "CloudHsmResourceNotFoundException"


def test_modify_cluster_retention(lab):
    cluster_id = lab.create_cluster()
    cluster = lab.hsm.modify_cluster(ClusterId=cluster_id, BackupRetentionPolicy={"Type": "DAYS", "Value": "379"})["Cluster"]
    assert cluster["BackupRetentionPolicy"] == {"Type": "DAYS", "Value": "379"}
    with pytest.raises(ClientError, match="between 7 and 379"):
        lab.hsm.modify_cluster(ClusterId=cluster_id, BackupRetentionPolicy={"Type": "DAYS", "Value": "3"})
