//! `GET /health` and `GET /ready`: is the API up, is its database connected, how fast.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Probe {
    pub path: &'static str,
    pub latency: Duration,
    pub result: Result<(u16, String), String>,
}

impl Probe {
    pub fn healthy(&self) -> bool {
        matches!(&self.result, Ok((status, _)) if (200..300).contains(status))
    }
}

/// Probes `/health` then `/ready`, each with the reader's retries.
pub async fn check(reader: &super::fetch::ApiReader) -> Vec<Probe> {
    let mut probes = Vec::new();
    for path in ["/health", "/ready"] {
        let started = Instant::now();
        let result = match reader.send(path).await {
            Ok(answer) => {
                let body = String::from_utf8_lossy(&answer.body);
                let body: String = body.chars().take(200).collect();
                Ok((answer.status, super::client::sanitize(&body, &[])))
            }
            Err(super::fetch::ReadError::Unreachable { cause, .. }) => Err(cause),
            Err(other) => Err(other.to_string()),
        };
        probes.push(Probe {
            path,
            latency: started.elapsed(),
            result,
        });
    }
    probes
}

/// A message a person can act on, as the spec's troubleshooting section suggests.
pub fn describe(err: &reqwest::Error, base_url: &str) -> String {
    use super::client::{error_chain, is_tls_error, sanitize};
    if is_tls_error(err) {
        format!(
            "TLS error talking to {base_url}: {} (for a private CA, pass --ca-cert)",
            sanitize(&error_chain(err), &[])
        )
    } else if err.is_connect() {
        format!(
            "connection refused: nothing answers at {base_url}. Is FreshMart running? \
             (`docker-compose ps`, `docker-compose logs api`; or run tools/freshmart-stub)"
        )
    } else if err.is_timeout() {
        format!("timed out waiting for {base_url}")
    } else {
        format!(
            "request to {base_url} failed: {}",
            super::client::error_chain(err)
        )
    }
}
