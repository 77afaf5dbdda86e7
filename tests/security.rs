//! Credentials and transport: `LOADGEN_API_TOKEN` and `--header` reach the API on every
//! request (replay, health, verify) and appear nowhere else (console, report, checkpoint),
//! also with `--verbose` and when the server fails; a malformed `--header` is bad usage
//! (exit 2) and sends nothing; https works with `--ca-cert` for a private CA and is refused
//! without it.
//!
//! The servers are raw tokio sockets in the test (`common/rawhttp.rs`; the stub does not
//! record headers), the https one behind tokio-rustls with an rcgen CA, all on 127.0.0.1.

#[path = "common/harness.rs"]
mod harness;
#[path = "common/rawhttp.rs"]
mod rawhttp;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use harness::{float, json, num, Run};
use rawhttp::{RawServer, Reply};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;

const TOKEN: &str = "s3cr3t-token";
/// A second secret, in a `--header` value (which the CLI promises never to print or store).
const HEADER_SECRET: &str = "k3y-v4lue-9f2";

fn token_env() -> [(&'static str, &'static str); 1] {
    [("LOADGEN_API_TOKEN", TOKEN)]
}

/// Fails if any file under `dir` (reports, checkpoint, its log, the runs' captured stdout and
/// stderr) or `runs`' output holds a secret.
fn assert_no_secret(dir: &Path, runs: &[&Run]) {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if !path.is_file() || path.extension().is_some_and(|e| e == "trace") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        for secret in [TOKEN, HEADER_SECRET] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret `{secret}`:\n{}",
                path.display(),
                String::from_utf8_lossy(&bytes)
            );
        }
        checked += 1;
    }
    assert!(checked > 0);
    for run in runs {
        for secret in [TOKEN, HEADER_SECRET] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "loadgen {:?} shows `{secret}`:\n{}\n{}",
                run.args,
                run.stdout,
                run.stderr
            );
        }
    }
}

/// A server answering writes with `reply`, and a 3-minute demo trace (22 events) beside it.
fn server_and_trace(reply: Reply) -> (tokio::runtime::Runtime, RawServer, tempfile::TempDir) {
    let rt = harness::runtime();
    let server = rt.block_on(rawhttp::spawn(reply));
    let dir = tempfile::tempdir().expect("temp dir");
    harness::simulate(dir.path(), "t.trace", "3m", 5);
    (rt, server, dir)
}

fn replay_with_secrets(dir: &Path, url: &str, extra: &[&str]) -> Run {
    let secret_header = format!("X-Api-Key: {HEADER_SECRET}");
    let mut args = harness::replay_args(url, "sec", "max");
    args.extend_from_slice(&["--header", "X-Test: hello", "--header", &secret_header]);
    args.push("--verbose");
    args.extend_from_slice(extra);
    harness::loadgen(dir, &args, &token_env())
}

#[test]
fn the_token_and_headers_reach_the_api_and_nothing_else() {
    let (_rt, server, dir) = server_and_trace(Reply::Status {
        status: 201,
        body: b"[]".to_vec(),
    });
    let url = server.url();
    let replay = replay_with_secrets(dir.path(), &url, &[]);
    replay.expect_code(0);
    let report = json(&dir.path().join("r.json"));
    assert_eq!(float(&report, "/success_rate"), 1.0);
    let writes = server.shared.writes().len() as u64;
    assert_eq!(num(&report, "/requests"), writes);
    assert!(writes > 0);

    // `health` and `verify` send them too (verify's reads get nonsense and fail: exit 1).
    let health = harness::loadgen(
        dir.path(),
        &["health", &url, "--header", "X-Test: hello"],
        &token_env(),
    );
    health.expect_code(0);
    let verify = harness::loadgen(
        dir.path(),
        &[
            "verify",
            "t.trace",
            "--api-url",
            &url,
            "--run-id",
            "sec",
            "--header",
            "X-Test: hello",
        ],
        &token_env(),
    );
    verify.expect_code(1);

    let requests = server.shared.requests();
    let gets = requests.iter().filter(|r| r.method == "GET").count();
    assert!(gets > 4, "health checks and verify's reads: {gets}");
    for request in &requests {
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(
            request.header("authorization"),
            Some(bearer.as_str()),
            "{} {}",
            request.method,
            request.path
        );
        assert_eq!(request.header("x-test"), Some("hello"), "{}", request.path);
    }
    // The replay's requests (its health checks and writes) also carry the second header.
    let with_key = requests
        .iter()
        .filter(|r| r.header("x-api-key") == Some(HEADER_SECRET))
        .count() as u64;
    assert_eq!(with_key, writes + 2);
    assert_no_secret(dir.path(), &[&replay, &health, &verify]);
}

