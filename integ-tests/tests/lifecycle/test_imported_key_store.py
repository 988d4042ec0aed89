"""A key store in a stack of its own, on a cluster imported with fromClusterAttributes.

The example app makes the cluster (no key store); a second stack (apps/variants.ts,
imported-key-store) imports it by id with its trust anchor, and either its management
client (instance, role, admin password) or only an existing kmsuser's password. kmsuser is
made beforehand, as the cluster's admin, with the password of a secret the test makes:
the key store reuses it. The key store's stack is removed before the cluster's.
"""

from pathlib import Path
from typing import Any

import pytest

from runner.contract import CONTRACT
from runner.stack import OperationFailed, Stack

from .conftest import stack_for
from .test_cluster_lifecycle import client
from .test_key_store_lifecycle import admin_cli, disconnect
from .test_key_store_lifecycle import synth as synth_example
from .test_names_and_keys import VARIANTS, synth

KMSUSER_PASSWORD = "KmsUserPassword0123456789abcdef"


def physical_id(stack: Stack, resource_type: str, prefix: str) -> str:
    [found] = [r.physical_id for r in stack.resources.values() if r.type == resource_type and r.logical_id.startswith(prefix)]
    return found


def cluster_attributes(cluster_stack: Stack, emulator) -> dict[str, str]:
    """What the key store's stack imports: the cluster, its trust anchor and its management client."""
    [cluster] = emulator.state()["clusters"]
    return {
        "clusterId": cluster["ClusterId"],
        "securityGroupId": cluster["SecurityGroup"],
        "trustAnchorSecretArn": physical_id(cluster_stack, "AWS::SecretsManager::Secret", "HsmSecretsCaCertificate"),
    }


def client_attributes(cluster_stack: Stack) -> dict[str, str]:
    role_name = physical_id(cluster_stack, "AWS::IAM::Role", "HsmClientRole")
    return {
        "clientInstanceId": physical_id(cluster_stack, "AWS::EC2::Instance", "HsmClientInstance"),
        "clientRoleArn": f"arn:aws:iam::123456789012:role/{role_name}",
        "adminPasswordSecretArn": physical_id(cluster_stack, "AWS::SecretsManager::Secret", "HsmSecretsAdminPassword"),
    }


def kmsuser_secret(emulator, password: str) -> str:
    """A secret made outside the stacks, holding kmsuser's password."""
    return client(emulator, "secretsmanager").create_secret(Name="existing-kmsuser", SecretString=password)["ARN"]


def create_kmsuser(emulator, cluster_id: str, password: str) -> None:
    args = {"username": "kmsuser", "role": "crypto-user", "password": password}
    created = admin_cli(emulator, cluster_id, "user create", args)
    assert created["error_code"] == 0, created


def key_store_app(out: Path, **context: str):
    return synth(out, "ImportedKeyStore", app=str(VARIANTS), variant="imported-key-store", **{
        CONTRACT.poll_seconds_context: "1", **context,
    })


@pytest.fixture
def cluster_stack(emulator, tmp_path) -> Stack:
    """The example app's cluster (2 HSMs in 2 zones, no key store), created."""
    stack, _ = stack_for(synth_example(tmp_path / "cluster"), emulator, timeout=180)
    stack.create()
    return stack


def commands_on(emulator, instance_id: str) -> list[str]:
    """The status of each command sent to the instance, oldest first."""
    invocations = client(emulator, "ssm").list_command_invocations(InstanceId=instance_id)["CommandInvocations"]
    return [i["Status"] for i in sorted(invocations, key=lambda i: i["RequestedDateTime"])]


def kmsusers(emulator) -> list[dict[str, Any]]:
    [cluster] = emulator.state()["clusters"]
    return [u for u in cluster["Users"] if u["username"] == "kmsuser"]


