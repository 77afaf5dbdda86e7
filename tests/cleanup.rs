//! `loadgen cleanup` against an in-process FreshMart stub after a replay: the store is left
//! holding exactly the stock data plus the stock levels the run wrote; a second cleanup finds
//! everything already gone; injected 503s are retried; `--dry-run` and `--restore-stock` send
//! nothing; `verify` afterwards finds every entity of the run missing and nothing unexpected;
//! a windowed run is cleaned up with the same window.
//!
//! What the store should hold is computed here from the trace's events and the store's state
//! before the replay, not with loadgen's cleanup code.

#[path = "common/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use freshmart_stub::{StubConfig, StubHandle, Triple};
use harness::{loadgen, loadgen_ok, runtime, stub, Run};
use loadgen::event::{Action, Event};
use loadgen::replay::window::{TraceWindow, WindowFilter};
use loadgen::sim::time::Calendar;
use loadgen::trace::{TraceHeader, TraceReader};

const DELETES: &str = "DELETE /triples/subjects/{*subject_id}";

fn read(path: &Path) -> (TraceHeader, Vec<Event>) {
    let mut reader = TraceReader::open(path).expect("trace opens");
    let header = reader.header().clone();
    let mut events = Vec::new();
    while let Some(e) = reader.next_event().expect("trace reads") {
        events.push(e);
    }
    (header, events)
}

/// A 40-minute demo trace with every kind of event (seed fixed).
fn trace(dir: &Path) -> PathBuf {
    let path = harness::simulate(dir, "day.trace", "40m", 7);
    let (_, events) = read(&path);
    for (what, count) in [
        (
            "new customers",
            events
                .iter()
                .filter(|e| matches!(e.action, Action::NewCustomer { .. }))
                .count(),
        ),
        (
            "inventory updates",
            events
                .iter()
                .filter(|e| matches!(e.action, Action::InventoryUpdate { .. }))
                .count(),
        ),
        (
            "line removals",
            events
                .iter()
                .filter(|e| matches!(e.action, Action::RemoveLine { .. }))
                .count(),
        ),
    ] {
        assert!(count > 0, "the trace has no {what}");
    }
    path
}

/// The whole store as a sorted list (a PUT moves a value to the end of its subject).
fn store(stub: &StubHandle) -> Vec<(String, String, String)> {
    let mut all: Vec<_> = stub
        .all_triples()
        .into_iter()
        .map(|t: Triple| (t.subject_id, t.predicate, t.object_value))
        .collect();
    all.sort();
    all
}

/// `before` with each stock level the admitted events wrote set to the last value written.
fn with_stock_changes(
    before: &[(String, String, String)],
    header: &TraceHeader,
    admitted: &[&Event],
) -> Vec<(String, String, String)> {
    let mut levels = BTreeMap::new();
    for e in admitted {
        if let Action::InventoryUpdate { item, stock_level } = e.action {
            levels.insert(
                header.world.inventory[item as usize].id.clone(),
                stock_level.to_string(),
            );
        }
    }
    let mut out: Vec<_> = before
        .iter()
        .map(|(s, p, v)| match levels.get(s) {
            Some(level) if p == "stock_level" => (s.clone(), p.clone(), level.clone()),
            _ => (s.clone(), p.clone(), v.clone()),
        })
        .collect();
    out.sort();
    out
}

fn run_subjects(store: &[(String, String, String)], run: &str) -> usize {
    let mark = format!(":LG-{run}-");
    let mut subjects: Vec<&str> = store
        .iter()
        .filter(|(s, _, _)| s.contains(&mark))
        .map(|(s, _, _)| s.as_str())
        .collect();
    subjects.dedup();
    subjects.len()
}

fn replay(dir: &Path, trace: &Path, stub: &StubHandle, run: &str, extra: &[&str]) {
    let url = stub.url();
    let mut args = vec![
        "replay",
        trace.to_str().unwrap(),
        "--api-url",
        &url,
        "--speed",
        "max",
        "--run-id",
        run,
        "--min-success",
        "100%",
    ];
    args.extend_from_slice(extra);
    loadgen_ok(dir, &args);
}

fn cleanup(dir: &Path, trace: &Path, stub: &StubHandle, run: &str, extra: &[&str]) -> Run {
    let url = stub.url();
    let mut args = vec![
        "cleanup",
        trace.to_str().unwrap(),
        "--api-url",
        &url,
        "--run-id",
        run,
    ];
    args.extend_from_slice(extra);
    loadgen(dir, &args, &[])
}

