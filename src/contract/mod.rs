//! The FreshMart contract, pure (no HTTP client, no runtime): the ids of every subject and a
//! run's namespace, order statuses, money, the API's rows, and which requests an event
//! becomes. Everything that names a subject, spells a status or an amount, or turns an event
//! into writes goes through here: the replay, export, verify, probes, cleanup and the console.
//! See `docs/freshmart-api.md`.
//!
//! `ids`, `statuses` and `money` depend on nothing above `event`'s number types and `text`
//! (strings written in place, for request bodies); `subjects` and `requests` read the world.

pub mod ids;
pub mod money;
pub mod requests;
pub mod rows;
pub mod statuses;
pub mod subjects;
pub mod text;
pub mod triples;

#[cfg(test)]
mod pinned_requests;

pub use requests::{steps, ApiRequest, Method, RequestContext, Step, Steps, Write};
pub use statuses::OrderStatus;
pub use subjects::Subjects;
