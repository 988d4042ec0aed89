//! KMS custom key stores of type `AWS_CLOUDHSM` and the keys in them.

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{ConnectionStateType, CustomKeyStoresListEntry, KeySpec, OriginType, Tag};
use handler_core::HandlerError;

/// A key store as the steps see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStore {
    /// `cks-...`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The cluster it is on.
    pub cluster_id: String,
    /// `CONNECTED`, `CONNECTING`, `DISCONNECTED`, `DISCONNECTING` or `FAILED`.
    pub state: String,
    /// Why the last connection failed, when `state` is `FAILED`.
    pub error_code: Option<String>,
}

impl KeyStore {
    fn from_entry(entry: &CustomKeyStoresListEntry) -> Self {
        Self {
            id: entry.custom_key_store_id().unwrap_or_default().to_owned(),
            name: entry.custom_key_store_name().unwrap_or_default().to_owned(),
            cluster_id: entry.cloud_hsm_cluster_id().unwrap_or_default().to_owned(),
            state: entry
                .connection_state()
                .map_or("DISCONNECTED", ConnectionStateType::as_str)
                .to_owned(),
            error_code: entry.connection_error_code().map(|c| c.as_str().to_owned()),
        }
    }
}

/// The key store `id`, or `None` when it does not exist.
pub async fn describe(client: &Client, id: &str) -> Result<Option<KeyStore>, HandlerError> {
    first_store(
        client.describe_custom_key_stores().custom_key_store_id(id),
        id,
    )
    .await
}

/// The key store named `name`, or `None`.
pub async fn find_by_name(client: &Client, name: &str) -> Result<Option<KeyStore>, HandlerError> {
    first_store(
        client
            .describe_custom_key_stores()
            .custom_key_store_name(name),
        name,
    )
    .await
}

/// Every key store on the cluster `cluster_id`: all of the account's key
/// stores are read, every page, and those on other clusters left out
/// (`DescribeCustomKeyStores` has no cluster filter).
pub async fn stores_on_cluster(
    client: &Client,
    cluster_id: &str,
) -> Result<Vec<KeyStore>, HandlerError> {
    let mut found = Vec::new();
    let mut pages = client.describe_custom_key_stores().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            HandlerError::from_sdk(
                "DescribeCustomKeyStores",
                format!("the key stores on cluster {cluster_id}"),
                "Check that the function may describe key stores (kms:DescribeCustomKeyStores)",
                &e,
            )
        })?;
        found.extend(
            page.custom_key_stores()
                .iter()
                .map(KeyStore::from_entry)
                .filter(|store| store.cluster_id == cluster_id),
        );
    }
    Ok(found)
}

/// The one key store a filtered `DescribeCustomKeyStores` answers, or `None`
/// when KMS says there is none.
async fn first_store(
    request: aws_sdk_kms::operation::describe_custom_key_stores::builders::DescribeCustomKeyStoresFluentBuilder,
    what: &str,
) -> Result<Option<KeyStore>, HandlerError> {
    match request.send().await {
        Ok(output) => Ok(output.custom_key_stores().first().map(KeyStore::from_entry)),
        Err(e)
            if e.as_service_error().is_some_and(
                aws_sdk_kms::operation::describe_custom_key_stores::DescribeCustomKeyStoresError::is_custom_key_store_not_found_exception,
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(HandlerError::from_sdk(
            "DescribeCustomKeyStores",
            format!("key store {what}"),
            "Check that the function may describe key stores",
            &e,
        )),
    }
}

/// Creates the key store; answers its id.
pub async fn create(
    client: &Client,
    name: &str,
    cluster_id: &str,
    trust_anchor: &str,
    password: &str,
) -> Result<String, HandlerError> {
    let output = client
        .create_custom_key_store()
        .custom_key_store_name(name)
        .cloud_hsm_cluster_id(cluster_id)
        .trust_anchor_certificate(trust_anchor)
        .key_store_password(password)
        .send()
        .await
        .map_err(|e| {
            let code = e.as_service_error().and_then(ProvideErrorMetadata::code);
            HandlerError::from_sdk(
                "CreateCustomKeyStore",
                format!("key store {name} on cluster {cluster_id}"),
                create_advice(code),
                &e,
            )
        })?;
    output
        .custom_key_store_id()
        .map(str::to_owned)
        .ok_or_else(|| HandlerError::Internal("CreateCustomKeyStore returned no id".into()))
}

/// What to do about a refused `CreateCustomKeyStore`, by its error code.
#[must_use]
pub fn create_advice(code: Option<&str>) -> &'static str {
    match code.unwrap_or_default() {
        "AccessDeniedException" | "AccessDenied" => {
            "The caller of CreateCustomKeyStore needs kms:CreateCustomKeyStore, cloudhsm:DescribeClusters (KMS \
             reads the cluster as the caller) and, in an account that has no key store service-linked role yet, \
             iam:CreateServiceLinkedRole on \
             arn:aws:iam::<account>:role/aws-service-role/cks.kms.amazonaws.com/AWSServiceRoleForKeyManagementServiceCustomKeyStores \
             with iam:AWSServiceName cks.kms.amazonaws.com (KMS creates that role with the account's first CloudHSM key \
             store). The construct grants these to the key store's tasks function: look for a permissions boundary, a \
             service control policy or an explicit deny that takes one of them away"
        }
        "CustomKeyStoreNameInUseException" => {
            "Key store names are unique in the account and Region: choose another keyStoreName"
        }
        "IncorrectTrustAnchorException" => {
            "The trust anchor secret must hold the PEM certificate of the CA that issued the cluster's certificate \
             (the customerCA.crt the cluster was initialized with)"
        }
        "CloudHsmClusterInUseException" => {
            "A cluster, and every cluster sharing its backup history, can have one key store only: re-point the \
             existing key store to this cluster, or delete it first"
        }
        _ => {
            "KMS needs an ACTIVE cluster with at least two ACTIVE HSMs in different Availability Zones, the \
             cluster's own trust anchor, and no other key store on the cluster or a cluster sharing its backups"
        }
    }
}

