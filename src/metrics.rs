//! What a replay measured: HDR histograms of service time, latency from the intended time and
//! schedule lateness; counts per activity and per failure category; a per-second time series.
//! Synchronous and mergeable, so shards (or threads) can combine their results exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::event::Activity;

/// Highest value the histograms track, in microseconds (1 hour); larger values are clamped.
const MAX_TRACKED_US: u64 = 3_600_000_000;

/// How one event ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventResult {
    Success,
    /// A counted, categorised failure: `category` is e.g. `http_400:unknown_predicate`,
    /// `http_503`, `timeout`, `connect`, `connection`, `interrupted`.
    Failure { category: String, detail: String },
}

/// One event's measurements, as the dispatcher reports it.
#[derive(Clone, Debug)]
pub struct EventRecord {
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
    pub result: EventResult,
}

fn histogram() -> Histogram<u64> {
    // 3 significant digits over 1 µs .. 1 h: fixed, valid bounds.
    Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).expect("static histogram bounds")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, MAX_TRACKED_US);
    // Cannot fail: the value is clamped into the histogram's range.
    let _ = h.record(us);
}

/// One row of the time series.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Bucket {
    pub second: u64,
    pub events: u64,
    pub failures: u64,
    pub latency_sum_us: u64,
}

#[derive(Clone, Debug)]
pub struct Metrics {
    pub service: Histogram<u64>,
    pub latency: Histogram<u64>,
    pub lateness: Histogram<u64>,
    pub successes: [u64; 6],
    pub failures: [u64; 6],
    pub requests: u64,
    pub retries: u64,
    pub errors: BTreeMap<String, u64>,
    /// First example detail per error category.
    pub error_examples: BTreeMap<String, String>,
    pub series: Vec<Bucket>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            service: histogram(),
            latency: histogram(),
            lateness: histogram(),
            successes: [0; 6],
            failures: [0; 6],
            requests: 0,
            retries: 0,
            errors: BTreeMap::new(),
            error_examples: BTreeMap::new(),
            series: Vec::new(),
        }
    }
}

impl Metrics {
    pub fn add(&mut self, r: &EventRecord) {
        record(&mut self.service, r.service);
        record(&mut self.latency, r.latency);
        record(&mut self.lateness, r.lateness);
        self.requests += u64::from(r.requests);
        self.retries += u64::from(r.retries);
        let second = r.finished_at.as_secs();
        if self.series.len() <= second as usize {
            let from = self.series.len() as u64;
            self.series
                .extend((from..=second).map(|second| Bucket { second, ..Bucket::default() }));
        }
        let bucket = &mut self.series[second as usize];
        bucket.events += 1;
        bucket.latency_sum_us += r.latency.as_micros() as u64;
        match &r.result {
            EventResult::Success => self.successes[r.activity.index()] += 1,
            EventResult::Failure { category, detail } => {
                self.failures[r.activity.index()] += 1;
                bucket.failures += 1;
                *self.errors.entry(category.clone()).or_default() += 1;
                self.error_examples
                    .entry(category.clone())
                    .or_insert_with(|| detail.clone());
            }
        }
    }

    /// Adds another shard's or window's measurements; histograms merge exactly.
    pub fn merge(&mut self, other: &Metrics) {
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.service.add(&other.service);
        let _ = self.latency.add(&other.latency);
        let _ = self.lateness.add(&other.lateness);
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
            self.error_examples.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for b in &other.series {
            if self.series.len() <= b.second as usize {
                let from = self.series.len() as u64;
                self.series
                    .extend((from..=b.second).map(|second| Bucket { second, ..Bucket::default() }));
            }
            let mine = &mut self.series[b.second as usize];
            mine.events += b.events;
            mine.failures += b.failures;
            mine.latency_sum_us += b.latency_sum_us;
        }
    }

    pub fn total(&self) -> u64 {
        self.successes.iter().sum::<u64>() + self.failures.iter().sum::<u64>()
    }

    pub fn total_failures(&self) -> u64 {
        self.failures.iter().sum()
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

/// Percentiles of one histogram, in milliseconds.
#[derive(Clone, Debug, Serialize, PartialEq)]
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
            activity,
            finished_at: Duration::from_secs(at_s),
            lateness: Duration::from_millis(1),
            service: Duration::from_millis(latency_ms),
            latency: Duration::from_millis(latency_ms),
            requests: 1,
            retries: 0,
            result,
        }
    }

    fn failure(category: &str) -> EventResult {
        EventResult::Failure {
            category: category.into(),
            detail: format!("{category} detail"),
        }
    }

    #[test]
    fn counts_rates_and_percentiles() {
        let mut m = Metrics::default();
        for i in 1..=100 {
            m.add(&rec(Activity::NewOrder, i, 0, EventResult::Success));
        }
        m.add(&rec(Activity::InventoryUpdate, 5, 2, failure("http_503")));
        assert_eq!(m.total(), 101);
        assert_eq!(m.count(Activity::NewOrder), 100);
        assert_eq!(m.errors.get("http_503"), Some(&1));
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
                let result = if i % 7 == 0 { failure("timeout") } else { EventResult::Success };
                rec(Activity::ALL[i as usize % 6], i * 3 + 1, i / 10, result)
            })
            .collect();
        let mut whole = Metrics::default();
        let (mut a, mut b) = (Metrics::default(), Metrics::default());
        for (i, r) in records.iter().enumerate() {
            whole.add(r);
            if i % 2 == 0 { a.add(r) } else { b.add(r) }
        }
        a.merge(&b);
        assert_eq!(a.latency, whole.latency);
        assert_eq!(a.successes, whole.successes);
        assert_eq!(a.errors, whole.errors);
        assert_eq!(a.series, whole.series);
    }
}
