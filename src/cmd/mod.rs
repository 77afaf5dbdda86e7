//! One module per subcommand: glue from parsed arguments to the core. Errors are `anyhow`
//! here; `exit_code_for` maps them to the documented exit codes.

mod export;
mod inspect;
mod profiles;
mod simulate;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Bad usage or bad input.
pub const EXIT_INPUT: u8 = 2;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Profiles(args) => profiles::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Export(args) => export::run(args),
    }
}

/// Errors that reach `main` are about the user's input or files: exit 2. Commands that fail
/// at run time (exit 1) report that themselves and return the code.
pub fn exit_code_for(_err: &anyhow::Error) -> ExitCode {
    ExitCode::from(EXIT_INPUT)
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
