//! Steps of the `Custom::CloudHsmKeyStore` workflow: kmsuser on the
//! cluster, the KMS key store on it, connecting, re-pointing and deleting.
//! The kmsuser password is read here and on the management client from its
//! secret; it never passes through a payload.

use std::collections::HashMap;

use handler_core::HandlerError;
use handler_core::cfn::CfnRequest;
use handler_core::contract::Example;
use serde::{Deserialize, Serialize};

use super::{Ctx, Step};
use crate::aws::kms::{self, StoreUpdate};
use crate::aws::secrets;
use crate::aws::ssm::{self, CommandProgress};

/// The custom resource type of a key store.
pub const KEY_STORE_RESOURCE_TYPE: &str = "Custom::CloudHsmKeyStore";

/// What happens to the key store when it leaves the stack.
pub const RETAIN: &str = "RETAIN";
/// See [`RETAIN`].
pub const DESTROY: &str = "DESTROY";

/// The `Custom::CloudHsmKeyStore` properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyStoreProps {
    /// The cluster the key store is on.
    pub cluster_id: String,
    /// The key store's name, unique in the account and region.
    pub key_store_name: String,
    /// The secret holding kmsuser's password.
    pub kms_user_password_secret_arn: String,
    /// The secret holding the cluster's trust anchor (CA certificate).
    pub trust_anchor_secret_arn: String,
    /// The secret holding the cluster admin's password, read on the client.
    /// With the next two, absent for an imported cluster whose kmsuser
    /// exists already (its password in the kmsuser password secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_secret_arn: Option<String>,
    /// The management client that runs `cloudhsm-cli`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_instance_id: Option<String>,
    /// The SSM document that creates kmsuser on the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_user_document: Option<String>,
    /// `RETAIN` or `DESTROY`.
    pub removal_policy: String,
}

impl Example for KeyStoreProps {
    const OPTIONAL: &'static [&'static str] = &[
        "AdminPasswordSecretArn",
        "ClientInstanceId",
        "KmsUserDocument",
    ];

    fn example() -> Self {
        let secret = |name: &str| {
            format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf")
        };
        Self {
            cluster_id: "cluster-abcdefghijk".into(),
            key_store_name: "app-keystore-0a1b2c3d".into(),
            kms_user_password_secret_arn: secret("kmsuser"),
            trust_anchor_secret_arn: secret("ca"),
            admin_password_secret_arn: Some(secret("admin")),
            client_instance_id: Some("i-0123456789abcdef0".into()),
            kms_user_document: Some("KmsUser-Doc".into()),
            removal_policy: RETAIN.into(),
        }
    }
}

impl KeyStoreProps {
    /// Reads and checks the properties of `request`.
    pub fn parse(request: &CfnRequest) -> Result<Self, HandlerError> {
        Self::read(&request.resource_properties, request)
    }

    /// The previous properties of an update.
    pub fn parse_old(request: &CfnRequest) -> Result<Option<Self>, HandlerError> {
        request
            .old_resource_properties
            .as_ref()
            .map(|old| Self::read(old, request))
            .transpose()
    }

    fn read(
        properties: &serde_json::Map<String, serde_json::Value>,
        request: &CfnRequest,
    ) -> Result<Self, HandlerError> {
        let resource = request.display_name();
        let props =
            Self::deserialize(serde_json::Value::Object(properties.clone())).map_err(|e| {
                HandlerError::InvalidProperties {
                    resource: resource.clone(),
                    reason: format!("{e}. Synthesize the stack again with cdk-cloudhsm"),
                }
            })?;
        let client = [
            &props.admin_password_secret_arn,
            &props.client_instance_id,
            &props.kms_user_document,
        ];
        if client.iter().any(|v| v.is_some()) && client.iter().any(|v| v.is_none()) {
            return Err(HandlerError::InvalidProperties {
                resource,
                reason: "AdminPasswordSecretArn, ClientInstanceId and KmsUserDocument come together or not at \
                         all. Synthesize the stack again with cdk-cloudhsm"
                    .into(),
            });
        }
        if props.removal_policy != RETAIN && props.removal_policy != DESTROY {
            return Err(HandlerError::InvalidProperties {
                resource,
                reason: format!(
                    "RemovalPolicy is '{}': use RETAIN or DESTROY",
                    props.removal_policy
                ),
            });
        }
        Ok(props)
    }
}