/// Starts connecting the key store.
pub async fn connect(client: &Client, id: &str) -> Result<(), HandlerError> {
    client
        .connect_custom_key_store()
        .custom_key_store_id(id)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "ConnectCustomKeyStore",
                format!("key store {id}"),
                "The cluster must be ACTIVE; a key store that FAILED must be disconnected first",
                &e,
            )
        })?;
    Ok(())
}

/// Starts disconnecting the key store.
pub async fn disconnect(client: &Client, id: &str) -> Result<(), HandlerError> {
    client
        .disconnect_custom_key_store()
        .custom_key_store_id(id)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "DisconnectCustomKeyStore",
                format!("key store {id}"),
                "Check the key store in the KMS console",
                &e,
            )
        })?;
    Ok(())
}

/// What an update of a (disconnected) key store changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreUpdate {
    /// A new name.
    pub name: Option<String>,
    /// Another cluster of the same backup history.
    pub cluster_id: Option<String>,
    /// The current kmsuser password.
    pub password: Option<String>,
}

/// Applies `update` to the key store, which must be disconnected.
pub async fn update(client: &Client, id: &str, update: &StoreUpdate) -> Result<(), HandlerError> {
    client
        .update_custom_key_store()
        .custom_key_store_id(id)
        .set_new_custom_key_store_name(update.name.clone())
        .set_cloud_hsm_cluster_id(update.cluster_id.clone())
        .set_key_store_password(update.password.clone())
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "UpdateCustomKeyStore",
                format!("key store {id}"),
                "A key store can move only to a cluster that shares its backup history (restored from a backup of \
                 its cluster) with two ACTIVE HSMs in different Availability Zones, and its name must be unused",
                &e,
            )
        })?;
    Ok(())
}

/// Deletes the key store, which must be disconnected and empty.
pub async fn delete(client: &Client, id: &str) -> Result<(), HandlerError> {
    client
        .delete_custom_key_store()
        .custom_key_store_id(id)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "DeleteCustomKeyStore",
                format!("key store {id}"),
                "Delete the KMS keys of the key store (and wait for their deletion) first",
                &e,
            )
        })?;
    Ok(())
}

