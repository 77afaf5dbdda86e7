//! Virtual time lives on the ground floor (`crate::time`), since the whole crate uses it; this
//! path stays for the simulator's modules.

pub use crate::time::*;