#[test]
fn the_token_is_not_shown_when_the_server_fails() {
    let (_rt, server, dir) = server_and_trace(Reply::Status {
        status: 500,
        body: br#"{"detail":"database exploded"}"#.to_vec(),
    });
    let replay = replay_with_secrets(dir.path(), &server.url(), &["--retries", "1"]);
    replay.expect_code(1);
    // --verbose printed every failure.
    assert!(replay.stderr.contains("http_500"), "{}", replay.stderr);
    let report = json(&dir.path().join("r.json"));
    assert!(num(&report, "/events/failed") > 0);
    assert!(dir.path().join("r.json.checkpoint").exists());

    // Unreachable: the health gate fails (exit 1) with the URL in the message.
    let closed = harness::closed_url();
    let unreachable = replay_with_secrets(dir.path(), &closed, &[]);
    unreachable.expect_code(1);
    assert_no_secret(dir.path(), &[&replay, &unreachable]);
}

#[test]
fn the_token_is_not_shown_when_the_server_echoes_it() {
    let (_rt, server, dir) = server_and_trace(Reply::EchoHeaders { status: 400 });
    let replay = replay_with_secrets(dir.path(), &server.url(), &[]);
    replay.expect_code(1);
    assert_no_secret(dir.path(), &[&replay]);
}

#[test]
fn a_malformed_header_is_bad_usage_and_sends_nothing() {
    let (_rt, server, dir) = server_and_trace(Reply::Status {
        status: 201,
        body: b"[]".to_vec(),
    });
    let url = server.url();
    for header in [
        "X-Test hello",
        "Bad Name: v",
        ": v",
        "X-Test: a\nb",
        "X-Test: \u{7f}",
    ] {
        for command in [
            vec!["health", &url, "--header", header],
            vec![
                "replay",
                "t.trace",
                "--api-url",
                &url,
                "--speed",
                "max",
                "--header",
                header,
            ],
        ] {
            let run = harness::loadgen(dir.path(), &command, &[]);
            run.expect_code(2);
            assert!(
                run.stderr.contains("--header"),
                "{header:?}: {}",
                run.stderr
            );
        }
    }
    // A token that is no valid header value is refused without being shown.
    let bad_token = "s3cr3t\ntoken";
    let run = harness::loadgen(
        dir.path(),
        &["health", &url],
        &[("LOADGEN_API_TOKEN", bad_token)],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("LOADGEN_API_TOKEN"), "{}", run.stderr);
    assert!(!run.stderr.contains("s3cr3t"), "{}", run.stderr);
    assert!(
        server.shared.requests().is_empty(),
        "nothing is sent with bad headers"
    );
}

#[test]
fn a_malformed_header_is_not_echoed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let header = format!("Authorization Bearer {TOKEN}");
    let run = harness::loadgen(
        dir.path(),
        &["health", "http://127.0.0.1:9", "--header", &header],
        &[],
    );
    run.expect_code(2);
    assert!(!run.stderr.contains(TOKEN), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------------
// https
// ---------------------------------------------------------------------------------------------

/// A private CA and a server certificate it signed for localhost and 127.0.0.1.
struct Pki {
    ca_pem: String,
    chain: Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
    key: Vec<u8>,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA")
}

fn pki() -> Pki {
    let ca = ca("loadgen test CA");
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca).expect("server certificate");
    Pki {
        ca_pem: ca.pem(),
        chain: vec![cert.der().clone(), ca.der().clone()],
        key: key.serialize_der(),
    }
}

/// An https server (TLS 1.2/1.3 via rustls) in front of the raw HTTP server's behaviour.
async fn spawn_tls(pki: &Pki, reply: Reply) -> (SocketAddr, Arc<rawhttp::Shared>) {
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            pki.chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone())),
        )
        .expect("server TLS config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shared = rawhttp::Shared::new(reply);
    let state = shared.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let state = state.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                if let Ok(tls) = acceptor.accept(stream).await {
                    rawhttp::serve(tls, state).await;
                }
            });
        }
    });
    (addr, shared)
}

