//! Sending requests: a reqwest client with timeouts, retries with exponential backoff and full
//! jitter for timeouts, connection errors and 5xx (never 4xx), and classification of every
//! failure into a `FailureKind`. Implements the replayer's `Executor`.

use std::time::Duration;

use std::sync::Arc;

use rand::Rng;
use reqwest::Url;
use tokio::time::Instant;

use super::prepared::{Endpoint, Prepared};
use super::probe::{self, ProbeOptions, ProbeStats, Target};
use super::requests::{ApiRequest, Method, RequestContext};
use super::transport::Transport;
use crate::event::Event;
use crate::metrics::EventResult;
use crate::outcome::{FailureKind, RetryCause};
use crate::replay::{Execution, Executor, StopFlag};

/// Most of an error body we keep for the report; a huge body is never read whole.
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;
/// Success bodies are drained (read and dropped, so the connection can be reused) up to this
/// size; past it the connection is closed instead.
pub(crate) const MAX_SUCCESS_BODY: u64 = 4 * 1024 * 1024;

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
    /// Extra trusted roots for https (`--ca-cert`), DER: reqwest's clients and the replay's
    /// own connections (`transport`) are both built from them.
    pub root_certificates: Vec<rustls::pki_types::CertificateDer<'static>>,
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
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(cert)?);
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
    /// Did not succeed; retried when `kind.is_transient()` (timeouts, connection failures,
    /// 5xx), never for 4xx.
    Failed {
        kind: FailureKind,
        detail: String,
    },
}

pub use crate::error::error_chain;

/// True when the failure is the TLS handshake (an untrusted or invalid certificate, a protocol
/// error), which reqwest reports as a connect error: some cause in the source chain is a
/// `rustls::Error`. An `io::Error` hides the error it wraps from `source()` (it skips to that
/// error's own source), so its inner error is looked at too.
pub fn is_tls_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(c) = cause {
        if c.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if is_tls_error(inner) {
                return true;
            }
        }
        cause = c.source();
    }
    false
}

pub fn classify_error(err: &reqwest::Error) -> FailureKind {
    if err.is_timeout() {
        FailureKind::Timeout
    } else if is_tls_error(err) {
        FailureKind::Tls
    } else if err.is_connect() {
        FailureKind::Connect
    } else if err.is_body() || err.is_decode() {
        FailureKind::BadResponse
    } else {
        FailureKind::Connection
    }
}

/// Reads at most `limit` bytes of an error body (its words go into the failure's detail);
/// returns what it read.
async fn read_limited(resp: &mut reqwest::Response, limit: usize) -> reqwest::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            break;
        }
    }
    Ok(out)
}

/// Reads a success body to its end, up to `limit` bytes, keeping none of it: a body read to
/// the end leaves the connection reusable, and nothing in it is looked at. Returns the bytes
/// read and whether the end was reached (past `limit` the response is dropped, which closes
/// the connection instead of reading on).
pub async fn drain(resp: &mut reqwest::Response, limit: u64) -> reqwest::Result<(u64, bool)> {
    let mut read = 0u64;
    while let Some(chunk) = resp.chunk().await? {
        read += chunk.len() as u64;
        if read > limit {
            return Ok((read, false));
        }
    }
    Ok((read, true))
}

/// Sends one request once (the request is prepared here; a caller that retries prepares it
/// once with [`Prepared::new`] and calls [`send_once`]).
pub async fn attempt(client: &reqwest::Client, base: &str, req: &ApiRequest) -> Attempt {
    send_once(client, &Prepared::new(&Endpoint::new(base), req.clone())).await
}

/// Sends a prepared request once: the URL and the body's bytes are cloned, not rebuilt.
pub async fn send_once(client: &reqwest::Client, req: &Prepared) -> Attempt {
    let builder = match &req.url {
        Ok(url) => client.request(req.http_method(), Url::clone(url)),
        Err(text) => client.request(req.http_method(), text.as_str()),
    };
    let builder = match &req.body {
        Some(body) => builder
            .header(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static("application/json"),
            )
            .body(body.clone()),
        None => builder,
    };
    let mut resp = match builder.send().await {
        Ok(r) => r,
        Err(e) => {
            return Attempt::Failed {
                kind: classify_error(&e),
                detail: error_chain(&e),
            }
        }
    };
    let status = resp.status().as_u16();
    // A retried DELETE whose first try went through answers 404: the line is gone, as asked.
    let success = resp.status().is_success() || (req.method == Method::Delete && status == 404);
    if success {
        return match drain(&mut resp, MAX_SUCCESS_BODY).await {
            Ok(_) => Attempt::Success,
            Err(e) => Attempt::Failed {
                kind: classify_error(&e),
                detail: format!("HTTP {status}, then: {}", error_chain(&e)),
            },
        };
    }
    let body = match read_limited(&mut resp, MAX_ERROR_BODY).await {
        Ok(body) => body,
        Err(e) => {
            return Attempt::Failed {
                kind: classify_error(&e),
                detail: format!("HTTP {status}, then: {}", error_chain(&e)),
            }
        }
    };
    http_failure(req, status, &body)
}

