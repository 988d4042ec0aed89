"""Provision the template's AWS resources in the emulator through boto3.

Each supported type has a create and a delete function. `create` receives the
resolved properties and answers a `Provisioned`: the physical id (what Ref returns)
and the attributes Fn::GetAtt reads. Types in `NO_OP_TYPES` have no effect on
workflows and are recorded without any call; any other type is refused with its
logical id. A changed resource is updated in place where its type has an update
function that takes the change (`update`), and replaced where CloudFormation
replaces it (`REPLACED_ON_CHANGE`); any other change is refused.
"""

import base64
import io
import json
import time
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .assets import host_bootstrap
from .aws import Aws
from .intrinsics import ACCOUNT_ID, REGION, TemplateError

# Types without any effect on what the workflows do: recorded, never provisioned.
NO_OP_TYPES = {
    "AWS::CDK::Metadata": "CDK analytics metadata",
}


class ProvisionError(RuntimeError):
    """A resource could not be created or deleted."""


@dataclass
class Provisioned:
    """A created resource: its physical id and attributes."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    """What a create function gets."""

    aws: Aws
    logical_id: str
    properties: dict[str, Any]
    resource: dict[str, Any]
    asset_dir: Path


Create = Callable[[Request], Provisioned]
Delete = Callable[[Aws, Provisioned, dict[str, Any]], None]
# Updates a resource in place from its old properties; answers None when the change
# is one CloudFormation makes by replacing the resource.
Update = Callable[[Request, Provisioned, dict[str, Any]], Provisioned | None]
PROVISIONERS: dict[str, tuple[Create, Delete]] = {}
UPDATERS: dict[str, Update] = {}
# Types whose other changes CloudFormation makes by replacement (a new resource, the
# old one deleted in the cleanup phase), as their documentation says of those properties.
REPLACED_ON_CHANGE = {"AWS::EC2::Instance"}


def provisioner(resource_type: str, delete: Delete) -> Callable[[Create], Create]:
    """Register the create function of a type, with its delete function."""

    def register(create: Create) -> Create:
        PROVISIONERS[resource_type] = (create, delete)
        return create

    return register


def updater(resource_type: str) -> Callable[[Update], Update]:
    """Register the in-place update function of a type."""

    def register(update: Update) -> Update:
        UPDATERS[resource_type] = update
        return update

    return register


def update(request: Request, held: Provisioned, old_properties: dict[str, Any]) -> Provisioned | None:
    """Update one resource in place; None when CloudFormation replaces it instead."""
    resource_type = request.resource["Type"]
    in_place = UPDATERS.get(resource_type)
    try:
        updated = in_place(request, held, old_properties) if in_place else None
    except Exception as err:
        raise ProvisionError(f"{request.logical_id} ({resource_type}): update failed: {err}") from err
    if updated is None and resource_type not in REPLACED_ON_CHANGE:
        changed = sorted(_changed(request.properties, old_properties))
        raise TemplateError(
            f"{request.logical_id} ({resource_type}): {', '.join(changed)} changed; the runner updates "
            f"{', '.join(sorted(UPDATERS))} in place and replaces {', '.join(sorted(REPLACED_ON_CHANGE))} only"
        )
    return updated


def _changed(new: dict[str, Any], old: dict[str, Any]) -> set[str]:
    return {k for k in set(new) | set(old) if new.get(k) != old.get(k)}


def create(request: Request) -> Provisioned:
    """Create one resource, or fail with its type and logical id."""
    resource_type = request.resource["Type"]
    if resource_type in NO_OP_TYPES:
        return Provisioned(f"{request.logical_id}-noop")
    if resource_type not in PROVISIONERS:
        raise TemplateError(
            f"{request.logical_id}: resource type {resource_type} is not supported by the runner "
            f"(supported: {', '.join(sorted(PROVISIONERS))}; no-op: {', '.join(sorted(NO_OP_TYPES))})"
        )
    try:
        return PROVISIONERS[resource_type][0](request)
    except TemplateError:
        raise
    except Exception as err:  # boto errors and the like: name the resource
        raise ProvisionError(f"{request.logical_id} ({resource_type}): create failed: {err}") from err


def delete(aws: Aws, logical_id: str, resource_type: str, provisioned: Provisioned, properties: dict[str, Any]) -> None:
    """Delete one resource (no-op types: nothing to do)."""
    if resource_type in NO_OP_TYPES:
        return
    try:
        PROVISIONERS[resource_type][1](aws, provisioned, properties)
    except Exception as err:
        raise ProvisionError(f"{logical_id} ({resource_type}): delete failed: {err}") from err


def _tags(props: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": str(t["Value"])} for t in props.get("Tags", [])]


def _tag_specs(kind: str, props: dict[str, Any]) -> list[dict[str, Any]]:
    tags = _tags(props)
    return [{"ResourceType": kind, "Tags": tags}] if tags else []


def _json_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


# --- EC2 ---------------------------------------------------------------------------


def _delete_vpc(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ec2").delete_vpc(VpcId=res.physical_id)


@provisioner("AWS::EC2::VPC", _delete_vpc)
def _vpc(req: Request) -> Provisioned:
    ec2, props = req.aws.client("ec2"), req.properties
    vpc = ec2.create_vpc(
        CidrBlock=props["CidrBlock"],
        InstanceTenancy=props.get("InstanceTenancy", "default"),
        TagSpecifications=_tag_specs("vpc", props),
    )["Vpc"]
    vpc_id = vpc["VpcId"]
    for attribute in ("EnableDnsHostnames", "EnableDnsSupport"):
        if attribute in props:
            ec2.modify_vpc_attribute(VpcId=vpc_id, **{attribute: {"Value": bool(props[attribute])}})
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkAcls"]
    return Provisioned(
        vpc_id,
        {
            "VpcId": vpc_id,
            "CidrBlock": vpc["CidrBlock"],
            "CidrBlockAssociations": [a["AssociationId"] for a in vpc.get("CidrBlockAssociationSet", [])],
            "DefaultSecurityGroup": groups[0]["GroupId"] if groups else "",
            "DefaultNetworkAcl": acls[0]["NetworkAclId"] if acls else "",
            "Ipv6CidrBlocks": [],
        },
    )


def _delete_subnet(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ec2").delete_subnet(SubnetId=res.physical_id)


@provisioner("AWS::EC2::Subnet", _delete_subnet)
def _subnet(req: Request) -> Provisioned:
    ec2, props = req.aws.client("ec2"), req.properties
    args = {"VpcId": props["VpcId"], "CidrBlock": props["CidrBlock"], "TagSpecifications": _tag_specs("subnet", props)}
    if "AvailabilityZone" in props:
        args["AvailabilityZone"] = props["AvailabilityZone"]
    subnet = ec2.create_subnet(**args)["Subnet"]
    if props.get("MapPublicIpOnLaunch"):
        ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    return Provisioned(
        subnet["SubnetId"],
        {
            "SubnetId": subnet["SubnetId"],
            "AvailabilityZone": subnet["AvailabilityZone"],
            "VpcId": subnet["VpcId"],
            "CidrBlock": subnet["CidrBlock"],
            "Ipv6CidrBlocks": [],
            "NetworkAclAssociationId": "",
        },
    )


def _permission(rule: dict[str, Any], peer_key: str) -> dict[str, Any]:
    """An EC2 IpPermission from a CloudFormation ingress or egress rule."""
    permission: dict[str, Any] = {"IpProtocol": str(rule["IpProtocol"])}
    for name in ("FromPort", "ToPort"):
        if name in rule:
            permission[name] = int(rule[name])
    description = {"Description": rule["Description"]} if "Description" in rule else {}
    if "CidrIp" in rule:
        permission["IpRanges"] = [{"CidrIp": rule["CidrIp"], **description}]
    if "CidrIpv6" in rule:
        permission["Ipv6Ranges"] = [{"CidrIpv6": rule["CidrIpv6"], **description}]
    if peer_key in rule:
        permission["UserIdGroupPairs"] = [{"GroupId": rule[peer_key], **description}]
    if "SourcePrefixListId" in rule or "DestinationPrefixListId" in rule:
        prefix = rule.get("SourcePrefixListId") or rule.get("DestinationPrefixListId")
        permission["PrefixListIds"] = [{"PrefixListId": prefix, **description}]
    return permission


_ALL_TRAFFIC = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def _delete_security_group(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ec2").delete_security_group(GroupId=res.physical_id)


@provisioner("AWS::EC2::SecurityGroup", _delete_security_group)
def _security_group(req: Request) -> Provisioned:
    ec2, props = req.aws.client("ec2"), req.properties
    args = {
        "GroupName": props.get("GroupName") or req.aws.physical_name(req.logical_id, 255),
        "Description": props["GroupDescription"],
        "TagSpecifications": _tag_specs("security-group", props),
    }
    if "VpcId" in props:
        args["VpcId"] = props["VpcId"]
    group_id = ec2.create_security_group(**args)["GroupId"]
    ingress = [_permission(rule, "SourceSecurityGroupId") for rule in props.get("SecurityGroupIngress", [])]
    if ingress:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=ingress)
    if "SecurityGroupEgress" in props and "VpcId" in props:
        # Listed egress rules replace the default allow-all rule, as in CloudFormation.
        ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[_ALL_TRAFFIC])
        egress = [_permission(rule, "DestinationSecurityGroupId") for rule in props["SecurityGroupEgress"]]
        if egress:
            ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=egress)
    return Provisioned(group_id, {"GroupId": group_id, "VpcId": props.get("VpcId", "")})


def _rule_resource(direction: str) -> tuple[Create, Delete]:
    peer = "SourceSecurityGroupId" if direction == "ingress" else "DestinationSecurityGroupId"

    def delete_rule(aws: Aws, res: Provisioned, props: dict[str, Any]) -> None:
        revoke = getattr(aws.client("ec2"), f"revoke_security_group_{direction}")
        revoke(GroupId=props["GroupId"], IpPermissions=[_permission(props, peer)])

    def create_rule(req: Request) -> Provisioned:
        authorize = getattr(req.aws.client("ec2"), f"authorize_security_group_{direction}")
        rules = authorize(GroupId=req.properties["GroupId"], IpPermissions=[_permission(req.properties, peer)])
        rule_ids = [r["SecurityGroupRuleId"] for r in rules.get("SecurityGroupRules", [])]
        physical_id = rule_ids[0] if rule_ids else req.aws.physical_name(req.logical_id)
        return Provisioned(physical_id, {"Id": physical_id})

    return create_rule, delete_rule


for _direction, _type in (("ingress", "AWS::EC2::SecurityGroupIngress"), ("egress", "AWS::EC2::SecurityGroupEgress")):
    _create_rule, _delete_rule = _rule_resource(_direction)
    provisioner(_type, _delete_rule)(_create_rule)


def _delete_igw(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ec2").delete_internet_gateway(InternetGatewayId=res.physical_id)


@provisioner("AWS::EC2::InternetGateway", _delete_igw)
def _internet_gateway(req: Request) -> Provisioned:
    igw = req.aws.client("ec2").create_internet_gateway(TagSpecifications=_tag_specs("internet-gateway", req.properties))
    igw_id = igw["InternetGateway"]["InternetGatewayId"]
    return Provisioned(igw_id, {"InternetGatewayId": igw_id})


def _detach_igw(aws: Aws, _res: Provisioned, props: dict[str, Any]) -> None:
    aws.client("ec2").detach_internet_gateway(InternetGatewayId=props["InternetGatewayId"], VpcId=props["VpcId"])


@provisioner("AWS::EC2::VPCGatewayAttachment", _detach_igw)
def _gateway_attachment(req: Request) -> Provisioned:
    props = req.properties
    if "InternetGatewayId" not in props:
        raise TemplateError(f"{req.logical_id}: only internet gateway attachments are supported (no VpnGatewayId)")
    req.aws.client("ec2").attach_internet_gateway(InternetGatewayId=props["InternetGatewayId"], VpcId=props["VpcId"])
    return Provisioned(req.aws.physical_name(req.logical_id))


def _delete_route_table(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ec2").delete_route_table(RouteTableId=res.physical_id)


@provisioner("AWS::EC2::RouteTable", _delete_route_table)
def _route_table(req: Request) -> Provisioned:
    table = req.aws.client("ec2").create_route_table(
        VpcId=req.properties["VpcId"], TagSpecifications=_tag_specs("route-table", req.properties)
    )["RouteTable"]
    return Provisioned(table["RouteTableId"], {"RouteTableId": table["RouteTableId"]})


_ROUTE_TARGETS = ("GatewayId", "NatGatewayId", "InstanceId", "NetworkInterfaceId", "VpcPeeringConnectionId", "TransitGatewayId")


def _delete_route(aws: Aws, _res: Provisioned, props: dict[str, Any]) -> None:
    aws.client("ec2").delete_route(RouteTableId=props["RouteTableId"], DestinationCidrBlock=props["DestinationCidrBlock"])


@provisioner("AWS::EC2::Route", _delete_route)
def _route(req: Request) -> Provisioned:
    props = req.properties
    targets = {name: props[name] for name in _ROUTE_TARGETS if name in props}
    req.aws.client("ec2").create_route(
        RouteTableId=props["RouteTableId"], DestinationCidrBlock=props["DestinationCidrBlock"], **targets
    )
    return Provisioned(req.aws.physical_name(req.logical_id))


def _disassociate(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ec2").disassociate_route_table(AssociationId=res.physical_id)


@provisioner("AWS::EC2::SubnetRouteTableAssociation", _disassociate)
def _route_table_association(req: Request) -> Provisioned:
    association = req.aws.client("ec2").associate_route_table(
        RouteTableId=req.properties["RouteTableId"], SubnetId=req.properties["SubnetId"]
    )["AssociationId"]
    return Provisioned(association, {"Id": association})


def _release_eip(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ec2").release_address(AllocationId=res.attributes["AllocationId"])


@provisioner("AWS::EC2::EIP", _release_eip)
def _eip(req: Request) -> Provisioned:
    address = req.aws.client("ec2").allocate_address(Domain=req.properties.get("Domain", "vpc"))
    return Provisioned(address["PublicIp"], {"AllocationId": address["AllocationId"], "PublicIp": address["PublicIp"]})


def _delete_nat(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ec2").delete_nat_gateway(NatGatewayId=res.physical_id)


@provisioner("AWS::EC2::NatGateway", _delete_nat)
def _nat_gateway(req: Request) -> Provisioned:
    props = req.properties
    args = {"SubnetId": props["SubnetId"], "ConnectivityType": props.get("ConnectivityType", "public")}
    if "AllocationId" in props:
        args["AllocationId"] = props["AllocationId"]
    nat = req.aws.client("ec2").create_nat_gateway(**args, TagSpecifications=_tag_specs("natgateway", props))
    nat_id = nat["NatGateway"]["NatGatewayId"]
    return Provisioned(nat_id, {"NatGatewayId": nat_id})


def _delete_launch_template(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ec2").delete_launch_template(LaunchTemplateId=res.physical_id)


@provisioner("AWS::EC2::LaunchTemplate", _delete_launch_template)
def _launch_template(req: Request) -> Provisioned:
    props = req.properties
    name = props.get("LaunchTemplateName") or req.aws.physical_name(req.logical_id, 128)
    template = req.aws.client("ec2").create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData=props.get("LaunchTemplateData", {})
    )["LaunchTemplate"]
    return Provisioned(
        template["LaunchTemplateId"],
        {
            "LaunchTemplateId": template["LaunchTemplateId"],
            "LatestVersionNumber": str(template["LatestVersionNumber"]),
            "DefaultVersionNumber": str(template["DefaultVersionNumber"]),
        },
    )


def _network_interface(spec: dict[str, Any]) -> dict[str, Any]:
    """A run_instances NetworkInterfaces entry from the template's."""
    interface: dict[str, Any] = {"DeviceIndex": int(spec.get("DeviceIndex", 0))}
    for name in ("SubnetId", "NetworkInterfaceId", "PrivateIpAddress", "Description"):
        if name in spec:
            interface[name] = spec[name]
    if "GroupSet" in spec:
        interface["Groups"] = spec["GroupSet"]
    if "AssociatePublicIpAddress" in spec:
        interface["AssociatePublicIpAddress"] = spec["AssociatePublicIpAddress"] in (True, "true")
    return interface


