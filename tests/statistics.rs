//! Statistical and structural properties of ONE simulated day of the standard profile (seed
//! 20260105, starting at local midnight with offset 00:00 so hours of the trace are hours of the
//! day). The day is simulated once and shared by every test through a `OnceLock`.
//!
//! Tolerances are the issue's: mix ratios ±10% relative, cancellations 5% ± 1 point, the evening
//! peak 2.5× the afternoon within 15%, the night 0.3× within 20%, quantity shares ±2 points.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use loadgen::contract::ids;
use loadgen::event::{Action, Activity, CustomerRef, Event, Line, OrderNo, OrderStatus};
use loadgen::sim::time::{SimTime, MS_PER_HOUR, MS_PER_MINUTE};
use loadgen::trace::summary::TraceSummary;
use loadgen::world::World;

const SEED: u64 = 20_260_105;
const START: &str = "2026-01-05T00:00:00+00:00";
const DAY_MS: u64 = 24 * MS_PER_HOUR;

struct Day {
    world: World,
    events: Vec<Event>,
    summary: TraceSummary,
}

fn day() -> &'static Day {
    static DAY: OnceLock<Day> = OnceLock::new();
    DAY.get_or_init(|| {
        let world = loadgen::world::builtin_world();
        let config = common::config("standard", SEED, START, DAY_MS);
        let events = common::simulate(&world, &config);
        let mut summary = TraceSummary::new(DAY_MS);
        for event in &events {
            summary.add(event);
        }
        Day {
            world,
            events,
            summary,
        }
    })
}

fn within_relative(got: f64, want: f64, tolerance: f64) -> bool {
    (got / want - 1.0).abs() <= tolerance
}

fn orders(day: &Day) -> impl Iterator<Item = (&Event, &loadgen::event::NewOrder)> {
    day.events.iter().filter_map(|e| match &e.action {
        Action::NewOrder(o) => Some((e, o)),
        _ => None,
    })
}

