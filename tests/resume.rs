//! Interrupted replays and `replay --resume`: a replay killed outright (SIGKILL) or stopped
//! with SIGINT is completed by resuming from its checkpoint; the API then holds exactly what
//! the trace implies (`verify`), completed events are not resent (at most the few in flight
//! at the kill), resent requests carry the first run's bytes, and a checkpoint is refused for
//! another trace.
//!
//! The replays run against an in-process stub that records every request. Nothing sleeps:
//! the kill and the interrupt come once the stub's counters show enough answered requests.

#[path = "common/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use freshmart_stub::{RecordedRequest, StubConfig, StubHandle};
use harness::{api_requests, assert_accounted, float, json, num, Run, TraceFacts};
use serde_json::Value;

/// A 30-minute demo trace at 60x: a 30 s run, interrupted a few seconds in.
const SPEED: &str = "60x";

struct Setup {
    rt: tokio::runtime::Runtime,
    stub: StubHandle,
    dir: tempfile::TempDir,
    trace: TraceFacts,
}

fn setup(seed: u64) -> Setup {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            record_requests: true,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "30m", seed));
    Setup {
        rt,
        stub,
        dir,
        trace,
    }
}

impl Setup {
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the first run, with its checkpoint beside `r.json`.
    fn start_first_run(&self, run_id: &str) -> harness::Running {
        harness::start(
            self.dir.path(),
            &[
                "replay",
                "t.trace",
                "--api-url",
                &self.stub.url(),
                "--speed",
                SPEED,
                "--run-id",
                run_id,
                "--report",
                "r.json",
            ],
            &[],
        )
    }

    fn wait_answered(&self, n: u64) {
        harness::wait_stats(&self.rt, &self.stub, "answered API requests", |s| {
            api_requests(s) >= n && s.completed_requests >= n + 2
        });
    }

    /// `replay --resume r.json.checkpoint` at full speed, reporting to `r2.json`.
    fn resume(&self) -> (Run, Value) {
        let run = harness::loadgen(
            self.dir.path(),
            &[
                "replay",
                "--resume",
                "r.json.checkpoint",
                "--api-url",
                &self.stub.url(),
                "--speed",
                "max",
                "--report",
                "r2.json",
            ],
            &[],
        );
        run.expect_code(0);
        let report = json(&self.path("r2.json"));
        (run, report)
    }

    fn verify(&self, run_id: &str) {
        let run = harness::loadgen(
            self.dir.path(),
            &[
                "verify",
                "t.trace",
                "--api-url",
                &self.stub.url(),
                "--run-id",
                run_id,
            ],
            &[],
        );
        run.expect_code(0);
        assert!(run
            .stdout
            .contains("Missing: 0, mismatched: 0, unexpected: 0"));
    }

    /// Distinct events in the completion log.
    fn logged(&self) -> BTreeSet<u64> {
        harness::logged(&self.path("r.json.checkpoint.log"))
            .into_iter()
            .collect()
    }
}

/// The order subject a POST creates, if it creates one (its batch names an `order_number`).
fn created_order(request: &RecordedRequest) -> Option<String> {
    if request.method != "POST" {
        return None;
    }
    let triples: Vec<Value> = serde_json::from_str(&request.body).ok()?;
    triples
        .iter()
        .find(|t| t["predicate"] == "order_number")
        .and_then(|t| t["subject_id"].as_str())
        .map(String::from)
}

/// Checks the resumed run: it sent exactly what the log did not hold, succeeded, and left
/// every event of the trace logged once; its report covers the whole run (issue 8 item 7).
fn check_resumed(s: &Setup, report: &Value, logged_before: &BTreeSet<u64>, run_id: &str) {
    let to_send = s.trace.events - logged_before.len() as u64;
    assert_eq!(report["config"]["resumed"], true);
    assert_eq!(report["config"]["run_id"], run_id);
    let segments = report["config"]["segments"].as_array().expect("segments");
    assert_eq!(
        num(segments.last().expect("a segment"), "/received"),
        to_send
    );
    assert_eq!(num(report, "/events/received"), s.trace.events);
    assert_accounted(report, s.trace.events, s.trace.events);
    assert_eq!(
        float(report, "/success_rate"),
        1.0,
        "{:#}",
        report["errors"]
    );
    let log = harness::logged(&s.path("r.json.checkpoint.log"));
    let distinct: BTreeSet<u64> = log.iter().copied().collect();
    assert_eq!(
        distinct,
        (0..s.trace.events).collect::<BTreeSet<u64>>(),
        "every event is logged once the resume is done"
    );
    assert_eq!(log.len(), distinct.len(), "no event was logged twice");
}

