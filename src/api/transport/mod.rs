//! The replay's hot path: requests sent over HTTP/1.1 connections of our own (hyper's client
//! connections and a small keep-alive pool per dispatcher thread) with the semantics of
//! `client::send_once` (one deadline for connect, send, head and body; success bodies drained;
//! error bodies read up to a bound; the same failure kinds), without the layers of reqwest,
//! which a profile put at about a quarter of the client's CPU per request.
//!
//! Only the replay's sends come here (`FreshMartExecutor`); health checks, probes, cleanup,
//! fetch and restore keep reqwest. The hot path stays on reqwest as well when this transport
//! would behave differently from it: a proxy named in the environment (`HTTP_PROXY`,
//! `HTTPS_PROXY`, `ALL_PROXY`, any case: reqwest then applies them and `NO_PROXY`), credentials
//! in the API URL (reqwest turns them into basic auth), or a scheme other than http and https.
//! https connections offer ALPN `http/1.1` only (these connections speak nothing else).

mod pool;
mod tls;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, HOST, USER_AGENT};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use reqwest::Url;
use tokio::time::{timeout_at, Instant};

use super::client::{
    error_chain, is_tls_error, Attempt, ClientOptions, MAX_ERROR_BODY, MAX_SUCCESS_BODY,
};
use super::prepared::{Endpoint, Prepared};
use super::requests::Method;
use crate::outcome::FailureKind;

/// No response head yet (a status is 100 or more).
const NO_STATUS: u16 = 0;

