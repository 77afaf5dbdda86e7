//! Two results compared metric by metric: the whole-run values side by side, the change in %,
//! and a verdict (`stats::NoiseRule`): a change counts only beyond the noise fraction and when
//! the Mann–Whitney U test on the per-bucket samples of the time series finds the two runs'
//! buckets different. Metrics without per-bucket samples (per activity, write → visible) are
//! shown, never judged.

use std::fmt::Write;

use serde::Serialize;

use super::{RunResult, SeriesBucket};
use crate::metrics::Percentiles;
use crate::stats::{judge, mann_whitney_u, Direction, NoiseRule, Verdict};

/// One line of a comparison.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    /// What is compared, e.g. `p99 latency (ms)`.
    pub metric: String,
    /// `overall` or an activity key.
    pub scope: String,
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// (new − base) / base in %, none when either side is missing or base is 0.
    pub change_pct: Option<f64>,
    /// Of the U test on the per-bucket samples; none when the metric is not judged.
    pub p_value: Option<f64>,
    /// `unchanged`, `improved`, `regressed`, or `not judged`.
    pub verdict: &'static str,
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Comparison {
    pub base: String,
    pub new: String,
    pub noise: f64,
    pub alpha: f64,
    pub rows: Vec<Row>,
}

impl Comparison {
    pub fn regressions(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.verdict == "regressed")
            .collect()
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Unchanged => "unchanged",
        Verdict::Improved => "improved",
        Verdict::Regressed => "regressed",
    }
}

fn change_pct(base: Option<f64>, new: Option<f64>) -> Option<f64> {
    match (base, new) {
        (Some(b), Some(n)) if b != 0.0 => Some((n - b) / b.abs() * 100.0),
        (Some(b), Some(n)) if b == n => Some(0.0),
        _ => None,
    }
}

/// A judged row: whole-run `base`/`new`, per-bucket samples for the test.
fn judged(
    metric: &str,
    values: (Option<f64>, Option<f64>),
    samples: (Vec<f64>, Vec<f64>),
    direction: Direction,
    rule: &NoiseRule,
) -> Row {
    let (base, new) = values;
    let test = mann_whitney_u(&samples.0, &samples.1).ok();
    let (p_value, verdict) = match (base, new, test) {
        (Some(b), Some(n), Some(t)) => (
            Some(t.p_value),
            verdict_name(judge(b, n, t.p_value, direction, rule)),
        ),
        // No bucket on a side: nothing to test, nothing claimed.
        _ => (None, "unchanged"),
    };
    Row {
        metric: metric.to_string(),
        scope: "overall".into(),
        base,
        new,
        change_pct: change_pct(base, new),
        p_value,
        verdict,
    }
}

fn shown(metric: &str, scope: &str, base: Option<f64>, new: Option<f64>) -> Row {
    Row {
        metric: metric.to_string(),
        scope: scope.to_string(),
        base,
        new,
        change_pct: change_pct(base, new),
        p_value: None,
        verdict: "not judged",
    }
}

/// Per-bucket samples of a result: `value` of each bucket it applies to.
fn per_bucket(r: &RunResult, value: impl Fn(&SeriesBucket) -> Option<f64>) -> Vec<f64> {
    r.time_series.iter().filter_map(value).collect()
}

fn latency_q(q: f64) -> impl Fn(&SeriesBucket) -> Option<f64> {
    move |b| {
        (!b.bucket.latency.is_empty())
            .then(|| b.bucket.latency.value_at_quantile(q) as f64 / 1000.0)
    }
}

fn lateness_q(q: f64) -> impl Fn(&SeriesBucket) -> Option<f64> {
    move |b| {
        (!b.bucket.lateness.is_empty())
            .then(|| b.bucket.lateness.value_at_quantile(q) as f64 / 1000.0)
    }
}

fn pick(p: &Percentiles, f: fn(&Percentiles) -> f64) -> Option<f64> {
    (p.count > 0).then(|| f(p))
}

