//! The two-sided Mann–Whitney U test on samples given as (value, count) pairs, such as the
//! recorded buckets of two HDR histograms: every recorded value is one sample, values in one
//! bucket are ties. Normal approximation with the tie and continuity corrections, as
//! `scipy.stats.mannwhitneyu(..., method="asymptotic")`; U, the tie term and the variance's
//! numerator are kept in exact integers, so millions of tied values lose nothing.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::mann_whitney::{MannWhitney, Method, StatsError};

/// The test of `x` against `y`, each a list of (value, how many times it occurs); pairs may
/// come in any order and repeat a value. Zero counts are ignored.
pub fn mann_whitney_u_counts(
    x: &[(u64, u64)],
    y: &[(u64, u64)],
) -> Result<MannWhitney, StatsError> {
    let mut pooled: BTreeMap<u64, (u128, u128)> = BTreeMap::new();
    for &(v, c) in x.iter().filter(|p| p.1 > 0) {
        pooled.entry(v).or_default().0 += u128::from(c);
    }
    for &(v, c) in y.iter().filter(|p| p.1 > 0) {
        pooled.entry(v).or_default().1 += u128::from(c);
    }
    let n1: u128 = pooled.values().map(|c| c.0).sum();
    let n2: u128 = pooled.values().map(|c| c.1).sum();
    if n1 == 0 || n2 == 0 {
        return Err(StatsError::Empty);
    }
    let n = n1 + n2;
    // n³ must fit: the tie term is at most n³ − n.
    n.checked_mul(n)
        .and_then(|n2| n2.checked_mul(n + 1))
        .ok_or(StatsError::TooLarge)?;
    // 2·U1 = Σ over x's values of (2·(y values below) + (y values equal)).
    let mut twice_u1: u128 = 0;
    let mut tie_term: u128 = 0;
    let mut y_below: u128 = 0;
    for &(cx, cy) in pooled.values() {
        twice_u1 += cx * (2 * y_below + cy);
        let t = cx + cy;
        tie_term += t * t * t - t;
        y_below += cy;
    }
    let twice_u_max = twice_u1.max(2 * n1 * n2 - twice_u1);
    // Var(U) = n1·n2/12 · ((n + 1) − tie_term / (n(n − 1))) = n1·n2 · numerator / (12 n (n − 1)).
    let numerator = (n + 1) * n * (n - 1) - tie_term;
    let p_value = if numerator == 0 {
        // Every value is the same: nothing tells the samples apart.
        1.0
    } else {
        let variance = (n1 * n2) as f64 * numerator as f64 / (12.0 * (n * (n - 1)) as f64);
        // U − mean, exactly, then the continuity correction.
        let distance = (twice_u_max - n1 * n2) as f64 / 2.0 - 0.5;
        let z = distance / variance.sqrt();
        (2.0 * 0.5 * libm::erfc(z / std::f64::consts::SQRT_2)).clamp(0.0, 1.0)
    };
    Ok(MannWhitney {
        u: twice_u1 as f64 / 2.0,
        p_value,
        method: Method::Asymptotic,
        pairs: (n1 * n2) as f64,
    })
}

