//! JSON logs for CloudWatch.

use tracing_subscriber::EnvFilter;

/// Installs a JSON log subscriber.
///
/// The level comes from `RUST_LOG` when set, otherwise from Lambda's own
/// `AWS_LAMBDA_LOG_LEVEL`, otherwise `info`. CloudWatch stamps every line,
/// so the subscriber prints no time of its own.
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok())
        .map_or_else(|| EnvFilter::new("info"), EnvFilter::new);
    // A second call (as in tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}
