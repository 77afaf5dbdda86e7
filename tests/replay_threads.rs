//! `--threads N` on the command line (issue 9 item 7): out of range is a usage error; a replay
//! with several dispatchers sends every event, accounts for each, and leaves the API in the
//! state the trace implies (`verify`), with the same counts as one dispatcher; the probes of
//! writes sent from dispatcher threads outlive those threads.
//!
//! Every stub binds 127.0.0.1:0; every process runs under the harness's watchdog.

#[path = "common/harness.rs"]
mod harness;

use std::path::Path;

use freshmart_stub::StubConfig;
use harness::{assert_accounted, json, num};

fn replay(dir: &Path, url: &str, run_id: &str, threads: &str, report: &str) -> harness::Run {
    harness::loadgen(
        dir,
        &[
            "replay",
            "t.trace",
            "--api-url",
            url,
            "--speed",
            "max",
            "--concurrency",
            "8",
            "--threads",
            threads,
            "--run-id",
            run_id,
            "--report",
            report,
        ],
        &[],
    )
}

#[test]
fn threads_out_of_range_are_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    harness::simulate(dir.path(), "t.trace", "5m", 1);
    for threads in ["0", "1025", "two"] {
        let run = replay(dir.path(), "http://127.0.0.1:9", "x", threads, "r.json");
        run.expect_code(2);
        assert!(
            run.stderr.contains("--threads"),
            "{threads}: {}",
            run.stderr
        );
    }
}

#[test]
fn several_dispatchers_send_what_one_sends_and_the_api_ends_as_the_trace_implies() {
    let rt = harness::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "2h", 5));
    let mut counts = Vec::new();
    for threads in ["1", "3"] {
        // A fresh stub per run: the second run's store starts as empty as the first's.
        let stub = harness::stub(&rt, StubConfig::default());
        let url = stub.url();
        let run_id = format!("threads{threads}");
        let report_name = format!("r{threads}.json");
        replay(dir.path(), &url, &run_id, threads, &report_name).expect_code(0);
        let report = json(&dir.path().join(&report_name));
        assert_accounted(&report, trace.events, trace.events);
        assert_eq!(
            num(&report, "/events/succeeded"),
            trace.events,
            "threads {threads}"
        );
        let verified = harness::loadgen(
            dir.path(),
            &["verify", "t.trace", "--api-url", &url, "--run-id", &run_id],
            &[],
        );
        verified.expect_code(0);
        // Counts only: the activities' timings differ from run to run.
        let by_activity: Vec<(String, u64, u64)> = report["activities"]
            .as_object()
            .expect("activities")
            .iter()
            .map(|(key, a)| {
                let count = |field: &str| a[field].as_u64().expect(field);
                (key.clone(), count("succeeded"), count("failed"))
            })
            .collect();
        counts.push((
            num(&report, "/events/received"),
            num(&report, "/requests"),
            by_activity,
        ));
        rt.block_on(stub.shutdown());
    }
    assert_eq!(counts[0], counts[1], "--threads 1 and --threads 3 agree");
}

/// Dispatchers on threads of their own end with their last event, while the visibility
/// probes of their last writes are still reading: the probes run on the main runtime, so each
/// is still timed or superseded, none is lost with its dispatcher's thread.
#[test]
fn probes_outlive_the_dispatcher_threads_that_sent_the_writes() {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            visibility_delay: std::time::Duration::from_millis(300),
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    harness::simulate(dir.path(), "t.trace", "2m", 8);
    let url = stub.url();
    let run = harness::loadgen(
        dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &url,
            "--speed",
            "max",
            "--threads",
            "3",
            "--run-id",
            "probes3",
            "--report",
            "r.json",
            "--probe-reads",
            "100%",
            "--probe-timeout",
            "10s",
        ],
        &[],
    );
    run.expect_code(0);
    let r = json(&dir.path().join("r.json"));
    let v = &r["write_to_visible"];
    let mut probed = 0;
    for kind in ["orders", "customers", "stock_levels"] {
        let k = &v["by_kind"][kind];
        assert_eq!(num(k, "/not_visible"), 0, "{kind}: {k:#}");
        assert_eq!(
            num(k, "/probed"),
            num(k, "/write_to_visible/count") + num(k, "/superseded"),
            "{kind}: every probe timed or superseded: {k:#}"
        );
        probed += num(k, "/probed");
    }
    assert_eq!(probed, num(&r, "/events/succeeded"), "every write probed");
    rt.block_on(stub.shutdown());
}
