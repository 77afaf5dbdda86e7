//! The time series as the document holds it: each bucket's counts and sums as plain fields,
//! and (schema version 3) the events of all its activities as one dense string,
//! `activity_bins`, against the document's table of activities (`time_series_activities`).
//!
//! `activity_bins` is base64 (standard alphabet, padded) of unsigned LEB128 varints: for each
//! activity that had events in the bucket, in increasing index: its index in the table, its
//! events (at least 1), its failures, the number of its non-empty latency bins, then that many
//! (gap, count) pairs as in `coarse`'s dense form. A bucket without events has none. A day's
//! series is thousands of buckets, and as an object of objects per bucket (schema version 2,
//! still read) their activities were half of a result's bytes and most of `merge`'s time.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::Activity;
use crate::metrics::{ActivityBucket, Bucket, ByActivity};
use crate::result::coarse::{put_varint, take_varint, with_base64, CoarseHistogram};
use crate::result::SeriesBucket;

/// The table `activity_bins` indexes: every activity, in `Activity::index` order. loadgen
/// writes it in every document of schema version 3 and reads only this table.
pub fn activity_table() -> Vec<String> {
    Activity::ALL.iter().map(|a| a.key().to_string()).collect()
}

/// The activities of a bucket, dense; `None` when none had events (the field is left out).
pub fn encode_activities(by: &ByActivity) -> Option<String> {
    if by.is_empty() {
        return None;
    }
    let mut bytes = Vec::with_capacity(64);
    for (index, a) in by.0.iter().enumerate() {
        if a.events == 0 {
            continue;
        }
        put_varint(&mut bytes, index as u64);
        put_varint(&mut bytes, a.events);
        put_varint(&mut bytes, a.failures);
        put_varint(&mut bytes, a.latency.pair_count());
        a.latency.put_pairs(&mut bytes);
    }
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Reads `activity_bins` back; what is wrong is said with its byte offset (in the decoded
/// bytes).
pub fn decode_activities(text: &str) -> Result<ByActivity, String> {
    with_base64(text, |bytes| {
        let mut all = ByActivity::default();
        let (mut at, mut next_index) = (0, 0u64);
        while at < bytes.len() {
            let entry_at = at;
            let index = take_varint(bytes, &mut at)?;
            if index >= Activity::ALL.len() as u64 {
                return Err(format!(
                    "byte {entry_at}: activity {index} is past the table's last, {}",
                    Activity::ALL.len() - 1
                ));
            }
            if index < next_index {
                return Err(format!(
                    "byte {entry_at}: activity {index} comes after activity {} (each once, in \
                     increasing order)",
                    next_index - 1
                ));
            }
            let events = take_varint(bytes, &mut at)?;
            if events == 0 {
                return Err(format!(
                    "byte {entry_at}: activity {index} has 0 events (activities without events \
                     are left out)"
                ));
            }
            let failures = take_varint(bytes, &mut at)?;
            let pairs = take_varint(bytes, &mut at)?;
            // Each pair takes two bytes at least: a count past what is left is cut short.
            if pairs > (bytes.len() - at) as u64 / 2 {
                return Err(format!(
                    "byte {entry_at}: activity {index} has {pairs} latency bins, more than the \
                     {} bytes left hold",
                    bytes.len() - at
                ));
            }
            let latency = CoarseHistogram::take_pairs(bytes, &mut at, Some(pairs))?;
            all.0[index as usize] = ActivityBucket {
                events,
                failures,
                latency,
            };
            next_index = index + 1;
        }
        Ok(all)
    })
    .map_err(|e| format!("activity bins: {e}"))
}

/// A bucket as written (schema version 3): the fields of `Bucket` but `activities`, then
/// `activity_bins`, then the derived fields.
#[derive(Serialize)]
struct Written<'a> {
    second: u64,
    events: u64,
    failures: u64,
    requests: u64,
    retries: u64,
    latency_from_intended_sum_us: u64,
    service_time_sum_us: u64,
    lateness_sum_us: u64,
    lateness_max_us: u64,
    latency_from_intended_bins: &'a CoarseHistogram,
    lateness_bins: &'a CoarseHistogram,
    trace_first_ms: Option<u64>,
    trace_last_ms: Option<u64>,
    #[serde(skip_serializing_if = "CoarseHistogram::is_empty")]
    write_to_visible_bins: &'a CoarseHistogram,
    #[serde(skip_serializing_if = "Option::is_none")]
    activity_bins: Option<String>,
    successes: u64,
    latency_p50_ms: f64,
    latency_p90_ms: f64,
    latency_p99_ms: f64,
    lateness_p99_ms: f64,
}

impl Serialize for SeriesBucket {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = &self.bucket;
        Written {
            second: b.second,
            events: b.events,
            failures: b.failures,
            requests: b.requests,
            retries: b.retries,
            latency_from_intended_sum_us: b.latency_sum_us,
            service_time_sum_us: b.service_time_sum_us,
            lateness_sum_us: b.lateness_sum_us,
            lateness_max_us: b.lateness_max_us,
            latency_from_intended_bins: &b.latency,
            lateness_bins: &b.lateness,
            trace_first_ms: b.trace_first_ms,
            trace_last_ms: b.trace_last_ms,
            write_to_visible_bins: &b.visible,
            activity_bins: encode_activities(&b.activities),
            successes: self.successes,
            latency_p50_ms: self.latency_p50_ms,
            latency_p90_ms: self.latency_p90_ms,
            latency_p99_ms: self.latency_p99_ms,
            lateness_p99_ms: self.lateness_p99_ms,
        }
        .serialize(s)
    }
}

