//! Thresholds on results: the result document (and a run's measurements while it runs) as a
//! `threshold::ThresholdSource`, and the verdicts as the document records them.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::RunResult;
use crate::event::Activity;
use crate::metrics::{Metrics, Timings};
use crate::threshold::{
    hdr_value_at_rank, Evaluation, Metric, Outcomes, Scope, ThresholdPlan, ThresholdSource,
};

/// One threshold's verdict as a result document records it (`thresholds`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ThresholdRecord {
    /// The expression as given.
    pub expr: String,
    pub passed: bool,
    /// The value it was checked against, as the summary prints it; none when nothing was
    /// measured (which fails).
    #[serde(default)]
    pub observed: Option<String>,
}

impl ThresholdRecord {
    pub fn of(evaluation: &Evaluation) -> Vec<ThresholdRecord> {
        evaluation
            .verdicts
            .iter()
            .map(|v| ThresholdRecord {
                expr: v.threshold.text.clone(),
                passed: v.passed,
                observed: v.observed.map(|o| o.to_string()),
            })
            .collect()
    }
}

/// The summary's lines for recorded verdicts.
pub fn summary_lines(records: &[ThresholdRecord]) -> String {
    if records.is_empty() {
        return String::new();
    }
    let passed = records.iter().filter(|r| r.passed).count();
    let mut out = format!("Thresholds: {passed} of {} passed\n", records.len());
    for r in records {
        let status = if r.passed { "passed" } else { "FAILED" };
        match &r.observed {
            Some(o) => out.push_str(&format!("  {status}  {} (observed {o})\n", r.expr)),
            None => out.push_str(&format!("  {status}  {} (nothing measured)\n", r.expr)),
        }
    }
    out
}

fn timing(t: &Timings, metric: Metric) -> Option<&Histogram<u64>> {
    match metric {
        Metric::Latency => Some(&t.latency),
        Metric::Service => Some(&t.service),
        Metric::Lateness => Some(&t.lateness),
        Metric::Visible => None,
    }
}

fn micros(h: &Histogram<u64>, rank: u64) -> Option<Duration> {
    hdr_value_at_rank(h, rank).map(Duration::from_micros)
}

impl RunResult {
    fn histogram_of(&self, metric: Metric, scope: Scope) -> Option<&Histogram<u64>> {
        match (metric, scope) {
            // Probes are timed by kind of write, not by activity.
            (Metric::Visible, Scope::Overall) => {
                self.write_to_visible.as_ref().map(|v| &v.histogram)
            }
            (Metric::Visible, Scope::Activity(_)) => None,
            (m, Scope::Overall) => timing(&self.histograms, m),
            (m, Scope::Activity(a)) => self
                .activities
                .get(a.key())
                .and_then(|r| timing(&r.histograms, m)),
        }
    }

    /// Checks `plan` on this result and records the verdicts in it (replacing any it had:
    /// a merged result's verdicts are the merge's, not its shards').
    pub fn apply_thresholds(&mut self, plan: &ThresholdPlan) -> Evaluation {
        let evaluation = plan.evaluate(self);
        self.thresholds = ThresholdRecord::of(&evaluation);
        evaluation
    }
}

impl ThresholdSource for RunResult {
    fn sample_count(&self, metric: Metric, scope: Scope) -> u64 {
        self.histogram_of(metric, scope).map_or(0, |h| h.len())
    }

    fn value_at_rank(&self, metric: Metric, scope: Scope, rank: u64) -> Option<Duration> {
        micros(self.histogram_of(metric, scope)?, rank)
    }

    fn outcomes(&self, scope: Scope) -> Outcomes {
        let of = |a: &super::ActivityResult| Outcomes {
            ended: a.succeeded + a.failed,
            succeeded: a.succeeded,
        };
        match scope {
            Scope::Overall => Outcomes {
                ended: self.total(),
                succeeded: self.total() - self.total_failures(),
            },
            Scope::Activity(a) => self.activities.get(a.key()).map(of).unwrap_or_default(),
        }
    }

    fn elapsed(&self) -> Option<Duration> {
        Duration::try_from_secs_f64(self.duration_s).ok()
    }
}

/// A run's measurements so far, for `--abort-on-threshold` (no probes: `visible` never gives
/// up, see `Threshold::can_still_pass`).
pub struct Live<'a> {
    pub metrics: &'a Metrics,
    pub elapsed: Duration,
}

impl Live<'_> {
    fn histogram_of(&self, metric: Metric, scope: Scope) -> Option<&Histogram<u64>> {
        match scope {
            Scope::Overall => match metric {
                Metric::Latency => Some(&self.metrics.latency),
                Metric::Service => Some(&self.metrics.service),
                Metric::Lateness => Some(&self.metrics.lateness),
                Metric::Visible => None,
            },
            Scope::Activity(a) => timing(&self.metrics.by_activity[a.index()], metric),
        }
    }
}

impl ThresholdSource for Live<'_> {
    fn sample_count(&self, metric: Metric, scope: Scope) -> u64 {
        self.histogram_of(metric, scope).map_or(0, |h| h.len())
    }

    fn value_at_rank(&self, metric: Metric, scope: Scope, rank: u64) -> Option<Duration> {
        micros(self.histogram_of(metric, scope)?, rank)
    }

    fn outcomes(&self, scope: Scope) -> Outcomes {
        let m = self.metrics;
        let of = |a: Activity| Outcomes {
            ended: m.successes[a.index()] + m.failures[a.index()],
            succeeded: m.successes[a.index()],
        };
        match scope {
            Scope::Overall => Activity::ALL.iter().fold(Outcomes::default(), |acc, &a| {
                let o = of(a);
                Outcomes {
                    ended: acc.ended + o.ended,
                    succeeded: acc.succeeded + o.succeeded,
                }
            }),
            Scope::Activity(a) => of(a),
        }
    }

    fn elapsed(&self) -> Option<Duration> {
        Some(self.elapsed)
    }
}

/// Watches a run's completed events for `--abort-on-threshold`: once a threshold can no
/// longer pass whatever the remaining events do, `observe` says which.
pub struct AbortWatch {
    plan: ThresholdPlan,
    /// At most this many events can end in the whole run (`None`: unbounded, e.g. `start`,
    /// where nothing ever gives up).
    bound: Option<u64>,
    metrics: Metrics,
    started: std::time::Instant,
    lost: bool,
}

impl AbortWatch {
    pub fn new(plan: ThresholdPlan, bound: Option<u64>) -> AbortWatch {
        AbortWatch {
            plan,
            bound,
            metrics: Metrics::default(),
            started: std::time::Instant::now(),
            lost: false,
        }
    }

    /// Adds a completed event; returns the threshold that was just lost, once.
    pub fn observe(&mut self, record: &crate::metrics::EventRecord) -> Option<String> {
        if self.lost {
            return None;
        }
        self.metrics.add(record);
        let ended = self.metrics.total();
        // A check walks the histograms: every event at first, then every 32nd.
        if ended > 256 && !ended.is_multiple_of(32) {
            return None;
        }
        let remaining = self.bound.map(|b| b.saturating_sub(ended));
        let live = Live {
            metrics: &self.metrics,
            elapsed: self.started.elapsed(),
        };
        let lost = self
            .plan
            .first_lost(&live, &|_| remaining)
            .map(|t| t.text.clone());
        self.lost = lost.is_some();
        lost
    }
}