#[test]
fn the_day_is_long_and_ordered() {
    let day = day();
    // Standard: 20 orders/min over a day whose multipliers average 25.9/24 ⇒ ~31,000 orders.
    let orders = day.summary.count(Activity::NewOrder);
    assert!(
        (28_000..34_000).contains(&orders),
        "{orders} orders in a standard day"
    );
    assert!(day.events.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(day.events.iter().all(|e| e.at < SimTime(DAY_MS)));
    assert!(
        day.events.last().unwrap().at > SimTime(DAY_MS - MS_PER_MINUTE),
        "activity continues to the end of the day"
    );
    assert_eq!(day.summary.events, day.events.len() as u64);
}

#[test]
fn the_mix_follows_the_spec_per_40_orders() {
    let s = &day().summary;
    let orders = s.count(Activity::NewOrder) as f64;
    // Per 40 orders: 5 new customers, 10 inventory updates, 10 order modifications.
    for (activity, want) in [
        (Activity::CustomerCreation, 5.0 / 40.0),
        (Activity::InventoryUpdate, 10.0 / 40.0),
        (Activity::OrderModification, 10.0 / 40.0),
    ] {
        let got = s.count(activity) as f64 / orders;
        assert!(
            within_relative(got, want, 0.10),
            "{}: {got:.4} per order, want {want} ± 10%",
            activity.key()
        );
    }
}

#[test]
fn five_percent_of_orders_are_cancelled() {
    let s = &day().summary;
    let share = s.count(Activity::Cancellation) as f64 / s.count(Activity::NewOrder) as f64;
    assert!(
        (0.04..=0.06).contains(&share),
        "cancellations are {:.2}% of orders",
        share * 100.0
    );
}

#[test]
fn peak_hours_shape_the_order_rate() {
    let day = day();
    let mut per_hour = [0u64; 24];
    for (event, _) in orders(day) {
        // The day starts at local midnight, so the hour of the trace is the hour of the day.
        per_hour[(event.at.as_ms() / MS_PER_HOUR) as usize] += 1;
    }
    assert_eq!(day.summary.orders_per_hour, per_hour.to_vec());
    let rate = |hours: &[usize]| {
        hours.iter().map(|&h| per_hour[h]).sum::<u64>() as f64 / hours.len() as f64
    };
    let afternoon = rate(&[13, 14, 15, 16]);
    // 1x is the profile's nominal rate: 20/min.
    assert!(
        within_relative(afternoon, 20.0 * 60.0, 0.10),
        "13–17 h: {afternoon} orders/h"
    );
    let checks: [(&str, &[usize], f64, f64); 4] = [
        ("17–20 h", &[17, 18, 19], 2.5, 0.15),
        ("22–06 h", &[22, 23, 0, 1, 2, 3, 4, 5], 0.3, 0.20),
        ("07–09 h", &[7, 8], 1.5, 0.15),
        ("11–13 h", &[11, 12], 2.0, 0.15),
    ];
    for (label, hours, factor, tolerance) in checks {
        let ratio = rate(hours) / afternoon;
        assert!(
            within_relative(ratio, factor, tolerance),
            "{label}: {ratio:.3}× the 13–17 h rate, want {factor}× ± {}% ({per_hour:?})",
            tolerance * 100.0
        );
    }
}

/// What the test knows of one order, rebuilt from the events alone.
struct OrderState {
    status: OrderStatus,
    entered: SimTime,
    lines: Vec<Line>,
    used_seqs: BTreeSet<u8>,
    total_cents: u64,
    path: Vec<OrderStatus>,
}

fn total(world: &World, lines: &[Line]) -> u64 {
    lines
        .iter()
        .map(|l| u64::from(world.products[l.product as usize].price_cents) * u64::from(l.quantity))
        .sum()
}

fn bounds_ms(status: OrderStatus) -> (u64, u64) {
    let (lo, hi) = match status {
        OrderStatus::Created => (5, 30),
        OrderStatus::Picking => (10, 20),
        OrderStatus::OutForDelivery => (20, 45),
        other => panic!("{other} has no stage delay"),
    };
    (lo * MS_PER_MINUTE, hi * MS_PER_MINUTE)
}

#[test]
fn every_order_follows_the_lifecycle() {
    let day = day();
    let world = &day.world;
    let mut open: HashMap<OrderNo, OrderState> = HashMap::new();
    let mut closed: HashMap<OrderNo, Vec<OrderStatus>> = HashMap::new();
    let mut stage_delays: BTreeMap<OrderStatus, (u64, u64, u64)> = BTreeMap::new();
    let mut cancelled_from: BTreeMap<OrderStatus, u64> = BTreeMap::new();
    let mut modifications = 0u64;

    for (i, event) in day.events.iter().enumerate() {
        let at = event.at;
        let whats = || format!("event {i} at {at}: {:?}", event.action);
        match &event.action {
            Action::NewOrder(o) => {
                assert!(
                    !open.contains_key(&o.order) && !closed.contains_key(&o.order),
                    "order number reused: {}",
                    whats()
                );
                assert_eq!(o.total_cents, total(world, &o.lines), "{}", whats());
                open.insert(
                    o.order,
                    OrderState {
                        status: OrderStatus::Created,
                        entered: at,
                        lines: o.lines.clone(),
                        used_seqs: o.lines.iter().map(|l| l.seq).collect(),
                        total_cents: o.total_cents,
                        path: vec![OrderStatus::Created],
                    },
                );
            }
            Action::Transition { order, from, to } => {
                assert!(
                    !closed.contains_key(order),
                    "event after DELIVERED/CANCELLED: {}",
                    whats()
                );
                let state = open
                    .get_mut(order)
                    .unwrap_or_else(|| panic!("transition of an unknown order: {}", whats()));
                assert_eq!(*from, state.status, "{}", whats());
                let stay = at.as_ms() - state.entered.as_ms();
                if *to == OrderStatus::Cancelled {
                    assert!(
                        matches!(from, OrderStatus::Created | OrderStatus::Picking),
                        "cancelled from {from}: {}",
                        whats()
                    );
                    *cancelled_from.entry(*from).or_insert(0) += 1;
                    // A cancellation comes before the stage would have ended.
                    assert!(stay <= bounds_ms(*from).1, "{}", whats());
                } else {
                    assert_eq!(Some(*to), from.next(), "skipped a stage: {}", whats());
                    let (lo, hi) = bounds_ms(*from);
                    assert!(
                        (lo..=hi).contains(&stay),
                        "{from} lasted {stay} ms, outside {lo}..={hi}: {}",
                        whats()
                    );
                    let entry = stage_delays.entry(*from).or_insert((u64::MAX, 0, 0));
                    *entry = (entry.0.min(stay), entry.1.max(stay), entry.2 + 1);
                }
                state.status = *to;
                state.entered = at;
                state.path.push(*to);
                if to.next().is_none() {
                    let state = open.remove(order).unwrap();
                    closed.insert(*order, state.path);
                }
            }
            Action::AddLine {
                order,
                line,
                total_cents,
            } => {
                modifications += 1;
                assert!(
                    !closed.contains_key(order),
                    "modified a closed order: {}",
                    whats()
                );
                let state = open.get_mut(order).expect("modified an unknown order");
                assert_eq!(
                    state.status,
                    OrderStatus::Created,
                    "modified an order past CREATED: {}",
                    whats()
                );
                assert!(
                    state.used_seqs.insert(line.seq),
                    "line seq {} reused: {}",
                    line.seq,
                    whats()
                );
                assert!(
                    !state.lines.iter().any(|l| l.product == line.product),
                    "product already in the order: {}",
                    whats()
                );
                assert!((1..=4).contains(&line.quantity), "{}", whats());
                state.lines.push(*line);
                state.total_cents = total(world, &state.lines);
                assert_eq!(*total_cents, state.total_cents, "{}", whats());
            }
            Action::RemoveLine {
                order,
                seq,
                total_cents,
            } => {
                modifications += 1;
                assert!(
                    !closed.contains_key(order),
                    "modified a closed order: {}",
                    whats()
                );
                let state = open.get_mut(order).expect("modified an unknown order");
                assert_eq!(
                    state.status,
                    OrderStatus::Created,
                    "modified an order past CREATED: {}",
                    whats()
                );
                let before = state.lines.len();
                state.lines.retain(|l| l.seq != *seq);
                assert_eq!(
                    state.lines.len() + 1,
                    before,
                    "removed a line that is not there: {}",
                    whats()
                );
                assert!(!state.lines.is_empty(), "emptied an order: {}", whats());
                state.total_cents = total(world, &state.lines);
                assert_eq!(*total_cents, state.total_cents, "{}", whats());
            }
            Action::NewCustomer { .. } | Action::InventoryUpdate { .. } => {}
        }
    }

    assert!(modifications > 0);
    // Every stage delay covers its range, not just a part of it.
    for status in [
        OrderStatus::Created,
        OrderStatus::Picking,
        OrderStatus::OutForDelivery,
    ] {
        let (lo, hi) = bounds_ms(status);
        let (min, max, n) = stage_delays[&status];
        assert!(n > 10_000, "{status}: only {n} completed stays");
        assert!(
            min - lo < MS_PER_MINUTE && hi - max < MS_PER_MINUTE,
            "{status}: stays span {min}..{max} ms, the spec's range is {lo}..{hi}"
        );
    }
    // Cancellations come from both stages the spec allows.
    assert!(
        cancelled_from
            .get(&OrderStatus::Created)
            .copied()
            .unwrap_or(0)
            > 100
    );
    assert!(
        cancelled_from
            .get(&OrderStatus::Picking)
            .copied()
            .unwrap_or(0)
            > 100
    );
    // Paths of finished orders are exactly the lifecycle or a cancellation out of it.
    use OrderStatus::*;
    for (order, path) in &closed {
        let ok = path == &[Created, Picking, OutForDelivery, Delivered]
            || path == &[Created, Cancelled]
            || path == &[Created, Picking, Cancelled];
        assert!(ok, "order {order}: {path:?}");
    }
    // An order still open at the end of the day entered its status recently: nothing is stuck.
    for (order, state) in &open {
        let (_, hi) = bounds_ms(state.status);
        assert!(
            state.entered.as_ms() + hi >= DAY_MS,
            "order {order} has been {} since {} and never moved on",
            state.status,
            state.entered
        );
    }
    // The summary `inspect` prints agrees on the stage durations.
    for (i, status) in loadgen::trace::summary::STAGES.iter().enumerate() {
        let (min, max, n) = stage_delays[status];
        let stats = day.summary.stages[i];
        assert_eq!((stats.min_ms, stats.max_ms, stats.count), (min, max, n));
    }
    assert_eq!(day.summary.open_orders(), open.len());
}

#[test]
fn quantities_are_weighted_50_30_15_5() {
    let day = day();
    let mut counts = [0u64; 5];
    for event in &day.events {
        match &event.action {
            Action::NewOrder(o) => {
                for line in &o.lines {
                    counts[usize::from(line.quantity).min(4)] += 1;
                }
            }
            Action::AddLine { line, .. } => counts[usize::from(line.quantity).min(4)] += 1,
            _ => {}
        }
    }
    let n: u64 = counts.iter().sum();
    assert_eq!(counts[0], 0, "a line with quantity 0 (or > 4)");
    for (quantity, want) in [(1, 0.50), (2, 0.30), (3, 0.15), (4, 0.05)] {
        let got = counts[quantity] as f64 / n as f64;
        assert!(
            (got - want).abs() <= 0.02,
            "quantity {quantity}: {:.2}% of {n} lines, want {}% ± 2",
            got * 100.0,
            want * 100.0
        );
    }
    // No quantity outside 1..=4 was folded into the last bucket.
    assert!(day.events.iter().all(|e| match &e.action {
        Action::NewOrder(o) => o.lines.iter().all(|l| (1..=4).contains(&l.quantity)),
        Action::AddLine { line, .. } => (1..=4).contains(&line.quantity),
        _ => true,
    }));
}

#[test]
fn baskets_and_delivery_windows_stay_in_range() {
    let day = day();
    let world = &day.world;
    let mut line_counts = [0u64; 7];
    let (mut min_start, mut max_start, mut min_len, mut max_len) = (u16::MAX, 0, u16::MAX, 0);
    for (event, o) in orders(day) {
        let n = o.lines.len();
        assert!((1..=6).contains(&n), "{n} lines at {}", event.at);
        line_counts[n] += 1;
        let seqs: Vec<u8> = o.lines.iter().map(|l| l.seq).collect();
        assert_eq!(seqs, (1..=n as u8).collect::<Vec<_>>(), "line seqs");
        let products: BTreeSet<u32> = o.lines.iter().map(|l| l.product).collect();
        assert_eq!(products.len(), n, "a product twice in one order");
        assert!(products
            .iter()
            .all(|&p| (p as usize) < world.products.len()));
        assert!((o.store as usize) < world.stores.len());
        assert!(
            (120..=480).contains(&o.window_start_min),
            "{}",
            o.window_start_min
        );
        assert!(
            (120..=240).contains(&o.window_len_min),
            "{}",
            o.window_len_min
        );
        min_start = min_start.min(o.window_start_min);
        max_start = max_start.max(o.window_start_min);
        min_len = min_len.min(o.window_len_min);
        max_len = max_len.max(o.window_len_min);
    }
    // Every basket size and both ends of the window ranges occur.
    assert!(
        line_counts[1..].iter().all(|&c| c > 1_000),
        "{line_counts:?}"
    );
    assert_eq!(
        (min_start, max_start, min_len, max_len),
        (120, 480, 120, 240)
    );
}

#[test]
fn ids_are_fresh_and_references_resolve() {
    let day = day();
    let world = &day.world;
    let stock_customers: BTreeSet<&str> = world.customers.iter().map(|c| c.id.as_str()).collect();
    let mut next_customer = 1;
    let mut next_order = 1;
    let mut new_existing = (0u64, 0u64);
    for event in &day.events {
        match &event.action {
            Action::NewCustomer {
                customer,
                home_store,
                ..
            } => {
                assert_eq!(*customer, next_customer, "customer numbers count up from 1");
                next_customer += 1;
                let subject = ids::new_customer_subject(*customer, None);
                assert!(
                    !stock_customers.contains(subject.as_str()),
                    "{subject} collides"
                );
                assert!(subject.starts_with("customer:LG-"), "{subject}");
                assert!((*home_store as usize) < world.stores.len());
            }
            Action::NewOrder(o) => {
                assert_eq!(o.order, next_order, "order numbers count up from 1");
                next_order += 1;
                let subject = ids::order_subject(o.order, None);
                assert!(
                    subject.starts_with("order:LG-") && !subject.starts_with("order:FM-"),
                    "{subject}"
                );
                match o.customer {
                    CustomerRef::Existing(i) => {
                        new_existing.1 += 1;
                        assert!((i as usize) < world.customers.len());
                    }
                    CustomerRef::New(n) => {
                        new_existing.0 += 1;
                        assert!(
                            n >= 1 && n < next_customer,
                            "order {} by customer {n}, who does not exist yet",
                            o.order
                        );
                    }
                }
            }
            Action::InventoryUpdate { item, stock_level } => {
                assert!((*item as usize) < world.inventory.len());
                assert!(*stock_level <= 1_000);
            }
            Action::AddLine { line, .. } => {
                assert!((line.product as usize) < world.products.len())
            }
            _ => {}
        }
    }
    // Both kinds of customers place orders.
    assert!(
        new_existing.0 > 1_000 && new_existing.1 > 1_000,
        "{new_existing:?}"
    );
    // Line subjects are unique per (order, seq) and look like the stock format's cousins.
    assert_eq!(ids::line_subject(7, 3, None), "orderline:LG-000007-03");
}

#[test]
fn the_day_round_trips_through_a_trace() {
    let day = day();
    let config = common::config("standard", SEED, START, DAY_MS);
    let bytes = common::write_trace(&common::header_for(&day.world, &config), &day.events);
    let (header, events, footer) = common::read_all(&bytes).unwrap();
    assert_eq!(footer.count, day.events.len() as u64);
    assert!(events == day.events, "events differ after a round trip");
    assert_eq!(header.start, START);
    assert_eq!(header.duration_ms, DAY_MS);
}
