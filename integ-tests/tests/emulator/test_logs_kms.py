"""CloudWatch Logs uses a customer managed key only when the key policy lets it.

The regional logs service principal must be allowed to encrypt, decrypt and generate
data keys, under any `kms:EncryptionContext:aws:logs:arn` condition the statement
sets; the account root statement (`kms:*`) grants a service principal nothing.
"""

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
GROUP = "/cdk-cloudhsm/tasks"
GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}"
ROOT = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def logs_statement(
    condition: dict[str, Any] | None = None,
    actions: list[str] | None = None,
    principal: str = "logs.us-east-1.amazonaws.com",
    effect: str = "Allow",
) -> dict[str, Any]:
    statement = {
        "Effect": effect,
        "Principal": {"Service": principal},
        "Action": actions or ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement


def key(client, *statements: dict[str, Any]) -> str:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [ROOT, *statements]})
    return client("kms").create_key(Policy=policy)["KeyMetadata"]["Arn"]


def access_denied(call: Any) -> str:
    with pytest.raises(ClientError) as error:
        call()
    answer = error.value.response
    assert answer["Error"]["Code"] == "AccessDeniedException"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    return answer["Error"]["Message"]


def refusal(group: str = GROUP) -> str:
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"
    return f"The specified KMS key does not exist or is not allowed to be used with Arn '{arn}'"


def test_a_key_without_a_logs_statement_is_refused(client):
    logs = client("logs")
    arn = key(client)  # the account root's kms:* only
    assert access_denied(lambda: logs.create_log_group(logGroupName=GROUP, kmsKeyId=arn)) == refusal()
    assert logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"] == [], "nothing was created"


def test_moto_s_default_key_policy_is_refused(client):
    arn = client("kms").create_key()["KeyMetadata"]["Arn"]
    assert access_denied(lambda: client("logs").create_log_group(logGroupName=GROUP, kmsKeyId=arn)) == refusal()


@pytest.mark.parametrize(
    "condition",
    [
        None,
        {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"}},
        {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": GROUP_ARN}},
        {"StringLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*:*:log-group:/cdk-cloudhsm/*"}},
        {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": ["arn:aws:logs:eu-west-1:*:*", f"arn:aws:logs:*:{ACCOUNT}:*"]}},
    ],
    ids=["no condition", "ArnLike account and region", "ArnEquals the group", "StringLike prefix", "any of two"],
)
def test_a_key_whose_policy_allows_the_logs_service_encrypts_the_group(client, condition):
    logs = client("logs")
    arn = key(client, logs_statement(condition))
    logs.create_log_group(logGroupName=GROUP, kmsKeyId=arn)
    [group] = logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
    assert group["kmsKeyId"] == arn


@pytest.mark.parametrize(
    "statement",
    [
        logs_statement(
            {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/other/*"}}
        ),
        logs_statement({"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:999999999999:log-group:*"}}),
        logs_statement({"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:*"}}),
        logs_statement({"StringEquals": {"kms:EncryptionContext:aws:logs:arn": f"{GROUP_ARN}:*"}}),
        logs_statement({"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "x"}}),
        logs_statement(principal="logs.eu-west-1.amazonaws.com"),
        logs_statement(principal="logs.amazonaws.com"),
        logs_statement(actions=["kms:Encrypt*", "kms:Decrypt*"]),
    ],
    ids=[
        "other group prefix",
        "other account",
        "other region",
        "the :* ARN",
        "one condition fails",
        "other region's service",
        "global service name",
        "no GenerateDataKey",
    ],
)
def test_a_statement_that_does_not_cover_the_group_is_refused(client, statement):
    arn = key(client, statement)
    assert access_denied(lambda: client("logs").create_log_group(logGroupName=GROUP, kmsKeyId=arn)) == refusal()


def test_an_explicit_deny_wins(client):
    arn = key(client, logs_statement(), logs_statement(actions=["kms:Decrypt"], effect="Deny"))
    access_denied(lambda: client("logs").create_log_group(logGroupName=GROUP, kmsKeyId=arn))


def test_a_missing_or_disabled_key_is_refused(client):
    logs, kms = client("logs"), client("kms")
    missing = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
    assert access_denied(lambda: logs.create_log_group(logGroupName=GROUP, kmsKeyId=missing)) == refusal()
    arn = key(client, logs_statement())
    kms.disable_key(KeyId=arn.split("/")[-1])
    assert access_denied(lambda: logs.create_log_group(logGroupName=GROUP, kmsKeyId=arn)) == refusal()


def test_a_log_group_without_a_key_needs_no_policy(client):
    client("logs").create_log_group(logGroupName=GROUP)


def test_associate_kms_key_is_checked_the_same_way(client):
    logs = client("logs")
    logs.create_log_group(logGroupName=GROUP)
    bare = key(client)
    assert access_denied(lambda: logs.associate_kms_key(logGroupName=GROUP, kmsKeyId=bare)) == refusal()
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]

    allowed = key(
        client,
        logs_statement({"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"}}),
    )
    logs.associate_kms_key(logGroupName=GROUP, kmsKeyId=allowed)
    assert logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]["kmsKeyId"] == allowed
    logs.disassociate_kms_key(logGroupName=GROUP)
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]


def test_associate_kms_key_needs_the_log_group(client):
    with pytest.raises(ClientError) as error:
        client("logs").associate_kms_key(logGroupName="/missing", kmsKeyId=key(client, logs_statement()))
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
