//! The clock the handlers measure deadlines on: the system's in AWS, the
//! emulator's in emulated runs.
//!
//! The emulator compresses waiting, not work: its clock is the real clock
//! plus the time its waits skipped, so the handlers ask it for the time
//! (`GET /_emulator/clock`, one HTTP/1.0 request on a local socket). The
//! emulator's Lambda runtime names that endpoint in [`EMULATOR_CLOCK_ENV`];
//! the construct never sets it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::HandlerError;

/// The environment variable naming the emulator's clock (`host:port`).
pub const EMULATOR_CLOCK_ENV: &str = "CDK_CLOUDHSM_EMULATOR_CLOCK";

/// How long one read of the emulator's clock may take.
const CLOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the time comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clock {
    /// The system clock (AWS).
    System,
    /// The emulator's clock, at `host:port`.
    Emulator(String),
}

#[derive(Deserialize)]
struct ClockAnswer {
    now: f64,
}

impl Clock {
    /// The clock for the value of [`EMULATOR_CLOCK_ENV`] (absent or empty: the system's).
    #[must_use]
    pub fn from_var(value: Option<&str>) -> Self {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            Some(address) => Self::Emulator(address.to_owned()),
            None => Self::System,
        }
    }

    /// The clock of this process's environment.
    #[must_use]
    pub fn from_env() -> Self {
        Self::from_var(std::env::var(EMULATOR_CLOCK_ENV).ok().as_deref())
    }

    /// Now, in seconds since the Unix epoch.
    pub fn now_secs(&self) -> Result<f64, HandlerError> {
        match self {
            Self::System => Ok(SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|e| HandlerError::Internal(format!("the system clock is before 1970: {e}")))?
                .as_secs_f64()),
            Self::Emulator(address) => read_emulator_clock(address).map_err(|reason| {
                HandlerError::Transient(format!(
                    "could not read the emulator's clock at {address} ({EMULATOR_CLOCK_ENV}): {reason}"
                ))
            }),
        }
    }
}

fn read_emulator_clock(address: &str) -> Result<f64, String> {
    let mut stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(CLOCK_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(CLOCK_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /_emulator/clock HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    parse_response(&response)
}

fn parse_response(response: &str) -> Result<f64, String> {
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP response: {response:?}"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("answered '{status}'"));
    }
    serde_json::from_str::<ClockAnswer>(body)
        .map(|answer| answer.now)
        .map_err(|e| format!("answered {body:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn the_variable_chooses_the_clock() {
        assert_eq!(Clock::from_var(None), Clock::System);
        assert_eq!(Clock::from_var(Some(" ")), Clock::System);
        assert_eq!(
            Clock::from_var(Some("127.0.0.1:4566")),
            Clock::Emulator("127.0.0.1:4566".into())
        );
        let now = Clock::System.now_secs().unwrap();
        assert!(now > 1.7e9, "{now}");
    }

    #[test]
    fn the_emulator_clock_is_read_over_http() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = [0_u8; 512];
            let n = socket.read(&mut request).unwrap();
            let request = String::from_utf8_lossy(&request[..n]).into_owned();
            socket
                .write_all(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"now\": 1800000000.5, \"time_scale\": 10000}")
                .unwrap();
            request
        });
        let now = Clock::Emulator(address).now_secs().unwrap();
        assert!((now - 1_800_000_000.5).abs() < f64::EPSILON, "{now}");
        assert!(
            server
                .join()
                .unwrap()
                .starts_with("GET /_emulator/clock HTTP/1.0\r\n")
        );
    }

    #[test]
    fn a_clock_that_cannot_be_read_says_where_it_looked() {
        assert!(
            parse_response("HTTP/1.0 404 Not Found\r\n\r\n{}")
                .unwrap_err()
                .contains("404")
        );
        assert!(parse_response("garbage").is_err());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = Clock::Emulator(address.clone()).now_secs().unwrap_err();
        assert!(err.to_string().contains(&address), "{err}");
        assert!(err.to_string().contains(EMULATOR_CLOCK_ENV), "{err}");
    }
}
