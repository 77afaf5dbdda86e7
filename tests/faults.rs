//! `loadgen replay` and `loadgen verify` against an in-process FreshMart stub with injected
//! faults: a 10 s outage (absorbed by a retry budget longer than it; counted, listed and seen
//! by `verify` without retries), a slow API at its capacity limit (late events, nothing lost),
//! 20% injected 503s and 10% connection resets (absorbed by retries, one retry per fault),
//! and validation 400s (reported by error type, never retried, the entity's later events not
//! sent).
//!
//! Seeds are fixed (traces and the stub's fault draws). Nothing sleeps to synchronise: the
//! stub's counters are waited on; the one sleep is the outage itself.

mod common;
#[path = "common/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use freshmart_stub::{Latency, StubConfig, StubHandle};
use harness::{
    api_requests, assert_accounted, assert_blocked_follow_failures, error_keys, float, json, num,
    Run, TraceFacts,
};
use loadgen::api::client::{backoff, ClientOptions};
use serde_json::Value;

const OUTAGE: Duration = Duration::from_secs(10);
const BLOCKED: &str = "blocked_by_earlier_failure";

/// The least time one request keeps trying before its event fails, by the documented policy:
/// every attempt times out, and backoff `k` (from 1) waits `min(200 ms × 2^(k-1), 10 s)` times
/// a jitter of at least 50%.
fn least_retry_budget(timeout: Duration, retries: u32) -> Duration {
    let mut total = timeout * (retries + 1);
    for k in 1..=retries {
        let step = Duration::from_millis(200)
            .saturating_mul(1 << (k - 1).min(20))
            .min(Duration::from_secs(10));
        // The client's own formula agrees.
        assert_eq!(backoff(&ClientOptions::default(), k, 0.0), step / 2);
        total += step / 2;
    }
    total
}

#[test]
fn the_retry_budgets_used_here_are_what_the_policy_implies() {
    // 13 timeouts of 1 s + half of (0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 6.4 + 6 × 10) s.
    assert_eq!(
        least_retry_budget(Duration::from_secs(1), 12),
        Duration::from_millis(13_000 + 36_300)
    );
    assert!(least_retry_budget(Duration::from_secs(1), 12) > OUTAGE * 4);
    assert_eq!(
        least_retry_budget(Duration::from_secs(1), 0),
        Duration::from_secs(1)
    );
}

fn verify(dir: &Path, url: &str, run_id: &str) -> (Run, Value) {
    let run = harness::loadgen(
        dir,
        &[
            "verify",
            "t.trace",
            "--api-url",
            url,
            "--run-id",
            run_id,
            "--report",
            "v.json",
        ],
        &[],
    );
    let report = json(&dir.join("v.json"));
    (run, report)
}

struct OutageRun {
    run: Run,
    report: Value,
    trace: TraceFacts,
    stub: StubHandle,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

/// A 30-minute demo trace (323 events) replayed at 120x (15 s); once the stub has answered
/// 20 API requests it goes down for `OUTAGE`: requests are accepted and held unanswered.
fn replay_through_an_outage(run_id: &str, extra: &[&str]) -> OutageRun {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "30m", 11));
    let url = stub.url();
    let mut args = harness::replay_args(&url, run_id, "120x");
    args.extend_from_slice(extra);
    let child = harness::start(dir.path(), &args, &[]);
    harness::wait_stats(&rt, &stub, "20 answered API requests", |s| {
        api_requests(s) >= 20 && s.completed_requests >= 22
    });
    stub.set_outage(true);
    harness::wait_stats(&rt, &stub, "a request held by the outage", |s| s.held > 0);
    // The fault's duration, not a synchronisation.
    std::thread::sleep(OUTAGE);
    stub.set_outage(false);
    let run = child.wait(Duration::from_secs(90));
    run.expect_no_panic();
    let report = json(&dir.path().join("r.json"));
    assert_accounted(&report, trace.events, trace.events);
    assert_eq!(num(&report, "/events/received"), trace.events);
    assert_eq!(num(&report, "/events/not_sent"), 0);
    assert_eq!(num(&report, "/events/interrupted"), 0);
    assert_eq!(report["stopped_early"], false);
    // Every attempt reached the stub (the outage accepts connections and holds them).
    assert_eq!(num(&report, "/requests"), api_requests(&stub.stats()));
    OutageRun {
        run,
        report,
        trace,
        stub,
        rt,
        dir,
    }
}

