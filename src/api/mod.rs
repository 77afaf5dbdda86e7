//! FreshMart over HTTP: sending the requests `contract` builds (with retries), reading and
//! classifying responses, health checks, world snapshots, reads for `verify`, probes and
//! cleanup. See `docs/freshmart-api.md`. Every read goes through `fetch::ApiReader` (retries).

pub mod cleanup;
pub mod client;
pub mod fetch;
pub mod health;
pub mod prepared;
pub mod probe;
pub mod reads;
pub mod requests;
pub mod restore;
pub mod transport;
pub mod world;

pub use client::{ClientOptions, FreshMartExecutor};
pub use requests::{ApiRequest, Method, RequestContext};