/// `deleted`, `already gone`, `failed` and `retries` of the summary line.
fn summary(run: &Run) -> (u64, u64, u64, u64) {
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Deleted: "))
        .unwrap_or_else(|| panic!("no summary line:\n{}", run.stdout));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 4, "{line}");
    (numbers[0], numbers[1], numbers[2], numbers[3])
}

fn deletes(stub: &StubHandle) -> u64 {
    stub.stats().by_endpoint.get(DELETES).copied().unwrap_or(0)
}

fn removals(events: &[&Event]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(e.action, Action::RemoveLine { .. }))
        .count() as u64
}

#[test]
fn cleanup_leaves_the_stock_data_plus_the_stock_changes_and_is_idempotent() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = trace(dir.path());
    let (header, events) = read(&path);
    let all: Vec<&Event> = events.iter().collect();
    let rt = runtime();
    let stub = stub(&rt, StubConfig::default());
    let before = store(&stub);
    replay(dir.path(), &path, &stub, "c1", &[]);
    let replayed = store(&stub);
    let created = run_subjects(&replayed, "c1") as u64;
    assert!(created > 0);

    let first = cleanup(dir.path(), &path, &stub, "c1", &[]);
    first.expect_code(0);
    let (deleted, gone, failed, _) = summary(&first);
    assert_eq!(deleted, created, "every subject of the run in the store");
    assert_eq!(gone, removals(&all), "the lines the run removed itself");
    assert_eq!(failed, 0);
    assert_eq!(deletes(&stub), removals(&all) + deleted + gone);
    assert_eq!(store(&stub), with_stock_changes(&before, &header, &all));
    assert_ne!(
        store(&stub),
        before,
        "the run changed stock levels, which stay"
    );
    let changed = first.number_after("Values the run wrote to stock data, left as they are: ");
    let distinct_items: std::collections::BTreeSet<u32> = all
        .iter()
        .filter_map(|e| match e.action {
            Action::InventoryUpdate { item, .. } => Some(item),
            _ => None,
        })
        .collect();
    assert_eq!(changed, distinct_items.len() as u64);

    // A second cleanup asks again for every subject and deletes none: all are already gone.
    let sent_before = deletes(&stub);
    let second = cleanup(dir.path(), &path, &stub, "c1", &[]);
    second.expect_code(0);
    assert_eq!(summary(&second), (0, deleted + gone, 0, 0));
    assert_eq!(deletes(&stub) - sent_before, deleted + gone);
    assert_eq!(store(&stub), with_stock_changes(&before, &header, &all));

    // verify: every order and new customer missing, nothing unexpected, stock levels agree.
    let url = stub.url();
    let verify = loadgen(
        dir.path(),
        &[
            "verify",
            path.to_str().unwrap(),
            "--api-url",
            &url,
            "--run-id",
            "c1",
        ],
        &[],
    );
    verify.expect_code(1);
    let orders = all
        .iter()
        .filter(|e| matches!(e.action, Action::NewOrder(_)))
        .count();
    let customers = all
        .iter()
        .filter(|e| matches!(e.action, Action::NewCustomer { .. }))
        .count();
    assert!(
        verify.stdout.contains(&format!(
            "Missing: {}, mismatched: 0, unexpected: 0",
            orders + customers
        )),
        "{}",
        verify.stdout
    );
    rt.block_on(stub.shutdown());
}

#[test]
fn injected_503s_on_deletes_are_retried() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = trace(dir.path());
    let (header, events) = read(&path);
    let all: Vec<&Event> = events.iter().collect();
    let rt = runtime();
    let stub = stub(
        &rt,
        StubConfig {
            seed: 3,
            ..StubConfig::default()
        },
    );
    let before = store(&stub);
    replay(dir.path(), &path, &stub, "c2", &[]);
    let created = run_subjects(&store(&stub), "c2") as u64;
    stub.set_error_rate(0.3);
    let injected_before = stub.stats().injected_errors;
    let run = cleanup(dir.path(), &path, &stub, "c2", &["--retries", "10"]);
    run.expect_code(0);
    let (deleted, gone, failed, retries) = summary(&run);
    let injected = stub.stats().injected_errors - injected_before;
    assert!(injected > 0, "the stub injected no error");
    assert_eq!(retries, injected, "one retry per injected 503");
    assert_eq!((deleted, gone, failed), (created, removals(&all), 0));
    assert_eq!(store(&stub), with_stock_changes(&before, &header, &all));
    rt.block_on(stub.shutdown());
}

