"""KMS custom key stores (AWS_CLOUDHSM): create checks, async connect, keys in the store."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import TIME_SCALE, CustomerCa, wait_for

KMSUSER_PASSWORD = "kms-pass-1"


def error_code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def store_ready_cluster(lab, kmsuser: bool = True) -> tuple[str, str]:
    cluster_id, ip = lab.active_cluster(hsms=2)
    if kmsuser:
        result = lab.as_admin(ip, f"cloudhsm-cli user create --username kmsuser --role crypto-user --password {KMSUSER_PASSWORD}")
        assert result["Status"] == "Success", result["StandardOutputContent"]
    return cluster_id, ip


def create_store(lab, kms, cluster_id: str, name: str = "store", password: str = KMSUSER_PASSWORD) -> str:
    return kms.create_custom_key_store(
        CustomKeyStoreName=name, CloudHsmClusterId=cluster_id, TrustAnchorCertificate=lab.ca.pem, KeyStorePassword=password
    )["CustomKeyStoreId"]


def describe(kms, store_id: str) -> dict:
    return kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]


def connect_and_wait(kms, store_id: str) -> dict:
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    return wait_for(lambda: (s := describe(kms, store_id))["ConnectionState"] in ("CONNECTED", "FAILED") and s, what="connect")


def disconnect_and_wait(kms, store_id: str) -> None:
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    wait_for(lambda: describe(kms, store_id)["ConnectionState"] == "DISCONNECTED", what="disconnect")


def test_create_checks_cluster_existence_state_and_hsms(lab, kms):
    with pytest.raises(ClientError) as excinfo:
        create_store(lab, kms, "cluster-aaaaaaaaaaa")
    assert error_code(excinfo) == "CloudHsmClusterNotFoundException"
    cluster_id, _ = lab.initialized_cluster()
    with pytest.raises(ClientError) as excinfo:
        create_store(lab, kms, cluster_id)
    assert error_code(excinfo) == "CloudHsmClusterNotActiveException"


def test_create_needs_two_active_hsms_in_different_zones(lab, kms):
    cluster_id, _ = lab.active_cluster(hsms=1)
    with pytest.raises(ClientError) as excinfo:
        create_store(lab, kms, cluster_id)
    assert error_code(excinfo) == "CloudHsmClusterInvalidConfigurationException"


def test_create_checks_trust_anchor_name_and_one_store_per_cluster(lab, kms):
    cluster_id, _ = store_ready_cluster(lab, kmsuser=False)
    with pytest.raises(ClientError) as excinfo:
        kms.create_custom_key_store(
            CustomKeyStoreName="s",
            CloudHsmClusterId=cluster_id,
            TrustAnchorCertificate=CustomerCa().pem,
            KeyStorePassword="password1",
        )
    assert error_code(excinfo) == "IncorrectTrustAnchorException"
    store_id = create_store(lab, kms, cluster_id, name="first")
    with pytest.raises(ClientError) as excinfo:
        create_store(lab, kms, cluster_id, name="second")
    assert error_code(excinfo) == "CloudHsmClusterInUseException"
    with pytest.raises(ClientError) as excinfo:
        create_store(lab, kms, cluster_id, name="first")
    assert error_code(excinfo) == "CustomKeyStoreNameInUseException"
    entry = kms.describe_custom_key_stores(CustomKeyStoreName="first")["CustomKeyStores"][0]
    assert entry["CustomKeyStoreId"] == store_id and entry["ConnectionState"] == "DISCONNECTED"
    assert entry["CloudHsmClusterId"] == cluster_id and entry["CustomKeyStoreType"] == "AWS_CLOUDHSM"
    assert entry["CreationDate"].year >= 2024 and "ConnectionErrorCode" not in entry
    with pytest.raises(ClientError) as excinfo:
        kms.describe_custom_key_stores(CustomKeyStoreId="cks-0000000000000000a")
    assert error_code(excinfo) == "CustomKeyStoreNotFoundException"


def test_connect_fails_user_not_found_and_must_disconnect_before_retry(lab, kms):
    cluster_id, ip = store_ready_cluster(lab, kmsuser=False)
    store_id = create_store(lab, kms, cluster_id)
    failed = connect_and_wait(kms, store_id)
    assert (failed["ConnectionState"], failed["ConnectionErrorCode"]) == ("FAILED", "USER_NOT_FOUND")
    with pytest.raises(ClientError) as excinfo:
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(excinfo) == "CustomKeyStoreInvalidStateException"
    disconnect_and_wait(kms, store_id)
    assert "ConnectionErrorCode" not in describe(kms, store_id)
    lab.as_admin(ip, f"cloudhsm-cli user create --username kmsuser --role crypto-user --password {KMSUSER_PASSWORD}")
    assert connect_and_wait(kms, store_id)["ConnectionState"] == "CONNECTED"


def test_kmsuser_missing_on_one_hsm_fails_user_not_found_and_the_cli_lists_partial_coverage(lab, kms, emulator):
    cluster_id, ip = store_ready_cluster(lab)
    store_id = create_store(lab, kms, cluster_id)
    second = lab.cluster(cluster_id)["Hsms"][1]["HsmId"]
    emulator.hsm_user_missing_on(cluster_id, "kmsuser", [second])
    listed = json.loads(lab.run("cloudhsm-cli user list")["StandardOutputContent"])["data"]["users"]
    [kmsuser] = [u for u in listed if u["username"] == "kmsuser"]
    assert kmsuser["cluster-coverage"] == "partial"
    failed = connect_and_wait(kms, store_id)
    assert (failed["ConnectionState"], failed["ConnectionErrorCode"]) == ("FAILED", "USER_NOT_FOUND")
    disconnect_and_wait(kms, store_id)
    emulator.hsm_user_missing_on(cluster_id, "kmsuser", [])
    assert connect_and_wait(kms, store_id)["ConnectionState"] == "CONNECTED"


def test_connect_fails_invalid_credentials(lab, kms):
    cluster_id, _ = store_ready_cluster(lab)
    store_id = create_store(lab, kms, cluster_id, password="not-the-password")
    failed = connect_and_wait(kms, store_id)
    assert (failed["ConnectionState"], failed["ConnectionErrorCode"]) == ("FAILED", "INVALID_CREDENTIALS")


def test_connect_fails_user_logged_in(lab, kms):
    cluster_id, _ = store_ready_cluster(lab)
    store_id = create_store(lab, kms, cluster_id)
    assert (
        lab.run(f"cloudhsm-cli login --username kmsuser --role crypto-user --password {KMSUSER_PASSWORD}")["Status"] == "Success"
    )
    assert connect_and_wait(kms, store_id)["ConnectionErrorCode"] == "USER_LOGGED_IN"
    disconnect_and_wait(kms, store_id)
    assert lab.run("cloudhsm-cli logout")["Status"] == "Success"
    assert connect_and_wait(kms, store_id)["ConnectionState"] == "CONNECTED"


def test_connect_fails_insufficient_hsms(lab, kms):
    cluster_id, _ = store_ready_cluster(lab)
    store_id = create_store(lab, kms, cluster_id)
    for hsm in lab.cluster(cluster_id)["Hsms"]:
        lab.hsm.delete_hsm(ClusterId=cluster_id, HsmId=hsm["HsmId"])
    wait_for(lambda: not lab.cluster(cluster_id)["Hsms"], what="HSMs gone")
    assert connect_and_wait(kms, store_id)["ConnectionErrorCode"] == "INSUFFICIENT_CLOUDHSM_HSMS"


def test_connect_succeeds_and_rotates_kmsuser_password(lab, kms, emulator):
    cluster_id, _ = store_ready_cluster(lab)
    store_id = create_store(lab, kms, cluster_id)
    emulator.configure(time_scale=1000)  # connecting lasts 0.6 s: long enough to observe
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTING"
    assert connect_and_wait(kms, store_id)["ConnectionState"] == "CONNECTED"
    emulator.configure(time_scale=TIME_SCALE)
    old_login = lab.run(f"cloudhsm-cli login --username kmsuser --role crypto-user --password {KMSUSER_PASSWORD}")
    assert old_login["Status"] == "Failed"
    disconnect_and_wait(kms, store_id)
    assert connect_and_wait(kms, store_id)["ConnectionState"] == "CONNECTED"


def test_keys_in_store_and_delete_refused_while_keys_exist(lab, kms, emulator):
    cluster_id, _ = store_ready_cluster(lab)
    store_id = create_store(lab, kms, cluster_id)
    with pytest.raises(ClientError) as excinfo:
        kms.create_key(CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM")
    assert error_code(excinfo) == "CustomKeyStoreInvalidStateException"
    connect_and_wait(kms, store_id)
    with pytest.raises(ClientError) as excinfo:
        kms.create_key(CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    assert error_code(excinfo) == "UnsupportedOperationException"
    key = kms.create_key(CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM")["KeyMetadata"]
    assert (key["Origin"], key["CustomKeyStoreId"], key["CloudHsmClusterId"]) == ("AWS_CLOUDHSM", store_id, cluster_id)
    described = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert described["CustomKeyStoreId"] == store_id and described["CloudHsmClusterId"] == cluster_id
    with pytest.raises(ClientError) as excinfo:
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(excinfo) == "CustomKeyStoreInvalidStateException"
    disconnect_and_wait(kms, store_id)
    emulator.configure(time_scale=1_000_000)  # the 7-day window now lasts 0.6 s
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as excinfo:
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(excinfo) == "CustomKeyStoreHasCMKsException"
    wait_for(lambda: not any(k["KeyId"] == key["KeyId"] for k in kms.list_keys()["Keys"]), what="key purge")
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_custom_key_stores()["CustomKeyStores"] == []


def test_update_store_name_password_and_related_cluster(lab, kms):
    cluster_id, _ = store_ready_cluster(lab)
    store_id = create_store(lab, kms, cluster_id)
    other_id, _ = lab.active_cluster(hsms=2)
    with pytest.raises(ClientError) as excinfo:
        kms.update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=other_id)
    assert error_code(excinfo) == "CloudHsmClusterNotRelatedException"
    kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName="renamed", KeyStorePassword="new-pass-1")
    assert describe(kms, store_id)["CustomKeyStoreName"] == "renamed"
    assert connect_and_wait(kms, store_id)["ConnectionErrorCode"] == "INVALID_CREDENTIALS"
    with pytest.raises(ClientError) as excinfo:
        kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName="again")
    assert error_code(excinfo) == "CustomKeyStoreInvalidStateException"


def test_update_repoints_store_to_cluster_restored_from_backup(lab, kms):
    cluster_id, _ = store_ready_cluster(lab)
    store_id = create_store(lab, kms, cluster_id)
    for hsm in lab.cluster(cluster_id)["Hsms"]:
        lab.hsm.delete_hsm(ClusterId=cluster_id, HsmId=hsm["HsmId"])
    backup = wait_for(lambda: lab.hsm.describe_backups(Filters={"states": ["READY"]})["Backups"], what="backup")[0]
    restored = lab.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=lab.subnets, SourceBackupId=backup["BackupId"])
    restored_id = restored["Cluster"]["ClusterId"]
    lab.wait_cluster(restored_id, "ACTIVE")
    with pytest.raises(ClientError) as excinfo:
        create_store(lab, kms, restored_id, name="twin")
    assert error_code(excinfo) == "CloudHsmClusterInUseException"
    for zone in ("us-east-1a", "us-east-1b"):
        lab.hsm.create_hsm(ClusterId=restored_id, AvailabilityZone=zone)
    lab.wait_hsms_active(restored_id, 2)
    kms.update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=restored_id)
    assert describe(kms, store_id)["CloudHsmClusterId"] == restored_id
    assert connect_and_wait(kms, store_id)["ConnectionState"] == "CONNECTED"