def _terminate(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ec2").terminate_instances(InstanceIds=[res.physical_id])


@provisioner("AWS::EC2::Instance", _terminate)
def _instance(req: Request) -> Provisioned:
    ec2, props = req.aws.client("ec2"), req.properties
    args: dict[str, Any] = {
        "ImageId": props["ImageId"],
        "InstanceType": props.get("InstanceType", "m1.small"),
        "MinCount": 1,
        "MaxCount": 1,
        "TagSpecifications": _tag_specs("instance", props),
    }
    for name in ("SubnetId", "KeyName", "PrivateIpAddress"):
        if name in props:
            args[name] = props[name]
    if "UserData" in props:
        # CloudFormation's UserData is base64 already; boto3 encodes it again, so give it the text.
        args["UserData"] = base64.b64decode(props["UserData"]).decode("utf-8", errors="replace")
    if "SecurityGroupIds" in props:
        args["SecurityGroupIds"] = props["SecurityGroupIds"]
    if "NetworkInterfaces" in props:
        args["NetworkInterfaces"] = [_network_interface(spec) for spec in props["NetworkInterfaces"]]
    if "IamInstanceProfile" in props:
        args["IamInstanceProfile"] = {"Name": props["IamInstanceProfile"]}
    if "LaunchTemplate" in props:
        args["LaunchTemplate"] = {k: str(v) for k, v in props["LaunchTemplate"].items()}
    if "BlockDeviceMappings" in props:
        args["BlockDeviceMappings"] = props["BlockDeviceMappings"]
    if "AvailabilityZone" in props and "SubnetId" not in props and "NetworkInterfaces" not in props:
        args["Placement"] = {"AvailabilityZone": props["AvailabilityZone"]}
    instance = ec2.run_instances(**args)["Instances"][0]
    return Provisioned(
        instance["InstanceId"],
        {
            "InstanceId": instance["InstanceId"],
            "PrivateIp": instance.get("PrivateIpAddress", ""),
            "PrivateDnsName": instance.get("PrivateDnsName", ""),
            "PublicIp": instance.get("PublicIpAddress", ""),
            "PublicDnsName": instance.get("PublicDnsName", ""),
            "AvailabilityZone": instance["Placement"]["AvailabilityZone"],
        },
    )


@updater("AWS::EC2::Instance")
def _update_instance(req: Request, held: Provisioned, old: dict[str, Any]) -> Provisioned | None:
    """A new instance type stops and starts the instance (EBS-backed); any other change replaces it."""
    if _changed(req.properties, old) - {"InstanceType", "Tags"}:
        return None
    ec2 = req.aws.client("ec2")
    if req.properties.get("InstanceType") != old.get("InstanceType"):
        ec2.stop_instances(InstanceIds=[held.physical_id])
        ec2.modify_instance_attribute(InstanceId=held.physical_id, InstanceType={"Value": req.properties["InstanceType"]})
        ec2.start_instances(InstanceIds=[held.physical_id])
    return held


# --- IAM ---------------------------------------------------------------------------


def _delete_role(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    iam, name = aws.client("iam"), res.physical_id
    for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for profile in iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]:
        iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=name)
    iam.delete_role(RoleName=name)


