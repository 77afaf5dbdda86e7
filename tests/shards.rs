//! `replay --shard I/N --start-at T --run-id ID`: each shard sends exactly the events whose
//! causal root is in its partition, the shards together send the trace once, a shared start
//! gives them one timestamp shift, a start too far in the past is refused, a start to come is
//! waited for (and a signal during the wait sends nothing), and a checkpoint resumes only its
//! own shard, of this loadgen's partition. Loopback only: an in-process stub that records
//! every request.

#[path = "common/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use freshmart_stub::StubHandle;
use harness::{api_requests, in_seconds, json, num};
use loadgen::causal::RootTracker;
use loadgen::trace::TraceReader;

struct Setup {
    /// Serves the stub.
    _rt: tokio::runtime::Runtime,
    stub: StubHandle,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, harness::recording(0));
    let dir = tempfile::tempdir().expect("temp dir");
    harness::simulate(dir.path(), "t.trace", "20m", 11);
    Setup { _rt: rt, stub, dir }
}

impl Setup {
    /// `replay t.trace --api-url STUB args…`, started.
    fn start(&self, args: &[&str], env: &[(&str, &str)]) -> harness::Running {
        let url = self.stub.url();
        let mut all = vec!["replay", "t.trace", "--api-url", &url];
        all.extend_from_slice(args);
        harness::start(self.dir.path(), &all, env)
    }

