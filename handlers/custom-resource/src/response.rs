//! Delivers the response body to CloudFormation's pre-signed `ResponseURL`.

use std::time::Duration;

use bytes::Bytes;
use handler_core::HandlerError;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, header};
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use rustls::{ClientConfig, ConfigBuilder, client::WantsClientCert};
use tracing::{info, warn};

/// How often and how patiently a response is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub base_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// Time allowed for one attempt.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// Six attempts over about 16 s of waiting: enough to ride out an S3
    /// hiccup, well inside the function's timeout.
    fn default() -> Self {
        Self {
            attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    #[must_use]
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Which root certificates a [`ResponseSender`] trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedRoots {
    /// The system's: the OS bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR`.
    System,
    /// Mozilla's, built into the binary: used when the system's cannot be loaded.
    Bundled,
}

/// Sends response bodies over HTTPS (or plain HTTP, for local emulation).
#[derive(Debug, Clone)]
pub struct ResponseSender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    policy: RetryPolicy,
    roots: TrustedRoots,
}

enum Attempt {
    Delivered,
    Retry(String),
    Rejected(String),
}

/// The TLS configuration: the system's roots when they load, else the
/// bundled ones, so that a sender can always be built and every request
/// answered.
fn tls_config(
    system: Result<ConfigBuilder<ClientConfig, WantsClientCert>, std::io::Error>,
) -> (ClientConfig, TrustedRoots) {
    match system {
        Ok(builder) => (builder.with_no_client_auth(), TrustedRoots::System),
        Err(e) => {
            warn!(error = %e, "the system's root certificates cannot be loaded; using the bundled ones");
            let config = ClientConfig::builder()
                .with_webpki_roots()
                .with_no_client_auth();
            (config, TrustedRoots::Bundled)
        }
    }
}

impl ResponseSender {
    /// A sender that trusts the system's root certificates, or Mozilla's
    /// bundled ones when those cannot be loaded. It cannot fail: a function
    /// that could not build it would exit without answering CloudFormation.
    #[must_use]
    pub fn new(policy: RetryPolicy) -> Self {
        let (config, roots) = tls_config(ClientConfig::builder().with_native_roots());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        info!(?roots, "response sender ready");
        Self {
            client,
            policy,
            roots,
        }
    }

    /// Which roots it trusts.
    #[must_use]
    pub fn roots(&self) -> TrustedRoots {
        self.roots
    }

    /// PUTs `body` to `url`, retrying network errors, timeouts, 5xx and 429
    /// with exponential backoff. Any other 4xx (an expired or altered URL)
    /// is final.
    pub async fn send(&self, url: &str, body: String) -> Result<(), HandlerError> {
        let target = redact(url);
        let body = Bytes::from(body);
        let mut last = String::new();
        for attempt in 1..=self.policy.attempts {
            match self.attempt(url, body.clone()).await {
                Attempt::Delivered => {
                    info!(target = %target, attempt, "response delivered to CloudFormation");
                    return Ok(());
                }
                Attempt::Rejected(why) => {
                    return Err(HandlerError::PreconditionFailed(format!(
                        "CloudFormation's response URL {target} refused the response: {why}. \
                         The URL may have expired (CloudFormation waits at most one hour); \
                         check the stack's events"
                    )));
                }
                Attempt::Retry(why) => {
                    warn!(target = %target, attempt, error = %why, "response not delivered");
                    last = why;
                    if attempt < self.policy.attempts {
                        tokio::time::sleep(self.policy.delay_after(attempt)).await;
                    }
                }
            }
        }
        Err(HandlerError::Transient(format!(
            "the response could not be delivered to {target} in {} attempts; last error: {last}",
            self.policy.attempts
        )))
    }

    async fn attempt(&self, url: &str, body: Bytes) -> Attempt {
        // The pre-signed URL is signed for an empty content type.
        let request = Request::builder()
            .method(Method::PUT)
            .uri(url)
            .header(header::CONTENT_TYPE, "")
            .header(header::CONTENT_LENGTH, body.len())
            .body(Full::new(body));
        let request = match request {
            Ok(request) => request,
            Err(e) => return Attempt::Rejected(format!("the URL is not valid: {e}")),
        };
        let sent = tokio::time::timeout(self.policy.attempt_timeout, async {
            let response = self.client.request(request).await?;
            let status = response.status();
            // Read the body so that the connection can be reused.
            let text = response
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes);
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, text.unwrap_or_default()))
        })
        .await;
        match sent {
            Err(_) => Attempt::Retry(format!(
                "no answer within {} s",
                self.policy.attempt_timeout.as_secs_f32()
            )),
            Ok(Err(e)) => Attempt::Retry(format!("request failed: {e}")),
            Ok(Ok((status, _))) if status.is_success() => Attempt::Delivered,
            Ok(Ok((status, text))) => {
                let detail = format!("HTTP {status}: {}", snippet(&text));
                if status.is_server_error()
                    || status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::REQUEST_TIMEOUT
                {
                    Attempt::Retry(detail)
                } else {
                    Attempt::Rejected(detail)
                }
            }
        }
    }
}

/// The URL without its query: the signature in it lets anyone answer for
/// the resource, so it stays out of logs and messages.
fn redact(url: &str) -> &str {
    url.split_once('?').map_or(url, |(base, _)| base)
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(1),
        };
        let delays: Vec<_> = (1..=5).map(|a| policy.delay_after(a).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 3000, 3000]);
    }

    #[test]
    fn roots_that_cannot_be_loaded_fall_back_to_the_bundled_ones() {
        let (config, roots) = tls_config(Err(std::io::Error::other("no roots")));
        assert_eq!(roots, TrustedRoots::Bundled);
        assert!(config.alpn_protocols.is_empty());
        let (_, roots) = tls_config(ClientConfig::builder().with_native_roots());
        assert_eq!(roots, TrustedRoots::System, "this machine has system roots");
    }

    #[test]
    fn the_signature_never_reaches_a_message() {
        assert_eq!(
            redact("https://bucket.s3.amazonaws.com/path?X-Amz-Signature=secret"),
            "https://bucket.s3.amazonaws.com/path"
        );
        assert_eq!(redact("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
    }
}
