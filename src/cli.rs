//! The command line: clap definitions only (commands, arguments, value parsers), no I/O.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::units;

/// The exit codes, per command: each `--help` lists only the codes its command can return
/// (`main` is where they are assigned).
pub mod exit_codes {
    /// `compare`: the new run is worse than the base beyond the noise (`main` maps
    /// `CommandError::Regressed` to it).
    pub const EXIT_REGRESSION: u8 = 3;
    pub const ALL: &str = "\
Exit codes:
  0  success
  1  the run failed: the API is unreachable or kept failing past --retries, the success rate
     is under --min-success, or verify found disagreements
  2  bad usage or bad input (arguments, profile file, trace file, world file, checkpoint,
     result documents that merge cannot read or add up)
  3  compare: the new run regressed beyond --noise (and significantly)
  99 a --threshold or --thresholds gate was breached (replay, start, merge, compare)
  130, 143  stopped by SIGINT (Ctrl+C) or SIGTERM: replay stopped before it sent every
     selected event (after its summary and report), a second one during replay or start, or
     one while simulate, export or world writes its file (which is left as it was)";
    pub const OFFLINE: &str = "\
Exit codes:
  0  success
  2  bad usage or bad input (arguments, profile file, trace file)";
    pub const EXPORT: &str = "\
Exit codes:
  0  success
  2  bad usage or bad input (arguments, trace file)
  130, 143  stopped by SIGINT (Ctrl+C) or SIGTERM while writing -o (left as it was)";
    pub const SIMULATE: &str = "\
Exit codes:
  0  success
  1  --api-url: the API is unreachable or kept failing past --retries
  2  bad usage or bad input (arguments, profile file, world file)
  130, 143  stopped by SIGINT (Ctrl+C) or SIGTERM (the output is left as it was)";
    pub const REPLAY: &str = "\
Exit codes:
  0  success: every selected event was sent (a signal that came after the last one changes
     nothing)
  1  the run failed: the API is unreachable or unhealthy past --retries, or the success rate
     is under --min-success
  2  bad usage or bad input (arguments, profile file, trace file, checkpoint, thresholds, a
     --metrics-addr that cannot be listened on, an --events-out that is an input)
  99 a --threshold failed on the final result (also after --abort-on-threshold stopped the
     run); it takes precedence over --min-success's 1
  130, 143  stopped by SIGINT (Ctrl+C) or SIGTERM before every selected event was sent: the
     first one stops gracefully (summary, report and checkpoint written; --resume sends the
     rest), and the code says the run is unfinished, over 1 and 99; a second one stops at
     once; one while waiting for --start-at (nothing sent)";
    pub const START: &str = "\
Exit codes:
  0  success, also when SIGINT (Ctrl+C) or SIGTERM ended the run gracefully: that is how a
     live run without --duration ends (summary and report written)
  1  the run failed: the API is unreachable or unhealthy past --retries, or the success rate
     is under --min-success
  2  bad usage or bad input (arguments, profile file, thresholds, a --metrics-addr that
     cannot be listened on, an --events-out that is an input)
  99 a --threshold failed on the final result (also after --abort-on-threshold stopped the
     run); it takes precedence over --min-success's 1
  130, 143  a second SIGINT (Ctrl+C) or SIGTERM: stopped at once (the first one stops
     gracefully, with the summary and the report)";
    pub const HEALTH: &str = "\
Exit codes:
  0  the API is healthy
  1  the API is unreachable or not healthy
  2  bad usage";
    pub const VERIFY: &str = "\
Exit codes:
  0  the API agrees with the trace
  1  the API does not agree, or it is unreachable or kept failing past --retries
  2  bad usage or bad input (arguments, trace file)";
    pub const CLEANUP: &str = "\
Exit codes:
  0  every subject deleted (or already gone) and every level restored, or --dry-run
  1  the API is unreachable or unhealthy past --retries, or some deletions or restores failed
  2  bad usage or bad input (arguments, trace file, --restore-stock without recorded levels)";
    pub const MERGE: &str = "\
Exit codes:
  0  success
  1  the merged run's success rate is under --min-success
  2  bad usage or bad input: a result that cannot be read or is of a newer schema, results
     of different traces, run ids or shard counts, a shard missing or given twice
  99 a --threshold failed on the merged result";
    pub const REPORT: &str = "\
Exit codes:
  0  the report was written
  2  bad usage or bad input: a result that cannot be read or is of a newer schema, an -o
     that is one of the inputs";
    pub const COMPARE: &str = "\
Exit codes:
  0  no regression (changes within --noise, not significant, or improvements)
  2  bad usage or bad input: a result that cannot be read or is of a newer schema
  3  a regression: a metric of the new run is worse beyond --noise and the Mann-Whitney U
     test on its per-bucket samples finds it significant (p < 0.05)
  99 a --threshold failed on the new run (checked before the comparison's 3)";
    pub const WORLD: &str = "\
Exit codes:
  0  success
  1  the API is unreachable or kept failing past --retries
  2  bad usage, or the API's data is not a usable world
  130, 143  stopped by SIGINT (Ctrl+C) or SIGTERM (the output is left as it was)";
}

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
        `replay` paces it against the API; `start` does both live, like the Python tool; \
        `inspect` and `export` analyse it offline.",
    after_help = exit_codes::ALL
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the load profiles (built-ins, or one loaded with --profile-file)
    #[command(after_help = exit_codes::OFFLINE)]
    Profiles(ProfilesArgs),
    /// Simulate a day of shopping on a virtual clock and write it as a trace file
    #[command(after_help = exit_codes::SIMULATE)]
    Simulate(SimulateArgs),
    /// Summarise a trace: counts, mix, orders per hour, offered load, stage durations
    #[command(after_help = exit_codes::OFFLINE)]
    Inspect(InspectArgs),
    /// Write a trace as CSV or JSON Lines, one row per event
    #[command(after_help = exit_codes::EXPORT)]
    Export(ExportArgs),
    /// Replay a trace against the FreshMart API, paced in real time or faster
    #[command(after_help = exit_codes::REPLAY)]
    Replay(ReplayArgs),
    /// Check that the FreshMart API is up: GET /health and /ready
    #[command(after_help = exit_codes::HEALTH)]
    Health(HealthArgs),
    /// Check that the API holds what a replayed trace implies: orders, lines, customers, stock
    #[command(after_help = exit_codes::VERIFY)]
    Verify(VerifyArgs),
    /// Live mode: simulate on the wall clock and send each event as it becomes due
    #[command(after_help = exit_codes::START)]
    Start(StartArgs),
    /// Snapshot stores, products, customers and inventory items from the API into a world file
    #[command(after_help = exit_codes::WORLD)]
    World(WorldArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to standard output
    Completions(CompletionsArgs),
    /// Print the manual page (roff) of loadgen, or of one command, to standard output
    Man(ManArgs),
    /// Add up the results of a sharded run's shards into the result of the whole run
    #[command(after_help = exit_codes::MERGE)]
    Merge(MergeArgs),
    /// Render results as one self-contained HTML page (charts, tables), Markdown or text
    #[command(after_help = exit_codes::REPORT)]
    Report(ReportArgs),
    /// Compare two results metric by metric, with a verdict that accounts for noise
    #[command(after_help = exit_codes::COMPARE)]
    Compare(CompareArgs),
    /// Delete what a replayed run created: its orders, order lines and new customers
    #[command(long_about = CLEANUP_ABOUT, after_help = exit_codes::CLEANUP)]
    Cleanup(CleanupArgs),
}

pub const CLEANUP_ABOUT: &str = "\
Delete what a replayed run created: every order, order line and new customer of the run id.

The subjects are found by turning the trace's events (inside --from/--to, as the replay chose \
them) into the requests the replay sent under that run id: each subject a POST created is \
deleted with DELETE /triples/subjects/{id}. A 404 counts as already gone (lines the run \
removed itself, a second cleanup). Stock data is never deleted: the stock levels the run \
wrote to inventory items are listed with the last value the run wrote, and left as they are \
unless --restore-stock puts back the levels the trace's world recorded. Only a world taken \
from the API holds levels (`loadgen world --api-url URL -o world.json`, then `simulate --world \
world.json`); with the built-in world --restore-stock is refused before anything is sent.";

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// The trace that was replayed
    pub trace: PathBuf,
    #[command(flatten)]
    pub api: ApiArgs,
    /// The run id the replay used (printed by `replay`, and in its report)
    #[arg(long)]
    pub run_id: String,
    /// The replay's --from (HH:MM), if it had one
    #[arg(long, value_name = "HH:MM", value_parser = parse_time_of_day)]
    pub from: Option<chrono::NaiveTime>,
    /// The replay's --to (HH:MM), if it had one
    #[arg(long, value_name = "HH:MM", value_parser = parse_time_of_day)]
    pub to: Option<chrono::NaiveTime>,
    /// List what would be deleted and the stock levels the run changed (or would restore); send
    /// nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Requests in flight at once (deletes, and with --restore-stock the PUTs)
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub parallel: u32,
    /// Also put back, for every inventory item the run wrote, the stock level the trace's
    /// world recorded (PUT, same retries and --parallel as the deletes). Needs a world taken
    /// from the API (`loadgen world --api-url URL -o world.json`, then `simulate --world
    /// world.json`): if a level is not known (the built-in world) it is refused, exit 2,
    /// nothing sent. With --dry-run it lists the levels it would put back
    #[arg(long)]
    pub restore_stock: bool,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (default: loadgen's own, which lists the commands)
    pub command: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub profile: ProfileChoice,
    #[command(flatten)]
    pub api: ApiArgs,
    /// Duration in minutes (or 90s, 2h, …, at most 10 years); overrides the profile's; 0 runs
    /// until interrupted
    #[arg(long, value_parser = units::parse_run_duration)]
    pub duration: Option<std::time::Duration>,
    /// Random seed; same seed + world + --start-at ⇒ same requests (default: from the clock, printed)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Calendar instant the simulation starts at (RFC 3339): sets the time of day of the peak
    /// hours (default: now, in local time)
    #[arg(long, value_name = "RFC3339")]
    pub start_at: Option<String>,
    /// Print every failure and every retry as it happens
    #[arg(long)]
    pub verbose: bool,
    /// Show the configuration and the expected load, send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the events that were sent as a trace that `replay` accepts
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Events in flight at once, 1 to 100000 (default: the profile's concurrent workflows)
    #[arg(long, value_parser = units::parse_concurrency)]
    pub concurrency: Option<usize>,
    /// Dispatchers, 1 to 1024 (default: one less than the machine's available parallelism, at
    /// least 1), each on a thread of its own; each sends the events of its own partition of the
    /// causal roots, and --concurrency is their total, split evenly (so there are never more
    /// dispatchers than --concurrency)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Namespace for the ids this run creates (default: derived from the clock, printed)
    #[arg(long)]
    pub run_id: Option<String>,
    /// Write a machine-readable report (JSON) here
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Exit 1 when the success rate is below this (e.g. 0.9 or 90%)
    #[arg(long, default_value = "0.9", value_parser = units::parse_fraction)]
    pub min_success: f64,
    #[command(flatten)]
    pub outputs: RunOutputArgs,
    #[command(flatten)]
    pub result: ResultArgs,
}

/// Labels a run's result document carries (`run.tags`, `run.git_revision`).
#[derive(Debug, Clone, Default, Args)]
pub struct ResultArgs {
    /// Label the result document with KEY=VALUE (repeatable), e.g. --tag env=staging
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// Record this revision (of the system under test, or of loadgen's config) in the result
    #[arg(long, value_name = "REV")]
    pub git_revision: Option<String>,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Stop the run early (gracefully, with the summary and the report) once a threshold can
    /// no longer pass, whatever the remaining events do; the exit code is then 99 (`start`
    /// with a duration counts its events first; one until interrupted has no bound, so it
    /// never gives up)
    #[arg(long)]
    pub abort_on_threshold: bool,
}

/// Pass/fail gates checked on the final result (`threshold`'s expressions); a breach exits 99.
#[derive(Debug, Clone, Default, Args)]
pub struct ThresholdArgs {
    /// A threshold on the final result (repeatable), e.g. 'p99<500ms', 'new_order.p95<300ms',
    /// 'success>=99.5%', 'lateness.p99<5ms', 'visible.p99<2s', 'throughput>=100/s'
    #[arg(long = "threshold", value_name = "EXPR")]
    pub threshold: Vec<String>,
    /// Thresholds from a TOML file ([[threshold]] entries with `expr = "..."`; repeatable)
    #[arg(long = "thresholds", value_name = "FILE.toml")]
    pub thresholds: Vec<PathBuf>,
}

fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "a tag is KEY=VALUE, e.g. env=staging, not {text:?}"
        )),
    }
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The result of every shard of one run (`replay --shard I/N --report rI.json`)
    #[arg(required = true, value_name = "RESULT")]
    pub results: Vec<PathBuf>,
    /// Write the merged result (the whole run's) here
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when the merged run's success rate is below this (e.g. 0.9 or 90%)
    #[arg(long, default_value = "0.9", value_parser = units::parse_fraction)]
    pub min_success: f64,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// What `report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML file (inline SVG charts; loads nothing, needs no JavaScript)
    Html,
    /// Markdown tables, e.g. for a pull request comment
    Md,
    /// The console summary, recomputed from the document
    Text,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Result documents (`--report` of replay or start, `merge -o`); several are overlaid,
    /// aligned on trace time
    #[arg(required = true, value_name = "RESULT")]
    pub results: Vec<PathBuf>,
    /// Write here (written atomically; never over an input) [default: run.html for html,
    /// standard output for md and text]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
}