#[test]
fn an_outage_shorter_than_the_retry_budget_loses_nothing() {
    let o = replay_through_an_outage("outage-a", &["--timeout", "1s", "--retries", "12"]);
    assert!(least_retry_budget(Duration::from_secs(1), 12) > OUTAGE);
    o.run.expect_code(0);
    let r = &o.report;
    assert_eq!(float(r, "/success_rate"), 1.0, "{:#}", r["errors"]);
    assert_eq!(num(r, "/events/failed"), 0);
    assert_eq!(num(r, "/events/succeeded"), o.trace.events);
    let retries = num(r, "/retries");
    assert!(retries > 0, "the outage cost retries");
    assert_eq!(num(r, "/requests"), o.trace.requests + retries);
    // An event caught by the outage waited it out: its latency shows it.
    assert!(
        float(r, "/latency_from_intended_time/max_ms") > 5_000.0,
        "latency {:#}",
        r["latency_from_intended_time"]
    );
    let (verify, _) = verify(o.dir.path(), &o.stub.url(), "outage-a");
    verify.expect_code(0);
    assert!(verify.stdout.contains("The API agrees with the trace"));
    drop(o.rt);
}

#[test]
fn an_outage_without_retries_fails_events_and_verify_disagrees() {
    let o = replay_through_an_outage(
        "outage-b",
        &["--timeout", "1s", "--retries", "0", "--min-success", "0"],
    );
    o.run.expect_code(0);
    let r = &o.report;
    // Timeouts are unknown outcomes, not failures to write.
    assert!(num(r, "/events/unknown_outcome") > 0);
    assert_eq!(num(r, "/events/failed"), 0);
    assert!(float(r, "/success_rate") < 1.0);
    assert_eq!(num(r, "/retries"), 0);
    assert_eq!(num(r, "/requests"), api_requests(&o.stub.stats()));
    let keys = error_keys(r);
    assert!(keys.contains("timeout"), "{keys:?}");
    assert!(
        keys.iter().all(|k| k == "timeout" || k == BLOCKED),
        "{keys:?}"
    );
    assert_blocked_follow_failures(r, &o.dir.path().join("t.trace"));
    // The summary says the same as the report.
    assert!(o.run.stdout.contains(&format!(
        "Success rate: {:.1}%",
        float(r, "/success_rate") * 100.0
    )));
    assert!(o.run.stdout.contains("Failed events (first 10"));

    let (verify, v) = verify(o.dir.path(), &o.stub.url(), "outage-b");
    verify.expect_code(1);
    assert_eq!(v["agree"], false);
    assert!(num(&v, "/missing") + num(&v, "/mismatched") > 0, "{v:#}");
    assert!(verify
        .stdout
        .contains("The API does not agree with the trace"));
    drop(o.rt);
}

