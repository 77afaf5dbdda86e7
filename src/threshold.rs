//! Thresholds: expressions such as `p99<500ms`, `new_order.p95<300ms` or `success>=99.5%`
//! (from `--threshold` and TOML files) parsed into a typed plan, checked against what a run
//! measured, and the rule that tells when one can no longer pass (`--abort-on-threshold`).
//!
//! # Expressions
//! `[ACTIVITY.][METRIC.]STATISTIC OP VALUE`, spaces allowed around `OP`:
//! * `ACTIVITY`: an activity key (`new_order`, `status_transition`, ...); none means all events.
//! * `METRIC`: `latency` (from the intended time; the default), `service` (first request sent
//!   to last response), `lateness` (intended time to first request sent) or `visible` (write to
//!   visible, from the propagation probes).
//! * `STATISTIC`: `pNN` (`p50`, `p99`, `p99.9`; 0 < NN ≤ 100) or `max` of the metric, with a
//!   duration (`500ms`, `2s`, `250us`, `1.5ms`, `1m`); `success`, the fraction of ended events
//!   that succeeded, with a percentage (`99.5%`) or a fraction (`0.995`); `throughput`, ended
//!   events per second of run time (`100`, `100/s`). `success` and `throughput` take no metric.
//! * `OP`: `<`, `<=`, `>`, `>=`.
//!
//! A threshold on something that has no sample (no event of the activity, no probe) fails:
//! nothing was measured, so nothing says it passed.
//!
//! # File form (`--thresholds ci.toml`)
//! ```toml
//! [[threshold]]
//! expr = "p99<500ms"
//!
//! [[threshold]]
//! expr = "new_order.success>=99.5%"
//! ```
//! Every entry has exactly one key, `expr`; a file without an entry is refused.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::event::Activity;

/// The exit code of a run, merge or comparison whose result breached a threshold (k6 uses the
/// same number); `main` documents it and keeps it apart from 1 (the run itself failed).
pub const EXIT_THRESHOLD_BREACHED: u8 = 99;

/// A time that a run measures, each in its own histograms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Intended time → last response (free of coordinated omission).
    Latency,
    /// First request sent → last response.
    Service,
    /// Intended time → first request sent.
    Lateness,
    /// A write's response → the write visible to a read (propagation probes).
    Visible,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::Latency,
        Metric::Service,
        Metric::Lateness,
        Metric::Visible,
    ];

    /// The name in expressions.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Latency => "latency",
            Metric::Service => "service",
            Metric::Lateness => "lateness",
            Metric::Visible => "visible",
        }
    }

    /// Whether every event adds at most one sample, and only when it ends (or is sent): the
    /// condition for bounding the samples still to come by the events still to come.
    fn one_sample_per_event(self) -> bool {
        // A probe runs after its write has ended, so probes can still arrive when no event
        // is left; how many, nothing bounds.
        !matches!(self, Metric::Visible)
    }
}

/// Which events a threshold looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Overall,
    Activity(Activity),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds<T: PartialOrd>(self, observed: T, limit: T) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
        }
    }

    /// `<` and `<=`: the observed value must stay under the limit.
    fn is_upper_bound(self) -> bool {
        matches!(self, Op::Lt | Op::Le)
    }

    fn accepts(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Lt => ordering == Less,
            Op::Le => ordering != Greater,
            Op::Gt => ordering == Greater,
            Op::Ge => ordering != Less,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        })
    }
}

/// A non-negative decimal number kept exactly: `units / 10^scale`, so that `99.5%` is compared
/// with 995 successes out of 1000 without a rounding error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    pub units: u64,
    pub scale: u32,
}

impl Decimal {
    /// `numerator / denominator` compared with this number, exactly while the products fit.
    fn compare_ratio(self, numerator: u128, denominator: u128) -> std::cmp::Ordering {
        let pow = 10u128.pow(self.scale);
        match (
            numerator.checked_mul(pow),
            u128::from(self.units).checked_mul(denominator),
        ) {
            (Some(left), Some(right)) => left.cmp(&right),
            // Beyond 10^38: far past any count or rate a run has; the float is then exact
            // enough.
            _ => {
                (numerator as f64 / denominator as f64).total_cmp(&(self.units as f64 / pow as f64))
            }
        }
    }

    fn as_f64(self) -> f64 {
        self.units as f64 / 10f64.powi(self.scale as i32)
    }
}

/// What a threshold checks, with its limit in the unit that fits it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Check {
    /// The `q` quantile of a time metric (0 < q ≤ 1; `max` is q = 1).
    Time {
        metric: Metric,
        q: f64,
        limit: Duration,
    },
    /// Succeeded / ended events, against a fraction (`99.5%` is 0.995).
    SuccessRate { limit: Decimal },
    /// Ended events per second of run time.
    Throughput { limit: Decimal },
}

/// One parsed threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The expression as written (without surrounding spaces), for the summary.
    pub text: String,
    pub scope: Scope,
    pub op: Op,
    pub check: Check,
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Ended events in a scope, and how many of them succeeded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub ended: u64,
    pub succeeded: u64,
}

/// What thresholds are checked against: a run's result (final or in progress). The result
/// document implements it; times come from its HDR histograms.
pub trait ThresholdSource {
    /// How many samples of `metric` were recorded in `scope`.
    fn sample_count(&self, metric: Metric, scope: Scope) -> u64;
    /// The `rank`-th smallest sample (1-based, `1..=sample_count`) of `metric` in `scope`, as
    /// the histogram reports it: for an HDR histogram, [`hdr_value_at_rank`], which is what
    /// `value_at_quantile` returns for that rank. `None` outside `1..=sample_count`.
    fn value_at_rank(&self, metric: Metric, scope: Scope, rank: u64) -> Option<Duration>;
    /// Ended events in `scope` and their successes.
    fn outcomes(&self, scope: Scope) -> Outcomes;
    /// The run time that throughput is measured over; `None` if not known.
    fn elapsed(&self) -> Option<Duration>;
}

