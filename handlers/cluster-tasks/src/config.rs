//! What is fixed for one cluster: the function's environment, read once at
//! start-up. Workflow payloads carry only what changes per execution.

use handler_core::HandlerError;
use serde::Serialize;

/// The environment variables the construct sets on the tasks function,
/// by field of [`Config`].
pub const ENV: [(&str, &str); 8] = [
    ("csrSecretArn", "CSR_SECRET_ARN"),
    ("caCertificateSecretArn", "CA_CERTIFICATE_SECRET_ARN"),
    (
        "clusterCertificateSecretArn",
        "CLUSTER_CERTIFICATE_SECRET_ARN",
    ),
    ("adminPasswordSecretArn", "ADMIN_PASSWORD_SECRET_ARN"),
    ("clientInstanceId", "CLIENT_INSTANCE_ID"),
    ("activateDocument", "ACTIVATE_DOCUMENT"),
    ("configureDocument", "CONFIGURE_DOCUMENT"),
    ("clientNetwork", "CLIENT_NETWORK"),
];

/// The variables a stack made by an earlier version may lack (read as empty).
const OPTIONAL: [&str; 1] = ["CLIENT_NETWORK"];

/// The cluster's fixed resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// Where the cluster CSR is published.
    pub csr_secret_arn: String,
    /// The CA certificate (trust anchor).
    pub ca_certificate_secret_arn: String,
    /// The cluster certificate.
    pub cluster_certificate_secret_arn: String,
    /// The initial admin password, read on the client only.
    pub admin_password_secret_arn: String,
    /// The management client.
    pub client_instance_id: String,
    /// The SSM document that activates the cluster on the client.
    pub activate_document: String,
    /// The SSM document that points the client at the HSMs.
    pub configure_document: String,
    /// What the template shows of the client's way to Systems Manager (its
    /// role, its subnet's route, the VPC's endpoints), for the error when it
    /// never registers; empty when unknown.
    pub client_network: String,
}

impl Config {
    /// Reads the configuration through `var` (the process environment in
    /// `main.rs`); every variable is required.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, HandlerError> {
        let mut missing = Vec::new();
        let mut get = |index: usize| {
            let name = ENV[index].1;
            var(name).filter(|v| !v.is_empty()).unwrap_or_else(|| {
                if !OPTIONAL.contains(&name) {
                    missing.push(name);
                }
                String::new()
            })
        };
        let config = Self {
            csr_secret_arn: get(0),
            ca_certificate_secret_arn: get(1),
            cluster_certificate_secret_arn: get(2),
            admin_password_secret_arn: get(3),
            client_instance_id: get(4),
            activate_document: get(5),
            configure_document: get(6),
            client_network: get(7),
        };
        if missing.is_empty() {
            Ok(config)
        } else {
            Err(HandlerError::Internal(format!(
                "the tasks function lacks the environment variables {}: deploy the stack again \
                 with this version of cdk-cloudhsm",
                missing.join(", ")
            )))
        }
    }

    /// A configuration for tests.
    #[must_use]
    pub fn example() -> Self {
        let secret = |name: &str| {
            format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf")
        };
        Self {
            csr_secret_arn: secret("csr"),
            ca_certificate_secret_arn: secret("ca"),
            cluster_certificate_secret_arn: secret("cert"),
            admin_password_secret_arn: secret("admin"),
            client_instance_id: "i-0123456789abcdef0".into(),
            activate_document: "Activate-Doc".into(),
            configure_document: "Configure-Doc".into(),
            client_network: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_variable_in_order() {
        let fields = serde_json::to_value(Config::example()).unwrap();
        let names: Vec<String> = fields.as_object().unwrap().keys().cloned().collect();
        let mut expected: Vec<String> = ENV
            .iter()
            .map(|(field, _)| {
                // camelCase field names of ENV against the snake_case struct.
                field
                    .chars()
                    .flat_map(|c| {
                        if c.is_ascii_uppercase() {
                            vec!['_', c.to_ascii_lowercase()]
                        } else {
                            vec![c]
                        }
                    })
                    .collect()
            })
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(sorted, expected);
        let read = Config::from_vars(|name| {
            let index = ENV.iter().position(|(_, v)| *v == name)?;
            Some(format!("value-{index}"))
        })
        .unwrap();
        assert_eq!(read.csr_secret_arn, "value-0");
        assert_eq!(read.configure_document, "value-6");
        assert_eq!(read.client_network, "value-7");
    }

    #[test]
    fn the_client_network_may_be_missing() {
        let read =
            Config::from_vars(|name| (name != "CLIENT_NETWORK").then(|| "x".into())).unwrap();
        assert_eq!(read.client_network, "");
    }

    #[test]
    fn fails_naming_every_missing_variable() {
        let err = Config::from_vars(|name| {
            (name != "CSR_SECRET_ARN" && name != "CLIENT_INSTANCE_ID").then(|| "x".into())
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "internal error in the cdk-cloudhsm handler: the tasks function lacks the environment variables \
             CSR_SECRET_ARN, CLIENT_INSTANCE_ID: deploy the stack again with this version of cdk-cloudhsm. \
             Please report it with the function's log"
        );
    }
}
