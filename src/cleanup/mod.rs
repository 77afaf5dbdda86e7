//! `cleanup`: what a run left in the API, found from its trace (`scope`), removed by deleting
//! what it created and, with `--restore-stock`, putting back the stock levels it wrote (`run`,
//! through `api::cleanup` and `api::restore`), and the console's account of both rendered
//! from data (`report`).

pub mod report;
pub mod run;
pub mod scope;

pub use report::{CleanupOutcome, Incomplete};
pub use run::execute;
pub use scope::{read_scope, CleanupError, Scope};
