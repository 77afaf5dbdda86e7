//! "avg latency" means one thing (issue 8, item 16): against a slow stub at concurrency 1 the
//! replay falls behind its schedule, so the latency from the intended time (queueing
//! included) grows far past the service time. The status lines' "avg latency" and the
//! summary's "Avg latency" are both service time; the intended-time latency is shown beside
//! them under its own name, and the report's field names say which is which.

#[path = "common/harness.rs"]
mod harness;

use std::time::Duration;

use freshmart_stub::{Latency, StubConfig};

/// The stub's answer time: every event's service time is at least this.
const SERVICE: Duration = Duration::from_millis(100);

/// `(avg latency, avg from intended time)` of a status line, in ms.
fn status_numbers(line: &str) -> Option<(f64, f64)> {
    let number_before = |text: &str, suffix: &str| -> Option<f64> {
        let end = text.find(suffix)?;
        let start = text[..end].rfind(' ')? + 1;
        text[start..end].parse().ok()
    };
    Some((
        number_before(line, "ms avg latency")?,
        number_before(line, "ms avg from intended time")?,
    ))
}

#[test]
fn avg_latency_is_service_time_everywhere_and_intended_latency_has_its_own_name() {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            latency: Latency::Fixed(SERVICE),
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    // 86 events over 10 minutes: 6 s of schedule at 100x, about 10 s of work at concurrency 1.
    harness::simulate(dir.path(), "t.trace", "10m", 4);
    let url = stub.url();
    let run = harness::loadgen_ok(
        dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &url,
            "--speed",
            "100x",
            "--concurrency",
            "1",
            "--status-every",
            "2s",
            "--run-id",
            "lat",
            "--report",
            "r.json",
        ],
    );
    let lines: Vec<(f64, f64)> = run
        .stdout
        .lines()
        .filter(|l| l.contains("activities,") && l.contains("/min"))
        .map(|l| status_numbers(l).unwrap_or_else(|| panic!("status line `{l}`")))
        .collect();
    assert!(lines.len() >= 3, "status lines:\n{}", run.stdout);
    let min = SERVICE.as_secs_f64() * 1000.0;
    for &(service, intended) in &lines {
        // One or two requests of 100 ms each, plus the client's own time.
        assert!(
            (min..min * 3.0).contains(&service),
            "avg latency {service}ms is not service time:\n{}",
            run.stdout
        );
        assert!(intended >= service, "{intended} < {service}");
    }
    assert!(
        lines
            .iter()
            .any(|&(service, intended)| intended > service + 1_000.0),
        "the backlog never showed in the intended-time latency:\n{}",
        run.stdout
    );

    let report = harness::json(&dir.path().join("r.json"));
    let mean = |field: &str| harness::float(&report, &format!("/{field}/mean_ms"));
    let (service, intended) = (mean("service_time"), mean("latency_from_intended_time"));
    assert!(
        report.get("latency").is_none(),
        "an ambiguous `latency` field"
    );
    assert!(intended > service + 500.0, "{intended} vs {service}");
    assert!(
        run.stdout.contains(&format!("Avg latency: {service:.0}ms")),
        "the summary's Avg latency is not the service time {service:.0}ms:\n{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("Latency from intended time: avg {intended:.0}ms")),
        "{}",
        run.stdout
    );
    // The time series names its sums too.
    let bucket = &report["time_series"][0];
    assert!(bucket["service_time_sum_us"].as_u64().is_some(), "{bucket}");
    assert!(
        bucket["latency_from_intended_sum_us"].as_u64().is_some(),
        "{bucket}"
    );
}
