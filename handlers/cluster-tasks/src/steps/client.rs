//! Steps that run the construct's documents on the management client.

use std::collections::HashMap;

use handler_core::HandlerError;
use handler_core::contract::Example;
use serde::{Deserialize, Serialize};

use super::{Ctx, Step};
use crate::aws::ssm::{self, CommandProgress};

/// A document run on the client: sent on the first call, then polled.
struct ClientJob<'a> {
    document: &'a str,
    parameters: HashMap<String, String>,
    command_id: &'a str,
    what: &'a str,
}

impl ClientJob<'_> {
    async fn advance(self, ctx: &Ctx) -> Result<CommandProgress, HandlerError> {
        let instance_id = &ctx.config.client_instance_id;
        let progress = if self.command_id.is_empty() {
            ssm::send(
                &ctx.clients.ssm,
                instance_id,
                self.document,
                &self.parameters,
            )
            .await?
        } else {
            ssm::poll(&ctx.clients.ssm, instance_id, self.command_id, self.what).await?
        };
        if ctx.deadline_passed()? {
            return Err(if progress.ready {
                ctx.deadline.reached_late(&format!(
                    "{} on the management client {instance_id} finished (command {})",
                    self.what, progress.command_id
                ))
            } else {
                ssm::timed_out(
                    &progress,
                    instance_id,
                    self.what,
                    ctx.deadline.minutes,
                    &ctx.config.client_network,
                )
            });
        }
        Ok(progress)
    }
}

/// Activates the cluster on the management client with `cloudhsm-cli`:
/// the first call sends the command, later calls report its progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ActivateCluster {
    /// The HSM the client connects to.
    pub hsm_ip: String,
    /// Empty until the command is sent.
    #[serde(default)]
    pub command_id: String,
}

impl Example for ActivateCluster {
    const OPTIONAL: &'static [&'static str] = &["CommandId"];

    fn example() -> Self {
        Self {
            hsm_ip: "10.0.1.10".into(),
            command_id: "0b8a1d2c-3e4f-4a5b-8c6d-7e8f9a0b1c2d".into(),
        }
    }
}

impl Step for ActivateCluster {
    type Output = CommandProgress;
    const STARTS: Option<&'static str> = None;

    async fn run(self, ctx: &Ctx) -> Result<CommandProgress, HandlerError> {
        let config = &ctx.config;
        ClientJob {
            document: &config.activate_document,
            parameters: HashMap::from([
                ("HsmIp".to_owned(), self.hsm_ip.clone()),
                (
                    "AdminPasswordSecretArn".to_owned(),
                    config.admin_password_secret_arn.clone(),
                ),
                (
                    "CaCertificateSecretArn".to_owned(),
                    config.ca_certificate_secret_arn.clone(),
                ),
            ]),
            command_id: &self.command_id,
            what: "activating the cluster",
        }
        .advance(ctx)
        .await
    }
}

/// Points `cloudhsm-cli` on the management client at the cluster's
/// current HSMs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ConfigureClient {
    /// The HSMs' IP addresses, joined by commas.
    pub hsm_ips: String,
    /// Empty until the command is sent.
    #[serde(default)]
    pub command_id: String,
}

impl Example for ConfigureClient {
    const OPTIONAL: &'static [&'static str] = &["CommandId"];

    fn example() -> Self {
        Self {
            hsm_ips: "10.0.1.10,10.0.2.10".into(),
            command_id: "0b8a1d2c-3e4f-4a5b-8c6d-7e8f9a0b1c2d".into(),
        }
    }
}

impl Step for ConfigureClient {
    type Output = CommandProgress;
    const STARTS: Option<&'static str> = None;

    async fn run(self, ctx: &Ctx) -> Result<CommandProgress, HandlerError> {
        let config = &ctx.config;
        ClientJob {
            document: &config.configure_document,
            parameters: HashMap::from([
                ("HsmIps".to_owned(), self.hsm_ips.clone()),
                (
                    "CaCertificateSecretArn".to_owned(),
                    config.ca_certificate_secret_arn.clone(),
                ),
            ]),
            command_id: &self.command_id,
            what: "configuring cloudhsm-cli",
        }
        .advance(ctx)
        .await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ssm::Client;
    use aws_sdk_ssm::operation::send_command::SendCommandOutput;
    use aws_sdk_ssm::types::Command;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::config::Config;
    use crate::steps::testing::ctx;

    #[tokio::test]
    async fn activation_sends_the_fixed_resources_from_the_configuration() {
        let config = Config::example();
        let expected = config.clone();
        let sent = mock!(Client::send_command)
            .match_requests(move |r| {
                let parameters = r.parameters().cloned().unwrap_or_default();
                r.document_name() == Some(expected.activate_document.as_str())
                    && r.instance_ids() == [expected.client_instance_id.clone()]
                    && parameters.get("HsmIp") == Some(&vec!["10.0.1.10".to_owned()])
                    && parameters.get("AdminPasswordSecretArn")
                        == Some(&vec![expected.admin_password_secret_arn.clone()])
            })
            .then_output(|| {
                SendCommandOutput::builder()
                    .command(Command::builder().command_id("cmd-1").build())
                    .build()
            });
        let ctx = ctx(&[], &[], &[&sent]);
        let step = ActivateCluster {
            command_id: String::new(),
            ..ActivateCluster::example()
        };
        let progress = step.run(&ctx).await.unwrap();
        assert_eq!(progress.command_id, "cmd-1");
        assert!(!progress.ready);
    }
}
