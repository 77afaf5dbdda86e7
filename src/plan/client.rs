//! The HTTP side of a plan: the headers every request carries (`--header`, the bearer token),
//! the extra trusted roots (`--ca-cert`), the values never printed or stored, and the clients
//! and the executor built from them.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::api::client::error_chain;
use crate::api::fetch::ApiReader;
use crate::api::probe::{ProbeOptions, ProbeStats};
use crate::api::{ClientOptions, FreshMartExecutor, RequestContext};
use crate::cli::{ApiArgs, AuthArgs};

/// Why the client cannot be set up. A header is named by its position, never echoed: a
/// malformed one may well be a credential.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    #[error("--header #{which}: use `Name: value`")]
    HeaderSyntax { which: usize },
    #[error("--header #{which}: the name is not a valid header name")]
    HeaderName { which: usize },
    #[error("--header #{which} ({name}): the value is not a valid header value")]
    HeaderValue { which: usize, name: HeaderName },
    #[error("LOADGEN_API_TOKEN is not a valid header value")]
    Token,
    #[error("cannot read --ca-cert {}", path.display())]
    ReadCaCert {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--ca-cert {} is not a PEM certificate", path.display())]
    NotPem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("--ca-cert {}: no certificate in the file", path.display())]
    NoCertificate { path: PathBuf },
    /// reqwest's own message says little ("builder error"), so the whole chain is kept.
    #[error("cannot set up the HTTP client{ca}: {chain}")]
    Client { ca: String, chain: String },
}

/// The headers every request carries: `--header` values and the bearer token. Values are
/// marked sensitive so that reqwest never shows them in debug output.
pub fn request_headers(auth: &AuthArgs) -> Result<HeaderMap, ClientSetupError> {
    let mut headers = HeaderMap::new();
    for (position, raw) in auth.headers.iter().enumerate() {
        let which = position + 1;
        let (name, value) = raw
            .split_once(':')
            .ok_or(ClientSetupError::HeaderSyntax { which })?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ClientSetupError::HeaderName { which })?;
        let mut value = match HeaderValue::from_str(value.trim()) {
            Ok(value) => value,
            Err(_) => return Err(ClientSetupError::HeaderValue { which, name }),
        };
        value.set_sensitive(true);
        headers.append(name, value);
    }
    if let Some(token) = auth.api_token.as_deref().filter(|t| !t.is_empty()) {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| ClientSetupError::Token)?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    Ok(headers)
}

