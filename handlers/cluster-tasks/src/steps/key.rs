//! Steps of the `Custom::CloudHsmKey` workflow: a symmetric KMS key in a
//! CloudHSM key store, created once the store is CONNECTED, scheduled for
//! deletion when it leaves the stack.

use std::collections::BTreeMap;

use handler_core::HandlerError;
use handler_core::cfn::CfnRequest;
use handler_core::contract::Example;
use serde::{Deserialize, Deserializer, Serialize};

use super::keystore::{DESTROY, RETAIN};
use super::{Ctx, Done, Step};
use crate::aws::kms::{self, NewKey};

/// The custom resource type of a key in a key store.
pub const KEY_RESOURCE_TYPE: &str = "Custom::CloudHsmKey";

/// The tag that ties a key to the CloudFormation request that made it, so
/// that a step run again finds the key instead of making a second one.
pub const KEY_REQUEST_TAG: &str = "cdk-cloudhsm:request-id";

/// The `Custom::CloudHsmKey` properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyProps {
    /// The key store, `cks-...`.
    pub custom_key_store_id: String,
    /// The key's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The key policy, JSON.
    pub policy: String,
    /// 7 to 30.
    #[serde(deserialize_with = "number")]
    pub pending_window_days: i32,
    /// `RETAIN` or `DESTROY`.
    pub removal_policy: String,
    /// The key's tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// A number CloudFormation sends as a string.
fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i32),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
    }
}

impl Example for KeyProps {
    const OPTIONAL: &'static [&'static str] = &["Description", "Tags"];

    fn example() -> Self {
        Self {
            custom_key_store_id: "cks-1234567890abcdef0".into(),
            description: Some("the app's key".into()),
            policy: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            pending_window_days: 30,
            removal_policy: RETAIN.into(),
            tags: Some(BTreeMap::from([("team".into(), "payments".into())])),
        }
    }
}

impl KeyProps {
    /// Reads and checks the properties of `request`.
    pub fn parse(request: &CfnRequest) -> Result<Self, HandlerError> {
        let resource = request.display_name();
        let invalid = |reason: String| HandlerError::InvalidProperties {
            resource: resource.clone(),
            reason,
        };
        let props = Self::deserialize(serde_json::Value::Object(
            request.resource_properties.clone(),
        ))
        .map_err(|e| invalid(format!("{e}. Synthesize the stack again with cdk-cloudhsm")))?;
        if !(7..=30).contains(&props.pending_window_days) {
            return Err(invalid(format!(
                "PendingWindowDays is {}: KMS waits 7 to 30 days before deleting a key",
                props.pending_window_days
            )));
        }
        if props.removal_policy != RETAIN && props.removal_policy != DESTROY {
            return Err(invalid(format!(
                "RemovalPolicy is '{}': use RETAIN or DESTROY",
                props.removal_policy
            )));
        }
        Ok(props)
    }
}

/// The key, as the resource's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyCreated {
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub key_arn: String,
}

impl Example for KeyCreated {
    fn example() -> Self {
        Self {
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            key_arn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
        }
    }
}

/// Creates the key in the (CONNECTED) key store with its policy,
/// description and tags, or finds the one an earlier run made.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateKey {
    /// The CloudFormation request.
    pub request: CfnRequest,
}

impl Example for CreateKey {
    fn example() -> Self {
        Self {
            request: example_request(),
        }
    }
}

impl Step for CreateKey {
    type Output = KeyCreated;
    const STARTS: Option<&'static str> = Some("creating the KMS key");

    async fn run(self, ctx: &Ctx) -> Result<KeyCreated, HandlerError> {
        let props = KeyProps::parse(&self.request)?;
        let client = &ctx.clients.kms;
        let request_id = &self.request.request_id;
        if let Some((key_id, key_arn)) = kms::find_tagged_key(
            client,
            &props.custom_key_store_id,
            KEY_REQUEST_TAG,
            request_id,
        )
        .await?
        {
            tracing::info!(key_id, "the key exists already: an earlier run made it");
            return Ok(KeyCreated { key_id, key_arn });
        }
        let mut tags: Vec<_> = props.tags.clone().unwrap_or_default().into_iter().collect();
        tags.push((KEY_REQUEST_TAG.to_owned(), request_id.clone()));
        let (key_id, key_arn) = kms::create_key(
            client,
            &NewKey {
                store_id: props.custom_key_store_id,
                description: props.description,
                policy: Some(props.policy),
                tags,
            },
        )
        .await?;
        Ok(KeyCreated { key_id, key_arn })
    }
}

/// Applies a changed description or policy to the key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateKey {
    /// The CloudFormation request.
    pub request: CfnRequest,
}

