//! `loadgen cleanup` against an in-process FreshMart stub after a replay: the store is left
//! holding exactly the stock data plus the stock levels the run wrote; a second cleanup finds
//! everything already gone; injected 503s are retried; `--dry-run` sends nothing, nor does
//! `--restore-stock` with a world that holds no levels (the built-in one, an old world file);
//! with a world taken from the API it leaves exactly the stock data as it was; `verify`
//! afterwards finds every entity of the run missing and nothing unexpected; a windowed run is
//! cleaned up with the same window.
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

/// The inventory items the events write a stock level to, by index into the world.
fn written_items(events: &[&Event]) -> std::collections::BTreeSet<u32> {
    events
        .iter()
        .filter_map(|e| match e.action {
            Action::InventoryUpdate { item, .. } => Some(item),
            _ => None,
        })
        .collect()
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
    assert_eq!(changed, written_items(&all).len() as u64);

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
fn dry_run_and_restore_stock_of_the_builtin_world_send_nothing() {
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

    // The built-in world records no stock levels: refused, before even a health check, with
    // the way to a world that does; also as a dry run, which would list them.
    let written = {
        let (_, events) = read(&path);
        written_items(&events.iter().collect::<Vec<_>>()).len()
    };
    for extra in [&["--restore-stock"][..], &["--restore-stock", "--dry-run"]] {
        let restore = cleanup(dir.path(), &path, &stub, "c4", extra);
        restore.expect_code(2);
        for needle in [
            format!("world `builtin` holds no stock level for {written} of the {written} values"),
            "loadgen world --api-url URL -o world.json".to_string(),
            "simulate --world world.json".to_string(),
        ] {
            assert!(
                restore.stderr.contains(&needle),
                "{extra:?}: no `{needle}` in\n{}",
                restore.stderr
            );
        }
        assert!(restore.stdout.is_empty(), "{}", restore.stdout);
    }

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

const PUTS: &str = "PUT /triples/batch";

fn puts(stub: &StubHandle) -> u64 {
    stub.stats().by_endpoint.get(PUTS).copied().unwrap_or(0)
}

/// Gives every inventory item of the stub a level of its own (the stub starts them all at
/// the same one), so that a restore of anything but the level each item had would show.
fn set_distinct_levels(rt: &tokio::runtime::Runtime, stub: &StubHandle) {
    let items: Vec<String> = stub
        .all_triples()
        .into_iter()
        .filter(|t| t.predicate == "stock_level")
        .map(|t| t.subject_id)
        .collect();
    assert_eq!(items.len(), 7600);
    let triples: Vec<serde_json::Value> = items
        .iter()
        .enumerate()
        .map(|(i, subject)| {
            serde_json::json!({
                "subject_id": subject,
                "predicate": "stock_level",
                "object_value": ((i * 37) % 997 + 1).to_string(),
                "object_type": "int",
            })
        })
        .collect();
    let url = format!("{}/triples/batch?validate=true", stub.url());
    rt.block_on(async {
        reqwest::Client::new()
            .put(url)
            .header("content-type", "application/json")
            .body(serde_json::to_string(&triples).unwrap())
            .send()
            .await
            .expect("the stub answers")
            .error_for_status()
            .expect("the levels are written")
    });
}

/// The stock level of every inventory item in `store`.
fn levels(store: &[(String, String, String)]) -> BTreeMap<String, String> {
    store
        .iter()
        .filter(|(_, p, _)| p == "stock_level")
        .map(|(s, _, v)| (s.clone(), v.clone()))
        .collect()
}

/// `loadgen world` from the stub into `dir/name`.
fn world_file(dir: &Path, stub: &StubHandle, name: &str) -> PathBuf {
    let url = stub.url();
    loadgen_ok(dir, &["world", "--api-url", &url, "-o", name]);
    dir.join(name)
}

/// The 40-minute demo day of `trace`, simulated with `--world world`.
fn trace_with_world(dir: &Path, world: &Path, name: &str) -> PathBuf {
    loadgen_ok(
        dir,
        &[
            "simulate",
            "--world",
            world.to_str().unwrap(),
            "--profile",
            "demo",
            "--duration",
            "40m",
            "--seed",
            "7",
            "-o",
            name,
        ],
    );
    dir.join(name)
}

#[test]
fn restore_stock_puts_back_the_levels_a_world_from_the_api_recorded() {
    let dir = tempfile::TempDir::new().unwrap();
    let rt = runtime();
    let stub = stub(
        &rt,
        StubConfig {
            seed: 5,
            ..StubConfig::default()
        },
    );
    set_distinct_levels(&rt, &stub);
    let before = store(&stub);
    let initial = levels(&before);

    let world = world_file(dir.path(), &stub, "world.json");
    let path = trace_with_world(dir.path(), &world, "day.trace");
    let (header, events) = read(&path);
    // The trace's world holds the level of each item, as the API listed it.
    assert_eq!(header.world.inventory.len(), initial.len());
    for item in &header.world.inventory {
        assert_eq!(
            item.stock_level.map(|l| l.to_string()).as_ref(),
            initial.get(&item.id),
            "{}",
            item.id
        );
    }
    let all: Vec<&Event> = events.iter().collect();
    let items = written_items(&all);
    assert!(!items.is_empty());
    // The last level the run writes to each item, by subject.
    let mut run_wrote = BTreeMap::new();
    for e in &all {
        if let Action::InventoryUpdate { item, stock_level } = e.action {
            run_wrote.insert(
                header.world.inventory[item as usize].id.clone(),
                stock_level.to_string(),
            );
        }
    }

    replay(dir.path(), &path, &stub, "s1", &[]);
    let created = run_subjects(&store(&stub), "s1") as u64;
    assert!(created > 0);
    assert_ne!(levels(&store(&stub)), initial, "the run changed levels");

    // A dry run lists each level it would put back, and sends nothing.
    let requests = stub.stats().total_requests;
    let dry = cleanup(
        dir.path(),
        &path,
        &stub,
        "s1",
        &["--restore-stock", "--dry-run"],
    );
    dry.expect_code(0);
    let heading = "Stock levels the run wrote, to be put back as the trace's world recorded them: ";
    assert_eq!(dry.number_after(heading), items.len() as u64);
    let listed: BTreeMap<String, (String, String)> = dry
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(1)
        .take_while(|l| l.starts_with("  inventory:"))
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(
                (parts.len(), parts[1], parts[3]),
                (5, "stock_level", "->"),
                "{l}"
            );
            (
                parts[0].to_string(),
                (parts[2].to_string(), parts[4].to_string()),
            )
        })
        .collect();
    let expected: BTreeMap<String, (String, String)> = run_wrote
        .iter()
        .map(|(s, wrote)| (s.clone(), (wrote.clone(), initial[s].clone())))
        .collect();
    assert_eq!(listed, expected);
    assert!(dry.stdout.contains("Dry run: nothing was sent"));
    assert_eq!(
        stub.stats().total_requests,
        requests,
        "the dry run sent nothing"
    );

    // The real one, through injected 503s: the store is the stock data as it was, exactly.
    stub.set_error_rate(0.3);
    let injected_before = stub.stats().injected_errors;
    let puts_before = puts(&stub);
    let run = cleanup(
        dir.path(),
        &path,
        &stub,
        "s1",
        &["--restore-stock", "--retries", "10"],
    );
    run.expect_code(0);
    stub.set_error_rate(0.0);
    let (deleted, gone, failed, delete_retries) = summary(&run);
    assert_eq!((deleted, gone, failed), (created, removals(&all), 0));
    assert_eq!(
        run.number_after("Stock levels restored: "),
        items.len() as u64
    );
    let restore_retries = run.number_after(&format!(
        "Stock levels restored: {}, failed: 0 (",
        items.len()
    ));
    let injected = stub.stats().injected_errors - injected_before;
    assert!(injected > 0, "the stub injected no error");
    assert_eq!(delete_retries + restore_retries, injected);
    assert_eq!(
        puts(&stub) - puts_before,
        items.len() as u64 + restore_retries
    );
    assert_eq!(store(&stub), before);

    // A second one deletes nothing and puts the same levels again: nothing changes.
    let second = cleanup(dir.path(), &path, &stub, "s1", &["--restore-stock"]);
    second.expect_code(0);
    assert_eq!(summary(&second), (0, deleted + gone, 0, 0));
    assert!(
        second.stdout.contains(&format!(
            "Stock levels restored: {}, failed: 0 (0 retries)",
            items.len()
        )),
        "{}",
        second.stdout
    );
    assert_eq!(store(&stub), before);
    rt.block_on(stub.shutdown());
}

