//! The probability model: stage delays, basket sizes, quantities, delivery windows, stock moves
//! and new customers' personas. Every draw takes the random stream it may use, so processes
//! never share one.
//!
//! Only integer sampling and `libm` (a pure-Rust libm) are used, so draws are bit-identical on
//! every platform.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Uniform};

use super::time::MS_PER_MINUTE;
use crate::event::OrderStatus;
use crate::world::names::{Persona, FIRST_NAMES, LAST_NAMES, STREETS};

/// How long an order stays in a status before moving on, in minutes (the spec's lifecycle).
pub fn stage_bounds_minutes(status: OrderStatus) -> Option<(u64, u64)> {
    match status {
        OrderStatus::Created => Some((5, 30)),
        OrderStatus::Picking => Some((10, 20)),
        OrderStatus::OutForDelivery => Some((20, 45)),
        OrderStatus::Delivered | OrderStatus::Cancelled => None,
    }
}

/// The longest stage delay `stage_delay` can draw (OUT_FOR_DELIVERY's upper bound).
pub const MAX_STAGE_MS: u64 = 45 * MS_PER_MINUTE;

/// Time spent in `status` before the next transition, uniform over the spec's range.
#[inline]
pub fn stage_delay(rng: &mut ChaCha8Rng, status: OrderStatus) -> u64 {
    let (lo, hi) = stage_bounds_minutes(status).unwrap_or((0, 0));
    rng.random_range(lo * MS_PER_MINUTE..=hi * MS_PER_MINUTE)
}

pub const MAX_LINES_AT_CREATION: usize = 6;
/// Modifications never grow an order past this many lines.
pub const MAX_LINES: usize = 12;

pub fn line_count(rng: &mut ChaCha8Rng) -> usize {
    rng.random_range(1..=MAX_LINES_AT_CREATION)
}

/// Quantities 1–4 weighted 50/30/15/5.
///
/// The draw is `WeightedIndex::new([50, 30, 15, 5])`'s, spelled out: a uniform weight in
/// `0..100` (the same `Uniform<u32>` sampler, so the same random words), then the first
/// quantity whose cumulative weight exceeds it, found by three compares instead of a binary
/// search over a `Vec` behind a call. A test checks it against `WeightedIndex`.
#[derive(Clone)]
pub struct QuantityDistribution(Uniform<u32>);

/// Cumulative weights of quantities 1, 2 and 3 (out of `QUANTITY_TOTAL`).
const QUANTITY_CUMULATIVE: [u32; 3] = [50, 80, 95];
const QUANTITY_TOTAL: u32 = 100;

impl Default for QuantityDistribution {
    fn default() -> Self {
        // A constant, non-empty range: construction cannot fail.
        QuantityDistribution(Uniform::new(0, QUANTITY_TOTAL).expect("static range"))
    }
}

impl QuantityDistribution {
    #[inline]
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> u8 {
        let weight = self.0.sample(rng);
        let [a, b, c] = QUANTITY_CUMULATIVE;
        1 + u8::from(weight >= a) + u8::from(weight >= b) + u8::from(weight >= c)
    }
}

/// Delivery window: starts 2–8 h after placement and lasts 2–4 h (the original tool's ranges),
/// in whole minutes.
pub fn delivery_window(rng: &mut ChaCha8Rng) -> (u16, u16) {
    (rng.random_range(120..=480), rng.random_range(120..=240))
}

/// Gap to the next candidate of a Poisson process with `rate_per_ms`, in (fractional) ms.
#[inline]
pub fn exponential_gap_ms(rng: &mut ChaCha8Rng, rate_per_ms: f64) -> f64 {
    // 1 - U is in (0, 1], so the log is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    -libm::log(u) / rate_per_ms
}

/// Stock level a fresh snapshot of an item is assumed to have before the first update.
pub fn initial_stock(rng: &mut ChaCha8Rng) -> u32 {
    rng.random_range(20..=200)
}

/// Upper bound on stock levels the simulator writes.
pub const MAX_STOCK: u32 = 1_000;

/// The next stock level: a replenishment (60%) adds 20–100 units, an adjustment (40%) moves the
/// level by ±1–10 (shrinkage, recounts), never below zero.
pub fn next_stock_level(rng: &mut ChaCha8Rng, current: u32) -> u32 {
    if rng.random_bool(0.6) {
        (current + rng.random_range(20..=100)).min(MAX_STOCK)
    } else {
        let delta = rng.random_range(1..=10);
        if rng.random_bool(0.5) {
            current.saturating_sub(delta)
        } else {
            (current + delta).min(MAX_STOCK)
        }
    }
}