/// kmsuser's password, from its secret; an empty secret is refused.
async fn kms_user_password(ctx: &Ctx, arn: &str) -> Result<String, HandlerError> {
    secrets::read_text(&ctx.clients.secrets, arn, "kmsuser password")
        .await?
        .ok_or_else(|| {
            HandlerError::PreconditionFailed(format!(
                "the kmsuser password secret {arn} is empty: put kmsuser's password into it"
            ))
        })
}

/// KMS takes a kmsuser password of 7 to 32 characters (`KeyStorePassword`);
/// the length is told, never the password.
fn check_kms_password(password: &str, arn: &str) -> Result<(), HandlerError> {
    let length = password.chars().count();
    if (7..=32).contains(&length) {
        return Ok(());
    }
    Err(HandlerError::PreconditionFailed(format!(
        "the kmsuser password in secret {arn} is {length} characters long, and KMS takes 7 to 32 \
         (KeyStorePassword): put kmsuser's password into the secret, then deploy again. The key store was not \
         changed"
    )))
}

/// The kmsuser password an update gives KMS: the new secret's, checked,
/// when the secret changed. A previous secret whose password KMS would
/// refuse was never given to KMS (the update that brought it stopped at
/// that check, and this is its rollback): the store still holds what it
/// had, which KMS rotated when it connected, so nothing is given.
async fn password_to_give(
    ctx: &Ctx,
    old: &KeyStoreProps,
    new: &KeyStoreProps,
) -> Result<Option<String>, HandlerError> {
    let (old_arn, arn) = (
        &old.kms_user_password_secret_arn,
        &new.kms_user_password_secret_arn,
    );
    if old_arn == arn {
        return Ok(None);
    }
    // The previous secret first: a rollback may run before the function's
    // policy lets it read the new one (the store's own) again.
    let never_given = match secrets::read_text(
        &ctx.clients.secrets,
        old_arn,
        "previous kmsuser password",
    )
    .await
    {
        Ok(Some(previous)) => check_kms_password(&previous, old_arn).is_err(),
        Ok(None) => true,
        // Unreadable (the policy grants the new secret only): it may have been given.
        Err(_) => false,
    };
    if never_given {
        tracing::info!(
            old_arn,
            "the previous kmsuser password secret was never given to KMS: the key store keeps its password"
        );
        return Ok(None);
    }
    let password = kms_user_password(ctx, arn).await?;
    check_kms_password(&password, arn)?;
    Ok(Some(password))
}

/// Makes sure the crypto user `kmsuser` exists on every HSM of the cluster
/// with the password of the key store's secret, on the management client:
/// creates it when missing, reuses it when the stored password works, and
/// with `ResetPassword` sets its password to the secret's value as admin.
/// The first call sends the command, later calls report its progress.
/// Without a management client (an imported cluster whose kmsuser exists)
/// it is ready at once: KMS checks the password when it connects.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EnsureKmsUser {
    /// The CloudFormation request.
    pub request: CfnRequest,
    /// Whether to set kmsuser's password to the secret's value.
    pub reset_password: bool,
    /// Empty until the command is sent.
    #[serde(default)]
    pub command_id: String,
}

impl Example for EnsureKmsUser {
    const OPTIONAL: &'static [&'static str] = &["CommandId"];

    fn example() -> Self {
        Self {
            request: example_request(),
            reset_password: false,
            command_id: "0b8a1d2c-3e4f-4a5b-8c6d-7e8f9a0b1c2d".into(),
        }
    }
}

impl Step for EnsureKmsUser {
    type Output = CommandProgress;
    const STARTS: Option<&'static str> = None;

