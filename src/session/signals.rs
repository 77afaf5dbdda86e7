//! The signals that stop a run: the first SIGINT or SIGTERM stops it gracefully, a second exits
//! at once; which one stopped the run is kept for its exit code.

use super::{stamp, SessionError};
use crate::error::StopSignal;

/// The signal that stopped the run gracefully, if one did (set once per process).
static STOPPED_BY: std::sync::OnceLock<StopSignal> = std::sync::OnceLock::new();

/// The signal that stopped the run gracefully, if one did: a replay that it left unfinished
/// exits as the signal would (130, 143), so a supervisor (a Kubernetes Indexed Job) runs it
/// again, while `start`, whose normal end is Ctrl+C, ignores it.
pub fn stopped_by() -> Option<StopSignal> {
    STOPPED_BY.get().copied()
}

/// Reads Ctrl+C (SIGINT) and SIGTERM alike (`timeout`, `kill`, systemd, Docker and Kubernetes
/// stop a process with SIGTERM): the first stops the run gracefully, a second of either kind
/// exits at once (130 after SIGINT, 143 after SIGTERM). The handlers are installed before this
/// returns, so a signal that arrives while the run starts is not lost.
/// `stop` is the graceful stop: a lost threshold (`--abort-on-threshold`) cancels it too.
pub fn shutdown_on_signal(
    stop: tokio_util::sync::CancellationToken,
) -> Result<impl std::future::Future<Output = ()>, SessionError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| SessionError::Signals("SIGINT", e))?;
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| SessionError::Signals("SIGTERM", e))?;
    let stopping = stop.clone();
    tokio::spawn(async move {
        let (first, signal) = tokio::select! {
            _ = interrupt.recv() => ("Interrupt", StopSignal::Interrupt),
            _ = terminate.recv() => ("SIGTERM", StopSignal::Terminate),
        };
        let _ = STOPPED_BY.set(signal);
        crate::outln!("\n{} {first} received, stopping gracefully...", stamp());
        stopping.cancel();
        let code = tokio::select! {
            _ = interrupt.recv() => 130,
            _ = terminate.recv() => 143,
        };
        eprintln!("Second signal: exiting now");
        let _held = crate::output::remove_pending_temp_files();
        std::process::exit(code);
    });
    Ok(async move { stop.cancelled().await })
}
