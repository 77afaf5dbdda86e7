//! Statistics for comparing two runs: the Mann–Whitney U test (`mann_whitney`) and the rule
//! that turns a change and its p-value into a verdict (`change`). Pure functions on plain
//! samples; they know nothing of result documents.

pub mod change;
pub mod mann_whitney;

pub use change::{holm, judge, Direction, Judgement, NoiseRule, Verdict};
pub use mann_whitney::{mann_whitney_u, MannWhitney, Method, StatsError};