    async fn run(self, ctx: &Ctx) -> Result<CommandProgress, HandlerError> {
        let props = KeyStoreProps::parse(&self.request)?;
        let (Some(instance_id), Some(admin_password), Some(document)) = (
            &props.client_instance_id,
            &props.admin_password_secret_arn,
            &props.kms_user_document,
        ) else {
            tracing::info!(
                "no management client: kmsuser is taken to exist with the password in {}",
                props.kms_user_password_secret_arn
            );
            return Ok(CommandProgress {
                command_id: String::new(),
                ready: true,
            });
        };
        let what = "creating kmsuser";
        let progress = if self.command_id.is_empty() {
            let parameters = HashMap::from([
                ("AdminPasswordSecretArn".to_owned(), admin_password.clone()),
                (
                    "KmsUserPasswordSecretArn".to_owned(),
                    props.kms_user_password_secret_arn.clone(),
                ),
                (
                    "CaCertificateSecretArn".to_owned(),
                    props.trust_anchor_secret_arn.clone(),
                ),
                ("ResetPassword".to_owned(), self.reset_password.to_string()),
            ]);
            ssm::send(&ctx.clients.ssm, instance_id, document, &parameters).await?
        } else {
            ssm::poll(&ctx.clients.ssm, instance_id, &self.command_id, what).await?
        };
        if !progress.ready && ctx.deadline_passed()? {
            // The client is the cluster's: what its template lacks is not known here.
            return Err(ssm::timed_out(
                &progress,
                instance_id,
                what,
                ctx.deadline.minutes,
                "",
            ));
        }
        Ok(progress)
    }
}

/// Creates the key store on the cluster with its trust anchor and kmsuser's
/// password, or finds the one an earlier run of this step made.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateKeyStore {
    /// The CloudFormation request.
    pub request: CfnRequest,
}

/// The new key store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyStoreCreated {
    /// `cks-...`.
    pub custom_key_store_id: String,
}

impl Example for CreateKeyStore {
    fn example() -> Self {
        Self {
            request: example_request(),
        }
    }
}

impl Example for KeyStoreCreated {
    fn example() -> Self {
        Self {
            custom_key_store_id: "cks-1234567890abcdef0".into(),
        }
    }
}

impl Step for CreateKeyStore {
    type Output = KeyStoreCreated;
    const STARTS: Option<&'static str> = Some("creating the key store");

    async fn run(self, ctx: &Ctx) -> Result<KeyStoreCreated, HandlerError> {
        let props = KeyStoreProps::parse(&self.request)?;
        let kms_client = &ctx.clients.kms;
        if let Some(store) = kms::find_by_name(kms_client, &props.key_store_name).await? {
            if store.cluster_id == props.cluster_id {
                tracing::info!(
                    store.id,
                    "the key store exists already: an earlier run made it"
                );
                return Ok(KeyStoreCreated {
                    custom_key_store_id: store.id,
                });
            }
            return Err(HandlerError::PreconditionFailed(format!(
                "a key store named {} exists already, on cluster {}: choose another keyStoreName",
                props.key_store_name, store.cluster_id
            )));
        }
        let anchor = secrets::read(&ctx.clients.secrets, &props.trust_anchor_secret_arn, "CA certificate")
            .await?
            .ok_or_else(|| {
                HandlerError::PreconditionFailed(format!(
                    "the trust anchor secret {} holds no certificate: the cluster was not initialized by this \
                     library; put its CA certificate (PEM) into the secret",
                    props.trust_anchor_secret_arn
                ))
            })?;
        let password = kms_user_password(ctx, &props.kms_user_password_secret_arn).await?;
        let id = kms::create(
            kms_client,
            &props.key_store_name,
            &props.cluster_id,
            &anchor,
            &password,
        )
        .await?;
        Ok(KeyStoreCreated {
            custom_key_store_id: id,
        })
    }
}

/// Where a key store's connection stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyStoreConnection {
    /// Whether the wanted state is reached.
    pub ready: bool,
    /// KMS's `ConnectionState`.
    pub connection_state: String,
}

impl Example for KeyStoreConnection {
    fn example() -> Self {
        Self {
            ready: true,
            connection_state: "CONNECTED".into(),
        }
    }
}

/// Connects the key store and reports its state until it is CONNECTED. A
/// FAILED connection is disconnected and reported with its
/// `ConnectionErrorCode` and what to do about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ConnectKeyStore {
    /// `cks-...`.
    pub custom_key_store_id: String,
}

impl Example for ConnectKeyStore {
    fn example() -> Self {
        Self {
            custom_key_store_id: "cks-1234567890abcdef0".into(),
        }
    }
}

impl Step for ConnectKeyStore {
    type Output = KeyStoreConnection;
    const STARTS: Option<&'static str> = None;

