//! What a replay measured: HDR histograms of service time, latency from the intended time and
//! schedule lateness, overall and per activity; counts per activity and per failure category; a
//! per-second time series. Synchronous and mergeable, so shards (or threads) can combine their
//! results exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::event::{Activity, Entity};
use crate::outcome::{Class, FailureKind, RetryCause};
use crate::result::coarse::CoarseHistogram;
pub use crate::result::hdr::{histogram, MAX_TRACKED_US};

/// How one event ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventResult {
    Success,
    /// A counted, typed failure, with what the server or the client said.
    Failure {
        kind: FailureKind,
        detail: String,
    },
}

impl EventResult {
    pub fn failure(kind: FailureKind, detail: impl Into<String>) -> EventResult {
        EventResult::Failure {
            kind,
            detail: detail.into(),
        }
    }

    pub fn kind(&self) -> Option<&FailureKind> {
        match self {
            EventResult::Success => None,
            EventResult::Failure { kind, .. } => Some(kind),
        }
    }
}

/// One event's measurements, as the dispatcher reports it.
#[derive(Clone, Debug)]
pub struct EventRecord {
    /// Position of the event in its trace (0-based).
    pub seq: u64,
    pub entity: Entity,
    /// The event's time in the trace.
    pub offset_ms: u64,
    pub activity: Activity,
    /// Seconds into the replay at which the event finished (for the time series).
    pub finished_at: Duration,
    /// Due → first request sent.
    pub lateness: Duration,
    /// First request sent → last response (all of the event's requests and retries).
    pub service: Duration,
    /// Due → last response: latency free of coordinated omission.
    pub latency: Duration,
    pub requests: u32,
    pub retries: u32,
    /// Why each retry happened, in order.
    pub retry_causes: Vec<RetryCause>,
    pub result: EventResult,
}

impl EventRecord {
    /// An event that ended without a response: never sent, or cut off in flight.
    pub fn unanswered(
        seq: u64,
        entity: Entity,
        offset_ms: u64,
        activity: Activity,
        finished_at: Duration,
        kind: FailureKind,
        detail: &str,
    ) -> EventRecord {
        EventRecord {
            seq,
            entity,
            offset_ms,
            activity,
            finished_at,
            lateness: Duration::ZERO,
            service: Duration::ZERO,
            latency: Duration::ZERO,
            requests: 0,
            retries: 0,
            retry_causes: Vec::new(),
            result: EventResult::failure(kind, detail),
        }
    }
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, MAX_TRACKED_US);
    // Cannot fail: the value is clamped into the histogram's range.
    let _ = h.record(us);
}

/// The three timings of a set of events (all of a run's, or one activity's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// First request sent → last response.
    #[serde(with = "crate::result::hdr", rename = "service_time")]
    pub service: Histogram<u64>,
    /// Due → last response: free of coordinated omission.
    #[serde(with = "crate::result::hdr", rename = "latency_from_intended_time")]
    pub latency: Histogram<u64>,
    /// Due → first request sent.
    #[serde(with = "crate::result::hdr")]
    pub lateness: Histogram<u64>,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            service: histogram(),
            latency: histogram(),
            lateness: histogram(),
        }
    }
}

impl Timings {
    fn add(&mut self, r: &EventRecord) {
        record(&mut self.service, r.service);
        record(&mut self.latency, r.latency);
        record(&mut self.lateness, r.lateness);
    }

    /// Adds another set; the bounds are the same on both sides, so it is exact.
    pub fn merge(&mut self, other: &Timings) {
        let _ = self.service.add(&other.service);
        let _ = self.latency.add(&other.latency);
        let _ = self.lateness.add(&other.lateness);
    }
}

/// Failed events listed individually in reports; past this only the counts grow.
pub const MAX_LISTED_FAILURES: usize = 10_000;

/// One failed event, for the report's list.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FailedEvent {
    pub seq: u64,
    pub offset_ms: u64,
    pub activity: &'static str,
    #[serde(skip)]
    pub entity: Entity,
    pub category: FailureKind,
}

/// The time series keeps at most this many buckets: past it, neighbours merge and the bucket
/// width doubles, so memory stays bounded however long a run lasts (per second for an hour).
const MAX_BUCKETS: usize = 3_600;