/// (value, count) of each recorded bucket; the value is the bucket's highest equivalent value,
/// so histograms of the same bounds put equal values in equal buckets.
pub fn histogram_counts(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

/// The test of two histograms, every recorded value a sample.
pub fn mann_whitney_u_histograms(
    x: &Histogram<u64>,
    y: &Histogram<u64>,
) -> Result<MannWhitney, StatsError> {
    mann_whitney_u_counts(&histogram_counts(x), &histogram_counts(y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::mann_whitney_u;

    fn expand(pairs: &[(u64, u64)]) -> Vec<f64> {
        pairs
            .iter()
            .flat_map(|&(v, c)| std::iter::repeat_n(v as f64, c as usize))
            .collect()
    }

    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() <= 1e-12 * expected.abs().max(1e-3),
            "{actual} != {expected}"
        );
    }

    // The expected U and p-values were computed with SciPy 1.17.1 on the expanded samples:
    //   x = numpy.repeat(values, counts) (likewise y)
    //   scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
    #[test]
    fn small_expanded_samples_with_ties_match_scipy() {
        let x = [(10, 3), (20, 1), (30, 2)];
        let y = [(20, 2), (30, 1), (40, 4)];
        let r = mann_whitney_u_counts(&x, &y).unwrap();
        assert_eq!(r.u, SCIPY_A.0);
        close(r.p_value, SCIPY_A.1);
        // Order and repeated values do not matter.
        let shuffled = [(30, 1), (10, 2), (20, 1), (30, 1), (10, 1)];
        assert_eq!(mann_whitney_u_counts(&shuffled, &y).unwrap(), r);

        let x = [(1, 50), (2, 30), (3, 20)];
        let y = [(1, 40), (2, 30), (3, 25), (4, 5)];
        let r = mann_whitney_u_counts(&x, &y).unwrap();
        assert_eq!(r.u, SCIPY_B.0);
        close(r.p_value, SCIPY_B.1);
    }

    const SCIPY_A: (f64, f64) = (6.0, 0.03259675941649578);
    const SCIPY_B: (f64, f64) = (4300.0, 0.06696850198431498);

    #[test]
    fn agrees_with_the_sample_based_test_on_the_expanded_samples() {
        // Seeded so the check is repeatable; ties from the few distinct values.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261201);
        for shift in [0u64, 1, 3] {
            let mut draw = |offset: u64| -> Vec<(u64, u64)> {
                (0..40)
                    .map(|_| (rng.random_range(0..12) + offset, 1))
                    .collect()
            };
            let (x, y) = (draw(0), draw(shift));
            let weighted = mann_whitney_u_counts(&x, &y).unwrap();
            let plain = mann_whitney_u(&expand(&x), &expand(&y)).unwrap();
            assert_eq!(plain.method, Method::Asymptotic);
            assert_eq!(weighted.u, plain.u);
            close(weighted.p_value, plain.p_value);
        }
    }

    #[test]
    fn histograms_are_their_recorded_values() {
        let mut base = crate::result::hdr::histogram();
        let mut slower = crate::result::hdr::histogram();
        for v in 0..2_000u64 {
            base.record(10_000 + v % 500).unwrap();
            slower.record(11_000 + v % 500).unwrap();
        }
        let r = mann_whitney_u_histograms(&base, &slower).unwrap();
        assert!(r.p_value < 1e-12, "{r:?}");
        assert_eq!(r.u, 0.0);
        let same = mann_whitney_u_histograms(&base, &base).unwrap();
        assert_eq!(same.u, 2_000.0 * 2_000.0 / 2.0);
        assert_eq!(same.p_value, 1.0);
        // The same test as on the buckets' values expanded one by one.
        let plain = mann_whitney_u(
            &expand(&histogram_counts(&base)),
            &expand(&histogram_counts(&slower)),
        )
        .unwrap();
        close(r.p_value, plain.p_value);
    }

    #[test]
    fn all_equal_empty_and_huge_samples() {
        let r = mann_whitney_u_counts(&[(5, 1_000_000_000)], &[(5, 3)]).unwrap();
        assert_eq!((r.u, r.p_value), (1.5e9, 1.0));
        assert_eq!(
            mann_whitney_u_counts(&[(1, 0)], &[(1, 1)]),
            Err(StatsError::Empty)
        );
        assert_eq!(
            mann_whitney_u_counts(&[(1, u64::MAX)], &[(2, u64::MAX)]),
            Err(StatsError::TooLarge)
        );
        // A billion values a side, one apart: exact U, clearly significant.
        let r = mann_whitney_u_counts(&[(1, 1_000_000_000)], &[(2, 1_000_000_000)]).unwrap();
        assert_eq!(r.u, 0.0);
        assert!(r.p_value < 1e-100);
    }
}
