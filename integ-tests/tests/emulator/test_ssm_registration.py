"""An instance is a managed instance of Systems Manager only if its role allows the SSM Agent
and its subnet reaches Systems Manager (NAT or internet route, or interface endpoints)."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import CLI_USER_DATA, Lab, wait_for


def _managed(ssm, instance_id: str) -> bool:
    found = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
    return [i["InstanceId"] for i in found["InstanceInformationList"]] == [instance_id]


def _refused(ssm, instance_id: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        ssm.send_command(InstanceIds=[instance_id], DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]})
    assert excinfo.value.response["Error"]["Code"] == "InvalidInstanceId"


def _isolated_subnet(lab: Lab) -> str:
    """A subnet with a route table of its own that has only the local route."""
    ec2 = lab.ec2
    subnet = ec2.create_subnet(VpcId=lab.vpc_id, CidrBlock="10.0.100.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=lab.vpc_id)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    return str(subnet)


def _launch(lab: Lab, subnet: str, profile: str = "lab-client") -> str:
    return str(
        lab.ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet, IamInstanceProfile={"Name": profile}
        )["Instances"][0]["InstanceId"]
    )


def test_an_instance_with_the_core_role_and_a_nat_route_is_managed(lab, ssm):
    assert _managed(ssm, lab.instance_id)
    assert lab.run("true")["Status"] == "Success"


def test_an_instance_in_a_subnet_without_a_route_is_not_managed(lab, ssm, emulator):
    instance = _launch(lab, _isolated_subnet(lab))
    assert not _managed(ssm, instance)
    _refused(ssm, instance)
    [entry] = [i for i in emulator.state()["instances"] if i["InstanceId"] == instance]
    [reason] = entry["Unregistered"]
    assert reason.startswith("network: subnet subnet-") and "ssm, ssmmessages, ec2messages" in reason, reason


def test_interface_endpoints_for_the_three_services_make_an_isolated_subnet_reach_ssm(lab, ssm):
    subnet = _isolated_subnet(lab)
    instance = _launch(lab, subnet)
    for service in ("ssm", "ssmmessages"):
        lab.ec2.create_vpc_endpoint(
            VpcId=lab.vpc_id, ServiceName=f"com.amazonaws.us-east-1.{service}", VpcEndpointType="Interface",
            SubnetIds=[subnet], PrivateDnsEnabled=True,
        )
    assert not _managed(ssm, instance), "ec2messages is still missing"
    lab.ec2.create_vpc_endpoint(
        VpcId=lab.vpc_id, ServiceName="com.amazonaws.us-east-1.ec2messages", VpcEndpointType="Interface",
        SubnetIds=[subnet], PrivateDnsEnabled=True,
    )
    assert _managed(ssm, instance)


def test_a_role_without_the_core_permissions_is_not_managed(lab, ssm, client, emulator):
    iam = client("iam")
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="no-ssm", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="no-ssm", PolicyName="ssm-only",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]}
        ),
    )
    iam.create_instance_profile(InstanceProfileName="no-ssm")
    iam.add_role_to_instance_profile(InstanceProfileName="no-ssm", RoleName="no-ssm")
    instance = _launch(lab, lab.subnets[0], profile="no-ssm")
    assert not _managed(ssm, instance)
    _refused(ssm, instance)
    [entry] = [i for i in emulator.state()["instances"] if i["InstanceId"] == instance]
    [reason] = entry["Unregistered"]
    assert reason.startswith("role: its instance profile role does not allow ssmmessages:CreateControlChannel"), reason
    iam.attach_role_policy(RoleName="no-ssm", PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    assert _managed(ssm, instance)


def _boot(emulator, instance_id: str) -> dict:
    def done():
        [entry] = [i for i in emulator.state()["instances"] if i["InstanceId"] == instance_id]
        return entry if entry["UserData"] and entry["UserData"]["Status"] != "InProgress" else None

    return dict(wait_for(done, what="the first boot"))


def test_without_user_data_there_is_no_cli(lab, ssm):
    other = lab.ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=lab.subnets[1], IamInstanceProfile={"Name": "lab-client"}
    )["Instances"][0]["InstanceId"]
    command = ssm.send_command(
        InstanceIds=[other], DocumentName="AWS-RunShellScript", Parameters={"commands": ["ls /opt/cloudhsm/bin"]}
    )["Command"]["CommandId"]
    result = wait_for(
        lambda: (r := ssm.get_command_invocation(CommandId=command, InstanceId=other))["Status"] in ("Success", "Failed") and r
    )
    assert result["Status"] == "Failed" and "No such file or directory" in result["StandardErrorContent"]


def test_user_data_installs_the_cli_at_first_boot(lab, emulator):
    entry = _boot(emulator, lab.instance_id)
    assert entry["UserData"]["Status"] == "Success" and "Complete!" in entry["UserData"]["Output"]
    assert [d["Result"] for d in entry["Downloads"]] == ["installed"]
    assert lab.run("/opt/cloudhsm/bin/cloudhsm-cli --version || test -x /opt/cloudhsm/bin/cloudhsm-cli")["Status"] == "Success"


def test_the_first_boot_install_fails_without_a_route_to_the_internet(lab, emulator):
    subnet = _isolated_subnet(lab)
    instance = lab.ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet, IamInstanceProfile={"Name": "lab-client"},
        UserData=CLI_USER_DATA,
    )["Instances"][0]["InstanceId"]
    entry = _boot(emulator, instance)
    assert entry["UserData"]["Status"] == "Failed", entry
    assert "Curl error (28): Timeout was reached" in entry["UserData"]["Output"]
    assert f"subnet {subnet} has no route to the internet" in entry["UserData"]["Output"]


def test_a_package_source_that_is_down_fails_the_install_until_it_is_back(lab, emulator):
    emulator.configure(faults={"package_source_down": 1})
    url = CLI_USER_DATA.split()[-1]
    first = lab.run(f"sudo dnf install -y {url}")
    assert first["Status"] == "Failed" and "Status code: 503" in first["StandardErrorContent"]
    assert lab.run(f"sudo dnf install -y {url}")["Status"] == "Success", "the next download works"
    emulator.configure(faults={"package_source_down": True})
    assert lab.run(f"dnf install -y {url}")["Status"] == "Failed"
    wrong = lab.run("dnf install -y cloudhsm-cli")
    assert wrong["Status"] == "Failed" and "Unable to find a match: cloudhsm-cli" in wrong["StandardErrorContent"]
