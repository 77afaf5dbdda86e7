//! What a replay tells people and machines: the spec's console header, per-minute line and
//! final summary, and the JSON report (`--report run.json`). Pure functions of the metrics.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::event::{Activity, Entity};
use crate::metrics::{Bucket, Metrics, Percentiles};
use crate::outcome::{Class, FailureKind};
use crate::profile::LoadProfile;
use crate::replay::{ReplayOutcome, WindowReport};

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

/// "Write → visible" times of the propagation probes (`--probe-reads`).
#[derive(Clone, Debug, Serialize)]
pub struct Visibility {
    pub probed: u64,
    pub not_visible: u64,
    /// Probes whose order was written again before they saw their write (not timed).
    pub superseded: u64,
    pub write_to_visible: Percentiles,
    /// The same by kind of write (`orders`, `customers`, `stock_levels`), each with the read
    /// that measured it.
    pub by_kind: std::collections::BTreeMap<&'static str, KindVisibility>,
}

/// "Write → visible" of one kind of write.
#[derive(Clone, Debug, Serialize)]
pub struct KindVisibility {
    /// The read the probes polled, i.e. the view this number measures.
    pub read: &'static str,
    pub probed: u64,
    pub not_visible: u64,
    pub superseded: u64,
    pub write_to_visible: Percentiles,
}

/// A finished run and what the commands add to it for reporting.
pub struct RunResult<'a> {
    pub outcome: &'a ReplayOutcome,
    pub visibility: Option<Visibility>,
    /// Renders an entity as the subject id the run used.
    pub subject_of: &'a dyn Fn(Entity) -> String,
}

/// The stored example of `kind`, cut for the console.
fn example(
    examples: &std::collections::BTreeMap<FailureKind, String>,
    kind: &FailureKind,
) -> String {
    examples
        .get(kind)
        .map(|e| e.chars().take(160).collect())
        .unwrap_or_default()
}

/// Failed events shown on the console; the JSON report lists up to `MAX_LISTED_FAILURES`.
const CONSOLE_FAILURES: usize = 10;

