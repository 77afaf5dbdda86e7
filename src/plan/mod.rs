//! Plans: each command's arguments checked and settled into the values its run uses, before
//! any I/O that sends or writes (ripgrep's low-level/high-level arguments). The pure part of
//! each plan is built from parsed arguments and what was read (a checkpoint, a trace header,
//! the trace's survey), so tests build plans from argument lists and check values and errors.

pub mod cleanup;
pub mod client;
pub mod replay;
pub mod result;
pub mod shard;
pub mod simulate;
pub mod start;
pub mod verify;

use crate::output::OutputError;
use crate::replay::checkpoint::CheckpointError;
use crate::replay::window::WindowError;
use crate::trace::format::TraceError;

/// What a plan can refuse. `main` maps `Usage` to exit 2 with the other bad-usage errors;
/// the rest are bad input (exit 2 too).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An argument is malformed, missing, or contradicts another or the checkpoint.
    #[error("{0}")]
    Usage(String),
    /// The window selects nothing of the trace.
    #[error("trace {trace}")]
    Window {
        trace: String,
        #[source]
        source: WindowError,
    },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The trace cannot be read, or is not a whole trace.
    #[error("trace {trace}")]
    Trace {
        trace: String,
        #[source]
        source: TraceError,
    },
    /// An output would overwrite an input.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A `--thresholds` file cannot be read or parsed (its message names the file and the
    /// cause, so the cause is not repeated).
    #[error("{0}")]
    Thresholds(crate::threshold::ThresholdError),
}

impl PlanError {
    pub fn usage(message: impl Into<String>) -> PlanError {
        PlanError::Usage(message.into())
    }
}

/// Files by role (`output::check_paths`): the inputs, and the outputs that must not be one.
pub type Paths<P> = (Vec<(&'static str, P)>, Vec<(&'static str, P)>);

/// What a plan takes from the process's surroundings, captured once, so that plans are pure
/// functions of it (tests pass their own).
#[derive(Clone, Debug)]
pub struct Env {
    pub now: chrono::DateTime<chrono::Utc>,
    /// `JOB_COMPLETION_INDEX`: the pod's index in a Kubernetes Indexed Job.
    pub job_completion_index: Option<String>,
    /// The machine's available parallelism (the default of `--threads` derives from it).
    pub cores: usize,
}

impl Env {
    pub fn capture() -> Env {
        Env {
            now: chrono::Utc::now(),
            job_completion_index: std::env::var("JOB_COMPLETION_INDEX").ok(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// `--threads`' default: a dispatcher per core but one, at least one. The trace's feed
    /// thread and the calling thread (which routes and aggregates when there are several
    /// dispatchers) need a core too; on 2 cores one dispatcher, which then does all of it on
    /// one thread, spent 17-30 % less CPU per request than two (BENCHMARKS.md,
    /// "Thread-per-core dispatchers").
    pub fn default_threads(&self) -> usize {
        self.cores.saturating_sub(1).max(1)
    }
}

/// A run id from the clock: base-36 seconds since 2020, short and unique enough per run.
pub fn default_run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    let mut n = (now.timestamp() - 1_577_836_800).max(0) as u64;
    let mut digits = Vec::new();
    while n > 0 || digits.is_empty() {
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
    }
    digits.reverse();
    format!("r{}", String::from_utf8_lossy(&digits))
}

/// Run ids end up in subject ids and URL paths.
pub fn validate_run_id(id: &str) -> Result<(), PlanError> {
    let fine = !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fine {
        Ok(())
    } else {
        Err(PlanError::usage(format!(
            "--run-id `{id}`: use 1-32 letters, digits, '-' or '_'"
        )))
    }
}

/// `--start-at`: an RFC 3339 instant.
pub fn parse_start_at(text: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, PlanError> {
    chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
        PlanError::usage(format!(
            "--start-at `{text}` is not an RFC 3339 instant: {e}"
        ))
    })
}

/// The files `--events-out` writes (`--metrics-addr` writes none), for `output::check_paths`.
pub fn run_output_paths(args: &crate::cli::RunOutputArgs) -> Vec<(&'static str, &std::path::Path)> {
    args.events_out
        .iter()
        .map(|p| ("--events-out", p.as_path()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids() {
        let at = |s| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert_eq!(default_run_id(at("2020-01-01T00:00:00Z")), "r0");
        assert_eq!(default_run_id(at("2020-01-01T00:00:36Z")), "r10");
        validate_run_id("shard-run_1").unwrap();
        for bad in ["", "a b", "x/y", &"z".repeat(33)] {
            let err = validate_run_id(bad).unwrap_err();
            assert!(matches!(err, PlanError::Usage(_)), "{bad:?}: {err}");
        }
    }
}