/// One row of the time series: events that finished in `[second, second + width)` seconds
/// after the run's start.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Bucket {
    pub second: u64,
    pub events: u64,
    /// Events that did not succeed, whatever their class.
    pub failures: u64,
    /// HTTP requests the bucket's events sent, retries included.
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub retries: u64,
    /// Summed latency from the intended time (queueing included).
    #[serde(rename = "latency_from_intended_sum_us")]
    pub latency_sum_us: u64,
    /// Summed service time (first request sent → last response).
    pub service_time_sum_us: u64,
    #[serde(default)]
    pub lateness_sum_us: u64,
    #[serde(default)]
    pub lateness_max_us: u64,
    /// Latency from the intended time (µs) of the events that sent a request, coarsely binned.
    #[serde(default, rename = "latency_from_intended_bins")]
    pub latency: CoarseHistogram,
    /// Schedule lateness (µs) of the same events, coarsely binned.
    #[serde(default, rename = "lateness_bins")]
    pub lateness: CoarseHistogram,
    /// Earliest and latest trace time (ms from the trace's start) of the bucket's events, so
    /// runs at different speeds align on trace time.
    #[serde(default)]
    pub trace_first_ms: Option<u64>,
    #[serde(default)]
    pub trace_last_ms: Option<u64>,
    /// Write → visible (µs) of the probes (`--probe-reads`) whose write was sent in the
    /// bucket, coarsely binned (empty, and not written, without probes).
    #[serde(
        default,
        rename = "write_to_visible_bins",
        skip_serializing_if = "CoarseHistogram::is_empty"
    )]
    pub visible: CoarseHistogram,
    /// The same per activity, for those that had events in the bucket (per-bucket samples of
    /// each activity, for `compare`).
    #[serde(default, skip_serializing_if = "ByActivity::is_empty")]
    pub activities: ByActivity,
}

/// One activity's events of one bucket.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ActivityBucket {
    pub events: u64,
    /// Events that did not succeed, whatever their class.
    pub failures: u64,
    /// Latency from the intended time (µs) of those that sent a request, coarsely binned.
    #[serde(default, rename = "latency_from_intended_bins")]
    pub latency: CoarseHistogram,
}

impl ActivityBucket {
    fn absorb(&mut self, other: &ActivityBucket) {
        self.events += other.events;
        self.failures += other.failures;
        self.latency.add(&other.latency);
    }
}

/// A bucket's `ActivityBucket`s, indexed by `Activity::index`; written as an object keyed by
/// activity, with only the activities that had events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ByActivity(pub [ActivityBucket; 6]);

impl ByActivity {
    pub fn get(&self, activity: Activity) -> &ActivityBucket {
        &self.0[activity.index()]
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|a| a.events == 0)
    }
}

impl Serialize for ByActivity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            Activity::ALL
                .iter()
                .map(|a| (a.key(), self.get(*a)))
                .filter(|(_, b)| b.events > 0),
        )
    }
}

impl<'de> Deserialize<'de> for ByActivity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keyed;
        impl<'de> serde::de::Visitor<'de> for Keyed {
            type Value = ByActivity;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of activities")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ByActivity, A::Error> {
                let mut all = ByActivity::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let activity = Activity::ALL
                        .into_iter()
                        .find(|a| a.key() == key)
                        .ok_or_else(|| {
                            serde::de::Error::custom(format!("`{key}` is not an activity"))
                        })?;
                    let bucket: ActivityBucket = map.next_value()?;
                    let slot = &mut all.0[activity.index()];
                    if slot.events == 0 {
                        *slot = bucket;
                    } else {
                        slot.absorb(&bucket);
                    }
                }
                Ok(all)
            }
        }
        d.deserialize_map(Keyed)
    }
}

impl Bucket {
    /// Adds another bucket's counts (same or coarser span).
    pub fn absorb(&mut self, other: &Bucket) {
        self.events += other.events;
        self.failures += other.failures;
        self.requests += other.requests;
        self.retries += other.retries;
        self.latency_sum_us += other.latency_sum_us;
        self.service_time_sum_us += other.service_time_sum_us;
        self.lateness_sum_us += other.lateness_sum_us;
        self.lateness_max_us = self.lateness_max_us.max(other.lateness_max_us);
        self.latency.add(&other.latency);
        self.lateness.add(&other.lateness);
        self.trace_first_ms = min_some(self.trace_first_ms, other.trace_first_ms);
        self.trace_last_ms = self.trace_last_ms.max(other.trace_last_ms);
        self.visible.add(&other.visible);
        for (mine, theirs) in self.activities.0.iter_mut().zip(&other.activities.0) {
            if theirs.events > 0 {
                mine.absorb(theirs);
            }
        }
    }
}

