//! The command line: clap definitions only (commands, arguments, value parsers), no I/O.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::units;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the run failed: success rate under --min-success, or the API is unreachable
  2  bad usage or bad input (arguments, profile file, trace file, world file)";

/// The fixed default start of a simulation, so that the same command gives the same trace on
/// any day: a Monday, 09:00 UTC (a 1x hour, so a short run sees the profile's nominal rate).
pub const DEFAULT_START: &str = "2026-01-05T09:00:00Z";
pub const DEFAULT_SEED: u64 = 42;

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Realistic, reproducible e-commerce load for the FreshMart digital twin",
    long_about = "Realistic, reproducible e-commerce load for the FreshMart digital twin.\n\n\
        `simulate` writes a deterministic trace of customers and orders on a virtual clock; \
        `inspect` and `export` analyse it offline.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the load profiles (built-ins, or one loaded with --profile-file)
    Profiles(ProfilesArgs),
    /// Simulate a day of shopping on a virtual clock and write it as a trace file
    #[command(after_help = EXIT_CODES)]
    Simulate(SimulateArgs),
    /// Summarise a trace: counts, mix, orders per hour, offered load, stage durations
    #[command(after_help = EXIT_CODES)]
    Inspect(InspectArgs),
    /// Write a trace as CSV or JSON Lines, one row per event
    #[command(after_help = EXIT_CODES)]
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// Also load and show a custom profile from a TOML file
    #[arg(long, value_name = "FILE")]
    pub profile_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProfileChoice {
    /// Load profile: demo, standard, peak or stress
    #[arg(long, default_value = "demo")]
    pub profile: String,
    /// Custom profile from a TOML file (overrides --profile)
    #[arg(long, value_name = "FILE")]
    pub profile_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub profile: ProfileChoice,
    /// Seed of every random stream: same seed, profile, world and version ⇒ same bytes
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Virtual duration, e.g. 24h, 90m, 1h30m, 7d (default: the profile's duration)
    #[arg(long, value_parser = units::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// RFC 3339 instant the trace starts at; its UTC offset sets the time of day for peak hours
    #[arg(long, default_value = DEFAULT_START)]
    pub start: String,
    /// World snapshot (JSON, as written by `loadgen world`) instead of the built-in stock world
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,
    /// Output trace file, or - for standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Trace file to summarise
    pub trace: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Trace file to export
    pub trace: PathBuf,
    /// Output file (default: standard output)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
}
