//! `loadgen`: realistic, reproducible e-commerce load for the FreshMart digital twin.
//!
//! # Layout
//! * `profile`: the load profiles (built-in and from TOML files) and their validation.
//! * `world`: stores, products, customers and inventory items that events point into.
//! * `event`: the semantic events a simulation produces and a trace stores.
//! * `sim`: the deterministic discrete-event simulator (virtual clock, event queue, model).
//! * `trace`: the versioned, checksummed, streaming trace file format, reading a trace once
//!   from a file or a pipe, and its summaries.
//! * `replay`: the replayer core (pacer, the clock that waits for due times, per-entity
//!   ordering, concurrency, shutdown, checkpoints and their lock, the saved measurements of a
//!   resumed run's segments), which knows nothing of HTTP.
//! * `api`: the FreshMart contract: events to requests, the client with retries, health,
//!   world snapshots, reads for `verify`, propagation probes, `cleanup` of a run's subjects.
//! * `mix`: the activity counts the model produces from a profile (`loadgen profiles`).
//! * `outcome`: the closed set of failure kinds, and how each is counted.
//! * `metrics`, `report`: histograms and counts; the console's header, status lines and summary.
//! * `result`: the versioned run result document (the JSON report, `schema/result.schema.json`),
//!   read back, and the exact merge of a sharded run's results (`loadgen merge`).
//! * `verify`: the state a trace implies, compared with what the API returns.
//! * `rates`: offered activities, requests and triples per minute (`start --dry-run`).
//! * `units`: parsing of durations, speeds and rates shared by the commands.
//! * `cli`, `cli_examples`, `cmd`: the command line (clap definitions and the examples of each
//!   command's `--help`) and one glue module per subcommand.
//! * `error`: the classes of failure (usage, input, run) that `main` maps to exit codes.
//! * `console`: standard output that a closed pipe silences instead of crashing the command.
//! * `output`: output files: never an input, written atomically, no temporary file left.
//!
//! `sim`, `trace`, `world`, `profile`, `event`, `metrics`, `verify` and `replay::pacer` are
//! synchronous and know nothing of tokio, reqwest or clap.

// Standard output goes through `console` (`out!`/`outln!`), which survives a closed pipe.
#![warn(clippy::print_stdout)]

pub mod api;
pub mod causal;
pub mod cli;
pub mod cli_examples;
pub mod cmd;
pub mod console;
pub mod error;
pub mod event;
pub mod html;
pub mod metrics;
pub mod mix;
pub mod outcome;
pub mod output;
pub mod profile;
pub mod rates;
pub mod replay;
pub mod report;
pub mod result;
pub mod sim;
pub mod stats;
pub mod threshold;
pub mod trace;
pub mod units;
pub mod verify;
pub mod world;
