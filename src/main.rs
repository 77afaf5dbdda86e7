//! The `loadgen` binary: parse, dispatch, map errors to the documented exit codes.
//!
//! This is the only place that maps an error to its number: 0 success, 1 the run failed, 2 bad
//! usage or bad input (clap's own errors exit 2 too), 3 `compare` found a regression, 99 a
//! `--threshold` was breached (k6's number), so scripts can tell them apart. Signals end a
//! process with 130 or 143 (`session::signals`, `output`), as their default action would.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use loadgen::error::{CommandError, ErrorClass, StopSignal};

const EXIT_RUN_FAILED: u8 = 1;
const EXIT_USAGE_OR_INPUT: u8 = 2;
const EXIT_SIGINT: u8 = 130;
const EXIT_SIGTERM: u8 = 143;

fn main() -> ExitCode {
    let command = loadgen::cli_examples::with_examples(loadgen::cli::Cli::command());
    let cli = match loadgen::cli::Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    match loadgen::cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", loadgen::error::error_chain(&*err));
            ExitCode::from(match CommandError::class_of(&err) {
                ErrorClass::Usage | ErrorClass::Input => EXIT_USAGE_OR_INPUT,
                ErrorClass::RunFailed => EXIT_RUN_FAILED,
                ErrorClass::Stopped(StopSignal::Interrupt) => EXIT_SIGINT,
                ErrorClass::Stopped(StopSignal::Terminate) => EXIT_SIGTERM,
                ErrorClass::ThresholdBreached => loadgen::threshold::EXIT_THRESHOLD_BREACHED,
                ErrorClass::Regressed => loadgen::cli::exit_codes::EXIT_REGRESSION,
            })
        }
    }
}