#[test]
fn a_slow_api_at_capacity_makes_events_late_but_loses_none() {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            latency: Latency::Fixed(Duration::from_millis(50)),
            capacity: Some(5),
            seed: 3,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "30m", 12));
    let url = stub.url();
    // 30 minutes at 1000x is 1.8 s of schedule; the stub serves 5 requests per 50 ms, so the
    // trace's requests need at least requests / 100 seconds.
    let mut args = harness::replay_args(&url, "slow", "1000x");
    args.extend_from_slice(&["--concurrency", "20"]);
    let run = harness::loadgen(dir.path(), &args, &[]);
    run.expect_code(0);
    let r = json(&dir.path().join("r.json"));
    assert_accounted(&r, trace.events, trace.events);
    assert_eq!(float(&r, "/success_rate"), 1.0, "{:#}", r["errors"]);
    assert_eq!(num(&r, "/requests"), trace.requests);
    let capacity_bound = trace.requests as f64 * 0.050 / 5.0;
    assert!(
        float(&r, "/duration_s") >= capacity_bound * 0.95,
        "{} requests through 5 slots of 50 ms cannot finish in {} s",
        trace.requests,
        float(&r, "/duration_s")
    );
    let lateness_p99 = float(&r, "/lateness/p99_ms");
    assert!(
        lateness_p99 > 200.0,
        "events wait for the API: lateness {:#}",
        r["lateness"]
    );
    assert!(float(&r, "/latency_from_intended_time/p99_ms") >= lateness_p99);
    assert!(
        float(&r, "/service_time/min_ms") >= 49.0,
        "{:#}",
        r["service_time"]
    );
    assert!(run.stdout.contains("Schedule lateness: p50 "));
    let stats = stub.stats();
    assert_eq!(
        stats.max_in_flight, 5,
        "the API was kept at its capacity, never over"
    );
    let (verify, _) = verify(dir.path(), &url, "slow");
    verify.expect_code(0);
}

/// Replays the trace at full speed against a stub injecting faults; returns the report.
fn replay_with_faults(config: StubConfig, run_id: &str, retries: &str) -> (Value, StubHandle) {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, config);
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "30m", 13));
    let url = stub.url();
    let mut args = harness::replay_args(&url, run_id, "max");
    args.extend_from_slice(&["--retries", retries, "--timeout", "10s"]);
    let run = harness::loadgen(dir.path(), &args, &[]);
    run.expect_code(0);
    let r = json(&dir.path().join("r.json"));
    assert_accounted(&r, trace.events, trace.events);
    assert_eq!(float(&r, "/success_rate"), 1.0, "{:#}", r["errors"]);
    assert_eq!(num(&r, "/events/succeeded"), trace.events);
    let retries = num(&r, "/retries");
    assert!(retries > 0);
    assert_eq!(num(&r, "/requests"), trace.requests + retries);
    let stats = stub.stats();
    assert_eq!(api_requests(&stats), num(&r, "/requests"));
    // About 1 / (1 - rate) - 1 retries per request: 0.25 at 20%, 0.11 at 10%.
    let per_request = retries as f64 / trace.requests as f64;
    assert!(
        (0.05..0.45).contains(&per_request),
        "{retries} retries for {} requests",
        trace.requests
    );
    // `verify` reads without retries: end the faults first.
    stub.set_error_rate(0.0);
    stub.set_reset_rate(0.0);
    let (verify, _) = verify(dir.path(), &url, run_id);
    verify.expect_code(0);
    drop(rt);
    (r, stub)
}

#[test]
fn twenty_percent_5xx_are_absorbed_by_retries() {
    let (r, stub) = replay_with_faults(
        StubConfig {
            error_rate: 0.2,
            seed: 20,
            ..StubConfig::default()
        },
        "errors20",
        "10",
    );
    let stats = stub.stats();
    // One retry per injected 503, and nothing else went wrong.
    assert!(stats.injected_errors > 0);
    assert_eq!(num(&r, "/retries"), stats.injected_errors);
    assert_eq!(stats.by_status.get(&503), Some(&stats.injected_errors));
    assert_eq!(stats.resets, 0);
}

#[test]
fn ten_percent_connection_resets_are_absorbed_by_retries() {
    let (r, stub) = replay_with_faults(
        StubConfig {
            reset_rate: 0.1,
            seed: 21,
            ..StubConfig::default()
        },
        "resets10",
        "10",
    );
    let stats = stub.stats();
    assert!(stats.resets > 0);
    assert_eq!(num(&r, "/retries"), stats.resets);
    assert_eq!(stats.injected_errors, 0);
}