fn min_some(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[derive(Clone, Debug)]
pub struct Metrics {
    pub service: Histogram<u64>,
    pub latency: Histogram<u64>,
    pub lateness: Histogram<u64>,
    /// The same three timings per activity, indexed by `Activity::index`.
    pub by_activity: [Timings; 6],
    pub successes: [u64; 6],
    pub failures: [u64; 6],
    pub requests: u64,
    pub retries: u64,
    /// Failed events by kind (every class: failures, unknown outcomes, interruptions, blocks).
    pub errors: BTreeMap<FailureKind, u64>,
    /// First example detail per kind.
    pub error_examples: BTreeMap<FailureKind, String>,
    /// Retries by the kind of the attempt that was retried.
    pub retry_reasons: BTreeMap<FailureKind, u64>,
    /// First example detail per retried kind.
    pub retry_examples: BTreeMap<FailureKind, String>,
    pub series: Vec<Bucket>,
    /// Width of one bucket of `series`, in seconds (1, 2, 4, …).
    pub bucket_secs: u64,
    /// The first `MAX_LISTED_FAILURES` failed events, in completion order.
    pub failed_events: Vec<FailedEvent>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            service: histogram(),
            latency: histogram(),
            lateness: histogram(),
            by_activity: Default::default(),
            successes: [0; 6],
            failures: [0; 6],
            requests: 0,
            retries: 0,
            errors: BTreeMap::new(),
            error_examples: BTreeMap::new(),
            retry_reasons: BTreeMap::new(),
            retry_examples: BTreeMap::new(),
            series: Vec::new(),
            bucket_secs: 1,
            failed_events: Vec::new(),
        }
    }
}

impl Metrics {
    pub fn add(&mut self, r: &EventRecord) {
        // An event that sent nothing (blocked, or cut off in flight) has no times to record.
        if r.requests > 0 {
            record(&mut self.service, r.service);
            record(&mut self.latency, r.latency);
            record(&mut self.lateness, r.lateness);
            self.by_activity[r.activity.index()].add(r);
        }
        self.requests += u64::from(r.requests);
        self.retries += u64::from(r.retries);
        for cause in &r.retry_causes {
            *self.retry_reasons.entry(cause.kind.clone()).or_default() += 1;
            self.retry_examples
                .entry(cause.kind.clone())
                .or_insert_with(|| cause.detail.clone());
        }
        let failed = u64::from(r.result != EventResult::Success);
        let bucket = self.bucket(r.finished_at.as_secs());
        bucket.events += 1;
        bucket.failures += failed;
        bucket.requests += u64::from(r.requests);
        bucket.retries += u64::from(r.retries);
        bucket.latency_sum_us += r.latency.as_micros() as u64;
        bucket.service_time_sum_us += r.service.as_micros() as u64;
        let lateness_us = r.lateness.as_micros() as u64;
        bucket.lateness_sum_us += lateness_us;
        bucket.lateness_max_us = bucket.lateness_max_us.max(lateness_us);
        let of_activity = &mut bucket.activities.0[r.activity.index()];
        of_activity.events += 1;
        of_activity.failures += failed;
        if r.requests > 0 {
            of_activity.latency.record(r.latency.as_micros() as u64);
            bucket.latency.record(r.latency.as_micros() as u64);
            bucket.lateness.record(lateness_us);
        }
        bucket.trace_first_ms = min_some(bucket.trace_first_ms, Some(r.offset_ms));
        bucket.trace_last_ms = bucket.trace_last_ms.max(Some(r.offset_ms));
        match &r.result {
            EventResult::Success => self.successes[r.activity.index()] += 1,
            EventResult::Failure { kind, detail } => {
                self.failures[r.activity.index()] += 1;
                if self.failed_events.len() < MAX_LISTED_FAILURES {
                    self.failed_events.push(FailedEvent {
                        seq: r.seq,
                        offset_ms: r.offset_ms,
                        activity: r.activity.key(),
                        entity: r.entity,
                        category: kind.clone(),
                    });
                }
                *self.errors.entry(kind.clone()).or_default() += 1;
                self.error_examples
                    .entry(kind.clone())
                    .or_insert_with(|| detail.clone());
            }
        }
    }

    /// Adds write → visible times (`Bucket::visible`) of probes whose write went out at
    /// `second` of the run.
    pub fn add_visible(&mut self, second: u64, times: &CoarseHistogram) {
        self.bucket(second).visible.add(times);
    }