/// The ids of every KMS key in the key store, pending deletion included:
/// every key of the account is checked, all pages.
pub async fn keys_in_store(client: &Client, store_id: &str) -> Result<Vec<String>, HandlerError> {
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_keys()
            .set_marker(marker.clone())
            .limit(1000)
            .send()
            .await
            .map_err(|e| {
                HandlerError::from_sdk(
                    "ListKeys",
                    "the account's KMS keys",
                    "Check that the function may list keys",
                    &e,
                )
            })?;
        for entry in page.keys() {
            let Some(key_id) = entry.key_id() else {
                continue;
            };
            let described = match client.describe_key().key_id(key_id).send().await {
                Ok(output) => output,
                // A key deleted between the two calls is not in the store.
                Err(e)
                    if e.as_service_error().is_some_and(
                        aws_sdk_kms::operation::describe_key::DescribeKeyError::is_not_found_exception,
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    return Err(HandlerError::from_sdk(
                        "DescribeKey",
                        format!("KMS key {key_id}"),
                        "Check that the function may describe keys",
                        &e,
                    ));
                }
            };
            let in_store = described
                .key_metadata()
                .and_then(|m| m.custom_key_store_id())
                .is_some_and(|id| id == store_id);
            if in_store {
                found.push(key_id.to_owned());
            }
        }
        if page.truncated() {
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                break;
            }
        } else {
            break;
        }
    }
    Ok(found)
}

/// What a new key in a key store is made with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewKey {
    /// The key store.
    pub store_id: String,
    /// The key's description.
    pub description: Option<String>,
    /// The key policy, JSON.
    pub policy: Option<String>,
    /// Tags, key and value.
    pub tags: Vec<(String, String)>,
}

/// Creates a symmetric key in the key store; answers its id and ARN.
pub async fn create_key(client: &Client, key: &NewKey) -> Result<(String, String), HandlerError> {
    let tags = key
        .tags
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(|e| HandlerError::Internal(format!("tag {k}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let output = client
        .create_key()
        .custom_key_store_id(&key.store_id)
        .origin(OriginType::AwsCloudhsm)
        .key_spec(KeySpec::SymmetricDefault)
        .set_description(key.description.clone())
        .set_policy(key.policy.clone())
        .set_tags(Some(tags).filter(|t| !t.is_empty()))
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "CreateKey",
                format!("a key in key store {}", key.store_id),
                "The key store must be CONNECTED and its cluster must have two ACTIVE HSMs in different \
                 Availability Zones; the key policy must let this account's IAM policies manage the key",
                &e,
            )
        })?;
    let metadata = output
        .key_metadata()
        .ok_or_else(|| HandlerError::Internal("CreateKey returned no key".into()))?;
    Ok((
        metadata.key_id().to_owned(),
        metadata.arn().unwrap_or_default().to_owned(),
    ))
}

/// The key id of the first key tagged `tag_key` = `tag_value` in the store.
pub async fn find_tagged_key(
    client: &Client,
    store_id: &str,
    tag_key: &str,
    tag_value: &str,
) -> Result<Option<(String, String)>, HandlerError> {
    for key_id in keys_in_store(client, store_id).await? {
        let tags = client
            .list_resource_tags()
            .key_id(&key_id)
            .send()
            .await
            .map_err(|e| {
                HandlerError::from_sdk(
                    "ListResourceTags",
                    format!("KMS key {key_id}"),
                    "Check that the function may list the key's tags",
                    &e,
                )
            })?;
        let tagged = tags
            .tags()
            .iter()
            .any(|t| t.tag_key() == tag_key && t.tag_value() == tag_value);
        if tagged {
            let described = client
                .describe_key()
                .key_id(&key_id)
                .send()
                .await
                .map_err(|e| {
                    HandlerError::from_sdk(
                        "DescribeKey",
                        format!("KMS key {key_id}"),
                        "Check the key",
                        &e,
                    )
                })?;
            let arn = described
                .key_metadata()
                .and_then(|m| m.arn())
                .unwrap_or_default()
                .to_owned();
            return Ok(Some((key_id, arn)));
        }
    }
    Ok(None)
}

/// Changes a key's description and policy.
pub async fn update_key(
    client: &Client,
    key_id: &str,
    description: Option<&str>,
    policy: Option<&str>,
) -> Result<(), HandlerError> {
    if let Some(description) = description {
        client
            .update_key_description()
            .key_id(key_id)
            .description(description)
            .send()
            .await
            .map_err(|e| {
                HandlerError::from_sdk(
                    "UpdateKeyDescription",
                    format!("KMS key {key_id}"),
                    "Check the key",
                    &e,
                )
            })?;
    }
    if let Some(policy) = policy {
        client
            .put_key_policy()
            .key_id(key_id)
            .policy_name("default")
            .policy(policy)
            .send()
            .await
            .map_err(|e| {
                HandlerError::from_sdk(
                    "PutKeyPolicy",
                    format!("KMS key {key_id}"),
                    "The key policy must let this account's IAM policies manage the key",
                    &e,
                )
            })?;
    }
    Ok(())
}

