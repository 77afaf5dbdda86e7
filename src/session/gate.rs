//! Before anything is sent: the API's health gate (the spec's console lines), and the wait for
//! a `--start-at` still to come, with its countdown.

use std::io::IsTerminal;
use std::time::Duration;

use super::{stamp, SessionError};
use crate::api::fetch::ApiReader;
use crate::error::StopSignal;

/// Probes the API (with the reader's retries) and prints the spec's line; an API that is not
/// healthy is `SessionError::Unhealthy`, with the cause.
pub async fn health(reader: &ApiReader) -> Result<(), SessionError> {
    let probes = crate::api::health::check(reader).await;
    if let Some(bad) = probes.iter().find(|p| !p.healthy()) {
        let why = match &bad.result {
            Ok((status, body)) => format!("GET {} answered {status}: {body}", bad.path),
            Err(message) => message.clone(),
        };
        crate::outln!("{} API health check failed: {why}", stamp());
        return Err(SessionError::Unhealthy {
            url: reader.shown_url().to_string(),
            why,
        });
    }
    crate::outln!("{} API health check passed", stamp());
    Ok(())
}

/// Waits for `--start-at` if it is still to come (`wait_for_start`).
pub async fn wait_until(
    start_at: Option<chrono::DateTime<chrono::FixedOffset>>,
) -> Result<(), SessionError> {
    match start_at {
        Some(at) if at > chrono::Utc::now() => wait_for_start(at).await,
        _ => Ok(()),
    }
}

/// How long to nap with `remaining` to go, waking on whole `step`s of the countdown and
/// exactly at the start.
pub fn nap(remaining: Duration, step: Duration) -> Duration {
    let nap = match remaining.as_nanos() % step.as_nanos() {
        0 => step,
        rest => Duration::from_nanos(rest as u64),
    };
    nap.min(remaining)
}

/// Waits until `at` (`--start-at`) with a countdown: on a terminal a line that counts down,
/// otherwise a line every `LOG_EVERY` and at the start. SIGINT or SIGTERM ends the wait
/// (nothing has been sent; exit 130 or 143).
pub async fn wait_for_start(at: chrono::DateTime<chrono::FixedOffset>) -> Result<(), SessionError> {
    use tokio::signal::unix::{signal, SignalKind};
    const LOG_EVERY: Duration = Duration::from_secs(10);
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| SessionError::Signals("SIGINT", e))?;
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| SessionError::Signals("SIGTERM", e))?;
    let terminal = std::io::stderr().is_terminal();
    let left = || {
        at.signed_duration_since(chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    crate::outln!(
        "{} Waiting for the start at {} ({:.0}s)...",
        stamp(),
        at.to_rfc3339(),
        left().as_secs_f64().ceil()
    );
    loop {
        let remaining = left();
        if remaining.is_zero() {
            break;
        }
        let step = if terminal {
            Duration::from_secs(1)
        } else {
            LOG_EVERY
        };
        let stop = tokio::select! {
            _ = tokio::time::sleep(nap(remaining, step)) => None,
            _ = interrupt.recv() => Some(StopSignal::Interrupt),
            _ = terminate.recv() => Some(StopSignal::Terminate),
        };
        if let Some(signal) = stop {
            if terminal {
                eprintln!();
            }
            crate::outln!(
                "{} {signal} received before the start: nothing was sent",
                stamp()
            );
            return Err(SessionError::StoppedBeforeStart(signal));
        }
        let secs = left().as_secs_f64().round();
        if terminal {
            eprint!("\r  starting in {secs:>6.0}s ");
        } else if secs > 0.0 {
            crate::outln!("{} Starting in {secs:.0}s", stamp());
        }
    }
    if terminal {
        eprintln!();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naps_wake_on_whole_steps_and_at_the_start() {
        let (s, ms) = (Duration::from_secs, Duration::from_millis);
        assert_eq!(nap(ms(25_300), s(10)), ms(5_300));
        assert_eq!(nap(s(20), s(10)), s(10));
        assert_eq!(nap(ms(2_250), s(1)), ms(250));
        assert_eq!(nap(ms(400), s(10)), ms(400));
    }
}
