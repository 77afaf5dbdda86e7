//! Every kind of event reaches every part that must know it: the contract (its requests), the
//! exporter, `verify`'s expected state and the activity counts. Adding an `Action` variant
//! fails here first: `variant_index` is an exhaustive match, and the simulated day must produce
//! one event of each variant (README, "Adding an activity").

mod common;

use std::sync::Arc;

use loadgen::api::RequestContext;
use loadgen::event::{Action, Activity, Event};
use loadgen::sim::time::Calendar;
use loadgen::trace::export::export_row;
use loadgen::verify::expected::ExpectedState;

/// One slot per `Action` variant. No wildcard arm: a new variant does not compile until it is
/// given a slot here (and then the checks below apply to it).
const VARIANTS: usize = 6;
fn variant_index(action: &Action) -> usize {
    match action {
        Action::NewCustomer { .. } => 0,
        Action::NewOrder(_) => 1,
        Action::Transition { .. } => 2,
        Action::AddLine { .. } => 3,
        Action::RemoveLine { .. } => 4,
        Action::InventoryUpdate { .. } => 5,
    }
}

/// The first event of each variant in a standard day (fixed seed).
fn one_of_each() -> Vec<Event> {
    let world = loadgen::world::builtin_world();
    let config = common::config("standard", 11, common::DEFAULT_START, 6 * 3_600_000);
    let mut found: Vec<Option<Event>> = vec![None; VARIANTS];
    for event in common::simulate(&world, &config) {
        let slot = &mut found[variant_index(&event.action)];
        if slot.is_none() {
            *slot = Some(event);
        }
    }
    found
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            e.unwrap_or_else(|| panic!("the simulator produced no event of variant #{i}"))
        })
        .collect()
}

#[test]
fn every_action_becomes_requests_an_export_row_and_expected_state() {
    let world = Arc::new(loadgen::world::builtin_world());
    let calendar = Calendar::new(common::start(common::DEFAULT_START));
    let context = RequestContext {
        world: world.clone(),
        run_id: Some("t1".into()),
        calendar: calendar.clone(),
        shift: chrono::Duration::zero(),
    };
    let mut expected = ExpectedState::default();
    for (seq, event) in one_of_each().iter().enumerate() {
        let what = format!("{:?}", event.action);
        let requests = context.requests_for(event);
        assert!(!requests.is_empty(), "no request for {what}");
        assert_eq!(
            requests.len() as u32,
            event.action.request_count(),
            "request_count disagrees with the contract for {what}"
        );
        for request in &requests {
            assert!(request.path.starts_with('/'), "{what}: {}", request.path);
        }
        let row = export_row(&world, &calendar, seq as u64 + 1, event);
        assert_eq!(row.activity, event.action.activity().key(), "{what}");
        assert!(
            row.subject.contains(':'),
            "{what}: subject `{}`",
            row.subject
        );
        expected.apply(&world, event);
    }
    assert!(
        !expected.orders.is_empty()
            && !expected.customers.is_empty()
            && !expected.stock_levels.is_empty(),
        "{expected:?}"
    );
}

#[test]
fn every_activity_is_produced_and_counted_under_its_own_key() {
    let world = loadgen::world::builtin_world();
    let config = common::config("standard", 11, common::DEFAULT_START, 6 * 3_600_000);
    let produced: std::collections::BTreeSet<Activity> = common::simulate(&world, &config)
        .iter()
        .map(|e| e.action.activity())
        .collect();
    assert_eq!(produced, Activity::ALL.into_iter().collect());
    let keys: std::collections::BTreeSet<&str> = Activity::ALL.iter().map(|a| a.key()).collect();
    assert_eq!(
        keys.len(),
        Activity::ALL.len(),
        "two activities share a key"
    );
    for (i, activity) in Activity::ALL.iter().enumerate() {
        assert_eq!(activity.index(), i, "{activity:?}");
    }
}