    async fn run(self, ctx: &Ctx) -> Result<KeyStoreConnection, HandlerError> {
        let id = &self.custom_key_store_id;
        let client = &ctx.clients.kms;
        let store = kms::describe(client, id).await?.ok_or_else(|| {
            HandlerError::PreconditionFailed(format!("key store {id} does not exist (any more)"))
        })?;
        let ready = match store.state.as_str() {
            "CONNECTED" => true,
            "DISCONNECTED" => {
                kms::connect(client, id).await?;
                false
            }
            "FAILED" => {
                kms::disconnect(client, id).await?;
                let code = store.error_code.as_deref().unwrap_or("unknown");
                return Err(HandlerError::PreconditionFailed(format!(
                    "key store {id} on cluster {} failed to connect with ConnectionErrorCode {code}: {}. The key \
                     store was disconnected",
                    store.cluster_id,
                    kms::explain_connection_error(code)
                )));
            }
            _ => false,
        };
        if !ready && ctx.deadline_passed()? {
            return Err(HandlerError::PreconditionFailed(format!(
                "key store {id} is still {} at the operation's deadline ({} minutes after its workflow started). \
                 Look at it in the KMS console; disconnect it before deploying again",
                store.state, ctx.deadline.minutes
            )));
        }
        Ok(KeyStoreConnection {
            ready,
            connection_state: store.state,
        })
    }
}

/// Disconnects the key store and reports its state until it is
/// DISCONNECTED. A key store that does not exist is ready.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DisconnectKeyStore {
    /// `cks-...`.
    pub custom_key_store_id: String,
}

impl Example for DisconnectKeyStore {
    fn example() -> Self {
        Self {
            custom_key_store_id: "cks-1234567890abcdef0".into(),
        }
    }
}

impl Step for DisconnectKeyStore {
    type Output = KeyStoreConnection;
    const STARTS: Option<&'static str> = None;

    async fn run(self, ctx: &Ctx) -> Result<KeyStoreConnection, HandlerError> {
        let id = &self.custom_key_store_id;
        let client = &ctx.clients.kms;
        let Some(store) = kms::describe(client, id).await? else {
            return Ok(KeyStoreConnection {
                ready: true,
                connection_state: "DELETED".into(),
            });
        };
        let ready = match store.state.as_str() {
            "DISCONNECTED" => true,
            "DISCONNECTING" => false,
            _ => {
                kms::disconnect(client, id).await?;
                false
            }
        };
        if !ready && ctx.deadline_passed()? {
            return Err(HandlerError::PreconditionFailed(format!(
                "key store {id} is still {} at the operation's deadline ({} minutes after its workflow started)",
                store.state, ctx.deadline.minutes
            )));
        }
        Ok(KeyStoreConnection {
            ready,
            connection_state: store.state,
        })
    }
}

/// Decides what an update needs: nothing but a connected store, or a
/// disconnect, an `UpdateCustomKeyStore` and a new connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PlanKeyStoreUpdate {
    /// The CloudFormation request.
    pub request: CfnRequest,
}

/// What an update does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyStorePlan {
    /// Whether the key store must be disconnected and updated.
    pub change: bool,
    /// Whether kmsuser's password must be set from a new secret.
    pub reset_password: bool,
}

impl Example for PlanKeyStoreUpdate {
    fn example() -> Self {
        Self {
            request: example_request(),
        }
    }
}

impl Example for KeyStorePlan {
    fn example() -> Self {
        Self {
            change: true,
            reset_password: false,
        }
    }
}

impl Step for PlanKeyStoreUpdate {
    type Output = KeyStorePlan;
    const STARTS: Option<&'static str> = Some("planning the key store update");

    async fn run(self, ctx: &Ctx) -> Result<KeyStorePlan, HandlerError> {
        let new = KeyStoreProps::parse(&self.request)?;
        let Some(old) = KeyStoreProps::parse_old(&self.request)? else {
            return Ok(KeyStorePlan {
                change: false,
                reset_password: false,
            });
        };
        // Checked before the store is disconnected: a password KMS would
        // refuse leaves the store as it was.
        let reset_password = password_to_give(ctx, &old, &new).await?.is_some();
        let change = reset_password
            || old.key_store_name != new.key_store_name
            || old.cluster_id != new.cluster_id;
        Ok(KeyStorePlan {
            change,
            reset_password,
        })
    }
}

