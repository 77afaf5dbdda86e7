//! `loadgen replay` end to end: the built binary (and, where a fault cannot be made through
//! the CLI, the library's client) against the FreshMart stub started in-process on
//! 127.0.0.1:0. Traces are simulated with fixed seeds into temporary directories; values are
//! checked against the trace read back through the library: every event arrives, in order per
//! entity, with the bytes the API contract prescribes, and the report says so.

mod common;
#[path = "common/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use freshmart_stub::{RecordedRequest, StubConfig, StubHandle};
use harness::{
    closed_url, json, loadgen_async, read_trace, recording, simulate, spawn_stub, writes, Run,
    Trace,
};
use loadgen::api::client::{attempt, build_client, Attempt};
use loadgen::api::{ApiRequest, ClientOptions, FreshMartExecutor, Method, RequestContext};
use loadgen::contract::ids;
use loadgen::event::{Action, Activity, CustomerRef, Entity, Event, Line, NewOrder};
use loadgen::metrics::EventResult;
use loadgen::replay::{Executor, StopFlag};
use loadgen::sim::time::SimTime;
use serde_json::Value;
use tempfile::TempDir;

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

/// `replay <trace> --api-url <stub> <extra…>` in the trace's directory.
async fn replay(dir: &Path, trace: &Path, stub: &StubHandle, extra: &[&str]) -> Run {
    let url = stub.url();
    let trace = trace.to_str().expect("UTF-8 path");
    let mut args = vec!["replay", trace, "--api-url", &url];
    args.extend_from_slice(extra);
    loadgen_async(dir, &args).await
}

// ---------------------------------------------------------------------------------------------
// What the stub received.

fn triples(body: &str) -> Vec<Value> {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not a triple list ({e}): {body}"))
}

/// The subject a request acts on: the path's for a DELETE, the first triple's otherwise.
fn subject(r: &RecordedRequest) -> String {
    match r.path_and_query.strip_prefix("/triples/subjects/") {
        Some(s) => s.to_string(),
        None => triples(&r.body)[0]["subject_id"]
            .as_str()
            .expect("subject_id")
            .to_string(),
    }
}

/// The entity whose events must stay in order: an order line belongs to its order.
fn entity_key(subject: &str) -> String {
    match subject.strip_prefix("orderline:") {
        Some(line) => {
            let (order, _seq) = line.rsplit_once('-').expect("orderline:<order>-<seq>");
            format!("order:{order}")
        }
        None => subject.to_string(),
    }
}

fn subject_of(entity: Entity, trace: &Trace, run: &str) -> String {
    match entity {
        Entity::Order(n) => ids::order_subject(n, Some(run)),
        Entity::NewCustomer(n) => ids::new_customer_subject(n, Some(run)),
        Entity::Inventory(i) => trace.header.world.inventory[i as usize].id.clone(),
    }
}

type Sent = (String, String, String);

fn sent(r: &RecordedRequest) -> Sent {
    (r.method.clone(), r.path_and_query.clone(), r.body.clone())
}

fn expected(req: &ApiRequest) -> Sent {
    (
        req.method.as_str().to_string(),
        req.path.clone(),
        req.body.clone().unwrap_or_default(),
    )
}

/// The sequence of requests per entity, in arrival order.
fn per_entity(requests: &[RecordedRequest]) -> BTreeMap<String, Vec<Sent>> {
    let mut map: BTreeMap<String, Vec<Sent>> = BTreeMap::new();
    for r in requests {
        map.entry(entity_key(&subject(r)))
            .or_default()
            .push(sent(r));
    }
    map
}

fn multiset(requests: impl IntoIterator<Item = Sent>) -> BTreeMap<Sent, usize> {
    let mut m = BTreeMap::new();
    for r in requests {
        *m.entry(r).or_default() += 1;
    }
    m
}