/// Every order created once or, if it was in flight at the interruption, again with the same
/// bytes; returns how many creations were sent again.
fn check_creations(s: &Setup, concurrency: u64) -> u64 {
    let mut bodies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for request in s.stub.requests() {
        if let Some(order) = created_order(&request) {
            bodies.entry(order).or_default().push(request.body);
        }
    }
    assert_eq!(
        bodies.len() as u64,
        s.trace.orders,
        "every order was created"
    );
    let posts: u64 = bodies.values().map(|b| b.len() as u64).sum();
    let again = posts - s.trace.orders;
    assert!(
        again <= concurrency,
        "{again} creations were sent again; at most the {concurrency} in flight may be"
    );
    for (order, sent) in &bodies {
        assert!(
            sent.windows(2).all(|w| w[0] == w[1]),
            "{order} was sent again with other bytes"
        );
    }
    again
}

#[test]
fn a_killed_replay_is_completed_by_resuming() {
    let s = setup(31);
    let mut first = s.start_first_run("killed");
    s.wait_answered(60);
    first.kill();
    let killed = first.wait(Duration::from_secs(30));
    assert_eq!(killed.code, None, "SIGKILL leaves no exit code");
    assert!(
        !s.path("r.json").exists(),
        "a killed run writes no report; the checkpoint is what is left"
    );
    assert!(s.path("r.json.checkpoint").exists());
    let logged_before = s.logged();
    let answered = api_requests(&s.stub.stats());
    assert!(
        !logged_before.is_empty() && (logged_before.len() as u64) < s.trace.events,
        "the kill came mid-run: {} logged",
        logged_before.len()
    );
    assert!(
        logged_before.len() as u64 <= answered,
        "only answered events are logged"
    );

    let (resumed, report) = s.resume();
    assert!(resumed
        .stdout
        .contains(&format!("{} events done", logged_before.len())));
    check_resumed(&s, &report, &logged_before, "killed");
    // The killed segment's successes are counted and timed (from its logs), every event once;
    // its summary is rebuilt from them.
    assert_eq!(report["config"]["earlier_segments_measured"], true);
    assert_eq!(num(&report, "/service_time/count"), s.trace.events);
    assert_eq!(
        num(&report, "/latency_from_intended_time/count"),
        s.trace.events
    );
    let segments = report["config"]["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 2, "{segments:#?}");
    assert_eq!(segments[0]["killed"], true);
    assert_eq!(num(&segments[0], "/succeeded"), logged_before.len() as u64);
    assert!(float(&segments[0], "/duration_s") > 0.0);
    assert!(segments[1].get("killed").is_none(), "{segments:#?}");
    check_creations(&s, s.trace.concurrency);
    s.verify("killed");
}

#[test]
fn an_interrupted_replay_stops_gracefully_and_is_completed_by_resuming() {
    let s = setup(32);
    let first = s.start_first_run("interrupted");
    s.wait_answered(40);
    first.signal("INT");
    let stopped = first.wait(Duration::from_secs(60));
    // Events were left unsent: the run is not done, and the exit code says so.
    stopped.expect_code(130);
    // It stopped well before the 30 s the whole trace takes at 60x.
    assert!(
        stopped.elapsed < Duration::from_secs(25),
        "{:?}",
        stopped.elapsed
    );
    for line in [
        "Interrupt received, stopping gracefully...",
        "Stopping workers...",
        "Final Summary",
        "Report written to r.json",
    ] {
        assert!(
            stopped.stdout.contains(line),
            "no `{line}` in:\n{}",
            stopped.stdout
        );
    }
    let not_sent = stopped.number_after("Events not sent: ");
    assert!(not_sent > 0, "{}", stopped.stdout);
    let first_report = json(&s.path("r.json"));
    assert_eq!(first_report["stopped_early"], true);
    assert_eq!(num(&first_report, "/events/not_sent"), not_sent);
    assert_accounted(&first_report, s.trace.events, s.trace.events);
    assert_eq!(float(&first_report, "/success_rate"), 1.0);
    // A graceful stop logs every success it reports.
    let logged_before = s.logged();
    assert_eq!(
        logged_before.len() as u64,
        num(&first_report, "/events/succeeded")
    );

    let (_, report) = s.resume();
    check_resumed(&s, &report, &logged_before, "interrupted");
    let again = check_creations(&s, s.trace.concurrency);
    assert_eq!(again, 0, "after a graceful stop nothing is sent twice");
    s.verify("interrupted");
}

/// A finished replay's checkpoint, and another trace of the same length (another seed).
fn checkpoint_and_other_trace(s: &Setup) -> TraceFacts {
    let first = harness::loadgen(
        s.dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &s.stub.url(),
            "--speed",
            "max",
            "--run-id",
            "refused",
            "--report",
            "r.json",
        ],
        &[],
    );
    first.expect_code(0);
    let other = harness::trace_facts(&harness::simulate(s.dir.path(), "other.trace", "30m", 34));
    assert_ne!(other.crc, s.trace.crc);
    other
}

fn resume_with(dir: &Path, url: &str, trace: Option<&str>) -> Run {
    let mut args = vec!["replay"];
    args.extend(trace);
    args.extend_from_slice(&["--resume", "r.json.checkpoint", "--api-url", url]);
    harness::loadgen(dir, &args, &[])
}

#[test]
fn resuming_with_another_trace_is_refused_naming_both_checksums() {
    let s = setup(33);
    let other = checkpoint_and_other_trace(&s);
    let checkpoint = json(&s.path("r.json.checkpoint"));
    assert_eq!(num(&checkpoint, "/trace_crc"), u64::from(s.trace.crc));
    let sent = api_requests(&s.stub.stats());
    let url = s.stub.url();

    // Another trace given on the command line, then the trace file itself replaced.
    let given = resume_with(s.dir.path(), &url, Some("other.trace"));
    std::fs::copy(s.path("other.trace"), s.path("t.trace")).expect("replace the trace");
    let replaced = resume_with(s.dir.path(), &url, None);
    for run in [&given, &replaced] {
        run.expect_code(2);
        for needle in [
            format!("{:08x}", s.trace.crc),
            format!("{:08x}", other.crc),
            format!("{} events", s.trace.events),
            format!("has {} events", other.events),
        ] {
            assert!(
                run.stderr.contains(&needle),
                "no `{needle}` in:\n{}",
                run.stderr
            );
        }
    }
    assert_eq!(
        api_requests(&s.stub.stats()),
        sent,
        "a refused resume sends nothing"
    );
}

#[test]
fn resuming_with_another_trace_names_the_file_given() {
    let s = setup(35);
    let _ = checkpoint_and_other_trace(&s);
    let run = resume_with(s.dir.path(), &s.stub.url(), Some("other.trace"));
    run.expect_code(2);
    assert!(
        run.stderr.contains("other.trace"),
        "the message names the trace whose checksum it quotes:\n{}",
        run.stderr
    );
}

/// Issue 8 item 7: a resume without flags continues with the first run's speed, concurrency,
/// retries, timeout and probe rate, writes the first run's report, and that report covers the
/// whole run: counts summed over the segments, histograms merged.
#[test]
fn a_resume_without_flags_continues_the_first_run_and_reports_all_of_it() {
    let s = setup(36);
    let first = harness::start(
        s.dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &s.stub.url(),
            "--speed",
            SPEED,
            "--concurrency",
            "3",
            "--retries",
            "1",
            "--timeout",
            "7s",
            "--probe-reads",
            "10%",
            "--run-id",
            "settings",
            "--report",
            "r.json",
        ],
        &[],
    );
    s.wait_answered(40);
    first.signal("INT");
    first.wait(Duration::from_secs(60)).expect_code(130);
    let first_report = json(&s.path("r.json"));
    let first_requests = num(&first_report, "/requests");
    let first_timed = num(&first_report, "/service_time/count");
    let logged_before = s.logged();
    assert!((logged_before.len() as u64) < s.trace.events);

    // No flags but the checkpoint and the URL.
    let resumed = harness::loadgen(
        s.dir.path(),
        &[
            "replay",
            "--resume",
            "r.json.checkpoint",
            "--api-url",
            &s.stub.url(),
        ],
        &[],
    );
    resumed.expect_code(0);
    assert!(resumed.stdout.contains("Speed: 60x"), "{}", resumed.stdout);
    assert!(
        resumed.stdout.contains("Concurrency: 3"),
        "{}",
        resumed.stdout
    );
    assert!(resumed.stdout.contains("Report written to r.json"));
    let report = json(&s.path("r.json"));
    for (key, want) in [
        ("speed", Value::from("60x")),
        ("concurrency", Value::from(3)),
        ("retries", Value::from(1)),
        ("timeout_ms", Value::from(7000)),
        ("probe_reads", Value::from(0.1)),
    ] {
        assert_eq!(report["config"][key], want, "config.{key}");
    }
    check_resumed(&s, &report, &logged_before, "settings");
    // The whole run: both segments' requests (all the stub saw), every event timed once.
    assert_eq!(num(&report, "/requests"), api_requests_writes(&s));
    assert!(num(&report, "/requests") > first_requests);
    assert_eq!(num(&report, "/service_time/count"), s.trace.events);
    assert!(first_timed > 0 && first_timed < s.trace.events);
    assert_eq!(report["config"]["segments"].as_array().unwrap().len(), 2);
    assert_eq!(report["config"]["earlier_segments_measured"], true);
    assert!(report["write_to_visible"]["probed"].as_u64().unwrap() > 0);
    s.verify("settings");
}

