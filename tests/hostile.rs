//! `loadgen replay` against servers that answer the health checks like FreshMart but answer
//! every write badly: a 100 MB body, invalid JSON with a 400, a 500 of binary garbage, never,
//! a closed or reset connection, a body that trickles in. Each run must end on its own, within
//! a bounded wall time, with the exit code its success rate implies, every event accounted for
//! and every failure in the right category; the attempts the server saw must match the retry
//! policy (never for 4xx, `--retries` more for the rest).
//!
//! The servers are raw tokio sockets in the test (`common/rawhttp.rs`) on 127.0.0.1:0.

#[path = "common/harness.rs"]
mod harness;
#[path = "common/rawhttp.rs"]
mod rawhttp;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use harness::{assert_accounted, error_keys, float, json, num, Run, TraceFacts};
use rawhttp::{RawServer, Reply};
use serde_json::Value;

/// A 100 MB answer.
const HUGE: u64 = 100 * 1024 * 1024;
/// Bytes of a huge answer a client that stops reading can have let through: loadgen reads at
/// most 4 MiB of a success body, 64 KiB of an error body; loopback socket buffers hold a few
/// MiB more.
const STREAMED_BOUND: u64 = 32 * 1024 * 1024;
const BLOCKED: &str = "blocked_by_earlier_failure";

struct Hostile {
    run: Run,
    report: Value,
    server: RawServer,
    trace: TraceFacts,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Hostile {
    /// Failures of events that were really sent (not blocked behind an earlier failure).
    fn sent_failures(&self) -> u64 {
        self.report["errors"]
            .as_object()
            .expect("errors")
            .iter()
            .filter(|(k, _)| *k != BLOCKED)
            .map(|(_, v)| v["count"].as_u64().expect("count"))
            .sum()
    }

    fn writes(&self) -> u64 {
        self.server.shared.writes().len() as u64
    }
}

/// Replays a 3-minute demo trace (22 events, 20 entities: most of them independent) at full
/// speed against a server answering writes with `reply`.
fn replay_against(reply: Reply, extra: &[&str], wall_limit: Duration) -> Hostile {
    let rt = harness::runtime();
    let server = rt.block_on(rawhttp::spawn(reply));
    let dir = tempfile::tempdir().expect("temp dir");
    let trace_path = harness::simulate(dir.path(), "h.trace", "3m", 5);
    let trace = harness::trace_facts(&trace_path);
    let url = server.url();
    let mut args = vec![
        "replay",
        "h.trace",
        "--api-url",
        &url,
        "--speed",
        "max",
        "--concurrency",
        "64",
        "--run-id",
        "hostile",
        "--report",
        "r.json",
    ];
    args.extend_from_slice(extra);
    let run = harness::start(dir.path(), &args, &[]).wait(wall_limit + Duration::from_secs(30));
    assert!(
        run.elapsed < wall_limit,
        "loadgen took {:?} (bound {wall_limit:?}):\n{}",
        run.elapsed,
        run.stdout
    );
    run.expect_no_panic();
    let report = json(&dir.path().join("r.json"));
    assert_accounted(&report, trace.events, trace.events);
    assert_eq!(num(&report, "/events/received"), trace.events);
    // Exit code by --min-success (default 0.9).
    let rate = float(&report, "/success_rate");
    run.expect_code(if rate < 0.9 { 1 } else { 0 });
    Hostile {
        run,
        report,
        server,
        trace,
        rt,
        _dir: dir,
    }
}

/// Asserts the failure categories are exactly `sent` (plus blocked events), every event failed,
/// and the server saw `attempts` requests per sent event.
fn assert_all_failed(h: &Hostile, sent: &[&str], attempts: u64) {
    let keys = error_keys(&h.report);
    let allowed: BTreeSet<String> = sent
        .iter()
        .map(|s| s.to_string())
        .chain([BLOCKED.to_string()])
        .collect();
    assert!(
        keys.is_subset(&allowed) && keys.iter().any(|k| k != BLOCKED),
        "categories {keys:?}, expected some of {sent:?}:\n{:#}",
        h.report["errors"]
    );
    assert_eq!(num(&h.report, "/events/received"), h.trace.events);
    assert_eq!(num(&h.report, "/events/succeeded"), 0);
    assert_eq!(float(&h.report, "/success_rate"), 0.0);
    h.run.expect_code(1);
    let sent_events = h.sent_failures();
    assert_eq!(
        h.writes(),
        sent_events * attempts,
        "{attempts} attempt(s) per sent event"
    );
    assert_eq!(num(&h.report, "/requests"), h.writes());
    assert_eq!(num(&h.report, "/retries"), sent_events * (attempts - 1));
}

#[test]
fn a_100_mb_success_body_is_not_read_whole() {
    let h = replay_against(
        Reply::Huge {
            status: 201,
            len: HUGE,
        },
        &["--timeout", "20s", "--retries", "0"],
        Duration::from_secs(30),
    );
    h.run.expect_code(0);
    assert_eq!(float(&h.report, "/success_rate"), 1.0);
    assert_eq!(num(&h.report, "/events/succeeded"), h.trace.events);
    let writes = h.writes();
    assert_eq!(num(&h.report, "/requests"), writes);
    // Every huge answer was cut short by the client, not streamed to the end.
    h.rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(20),
            h.server.shared.wait_huge_ended(writes),
        )
        .await
    })
    .expect("the server's streams end once loadgen has gone");
    let streamed = h.server.shared.max_streamed.load(Ordering::SeqCst);
    assert!(
        streamed < STREAMED_BOUND,
        "loadgen read {streamed} bytes of a {HUGE}-byte answer"
    );
}

