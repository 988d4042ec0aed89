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
