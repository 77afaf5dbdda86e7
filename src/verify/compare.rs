//! Expected state versus what the API returned: missing, mismatched and unexpected entities.

use std::collections::BTreeMap;

use serde::Serialize;

use super::expected::ExpectedState;
use crate::trace::export::dollars;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedLine {
    pub product_id: String,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedOrder {
    pub status: String,
    /// As the API shows it (`"53.52"`); compared as cents.
    pub total: String,
    pub customer_id: String,
    pub store_id: String,
    pub lines: BTreeMap<String, ObservedLine>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedCustomer {
    pub name: String,
    pub email: String,
    pub address: String,
}

/// What the API returned for the run's entities. `orders` holds only the orders that were
/// asked for and found; `run_orders` / `run_customers` are every id of the run's namespace the
/// API knows (for "unexpected").
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub orders: BTreeMap<String, ObservedOrder>,
    pub run_orders: Vec<String>,
    pub customers: BTreeMap<String, ObservedCustomer>,
    pub run_customers: Vec<String>,
    pub stock_levels: BTreeMap<String, Option<i64>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Missing,
    Mismatched,
    Unexpected,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub subject: String,
    pub detail: String,
}

fn cents(text: &str) -> Option<u64> {
    crate::world::parse_cents(text).map(u64::from)
}

pub fn compare(expected: &ExpectedState, observed: &Observed) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut push = |kind, subject: &str, detail: String| {
        findings.push(Finding {
            kind,
            subject: subject.to_string(),
            detail,
        })
    };
    for (id, want) in &expected.orders {
        let Some(got) = observed.orders.get(id) else {
            push(FindingKind::Missing, id, "order not found".into());
            continue;
        };
        let mut diffs = Vec::new();
        if got.status != want.status.as_api() {
            diffs.push(format!("status {} (expected {})", got.status, want.status));
        }
        if cents(&got.total) != Some(want.total_cents) {
            diffs.push(format!(
                "total {} (expected {})",
                got.total,
                dollars(want.total_cents)
            ));
        }
        if got.customer_id != want.customer_id {
            diffs.push(format!(
                "customer {} (expected {})",
                got.customer_id, want.customer_id
            ));
        }
        if got.store_id != want.store_id {
            diffs.push(format!(
                "store {} (expected {})",
                got.store_id, want.store_id
            ));
        }
        for (line, w) in &want.lines {
            match got.lines.get(line) {
                None => diffs.push(format!("line {line} missing")),
                Some(g) if g.product_id != w.product_id || g.quantity != w.quantity => {
                    diffs.push(format!(
                        "line {line} is {} x{} (expected {} x{})",
                        g.product_id, g.quantity, w.product_id, w.quantity
                    ))
                }
                Some(_) => {}
            }
        }
        for line in got.lines.keys().filter(|l| !want.lines.contains_key(*l)) {
            diffs.push(format!("line {line} should not exist"));
        }
        if !diffs.is_empty() {
            push(FindingKind::Mismatched, id, diffs.join("; "));
        }
    }
    for id in observed
        .run_orders
        .iter()
        .filter(|id| !expected.orders.contains_key(*id))
    {
        push(
            FindingKind::Unexpected,
            id,
            "order of this run not in the trace".into(),
        );
    }
    for (id, want) in &expected.customers {
        match observed.customers.get(id) {
            None => push(FindingKind::Missing, id, "customer not found".into()),
            Some(got)
                if got.name != want.name
                    || got.email != want.email
                    || got.address != want.address =>
            {
                push(
                    FindingKind::Mismatched,
                    id,
                    format!(
                        "{} <{}>, {} (expected {} <{}>, {})",
                        got.name, got.email, got.address, want.name, want.email, want.address
                    ),
                )
            }
            Some(_) => {}
        }
    }
    for id in observed
        .run_customers
        .iter()
        .filter(|id| !expected.customers.contains_key(*id))
    {
        push(
            FindingKind::Unexpected,
            id,
            "customer of this run not in the trace".into(),
        );
    }
    for (id, want) in &expected.stock_levels {
        match observed.stock_levels.get(id) {
            None => push(FindingKind::Missing, id, "inventory item not found".into()),
            Some(got) if *got != Some(i64::from(*want)) => push(
                FindingKind::Mismatched,
                id,
                format!("stock level {got:?} (expected {want})"),
            ),
            Some(_) => {}
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::OrderStatus;
    use crate::verify::{ExpectedLine, ExpectedOrder};

    fn expected() -> ExpectedState {
        let mut state = ExpectedState::default();
        state.orders.insert(
            "order:LG-r-000001".into(),
            ExpectedOrder {
                status: OrderStatus::Picking,
                total_cents: 1234,
                customer_id: "customer:00001".into(),
                store_id: "store:BK-01".into(),
                lines: [(
                    "orderline:LG-r-000001-01".to_string(),
                    ExpectedLine {
                        product_id: "product:prod0001".into(),
                        quantity: 2,
                    },
                )]
                .into(),
            },
        );
        state.stock_levels.insert("inventory:INV-000001".into(), 42);
        state
    }

    fn matching() -> Observed {
        let mut o = Observed::default();
        o.orders.insert(
            "order:LG-r-000001".into(),
            ObservedOrder {
                status: "PICKING".into(),
                total: "12.34".into(),
                customer_id: "customer:00001".into(),
                store_id: "store:BK-01".into(),
                lines: [(
                    "orderline:LG-r-000001-01".to_string(),
                    ObservedLine {
                        product_id: "product:prod0001".into(),
                        quantity: 2,
                    },
                )]
                .into(),
            },
        );
        o.run_orders.push("order:LG-r-000001".into());
        o.stock_levels
            .insert("inventory:INV-000001".into(), Some(42));
        o
    }

    #[test]
    fn agreement_has_no_findings() {
        assert_eq!(compare(&expected(), &matching()), vec![]);
    }

    #[test]
    fn each_kind_of_disagreement_is_reported() {
        let mut o = matching();
        let order = o.orders.get_mut("order:LG-r-000001").unwrap();
        order.status = "CREATED".into();
        order.total = "12.30".into();
        order.lines.clear();
        o.run_orders.push("order:LG-r-000099".into());
        o.stock_levels.clear();
        let f = compare(&expected(), &o);
        let kinds: Vec<_> = f.iter().map(|x| (x.kind, x.subject.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (FindingKind::Mismatched, "order:LG-r-000001"),
                (FindingKind::Unexpected, "order:LG-r-000099"),
                (FindingKind::Missing, "inventory:INV-000001"),
            ]
        );
        assert!(
            f[0].detail.contains("status CREATED (expected PICKING)"),
            "{}",
            f[0].detail
        );
        assert!(f[0].detail.contains("total 12.30 (expected 12.34)"));
        assert!(f[0]
            .detail
            .contains("line orderline:LG-r-000001-01 missing"));
    }
}
