//! Two results compared metric by metric: the whole-run values side by side, the change in %,
//! and a verdict (`stats::NoiseRule`): a change counts only beyond the noise fraction and when
//! the Mann–Whitney U test on the per-bucket samples of the time series finds the two runs'
//! buckets different. The overall rows are one family, their p-values adjusted together
//! (Holm); the per-activity rows, judged the same way on each activity's buckets, another;
//! write → visible is judged on the probes' buckets. A row
//! without per-bucket samples on a side (e.g. of a schema version 1 result) is not judged.

use std::fmt::Write;

use serde::Serialize;

use super::{RunResult, SeriesBucket};
use crate::event::Activity;
use crate::metrics::{ActivityBucket, Percentiles};
use crate::stats::{holm, judge, mann_whitney_u, Direction, NoiseRule, Verdict};

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

/// An overall row: whole-run `base`/`new`, per-bucket samples for the test; decided with the
/// other overall rows (`decide_together`).
fn judged(
    metric: &str,
    values: (Option<f64>, Option<f64>),
    samples: (Vec<f64>, Vec<f64>),
    direction: Direction,
) -> Pending {
    Pending::test(metric, "overall", values, samples, direction)
}

/// A row whose test has run, before its verdict.
struct Pending {
    row: Row,
    direction: Direction,
}

impl Pending {
    fn test(
        metric: &str,
        scope: &str,
        (base, new): (Option<f64>, Option<f64>),
        samples: (Vec<f64>, Vec<f64>),
        direction: Direction,
    ) -> Pending {
        let test = mann_whitney_u(&samples.0, &samples.1).ok();
        Pending {
            row: Row {
                metric: metric.to_string(),
                scope: scope.to_string(),
                base,
                new,
                change_pct: change_pct(base, new),
                p_value: test
                    .filter(|_| base.is_some() && new.is_some())
                    .map(|t| t.p_value),
                verdict: NOT_JUDGED,
            },
            direction,
        }
    }

    /// The verdict with the p-value `p` (the test's, or adjusted for the rows tested with it).
    fn decide(&mut self, p: Option<f64>, rule: &NoiseRule) {
        let r = &mut self.row;
        r.p_value = p;
        r.verdict = match (r.base, r.new, p) {
            (Some(b), Some(n), Some(p)) => verdict_name(judge(b, n, p, self.direction, rule)),
            // No bucket on a side: nothing to test, nothing claimed.
            _ => NOT_JUDGED,
        };
    }
}

/// The verdict of a row that has no per-bucket samples on a side (e.g. a result of schema
/// version 1 has no per-activity buckets).
const NOT_JUDGED: &str = "not judged";

/// The rows of each activity, judged like the overall rows on the activity's per-bucket
/// samples; as an activity has five rows and a run up to six activities, their p-values are
/// adjusted together (Holm), so that an equal pair is no more likely to show a regression in
/// one of thirty rows than in one.
fn per_activity_rows(b: &RunResult, n: &RunResult, rule: &NoiseRule) -> Vec<Row> {
    type Field = fn(&Percentiles) -> f64;
    let quantiles: [(&str, f64, Field); 4] = [
        ("p50", 0.50, |p| p.p50_ms),
        ("p95", 0.95, |p| p.p95_ms),
        ("p99", 0.99, |p| p.p99_ms),
        ("max", 1.0, |p| p.max_ms),
    ];
    let mut pending = Vec::new();
    for activity in Activity::ALL {
        let key = activity.key();
        let (ba, na) = (b.activities.get(key), n.activities.get(key));
        let events = |a: Option<&super::ActivityResult>| a.map(|a| (a.succeeded + a.failed) as f64);
        if events(ba).unwrap_or(0.0) == 0.0 && events(na).unwrap_or(0.0) == 0.0 {
            continue;
        }
        let rate = |a: Option<&super::ActivityResult>| {
            a.filter(|a| a.succeeded + a.failed > 0)
                .map(|a| a.succeeded as f64 * 100.0 / (a.succeeded + a.failed) as f64)
        };
        let samples = |f: &dyn Fn(&ActivityBucket) -> Option<f64>| {
            (per_activity(b, activity, f), per_activity(n, activity, f))
        };
        pending.push(Pending::test(
            "events",
            key,
            (events(ba), events(na)),
            samples(&|a| Some(a.events as f64)),
            Direction::HigherIsBetter,
        ));
        pending.push(Pending::test(
            "success (%)",
            key,
            (rate(ba), rate(na)),
            samples(&|a| {
                (a.events > 0)
                    .then(|| (a.events - a.failures.min(a.events)) as f64 * 100.0 / a.events as f64)
            }),
            Direction::HigherIsBetter,
        ));
        for (name, q, field) in quantiles {
            pending.push(Pending::test(
                &format!("{name} latency (ms)"),
                key,
                (
                    ba.and_then(|a| pick(&a.latency_from_intended_time, field)),
                    na.and_then(|a| pick(&a.latency_from_intended_time, field)),
                ),
                samples(&|a| {
                    (!a.latency.is_empty()).then(|| a.latency.value_at_quantile(q) as f64 / 1000.0)
                }),
                Direction::LowerIsBetter,
            ));
        }
    }
    decide_together(pending, rule)
}

