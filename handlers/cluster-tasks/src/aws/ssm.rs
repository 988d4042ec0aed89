//! Running the construct's scripts on the management client through
//! Systems Manager Run Command.

use std::collections::HashMap;
use std::hash::BuildHasher;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::CommandInvocationStatus;
use handler_core::HandlerError;
use handler_core::contract::Example;
use serde::{Deserialize, Serialize};

/// Where a client command stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CommandProgress {
    /// The command, once sent; empty before.
    pub command_id: String,
    /// Whether it finished successfully.
    pub ready: bool,
}

impl Example for CommandProgress {
    fn example() -> Self {
        Self {
            command_id: "0b8a1d2c-3e4f-4a5b-8c6d-7e8f9a0b1c2d".into(),
            ready: true,
        }
    }
}

/// The error for a command that did not finish in time, or could not start
/// because the client never registered (`network` as for [`not_registered`]).
#[must_use]
pub fn timed_out(
    progress: &CommandProgress,
    instance_id: &str,
    what: &str,
    minutes: u64,
    network: &str,
) -> HandlerError {
    if progress.command_id.is_empty() {
        not_registered(instance_id, what, minutes, network)
    } else {
        HandlerError::PreconditionFailed(format!(
            "{what} on the management client {instance_id} is still running {minutes} minutes after the operation \
             began (command {}). See the command in Systems Manager Run Command, cancel it, then retry",
            progress.command_id
        ))
    }
}

/// The error for a client that never registered with Systems Manager.
/// `network` is what the template shows of its way there (see
/// `Config::client_network`): which of the role, the route and the
/// endpoints is missing.
#[must_use]
pub fn not_registered(instance_id: &str, what: &str, minutes: u64, network: &str) -> HandlerError {
    let network = network.trim().trim_end_matches('.');
    HandlerError::PreconditionFailed(format!(
        "the management client {instance_id} is still not registered with Systems Manager {minutes} minutes \
         after the operation began, so {what} could not start. {}Check that its subnet reaches Systems Manager \
         (NAT or VPC endpoints for ssm, ssmmessages, ec2messages) and that its role allows it, look at its \
         system log, then retry",
        if network.is_empty() {
            String::new()
        } else {
            format!("{network}. ")
        }
    ))
}

/// Sends the command, or reports that the instance is not yet managed by
/// Systems Manager (it is still booting): the workflow then waits and asks
/// again.
pub async fn send<S: BuildHasher>(
    client: &Client,
    instance_id: &str,
    document: &str,
    parameters: &HashMap<String, String, S>,
) -> Result<CommandProgress, HandlerError> {
    let parameters = parameters
        .iter()
        .map(|(k, v)| (k.clone(), vec![v.clone()]))
        .collect();
    let sent = client
        .send_command()
        .instance_ids(instance_id)
        .document_name(document)
        .set_parameters(Some(parameters))
        .timeout_seconds(600)
        .send()
        .await;
    match sent {
        Ok(output) => {
            let command_id = output
                .command()
                .and_then(|c| c.command_id())
                .ok_or_else(|| {
                    HandlerError::Internal("SendCommand returned no command id".into())
                })?;
            Ok(CommandProgress {
                command_id: command_id.to_owned(),
                ready: false,
            })
        }
        Err(e)
            if e.as_service_error().is_some_and(
                aws_sdk_ssm::operation::send_command::SendCommandError::is_invalid_instance_id,
            ) =>
        {
            tracing::info!(
                instance_id,
                "the client is not registered with Systems Manager yet"
            );
            Ok(CommandProgress {
                command_id: String::new(),
                ready: false,
            })
        }
        Err(e) => Err(HandlerError::from_sdk(
            "SendCommand",
            format!("the management client {instance_id}"),
            "Check that the instance runs and that its role allows Systems Manager",
            &e,
        )),
    }
}

