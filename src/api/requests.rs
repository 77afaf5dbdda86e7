//! Event → HTTP requests: the pure mapping lives in `contract::requests`; this path stays for
//! the client that sends them.

pub use crate::contract::requests::*;