/// The verdicts of a family of rows, their p-values adjusted together (Holm), so that a pair
/// that differs only by chance regresses in at most alpha of the pairs in any of the family's
/// rows, not in up to alpha of them in each.
fn decide_together(pending: Vec<Pending>, rule: &NoiseRule) -> Vec<Row> {
    let tested: Vec<(usize, f64)> = pending
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.row.p_value.map(|v| (i, v)))
        .collect();
    let adjusted = holm(&tested.iter().map(|(_, p)| *p).collect::<Vec<_>>());
    let mut adjusted_of = vec![None; pending.len()];
    for ((i, _), p) in tested.iter().zip(adjusted) {
        adjusted_of[*i] = Some(p);
    }
    pending
        .into_iter()
        .zip(adjusted_of)
        .map(|(mut p, adjusted)| {
            p.decide(adjusted, rule);
            p.row
        })
        .collect()
}

/// Per-bucket samples of one activity: `value` of the bucket's `ActivityBucket`, in every
/// bucket of the series (an activity without events in a bucket has an empty one there).
/// None when the series has no per-activity buckets at all (schema version 1).
fn per_activity(
    r: &RunResult,
    activity: Activity,
    value: &dyn Fn(&ActivityBucket) -> Option<f64>,
) -> Vec<f64> {
    if r.time_series.iter().all(|s| s.bucket.activities.is_empty()) {
        return Vec::new();
    }
    r.time_series
        .iter()
        .filter_map(|s| value(s.bucket.activities.get(activity)))
        .collect()
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
    let mut rows: Vec<Pending> = Vec::new();
    let width = |r: &RunResult| r.time_series_bucket_s.max(1) as f64;
    rows.push(judged(
        "throughput (events/min)",
        (Some(b.throughput_per_min), Some(n.throughput_per_min)),
        (
            per_bucket(b, |s| Some(s.bucket.events as f64 * 60.0 / width(b))),
            per_bucket(n, |s| Some(s.bucket.events as f64 * 60.0 / width(n))),
        ),
        Direction::HigherIsBetter,
    ));
    let success = |s: &SeriesBucket| {
        (s.bucket.events > 0).then(|| s.successes as f64 * 100.0 / s.bucket.events as f64)
    };
    rows.push(judged(
        "success (%)",
        (Some(b.success_rate * 100.0), Some(n.success_rate * 100.0)),
        (per_bucket(b, success), per_bucket(n, success)),
        Direction::HigherIsBetter,
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
    ));
    let visible = |r: &RunResult, f: Field| {
        r.write_to_visible
            .as_ref()
            .and_then(|v| pick(&v.write_to_visible, f))
    };
    let visible_q = |q: f64| {
        move |s: &SeriesBucket| {
            (!s.bucket.visible.is_empty())
                .then(|| s.bucket.visible.value_at_quantile(q) as f64 / 1000.0)
        }
    };
    if b.write_to_visible.is_some() || n.write_to_visible.is_some() {
        for (name, q, field) in [quantiles[0], quantiles[2]] {
            rows.push(judged(
                &format!("{name} write to visible (ms)"),
                (visible(b, field), visible(n, field)),
                (per_bucket(b, visible_q(q)), per_bucket(n, visible_q(q))),
                Direction::LowerIsBetter,
            ));
        }
    }
    let mut rows = decide_together(rows, rule);
    rows.extend(per_activity_rows(b, n, rule));
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
        let mut line = format!(
            "a change counts beyond {:.1}% noise and when the Mann-Whitney U test on the \
             per-bucket samples gives p < {} (p adjusted by Holm's method over the overall rows, \
             and over the per-activity rows)",
            self.noise * 100.0,
            self.alpha
        );
        let unjudged = self.rows.iter().any(|r| r.verdict == NOT_JUDGED);
        if unjudged {
            line.push_str(
                "; rows not judged have no per-bucket samples on a side (no buckets, or a \
                 result of schema version 1, which has no per-activity or write-to-visible \
                 buckets)",
            );
        }
        line
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A row with the p-value `p` and a change far beyond the noise.
    fn doubled(metric: &str, p: f64) -> Pending {
        let mut row = Pending::test(
            metric,
            "overall",
            (Some(10.0), Some(20.0)),
            (Vec::new(), Vec::new()),
            Direction::LowerIsBetter,
        );
        row.row.p_value = Some(p);
        row
    }

    #[test]
    fn a_family_regresses_on_a_row_only_when_its_p_value_survives_the_adjustment() {
        let rule = NoiseRule::default();
        let family = |first: f64| {
            let mut rows = vec![doubled("p99 lateness (ms)", first)];
            rows.extend((0..7).map(|i| doubled(&format!("row {i}"), 0.8)));
            decide_together(rows, &rule)
        };
        // p = 0.03 alone passes alpha; as one of eight rows it is 0.24 after Holm.
        let one_of_eight = family(0.03);
        assert_eq!(one_of_eight[0].verdict, "unchanged");
        assert!((one_of_eight[0].p_value.unwrap() - 0.24).abs() < 1e-12);
        // Below alpha / 8 it stands.
        assert_eq!(family(0.005)[0].verdict, "regressed");
        assert!(family(0.005)[1..].iter().all(|r| r.verdict == "unchanged"));
    }
}