@pytest.mark.parametrize("through_client", [True, False], ids=["checked-on-its-client", "without-a-client"])
def test_a_store_on_an_imported_cluster_reuses_an_existing_kmsuser_and_its_stack_goes_first(
    emulator, tmp_path, cluster_stack, through_client
):
    attributes = cluster_attributes(cluster_stack, emulator)
    create_kmsuser(emulator, attributes["clusterId"], KMSUSER_PASSWORD)
    attributes["kmsUserPasswordSecretArn"] = kmsuser_secret(emulator, KMSUSER_PASSWORD)
    if through_client:
        attributes.update(client_attributes(cluster_stack))
    store_stack, _ = stack_for(key_store_app(tmp_path / "store", **attributes), emulator, timeout=180)
    before = len(commands_on(emulator, attributes.get("clientInstanceId", "")))
    store_stack.create()

    [store] = emulator.state()["key_stores"]
    assert (store["CloudHsmClusterId"], store["ConnectionState"]) == (attributes["clusterId"], "CONNECTED")
    assert len(kmsusers(emulator)) == 1, "the existing kmsuser, reused: none made"
    secrets = client(emulator, "secretsmanager").list_secrets()["SecretList"]
    assert not any("kmsuser was created with" in s.get("Description", "") for s in secrets), "no password of its own"
    documents = [r.physical_id for r in store_stack.resources.values() if r.type == "AWS::SSM::Document"]
    assert len(documents) == (1 if through_client else 0), "the kmsuser document only where a client runs it"
    sent = commands_on(emulator, attributes.get("clientInstanceId", ""))[before:]
    assert sent == (["Success"] if through_client else []), "kmsuser checked on the client, or nothing sent"

    # The key store's stack goes first: disconnected and deleted (no key), the cluster untouched.
    store_stack.delete()
    assert emulator.state()["key_stores"] == []
    [cluster] = emulator.state()["clusters"]
    assert cluster["State"] == "ACTIVE" and len([h for h in cluster["Hsms"] if h["State"] == "ACTIVE"]) == 2
    cluster_stack.delete()
    assert emulator.state()["clusters"] == []


def test_an_existing_kmsuser_with_another_password_fails_the_create_saying_how_to_fix_it(emulator, tmp_path, cluster_stack):
    attributes = {**cluster_attributes(cluster_stack, emulator), **client_attributes(cluster_stack)}
    create_kmsuser(emulator, attributes["clusterId"], "AnotherPassword0123456789abcdef")
    attributes["kmsUserPasswordSecretArn"] = kmsuser_secret(emulator, KMSUSER_PASSWORD)
    store_stack, _ = stack_for(key_store_app(tmp_path / "store", **attributes), emulator, timeout=180)
    with pytest.raises(OperationFailed) as failed:
        store_stack.create()
    reason = str(failed.value)
    assert "kmsuser exists on the cluster and the password in secret" in reason, reason
    assert "put kmsuser's password into that secret, or delete kmsuser" in reason, reason
    assert emulator.state()["key_stores"] == [], "no key store made with a password that does not work"
    assert len(kmsusers(emulator)) == 1, "the existing kmsuser is left as it was"
    cluster_stack.delete()


def test_a_store_is_re_pointed_to_a_cluster_restored_from_a_backup_of_its_cluster(emulator, tmp_path, cluster_stack):
    """UpdateCustomKeyStore with the restored cluster's id (same backup history, same trust anchor): the
    key store's stack is updated with the new cluster's attributes, and the store reconnects there."""
    attributes = cluster_attributes(cluster_stack, emulator)
    original = attributes["clusterId"]
    create_kmsuser(emulator, original, KMSUSER_PASSWORD)
    attributes["kmsUserPasswordSecretArn"] = kmsuser_secret(emulator, KMSUSER_PASSWORD)
    store_stack, _ = stack_for(key_store_app(tmp_path / "store", **attributes), emulator, timeout=180)
    store_stack.create()
    [store] = emulator.state()["key_stores"]
    store_id = store["CustomKeyStoreId"]

    # The original cluster emptied (its last HSM leaves a backup, taken after KMS rotated kmsuser's
    # password), and a cluster restored from that backup in a stack of its own.
    disconnect(emulator, store_id)
    cluster_stack.update(synth_example(tmp_path / "emptied", hsmsPerSubnet="0"))
    [backup] = [b for b in emulator.state()["backups"] if b["BackupState"] == "READY"]
    restored_stack, _ = stack_for(
        synth(
            tmp_path / "restored",
            "Restored",
            **{CONTRACT.poll_seconds_context: "1", "sourceBackupId": backup["BackupId"], "stackName": "Restored"},
        ),
        emulator,
        timeout=180,
    )
    restored_stack.create()
    [restored] = [c for c in emulator.state()["clusters"] if c["ClusterId"] != original]

    store_stack.update(
        key_store_app(
            tmp_path / "moved", **{**attributes, "clusterId": restored["ClusterId"], "securityGroupId": restored["SecurityGroup"]}
        )
    )
    [moved] = emulator.state()["key_stores"]
    assert (moved["CustomKeyStoreId"], moved["CloudHsmClusterId"]) == (store_id, restored["ClusterId"]), "the same store"
    assert moved["ConnectionState"] == "CONNECTED"

    store_stack.delete()
    assert emulator.state()["key_stores"] == []
    restored_stack.delete()
    cluster_stack.delete()
    assert emulator.state()["clusters"] == []
