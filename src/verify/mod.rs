//! `verify`: the state a trace implies (each order's final status, total and lines; new
//! customers; the last stock level of each touched item) and its comparison with what the
//! API's read endpoints return. Pure: the reads are done by `api::reads`.

pub mod compare;
pub mod expected;

pub use crate::contract::Subjects;
pub use compare::{
    compare_order, compare_rest, order_number_of, Finding, FindingKind, Observed, ObservedCustomer,
    ObservedLine, ObservedOrder,
};
pub use expected::{ExpectedLine, ExpectedOrder, ExpectedState};
