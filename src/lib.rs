//! `loadgen`: realistic, reproducible e-commerce load for the FreshMart digital twin.
//!
//! # Layout
//! * `profile`: the load profiles (built-in and from TOML files) and their validation.
//! * `world`: stores, products, customers and inventory items that events point into.
//! * `event`: the semantic events a simulation produces and a trace stores.
//! * `sim`: the deterministic discrete-event simulator (virtual clock, event queue, model).
//! * `trace`: the versioned, checksummed, streaming trace file format, and its summaries.
//! * `units`: parsing of durations, speeds and rates shared by the commands.
//! * `cli`, `cmd`: the command line (clap) and one glue module per subcommand.
//!
//! `sim`, `trace`, `world`, `profile` and `event` are synchronous and know nothing of tokio,
//! reqwest or clap.

pub mod api;
pub mod cli;
pub mod cmd;
pub mod event;
pub mod metrics;
pub mod profile;
pub mod replay;
pub mod report;
pub mod sim;
pub mod trace;
pub mod units;
pub mod verify;
pub mod world;
