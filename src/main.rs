//! The `loadgen` binary: parse, dispatch, map errors to the documented exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = loadgen::cli::Cli::parse();
    match loadgen::cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            loadgen::cmd::exit_code_for(&err)
        }
    }
}
