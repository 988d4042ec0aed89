//! Logging as Lambda's advanced logging controls ask for it.

use tracing_subscriber::filter::LevelFilter;

/// Writes the handlers' events to standard output, one line each: JSON
/// objects when `AWS_LAMBDA_LOG_FORMAT` is `JSON`, text otherwise, at the
/// level `AWS_LAMBDA_LOG_LEVEL` names (else `RUST_LOG`'s, else INFO).
///
/// It is `lambda_runtime`'s default subscriber less its per-target filter
/// directives, which no function of ours is given and whose regular
/// expression engine was the largest part of the logging code in each
/// binary.
pub fn init() {
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    let level = level(
        std::env::var("AWS_LAMBDA_LOG_LEVEL")
            .or_else(|_| std::env::var("RUST_LOG"))
            .ok()
            .as_deref(),
    );
    let subscriber = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level);
    if format.eq_ignore_ascii_case("json") {
        subscriber.json().init();
    } else {
        subscriber.init();
    }
}

/// The level a variable names; INFO when it names none (Lambda's FATAL, say).
fn level(name: Option<&str>) -> LevelFilter {
    name.and_then(|n| n.parse().ok())
        .unwrap_or(LevelFilter::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_is_the_one_named_in_any_case_else_info() {
        assert_eq!(level(Some("WARN")), LevelFilter::WARN);
        assert_eq!(level(Some("debug")), LevelFilter::DEBUG);
        assert_eq!(level(Some("ERROR")), LevelFilter::ERROR);
        assert_eq!(level(Some("FATAL")), LevelFilter::INFO);
        assert_eq!(level(None), LevelFilter::INFO);
    }
}
