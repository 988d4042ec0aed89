//! Reading and writing the cluster's secrets: the CSR and certificates.
//! None of them is secret in itself; Secrets Manager is where the seed and
//! its users keep them, and where a user's own PKI puts its answer.

use aws_sdk_secretsmanager::Client;
use handler_core::HandlerError;

/// The text of a secret; an empty or placeholder value is `None`.
pub async fn read(client: &Client, arn: &str, what: &str) -> Result<Option<String>, HandlerError> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "GetSecretValue",
                format!("the {what} secret {arn}"),
                "Check that the secret exists and that the function may read it",
                &e,
            )
        })?;
    Ok(output
        .secret_string()
        .map(str::trim)
        .filter(|v| v.starts_with("-----BEGIN"))
        .map(str::to_owned))
}

/// The text of a secret as it is, trimmed; `None` when it has none.
pub async fn read_text(
    client: &Client,
    arn: &str,
    what: &str,
) -> Result<Option<String>, HandlerError> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "GetSecretValue",
                format!("the {what} secret {arn}"),
                "Check that the secret exists and that the function may read it",
                &e,
            )
        })?;
    Ok(output
        .secret_string()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned))
}

/// Replaces the text of a secret.
pub async fn write(
    client: &Client,
    arn: &str,
    what: &str,
    value: &str,
) -> Result<(), HandlerError> {
    client
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "PutSecretValue",
                format!("the {what} secret {arn}"),
                "Check that the secret exists and that the function may write it",
                &e,
            )
        })?;
    Ok(())
}

/// The tag that ties a retained CA certificate secret to its cluster, so
/// that a cluster restored from that cluster's backups finds it.
pub const CLUSTER_TAG: &str = "cdk-cloudhsm:cluster-id";

/// Tags a secret with the cluster it belongs to.
pub async fn tag_cluster(client: &Client, arn: &str, cluster_id: &str) -> Result<(), HandlerError> {
    let tag = aws_sdk_secretsmanager::types::Tag::builder()
        .key(CLUSTER_TAG)
        .value(cluster_id)
        .build();
    client
        .tag_resource()
        .secret_id(arn)
        .tags(tag)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "TagResource",
                format!("the CA certificate secret {arn}"),
                "Check that the function may tag the secret",
                &e,
            )
        })?;
    Ok(())
}

/// The PEM value of a secret tagged for `cluster_id`, if one exists.
pub async fn find_for_cluster(
    client: &Client,
    cluster_id: &str,
) -> Result<Option<(String, String)>, HandlerError> {
    use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
    let filter = |key, value: &str| Filter::builder().key(key).values(value).build();
    let listed = client
        .list_secrets()
        .filters(filter(FilterNameStringType::TagKey, CLUSTER_TAG))
        .filters(filter(FilterNameStringType::TagValue, cluster_id))
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "ListSecrets",
                format!("the secrets of cluster {cluster_id}"),
                "Check that the function may list secrets",
                &e,
            )
        })?;
    for entry in listed.secret_list() {
        let Some(arn) = entry.arn() else { continue };
        if let Some(value) = read(client, arn, "CA certificate").await? {
            return Ok(Some((arn.to_owned(), value)));
        }
    }
    Ok(None)
}
