"""The management client's network to the HSMs, as the emulator enforces it: the cluster
workflow opens TCP 2223-2225 both ways (a restored cluster too), the client's
customerCA.crt holds the cluster's trust anchor, and the delete revokes every rule it
added so that EC2 (which refuses to delete a group still in use: DependencyViolation)
lets the stack's groups go.
"""

import time

import pytest

from runner.stack import OperationFailed, Stack

from .conftest import stack_for
from .test_cluster_lifecycle import client, only_cluster, secret

HSM_PORTS = (2223, 2225)
CA_TAG = "cdk-cloudhsm:cluster-id"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"


def physical_id(stack: Stack, prefix: str, resource_type: str) -> str:
    [found] = [r.physical_id for logical, r in stack.resources.items() if logical.startswith(prefix) and r.type == resource_type]
    return found


def rules_naming(emulator, group_id: str) -> list[tuple[str, str]]:
    """(group, direction) of every rule of another group that names `group_id`."""
    found = []
    for group in client(emulator, "ec2").describe_security_groups()["SecurityGroups"]:
        for direction, key in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
            for permission in group[key]:
                pairs = {pair["GroupId"] for pair in permission.get("UserIdGroupPairs", [])}
                if group_id in pairs and group["GroupId"] != group_id:
                    found.append((group["GroupId"], direction))
    return found


def hsm_rules(emulator, client_group: str, cluster_group: str) -> set[str]:
    """Which of the two rules the workflow adds exist: "ingress" (the cluster's group lets the
    client's in) and "egress" (the client's group lets it out to the cluster's)."""
    groups = {g["GroupId"]: g for g in client(emulator, "ec2").describe_security_groups()["SecurityGroups"]}
    found = set()
    for name, holder, peer, key in (
        ("ingress", cluster_group, client_group, "IpPermissions"),
        ("egress", client_group, cluster_group, "IpPermissionsEgress"),
    ):
        for permission in groups.get(holder, {}).get(key, []):
            ports = (permission.get("FromPort"), permission.get("ToPort"))
            if ports == HSM_PORTS and peer in {pair["GroupId"] for pair in permission.get("UserIdGroupPairs", [])}:
                found.add(name)
    return found


def assert_nothing_left(emulator) -> None:
    """No cluster and no security group but the account's default VPC's."""
    assert [c["State"] for c in emulator.state()["clusters"]] in ([], ["DELETED"])
    groups = client(emulator, "ec2").describe_security_groups()["SecurityGroups"]
    vpcs = {v["VpcId"] for v in client(emulator, "ec2").describe_vpcs()["Vpcs"] if v.get("IsDefault")}
    left = [(g["GroupId"], g["GroupName"]) for g in groups if g.get("VpcId") not in vpcs]
    assert left == [], left


def run_on_client(emulator, instance_id: str, *commands: str) -> dict:
    """Shell lines on the management client through Run Command; the finished invocation."""
    ssm = client(emulator, "ssm")
    command_id = ssm.send_command(
        InstanceIds=[instance_id], DocumentName="AWS-RunShellScript", Parameters={"commands": list(commands)}
    )["Command"]["CommandId"]
    for _ in range(600):
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        if invocation["Status"] in ("Success", "Failed", "TimedOut"):
            return invocation
        time.sleep(0.05)
    pytest.fail(f"command {command_id} did not finish")


def backup_of_a_deleted_stack(emulator, app) -> tuple[str, str]:
    """A stack created, emptied (which makes a backup) and deleted: (backup id, its cluster id)."""
    first, _ = stack_for(app(), emulator)
    first.create()
    cluster_id = only_cluster(emulator)["ClusterId"]
    client_group, cluster_group = physical_id(first, "HsmClient", SECURITY_GROUP), only_cluster(emulator)["SecurityGroup"]
    assert hsm_rules(emulator, client_group, cluster_group) == {"ingress", "egress"}
    first.update(app(hsmsPerSubnet="0"))
    [backup] = [b for b in emulator.state()["backups"] if b["BackupState"] == "READY"]
    first.delete()
    # Both rules were revoked, so CloudHSM's group went with the cluster and the stack's with the stack.
    assert first.status == "DELETE_COMPLETE"
    assert_nothing_left(emulator)
    return backup["BackupId"], cluster_id