/// The rank (1-based) of the `q` quantile among `count` samples, as `hdrhistogram`'s
/// `value_at_quantile` computes it: ⌈q·count⌉, at least 1. `count` must be at least 1.
pub fn quantile_rank(q: f64, count: u64) -> u64 {
    ((q.min(1.0) * count as f64).ceil() as u64)
        .max(1)
        .min(count)
}

/// The `rank`-th smallest value recorded in `h` (1-based), reported as the highest value
/// equivalent to its bucket, like `value_at_quantile`; `None` when `rank` is 0 or more than
/// the histogram holds. The result document's [`ThresholdSource::value_at_rank`] is this,
/// converted from the histogram's unit.
pub fn hdr_value_at_rank(h: &Histogram<u64>, rank: u64) -> Option<u64> {
    if rank == 0 || rank > h.len() {
        return None;
    }
    let mut seen = 0u64;
    for v in h.iter_recorded() {
        seen += v.count_at_value();
        if seen >= rank {
            return Some(h.highest_equivalent(v.value_iterated_to()));
        }
    }
    None
}

/// What was observed for a threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Observed {
    Time(Duration),
    SuccessRate { succeeded: u64, ended: u64 },
    Throughput { events: u64, elapsed: Duration },
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Observed::Time(d) => f.write_str(&format_duration(d)),
            Observed::SuccessRate { succeeded, ended } => write!(
                f,
                "{:.2}% ({succeeded} of {ended})",
                succeeded as f64 * 100.0 / ended as f64
            ),
            Observed::Throughput { events, elapsed } => {
                write!(f, "{:.1}/s", events as f64 / elapsed.as_secs_f64())
            }
        }
    }
}

/// A duration the way a summary shows a latency: `850us`, `12.3ms`, `1.250s`.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.1}ms", us / 1_000.0)
    } else {
        format!("{:.3}s", us / 1_000_000.0)
    }
}

/// The outcome of one threshold on a result.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub threshold: Threshold,
    /// `None`: nothing to measure (no sample, no ended event, no run time): the threshold
    /// failed.
    pub observed: Option<Observed>,
    pub passed: bool,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.passed { "passed" } else { "FAILED" };
        match &self.observed {
            Some(o) => write!(f, "{status}  {} (observed {o})", self.threshold),
            None => write!(f, "{status}  {} (nothing measured)", self.threshold),
        }
    }
}

impl Threshold {
    /// The observed value, `None` when there is nothing to measure.
    pub fn observe(&self, source: &dyn ThresholdSource) -> Option<Observed> {
        match self.check {
            Check::Time { metric, q, .. } => {
                let count = source.sample_count(metric, self.scope);
                if count == 0 {
                    return None;
                }
                source
                    .value_at_rank(metric, self.scope, quantile_rank(q, count))
                    .map(Observed::Time)
            }
            Check::SuccessRate { .. } => {
                let o = source.outcomes(self.scope);
                (o.ended > 0).then_some(Observed::SuccessRate {
                    succeeded: o.succeeded,
                    ended: o.ended,
                })
            }
            Check::Throughput { .. } => {
                let events = source.outcomes(self.scope).ended;
                source
                    .elapsed()
                    .filter(|e| !e.is_zero())
                    .map(|elapsed| Observed::Throughput { events, elapsed })
            }
        }
    }

    fn passes(&self, observed: &Observed) -> bool {
        match (self.check, *observed) {
            (Check::Time { limit, .. }, Observed::Time(d)) => self.op.holds(d, limit),
            (Check::SuccessRate { limit }, Observed::SuccessRate { succeeded, ended }) => self
                .op
                .accepts(limit.compare_ratio(succeeded.into(), ended.into())),
            (Check::Throughput { limit }, Observed::Throughput { events, elapsed }) => {
                let ordering = limit.compare_ratio(
                    u128::from(events) * 1_000_000_000,
                    elapsed.as_nanos().max(1),
                );
                self.op.accepts(ordering)
            }
            _ => false,
        }
    }

    /// Checks the threshold on a result.
    pub fn evaluate(&self, source: &dyn ThresholdSource) -> Verdict {
        let observed = self.observe(source);
        Verdict {
            threshold: self.clone(),
            passed: observed.as_ref().is_some_and(|o| self.passes(o)),
            observed,
        }
    }

