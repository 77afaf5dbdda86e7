//! The replay's own HTTP/1.1 connections (`api::transport`) against scripted servers on
//! 127.0.0.1: keep-alive reuse, closing past the drain limit, an idle connection the server
//! closed, broken answers, a timeout over a slow body, the bytes of the request head, and
//! https with an extra trusted root. Every server answers a bounded script; every wait is
//! bounded by the client's own timeout or an explicit one.

mod common;
#[path = "common/rawhttp.rs"]
mod rawhttp;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loadgen::api::client::Attempt;
use loadgen::api::prepared::{Endpoint, Prepared};
use loadgen::api::transport::Transport;
use loadgen::api::{ApiRequest, ClientOptions, FreshMartExecutor, Method};
use loadgen::event::{Action, CustomerRef, Event, Line, NewOrder};
use loadgen::metrics::EventResult;
use loadgen::outcome::FailureKind;
use loadgen::replay::{Executor, StopFlag};
use loadgen::sim::time::SimTime;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What the server does with request number `n` (from 0, over all connections).
#[derive(Clone)]
enum Reply {
    /// Writes these bytes, then reads the next request on the connection, or closes it.
    Write { bytes: Vec<u8>, close: bool },
    /// A 200 head announcing 1000 bytes, then one byte every `every`, forever.
    Trickle { every: Duration },
}

