"""IAM as AWS enforces it: role sessions are authorized against their policies, with
resources, conditions, dependent actions, the service-linked role and KMS key policies."""

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, ZONES

ACCOUNT = "123456789012"
TRUST = json.dumps(
    {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
)


class Role:
    """A role with inline statements, and clients signed by a session of it."""

    def __init__(self, emulator: Any, client: Callable[[str], Any], name: str, *statements: dict[str, Any]):
        self.emulator, self.iam = emulator, client("iam")
        self.arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        self.name = name
        if statements:
            self.allow(*statements)
        credentials = client("sts").assume_role(RoleArn=self.arn, RoleSessionName="test")["Credentials"]
        self.credentials = credentials

    def allow(self, *statements: dict[str, Any], policy: str = "inline") -> None:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        self.iam.put_role_policy(RoleName=self.name, PolicyName=policy, PolicyDocument=json.dumps(document))

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.emulator.endpoint,
            region_name=REGION,
            aws_access_key_id=self.credentials["AccessKeyId"],
            aws_secret_access_key=self.credentials["SecretAccessKey"],
            aws_session_token=self.credentials["SessionToken"],
            config=Config(retries={"total_max_attempts": 1}),
        )


@pytest.fixture
def role(emulator, client) -> Callable[..., Role]:
    def make(*statements: dict[str, Any], name: str = "worker") -> Role:
        return Role(emulator, client, name, *statements)

    return make


def allow(actions: str | list[str], resources: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_a_session_without_a_policy_is_refused_naming_action_role_and_resource(role, client):
    secret = client("secretsmanager").create_secret(Name="s", SecretString="v")["ARN"]
    worker = role()
    with pytest.raises(ClientError) as excinfo:
        worker.client("secretsmanager").get_secret_value(SecretId=secret)
    code, message = error_of(excinfo)
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/worker/test is not authorized to perform: "
        f"secretsmanager:GetSecretValue on resource: {secret} because no identity-based policy allows "
        "the secretsmanager:GetSecretValue action"
    )


def test_a_statement_allows_only_the_resources_it_names(role, client):
    secrets = client("secretsmanager")
    mine = secrets.create_secret(Name="mine", SecretString="1")["ARN"]
    other = secrets.create_secret(Name="other", SecretString="2")["ARN"]
    worker = role(allow("secretsmanager:GetSecretValue", mine))
    assert worker.client("secretsmanager").get_secret_value(SecretId="mine")["SecretString"] == "1"
    with pytest.raises(ClientError) as excinfo:
        worker.client("secretsmanager").get_secret_value(SecretId=other)
    assert error_of(excinfo)[0] == "AccessDeniedException"


