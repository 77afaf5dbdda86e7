//! Sharded replay end to end: four `replay --shard I/4` processes against one recording stub
//! send a stress trace exactly once, each its own partition, every entity in trace order; the
//! merge of their results equals, histogram value for value, what their per-event records
//! add up to; and a shard killed with SIGKILL and resumed from its checkpoint loses nothing
//! and resends at most what was in flight. Loopback only.

#[path = "common/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use freshmart_stub::{RecordedRequest, StubConfig, StubHandle};
use loadgen::api::RequestContext;
use loadgen::causal::RootTracker;
use loadgen::event::{Entity, Event};
use loadgen::result::RunResult;
use loadgen::sim::time::Calendar;
use loadgen::trace::{TraceHeader, TraceReader};
use serde_json::Value;

const SHARDS: u32 = 4;
/// Dispatchers of each shard: at most this many of its events are in flight at once.
const CONCURRENCY: u64 = 4;

struct Trace {
    header: TraceHeader,
    events: Vec<Event>,
    /// Shard of `SHARDS` each event's causal root falls in, by seq.
    shard_of: Vec<u32>,
}

/// The trace read back through the library, each event's shard derived from its causal root.
fn read_trace(path: &Path) -> Trace {
    let mut reader = TraceReader::open(path).expect("trace");
    let header = reader.header().clone();
    let mut roots = RootTracker::new();
    let (mut events, mut shard_of) = (Vec::new(), Vec::new());
    while let Some(event) = reader.next_event().expect("event") {
        shard_of.push(roots.root_of(&event).partition(SHARDS));
        events.push(event);
    }
    Trace {
        header,
        events,
        shard_of,
    }
}

impl Trace {
    fn partition(&self, shard: u32) -> BTreeSet<u64> {
        (0..self.events.len() as u64)
            .filter(|&seq| self.shard_of[seq as usize] == shard)
            .collect()
    }

    /// Every request the contract makes of the trace's events for `run_id` with timestamps
    /// shifted by `shift_ms`, keyed by its bytes, with the events (seq, entity) that make it,
    /// in trace order (two events may send the same bytes).
    fn requests(&self, run_id: &str, shift_ms: i64) -> HashMap<Sent, VecDeque<(u64, Entity)>> {
        let context = RequestContext {
            world: Arc::new(self.header.world.clone()),
            run_id: Some(run_id.to_string()),
            calendar: Calendar::new(self.header.start_instant().expect("start instant")),
            shift: chrono::Duration::milliseconds(shift_ms),
        };
        let mut map: HashMap<Sent, VecDeque<(u64, Entity)>> = HashMap::new();
        for (seq, event) in self.events.iter().enumerate() {
            for r in context.requests_for(event) {
                let sent = (
                    r.method.as_str().to_string(),
                    r.path,
                    r.body.unwrap_or_default(),
                );
                map.entry(sent)
                    .or_default()
                    .push_back((seq as u64, event.action.entity()));
            }
        }
        map
    }

    fn request_count(&self, seq: u64) -> usize {
        self.events[seq as usize].action.request_count() as usize
    }
}

type Sent = (String, String, String);

/// The stub's writes (health checks left out), in arrival order.
fn writes(stub: &StubHandle) -> Vec<RecordedRequest> {
    stub.requests()
        .into_iter()
        .filter(|r| !matches!(r.path_and_query.as_str(), "/health" | "/ready"))
        .collect()
}

/// What the stub received, mapped back to the events: the requests per event seq, and the
/// seqs per entity in arrival order. Every request maps to an event of the trace, else fails.
struct Received {
    per_event: BTreeMap<u64, usize>,
    per_entity: BTreeMap<Entity, Vec<u64>>,
}

fn received(trace: &Trace, stub: &StubHandle, run_id: &str, shift_ms: i64) -> Received {
    let mut expected = trace.requests(run_id, shift_ms);
    // A request sent again (after a resume) maps to the event it was first mapped to.
    let mut seen: HashMap<Sent, (u64, Entity)> = HashMap::new();
    let mut got = Received {
        per_event: BTreeMap::new(),
        per_entity: BTreeMap::new(),
    };
    for r in writes(stub) {
        assert!(
            (200..300).contains(&r.status),
            "answered {}: {r:?}",
            r.status
        );
        let sent: Sent = (r.method.clone(), r.path_and_query.clone(), r.body.clone());
        let owner = match expected.get_mut(&sent).and_then(VecDeque::pop_front) {
            Some(owner) => owner,
            None => *seen
                .get(&sent)
                .unwrap_or_else(|| panic!("a request no event of the trace makes: {r:?}")),
        };
        seen.insert(sent, owner);
        *got.per_event.entry(owner.0).or_default() += 1;
        got.per_entity.entry(owner.1).or_default().push(owner.0);
    }
    got
}

fn in_seconds(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339()
}

/// `--events-out` rows (JSON Lines).
fn event_rows(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect()
}