#[test]
fn failed_deletes_are_counted_and_exit_1() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = trace(dir.path());
    let rt = runtime();
    let stub = stub(&rt, StubConfig::default());
    replay(dir.path(), &path, &stub, "c3", &[]);
    let replayed = store(&stub);
    stub.set_error_rate(1.0);
    let run = cleanup(dir.path(), &path, &stub, "c3", &["--retries", "1"]);
    run.expect_code(1);
    let (deleted, gone, failed, retries) = summary(&run);
    let subjects = run_subjects_line(&run);
    assert_eq!((deleted, gone), (0, 0));
    assert_eq!(failed, subjects);
    assert_eq!(retries, subjects, "one retry each");
    assert!(run.stdout.contains("http_503"), "{}", run.stdout);
    assert_eq!(store(&stub), replayed, "nothing was deleted");
    rt.block_on(stub.shutdown());
}

/// `N subjects the run created`: the number before the phrase.
fn run_subjects_line(run: &Run) -> u64 {
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(" subjects the run created"))
        .expect("the footprint line");
    let (head, _) = line.split_once(" subjects the run created").unwrap();
    head.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn dry_run_and_restore_stock_send_nothing() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = trace(dir.path());
    let rt = runtime();
    let stub = stub(&rt, StubConfig::default());
    replay(dir.path(), &path, &stub, "c4", &[]);
    let replayed = store(&stub);
    let requests = stub.stats().total_requests;

    let dry = cleanup(dir.path(), &path, &stub, "c4", &["--dry-run"]);
    dry.expect_code(0);
    let listed: Vec<&str> = dry
        .stdout
        .lines()
        .skip_while(|l| *l != "Would delete:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    assert_eq!(listed.len() as u64, run_subjects_line(&dry));
    let removed = {
        let (_, events) = read(&path);
        removals(&events.iter().collect::<Vec<_>>()) as usize
    };
    assert_eq!(
        listed.len(),
        run_subjects(&replayed, "c4") + removed,
        "the subjects in the store and the lines the run removed"
    );
    assert!(dry.stdout.contains("Dry run: nothing was sent"));

    let restore = cleanup(dir.path(), &path, &stub, "c4", &["--restore-stock"]);
    restore.expect_code(2);
    assert!(
        restore.stderr.contains("holds no stock levels"),
        "{}",
        restore.stderr
    );

    assert_eq!(
        stub.stats().total_requests,
        requests,
        "not even a health check"
    );
    assert_eq!(store(&stub), replayed);
    rt.block_on(stub.shutdown());
}

#[test]
fn a_windowed_run_is_cleaned_up_with_the_same_window() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = trace(dir.path());
    let (header, events) = read(&path);
    // The trace starts at 09:00; the window is 09:10-09:25.
    let calendar = Calendar::new(header.start_instant().unwrap());
    let hm = |h, m| chrono::NaiveTime::from_hms_opt(h, m, 0);
    let window = TraceWindow::resolve(&calendar, hm(9, 10), hm(9, 25), header.duration_ms).unwrap();
    let mut filter = WindowFilter::new(window);
    let admitted: Vec<&Event> = events.iter().filter(|e| filter.admit(e)).collect();
    assert!(!admitted.is_empty() && admitted.len() < events.len());

    let rt = runtime();
    let stub = stub(&rt, StubConfig::default());
    let before = store(&stub);
    let w = ["--from", "09:10", "--to", "09:25"];
    replay(dir.path(), &path, &stub, "c5", &w);
    let created = run_subjects(&store(&stub), "c5") as u64;
    let run = cleanup(dir.path(), &path, &stub, "c5", &w);
    run.expect_code(0);
    assert_eq!(summary(&run), (created, removals(&admitted), 0, 0));
    assert_eq!(
        store(&stub),
        with_stock_changes(&before, &header, &admitted)
    );
    rt.block_on(stub.shutdown());
}

#[test]
fn a_dry_run_into_a_closed_pipe_exits_0_without_a_panic() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = trace(dir.path());
    let mut child = harness::command(
        dir.path(),
        &[
            "cleanup",
            path.to_str().unwrap(),
            "--run-id",
            "c6",
            "--dry-run",
        ],
        &[],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // `cleanup --dry-run | head -0`: the reader is gone before (almost surely) the first line.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn an_unreachable_api_exits_1_before_any_delete() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = trace(dir.path());
    // A port nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let run = loadgen(
        dir.path(),
        &[
            "cleanup",
            path.to_str().unwrap(),
            "--api-url",
            &url,
            "--run-id",
            "c7",
            "--timeout",
            "2s",
        ],
        &[],
    );
    run.expect_code(1);
    assert!(
        run.stdout.contains("API health check failed"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("Deleted: "), "{}", run.stdout);
}