/// What `compare` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    Text,
    /// Markdown, e.g. for a pull request comment
    Md,
    Json,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The base result (before the change)
    pub base: PathBuf,
    /// The new result (after the change); thresholds apply to it
    pub new: PathBuf,
    /// A relative change up to this is noise, never a regression (e.g. 5% or 0.05)
    #[arg(long, default_value = "5%", value_parser = units::parse_fraction)]
    pub noise: f64,
    #[arg(long, value_enum, default_value = "text")]
    pub format: CompareFormat,
    /// Also write the comparison as a self-contained HTML page (both runs overlaid)
    #[arg(short, long, value_name = "FILE.html")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The trace that was replayed (- for standard input)
    pub trace: PathBuf,
    /// FreshMart API base URL [precedence: flag, then LOADGEN_API_URL, then the default]
    #[arg(long, env = "LOADGEN_API_URL", default_value = DEFAULT_API_URL, value_parser = units::parse_api_url)]
    pub api_url: String,
    /// The run id the replay used (printed by `replay`, and in its report)
    #[arg(long)]
    pub run_id: String,
    /// The replay's --from (HH:MM), if it had one
    #[arg(long, value_name = "HH:MM", value_parser = parse_time_of_day, long_help = window_help("The replay's --from (HH:MM), if it had one."))]
    pub from: Option<chrono::NaiveTime>,
    /// The replay's --to (HH:MM), if it had one
    #[arg(long, value_name = "HH:MM", value_parser = parse_time_of_day)]
    pub to: Option<chrono::NaiveTime>,
    /// Write the findings as JSON here
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Read requests in flight at once, 1 to 100000
    #[arg(long, default_value = "16", value_parser = units::parse_concurrency)]
    pub parallel: usize,
    /// Timeout of each read
    #[arg(long, default_value = "30s", value_parser = units::parse_timeout)]
    pub timeout: std::time::Duration,
    /// Retries per read (and health check) for timeouts, connection errors and 5xx, with
    /// the replay's backoff (never for 4xx). More than replay's 3 by default: one read that
    /// fails ends the verification, and with 20% of answers failing, 3 retries lose about one
    /// read in 600
    #[arg(long, default_value_t = 8)]
    pub retries: u32,
    #[command(flatten)]
    pub auth: AuthArgs,
}

