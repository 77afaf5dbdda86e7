//! The FreshMart API contract, and the only module that knows it: how an event becomes
//! requests (triples, endpoints), how responses are read and classified, health checks.
//! See `docs/freshmart-api.md`. Every read goes through `fetch::ApiReader` (retries).

pub mod cleanup;
pub mod client;
pub mod fetch;
pub mod health;
pub mod prepared;
pub mod probe;
pub mod reads;
pub mod requests;
pub mod restore;
pub mod triples;
pub mod world;

pub use client::{ClientOptions, FreshMartExecutor};
pub use requests::{ApiRequest, Method, RequestContext};
