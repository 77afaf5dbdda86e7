//! The one classification of a command's failure, by who has to act: the user (bad usage or
//! bad input) or the run (the API, the results). `main` alone turns it into an exit code.

use crate::plan::PlanError;

/// Why a command did not succeed. Errors that carry none of these (a corrupt trace, a profile
/// file with a bad field, ...) are input errors: every core error about a file is one.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// An argument is malformed, out of range, or contradicts another.
    #[error("{0}")]
    Usage(String),
    /// A file the user named cannot be read or is not what it should be.
    #[error("{0}")]
    Input(String),
    /// The command ran and failed: the API was unreachable or kept failing past the retries,
    /// `verify` found disagreements, the success rate was under `--min-success`.
    #[error("{0}")]
    RunFailed(String),
    /// The result breached a `--threshold` (exit 99).
    #[error("{0}")]
    ThresholdBreached(String),
    /// `compare` found a regression (exit 3).
    #[error("{0}")]
    Regressed(String),
    /// A signal ended the command before it had done anything (a `--start-at` wait).
    #[error("stopped by {0} before the start: nothing was sent")]
    Stopped(StopSignal),
    /// A signal stopped a replay gracefully before all its selected events were sent: the
    /// summary and report are written, and the exit code (130, 143) says the run is not done.
    #[error("stopped by {signal} with {unfinished} selected events not sent or cut off in flight{resume}")]
    Unfinished {
        signal: StopSignal,
        unfinished: u64,
        /// How to send them (`: resume with …`), or empty without a checkpoint.
        resume: String,
    },
}

/// The signals that stop a command gracefully.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    Interrupt,
    Terminate,
}

impl std::fmt::Display for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        })
    }
}

/// The class of an error chain, as `main` maps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    Usage,
    Input,
    RunFailed,
    Stopped(StopSignal),
    ThresholdBreached,
    Regressed,
}

impl CommandError {
    /// The class of `err`: the outermost `CommandError` (or a plan's usage error) in its
    /// chain decides; none means input.
    pub fn class_of(err: &anyhow::Error) -> ErrorClass {
        let class = err.chain().find_map(|c| {
            if let Some(PlanError::Usage(_)) = c.downcast_ref::<PlanError>() {
                return Some(ErrorClass::Usage);
            }
            c.downcast_ref::<CommandError>().map(|e| match e {
                CommandError::Usage(_) => ErrorClass::Usage,
                CommandError::RunFailed(_) => ErrorClass::RunFailed,
                CommandError::Input(_) => ErrorClass::Input,
                CommandError::Stopped(signal) => ErrorClass::Stopped(*signal),
                CommandError::Unfinished { signal, .. } => ErrorClass::Stopped(*signal),
                CommandError::ThresholdBreached(_) => ErrorClass::ThresholdBreached,
                CommandError::Regressed(_) => ErrorClass::Regressed,
            })
        });
        class.unwrap_or(ErrorClass::Input)
    }

    /// A run failure whose message is `err`'s whole chain.
    pub fn run_failed(err: impl std::fmt::Display) -> anyhow::Error {
        CommandError::RunFailed(err.to_string()).into()
    }
}

/// An error and its causes on one line, `a: b: c`, as `main` prints an error, without
/// repeating a cause the text so far already contains: many errors show their source in their
/// own message (`cannot open x: Is a directory`) and also return it as their `source()`, so
/// anyhow's `{:#}` would say it twice (and reqwest's messages alone say little: "error sending
/// request").
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

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_outermost_class_decides_and_context_keeps_it() {
        let run: anyhow::Error = CommandError::RunFailed("API down".into()).into();
        let wrapped = Err::<(), _>(run).context("cannot verify").unwrap_err();
        assert_eq!(CommandError::class_of(&wrapped), ErrorClass::RunFailed);
        assert_eq!(format!("{wrapped:#}"), "cannot verify: API down");
        let usage: anyhow::Error = CommandError::Usage("--x".into()).into();
        assert_eq!(CommandError::class_of(&usage), ErrorClass::Usage);
        assert_eq!(
            CommandError::class_of(&anyhow::anyhow!("trace truncated")),
            ErrorClass::Input
        );
        let plan: anyhow::Error = PlanError::usage("--shard needs --run-id").into();
        assert_eq!(CommandError::class_of(&plan), ErrorClass::Usage);
        let stopped: anyhow::Error = CommandError::Stopped(StopSignal::Terminate).into();
        assert_eq!(
            CommandError::class_of(&stopped),
            ErrorClass::Stopped(StopSignal::Terminate)
        );
        let unfinished: anyhow::Error = CommandError::Unfinished {
            signal: StopSignal::Interrupt,
            unfinished: 7,
            resume: String::new(),
        }
        .into();
        assert_eq!(
            CommandError::class_of(&unfinished),
            ErrorClass::Stopped(StopSignal::Interrupt)
        );
        assert!(unfinished
            .to_string()
            .contains("SIGINT with 7 selected events"));
    }

    #[test]
    fn a_cause_the_message_already_shows_is_said_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot open {path}: {source}")]
        struct Open {
            path: &'static str,
            source: std::io::Error,
        }
        let io = std::io::Error::new(std::io::ErrorKind::IsADirectory, "Is a directory");
        let err: anyhow::Error = Open {
            path: "/tmp",
            source: io,
        }
        .into();
        assert_eq!(
            format!("{err:#}"),
            "cannot open /tmp: Is a directory: Is a directory"
        );
        assert_eq!(error_chain(&*err), "cannot open /tmp: Is a directory");
        let wrapped = Err::<(), _>(err)
            .context("cannot write x.trace")
            .unwrap_err();
        assert_eq!(
            error_chain(&*wrapped),
            "cannot write x.trace: cannot open /tmp: Is a directory"
        );
        let plain = Err::<(), _>(anyhow::anyhow!("API down"))
            .context("cannot verify")
            .unwrap_err();
        assert_eq!(error_chain(&*plain), format!("{plain:#}"));
    }
}
