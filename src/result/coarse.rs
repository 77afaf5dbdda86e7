//! A coarse, exactly mergeable histogram for one bucket of the time series: eight linear
//! sub-bins per power of two (at most 12.5% wide), integer arithmetic only, so the same values
//! fall in the same bins on every platform. Serialised sparse, as `[[bin, count], ...]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Sub-bins per power of two.
const SUB_BINS: u64 = 8;
/// Bins past this cannot hold a value of 64 bits.
const MAX_BIN: usize = (SUB_BINS as usize) * 62;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoarseHistogram {
    counts: Vec<u64>,
}

/// The bin holding `value`: values below 8 have a bin each; above, the leading bit picks the
/// octave and the next three bits the sub-bin.
fn bin_of(value: u64) -> usize {
    if value < SUB_BINS {
        return value as usize;
    }
    let msb = 63 - u64::from(value.leading_zeros());
    let sub = (value >> (msb - 3)) & (SUB_BINS - 1);
    (SUB_BINS * (msb - 2) + sub) as usize
}

/// The highest value that falls in `bin` (what a percentile reports, as HDR does).
fn highest_in(bin: usize) -> u64 {
    let bin = bin as u64;
    if bin < SUB_BINS {
        return bin;
    }
    let (msb, sub) = (bin / SUB_BINS + 2, bin % SUB_BINS);
    // The last bin ends at u64::MAX: its end + 1 does not fit in 64 bits.
    let end = u128::from(SUB_BINS + sub + 1) << (msb - 3);
    u64::try_from(end - 1).unwrap_or(u64::MAX)
}

impl CoarseHistogram {
    pub fn record(&mut self, value: u64) {
        let bin = bin_of(value);
        if self.counts.len() <= bin {
            self.counts.resize(bin + 1, 0);
        }
        self.counts[bin] += 1;
    }

    pub fn add(&mut self, other: &CoarseHistogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
    }

    pub fn len(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The highest value of the bin holding the value at `quantile` (0 when empty).
    pub fn value_at_quantile(&self, quantile: f64) -> u64 {
        let total = self.len();
        if total == 0 {
            return 0;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bin, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return highest_in(bin);
            }
        }
        highest_in(self.counts.len() - 1)
    }
}

impl Serialize for CoarseHistogram {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(bin, n)| (bin, *n)),
        )
    }
}

impl<'de> Deserialize<'de> for CoarseHistogram {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(usize, u64)>::deserialize(d)?;
        let mut h = CoarseHistogram::default();
        for (bin, count) in pairs {
            if bin >= MAX_BIN {
                return Err(serde::de::Error::custom(format!(
                    "bin {bin} is past the last bin {}",
                    MAX_BIN - 1
                )));
            }
            if h.counts.len() <= bin {
                h.counts.resize(bin + 1, 0);
            }
            h.counts[bin] += count;
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_contiguous_and_at_most_an_eighth_of_an_octave_wide() {
        let mut expected_bin = 0;
        let mut lowest = 0u64;
        for value in 0..100_000u64 {
            let bin = bin_of(value);
            if bin != expected_bin {
                assert_eq!(bin, expected_bin + 1, "value {value}");
                assert_eq!(highest_in(expected_bin), value - 1);
                expected_bin = bin;
                lowest = value;
            }
            assert!(highest_in(bin) >= value);
            // 12.5% relative width at most.
            assert!(
                (highest_in(bin) - lowest) * 8 <= lowest.max(1),
                "value {value}"
            );
        }
        assert_eq!(bin_of(u64::MAX), MAX_BIN - 1);
        assert_eq!(highest_in(bin_of(u64::MAX)), u64::MAX);
    }

    #[test]
    fn quantiles_merge_and_round_trip() {
        let (mut a, mut b, mut whole) = (
            CoarseHistogram::default(),
            CoarseHistogram::default(),
            CoarseHistogram::default(),
        );
        for v in 1..=1000u64 {
            let h: &mut CoarseHistogram = if v % 3 == 0 { &mut a } else { &mut b };
            h.record(v * 100);
            whole.record(v * 100);
        }
        a.add(&b);
        assert_eq!(a, whole);
        let p50 = whole.value_at_quantile(0.5);
        assert!((50_000..=50_000 * 9 / 8).contains(&p50), "{p50}");
        assert_eq!(whole.value_at_quantile(1.0), highest_in(bin_of(100_000)));
        let json = serde_json::to_string(&whole).unwrap();
        assert_eq!(
            serde_json::from_str::<CoarseHistogram>(&json).unwrap(),
            whole
        );
        assert!(serde_json::from_str::<CoarseHistogram>("[[9999,1]]").is_err());
        assert_eq!(CoarseHistogram::default().value_at_quantile(0.99), 0);
    }
}