/// Renames the (disconnected) key store, moves it to another cluster of the
/// same backup history, or gives KMS kmsuser's new password.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateKeyStore {
    /// The CloudFormation request.
    pub request: CfnRequest,
}

impl Example for UpdateKeyStore {
    fn example() -> Self {
        Self {
            request: example_request(),
        }
    }
}

impl Step for UpdateKeyStore {
    type Output = super::Done;
    const STARTS: Option<&'static str> = Some("updating the key store");

    async fn run(self, ctx: &Ctx) -> Result<super::Done, HandlerError> {
        let new = KeyStoreProps::parse(&self.request)?;
        let old = KeyStoreProps::parse_old(&self.request)?.unwrap_or_else(|| new.clone());
        let id = self
            .request
            .physical_resource_id
            .clone()
            .unwrap_or_default();
        let changed = |a: &String, b: &String| (a != b).then(|| b.clone());
        let password = password_to_give(ctx, &old, &new).await?;
        let update = StoreUpdate {
            name: changed(&old.key_store_name, &new.key_store_name),
            cluster_id: changed(&old.cluster_id, &new.cluster_id),
            password,
        };
        if update != StoreUpdate::default() {
            kms::update(&ctx.clients.kms, &id, &update).await?;
        }
        Ok(super::Done {})
    }
}

/// Deletes the (disconnected) key store under `RemovalPolicy` `DESTROY`
/// when no KMS key is in it; otherwise keeps it and says why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DeleteKeyStore {
    /// The CloudFormation request.
    pub request: CfnRequest,
}

/// What became of the key store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyStoreDeleted {
    /// Whether it was deleted.
    pub deleted: bool,
    /// Why it was kept, or that it was deleted.
    pub reason: String,
}

impl Example for DeleteKeyStore {
    fn example() -> Self {
        Self {
            request: example_request(),
        }
    }
}

impl Example for KeyStoreDeleted {
    fn example() -> Self {
        Self {
            deleted: true,
            reason: "key store cks-1234567890abcdef0 is deleted".into(),
        }
    }
}

impl Step for DeleteKeyStore {
    type Output = KeyStoreDeleted;
    const STARTS: Option<&'static str> = Some("deleting the key store");

    async fn run(self, ctx: &Ctx) -> Result<KeyStoreDeleted, HandlerError> {
        let props = KeyStoreProps::parse(&self.request)?;
        let id = self
            .request
            .physical_resource_id
            .clone()
            .unwrap_or_default();
        let client = &ctx.clients.kms;
        let kept = |reason: String| {
            tracing::warn!(id, reason, "the key store is kept");
            Ok(KeyStoreDeleted {
                deleted: false,
                reason,
            })
        };
        if props.removal_policy != DESTROY {
            return kept(format!(
                "key store {id} is disconnected and kept (removal policy RETAIN)"
            ));
        }
        if kms::describe(client, &id).await?.is_none() {
            return Ok(KeyStoreDeleted {
                deleted: true,
                reason: format!("key store {id} was already deleted"),
            });
        }
        let keys = kms::keys_in_store(client, &id).await?;
        if !keys.is_empty() {
            let shown: Vec<_> = keys.iter().take(5).cloned().collect();
            return kept(format!(
                "key store {id} is disconnected and kept: it holds {} KMS key(s) ({}{}), pending deletion \
                 included. Delete it yourself once they are deleted",
                keys.len(),
                shown.join(", "),
                if keys.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ));
        }
        kms::delete(client, &id).await?;
        Ok(KeyStoreDeleted {
            deleted: true,
            reason: format!("key store {id} is deleted"),
        })
    }
}

