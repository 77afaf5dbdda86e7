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
use std::cell::RefCell;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::Activity;
use crate::metrics::{ActivityBucket, Bucket, ByActivity, Metrics};
use crate::result::coarse::{put_varint, take_varint, with_base64, AddInto, CoarseHistogram};
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
    let mut all = ByActivity::default();
    read_activities(text, |index, events, failures, bytes, at, pairs| {
        all.0[index] = ActivityBucket {
            events,
            failures,
            latency: CoarseHistogram::take_pairs(bytes, at, Some(pairs))?,
        };
        Ok(())
    })?;
    Ok(all)
}

/// Adds the activities of `activity_bins` into `into` (`merge`'s sum).
fn add_activities(text: &str, into: &mut ByActivity) -> Result<(), String> {
    read_activities(text, |index, events, failures, bytes, at, pairs| {
        let slot = &mut into.0[index];
        slot.events += events;
        slot.failures += failures;
        slot.latency.add_pairs(bytes, at, Some(pairs))
    })
}

/// Calls `each(index, events, failures, bytes, at, pairs)` for every activity of
/// `activity_bins`, which reads the `pairs` latency pairs at `bytes[*at..]`; checks the rest.
fn read_activities(
    text: &str,
    mut each: impl FnMut(usize, u64, u64, &[u8], &mut usize, u64) -> Result<(), String>,
) -> Result<(), String> {
    with_base64(text, |bytes| {
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
            each(index as usize, events, failures, bytes, &mut at, pairs)?;
            next_index = index + 1;
        }
        Ok(())
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
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SeriesBucket>, D::Error> {
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

    match SINK.with(|cell| cell.borrow_mut().take()) {
        None => d.deserialize_seq(Buckets),
        Some(mut sink) => {
            let added = d.deserialize_seq(Adding(&mut sink));
            SINK.with(|cell| *cell.borrow_mut() = Some(sink));
            added.map(|()| Vec::new())
        }
    }
}

/// The time series of several documents added up as they are read (`merge`): a document's
/// buckets are added into it one by one, straight from their JSON, and never held, so neither
/// their counts are allocated nor freed (that was a third of merging a day's shards). Buckets
/// widen as `Metrics`' do, so the sum is the one `Metrics::merge` gives.
#[derive(Debug)]
pub struct SeriesSum {
    width: u64,
    buckets: Vec<Bucket>,
}

/// `metrics::MAX_BUCKETS`: past it, neighbours merge and the width doubles.
const MAX_BUCKETS: u64 = 3_600;

impl Default for SeriesSum {
    fn default() -> Self {
        SeriesSum {
            width: 1,
            buckets: Vec::new(),
        }
    }
}

impl SeriesSum {
    /// The bucket holding `second`, growing (and if needed widening) the series.
    fn at(&mut self, second: u64) -> &mut Bucket {
        while second / self.width >= MAX_BUCKETS {
            self.widen();
        }
        let index = (second / self.width) as usize;
        while self.buckets.len() <= index {
            let start = self.buckets.len() as u64 * self.width;
            self.buckets.push(Bucket {
                second: start,
                ..Bucket::default()
            });
        }
        &mut self.buckets[index]
    }

    /// Doubles the width, merging neighbours.
    fn widen(&mut self) {
        self.width *= 2;
        let narrow = std::mem::take(&mut self.buckets);
        let mut pairs = narrow.into_iter();
        while let Some(mut first) = pairs.next() {
            if let Some(next) = pairs.next() {
                first.absorb(&next);
            }
            self.buckets.push(first);
        }
    }

    /// The sum as measurements with nothing but a series, to `Metrics::merge`.
    pub fn into_metrics(self) -> Metrics {
        Metrics {
            series: self.buckets,
            bucket_secs: self.width,
            ..Metrics::default()
        }
    }
}

/// Where the series deserialiser of this thread adds buckets while `adding_into` runs.
struct Sink {
    sum: SeriesSum,
    offset_s: u64,
}

thread_local! {
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

/// Runs `read`, which parses one document, with that document's buckets added into `sum`
/// (`offset_s` seconds later) instead of kept: its `time_series` is left empty. On an error
/// `sum` holds part of the document: it is for a merge that stops at the error.
pub fn adding_into<T>(sum: &mut SeriesSum, offset_s: u64, read: impl FnOnce() -> T) -> T {
    let sink = Sink {
        sum: std::mem::take(sum),
        offset_s,
    };
    SINK.with(|cell| *cell.borrow_mut() = Some(sink));
    let out = read();
    if let Some(sink) = SINK.with(|cell| cell.borrow_mut().take()) {
        *sum = sink.sum;
    }
    out
}

/// `time_series` into the thread's sink (`adding_into`).
struct Adding<'a>(&'a mut Sink);

impl<'de> Visitor<'de> for Adding<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of buckets")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(AddBucket(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One bucket, added into the sink's sum field by field as it is read. loadgen writes
/// `second` first, which says where to add the rest; a bucket that does not start with it is
/// read whole, then added.
struct AddBucket<'a>(&'a mut Sink);

impl<'de> de::DeserializeSeed<'de> for AddBucket<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AddBucket<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a bucket")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let offset_s = self.0.offset_s;
        let Some(first) = map.next_key::<Key>()? else {
            return Err(de::Error::missing_field("second"));
        };
        if first != Key::Second {
            // Another writer's order: read it whole (`Read` ignores unknown fields too).
            let mut fields = serde_json::Map::new();
            let mut key = Some(first);
            while let Some(k) = key {
                let value: serde_json::Value = map.next_value()?;
                if let Some(name) = k.name() {
                    fields.insert(name.to_string(), value);
                }
                key = map.next_key::<Key>()?;
            }
            let read =
                Read::deserialize(serde_json::Value::Object(fields)).map_err(de::Error::custom)?;
            let mut bucket = read.into_bucket().map_err(de::Error::custom)?;
            bucket.second = bucket.second.saturating_add(offset_s);
            self.0.sum.at(bucket.second).absorb(&bucket);
            return Ok(());
        }
        let second: u64 = map.next_value()?;
        let into = self.0.sum.at(second.saturating_add(offset_s));
        // The fields read so far, to refuse one given twice and tell one missing.
        let mut seen = 0u32;
        while let Some(key) = map.next_key::<Key>()? {
            let field = match key {
                Key::Field(field) => field,
                Key::Second => return Err(de::Error::duplicate_field("second")),
                Key::Other => {
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            if seen & (1 << field) != 0 {
                return Err(de::Error::duplicate_field(FIELDS[field]));
            }
            seen |= 1 << field;
            match field {
                0 => into.events += map.next_value::<u64>()?,
                1 => into.failures += map.next_value::<u64>()?,
                2 => into.requests += map.next_value::<u64>()?,
                3 => into.retries += map.next_value::<u64>()?,
                4 => into.latency_sum_us += map.next_value::<u64>()?,
                5 => into.service_time_sum_us += map.next_value::<u64>()?,
                6 => into.lateness_sum_us += map.next_value::<u64>()?,
                7 => into.lateness_max_us = into.lateness_max_us.max(map.next_value::<u64>()?),
                8 => map.next_value_seed(AddInto(&mut into.latency))?,
                9 => map.next_value_seed(AddInto(&mut into.lateness))?,
                10 => map.next_value_seed(AddInto(&mut into.visible))?,
                11 => {
                    if let Some(ms) = map.next_value::<Option<u64>>()? {
                        into.trace_first_ms = Some(into.trace_first_ms.map_or(ms, |t| t.min(ms)));
                    }
                }
                12 => into.trace_last_ms = into.trace_last_ms.max(map.next_value::<Option<u64>>()?),
                13 => map.next_value_seed(AddActivities(&mut into.activities))?,
                _ => {
                    // 14, "activities": version 2's object per activity.
                    let theirs = map.next_value::<ByActivity>()?;
                    for (mine, theirs) in into.activities.0.iter_mut().zip(&theirs.0) {
                        mine.events += theirs.events;
                        mine.failures += theirs.failures;
                        mine.latency.add(&theirs.latency);
                    }
                }
            }
        }
        for required in REQUIRED {
            let at = FIELDS.iter().position(|f| *f == required).expect("a field");
            if seen & (1 << at) == 0 {
                return Err(de::Error::missing_field(required));
            }
        }
        let both = ["activities", "activity_bins"]
            .map(|f| seen & (1 << FIELDS.iter().position(|g| *g == f).expect("a field")) != 0);
        if both == [true, true] {
            return Err(de::Error::custom(
                "a bucket holds both `activities` and `activity_bins`",
            ));
        }
        Ok(())
    }
}

/// `activity_bins`, added into a bucket of the sum as it is read (so that an error is the
/// field's).
struct AddActivities<'a>(&'a mut ByActivity);