/// Write requests the stub received (probe reads are GETs and not part of `requests`).
fn api_requests_writes(s: &Setup) -> u64 {
    s.stub
        .stats()
        .by_endpoint
        .iter()
        .filter(|(k, _)| !k.starts_with("GET "))
        .map(|(_, v)| v)
        .sum()
}

/// Issue 8 item 7: two processes never run one checkpoint: while a replay holds it, a resume
/// of it and a new run writing it are refused with exit 2, and nothing is sent for them.
#[test]
fn a_checkpoint_in_use_is_refused_to_a_second_process() {
    let s = setup(37);
    // Requests are held: the first run stays in flight until the outage ends, and once all
    // its permits are taken it sends nothing more.
    s.stub.set_outage(true);
    let first = s.start_first_run("locked");
    let concurrency = s.trace.concurrency;
    harness::wait_stats(&s.rt, &s.stub, "every permit in use", |st| {
        api_requests(st) >= concurrency
    });
    let sent = api_requests(&s.stub.stats());
    let url = s.stub.url();
    let resumed = resume_with(s.dir.path(), &url, None);
    resumed.expect_code(2);
    assert!(
        resumed.stderr.contains("another loadgen process"),
        "{}",
        resumed.stderr
    );
    let again = harness::loadgen(
        s.dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &url,
            "--checkpoint",
            "r.json.checkpoint",
        ],
        &[],
    );
    again.expect_code(2);
    assert!(
        again.stderr.contains("another loadgen process"),
        "{}",
        again.stderr
    );
    assert_eq!(
        api_requests(&s.stub.stats()),
        sent,
        "the refused runs sent nothing"
    );
    // The first run still owns its log: nothing was truncated.
    first.signal("INT");
    s.stub.set_outage(false);
    let stopped = first.wait(Duration::from_secs(60));
    stopped.expect_code(130);
    assert!(s.path("r.json.checkpoint.log").exists());
    // Once it is gone, the checkpoint can be resumed.
    let (_, report) = s.resume();
    assert_eq!(num(&report, "/events/received"), s.trace.events);
}
