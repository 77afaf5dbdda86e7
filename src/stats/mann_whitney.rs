//! The two-sided Mann–Whitney U test, as benchstat and `scipy.stats.mannwhitneyu` compute it:
//! exact for small samples without ties, otherwise the normal approximation with the tie and
//! continuity corrections.

/// Why a test cannot be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    #[error("a sample is empty: the test needs at least one value on each side")]
    Empty,
    #[error("a sample holds a value that is not a finite number")]
    NotFinite,
}

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// From the exact null distribution of U.
    Exact,
    /// From the normal approximation, tie- and continuity-corrected.
    Asymptotic,
}

/// The outcome of a test of `x` against `y`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample: the number of pairs (x, y) with x > y, ties counting one half
    /// (scipy's `statistic`).
    pub u: f64,
    /// Two-sided p-value, in [0, 1].
    pub p_value: f64,
    pub method: Method,
}

/// The exact distribution is used (as scipy's `method="auto"` does) when there are no ties and
/// one sample has at most this many values.
const EXACT_MAX_SMALLER: usize = 8;
/// ... and the other at most this many: the counts of the exact distribution then fit an
/// `i128` (C(10 008, 8) < 2^127) and take a few milliseconds.
const EXACT_MAX_LARGER: usize = 10_000;

/// The two-sided Mann–Whitney U test of `x` against `y`.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Result<MannWhitney, StatsError> {
    if x.is_empty() || y.is_empty() {
        return Err(StatsError::Empty);
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(StatsError::NotFinite);
    }
    let (n1, n2) = (x.len(), y.len());
    let ranked = average_ranks(x, y);
    let u1 = ranked.rank_sum_x - (n1 * (n1 + 1)) as f64 / 2.0;
    let u2 = (n1 * n2) as f64 - u1;
    let u_max = u1.max(u2);
    let (small, large) = (n1.min(n2), n1.max(n2));
    let exact = !ranked.ties && small <= EXACT_MAX_SMALLER && large <= EXACT_MAX_LARGER;
    let (p, method) = if exact {
        // Without ties U is a whole number.
        let tail = exact_survival(small, large, u_max.round() as usize);
        (2.0 * tail, Method::Exact)
    } else {
        (
            2.0 * normal_survival(n1, n2, u_max, ranked.tie_term),
            Method::Asymptotic,
        )
    };
    Ok(MannWhitney {
        u: u1,
        p_value: p.clamp(0.0, 1.0),
        method,
    })
}

struct Ranked {
    rank_sum_x: f64,
    /// Σ (t³ − t) over the groups of t equal values.
    tie_term: f64,
    ties: bool,
}

/// Ranks of the pooled sample (1-based, ties sharing their average rank), summed over `x`.
fn average_ranks(x: &[f64], y: &[f64]) -> Ranked {
    let mut pooled: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_x = 0.0;
    let mut tie_term = 0.0;
    let mut ties = false;
    let mut start = 0;
    while start < pooled.len() {
        // -0.0 and 0.0 are the same value here, as they are to scipy.
        let end = start
            + pooled[start..]
                .iter()
                .take_while(|p| p.0 == pooled[start].0)
                .count();
        let t = (end - start) as f64;
        // Ranks start+1 ..= end share their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        let in_x = pooled[start..end].iter().filter(|p| p.1).count();
        rank_sum_x += rank * in_x as f64;
        if end - start > 1 {
            ties = true;
            tie_term += t * t * t - t;
        }
        start = end;
    }
    Ranked {
        rank_sum_x,
        tie_term,
        ties,
    }
}

/// P(U ≥ u) under the null hypothesis for samples of `m` and `n` values without ties.
///
/// The number of arrangements with U = k is the coefficient of q^k in the Gaussian binomial
/// [m+n choose m]_q = Π_{i=1..m} (1 − q^(n+i)) / (1 − q^i), built factor by factor in exact
/// integers: after factor i the polynomial is [n+i choose i]_q, whose coefficients are
/// non-negative and at most C(n+i, i).
fn exact_survival(m: usize, n: usize, u: usize) -> f64 {
    let degree = m * n;
    if u > degree {
        return 0.0;
    }
    let mut coefficients = vec![0i128; degree + 1];
    coefficients[0] = 1;
    for i in 1..=m {
        // × (1 − q^(n+i)), from the top so each term reads the old coefficient.
        for k in (n + i..=degree).rev() {
            coefficients[k] -= coefficients[k - n - i];
        }
        // ÷ (1 − q^i): the series 1 + q^i + q^2i + ..., exact because the quotient is a
        // polynomial.
        for k in i..=degree {
            coefficients[k] += coefficients[k - i];
        }
    }
    let total: i128 = coefficients.iter().sum();
    let tail: i128 = coefficients[u..].iter().sum();
    tail as f64 / total as f64
}

