//! A coarse, exactly mergeable histogram for one bucket of the time series: eight linear
//! sub-bins per power of two (at most 12.5% wide), integer arithmetic only, so the same values
//! fall in the same bins on every platform.
//!
//! Serialised dense (schema version 2): a base64 string (standard alphabet, padded) of the
//! non-empty bins in increasing order, each as two LEB128 varints: the number of empty bins
//! skipped since the previous non-empty one (since bin 0 for the first), then its count
//! (at least 1). An empty histogram is `""`. A day's time series holds thousands of these:
//! as `[[bin, count], ...]` pairs (schema version 1, still read) parsing them dominated
//! `merge`.

use std::fmt;

use base64::Engine as _;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserializer, Serialize, Serializer};

/// Sub-bins per power of two.
const SUB_BINS: u64 = 8;
/// Bins past this cannot hold a value of 64 bits.
const MAX_BIN: usize = (SUB_BINS as usize) * 62;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoarseHistogram {
    /// The bin `counts[0]` counts. The first and last counts are never 0 (empty: no counts,
    /// lowest 0), so equal histograms are equal values; a bucket's latencies span a few
    /// octaves, and the bins below them are not stored (nor added, in `merge`).
    lowest: usize,
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
        self.cover(bin_of(value), bin_of(value));
        let at = bin_of(value) - self.lowest;
        self.counts[at] += 1;
    }

    /// Makes `counts` span bins `low..=high` at least.
    fn cover(&mut self, low: usize, high: usize) {
        if self.counts.is_empty() {
            self.lowest = low;
            self.counts.resize(high - low + 1, 0);
            return;
        }
        if low < self.lowest {
            let grow = self.lowest - low;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.lowest = low;
        }
        let end = self.lowest + self.counts.len();
        if high >= end {
            self.counts.resize(high + 1 - self.lowest, 0);
        }
    }

    pub fn add(&mut self, other: &CoarseHistogram) {
        if other.counts.is_empty() {
            return;
        }
        self.cover(other.lowest, other.lowest + other.counts.len() - 1);
        let start = other.lowest - self.lowest;
        for (mine, theirs) in self.counts[start..].iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
    }

    pub fn len(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Values recorded in `bin`.
    pub fn count_in_bin(&self, bin: usize) -> u64 {
        bin.checked_sub(self.lowest)
            .and_then(|at| self.counts.get(at))
            .copied()
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The highest value of the bin holding the value at `quantile` (0 when empty).
    pub fn value_at_quantile(&self, quantile: f64) -> u64 {
        let total = self.len();
        if total == 0 {
            return 0;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (at, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return highest_in(self.lowest + at);
            }
        }
        highest_in(self.lowest + self.counts.len() - 1)
    }
}

impl CoarseHistogram {
    /// The dense form: LEB128 (gap, count) pairs, base64.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(2 * self.counts.len());
        self.put_pairs(&mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Reads the dense form back; what is wrong is said with its byte offset.
    pub fn decode(text: &str) -> Result<CoarseHistogram, String> {
        with_base64(text, |bytes| {
            let mut at = 0;
            CoarseHistogram::take_pairs(bytes, &mut at, None)
        })
        .map_err(|e| format!("coarse bins: {e}"))
    }

    /// How many bins are not empty: the pairs `put_pairs` writes.
    pub(crate) fn pair_count(&self) -> u64 {
        self.counts.iter().filter(|&&c| c > 0).count() as u64
    }

    /// Appends the (gap, count) varint pairs of the non-empty bins.
    pub(crate) fn put_pairs(&self, out: &mut Vec<u8>) {
        let mut next = 0;
        for (at, &count) in self.counts.iter().enumerate() {
            let bin = self.lowest + at;
            if count > 0 {
                put_varint(out, (bin - next) as u64);
                put_varint(out, count);
                next = bin + 1;
            }
        }
    }

    /// Reads (gap, count) pairs from `bytes[*at..]`: `pairs` of them, or all that are left
    /// when `None`; `*at` ends after the last. Errors name the byte offset in `bytes`.
    pub(crate) fn take_pairs(
        bytes: &[u8],
        at: &mut usize,
        pairs: Option<u64>,
    ) -> Result<CoarseHistogram, String> {
        // Two passes: the first checks the pairs and finds the last bin, so the counts are
        // allocated once (growing them bin by bin was a fifth of `merge`).
        let start = *at;
        let (mut lowest, mut end) = (None, 0);
        for_each_pair(bytes, at, pairs, |bin, _| {
            lowest.get_or_insert(bin);
            end = bin + 1;
        })?;
        let lowest = lowest.unwrap_or(0);
        let mut counts = vec![0; end - lowest];
        let mut again = start;
        for_each_pair(bytes, &mut again, pairs, |bin, count| {
            counts[bin - lowest] = count
        })?;
        Ok(CoarseHistogram { lowest, counts })
    }

    fn add_to_bin(&mut self, bin: usize, count: u64) -> Result<(), String> {
        if bin >= MAX_BIN {
            return Err(format!("bin {bin} is past the last bin {}", MAX_BIN - 1));
        }
        if count == 0 {
            // Version 1 never wrote one; stored, it would make the histogram's first or last
            // count 0.
            return Ok(());
        }
        self.cover(bin, bin);
        let at = bin - self.lowest;
        self.counts[at] = self.counts[at]
            .checked_add(count)
            .ok_or_else(|| format!("bin {bin}: counts add up past 2^64"))?;
        Ok(())
    }
}

/// Calls `f` on the bytes `text` encodes in base64 (standard alphabet, padded), decoded into
/// a buffer each thread reuses: a day's series has tens of thousands of these strings, and
/// a fresh buffer for each was an allocation per string.
pub(crate) fn with_base64<T>(
    text: &str,
    f: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<T, String> {
    thread_local! {
        static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BYTES.with(|cell| {
        // A nested call (none today) would find the buffer taken: it gets its own.
        let mut fresh = Vec::new();
        let mut held = cell.try_borrow_mut();
        let bytes = match held.as_mut() {
            Ok(buffer) => &mut **buffer,
            Err(_) => &mut fresh,
        };
        bytes.clear();
        base64::engine::general_purpose::STANDARD
            .decode_vec(text, bytes)
            .map_err(|e| format!("not base64: {e}"))?;
        f(bytes)
    })
}

/// Calls `f(bin, count)` for each pair of the dense form from `bytes[*at..]` (`pairs` of
/// them, or to the end), in increasing bin order; an error names the byte offset of the
/// pair or varint that is wrong.
#[inline]
fn for_each_pair(
    bytes: &[u8],
    at: &mut usize,
    pairs: Option<u64>,
    mut f: impl FnMut(usize, u64),
) -> Result<(), String> {
    let (mut read, mut next) = (0u64, 0u64);
    while pairs.map_or(*at < bytes.len(), |n| read < n) {
        let pair_at = *at;
        let gap = take_varint(bytes, at)?;
        let count = take_varint(bytes, at)?;
        let bin = next.saturating_add(gap);
        if bin >= MAX_BIN as u64 {
            return Err(format!(
                "byte {pair_at}: bin {bin} is past the last bin {}",
                MAX_BIN - 1
            ));
        }
        if count == 0 {
            return Err(format!(
                "byte {pair_at}: bin {bin} has count 0 (empty bins are skipped)"
            ));
        }
        f(bin as usize, count);
        next = bin + 1;
        read += 1;
    }
    Ok(())
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// An unsigned LEB128 varint at `bytes[*at..]`; `*at` ends after it.
#[inline]
pub(crate) fn take_varint(bytes: &[u8], at: &mut usize) -> Result<u64, String> {
    // Most are one byte (gaps and counts of a bucket's bins are small).
    if let Some(&byte) = bytes.get(*at) {
        if byte < 0x80 {
            *at += 1;
            return Ok(u64::from(byte));
        }
    }
    take_long_varint(bytes, at)
}

fn take_long_varint(bytes: &[u8], at: &mut usize) -> Result<u64, String> {
    let start = *at;
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = bytes.get(*at) else {
            return Err(format!("byte {start}: the varint is cut short"));
        };
        *at += 1;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(format!("byte {start}: the varint overflows 64 bits"));
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(format!("byte {start}: the varint overflows 64 bits"))
}

impl Serialize for CoarseHistogram {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

/// Reads either form: the dense string, or version 1's `[[bin, count], ...]`.
struct BinsVisitor;

impl<'de> Visitor<'de> for BinsVisitor {
    type Value = CoarseHistogram;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "coarse bins: a base64 string of varint (gap, count) pairs, or [[bin, count], ...]",
        )
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<CoarseHistogram, E> {
        CoarseHistogram::decode(text).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut pairs: A) -> Result<CoarseHistogram, A::Error> {
        let mut h = CoarseHistogram::default();
        while let Some((bin, count)) = pairs.next_element::<(usize, u64)>()? {
            h.add_to_bin(bin, count).map_err(de::Error::custom)?;
        }
        Ok(h)
    }
}

impl<'de> serde::Deserialize<'de> for CoarseHistogram {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BinsVisitor)
    }
}

/// Reads coarse bins of either form and adds them into a histogram instead of building one
/// (`merge`, which adds thousands of buckets into a sum, would otherwise allocate and free the
/// counts of each).
pub(crate) struct AddInto<'a>(pub &'a mut CoarseHistogram);

impl<'de> serde::de::DeserializeSeed<'de> for AddInto<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AddInto<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        BinsVisitor.expecting(f)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        with_base64(text, |bytes| self.0.add_pairs(bytes, &mut 0, None))
            .map_err(|e| E::custom(format!("coarse bins: {e}")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut pairs: A) -> Result<(), A::Error> {
        while let Some((bin, count)) = pairs.next_element::<(usize, u64)>()? {
            self.0.add_to_bin(bin, count).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

impl CoarseHistogram {
    /// Adds the (gap, count) pairs at `bytes[*at..]` (`pairs` of them, or to the end), as
    /// `take_pairs` reads them.
    pub(crate) fn add_pairs(
        &mut self,
        bytes: &[u8],
        at: &mut usize,
        pairs: Option<u64>,
    ) -> Result<(), String> {
        let mut added = Ok(());
        for_each_pair(bytes, at, pairs, |bin, count| {
            // A sum's bins soon cover what is added to them.
            let slot = match bin.checked_sub(self.lowest) {
                Some(slot) if slot < self.counts.len() => slot,
                _ => {
                    self.cover(bin, bin);
                    bin - self.lowest
                }
            };
            match self.counts[slot].checked_add(count) {
                Some(sum) => self.counts[slot] = sum,
                None if added.is_ok() => {
                    added = Err(format!("bin {bin}: counts add up past 2^64"));
                }
                None => {}
            }
        })?;
        added
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
        assert!(json.starts_with('"'), "{json}");
        assert_eq!(
            serde_json::from_str::<CoarseHistogram>(&json).unwrap(),
            whole
        );
        assert!(serde_json::from_str::<CoarseHistogram>("[[9999,1]]").is_err());
        assert_eq!(CoarseHistogram::default().value_at_quantile(0.99), 0);
    }

    fn of(values: &[u64]) -> CoarseHistogram {
        let mut h = CoarseHistogram::default();
        for &v in values {
            h.record(v);
        }
        h
    }

    #[test]
    fn equal_contents_are_equal_values_whatever_the_order() {
        let (mut up, mut down) = (of(&[1, 50, 1_000_000]), of(&[1_000_000]));
        down.record(50);
        down.record(1);
        assert_eq!(up, down);
        let mut sum = CoarseHistogram::default();
        sum.add(&of(&[1_000_000]));
        sum.add(&CoarseHistogram::default());
        sum.add(&of(&[1, 50]));
        assert_eq!(sum, up);
        up.add(&CoarseHistogram::default());
        assert_eq!(up, down);
        assert_eq!((sum.count_in_bin(0), sum.count_in_bin(1)), (0, 1));
        assert_eq!(sum.value_at_quantile(0.0), 1);
    }

    #[test]
    fn the_dense_form_is_gap_count_varints_in_base64() {
        // Bins 0 (×2), 3 (×1) and 200 (×300): gaps 0, 2, 196; 300 takes two varint bytes.
        let mut h = of(&[0, 0, 3]);
        h.add_to_bin(200, 300).unwrap();
        let bytes = [0, 2, 2, 1, 196, 1, 0xac, 0x02];
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(h.encode(), text);
        // The example of the schema's description.
        assert_eq!(text, "AAICAcQBrAI=");
        assert_eq!(CoarseHistogram::decode(&text).unwrap(), h);
        assert_eq!(CoarseHistogram::default().encode(), "");
        assert_eq!(
            CoarseHistogram::decode("").unwrap(),
            CoarseHistogram::default()
        );
        // Every bin, the last one and counts past 32 bits round trip.
        let mut wide = of(&[u64::MAX, 1 << 40, 7]);
        wide.add_to_bin(MAX_BIN - 2, u64::from(u32::MAX) + 5)
            .unwrap();
        assert_eq!(CoarseHistogram::decode(&wide.encode()).unwrap(), wide);
    }

    #[test]
    fn the_pair_form_of_version_1_is_still_read() {
        let h = of(&[1, 1, 9, 1_000, 1_000_000]);
        let pairs: Vec<(usize, u64)> = (0..MAX_BIN)
            .map(|bin| (bin, h.count_in_bin(bin)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let json = serde_json::to_string(&pairs).unwrap();
        assert_eq!(serde_json::from_str::<CoarseHistogram>(&json).unwrap(), h);
        assert_eq!(
            serde_json::from_str::<CoarseHistogram>("[]").unwrap(),
            CoarseHistogram::default()
        );
    }

    #[test]
    fn bad_dense_bins_are_refused_with_their_offset() {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let err = |text: &str| CoarseHistogram::decode(text).unwrap_err();
        assert!(err("!!").contains("not base64"), "{}", err("!!"));
        // A count whose continuation byte is missing.
        assert_eq!(
            err(&b64(&[0, 1, 3, 0x80])),
            "coarse bins: byte 3: the varint is cut short"
        );
        assert_eq!(
            err(&b64(&[0, 1, 2])),
            "coarse bins: byte 3: the varint is cut short"
        );
        assert_eq!(
            err(&b64(&[5, 0])),
            "coarse bins: byte 0: bin 5 has count 0 (empty bins are skipped)"
        );
        // Gap 496 (two bytes: 0xf0 0x03) lands past the last bin.
        assert_eq!(
            err(&b64(&[0xf0, 0x03, 1])),
            "coarse bins: byte 0: bin 496 is past the last bin 495"
        );
        let mut eleven = vec![0xff; 10];
        eleven.push(1);
        assert!(err(&b64(&[&[0u8][..], &eleven].concat())).contains("overflows 64 bits"));
        let overflow =
            serde_json::from_str::<CoarseHistogram>("[[1, 18446744073709551615], [1, 1]]");
        assert!(overflow.unwrap_err().to_string().contains("past 2^64"));
        assert!(serde_json::from_str::<CoarseHistogram>("3").is_err());
    }
}
