//! One module per subcommand: glue from parsed arguments to the core. Errors are `anyhow`
//! here, classed by `crate::error::CommandError`; `main` maps the class to the exit code.

mod cleanup;
mod compare;
mod docs;
mod export;
mod health;
mod inspect;
mod merge;
mod profiles;
mod replay;

mod report;
mod session;
mod simulate;
mod start;
mod verify;
mod world;

use anyhow::Context;

use crate::cli::{Cli, Command};

/// A runtime for the commands that talk to the API but do not replay: one worker thread for
/// the requests, plus the calling thread.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?)
}

/// The runtime of a replay with `threads` dispatchers: a current-thread runtime on the
/// calling thread, whatever `threads` is. `--threads 1` runs its one dispatcher there, with
/// its events' tasks, their connections, the clock and the aggregator: one thread does it
/// all, and nothing is handed to another thread per event. With more, the calling thread
/// routes the source and aggregates while each dispatcher runs on a thread of its own
/// (`replay::run`). A multi-thread runtime under one dispatcher spent its CPU on the
/// hand-offs (futex wake-ups, idle workers woken to steal): BENCHMARKS.md, "Thread-per-core
/// dispatchers".
pub fn runtime_for(_threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub use crate::session::stamp;

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Profiles(args) => profiles::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Export(args) => export::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Health(args) => health::run(args),
        Command::Start(args) => start::run(args),
        Command::Verify(args) => verify::run(args),
        Command::World(args) => world::run(args),
        Command::Completions(args) => docs::completions(args),
        Command::Man(args) => docs::man(args),
        Command::Cleanup(args) => cleanup::run(args),
        Command::Report(args) => report::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Merge(args) => merge::run(args),
    }
}

/// True when `err` is a closed pipe (`loadgen export t | head`), which counts as success.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<csv::Error>()
                .is_some_and(|e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe))
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// The profile a command asked for: a file if given, else a built-in by name.
pub fn load_profile(
    choice: &crate::cli::ProfileChoice,
) -> anyhow::Result<crate::profile::LoadProfile> {
    Ok(match &choice.profile_file {
        Some(path) => crate::profile::LoadProfile::from_file(path)?,
        None => crate::profile::LoadProfile::named(&choice.profile)?,
    })
}

/// The headers every request carries: `--header` values and the bearer token. Values are
/// marked sensitive so that reqwest never shows them in debug output.
pub fn request_headers(auth: &crate::cli::AuthArgs) -> anyhow::Result<reqwest::header::HeaderMap> {
    use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
    let mut headers = reqwest::header::HeaderMap::new();
    // Never echo a header back: a malformed one may well be a credential.
    for (position, raw) in auth.headers.iter().enumerate() {
        let which = position + 1;
        let (name, value) = raw
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("--header #{which}: use `Name: value`"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            anyhow::anyhow!("--header #{which}: the name is not a valid header name")
        })?;
        let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
            anyhow::anyhow!("--header #{which} ({name}): the value is not a valid header value")
        })?;
        value.set_sensitive(true);
        headers.append(name, value);
    }
    if let Some(token) = auth.api_token.as_deref().filter(|t| !t.is_empty()) {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| anyhow::anyhow!("LOADGEN_API_TOKEN is not a valid header value"))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    Ok(headers)
}

/// Extra trusted roots (`--ca-cert`).
pub fn root_certificates(auth: &crate::cli::AuthArgs) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let Some(path) = &auth.ca_cert else {
        return Ok(Vec::new());
    };
    let pem =
        std::fs::read(path).with_context(|| format!("cannot read --ca-cert {}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("--ca-cert {} is not a PEM certificate", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "--ca-cert {}: no certificate in the file",
        path.display()
    );
    Ok(certs)
}

/// A client for one-off calls (health, world snapshots, verify) with the user's headers.
pub fn plain_client(
    auth: &crate::cli::AuthArgs,
    timeout: std::time::Duration,
) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .default_headers(request_headers(auth)?);
    for cert in root_certificates(auth)? {
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| {
        let ca = auth
            .ca_cert
            .as_ref()
            .map(|p| format!(" (--ca-cert {})", p.display()));
        anyhow::anyhow!(
            "cannot set up the HTTP client{}: {}",
            ca.unwrap_or_default(),
            crate::api::client::error_chain(&e)
        )
    })
}

/// The values that must never be printed or stored: header values, the token, and the
/// credentials of the API URL.
pub fn secrets(auth: &crate::cli::AuthArgs, api_url: &str) -> Vec<String> {
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

/// The reader every GET of the API goes through (health, world, verify), with retries.
pub fn api_reader(
    auth: &crate::cli::AuthArgs,
    api_url: &str,
    timeout: std::time::Duration,
    retries: u32,
) -> anyhow::Result<crate::api::fetch::ApiReader> {
    Ok(crate::api::fetch::ApiReader::new(
        plain_client(auth, timeout)?,
        api_url,
        retries,
        secrets(auth, api_url),
    ))
}

/// A read of the API that failed: a server fault (unreachable, 5xx past the retries) is a run
/// failure; an answer that is not what the API documents is bad input.
pub fn read_failure(err: crate::api::fetch::ReadError, what: &str) -> anyhow::Error {
    if err.is_server_fault() {
        crate::error::CommandError::RunFailed(format!("{what}: {err}")).into()
    } else {
        anyhow::Error::new(err).context(what.to_string())
    }
}

/// The executor `replay` and `start` send with: the API flags, the user's headers, and a
/// connection pool as large as the concurrency.
pub fn executor(
    api: &crate::cli::ApiArgs,
    context: crate::api::RequestContext,
    concurrency: usize,
    verbose: bool,
) -> anyhow::Result<crate::api::FreshMartExecutor> {
    let options = crate::api::ClientOptions {
        timeout: api.timeout(),
        retries: api.retries(),
        pool_size: concurrency,
        log_failures: verbose,
        headers: request_headers(&api.auth)?,
        root_certificates: root_certificates(&api.auth)?,
        secrets: secrets(&api.auth, &api.api_url),
        ..crate::api::ClientOptions::default()
    };
    crate::api::FreshMartExecutor::new(&api.api_url, context, options).map_err(|e| {
        anyhow::anyhow!(
            "cannot set up the HTTP client: {}",
            crate::api::client::error_chain(&e)
        )
    })
}

/// `executor`, with the propagation probes `probes` asks for, and what they see.
pub fn executor_with_probes(
    api: &crate::cli::ApiArgs,
    context: crate::api::RequestContext,
    concurrency: usize,
    verbose: bool,
    probes: Option<crate::api::probe::ProbeOptions>,
) -> anyhow::Result<(
    crate::api::FreshMartExecutor,
    Option<std::sync::Arc<crate::api::probe::ProbeStats>>,
)> {
    let executor = executor(api, context, concurrency, verbose)?;
    Ok(match probes {
        Some(options) => {
            let (executor, stats) = executor.with_probes(options);
            (executor, Some(stats))
        }
        None => (executor, None),
    })
}