/// Why the hot path keeps reqwest for an API URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    #[error("the API URL does not parse")]
    Unparsable,
    #[error("scheme {0} (only http and https)")]
    Scheme(String),
    #[error("the API URL carries credentials (reqwest sends them as basic auth)")]
    Credentials,
    #[error("a proxy is configured in the environment ({0})")]
    Proxy(&'static str),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// The one host every request goes to.
pub(crate) struct Origin {
    /// DNS name or IP address, without brackets.
    host: String,
    ip: Option<IpAddr>,
    port: u16,
    /// `host:port`, for messages.
    authority: String,
}

/// What every connection and request of a transport shares.
struct Shared {
    origin: Origin,
    tls: Option<tls::Tls>,
    /// Host, user agent, accept and the `--header` values, as reqwest's client sends them.
    headers: HeaderMap,
    /// The same and `content-type: application/json`, for a request with a body: made once,
    /// not inserted (hashed, and the copy's table grown) per request. (hyper's own insert of
    /// `content-length` still grows each copy: a clone has no spare room.)
    json_headers: HeaderMap,
    timeout: Duration,
    connect_timeout: Duration,
    max_idle: usize,
}

/// Requests to one API host over a pool of keep-alive HTTP/1.1 connections. Its connections
/// are tasks of the runtime that opened them: a dispatcher thread has a transport of its own
/// (`for_own_thread`).
pub struct Transport {
    shared: Arc<Shared>,
    pool: pool::Pool,
}

/// The proxy variables reqwest reads for `scheme`, and the first one set, if any.
fn proxy_variable(scheme: &str) -> Option<&'static str> {
    let names: [&'static str; 4] = if scheme == "https" {
        ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    names
        .into_iter()
        .find(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

impl Transport {
    /// A transport for `endpoint`'s host, or why the hot path should keep reqwest.
    pub fn new(endpoint: &Endpoint, options: &ClientOptions) -> Result<Transport, Unsupported> {
        let base = endpoint.base().ok_or(Unsupported::Unparsable)?;
        Transport::for_url(base, options, proxy_variable(base.scheme()))
    }

    fn for_url(
        base: &Url,
        options: &ClientOptions,
        proxy: Option<&'static str>,
    ) -> Result<Transport, Unsupported> {
        let https = match base.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(Unsupported::Scheme(other.to_string())),
        };
        if let Some(variable) = proxy {
            return Err(Unsupported::Proxy(variable));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Unsupported::Credentials);
        }
        let (host, ip) = match base.host() {
            Some(url::Host::Domain(name)) => (name.to_string(), None),
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
            None => return Err(Unsupported::Unparsable),
        };
        let port = base
            .port_or_known_default()
            .ok_or(Unsupported::Unparsable)?;
        // As in URLs and Host headers: an IPv6 address in brackets.
        let host_str = base.host_str().unwrap_or_default().to_string();
        let tls = if https {
            Some(tls::Tls::new(&host, &options.root_certificates).map_err(Unsupported::Tls)?)
        } else {
            None
        };
        let origin = Origin {
            authority: format!("{host_str}:{port}"),
            host,
            ip,
            port,
        };
        // The Host header as hyper-util's client writes it: the port only when not the
        // scheme's default (`Url::port` is `None` then).
        let host_header = match base.port() {
            Some(port) => format!("{host_str}:{port}"),
            None => host_str.to_string(),
        };
        let headers = default_headers(&options.headers, &host_header);
        let mut json_headers = headers.clone();
        json_headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(Transport {
            shared: Arc::new(Shared {
                origin,
                tls,
                headers,
                json_headers,
                timeout: options.timeout,
                connect_timeout: options.timeout.min(Duration::from_secs(10)),
                max_idle: options.pool_size,
            }),
            pool: pool::Pool::new(options.pool_size),
        })
    }

    /// The same host and settings, with a pool of its own (for another runtime).
    pub fn for_own_thread(&self) -> Transport {
        Transport {
            shared: self.shared.clone(),
            pool: pool::Pool::new(self.shared.max_idle),
        }
    }

    /// Sends a prepared request once: the outcome, as `client::send_once` tells it.
    pub async fn send(&self, req: &Prepared) -> Attempt {
        let Some(target) = &req.target else {
            return Attempt::Failed {
                kind: FailureKind::Connection,
                detail: format!("builder error: invalid URL {}", url_text(req)),
            };
        };
        // One deadline for connect, send, head and body, and one timer for all of them (a
        // timer per phase was two registrations per request); what had arrived when it
        // expired tells which phase it cut short.
        let deadline = Instant::now() + self.shared.timeout;
        let status = AtomicU16::new(NO_STATUS);
        match timeout_at(deadline, self.exchange(req, target, &status)).await {
            Ok(attempt) => attempt,
            Err(_) => Attempt::Failed {
                kind: FailureKind::Timeout,
                detail: match status.load(Ordering::Relaxed) {
                    NO_STATUS => format!(
                        "error sending request for url ({}): operation timed out",
                        url_text(req)
                    ),
                    status => format!(
                        "HTTP {status}, then: error reading a response body: operation timed out"
                    ),
                },
            },
        }
    }

    /// The request's head and body, without a deadline: `send` sets one. The response's
    /// status goes into `status` as soon as its head arrives.
    async fn exchange(&self, req: &Prepared, target: &Uri, status_seen: &AtomicU16) -> Attempt {
        let (sender, response) = match self.head(req, target).await {
            Ok(answer) => answer,
            Err((kind, why)) => {
                return Attempt::Failed {
                    kind,
                    detail: format!("error sending request for url ({}): {why}", url_text(req)),
                }
            }
        };
        let status = response.status().as_u16();
        status_seen.store(status, Ordering::Relaxed);
        // A retried DELETE whose first try went through answers 404: the line is gone, as asked.
        let success =
            response.status().is_success() || (req.method == Method::Delete && status == 404);
        let mut body = response.into_body();
        let limit = if success {
            MAX_SUCCESS_BODY
        } else {
            MAX_ERROR_BODY as u64
        };
        let mut kept = Vec::new();
        let keep = if success { 0 } else { MAX_ERROR_BODY };
        match read_body(&mut body, limit, &mut kept, keep).await {
            Ok(to_the_end) => {
                // Only a connection whose answer was read to its end can carry another.
                if to_the_end {
                    self.pool.give_back(sender);
                }
            }
            Err(e) => {
                return Attempt::Failed {
                    kind: body_error_kind(&e),
                    detail: format!(
                        "HTTP {status}, then: error reading a response body: {}",
                        error_chain(&e)
                    ),
                }
            }
        }
        if success {
            return Attempt::Success;
        }
        super::client::http_failure(req, status, &kept)
    }

    /// A connection (idle or new) and the response head of `req` on it. A request that an
    /// idle connection closed before taking is sent again on another: it was never written.
    async fn head(
        &self,
        req: &Prepared,
        target: &Uri,
    ) -> Result<(pool::Sender, hyper::Response<Incoming>), (FailureKind, String)> {
        let mut request = self.request(req, target);
        loop {
            let (mut sender, reused) = match self.pool.take().await {
                Some(sender) => (sender, true),
                // Boxed: a new connection is rare, and its TCP and TLS futures inline would
                // make every request's future (moved into its box) several times larger.
                None => (Box::pin(self.connect()).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((sender, response)),
                Err(mut unsent) => match unsent.take_message() {
                    Some(again) if reused => request = again,
                    _ => {
                        let error = unsent.into_error();
                        return Err((head_error_kind(&error), error_chain(&error)));
                    }
                },
            }
        }
    }

    async fn connect(&self) -> Result<pool::Sender, (FailureKind, String)> {
        let shared = &*self.shared;
        let connecting = pool::connect(&shared.origin, shared.tls.as_ref());
        match tokio::time::timeout(shared.connect_timeout, connecting).await {
            Ok(Ok(sender)) => Ok(sender),
            Ok(Err(e)) => {
                let kind = if is_tls_error(&e) {
                    FailureKind::Tls
                } else if matches!(e, pool::ConnectError::Handshake { .. }) {
                    FailureKind::Connection
                } else {
                    FailureKind::Connect
                };
                Err((kind, error_chain(&e)))
            }
            // As reqwest's connect timeout: a timeout, whatever phase it cut short.
            Err(_) => Err((
                FailureKind::Timeout,
                format!("connecting to {} timed out", shared.origin.authority),
            )),
        }
    }

    fn request(&self, req: &Prepared, target: &Uri) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(req.body.clone().unwrap_or_default()));
        *request.method_mut() = req.http_method();
        *request.uri_mut() = target.clone();
        *request.headers_mut() = match req.body {
            Some(_) => self.shared.json_headers.clone(),
            None => self.shared.headers.clone(),
        };
        request
    }
}

