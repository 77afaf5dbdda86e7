//! Signals (issue 8 items 4, 6 and 17; issue 10): SIGTERM stops `replay` and `start` as the
//! first Ctrl+C does (stop dispatching, drain, summary, report, checkpoint), a second signal of
//! either kind exits at once, and the accounting of a stopped run adds up: every selected event
//! is received or not sent, and a live run counts as not sent only events whose time had come.
//! A replay a signal stopped before it sent every selected event exits 130 (SIGINT) or 143
//! (SIGTERM), so a supervisor (a Kubernetes Indexed Job) does not take it for a finished one;
//! one whose events were all sent exits 0, and `start` (whose normal end is Ctrl+C) exits 0.
//!
//! Real signals go to the built binary, by its process id, once the stub's counters show that
//! the run is under way.

#[path = "common/harness.rs"]
mod harness;

use std::time::Duration;

use freshmart_stub::StubConfig;
use harness::{api_requests, assert_accounted, json, num};

/// The replay these tests stop: the harness's, run id `sig`.
fn replay_args<'a>(url: &'a str, speed: &'a str) -> Vec<&'a str> {
    harness::replay_args(url, "sig", speed)
}

/// A graceful stop by `signal` in the middle of a replay: the summary, a complete report whose
/// counts add up, a checkpoint that logs every success it reports, and the signal's exit code
/// (`code`), since events were left unsent.
fn replay_stopped_by(signal: &str, answered: u64, code: i32) {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "30m", 41));
    let url = stub.url();
    let first = harness::start(dir.path(), &replay_args(&url, "60x"), &[]);
    harness::wait_stats(&rt, &stub, "answered requests", |s| {
        api_requests(s) >= answered && s.completed_requests >= answered + 2
    });
    first.signal(signal);
    let run = first.wait(Duration::from_secs(60));
    run.expect_code(code);
    for line in [
        "received, stopping gracefully...",
        "Stopping workers...",
        "Final Summary",
        "Events not sent: ",
        "Report written to r.json",
    ] {
        assert!(run.stdout.contains(line), "no `{line}` in:\n{}", run.stdout);
    }
    let report = json(&dir.path().join("r.json"));
    assert_eq!(report["stopped_early"], true);
    let not_sent = num(&report, "/events/not_sent");
    assert!(not_sent > 0, "stopped mid-run: {:#}", report["events"]);
    assert_eq!(run.number_after("Events not sent: "), not_sent);
    // received + not_sent = the trace's events; received = the sum of the classes.
    assert_accounted(&report, trace.events, trace.events);
    assert_eq!(
        num(&report, "/events/received"),
        num(&report, "/events/succeeded")
    );
    let logged = harness::logged(&dir.path().join("r.json.checkpoint.log"));
    assert_eq!(logged.len() as u64, num(&report, "/events/succeeded"));
    // The error names the signal, what was left, and how to send it.
    let name = format!("SIG{signal}");
    let unfinished = not_sent + num(&report, "/events/interrupted");
    for says in [
        format!("stopped by {name} with {unfinished} selected events not sent"),
        "resume with `loadgen replay --resume r.json.checkpoint`".to_string(),
    ] {
        assert!(
            run.stderr.contains(&says),
            "no `{says}` in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn sigterm_stops_a_replay_gracefully_with_summary_report_checkpoint_and_exit_143() {
    replay_stopped_by("TERM", 30, 143);
}

#[test]
fn sigint_at_several_points_leaves_the_accounts_balanced_and_exits_130() {
    for answered in [5, 60] {
        replay_stopped_by("INT", answered, 130);
    }
}

/// Requests the stub received that are not reads (health checks and probes are GETs).
fn writes(stats: &freshmart_stub::StubStats) -> u64 {
    stats
        .by_endpoint
        .iter()
        .filter(|(k, _)| !k.starts_with("GET "))
        .map(|(_, v)| v)
        .sum()
}

/// A signal once every event's last request has gone out (each is answered after a second):
/// the stop lets them finish, nothing was left unsent, and the replay exits as it would have.
#[test]
fn a_signal_after_every_event_was_sent_leaves_the_exit_code_alone() {
    for (signal, seed) in [("TERM", 43), ("INT", 44)] {
        let rt = harness::runtime();
        let stub = harness::stub(
            &rt,
            StubConfig {
                latency: freshmart_stub::Latency::Fixed(Duration::from_secs(1)),
                ..StubConfig::default()
            },
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "1m", seed));
        let url = stub.url();
        let mut args = replay_args(&url, "max");
        args.extend(["--probe-reads", "0", "--concurrency", "1000"]);
        let running = harness::start(dir.path(), &args, &[]);
        harness::wait_stats(&rt, &stub, "every request sent", |s| {
            writes(s) >= trace.requests
        });
        running.signal(signal);
        let run = running.wait(Duration::from_secs(60));
        run.expect_code(0);
        // The signal came while the last answers were awaited, not after the run.
        assert!(
            run.stdout.contains("received, stopping gracefully..."),
            "{}",
            run.stdout
        );
        let report = json(&dir.path().join("r.json"));
        assert_eq!(
            num(&report, "/events/not_sent"),
            0,
            "{:#}",
            report["events"]
        );
        assert_eq!(num(&report, "/events/succeeded"), trace.events);
        assert_accounted(&report, trace.events, trace.events);
    }
}