@provisioner("AWS::IAM::Role", _delete_role)
def _role(req: Request) -> Provisioned:
    iam, props = req.aws.client("iam"), req.properties
    name = props.get("RoleName") or req.aws.physical_name(req.logical_id, 64)
    args = {
        "RoleName": name,
        "AssumeRolePolicyDocument": _json_text(props["AssumeRolePolicyDocument"]),
        "Path": props.get("Path", "/"),
    }
    if "Description" in props:
        args["Description"] = props["Description"]
    role = iam.create_role(**args)["Role"]
    for arn in props.get("ManagedPolicyArns", []):
        # The emulator loads an AWS managed policy when it is attached; an unknown one fails, as in AWS.
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    for policy in props.get("Policies", []):
        iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=_json_text(policy["PolicyDocument"]))
    return Provisioned(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def _delete_policy(aws: Aws, res: Provisioned, props: dict[str, Any]) -> None:
    iam = aws.client("iam")
    for role in props.get("Roles", []):
        iam.delete_role_policy(RoleName=role, PolicyName=res.attributes["PolicyName"])


@provisioner("AWS::IAM::Policy", _delete_policy)
def _policy(req: Request) -> Provisioned:
    iam, props = req.aws.client("iam"), req.properties
    if props.get("Users") or props.get("Groups"):
        raise TemplateError(f"{req.logical_id}: AWS::IAM::Policy is supported for Roles only")
    for role in props.get("Roles", []):
        iam.put_role_policy(RoleName=role, PolicyName=props["PolicyName"], PolicyDocument=_json_text(props["PolicyDocument"]))
    return Provisioned(req.aws.physical_name(req.logical_id), {"PolicyName": props["PolicyName"]})


@updater("AWS::IAM::Policy")
def _update_policy(req: Request, held: Provisioned, old: dict[str, Any]) -> Provisioned | None:
    """A new document or roles: the inline policy is put again, and removed from roles it left."""
    iam, props = req.aws.client("iam"), req.properties
    for role in set(old.get("Roles", [])) - set(props.get("Roles", [])):
        iam.delete_role_policy(RoleName=role, PolicyName=old["PolicyName"])
    if props["PolicyName"] != old["PolicyName"]:
        for role in old.get("Roles", []):
            if role in props.get("Roles", []):
                iam.delete_role_policy(RoleName=role, PolicyName=old["PolicyName"])
    _policy(req)
    return Provisioned(held.physical_id, {"PolicyName": props["PolicyName"]})


def _delete_managed_policy(aws: Aws, res: Provisioned, props: dict[str, Any]) -> None:
    iam = aws.client("iam")
    for role in props.get("Roles", []):
        iam.detach_role_policy(RoleName=role, PolicyArn=res.physical_id)
    iam.delete_policy(PolicyArn=res.physical_id)


@provisioner("AWS::IAM::ManagedPolicy", _delete_managed_policy)
def _managed_policy(req: Request) -> Provisioned:
    iam, props = req.aws.client("iam"), req.properties
    name = props.get("ManagedPolicyName") or req.aws.physical_name(req.logical_id, 128)
    document = _json_text(props["PolicyDocument"])
    arn = iam.create_policy(PolicyName=name, PolicyDocument=document, Path=props.get("Path", "/"))["Policy"]["Arn"]
    for role in props.get("Roles", []):
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return Provisioned(arn, {"PolicyArn": arn})


def _delete_instance_profile(aws: Aws, res: Provisioned, props: dict[str, Any]) -> None:
    iam = aws.client("iam")
    for role in props.get("Roles", []):
        iam.remove_role_from_instance_profile(InstanceProfileName=res.physical_id, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=res.physical_id)


@provisioner("AWS::IAM::InstanceProfile", _delete_instance_profile)
def _instance_profile(req: Request) -> Provisioned:
    iam, props = req.aws.client("iam"), req.properties
    name = props.get("InstanceProfileName") or req.aws.physical_name(req.logical_id, 128)
    profile = iam.create_instance_profile(InstanceProfileName=name, Path=props.get("Path", "/"))["InstanceProfile"]
    for role in props.get("Roles", []):
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    return Provisioned(name, {"Arn": profile["Arn"]})


# --- Logs, Lambda, Step Functions ----------------------------------------------------


def _delete_log_group(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("logs").delete_log_group(logGroupName=res.physical_id)


@provisioner("AWS::Logs::LogGroup", _delete_log_group)
def _log_group(req: Request) -> Provisioned:
    logs, props = req.aws.client("logs"), req.properties
    name = props.get("LogGroupName") or req.aws.physical_name(req.logical_id, 512)
    key = {"kmsKeyId": props["KmsKeyId"]} if props.get("KmsKeyId") else {}
    logs.create_log_group(logGroupName=name, **key)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return Provisioned(name, {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"})


def _dummy_zip() -> bytes:
    """The code moto stores; the real binary runs through the emulator's forwarding."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\necho 'run through the emulator forwarding'\n")
    return buffer.getvalue()


def _delete_function(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("lambda").delete_function(FunctionName=res.physical_id)


def register_forwarding(
    endpoint: str, function_name: str, bootstrap: Path, environment: dict[str, str], timeout: float
) -> dict[str, Any]:
    """POST /_emulator/lambda/register; answers {"FunctionName", "LogFile"}."""
    body = json.dumps(
        {"FunctionName": function_name, "Bootstrap": str(bootstrap), "Environment": environment, "Timeout": timeout}
    ).encode()
    request = urllib.request.Request(
        f"{endpoint}/_emulator/lambda/register", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _runtime_environment(props: dict[str, Any]) -> dict[str, str]:
    """The variables Lambda gives the process: the function's own, and those its logging
    configuration sets (advanced logging controls: format, and with JSON the levels)."""
    environment = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
    logging = props.get("LoggingConfig", {})
    if logging.get("LogFormat") == "JSON":
        environment["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        if "ApplicationLogLevel" in logging:
            environment["AWS_LAMBDA_LOG_LEVEL"] = str(logging["ApplicationLogLevel"])
    return environment


@provisioner("AWS::Lambda::Function", _delete_function)
def _function(req: Request) -> Provisioned:
    props = req.properties
    if props.get("PackageType") == "Image" or "ImageUri" in props.get("Code", {}):
        raise TemplateError(f"{req.logical_id}: container image functions are not supported")
    bootstrap = host_bootstrap(req.asset_dir, req.logical_id, req.resource)
    name = props.get("FunctionName") or req.aws.physical_name(req.logical_id, 64)
    environment = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
    timeout = int(props.get("Timeout", 3))
    function = req.aws.client("lambda").create_function(
        FunctionName=name,
        Runtime=props.get("Runtime", "provided.al2023"),
        Role=props["Role"],
        Handler=props.get("Handler", "bootstrap"),
        Code={"ZipFile": _dummy_zip()},
        Description=props.get("Description", ""),
        Timeout=timeout,
        MemorySize=int(props.get("MemorySize", 128)),
        Environment={"Variables": environment},
        Architectures=props.get("Architectures", ["x86_64"]),
    )
    forwarding = register_forwarding(req.aws.endpoint, name, bootstrap, _runtime_environment(props), timeout)
    return Provisioned(name, {"Arn": function["FunctionArn"], "Bootstrap": str(bootstrap), "LogFile": forwarding["LogFile"]})


@updater("AWS::Lambda::Function")
def _update_function(req: Request, held: Provisioned, old: dict[str, Any]) -> Provisioned | None:
    """Configuration and code change in place (the forwarding is registered again); a new name replaces."""
    props = req.properties
    if _changed(props, old) & {"FunctionName", "PackageType"}:
        return None
    bootstrap = host_bootstrap(req.asset_dir, req.logical_id, req.resource)
    timeout = int(props.get("Timeout", 3))
    environment = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
    req.aws.client("lambda").update_function_configuration(
        FunctionName=held.physical_id,
        Role=props["Role"],
        Timeout=timeout,
        MemorySize=int(props.get("MemorySize", 128)),
        Environment={"Variables": environment},
        Description=props.get("Description", ""),
    )
    forwarding = register_forwarding(req.aws.endpoint, held.physical_id, bootstrap, _runtime_environment(props), timeout)
    return Provisioned(held.physical_id, {**held.attributes, "Bootstrap": str(bootstrap), "LogFile": forwarding["LogFile"]})


def _delete_state_machine(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("stepfunctions").delete_state_machine(stateMachineArn=res.physical_id)


def state_machine_definition(props: dict[str, Any]) -> str:
    """The ASL text: DefinitionString or Definition, with DefinitionSubstitutions applied."""
    definition = props.get("DefinitionString") or json.dumps(props.get("Definition", {}))
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    return definition


@provisioner("AWS::StepFunctions::StateMachine", _delete_state_machine)
def _state_machine(req: Request) -> Provisioned:
    props = req.properties
    name = props.get("StateMachineName") or req.aws.physical_name(req.logical_id, 80)
    arn = req.aws.client("stepfunctions").create_state_machine(
        name=name,
        definition=state_machine_definition(props),
        roleArn=props["RoleArn"],
        type=props.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    return Provisioned(arn, {"Arn": arn, "Name": name})


@updater("AWS::StepFunctions::StateMachine")
def _update_state_machine(req: Request, held: Provisioned, old: dict[str, Any]) -> Provisioned | None:
    """A new definition or role is applied in place; a new name or type replaces."""
    props = req.properties
    if _changed(props, old) & {"StateMachineName", "StateMachineType"}:
        return None
    req.aws.client("stepfunctions").update_state_machine(
        stateMachineArn=held.physical_id, definition=state_machine_definition(props), roleArn=props["RoleArn"]
    )
    return held


def _delete_events_rule(aws: Aws, res: Provisioned, props: dict[str, Any]) -> None:
    events = aws.client("events")
    ids = [t["Id"] for t in props.get("Targets", [])]
    if ids:
        events.remove_targets(Rule=res.physical_id, Ids=ids)
    events.delete_rule(Name=res.physical_id)


@provisioner("AWS::Events::Rule", _delete_events_rule)
def _events_rule(req: Request) -> Provisioned:
    """put_rule (pattern or schedule) on the default bus, then put_targets; the emulator
    delivers Step Functions' execution status change events to Lambda targets."""
    events, props = req.aws.client("events"), req.properties
    name = props.get("Name") or req.aws.physical_name(req.logical_id, 64)
    rule: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
    if "EventPattern" in props:
        rule["EventPattern"] = _json_text(props["EventPattern"])
    if "ScheduleExpression" in props:
        rule["ScheduleExpression"] = props["ScheduleExpression"]
    if "Description" in props:
        rule["Description"] = props["Description"]
    arn = events.put_rule(**rule)["RuleArn"]
    targets = [
        {k: v for k, v in target.items() if k in ("Id", "Arn", "Input", "InputPath", "RoleArn", "RetryPolicy")}
        for target in props.get("Targets", [])
    ]
    if targets:
        events.put_targets(Rule=name, Targets=targets)
    return Provisioned(name, {"Arn": arn})


def _delete_lambda_permission(aws: Aws, res: Provisioned, props: dict[str, Any]) -> None:
    aws.client("lambda").remove_permission(FunctionName=props["FunctionName"], StatementId=res.physical_id)


@provisioner("AWS::Lambda::Permission", _delete_lambda_permission)
def _lambda_permission(req: Request) -> Provisioned:
    """add_permission: the function's resource policy, which the emulator's EventBridge checks."""
    props = req.properties
    statement_id = req.aws.physical_name(req.logical_id, 100)
    permission = {"FunctionName": props["FunctionName"], "StatementId": statement_id,
                  "Action": props["Action"], "Principal": props["Principal"]}
    for name in ("SourceArn", "SourceAccount"):
        if name in props:
            permission[name] = props[name]
    req.aws.client("lambda").add_permission(**permission)
    return Provisioned(statement_id)


# --- Secrets Manager, SSM, KMS, ACM PCA ----------------------------------------------


def _delete_secret(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("secretsmanager").delete_secret(SecretId=res.physical_id, ForceDeleteWithoutRecovery=True)


def _generated_secret(aws: Aws, spec: dict[str, Any]) -> str:
    """GenerateSecretString: a random password, alone or as a key of the template JSON."""
    options = {"PasswordLength": int(spec.get("PasswordLength", 32))}
    for name in ("ExcludeCharacters",):
        if name in spec:
            options[name] = spec[name]
    for name in (
        "ExcludeNumbers",
        "ExcludePunctuation",
        "ExcludeUppercase",
        "ExcludeLowercase",
        "IncludeSpace",
        "RequireEachIncludedType",
    ):
        if name in spec:
            options[name] = spec[name] in (True, "true")
    password = aws.client("secretsmanager").get_random_password(**options)["RandomPassword"]
    if "SecretStringTemplate" not in spec:
        return password
    document = json.loads(spec["SecretStringTemplate"])
    document[spec["GenerateStringKey"]] = password
    return json.dumps(document)


@provisioner("AWS::SecretsManager::Secret", _delete_secret)
def _secret(req: Request) -> Provisioned:
    props = req.properties
    name = props.get("Name") or req.aws.physical_name(req.logical_id, 256)
    value = (
        props["SecretString"] if "SecretString" in props else _generated_secret(req.aws, props.get("GenerateSecretString", {}))
    )
    args = {"Name": name, "SecretString": value, "Tags": _tags(props)}
    for key in ("Description", "KmsKeyId"):
        if key in props:
            args[key] = props[key]
    arn = req.aws.client("secretsmanager").create_secret(**args)["ARN"]
    return Provisioned(arn, {"Id": arn})


def _delete_document(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ssm").delete_document(Name=res.physical_id)


@provisioner("AWS::SSM::Document", _delete_document)
def _document(req: Request) -> Provisioned:
    props = req.properties
    name = props.get("Name") or req.aws.physical_name(req.logical_id, 128)
    document_format = props.get("DocumentFormat", "JSON")
    content = props["Content"] if isinstance(props["Content"], str) else json.dumps(props["Content"])
    req.aws.client("ssm").create_document(
        Name=name, Content=content, DocumentType=props.get("DocumentType", "Command"), DocumentFormat=document_format
    )
    return Provisioned(name)


def _delete_parameter(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("ssm").delete_parameter(Name=res.physical_id)


@provisioner("AWS::SSM::Parameter", _delete_parameter)
def _parameter(req: Request) -> Provisioned:
    props = req.properties
    name = props.get("Name") or f"CFN-{req.aws.physical_name(req.logical_id, 1000)}"
    value = ",".join(props["Value"]) if isinstance(props["Value"], list) else str(props["Value"])
    args = {"Name": name, "Value": value, "Type": props.get("Type", "String")}
    if "Description" in props:
        args["Description"] = props["Description"]
    req.aws.client("ssm").put_parameter(**args)
    return Provisioned(name, {"Type": args["Type"], "Value": value})


def _delete_key(aws: Aws, res: Provisioned, props: dict[str, Any]) -> None:
    days = int(props.get("PendingWindowInDays", 7))
    aws.client("kms").schedule_key_deletion(KeyId=res.physical_id, PendingWindowInDays=days)


@provisioner("AWS::KMS::Key", _delete_key)
def _key(req: Request) -> Provisioned:
    kms, props = req.aws.client("kms"), req.properties
    args: dict[str, Any] = {
        "KeyUsage": props.get("KeyUsage", "ENCRYPT_DECRYPT"),
        "KeySpec": props.get("KeySpec", "SYMMETRIC_DEFAULT"),
    }
    if "Description" in props:
        args["Description"] = props["Description"]
    if "KeyPolicy" in props:
        args["Policy"] = _json_text(props["KeyPolicy"])
    if props.get("Tags"):
        args["Tags"] = [{"TagKey": t["Key"], "TagValue": str(t["Value"])} for t in props["Tags"]]
    key = kms.create_key(**args)["KeyMetadata"]
    if props.get("EnableKeyRotation") in (True, "true"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    return Provisioned(key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]})


def _delete_alias(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    aws.client("kms").delete_alias(AliasName=res.physical_id)


@provisioner("AWS::KMS::Alias", _delete_alias)
def _alias(req: Request) -> Provisioned:
    req.aws.client("kms").create_alias(AliasName=req.properties["AliasName"], TargetKeyId=req.properties["TargetKeyId"])
    return Provisioned(req.properties["AliasName"])


def _delete_ca(aws: Aws, res: Provisioned, _props: dict[str, Any]) -> None:
    pca = aws.client("acm-pca")
    status = pca.describe_certificate_authority(CertificateAuthorityArn=res.physical_id)["CertificateAuthority"]["Status"]
    if status == "ACTIVE":
        pca.update_certificate_authority(CertificateAuthorityArn=res.physical_id, Status="DISABLED")
    pca.delete_certificate_authority(CertificateAuthorityArn=res.physical_id, PermanentDeletionTimeInDays=7)


@provisioner("AWS::ACMPCA::CertificateAuthority", _delete_ca)
def _certificate_authority(req: Request) -> Provisioned:
    pca, props = req.aws.client("acm-pca"), req.properties
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": props["KeyAlgorithm"],
            "SigningAlgorithm": props["SigningAlgorithm"],
            "Subject": props["Subject"],
        },
        CertificateAuthorityType=props["Type"],
    )["CertificateAuthorityArn"]
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    return Provisioned(arn, {"Arn": arn, "CertificateSigningRequest": csr})


def _revoke_nothing(_aws: Aws, _res: Provisioned, _props: dict[str, Any]) -> None:
    """Issued certificates stay issued, as when CloudFormation deletes the resource."""


@provisioner("AWS::ACMPCA::Certificate", _revoke_nothing)
def _certificate(req: Request) -> Provisioned:
    pca, props = req.aws.client("acm-pca"), req.properties
    args: dict[str, Any] = {
        "CertificateAuthorityArn": props["CertificateAuthorityArn"],
        "Csr": props["CertificateSigningRequest"].encode(),
        "SigningAlgorithm": props["SigningAlgorithm"],
        "Validity": {"Type": props["Validity"]["Type"], "Value": int(props["Validity"]["Value"])},
    }
    if "TemplateArn" in props:
        args["TemplateArn"] = props["TemplateArn"]
    arn = pca.issue_certificate(**args)["CertificateArn"]
    for _ in range(50):
        try:
            pem = pca.get_certificate(CertificateAuthorityArn=props["CertificateAuthorityArn"], CertificateArn=arn)["Certificate"]
            return Provisioned(arn, {"Arn": arn, "Certificate": pem})
        except pca.exceptions.RequestInProgressException:
            time.sleep(0.1)
    raise ProvisionError(f"{req.logical_id}: the certificate {arn} was not issued in time")


@provisioner("AWS::ACMPCA::CertificateAuthorityActivation", _revoke_nothing)
def _activation(req: Request) -> Provisioned:
    props = req.properties
    args = {"CertificateAuthorityArn": props["CertificateAuthorityArn"], "Certificate": props["Certificate"].encode()}
    if "CertificateChain" in props:
        args["CertificateChain"] = props["CertificateChain"].encode()
    req.aws.client("acm-pca").import_certificate_authority_certificate(**args)
    return Provisioned(props["CertificateAuthorityArn"], {"CompleteCertificateChain": props["Certificate"]})