    /// Adds another shard's or window's measurements; histograms merge exactly.
    pub fn merge(&mut self, other: &Metrics) {
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.service.add(&other.service);
        let _ = self.latency.add(&other.latency);
        let _ = self.lateness.add(&other.lateness);
        for (mine, theirs) in self.by_activity.iter_mut().zip(&other.by_activity) {
            mine.merge(theirs);
        }
        for i in 0..6 {
            self.successes[i] += other.successes[i];
            self.failures[i] += other.failures[i];
        }
        self.requests += other.requests;
        self.retries += other.retries;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.error_examples {
            self.error_examples
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        for (k, v) in &other.retry_reasons {
            *self.retry_reasons.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.retry_examples {
            self.retry_examples
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        let room = MAX_LISTED_FAILURES.saturating_sub(self.failed_events.len());
        self.failed_events
            .extend(other.failed_events.iter().take(room).cloned());
        while self.bucket_secs < other.bucket_secs {
            self.halve_series();
        }
        for b in &other.series {
            self.bucket(b.second).absorb(b);
        }
    }

    /// The bucket holding `second`, growing (and if needed coarsening) the series.
    fn bucket(&mut self, second: u64) -> &mut Bucket {
        while second / self.bucket_secs >= MAX_BUCKETS as u64 {
            self.halve_series();
        }
        let index = (second / self.bucket_secs) as usize;
        while self.series.len() <= index {
            let start = self.series.len() as u64 * self.bucket_secs;
            self.series.push(Bucket {
                second: start,
                ..Bucket::default()
            });
        }
        &mut self.series[index]
    }

    /// Doubles the bucket width, merging neighbours.
    fn halve_series(&mut self) {
        self.bucket_secs *= 2;
        let merged = self
            .series
            .chunks(2)
            .map(|pair| {
                let mut merged = pair[0].clone();
                for b in &pair[1..] {
                    merged.absorb(b);
                }
                merged
            })
            .collect();
        self.series = merged;
    }

    pub fn total(&self) -> u64 {
        self.successes.iter().sum::<u64>() + self.failures.iter().sum::<u64>()
    }

    /// Every event that did not succeed, whatever its class.
    pub fn total_failures(&self) -> u64 {
        self.failures.iter().sum()
    }

    /// Events of one accounting class.
    pub fn in_class(&self, class: Class) -> u64 {
        self.errors
            .iter()
            .filter(|(kind, _)| kind.class() == class)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn succeeded(&self) -> u64 {
        self.successes.iter().sum()
    }

    pub fn success_rate(&self) -> f64 {
        match self.total() {
            0 => 1.0,
            n => (n - self.total_failures()) as f64 / n as f64,
        }
    }

    pub fn count(&self, activity: Activity) -> u64 {
        self.successes[activity.index()] + self.failures[activity.index()]
    }
}

/// Percentiles of one histogram, in milliseconds (all 0 when it is empty).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles {
                count: 0,
                min_ms: 0.0,
                mean_ms: 0.0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p95_ms: 0.0,
                p99_ms: 0.0,
                p999_ms: 0.0,
                max_ms: 0.0,
            };
        }
        Percentiles {
            count: h.len(),
            min_ms: ms(h.min()),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(activity: Activity, latency_ms: u64, at_s: u64, result: EventResult) -> EventRecord {
        EventRecord {
            seq: at_s,
            entity: Entity::Inventory(0),
            offset_ms: 0,
            activity,
            finished_at: Duration::from_secs(at_s),
            lateness: Duration::from_millis(1),
            service: Duration::from_millis(latency_ms),
            latency: Duration::from_millis(latency_ms),
            requests: 1,
            retries: 0,
            retry_causes: Vec::new(),
            result,
        }
    }

    fn failure(kind: FailureKind) -> EventResult {
        EventResult::failure(kind.clone(), format!("{kind} detail"))
    }

    #[test]
    fn counts_rates_and_percentiles() {
        let mut m = Metrics::default();
        for i in 1..=100 {
            m.add(&rec(Activity::NewOrder, i, 0, EventResult::Success));
        }
        m.add(&rec(
            Activity::InventoryUpdate,
            5,
            2,
            failure(FailureKind::http(503)),
        ));
        assert_eq!(m.total(), 101);
        assert_eq!(m.count(Activity::NewOrder), 100);
        assert_eq!(m.errors.get(&FailureKind::http(503)), Some(&1));
        assert!((m.success_rate() - 100.0 / 101.0).abs() < 1e-12);
        let p = Percentiles::of(&m.latency);
        assert!((p.p50_ms - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99_ms - 99.0).abs() < 0.1, "{p:?}");
        assert_eq!(m.series.len(), 3);
        assert_eq!(m.series[2].failures, 1);
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let records: Vec<EventRecord> = (0..50)
            .map(|i| {
                let result = if i % 7 == 0 {
                    failure(FailureKind::Timeout)
                } else {
                    EventResult::Success
                };
                rec(Activity::ALL[i as usize % 6], i * 3 + 1, i / 10, result)
            })
            .collect();
        let mut whole = Metrics::default();
        let (mut a, mut b) = (Metrics::default(), Metrics::default());
        for (i, r) in records.iter().enumerate() {
            whole.add(r);
            if i % 2 == 0 {
                a.add(r)
            } else {
                b.add(r)
            }
        }
        a.merge(&b);
        assert_eq!(a.latency, whole.latency);
        assert_eq!(a.by_activity, whole.by_activity);
        assert_eq!(
            a.by_activity[Activity::NewOrder.index()].latency.len(),
            whole.count(Activity::NewOrder)
        );
        assert_eq!(a.successes, whole.successes);
        assert_eq!(a.errors, whole.errors);
        assert_eq!(a.series, whole.series);
    }

    #[test]
    fn per_activity_buckets_merge_exactly_and_list_only_active_activities() {
        let records: Vec<EventRecord> = (0..300u64)
            .map(|i| {
                let result = if i % 13 == 0 {
                    failure(FailureKind::http(500))
                } else {
                    EventResult::Success
                };
                // Two activities only, latencies over three decades, over 5 seconds.
                let activity = [Activity::NewOrder, Activity::InventoryUpdate][(i % 2) as usize];
                rec(activity, 1 + (i * 37) % 900, i / 60, result)
            })
            .collect();
        let (mut whole, mut a, mut b) =
            (Metrics::default(), Metrics::default(), Metrics::default());
        for r in &records {
            whole.add(r);
            if r.seq % 3 == 0 {
                a.add(r)
            } else {
                b.add(r)
            }
        }
        a.merge(&b);
        assert_eq!(a.series, whole.series);
        for bucket in &whole.series {
            let orders = bucket.activities.get(Activity::NewOrder);
            let stock = bucket.activities.get(Activity::InventoryUpdate);
            assert_eq!(orders.events + stock.events, bucket.events);
            assert_eq!(orders.failures + stock.failures, bucket.failures);
            let mut both = orders.latency.clone();
            both.add(&stock.latency);
            assert_eq!(both, bucket.latency, "second {}", bucket.second);
            assert_eq!(bucket.activities.get(Activity::Cancellation).events, 0);
        }
        // Value for value: the per-activity histogram of a bucket is the one of its events.
        let mut expected = CoarseHistogram::default();
        for r in records
            .iter()
            .filter(|r| r.finished_at.as_secs() == 2 && r.activity == Activity::NewOrder)
        {
            expected.record(r.latency.as_micros() as u64);
        }
        assert_eq!(
            whole.series[2].activities.get(Activity::NewOrder).latency,
            expected
        );
        // Written with only the activities that had events, and read back equal.
        let json = serde_json::to_value(&whole.series[2]).unwrap();
        let keys: Vec<&String> = json["activities"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["inventory_update", "new_order"]);
        let back: Bucket = serde_json::from_value(json).unwrap();
        assert_eq!(back, whole.series[2]);
        assert!(serde_json::from_str::<Bucket>(
            r#"{"second":0,"events":0,"failures":0,"latency_from_intended_sum_us":0,
                "service_time_sum_us":0,"activities":{"teapot":{"events":1,"failures":0}}}"#
        )
        .unwrap_err()
        .to_string()
        .contains("`teapot` is not an activity"));
        // A bucket without events writes no activities at all.
        let empty = serde_json::to_value(Bucket::default()).unwrap();
        assert!(empty.get("activities").is_none() && empty.get("write_to_visible_bins").is_none());
    }

    #[test]
    fn series_stays_bounded_and_keeps_every_event() {
        let mut m = Metrics::default();
        // Two days, one event every 10 s.
        for s in (0..172_800).step_by(10) {
            m.add(&rec(Activity::NewOrder, 1, s, EventResult::Success));
        }
        assert!(m.series.len() <= MAX_BUCKETS, "{}", m.series.len());
        assert_eq!(m.bucket_secs, 64);
        assert_eq!(m.series.iter().map(|b| b.events).sum::<u64>(), 17_280);
        assert_eq!(m.series[1].second, 64);
        // Merging a fine series into a coarse one re-buckets it.
        let mut fine = Metrics::default();
        fine.add(&rec(Activity::NewOrder, 1, 130, EventResult::Success));
        m.merge(&fine);
        // [128, 192) held 130, 140, …, 190.
        assert_eq!(m.series[2].events, 7 + 1);
    }
}
