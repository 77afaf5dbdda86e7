//! `loadgen`: realistic, reproducible e-commerce load for the FreshMart digital twin.
//!
//! # Layout
//! * `profile`: the load profiles (built-in and from TOML files) and their validation.
//! * `world`: stores, products, customers and inventory items that events point into.
//! * `event`: the semantic events a simulation produces and a trace stores.
//! * `time`: virtual time (`SimTime`) and the calendar that maps it to a local time of day.
//! * `contract`: the FreshMart contract, pure: subject ids and a run's namespace, order
//!   statuses, money, the API's rows, and which requests an event becomes.
//! * `sim`: the deterministic discrete-event simulator (event queue, model).
//! * `trace`: the versioned, checksummed, streaming trace file format, reading a trace once
//!   from a file or a pipe, and its summaries.
//! * `causal`: causal roots (which chain of dependent events each event belongs to) and the
//!   stable partition of roots that dispatchers and shards split a trace by.
//! * `replay`: the replayer core (pacer, the clock that waits for due times, dispatchers that
//!   each own a partition of the causal roots and keep each root's events in order,
//!   concurrency, shutdown, checkpoints and their lock, the saved measurements of a resumed
//!   run's segments), which knows nothing of HTTP.
//! * `api`: talking to FreshMart over HTTP: the client with retries, health, world
//!   snapshots, reads for `verify`, propagation probes, `cleanup` of a run's subjects.
//! * `mix`: the activity counts the model produces from a profile (`loadgen profiles`).
//! * `outcome`: the closed set of failure kinds, and how each is counted.
//! * `metrics`, `report`: histograms and counts; console and JSON output.
//! * `live_metrics`, `metrics_server`: OpenMetrics counters and histograms served during a run
//!   (`--metrics-addr`); `events_out`: one row per event (`--events-out`).
//! * `metrics`, `report`: histograms and counts; the console's header, status lines and summary.
//! * `result`: the versioned run result document (the JSON report, `schema/result.schema.json`),
//!   read back, and the exact merge of a sharded run's results (`loadgen merge`).
//! * `verify`: the state a trace implies, compared with what the API returns.
//! * `rates`: offered activities, requests and triples per minute (`start --dry-run`).
//! * `units`: parsing of durations, speeds and rates shared by the commands.
//! * `causal`: each event's causal root and the stable partition of roots (`--shard I/N`).
//! * `selection`: the one decision of which trace events a run sends (window, resume, shard),
//!   each event with its root; `replay`, `verify`, `inspect` and `cleanup` use it.
//! * `plan`: each command's arguments settled into the values its run uses before anything is
//!   sent or written (`ReplayPlan`, `StartPlan`), pure where it can be.
//! * `cli`, `cli_examples`, `cmd`: the command line (clap definitions and the examples of each
//!   command's `--help`) and one glue module per subcommand.
//! * `error`: the classes of failure (usage, input, run) that `main` maps to exit codes.
//! * `console`: standard output that a closed pipe silences instead of crashing the command.
//! * `output`: output files: never an input, written atomically, no temporary file left.
//!
//! `sim`, `time`, `contract`, `trace`, `world`, `profile`, `event`, `metrics`, `verify` and
//! `replay::pacer` are synchronous and know nothing of tokio, reqwest or clap.

// Standard output goes through `console` (`out!`/`outln!`), which survives a closed pipe.
#![warn(clippy::print_stdout)]

pub mod api;
pub mod causal;
pub mod cli;
pub mod cli_examples;
pub mod cmd;
pub mod console;
pub mod contract;
pub mod error;
pub mod event;
pub mod events_out;
pub mod html;
pub mod live_metrics;
pub mod metrics;
pub mod metrics_server;
pub mod mix;
pub mod outcome;
pub mod output;
pub mod plan;
pub mod profile;
pub mod rates;
pub mod replay;
pub mod report;
pub mod result;
pub mod selection;
pub mod sim;
pub mod stats;
pub mod threshold;
pub mod time;
pub mod trace;
pub mod units;
pub mod verify;
pub mod world;