#[derive(Debug, Args)]
pub struct WorldArgs {
    /// FreshMart API base URL [precedence: flag, then LOADGEN_API_URL, then the default]
    #[arg(long, env = "LOADGEN_API_URL", default_value = DEFAULT_API_URL, value_parser = units::parse_api_url)]
    pub api_url: String,
    /// Output world file (JSON), or - for standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Timeout of each request
    #[arg(long, default_value = "60s", value_parser = units::parse_timeout)]
    pub timeout: std::time::Duration,
    /// Retries per read for timeouts, connection errors and 5xx, with the replay's backoff
    /// (never for 4xx)
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    #[command(flatten)]
    pub auth: AuthArgs,
}

pub const DEFAULT_API_URL: &str = "http://localhost:8080";

#[derive(Debug, Args, Clone)]
pub struct ApiArgs {
    /// FreshMart API base URL [precedence: flag, then LOADGEN_API_URL, then the default]
    #[arg(long, env = "LOADGEN_API_URL", default_value = DEFAULT_API_URL, value_parser = units::parse_api_url)]
    pub api_url: String,
    /// Per-request timeout, e.g. 30s, 500ms, more than 0 and at most 24h [default: 30s;
    /// `replay --resume`: the first run's]
    #[arg(long = "timeout", value_name = "DURATION", value_parser = units::parse_timeout)]
    pub timeout_flag: Option<std::time::Duration>,
    /// Retries per request (and per health check and world read) for timeouts, connection
    /// errors and 5xx (never for 4xx) [default: 3; `replay --resume`: the first run's]
    #[arg(long = "retries", value_name = "N")]
    pub retries_flag: Option<u32>,
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl ApiArgs {
    pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
    pub const DEFAULT_RETRIES: u32 = 3;

    /// `--timeout`, or its default.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout_flag.unwrap_or(Self::DEFAULT_TIMEOUT)
    }

