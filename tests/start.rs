//! Live mode (`start`), world snapshots (`world`), `start --record` + `replay`, `health` and the
//! exit codes, run as the built binary against an in-process FreshMart stub on 127.0.0.1:0.
//!
//! Every run is deterministic: fixed seeds, `--start-at` and `--run-id`, so the counts the
//! tests expect are exact (computed with the library's simulator for the same seed) and the
//! rate checks cannot flake. Nothing here sleeps to synchronise: processes are awaited (with a
//! watchdog that kills a hung one), and the stub's counters are waited on.

mod common;
#[path = "common/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::Path;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use freshmart_stub::{RecordedRequest, StubConfig, StubHandle, StubStats};
use harness::{closed_url, endpoint_count, json, loadgen, recording, runtime, Run};
use loadgen::event::Activity;
use loadgen::profile::LoadProfile;
use serde_json::Value;

/// Longest a wait on the stub's counters may take.
const STATS_LIMIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

/// Reading the spec's console lines of a finished run.
trait Console {
    fn lines(&self) -> Vec<String>;
    fn value_after(&self, prefix: &str) -> &str;
}

impl Console for Run {
    /// stdout's lines without the `[HH:MM:SS] ` stamp (checked to be well formed).
    fn lines(&self) -> Vec<String> {
        self.stdout
            .lines()
            .map(|l| unstamp(l).to_string())
            .collect()
    }

    /// The value after `prefix` on the first stdout line that starts with it.
    fn value_after(&self, prefix: &str) -> &str {
        self.stdout
            .lines()
            .map(unstamp)
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line `{prefix}…` in:\n{}", self.stdout))
            .trim()
    }
}

/// Removes a leading `[HH:MM:SS] ` stamp, checking its shape.
fn unstamp(line: &str) -> &str {
    let bytes = line.as_bytes();
    let stamped = bytes.len() >= 11
        && bytes[0] == b'['
        && bytes[9] == b']'
        && bytes[10] == b' '
        && bytes[3] == b':'
        && bytes[6] == b':'
        && [1, 2, 4, 5, 7, 8]
            .iter()
            .all(|&i| bytes[i].is_ascii_digit());
    if stamped {
        &line[11..]
    } else {
        line
    }
}