fn answer(status: u16, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn keep(bytes: Vec<u8>) -> Reply {
    Reply::Write {
        bytes,
        close: false,
    }
}

/// What the server saw.
#[derive(Default)]
struct Seen {
    connections: usize,
    /// Each request's head, as sent.
    heads: Vec<String>,
    bodies: Vec<Vec<u8>>,
    /// The ALPN protocol each TLS connection agreed on.
    alpn: Vec<Option<Vec<u8>>>,
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    /// Notified each time the server has closed a connection.
    closed: Arc<Notify>,
}

type Script = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

/// Serves HTTP/1.1 requests (head, then a content-length body) on `stream` by `script`.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    seen: Arc<Mutex<Seen>>,
    script: Script,
    closed: Arc<Notify>,
) {
    let mut buffer = Vec::new();
    loop {
        let Some((head, body)) = rawhttp::read_raw_request(&mut stream, &mut buffer).await else {
            return;
        };
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.heads.push(head);
            seen.bodies.push(body);
            seen.heads.len() - 1
        };
        match script(n) {
            Reply::Write { bytes, close } => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
                if close {
                    let _ = stream.shutdown().await;
                    drop(stream);
                    closed.notify_one();
                    return;
                }
            }
            Reply::Trickle { every } => {
                let head = "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                // Ends when the client goes away (the write fails), or after 1000 bytes.
                for _ in 0..1000 {
                    tokio::time::sleep(every).await;
                    if stream.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

async fn server(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let closed = Arc::new(Notify::new());
    let script: Script = Arc::new(script);
    let (state, notify) = (seen.clone(), closed.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            state.lock().unwrap().connections += 1;
            tokio::spawn(serve(stream, state.clone(), script.clone(), notify.clone()));
        }
    });
    Server { addr, seen, closed }
}

fn put_request() -> ApiRequest {
    ApiRequest {
        method: Method::Put,
        path: "/triples/batch?validate=true".into(),
        body: Some(r#"[{"subject_id":"order:LG-t-000001","predicate":"order_status","object_value":"PICKING","object_type":"string"}]"#.into()),
    }
}

fn options(timeout: Duration) -> ClientOptions {
    ClientOptions {
        timeout,
        retries: 2,
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(4),
        ..ClientOptions::default()
    }
}

/// A transport to `url` and the PUT it sends.
fn transport(url: &str, options: &ClientOptions) -> (Transport, Prepared) {
    let endpoint = Endpoint::new(url);
    let transport = Transport::new(&endpoint, options)
        .expect("the replay's own connections (is a proxy set in the environment?)");
    (transport, Prepared::new(&endpoint, put_request()))
}

fn failed(attempt: Attempt) -> (FailureKind, String) {
    match attempt {
        Attempt::Failed { kind, detail } => (kind, detail),
        Attempt::Success => panic!("expected a failure"),
    }
}

#[tokio::test]
async fn a_keep_alive_connection_is_reused() {
    let s = server(|_| keep(answer(201, b"[]"))).await;
    let (transport, put) = transport(&format!("http://{}", s.addr), &options(secs(10)));
    for _ in 0..5 {
        assert_eq!(transport.send(&put).await, Attempt::Success);
    }
    let seen = s.seen.lock().unwrap();
    assert_eq!(seen.heads.len(), 5);
    assert_eq!(seen.connections, 1, "five requests, one connection");
}

#[tokio::test]
async fn an_error_answer_read_to_its_end_keeps_the_connection() {
    let body = br#"{"detail":{"errors":[{"error_type":"unknown_predicate","msg":"x"}]}}"#;
    let s = server(move |n| {
        keep(if n == 0 {
            answer(400, body)
        } else {
            answer(201, b"[]")
        })
    })
    .await;
    let (transport, put) = transport(&format!("http://{}", s.addr), &options(secs(10)));
    let (kind, detail) = failed(transport.send(&put).await);
    assert_eq!(kind.to_string(), "http_400:unknown_predicate");
    assert!(
        detail.starts_with("PUT /triples/batch?validate=true -> 400: {\"detail\""),
        "{detail}"
    );
    assert_eq!(transport.send(&put).await, Attempt::Success);
    assert_eq!(s.seen.lock().unwrap().connections, 1);
}

#[tokio::test]
async fn a_body_past_the_drain_limit_closes_the_connection() {
    // 4 MiB is the most of a success body that is drained; this one is larger.
    let big = vec![b'7'; 5 * 1024 * 1024];
    let s = server(move |_| keep(answer(200, &big))).await;
    let (transport, put) = transport(&format!("http://{}", s.addr), &options(secs(20)));
    for _ in 0..2 {
        assert_eq!(transport.send(&put).await, Attempt::Success);
    }
    let seen = s.seen.lock().unwrap();
    assert_eq!(seen.heads.len(), 2);
    assert_eq!(seen.connections, 2, "the unread rest is not waited for");
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_not_used_again() {
    let s = server(|_| Reply::Write {
        bytes: answer(201, b"[]"),
        close: true,
    })
    .await;
    let (transport, put) = transport(&format!("http://{}", s.addr), &options(secs(10)));
    for round in 1..=3 {
        assert_eq!(
            transport.send(&put).await,
            Attempt::Success,
            "round {round}"
        );
        // The server has hung up before the next request goes out.
        tokio::time::timeout(secs(10), s.closed.notified())
            .await
            .expect("the server closed the connection");
    }
    let seen = s.seen.lock().unwrap();
    assert_eq!((seen.heads.len(), seen.connections), (3, 3));
}

#[tokio::test]
async fn an_answer_cut_short_is_a_bad_response_or_a_broken_connection() {
    let s = server(|n| match n % 2 {
        // Closed after the request, no answer at all.
        0 => Reply::Write {
            bytes: Vec::new(),
            close: true,
        },
        // A head announcing 1000 bytes, 10 of them, then closed.
        _ => Reply::Write {
            bytes: b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789".to_vec(),
            close: true,
        },
    })
    .await;
    let (transport, put) = transport(&format!("http://{}", s.addr), &options(secs(10)));
    let (kind, detail) = failed(transport.send(&put).await);
    assert_eq!(kind, FailureKind::Connection, "{detail}");
    assert!(
        detail.starts_with(&format!(
            "error sending request for url (http://{}/triples/batch?validate=true): ",
            s.addr
        )),
        "{detail}"
    );
    let (kind, detail) = failed(transport.send(&put).await);
    assert_eq!(kind, FailureKind::BadResponse, "{detail}");
    assert!(detail.starts_with("HTTP 200, then: "), "{detail}");
    assert_eq!(s.seen.lock().unwrap().connections, 2);
}

#[tokio::test]
async fn a_malformed_answer_is_a_bad_response() {
    let s = server(|_| Reply::Write {
        bytes: b"HTTP/1.1 two hundred\r\n\r\n".to_vec(),
        close: true,
    })
    .await;
    let (transport, put) = transport(&format!("http://{}", s.addr), &options(secs(10)));
    let (kind, detail) = failed(transport.send(&put).await);
    assert_eq!(kind, FailureKind::BadResponse, "{detail}");
}

fn order_event() -> Event {
    Event {
        at: SimTime(0),
        action: Action::NewOrder(NewOrder {
            order: 3,
            customer: CustomerRef::Existing(0),
            store: 0,
            window_start_min: 60,
            window_len_min: 60,
            lines: vec![Line {
                seq: 1,
                product: 0,
                quantity: 2,
            }],
            total_cents: 1_777,
        }),
    }
}

#[tokio::test]
async fn broken_answers_are_retried_and_the_event_fails_as_before() {
    // Every answer cut short: one try, two retries, then a failure of the last kind.
    let s = server(|_| Reply::Write {
        bytes: b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789".to_vec(),
        close: true,
    })
    .await;
    let context = common::request_context(
        loadgen::world::builtin_world(),
        Some("t"),
        common::DEFAULT_START,
    );
    let executor =
        FreshMartExecutor::new(&format!("http://{}", s.addr), context, options(secs(10))).unwrap();
    assert!(executor.uses_own_connections());
    let done = executor
        .execute(0, order_event(), StopFlag::default())
        .await;
    match &done.result {
        EventResult::Failure { kind, detail } => {
            assert_eq!(*kind, FailureKind::BadResponse, "{detail}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!((done.requests, done.retries), (3, 2));
    assert_eq!(s.seen.lock().unwrap().heads.len(), 3);
}

#[tokio::test]
async fn the_timeout_covers_a_slow_body() {
    let s = server(|_| Reply::Trickle {
        every: Duration::from_millis(50),
    })
    .await;
    let (transport, put) = transport(&format!("http://{}", s.addr), &options(secs_f(0.5)));
    let started = std::time::Instant::now();
    let (kind, detail) = failed(transport.send(&put).await);
    let took = started.elapsed();
    assert_eq!(kind, FailureKind::Timeout, "{detail}");
    assert!(detail.starts_with("HTTP 200, then: "), "{detail}");
    // 1000 bytes at one per 50 ms would take 50 s: the timeout ended it.
    assert!(took >= secs_f(0.5) && took < secs(5), "{took:?}");
}

#[tokio::test]
async fn the_request_head_carries_the_user_agent_and_the_configured_headers() {
    let s = server(|_| keep(answer(201, b"[]"))).await;
    let mut options = options(secs(10));
    options
        .headers
        .insert("x-tenant", http::HeaderValue::from_static("blue"));
    options.headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_static("Bearer s3cret"),
    );
    let (transport, put) = transport(&format!("http://{}", s.addr), &options);
    assert_eq!(transport.send(&put).await, Attempt::Success);
    let endpoint = Endpoint::new(&format!("http://{}", s.addr));
    let delete = Prepared::new(
        &endpoint,
        ApiRequest {
            method: Method::Delete,
            path: "/triples/subjects/orderline:LG-t-000001-01".into(),
            body: None,
        },
    );
    assert_eq!(transport.send(&delete).await, Attempt::Success);
    let seen = s.seen.lock().unwrap();
    let body = put_request().body.unwrap();
    let lines = |head: &str| -> Vec<String> { head.split("\r\n").map(str::to_string).collect() };
    let mut put_head = lines(&seen.heads[0]);
    assert_eq!(
        put_head.remove(0),
        "PUT /triples/batch?validate=true HTTP/1.1"
    );
    // The order too: reqwest's defaults, the configured headers in their order, then the
    // body's type and length last (where hyper appends the length).
    let names: Vec<&str> = put_head
        .iter()
        .filter_map(|line| line.split(':').next())
        .filter(|name| !name.is_empty())
        .collect();
    assert_eq!(
        names,
        [
            "accept",
            "x-tenant",
            "authorization",
            "user-agent",
            "host",
            "content-type",
            "content-length"
        ]
    );
    put_head.sort();
    let mut expected = vec![
        "accept: */*".to_string(),
        "authorization: Bearer s3cret".to_string(),
        format!("content-length: {}", body.len()),
        "content-type: application/json".to_string(),
        format!("host: {}", s.addr),
        format!("user-agent: loadgen/{}", env!("CARGO_PKG_VERSION")),
        "x-tenant: blue".to_string(),
    ];
    expected.sort();
    assert_eq!(put_head, expected);
    assert_eq!(seen.bodies[0], body.as_bytes(), "the body, byte for byte");
    let mut delete_head = lines(&seen.heads[1]);
    assert_eq!(
        delete_head.remove(0),
        "DELETE /triples/subjects/orderline:LG-t-000001-01 HTTP/1.1"
    );
    assert!(
        !delete_head.iter().any(|l| l.starts_with("content-")),
        "a request without a body names none: {delete_head:?}"
    );
    assert_eq!(seen.connections, 1);
}

// ---------------------------------------------------------------------------------------------
// https
// ---------------------------------------------------------------------------------------------

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;

/// A private CA's certificate, and an https server on 127.0.0.1 with a certificate it signed
/// for localhost and 127.0.0.1, offering h2 and http/1.1.
async fn tls_server(
    script: impl Fn(usize) -> Reply + Send + Sync + 'static,
) -> (Server, CertificateDer<'static>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "transport test CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let closed = Arc::new(Notify::new());
    let script: Script = Arc::new(script);
    let (state, notify) = (seen.clone(), closed.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            state.lock().unwrap().connections += 1;
            let (acceptor, state, script, notify) = (
                acceptor.clone(),
                state.clone(),
                script.clone(),
                notify.clone(),
            );
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                if let Ok(tls) = acceptor.accept(stream).await {
                    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                    state.lock().unwrap().alpn.push(alpn);
                    serve(tls, state, script, notify).await;
                }
            });
        }
    });
    (Server { addr, seen, closed }, ca.der().clone())
}

#[tokio::test]
async fn https_trusts_an_extra_root_and_speaks_http1_only() {
    let (s, ca) = tls_server(|_| keep(answer(201, b"[]"))).await;
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}", s.addr.port());
        let trusting = ClientOptions {
            root_certificates: vec![ca.clone()],
            ..options(secs(10))
        };
        let (trusted, put) = transport(&url, &trusting);
        for _ in 0..3 {
            assert_eq!(trusted.send(&put).await, Attempt::Success, "{url}");
        }
        // Not trusted without it: a TLS failure, the certificate named, nothing sent.
        let (untrusting, put) = transport(&url, &options(secs(10)));
        let (kind, detail) = failed(untrusting.send(&put).await);
        assert_eq!(kind, FailureKind::Tls, "{detail}");
        assert!(detail.contains("certificate"), "{detail}");
    }
    let seen = s.seen.lock().unwrap();
    assert_eq!(
        seen.heads.len(),
        6,
        "three requests by name, three by address"
    );
    assert_eq!(
        seen.connections, 4,
        "one kept-alive connection each, and two refused"
    );
    assert_eq!(
        seen.alpn,
        vec![Some(b"http/1.1".to_vec()); 2],
        "the server offered h2 as well"
    );
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn secs_f(n: f64) -> Duration {
    Duration::from_secs_f64(n)
}
