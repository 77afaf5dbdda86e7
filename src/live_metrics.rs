//! Live metrics of a run (`--metrics-addr`): counters and fixed-bucket histograms that a
//! Prometheus scrape reads as OpenMetrics text while the run goes on. Only figures that add up
//! across processes (counts, bucket counts, sums), never per-process percentiles, so the
//! shards of a distributed run can be summed by the scraper.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::metrics::{EventRecord, EventResult};
use crate::replay::Progress;

/// The media type of what `encode` returns.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the latency and service-time buckets: 1 ms to 60 s.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// Upper bounds (seconds) of the schedule-lateness buckets: 100 µs to 10 s.
pub const LATENESS_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 10.0,
];

/// The outcome label: `success`, or the failure kind as the report names it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    activity: &'static str,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActivityLabels {
    activity: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

type HistogramFamily = Family<ActivityLabels, Histogram, fn() -> Histogram>;

/// The metrics of one run and the registry that encodes them.
pub struct LiveMetrics {
    registry: Registry,
    events: Family<OutcomeLabels, Counter>,
    requests: Family<ActivityLabels, Counter>,
    retries: Family<ActivityLabels, Counter>,
    latency: HistogramFamily,
    service: HistogramFamily,
    lateness: Histogram,
    finished: Arc<AtomicBool>,
}

impl std::fmt::Debug for LiveMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveMetrics").finish_non_exhaustive()
    }
}

impl LiveMetrics {
    /// Metrics reading the replayer's `progress` counters at each scrape.
    pub fn new(progress: Arc<Progress>) -> LiveMetrics {
        let mut registry = Registry::with_prefix("loadgen");
        let events = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "events",
            "Events that ended, by activity and outcome (success, or the failure kind as the \
             report names it)",
            events.clone(),
        );
        let requests = Family::<ActivityLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests sent, retries included",
            requests.clone(),
        );
        let retries = Family::<ActivityLabels, Counter>::default();
        registry.register("retries", "Requests that were retries", retries.clone());
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "latency",
            "Latency from the intended (scheduled) time to the last response, of events that \
             sent a request",
            Unit::Seconds,
            latency.clone(),
        );
        let service: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "service_time",
            "First request sent to last response, of events that sent a request",
            Unit::Seconds,
            service.clone(),
        );
        let lateness = Histogram::new(LATENESS_BUCKETS);
        registry.register_with_unit(
            "lateness",
            "Intended time to first request sent (how late the schedule ran)",
            Unit::Seconds,
            lateness.clone(),
        );
        let finished = Arc::new(AtomicBool::new(false));
        registry.register_collector(Box::new(ProgressCollector {
            progress,
            finished: finished.clone(),
        }));
        LiveMetrics {
            registry,
            events,
            requests,
            retries,
            latency,
            service,
            lateness,
            finished,
        }
    }

    /// Counts one event that ended, as the report counts it (times only when it sent a
    /// request, like the report's histograms).
    pub fn record(&self, r: &EventRecord) {
        let activity = r.activity.key();
        let outcome = match &r.result {
            EventResult::Success => "success".to_string(),
            EventResult::Failure { kind, .. } => kind.to_string(),
        };
        self.events
            .get_or_create(&OutcomeLabels { activity, outcome })
            .inc();
        let labels = ActivityLabels { activity };
        self.requests
            .get_or_create(&labels)
            .inc_by(u64::from(r.requests));
        self.retries
            .get_or_create(&labels)
            .inc_by(u64::from(r.retries));
        if r.requests > 0 {
            self.latency
                .get_or_create(&labels)
                .observe(r.latency.as_secs_f64());
            self.service
                .get_or_create(&labels)
                .observe(r.service.as_secs_f64());
            self.lateness.observe(r.lateness.as_secs_f64());
        }
    }

    /// Every event of the run has been recorded: `loadgen_run_finished` reads 1 from now on,
    /// and the figures are final.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
    }

    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }

    /// The OpenMetrics text of every metric, ending with `# EOF`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The replayer's own counters, read at each scrape.
#[derive(Debug)]
struct ProgressCollector {
    progress: Arc<Progress>,
    finished: Arc<AtomicBool>,
}

impl ProgressCollector {
    fn counter(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        value: u64,
    ) -> Result<(), std::fmt::Error> {
        let metric = ConstCounter::new(value);
        metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
    }

    fn gauge(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        unit: Option<&Unit>,
        value: i64,
    ) -> Result<(), std::fmt::Error> {
        let metric = ConstGauge::new(value);
        metric.encode(encoder.encode_descriptor(name, help, unit, metric.metric_type())?)
    }
}