#[test]
fn a_second_signal_exits_at_once() {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    // Requests are held unanswered: the drain after the first signal would wait 30 s for them.
    stub.set_outage(true);
    let dir = tempfile::tempdir().expect("temp dir");
    harness::simulate(dir.path(), "t.trace", "30m", 42);
    let url = stub.url();
    let mut run = harness::start(dir.path(), &replay_args(&url, "max"), &[]);
    harness::wait_stats(&rt, &stub, "requests in flight", |s| api_requests(s) >= 5);
    run.signal("INT");
    run.wait_for_stdout("stopping gracefully", Duration::from_secs(10));
    run.signal("TERM");
    let run = run.wait(Duration::from_secs(10));
    assert_eq!(run.code, Some(143), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("Second signal: exiting now"),
        "{}",
        run.stderr
    );
    assert!(run.elapsed < Duration::from_secs(15), "{:?}", run.elapsed);
}

fn write_profile(dir: &std::path::Path, orders_per_minute: u32) -> String {
    let text = format!(
        "name = \"sig\"\ndescription = \"Signal test profile\"\n\
         orders_per_minute = {orders_per_minute}\nconcurrent_workflows = 20\nduration_minutes = 1\n"
    );
    let path = dir.join("sig.toml");
    std::fs::write(&path, text).expect("write profile");
    path.to_string_lossy().into_owned()
}

#[test]
fn sigterm_stops_an_open_ended_start_and_counts_only_due_events_as_not_sent() {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = write_profile(dir.path(), 600);
    let url = stub.url();
    let run = harness::start(
        dir.path(),
        &[
            "start",
            "--profile-file",
            &profile,
            "--api-url",
            &url,
            "--duration",
            "0",
            "--seed",
            "5",
            "--start-at",
            "2026-01-05T14:00:00Z",
            "--report",
            "r.json",
        ],
        &[],
    );
    harness::wait_stats(&rt, &stub, "answered requests", |s| api_requests(s) >= 20);
    run.signal("TERM");
    let run = run.wait(Duration::from_secs(60));
    run.expect_code(0);
    assert!(run
        .stdout
        .contains("SIGTERM received, stopping gracefully..."));
    assert!(run.stdout.contains("Final Summary"), "{}", run.stdout);
    let report = json(&dir.path().join("r.json"));
    assert_eq!(report["stopped_early"], true);
    let received = num(&report, "/events/received");
    assert!(received > 0, "{:#}", report["events"]);
    // Only events whose time had come and that were not sent count (the simulation runs far
    // ahead of the clock: its buffered future is not "not sent").
    let not_sent = num(&report, "/events/not_sent");
    assert!(
        not_sent <= 20,
        "{not_sent} events not sent: {:#}",
        report["events"]
    );
    assert_eq!(run.number_after("Events not sent: "), not_sent);
    assert_accounted(&report, received + not_sent, u64::MAX);
}

#[test]
fn start_duration_is_wall_time_even_when_the_last_event_comes_earlier() {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    // About one order every 10 s: the last event of a 4 s run comes well before its end.
    let profile = write_profile(dir.path(), 6);
    let url = stub.url();
    let run = harness::loadgen(
        dir.path(),
        &[
            "start",
            "--profile-file",
            &profile,
            "--api-url",
            &url,
            "--duration",
            "4s",
            "--seed",
            "5",
            "--start-at",
            "2026-01-05T14:00:00Z",
            "--report",
            "r.json",
        ],
        &[],
    );
    run.expect_code(0);
    let report = json(&dir.path().join("r.json"));
    let secs = harness::float(&report, "/duration_s");
    assert!((4.0..9.0).contains(&secs), "ran {secs} s for --duration 4s");
    assert!(run.elapsed >= Duration::from_secs(4), "{:?}", run.elapsed);
    assert!(
        run.stdout.contains("Duration: 0.1 minutes"),
        "{}",
        run.stdout
    );
    assert_eq!(report["stopped_early"], false);
}