impl Example for UpdateKey {
    fn example() -> Self {
        Self {
            request: example_request(),
        }
    }
}

impl Step for UpdateKey {
    type Output = Done;
    const STARTS: Option<&'static str> = Some("updating the KMS key");

    async fn run(self, ctx: &Ctx) -> Result<Done, HandlerError> {
        let new = KeyProps::parse(&self.request)?;
        let old = self
            .request
            .old_resource_properties
            .clone()
            .and_then(|old| KeyProps::deserialize(serde_json::Value::Object(old)).ok());
        let key_id = self
            .request
            .physical_resource_id
            .clone()
            .unwrap_or_default();
        if let Some(old) = old
            .as_ref()
            .filter(|o| o.custom_key_store_id != new.custom_key_store_id)
        {
            return Err(HandlerError::InvalidProperties {
                resource: self.request.display_name(),
                reason: format!(
                    "a key cannot move from key store {} to another: give the CloudHsmKey a new construct id to \
                     make a new key",
                    old.custom_key_store_id
                ),
            });
        }
        let description = new.description.as_deref().filter(|d| {
            old.as_ref()
                .is_none_or(|o| o.description.as_deref() != Some(d))
        });
        let policy =
            Some(new.policy.as_str()).filter(|p| old.as_ref().is_none_or(|o| o.policy != *p));
        kms::update_key(&ctx.clients.kms, &key_id, description, policy).await?;
        let (set, remove) = tag_changes(
            old.as_ref().and_then(|o| o.tags.as_ref()),
            new.tags.as_ref(),
        );
        kms::update_key_tags(&ctx.clients.kms, &key_id, &set, &remove).await?;
        Ok(Done {})
    }
}

/// The tags to set (added or changed) and the tag keys to remove, from the
/// old tags to the new ones.
fn tag_changes(
    old: Option<&BTreeMap<String, String>>,
    new: Option<&BTreeMap<String, String>>,
) -> (Vec<(String, String)>, Vec<String>) {
    let empty = BTreeMap::new();
    let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    let set = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

/// Schedules the key's deletion under `RemovalPolicy` `DESTROY` (after
/// `PendingWindowDays`); never blocks the stack's deletion.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ScheduleKeyDeletion {
    /// The CloudFormation request.
    pub request: CfnRequest,
}

impl Example for ScheduleKeyDeletion {
    fn example() -> Self {
        Self {
            request: example_request(),
        }
    }
}

impl Step for ScheduleKeyDeletion {
    type Output = Done;
    const STARTS: Option<&'static str> = Some("scheduling the KMS key's deletion");

    async fn run(self, ctx: &Ctx) -> Result<Done, HandlerError> {
        let props = KeyProps::parse(&self.request)?;
        let key_id = self
            .request
            .physical_resource_id
            .clone()
            .unwrap_or_default();
        if props.removal_policy == DESTROY {
            kms::schedule_deletion(&ctx.clients.kms, &key_id, props.pending_window_days).await?;
        } else {
            tracing::info!(key_id, "the key is kept (removal policy RETAIN)");
        }
        Ok(Done {})
    }
}

fn example_request() -> CfnRequest {
    let serde_json::Value::Object(properties) = crate::props::stringified(KeyProps::example_json())
    else {
        unreachable!("properties are an object")
    };
    CfnRequest {
        resource_type: KEY_RESOURCE_TYPE.to_owned(),
        resource_properties: properties.clone(),
        old_resource_properties: Some(properties),
        ..CfnRequest::example()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_on_a_pending_window_kms_refuses() {
        let mut request = example_request();
        request
            .resource_properties
            .insert("PendingWindowDays".into(), "3".into());
        let err = KeyProps::parse(&request).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("PendingWindowDays is 3: KMS waits 7 to 30 days before deleting a key"),
            "{err}"
        );
    }

    #[test]
    fn an_update_sets_added_and_changed_tags_and_removes_dropped_ones() {
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let old = tags(&[("team", "payments"), ("cost", "a"), ("gone", "x")]);
        let new = tags(&[("team", "payments"), ("cost", "b"), ("added", "y")]);
        let (set, remove) = tag_changes(Some(&old), Some(&new));
        assert_eq!(
            set,
            vec![("added".into(), "y".into()), ("cost".into(), "b".into())]
        );
        assert_eq!(remove, vec!["gone".to_owned()]);
        assert_eq!(tag_changes(None, None), (vec![], vec![]));
    }

    #[test]
    fn reads_numbers_as_cloudformation_sends_them() {
        let props = KeyProps::parse(&example_request()).unwrap();
        assert_eq!(props.pending_window_days, 30);
    }
}