    /// `replay t.trace --api-url STUB args…`, to the end.
    fn loadgen(&self, args: &[&str], env: &[(&str, &str)]) -> harness::Run {
        self.start(args, env).wait(harness::PROCESS_LIMIT)
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

/// The trace's events by the shard of `count` their root falls in (independently of the
/// replay: the trace read from its first event, roots derived as `causal` documents).
fn partition(trace: &Path, count: u32) -> Vec<BTreeSet<u64>> {
    let mut reader = TraceReader::open(trace).expect("trace");
    let mut roots = RootTracker::new();
    let mut shards = vec![BTreeSet::new(); count as usize];
    let mut seq = 0;
    while let Some(event) = reader.next_event().expect("event") {
        shards[roots.root_of(&event).partition(count) as usize].insert(seq);
        seq += 1;
    }
    shards
}

#[test]
fn two_shards_send_the_trace_once_each_its_partition_with_one_shift() {
    let s = setup();
    let expected = partition(&s.path("t.trace"), 2);
    assert!(
        expected.iter().all(|p| p.len() > 10),
        "both shards hold events"
    );
    let launched = chrono::Utc::now();
    let start_at = in_seconds(3);
    let shards: Vec<_> = (0..2)
        .map(|i| {
            let (shard, checkpoint) = (format!("{i}/2"), format!("c{i}"));
            let args = [
                "--shard",
                &shard,
                "--run-id",
                "split",
                "--start-at",
                &start_at,
                "--speed",
                "max",
                "--checkpoint",
                &checkpoint,
            ];
            s.start(&args, &[])
        })
        .collect();
    let runs: Vec<_> = shards
        .into_iter()
        .map(|r| r.wait(harness::PROCESS_LIMIT))
        .collect();
    let mut union = BTreeSet::new();
    for (i, run) in runs.iter().enumerate() {
        run.expect_code(0);
        assert!(
            run.stdout.contains(&format!("Shard: {i}/2")),
            "{}",
            run.stdout
        );
        let sent: BTreeSet<u64> = harness::logged(&s.path(&format!("c{i}.log")))
            .into_iter()
            .collect();
        assert_eq!(sent, expected[i], "shard {i} sends exactly its partition");
        union.extend(sent);
    }
    let events = harness::trace_facts(&s.path("t.trace")).events;
    assert_eq!(union, (0..events).collect(), "every event exactly once");
    let shift = |i: usize| num(&json(&s.path(&format!("c{i}"))), "/shift_ms");
    assert_eq!(shift(0), shift(1), "one timestamp shift for every shard");
    // The trace starts at 2026-01-05T09:00Z: its start is shifted to --start-at.
    let trace_start = chrono::DateTime::parse_from_rfc3339(loadgen::cli::DEFAULT_START).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(&start_at).unwrap();
    assert_eq!(shift(0) as i64, (at - trace_start).num_milliseconds());
    // Each waited for the start: it ran past it.
    let until_start = (at.to_utc() - launched).to_std().unwrap();
    for run in &runs {
        assert!(
            run.stdout.contains("Waiting for the start"),
            "{}",
            run.stdout
        );
        assert!(
            run.elapsed >= until_start,
            "{:?} < {until_start:?}",
            run.elapsed
        );
    }
    let verify = harness::loadgen(
        s.dir.path(),
        &[
            "verify",
            "t.trace",
            "--api-url",
            &s.stub.url(),
            "--run-id",
            "split",
        ],
        &[],
    );
    verify.expect_code(0);
}

#[test]
fn a_checkpoint_resumes_its_own_shard_and_refuses_another() {
    let s = setup();
    s.loadgen(
        &[
            "--shard",
            "1/3",
            "--run-id",
            "own",
            "--speed",
            "max",
            "--checkpoint",
            "c",
        ],
        &[],
    )
    .expect_code(0);
    let sent = api_requests(&s.stub.stats());
    for other in ["0/3", "1/2"] {
        let refused = harness::loadgen(
            s.dir.path(),
            &[
                "replay",
                "--resume",
                "c",
                "--shard",
                other,
                "--api-url",
                &s.stub.url(),
            ],
            &[],
        );
        refused.expect_code(2);
        assert!(refused.stderr.contains("shard 1/3"), "{}", refused.stderr);
    }
    let again = harness::loadgen(
        s.dir.path(),
        &[
            "replay",
            "--resume",
            "c",
            "--shard",
            "1/3",
            "--api-url",
            &s.stub.url(),
        ],
        &[],
    );
    again.expect_code(0);
    assert!(again.stdout.contains("0 to send"), "{}", again.stdout);
    assert!(again.stdout.contains("Shard: 1/3"), "{}", again.stdout);
    assert_eq!(api_requests(&s.stub.stats()), sent, "nothing resent");
    // The same checkpoint as a loadgen of the hashed partition (version 3) wrote it: its log
    // names events of other roots than this loadgen's shard 1/3 holds.
    let text = std::fs::read_to_string(s.path("c")).expect("checkpoint");
    assert!(text.contains("\"version\": 4"), "{text}");
    std::fs::write(
        s.path("c"),
        text.replace("\"version\": 4", "\"version\": 3"),
    )
    .unwrap();
    let old = harness::loadgen(
        s.dir.path(),
        &["replay", "--resume", "c", "--api-url", &s.stub.url()],
        &[],
    );
    old.expect_code(2);
    assert!(
        old.stderr.contains("earlier partition") && old.stderr.contains("shard 1/3"),
        "{}",
        old.stderr
    );
    assert_eq!(api_requests(&s.stub.stats()), sent, "nothing sent");
}

#[test]
fn shard_count_takes_the_index_from_the_job() {
    let s = setup();
    let expected = partition(&s.path("t.trace"), 4);
    let run = s.loadgen(
        &[
            "--shard-count",
            "4",
            "--run-id",
            "job",
            "--speed",
            "max",
            "--checkpoint",
            "c",
        ],
        &[("JOB_COMPLETION_INDEX", "2")],
    );
    run.expect_code(0);
    let sent: BTreeSet<u64> = harness::logged(&s.path("c.log")).into_iter().collect();
    assert_eq!(sent, expected[2]);
    let missing = s.loadgen(&["--shard-count", "4", "--run-id", "job"], &[]);
    missing.expect_code(2);
    assert!(
        missing.stderr.contains("JOB_COMPLETION_INDEX"),
        "{}",
        missing.stderr
    );
}

#[test]
fn refused_before_anything_is_sent() {
    let s = setup();
    let cases: [(&[&str], &str); 3] = [
        (&["--shard", "0/2"], "--run-id"),
        (
            &["--run-id", "late", "--start-at", &in_seconds(-3_600)],
            "--start-slack",
        ),
        (
            &["--shard", "2/2", "--run-id", "x"],
            "not below the shard count",
        ),
    ];
    for (args, says) in cases {
        let run = s.loadgen(args, &[]);
        run.expect_code(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    let stats = s.stub.stats();
    assert_eq!(stats.completed_requests, 0, "not even a health check");
    // A start within the slack runs (the events already due go out at once).
    s.loadgen(
        &[
            "--run-id",
            "ok",
            "--start-at",
            &in_seconds(-5),
            "--start-slack",
            "1m",
            "--speed",
            "max",
        ],
        &[],
    )
    .expect_code(0);
    assert!(api_requests(&s.stub.stats()) > 0);
}

#[test]
fn a_signal_during_the_wait_for_the_start_sends_nothing() {
    let s = setup();
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let at = in_seconds(600);
        let mut waiting = s.start(&["--run-id", "w", "--start-at", &at], &[]);
        waiting.wait_for_stdout("Waiting for the start", Duration::from_secs(60));
        waiting.signal(signal);
        let run = waiting.wait(Duration::from_secs(30));
        run.expect_code(code);
        assert!(run.stdout.contains("nothing was sent"), "{}", run.stdout);
    }
    assert_eq!(api_requests(&s.stub.stats()), 0, "only health checks");
}

#[test]
fn inspect_shows_what_each_shard_holds() {
    let s = setup();
    let events_of = |args: &[&str]| {
        let mut all = vec!["inspect", "t.trace"];
        all.extend_from_slice(args);
        harness::loadgen_ok(s.dir.path(), &all).number_after("Events: ")
    };
    let whole = events_of(&[]);
    let expected = partition(&s.path("t.trace"), 3);
    let shards: Vec<u64> = (0..3)
        .map(|i| events_of(&["--shard", &format!("{i}/3")]))
        .collect();
    for (i, count) in shards.iter().enumerate() {
        assert_eq!(*count, expected[i].len() as u64, "shard {i}/3");
    }
    assert_eq!(shards.iter().sum::<u64>(), whole);
}

#[test]
fn a_shard_of_a_piped_trace_sends_its_partition() {
    let s = setup();
    let expected = partition(&s.path("t.trace"), 2);
    let bytes = std::fs::read(s.path("t.trace")).unwrap();
    let url = s.stub.url();
    let args = [
        "replay",
        "-",
        "--api-url",
        &url,
        "--shard",
        "1/2",
        "--run-id",
        "pipe",
        "--speed",
        "max",
        "--checkpoint",
        "c",
    ];
    let run =
        harness::start_with_stdin(s.dir.path(), &args, &[], bytes).wait(harness::PROCESS_LIMIT);
    run.expect_code(0);
    let sent: BTreeSet<u64> = harness::logged(&s.path("c.log")).into_iter().collect();
    assert_eq!(
        sent, expected[1],
        "read once from the pipe, the survey and the feed agree"
    );
}
