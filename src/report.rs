//! What a replay tells people: the spec's console header, per-minute line and final summary.
//! The summary is a function of the run's result document (`crate::result`), which is also
//! the JSON report (`--report run.json`).

use std::fmt::Write as _;
use std::time::Duration;

use crate::event::Activity;
use crate::profile::LoadProfile;
use crate::replay::WindowReport;
use crate::result::{ErrorEntry, RunResult};

const RULE: &str = "============================================================";

/// The spec's header block, plus the lines a replay adds.
pub fn header_block(
    profile: &LoadProfile,
    duration_minutes: Option<f64>,
    api_url: &str,
    extra: &[(&str, String)],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "FreshMart Load Generator");
    let _ = writeln!(out, "{RULE}");
    let _ = writeln!(out, "Profile: {} - {}", profile.name, profile.description);
    let _ = writeln!(out, "Target: {} orders/min", profile.orders_per_minute);
    let _ = writeln!(
        out,
        "Concurrent Workflows: {}",
        profile.concurrent_workflows
    );
    let _ = writeln!(out, "{}", duration_line(duration_minutes));
    let _ = writeln!(out, "API: {api_url}");
    for (label, value) in extra {
        let _ = writeln!(out, "{label}: {value}");
    }
    let _ = writeln!(out, "{RULE}");
    out
}

/// `Duration: 120 minutes`, or `Duration: until interrupted` for an open-ended run.
pub fn duration_line(minutes: Option<f64>) -> String {
    match minutes {
        Some(m) => format!("Duration: {} minutes", trim_float(m)),
        None => "Duration: until interrupted".to_string(),
    }
}

/// `30` for whole numbers, `0.2` otherwise.
pub fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// `Last minute: 18 activities, 18.0/min, 234ms avg latency, 100.0% success, 240ms avg from
/// intended time`, with the trace time appended when the replay runs at another speed than 1x.
/// "avg latency" is service time, as in the final summary and as the spec's tool measured it;
/// the latency from the intended time (queueing included) follows under its own name.
pub fn window_line(w: &WindowReport, trace_time: Option<&str>) -> String {
    let minutes = w.span.as_secs_f64() / 60.0;
    let per_min = if minutes > 0.0 {
        w.events as f64 / minutes
    } else {
        0.0
    };
    let avg_of = |sum: Duration| {
        if w.events > 0 {
            sum.as_secs_f64() * 1000.0 / w.events as f64
        } else {
            0.0
        }
    };
    let (avg_ms, intended_ms) = (avg_of(w.service_sum), avg_of(w.latency_sum));
    let success = if w.events > 0 {
        100.0 * (w.events - w.failures) as f64 / w.events as f64
    } else {
        100.0
    };
    let label = if (w.span.as_secs_f64() - 60.0).abs() < 1.0 {
        "Last minute".to_string()
    } else {
        format!("Last {:.0}s", w.span.as_secs_f64())
    };
    let mut line = format!(
        "{label}: {} activities, {per_min:.1}/min, {avg_ms:.0}ms avg latency, {success:.1}% success, {intended_ms:.0}ms avg from intended time",
        w.events
    );
    if let Some(t) = trace_time {
        let _ = write!(line, " (trace time {t})");
    }
    line
}

/// The stored example of a kind, cut for the console.
fn example(entry: &ErrorEntry) -> String {
    entry.example.chars().take(160).collect()
}

/// Failed events shown on the console; the JSON report lists up to `MAX_LISTED_FAILURES`.
const CONSOLE_FAILURES: usize = 10;

