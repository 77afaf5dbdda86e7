//! Sending requests: a reqwest client with timeouts, retries with exponential backoff and full
//! jitter for timeouts, connection errors and 5xx (never 4xx), and classification of every
//! failure into a category. Implements the replayer's `Executor`.

use std::time::Duration;

use std::sync::Arc;

use rand::Rng;
use tokio::time::Instant;

use super::probe::{self, ProbeOptions, ProbeStats, Target};
use super::requests::{ApiRequest, Method, RequestContext};
use crate::event::Event;
use crate::metrics::EventResult;
use crate::replay::{Execution, Executor, StopFlag};

/// Most of an error body we keep for the report; a huge body is never read whole.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Success bodies are drained (so the connection can be reused) up to this size.
const MAX_SUCCESS_BODY: usize = 4 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub timeout: Duration,
    pub retries: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Extra headers (`--header`, the bearer token); values are never logged.
    pub headers: reqwest::header::HeaderMap,
    /// Connections kept per host: the concurrency, so a burst needs no new handshakes.
    pub pool_size: usize,
    /// Print each failed event on stderr as it happens (`--verbose`).
    pub log_failures: bool,
    /// Extra trusted roots for https (`--ca-cert`).
    pub root_certificates: Vec<reqwest::Certificate>,
    /// Header values and tokens that must never appear in a printed or stored detail (a
    /// server may echo request headers in its error bodies).
    pub secrets: Vec<String>,
}

/// What may be printed or stored of a server's words: control characters (terminal escapes,
/// carriage returns) replaced, configured secrets redacted.
pub fn sanitize(text: &str, secrets: &[String]) -> String {
    let mut clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        clean = clean.replace(secret.as_str(), "[redacted]");
    }
    clean
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(10),
            headers: reqwest::header::HeaderMap::new(),
            pool_size: 64,
            log_failures: false,
            root_certificates: Vec::new(),
            secrets: Vec::new(),
        }
    }
}

pub fn build_client(options: &ClientOptions) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    for cert in &options.root_certificates {
        builder = builder.add_root_certificate(cert.clone());
    }
    builder
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(options.pool_size)
        .tcp_nodelay(true)
        .default_headers(options.headers.clone())
        .user_agent(concat!("loadgen/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Success,
    /// Worth retrying: timeouts, connection failures, 5xx.
    Transient {
        category: String,
        detail: String,
    },
    /// Not worth retrying: 4xx.
    Permanent {
        category: String,
        detail: String,
    },
}

/// The category of an HTTP error answer: `http_400:unknown_predicate` when the body names an
/// `error_type` (API.md's validation errors), else `http_<status>`.
pub fn classify_status(status: u16, body: &str) -> String {
    let error_type = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/detail/errors/0/error_type")
                .and_then(|t| t.as_str())
                .map(String::from)
        });
    match error_type {
        Some(t) => format!("http_{status}:{t}"),
        None => format!("http_{status}"),
    }
}

/// An error and its causes, `a: b: c`, without repeating a cause that the previous message
/// already contains (reqwest's messages alone say little: "error sending request").
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// True when the failure is the TLS handshake (an untrusted or invalid certificate), which
/// reqwest reports as a connect error.
pub fn is_tls_error(err: &reqwest::Error) -> bool {
    let chain = error_chain(err).to_ascii_lowercase();
    ["certificate", "tls", "handshake", "unknownissuer"]
        .iter()
        .any(|needle| chain.contains(needle))
}

pub fn classify_error(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if is_tls_error(err) {
        "tls"
    } else if err.is_connect() {
        "connect"
    } else if err.is_body() || err.is_decode() {
        "bad_response"
    } else {
        "connection"
    }
}

/// Reads at most `limit` bytes of a body; returns what it read and whether it saw the end.
async fn read_limited(
    resp: &mut reqwest::Response,
    limit: usize,
) -> reqwest::Result<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            return Ok((out, false));
        }
    }
    Ok((out, true))
}

/// Sends one request once.
pub async fn attempt(client: &reqwest::Client, base: &str, req: &ApiRequest) -> Attempt {
    let url = format!("{base}{}", req.path);
    let builder = match req.method {
        Method::Post => client.post(url),
        Method::Put => client.put(url),
        Method::Delete => client.delete(url),
    };
    let builder = match &req.body {
        Some(body) => builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone()),
        None => builder,
    };
    let mut resp = match builder.send().await {
        Ok(r) => r,
        Err(e) => {
            return Attempt::Transient {
                category: classify_error(&e).into(),
                detail: error_chain(&e),
            }
        }
    };
    let status = resp.status().as_u16();
    let limit = if resp.status().is_success() {
        MAX_SUCCESS_BODY
    } else {
        MAX_ERROR_BODY
    };
    let body = match read_limited(&mut resp, limit).await {
        Ok((body, _complete)) => body,
        Err(e) => {
            return Attempt::Transient {
                category: classify_error(&e).into(),
                detail: format!("HTTP {status}, then: {}", error_chain(&e)),
            }
        }
    };
    // A retried DELETE whose first try went through answers 404: the line is gone, as asked.
    if resp.status().is_success() || (req.method == Method::Delete && status == 404) {
        return Attempt::Success;
    }
    let text = String::from_utf8_lossy(&body);
    let category = classify_status(status, &text);
    let detail = format!(
        "{} {} -> {status}: {}",
        req.method.as_str(),
        req.path,
        text.chars().take(300).collect::<String>()
    );
    if status >= 500 {
        Attempt::Transient { category, detail }
    } else {
        Attempt::Permanent { category, detail }
    }
}