#[test]
fn https_with_a_private_ca_needs_ca_cert() {
    let rt = harness::runtime();
    let pki = pki();
    let (addr, shared) = rt.block_on(spawn_tls(
        &pki,
        Reply::Status {
            status: 201,
            body: b"[]".to_vec(),
        },
    ));
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(d.join("ca.pem"), &pki.ca_pem).expect("write ca.pem");
    std::fs::write(d.join("other-ca.pem"), ca("another CA").pem()).expect("write other CA");
    let by_name = format!("https://localhost:{}", addr.port());
    let by_ip = format!("https://127.0.0.1:{}", addr.port());

    for url in [&by_name, &by_ip] {
        let trusted = harness::loadgen(d, &["health", url, "--ca-cert", "ca.pem"], &[]);
        trusted.expect_code(0);
        assert!(
            trusted.stdout.contains("API is healthy"),
            "{}",
            trusted.stdout
        );
    }
    let answered = shared.requests().len();
    assert_eq!(answered, 4, "two health checks by name, two by address");

    // Not trusted: no CA given, or another one. The handshake fails, nothing is sent.
    for extra in [&[][..], &["--ca-cert", "other-ca.pem"][..]] {
        let mut args = vec!["health", by_name.as_str()];
        args.extend_from_slice(extra);
        let refused = harness::loadgen(d, &args, &[]);
        refused.expect_code(1);
        assert!(
            refused.stdout.contains("API health check failed"),
            "{}",
            refused.stdout
        );
    }
    assert_eq!(shared.requests().len(), answered);

    // A --ca-cert that cannot be read is bad input.
    let run = harness::loadgen(d, &["health", &by_name, "--ca-cert", "missing.pem"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("missing.pem"), "{}", run.stderr);

    // The replay's client trusts it too.
    harness::simulate(d, "t.trace", "3m", 5);
    let replay = harness::loadgen(
        d,
        &[
            "replay",
            "t.trace",
            "--api-url",
            &by_name,
            "--ca-cert",
            "ca.pem",
            "--speed",
            "max",
            "--report",
            "r.json",
        ],
        &[],
    );
    replay.expect_code(0);
    let report = json(&d.join("r.json"));
    assert_eq!(float(&report, "/success_rate"), 1.0);
    let writes = shared.writes().len() as u64;
    assert!(writes > 0);
    assert_eq!(num(&report, "/requests"), writes);
}

/// An https server with the test PKI, its URL by name, and a directory holding `ca.pem`.
fn tls_setup() -> (tokio::runtime::Runtime, String, tempfile::TempDir) {
    let rt = harness::runtime();
    let pki = pki();
    let (addr, _) = rt.block_on(spawn_tls(
        &pki,
        Reply::Status {
            status: 201,
            body: b"[]".to_vec(),
        },
    ));
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("write ca.pem");
    (rt, format!("https://localhost:{}", addr.port()), dir)
}

#[test]
fn a_ca_cert_that_is_not_pem_is_bad_input() {
    let (_rt, url, dir) = tls_setup();
    std::fs::write(dir.path().join("not.pem"), "this is not a certificate\n").expect("write");
    std::fs::write(dir.path().join("empty.pem"), "").expect("write");
    for bad in ["not.pem", "empty.pem"] {
        let run = harness::loadgen(dir.path(), &["health", &url, "--ca-cert", bad], &[]);
        run.expect_code(2);
        assert!(run.stderr.contains(bad), "{}", run.stderr);
    }
}

#[test]
fn an_untrusted_certificate_is_reported_as_such() {
    let (_rt, url, dir) = tls_setup();
    let run = harness::loadgen(dir.path(), &["health", &url], &[]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("certificate"),
        "the message should name the certificate problem:\n{}",
        run.stdout
    );
    assert!(!run.stdout.contains("connection refused"), "{}", run.stdout);
    // Recognised as TLS from the error's source chain (a `rustls::Error`), not from its words.
    assert!(
        run.stdout.contains("TLS error talking to"),
        "{}",
        run.stdout
    );
}
