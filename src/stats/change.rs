//! The verdict on one metric of a comparison: a change counts only when it is larger than the
//! noise fraction AND the Mann–Whitney U test on the per-bucket samples finds it significant
//! (p < alpha), as benchstat reports "~" for anything else.

use super::mann_whitney::{mann_whitney_u, MannWhitney, StatsError};

/// Which way of changing is good for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Latencies, lateness, failures: smaller is better.
    LowerIsBetter,
    /// Throughput, success rate: larger is better.
    HigherIsBetter,
}

/// The thresholds of the rule (`compare --noise`, and the significance level).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseRule {
    /// A relative change of at most this fraction is noise (0.05 = 5%).
    pub noise: f64,
    /// A change is significant when the test's p-value is below this.
    pub alpha: f64,
}

impl Default for NoiseRule {
    fn default() -> Self {
        NoiseRule {
            noise: 0.05,
            alpha: 0.05,
        }
    }
}

/// What the comparison concludes for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the noise, or not significant: no change is claimed.
    Unchanged,
    Improved,
    Regressed,
}

/// The verdict and what it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// Median of the base samples.
    pub base: f64,
    /// Median of the new samples.
    pub new: f64,
    /// (new − base) / base; `None` when base is 0 and new is not (an unbounded change).
    pub change: Option<f64>,
    pub test: MannWhitney,
    pub verdict: Verdict,
}

impl NoiseRule {
    /// Compares the per-bucket samples of one metric in two runs: the change of their medians,
    /// and the U test of the samples.
    pub fn compare(
        &self,
        base: &[f64],
        new: &[f64],
        direction: Direction,
    ) -> Result<Judgement, StatsError> {
        let test = mann_whitney_u(base, new)?;
        let (base, new) = (median(base), median(new));
        let change = relative_change(base, new);
        Ok(Judgement {
            base,
            new,
            change,
            test,
            verdict: judge(base, new, test.p_value, direction, self),
        })
    }
}

/// The rule itself, for a change computed elsewhere (e.g. of the whole-run p99 while the test
/// ran on per-bucket p99s): `base` and `new` are the two values compared, `p_value` the
/// test's.
pub fn judge(base: f64, new: f64, p_value: f64, direction: Direction, rule: &NoiseRule) -> Verdict {
    let beyond_noise = match relative_change(base, new) {
        Some(change) => change.abs() > rule.noise,
        None => true,
    };
    if !beyond_noise || p_value >= rule.alpha {
        return Verdict::Unchanged;
    }
    let went_up = new > base;
    match (direction, went_up) {
        (Direction::LowerIsBetter, true) | (Direction::HigherIsBetter, false) => Verdict::Regressed,
        _ => Verdict::Improved,
    }
}

/// Holm's step-down adjustment of the p-values of a family of tests (in their order): a
/// verdict at `p_adjusted < alpha` keeps the chance of any false verdict in the family at
/// most alpha, where each test at `p < alpha` would have its own.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

fn relative_change(base: f64, new: f64) -> Option<f64> {
    if base == new {
        Some(0.0)
    } else if base == 0.0 {
        None
    } else {
        Some((new - base) / base.abs())
    }
}

/// The median of finite values (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: NoiseRule = NoiseRule {
        noise: 0.05,
        alpha: 0.05,
    };

    #[test]
    fn a_change_needs_both_size_and_significance() {
        use Direction::*;
        // 10% slower and significant: a regression of a latency, an improvement of a rate.
        assert_eq!(
            judge(100.0, 110.0, 0.01, LowerIsBetter, &RULE),
            Verdict::Regressed
        );
        assert_eq!(
            judge(100.0, 110.0, 0.01, HigherIsBetter, &RULE),
            Verdict::Improved
        );
        assert_eq!(
            judge(100.0, 90.0, 0.01, LowerIsBetter, &RULE),
            Verdict::Improved
        );
        assert_eq!(
            judge(100.0, 90.0, 0.01, HigherIsBetter, &RULE),
            Verdict::Regressed
        );
        // Large but not significant (p at alpha is not below it).
        assert_eq!(
            judge(100.0, 150.0, 0.05, LowerIsBetter, &RULE),
            Verdict::Unchanged
        );
        // Significant but within the noise; exactly 5% is still noise.
        assert_eq!(
            judge(100.0, 104.0, 1e-9, LowerIsBetter, &RULE),
            Verdict::Unchanged
        );
        assert_eq!(
            judge(100.0, 105.0, 1e-9, LowerIsBetter, &RULE),
            Verdict::Unchanged
        );
        assert_eq!(
            judge(100.0, 105.5, 1e-9, LowerIsBetter, &RULE),
            Verdict::Regressed
        );
        // From zero any change is beyond the noise.
        assert_eq!(
            judge(0.0, 1.0, 0.001, LowerIsBetter, &RULE),
            Verdict::Regressed
        );
        assert_eq!(
            judge(0.0, 0.0, 0.001, LowerIsBetter, &RULE),
            Verdict::Unchanged
        );
        let loose = NoiseRule {
            noise: 0.2,
            alpha: 0.1,
        };
        assert_eq!(
            judge(100.0, 110.0, 0.01, LowerIsBetter, &loose),
            Verdict::Unchanged
        );
        assert_eq!(
            judge(100.0, 130.0, 0.07, LowerIsBetter, &loose),
            Verdict::Regressed
        );
    }

    #[test]
    fn compare_uses_medians_and_the_test() {
        // Per-bucket p50s (ms) of two runs, the second 20 ms slower in every bucket.
        let base: Vec<f64> = (0..30).map(|i| 100.0 + f64::from(i % 7)).collect();
        let slower: Vec<f64> = base.iter().map(|v| v + 20.0).collect();
        let j = RULE
            .compare(&base, &slower, Direction::LowerIsBetter)
            .unwrap();
        assert_eq!((j.base, j.new), (103.0, 123.0));
        assert!((j.change.unwrap() - 20.0 / 103.0).abs() < 1e-12);
        assert!(j.test.p_value < 1e-6, "{}", j.test.p_value);
        assert_eq!(j.verdict, Verdict::Regressed);

        // The same samples reordered: no change.
        let mut shuffled = base.clone();
        shuffled.reverse();
        let j = RULE
            .compare(&base, &shuffled, Direction::LowerIsBetter)
            .unwrap();
        assert_eq!((j.change, j.verdict), (Some(0.0), Verdict::Unchanged));
        assert!(j.test.p_value > 0.9);

        // Two buckets each: even complete separation cannot be significant (exact p = 1/3).
        let j = RULE
            .compare(&[10.0, 11.0], &[50.0, 51.0], Direction::LowerIsBetter)
            .unwrap();
        assert!((j.test.p_value - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(j.verdict, Verdict::Unchanged);
        assert_eq!(j.new, 50.5);
    }

    #[test]
    fn holm_adjusts_step_down_and_keeps_the_order() {
        // statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.005], method="holm"):
        // [0.03, 0.06, 0.06, 0.02].
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.005]);
        let expected = [0.03, 0.06, 0.06, 0.02];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.5, 0.9]), vec![1.0, 1.0]);
        assert_eq!(holm(&[0.2]), vec![0.2]);
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn empty_samples_are_an_error() {
        assert_eq!(
            RULE.compare(&[], &[1.0], Direction::LowerIsBetter),
            Err(StatsError::Empty)
        );
    }
}