/// An answer that is not a success: its kind from the status and the API's `error_type`, its
/// detail "METHOD path -> status: " and the start of the body.
pub(crate) fn http_failure(req: &Prepared, status: u16, body: &[u8]) -> Attempt {
    let text = String::from_utf8_lossy(body);
    let kind = FailureKind::of_status(status, &text);
    let detail = format!(
        "{} {} -> {status}: {}",
        req.method.as_str(),
        req.path,
        text.chars().take(300).collect::<String>()
    );
    Attempt::Failed { kind, detail }
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

/// Runs `once` until it succeeds, fails for good, or `options.retries` retries of transient
/// failures (timeouts, connection trouble, 5xx) are spent, sleeping `backoff` with jitter
/// between attempts, as the replay does. Returns the outcome (a failure's detail sanitised) and
/// the retries it took. For the one-off writes of `cleanup`; the replay's own loop also hears
/// the stop and records each retry's cause.
pub async fn retry_transient<T, Fut>(
    options: &ClientOptions,
    mut once: impl FnMut() -> Fut,
) -> (Result<T, (FailureKind, String)>, u32)
where
    Fut: std::future::Future<Output = Result<T, (FailureKind, String)>>,
{
    let mut retries = 0;
    loop {
        match once().await {
            Err((kind, _)) if kind.is_transient() && retries < options.retries => {
                retries += 1;
                let jitter = rand::rng().random::<f64>();
                tokio::time::sleep(backoff(options, retries, jitter)).await;
            }
            Err((kind, detail)) => {
                return (Err((kind, sanitize(&detail, &options.secrets))), retries)
            }
            Ok(value) => return (Ok(value), retries),
        }
    }
}

/// The FreshMart executor: requests from `RequestContext`, sent with retries over the
/// replay's own HTTP/1.1 connections (`transport`), or over reqwest where that transport
/// would not behave as reqwest does (a proxy in the environment, credentials in the URL).
pub struct FreshMartExecutor {
    client: reqwest::Client,
    /// The hot path's connections; `None`: `client` sends the events too.
    transport: Option<Transport>,
    endpoint: Endpoint,
    context: RequestContext,
    options: ClientOptions,
    probes: Option<(ProbeOptions, Arc<ProbeStats>)>,
    /// Where probes run, if not on the runtime that sends: a dispatcher's thread ends with
    /// its last event, and its probes must outlive it. The runtime that made this executor
    /// (`for_own_thread`) and its client, whose connections live there.
    probe_home: Option<(tokio::runtime::Handle, reqwest::Client)>,
}

impl FreshMartExecutor {
    pub fn new(
        base_url: &str,
        context: RequestContext,
        options: ClientOptions,
    ) -> reqwest::Result<Self> {
        // reqwest's client first: it rejects what neither could use (a bad root certificate).
        let client = build_client(&options)?;
        let endpoint = Endpoint::new(base_url);
        Ok(FreshMartExecutor {
            client,
            transport: Transport::new(&endpoint, &options).ok(),
            endpoint,
            context,
            options,
            probes: None,
            probe_home: None,
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

    /// Whether events go over the replay's own connections (else over reqwest).
    pub fn uses_own_connections(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends one request with retries; returns the final attempt, and why each retry
    /// happened. A stop cuts a backoff short (the last attempt's failure stands).
    async fn send_with_retries(
        &self,
        req: &Prepared,
        stop: &StopFlag,
        retried: &mut Vec<RetryCause>,
    ) -> Attempt {
        let mut retries = 0;
        loop {
            let attempt = match &self.transport {
                // Boxed: inline, its state would grow every event's task, which tokio
                // copies when it spawns and when it completes it (callgrind: memcpy).
                Some(transport) => Box::pin(transport.send(req)).await,
                // Boxed too: reqwest's futures are larger still, and this path is the rare one.
                None => Box::pin(send_once(&self.client, req)).await,
            };
            match attempt {
                Attempt::Success => return Attempt::Success,
                Attempt::Failed { kind, detail } => {
                    let detail = sanitize(&detail, &self.options.secrets);
                    if !kind.is_transient() || retries >= self.options.retries || stop.is_set() {
                        return Attempt::Failed { kind, detail };
                    }
                    retries += 1;
                    if self.options.log_failures {
                        eprintln!(
                            "{} retry {retries}/{} of {} {}: {kind}: {detail}",
                            chrono::Local::now().format("[%H:%M:%S]"),
                            self.options.retries,
                            req.method.as_str(),
                            req.path
                        );
                    }
                    let failed = Attempt::Failed {
                        kind: kind.clone(),
                        detail: detail.clone(),
                    };
                    retried.push(RetryCause { kind, detail });
                    let jitter = rand::rng().random::<f64>();
                    tokio::select! {
                        _ = tokio::time::sleep(backoff(&self.options, retries, jitter)) => {}
                        _ = stop.stopped() => {
                            // The retry was announced but not sent: it does not count.
                            retried.pop();
                            return failed;
                        }
                    }
                }
            }
        }
    }
}

impl Executor for FreshMartExecutor {
    /// A client of its own (its own connection pool: connections are tasks of the runtime
    /// that opened them, and that runtime is the new thread's); the probe counters shared.
    fn for_own_thread(self: &Arc<Self>) -> Arc<Self> {
        let Ok(client) = build_client(&self.options) else {
            // It was built once with these options; should it fail now, share that one.
            return self.clone();
        };
        let probe_home = tokio::runtime::Handle::try_current()
            .ok()
            .map(|runtime| (runtime, self.client.clone()));
        Arc::new(FreshMartExecutor {
            client,
            transport: self.transport.as_ref().map(Transport::for_own_thread),
            endpoint: self.endpoint.clone(),
            context: self.context.clone(),
            options: self.options.clone(),
            probes: self.probes.clone(),
            probe_home,
        })
    }

    async fn execute(&self, seq: u64, event: Event, stop: StopFlag) -> Execution {
        // Built here, in the event's own task, not by the dispatcher: each request's URL and
        // body once, whatever the number of attempts.
        let requests: Vec<Prepared> = self
            .context
            .requests_for(&event)
            .into_iter()
            .map(|request| Prepared::new(&self.endpoint, request))
            .collect();
        // While probing, every order write is tracked (so probes can tell a later write), and a
        // share of them is probed.
        let expectation = self
            .probes
            .as_ref()
            .and_then(|_| Target::of(&event, &self.context));
        let sampled = self.probes.as_ref().is_some_and(|(options, _)| {
            expectation.is_some()
                && probe::is_sampled(
                    self.context.run_id.as_deref().unwrap_or(""),
                    seq,
                    options.fraction,
                )
        });
        let first_sent = Instant::now();
        let mut sent = 0;
        let mut retried = Vec::new();
        for req in &requests {
            let before = retried.len();
            let outcome = self.send_with_retries(req, &stop, &mut retried).await;
            let spent = (retried.len() - before) as u32;
            sent += 1 + spent;
            if let Attempt::Failed { kind, detail } = outcome {
                if self.options.log_failures {
                    eprintln!(
                        "{} {} failed after {spent} retries: {kind}: {detail}",
                        chrono::Local::now().format("[%H:%M:%S]"),
                        event.action.activity().key()
                    );
                }
                return Execution {
                    first_sent,
                    requests: sent,
                    retries: retried.len() as u32,
                    retry_causes: retried,
                    result: EventResult::Failure { kind, detail },
                };
            }
        }
        if let (Some((options, stats)), Some(expect)) = (&self.probes, expectation) {
            let written = stats.written(&expect);
            if sampled && written.repeats_earlier_state {
                stats.untimeable(expect.kind());
            } else if sampled {
                let (_home, client) = match &self.probe_home {
                    Some((runtime, client)) => (Some(runtime.enter()), client),
                    None => (None, &self.client),
                };
                probe::spawn(
                    client.clone(),
                    self.endpoint.as_str().to_string(),
                    expect,
                    written.generation,
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
            retries: retried.len() as u32,
            retry_causes: retried,
            result: EventResult::Success,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first samples of run `r1` at 10%.
    const PINNED_FIRST_SAMPLES: [u64; 5] = [0, 5, 11, 22, 25];

    #[test]
    fn probe_samples_are_a_stable_function_of_run_id_and_sequence() {
        let picks = |run: &str| -> Vec<u64> {
            (0..10_000)
                .filter(|&seq| probe::is_sampled(run, seq, 0.1))
                .collect()
        };
        let a = picks("r1");
        assert_eq!(
            a,
            picks("r1"),
            "the same run id and events, the same samples"
        );
        assert_ne!(a, picks("r2"), "another run id, other samples");
        assert!(
            (900..1100).contains(&a.len()),
            "{} of 10000 at 10%",
            a.len()
        );
        // Pinned values: the function must not change between versions.
        assert_eq!(&a[..5], &PINNED_FIRST_SAMPLES);
        assert!(!probe::is_sampled("r1", 3, 0.0));
        assert!(probe::is_sampled("r1", 3, 1.0));
    }

    #[test]
    fn tls_is_recognised_in_the_source_chain_not_the_words() {
        let rustls_err = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_err);
        assert!(is_tls_error(&wrapped));
        // Words alone are not a TLS failure.
        let words = std::io::Error::other("tls handshake certificate unknownissuer");
        assert!(!is_tls_error(&words));
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