/// Extra trusted roots (`--ca-cert`): every certificate of the PEM file (other sections, such
/// as a key, are skipped, as reqwest's `Certificate::from_pem_bundle` does), as DER.
pub fn root_certificates(
    auth: &AuthArgs,
) -> Result<Vec<CertificateDer<'static>>, ClientSetupError> {
    let Some(path) = &auth.ca_cert else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(path).map_err(|source| ClientSetupError::ReadCaCert {
        path: path.clone(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ClientSetupError::NotPem {
            path: path.clone(),
            source,
        })?;
    if certs.is_empty() {
        return Err(ClientSetupError::NoCertificate { path: path.clone() });
    }
    Ok(certs)
}

/// The values that must never be printed or stored: header values, the token, and the
/// credentials of the API URL.
pub fn secrets(auth: &AuthArgs, api_url: &str) -> Vec<String> {
    let mut out: Vec<String> = auth
        .headers
        .iter()
        .filter_map(|h| h.split_once(':').map(|(_, v)| v.trim().to_string()))
        .filter(|v| v.len() >= 4)
        .collect();
    if let Some(token) = auth.api_token.as_deref().filter(|t| !t.is_empty()) {
        out.push(token.to_string());
    }
    out.extend(crate::units::url_credentials(api_url));
    out
}

/// A client for one-off calls (health, world snapshots, verify) with the user's headers.
pub fn plain_client(
    auth: &AuthArgs,
    timeout: Duration,
) -> Result<reqwest::Client, ClientSetupError> {
    let setup_error = |e: reqwest::Error| ClientSetupError::Client {
        ca: auth
            .ca_cert
            .as_ref()
            .map(|p| format!(" (--ca-cert {})", p.display()))
            .unwrap_or_default(),
        chain: error_chain(&e),
    };
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .default_headers(request_headers(auth)?);
    for cert in root_certificates(auth)? {
        builder = builder
            .add_root_certificate(reqwest::Certificate::from_der(&cert).map_err(setup_error)?);
    }
    builder.build().map_err(setup_error)
}

/// The reader every GET of the API goes through (health, world, verify), with retries.
pub fn api_reader(
    auth: &AuthArgs,
    api_url: &str,
    timeout: Duration,
    retries: u32,
) -> Result<ApiReader, ClientSetupError> {
    Ok(ApiReader::new(
        plain_client(auth, timeout)?,
        api_url,
        retries,
        secrets(auth, api_url),
    ))
}

/// The executor `replay` and `start` send with: the API flags, the user's headers, and a
/// connection pool as large as the concurrency.
pub fn executor(
    api: &ApiArgs,
    context: RequestContext,
    concurrency: usize,
    verbose: bool,
) -> Result<FreshMartExecutor, ClientSetupError> {
    let options = ClientOptions {
        timeout: api.timeout(),
        retries: api.retries(),
        pool_size: concurrency,
        log_failures: verbose,
        headers: request_headers(&api.auth)?,
        root_certificates: root_certificates(&api.auth)?,
        secrets: secrets(&api.auth, &api.api_url),
        ..ClientOptions::default()
    };
    FreshMartExecutor::new(&api.api_url, context, options).map_err(|e| ClientSetupError::Client {
        ca: String::new(),
        chain: error_chain(&e),
    })
}

/// `executor`, with the propagation probes `probes` asks for, and what they see.
pub fn executor_with_probes(
    api: &ApiArgs,
    context: RequestContext,
    concurrency: usize,
    verbose: bool,
    probes: Option<ProbeOptions>,
) -> Result<(FreshMartExecutor, Option<std::sync::Arc<ProbeStats>>), ClientSetupError> {
    let executor = executor(api, context, concurrency, verbose)?;
    Ok(match probes {
        Some(options) => {
            let (executor, stats) = executor.with_probes(options);
            (executor, Some(stats))
        }
        None => (executor, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(headers: &[&str], token: Option<&str>) -> AuthArgs {
        AuthArgs {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            api_token: token.map(str::to_string),
            ..AuthArgs::default()
        }
    }

    #[test]
    fn headers_are_sensitive_and_the_token_is_a_bearer() {
        let headers = request_headers(&auth(&["X-Tenant: blue", "X-A:1"], Some("s3cret"))).unwrap();
        assert_eq!(headers["x-tenant"], "blue");
        assert_eq!(headers["x-a"], "1");
        assert_eq!(headers[AUTHORIZATION], "Bearer s3cret");
        assert!(headers.values().all(HeaderValue::is_sensitive));
    }

    #[test]
    fn a_bad_header_is_named_by_position_and_never_echoed() {
        let cases = [
            (
                vec!["Good: 1", "no colon here"],
                "--header #2: use `Name: value`",
            ),
            (
                vec!["Bad Name: v"],
                "--header #1: the name is not a valid header name",
            ),
            (
                vec!["X-Ok: fine\u{7f}tok"],
                "--header #1 (x-ok): the value is not a valid header value",
            ),
        ];
        for (headers, expected) in cases {
            let err = request_headers(&auth(&headers, None)).unwrap_err();
            assert_eq!(err.to_string(), expected, "{headers:?}");
            assert!(!err.to_string().contains("tok"), "{err}");
        }
        let err = request_headers(&auth(&[], Some("line\nbreak"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "LOADGEN_API_TOKEN is not a valid header value"
        );
    }

    #[test]
    fn secrets_are_header_values_of_four_bytes_or_more_the_token_and_url_credentials() {
        let found = secrets(
            &auth(&["X-Key: abcd", "X-Short: abc"], Some("tok")),
            "http://user:pa55@127.0.0.1:1",
        );
        assert!(found.contains(&"abcd".to_string()), "{found:?}");
        assert!(!found.contains(&"abc".to_string()), "{found:?}");
        assert!(found.contains(&"tok".to_string()), "{found:?}");
        assert!(found.iter().any(|s| s.contains("pa55")), "{found:?}");
    }

    #[test]
    fn a_ca_cert_that_is_missing_or_empty_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let with = |path: &std::path::Path| AuthArgs {
            ca_cert: Some(path.to_path_buf()),
            ..AuthArgs::default()
        };
        let err = root_certificates(&with(&missing)).unwrap_err();
        assert!(
            matches!(err, ClientSetupError::ReadCaCert { .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("cannot read --ca-cert {}", missing.display())
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = root_certificates(&with(&empty)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("--ca-cert {}: no certificate in the file", empty.display())
        );
    }
}