#[test]
fn a_world_file_without_levels_still_loads_and_its_trace_refuses_restore_stock() {
    let dir = tempfile::TempDir::new().unwrap();
    let rt = runtime();
    let stub = stub(&rt, StubConfig::default());
    // A world file as loadgen wrote it before it recorded levels: the same, without the key.
    let world = world_file(dir.path(), &stub, "world.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&world).unwrap()).unwrap();
    let inventory = json["inventory"].as_array_mut().unwrap();
    assert_eq!(inventory.len(), 7600);
    for item in inventory.iter_mut() {
        let item = item.as_object_mut().unwrap();
        assert_eq!(item.remove("stock_level"), Some(serde_json::json!(100)));
    }
    let old = dir.path().join("old-world.json");
    std::fs::write(&old, serde_json::to_vec_pretty(&json).unwrap()).unwrap();

    let path = trace_with_world(dir.path(), &old, "old.trace");
    let (header, events) = read(&path);
    assert_eq!(header.world.inventory.len(), 7600);
    assert!(header
        .world
        .inventory
        .iter()
        .all(|i| i.stock_level.is_none()));
    let written = written_items(&events.iter().collect::<Vec<_>>()).len();
    assert!(written > 0);

    let requests = stub.stats().total_requests;
    let run = cleanup(dir.path(), &path, &stub, "s2", &["--restore-stock"]);
    run.expect_code(2);
    let needle = format!("holds no stock level for {written} of the {written} values");
    assert!(
        run.stderr.contains(&needle),
        "no `{needle}` in\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("loadgen world --api-url URL -o world.json"),
        "{}",
        run.stderr
    );
    assert_eq!(stub.stats().total_requests, requests, "nothing was sent");
    rt.block_on(stub.shutdown());
}