/// The headers reqwest's client adds to each request, in its order of precedence: `accept:
/// */*`, then the `--header` values (one per name, the last given wins, as reqwest's
/// `default_headers` inserts them), then the user agent; Host from the URL unless given.
fn default_headers(extra: &HeaderMap, host: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    for (name, value) in extra {
        headers.insert(name.clone(), value.clone());
    }
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("loadgen/", env!("CARGO_PKG_VERSION"))),
    );
    if let Ok(value) = HeaderValue::from_str(host) {
        headers.entry(HOST).or_insert(value);
    }
    headers
}

/// Reads a body to its end or past `limit` bytes, keeping its first `keep` bytes in `kept`;
/// true when the end was reached within the limit.
async fn read_body(
    body: &mut Incoming,
    limit: u64,
    kept: &mut Vec<u8>,
    keep: usize,
) -> Result<bool, hyper::Error> {
    let mut read = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        let room = keep.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
        read += data.len() as u64;
        if read > limit {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A failure before the response head: a malformed head is a bad response, the rest
/// (reset, closed before or during the answer) a broken connection.
fn head_error_kind(error: &hyper::Error) -> FailureKind {
    if is_tls_error(error) {
        FailureKind::Tls
    } else if error.is_parse() || error.is_parse_status() {
        FailureKind::BadResponse
    } else {
        FailureKind::Connection
    }
}

/// A failure while reading a body, as reqwest's body errors are classified: a bad response.
fn body_error_kind(error: &hyper::Error) -> FailureKind {
    if is_tls_error(error) {
        FailureKind::Tls
    } else {
        FailureKind::BadResponse
    }
}

fn url_text(req: &Prepared) -> &str {
    match &req.url {
        Ok(url) => url.as_str(),
        Err(text) => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ClientOptions {
        ClientOptions::default()
    }

    #[test]
    fn the_hot_path_keeps_reqwest_where_it_would_behave_differently() {
        let url = |s: &str| Url::parse(s).unwrap();
        let kept = |s: &str, proxy| Transport::for_url(&url(s), &options(), proxy).err();
        assert_eq!(kept("http://127.0.0.1:9", None), None);
        assert_eq!(kept("https://localhost:9/api", None), None);
        assert_eq!(
            kept("http://127.0.0.1:9", Some("HTTP_PROXY")),
            Some(Unsupported::Proxy("HTTP_PROXY"))
        );
        assert_eq!(
            kept("http://user:pw@127.0.0.1:9", None),
            Some(Unsupported::Credentials)
        );
        assert_eq!(
            kept("ftp://127.0.0.1:9", None),
            Some(Unsupported::Scheme("ftp".into()))
        );
    }

    #[test]
    fn host_header_and_precedence_follow_reqwest() {
        let mut extra = HeaderMap::new();
        extra.append("x-a", HeaderValue::from_static("1"));
        extra.append("x-a", HeaderValue::from_static("2"));
        extra.insert(USER_AGENT, HeaderValue::from_static("theirs"));
        extra.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let headers = default_headers(&extra, "api.example:8080");
        assert_eq!(headers.get_all("x-a").iter().collect::<Vec<_>>(), ["2"]);
        assert_eq!(
            headers[USER_AGENT],
            concat!("loadgen/", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(headers[ACCEPT], "application/json");
        assert_eq!(headers[HOST], "api.example:8080");
        let transport = Transport::for_url(
            &Url::parse("https://[::1]:443/x").unwrap(),
            &options(),
            None,
        )
        .unwrap();
        assert_eq!(transport.shared.headers[HOST], "[::1]");
        assert_eq!(transport.shared.origin.authority, "[::1]:443");
        assert_eq!(transport.shared.origin.ip, Some("::1".parse().unwrap()));
    }
}
