//! Statistics for comparing two runs: the Mann–Whitney U test on plain samples
//! (`mann_whitney`) and on (value, count) samples such as HDR histograms (`weighted`), and the
//! rule that turns a change and its p-value into a verdict (`change`). Pure functions; they
//! know nothing of result documents.

pub mod change;
pub mod mann_whitney;
pub mod weighted;

pub use change::{judge, Direction, Judgement, NoiseRule, Verdict};
pub use mann_whitney::{mann_whitney_u, MannWhitney, Method, StatsError};
pub use weighted::{mann_whitney_u_counts, mann_whitney_u_histograms};