def test_a_restored_cluster_lets_the_client_in_and_the_cli_reaches_it_with_the_carried_ca(emulator, app):
    backup_id, source = backup_of_a_deleted_stack(emulator, app)
    original_ca = secret(emulator, "trust anchor")

    second, _ = stack_for(app(sourceBackupId=backup_id), emulator)
    second.create()
    restored = only_cluster(emulator)
    assert restored["SourceBackupId"] == backup_id and restored["ClusterId"] != source
    client_group = physical_id(second, "HsmClient", SECURITY_GROUP)
    assert hsm_rules(emulator, client_group, restored["SecurityGroup"]) == {"ingress", "egress"}
    # The client's customerCA.crt, written by the workflow from the carried secret, is the trust anchor.
    instance_id = physical_id(second, "HsmClient", "AWS::EC2::Instance")
    ip = next(h["EniIp"] for h in restored["Hsms"] if h["State"] == "ACTIVE")
    listed = run_on_client(
        emulator,
        instance_id,
        "cat /opt/cloudhsm/etc/customerCA.crt",
        f"sudo /opt/cloudhsm/bin/configure-cli -a {ip}",
        "/opt/cloudhsm/bin/cloudhsm-cli user list",
    )
    assert listed["Status"] == "Success", listed["StandardOutputContent"] + listed["StandardErrorContent"]
    assert listed["StandardOutputContent"].startswith(original_ca.strip())
    assert '"username": "admin"' in listed["StandardOutputContent"]

    second.delete()
    assert second.status == "DELETE_COMPLETE"
    assert rules_naming(emulator, client_group) == []
    assert_nothing_left(emulator)


def test_a_restore_whose_ca_certificate_is_not_found_fails_naming_what_to_provide(emulator, app):
    backup_id, source = backup_of_a_deleted_stack(emulator, app)
    secrets = client(emulator, "secretsmanager")
    tagged = [{"Key": "tag-key", "Values": [CA_TAG]}, {"Key": "tag-value", "Values": [source]}]
    [kept] = secrets.list_secrets(Filters=tagged)["SecretList"]
    secrets.untag_resource(SecretId=kept["ARN"], TagKeys=[CA_TAG])

    second, _ = stack_for(app(sourceBackupId=backup_id), emulator)
    with pytest.raises(OperationFailed) as failed:
        second.create()
    reason = str(failed.value)
    assert f"the CA certificate of cluster {source} (the cluster backup {backup_id} was taken of) was not found" in reason
    assert f"Put the CA certificate (PEM) that issued cluster {source}'s certificate in a secret tagged {CA_TAG}={source}" in (
        reason
    )
    assert second.status == "ROLLBACK_COMPLETE"
    assert_nothing_left(emulator)
    # No placeholder was written as a trust anchor: the new stack's CA secret is still pending.
    pending = [s for s in secrets.list_secrets()["SecretList"] if s["ARN"] != kept["ARN"] and "trust anchor" in s["Description"]]
    assert all(not secrets.get_secret_value(SecretId=s["ARN"])["SecretString"].startswith("-----BEGIN") for s in pending)

    # What the reason says to provide is enough.
    secrets.tag_resource(SecretId=kept["ARN"], Tags=[{"Key": CA_TAG, "Value": source}])
    third, _ = stack_for(app(sourceBackupId=backup_id), emulator)
    third.create()
    assert only_cluster(emulator)["State"] == "ACTIVE"
    third.delete()
    assert_nothing_left(emulator)


def test_a_rule_left_on_the_client_group_fails_the_stack_delete_with_dependency_violation(emulator, app):
    stack, _ = stack_for(app(), emulator)
    stack.create()
    ec2 = client(emulator, "ec2")
    client_group = physical_id(stack, "HsmClient", SECURITY_GROUP)
    # Someone else's group lets the client in: EC2 keeps the client's group while that rule names it.
    vpc_id = only_cluster(emulator)["VpcId"]
    other = ec2.create_security_group(GroupName="someone-else", Description="not the stack's", VpcId=vpc_id)["GroupId"]
    rule = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": client_group}]}]
    ec2.authorize_security_group_ingress(GroupId=other, IpPermissions=rule)

    with pytest.raises(OperationFailed) as failed:
        stack.delete()
    assert stack.status == "DELETE_FAILED"
    assert "(DependencyViolation) when calling the DeleteSecurityGroup operation" in str(failed.value)
    assert f"resource {client_group} has a dependent object" in str(failed.value)
    assert client_group in {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    # The cluster went, and with it every rule the workflow added.
    assert rules_naming(emulator, client_group) == [(other, "ingress")]

    ec2.revoke_security_group_ingress(GroupId=other, IpPermissions=rule)
    ec2.delete_security_group(GroupId=other)
    stack.delete()
    assert stack.status == "DELETE_COMPLETE"
    assert_nothing_left(emulator)