/// Backoff before retry number `retry` (from 1): exponential, capped, with full jitter in
/// [50%, 100%] so that retrying clients do not synchronise.
pub fn backoff(options: &ClientOptions, retry: u32, jitter: f64) -> Duration {
    let exp = options
        .backoff_base
        .saturating_mul(1u32 << (retry.saturating_sub(1)).min(20));
    exp.min(options.backoff_cap)
        .mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// The FreshMart executor: requests from `RequestContext`, sent with retries.
pub struct FreshMartExecutor {
    client: reqwest::Client,
    base_url: String,
    context: RequestContext,
    options: ClientOptions,
    probes: Option<(ProbeOptions, Arc<ProbeStats>)>,
}

impl FreshMartExecutor {
    pub fn new(
        base_url: &str,
        context: RequestContext,
        options: ClientOptions,
    ) -> reqwest::Result<Self> {
        Ok(FreshMartExecutor {
            client: build_client(&options)?,
            base_url: base_url.trim_end_matches('/').to_string(),
            context,
            options,
            probes: None,
        })
    }

    /// Samples successful order writes and probes their visibility (`--probe-reads`).
    pub fn with_probes(mut self, options: ProbeOptions) -> (Self, Arc<ProbeStats>) {
        let stats = Arc::new(ProbeStats::default());
        self.probes = Some((options, stats.clone()));
        (self, stats)
    }

    pub fn context(&self) -> &RequestContext {
        &self.context
    }

    /// Sends one request with retries; returns the final attempt and the retries spent.
    async fn send_with_retries(&self, req: &ApiRequest, stop: &StopFlag) -> (Attempt, u32) {
        let mut retries = 0;
        loop {
            let outcome = attempt(&self.client, &self.base_url, req).await;
            match outcome {
                Attempt::Transient { .. } if retries < self.options.retries && !stop.is_set() => {
                    retries += 1;
                    let jitter = rand::rng().random::<f64>();
                    tokio::time::sleep(backoff(&self.options, retries, jitter)).await;
                }
                Attempt::Transient { category, detail } => {
                    let detail = sanitize(&detail, &self.options.secrets);
                    return (Attempt::Transient { category, detail }, retries);
                }
                Attempt::Permanent { category, detail } => {
                    let detail = sanitize(&detail, &self.options.secrets);
                    return (Attempt::Permanent { category, detail }, retries);
                }
                Attempt::Success => return (Attempt::Success, retries),
            }
        }
    }
}

impl Executor for FreshMartExecutor {
    async fn execute(&self, event: Event, stop: StopFlag) -> Execution {
        let requests = self.context.requests_for(&event);
        // While probing, every order write is tracked (so probes can tell a later write), and a
        // share of them is probed.
        let expectation = self
            .probes
            .as_ref()
            .and_then(|_| Target::of(&event, &self.context));
        let sampled = self.probes.as_ref().is_some_and(|(options, _)| {
            expectation.is_some() && rand::rng().random_bool(options.fraction.clamp(0.0, 1.0))
        });
        let first_sent = Instant::now();
        let mut sent = 0;
        let mut retries = 0;
        for req in &requests {
            let (outcome, spent) = self.send_with_retries(req, &stop).await;
            sent += 1 + spent;
            retries += spent;
            match outcome {
                Attempt::Success => {}
                Attempt::Transient { category, detail }
                | Attempt::Permanent { category, detail } => {
                    if self.options.log_failures {
                        eprintln!(
                            "{} {} failed after {spent} retries: {category}: {detail}",
                            chrono::Local::now().format("[%H:%M:%S]"),
                            event.action.activity().key()
                        );
                    }
                    return Execution {
                        first_sent,
                        requests: sent,
                        retries,
                        result: EventResult::Failure { category, detail },
                    };
                }
            }
        }
        if let (Some((options, stats)), Some(expect)) = (&self.probes, expectation) {
            let generation = stats.written(expect.subject(), expect.is_last_write());
            if sampled {
                probe::spawn(
                    self.client.clone(),
                    self.base_url.clone(),
                    expect,
                    generation,
                    // From the send of the event's first write: the server applies each of its
                    // writes after that, and a read may show any of them (a view can derive
                    // the total from the lines), while an instant taken after the answer
                    // would be late by however long this task waited to be polled.
                    first_sent,
                    options.clone(),
                    stats.clone(),
                );
            }
        }
        Execution {
            first_sent,
            requests: sent,
            retries,
            result: EventResult::Success,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_categories_name_the_error_type() {
        let body = r#"{"detail":{"message":"Triple validation failed","errors":[{"error_type":"unknown_predicate","message":"x","predicate":"foo"}]}}"#;
        assert_eq!(classify_status(400, body), "http_400:unknown_predicate");
        assert_eq!(
            classify_status(422, r#"{"detail":[{"loc":["body"]}]}"#),
            "http_422"
        );
        assert_eq!(classify_status(503, "not json"), "http_503");
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let o = ClientOptions::default();
        assert_eq!(backoff(&o, 1, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(&o, 2, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(&o, 3, 1.0), Duration::from_millis(800));
        assert_eq!(backoff(&o, 3, 0.0), Duration::from_millis(400));
        assert_eq!(backoff(&o, 30, 1.0), Duration::from_secs(10));
    }
}
