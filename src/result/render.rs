//! Result documents rendered for people: the self-contained HTML report (one result, or
//! several overlaid on trace time) and its Markdown form for a pull request comment. Pure
//! functions of the documents, drawn with `crate::html`.

use std::fmt::Write;

use super::RunResult;
use crate::html::{
    activity_table, failure_table, line_chart, metadata_table, percentile_chart, ActivityRow, Cell,
    CellKind, ChartError, Distribution, FailureRow, Labels, Page, Series, Table,
};
use crate::metrics::Percentiles;

/// The x label of every time chart: buckets sit at the trace time of their first event, so
/// runs at different speeds or starts line up.
pub const TRACE_TIME: &str = "trace time (s)";

/// The titles of the report's charts, in order (the write → visible one only when a result
/// has probes).
pub const CHARTS: [&str; 5] = [
    "Throughput and errors",
    "Latency over time",
    "Schedule lateness",
    "Latency distribution",
    "Write to visible",
];

/// A result and the name it is shown under (its file name).
pub struct Named<'a> {
    pub name: String,
    pub result: &'a RunResult,
}

/// `(trace time in s, value)` per bucket that has a trace time.
fn over_trace_time(r: &RunResult, value: impl Fn(&super::SeriesBucket) -> f64) -> Vec<(f64, f64)> {
    r.time_series
        .iter()
        .filter_map(|b| {
            b.bucket
                .trace_first_ms
                .map(|t| (t as f64 / 1000.0, value(b)))
        })
        .collect()
}

/// Each series name prefixed with its run's name when there are several.
fn label(runs: &[Named], run: &Named, what: &str) -> String {
    if runs.len() == 1 {
        what.to_string()
    } else {
        format!("{} {what}", run.name)
    }
}

fn ms(p: &Percentiles) -> [Option<f64>; 4] {
    if p.count == 0 {
        [None; 4]
    } else {
        [
            Some(p.p50_ms),
            Some(p.p95_ms),
            Some(p.p99_ms),
            Some(p.max_ms),
        ]
    }
}

fn activity_rows(r: &RunResult) -> Vec<ActivityRow> {
    let row = |name: &str, events: u64, failures: u64, p: &Percentiles| {
        let [p50_ms, p95_ms, p99_ms, max_ms] = ms(p);
        ActivityRow {
            activity: name.to_string(),
            events,
            failures,
            p50_ms,
            p95_ms,
            p99_ms,
            max_ms,
        }
    };
    let mut rows: Vec<ActivityRow> = r
        .activities
        .iter()
        .map(|(k, a)| {
            row(
                k,
                a.succeeded + a.failed,
                a.failed,
                &a.latency_from_intended_time,
            )
        })
        .collect();
    rows.push(row(
        "all",
        r.total(),
        r.total_failures(),
        &r.latency_from_intended_time,
    ));
    rows
}

/// The run's metadata as key–value pairs.
pub fn metadata(r: &RunResult) -> Vec<(String, String)> {
    let m = &r.run;
    let mut pairs = vec![
        ("trace".to_string(), m.trace.source.clone()),
        (
            "trace events".into(),
            m.trace.events.map_or("–".into(), |e| e.to_string()),
        ),
        (
            "trace CRC-32".into(),
            m.trace.crc32.map_or("–".into(), |c| format!("{c:08x}")),
        ),
        ("trace start".into(), m.trace.start.clone()),
        ("seed".into(), m.seed.to_string()),
        ("profile".into(), m.profile.clone()),
        ("run id".into(), m.run_id.clone()),
        ("speed".into(), m.speed.clone()),
        ("started at".into(), r.started_at.clone()),
        ("duration (s)".into(), format!("{:.1}", r.duration_s)),
        ("stopped early".into(), r.stopped_early.to_string()),
        ("loadgen".into(), r.loadgen.clone()),
    ];
    if let Some(rev) = &m.git_revision {
        pairs.push(("git revision".into(), rev.clone()));
    }
    if let Some(n) = m.shards_merged {
        pairs.push(("shards merged".into(), n.to_string()));
    }
    for (k, v) in &m.tags {
        pairs.push((format!("tag {k}"), v.clone()));
    }
    pairs
}