    /// `--retries`, or its default.
    pub fn retries(&self) -> u32 {
        self.retries_flag.unwrap_or(Self::DEFAULT_RETRIES)
    }
}

/// Credentials and extra headers for every request to the API.
#[derive(Debug, Args, Clone, Default)]
pub struct AuthArgs {
    /// Extra request header, `Name: value` (repeatable). Values are never printed or stored.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Bearer token sent as `Authorization: Bearer …`; never printed or stored
    #[arg(long, env = "LOADGEN_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Also trust this CA certificate (PEM) for https URLs, e.g. a self-signed test API
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Trace file made by `loadgen simulate`, or - for standard input (optional with
    /// --resume). A trace from a pipe is kept in memory (its file size) for the replay
    #[arg(required_unless_present = "resume")]
    pub trace: Option<PathBuf>,
    /// Continue an interrupted replay from its checkpoint: completed events are not resent
    /// (events that failed or timed out are); the run id, window and timestamps are the first
    /// run's, and so are --speed, --concurrency, --retries, --timeout, --probe-reads,
    /// --probe-timeout and --min-success unless given again. The report covers the whole run.
    /// A resumed shard (see --shard) keeps its shard: a --shard or --shard-count naming
    /// another is refused.
    #[arg(long, value_name = "CHECKPOINT", conflicts_with_all = ["run_id", "from", "to", "keep_timestamps", "checkpoint", "start_at"])]
    pub resume: Option<PathBuf>,
    /// Where to keep the checkpoint (default: beside --report, as REPORT.checkpoint)
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub api: ApiArgs,
    /// Replay speed: 1x (real time), 10x, 0.5x, or max (no waiting) [default: 1x]
    #[arg(long, value_parser = units::parse_speed)]
    pub speed: Option<units::Speed>,
    /// Events in flight at once, 1 to 100000 (default: the trace profile's concurrent workflows)
    #[arg(long, value_parser = units::parse_concurrency)]
    pub concurrency: Option<usize>,
    /// Dispatchers, 1 to 1024 (default: one less than the machine's available parallelism, at
    /// least 1), each on a thread of its own; each sends the events of its own partition of the
    /// causal roots, and --concurrency is their total, split evenly (so there are never more
    /// dispatchers than --concurrency)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Start at this local time of day of the trace (HH:MM); orders created earlier are skipped
    #[arg(long, value_name = "HH:MM", value_parser = parse_time_of_day, long_help = window_help("Start at this local time of day of the trace (HH:MM); orders created earlier are skipped."))]
    pub from: Option<chrono::NaiveTime>,
    /// Stop at this local time of day of the trace (HH:MM)
    #[arg(long, value_name = "HH:MM", value_parser = parse_time_of_day)]
    pub to: Option<chrono::NaiveTime>,
    /// Namespace for the ids this run creates, so a trace can be replayed twice into one
    /// database (default: derived from the current time, and printed)
    #[arg(long)]
    pub run_id: Option<String>,
    /// Send timestamps as recorded instead of shifting the trace start to the replay start
    #[arg(long)]
    pub keep_timestamps: bool,
    /// Send only the events whose causal root falls in partition I of N (0/4 to 3/4): this
    /// process is one of N replaying the trace together, each entity's events all on one of
    /// them, in trace order. Needs --run-id (the same on every shard) and, for the shards to
    /// keep one schedule, --start-at
    #[arg(long, value_name = "I/N", conflicts_with = "shard_count")]
    pub shard: Option<crate::causal::Shard>,
    /// --shard with the index taken from JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shard_count: Option<u32>,
    /// The wall-clock instant (RFC 3339) the start of the window is sent at: waits for it
    /// (with a countdown; Ctrl+C or SIGTERM ends the wait, nothing sent), and refuses one more
    /// than --start-slack in the past. Shards given the same instant keep the single-machine
    /// schedule, and shift the body timestamps alike (default: start at once)
    #[arg(long, value_name = "RFC3339")]
    pub start_at: Option<String>,
    /// How far in the past --start-at may be (a late process sends the events already due
    /// at once)
    #[arg(long, default_value = "10s", value_parser = units::parse_timeout, value_name = "DURATION")]
    pub start_slack: std::time::Duration,
    /// Write a machine-readable report (JSON) here
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Exit 1 when the success rate is below this (e.g. 0.9 or 90%) [default: 0.9]
    #[arg(long, value_parser = units::parse_fraction)]
    pub min_success: Option<f64>,
    /// Print every failure and every retry as it happens
    #[arg(long)]
    pub verbose: bool,
    /// Probe this share of writes (e.g. 1%): poll the read that shows each sampled write until
    /// it does, and report the "write → visible" times, overall and per kind: orders
    /// (creations, status changes, modifications) read GET /freshmart/orders/{id} (the
    /// orders view); new customers GET /freshmart/customers (the customers view); stock
    /// levels GET /freshmart/stores/inventory?store_id=… paged (the inventory view). Each time
    /// runs from sending the event's first write to the first read that shows it (so it
    /// includes the write's own latency); a write whose subject is written again before a
    /// read shows it, or that brings its subject back to an earlier state (A → B → A, which no
    /// read can tell from the first A), counts as superseded, not timed. The writes probed are a fixed function
    /// of the run id and the events, so a repeated run probes the same ones. [default: 0]
    #[arg(long, value_parser = units::parse_fraction, value_name = "RATE")]
    pub probe_reads: Option<f64>,
    /// A probed write not visible after this is counted as not visible [default: 30s]
    #[arg(long, value_parser = units::parse_timeout)]
    pub probe_timeout: Option<std::time::Duration>,
    /// How often the status line (the spec's "Last minute: …") is printed
    #[arg(long, default_value = "60s", value_parser = units::parse_timeout, value_name = "DURATION")]
    pub status_every: std::time::Duration,
    #[command(flatten)]
    pub outputs: RunOutputArgs,
    #[command(flatten)]
    pub result: ResultArgs,
}

/// What a run (`replay`, `start`) shows while it goes on and writes per event, besides its
/// report: `--metrics-addr`, `--metrics-linger`, `--events-out`, `--events-format`.
#[derive(Debug, Args, Clone, Default)]
pub struct RunOutputArgs {
    /// Serve live metrics as OpenMetrics text at http://ADDR/metrics during the run (e.g.
    /// 127.0.0.1:9464; port 0 picks a free port, printed): events by activity and outcome,
    /// requests, retries, fixed-bucket histograms of latency, service time and lateness,
    /// events in flight, trace position, `loadgen_run_finished`. Bound before the run (a port
    /// in use is exit 2); it stops with the run
    #[arg(long, value_name = "IP:PORT")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// After the run, keep serving --metrics-addr until one scrape has read the final figures
    /// (`loadgen_run_finished 1`), or for this long at most [default: stop at once]
    #[arg(long, value_name = "DURATION", value_parser = units::parse_timeout, requires = "metrics_addr")]
    pub metrics_linger: Option<std::time::Duration>,
    /// Write one row per event (seq, trace_ms, activity, subject, intended, sent, finished,
    /// latency_us, service_us, lateness_us, requests, retries, outcome) to FILE, streamed and
    /// written atomically (the file appears when the run ends; never over an input). See
    /// docs/events-out.md
    #[arg(long, value_name = "FILE", long_help = events_out_help())]
    pub events_out: Option<PathBuf>,
    /// Format of --events-out [default: jsonl for a .jsonl or .ndjson file, else csv]
    #[arg(long, value_enum, requires = "events_out")]
    pub events_format: Option<ExportFormat>,
}

fn events_out_help() -> String {
    format!(
        "Write one row per event to FILE, streamed (memory stays flat) and written atomically: \
         the file appears when the run ends, a failed run leaves none, and it is never an \
         input. Rows from this process only (a resumed replay's earlier segments are not \
         repeated).\n\n{}",
        crate::events_out::COLUMNS
    )
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// FreshMart API base URL [precedence: argument, then LOADGEN_API_URL, then the default]
    #[arg(env = "LOADGEN_API_URL", default_value = DEFAULT_API_URL, value_parser = units::parse_api_url)]
    pub api_url: String,
    /// Timeout of each probe
    #[arg(long, default_value = "5s", value_parser = units::parse_timeout)]
    pub timeout: std::time::Duration,
    /// Retries of each probe for timeouts, connection errors and 5xx (default: report the
    /// state right now)
    #[arg(long, default_value_t = 0)]
    pub retries: u32,
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// `--from`'s long help: its line and the rule of the window.
fn window_help(line: &str) -> String {
    format!("{line}\n\n{}", crate::replay::window::WINDOW_RULE)
}

fn parse_time_of_day(text: &str) -> Result<chrono::NaiveTime, String> {
    chrono::NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| format!("`{text}` is not a time of day HH:MM (e.g. 17:30)"))
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
    /// Virtual duration, e.g. 24h, 90m, 1h30m, 7d, at most 10 years (default: the profile's)
    #[arg(long, value_parser = units::parse_run_duration)]
    pub duration: Option<std::time::Duration>,
    /// RFC 3339 instant the trace starts at; its UTC offset sets the time of day for peak hours
    #[arg(long, default_value = DEFAULT_START)]
    pub start: String,
    /// World snapshot (JSON, as written by `loadgen world`) instead of the built-in stock world
    #[arg(long, value_name = "FILE", conflicts_with = "api_url")]
    pub world: Option<PathBuf>,
    /// Snapshot the world from this API first (LOADGEN_API_URL does not apply: simulate
    /// needs no server unless asked)
    #[arg(long, value_name = "URL", value_parser = units::parse_api_url)]
    pub api_url: Option<String>,
    /// Retries per read of --api-url for timeouts, connection errors and 5xx (never for 4xx)
    #[arg(long, default_value_t = 3, requires = "api_url")]
    pub retries: u32,
    /// Output trace file, or - for standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Trace file to summarise (- for standard input)
    pub trace: PathBuf,
    /// Summarise only what a replay with this --from sends (HH:MM)
    #[arg(long, value_name = "HH:MM", value_parser = parse_time_of_day, long_help = window_help("Summarise only what a replay with this --from sends (HH:MM)."))]
    pub from: Option<chrono::NaiveTime>,
    /// Summarise only what a replay with this --to sends (HH:MM)
    #[arg(long, value_name = "HH:MM", value_parser = parse_time_of_day)]
    pub to: Option<chrono::NaiveTime>,
    /// Summarise only what `replay --shard I/N` sends: the events whose causal root falls in
    /// partition I of N
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::causal::Shard>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Trace file to export (- for standard input)
    pub trace: PathBuf,
    /// Output file, written atomically, or - for standard output (the default)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
}
