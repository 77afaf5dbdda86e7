//! `verify`: the state a trace implies (each order's final status, total and lines; new
//! customers; the last stock level of each touched item), its comparison with what the API's
//! read endpoints return, and the outcome rendered for the console and the report. Pure: the
//! reads are done by `api::reads`.

pub mod compare;
pub mod expected;
pub mod report;

pub use crate::contract::Subjects;
pub use compare::{
    compare_order, compare_rest, order_number_of, Finding, FindingKind, Findings, Observed,
    ObservedCustomer, ObservedLine, ObservedOrder,
};
pub use expected::{read_expected, ExpectedLine, ExpectedOrder, ExpectedState, Folded};
pub use report::{Disagreement, Verification};