/// A bucket as read, of any schema version: version 3's `activity_bins` or version 2's
/// `activities` (version 1 had neither). The derived fields are not read (`refresh`).
#[derive(Deserialize)]
struct Read {
    second: u64,
    events: u64,
    failures: u64,
    #[serde(default)]
    requests: u64,
    #[serde(default)]
    retries: u64,
    latency_from_intended_sum_us: u64,
    service_time_sum_us: u64,
    #[serde(default)]
    lateness_sum_us: u64,
    #[serde(default)]
    lateness_max_us: u64,
    #[serde(default)]
    latency_from_intended_bins: CoarseHistogram,
    #[serde(default)]
    lateness_bins: CoarseHistogram,
    #[serde(default)]
    trace_first_ms: Option<u64>,
    #[serde(default)]
    trace_last_ms: Option<u64>,
    #[serde(default)]
    write_to_visible_bins: CoarseHistogram,
    #[serde(default)]
    activities: Option<ByActivity>,
    #[serde(default)]
    activity_bins: Option<DenseActivities>,
}

/// `activity_bins`, decoded as it is read.
struct DenseActivities(ByActivity);

impl<'de> Deserialize<'de> for DenseActivities {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Borrowed when it can be: base64 needs no JSON escapes.
        let text = Cow::<'de, str>::deserialize(d)?;
        decode_activities(&text)
            .map(DenseActivities)
            .map_err(de::Error::custom)
    }
}

impl Read {
    fn into_bucket(self) -> Result<Bucket, String> {
        let activities = match (self.activities, self.activity_bins) {
            (Some(_), Some(_)) => {
                return Err("a bucket holds both `activities` and `activity_bins`".into())
            }
            (Some(objects), None) => objects,
            (None, Some(dense)) => dense.0,
            (None, None) => ByActivity::default(),
        };
        Ok(Bucket {
            second: self.second,
            events: self.events,
            failures: self.failures,
            requests: self.requests,
            retries: self.retries,
            latency_sum_us: self.latency_from_intended_sum_us,
            service_time_sum_us: self.service_time_sum_us,
            lateness_sum_us: self.lateness_sum_us,
            lateness_max_us: self.lateness_max_us,
            latency: self.latency_from_intended_bins,
            lateness: self.lateness_bins,
            trace_first_ms: self.trace_first_ms,
            trace_last_ms: self.trace_last_ms,
            visible: self.write_to_visible_bins,
            activities,
        })
    }
}