fn threshold_rows(caption: &str, records: &[super::thresholds::ThresholdRecord]) -> Table {
    Table {
        caption: caption.to_string(),
        head: ["threshold", "observed", "result"]
            .map(String::from)
            .to_vec(),
        rows: records
            .iter()
            .map(|t| {
                vec![
                    Cell::text(&t.expr),
                    Cell::text(t.observed.as_deref().unwrap_or("nothing measured")),
                    Cell {
                        text: if t.passed { "passed" } else { "failed" }.into(),
                        kind: if t.passed {
                            CellKind::Passed
                        } else {
                            CellKind::Failed
                        },
                    },
                ]
            })
            .collect(),
    }
}

/// The HTML report of one result or several overlaid.
pub fn html(runs: &[Named]) -> Result<String, ChartError> {
    Ok(html_page(runs)?.render())
}

/// The report's page, for a caller to add to (`compare` puts its table first).
pub fn html_page(runs: &[Named]) -> Result<Page, ChartError> {
    let title = match runs {
        [one] => format!("loadgen report: {}", one.name),
        _ => format!(
            "loadgen report: {}",
            runs.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(" vs ")
        ),
    };
    let mut page = Page::new(title);
    page.paragraph(
        "Time charts put each bucket of the time series at the trace time of its first event, \
         so runs at different speeds line up. Latency is from each event's intended time \
         (queueing included).",
    );

    page.heading("Over time");
    let mut series = Vec::new();
    for run in runs {
        let width = run.result.time_series_bucket_s.max(1) as f64;
        series.push(Series::new(
            label(runs, run, "successes/s"),
            over_trace_time(run.result, |b| b.successes as f64 / width),
        ));
        series.push(Series::new(
            label(runs, run, "failures/s"),
            over_trace_time(run.result, |b| b.bucket.failures as f64 / width),
        ));
    }
    let svg = line_chart(
        &Labels::new(CHARTS[0], TRACE_TIME, "events per second of run time"),
        &series,
    )?;
    page.chart("Events finished per second, by outcome", svg);

    let mut series = Vec::new();
    for run in runs {
        type Pick = fn(&super::SeriesBucket) -> f64;
        let picks: [(&str, Pick); 3] = [
            ("p50", |b| b.latency_p50_ms),
            ("p90", |b| b.latency_p90_ms),
            ("p99", |b| b.latency_p99_ms),
        ];
        for (name, pick) in picks {
            series.push(Series::new(
                label(runs, run, name),
                over_trace_time(run.result, pick),
            ));
        }
    }
    let svg = line_chart(&Labels::new(CHARTS[1], TRACE_TIME, "latency (ms)"), &series)?;
    page.chart(
        "Latency from the intended time per bucket (upper edges of coarse bins)",
        svg,
    );

    let series: Vec<Series> = runs
        .iter()
        .map(|run| {
            Series::new(
                label(runs, run, "lateness p99"),
                over_trace_time(run.result, |b| b.lateness_p99_ms),
            )
        })
        .collect();
    let svg = line_chart(
        &Labels::new(CHARTS[2], TRACE_TIME, "lateness (ms)"),
        &series,
    )?;
    page.chart("Intended time to first request sent, p99 per bucket", svg);

    page.heading("Distributions");
    let distributions: Vec<Distribution> = runs
        .iter()
        .map(|run| {
            Distribution::from_histogram(
                label(runs, run, "latency"),
                &run.result.histograms.latency,
                1000.0,
            )
        })
        .collect();
    let svg = percentile_chart(
        &Labels::new(CHARTS[3], "percentile", "latency (ms)"),
        &distributions,
    )?;
    page.chart(
        "HDR percentile plot of the latency from the intended time",
        svg,
    );

    let probed: Vec<(&Named, &super::Visibility)> = runs
        .iter()
        .filter_map(|run| run.result.write_to_visible.as_ref().map(|v| (run, v)))
        .collect();
    if probed.is_empty() {
        page.paragraph("Write to visible: no propagation probes (`--probe-reads`) in this run.");
    } else {
        let distributions: Vec<Distribution> = probed
            .iter()
            .map(|(run, v)| {
                Distribution::from_histogram(
                    label(runs, run, "write to visible"),
                    &v.histogram,
                    1000.0,
                )
            })
            .collect();
        let svg = percentile_chart(
            &Labels::new(CHARTS[4], "percentile", "write to visible (ms)"),
            &distributions,
        )?;
        page.chart(
            "HDR percentile plot of a write's response to the write visible to a read",
            svg,
        );
        for (run, v) in &probed {
            let rows = v
                .by_kind
                .iter()
                .map(|(kind, k)| {
                    let [p50, p95, p99, max] = ms(&k.write_to_visible);
                    let f =
                        |v: Option<f64>| Cell::number(v.map_or("–".into(), |v| format!("{v:.1}")));
                    vec![
                        Cell::text(format!("{kind} (read {})", k.read)),
                        Cell::number(k.probed.to_string()),
                        Cell::number(k.not_visible.to_string()),
                        f(p50),
                        f(p95),
                        f(p99),
                        f(max),
                    ]
                })
                .collect();
            page.table(Table {
                caption: format!("Write to visible: {}", run.name),
                head: [
                    "write",
                    "probed",
                    "not visible",
                    "p50 (ms)",
                    "p95 (ms)",
                    "p99 (ms)",
                    "max (ms)",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            });
        }
    }

    for run in runs {
        let r = run.result;
        page.heading(format!("Run: {}", run.name));
        page.table(activity_table(
            "Per activity (latency from the intended time)",
            &activity_rows(r),
        ));
        if !r.thresholds.is_empty() {
            page.table(threshold_rows("Thresholds", &r.thresholds));
        }
        let failures: Vec<FailureRow> = r
            .errors
            .iter()
            .map(|(kind, e)| FailureRow {
                kind: kind.clone(),
                count: e.count,
                example: e.example.clone(),
            })
            .collect();
        if failures.is_empty() {
            page.paragraph("No failures.");
        } else {
            page.table(failure_table("Failures", &failures));
        }
        page.table(metadata_table("Metadata", &metadata(r)));
        for note in &r.notes {
            page.paragraph(note.clone());
        }
    }
    Ok(page)
}

fn md_ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}"))
}