def test_an_explicit_deny_wins_over_an_allow(role, client):
    secret = client("secretsmanager").create_secret(Name="s", SecretString="v")["ARN"]
    worker = role(allow("secretsmanager:*"), {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": secret})
    with pytest.raises(ClientError) as excinfo:
        worker.client("secretsmanager").get_secret_value(SecretId=secret)
    assert "with an explicit deny in an identity-based policy (inline:inline#1)" in error_of(excinfo)[1]


def test_a_resource_tag_condition_is_evaluated_with_the_secret_s_tags(role, client):
    secrets = client("secretsmanager")
    tagged = secrets.create_secret(Name="tagged", SecretString="t", Tags=[{"Key": "cluster", "Value": "cluster-1"}])["ARN"]
    untagged = secrets.create_secret(Name="untagged", SecretString="u")["ARN"]
    worker = role(
        allow("secretsmanager:GetSecretValue", Condition={"StringLike": {"secretsmanager:ResourceTag/cluster": "cluster-*"}})
    )
    assert worker.client("secretsmanager").get_secret_value(SecretId=tagged)["SecretString"] == "t"
    with pytest.raises(ClientError):
        worker.client("secretsmanager").get_secret_value(SecretId=untagged)


def test_an_aws_managed_policy_attaches_and_grants_what_it_says(role, client):
    client("ssm").put_parameter(Name="/agent/setting", Value="x", Type="String")
    worker = role()
    worker.iam.attach_role_policy(RoleName="worker", PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    assert worker.client("ssm").get_parameter(Name="/agent/setting")["Parameter"]["Value"] == "x"
    with pytest.raises(ClientError):
        worker.client("ssm").send_command(InstanceIds=["i-0123456789abcdef0"], DocumentName="AWS-RunShellScript")


def test_a_key_the_emulator_never_issued_is_refused(emulator):
    stranger = boto3.client(
        "secretsmanager",
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as excinfo:
        stranger.list_secrets()
    assert error_of(excinfo)[0] == "UnrecognizedClientException"


def test_an_action_without_a_resource_mapping_is_refused_loudly(role):
    worker = role(allow("*"))
    with pytest.raises(ClientError) as excinfo:
        worker.client("secretsmanager").list_secret_version_ids(SecretId="s")
    code, message = error_of(excinfo)
    assert code == "EmulatorUnmappedAction" and "secretsmanager:ListSecretVersionIds" in message


def _subnets(client) -> list[str]:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for i, zone in enumerate(ZONES[:2])
    ]


def test_create_cluster_needs_the_ec2_actions_cloudhsm_performs_for_the_caller(role, client):
    subnets = _subnets(client)
    worker = role(allow("cloudhsm:*"), allow("iam:CreateServiceLinkedRole"))
    with pytest.raises(ClientError) as excinfo:
        worker.client("cloudhsmv2").create_cluster(HsmType="hsm2m.medium", SubnetIds=subnets)
    code, message = error_of(excinfo)
    assert code == "CloudHsmAccessDeniedException"
    assert "it needs ec2:AuthorizeSecurityGroupEgress" in message
    assert client("cloudhsmv2").describe_clusters()["Clusters"] == []


def test_the_first_cluster_in_an_account_needs_the_service_linked_role(role, client):
    subnets = _subnets(client)
    ec2_actions = allow(
        ["ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroup*", "ec2:RevokeSecurityGroupEgress", "ec2:Describe*"]
    )
    worker = role(allow("cloudhsm:*"), ec2_actions)
    with pytest.raises(ClientError) as excinfo:
        worker.client("cloudhsmv2").create_cluster(HsmType="hsm2m.medium", SubnetIds=subnets)
    code, message = error_of(excinfo)
    assert code == "CloudHsmAccessDeniedException" and "iam:CreateServiceLinkedRole" in message
    worker.allow(
        allow("iam:CreateServiceLinkedRole", Condition={"StringEquals": {"iam:AWSServiceName": "cloudhsm.amazonaws.com"}}),
        policy="slr",
    )
    worker.client("cloudhsmv2").create_cluster(HsmType="hsm2m.medium", SubnetIds=subnets)
    role_path = client("iam").get_role(RoleName="AWSServiceRoleForCloudHSM")["Role"]["Path"]
    assert role_path == "/aws-service-role/cloudhsm.amazonaws.com/"


def test_a_condition_for_another_service_name_does_not_allow_the_service_linked_role(role, client):
    subnets = _subnets(client)
    ec2_actions = allow(
        ["ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroup*", "ec2:RevokeSecurityGroupEgress", "ec2:Describe*"]
    )
    wrong = allow("iam:CreateServiceLinkedRole", Condition={"StringEquals": {"iam:AWSServiceName": "kms.amazonaws.com"}})
    worker = role(allow("cloudhsm:*"), ec2_actions, wrong)
    with pytest.raises(ClientError):
        worker.client("cloudhsmv2").create_cluster(HsmType="hsm2m.medium", SubnetIds=subnets)


def _key(client, policy: dict[str, Any]) -> str:
    return client("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]


ROOT_STATEMENT = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
VIA_SECRETS = {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}


def test_a_secret_under_a_customer_key_needs_kms_decrypt_via_secrets_manager(role, client):
    key = _key(client, {"Statement": [ROOT_STATEMENT]})
    secret = client("secretsmanager").create_secret(Name="s", SecretString="v", KmsKeyId=key)["ARN"]
    worker = role(allow("secretsmanager:GetSecretValue", secret))
    with pytest.raises(ClientError) as excinfo:
        worker.client("secretsmanager").get_secret_value(SecretId=secret)
    code, message = error_of(excinfo)
    assert code == "AccessDeniedException"
    assert message.startswith("Access to KMS is not allowed") and f"kms:Decrypt on resource: {key}" in message
    worker.allow(allow("kms:Decrypt", key, Condition=VIA_SECRETS), policy="kms")
    assert worker.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"] == "v"


def test_a_key_policy_that_leaves_out_the_account_refuses_whatever_iam_allows(role, client):
    key = _key(client, {"Statement": [{**ROOT_STATEMENT, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}}]})
    secret = client("secretsmanager").create_secret(Name="s", SecretString="v", KmsKeyId=key)["ARN"]
    worker = role(allow("secretsmanager:GetSecretValue", secret), allow("kms:*"))
    with pytest.raises(ClientError) as excinfo:
        worker.client("secretsmanager").get_secret_value(SecretId=secret)
    assert "because no resource-based policy allows the kms:Decrypt action" in error_of(excinfo)[1]


def test_a_key_policy_naming_the_role_allows_it_without_iam(role, client):
    worker = role(allow("secretsmanager:GetSecretValue"))
    key = _key(
        client, {"Statement": [ROOT_STATEMENT, {**ROOT_STATEMENT, "Principal": {"AWS": worker.arn}, "Action": "kms:Decrypt"}]}
    )
    secret = client("secretsmanager").create_secret(Name="s", SecretString="v", KmsKeyId=key)["ARN"]
    assert worker.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"] == "v"


def test_ec2_refuses_with_its_own_error_and_evaluates_ec2_vpc(role, client):
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    rule = {"IpProtocol": "tcp", "FromPort": 2223, "ToPort": 2225, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}
    other_vpc = allow(
        "ec2:AuthorizeSecurityGroupIngress", Condition={"ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-other"}}
    )
    worker = role(other_vpc)
    with pytest.raises(ClientError) as excinfo:
        worker.client("ec2").authorize_security_group_ingress(GroupId=group, IpPermissions=[rule])
    code, message = error_of(excinfo)
    assert code == "UnauthorizedOperation" and f"security-group/{group}" in message
    worker.allow(
        allow(
            "ec2:AuthorizeSecurityGroupIngress", Condition={"ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{vpc}"}}
        )
    )
    worker.client("ec2").authorize_security_group_ingress(GroupId=group, IpPermissions=[rule])


def test_new_policies_take_effect_after_the_propagation_delay(emulator, role, client):
    secret = client("secretsmanager").create_secret(Name="s", SecretString="v")["ARN"]
    # Emulated seconds: the clock runs at least as fast as the real one, so 0.3 s at most.
    emulator.configure_iam(propagation_seconds=0.3)
    worker = role(allow("secretsmanager:GetSecretValue"))
    with pytest.raises(ClientError):
        worker.client("secretsmanager").get_secret_value(SecretId=secret)
    time.sleep(0.4)
    assert worker.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"] == "v"


def test_usage_records_the_statement_that_allowed_each_request(emulator, role, client):
    secret = client("secretsmanager").create_secret(Name="s", SecretString="v")["ARN"]
    worker = role(allow("secretsmanager:ListSecrets"), allow("secretsmanager:GetSecretValue", secret), name="recorded")
    worker.client("secretsmanager").get_secret_value(SecretId=secret)
    used = [u for u in emulator.iam_usage()["Allowed"] if u["Role"] == "recorded"]
    assert [(u["Policy"], u["Index"], u["Requests"]) for u in used] == [
        ("inline:inline", 1, [f"secretsmanager:GetSecretValue {secret}"])
    ]


def _launch(client, key: str) -> Any:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.0.0/24", AvailabilityZone=ZONES[0])["Subnet"]["SubnetId"]
    volume = {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "Encrypted": True, "KmsKeyId": key}}
    return ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet, BlockDeviceMappings=[volume])


