"""Whether an EC2 instance is a managed instance of Systems Manager, as AWS decides it.

The SSM Agent on an instance registers (and then stays Online) only if
- its instance profile role allows the agent's calls: `ssm:UpdateInstanceInformation`,
  the `ssmmessages:*` channel actions and the `ec2messages:*` message actions (what
  AmazonSSMManagedInstanceCore grants), evaluated with the emulator's IAM machinery;
- its subnet reaches Systems Manager: a route 0.0.0.0/0 to a NAT gateway, or to an
  internet gateway when the instance has a public IP, or interface VPC endpoints for
  ssm, ssmmessages and ec2messages (private DNS enabled) in its VPC.

`missing()` names what is missing, for the emulator's state and tests; AWS itself says
nothing more than that the instance is not a valid managed instance.
"""

from typing import Any

from moto.iam.models import iam_backends

from ..authz.enforce import _identity_statements
from ..authz.policy import Request, evaluate_identity
from ..authz.principals import Principal

# The agent's calls, as AmazonSSMManagedInstanceCore grants them.
CORE_ACTIONS = (
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
)
ENDPOINT_SERVICES = ("ssm", "ssmmessages", "ec2messages")
ANYWHERE = "0.0.0.0/0"


def _role_arn(ec2: Any, instance_id: str) -> str | None:
    association = ec2.iam_instance_profile_associations.get(instance_id)
    profile = association.iam_instance_profile if association is not None else None
    if profile is None or not profile.roles:
        return None
    return str(profile.roles[0].arn)


def denied_actions(ec2: Any, instance: Any) -> list[str] | None:
    """The agent's actions the instance's role does not allow; None without an instance profile role."""
    role_arn = _role_arn(ec2, instance.id)
    if role_arn is None:
        return None
    account = role_arn.split(":")[4]
    if not any(role.arn == role_arn for role in iam_backends[account]["aws"].roles.values()):
        return None
    identity = _identity_statements(Principal(arn=role_arn, account=account, role_arn=role_arn))
    instance_arn = f"arn:aws:ec2:{ec2.region_name}:{ec2.account_id}:instance/{instance.id}"
    return [
        action
        for action in CORE_ACTIONS
        if not evaluate_identity(
            identity, Request.of(action, instance_arn if action.startswith("ssm:") else "*")
        ).allowed
    ]


def route_table_of(ec2: Any, subnet_id: str, vpc_id: str) -> Any | None:
    """The subnet's route table: the one associated with it, else its VPC's main table."""
    main = None
    for table in ec2.route_tables.values():
        if subnet_id in table._associations.values():  # moto keeps association id -> subnet id
            return table
        if table.vpc_id == vpc_id and table.main_association_id is not None:
            main = table
    return main


def internet_route(ec2: Any, instance: Any) -> str | None:
    """How the instance's subnet reaches the internet ("NAT gateway nat-...", ...), or None."""
    table = route_table_of(ec2, instance.subnet_id, instance.vpc_id)
    if table is None:
        return None
    for route in table.routes:
        if route.destination_cidr_block != ANYWHERE:
            continue
        if route.nat_gateway is not None:
            return f"NAT gateway {route.nat_gateway.id}"
        gateway = route.gateway
        if gateway is not None and str(gateway.id).startswith("igw-") and instance.public_ip:
            return f"internet gateway {gateway.id}"
    return None


def missing_endpoints(ec2: Any, vpc_id: str) -> list[str]:
    """The Systems Manager services without an available interface endpoint (private DNS) in the VPC."""
    present = {
        endpoint.service_name.rsplit(".", 1)[-1]
        for endpoint in ec2.vpc_end_points.values()
        if endpoint.vpc_id == vpc_id
        and (endpoint.vpc_endpoint_type or "").lower() == "interface"
        and endpoint.state == "available"
        and endpoint.private_dns_enabled is not False
    }
    return [service for service in ENDPOINT_SERVICES if service not in present]


def missing(ec2: Any, instance: Any) -> list[str]:
    """What keeps a running instance from registering with Systems Manager; empty when it is Online."""
    reasons = []
    denied = denied_actions(ec2, instance)
    if denied is None:
        reasons.append("role: the instance has no instance profile role")
    elif denied:
        reasons.append("role: its instance profile role does not allow " + ", ".join(denied))
    if internet_route(ec2, instance) is None:
        endpoints = missing_endpoints(ec2, instance.vpc_id)
        if endpoints:
            reasons.append(
                f"network: subnet {instance.subnet_id} has no route {ANYWHERE} to a NAT gateway (or an internet "
                "gateway with a public IP) and its VPC has no interface endpoints for " + ", ".join(endpoints)
            )
    return reasons


def online(ec2: Any, instance: Any) -> bool:
    return instance.state == "running" and not missing(ec2, instance)


def instances_json(ec2_backends: Any) -> list[dict[str, Any]]:
    """Every EC2 instance, with what keeps it from registering, how its user data ran and its
    package downloads (for GET /_emulator/state)."""
    from .packages import DOWNLOADS  # noqa: PLC0415 - packages imports this module
    from .user_data import BOOTS  # noqa: PLC0415 - user_data imports the responses, which import this module
    entries = []
    for account in ec2_backends.values():
        for ec2 in account.values():
            for instance in ec2.all_instances():
                entries.append(
                    {
                        "InstanceId": instance.id,
                        "State": instance.state,
                        "SubnetId": instance.subnet_id,
                        "Unregistered": missing(ec2, instance) if instance.state == "running" else [],
                        "UserData": BOOTS.get(instance.id),
                        "Downloads": DOWNLOADS.of(instance.id),
                    }
                )
    return entries
