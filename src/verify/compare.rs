//! Expected state versus what the API returned: missing, mismatched and unexpected entities.

use std::collections::BTreeMap;

use serde::Serialize;

use super::expected::{ExpectedOrder, ExpectedState};
use crate::contract::money::{dollars, parse_cents};
use crate::contract::{ids, Subjects};
use crate::event::OrderNo;

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

/// What the API returned besides the orders (which are compared one by one as they are read,
/// so that none is kept): every id of the run's namespace the API knows (for "unexpected"),
/// the expected new customers, the touched inventory items.
#[derive(Clone, Debug, Default)]
pub struct Observed {
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
    parse_cents(text).map(u64::from)
}

/// The order number of `id` when it is an order subject of this run.
pub fn order_number_of(subjects: &Subjects, id: &str) -> Option<OrderNo> {
    ids::order_of_subject(id, subjects.run)
}

/// One order: what the trace implies against what the API returned (`None`: not found).
pub fn compare_order(
    subjects: &Subjects,
    number: OrderNo,
    want: &ExpectedOrder,
    got: Option<&ObservedOrder>,
) -> Option<Finding> {
    let subject = subjects.order(number);
    let Some(got) = got else {
        return Some(Finding {
            kind: FindingKind::Missing,
            subject,
            detail: "order not found".into(),
        });
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
    let customer = subjects.customer(want.customer);
    if got.customer_id != customer {
        diffs.push(format!(
            "customer {} (expected {customer})",
            got.customer_id
        ));
    }
    let store = subjects.store(want.store);
    if got.store_id != store {
        diffs.push(format!("store {} (expected {store})", got.store_id));
    }
    let mut wanted_lines = Vec::with_capacity(want.lines.len());
    for w in &want.lines {
        let line = subjects.line(number, w.seq);
        let product = subjects.product(w.product);
        match got.lines.get(&line) {
            None => diffs.push(format!("line {line} missing")),
            Some(g) if g.product_id != product || g.quantity != u32::from(w.quantity) => diffs
                .push(format!(
                    "line {line} is {} x{} (expected {product} x{})",
                    g.product_id, g.quantity, w.quantity
                )),
            Some(_) => {}
        }
        wanted_lines.push(line);
    }
    for line in got.lines.keys().filter(|l| !wanted_lines.contains(l)) {
        diffs.push(format!("line {line} should not exist"));
    }
    (!diffs.is_empty()).then(|| Finding {
        kind: FindingKind::Mismatched,
        subject,
        detail: diffs.join("; "),
    })
}

/// Everything but the orders' own contents: orders of the run the trace does not have, new
/// customers, stock levels.
pub fn compare_rest(
    subjects: &Subjects,
    expected: &ExpectedState,
    observed: &Observed,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut push = |kind, subject: &str, detail: String| {
        findings.push(Finding {
            kind,
            subject: subject.to_string(),
            detail,
        })
    };
    for id in &observed.run_orders {
        if !order_number_of(subjects, id).is_some_and(|n| expected.orders.contains_key(&n)) {
            push(
                FindingKind::Unexpected,
                id,
                "order of this run not in the trace".into(),
            );
        }
    }
    let mut wanted_customers = Vec::with_capacity(expected.customers.len());
    for (number, persona) in &expected.customers {
        let id = subjects.new_customer(*number);
        let (name, email, address) = (
            persona.full_name(),
            persona.email(*number),
            persona.address(),
        );
        match observed.customers.get(&id) {
            None => push(FindingKind::Missing, &id, "customer not found".into()),
            Some(got) if got.name != name || got.email != email || got.address != address => push(
                FindingKind::Mismatched,
                &id,
                format!(
                    "{} <{}>, {} (expected {name} <{email}>, {address})",
                    got.name, got.email, got.address
                ),
            ),
            Some(_) => {}
        }
        wanted_customers.push(id);
    }
    wanted_customers.sort();
    for id in &observed.run_customers {
        if wanted_customers.binary_search(id).is_err() {
            push(
                FindingKind::Unexpected,
                id,
                "customer of this run not in the trace".into(),
            );
        }
    }
    for (item, want) in &expected.stock_levels {
        let id = subjects.inventory(*item);
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

/// The findings of one verification, collected as the reads come back: each order as it
/// arrives (reads finish in any order), then the rest; listed with the orders first, in order
/// number order.
pub struct Findings<'a> {
    subjects: Subjects<'a>,
    expected: &'a ExpectedState,
    orders: Vec<(OrderNo, Finding)>,
}

impl<'a> Findings<'a> {
    pub fn new(subjects: Subjects<'a>, expected: &'a ExpectedState) -> Findings<'a> {
        Findings {
            subjects,
            expected,
            orders: Vec::new(),
        }
    }

    /// Compares order `number` with what the API returned for it (`None`: not found).
    pub fn order(&mut self, number: OrderNo, got: Option<&ObservedOrder>) {
        let Some(want) = self.expected.orders.get(&number) else {
            return;
        };
        if let Some(finding) = compare_order(&self.subjects, number, want, got) {
            self.orders.push((number, finding));
        }
    }

    /// Every finding: the orders' in number order, then the rest's (`compare_rest`).
    pub fn finish(mut self, observed: &Observed) -> Vec<Finding> {
        self.orders.sort_by_key(|(number, _)| *number);
        let mut findings: Vec<Finding> = self.orders.into_iter().map(|(_, f)| f).collect();
        findings.extend(compare_rest(&self.subjects, self.expected, observed));
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CustomerRef, OrderStatus};
    use crate::verify::{ExpectedLine, ExpectedOrder};
    use crate::world::builtin_world;

    fn expected() -> ExpectedState {
        let mut state = ExpectedState::default();
        state.orders.insert(
            1,
            ExpectedOrder {
                status: OrderStatus::Picking,
                total_cents: 1234,
                customer: CustomerRef::Existing(0),
                store: 0,
                lines: vec![ExpectedLine {
                    seq: 1,
                    product: 0,
                    quantity: 2,
                }],
            },
        );
        state.stock_levels.insert(0, 42);
        state
    }

    fn matching(s: &Subjects) -> (ObservedOrder, Observed) {
        let order = ObservedOrder {
            status: "PICKING".into(),
            total: "12.34".into(),
            customer_id: s.customer(CustomerRef::Existing(0)),
            store_id: s.store(0).into(),
            lines: [(
                s.line(1, 1),
                ObservedLine {
                    product_id: s.product(0).into(),
                    quantity: 2,
                },
            )]
            .into(),
        };
        let mut o = Observed::default();
        o.run_orders.push(s.order(1));
        o.stock_levels.insert(s.inventory(0).into(), Some(42));
        (order, o)
    }

    #[test]
    fn agreement_has_no_findings() {
        let world = builtin_world();
        let s = Subjects {
            world: &world,
            run: Some("r"),
        };
        let e = expected();
        let (order, rest) = matching(&s);
        assert_eq!(compare_order(&s, 1, &e.orders[&1], Some(&order)), None);
        assert_eq!(compare_rest(&s, &e, &rest), vec![]);
    }

    #[test]
    fn each_kind_of_disagreement_is_reported() {
        let world = builtin_world();
        let s = Subjects {
            world: &world,
            run: Some("r"),
        };
        let e = expected();
        let (mut order, mut rest) = matching(&s);
        order.status = "CREATED".into();
        order.total = "12.30".into();
        order.lines.clear();
        rest.run_orders.push(s.order(99));
        rest.stock_levels.clear();
        let f = compare_order(&s, 1, &e.orders[&1], Some(&order)).unwrap();
        assert_eq!(
            (f.kind, f.subject.as_str()),
            (FindingKind::Mismatched, "order:LG-r-000001")
        );
        assert!(
            f.detail.contains("status CREATED (expected PICKING)"),
            "{}",
            f.detail
        );
        assert!(f.detail.contains("total 12.30 (expected 12.34)"));
        assert!(f.detail.contains("line orderline:LG-r-000001-01 missing"));
        let rest = compare_rest(&s, &e, &rest);
        let kinds: Vec<_> = rest.iter().map(|x| (x.kind, x.subject.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (FindingKind::Unexpected, "order:LG-r-000099"),
                (FindingKind::Missing, s.inventory(0)),
            ]
        );
        let missing = compare_order(&s, 1, &e.orders[&1], None).unwrap();
        assert_eq!(missing.kind, FindingKind::Missing);
    }

    #[test]
    fn findings_list_orders_by_number_whatever_order_the_reads_came_back_in() {
        let world = builtin_world();
        let s = Subjects {
            world: &world,
            run: Some("r"),
        };
        let mut e = expected();
        let second = e.orders[&1].clone();
        e.orders.insert(2, second);
        let (order, mut rest) = matching(&s);
        rest.run_orders.push(s.order(2));
        rest.stock_levels.insert(s.inventory(0).into(), Some(41));
        let mut findings = Findings::new(s, &e);
        findings.order(2, None);
        findings.order(
            1,
            Some(&ObservedOrder {
                status: "CREATED".into(),
                ..order.clone()
            }),
        );
        // A number the trace does not imply is no finding of its own (the rest reports it).
        findings.order(7, None);
        let found: Vec<_> = findings
            .finish(&rest)
            .into_iter()
            .map(|f| (f.kind, f.subject))
            .collect();
        assert_eq!(
            found,
            [
                (FindingKind::Mismatched, "order:LG-r-000001".to_string()),
                (FindingKind::Missing, "order:LG-r-000002".to_string()),
                (FindingKind::Mismatched, s.inventory(0).to_string()),
            ]
        );
        let only_one = expected();
        let mut agreeing = Findings::new(s, &only_one);
        agreeing.order(1, Some(&order));
        assert_eq!(agreeing.finish(&matching(&s).1), vec![]);
    }

    #[test]
    fn order_numbers_are_parsed_back_only_from_this_runs_ids() {
        let world = builtin_world();
        let s = Subjects {
            world: &world,
            run: Some("r1"),
        };
        assert_eq!(order_number_of(&s, "order:LG-r1-000042"), Some(42));
        assert_eq!(order_number_of(&s, "order:LG-r2-000042"), None);
        assert_eq!(order_number_of(&s, "order:LG-r1-42"), None);
    }
}
