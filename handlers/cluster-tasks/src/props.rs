//! The custom resources' properties, as CloudFormation delivers them:
//! every scalar arrives as a string, so numbers are read from strings or
//! numbers alike. CloudFormation adds `ServiceToken`, so unknown fields
//! are allowed here (and only here).

use handler_core::HandlerError;
use handler_core::cfn::CfnRequest;
use handler_core::contract::Example;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Who issues the cluster certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PkiKind {
    /// A throwaway CA made here; its key is never stored.
    EphemeralCa,
    /// A new AWS Private CA, made by the construct.
    PrivateCa,
    /// An existing AWS Private CA.
    CertificateAuthority,
    /// The user's own PKI.
    External,
}

impl PkiKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [
        Self::EphemeralCa,
        Self::PrivateCa,
        Self::CertificateAuthority,
        Self::External,
    ];
}

/// The `Pki` property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pki {
    /// Which kind.
    pub kind: PkiKind,
    /// The AWS Private CA, for `PRIVATE_CA` and `CERTIFICATE_AUTHORITY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_arn: Option<String>,
    /// For `EXTERNAL`: the user has put the cluster certificate and the CA
    /// certificate into their secrets, so an update initializes the cluster.
    #[serde(default, deserialize_with = "flag")]
    pub certificates_ready: bool,
}

/// The cluster's properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterProps {
    /// One subnet per Availability Zone.
    pub subnet_ids: Vec<String>,
    /// HSMs wanted in each subnet.
    #[serde(deserialize_with = "number")]
    pub hsms_per_subnet: u32,
    /// Such as `hsm2m.medium`.
    pub hsm_type: String,
    /// `FIPS` or `NON_FIPS`.
    pub mode: String,
    /// `IPV4` or `DUALSTACK`.
    pub network_type: String,
    /// Backup retention in days.
    #[serde(deserialize_with = "number")]
    pub backup_retention_days: u32,
    /// Restore from this backup instead of creating an empty cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_backup_id: Option<String>,
    /// Who issues the cluster certificate.
    pub pki: Pki,
}

/// The `Custom::CloudHsmHsms` properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HsmsProps {
    /// The cluster.
    pub cluster_id: String,
    /// One subnet per Availability Zone.
    pub subnet_ids: Vec<String>,
    /// HSMs wanted in each subnet.
    #[serde(deserialize_with = "number")]
    pub hsms_per_subnet: u32,
    /// The cluster's state as the cluster resource last answered: when it
    /// changes (an external PKI's cluster becomes ACTIVE), CloudFormation
    /// updates the HSMs, which can then be added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_state: Option<String>,
    /// The management client's instance: when CloudFormation replaces it (a
    /// new machine image or subnet), CloudFormation updates the HSMs, whose
    /// workflow configures the new instance for the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_instance_id: Option<String>,
}

/// Reads properties, with the sentence CloudFormation shows when they are
/// not what this version of the handlers reads.
fn read<T: DeserializeOwned>(
    properties: &Map<String, Value>,
    resource: &str,
) -> Result<T, HandlerError> {
    T::deserialize(Value::Object(properties.clone())).map_err(|e| HandlerError::InvalidProperties {
        resource: resource.to_owned(),
        reason: format!("{e}. Synthesize the stack again with cdk-cloudhsm"),
    })
}

impl HsmsProps {
    /// Reads the properties of the resource `resource`.
    pub fn parse(properties: &Map<String, Value>, resource: &str) -> Result<Self, HandlerError> {
        read(properties, resource)
    }
}

impl Example for HsmsProps {
    const OPTIONAL: &'static [&'static str] = &["ClusterState", "ClientInstanceId"];

    fn example() -> Self {
        Self {
            cluster_id: "cluster-abcdefghijk".into(),
            subnet_ids: vec![
                "subnet-0123456789abcdef0".into(),
                "subnet-0123456789abcdef1".into(),
            ],
            hsms_per_subnet: 1,
            cluster_state: Some("ACTIVE".into()),
            client_instance_id: Some("i-0123456789abcdef0".into()),
        }
    }
}

impl Example for Pki {
    const OPTIONAL: &'static [&'static str] = &["CertificateAuthorityArn", "CertificatesReady"];

    fn example() -> Self {
        Self {
            kind: PkiKind::PrivateCa,
            certificate_authority_arn: Some(
                "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555"
                    .into(),
            ),
            certificates_ready: false,
        }
    }
}

impl Example for ClusterProps {
    const OPTIONAL: &'static [&'static str] = &["SourceBackupId"];

    fn example() -> Self {
        Self {
            subnet_ids: vec![
                "subnet-0123456789abcdef0".into(),
                "subnet-0123456789abcdef1".into(),
            ],
            hsms_per_subnet: 1,
            hsm_type: "hsm2m.medium".into(),
            mode: "FIPS".into(),
            network_type: "IPV4".into(),
            backup_retention_days: 90,
            source_backup_id: Some("backup-abcdefghijk".into()),
            pki: Pki::example(),
        }
    }
}

/// Properties as CloudFormation delivers them: every scalar a string.
#[must_use]
pub fn stringified(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Array(items) => Value::Array(items.into_iter().map(stringified).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, stringified(v))).collect())
        }
        other => other,
    }
}