    /// Whether the threshold can still pass on the final result of a run in progress; false
    /// means it will certainly fail, so `--abort-on-threshold` may stop the run.
    ///
    /// `remaining(scope)` is an upper bound on the events of `scope` that have yet to end
    /// (in flight or not yet sent), `None` when nothing bounds it (`start` without a
    /// duration). A bound that is too high only makes the answer "can still pass" more often,
    /// never a wrong "cannot". With `Some(0)` everywhere the answer is whether the threshold
    /// passes now, except for the two checks that never give up (below).
    ///
    /// The rule, and why it is sound: samples of ended events never change, and the final
    /// result holds them plus at most r = `remaining` more (one per event).
    /// * A quantile with an upper bound (`p99<500ms`, `max<1s`): the smallest final q
    ///   quantile over every possible future is the one with r more samples of 0 added. (A
    ///   quantile is the sample at rank ⌈q·N⌉; lowering any added sample cannot raise an
    ///   order statistic, and one more 0 shifts every rank by one while ⌈q·(N+1)⌉ grows by
    ///   at most one, so it cannot raise the quantile either.) If even that quantile breaks
    ///   the limit, every future does. With r zeros in front the rank-k sample is the current
    ///   rank k − r one, so this needs only the current histogram.
    /// * A quantile with a lower bound (`p50>1ms`): symmetrically, r samples of +∞.
    /// * `success`: the best final rate is (s + r) / (n + r) for a lower bound and s / (n + r)
    ///   for an upper bound; both move towards passing as r grows.
    /// * `visible` quantiles and `throughput` never give up: probes still arrive after the
    ///   last event has ended and their number has no bound, and throughput depends on the
    ///   time still to run.
    pub fn can_still_pass(
        &self,
        source: &dyn ThresholdSource,
        remaining: &dyn Fn(Scope) -> Option<u64>,
    ) -> bool {
        let Some(r) = remaining(self.scope) else {
            return true;
        };
        match self.check {
            Check::Time { metric, q, limit } => {
                if !metric.one_sample_per_event() {
                    return true;
                }
                let n = source.sample_count(metric, self.scope);
                let total = n.saturating_add(r);
                if total == 0 {
                    return false;
                }
                let k = quantile_rank(q, total);
                if self.op.is_upper_bound() {
                    if k <= r {
                        return self.op.holds(Duration::ZERO, limit);
                    }
                    source
                        .value_at_rank(metric, self.scope, k - r)
                        .is_some_and(|v| self.op.holds(v, limit))
                } else {
                    if k > n {
                        return true;
                    }
                    source
                        .value_at_rank(metric, self.scope, k)
                        .is_some_and(|v| self.op.holds(v, limit))
                }
            }
            Check::SuccessRate { limit } => {
                let o = source.outcomes(self.scope);
                let total = u128::from(o.ended) + u128::from(r);
                if total == 0 {
                    return false;
                }
                let best = if self.op.is_upper_bound() {
                    u128::from(o.succeeded)
                } else {
                    u128::from(o.succeeded) + u128::from(r)
                };
                self.op.accepts(limit.compare_ratio(best, total))
            }
            Check::Throughput { .. } => true,
        }
    }
}

/// The thresholds of a command, in the order given (`--threshold` first, then the files).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThresholdPlan {
    pub thresholds: Vec<Threshold>,
}

/// Every threshold's verdict on a result.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub verdicts: Vec<Verdict>,
}

impl Evaluation {
    pub fn all_passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed)
    }

    /// The thresholds that failed, as they were written.
    pub fn breached(&self) -> Vec<&str> {
        self.verdicts
            .iter()
            .filter(|v| !v.passed)
            .map(|v| v.threshold.text.as_str())
            .collect()
    }
}

impl ThresholdPlan {
    /// Parses `--threshold` expressions and `--thresholds` files.
    pub fn from_args(
        expressions: &[String],
        files: &[impl AsRef<Path>],
    ) -> Result<ThresholdPlan, ThresholdError> {
        let mut thresholds = expressions
            .iter()
            .map(|e| parse_threshold(e).map_err(ThresholdError::Expr))
            .collect::<Result<Vec<_>, _>>()?;
        for file in files {
            thresholds.extend(read_threshold_file(file.as_ref())?);
        }
        Ok(ThresholdPlan { thresholds })
    }

    pub fn is_empty(&self) -> bool {
        self.thresholds.is_empty()
    }

    pub fn evaluate(&self, source: &dyn ThresholdSource) -> Evaluation {
        Evaluation {
            verdicts: self.thresholds.iter().map(|t| t.evaluate(source)).collect(),
        }
    }

    /// The first threshold that can no longer pass (see [`Threshold::can_still_pass`]).
    pub fn first_lost(
        &self,
        source: &dyn ThresholdSource,
        remaining: &dyn Fn(Scope) -> Option<u64>,
    ) -> Option<&Threshold> {
        self.thresholds
            .iter()
            .find(|t| !t.can_still_pass(source, remaining))
    }
}

/// An expression that does not parse: which, where (1-based, in characters), and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("threshold `{expr}`, column {column}: {why}")]
pub struct ExprError {
    pub expr: String,
    pub column: usize,
    pub why: String,
}

/// Why thresholds cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ThresholdError {
    #[error("{0}")]
    Expr(ExprError),
    #[error("{path}:{line}: {error}")]
    InFile {
        path: String,
        line: usize,
        error: ExprError,
    },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// Reads a thresholds file (see the module's documentation for its layout).