#[test]
fn a_100_mb_error_body_is_not_read_whole_and_is_retried() {
    let h = replay_against(
        Reply::Huge {
            status: 503,
            len: HUGE,
        },
        &["--timeout", "20s", "--retries", "1"],
        Duration::from_secs(30),
    );
    assert_all_failed(&h, &["http_503"], 2);
    let writes = h.writes();
    h.rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(20),
            h.server.shared.wait_huge_ended(writes),
        )
        .await
    })
    .expect("the server's streams end once loadgen has gone");
    let streamed = h.server.shared.max_streamed.load(Ordering::SeqCst);
    assert!(
        streamed < STREAMED_BOUND,
        "loadgen read {streamed} bytes of a {HUGE}-byte error answer"
    );
}

#[test]
fn invalid_json_with_a_400_is_http_400_and_never_retried() {
    let h = replay_against(
        Reply::Status {
            status: 400,
            body: br#"{"detail": [{"error_type": "unterminated"#.to_vec(),
        },
        // Retries are allowed, and must not be used on a 4xx.
        &["--retries", "5", "--timeout", "5s"],
        Duration::from_secs(20),
    );
    assert_all_failed(&h, &["http_400"], 1);
    assert_eq!(num(&h.report, "/retries"), 0);
    assert!(
        h.report["errors"]["http_400"]["example"]
            .as_str()
            .is_some_and(|e| e.contains("-> 400")),
        "{:#}",
        h.report["errors"]
    );
}

#[test]
fn a_500_of_binary_garbage_is_http_500_after_the_retries() {
    let garbage: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let h = replay_against(
        Reply::Status {
            status: 500,
            body: garbage,
        },
        &["--retries", "2", "--timeout", "5s"],
        // Each sent event: 3 attempts, 2 backoffs of at most 200 + 400 ms.
        Duration::from_secs(20),
    );
    assert_all_failed(&h, &["http_500"], 3);
    // The garbage made it into the report as a (lossy) JSON string, not a broken file.
    assert!(h.report["errors"]["http_500"]["example"].is_string());
}

#[test]
fn a_server_that_never_answers_times_out_within_the_budget() {
    let h = replay_against(
        Reply::Silent,
        &["--timeout", "1s", "--retries", "1"],
        // One wave of independent events: 1 s, a backoff of at most 200 ms, 1 s.
        Duration::from_secs(12),
    );
    assert_all_failed(&h, &["timeout"], 2);
}

#[test]
fn a_connection_closed_without_an_answer_is_a_connection_failure() {
    let h = replay_against(
        Reply::Close,
        &["--timeout", "5s", "--retries", "1"],
        Duration::from_secs(15),
    );
    assert_all_failed(&h, &["connection", "connect"], 2);
}

#[test]
fn a_reset_connection_is_a_connection_failure() {
    let h = replay_against(
        Reply::Reset,
        &["--timeout", "5s", "--retries", "1"],
        Duration::from_secs(15),
    );
    assert_all_failed(&h, &["connection", "connect"], 2);
}

#[test]
fn a_body_that_trickles_in_times_out() {
    let h = replay_against(
        Reply::Trickle {
            every: Duration::from_millis(100),
        },
        &["--timeout", "1s", "--retries", "0"],
        Duration::from_secs(12),
    );
    assert_all_failed(&h, &["timeout"], 1);
    assert!(
        h.report["errors"]["timeout"]["example"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 200, then")),
        "the status arrived, the body timed out: {:#}",
        h.report["errors"]
    );
}

/// A hostile error body must not reach the terminal raw: the final summary (and `--verbose`)
/// quote error bodies, and escape sequences in them would be interpreted by the terminal
/// (recolouring, retitling, clearing the screen, or faking lines of the summary).
#[test]
fn control_characters_from_the_server_do_not_reach_the_terminal() {
    let h = replay_against(
        Reply::Status {
            status: 400,
            body: b"\x1b]0;pwned\x07\x1b[2J\x1b[31mSuccess rate: 100.0%\x1b[0m\r\n".to_vec(),
        },
        &["--retries", "0", "--verbose"],
        Duration::from_secs(20),
    );
    assert_all_failed(&h, &["http_400"], 1);
    for (name, text) in [("stdout", &h.run.stdout), ("stderr", &h.run.stderr)] {
        let bad: Vec<char> = text
            .chars()
            .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
            .collect();
        assert!(
            bad.is_empty(),
            "{name} carries control characters from the server: {bad:?}"
        );
    }
}