/// A world whose stores the API refuses as order and customer references: one of another
/// class (`range_class_mismatch`), one without a colon (`invalid_entity_ref`), and one good.
fn hostile_world() -> loadgen::world::World {
    use loadgen::world::{Customer, InventoryItem, Product, Store, World};
    let store = |id: &str| Store {
        id: id.into(),
        zone: "X".into(),
    };
    World {
        name: "refused-stores".into(),
        stores: vec![
            store("store:BK-01"),
            store("product:prod0001"),
            store("BK02"),
        ],
        products: (1..=3)
            .map(|i| Product {
                id: format!("product:prod{i:04}"),
                name: format!("Product {i}"),
                category: "Pantry".into(),
                price_cents: 100 * i,
                perishable: i == 1,
            })
            .collect(),
        customers: (1..=3)
            .map(|i| Customer {
                id: format!("customer:{i:05}"),
            })
            .collect(),
        inventory: vec![InventoryItem {
            id: "inventory:INV-000001".into(),
            store: 0,
            product: 0,
            stock_level: None,
        }],
    }
}

#[test]
fn validation_400s_are_reported_by_error_type_and_sent_once() {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, harness::recording(0));
    let dir = tempfile::tempdir().expect("temp dir");
    // `simulate --world` refuses such a world (ids of the wrong class); a trace made by the
    // library, as an older loadgen would have made it, still reaches the API.
    let world = hostile_world();
    let config = common::config("demo", 14, common::DEFAULT_START, 30 * 60_000);
    let events = common::simulate(&world, &config);
    let bytes = common::write_trace(&common::header_for(&world, &config), &events);
    std::fs::write(dir.path().join("t.trace"), bytes).expect("write trace");
    let trace = harness::trace_facts(&dir.path().join("t.trace"));
    let url = stub.url();
    let run = harness::loadgen(
        dir.path(),
        &harness::replay_args(&url, "refused", "max"),
        &[],
    );
    let r = json(&dir.path().join("r.json"));
    assert_accounted(&r, trace.events, trace.events);
    // About two thirds of the orders and customers fail: under the default --min-success.
    assert!(float(&r, "/success_rate") < 0.9);
    run.expect_code(1);

    let keys = error_keys(&r);
    let expected: BTreeSet<String> = [
        "http_400:range_class_mismatch",
        "http_400:invalid_entity_ref",
        BLOCKED,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(keys, expected, "{:#}", r["errors"]);
    assert_eq!(num(&r, "/retries"), 0, "4xx are never retried");
    assert_blocked_follow_failures(&r, &dir.path().join("t.trace"));

    // The stub answered exactly the 400s the report counts, by error type.
    let count = |k: &str| num(&r, &format!("/errors/{k}/count"));
    let stats = stub.stats();
    let (mismatch, no_colon) = (
        count("http_400:range_class_mismatch"),
        count("http_400:invalid_entity_ref"),
    );
    assert_eq!(
        stats.client_errors.get("range_class_mismatch"),
        Some(&mismatch)
    );
    assert_eq!(
        stats.client_errors.get("invalid_entity_ref"),
        Some(&no_colon)
    );
    assert_eq!(stats.by_status.get(&400), Some(&(mismatch + no_colon)));

    // Each refused request was sent once: no two 400s carry the same body.
    let requests = stub.requests();
    let refused: Vec<_> = requests.iter().filter(|q| q.status == 400).collect();
    assert_eq!(refused.len() as u64, mismatch + no_colon);
    let bodies: BTreeSet<&str> = refused.iter().map(|q| q.body.as_str()).collect();
    assert_eq!(bodies.len(), refused.len(), "a 400 was retried");
    assert_eq!(num(&r, "/requests"), requests.len() as u64 - 2);

    // A refused order gets no further request: its later events are not sent.
    let mut refused_orders: BTreeMap<String, u64> = BTreeMap::new();
    for row in r["failed_events"].as_array().expect("failed_events") {
        let category = row["category"].as_str().expect("category");
        if row["activity"] == "new_order" && category.starts_with("http_400:") {
            let subject = row["subject"].as_str().expect("subject").to_string();
            let quoted = format!("\"{subject}\"");
            let mentions = requests
                .iter()
                .filter(|q| q.body.contains(&quoted) || q.path_and_query.contains(&subject))
                .count() as u64;
            refused_orders.insert(subject, mentions);
        }
    }
    assert!(!refused_orders.is_empty());
    assert!(
        refused_orders.values().all(|&n| n == 1),
        "refused orders and the requests naming them: {refused_orders:?}"
    );
    // Some blocked events belong to those orders.
    assert!(count(BLOCKED) > 0);

    let (verify, v) = verify(dir.path(), &url, "refused");
    verify.expect_code(1);
    assert!(num(&v, "/missing") > 0, "{v:#}");
    drop(rt);
}