/// Checks the order lifecycle as the stub saw it, over the answered (2xx) writes: per order,
/// a POST with CREATED first, then PUTs that follow CREATED → PICKING → OUT_FOR_DELIVERY →
/// DELIVERED, with CANCELLED only from CREATED or PICKING and nothing after the end; nothing
/// touches an order or its lines before its POST; a line is deleted only after it was
/// written. Returns the status sequence per order subject.
fn check_lifecycles(requests: &[RecordedRequest]) -> BTreeMap<String, Vec<String>> {
    let mut statuses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut lines_written: BTreeSet<String> = BTreeSet::new();
    let mut lines_deleted: BTreeSet<String> = BTreeSet::new();
    for r in requests.iter().filter(|r| (200..300).contains(&r.status)) {
        let s = subject(r);
        let order = entity_key(&s);
        if !order.starts_with("order:") {
            continue;
        }
        let created = statuses.contains_key(&order);
        match r.method.as_str() {
            "DELETE" => {
                assert!(created, "DELETE {s} before its order's POST");
                assert!(
                    lines_written.contains(&s),
                    "DELETE {s} before the line was written"
                );
                assert!(lines_deleted.insert(s.clone()), "{s} deleted twice");
            }
            method => {
                for t in triples(&r.body) {
                    let t_subject = t["subject_id"].as_str().expect("subject_id").to_string();
                    if t_subject.starts_with("orderline:") && t["predicate"] == "line_of_order" {
                        assert_eq!(method, "POST", "a line is written by POST: {t}");
                        assert!(
                            lines_written.insert(t_subject.clone()),
                            "{t_subject} written twice"
                        );
                    }
                    if t["predicate"] != "order_status" {
                        continue;
                    }
                    let status = t["object_value"].as_str().expect("status").to_string();
                    let path = statuses.entry(order.clone()).or_default();
                    match path.last().map(String::as_str) {
                        None => {
                            assert_eq!(
                                (method, status.as_str()),
                                ("POST", "CREATED"),
                                "{order} starts with its POST"
                            )
                        }
                        Some(from) => {
                            assert_eq!(method, "PUT", "{order}: status changes are PUTs");
                            let allowed = matches!(
                                (from, status.as_str()),
                                ("CREATED", "PICKING")
                                    | ("CREATED", "CANCELLED")
                                    | ("PICKING", "OUT_FOR_DELIVERY")
                                    | ("PICKING", "CANCELLED")
                                    | ("OUT_FOR_DELIVERY", "DELIVERED")
                            );
                            assert!(allowed, "{order}: {from} -> {status} after {path:?}");
                        }
                    }
                    path.push(status);
                }
                assert!(
                    statuses.contains_key(&order),
                    "{method} {s} before its order's POST"
                );
            }
        }
    }
    statuses
}

/// The status sequence of every order of the trace, as subjects of `run`.
fn trace_lifecycles(trace: &Trace, run: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &trace.events {
        match &e.action {
            Action::NewOrder(o) => map
                .entry(ids::order_subject(o.order, Some(run)))
                .or_default()
                .push("CREATED".into()),
            Action::Transition { order, to, .. } => map
                .entry(ids::order_subject(*order, Some(run)))
                .or_default()
                .push(to.as_api().into()),
            _ => {}
        }
    }
    map
}

