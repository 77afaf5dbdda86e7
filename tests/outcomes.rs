//! Typed outcomes against the stub (issue 8 items 9, 10 and 18): a timeout is an unknown
//! outcome (the stub applies the request, then answers too late), resent by `--resume`, after
//! which `verify` agrees; every retry is explained by kind in the summary, the report and
//! `--verbose`; probe samples are a function of the run id and the events.

#[path = "common/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::time::Duration;

use freshmart_stub::{StubConfig, StubHandle};
use harness::{api_requests, assert_accounted, float, json, num};

fn replay(dir: &std::path::Path, url: &str, run_id: &str, extra: &[&str]) -> harness::Run {
    let mut args = harness::replay_args(url, run_id, "max");
    args.extend_from_slice(extra);
    harness::loadgen(dir, &args, &[])
}

#[test]
fn a_timeout_is_an_unknown_outcome_resent_by_resume_and_verify_then_agrees() {
    let rt = harness::runtime();
    // A third of the requests are applied and answered 3 s later; the client gives up at 0.5 s.
    let stub = harness::stub(
        &rt,
        StubConfig {
            late_rate: 0.3,
            late_by: Duration::from_secs(3),
            seed: 9,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "10m", 51));
    let url = stub.url();
    let first = replay(
        dir.path(),
        &url,
        "late",
        &["--timeout", "500ms", "--retries", "0", "--min-success", "0"],
    );
    first.expect_code(0);
    let report = json(&dir.path().join("r.json"));
    let unknown = num(&report, "/events/unknown_outcome");
    assert!(unknown > 0, "{:#}", report["events"]);
    assert_eq!(num(&report, "/errors/timeout/count"), unknown);
    assert_eq!(
        num(&report, "/events/failed"),
        0,
        "a timeout is not a failure to write"
    );
    assert_accounted(&report, trace.events, trace.events);
    assert!(
        report["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("loadgen verify")),
        "{:#}",
        report["notes"]
    );
    assert!(
        first.stdout.contains(&format!(
            "({} succeeded, 0 failed, {unknown} unknown outcome, 0 interrupted, {} blocked)",
            num(&report, "/events/succeeded"),
            num(&report, "/events/blocked")
        )),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains(&format!("Unknown outcome: {unknown} events timed out"))
            && first
                .stdout
                .contains("`loadgen verify` tells what reached it"),
        "{}",
        first.stdout
    );
    // The stub applied every one of them before answering too late.
    assert!(stub.stats().late_answers >= unknown);

    stub.set_late(0.0, Duration::ZERO);
    let resumed = harness::loadgen(
        dir.path(),
        &["replay", "--resume", "r.json.checkpoint", "--api-url", &url],
        &[],
    );
    resumed.expect_code(0);
    let whole = json(&dir.path().join("r.json"));
    assert_eq!(float(&whole, "/success_rate"), 1.0, "{:#}", whole["errors"]);
    assert_eq!(num(&whole, "/events/received"), trace.events);
    let last = &whole["config"]["segments"][1];
    // The resume resent the unknown outcomes (and what was blocked behind them).
    assert!(num(last, "/received") >= unknown, "{last}");

    let verify = harness::loadgen(
        dir.path(),
        &["verify", "t.trace", "--api-url", &url, "--run-id", "late"],
        &[],
    );
    verify.expect_code(0);
    assert!(
        verify
            .stdout
            .contains("Missing: 0, mismatched: 0, unexpected: 0"),
        "{}",
        verify.stdout
    );
}

#[test]
fn every_retry_is_explained_in_the_summary_the_report_and_verbose_output() {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            error_rate: 0.3,
            seed: 4,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    harness::simulate(dir.path(), "t.trace", "10m", 52);
    let run = replay(
        dir.path(),
        &stub.url(),
        "retries",
        &["--retries", "10", "--verbose"],
    );
    run.expect_code(0);
    let report = json(&dir.path().join("r.json"));
    assert_eq!(float(&report, "/success_rate"), 1.0);
    let retries = num(&report, "/retries");
    assert!(retries > 0);
    // Every injected 503 was retried, and nothing else was.
    assert_eq!(retries, stub.stats().injected_errors);
    let reasons = report["retry_reasons"].as_object().expect("retry_reasons");
    assert_eq!(reasons.keys().collect::<Vec<_>>(), ["http_503"]);
    assert_eq!(num(&report, "/retry_reasons/http_503/count"), retries);
    assert!(
        report["retry_reasons"]["http_503"]["example"]
            .as_str()
            .is_some_and(|e| e.contains("injected error")),
        "{:#}",
        report["retry_reasons"]
    );
    assert!(run.stdout.contains("Retried after:"), "{}", run.stdout);
    assert!(run
        .stdout
        .contains(&format!("  http_503: {retries}  e.g. ")));
    let printed = run
        .stderr
        .lines()
        .filter(|l| l.contains(" retry ") && l.contains(": http_503: "))
        .count() as u64;
    assert_eq!(
        printed, retries,
        "--verbose prints each retry:\n{}",
        run.stderr
    );
}

/// The orders whose reads a probed replay made.
fn probed_orders(stub: &StubHandle) -> BTreeSet<String> {
    stub.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/freshmart/orders/"))
        .map(|r| r.path_and_query)
        .collect()
}

#[test]
fn two_runs_of_one_trace_probe_the_same_writes() {
    let rt = harness::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "30m", 53));
    let mut seen = Vec::new();
    for _ in 0..2 {
        let stub = harness::stub(&rt, harness::recording(0));
        let run = replay(
            dir.path(),
            &stub.url(),
            "probes",
            &["--probe-reads", "30%", "--probe-timeout", "5s"],
        );
        run.expect_code(0);
        let report = json(&dir.path().join("r.json"));
        let probed = num(&report, "/write_to_visible/probed");
        seen.push((probed, probed_orders(&stub)));
        assert!(api_requests(&stub.stats()) > 0);
    }
    let (probed, orders) = &seen[0];
    assert!(*probed > 0 && *probed < trace.orders * 4, "{probed}");
    assert!(!orders.is_empty());
    assert_eq!(seen[0], seen[1], "the same writes were probed");
}