/// `time_series`, read bucket by bucket with the derived fields left at 0 (`refresh`
/// computes them; `merge` only once, on the sum).
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<SeriesBucket>, D::Error> {
    struct Buckets;

    impl<'de> Visitor<'de> for Buckets {
        type Value = Vec<SeriesBucket>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of buckets")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut buckets = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(read) = seq.next_element::<Read>()? {
                let bucket = read.into_bucket().map_err(de::Error::custom)?;
                buckets.push(SeriesBucket::underived(bucket));
            }
            Ok(buckets)
        }
    }

    d.deserialize_seq(Buckets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn histogram(values: &[u64]) -> CoarseHistogram {
        let mut h = CoarseHistogram::default();
        for &v in values {
            h.record(v);
        }
        h
    }

    /// Any bucket's activities: each activity absent or with events, failures and latencies.
    fn any_activities() -> impl Strategy<Value = ByActivity> {
        let one = prop_oneof![
            Just(None),
            (
                1..10_000u64,
                0..10_000u64,
                prop::collection::vec(prop_oneof![0..64u64, 0..u64::MAX], 0..40)
            )
                .prop_map(Some),
        ];
        prop::collection::vec(one, 6).prop_map(|slots| {
            let mut all = ByActivity::default();
            for (slot, drawn) in all.0.iter_mut().zip(slots) {
                if let Some((events, failures, latencies)) = drawn {
                    *slot = ActivityBucket {
                        events,
                        failures,
                        latency: histogram(&latencies),
                    };
                }
            }
            all
        })
    }

    proptest! {
        #[test]
        fn activity_bins_round_trip(by in any_activities()) {
            match encode_activities(&by) {
                None => prop_assert!(by.is_empty()),
                Some(text) => prop_assert_eq!(decode_activities(&text).unwrap(), by),
            }
        }

        /// Cut anywhere, a blob is refused with a message (never a panic), or, cut between
        /// two activities, it reads as the activities before the cut.
        #[test]
        fn a_truncated_blob_is_refused_or_a_prefix(by in any_activities(), cut in 0..1000usize) {
            prop_assume!(!by.is_empty());
            let text = encode_activities(&by).unwrap();
            let bytes = base64::engine::general_purpose::STANDARD.decode(&text).unwrap();
            let cut = cut % bytes.len();
            let short = base64::engine::general_purpose::STANDARD.encode(&bytes[..cut]);
            match decode_activities(&short) {
                Err(e) => prop_assert!(e.starts_with("activity bins: byte "), "{}", e),
                Ok(read) => {
                    for (theirs, mine) in read.0.iter().zip(&by.0) {
                        prop_assert!(theirs.events == 0 || theirs == mine);
                    }
                }
            }
        }

        /// Random bytes never panic.
        #[test]
        fn random_bytes_are_refused_or_read(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
            if let Err(e) = decode_activities(&text) {
                prop_assert!(e.starts_with("activity bins: "), "{}", e);
            }
        }
    }

    #[test]
    fn the_dense_form_is_index_events_failures_pairs() {
        let mut by = ByActivity::default();
        // Activity 1: 3 events, 1 failure, latencies in bins 5 and 8 (×2).
        by.0[1] = ActivityBucket {
            events: 3,
            failures: 1,
            latency: histogram(&[5, 8, 8]),
        };
        // Activity 4: 200 events (two varint bytes), no latencies.
        by.0[4] = ActivityBucket {
            events: 200,
            failures: 0,
            latency: CoarseHistogram::default(),
        };
        let bytes = [1, 3, 1, 2, 5, 1, 2, 2, 4, 0xc8, 0x01, 0, 0];
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(encode_activities(&by).as_deref(), Some(text.as_str()));
        // The example of the schema's description.
        assert_eq!(text, "AQMBAgUBAgIEyAEAAA==");
        assert_eq!(decode_activities(&text).unwrap(), by);
        assert_eq!(encode_activities(&ByActivity::default()), None);
        assert_eq!(decode_activities("").unwrap(), ByActivity::default());
    }

    #[test]
    fn bad_blobs_are_refused_with_their_offset() {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let err = |bytes: &[u8]| decode_activities(&b64(bytes)).unwrap_err();
        assert!(decode_activities("!!")
            .unwrap_err()
            .starts_with("activity bins: not base64"));
        assert_eq!(
            err(&[6, 1, 0, 0]),
            "activity bins: byte 0: activity 6 is past the table's last, 5"
        );
        assert_eq!(
            err(&[2, 1, 0, 0, 1, 1, 0, 0]),
            "activity bins: byte 4: activity 1 comes after activity 2 (each once, in \
             increasing order)"
        );
        assert_eq!(
            err(&[2, 1, 0, 0, 2, 1, 0, 0]),
            "activity bins: byte 4: activity 2 comes after activity 2 (each once, in \
             increasing order)"
        );
        assert_eq!(
            err(&[0, 0, 0, 0]),
            "activity bins: byte 0: activity 0 has 0 events (activities without events are \
             left out)"
        );
        assert_eq!(err(&[0, 1, 0]), "activity bins: byte 3: the varint is cut short");
        assert_eq!(
            err(&[0, 1, 0, 3, 0, 1]),
            "activity bins: byte 0: activity 0 has 3 latency bins, more than the 2 bytes left \
             hold"
        );
        assert_eq!(
            err(&[0, 1, 0, 1, 0, 0]),
            "activity bins: byte 4: bin 0 has count 0 (empty bins are skipped)"
        );
        assert_eq!(
            err(&[0, 1, 0, 1, 0xf0, 0x03, 1]),
            "activity bins: byte 4: bin 496 is past the last bin 495"
        );
    }
}
