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

/// A read of the API that failed: a server fault (unreachable, 5xx past the retries) is a run
/// failure; an answer that is not what the API documents is bad input.
pub fn read_failure(err: crate::api::fetch::ReadError, what: &str) -> anyhow::Error {
    if err.is_server_fault() {
        crate::error::CommandError::RunFailed(format!("{what}: {err}")).into()
    } else {
        anyhow::Error::new(err).context(what.to_string())
    }
}