/// The spec's final summary, plus lateness, corrected latency and events not sent: a function
/// of the result document alone, so a saved result prints the same summary again.
pub fn final_summary(run: &RunResult) -> String {
    let minutes = run.duration_s / 60.0;
    let (service, latency, lateness) = (
        &run.service_time,
        &run.latency_from_intended_time,
        &run.lateness,
    );
    let total = run.total();
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "\n{RULE}\nFinal Summary\n{RULE}");
    if let Some(n) = run.run.shards_merged {
        let _ = writeln!(w, "Shards: {n} (merged)");
    }
    let _ = writeln!(w, "Duration: {minutes:.1} minutes");
    let _ = writeln!(w, "Total activities: {total}");
    let _ = writeln!(w, "Success rate: {:.1}%", run.success_rate * 100.0);
    let _ = writeln!(
        w,
        "Throughput: {:.1} activities/min",
        if minutes > 0.0 {
            total as f64 / minutes
        } else {
            0.0
        }
    );
    // The spec's three latency lines are service time; the intended-time latency has its own.
    let _ = writeln!(w, "Avg latency: {:.0}ms", service.mean_ms);
    let _ = writeln!(w, "P95 latency: {:.0}ms", service.p95_ms);
    let _ = writeln!(w, "P99 latency: {:.0}ms", service.p99_ms);
    let _ = writeln!(
        w,
        "Latency from intended time: avg {:.0}ms, p50 {:.0}ms, p99 {:.0}ms (includes waiting: free of coordinated omission)",
        latency.mean_ms, latency.p50_ms, latency.p99_ms
    );
    let _ = writeln!(
        w,
        "Schedule lateness: p50 {:.1}ms, p99 {:.1}ms, max {:.1}ms",
        lateness.p50_ms, lateness.p99_ms, lateness.max_ms
    );
    let _ = writeln!(w, "Requests: {} ({} retries)", run.requests, run.retries);
    if !run.retry_reasons.is_empty() {
        let _ = writeln!(w, "Retried after:");
        for (kind, entry) in &run.retry_reasons {
            let _ = writeln!(w, "  {kind}: {}  e.g. {}", entry.count, example(entry));
        }
    }
    let _ = writeln!(w, "\nActivity Breakdown:");
    for activity in Activity::ALL {
        let (succeeded, failed) = run
            .activities
            .get(activity.key())
            .map_or((0, 0), |a| (a.succeeded, a.failed));
        let _ = write!(w, "  {}: {}", activity.label(), succeeded + failed);
        if failed > 0 {
            let _ = write!(w, " ({failed} failed)");
        }
        let _ = writeln!(w);
    }
    if !run.errors.is_empty() {
        let _ = writeln!(w, "\nErrors:");
        for (kind, entry) in &run.errors {
            let _ = writeln!(w, "  {kind}: {}  e.g. {}", entry.count, example(entry));
        }
    }
    let unknown = run.events.unknown_outcome;
    if unknown > 0 {
        let _ = writeln!(
            w,
            "\nUnknown outcome: {unknown} events timed out; the server may still have applied them. \
             `loadgen verify` tells what reached it; `replay --resume` resends them."
        );
    }
    if !run.failed_events.is_empty() {
        let _ = writeln!(
            w,
            "\nFailed events (first {CONSOLE_FAILURES}; the report lists them all):"
        );
        for f in run.failed_events.iter().take(CONSOLE_FAILURES) {
            let _ = writeln!(
                w,
                "  #{} {} {} at {}: {}",
                f.seq,
                f.activity,
                f.subject,
                crate::sim::time::SimTime(f.offset_ms),
                f.category
            );
        }
    }
    if let Some(v) = &run.write_to_visible {
        let p = &v.write_to_visible;
        let _ = writeln!(
            w,
            "\nWrite → visible ({} probes, {} not visible in time, {} superseded by a later write): p50 {:.0}ms, p95 {:.0}ms, p99 {:.0}ms, max {:.0}ms",
            v.probed, v.not_visible, v.superseded, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
        );
        for (kind, k) in v.by_kind.iter().filter(|(_, k)| k.probed > 0) {
            let p = &k.write_to_visible;
            let _ = writeln!(
                w,
                "  {kind} ({}): {} probes, {} not visible in time, {} superseded: min {:.0}ms, p50 {:.0}ms, p95 {:.0}ms, max {:.0}ms",
                k.read, k.probed, k.not_visible, k.superseded, p.min_ms, p.p50_ms, p.p95_ms, p.max_ms
            );
        }
    }
    let e = &run.events;
    let _ = writeln!(
        w,
        "\nEvents: {} received ({} succeeded, {} failed, {} unknown outcome, {} interrupted, {} blocked)",
        e.received, e.succeeded, e.failed, e.unknown_outcome, e.interrupted, e.blocked
    );
    let _ = writeln!(w, "Events not sent: {}", e.not_sent);
    if e.interrupted > 0 {
        let _ = writeln!(w, "Events interrupted in flight: {}", e.interrupted);
    }
    let _ = writeln!(w, "{RULE}");
    out
}

/// Formats a duration for humans: `1.5s`, `250ms`.
pub fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_line_matches_the_spec() {
        let w = WindowReport {
            elapsed: Duration::from_secs(60),
            span: Duration::from_secs(60),
            trace_pos_ms: 0,
            events: 18,
            failures: 0,
            latency_sum: Duration::from_millis(18 * 4_650),
            service_sum: Duration::from_millis(18 * 234),
        };
        assert_eq!(
            window_line(&w, None),
            "Last minute: 18 activities, 18.0/min, 234ms avg latency, 100.0% success, 4650ms avg from intended time"
        );
        assert_eq!(
            window_line(&w, Some("Mon 17:10")),
            "Last minute: 18 activities, 18.0/min, 234ms avg latency, 100.0% success, 4650ms avg from intended time (trace time Mon 17:10)"
        );
    }
}