/// The Markdown report (a pull request comment): the headline numbers, per-activity
/// latencies, thresholds and failures of each result.
pub fn markdown(runs: &[Named]) -> String {
    let mut out = String::new();
    let w = &mut out;
    for run in runs {
        let r = run.result;
        let _ = writeln!(w, "### loadgen: {}\n", run.name);
        let _ = writeln!(
            w,
            "{} events in {:.1} s, success {:.2}%, {:.1} events/min; trace {} (seed {}, \
             profile {}, speed {}){}\n",
            r.total(),
            r.duration_s,
            r.success_rate * 100.0,
            r.throughput_per_min,
            r.run.trace.source,
            r.run.seed,
            r.run.profile,
            r.run.speed,
            if r.stopped_early {
                ", stopped early"
            } else {
                ""
            }
        );
        let _ = writeln!(
            w,
            "| activity | events | failures | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |"
        );
        let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|");
        for row in activity_rows(r) {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} |",
                row.activity,
                row.events,
                row.failures,
                md_ms(row.p50_ms),
                md_ms(row.p95_ms),
                md_ms(row.p99_ms),
                md_ms(row.max_ms)
            );
        }
        let [_, _, l99, _] = ms(&r.lateness);
        let _ = writeln!(w, "\nSchedule lateness p99: {} ms", md_ms(l99));
        if let Some(v) = &r.write_to_visible {
            let [p50, _, p99, _] = ms(&v.write_to_visible);
            let _ = writeln!(
                w,
                "Write to visible: p50 {} ms, p99 {} ms ({} probed, {} not visible)",
                md_ms(p50),
                md_ms(p99),
                v.probed,
                v.not_visible
            );
        }
        if !r.thresholds.is_empty() {
            let _ = writeln!(w, "\n| threshold | observed | result |\n|---|---|---|");
            for t in &r.thresholds {
                let _ = writeln!(
                    w,
                    "| `{}` | {} | {} |",
                    t.expr,
                    t.observed.as_deref().unwrap_or("nothing measured"),
                    if t.passed { "passed" } else { "**FAILED**" }
                );
            }
        }
        if !r.errors.is_empty() {
            let _ = writeln!(w, "\n| failure | events |\n|---|---:|");
            for (kind, e) in &r.errors {
                let _ = writeln!(w, "| {kind} | {} |", e.count);
            }
        }
        let _ = writeln!(w);
    }
    out
}

/// The console summary of a result, as the run printed it, with its thresholds' verdicts.
pub fn text(r: &RunResult) -> String {
    format!(
        "{}{}",
        crate::report::final_summary(r),
        super::thresholds::summary_lines(&r.thresholds)
    )
}