/// Compares `new` with `base` under `rule`.
pub fn compare(base: (&str, &RunResult), new: (&str, &RunResult), rule: &NoiseRule) -> Comparison {
    let (b, n) = (base.1, new.1);
    let mut rows = Vec::new();
    let width = |r: &RunResult| r.time_series_bucket_s.max(1) as f64;
    rows.push(judged(
        "throughput (events/min)",
        (Some(b.throughput_per_min), Some(n.throughput_per_min)),
        (
            per_bucket(b, |s| Some(s.bucket.events as f64 * 60.0 / width(b))),
            per_bucket(n, |s| Some(s.bucket.events as f64 * 60.0 / width(n))),
        ),
        Direction::HigherIsBetter,
        rule,
    ));
    let success = |s: &SeriesBucket| {
        (s.bucket.events > 0).then(|| s.successes as f64 * 100.0 / s.bucket.events as f64)
    };
    rows.push(judged(
        "success (%)",
        (Some(b.success_rate * 100.0), Some(n.success_rate * 100.0)),
        (per_bucket(b, success), per_bucket(n, success)),
        Direction::HigherIsBetter,
        rule,
    ));
    type Field = fn(&Percentiles) -> f64;
    let quantiles: [(&str, f64, Field); 4] = [
        ("p50", 0.50, |p| p.p50_ms),
        ("p95", 0.95, |p| p.p95_ms),
        ("p99", 0.99, |p| p.p99_ms),
        ("max", 1.0, |p| p.max_ms),
    ];
    for (name, q, field) in quantiles {
        rows.push(judged(
            &format!("{name} latency (ms)"),
            (
                pick(&b.latency_from_intended_time, field),
                pick(&n.latency_from_intended_time, field),
            ),
            (per_bucket(b, latency_q(q)), per_bucket(n, latency_q(q))),
            Direction::LowerIsBetter,
            rule,
        ));
    }
    rows.push(judged(
        "p99 lateness (ms)",
        (
            pick(&b.lateness, |p| p.p99_ms),
            pick(&n.lateness, |p| p.p99_ms),
        ),
        (
            per_bucket(b, lateness_q(0.99)),
            per_bucket(n, lateness_q(0.99)),
        ),
        Direction::LowerIsBetter,
        rule,
    ));
    let visible = |r: &RunResult, f: Field| {
        r.write_to_visible
            .as_ref()
            .and_then(|v| pick(&v.write_to_visible, f))
    };
    if b.write_to_visible.is_some() || n.write_to_visible.is_some() {
        for (name, _, field) in [quantiles[0], quantiles[2]] {
            rows.push(shown(
                &format!("{name} write to visible (ms)"),
                "overall",
                visible(b, field),
                visible(n, field),
            ));
        }
    }
    let keys: std::collections::BTreeSet<&String> =
        b.activities.keys().chain(n.activities.keys()).collect();
    for key in keys {
        let (ba, na) = (b.activities.get(key), n.activities.get(key));
        let events = |a: Option<&super::ActivityResult>| a.map(|a| (a.succeeded + a.failed) as f64);
        if events(ba).unwrap_or(0.0) == 0.0 && events(na).unwrap_or(0.0) == 0.0 {
            continue;
        }
        let rate = |a: Option<&super::ActivityResult>| {
            a.filter(|a| a.succeeded + a.failed > 0)
                .map(|a| a.succeeded as f64 * 100.0 / (a.succeeded + a.failed) as f64)
        };
        rows.push(shown("events", key, events(ba), events(na)));
        rows.push(shown("success (%)", key, rate(ba), rate(na)));
        for (name, _, field) in quantiles {
            rows.push(shown(
                &format!("{name} latency (ms)"),
                key,
                ba.and_then(|a| pick(&a.latency_from_intended_time, field)),
                na.and_then(|a| pick(&a.latency_from_intended_time, field)),
            ));
        }
    }
    Comparison {
        base: base.0.to_string(),
        new: new.0.to_string(),
        noise: rule.noise,
        alpha: rule.alpha,
        rows,
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.2}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:+.1}%"))
}

fn p(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.3}"))
}

impl Comparison {
    fn headline(&self) -> String {
        let regressions = self.regressions();
        if regressions.is_empty() {
            "no regression".to_string()
        } else {
            let what: Vec<String> = regressions.iter().map(|r| r.metric.clone()).collect();
            format!("REGRESSION: {}", what.join(", "))
        }
    }

    fn rule_line(&self) -> String {
        format!(
            "a change counts beyond {:.1}% noise and when the Mann-Whitney U test on the \
             per-bucket samples gives p < {}; per-activity and write-to-visible rows have no \
             per-bucket samples and are not judged",
            self.noise * 100.0,
            self.alpha
        )
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "Comparison: {} (base) -> {} (new)", self.base, self.new);
        let _ = writeln!(
            w,
            "{:<30} {:<18} {:>12} {:>12} {:>9} {:>7}  verdict",
            "metric", "scope", "base", "new", "change", "p"
        );
        for r in &self.rows {
            let _ = writeln!(
                w,
                "{:<30} {:<18} {:>12} {:>12} {:>9} {:>7}  {}",
                r.metric,
                r.scope,
                num(r.base),
                num(r.new),
                pct(r.change_pct),
                p(r.p_value),
                r.verdict
            );
        }
        let _ = writeln!(w, "({})", self.rule_line());
        let _ = writeln!(w, "Verdict: {}", self.headline());
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "### loadgen compare: `{}` → `{}`: {}\n",
            self.base,
            self.new,
            self.headline()
        );
        let _ = writeln!(
            w,
            "| metric | scope | base | new | change | p | verdict |\n|---|---|---:|---:|---:|---:|---|"
        );
        for r in &self.rows {
            let verdict = if r.verdict == "regressed" {
                "**regressed**"
            } else {
                r.verdict
            };
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {verdict} |",
                r.metric,
                r.scope,
                num(r.base),
                num(r.new),
                pct(r.change_pct),
                p(r.p_value)
            );
        }
        let _ = writeln!(w, "\n_{}_", self.rule_line());
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a comparison serialises")
    }

    /// The comparison as a page table.
    pub fn table(&self) -> crate::html::Table {
        use crate::html::{Cell, CellKind};
        crate::html::Table {
            caption: format!("{}: {}", self.headline(), self.rule_line()),
            head: ["metric", "scope", "base", "new", "change", "p", "verdict"]
                .map(String::from)
                .to_vec(),
            rows: self
                .rows
                .iter()
                .map(|r| {
                    vec![
                        Cell::text(&r.metric),
                        Cell::text(&r.scope),
                        Cell::number(num(r.base)),
                        Cell::number(num(r.new)),
                        Cell::number(pct(r.change_pct)),
                        Cell::number(p(r.p_value)),
                        Cell {
                            text: r.verdict.to_string(),
                            kind: match r.verdict {
                                "regressed" => CellKind::Failed,
                                "improved" => CellKind::Passed,
                                _ => CellKind::Text,
                            },
                        },
                    ]
                })
                .collect(),
        }
    }
}
