//! The one GET every read of the API goes through (health checks, world snapshots, `verify`):
//! timeouts, connection errors and 5xx are retried with the replay's backoff and `--retries`;
//! a 4xx is an answer. What it reports never holds a configured secret.

use std::time::Duration;

use rand::Rng;

use super::client::{backoff, sanitize, ClientOptions};

/// Why a read failed once the retries were spent.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No answer: connection refused, TLS error, timeout, a connection dropped mid-answer.
    #[error("GET {path}: {cause} (after {attempts} attempts)")]
    Unreachable {
        path: String,
        cause: String,
        attempts: u32,
    },
    /// An answer other than 2xx (and other than 404 where that means "absent").
    #[error(
        "GET {path}: HTTP {status}{} (after {attempts} attempts)",
        snippet(body)
    )]
    Status {
        path: String,
        status: u16,
        body: String,
        attempts: u32,
    },
    /// A 2xx answer that is not what the API documents.
    #[error("GET {path}: unexpected answer: {message}")]
    Shape { path: String, message: String },
}

fn snippet(body: &str) -> String {
    if body.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", body.chars().take(200).collect::<String>())
    }
}

impl ReadError {
    /// True when the server (or the way to it) is at fault, not the data it holds.
    pub fn is_server_fault(&self) -> bool {
        !matches!(self, ReadError::Shape { .. })
    }
}

/// A final answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub attempts: u32,
}

/// Most of a body kept from an answer (lists of a whole inventory are large; 256 MB is a bound
/// on a runaway answer, not a limit in practice).
const MAX_BODY: usize = 256 << 20;

/// GETs from one API with retries.
#[derive(Clone)]
pub struct ApiReader {
    client: reqwest::Client,
    base: String,
    /// The base URL as it may be shown (credentials redacted).
    shown: String,
    options: ClientOptions,
    secrets: Vec<String>,
}

impl ApiReader {
    pub fn new(
        client: reqwest::Client,
        base: &str,
        retries: u32,
        secrets: Vec<String>,
    ) -> ApiReader {
        ApiReader {
            client,
            base: base.trim_end_matches('/').to_string(),
            shown: crate::units::redact_url(base.trim_end_matches('/')),
            options: ClientOptions {
                retries,
                ..ClientOptions::default()
            },
            secrets,
        }
    }

    /// Shortens the backoff (tests).
    pub fn with_backoff(mut self, base: Duration, cap: Duration) -> ApiReader {
        self.options.backoff_base = base;
        self.options.backoff_cap = cap;
        self
    }

    /// The base URL with any credentials redacted.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// The last answer to `GET path`, retrying while the answer is a 5xx or there is none. A 5xx
    /// that outlasts the retries is returned as an answer; no answer at all is an error.
    pub async fn send(&self, path: &str) -> Result<Answer, ReadError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let last = attempts > self.options.retries;
            match self.once(path).await {
                Ok((status, body)) if status < 500 || last => {
                    return Ok(Answer {
                        status,
                        body,
                        attempts,
                    })
                }
                Err(cause) if last => {
                    return Err(ReadError::Unreachable {
                        path: path.to_string(),
                        cause: sanitize(&cause, &self.secrets),
                        attempts,
                    })
                }
                _ => {
                    let jitter = rand::rng().random::<f64>();
                    tokio::time::sleep(backoff(&self.options, attempts, jitter)).await;
                }
            }
        }
    }

    /// `GET path` decoded; `Ok(None)` on 404; any other non-2xx is an error.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, ReadError> {
        let answer = self.send(path).await?;
        match answer.status {
            404 => return Ok(None),
            s if !(200..300).contains(&s) => {
                return Err(ReadError::Status {
                    path: path.to_string(),
                    status: s,
                    body: sanitize(&String::from_utf8_lossy(&answer.body), &self.secrets),
                    attempts: answer.attempts,
                })
            }
            _ => {}
        }
        serde_json::from_slice(&answer.body)
            .map(Some)
            .map_err(|e| ReadError::Shape {
                path: path.to_string(),
                message: e.to_string(),
            })
    }

    async fn once(&self, path: &str) -> Result<(u16, Vec<u8>), String> {
        let describe = |e: &reqwest::Error| super::health::describe(e, &self.shown);
        let mut resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| describe(&e.without_url()))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("HTTP {status}, then: {}", describe(&e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!(
                    "HTTP {status}: the answer exceeds {MAX_BODY} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }
}