pub fn read_threshold_file(path: &Path) -> Result<Vec<Threshold>, ThresholdError> {
    let text = std::fs::read_to_string(path).map_err(|source| ThresholdError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_threshold_toml(&text, &path.display().to_string())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdFile {
    #[serde(default)]
    threshold: Vec<FileEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    expr: toml::Spanned<String>,
}

/// Parses the text of a thresholds file; `path` names it in errors.
pub fn parse_threshold_toml(text: &str, path: &str) -> Result<Vec<Threshold>, ThresholdError> {
    let file: ThresholdFile = toml::from_str(text).map_err(|e| ThresholdError::File {
        path: path.to_string(),
        message: e.to_string().trim_end().to_string(),
    })?;
    if file.threshold.is_empty() {
        return Err(ThresholdError::File {
            path: path.to_string(),
            message: "no threshold: add entries such as\n[[threshold]]\nexpr = \"p99<500ms\""
                .into(),
        });
    }
    file.threshold
        .iter()
        .map(|entry| {
            parse_threshold(entry.expr.get_ref()).map_err(|error| ThresholdError::InFile {
                path: path.to_string(),
                line: 1 + text[..entry.expr.span().start].matches('\n').count(),
                error,
            })
        })
        .collect()
}

/// Parses one expression such as `new_order.p95<300ms`.
pub fn parse_threshold(expr: &str) -> Result<Threshold, ExprError> {
    Parser { expr, pos: 0 }.threshold()
}

/// What may start an expression, for the error that finds none of it.
fn name_hint() -> String {
    let activities: Vec<&str> = Activity::ALL.iter().map(|a| a.key()).collect();
    let metrics: Vec<&str> = Metric::ALL.iter().map(|m| m.key()).collect();
    format!(
        "expected a statistic (p50, p99.9, max), success, throughput, a metric ({}) or an \
         activity ({})",
        metrics.join(", "),
        activities.join(", ")
    )
}

struct Parser<'a> {
    expr: &'a str,
    /// Byte offset of the next character.
    pos: usize,
}

enum Stat {
    Quantile(f64),
    Success,
    Throughput,
}

impl<'a> Parser<'a> {
    fn error_at(&self, pos: usize, why: impl Into<String>) -> ExprError {
        ExprError {
            expr: self.expr.to_string(),
            column: self.expr[..pos].chars().count() + 1,
            why: why.into(),
        }
    }

    fn rest(&self) -> &str {
        &self.expr[self.pos..]
    }

    fn skip_spaces(&mut self) {
        self.pos = self.expr.len() - self.rest().trim_start().len();
    }

    /// A lower-case name: letters, digits and `_`.
    fn name(&mut self) -> (usize, &'a str) {
        let expr = self.expr;
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(self.rest().len());
        self.pos += len;
        (start, &expr[start..self.pos])
    }

    fn eat(&mut self, text: &str) -> bool {
        if self.rest().starts_with(text) {
            self.pos += text.len();
            true
        } else {
            false
        }
    }

    fn threshold(mut self) -> Result<Threshold, ExprError> {
        self.skip_spaces();
        let mut scope = Scope::Overall;
        let mut metric = None;
        let (mut start, mut word) = self.name();
        if let Some(activity) = Activity::ALL.into_iter().find(|a| a.key() == word) {
            if !self.eat(".") {
                return Err(self.error_at(
                    self.pos,
                    format!("expected `.` and a statistic after `{word}`, e.g. {word}.p95<300ms"),
                ));
            }
            scope = Scope::Activity(activity);
            (start, word) = self.name();
        }
        if let Some(m) = Metric::ALL.into_iter().find(|m| m.key() == word) {
            if !self.eat(".") {
                return Err(self.error_at(
                    self.pos,
                    format!("expected `.` and a statistic after `{word}`, e.g. {word}.p99<5ms"),
                ));
            }
            metric = Some(m);
            (start, word) = self.name();
        }
        let stat = self.statistic(start, word)?;
        if let (Some(m), Stat::Success | Stat::Throughput) = (metric, &stat) {
            let name = &self.expr[start..self.pos];
            return Err(self.error_at(
                start,
                format!(
                    "`{name}` counts events, it takes no metric: remove `{}.`",
                    m.key()
                ),
            ));
        }
        self.skip_spaces();
        let op_pos = self.pos;
        let op = if self.eat("<=") {
            Op::Le
        } else if self.eat(">=") {
            Op::Ge
        } else if self.eat("<") {
            Op::Lt
        } else if self.eat(">") {
            Op::Gt
        } else {
            return Err(self.error_at(op_pos, "expected a comparison: <, <=, > or >="));
        };
        self.skip_spaces();
        let check = match stat {
            Stat::Quantile(q) => Check::Time {
                metric: metric.unwrap_or(Metric::Latency),
                q,
                limit: self.duration()?,
            },
            Stat::Success => Check::SuccessRate {
                limit: self.fraction()?,
            },
            Stat::Throughput => Check::Throughput {
                limit: self.per_second()?,
            },
        };
        self.skip_spaces();
        if !self.rest().is_empty() {
            return Err(self.error_at(self.pos, "unexpected text after the value"));
        }
        if let (Op::Lt, Check::Time { limit, .. }) = (op, check) {
            if limit.is_zero() {
                return Err(self.error_at(op_pos, "no time is below 0: this cannot pass"));
            }
        }
        Ok(Threshold {
            text: self.expr.trim().to_string(),
            scope,
            op,
            check,
        })
    }

    fn statistic(&mut self, start: usize, word: &str) -> Result<Stat, ExprError> {
        match word {
            "max" => return Ok(Stat::Quantile(1.0)),
            "success" => return Ok(Stat::Success),
            "throughput" => return Ok(Stat::Throughput),
            "" => return Err(self.error_at(start, name_hint())),
            _ => {}
        }
        let digits = word
            .strip_prefix('p')
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        let Some(_) = digits else {
            return Err(self.error_at(start, format!("unknown `{word}`: {}", name_hint())));
        };
        // `p99.9`: the name stopped at the dot.
        if self.rest().starts_with('.')
            && self.rest()[1..].starts_with(|c: char| c.is_ascii_digit())
        {
            self.pos += 1;
            self.name();
        }
        let number = &self.expr[start + 1..self.pos];
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let units: Option<u64> = format!("{whole}{fraction}").parse().ok();
        let Some(units) =
            units.filter(|_| fraction.bytes().all(|b| b.is_ascii_digit()) && fraction.len() <= 12)
        else {
            return Err(self.error_at(start, format!("`p{number}` is not a percentile")));
        };
        // units / 10^(digits + 2), one correctly rounded division: `p99.9` is exactly 0.999.
        let q = units as f64 / 10f64.powi(fraction.len() as i32 + 2);
        if !(q > 0.0 && q <= 1.0) {
            return Err(self.error_at(
                start,
                format!("percentile `p{number}` must be above 0 and at most 100 (p100 is max)"),
            ));
        }
        Ok(Stat::Quantile(q))
    }

    /// An unsigned decimal number, kept exactly; at most 12 digits after the point.
    fn decimal(&mut self, what: &str) -> Result<Decimal, ExprError> {
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(self.rest().len());
        let text = &self.expr[start..start + len];
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let valid = !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && !(text.ends_with('.'));
        if !valid {
            return Err(self.error_at(start, format!("expected {what}")));
        }
        if fraction.len() > 12 {
            return Err(self.error_at(start, "at most 12 digits after the decimal point"));
        }
        let units = format!("{whole}{fraction}")
            .parse::<u64>()
            .ok()
            .filter(|u| *u < 10u64.pow(18))
            .ok_or_else(|| self.error_at(start, "number too large"))?;
        self.pos += len;
        Ok(Decimal {
            units,
            scale: fraction.len() as u32,
        })
    }

    fn duration(&mut self) -> Result<Duration, ExprError> {
        const WHAT: &str = "a duration such as 500ms, 2s, 250us or 1.5ms";
        let start = self.pos;
        let value = self.decimal(WHAT)?;
        let unit_pos = self.pos;
        let (unit, _) = self
            .rest()
            .char_indices()
            .find(|(_, c)| !c.is_alphabetic())
            .map(|(i, _)| self.rest().split_at(i))
            .unwrap_or((self.rest(), ""));
        let nanos_per_unit: u128 = match unit {
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(self.error_at(unit_pos, format!("a time needs a unit: {WHAT}"))),
            other => {
                return Err(self.error_at(
                    unit_pos,
                    format!("unknown unit `{other}`: use us, ms, s, m or h"),
                ))
            }
        };
        self.pos += unit.len();
        let nanos = u128::from(value.units) * nanos_per_unit / 10u128.pow(value.scale);
        let nanos = u64::try_from(nanos).map_err(|_| self.error_at(start, "duration too long"))?;
        Ok(Duration::from_nanos(nanos))
    }

    fn fraction(&mut self) -> Result<Decimal, ExprError> {
        let start = self.pos;
        let mut value = self.decimal("a percentage such as 99.5% or a fraction such as 0.995")?;
        if self.eat("%") {
            value.scale += 2;
        }
        if value.as_f64() > 1.0 {
            return Err(self.error_at(
                start,
                "a success rate is at most 100% (write a percentage with %: 99.5%)",
            ));
        }
        Ok(value)
    }

    fn per_second(&mut self) -> Result<Decimal, ExprError> {
        let value = self.decimal("events per second, such as 100 or 100/s")?;
        self.eat("/s");
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// A result held as sorted samples per (metric, scope), and counts.
    #[derive(Default)]
    struct Fake {
        samples: BTreeMap<(Metric, Scope), Vec<Duration>>,
        outcomes: BTreeMap<Scope, Outcomes>,
        elapsed: Option<Duration>,
    }

    impl Fake {
        fn with(mut self, metric: Metric, scope: Scope, values_ms: &[u64]) -> Fake {
            let mut v: Vec<Duration> = values_ms.iter().map(|m| ms(*m)).collect();
            v.sort();
            self.samples.insert((metric, scope), v);
            self
        }
        fn outcomes(mut self, scope: Scope, ended: u64, succeeded: u64) -> Fake {
            self.outcomes.insert(scope, Outcomes { ended, succeeded });
            self
        }
    }

    impl ThresholdSource for Fake {
        fn sample_count(&self, metric: Metric, scope: Scope) -> u64 {
            self.samples
                .get(&(metric, scope))
                .map_or(0, |v| v.len() as u64)
        }
        fn value_at_rank(&self, metric: Metric, scope: Scope, rank: u64) -> Option<Duration> {
            let v = self.samples.get(&(metric, scope))?;
            v.get(usize::try_from(rank).ok()?.checked_sub(1)?).copied()
        }
        fn outcomes(&self, scope: Scope) -> Outcomes {
            self.outcomes.get(&scope).copied().unwrap_or_default()
        }
        fn elapsed(&self) -> Option<Duration> {
            self.elapsed
        }
    }

    fn t(expr: &str) -> Threshold {
        parse_threshold(expr).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(expr: &str) -> ExprError {
        parse_threshold(expr).expect_err(expr)
    }

    #[test]
    fn every_form_parses_into_its_plan() {
        use Check::*;
        let cases: Vec<(&str, Scope, Op, Check)> = vec![
            (
                "p99<500ms",
                Scope::Overall,
                Op::Lt,
                Time {
                    metric: Metric::Latency,
                    q: 0.99,
                    limit: ms(500),
                },
            ),
            (
                "new_order.p95<300ms",
                Scope::Activity(Activity::NewOrder),
                Op::Lt,
                Time {
                    metric: Metric::Latency,
                    q: 0.95,
                    limit: ms(300),
                },
            ),
            (
                "success>=99.5%",
                Scope::Overall,
                Op::Ge,
                SuccessRate {
                    limit: Decimal {
                        units: 995,
                        scale: 3,
                    },
                },
            ),
            (
                "lateness.p99<5ms",
                Scope::Overall,
                Op::Lt,
                Time {
                    metric: Metric::Lateness,
                    q: 0.99,
                    limit: ms(5),
                },
            ),
            (
                "visible.p99<2s",
                Scope::Overall,
                Op::Lt,
                Time {
                    metric: Metric::Visible,
                    q: 0.99,
                    limit: ms(2000),
                },
            ),
            (
                "max<1s",
                Scope::Overall,
                Op::Lt,
                Time {
                    metric: Metric::Latency,
                    q: 1.0,
                    limit: ms(1000),
                },
            ),
            (
                " p50 <= 20ms ",
                Scope::Overall,
                Op::Le,
                Time {
                    metric: Metric::Latency,
                    q: 0.5,
                    limit: ms(20),
                },
            ),
            (
                "throughput>=100/s",
                Scope::Overall,
                Op::Ge,
                Throughput {
                    limit: Decimal {
                        units: 100,
                        scale: 0,
                    },
                },
            ),
            (
                "cancellation.service.p99.9>1.5ms",
                Scope::Activity(Activity::Cancellation),
                Op::Gt,
                Time {
                    metric: Metric::Service,
                    q: 0.999,
                    limit: Duration::from_micros(1500),
                },
            ),
            (
                "inventory_update.success>0.9",
                Scope::Activity(Activity::InventoryUpdate),
                Op::Gt,
                SuccessRate {
                    limit: Decimal { units: 9, scale: 1 },
                },
            ),
            (
                "latency.p100<=250us",
                Scope::Overall,
                Op::Le,
                Time {
                    metric: Metric::Latency,
                    q: 1.0,
                    limit: Duration::from_micros(250),
                },
            ),
        ];
        for (expr, scope, op, check) in cases {
            let parsed = t(expr);
            assert_eq!(
                (parsed.scope, parsed.op, parsed.check),
                (scope, op, check),
                "{expr}"
            );
            assert_eq!(parsed.text, expr.trim());
        }
    }

    #[test]
    fn errors_name_the_expression_and_the_column() {
        let cases = [
            ("p99<<500ms", 5, "expected a duration"),
            ("p99 500ms", 5, "expected a comparison"),
            ("p99=500ms", 4, "expected a comparison"),
            ("p99<500", 8, "needs a unit"),
            ("p99<500 ms", 8, "needs a unit"),
            ("p99<500ms and more", 11, "unexpected text"),
            ("p99<5 hours", 6, "needs a unit"),
            ("p99<5min", 6, "unknown unit `min`"),
            ("q99<500ms", 1, "unknown `q99`"),
            ("new_order.p0<1s", 11, "above 0"),
            ("p101<1s", 1, "at most 100"),
            ("neworder.p95<300ms", 1, "unknown `neworder`"),
            (
                "new_order<300ms",
                10,
                "expected `.` and a statistic after `new_order`",
            ),
            ("lateness<5ms", 9, "after `lateness`"),
            ("lateness.success>=99%", 10, "takes no metric"),
            ("success>=101%", 10, "at most 100%"),
            ("success>=99", 10, "at most 100%"),
            ("success>=99.5ms", 10, "at most 100%"),
            ("success>=0.5ms", 13, "unexpected text"),
            ("p99<.5ms", 5, "expected a duration"),
            ("p99<0ms", 4, "cannot pass"),
            ("", 1, "expected a statistic"),
            ("  P99<1s", 3, "expected a statistic"),
            ("é.p99<1s", 1, "expected a statistic"),
            ("p99<1µx", 6, "unknown unit `µx`"),
        ];
        for (expr, column, why) in cases {
            let e = err(expr);
            assert_eq!(e.expr, expr);
            assert!(
                e.why.contains(why) && e.column == column,
                "{expr}: got column {} `{}`, want column {column} `{why}`",
                e.column,
                e.why
            );
            assert_eq!(
                e.to_string(),
                format!("threshold `{expr}`, column {column}: {}", e.why)
            );
        }
    }

    #[test]
    fn an_unknown_name_lists_what_is_allowed() {
        let why = err("q99<1s").why;
        for name in Activity::ALL.map(Activity::key) {
            assert!(why.contains(name), "{name} not in {why}");
        }
        for name in Metric::ALL.map(Metric::key) {
            assert!(why.contains(name), "{name} not in {why}");
        }
    }

    #[test]
    fn quantile_thresholds_compare_the_sample_at_hdr_rank() {
        // 100 latencies of 1..=100 ms: p99 is the 99th (99 ms), p50 the 50th, max 100.
        let all: Vec<u64> = (1..=100).collect();
        let src = Fake::default().with(Metric::Latency, Scope::Overall, &all);
        let check = |expr: &str| {
            let v = t(expr).evaluate(&src);
            (v.passed, v.observed)
        };
        assert_eq!(check("p99<100ms"), (true, Some(Observed::Time(ms(99)))));
        assert!(!check("p99<99ms").0);
        assert!(check("p99<=99ms").0);
        assert_eq!(check("p50<=50ms"), (true, Some(Observed::Time(ms(50)))));
        assert!(!check("p50>50ms").0);
        assert!(check("p50>=50ms").0);
        assert_eq!(check("max<1s"), (true, Some(Observed::Time(ms(100)))));
        assert!(!check("max<100ms").0);
        // p99.5 of 100 samples: rank ⌈99.5⌉ = 100.
        assert_eq!(check("p99.5<=99ms"), (false, Some(Observed::Time(ms(100)))));
        // Nothing recorded for that metric or scope: fails, nothing observed.
        assert_eq!(check("visible.p99<2s"), (false, None));
        assert_eq!(check("new_order.p95<300ms"), (false, None));
    }

    #[test]
    fn success_and_throughput_are_compared_exactly() {
        let src = Fake {
            elapsed: Some(ms(10_000)),
            ..Fake::default()
        }
        .outcomes(Scope::Overall, 1000, 995)
        .outcomes(Scope::Activity(Activity::NewOrder), 10, 9);
        let check = |expr: &str| t(expr).evaluate(&src).passed;
        assert!(check("success>=99.5%"));
        assert!(check("success>=0.995"));
        assert!(!check("success>99.5%"));
        assert!(!check("success>=99.51%"));
        assert!(check("success<=99.5%"));
        assert!(check("new_order.success>=90%"));
        assert!(!check("new_order.success>90%"));
        assert!(!check("cancellation.success>=0%"), "no event ended: fails");
        // 1000 events in 10 s.
        assert!(check("throughput>=100"));
        assert!(!check("throughput>100/s"));
        assert!(check("throughput>99.999"));
        assert!(check("new_order.throughput>=1"));
        let v = t("success>=99.6%").evaluate(&src);
        assert_eq!(
            v.to_string(),
            "FAILED  success>=99.6% (observed 99.50% (995 of 1000))"
        );
        let v = t("throughput>=100").evaluate(&src);
        assert_eq!(v.to_string(), "passed  throughput>=100 (observed 100.0/s)");
        let unknown_time = Fake::default().outcomes(Scope::Overall, 10, 10);
        assert!(!t("throughput>=0").evaluate(&unknown_time).passed);
    }

    #[test]
    fn a_plan_from_arguments_and_files_gives_exit_99_on_a_breach() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ci.toml");
        std::fs::write(
            &file,
            "# CI gate\n[[threshold]]\nexpr = \"p99<500ms\"\n\n[[threshold]]\nexpr = \"success>=99%\"\n",
        )
        .unwrap();
        let plan = ThresholdPlan::from_args(&["max<1s".to_string()], &[&file]).unwrap();
        let texts: Vec<&str> = plan.thresholds.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["max<1s", "p99<500ms", "success>=99%"]);

        let fast = Fake::default()
            .with(Metric::Latency, Scope::Overall, &[10, 20, 400])
            .outcomes(Scope::Overall, 100, 99);
        let e = plan.evaluate(&fast);
        assert!(e.all_passed(), "{:?}", e.verdicts);
        assert_eq!(e.breached(), Vec::<&str>::new());
        let slow = Fake::default()
            .with(Metric::Latency, Scope::Overall, &[10, 20, 600])
            .outcomes(Scope::Overall, 100, 99);
        let e = plan.evaluate(&slow);
        let passed: Vec<bool> = e.verdicts.iter().map(|v| v.passed).collect();
        assert_eq!(passed, [true, false, true]);
        assert_eq!(e.breached(), ["p99<500ms"]);
        assert_eq!(EXIT_THRESHOLD_BREACHED, 99);
    }

    #[test]
    fn file_errors_name_the_file_and_line() {
        let e = parse_threshold_toml(
            "[[threshold]]\nexpr = \"p99<500ms\"\n[[threshold]]\nexpr = \"p99<<1s\"\n",
            "ci.toml",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ci.toml:4: threshold `p99<<1s`, column 5: expected a duration such as 500ms, 2s, 250us or 1.5ms"
        );
        let e = parse_threshold_toml("[[threshold]]\nexp = \"p99<1s\"\n", "ci.toml").unwrap_err();
        let message = e.to_string();
        assert!(message.starts_with("ci.toml: "), "{message}");
        assert!(
            message.contains("line 2") && message.contains("exp"),
            "{message}"
        );
        let e = parse_threshold_toml("# nothing\n", "ci.toml").unwrap_err();
        assert!(e.to_string().starts_with("ci.toml: no threshold"), "{e}");
        let e = read_threshold_file(Path::new("/nonexistent/ci.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read /nonexistent/ci.toml: "),
            "{e}"
        );
    }

    #[test]
    fn hdr_rank_agrees_with_value_at_quantile() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for _ in 0..5_000 {
            h.record(rng.random_range(1..2_000_000u64)).unwrap();
        }
        h.record_n(70_000, 400).unwrap();
        // (q = 0 is left out: `value_at_quantile(0.0)` reports the lowest equivalent value, and
        // no threshold asks for p0.)
        for q in [0.001, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0] {
            let rank = quantile_rank(q, h.len());
            assert_eq!(
                hdr_value_at_rank(&h, rank),
                Some(h.value_at_quantile(q)),
                "q {q}"
            );
        }
        assert_eq!(hdr_value_at_rank(&h, 0), None);
        assert_eq!(hdr_value_at_rank(&h, h.len() + 1), None);
        assert_eq!(
            hdr_value_at_rank(&h, h.len()),
            Some(h.highest_equivalent(h.max()))
        );
    }

    #[test]
    fn can_still_pass_gives_up_only_when_no_future_can_pass() {
        // 10 ended events, 3 of them slower than 500 ms.
        let lat = [10, 20, 30, 40, 50, 60, 70, 600, 700, 800];
        let src = Fake::default()
            .with(Metric::Latency, Scope::Overall, &lat)
            .with(Metric::Visible, Scope::Overall, &[9_000, 9_000])
            .outcomes(Scope::Overall, 10, 7);
        let p90 = t("p90<500ms");
        let remaining = |r: Option<u64>| move |_: Scope| r;
        // p90 of N samples is rank ⌈0.9 N⌉; 3 slow samples fit under it once N ≥ 30, i.e.
        // with 20 more fast events.
        assert!(p90.can_still_pass(&src, &remaining(Some(20))));
        assert!(!p90.can_still_pass(&src, &remaining(Some(19))));
        assert!(p90.can_still_pass(&src, &remaining(None)));
        // max can never come back down.
        assert!(!t("max<700ms").can_still_pass(&src, &remaining(Some(1_000_000))));
        assert!(t("max<1s").can_still_pass(&src, &remaining(Some(0))));
        // A lower bound, p50>100ms: with r samples of +∞ added the median is the sample at
        // rank ⌈(10 + r) / 2⌉: r = 4 gives rank 7 (70 ms), r = 5 rank 8 (600 ms).
        assert!(!t("p50>100ms").can_still_pass(&src, &remaining(Some(4))));
        assert!(t("p50>100ms").can_still_pass(&src, &remaining(Some(5))));
        // Success: 7 of 10; 99% needs 290 more successes ((7 + 290) / 300 = 0.99).
        let success = t("success>=99%");
        assert!(success.can_still_pass(&src, &remaining(Some(290))));
        assert!(!success.can_still_pass(&src, &remaining(Some(289))));
        // An upper bound on success: 7 of 10 can only be diluted by failures.
        assert!(!t("success<=50%").can_still_pass(&src, &remaining(Some(3))));
        assert!(t("success<=50%").can_still_pass(&src, &remaining(Some(4))));
        // Probes and throughput never give up.
        assert!(t("visible.p99<1s").can_still_pass(&src, &remaining(Some(0))));
        assert!(t("throughput>=1000000").can_still_pass(&src, &remaining(Some(0))));
        // No sample now and none to come: it will fail.
        assert!(!t("new_order.p99<1s").can_still_pass(&src, &remaining(Some(0))));
        assert!(t("new_order.p99<1s").can_still_pass(&src, &remaining(Some(1))));
    }

    #[test]
    fn with_nothing_remaining_can_still_pass_is_the_verdict() {
        // Over many thresholds and random results, for every check that can give up.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let exprs = [
            "p50<40ms",
            "p90<=80ms",
            "p99<90ms",
            "max<95ms",
            "p50>30ms",
            "p75>=60ms",
            "service.p99<50ms",
            "lateness.max<=10ms",
            "success>=90%",
            "success<95%",
            "new_order.p95<70ms",
            "new_order.success>80%",
        ];
        let mut disagreements = 0;
        let mut passes = 0;
        for _ in 0..200 {
            let mut src = Fake::default();
            for (metric, scope) in [
                (Metric::Latency, Scope::Overall),
                (Metric::Service, Scope::Overall),
                (Metric::Lateness, Scope::Overall),
                (Metric::Latency, Scope::Activity(Activity::NewOrder)),
            ] {
                let n = rng.random_range(0..20);
                let v: Vec<u64> = (0..n).map(|_| rng.random_range(1..100)).collect();
                src = src.with(metric, scope, &v);
            }
            for scope in [Scope::Overall, Scope::Activity(Activity::NewOrder)] {
                let ended = rng.random_range(0..30);
                src = src.outcomes(scope, ended, rng.random_range(0..=ended));
            }
            for expr in exprs {
                let th = t(expr);
                let passed = th.evaluate(&src).passed;
                passes += u32::from(passed);
                if th.can_still_pass(&src, &|_| Some(0)) != passed {
                    disagreements += 1;
                }
            }
        }
        assert_eq!(disagreements, 0);
        // Both answers happen, so the comparison means something.
        assert!(passes > 200 && passes < 2200, "{passes}");
    }

    #[test]
    fn can_still_pass_is_never_wrong_about_a_future() {
        // Brute force: from a random present, play random futures of at most r events; if
        // any future passes, can_still_pass must have said so.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let exprs = [
            "p50<40ms",
            "p90<=60ms",
            "max<90ms",
            "p50>50ms",
            "success>=80%",
            "success<70%",
        ];
        let mut gave_up = 0;
        for _ in 0..300 {
            let n = rng.random_range(0..12u64);
            let lat: Vec<u64> = (0..n).map(|_| rng.random_range(1..100)).collect();
            let ok = rng.random_range(0..=n);
            let r = rng.random_range(0..8u64);
            let present = Fake::default()
                .with(Metric::Latency, Scope::Overall, &lat)
                .outcomes(Scope::Overall, n, ok);
            for expr in exprs {
                let th = t(expr);
                if th.can_still_pass(&present, &|_| Some(r)) {
                    continue;
                }
                gave_up += 1;
                for _ in 0..50 {
                    let extra = rng.random_range(0..=r);
                    let mut future_lat = lat.clone();
                    future_lat.extend((0..extra).map(|_| rng.random_range(0..120)));
                    let future_ok = ok + rng.random_range(0..=extra);
                    let future = Fake::default()
                        .with(Metric::Latency, Scope::Overall, &future_lat)
                        .outcomes(Scope::Overall, n + extra, future_ok);
                    assert!(
                        !th.evaluate(&future).passed,
                        "{expr} gave up on {lat:?} ({ok}/{n}, r {r}) but {future_lat:?} ({future_ok}/{}) passes",
                        n + extra
                    );
                }
            }
        }
        assert!(gave_up > 50, "{gave_up}");
    }

    #[test]
    fn durations_are_shown_in_a_readable_unit() {
        assert_eq!(format_duration(Duration::from_micros(850)), "850us");
        assert_eq!(format_duration(Duration::from_micros(12_345)), "12.3ms");
        assert_eq!(format_duration(ms(1250)), "1.250s");
    }
}