fn shard_args<'a>(url: &'a str, shard: &'a str, start_at: &'a str, speed: &'a str) -> Vec<&'a str> {
    vec![
        "replay",
        "t.trace",
        "--api-url",
        url,
        "--shard",
        shard,
        "--run-id",
        "e2e",
        "--start-at",
        start_at,
        "--speed",
        speed,
        "--concurrency",
        "4",
    ]
}

fn verify(dir: &Path, url: &str) -> harness::Run {
    harness::loadgen(
        dir,
        &["verify", "t.trace", "--api-url", url, "--run-id", "e2e"],
        &[],
    )
}

fn merge(dir: &Path) -> RunResult {
    let mut args = vec!["merge".to_string()];
    args.extend((0..SHARDS).map(|i| format!("r{i}.json")));
    args.extend(["-o".to_string(), "total.json".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    harness::loadgen_ok(dir, &args);
    RunResult::read(&dir.join("total.json")).expect("the merged result reads back")
}

fn setup(
    duration: &str,
) -> (
    tokio::runtime::Runtime,
    StubHandle,
    tempfile::TempDir,
    Trace,
) {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            record_requests: true,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    harness::loadgen_ok(
        dir.path(),
        &[
            "simulate",
            "--profile",
            "stress",
            "--duration",
            duration,
            "--seed",
            "7",
            "-o",
            "t.trace",
        ],
    );
    let trace = read_trace(&dir.path().join("t.trace"));
    (rt, stub, dir, trace)
}

#[test]
fn four_shards_send_a_stress_trace_once_in_order_and_merge_exactly() {
    let (_rt, stub, dir, trace) = setup("10m");
    let events = trace.events.len() as u64;
    assert!(events > 1_000, "a stress trace: {events} events");
    let url = stub.url();
    let start_at = in_seconds(4);
    let shards: Vec<_> = (0..SHARDS)
        .map(|i| {
            let shard = format!("{i}/{SHARDS}");
            let (report, checkpoint, rows) =
                (format!("r{i}.json"), format!("c{i}"), format!("e{i}.jsonl"));
            let mut args = shard_args(&url, &shard, &start_at, "max");
            args.extend([
                "--report",
                &report,
                "--checkpoint",
                &checkpoint,
                "--events-out",
                &rows,
            ]);
            harness::start(dir.path(), &args, &[])
        })
        .collect();
    for run in shards {
        run.wait(harness::PROCESS_LIMIT).expect_code(0);
    }

    // Each shard sent exactly its partition, and the union is the trace.
    let mut all_rows = Vec::new();
    for i in 0..SHARDS {
        let partition = trace.partition(i);
        assert!(partition.len() > 100, "shard {i} holds events");
        let logged: BTreeSet<u64> = harness::logged(&dir.path().join(format!("c{i}.log")))
            .into_iter()
            .collect();
        assert_eq!(logged, partition, "shard {i} completed its partition");
        let rows = event_rows(&dir.path().join(format!("e{i}.jsonl")));
        let seqs: Vec<u64> = rows.iter().map(|r| harness::num(r, "/seq")).collect();
        assert_eq!(
            seqs.len(),
            partition.len(),
            "one row per event of shard {i}"
        );
        assert_eq!(seqs.into_iter().collect::<BTreeSet<_>>(), partition);
        all_rows.extend(rows);
    }

    // The stub saw every event exactly once (all its requests, no more), entities in order.
    let shift_ms = harness::num(&harness::json(&dir.path().join("c0")), "/shift_ms") as i64;
    let got = received(&trace, &stub, "e2e", shift_ms);
    for seq in 0..events {
        assert_eq!(
            got.per_event.get(&seq).copied().unwrap_or(0),
            trace.request_count(seq),
            "requests of event {seq}"
        );
    }
    for (entity, seqs) in &got.per_entity {
        assert!(
            seqs.windows(2).all(|w| w[0] <= w[1]),
            "{entity:?} out of trace order: {seqs:?}"
        );
    }

    // The merge counts the events and adds the histograms exactly: the ones rebuilt from the
    // union of the per-event rows, with the run's bounds and clamping.
    let total = merge(dir.path());
    assert_eq!(total.total(), events);
    assert_eq!(total.events.received, events);
    assert_eq!(total.events.succeeded, events);
    assert_eq!(total.run.shards_merged, Some(SHARDS));
    let rebuilt = |column: &str| {
        let mut h = loadgen::metrics::histogram();
        for row in &all_rows {
            assert_eq!(row["outcome"], "success", "{row}");
            let us = harness::num(row, &format!("/{column}"));
            h.record(us.clamp(1, loadgen::metrics::MAX_TRACKED_US))
                .unwrap();
        }
        h
    };
    let pairs = |h: &hdrhistogram::Histogram<u64>| {
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect::<Vec<_>>()
    };
    for (merged, column) in [
        (&total.histograms.latency, "latency_us"),
        (&total.histograms.service, "service_us"),
        (&total.histograms.lateness, "lateness_us"),
    ] {
        let want = rebuilt(column);
        assert_eq!(merged.len(), events, "{column}");
        assert_eq!(pairs(merged), pairs(&want), "{column}, value for value");
        assert_eq!(*merged, want, "{column}");
    }

    // Per activity too.
    for activity in loadgen::event::Activity::ALL {
        let mut want = loadgen::metrics::histogram();
        for row in all_rows.iter().filter(|r| r["activity"] == activity.key()) {
            let us = harness::num(row, "/latency_us");
            want.record(us.clamp(1, loadgen::metrics::MAX_TRACKED_US))
                .unwrap();
        }
        let merged = &total.activities[activity.key()];
        assert_eq!(merged.histograms.latency, want, "{}", activity.key());
        assert_eq!(merged.succeeded, want.len(), "{}", activity.key());
    }

    verify(dir.path(), &url).expect_code(0);
}

#[test]
fn a_shard_killed_mid_run_resumes_losing_nothing_and_resending_only_its_in_flight_events() {
    let (_rt, stub, dir, trace) = setup("10m");
    let events = trace.events.len() as u64;
    let url = stub.url();
    let start_at = in_seconds(3);
    const VICTIM: u32 = 2;
    // At 60x the 10-minute trace takes 10 s: the victim is mid-run when it is killed.
    let mut shards: Vec<_> = (0..SHARDS)
        .map(|i| {
            let shard = format!("{i}/{SHARDS}");
            let (report, checkpoint) = (format!("r{i}.json"), format!("c{i}"));
            let mut args = shard_args(&url, &shard, &start_at, "60x");
            args.extend(["--report", &report, "--checkpoint", &checkpoint]);
            Some(harness::start(dir.path(), &args, &[]))
        })
        .collect();
    let victim_log = dir.path().join(format!("c{VICTIM}.log"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut victim = shards[VICTIM as usize].take().expect("the victim");
    while harness::logged(&victim_log).len() < 50 {
        assert!(
            Instant::now() < deadline,
            "the victim completed no 50 events in 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    victim.kill();
    let killed = victim.wait(Duration::from_secs(30));
    assert_eq!(killed.code, None, "killed by a signal");
    let done_before = harness::logged(&victim_log).len();
    let partition = trace.partition(VICTIM);
    assert!(
        done_before < partition.len(),
        "killed mid-run: {done_before} of {}",
        partition.len()
    );

    let resumed = harness::loadgen(
        dir.path(),
        &[
            "replay",
            "--resume",
            &format!("c{VICTIM}"),
            "--shard",
            &format!("{VICTIM}/{SHARDS}"),
            "--api-url",
            &url,
            "--report",
            &format!("r{VICTIM}.json"),
        ],
        &[],
    );
    resumed.expect_code(0);
    for run in shards.into_iter().flatten() {
        run.wait(harness::PROCESS_LIMIT).expect_code(0);
    }

    // Nothing lost: every event completed (once in the checkpoints) and reached the stub.
    let logged: BTreeSet<u64> = harness::logged(&victim_log).into_iter().collect();
    assert_eq!(
        logged, partition,
        "the resumed shard completed its partition"
    );
    let shift_ms = harness::num(&harness::json(&dir.path().join("c0")), "/shift_ms") as i64;
    let victim_shift = harness::json(&dir.path().join(format!("c{VICTIM}")));
    assert_eq!(harness::num(&victim_shift, "/shift_ms") as i64, shift_ms);
    let got = received(&trace, &stub, "e2e", shift_ms);
    let mut resent = BTreeSet::new();
    for seq in 0..events {
        let (sent, want) = (
            got.per_event.get(&seq).copied().unwrap_or(0),
            trace.request_count(seq),
        );
        assert!(sent >= want, "event {seq}: {sent} of its {want} requests");
        if sent > want {
            assert_eq!(trace.shard_of[seq as usize], VICTIM, "event {seq} resent");
            resent.insert(seq);
        }
    }
    // Nothing sent twice beyond what was in flight at the kill.
    assert!(
        resent.len() as u64 <= CONCURRENCY,
        "resent {} events: {resent:?}",
        resent.len()
    );

    // The merge of the resumed shard's report counts every event once. Its timings are those
    // of the events the processes that ended normally completed: the killed one never wrote
    // its segment's measurements (they are kept only when a segment ends), so the events it
    // had completed are counted but not timed.
    let total = merge(dir.path());
    assert_eq!(total.total(), events);
    assert_eq!(total.events.received, events);
    assert_eq!(total.events.succeeded, events);
    for timings in [
        &total.histograms.latency,
        &total.histograms.service,
        &total.histograms.lateness,
    ] {
        assert_eq!(timings.len() + done_before as u64, events);
    }
    verify(dir.path(), &url).expect_code(0);
}