impl Collector for ProgressCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let p = &self.progress;
        // Completed first: an event counted as completed was dispatched and received before,
        // so the three never read out of order.
        let completed = p.completed.load(Ordering::SeqCst);
        let dispatched = p.dispatched.load(Ordering::SeqCst).max(completed);
        let received = p.received.load(Ordering::SeqCst).max(dispatched);
        let e = &mut encoder;
        Self::counter(
            e,
            "events_received",
            "Events the replayer took from the trace or the simulation",
            received,
        )?;
        Self::counter(
            e,
            "events_dispatched",
            "Events whose time came and that were handed to their entity's lane",
            dispatched,
        )?;
        Self::counter(
            e,
            "events_completed",
            "Events that ended (success, failure or blocked)",
            completed,
        )?;
        Self::gauge(
            e,
            "events_in_flight",
            "Events dispatched and not yet ended (sending, or waiting behind an earlier event \
             of the same entity)",
            None,
            i64::try_from(dispatched - completed).unwrap_or(i64::MAX),
        )?;
        Self::gauge(
            e,
            "trace_position",
            "Trace time of the last event whose time has come",
            Some(&Unit::Other("milliseconds".into())),
            i64::try_from(p.trace_pos_ms.load(Ordering::SeqCst)).unwrap_or(i64::MAX),
        )?;
        Self::gauge(
            e,
            "run_finished",
            "1 once every event of the run has been counted: the figures are final",
            None,
            i64::from(self.finished.load(Ordering::SeqCst)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Activity, Entity};
    use crate::outcome::FailureKind;
    use std::time::Duration;

    fn record(activity: Activity, latency_ms: u64, result: EventResult) -> EventRecord {
        EventRecord {
            seq: 0,
            entity: Entity::Inventory(0),
            offset_ms: 0,
            activity,
            finished_at: Duration::ZERO,
            lateness: Duration::from_micros(300),
            service: Duration::from_millis(latency_ms),
            latency: Duration::from_millis(latency_ms),
            requests: 2,
            retries: 1,
            retry_causes: Vec::new(),
            result,
        }
    }

    #[test]
    fn counts_by_activity_and_outcome_with_fixed_buckets() {
        let progress = Arc::new(Progress::default());
        progress.received.store(5, Ordering::SeqCst);
        progress.dispatched.store(4, Ordering::SeqCst);
        progress.completed.store(3, Ordering::SeqCst);
        progress.trace_pos_ms.store(61_000, Ordering::SeqCst);
        let m = LiveMetrics::new(progress);
        m.record(&record(Activity::NewOrder, 3, EventResult::Success));
        m.record(&record(Activity::NewOrder, 30, EventResult::Success));
        m.record(&record(
            Activity::NewOrder,
            7,
            EventResult::failure(FailureKind::of_status(400, ""), "x"),
        ));
        m.record(&EventRecord::unanswered(
            1,
            Entity::Inventory(0),
            0,
            Activity::InventoryUpdate,
            Duration::ZERO,
            FailureKind::Blocked,
            "blocked",
        ));
        let text = m.encode();
        for line in [
            "# TYPE loadgen_events counter",
            r#"loadgen_events_total{activity="new_order",outcome="success"} 2"#,
            r#"loadgen_events_total{activity="new_order",outcome="http_400"} 1"#,
            r#"loadgen_events_total{activity="inventory_update",outcome="blocked_by_earlier_failure"} 1"#,
            r#"loadgen_requests_total{activity="new_order"} 6"#,
            r#"loadgen_retries_total{activity="new_order"} 3"#,
            "# TYPE loadgen_latency_seconds histogram",
            "# UNIT loadgen_latency_seconds seconds",
            r#"loadgen_latency_seconds_bucket{le="0.0025",activity="new_order"} 0"#,
            r#"loadgen_latency_seconds_bucket{le="0.005",activity="new_order"} 1"#,
            r#"loadgen_latency_seconds_bucket{le="0.01",activity="new_order"} 2"#,
            r#"loadgen_latency_seconds_bucket{le="+Inf",activity="new_order"} 3"#,
            r#"loadgen_latency_seconds_count{activity="new_order"} 3"#,
            r#"loadgen_lateness_seconds_bucket{le="0.00025"} 0"#,
            r#"loadgen_lateness_seconds_bucket{le="0.0005"} 3"#,
            "loadgen_events_received_total 5",
            "loadgen_events_dispatched_total 4",
            "loadgen_events_completed_total 3",
            "loadgen_events_in_flight 1",
            "# UNIT loadgen_trace_position_milliseconds milliseconds",
            "loadgen_trace_position_milliseconds 61000",
            "loadgen_run_finished 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        // A blocked event sent nothing: no time of it is in the histograms.
        assert!(!text.contains(r#"loadgen_latency_seconds_count{activity="inventory_update"}"#));
        m.finish();
        assert!(m.encode().lines().any(|l| l == "loadgen_run_finished 1"));
    }
}
