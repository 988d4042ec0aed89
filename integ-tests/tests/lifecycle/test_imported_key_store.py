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


def kmsuser_secret(emulator, password: str, name: str = "existing-kmsuser") -> str:
    """A secret made outside the stacks, holding kmsuser's password."""
    return client(emulator, "secretsmanager").create_secret(Name=name, SecretString=password)["ARN"]


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


def live_hsms(emulator) -> list[tuple[str, str]]:
    [cluster] = emulator.state()["clusters"]
    return sorted((h["HsmId"], h["AvailabilityZone"]) for h in cluster["Hsms"] if h["State"] == "ACTIVE")


def test_shrinking_a_cluster_under_a_connected_key_store_of_another_stack_fails_before_any_hsm_goes(
    emulator, tmp_path, cluster_stack
):
    """The cluster's stack cannot see the key store (another stack's, on the imported cluster): the
    resize reads KMS's key stores at run time and refuses to go below 2 HSMs in 2 zones."""
    attributes = cluster_attributes(cluster_stack, emulator)
    create_kmsuser(emulator, attributes["clusterId"], KMSUSER_PASSWORD)
    attributes["kmsUserPasswordSecretArn"] = kmsuser_secret(emulator, KMSUSER_PASSWORD)
    store_stack, _ = stack_for(key_store_app(tmp_path / "store", **attributes), emulator, timeout=180)
    store_stack.create()
    [store] = emulator.state()["key_stores"]
    hsms = live_hsms(emulator)
    assert len({zone for _, zone in hsms}) == 2

    with pytest.raises(OperationFailed) as failed:
        cluster_stack.update(synth_example(tmp_path / "emptied", hsmsPerSubnet="0"))
    reason = str(failed.value)
    assert (
        f"the resize of cluster {attributes['clusterId']} would leave 0 HSM(s) in 0 Availability Zone(s), but KMS key "
        f"store {store['CustomKeyStoreId']} ({store['CustomKeyStoreName']}) on it is CONNECTED: KMS needs at least two "
        "ACTIVE HSMs in different Availability Zones for a connected key store. No HSM was deleted. Disconnect the key "
        "store (DisconnectCustomKeyStore) or delete it first"
    ) in reason, reason
    assert "the rollback also failed" not in reason, reason
    assert cluster_stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert live_hsms(emulator) == hsms, "every HSM is still there"
    assert not [b for b in emulator.state()["backups"] if b["BackupState"] == "READY"], "no last HSM went"
    [kept] = emulator.state()["key_stores"]
    assert kept["ConnectionState"] == "CONNECTED"

    store_stack.delete()
    cluster_stack.delete()
    assert emulator.state()["clusters"] == []


@pytest.mark.parametrize("through_client", [True, False], ids=["set-on-its-client", "without-a-client"])
def test_a_new_kmsuser_password_secret_is_given_to_kms_and_a_wrong_one_fails_saying_why(
    emulator, tmp_path, cluster_stack, through_client
):
    """The imported cluster's kmsUserPasswordSecret swapped for another secret: the store is
    disconnected, given the new password (set on the HSMs first where there is a client) and
    reconnected. A password KMS refuses fails before anything changes; a password that does not work
    on the HSMs (no client to set it) fails the connection with INVALID_CREDENTIALS."""
    attributes = cluster_attributes(cluster_stack, emulator)
    cluster_id = attributes["clusterId"]
    create_kmsuser(emulator, cluster_id, KMSUSER_PASSWORD)
    attributes["kmsUserPasswordSecretArn"] = kmsuser_secret(emulator, KMSUSER_PASSWORD)
    if through_client:
        attributes.update(client_attributes(cluster_stack))
    store_stack, _ = stack_for(key_store_app(tmp_path / "store", **attributes), emulator, timeout=180)
    store_stack.create()
    [store] = emulator.state()["key_stores"]

    # The new password: set on the cluster by its owner where there is no client to set it.
    new_password = "NewKmsUserPassword0123456789abc"
    if not through_client:
        changed = admin_cli(emulator, cluster_id, "user change-password", {
            "username": "kmsuser", "role": "crypto-user", "password": new_password,
        })
        assert changed["error_code"] == 0, changed
    swapped = {**attributes, "kmsUserPasswordSecretArn": kmsuser_secret(emulator, new_password, "new-kmsuser")}
    store_stack.update(key_store_app(tmp_path / "new", **swapped))
    [updated] = emulator.state()["key_stores"]
    assert (updated["CustomKeyStoreId"], updated["ConnectionState"]) == (store["CustomKeyStoreId"], "CONNECTED")

    # A password KMS does not take (7 to 32 characters): refused before the store is touched. The
    # rollback gives KMS nothing: what it holds since it connected still works.
    too_short = {**attributes, "kmsUserPasswordSecretArn": kmsuser_secret(emulator, "short", "short-kmsuser")}
    with pytest.raises(OperationFailed) as failed:
        store_stack.update(key_store_app(tmp_path / "short", **too_short))
    reason = str(failed.value)
    assert (
        f"the kmsuser password in secret {too_short['kmsUserPasswordSecretArn']} is 5 characters long, and KMS "
        "takes 7 to 32 (KeyStorePassword): put kmsuser's password into the secret, then deploy again. The key "
        "store was not changed"
    ) in reason, reason
    assert "the rollback also failed" not in reason, reason
    assert store_stack.status == "UPDATE_ROLLBACK_COMPLETE"
    [kept] = emulator.state()["key_stores"]
    assert kept["ConnectionState"] == "CONNECTED"

    if not through_client:
        # No client to set it: a password that does not work on the HSMs fails the connection, and KMS
        # says why. (What KMS held before is gone: it rotated kmsuser's password when it connected.)
        wrong = {**attributes, "kmsUserPasswordSecretArn": kmsuser_secret(emulator, "WrongPassword0123", "wrong-kmsuser")}
        with pytest.raises(OperationFailed) as failed:
            store_stack.update(key_store_app(tmp_path / "wrong", **wrong))
        reason = str(failed.value)
        assert (
            f"key store {store['CustomKeyStoreId']} on cluster {cluster_id} failed to connect with ConnectionErrorCode "
            "INVALID_CREDENTIALS: the kmsuser password KMS holds does not work on the HSMs"
        ) in reason, reason
        return
    store_stack.delete()
    assert emulator.state()["key_stores"] == []
    cluster_stack.delete()
