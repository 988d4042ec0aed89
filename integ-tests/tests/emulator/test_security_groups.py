"""EC2 refuses DeleteSecurityGroup while the group is in use (DependencyViolation), as AWS does."""

import pytest
from botocore.exceptions import ClientError

from conftest import HSM_PORTS, wait_for


@pytest.fixture
def vpc(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    return vpc_id, subnet


def group(ec2, vpc_id, name):
    return ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]


def refused(ec2, group_id):
    with pytest.raises(ClientError) as excinfo:
        ec2.delete_security_group(GroupId=group_id)
    error = excinfo.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("DependencyViolation", f"resource {group_id} has a dependent object")


def exists(ec2, group_id):
    return group_id in {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_a_group_another_groups_rule_names_cannot_be_deleted_until_the_rule_goes(ec2, vpc, direction):
    client, cluster = group(ec2, vpc[0], "client"), group(ec2, vpc[0], "cluster")
    rule = [{**HSM_PORTS, "UserIdGroupPairs": [{"GroupId": cluster}]}]
    getattr(ec2, f"authorize_security_group_{direction}")(GroupId=client, IpPermissions=rule)
    refused(ec2, cluster)
    assert exists(ec2, cluster)
    getattr(ec2, f"revoke_security_group_{direction}")(GroupId=client, IpPermissions=rule)
    ec2.delete_security_group(GroupId=cluster)
    assert not exists(ec2, cluster)
    # The group holding the rule was never held back by it.
    ec2.delete_security_group(GroupId=client)


def test_a_group_s_rules_naming_itself_do_not_hold_it(ec2, vpc):
    own = group(ec2, vpc[0], "self")
    ec2.authorize_security_group_ingress(GroupId=own, IpPermissions=[{**HSM_PORTS, "UserIdGroupPairs": [{"GroupId": own}]}])
    ec2.delete_security_group(GroupId=own)


def test_a_group_a_network_interface_is_in_cannot_be_deleted(ec2, vpc):
    used = group(ec2, vpc[0], "used")
    eni = ec2.create_network_interface(SubnetId=vpc[1], Groups=[used])["NetworkInterface"]["NetworkInterfaceId"]
    refused(ec2, used)
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    ec2.delete_security_group(GroupId=used)


def test_a_group_of_a_running_instance_is_held_until_the_instance_is_terminated(ec2, vpc):
    used = group(ec2, vpc[0], "instance")
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=vpc[1], SecurityGroupIds=[used])
    instance_id = instance["Instances"][0]["InstanceId"]
    refused(ec2, used)
    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.delete_security_group(GroupId=used)


def test_cloudhsm_leaves_its_cluster_group_while_a_client_rule_names_it(lab):
    cluster_id = lab.create_cluster(zones=1)
    cluster_group = lab.cluster(cluster_id)["SecurityGroup"]
    lab.ec2.authorize_security_group_egress(
        GroupId=lab.client_group, IpPermissions=[{**HSM_PORTS, "UserIdGroupPairs": [{"GroupId": cluster_group}]}]
    )
    refused(lab.ec2, cluster_group)
    lab.hsm.delete_cluster(ClusterId=cluster_id)
    wait_for(lambda: not lab.hsm.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"], what="cluster gone")
    assert exists(lab.ec2, cluster_group), "the client's egress rule still names it"
    # The cluster's group lets the client's in: the client's group is held too.
    refused(lab.ec2, lab.client_group)


def test_cloudhsm_deletes_its_cluster_group_with_the_cluster_when_nothing_names_it(lab):
    cluster_id = lab.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=lab.subnets[:1])["Cluster"]["ClusterId"]
    cluster_group = lab.cluster(cluster_id)["SecurityGroup"]
    lab.wait_cluster(cluster_id, "UNINITIALIZED")
    lab.hsm.delete_cluster(ClusterId=cluster_id)
    wait_for(lambda: not lab.hsm.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"], what="cluster gone")
    assert not exists(lab.ec2, cluster_group)
