//! HDR histograms in the result document: hdrhistogram's V2 + DEFLATE encoding, in base64
//! (standard alphabet, padded), the form HdrHistogram's other implementations read.

use base64::Engine as _;
use hdrhistogram::serialization::{
    Deserializer as HdrReader, Serializer as _, V2DeflateSerializer,
};
use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer, Serializer};

/// Highest value the run's histograms track, in microseconds (1 hour); larger values are clamped.
pub const MAX_TRACKED_US: u64 = 3_600_000_000;

/// An empty histogram of the run's bounds: 3 significant digits over 1 µs .. 1 h.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).expect("static histogram bounds")
}

pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail, and every histogram of a run has valid bounds.
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serialising a histogram to memory");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes a histogram; it takes the run's bounds, so histograms of two results add exactly.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("not base64: {e}"))?;
    let read: Histogram<u64> = HdrReader::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("not an HDR histogram (V2 + DEFLATE): {e:?}"))?;
    let run_bounds = (read.low(), read.high(), read.sigfig()) == (1, MAX_TRACKED_US, 3);
    if run_bounds && !read.is_auto_resize() {
        // What loadgen writes: already the run's histogram (copying it into a new one was a
        // tenth of `merge`).
        return Ok(read);
    }
    let mut h = histogram();
    h.add(&read)
        .map_err(|e| format!("values outside 1 µs .. 1 h: {e:?}"))?;
    Ok(h)
}

/// `#[serde(with = "crate::result::hdr")]`.
pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode(h))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
    let text = String::deserialize(d)?;
    decode(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_value_for_value() {
        let mut h = histogram();
        for v in [1u64, 7, 999, 1_000_001, 12_345_678, MAX_TRACKED_US] {
            h.record_n(v, v % 5 + 1).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        let pairs = |h: &Histogram<u64>| {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs(&back), pairs(&h));
        assert!(decode("not base64!").unwrap_err().contains("base64"));
        assert!(decode("aGVsbG8=").unwrap_err().contains("HDR"));
        assert_eq!(decode(&encode(&histogram())).unwrap().len(), 0);
    }

    #[test]
    fn a_histogram_of_other_bounds_is_read_into_the_runs() {
        let mut other = Histogram::<u64>::new_with_bounds(1, 10_000, 3).unwrap();
        other.record_n(1_234, 3).unwrap();
        let back = decode(&encode(&other)).unwrap();
        assert_eq!(
            (back.low(), back.high(), back.sigfig()),
            (1, MAX_TRACKED_US, 3)
        );
        assert_eq!((back.len(), back.max()), (3, other.max()));
        let mut run = histogram();
        run.record_n(1_234, 3).unwrap();
        assert_eq!(back, run);
    }
}