/// Sets the `set` tags of a key (added or changed) and removes the
/// `remove` tag keys; makes no call for an empty list.
pub async fn update_key_tags(
    client: &Client,
    key_id: &str,
    set: &[(String, String)],
    remove: &[String],
) -> Result<(), HandlerError> {
    if !set.is_empty() {
        let tags = set
            .iter()
            .map(|(k, v)| {
                Tag::builder()
                    .tag_key(k)
                    .tag_value(v)
                    .build()
                    .map_err(|e| HandlerError::Internal(format!("tag {k}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        client
            .tag_resource()
            .key_id(key_id)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| {
                HandlerError::from_sdk(
                    "TagResource",
                    format!("KMS key {key_id}"),
                    "Check the tags: KMS allows 50 per key, keys of 1 to 128 characters, values up to 256",
                    &e,
                )
            })?;
    }
    if !remove.is_empty() {
        client
            .untag_resource()
            .key_id(key_id)
            .set_tag_keys(Some(remove.to_vec()))
            .send()
            .await
            .map_err(|e| {
                HandlerError::from_sdk(
                    "UntagResource",
                    format!("KMS key {key_id}"),
                    "Check that the function may untag the key",
                    &e,
                )
            })?;
    }
    Ok(())
}

/// Schedules the key's deletion; a key that is gone or already pending
/// deletion is left as it is.
pub async fn schedule_deletion(
    client: &Client,
    key_id: &str,
    days: i32,
) -> Result<(), HandlerError> {
    match client
        .schedule_key_deletion()
        .key_id(key_id)
        .pending_window_in_days(days)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_not_found_exception() || s.is_kms_invalid_state_exception()
            }) =>
        {
            tracing::info!(key_id, "the key is gone or already pending deletion");
            Ok(())
        }
        Err(e) => Err(HandlerError::from_sdk(
            "ScheduleKeyDeletion",
            format!("KMS key {key_id}"),
            "Check that the function may schedule the key's deletion",
            &e,
        )),
    }
}

/// What a `ConnectionErrorCode` means and what to do about it.
#[must_use]
pub fn explain_connection_error(code: &str) -> &'static str {
    match code {
        "USER_NOT_FOUND" => {
            "the crypto user kmsuser is missing on at least one HSM of the cluster. Create it (cloudhsm-cli user \
             create --username kmsuser --role crypto-user) so that it exists on every HSM, then deploy again"
        }
        "INVALID_CREDENTIALS" => {
            "the kmsuser password KMS holds does not work on the HSMs. Set kmsuser's password on the cluster to the \
             value of the key store's kmsuser password secret (cloudhsm-cli user change-password), then deploy again"
        }
        "USER_LOGGED_IN" => {
            "kmsuser is logged in to an HSM, so KMS cannot rotate its password. Log it out (or restart the client \
             that logged it in), then deploy again"
        }
        "USER_LOCKED_OUT" => {
            "kmsuser is locked out of the HSMs. Reset its password as an admin with cloudhsm-cli user \
             change-password and put the new value into the kmsuser password secret, then deploy again"
        }
        "INSUFFICIENT_CLOUDHSM_HSMS" => {
            "the cluster has no ACTIVE HSM KMS can use. KMS needs at least two ACTIVE HSMs in different \
             Availability Zones: set hsmsPerSubnet to 1 or more on a cluster with two subnets in different zones"
        }
        "INSUFFICIENT_FREE_SPACE" => {
            "an HSM of the cluster has no room for the keys KMS makes. Delete unused keys on the HSMs or add HSMs"
        }
        "NETWORK_ERRORS" => {
            "KMS could not reach the HSMs. Check that the cluster's security group keeps its self-referencing \
             rules on ports 2223-2225 and that the HSMs' subnets route inside the VPC"
        }
        "SUBNET_NOT_FOUND" => {
            "a subnet of the cluster was deleted. Recreate the cluster's subnets or move the key store to a \
             cluster restored from a backup"
        }
        "CLUSTER_NOT_FOUND" => {
            "KMS cannot find the cluster. Restore it from a backup and re-point the key store to the new cluster"
        }
        "INTERNAL_ERROR" => "KMS had an internal error. Deploy again",
        _ => "see ConnectionErrorCode in the KMS documentation (custom key store troubleshooting)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
    use aws_sdk_kms::operation::list_keys::ListKeysOutput;
    use aws_sdk_kms::types::{KeyListEntry, KeyMetadata};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[tokio::test]
    async fn keys_in_store_reads_every_page_and_every_key() {
        let first = mock!(Client::list_keys)
            .match_requests(|r| r.marker().is_none())
            .then_output(|| {
                ListKeysOutput::builder()
                    .keys(KeyListEntry::builder().key_id("k1").build())
                    .keys(KeyListEntry::builder().key_id("k2").build())
                    .truncated(true)
                    .next_marker("page-2")
                    .build()
            });
        let second = mock!(Client::list_keys)
            .match_requests(|r| r.marker() == Some("page-2"))
            .then_output(|| {
                ListKeysOutput::builder()
                    .keys(KeyListEntry::builder().key_id("k3").build())
                    .truncated(false)
                    .build()
            });
        let describe = |id: &'static str, store: Option<&'static str>| {
            mock!(Client::describe_key)
                .match_requests(move |r| r.key_id() == Some(id))
                .then_output(move || {
                    DescribeKeyOutput::builder()
                        .key_metadata(
                            KeyMetadata::builder()
                                .key_id(id)
                                .set_custom_key_store_id(store.map(str::to_owned))
                                .build()
                                .unwrap(),
                        )
                        .build()
                })
        };
        let (k1, k2, k3) = (
            describe("k1", Some("cks-1")),
            describe("k2", None),
            describe("k3", Some("cks-1")),
        );
        let client = mock_client!(
            aws_sdk_kms,
            RuleMode::MatchAny,
            [&first, &second, &k1, &k2, &k3]
        );
        assert_eq!(
            keys_in_store(&client, "cks-1").await.unwrap(),
            vec!["k1", "k3"]
        );
    }

    #[tokio::test]
    async fn a_denied_create_names_what_aws_requires_of_the_caller() {
        use aws_sdk_kms::error::ErrorMetadata;
        use aws_sdk_kms::operation::create_custom_key_store::CreateCustomKeyStoreError;
        use aws_sdk_kms::types::error::CloudHsmClusterInvalidConfigurationException;
        let denied = mock!(Client::create_custom_key_store).then_error(|| {
            CreateCustomKeyStoreError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User: arn:aws:sts::123456789012:assumed-role/tasks is not authorized to perform kms:CreateCustomKeyStore")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&denied]);
        let err = create(&client, "store", "cluster-abc", "PEM", "password")
            .await
            .unwrap_err()
            .to_string();
        for needed in [
            "kms:CreateCustomKeyStore",
            "cloudhsm:DescribeClusters (KMS reads the cluster as the caller)",
            "iam:CreateServiceLinkedRole on arn:aws:iam::<account>:role/aws-service-role/cks.kms.amazonaws.com/\
             AWSServiceRoleForKeyManagementServiceCustomKeyStores with iam:AWSServiceName cks.kms.amazonaws.com",
            "look for a permissions boundary, a service control policy or an explicit deny",
        ] {
            assert!(err.contains(needed), "{needed} in: {err}");
        }
        assert!(!err.contains("two ACTIVE HSMs"), "{err}");

        let two_zones = mock!(Client::create_custom_key_store).then_error(|| {
            CreateCustomKeyStoreError::CloudHsmClusterInvalidConfigurationException(
                CloudHsmClusterInvalidConfigurationException::builder()
                    .message("needs two HSMs")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&two_zones]);
        let err = create(&client, "store", "cluster-abc", "PEM", "password")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at least two ACTIVE HSMs in different Availability Zones"),
            "{err}"
        );
    }

    #[test]
    fn every_documented_connection_error_has_advice() {
        for code in [
            "USER_NOT_FOUND",
            "INVALID_CREDENTIALS",
            "USER_LOGGED_IN",
            "USER_LOCKED_OUT",
            "INSUFFICIENT_CLOUDHSM_HSMS",
            "INSUFFICIENT_FREE_SPACE",
            "NETWORK_ERRORS",
            "SUBNET_NOT_FOUND",
            "CLUSTER_NOT_FOUND",
            "INTERNAL_ERROR",
        ] {
            assert!(
                !explain_connection_error(code).starts_with("see "),
                "{code}"
            );
        }
    }
}