pub fn persona(rng: &mut ChaCha8Rng) -> Persona {
    Persona {
        first: rng.random_range(0..FIRST_NAMES.len()) as u16,
        last: rng.random_range(0..LAST_NAMES.len()) as u16,
        street: rng.random_range(0..STREETS.len()) as u16,
        house_number: rng.random_range(1..=2500),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(1)
    }

    #[test]
    fn stage_delays_stay_in_the_spec_ranges_and_cover_them() {
        let mut rng = rng();
        for status in [
            OrderStatus::Created,
            OrderStatus::Picking,
            OrderStatus::OutForDelivery,
        ] {
            let (lo, hi) = stage_bounds_minutes(status).unwrap();
            assert!(hi * MS_PER_MINUTE <= MAX_STAGE_MS, "{status}");
            let draws: Vec<u64> = (0..10_000).map(|_| stage_delay(&mut rng, status)).collect();
            let (min, max) = (*draws.iter().min().unwrap(), *draws.iter().max().unwrap());
            assert!(min >= lo * MS_PER_MINUTE && max <= hi * MS_PER_MINUTE);
            // Covers the range: within 1% of each end.
            let span = (hi - lo) * MS_PER_MINUTE;
            assert!(min - lo * MS_PER_MINUTE < span / 100, "{status}");
            assert!(hi * MS_PER_MINUTE - max < span / 100, "{status}");
        }
        assert_eq!(
            stage_bounds_minutes(OrderStatus::OutForDelivery).map(|(_, hi)| hi * MS_PER_MINUTE),
            Some(MAX_STAGE_MS)
        );
        assert!(
            MAX_STAGE_MS <= u64::from(u32::MAX),
            "OpenOrder keeps delays in u32"
        );
    }

    #[test]
    fn quantities_follow_50_30_15_5() {
        let mut rng = rng();
        let dist = QuantityDistribution::default();
        let mut counts = [0u32; 5];
        for _ in 0..100_000 {
            counts[dist.sample(&mut rng) as usize] += 1;
        }
        assert_eq!(counts[0], 0);
        for (q, share) in [(1, 0.50), (2, 0.30), (3, 0.15), (4, 0.05)] {
            let got = counts[q] as f64 / 100_000.0;
            assert!((got - share).abs() < 0.01, "quantity {q}: {got}");
        }
    }

    /// The same quantities as the `WeightedIndex` it spells out, from the same random words:
    /// the two streams stay in step to the end.
    #[test]
    fn quantities_are_weighted_index_draws() {
        use rand::RngCore;
        use rand_distr::weighted::WeightedIndex;
        let reference = WeightedIndex::new([50u32, 30, 15, 5]).unwrap();
        let ours = QuantityDistribution::default();
        let (mut a, mut b) = (rng(), rng());
        let mut seen = [0u32; 5];
        for _ in 0..200_000 {
            let want = reference.sample(&mut a) as u8 + 1;
            assert_eq!(ours.sample(&mut b), want);
            seen[usize::from(want)] += 1;
        }
        assert!(seen[1..].iter().all(|&n| n > 5_000), "{seen:?}");
        assert_eq!(a.next_u64(), b.next_u64(), "same words consumed");
    }

    #[test]
    fn windows_and_line_counts_in_range() {
        let mut rng = rng();
        for _ in 0..10_000 {
            let (start, len) = delivery_window(&mut rng);
            assert!((120..=480).contains(&start) && (120..=240).contains(&len));
            assert!((1..=6).contains(&line_count(&mut rng)));
        }
    }

    #[test]
    fn exponential_gaps_have_the_right_mean() {
        let mut rng = rng();
        let rate = 1.0 / 250.0;
        let n = 200_000;
        let mean = (0..n)
            .map(|_| exponential_gap_ms(&mut rng, rate))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 250.0).abs() < 2.5, "{mean}");
    }

    #[test]
    fn stock_never_negative_or_above_the_cap() {
        let mut rng = rng();
        let mut level = 0;
        for _ in 0..10_000 {
            level = next_stock_level(&mut rng, level);
            assert!(level <= MAX_STOCK);
        }
    }
}