/// Asserts that `needles` appear as whole stdout lines (stamps removed), in this order.
fn assert_lines_in_order(run: &Run, needles: &[String]) {
    let lines = run.lines();
    let mut from = 0;
    for needle in needles {
        match lines[from..].iter().position(|l| l == needle) {
            Some(i) => from += i + 1,
            None => panic!(
                "stdout lacks the line `{needle}` (after line {from}) in:\n{}",
                run.stdout
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stub
// ---------------------------------------------------------------------------------------------

/// The stub's counters once every request it received has been answered.
fn settled(rt: &tokio::runtime::Runtime, stub: &StubHandle) -> StubStats {
    harness::wait_stats_within(rt, stub, "every request answered", STATS_LIMIT, |s| {
        s.completed_requests == s.total_requests
    })
}

/// Requests that write: POST / PUT / DELETE (everything but health checks and world reads).
fn writes(stats: &StubStats) -> u64 {
    stats
        .by_endpoint
        .iter()
        .filter(|(k, _)| !k.starts_with("GET "))
        .map(|(_, n)| n)
        .sum()
}

/// Write requests by what they do, read from their bodies (API.md, "What each activity
/// writes").
#[derive(Debug, Default, PartialEq, Eq)]
struct Kinds {
    order_posts: u64,
    customer_posts: u64,
    line_posts: u64,
    status_puts: u64,
    cancellations: u64,
    total_puts: u64,
    stock_puts: u64,
    deletes: u64,
}

fn kinds(requests: &[RecordedRequest]) -> Kinds {
    let mut k = Kinds::default();
    for r in requests.iter().filter(|r| r.method != "GET") {
        if r.method == "DELETE" {
            assert!(
                r.path_and_query.starts_with("/triples/subjects/orderline:"),
                "{r:?}"
            );
            k.deletes += 1;
            continue;
        }
        assert_eq!(r.path_and_query, "/triples/batch?validate=true", "{r:?}");
        let triples: Vec<Value> = serde_json::from_str(&r.body)
            .unwrap_or_else(|e| panic!("body of {} is not a list: {e}: {}", r.method, r.body));
        let has = |p: &str| triples.iter().any(|t| t["predicate"] == p);
        let subject = triples[0]["subject_id"].as_str().unwrap_or_default();
        match r.method.as_str() {
            "POST" if has("order_number") => k.order_posts += 1,
            "POST" if subject.starts_with("customer:") => k.customer_posts += 1,
            "POST" if subject.starts_with("orderline:") => k.line_posts += 1,
            "PUT" if has("order_status") => {
                k.status_puts += 1;
                k.cancellations += u64::from(triples[0]["object_value"] == "CANCELLED");
            }
            "PUT" if has("order_total_amount") => k.total_puts += 1,
            "PUT" if has("stock_level") => k.stock_puts += 1,
            _ => panic!("unexpected write: {r:?}"),
        }
    }
    k
}

/// The multiset of requests, as sorted `(method, path, body)`.
fn multiset(requests: &[RecordedRequest], writes_only: bool) -> Vec<(String, String, String)> {
    let mut all: Vec<_> = requests
        .iter()
        .filter(|r| !writes_only || r.method != "GET")
        .map(|r| (r.method.clone(), r.path_and_query.clone(), r.body.clone()))
        .collect();
    all.sort();
    all
}

fn assert_all_answered_2xx(requests: &[RecordedRequest]) {
    for r in requests {
        assert!(
            (200..300).contains(&r.status),
            "{} {} answered {}: {}",
            r.method,
            r.path_and_query,
            r.status,
            r.body
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Profiles and the library's view of a run
// ---------------------------------------------------------------------------------------------

/// Writes a custom profile (spec weights) and returns its path.
fn write_profile(dir: &Path, file: &str, name: &str, orders_per_minute: u32) -> String {
    let text = format!(
        "name = \"{name}\"\ndescription = \"High-rate test profile\"\n\
         orders_per_minute = {orders_per_minute}\nconcurrent_workflows = 50\nduration_minutes = 1\n"
    );
    let path = dir.join(file);
    std::fs::write(&path, text).expect("write profile");
    path.to_string_lossy().into_owned()
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    orders: u64,
    events: u64,
    requests: u64,
    by_activity: BTreeMap<&'static str, u64>,
}

/// What the simulator produces for this seed, profile, start and duration (the built-in world:
/// the world changes which ids are used, not how many events there are).
fn simulate(profile_file: &str, seed: u64, start: &str, duration_ms: u64) -> Expected {
    let profile = LoadProfile::from_file(Path::new(profile_file)).expect("profile");
    simulate_profile(profile, seed, start, duration_ms)
}

fn simulate_profile(profile: LoadProfile, seed: u64, start: &str, duration_ms: u64) -> Expected {
    let world = loadgen::world::builtin_world();
    let config = common::config_with(profile, seed, start, duration_ms);
    let mut expected = Expected::default();
    for event in common::simulate(&world, &config) {
        let activity = event.action.activity();
        expected.events += 1;
        expected.requests += u64::from(event.action.request_count());
        expected.orders += u64::from(activity == Activity::NewOrder);
        *expected.by_activity.entry(activity.key()).or_default() += 1;
    }
    expected
}

// ---------------------------------------------------------------------------------------------
// 1. A short high-rate run: console output, report, and what the stub received
// ---------------------------------------------------------------------------------------------

#[test]
fn start_prints_the_spec_console_and_reports_exactly_what_the_stub_received() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write_profile(dir.path(), "fast.toml", "fast", 600);
    let rt = runtime();
    let stub = harness::stub(&rt, recording(0));
    let url = stub.url();
    let start_at = "2026-01-05T14:00:00Z";
    let run = loadgen(
        dir.path(),
        &[
            "start",
            "--profile-file",
            &profile,
            "--api-url",
            &url,
            "--duration",
            "10s",
            "--seed",
            "7",
            "--start-at",
            start_at,
            "--run-id",
            "s1",
            "--report",
            "r.json",
        ],
        &[],
    );
    run.expect_code(0);
    let expected = simulate(&profile, 7, start_at, 10_000);
    assert!(expected.orders > 60, "{expected:?}");

    assert_lines_in_order(
        &run,
        &[
            "FreshMart Load Generator".into(),
            "Profile: fast - High-rate test profile".into(),
            "Target: 600 orders/min".into(),
            "Concurrent Workflows: 50".into(),
            "Duration: 0.2 minutes".into(),
            format!("API: {url}"),
            format!(
                "Seed: 7 (pass --profile-file {profile} --duration 10s --seed 7 \
                 --start-at 2026-01-05T14:00:00+00:00 --run-id s1 to repeat this run against the same world)"
            ),
            "Run id: s1".into(),
            "Initializing load orchestrator...".into(),
            "API health check passed".into(),
            "Loaded 100 customers, 10 stores, 760 products".into(),
            "Load orchestrator initialized successfully".into(),
            "Running for 0.2 minutes...".into(),
            "Final Summary".into(),
            format!("Total activities: {}", expected.events),
            "Success rate: 100.0%".into(),
            format!("Requests: {} (0 retries)", expected.requests),
            "Activity Breakdown:".into(),
            format!("  Orders created: {}", expected.orders),
            "Events not sent: 0".into(),
            "Report written to r.json".into(),
        ],
    );
    // The console lines of the run are stamped `[HH:MM:SS] `.
    for line in run.stdout.lines().filter(|l| l.contains("orchestrator")) {
        assert_ne!(unstamp(line), line, "unstamped line `{line}`");
    }

    let stats = settled(&rt, &stub);
    let requests = stub.requests();
    assert_all_answered_2xx(&requests);
    // The health gate once, the world snapshot (the inventory view may be read in pages),
    // and otherwise writes only.
    for (endpoint, n) in [
        ("GET /health", 1),
        ("GET /ready", 1),
        ("GET /freshmart/stores", 1),
        ("GET /freshmart/products", 1),
        ("GET /freshmart/customers", 1),
    ] {
        assert_eq!(endpoint_count(&stats, endpoint), n, "{endpoint}: {stats:?}");
    }
    let inventory_reads = endpoint_count(&stats, "GET /freshmart/stores/inventory");
    assert!((1..=10).contains(&inventory_reads), "{stats:?}");
    assert_eq!(writes(&stats), expected.requests, "{stats:?}");
    assert_eq!(
        stats.total_requests,
        expected.requests + 5 + inventory_reads,
        "unexpected endpoints: {stats:?}"
    );
    assert_eq!(requests.len() as u64, stats.total_requests);
    // Every id this run created is in its namespace.
    for r in requests.iter().filter(|r| r.method == "POST") {
        let triples: Vec<Value> = serde_json::from_str(&r.body).unwrap();
        let subject = triples[0]["subject_id"].as_str().unwrap();
        assert!(subject.contains(":LG-s1-"), "{subject}");
    }

    // Inventory updates go to existing stock items (API.md), drawn from the whole world: the
    // stock world has 760 items per store, so they land in more than one store.
    let mut stores_hit = std::collections::BTreeSet::new();
    for r in requests
        .iter()
        .filter(|r| r.body.contains("\"stock_level\""))
    {
        let triples: Vec<Value> = serde_json::from_str(&r.body).unwrap();
        let item = triples[0]["subject_id"].as_str().unwrap();
        let store = stub
            .triples_of(item)
            .into_iter()
            .find(|t| t.predicate == "inventory_store")
            .unwrap_or_else(|| panic!("inventory update of `{item}`, which is no stock item"));
        stores_hit.insert(store.object_value);
    }
    assert!(
        stores_hit.len() > 1,
        "every inventory update went to the items of {stores_hit:?}"
    );

    let k = kinds(&requests);
    let report = json(&dir.path().join("r.json"));
    let activity = |key: &str, field: &str| report["activities"][key][field].as_u64().unwrap();
    assert_eq!(report["config"]["mode"], "start");
    assert_eq!(report["config"]["api_url"], url.as_str());
    assert_eq!(report["config"]["seed"], 7);
    assert_eq!(report["config"]["run_id"], "s1");
    assert_eq!(report["config"]["start"], "2026-01-05T14:00:00+00:00");
    assert_eq!(report["config"]["duration_ms"], 10_000);
    assert_eq!(report["config"]["concurrency"], 50);
    assert_eq!(report["config"]["profile"]["orders_per_minute"], 600.0);
    assert_eq!(report["stopped_early"], false);
    assert_eq!(report["events"]["received"], expected.events);
    assert_eq!(report["events"]["succeeded"], expected.events);
    assert_eq!(report["events"]["failed"], 0);
    assert_eq!(report["events"]["not_sent"], 0);
    assert_eq!(report["events"]["interrupted"], 0);
    assert_eq!(report["success_rate"], 1.0);
    // The report's request count is what reached the stub, request by request.
    assert_eq!(report["requests"].as_u64().unwrap(), writes(&stats));
    assert_eq!(report["retries"], 0);
    assert_eq!(activity("new_order", "succeeded"), k.order_posts);
    assert_eq!(activity("customer_creation", "succeeded"), k.customer_posts);
    assert_eq!(activity("inventory_update", "succeeded"), k.stock_puts);
    assert_eq!(activity("order_modification", "succeeded"), k.total_puts);
    assert_eq!(k.total_puts, k.line_posts + k.deletes);
    assert_eq!(
        activity("status_transition", "succeeded") + activity("cancellation", "succeeded"),
        k.status_puts
    );
    assert_eq!(activity("cancellation", "succeeded"), k.cancellations);
    for key in [
        "new_order",
        "status_transition",
        "order_modification",
        "customer_creation",
        "inventory_update",
        "cancellation",
    ] {
        assert_eq!(activity(key, "failed"), 0, "{key}");
        assert_eq!(
            activity(key, "succeeded"),
            expected.by_activity.get(key).copied().unwrap_or(0),
            "{key}"
        );
    }
    rt.block_on(stub.shutdown());
}

// ---------------------------------------------------------------------------------------------
// 2. Rate accuracy: orders per minute at the stub, at 1x (14:00) and 2x (12:00)
// ---------------------------------------------------------------------------------------------

/// Runs 3000 orders/min for 10 s from `start_at` and checks the orders the stub received
/// against `3000 × multiplier` per minute, both over the configured duration and over the wall
/// time the stub saw writes arrive in.
fn assert_order_rate(start_at: &str, multiplier: f64) {
    const TARGET: f64 = 3000.0;
    const DURATION_S: f64 = 10.0;
    let dir = tempfile::tempdir().unwrap();
    let profile = write_profile(dir.path(), "rate.toml", "rate", TARGET as u32);
    let rt = runtime();
    let stub = harness::stub(&rt, recording(0));
    let url = stub.url();

    // Watch the writes arrive: (when, how many so far) at every change of the count.
    let timeline: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let watcher = {
        let (stub, timeline) = (stub.clone(), timeline.clone());
        rt.spawn(async move {
            stub.wait_for_stats(move |s| {
                let n = writes(s);
                let mut t = timeline.lock().unwrap();
                if n > t.last().map_or(0, |&(_, last)| last) {
                    t.push((Instant::now(), n));
                }
                false
            })
            .await
        })
    };
    let run = loadgen(
        dir.path(),
        &[
            "start",
            "--profile-file",
            &profile,
            "--api-url",
            &url,
            "--duration",
            "10s",
            "--seed",
            "7",
            "--start-at",
            start_at,
            "--run-id",
            "rate",
        ],
        &[],
    );
    run.expect_code(0);
    let stats = settled(&rt, &stub);
    watcher.abort();
    let requests = stub.requests();
    assert_all_answered_2xx(&requests);
    let orders = kinds(&requests).order_posts;
    let timeline = timeline.lock().unwrap();
    let (first, last) = (timeline[0].0, timeline[timeline.len() - 1].0);
    let span = (last - first).as_secs_f64();
    eprintln!(
        "{start_at}: {orders} orders, {} writes, over {span:.3}s of wall time",
        writes(&stats)
    );

    // Exactly what the simulator offers for this seed: nothing dropped, nothing added.
    let expected = simulate(&profile, 7, start_at, (DURATION_S * 1000.0) as u64);
    assert_eq!(orders, expected.orders, "orders received vs simulated");
    assert_eq!(writes(&stats), expected.requests);

    let want_per_min = TARGET * multiplier;
    let per_min = orders as f64 / (DURATION_S / 60.0);
    assert!(
        (per_min - want_per_min).abs() <= 0.05 * want_per_min,
        "{orders} orders in {DURATION_S}s = {per_min:.0}/min, want {want_per_min} ± 5%"
    );

    // Paced, not burst: the writes spread over the run's wall time.
    assert_eq!(timeline[timeline.len() - 1].1, writes(&stats));
    assert!(
        (DURATION_S * 0.9..=DURATION_S * 1.05).contains(&span),
        "writes arrived over {span:.2}s, the run lasts {DURATION_S}s"
    );
    let wall_per_min = orders as f64 / (span / 60.0);
    assert!(
        (wall_per_min - want_per_min).abs() <= 0.05 * want_per_min,
        "{orders} orders over {span:.2}s of wall time = {wall_per_min:.0}/min, \
         want {want_per_min} ± 5%"
    );
    rt.block_on(stub.shutdown());
}

#[test]
fn start_sends_the_target_order_rate_at_a_1x_hour() {
    assert_order_rate("2026-01-05T14:00:00Z", 1.0);
}

#[test]
fn start_doubles_the_order_rate_at_the_lunch_peak() {
    assert_order_rate("2026-01-05T12:00:00Z", 2.0);
}

// ---------------------------------------------------------------------------------------------
// 3. --dry-run
// ---------------------------------------------------------------------------------------------

/// Requests per order in steady state with the spec's weights: creation, three transitions
/// (or one cancellation), two requests per modification, one per new customer and inventory
/// update.
fn spec_requests_per_order() -> f64 {
    let (new, modif, cust, inv, cancel) = (0.40, 0.10, 0.05, 0.10, 0.05);
    1.0 + 3.0 * (1.0 - cancel) + cancel + 2.0 * modif / new + cust / new + inv / new
}

#[test]
fn dry_run_sends_nothing_and_shows_the_expected_load() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write_profile(dir.path(), "fast.toml", "fast", 3000);
    let rt = runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = stub.url();
    let start_at = "2026-01-05T12:00:00Z";
    let run = loadgen(
        dir.path(),
        &[
            "start",
            "--profile-file",
            &profile,
            "--api-url",
            &url,
            "--duration",
            "2m",
            "--seed",
            "5",
            "--start-at",
            start_at,
            "--dry-run",
        ],
        &[],
    );
    run.expect_code(0);
    let e = simulate(&profile, 5, start_at, 120_000);
    assert_lines_in_order(
        &run,
        &[
            "FreshMart Load Generator (dry run: nothing is sent)".into(),
            "Profile: fast - High-rate test profile".into(),
            "Target: 3000 orders/min".into(),
            "Concurrent Workflows: 50".into(),
            "Duration: 2 minutes".into(),
            format!("API: {url}"),
            "Seed: 5".into(),
            "Start: 2026-01-05T12:00:00+00:00 (local hour 12, peak-hour multiplier 2x)".into(),
            "Effective rate now: 6000.0 orders/min".into(),
            format!(
                "Expected requests per minute now (steady state): {:.1}",
                6000.0 * spec_requests_per_order()
            ),
            format!(
                "Over the run (this seed, following the peak-hour curve): {} orders, {} \
                 activities, {} requests ({:.1} requests/min)",
                e.orders,
                e.events,
                e.requests,
                e.requests as f64 / 2.0
            ),
        ],
    );
    // Two minutes at 6000 orders/min.
    assert!(e.orders.abs_diff(12_000) <= 600, "{e:?}");
    assert!(!run.stdout.contains("Final Summary"), "{}", run.stdout);
    assert_eq!(stub.stats().total_requests, 0, "a dry run sent requests");
    rt.block_on(stub.shutdown());
}

#[test]
fn dry_run_of_the_builtin_stress_profile() {
    let dir = tempfile::tempdir().unwrap();
    let run = loadgen(
        dir.path(),
        &[
            "start",
            "--profile",
            "stress",
            "--dry-run",
            "--seed",
            "42",
            "--start-at",
            "2026-01-05T14:00:00Z",
        ],
        &[],
    );
    run.expect_code(0);
    let stress = LoadProfile::named("stress").unwrap();
    let e = simulate_profile(stress, 42, "2026-01-05T14:00:00Z", 30 * 60_000);
    assert_lines_in_order(
        &run,
        &[
            "Profile: stress - Stress test".into(),
            "Target: 200 orders/min".into(),
            "Concurrent Workflows: 500".into(),
            "Duration: 30 minutes".into(),
            "API: http://localhost:8080".into(),
            "Start: 2026-01-05T14:00:00+00:00 (local hour 14, peak-hour multiplier 1x)".into(),
            "Effective rate now: 200.0 orders/min".into(),
            format!(
                "Expected requests per minute now (steady state): {:.1}",
                200.0 * spec_requests_per_order()
            ),
            format!(
                "Over the run (this seed, following the peak-hour curve): {} orders, {} \
                 activities, {} requests ({:.1} requests/min)",
                e.orders,
                e.events,
                e.requests,
                e.requests as f64 / 30.0
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// 4. World snapshots
// ---------------------------------------------------------------------------------------------

#[test]
fn world_snapshot_round_trips_into_simulate() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = stub.url();

    let run = loadgen(
        dir.path(),
        &["world", "--api-url", &url, "-o", "w.json"],
        &[],
    );
    run.expect_code(0);
    let world = json(&dir.path().join("w.json"));
    let len = |key: &str| world[key].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(
        (
            len("stores"),
            len("products"),
            len("customers"),
            len("inventory")
        ),
        (10, 760, 100, 7600),
        "stores, products, customers, inventory items of the stock world"
    );
    assert_eq!(world["name"], url.as_str());
    assert_eq!(world["stores"][0]["id"], "store:BK-01");
    assert_eq!(world["products"][0]["id"], "product:prod0001");
    assert_eq!(world["customers"][0]["id"], "customer:00001");
    assert_eq!(world["inventory"][0]["id"], "inventory:INV-000001");
    assert_eq!(world["inventory"][7599]["id"], "inventory:INV-007600");
    assert!(
        run.stderr.contains(&format!(
            "Loaded 100 customers, 10 stores, 760 products, 7600 inventory items from {url}"
        )),
        "{}",
        run.stderr
    );

    let sim = |args: &[&str]| {
        let mut all = vec!["simulate", "--seed", "3", "--duration", "1h"];
        all.extend_from_slice(args);
        loadgen(dir.path(), &all, &[])
    };
    sim(&["--world", "w.json", "-o", "a.trace"]).expect_code(0);
    sim(&["--api-url", &url, "-o", "b.trace"]).expect_code(0);
    let a = std::fs::read(dir.path().join("a.trace")).unwrap();
    let b = std::fs::read(dir.path().join("b.trace")).unwrap();
    assert!(!a.is_empty());
    assert!(
        a == b,
        "a snapshot file and a live snapshot give different traces"
    );
    let inspect = loadgen(dir.path(), &["inspect", "a.trace"], &[]);
    inspect.expect_code(0);
    assert_eq!(
        inspect.value_after("World: "),
        format!("{url} (10 stores, 760 products, 100 customers, 7600 inventory items)")
    );
    rt.block_on(stub.shutdown());
}

#[test]
fn world_errors_are_bad_input_or_failed_runs() {
    let dir = tempfile::tempdir().unwrap();
    // A world without stores: bad input, naming the file and what is missing.
    let mut empty = serde_json::to_value(loadgen::world::builtin_world()).unwrap();
    empty["stores"] = serde_json::json!([]);
    std::fs::write(dir.path().join("empty.json"), empty.to_string()).unwrap();
    let run = loadgen(
        dir.path(),
        &[
            "simulate",
            "--world",
            "empty.json",
            "--seed",
            "3",
            "--duration",
            "1h",
            "-o",
            "e.trace",
        ],
        &[],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("empty.json"), "{}", run.stderr);
    assert!(run.stderr.contains("stores"), "{}", run.stderr);
    assert!(!dir.path().join("e.trace").exists());

    // Nothing listening: the run failed.
    let closed = closed_url();
    let run = loadgen(
        dir.path(),
        &["world", "--api-url", &closed, "-o", "x.json"],
        &[],
    );
    run.expect_code(1);
    assert!(run.stderr.contains(&closed), "{}", run.stderr);
    assert!(!dir.path().join("x.json").exists());
}

// ---------------------------------------------------------------------------------------------
// 5. start --record, then replay
// ---------------------------------------------------------------------------------------------

#[test]
fn a_recorded_live_run_replays_to_the_same_requests() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write_profile(dir.path(), "rec.toml", "rec", 900);
    let rt = runtime();
    let live = harness::stub(&rt, recording(0));
    let start_at = "2026-01-05T14:00:00Z";
    let run = loadgen(
        dir.path(),
        &[
            "start",
            "--profile-file",
            &profile,
            "--api-url",
            &live.url(),
            "--duration",
            "6s",
            "--seed",
            "11",
            "--start-at",
            start_at,
            "--run-id",
            "rec",
            "--record",
            "day.trace",
        ],
        &[],
    );
    run.expect_code(0);
    let expected = simulate(&profile, 11, start_at, 6_000);
    let total: u64 = run.value_after("Total activities:").parse().unwrap();
    assert_eq!(total, expected.events);
    assert_lines_in_order(
        &run,
        &[
            format!("Recorded {total} events to day.trace"),
            "Final Summary".into(),
        ],
    );
    let live_stats = settled(&rt, &live);
    let live_requests = live.requests();
    assert_all_answered_2xx(&live_requests);
    assert_eq!(writes(&live_stats), expected.requests);

    let inspect = loadgen(dir.path(), &["inspect", "day.trace"], &[]);
    inspect.expect_code(0);
    assert_eq!(inspect.value_after("Events:"), total.to_string());
    assert_eq!(inspect.value_after("Seed:"), "11");
    assert_eq!(inspect.value_after("Start:"), "2026-01-05T14:00:00+00:00");
    assert_eq!(inspect.value_after("Duration:"), "00:00:06.000");

    // Replayed at max speed under another run id: the same requests, shifted to now.
    let replayed = harness::stub(&rt, recording(0));
    let run = loadgen(
        dir.path(),
        &[
            "replay",
            "day.trace",
            "--speed",
            "max",
            "--api-url",
            &replayed.url(),
            "--run-id",
            "again",
        ],
        &[],
    );
    run.expect_code(0);
    assert_eq!(
        run.value_after("Trace:"),
        format!("day.trace ({total} events, seed 11)")
    );
    assert_eq!(run.value_after("Total activities:"), total.to_string());
    assert_eq!(run.value_after("Success rate:"), "100.0%");
    let replay_stats = settled(&rt, &replayed);
    let replay_requests = replayed.requests();
    assert_all_answered_2xx(&replay_requests);
    assert_eq!(writes(&replay_stats), writes(&live_stats));
    assert_eq!(kinds(&replay_requests), kinds(&live_requests));

    // With the same run id and the recorded timestamps: byte for byte the same writes.
    let exact = harness::stub(&rt, recording(0));
    loadgen(
        dir.path(),
        &[
            "replay",
            "day.trace",
            "--speed",
            "max",
            "--api-url",
            &exact.url(),
            "--run-id",
            "rec",
            "--keep-timestamps",
        ],
        &[],
    )
    .expect_code(0);
    settled(&rt, &exact);
    assert!(
        multiset(&exact.requests(), true) == multiset(&live_requests, true),
        "a --keep-timestamps replay under the live run id sent other requests"
    );
    rt.block_on(async {
        live.shutdown().await;
        replayed.shutdown().await;
        exact.shutdown().await;
    });
}

// ---------------------------------------------------------------------------------------------
// 6. Same seed + world + --start-at + --run-id ⇒ the same requests
// ---------------------------------------------------------------------------------------------

#[test]
fn same_seed_start_and_run_id_send_the_same_requests() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write_profile(dir.path(), "det.toml", "det", 1200);
    let rt = runtime();
    let stubs = [
        harness::stub(&rt, recording(0)),
        harness::stub(&rt, recording(0)),
    ];
    let start_at = "2026-01-05T18:00:00Z";
    // Both runs at once, each into its own fresh stub.
    std::thread::scope(|scope| {
        for (i, s) in stubs.iter().enumerate() {
            let (dir, profile, url) = (dir.path(), &profile, s.url());
            scope.spawn(move || {
                let report = format!("r{i}.json");
                loadgen(
                    dir,
                    &[
                        "start",
                        "--profile-file",
                        profile,
                        "--api-url",
                        &url,
                        "--duration",
                        "5s",
                        "--seed",
                        "99",
                        "--start-at",
                        start_at,
                        "--run-id",
                        "det",
                        "--report",
                        &report,
                    ],
                    &[],
                )
                .expect_code(0);
            });
        }
    });
    let expected = simulate(&profile, 99, start_at, 5_000);
    let mut sets = Vec::new();
    for s in &stubs {
        let stats = settled(&rt, s);
        assert_eq!(writes(&stats), expected.requests);
        let requests = s.requests();
        assert_all_answered_2xx(&requests);
        sets.push(multiset(&requests, false));
    }
    assert!(
        sets[0].len() > 100,
        "too few requests to compare: {}",
        sets[0].len()
    );
    if sets[0] != sets[1] {
        let only_first: Vec<_> = sets[0].iter().filter(|r| !sets[1].contains(r)).collect();
        panic!(
            "the runs sent different requests; only in the first: {:?}",
            &only_first[..only_first.len().min(3)]
        );
    }
    // 18:00 is a 2.5x hour.
    let orders = kinds(&stubs[0].requests()).order_posts;
    assert_eq!(orders, expected.orders);
    assert!(orders.abs_diff(250) <= 50, "{orders} orders");
    rt.block_on(async {
        for s in stubs {
            s.shutdown().await;
        }
    });
}

/// Issue 8 item 18: the header's hint is complete: a run with nothing pinned (seed, start and
/// run id from the clock), repeated with exactly the flags the hint gives, sends the same
/// requests.
#[test]
fn the_repeat_hint_repeats_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write_profile(dir.path(), "hint.toml", "hint", 1200);
    let rt = runtime();
    let stubs = [
        harness::stub(&rt, recording(0)),
        harness::stub(&rt, recording(0)),
    ];
    let first = loadgen(
        dir.path(),
        &[
            "start",
            "--profile-file",
            &profile,
            "--api-url",
            &stubs[0].url(),
            "--duration",
            "3s",
        ],
        &[],
    );
    first.expect_code(0);
    let hint = first
        .stdout
        .lines()
        .find_map(|l| l.split_once("(pass ").map(|(_, rest)| rest))
        .and_then(|rest| rest.split_once(" to repeat this run"))
        .map(|(flags, _)| flags.to_string())
        .unwrap_or_else(|| panic!("no repeat hint in:\n{}", first.stdout));
    let url = stubs[1].url();
    let mut args = vec!["start", "--api-url", &url];
    args.extend(hint.split(' '));
    loadgen(dir.path(), &args, &[]).expect_code(0);
    let sets: Vec<_> = stubs
        .iter()
        .map(|s| {
            settled(&rt, s);
            multiset(&s.requests(), false)
        })
        .collect();
    assert!(sets[0].len() > 20, "too few requests: {}", sets[0].len());
    assert!(
        sets[0] == sets[1],
        "the hint `{hint}` did not repeat the run"
    );
    rt.block_on(async {
        for s in stubs {
            s.shutdown().await;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 7. LOADGEN_API_URL
// ---------------------------------------------------------------------------------------------

#[test]
fn loadgen_api_url_applies_when_no_url_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = stub.url();
    let env = [("LOADGEN_API_URL", url.as_str())];

    let run = loadgen(dir.path(), &["health"], &env);
    run.expect_code(0);
    assert_eq!(run.value_after("FreshMart API:"), url);
    assert!(
        run.lines().iter().any(|l| l == "API is healthy"),
        "{}",
        run.stdout
    );
    let stats = settled(&rt, &stub);
    assert_eq!(endpoint_count(&stats, "GET /health"), 1, "{stats:?}");
    assert_eq!(endpoint_count(&stats, "GET /ready"), 1, "{stats:?}");
    assert_eq!(stats.total_requests, 2);

    // An explicit argument beats the variable.
    let closed = closed_url();
    let run = loadgen(dir.path(), &["health", &closed], &env);
    run.expect_code(1);
    assert_eq!(run.value_after("FreshMart API:"), closed);
    assert!(
        run.lines().iter().any(|l| l == "API health check failed"),
        "{}",
        run.stdout
    );
    assert_eq!(stub.stats().total_requests, 2, "the variable was used");

    // `start` reads it too (shown by a dry run).
    let run = loadgen(
        dir.path(),
        &[
            "start",
            "--dry-run",
            "--seed",
            "1",
            "--start-at",
            "2026-01-05T14:00:00Z",
        ],
        &env,
    );
    run.expect_code(0);
    assert_eq!(run.value_after("API:"), url);
    assert_eq!(stub.stats().total_requests, 2);
    rt.block_on(stub.shutdown());
}

// ---------------------------------------------------------------------------------------------
// 8. Exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_profile_is_bad_input_and_an_unreachable_api_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let closed = closed_url();
    let run = loadgen(
        dir.path(),
        &["start", "--profile", "turbo", "--api-url", &closed],
        &[],
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown profile `turbo`"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("Initializing"), "{}", run.stdout);

    let run = loadgen(
        dir.path(),
        &[
            "start",
            "--api-url",
            &closed,
            "--duration",
            "10s",
            "--seed",
            "1",
            "--start-at",
            "2026-01-05T14:00:00Z",
            "--run-id",
            "down",
            "--report",
            "down.json",
        ],
        &[],
    );
    run.expect_code(1);
    let failed = run
        .lines()
        .into_iter()
        .find(|l| l.starts_with("API health check failed"))
        .unwrap_or_else(|| panic!("no health check failure in:\n{}", run.stdout));
    assert!(failed.contains(&closed), "{failed}");
    assert!(!run.stdout.contains("Final Summary"), "{}", run.stdout);
}