/// Probed replay (`--probe-reads 100%`) of `trace` at full speed; returns the report.
fn replay_with_probes(dir: &Path, url: &str, run_id: &str, trace: &str) -> (Run, Value) {
    let run = harness::loadgen(
        dir,
        &[
            "replay",
            trace,
            "--api-url",
            url,
            "--speed",
            "max",
            "--run-id",
            run_id,
            "--report",
            "r.json",
            "--retries",
            "10",
            "--probe-reads",
            "100%",
            "--probe-timeout",
            "5s",
        ],
        &[],
    );
    run.expect_code(0);
    let report = json(&dir.join("r.json"));
    assert_eq!(
        float(&report, "/success_rate"),
        1.0,
        "{:#}",
        report["errors"]
    );
    (run, report)
}

/// Orders only, 4 minutes: each order is written once (creation), since no order leaves
/// CREATED that early and nothing modifies one.
const ORDERS_ONLY: &str = r#"
name = "orders-only"
description = "Orders and nothing else, for a few minutes"
orders_per_minute = 30
concurrent_workflows = 10
duration_minutes = 4
new_order_weight = 0.5
status_transition_weight = 0.5
order_modification_weight = 0
customer_creation_weight = 0
inventory_update_weight = 0
cancellation_weight = 0
"#;

#[test]
fn read_probes_see_every_order_write_through_injected_errors() {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            error_rate: 0.2,
            seed: 22,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("p.toml"), ORDERS_ONLY).expect("write profile");
    harness::loadgen_ok(
        dir.path(),
        &[
            "simulate",
            "--profile-file",
            "p.toml",
            "--seed",
            "16",
            "-o",
            "o.trace",
        ],
    );
    let trace = harness::trace_facts(&dir.path().join("o.trace"));
    assert_eq!(trace.orders, trace.events, "only creations");
    let (run, r) = replay_with_probes(dir.path(), &stub.url(), "probes", "o.trace");
    assert_accounted(&r, trace.events, trace.events);
    // Every creation was probed (100%); a 503 on a probe's read only delays it.
    assert_eq!(num(&r, "/write_to_visible/probed"), trace.orders);
    assert_eq!(num(&r, "/write_to_visible/not_visible"), 0);
    assert_eq!(
        num(&r, "/write_to_visible/write_to_visible/count"),
        trace.orders
    );
    let stats = stub.stats();
    let reads = stats.by_endpoint["GET /freshmart/orders/{order_id}"];
    assert!(
        reads > trace.orders,
        "some probe reads met a 503 and were repeated"
    );
    assert!(run.stdout.contains(&format!(
        "Write → visible ({} probes, 0 not visible in time, 0 superseded by a later write)",
        trace.orders
    )));
}

/// At full speed an order's next write can land before the probe of the previous one reads:
/// the probe then waits for a state that is already gone and counts a visible write as "not
/// visible" after `--probe-timeout`.
#[test]
fn read_probes_count_superseded_writes_as_visible() {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "30m", 15));
    let (_, r) = replay_with_probes(dir.path(), &stub.url(), "superseded", "t.trace");
    assert_accounted(&r, trace.events, trace.events);
    // The stub shows every write at once: nothing can be invisible. A probe whose order was
    // written again before its first read is counted as superseded, not timed.
    assert_eq!(
        num(&r, "/write_to_visible/not_visible"),
        0,
        "{:#}",
        r["write_to_visible"]
    );
    assert_eq!(
        num(&r, "/write_to_visible/probed"),
        num(&r, "/write_to_visible/write_to_visible/count")
            + num(&r, "/write_to_visible/superseded"),
        "{:#}",
        r["write_to_visible"]
    );
}
