"""The example app with a KMS key store and a key (context keyStore, key) through their lifecycle.

The real binaries run the synthesized key store and key workflows: kmsuser is made by the
key store's document on the emulated management client, the store is created with the
cluster's trust anchor and connected, the key is made once the store is CONNECTED.
"""

import base64
import json
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from runner.contract import CONTRACT
from runner.stack import OperationFailed, Stack
from runner.template import Template

from .conftest import stack_for
from .conftest import synth as synth_app
from .test_cluster_lifecycle import CLUSTER, HSMS, client, outcome, secret


def synth(out: Path, **context: str) -> Template:
    """The example app with these context values (1 s polling), without CDK's metadata resource, whose
    properties change when a construct type is added (the runner updates custom resources only)."""
    return synth_app(out, "--no-version-reporting", **{CONTRACT.poll_seconds_context: "1", **context})


@pytest.fixture
def app(tmp_path):
    """Synthesizes the example app into a fresh folder per call."""
    count = iter(range(100))
    return lambda **context: synth(tmp_path / f"out{next(count)}", **context)


def logical_id(stack: Stack, resource_type: str) -> str:
    [found] = [r.logical_id for r in stack.resources.values() if r.type == resource_type]
    return found


def only_store(emulator) -> dict:
    [store] = emulator.state()["key_stores"]
    return store