/// How a sent command is doing. A failed command is an error carrying the
/// end of what the script wrote to standard error.
pub async fn poll(
    client: &Client,
    instance_id: &str,
    command_id: &str,
    what: &str,
) -> Result<CommandProgress, HandlerError> {
    let progress = |ready| CommandProgress {
        command_id: command_id.to_owned(),
        ready,
    };
    let output = match client
        .get_command_invocation()
        .command_id(command_id)
        .instance_id(instance_id)
        .send()
        .await
    {
        Ok(output) => output,
        // Right after SendCommand the invocation may not be visible yet.
        Err(e)
            if e.as_service_error()
                .is_some_and(aws_sdk_ssm::operation::get_command_invocation::GetCommandInvocationError::is_invocation_does_not_exist) =>
        {
            return Ok(progress(false));
        }
        Err(e) => {
            return Err(HandlerError::from_sdk(
                "GetCommandInvocation",
                format!("command {command_id} on {instance_id}"),
                "Check the function's permissions",
                &e,
            ));
        }
    };
    match output.status() {
        Some(CommandInvocationStatus::Success) => Ok(progress(true)),
        Some(
            CommandInvocationStatus::Pending
            | CommandInvocationStatus::InProgress
            | CommandInvocationStatus::Delayed,
        )
        | None => Ok(progress(false)),
        Some(status) => {
            let stderr = output.standard_error_content().unwrap_or_default().trim();
            let detail = last_lines(stderr, 5);
            Err(HandlerError::PreconditionFailed(format!(
                "{what} on the management client {instance_id} ended {} (exit code {}){}. See the command {command_id} \
                 in Systems Manager Run Command for its full output",
                status.as_str(),
                output.response_code(),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                },
            )))
        }
    }
}

/// The last `n` non-empty lines, joined with " / ".
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<_> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ssm::operation::get_command_invocation::GetCommandInvocationOutput;
    use aws_sdk_ssm::operation::send_command::SendCommandError;
    use aws_sdk_ssm::types::error::InvalidInstanceId;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[tokio::test]
    async fn an_instance_not_yet_managed_means_wait() {
        let rule = mock!(Client::send_command).then_error(|| {
            SendCommandError::InvalidInstanceId(InvalidInstanceId::builder().build())
        });
        let client = mock_client!(aws_sdk_ssm, RuleMode::Sequential, [&rule]);
        let progress = send(&client, "i-1", "Activate", &HashMap::new())
            .await
            .unwrap();
        assert_eq!(
            progress,
            CommandProgress {
                command_id: String::new(),
                ready: false
            }
        );
    }

    #[test]
    fn a_client_that_never_registered_is_told_what_its_template_lacks() {
        let err = not_registered(
            "i-1",
            "activating the cluster",
            40,
            "Missing in the template: a route 0.0.0.0/0 to a NAT gateway from the client's subnet subnet-1. ",
        );
        assert_eq!(
            err.to_string(),
            "the management client i-1 is still not registered with Systems Manager 40 minutes after the operation \
             began, so activating the cluster could not start. Missing in the template: a route 0.0.0.0/0 to a NAT \
             gateway from the client's subnet subnet-1. Check that its subnet reaches Systems Manager (NAT or VPC \
             endpoints for ssm, ssmmessages, ec2messages) and that its role allows it, look at its system log, then retry"
        );
    }

    #[tokio::test]
    async fn a_failed_command_reports_its_stderr() {
        let rule = mock!(Client::get_command_invocation).then_output(|| {
            GetCommandInvocationOutput::builder()
                .status(CommandInvocationStatus::Failed)
                .response_code(3)
                .standard_error_content("installing\n\nerror: cluster is not INITIALIZED\n")
                .build()
        });
        let client = mock_client!(aws_sdk_ssm, RuleMode::Sequential, [&rule]);
        let err = poll(&client, "i-1", "cmd-1", "activating the cluster")
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "activating the cluster on the management client i-1 ended Failed (exit code 3): installing / error: \
             cluster is not INITIALIZED. See the command cmd-1 in Systems Manager Run Command for its full output"
        );
    }

    #[tokio::test]
    async fn success_and_progress() {
        let running = mock!(Client::get_command_invocation).then_output(|| {
            GetCommandInvocationOutput::builder()
                .status(CommandInvocationStatus::InProgress)
                .build()
        });
        let done = mock!(Client::get_command_invocation).then_output(|| {
            GetCommandInvocationOutput::builder()
                .status(CommandInvocationStatus::Success)
                .build()
        });
        let client = mock_client!(aws_sdk_ssm, RuleMode::Sequential, [&running, &done]);
        assert!(!poll(&client, "i-1", "cmd-1", "x").await.unwrap().ready);
        assert!(poll(&client, "i-1", "cmd-1", "x").await.unwrap().ready);
    }
}
