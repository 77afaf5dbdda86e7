//! `loadgen`: realistic, reproducible e-commerce load for the FreshMart digital twin.
//!
//! # Layout
//!
//! A command goes argument list → plan → selection → replay → result → report:
//!
//! * `cli`, `cli_examples`: the clap definitions and the examples of each command's `--help`.
//! * `plan`: each command's arguments settled into the values its run uses, before anything is
//!   sent or written (`ReplayPlan`, `StartPlan`, `VerifyPlan`, `SimulatePlan`, `CleanupPlan`,
//!   `plan::result` for thresholds, tags and the abort watch, `plan::client` for the headers,
//!   trusted roots and secrets the HTTP clients are built with), pure where it can be (the
//!   clock and the environment come in as `plan::Env`).
//! * `cmd`: one thin glue module per subcommand (plan, run, finish), and the glue `replay` and
//!   `start` share (`cmd::session`: the health gate on the API flags, driving the replayer
//!   core, the exit code of the verdict).
//! * `session`: what surrounds a run of `replay` and `start`: the health gate and the wait for
//!   `--start-at` (`gate`), signals (`signals`), the console while it runs (`console`), the
//!   event sources (`feed`: the trace's second reading, a live simulation), live metrics and
//!   the events file (`outputs`), a replay's checkpoint segments (`segment`), `start --record`
//!   (`recording`), and the summary, report and verdict at the end (`verdict`).
//! * `simulate`: a world file read, and the simulator streamed into a trace (`loadgen simulate`).
//! * `error`: the classes of failure that `main`, alone, maps to exit codes.
//!
//! The model and the trace:
//! * `profile`: the load profiles (built-in and from TOML files) and their validation.
//! * `world`: stores, products, customers and inventory items that events point into.
//! * `event`: the semantic events a simulation produces and a trace stores.
//! * `time`: virtual time (`SimTime`) and the calendar that maps it to a local time of day.
//! * `sim`: the deterministic discrete-event simulator (event queue, model).
//! * `mix`: the activity counts the model produces from a profile (`loadgen profiles`).
//! * `trace`: the versioned, checksummed, streaming trace file format, reading a trace once
//!   from a file or a pipe, and its summaries.
//! * `rates`: offered activities, requests and triples per minute (`start --dry-run`).
//!
//! Sending it:
//! * `causal`: each event's causal root (a created customer with its orders, an order of a
//!   world customer, an inventory item) and the stable partition of roots that dispatchers
//!   (`--threads`) and shards (`--shard I/N`) split a trace by.
//! * `selection`: the one decision of which trace events a run sends (window ∧ resume ∧
//!   shard), each event with its root; `replay`, `verify`, `inspect` and `cleanup` use it.
//! * `replay`: the replayer core, which knows nothing of HTTP: the pacer and the clock that
//!   waits for due times, a router and dispatchers that each own a partition of the roots and
//!   keep each root's events in order (completions come back over a channel: no shared lock),
//!   thread per core (one dispatcher on the calling thread; several, each on its own thread
//!   with a current-thread runtime, clock and connection pool), concurrency, shutdown,
//!   checkpoints and their lock, a resumed run's saved segments.
//! * `contract`: the FreshMart contract, pure: subject ids and a run's namespace, order
//!   statuses, money, the API's rows, and which requests an event becomes.
//! * `api`: talking to FreshMart over HTTP: requests prepared once (`api::prepared`), the
//!   client with retries, health, world snapshots, reads for `verify`, propagation probes,
//!   the deletes and stock restores of `cleanup`. The replay's sends go over connections of
//!   its own (`api::transport`: hyper HTTP/1.1, a keep-alive pool per dispatcher, rustls).
//! * `cleanup`: a run's footprint read from its trace (`cleanup::scope`), its deletes and
//!   restores sent through `api` (`cleanup::run`), and the console's account of both rendered
//!   from data (`cleanup::report`).
//! * `outcome`: the closed set of failure kinds, and how each is counted.
//!
//! Results:
//! * `metrics`: the histograms and counts a run aggregates from its event records.
//! * `result`: the versioned run result document (the JSON report,
//!   `schema/result.schema.json`), read back, merged exactly (`loadgen merge`), compared
//!   (`loadgen compare`), rendered (`loadgen report`), and checked against thresholds.
//! * `report`: the console's header, status lines and final summary, rendered from a result.
//! * `threshold`: threshold expressions and files, and when a threshold can no longer pass.
//! * `stats`: the Mann–Whitney U test and the noise rule behind `compare`'s verdicts.
//! * `html`: self-contained HTML pages with inline SVG charts (plotters).
//! * `live_metrics`, `metrics_server`: OpenMetrics counters and histograms served during a run
//!   (`--metrics-addr`); `events_out`: one row per event (`--events-out`).
//! * `verify`: the state a trace implies, compared with what the API returns, and the outcome
//!   (`verify::Verification`) rendered for the console and the JSON report.
//!
//! Shared:
//! * `units`: parsing of durations, speeds and rates.
//! * `console`: standard output that a closed pipe silences instead of crashing the command.
//! * `output`: output files: never an input, written atomically, no temporary file left.
//!
//! `sim`, `time`, `contract`, `causal`, `selection`, `trace`, `world`, `profile`, `event`,
//! `metrics`, `result`, `threshold`, `stats`, `verify` and `replay::pacer` are synchronous and
//! know nothing of tokio, reqwest or clap.

// Standard output goes through `console` (`out!`/`outln!`), which survives a closed pipe.
#![warn(clippy::print_stdout)]

pub mod api;
pub mod causal;
pub mod cleanup;
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
pub mod session;
pub mod sim;
pub mod simulate;
pub mod stats;
pub mod threshold;
pub mod time;
pub mod trace;
pub mod units;
pub mod verify;
pub mod world;
