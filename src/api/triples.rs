//! Triples as the API takes them: defined in `contract::triples`.

pub use crate::contract::triples::*;