fn example_request() -> CfnRequest {
    let serde_json::Value::Object(properties) =
        crate::props::stringified(KeyStoreProps::example_json())
    else {
        unreachable!("properties are an object")
    };
    CfnRequest {
        resource_type: KEY_STORE_RESOURCE_TYPE.to_owned(),
        resource_properties: properties.clone(),
        old_resource_properties: Some(properties),
        ..CfnRequest::example()
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_kms::Client;
    use aws_sdk_kms::operation::describe_custom_key_stores::DescribeCustomKeyStoresOutput;
    use aws_sdk_kms::operation::disconnect_custom_key_store::DisconnectCustomKeyStoreOutput;
    use aws_sdk_kms::types::{
        ConnectionErrorCodeType, ConnectionStateType, CustomKeyStoresListEntry,
    };
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::steps::testing::ctx_with_kms;

    /// Secrets Manager holding the store's own kmsuser password (a valid one)
    /// and, in the secret whose ARN contains `marker`, `value`.
    fn secrets_holding(
        marker: &'static str,
        value: &'static str,
    ) -> aws_sdk_secretsmanager::Client {
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
        let other = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(move |r| r.secret_id().is_some_and(|id| id.contains(marker)))
            .then_output(move || GetSecretValueOutput::builder().secret_string(value).build());
        let own = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|r| r.secret_id().is_some_and(|id| id.contains(":kmsuser-")))
            .then_output(|| {
                GetSecretValueOutput::builder()
                    .secret_string("KmsUserPassword0123456789abcdef")
                    .build()
            });
        aws_smithy_mocks::mock_client!(
            aws_sdk_secretsmanager,
            aws_smithy_mocks::RuleMode::MatchAny,
            [&other, &own]
        )
    }

    fn store(
        state: ConnectionStateType,
        code: Option<ConnectionErrorCodeType>,
    ) -> DescribeCustomKeyStoresOutput {
        DescribeCustomKeyStoresOutput::builder()
            .custom_key_stores(
                CustomKeyStoresListEntry::builder()
                    .custom_key_store_id("cks-1")
                    .cloud_hsm_cluster_id("cluster-abc")
                    .connection_state(state)
                    .set_connection_error_code(code)
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn a_failed_connection_is_disconnected_and_explained() {
        let failed = mock!(Client::describe_custom_key_stores).then_output(|| {
            store(
                ConnectionStateType::Failed,
                Some(ConnectionErrorCodeType::UserNotFound),
            )
        });
        let disconnect = mock!(Client::disconnect_custom_key_store)
            .then_output(|| DisconnectCustomKeyStoreOutput::builder().build());
        let ctx = ctx_with_kms(&[&failed, &disconnect]);
        let step = ConnectKeyStore {
            custom_key_store_id: "cks-1".into(),
        };
        let err = step.run(&ctx).await.unwrap_err();
        assert_eq!(disconnect.num_calls(), 1);
        assert!(
            err.to_string().starts_with(
                "key store cks-1 on cluster cluster-abc failed to connect with ConnectionErrorCode USER_NOT_FOUND: \
                 the crypto user kmsuser is missing on at least one HSM"
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn connecting_is_polled_until_connected() {
        let connecting = mock!(Client::describe_custom_key_stores)
            .then_output(|| store(ConnectionStateType::Connecting, None));
        let ctx = ctx_with_kms(&[&connecting]);
        let step = ConnectKeyStore {
            custom_key_store_id: "cks-1".into(),
        };
        assert!(!step.run(&ctx).await.unwrap().ready);
        let connected = mock!(Client::describe_custom_key_stores)
            .then_output(|| store(ConnectionStateType::Connected, None));
        let ctx = ctx_with_kms(&[&connected]);
        let step = ConnectKeyStore {
            custom_key_store_id: "cks-1".into(),
        };
        assert!(step.run(&ctx).await.unwrap().ready);
    }

    #[tokio::test]
    async fn destroy_keeps_a_store_that_holds_a_key_and_says_why() {
        use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
        use aws_sdk_kms::operation::list_keys::ListKeysOutput;
        use aws_sdk_kms::types::{KeyListEntry, KeyMetadata};
        let described = mock!(Client::describe_custom_key_stores)
            .then_output(|| store(ConnectionStateType::Disconnected, None));
        let listed = mock!(Client::list_keys).then_output(|| {
            ListKeysOutput::builder()
                .keys(KeyListEntry::builder().key_id("k1").build())
                .truncated(false)
                .build()
        });
        let key = mock!(Client::describe_key).then_output(|| {
            DescribeKeyOutput::builder()
                .key_metadata(
                    KeyMetadata::builder()
                        .key_id("k1")
                        .custom_key_store_id("cks-1")
                        .build()
                        .unwrap(),
                )
                .build()
        });
        let deleted = mock!(Client::delete_custom_key_store).then_output(|| {
            aws_sdk_kms::operation::delete_custom_key_store::DeleteCustomKeyStoreOutput::builder().build()
        });
        let ctx = ctx_with_kms(&[&described, &listed, &key, &deleted]);
        let mut step = DeleteKeyStore::example();
        step.request.physical_resource_id = Some("cks-1".into());
        step.request
            .resource_properties
            .insert("RemovalPolicy".into(), DESTROY.into());
        let outcome = step.run(&ctx).await.unwrap();
        assert!(!outcome.deleted);
        assert_eq!(deleted.num_calls(), 0);
        assert!(
            outcome.reason.starts_with(
                "key store cks-1 is disconnected and kept: it holds 1 KMS key(s) (k1)"
            ),
            "{}",
            outcome.reason
        );
    }

    #[tokio::test]
    async fn retain_keeps_the_store_without_a_call() {
        let ctx = ctx_with_kms(&[]);
        let mut step = DeleteKeyStore::example();
        step.request.physical_resource_id = Some("cks-1".into());
        let outcome = step.run(&ctx).await.unwrap();
        assert!(!outcome.deleted);
        assert!(outcome.reason.contains("removal policy RETAIN"));
    }

    #[tokio::test]
    async fn without_a_management_client_kmsuser_is_taken_as_it_exists() {
        let ctx = ctx_with_kms(&[]);
        let mut step = EnsureKmsUser::example();
        step.command_id = String::new();
        for name in [
            "AdminPasswordSecretArn",
            "ClientInstanceId",
            "KmsUserDocument",
        ] {
            step.request.resource_properties.remove(name);
        }
        let progress = step.run(&ctx).await.unwrap();
        assert!(progress.ready && progress.command_id.is_empty());
    }

    #[test]
    fn fails_on_a_management_client_without_its_document() {
        let mut request = example_request();
        request.resource_properties.remove("KmsUserDocument");
        let err = KeyStoreProps::parse(&request).unwrap_err();
        assert!(
            err.to_string().contains(
                "AdminPasswordSecretArn, ClientInstanceId and KmsUserDocument come together"
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn fails_to_plan_a_new_kmsuser_password_kms_would_refuse_before_anything_changes() {
        // No KMS rule: the plan calls nothing of KMS (no disconnect).
        let mut ctx = ctx_with_kms(&[]);
        ctx.clients.secrets = secrets_holding(":other-", "short");
        let mut step = PlanKeyStoreUpdate::example();
        step.request.resource_properties.insert(
            "KmsUserPasswordSecretArn".into(),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf".into(),
        );
        let err = step.run(&ctx).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the kmsuser password in secret arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf is 5 \
             characters long, and KMS takes 7 to 32 (KeyStorePassword): put kmsuser's password into the secret, \
             then deploy again. The key store was not changed"
        );
        assert!(check_kms_password("KmsUserPassword0123456789abcdef", "arn").is_ok());
    }

    #[tokio::test]
    async fn the_rollback_of_an_update_refused_for_its_password_leaves_the_store_as_it_is() {
        let mut ctx = ctx_with_kms(&[]);
        ctx.clients.secrets = secrets_holding(":short-", "short");
        // CloudFormation's rollback: the refused secret is the old one, the store's own the new one.
        let mut step = PlanKeyStoreUpdate::example();
        step.request
            .old_resource_properties
            .as_mut()
            .unwrap()
            .insert(
                "KmsUserPasswordSecretArn".into(),
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:short-AbCdEf".into(),
            );
        let plan = step.clone().run(&ctx).await.unwrap();
        assert!(!plan.change && !plan.reset_password, "{plan:?}");
        // The update itself: the previous password was given to KMS, so the new one is.
        let (old, new) = (
            step.request.resource_properties.clone(),
            step.request.old_resource_properties.clone().unwrap(),
        );
        step.request.resource_properties = new;
        step.request.old_resource_properties = Some(old);
        let err = step.run(&ctx).await.unwrap_err();
        assert!(err.to_string().contains("is 5 characters long"), "{err}");
    }

    #[tokio::test]
    async fn a_plan_changes_the_store_only_when_a_property_of_it_changes() {
        let mut step = PlanKeyStoreUpdate::example();
        let ctx = ctx_with_kms(&[]);
        assert!(!step.clone().run(&ctx).await.unwrap().change);
        step.request
            .resource_properties
            .insert("KeyStoreName".into(), "renamed".into());
        let plan = step.run(&ctx).await.unwrap();
        assert!(plan.change && !plan.reset_password);
    }
}