// ---------------------------------------------------------------------------------------------
// The binary against the stub.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_hour_at_max_speed_arrives_whole_and_in_order() {
    let dir = TempDir::new().unwrap();
    let path = simulate(dir.path(), "t.trace", "1h", 42);
    let trace = read_trace(&path);
    let n = trace.events.len() as u64;
    assert!(n > 500, "a demo hour has hundreds of events: {n}");
    let stub = spawn_stub(recording(1)).await;

    let out = replay(
        dir.path(),
        &path,
        &stub,
        &["--speed", "max", "--run-id", "t1", "--report", "r.json"],
    )
    .await;
    out.expect_code(0);
    let stdout = out.stdout.clone();
    assert!(stdout.contains("API health check passed"), "{stdout}");
    assert!(
        stdout.contains(&format!("Total activities: {n}")),
        "{stdout}"
    );
    assert!(stdout.contains("Success rate: 100.0%"), "{stdout}");

    // Every event arrived, as the requests the contract makes of it, and none was refused.
    let stats = stub.stats();
    assert!(stats.client_errors.is_empty(), "{:?}", stats.client_errors);
    assert!(
        stats.by_status.keys().all(|s| [200, 201, 204].contains(s)),
        "{:?}",
        stats.by_status
    );
    let count = |a: &[fn(&Action) -> bool]| {
        trace
            .events
            .iter()
            .filter(|e| a.iter().any(|f| f(&e.action)))
            .count() as u64
    };
    let posts = count(&[
        |a| matches!(a, Action::NewOrder(_)),
        |a| matches!(a, Action::NewCustomer { .. }),
        |a| matches!(a, Action::AddLine { .. }),
    ]);
    let puts = count(&[
        |a| matches!(a, Action::Transition { .. }),
        |a| matches!(a, Action::InventoryUpdate { .. }),
        |a| matches!(a, Action::AddLine { .. }),
        |a| matches!(a, Action::RemoveLine { .. }),
    ]);
    let deletes = count(&[|a| matches!(a, Action::RemoveLine { .. })]);
    let endpoint = |e: &str| stats.by_endpoint.get(e).copied().unwrap_or(0);
    assert_eq!(endpoint("POST /triples/batch"), posts);
    assert_eq!(endpoint("PUT /triples/batch"), puts);
    assert_eq!(endpoint("DELETE /triples/subjects/{*subject_id}"), deletes);
    assert_eq!(posts + puts + deletes, trace.requests());
    assert_eq!((endpoint("GET /health"), endpoint("GET /ready")), (1, 1));
    assert_eq!(stats.total_requests, trace.requests() + 2);

    // Per entity, in trace order: the lifecycle of every order as the stub saw it is the
    // trace's, and every line was deleted only after it was written.
    let received = writes(&stub);
    let lifecycles = check_lifecycles(&received);
    assert_eq!(lifecycles, trace_lifecycles(&trace, "t1"));
    let cancelled = lifecycles
        .values()
        .filter(|p| p.last().map(String::as_str) == Some("CANCELLED"))
        .count();
    assert!(cancelled > 0 && lifecycles.values().any(|p| p.len() >= 3));
    // Every entity's requests in trace order (method and path; bodies carry shifted times).
    let mut want: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let context = trace.context("t1");
    for e in &trace.events {
        let key = subject_of(e.action.entity(), &trace, "t1");
        for r in context.requests_for(e) {
            want.entry(key.clone())
                .or_default()
                .push((r.method.as_str().to_string(), r.path));
        }
    }
    let got: BTreeMap<String, Vec<(String, String)>> = per_entity(&received)
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|(m, p, _)| (m, p)).collect()))
        .collect();
    assert_eq!(got, want);

    // The report.
    let report = json(&dir.path().join("r.json"));
    let config = &report["config"];
    assert_eq!(config["run_id"], "t1");
    assert_eq!(config["speed"], "max");
    assert_eq!(config["concurrency"], 10, "the demo profile's workflows");
    assert_eq!(config["profile"], "demo");
    assert_eq!(config["seed"], 42);
    assert_eq!((u(&config["from_ms"]), u(&config["to_ms"])), (0, 3_600_000));
    let events = &report["events"];
    for (field, want) in [
        ("received", n),
        ("completed", n),
        ("succeeded", n),
        ("failed", 0),
        ("interrupted", 0),
        ("not_sent", 0),
    ] {
        assert_eq!(u(&events[field]), want, "events.{field}");
    }
    assert_eq!(report["stopped_early"], false);
    assert_eq!(u(&report["requests"]), trace.requests());
    assert_eq!(u(&report["retries"]), 0);
    assert_eq!(report["success_rate"], 1.0);
    let activities = report["activities"].as_object().expect("activities");
    assert_eq!(activities.len(), 6);
    for activity in Activity::ALL {
        let want = trace
            .events
            .iter()
            .filter(|e| e.action.activity() == activity)
            .count() as u64;
        let a = &activities[activity.key()];
        assert_eq!(
            (u(&a["succeeded"]), u(&a["failed"])),
            (want, 0),
            "{}",
            activity.key()
        );
    }
    for histogram in ["service_time", "latency_from_intended_time", "lateness"] {
        let h = &report[histogram];
        assert_eq!(u(&h["count"]), n, "{histogram}.count");
        let p = |k: &str| h[k].as_f64().expect(k);
        assert!(
            p("min_ms") <= p("p50_ms") && p("p50_ms") <= p("p99_ms") && p("p99_ms") <= p("max_ms"),
            "{histogram}: {h}"
        );
    }
    assert!(report["service_time"]["max_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(report["errors"], serde_json::json!({}));
    let series = report["time_series"].as_array().expect("time_series");
    assert!(!series.is_empty());
    assert_eq!(series.iter().map(|b| u(&b["events"])).sum::<u64>(), n);
    assert_eq!(series.iter().map(|b| u(&b["failures"])).sum::<u64>(), 0);
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_run_id_sends_byte_identical_requests() {
    let dir = TempDir::new().unwrap();
    let path = simulate(dir.path(), "t.trace", "20m", 7);
    let trace = read_trace(&path);
    let args = [
        "--speed",
        "max",
        "--run-id",
        "same",
        "--keep-timestamps",
        "--concurrency",
        "8",
    ];
    let mut runs = Vec::new();
    for _ in 0..2 {
        let stub = spawn_stub(recording(2)).await;
        let out = replay(dir.path(), &path, &stub, &args).await;
        out.expect_code(0);
        assert!(stub.stats().client_errors.is_empty());
        runs.push(writes(&stub));
        stub.shutdown().await;
    }
    // What the contract makes of the trace, in trace order per entity.
    let context = trace.context("same");
    let mut want: BTreeMap<String, Vec<Sent>> = BTreeMap::new();
    for e in &trace.events {
        let key = subject_of(e.action.entity(), &trace, "same");
        want.entry(key)
            .or_default()
            .extend(context.requests_for(e).iter().map(expected));
    }
    let want_all = multiset(want.values().flatten().cloned());
    assert_eq!(
        want_all.values().sum::<usize>() as u64,
        trace.requests(),
        "the expectation covers every request"
    );
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(
            multiset(run.iter().map(sent)),
            want_all,
            "run {i}: the bytes"
        );
        assert_eq!(per_entity(run), want, "run {i}: the order per entity");
    }
    // Hence the two runs agree with each other (the interleaving across entities may differ).
    assert_eq!(
        multiset(runs[0].iter().map(sent)),
        multiset(runs[1].iter().map(sent))
    );
    assert_eq!(per_entity(&runs[0]), per_entity(&runs[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_ride_out_injected_5xx_and_connection_resets() {
    let dir = TempDir::new().unwrap();
    let path = simulate(dir.path(), "t.trace", "15m", 3);
    let trace = read_trace(&path);
    let n = trace.events.len() as u64;
    let stub = spawn_stub(StubConfig {
        error_rate: 0.1,
        reset_rate: 0.1,
        ..recording(3)
    })
    .await;
    let out = replay(
        dir.path(),
        &path,
        &stub,
        &[
            "--speed",
            "max",
            "--run-id",
            "rt",
            "--retries",
            "10",
            "--report",
            "r.json",
        ],
    )
    .await;
    out.expect_code(0);
    let stats = stub.stats();
    assert!(
        stats.injected_errors > 0 && stats.resets > 0,
        "both faults happened: {stats:?}"
    );
    let report = json(&dir.path().join("r.json"));
    assert_eq!(report["success_rate"], 1.0);
    assert_eq!(u(&report["events"]["completed"]), n);
    assert_eq!(u(&report["events"]["succeeded"]), n);
    // Every failed attempt was retried, once each: the stub saw the retries.
    let retries = u(&report["retries"]);
    assert!(retries > 0);
    assert_eq!(retries, stats.injected_errors + stats.resets);
    assert_eq!(u(&report["requests"]), trace.requests() + retries);
    assert_eq!(stats.total_requests - 2, trace.requests() + retries);
    assert!(stats.client_errors.is_empty(), "{:?}", stats.client_errors);
    // Failed attempts had no effect, so the answered writes still tell each order's story
    // in trace order.
    assert_eq!(
        check_lifecycles(&writes(&stub)),
        trace_lifecycles(&trace, "rt")
    );
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_success_fails_the_run_when_too_many_events_fail() {
    let dir = TempDir::new().unwrap();
    let path = simulate(dir.path(), "t.trace", "15m", 5);
    let n = read_trace(&path).events.len() as u64;
    let stub = spawn_stub(StubConfig {
        error_rate: 0.5,
        seed: 5,
        ..StubConfig::default()
    })
    .await;
    let out = replay(
        dir.path(),
        &path,
        &stub,
        &[
            "--speed",
            "max",
            "--run-id",
            "ms",
            "--retries",
            "0",
            "--min-success",
            "90%",
            "--report",
            "r.json",
        ],
    )
    .await;
    out.expect_code(1);
    let stdout = out.stdout.clone();
    let report = json(&dir.path().join("r.json"));
    let rate = report["success_rate"].as_f64().unwrap();
    assert!(rate < 0.9, "{rate}");
    assert!(
        stdout.contains(&format!(
            "Success rate {:.1}% is under the minimum of 90.0%",
            rate * 100.0
        )),
        "{stdout}"
    );
    let stats = stub.stats();
    assert_eq!(u(&report["retries"]), 0, "--retries 0");
    assert_eq!(u(&report["requests"]), stats.total_requests - 2);
    // Each 503 failed its event; the events queued behind a failure in the same entity were
    // not sent. Nothing else went wrong.
    let errors = report["errors"].as_object().unwrap();
    assert_eq!(u(&errors["http_503"]["count"]), stats.injected_errors);
    let other: u64 = errors
        .iter()
        .filter(|(k, _)| *k != "http_503")
        .map(|(k, v)| {
            assert_eq!(k.as_str(), "blocked_by_earlier_failure");
            u(&v["count"])
        })
        .sum();
    let events = &report["events"];
    // The classes are disjoint: refused events are `failed`, those behind them `blocked`.
    assert_eq!(u(&events["failed"]), stats.injected_errors);
    assert_eq!(u(&events["blocked"]), other);
    assert_eq!(u(&events["completed"]), n, "every event is accounted for");
    assert_eq!(
        u(&events["succeeded"]) + u(&events["failed"]) + u(&events["blocked"]),
        n
    );
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_to_sends_only_orders_created_inside_the_window_whole() {
    // A two-hour trace from 09:00 UTC; replay 09:40-10:10.
    let dir = TempDir::new().unwrap();
    let path = simulate(dir.path(), "t.trace", "2h", 9);
    let trace = read_trace(&path);
    let (from, to) = (40 * 60_000, 70 * 60_000);
    let inside = |e: &Event| (from..to).contains(&e.at.as_ms());
    let created: BTreeSet<u32> = trace
        .events
        .iter()
        .filter_map(|e| match &e.action {
            Action::NewOrder(o) if inside(e) => Some(o.order),
            _ => None,
        })
        .collect();
    let admitted: Vec<&Event> = trace
        .events
        .iter()
        .filter(|e| {
            inside(e)
                && match e.action.entity() {
                    Entity::Order(o) => created.contains(&o),
                    _ => true,
                }
        })
        .collect();
    // The window cuts through lifecycles on both sides.
    let before = trace
        .events
        .iter()
        .filter(|e| {
            inside(e) && matches!(e.action.entity(), Entity::Order(o) if !created.contains(&o))
        })
        .count();
    assert!(
        before > 0,
        "orders created before the window move inside it"
    );
    assert!(created.len() > 50);

    let stub = spawn_stub(recording(9)).await;
    let out = replay(
        dir.path(),
        &path,
        &stub,
        &[
            "--speed", "max", "--run-id", "w", "--from", "09:40", "--to", "10:10", "--report",
            "r.json",
        ],
    )
    .await;
    out.expect_code(0);
    let report = json(&dir.path().join("r.json"));
    assert_eq!(
        (
            u(&report["config"]["from_ms"]),
            u(&report["config"]["to_ms"])
        ),
        (from, to)
    );
    let n = admitted.len() as u64;
    assert_eq!(u(&report["events"]["received"]), n);
    assert_eq!(u(&report["events"]["succeeded"]), n);
    let requests: u64 = admitted
        .iter()
        .map(|e| u64::from(e.action.request_count()))
        .sum();
    assert_eq!(u(&report["requests"]), requests);

    let received = writes(&stub);
    assert_eq!(received.len() as u64, requests);
    // Whole orders: every order touched was POSTed first, and exactly the orders created in
    // the window were.
    let lifecycles = check_lifecycles(&received);
    let want: BTreeSet<String> = created
        .iter()
        .map(|&o| ids::order_subject(o, Some("w")))
        .collect();
    assert_eq!(lifecycles.keys().cloned().collect::<BTreeSet<_>>(), want);
    let trace_paths = trace_lifecycles(&trace, "w");
    for (order, path) in &lifecycles {
        let full = &trace_paths[order];
        assert!(
            full.starts_with(path),
            "{order}: sent {path:?}, a prefix of {full:?}"
        );
    }
    // Standalone events inside the window are sent too.
    let customers = admitted
        .iter()
        .filter(|e| matches!(e.action, Action::NewCustomer { .. }))
        .count();
    let customer_posts = received
        .iter()
        .filter(|r| subject(r).starts_with("customer:LG-w-"))
        .count();
    assert_eq!(customer_posts, customers);
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_at_200x_keeps_the_schedule() {
    // Ten minutes of trace at 200x: three seconds, every event on time.
    let dir = TempDir::new().unwrap();
    let path = simulate(dir.path(), "t.trace", "10m", 11);
    let trace = read_trace(&path);
    let first = trace.events.first().unwrap().at.as_ms();
    let last = trace.events.last().unwrap().at.as_ms();
    let stub = spawn_stub(StubConfig::default()).await;
    let out = replay(
        dir.path(),
        &path,
        &stub,
        &["--speed", "200x", "--run-id", "p", "--report", "r.json"],
    )
    .await;
    out.expect_code(0);
    let report = json(&dir.path().join("r.json"));
    let schedule = (last - first) as f64 / 200.0 / 1000.0;
    let took = report["duration_s"].as_f64().unwrap();
    assert!(
        took >= schedule && took < schedule + 2.0,
        "took {took} s for a {schedule} s schedule"
    );
    let lateness = &report["lateness"];
    assert_eq!(u(&lateness["count"]), trace.events.len() as u64);
    // Generous for a busy machine: a wrong origin or speed would be seconds off.
    let p50 = lateness["p50_ms"].as_f64().unwrap();
    assert!(p50 < 25.0, "lateness p50 {p50} ms");
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_exits_1() {
    let dir = TempDir::new().unwrap();
    let path = simulate(dir.path(), "t.trace", "5m", 1);
    // A port that was just free: nothing listens there.
    let url = closed_url();
    let out = loadgen_async(
        dir.path(),
        &[
            "replay",
            path.to_str().unwrap(),
            "--api-url",
            &url,
            "--speed",
            "max",
            "--report",
            "r.json",
        ],
    )
    .await;
    out.expect_code(1);
    let all = out.stdout.clone() + &out.stderr;
    assert!(all.contains("connection refused"), "{all}");
    assert!(
        !dir.path().join("r.json").exists(),
        "no report for a run that never started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_trace_exits_2_before_any_request() {
    let dir = TempDir::new().unwrap();
    let path = simulate(dir.path(), "t.trace", "15m", 2);
    // Damage the tail, past the header and most records: only reading to the end finds it.
    let bytes = std::fs::read(&path).unwrap();
    let tail = bytes.len() - 40;
    let mut flipped = bytes.clone();
    flipped[tail] ^= 0x55;
    std::fs::write(dir.path().join("flipped.trace"), &flipped).unwrap();
    std::fs::write(dir.path().join("truncated.trace"), &bytes[..tail]).unwrap();
    let mut header = bytes.clone();
    header[20] ^= 0x55;
    std::fs::write(dir.path().join("header.trace"), &header).unwrap();
    let stub = spawn_stub(recording(0)).await;
    for name in ["flipped.trace", "truncated.trace", "header.trace"] {
        let out = replay(
            dir.path(),
            &dir.path().join(name),
            &stub,
            &["--speed", "max", "--run-id", "c"],
        )
        .await;
        out.expect_code(2);
        let stderr = out.stderr.clone();
        assert!(
            stderr.contains(name) && stderr.contains("at byte "),
            "{name}: the error names the file and the offset: {stderr}"
        );
    }
    assert_eq!(stub.stats().total_requests, 0, "not even a health check");
    stub.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The client, where the CLI cannot make the API refuse a request.

/// A one-line order of the stock world at 09:00, number `order`.
fn order_event(order: u32) -> Event {
    Event {
        at: SimTime(0),
        action: Action::NewOrder(NewOrder {
            order,
            customer: CustomerRef::Existing(0),
            store: 0,
            window_start_min: 60,
            window_len_min: 60,
            lines: vec![Line {
                seq: 1,
                product: 0,
                quantity: 2,
            }],
            total_cents: 1_198,
        }),
    }
}

fn context(world: loadgen::world::World) -> RequestContext {
    common::request_context(world, Some("lib"), common::DEFAULT_START)
}

fn quick_retries(retries: u32) -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(10),
        retries,
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(4),
        ..ClientOptions::default()
    }
}

fn failure(result: &EventResult) -> String {
    match result {
        EventResult::Success => panic!("expected a failure"),
        EventResult::Failure { kind, .. } => kind.to_string(),
    }
}

fn batch_posts(stub: &StubHandle) -> u64 {
    stub.stats()
        .by_endpoint
        .get("POST /triples/batch")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_400_is_permanent_and_never_retried() {
    let stub = spawn_stub(StubConfig::default()).await;
    // One attempt with an unknown predicate: a categorised permanent failure.
    let client = build_client(&ClientOptions::default()).unwrap();
    let body = serde_json::json!([{
        "subject_id": "order:LG-lib-000001",
        "predicate": "order_colour",
        "object_value": "blue",
        "object_type": "string",
    }]);
    let request = ApiRequest {
        method: Method::Post,
        path: "/triples/batch?validate=true".into(),
        body: Some(body.to_string()),
    };
    match attempt(&client, &stub.url(), &request).await {
        Attempt::Failed { kind, detail } => {
            assert!(!kind.is_transient(), "{kind}");
            assert_eq!(kind.to_string(), "http_400:unknown_predicate");
            assert!(detail.contains("order_colour"), "{detail}");
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    assert_eq!(batch_posts(&stub), 1);

    // Through the executor, with retries to spare: a store id without a colon makes the
    // order's `order_store` an invalid entity reference, and the 400 is not retried.
    let mut world = loadgen::world::builtin_world();
    world.stores[0].id = "MAN-01".into();
    let executor = FreshMartExecutor::new(&stub.url(), context(world), quick_retries(5)).unwrap();
    let done = executor
        .execute(1, order_event(1), StopFlag::default())
        .await;
    assert_eq!(failure(&done.result), "http_400:invalid_entity_ref");
    assert_eq!((done.requests, done.retries), (1, 0));
    let stats = stub.stats();
    assert_eq!(batch_posts(&stub), 2, "exactly one request for the event");
    assert_eq!(
        stats.client_errors,
        BTreeMap::from([
            ("invalid_entity_ref".to_string(), 1),
            ("unknown_predicate".to_string(), 1)
        ])
    );
    assert!(stub.triples_of("order:LG-lib-000001").is_empty());
    stub.shutdown().await;
}

#[tokio::test]
async fn the_executor_retries_5xx_and_resets_a_bounded_number_of_times() {
    let stub = spawn_stub(StubConfig {
        error_rate: 1.0,
        ..StubConfig::default()
    })
    .await;
    let executor = FreshMartExecutor::new(
        &stub.url(),
        context(loadgen::world::builtin_world()),
        quick_retries(2),
    )
    .unwrap();
    // Always 503: one try and two retries, then a categorised failure.
    let done = executor
        .execute(1, order_event(1), StopFlag::default())
        .await;
    assert_eq!(failure(&done.result), "http_503");
    assert_eq!((done.requests, done.retries), (3, 2));
    assert_eq!(stub.stats().injected_errors, 3);

    // Always reset: the same bound, a connection failure.
    stub.set_error_rate(0.0);
    stub.set_reset_rate(1.0);
    let done = executor
        .execute(2, order_event(2), StopFlag::default())
        .await;
    let category = failure(&done.result);
    assert!(
        ["connection", "bad_response"].contains(&category.as_str()),
        "{category}"
    );
    assert_eq!((done.requests, done.retries), (3, 2));
    assert_eq!(stub.stats().resets, 3);

    // A stopping replay starts no retries.
    let stop = StopFlag::default();
    stop.set();
    let done = executor.execute(3, order_event(3), stop).await;
    assert_eq!((done.requests, done.retries), (1, 0));

    // Faults gone: the order is written, with every line.
    stub.set_reset_rate(0.0);
    let done = executor
        .execute(4, order_event(4), StopFlag::default())
        .await;
    assert_eq!(done.result, EventResult::Success);
    assert_eq!((done.requests, done.retries), (1, 0));
    let order = stub.triples_of("order:LG-lib-000004");
    let status: HashMap<_, _> = order
        .iter()
        .map(|t| (t.predicate.clone(), t.object_value.clone()))
        .collect();
    assert_eq!(
        status.get("order_status").map(String::as_str),
        Some("CREATED")
    );
    assert_eq!(stub.triples_of("orderline:LG-lib-000004-01").len(), 7);
    for n in 1..=3 {
        assert!(stub.triples_of(&format!("order:LG-lib-{n:06}")).is_empty());
    }
    stub.shutdown().await;
}

/// A stop reaches a retry's backoff sleep (issue 9 item 7's cancellation): an event whose
/// retries wait a minute each ends as soon as the replay stops, its announced retry unsent.
#[tokio::test]
async fn a_stop_cuts_a_backoff_sleep_short() {
    let url = closed_url();
    let options = ClientOptions {
        retries: 5,
        backoff_base: Duration::from_secs(60),
        backoff_cap: Duration::from_secs(60),
        ..ClientOptions::default()
    };
    let executor =
        FreshMartExecutor::new(&url, context(loadgen::world::builtin_world()), options).unwrap();
    let stop = StopFlag::default();
    let stopper = stop.clone();
    let started = std::time::Instant::now();
    let (done, ()) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(executor.execute(1, order_event(1), stop), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stopper.set();
        })
    })
    .await
    .expect("the stop ended the backoff");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(failure(&done.result), "connect");
    assert_eq!((done.requests, done.retries), (1, 0), "no retry went out");
    assert!(done.retry_causes.is_empty());
}