def kms(emulator):
    return boto3.client(
        "kms",
        endpoint_url=emulator.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def admin_cli(emulator, cluster_id: str, operation: str, args: dict) -> dict:
    """A cloudhsm-cli operation as the cluster's admin on the management client (the running
    instance in the cluster's VPC, with the CA certificate tagged with the cluster as its
    customerCA.crt), through the emulator's CLI endpoint."""
    password = secret(emulator, "initial password")
    ec2, secrets = client(emulator, "ec2"), client(emulator, "secretsmanager")
    [cluster] = client(emulator, "cloudhsmv2").describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"]
    running = [{"Name": "instance-state-name", "Values": ["running"]}, {"Name": "vpc-id", "Values": [cluster["VpcId"]]}]
    [instance] = [i for r in ec2.describe_instances(Filters=running)["Reservations"] for i in r["Instances"]]
    tagged = [{"Key": "tag-key", "Values": ["cdk-cloudhsm:cluster-id"]}, {"Key": "tag-value", "Values": [cluster_id]}]
    [ca] = secrets.list_secrets(Filters=tagged)["SecretList"]
    request = {
        "account_id": "123456789012",
        "region": "us-east-1",
        "instance_id": instance["InstanceId"],
        "ca_certificate": secrets.get_secret_value(SecretId=ca["ARN"])["SecretString"],
        "cluster_id": cluster_id,
        "operation": operation,
        "args": args,
        "credentials": {"username": "admin", "role": "admin", "password": password},
    }
    http = urllib.request.Request(
        emulator.endpoint + "/_emulator/hsm-cli", data=json.dumps(request).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(http, timeout=30) as response:
        return json.loads(response.read())


def disconnect(emulator, store_id: str) -> None:
    kms(emulator).disconnect_custom_key_store(CustomKeyStoreId=store_id)
    for _ in range(200):
        if kms(emulator).describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]["ConnectionState"] == (
            "DISCONNECTED"
        ):
            return
    pytest.fail(f"{store_id} did not disconnect")


def test_store_and_key_on_two_zones_encrypt_decrypt_rename_and_delete_keeping_the_store_with_a_key(emulator, app):
    stack, _ = stack_for(app(keyStore="destroy"), emulator, timeout=180)
    stack.create()

    store_id = outcome(stack, "Create", logical_id(stack, "Custom::CloudHsmKeyStore")).physical_id
    store = only_store(emulator)
    assert store["CustomKeyStoreId"] == store_id and store["ConnectionState"] == "CONNECTED"
    [cluster] = emulator.state()["clusters"]
    assert store["CloudHsmClusterId"] == cluster["ClusterId"]
    assert {"username": "kmsuser", "role": "crypto-user", "logged_in": False} in cluster["Users"]
    created_key = outcome(stack, "Create", logical_id(stack, "Custom::CloudHsmKey"))
    key_id = created_key.physical_id
    assert store["KeyIds"] == [key_id]
    metadata = kms(emulator).describe_key(KeyId=key_id)["KeyMetadata"]
    assert (metadata["Origin"], metadata["CustomKeyStoreId"], metadata["Description"]) == (
        "AWS_CLOUDHSM",
        store_id,
        "cdk-cloudhsm example key",
    )
    # The key's tags (Tags.of(key) in the app), sent with CreateKey.
    assert {"TagKey": "purpose", "TagValue": "example"} in kms(emulator).list_resource_tags(KeyId=key_id)["Tags"]
    # kmsuser's password: its own, generated, not the admin's, never in the template.
    kmsuser_password = secret(emulator, "kmsuser was created with")
    assert len(kmsuser_password) == 32 and kmsuser_password.isalnum()
    assert kmsuser_password != secret(emulator, "initial password")
    # Encrypt and decrypt with the key, through its alias.
    blob = kms(emulator).encrypt(KeyId="alias/cdk-cloudhsm-example", Plaintext=b"card 4111")["CiphertextBlob"]
    assert kms(emulator).decrypt(CiphertextBlob=blob)["Plaintext"] == b"card 4111"
    assert base64.b64encode(blob) != base64.b64encode(b"card 4111")

    stack.update(app(keyStore="destroy", keyStoreName="renamed-store", keyPurpose="payments"))
    renamed = only_store(emulator)
    assert (renamed["CustomKeyStoreName"], renamed["ConnectionState"]) == ("renamed-store", "CONNECTED")
    tags = {t["TagKey"]: t["TagValue"] for t in kms(emulator).list_resource_tags(KeyId=key_id)["Tags"]}
    assert tags["purpose"] == "payments", tags

    stack.delete()
    kept = only_store(emulator)
    assert kept["ConnectionState"] == "DISCONNECTED", "disconnected first, kept because a key (pending deletion) is in it"
    assert kms(emulator).describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    deleted = outcome(stack, "Delete", logical_id_of_deleted(stack, "Custom::CloudHsmKeyStore"))
    assert deleted.status == "SUCCESS"
    assert "holds 1 KMS key(s)" in deleted.data["Reason"], deleted.data
    assert emulator.state()["clusters"] == []


def logical_id_of_deleted(stack: Stack, resource_type: str) -> str:
    [found] = {op.logical_id for op, _ in stack.progress.operations if op.resource_type == resource_type}
    return found


def test_a_store_without_keys_is_deleted_before_its_cluster(emulator, app):
    stack, _ = stack_for(app(keyStore="destroy", key="none"), emulator, timeout=180)
    stack.create()
    assert only_store(emulator)["ConnectionState"] == "CONNECTED"
    stack.delete()
    assert emulator.state()["key_stores"] == []
    deletes = [op.logical_id for op, _ in stack.progress.operations if op.request_type == "Delete"]
    store = logical_id_of_deleted(stack, "Custom::CloudHsmKeyStore")
    assert deletes.index(store) < deletes.index(HSMS) < deletes.index(CLUSTER)


def test_retain_disconnects_and_keeps_the_store(emulator, app):
    stack, _ = stack_for(app(keyStore="retain", key="none"), emulator, timeout=180)
    stack.create()
    stack.delete()
    store = only_store(emulator)
    assert store["ConnectionState"] == "DISCONNECTED"


@pytest.mark.parametrize(
    "break_it, code, advice",
    [
        ("missing", "USER_NOT_FOUND", "kmsuser is missing on at least one HSM"),
        ("password", "INVALID_CREDENTIALS", "the kmsuser password KMS holds does not work on the HSMs"),
    ],
)
def test_a_failed_connection_fails_the_update_naming_the_code_and_disconnects(emulator, app, break_it, code, advice):
    stack, _ = stack_for(app(keyStore="destroy", key="none"), emulator, timeout=180)
    stack.create()
    store = only_store(emulator)
    cluster_id = store["CloudHsmClusterId"]
    disconnect(emulator, store["CustomKeyStoreId"])
    if break_it == "missing":
        [_, second] = [h["HsmId"] for h in emulator.state()["clusters"][0]["Hsms"]]
        emulator.hsm_user_missing_on(cluster_id, "kmsuser", [second])
    else:
        args = {"username": "kmsuser", "role": "crypto-user", "password": "other-pass-1"}
        changed = admin_cli(emulator, cluster_id, "user change-password", args)
        assert changed["error_code"] == 0, changed
    with pytest.raises(OperationFailed) as failed:
        stack.update(app(keyStore="destroy", key="none", keyStoreName="renamed"))
    reason = str(failed.value)
    assert f"failed to connect with ConnectionErrorCode {code}" in reason, reason
    assert advice in reason
    failures = [op for op, _ in stack.progress.operations if op.outcome and op.outcome.status == "FAILED"]
    assert failures and all(op.duration < 60 for op in failures), "answered within a minute, not after KMS's hour"
    assert only_store(emulator)["ConnectionState"] == "DISCONNECTED", "disconnected before the failure was reported"


@pytest.mark.parametrize("connecting", [False, True], ids=["disconnected", "still-connecting"])
def test_a_key_added_later_waits_for_the_store_and_reconnects_it(emulator, app, connecting):
    stack, _ = stack_for(app(keyStore="destroy", key="none"), emulator, timeout=180)
    stack.create()
    store_id = only_store(emulator)["CustomKeyStoreId"]
    disconnect(emulator, store_id)
    if connecting:
        emulator.configure(time_scale=30)  # connecting lasts 20 s: the key's workflow finds it CONNECTING
        kms(emulator).connect_custom_key_store(CustomKeyStoreId=store_id)
        assert only_store(emulator)["ConnectionState"] == "CONNECTING"
    stack.update(app(keyStore="destroy", key="destroy"))
    store = only_store(emulator)
    key_id = outcome(stack, "Create", logical_id(stack, "Custom::CloudHsmKey")).physical_id
    assert store["ConnectionState"] == "CONNECTED" and store["KeyIds"] == [key_id]
    stack.delete()
    assert emulator.state()["key_stores"] == [] or only_store(emulator)["KeyIds"] == [key_id], "kept only for its key"
