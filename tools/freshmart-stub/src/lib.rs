//! A FreshMart-compatible HTTP server for loadgen's tests, demos and benchmarks: the API's
//! endpoints, validation and answers over an in-memory triple store seeded with the stock world,
//! with injectable latency, errors, connection resets, outages and a capacity limit.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let stub = freshmart_stub::spawn("127.0.0.1:0", freshmart_stub::StubConfig::default()).await?;
//! println!("{}", stub.url());
//! stub.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod clock;
mod faults;
mod latency;
mod literal;
mod ontology;
mod request;
mod server;
mod stats;
mod store;
mod views;
mod visibility;
mod world;

pub use latency::{Latency, ParseLatencyError};
pub use ontology::ObjectType;
pub use server::{spawn, StubConfig, StubHandle};
pub use stats::{RecordedRequest, StubStats};
pub use store::Triple;