/// A request for a resource type, with example properties as CloudFormation
/// sends them (scalars as strings).
#[must_use]
pub fn example_request(resource_type: &str) -> CfnRequest {
    let props = if resource_type == crate::contract::HSMS_RESOURCE_TYPE {
        HsmsProps::example_json()
    } else {
        ClusterProps::example_json()
    };
    let Value::Object(properties) = stringified(props) else {
        unreachable!("properties are an object")
    };
    CfnRequest {
        resource_type: resource_type.to_owned(),
        resource_properties: properties.clone(),
        old_resource_properties: Some(properties),
        ..CfnRequest::example()
    }
}

impl ClusterProps {
    /// Reads and checks the properties of the resource `resource`.
    pub fn parse(properties: &Map<String, Value>, resource: &str) -> Result<Self, HandlerError> {
        let invalid = |reason: String| HandlerError::InvalidProperties {
            resource: resource.to_owned(),
            reason,
        };
        let props: Self = read(properties, resource)?;
        if props.subnet_ids.is_empty() {
            return Err(invalid(
                "SubnetIds is empty: select at least one subnet".into(),
            ));
        }
        if !(7..=379).contains(&props.backup_retention_days) {
            return Err(invalid(format!(
                "BackupRetentionDays must be 7 to 379, got {}",
                props.backup_retention_days
            )));
        }
        let needs_ca = matches!(
            props.pki.kind,
            PkiKind::PrivateCa | PkiKind::CertificateAuthority
        );
        if needs_ca && props.pki.certificate_authority_arn.is_none() {
            return Err(invalid(format!(
                "Pki {:?} needs a CertificateAuthorityArn",
                props.pki.kind
            )));
        }
        Ok(props)
    }

    /// HSMs in the whole cluster.
    #[must_use]
    pub fn total_hsms(&self) -> usize {
        self.subnet_ids.len() * self.hsms_per_subnet as usize
    }
}

/// A flag given as a JSON boolean or, as CloudFormation sends it, the
/// string `true` or `false`.
pub fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    match Flag::deserialize(deserializer)? {
        Flag::Bool(b) => Ok(b),
        Flag::Text(text) => match text.trim() {
            "true" => Ok(true),
            "false" | "" => Ok(false),
            _ => Err(serde::de::Error::custom(format!(
                "'{text}' is not true or false"
            ))),
        },
    }
}

/// A whole number given as a JSON number or, as CloudFormation sends it, a
/// string.
pub fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Int(u32),
        Text(String),
    }
    match Number::deserialize(deserializer)? {
        Number::Int(n) => Ok(n),
        Number::Text(text) => text.trim().parse().map_err(|_| {
            serde::de::Error::custom(format!("'{text}' is not a whole number of 0 or more"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handler_core::contract::example_problems;
    use serde_json::json;

    #[test]
    fn the_examples_match_the_types() {
        let mut problems = example_problems::<ClusterProps>();
        problems.extend(example_problems::<HsmsProps>());
        problems.extend(example_problems::<Pki>());
        assert!(problems.is_empty(), "{problems:#?}");
        let request = example_request(crate::contract::HSMS_RESOURCE_TYPE);
        let props = HsmsProps::parse(&request.resource_properties, "Hsms").unwrap();
        assert_eq!(props, HsmsProps::example());
        let request = example_request(crate::contract::CLUSTER_RESOURCE_TYPE);
        let props = ClusterProps::parse(&request.resource_properties, "Hsm").unwrap();
        assert_eq!(props, ClusterProps::example());
    }

    fn properties(overrides: &Value) -> Map<String, Value> {
        let mut base = json!({
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:entry",
            "SubnetIds": ["subnet-1", "subnet-2"],
            "HsmsPerSubnet": "2",
            "HsmType": "hsm2m.medium",
            "Mode": "FIPS",
            "NetworkType": "IPV4",
            "BackupRetentionDays": "90",
            "Pki": {"Kind": "EPHEMERAL_CA"}
        });
        for (k, v) in overrides.as_object().unwrap() {
            base[k] = v.clone();
        }
        base.as_object().unwrap().clone()
    }

    #[test]
    fn reads_cloudformation_strings_as_numbers() {
        let props = ClusterProps::parse(&properties(&json!({})), "Hsm").unwrap();
        assert_eq!(props.hsms_per_subnet, 2);
        assert_eq!(props.backup_retention_days, 90);
        assert_eq!(props.total_hsms(), 4);
        assert_eq!(props.pki.kind, PkiKind::EphemeralCa);
        let numeric =
            ClusterProps::parse(&properties(&json!({"HsmsPerSubnet": 3})), "Hsm").unwrap();
        assert_eq!(numeric.hsms_per_subnet, 3);
    }

    #[test]
    fn fails_on_a_count_that_is_not_a_whole_number() {
        let err = ClusterProps::parse(
            &properties(&json!({"HsmsPerSubnet": "-1"})),
            "Custom::CloudHsmCluster Hsm",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid properties for Custom::CloudHsmCluster Hsm: '-1' is not a whole number of 0 or more. \
             Synthesize the stack again with cdk-cloudhsm"
        );
    }

    #[test]
    fn fails_on_retention_out_of_range_and_a_ca_without_arn() {
        let err = ClusterProps::parse(&properties(&json!({"BackupRetentionDays": "400"})), "Hsm")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid properties for Hsm: BackupRetentionDays must be 7 to 379, got 400"
        );
        let err = ClusterProps::parse(&properties(&json!({"Pki": {"Kind": "PRIVATE_CA"}})), "Hsm")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid properties for Hsm: Pki PrivateCa needs a CertificateAuthorityArn"
        );
    }
}
