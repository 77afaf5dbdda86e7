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
    let timed: Vec<Timed> = all_rows.iter().map(Timed::of_row).collect();
    assert_histograms_are_the_union(&total, &timed, events);
    verify(dir.path(), &url).expect_code(0);
}

/// The value-count pairs of a histogram, for messages that show where two differ.
fn pairs(h: &hdrhistogram::Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

/// One event's timings as its record gives them (µs), with its seq and activity.
struct Timed {
    seq: u64,
    activity: String,
    latency_us: u64,
    service_us: u64,
    lateness_us: u64,
}

impl Timed {
    fn of_row(row: &Value) -> Timed {
        assert_eq!(row["outcome"], "success", "{row}");
        Timed {
            seq: harness::num(row, "/seq"),
            activity: row["activity"].as_str().expect("activity").to_string(),
            latency_us: harness::num(row, "/latency_us"),
            service_us: harness::num(row, "/service_us"),
            lateness_us: harness::num(row, "/lateness_us"),
        }
    }

    fn of_record(r: &loadgen::metrics::EventRecord) -> Timed {
        let us = |d: Duration| d.as_micros() as u64;
        Timed {
            seq: r.seq,
            activity: r.activity.key().to_string(),
            latency_us: us(r.latency),
            service_us: us(r.service),
            lateness_us: us(r.lateness),
        }
    }
}

/// One timing of a record.
type Column = fn(&Timed) -> u64;

/// A histogram of `value` over `timed`, with the run's bounds and clamping.
fn histogram_of(timed: &[&Timed], value: impl Fn(&Timed) -> u64) -> hdrhistogram::Histogram<u64> {
    let mut h = loadgen::metrics::histogram();
    for t in timed {
        h.record(value(t).clamp(1, loadgen::metrics::MAX_TRACKED_US))
            .unwrap();
    }
    h
}

/// The merged result's histograms equal, value for value, those built from `timed` (one per
/// event of the trace), overall and per activity.
fn assert_histograms_are_the_union(total: &RunResult, timed: &[Timed], events: u64) {
    let seqs: BTreeSet<u64> = timed.iter().map(|t| t.seq).collect();
    assert_eq!(timed.len() as u64, events, "one record per event");
    assert_eq!(seqs.len() as u64, events, "no event twice");
    let all: Vec<&Timed> = timed.iter().collect();
    let columns: [(&str, Column); 3] = [
        ("latency_us", |t| t.latency_us),
        ("service_us", |t| t.service_us),
        ("lateness_us", |t| t.lateness_us),
    ];
    for ((column, value), merged) in columns.into_iter().zip([
        &total.histograms.latency,
        &total.histograms.service,
        &total.histograms.lateness,
    ]) {
        let want = histogram_of(&all, value);
        assert_eq!(merged.len(), events, "{column}");
        assert_eq!(pairs(merged), pairs(&want), "{column}, value for value");
        assert_eq!(*merged, want, "{column}");
    }
    for activity in loadgen::event::Activity::ALL {
        let of: Vec<&Timed> = all
            .iter()
            .copied()
            .filter(|t| t.activity == activity.key())
            .collect();
        let want = histogram_of(&of, |t| t.latency_us);
        let merged = &total.activities[activity.key()];
        assert_eq!(
            pairs(&merged.histograms.latency),
            pairs(&want),
            "{}",
            activity.key()
        );
        assert_eq!(merged.histograms.latency, want, "{}", activity.key());
        assert_eq!(merged.succeeded, want.len(), "{}", activity.key());
    }
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
            let (report, checkpoint, rows) =
                (format!("r{i}.json"), format!("c{i}"), format!("e{i}.jsonl"));
            let mut args = shard_args(&url, &shard, &start_at, "60x");
            args.extend([
                "--report",
                &report,
                "--checkpoint",
                &checkpoint,
                "--events-out",
                &rows,
            ]);
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
    let done_before: BTreeSet<u64> = harness::logged(&victim_log).into_iter().collect();
    let partition = trace.partition(VICTIM);
    assert!(
        done_before.len() < partition.len(),
        "killed mid-run: {} of {}",
        done_before.len(),
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
            "--events-out",
            &format!("e{VICTIM}-resumed.jsonl"),
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

    // The per-event records: the rows of the shards that ran through and of the resumed
    // segment, and what the killed segment logged for the events it completed (its rows were
    // never written out: it was killed before it closed them).
    let mut timed: Vec<Timed> = Vec::new();
    for i in (0..SHARDS).filter(|&i| i != VICTIM) {
        timed.extend(
            event_rows(&dir.path().join(format!("e{i}.jsonl")))
                .iter()
                .map(Timed::of_row),
        );
    }
    let resumed_rows = event_rows(&dir.path().join(format!("e{VICTIM}-resumed.jsonl")));
    timed.extend(resumed_rows.iter().map(Timed::of_row));
    let measures = loadgen::replay::segments::MeasureLog::read(
        &loadgen::replay::segments::MeasureLog::path(&dir.path().join(format!("c{VICTIM}"))),
    )
    .expect("the victim's measurement log reads back");
    let mut segment = 0;
    let mut killed_segment = Vec::new();
    for record in &measures {
        match record {
            loadgen::replay::segments::Logged::Segment { .. } => segment += 1,
            loadgen::replay::segments::Logged::Success(r) if segment == 1 => {
                // Plausible and its own: due → sent → answered.
                assert!(r.latency >= r.service && r.latency >= r.lateness, "{r:?}");
                assert_eq!(trace.shard_of[r.seq as usize], VICTIM);
                killed_segment.push(Timed::of_record(r));
            }
            loadgen::replay::segments::Logged::Success(_) => {}
        }
    }
    assert_eq!(segment, 2, "two segments: the killed one and the resume");
    let killed_seqs: BTreeSet<u64> = killed_segment.iter().map(|t| t.seq).collect();
    assert_eq!(
        killed_seqs, done_before,
        "the killed segment measured exactly the events it completed"
    );
    timed.extend(killed_segment);

    // The merge counts every event once, and its histograms (the resumed shard's rebuilt
    // from its logs) are, value for value, those of the union of the per-event records.
    let total = merge(dir.path());
    assert_eq!(total.total(), events);
    assert_eq!(total.events.received, events);
    assert_eq!(total.events.succeeded, events);
    assert_histograms_are_the_union(&total, &timed, events);
    verify(dir.path(), &url).expect_code(0);
}