def test_an_encrypted_volume_needs_a_key_policy_that_lets_ebs_have_a_grant(client):
    assert _launch(client, _key(client, {"Statement": [ROOT_STATEMENT]}))["Instances"]
    stranger = {**ROOT_STATEMENT, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone-else"}}
    with pytest.raises(ClientError) as excinfo:
        _launch(client, _key(client, {"Statement": [stranger]}))
    code, message = error_of(excinfo)
    assert code == "UnauthorizedOperation" and "kms:CreateGrant" in message


def test_a_cloudhsm_key_store_needs_describe_clusters_and_kms_s_service_linked_role(role, client, lab):
    """KMS's CreateCustomKeyStore reads the cluster as the caller (cloudhsm:DescribeClusters), and an
    account's first CloudHSM key store creates KMS's service-linked role, if the caller may."""
    cluster_id, ip = lab.active_cluster(hsms=2)
    created = lab.as_admin(ip, "cloudhsm-cli user create --username kmsuser --role crypto-user --password kms-pass-1")
    assert created["Status"] == "Success", created["StandardOutputContent"]
    store = {
        "CustomKeyStoreName": "store",
        "CloudHsmClusterId": cluster_id,
        "TrustAnchorCertificate": lab.ca.pem,
        "KeyStorePassword": "kms-pass-1",
    }
    worker = role(allow("kms:CreateCustomKeyStore"))
    with pytest.raises(ClientError) as excinfo:
        worker.client("kms").create_custom_key_store(**store)
    code, message = error_of(excinfo)
    assert code == "AccessDeniedException" and "it needs cloudhsm:DescribeClusters" in message, message

    worker.allow(allow("cloudhsm:DescribeClusters"), policy="describe")
    with pytest.raises(ClientError) as excinfo:
        worker.client("kms").create_custom_key_store(**store)
    code, message = error_of(excinfo)
    assert code == "AccessDeniedException" and "iam:CreateServiceLinkedRole" in message, message
    assert client("kms").describe_custom_key_stores()["CustomKeyStores"] == []

    worker.allow(
        allow("iam:CreateServiceLinkedRole", Condition={"StringEquals": {"iam:AWSServiceName": "cks.kms.amazonaws.com"}}),
        policy="slr",
    )
    worker.client("kms").create_custom_key_store(**store)
    [created_store] = client("kms").describe_custom_key_stores()["CustomKeyStores"]
    assert created_store["CloudHsmClusterId"] == cluster_id
    role_path = client("iam").get_role(RoleName="AWSServiceRoleForKeyManagementServiceCustomKeyStores")["Role"]["Path"]
    assert role_path == "/aws-service-role/cks.kms.amazonaws.com/"