/// The spec's final summary, plus lateness, corrected latency and events not sent.
pub fn final_summary(run: &RunResult) -> String {
    let outcome = run.outcome;
    let m = &outcome.metrics;
    let minutes = outcome.elapsed.as_secs_f64() / 60.0;
    let service = Percentiles::of(&m.service);
    let latency = Percentiles::of(&m.latency);
    let lateness = Percentiles::of(&m.lateness);
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "\n{RULE}\nFinal Summary\n{RULE}");
    let _ = writeln!(w, "Duration: {minutes:.1} minutes");
    let _ = writeln!(w, "Total activities: {}", m.total());
    let _ = writeln!(w, "Success rate: {:.1}%", m.success_rate() * 100.0);
    let _ = writeln!(
        w,
        "Throughput: {:.1} activities/min",
        if minutes > 0.0 {
            m.total() as f64 / minutes
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
    let _ = writeln!(w, "Requests: {} ({} retries)", m.requests, m.retries);
    if !m.retry_reasons.is_empty() {
        let _ = writeln!(w, "Retried after:");
        for (kind, count) in &m.retry_reasons {
            let _ = writeln!(
                w,
                "  {kind}: {count}  e.g. {}",
                example(&m.retry_examples, kind)
            );
        }
    }
    let _ = writeln!(w, "\nActivity Breakdown:");
    for activity in Activity::ALL {
        let failed = m.failures[activity.index()];
        let _ = write!(w, "  {}: {}", activity.label(), m.count(activity));
        if failed > 0 {
            let _ = write!(w, " ({failed} failed)");
        }
        let _ = writeln!(w);
    }
    if !m.errors.is_empty() {
        let _ = writeln!(w, "\nErrors:");
        for (kind, count) in &m.errors {
            let _ = writeln!(
                w,
                "  {kind}: {count}  e.g. {}",
                example(&m.error_examples, kind)
            );
        }
    }
    let unknown = m.in_class(Class::UnknownOutcome);
    if unknown > 0 {
        let _ = writeln!(
            w,
            "\nUnknown outcome: {unknown} events timed out; the server may still have applied them. \
             `loadgen verify` tells what reached it; `replay --resume` resends them."
        );
    }
    if !m.failed_events.is_empty() {
        let _ = writeln!(
            w,
            "\nFailed events (first {CONSOLE_FAILURES}; the report lists them all):"
        );
        for f in m.failed_events.iter().take(CONSOLE_FAILURES) {
            let _ = writeln!(
                w,
                "  #{} {} {} at {}: {}",
                f.seq,
                f.activity,
                (run.subject_of)(f.entity),
                crate::sim::time::SimTime(f.offset_ms),
                f.category
            );
        }
    }
    if let Some(v) = &run.visibility {
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
    let _ = writeln!(
        w,
        "\nEvents: {} received ({} succeeded, {} failed, {} unknown outcome, {} interrupted, {} blocked)",
        outcome.received,
        m.succeeded(),
        m.in_class(Class::Failed),
        m.in_class(Class::UnknownOutcome),
        m.in_class(Class::Interrupted),
        m.in_class(Class::Blocked)
    );
    let _ = writeln!(w, "Events not sent: {}", outcome.not_sent);
    if outcome.interrupted > 0 {
        let _ = writeln!(w, "Events interrupted in flight: {}", outcome.interrupted);
    }
    let _ = writeln!(w, "{RULE}");
    out
}

#[derive(Debug, Serialize)]
pub struct ActivityCounts {
    pub succeeded: u64,
    pub failed: u64,
}

#[derive(Debug, Serialize)]
pub struct ErrorEntry {
    pub count: u64,
    pub example: String,
}

/// How the selected events ended. The classes are disjoint:
/// `received = succeeded + failed + unknown_outcome + interrupted + blocked`, and
/// `received + not_sent` = the events the run selected.
#[derive(Debug, Serialize)]
pub struct EventCounts {
    /// Events the replay took on (each ended in one of the classes below).
    pub received: u64,
    /// Events that ended with a result: `received - interrupted`.
    pub completed: u64,
    pub succeeded: u64,
    /// Refused by the server, or never reached it (4xx, 5xx, connection errors).
    pub failed: u64,
    /// Timed out: the server may or may not have applied them (`verify` tells; a resumed
    /// run resends them).
    pub unknown_outcome: u64,
    /// In flight when the drain after a stop ran out.
    pub interrupted: u64,
    /// Never sent because an earlier event of their entity did not succeed.
    pub blocked: u64,
    /// Selected but never sent because the run stopped.
    pub not_sent: u64,
}

/// `--report run.json`.
#[derive(Debug, Serialize)]
pub struct JsonReport<C: Serialize> {
    pub loadgen: &'static str,
    pub config: C,
    pub started_at: String,
    pub duration_s: f64,
    pub stopped_early: bool,
    pub events: EventCounts,
    pub requests: u64,
    pub retries: u64,
    /// Why the retries happened: count and one example per kind.
    pub retry_reasons: std::collections::BTreeMap<String, ErrorEntry>,
    pub success_rate: f64,
    pub throughput_per_min: f64,
    pub activities: std::collections::BTreeMap<&'static str, ActivityCounts>,
    /// First request sent → last response: the console's "avg latency".
    pub service_time: Percentiles,
    /// Intended time → last response (queueing included): free of coordinated omission.
    pub latency_from_intended_time: Percentiles,
    pub lateness: Percentiles,
    pub errors: std::collections::BTreeMap<String, ErrorEntry>,
    /// Events finished per bucket (`time_series_bucket_s` seconds wide, from 1 s), failures,
    /// summed latency from the intended time.
    pub time_series: Vec<Bucket>,
    pub time_series_bucket_s: u64,
    /// Failed events, up to `MAX_LISTED_FAILURES` (`failed_events_total` counts them all).
    pub failed_events: Vec<FailedEventRow>,
    pub failed_events_total: u64,
    pub write_to_visible: Option<Visibility>,
    /// What the numbers do not say by themselves (e.g. how to learn what unknown outcomes did).
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct FailedEventRow {
    pub seq: u64,
    pub offset_ms: u64,
    pub activity: &'static str,
    pub subject: String,
    pub category: FailureKind,
}

pub fn json_report<C: Serialize>(config: C, started_at: String, run: &RunResult) -> JsonReport<C> {
    let outcome = run.outcome;
    let m: &Metrics = &outcome.metrics;
    let secs = outcome.elapsed.as_secs_f64();
    JsonReport {
        loadgen: env!("CARGO_PKG_VERSION"),
        config,
        started_at,
        duration_s: secs,
        stopped_early: outcome.stopped_early,
        events: EventCounts {
            received: outcome.received,
            completed: outcome.received - m.in_class(Class::Interrupted),
            succeeded: m.succeeded(),
            failed: m.in_class(Class::Failed),
            unknown_outcome: m.in_class(Class::UnknownOutcome),
            interrupted: m.in_class(Class::Interrupted),
            blocked: m.in_class(Class::Blocked),
            not_sent: outcome.not_sent,
        },
        requests: m.requests,
        retries: m.retries,
        retry_reasons: entries(&m.retry_reasons, &m.retry_examples),
        success_rate: m.success_rate(),
        throughput_per_min: if secs > 0.0 {
            m.total() as f64 * 60.0 / secs
        } else {
            0.0
        },
        activities: Activity::ALL
            .iter()
            .map(|a| {
                (
                    a.key(),
                    ActivityCounts {
                        succeeded: m.successes[a.index()],
                        failed: m.failures[a.index()],
                    },
                )
            })
            .collect(),
        service_time: Percentiles::of(&m.service),
        latency_from_intended_time: Percentiles::of(&m.latency),
        lateness: Percentiles::of(&m.lateness),
        errors: entries(&m.errors, &m.error_examples),
        time_series: m.series.clone(),
        time_series_bucket_s: m.bucket_secs,
        failed_events: m
            .failed_events
            .iter()
            .map(|f| FailedEventRow {
                seq: f.seq,
                offset_ms: f.offset_ms,
                activity: f.activity,
                subject: (run.subject_of)(f.entity),
                category: f.category.clone(),
            })
            .collect(),
        failed_events_total: m.total_failures(),
        write_to_visible: run.visibility.clone(),
        notes: notes(m),
    }
}

/// The report's notes.
fn notes(m: &Metrics) -> Vec<String> {
    let unknown = m.in_class(Class::UnknownOutcome);
    let mut notes = Vec::new();
    if unknown > 0 {
        notes.push(format!(
            "{unknown} events timed out (unknown_outcome): the server may still have applied \
             them. `loadgen verify` tells what reached it; `replay --resume` resends them \
             (the API's creates are idempotent)."
        ));
    }
    notes
}

/// A report map keyed by each kind's `Display`, with its count and example.
fn entries(
    counts: &std::collections::BTreeMap<FailureKind, u64>,
    examples: &std::collections::BTreeMap<FailureKind, String>,
) -> std::collections::BTreeMap<String, ErrorEntry> {
    counts
        .iter()
        .map(|(kind, count)| {
            (
                kind.to_string(),
                ErrorEntry {
                    count: *count,
                    example: examples.get(kind).cloned().unwrap_or_default(),
                },
            )
        })
        .collect()
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