/// P(Z ≥ z) for the standardised U, with the tie and continuity corrections.
fn normal_survival(n1: usize, n2: usize, u: f64, tie_term: f64) -> f64 {
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let n = n1f + n2f;
    let mean = n1f * n2f / 2.0;
    let variance = n1f * n2f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if variance <= 0.0 {
        // Every value is the same: nothing tells the samples apart.
        return 1.0;
    }
    let z = (u - mean - 0.5) / variance.sqrt();
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The expected U and p-values were computed with SciPy 1.17.1:
    //   scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method="auto")
    // (`auto` chooses the exact distribution when there are no ties and a sample has at most
    // 8 values, as this module does). The script is in the test names' order.

    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() <= 1e-12 * expected.abs().max(1e-3),
            "{actual} != {expected}"
        );
    }

    fn check(x: &[f64], y: &[f64], u: f64, p: f64, method: Method) {
        let r = mann_whitney_u(x, y).unwrap();
        assert_eq!(r.u, u);
        close(r.p_value, p);
        assert_eq!(r.method, method);
    }

    #[test]
    fn exact_small_samples_without_ties_match_scipy() {
        check(
            &[1.1, 2.3, 3.0, 4.2, 5.5],
            &[2.0, 6.1, 7.3, 8.4, 9.9, 10.2],
            4.0,
            0.05194805194805195,
            Method::Exact,
        );
        check(
            &[1.0, 2.0, 3.0],
            &[4.0, 5.0, 6.0, 7.0],
            0.0,
            0.05714285714285714,
            Method::Exact,
        );
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        check(
            &[0.5, 9.5, 3.25],
            &twenty,
            12.0,
            0.11518915866741952,
            Method::Exact,
        );
    }

    #[test]
    fn ties_use_the_corrected_normal_approximation_like_scipy() {
        check(
            &[1.0, 2.0, 2.0, 3.0, 4.0],
            &[2.0, 3.0, 3.0, 5.0, 6.0, 6.0],
            6.0,
            0.1130499788563229,
            Method::Asymptotic,
        );
    }

    #[test]
    fn larger_samples_use_the_normal_approximation_like_scipy() {
        let x: Vec<f64> = (0..10).map(|i| f64::from(i) * 1.5).collect();
        let y: Vec<f64> = (0..12).map(|i| f64::from(i) * 1.5 + 4.1).collect();
        check(&x, &y, 28.0, 0.03779708390871803, Method::Asymptotic);
    }

    #[test]
    fn seeded_normal_samples_with_rounding_ties_match_scipy() {
        // numpy.random.default_rng(20261201): 40 draws of N(100, 10) and 35 of N(106, 10),
        // rounded to one decimal (which makes ties).
        let a = [
            96.3, 103.3, 101.0, 78.6, 75.9, 107.9, 105.2, 81.2, 92.2, 99.9, 90.2, 128.0, 102.1,
            106.5, 100.6, 94.2, 98.5, 96.1, 104.6, 94.5, 104.4, 106.1, 107.5, 92.2, 103.3, 106.6,
            89.9, 92.4, 93.2, 105.5, 99.4, 94.0, 119.4, 85.6, 96.4, 113.5, 96.1, 99.5, 85.9, 78.5,
        ];
        let b = [
            109.8, 104.7, 101.3, 99.8, 96.8, 106.6, 114.8, 112.8, 98.3, 101.3, 119.2, 99.9, 113.6,
            102.7, 108.2, 106.3, 104.0, 109.9, 134.6, 107.1, 102.2, 100.1, 96.8, 96.2, 99.8, 105.9,
            93.3, 102.1, 97.0, 112.8, 119.1, 118.5, 98.7, 97.7, 88.5,
        ];
        check(&a, &b, 425.5, 0.003613646507549142, Method::Asymptotic);
        // Swapping the samples gives the other U and the same two-sided p-value.
        let swapped = mann_whitney_u(&b, &a).unwrap();
        assert_eq!(swapped.u, (a.len() * b.len()) as f64 - 425.5);
        close(swapped.p_value, 0.003613646507549142);
    }

    #[test]
    fn identical_samples_are_not_told_apart() {
        let r = mann_whitney_u(&[5.0; 12], &[5.0; 9]).unwrap();
        assert_eq!((r.u, r.p_value), (54.0, 1.0));
        // Equal samples without ties: U sits at its mean and the p-value is capped at 1.
        let r = mann_whitney_u(&[1.0, 4.0], &[2.0, 3.0]).unwrap();
        assert_eq!((r.u, r.p_value, r.method), (2.0, 1.0, Method::Exact));
    }

    #[test]
    fn the_exact_distribution_sums_to_one_and_is_symmetric() {
        // C(7, 3) = 35 arrangements; U = 0 and U = 12 each happen once.
        assert_eq!(exact_survival(3, 4, 0), 1.0);
        assert_eq!(exact_survival(3, 4, 12), 1.0 / 35.0);
        assert_eq!(exact_survival(3, 4, 13), 0.0);
        // The largest sizes allowed do not overflow: P(U ≥ max) = 1 / C(10 008, 8).
        let p = exact_survival(8, EXACT_MAX_LARGER, 8 * EXACT_MAX_LARGER);
        let c = (1..=8u32).fold(1f64, |acc, i| acc * f64::from(10_000 + i) / f64::from(i));
        assert!((p * c - 1.0).abs() < 1e-9, "{p} vs 1/{c}");
    }

    #[test]
    fn empty_or_non_finite_samples_are_refused() {
        assert_eq!(mann_whitney_u(&[], &[1.0]), Err(StatsError::Empty));
        assert_eq!(mann_whitney_u(&[1.0], &[]), Err(StatsError::Empty));
        assert_eq!(
            mann_whitney_u(&[1.0, f64::NAN], &[2.0]),
            Err(StatsError::NotFinite)
        );
        assert_eq!(
            mann_whitney_u(&[1.0], &[f64::INFINITY]),
            Err(StatsError::NotFinite)
        );
    }
}
