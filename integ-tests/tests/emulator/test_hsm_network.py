"""The stand-in cloudhsm-cli reaches an HSM only as the real client does: through the
security groups (client egress and cluster ingress on TCP 2223-2225) and with the
cluster's trust anchor in /opt/cloudhsm/etc/customerCA.crt."""

import pytest

from conftest import CLI_USER_DATA, HSM_PORTS, CustomerCa, wait_for


@pytest.fixture
def connected(lab):
    """An INITIALIZED cluster the client reaches (rules both ways, CA file written); (cluster id, HSM IP)."""
    cluster_id, ip = lab.initialized_cluster()
    result = lab.run(f"/opt/cloudhsm/bin/configure-cli -a {ip}", "cloudhsm-cli user list")
    assert result["Status"] == "Success", result["StandardOutputContent"] + result["StandardErrorContent"]
    return cluster_id, ip


def user_list(lab, ip):
    return lab.run(f"/opt/cloudhsm/bin/configure-cli -a {ip}", "cloudhsm-cli user list")


def refused(result, *needles):
    out = result["StandardOutputContent"]
    assert result["Status"] == "Failed" and result["ResponseCode"] == 1, out
    for needle in needles:
        assert needle in out, out
    return out


def without_client_ingress(lab, cluster_id):
    """Revokes the cluster group's rule that lets the client in on the HSM ports; the cluster group."""
    cluster_group = lab.cluster(cluster_id)["SecurityGroup"]
    rule = {**HSM_PORTS, "UserIdGroupPairs": [{"GroupId": lab.client_group}]}
    lab.ec2.revoke_security_group_ingress(GroupId=cluster_group, IpPermissions=[rule])
    return cluster_group


def default_egress(lab):
    return lab.client_group, [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def test_no_ingress_from_the_client_group_times_out(lab, connected):
    cluster_id, ip = connected
    cluster_group = without_client_ingress(lab, cluster_id)
    refused(user_list(lab, ip), f"Failed to connect to HSM {ip}:2223: connection timed out", cluster_group, "allows no ingress")
    # CloudHSM's own self-referencing rule is still there: it lets HSMs talk, not the client.
    perms = lab.ec2.describe_security_groups(GroupIds=[cluster_group])["SecurityGroups"][0]["IpPermissions"]
    assert [p["UserIdGroupPairs"][0]["GroupId"] for p in perms] == [cluster_group]


def test_ingress_on_part_of_the_ports_is_not_enough(lab, connected):
    cluster_id, ip = connected
    cluster_group = without_client_ingress(lab, cluster_id)
    pairs = [{"GroupId": lab.client_group}]
    lab.ec2.authorize_security_group_ingress(
        GroupId=cluster_group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 2223, "ToPort": 2224, "UserIdGroupPairs": pairs}]
    )
    refused(user_list(lab, ip), "allows no ingress on TCP 2225")


def test_ingress_from_a_cidr_holding_the_client_works(lab, connected):
    cluster_id, ip = connected
    cluster_group = without_client_ingress(lab, cluster_id)
    lab.ec2.authorize_security_group_ingress(
        GroupId=cluster_group, IpPermissions=[{**HSM_PORTS, "IpRanges": [{"CidrIp": "10.0.0.0/24"}]}]
    )
    assert user_list(lab, ip)["Status"] == "Success"


def test_no_client_egress_to_the_cluster_times_out(lab, connected):
    cluster_id, ip = connected
    group, all_traffic = default_egress(lab)
    lab.ec2.revoke_security_group_egress(GroupId=group, IpPermissions=all_traffic)
    lab.ec2.authorize_security_group_egress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    refused(
        user_list(lab, ip),
        "connection timed out",
        f"allows egress on TCP 2223, 2224, 2225 to {lab.cluster(cluster_id)['SecurityGroup']}",
    )
    # Egress to the cluster's group is what the client needs.
    cluster_group = lab.cluster(cluster_id)["SecurityGroup"]
    lab.ec2.authorize_security_group_egress(
        GroupId=group, IpPermissions=[{**HSM_PORTS, "UserIdGroupPairs": [{"GroupId": cluster_group}]}]
    )
    assert user_list(lab, ip)["Status"] == "Success"


def test_client_egress_to_a_cidr_holding_the_hsm_works(lab, connected):
    _, ip = connected
    group, all_traffic = default_egress(lab)
    lab.ec2.revoke_security_group_egress(GroupId=group, IpPermissions=all_traffic)
    lab.ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[{**HSM_PORTS, "IpRanges": [{"CidrIp": "10.0.9.0/24"}]}])
    refused(user_list(lab, ip), "allows egress")
    lab.ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[{**HSM_PORTS, "IpRanges": [{"CidrIp": f"{ip}/32"}]}])
    assert user_list(lab, ip)["Status"] == "Success"


def test_a_missing_ca_file_fails_the_tls_handshake(lab, connected):
    _, ip = connected
    lab.run("rm /opt/cloudhsm/etc/customerCA.crt")
    refused(user_list(lab, ip), f"Failed to connect to HSM {ip}:2223: TLS handshake failed", "customerCA.crt does not exist")


@pytest.mark.parametrize("content", ["pending: not issued yet\n", "another CA"])
def test_a_ca_file_without_the_trust_anchor_fails_the_tls_handshake(lab, connected, content):
    cluster_id, ip = connected
    lab.trust(CustomerCa("Some Other CA").pem if content == "another CA" else content)
    out = refused(user_list(lab, ip), "TLS handshake failed")
    if content == "another CA":
        assert f"put there the trust anchor cluster {cluster_id} was initialized with" in out
    else:
        assert "holds no PEM certificate" in out


def test_the_ca_file_named_by_configure_cli_is_the_one_checked(lab, connected):
    _, ip = connected
    lab.run("mv /opt/cloudhsm/etc/customerCA.crt /opt/cloudhsm/etc/elsewhere.crt")
    result = lab.run(
        f"/opt/cloudhsm/bin/configure-cli -a {ip} --hsm-ca-cert /opt/cloudhsm/etc/elsewhere.crt", "cloudhsm-cli user list"
    )
    assert result["Status"] == "Success", result["StandardOutputContent"]


def test_an_instance_in_another_vpc_cannot_connect(lab, connected, ec2):
    _, ip = connected
    other_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.1.0.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    # A managed instance with the CLI, as the lab's client, but in the other VPC.
    lab.nat_route(other_vpc, "10.1.200.0/24")
    lab.instance_id = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        IamInstanceProfile={"Name": "lab-client"},
        UserData=CLI_USER_DATA,
    )["Instances"][0]["InstanceId"]
    wait_for(lambda: lab.first_boot() == "Success", what="the first boot to install cloudhsm-cli")
    refused(user_list(lab, ip), "connection timed out", f"the cluster in {lab.vpc_id}")