impl<'de> de::DeserializeSeed<'de> for AddActivities<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let text = Cow::<'de, str>::deserialize(d)?;
        add_activities(&text, self.0).map_err(de::Error::custom)
    }
}

/// A bucket's fields `AddBucket` adds (after `second`), as `Read` names them.
const FIELDS: [&str; 15] = [
    "events",
    "failures",
    "requests",
    "retries",
    "latency_from_intended_sum_us",
    "service_time_sum_us",
    "lateness_sum_us",
    "lateness_max_us",
    "latency_from_intended_bins",
    "lateness_bins",
    "write_to_visible_bins",
    "trace_first_ms",
    "trace_last_ms",
    "activity_bins",
    "activities",
];

/// A bucket's key, read as an identifier (as derived code reads them: no string is kept, and
/// errors name the field).
#[derive(Clone, Copy, PartialEq)]
enum Key {
    Second,
    /// Index in `FIELDS`.
    Field(usize),
    Other,
}

impl Key {
    fn name(self) -> Option<&'static str> {
        match self {
            Key::Second => Some("second"),
            Key::Field(at) => Some(FIELDS[at]),
            Key::Other => None,
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field of a bucket")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match (key, field_of(key)) {
                    ("second", _) => Key::Second,
                    (_, Some(at)) => Key::Field(at),
                    (_, None) => Key::Other,
                })
            }
        }
        d.deserialize_identifier(Name)
    }
}

/// The index of `key` in `FIELDS`.
fn field_of(key: &str) -> Option<usize> {
    Some(match key {
        "events" => 0,
        "failures" => 1,
        "requests" => 2,
        "retries" => 3,
        "latency_from_intended_sum_us" => 4,
        "service_time_sum_us" => 5,
        "lateness_sum_us" => 6,
        "lateness_max_us" => 7,
        "latency_from_intended_bins" => 8,
        "lateness_bins" => 9,
        "write_to_visible_bins" => 10,
        "trace_first_ms" => 11,
        "trace_last_ms" => 12,
        "activity_bins" => 13,
        "activities" => 14,
        _ => return None,
    })
}

/// Those `Read` has no default for.
const REQUIRED: [&str; 4] = [
    "events",
    "failures",
    "latency_from_intended_sum_us",
    "service_time_sum_us",
];

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
        assert_eq!(
            err(&[0, 1, 0]),
            "activity bins: byte 3: the varint is cut short"
        );
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
