//! The run result: a plain, versioned document (`schema_version`, described by
//! `schema/result.schema.json`) that a run writes with `--report`, that `merge` adds up and
//! that loadgen reads back. The console summary and the JSON report are functions of it, so a
//! saved result renders again exactly as the run printed it.
//!
//! Histograms are kept whole (HDR, V2 + DEFLATE, base64); the percentiles, rates and notes
//! beside them are derived (`refresh`), recomputed whenever a document is built, read or merged,
//! so they can never disagree with the histograms.

pub mod coarse;
pub mod compare;
pub mod hdr;
pub mod merge;
pub mod render;
pub mod series;
pub mod thresholds;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::causal::Shard;
use crate::event::{Activity, Entity};
use crate::metrics::{Bucket, Metrics, Percentiles, Timings, MAX_LISTED_FAILURES};
use crate::outcome::{Class, FailureKind};
use crate::replay::ReplayOutcome;
use crate::result::coarse::CoarseHistogram;

/// The version of the document this loadgen writes; it reads this one and older ones (version
/// 3 writes each bucket's activities as one dense string, `series`; version 2 wrote them as
/// an object per activity, version 1 had none).
pub const SCHEMA_VERSION: u32 = 3;

/// Which partition of the trace's roots (`causal::Root::partition`) chose a shard's events,
/// numbered as checkpoints number it: the one that deals created customers out by number
/// came with checkpoint version 4 (`replay::checkpoint`). Shard results record it (schema
/// version 3) so that `merge` refuses shards of different partitions.
pub const PARTITION_VERSION: u32 = 4;

/// The schema of the document, as checked in (`schema/result.schema.json`).
pub const SCHEMA: &str = include_str!("../../schema/result.schema.json");

/// A finished run (or the merge of a sharded run's results).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    pub schema_version: u32,
    /// Version of the loadgen that wrote it.
    pub loadgen: String,
    pub run: RunMeta,
    /// Of a shard's result or a merge of shards: the partition of the roots the shards were
    /// chosen by (`PARTITION_VERSION`); none for a whole run, or a shard of schema version 2
    /// or older (which did not record it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_version: Option<u32>,
    /// The command's settings, as it ran (its shape depends on the command; of a merge, shard
    /// 0's).
    pub config: serde_json::Value,
    /// RFC 3339 instant second 0 of the time series stands for: the run's start.
    pub started_at: String,
    pub duration_s: f64,
    pub stopped_early: bool,
    pub events: EventCounts,
    pub requests: u64,
    pub retries: u64,
    /// Why the retries happened: count and one example per kind.
    pub retry_reasons: BTreeMap<String, ErrorEntry>,
    /// Derived: succeeded events / events.
    #[serde(default)]
    pub success_rate: f64,
    /// Derived: events per minute of `duration_s`.
    #[serde(default)]
    pub throughput_per_min: f64,
    pub activities: BTreeMap<String, ActivityResult>,
    /// Derived from `histograms.service_time`: first request sent → last response, the
    /// console's "avg latency".
    #[serde(default)]
    pub service_time: Percentiles,
    /// Derived: intended time → last response (queueing included), free of coordinated omission.
    #[serde(default)]
    pub latency_from_intended_time: Percentiles,
    /// Derived: due → first request sent.
    #[serde(default)]
    pub lateness: Percentiles,
    /// The overall histograms, in microseconds.
    pub histograms: Timings,
    /// Events that did not succeed, by kind: count and one example.
    pub errors: BTreeMap<String, ErrorEntry>,
    /// The activities `activity_bins` of the buckets index (`series::activity_table`; none in
    /// documents of schema version 2 or older).
    #[serde(default)]
    pub time_series_activities: Vec<String>,
    /// Events finished per bucket of `time_series_bucket_s` seconds from `started_at`.
    #[serde(deserialize_with = "series::deserialize")]
    pub time_series: Vec<SeriesBucket>,
    pub time_series_bucket_s: u64,
    /// Failed events, up to `MAX_LISTED_FAILURES` (`failed_events_total` counts them all).
    pub failed_events: Vec<FailedEventRow>,
    pub failed_events_total: u64,
    pub write_to_visible: Option<Visibility>,
    /// Derived: what the numbers do not say by themselves.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The thresholds checked on this result and their verdicts (none when none was given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<thresholds::ThresholdRecord>,
}

/// What ran: enough to tell whether two results belong to the same run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunMeta {
    pub trace: TraceIdentity,
    pub seed: u64,
    /// The load profile's name.
    pub profile: String,
    pub run_id: String,
    pub speed: String,
    /// `--tag key=value` labels.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `--git-revision`, when given.
    #[serde(default)]
    pub git_revision: Option<String>,
    /// The partition of the trace this process sent (`--shard I/N`); none for a whole run.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// For a merged result: the number of shards it adds up (every one of them).
    #[serde(default)]
    pub shards_merged: Option<u32>,
}

/// The trace a run sent.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TraceIdentity {
    /// What the run read: the trace's name (`-` for standard input), or `live simulation`.
    pub source: String,
    /// The trace's event count and the CRC-32 of its records, from its footer (none for a
    /// live run, whose trace is its seed, profile and start).
    pub events: Option<u64>,
    pub crc32: Option<u32>,
    /// RFC 3339 instant of the trace's offset 0.
    pub start: String,
}

impl TraceIdentity {
    /// Whether two runs sent the same trace (wherever each read it from).
    fn same_trace(&self, other: &TraceIdentity) -> bool {
        (self.events, self.crc32, &self.start) == (other.events, other.crc32, &other.start)
    }
}

/// How the selected events ended. The classes are disjoint:
/// `received = succeeded + failed + unknown_outcome + interrupted + blocked`, and
/// `received + not_sent` = the events the run selected.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EventCounts {
    /// Events the replay took on (each ended in one of the classes below).
    pub received: u64,
    /// Events that ended with a result: `received - interrupted`.
    pub completed: u64,
    pub succeeded: u64,
    /// Refused by the server, or never reached it (4xx, 5xx, connection errors).
    pub failed: u64,
    /// Timed out: the server may or may not have applied them (`verify` tells; a resumed
    /// run resends them).
    pub unknown_outcome: u64,
    /// In flight when the drain after a stop ran out.
    pub interrupted: u64,
    /// Never sent because an earlier event of their entity did not succeed.
    pub blocked: u64,
    /// Selected but never sent because the run stopped.
    pub not_sent: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ErrorEntry {
    pub count: u64,
    pub example: String,
}

/// One activity's counts and timings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ActivityResult {
    pub succeeded: u64,
    pub failed: u64,
    pub histograms: Timings,
    /// Derived from `histograms`.
    #[serde(default)]
    pub service_time: Percentiles,
    #[serde(default)]
    pub latency_from_intended_time: Percentiles,
    #[serde(default)]
    pub lateness: Percentiles,
}

/// One bucket of the time series, with the percentiles of its coarse histograms (written and
/// read by `series`).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesBucket {
    pub bucket: Bucket,
    /// Derived: `events - failures`.
    pub successes: u64,
    /// Derived from `latency_from_intended_bins` (upper edges of the coarse bins).
    pub latency_p50_ms: f64,
    pub latency_p90_ms: f64,
    pub latency_p99_ms: f64,
    /// Derived from `lateness_bins`.
    pub lateness_p99_ms: f64,
}

impl SeriesBucket {
    fn of(bucket: &Bucket) -> SeriesBucket {
        SeriesBucket::from_bucket(bucket.clone())
    }

    /// The bucket with its derived fields not computed yet (until `refresh`).
    fn underived(bucket: Bucket) -> SeriesBucket {
        SeriesBucket {
            successes: 0,
            latency_p50_ms: 0.0,
            latency_p90_ms: 0.0,
            latency_p99_ms: 0.0,
            lateness_p99_ms: 0.0,
            bucket,
        }
    }

    fn from_bucket(bucket: Bucket) -> SeriesBucket {
        let ms = |us: u64| us as f64 / 1000.0;
        SeriesBucket {
            successes: bucket.events.saturating_sub(bucket.failures),
            latency_p50_ms: ms(bucket.latency.value_at_quantile(0.50)),
            latency_p90_ms: ms(bucket.latency.value_at_quantile(0.90)),
            latency_p99_ms: ms(bucket.latency.value_at_quantile(0.99)),
            lateness_p99_ms: ms(bucket.lateness.value_at_quantile(0.99)),
            bucket,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FailedEventRow {
    pub seq: u64,
    pub offset_ms: u64,
    pub activity: String,
    /// The subject id the run used, rendered when the result was built.
    pub subject: String,
    #[serde(with = "kind_key")]
    pub category: FailureKind,
}

/// "Write → visible" times of the propagation probes (`--probe-reads`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Visibility {
    pub probed: u64,
    pub not_visible: u64,
    /// Probes whose order was written again before they saw their write (not timed).
    pub superseded: u64,
    /// Derived from `histogram`.
    #[serde(default)]
    pub write_to_visible: Percentiles,
    /// Write → visible, in microseconds.
    #[serde(with = "hdr")]
    pub histogram: Histogram<u64>,
    /// The same by the Unix second their write went out in, until `RunResult::build` puts
    /// them in the time series' buckets (`Bucket::visible`).
    #[serde(skip)]
    pub by_second: BTreeMap<u64, CoarseHistogram>,
    /// The same by kind of write (`orders`, `customers`, `stock_levels`), each with the read
    /// that measured it.
    pub by_kind: BTreeMap<String, KindVisibility>,
}

/// "Write → visible" of one kind of write.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KindVisibility {
    /// The read the probes polled, i.e. the view this number measures.
    pub read: String,
    pub probed: u64,
    pub not_visible: u64,
    pub superseded: u64,
    #[serde(default)]
    pub write_to_visible: Percentiles,
    #[serde(with = "hdr")]
    pub histogram: Histogram<u64>,
}

impl Visibility {
    /// What the probes of a run found, once they are all done.
    pub fn of(stats: &crate::api::probe::ProbeStats) -> Visibility {
        use std::sync::atomic::{AtomicU64, Ordering};
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let histogram = stats.histogram();
        Visibility {
            probed: load(&stats.started),
            not_visible: load(&stats.not_visible),
            superseded: load(&stats.superseded),
            write_to_visible: Percentiles::of(&histogram),
            histogram,
            by_second: stats
                .by_second
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            by_kind: crate::api::probe::ProbeKind::ALL
                .iter()
                .map(|&kind| {
                    let k = stats.kind(kind);
                    let histogram = k.histogram();
                    let of_kind = KindVisibility {
                        read: kind.read().to_string(),
                        probed: load(&k.started),
                        not_visible: load(&k.not_visible),
                        superseded: load(&k.superseded),
                        write_to_visible: Percentiles::of(&histogram),
                        histogram,
                    };
                    (kind.key().to_string(), of_kind)
                })
                .collect(),
        }
    }

    /// Adds another shard's probes.
    fn merge(&mut self, other: &Visibility) {
        self.probed += other.probed;
        self.not_visible += other.not_visible;
        self.superseded += other.superseded;
        add_histogram(&mut self.histogram, &other.histogram);
        for (key, theirs) in &other.by_kind {
            match self.by_kind.get_mut(key) {
                Some(mine) => {
                    mine.probed += theirs.probed;
                    mine.not_visible += theirs.not_visible;
                    mine.superseded += theirs.superseded;
                    add_histogram(&mut mine.histogram, &theirs.histogram);
                }
                None => {
                    self.by_kind.insert(key.clone(), theirs.clone());
                }
            }
        }
    }

    fn refresh(&mut self) {
        self.write_to_visible = Percentiles::of(&self.histogram);
        for k in self.by_kind.values_mut() {
            k.write_to_visible = Percentiles::of(&k.histogram);
        }
    }
}

fn add_histogram(mine: &mut Histogram<u64>, theirs: &Histogram<u64>) {
    // Every histogram of a result has the run's bounds (`hdr::decode` sees to it).
    let _ = mine.add(theirs);
}

/// What the command knows about a run besides what the replay measured.
pub struct RunContext<'a> {
    pub meta: RunMeta,
    /// The command's settings, serialised as they go into the report.
    pub config: serde_json::Value,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub visibility: Option<Visibility>,
    /// Renders an entity as the subject id the run used.
    pub subject_of: &'a dyn Fn(Entity) -> String,
}

/// A result document that cannot be read. Each names the file, and the field when one is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    #[error("cannot read result {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a loadgen result document: {message}")]
    NotAResult { path: PathBuf, message: String },
    #[error(
        "{path}: schema_version {found} is newer than this loadgen reads (up to \
         {SCHEMA_VERSION}): read it with the loadgen that wrote it ({writer}) or a newer one"
    )]
    Newer {
        path: PathBuf,
        found: u64,
        writer: String,
    },
    #[error("{path}: field `{field}`: {message}")]
    Field {
        path: PathBuf,
        field: String,
        message: String,
    },
}

impl RunResult {
    /// The result of a finished run.
    pub fn build(outcome: &ReplayOutcome, context: RunContext) -> RunResult {
        let m = &outcome.metrics;
        let mut result = RunResult {
            schema_version: SCHEMA_VERSION,
            loadgen: env!("CARGO_PKG_VERSION").to_string(),
            partition_version: context.meta.shard.map(|_| PARTITION_VERSION),
            run: context.meta,
            config: context.config,
            started_at: context.started_at.to_rfc3339(),
            duration_s: outcome.elapsed.as_secs_f64(),
            stopped_early: outcome.stopped_early,
            events: EventCounts {
                received: outcome.received,
                completed: outcome.received - m.in_class(Class::Interrupted),
                succeeded: m.succeeded(),
                failed: m.in_class(Class::Failed),
                unknown_outcome: m.in_class(Class::UnknownOutcome),
                interrupted: m.in_class(Class::Interrupted),
                blocked: m.in_class(Class::Blocked),
                not_sent: outcome.not_sent,
            },
            requests: 0,
            retries: 0,
            retry_reasons: BTreeMap::new(),
            success_rate: 0.0,
            throughput_per_min: 0.0,
            activities: BTreeMap::new(),
            service_time: Percentiles::default(),
            latency_from_intended_time: Percentiles::default(),
            lateness: Percentiles::default(),
            histograms: Timings::default(),
            errors: BTreeMap::new(),
            time_series_activities: series::activity_table(),
            time_series: Vec::new(),
            time_series_bucket_s: 1,
            failed_events: m
                .failed_events
                .iter()
                .map(|f| FailedEventRow {
                    seq: f.seq,
                    offset_ms: f.offset_ms,
                    activity: f.activity.to_string(),
                    subject: (context.subject_of)(f.entity),
                    category: f.category.clone(),
                })
                .collect(),
            failed_events_total: m.total_failures(),
            write_to_visible: context.visibility,
            notes: Vec::new(),
            thresholds: Vec::new(),
        };
        let by_second = result
            .write_to_visible
            .as_mut()
            .map(|v| std::mem::take(&mut v.by_second))
            .unwrap_or_default();
        if by_second.is_empty() {
            result.set_measurements(m);
        } else {
            // The probes' times go in the buckets of the seconds after `started_at` their
            // writes went out in (a write before it, in the first).
            let start_s = context.started_at.timestamp().max(0) as u64;
            let mut m = m.clone();
            for (unix_s, times) in &by_second {
                m.add_visible(unix_s.saturating_sub(start_s), times);
            }
            result.set_measurements(&m);
        }
        result
    }

    /// Writes the measurements of `m` (histograms, counts per activity and kind, time series)
    /// into the document, and refreshes what derives from them.
    pub fn set_measurements(&mut self, m: &Metrics) {
        self.requests = m.requests;
        self.retries = m.retries;
        self.retry_reasons = entries(&m.retry_reasons, &m.retry_examples);
        self.errors = entries(&m.errors, &m.error_examples);
        self.histograms = Timings {
            service: m.service.clone(),
            latency: m.latency.clone(),
            lateness: m.lateness.clone(),
        };
        self.activities = Activity::ALL
            .iter()
            .map(|a| {
                let i = a.index();
                let activity = ActivityResult {
                    succeeded: m.successes[i],
                    failed: m.failures[i],
                    histograms: m.by_activity[i].clone(),
                    service_time: Percentiles::default(),
                    latency_from_intended_time: Percentiles::default(),
                    lateness: Percentiles::default(),
                };
                (a.key().to_string(), activity)
            })
            .collect();
        self.time_series_activities = series::activity_table();
        self.time_series = m.series.iter().map(SeriesBucket::of).collect();
        self.time_series_bucket_s = m.bucket_secs;
        self.refresh();
    }

    /// `measurements`, moving the histograms and the time series out instead of copying them
    /// (for `merge`, which drops the rest): a result holds 22 HDR histograms of ~190 kB of
    /// counts each, and copying them was a tenth of merging a day's shards. What is left
    /// behind is empty.
    pub(crate) fn take_measurements(&mut self) -> Metrics {
        fn take(h: &mut Histogram<u64>) -> Histogram<u64> {
            // An auto-resizing histogram allocates almost nothing.
            let empty = Histogram::new(1).expect("1 significant digit is valid");
            std::mem::replace(h, empty)
        }
        fn take_all(t: &mut Timings) -> Timings {
            Timings {
                service: take(&mut t.service),
                latency: take(&mut t.latency),
                lateness: take(&mut t.lateness),
            }
        }
        let series = std::mem::take(&mut self.time_series)
            .into_iter()
            .map(|b| b.bucket)
            .collect();
        let overall = take_all(&mut self.histograms);
        let by_activity = Activity::ALL.map(|activity| {
            self.activities
                .get_mut(activity.key())
                .map_or_else(Timings::default, |a| take_all(&mut a.histograms))
        });
        self.assemble(overall, by_activity, series)
    }

    /// The measurements as `Metrics`, to merge exactly (the failed-event list stays in the
    /// document: its subjects are rendered).
    pub fn measurements(&self) -> Metrics {
        let by_activity = Activity::ALL.map(|activity| {
            self.activities
                .get(activity.key())
                .map_or_else(Timings::default, |a| a.histograms.clone())
        });
        let series = self.time_series.iter().map(|b| b.bucket.clone()).collect();
        self.assemble(self.histograms.clone(), by_activity, series)
    }

    /// The document's counts as `Metrics`, with these histograms and series.
    fn assemble(
        &self,
        overall: Timings,
        by_activity: [Timings; 6],
        series: Vec<Bucket>,
    ) -> Metrics {
        let mut m = Metrics {
            service: overall.service,
            latency: overall.latency,
            lateness: overall.lateness,
            by_activity,
            successes: [0; 6],
            failures: [0; 6],
            requests: self.requests,
            retries: self.retries,
            errors: BTreeMap::new(),
            error_examples: BTreeMap::new(),
            retry_reasons: BTreeMap::new(),
            retry_examples: BTreeMap::new(),
            series,
            bucket_secs: self.time_series_bucket_s.max(1),
            failed_events: Vec::new(),
        };
        for activity in Activity::ALL {
            if let Some(a) = self.activities.get(activity.key()) {
                let i = activity.index();
                m.successes[i] = a.succeeded;
                m.failures[i] = a.failed;
            }
        }
        // Keys were checked when the document was read (`check`) or built from kinds.
        for (key, e) in &self.errors {
            if let Ok(kind) = key.parse::<FailureKind>() {
                m.errors.insert(kind.clone(), e.count);
                m.error_examples.insert(kind, e.example.clone());
            }
        }
        for (key, e) in &self.retry_reasons {
            if let Ok(kind) = key.parse::<FailureKind>() {
                m.retry_reasons.insert(kind.clone(), e.count);
                m.retry_examples.insert(kind, e.example.clone());
            }
        }
        m
    }

    /// Events the run took on, succeeded or not.
    pub fn total(&self) -> u64 {
        self.activities
            .values()
            .map(|a| a.succeeded + a.failed)
            .sum()
    }

    pub fn total_failures(&self) -> u64 {
        self.activities.values().map(|a| a.failed).sum()
    }

    /// Recomputes every derived field from the data it derives from.
    pub fn refresh(&mut self) {
        let total = self.total();
        self.success_rate = match total {
            0 => 1.0,
            n => (n - self.total_failures()) as f64 / n as f64,
        };
        self.throughput_per_min = if self.duration_s > 0.0 {
            total as f64 * 60.0 / self.duration_s
        } else {
            0.0
        };
        self.service_time = Percentiles::of(&self.histograms.service);
        self.latency_from_intended_time = Percentiles::of(&self.histograms.latency);
        self.lateness = Percentiles::of(&self.histograms.lateness);
        for a in self.activities.values_mut() {
            a.service_time = Percentiles::of(&a.histograms.service);
            a.latency_from_intended_time = Percentiles::of(&a.histograms.latency);
            a.lateness = Percentiles::of(&a.histograms.lateness);
        }
        for b in &mut self.time_series {
            *b = SeriesBucket::of(&b.bucket);
        }
        if let Some(v) = &mut self.write_to_visible {
            v.refresh();
        }
        self.notes = notes(self.events.unknown_outcome);
    }

    /// The document as compact JSON (a day's time series is megabytes: `jq .` shows it
    /// indented).
    pub fn to_json(&self) -> String {
        // Plain data with string keys: it always serialises.
        serde_json::to_string(self).expect("a result document serialises")
    }

    /// Writes the document atomically (`output::write_file`).
    pub fn write(&self, path: &Path) -> Result<(), crate::output::OutputError> {
        crate::output::write_file(path, self.to_json().as_bytes())
    }

    /// Reads a document back: a newer schema, a missing or malformed field, or an unknown
    /// failure kind is an error naming the file and the field.
    pub fn read(path: &Path) -> Result<RunResult, ResultError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResultError::Io {
            path: path.into(),
            source,
        })?;
        RunResult::parse(path, &text)
    }

    /// `read` on text already in memory; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<RunResult, ResultError> {
        let mut result = RunResult::parse_data(path, text)?;
        result.refresh();
        Ok(result)
    }

    /// `read` without recomputing the derived fields: for `merge`, which recomputes them once
    /// on the sum (a percentile walks a whole histogram; a result has 22 of them).
    pub(crate) fn read_data(path: &Path) -> Result<RunResult, ResultError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResultError::Io {
            path: path.into(),
            source,
        })?;
        RunResult::parse_data(path, &text)
    }

    fn parse_data(path: &Path, text: &str) -> Result<RunResult, ResultError> {
        let mut result: RunResult = parse_as(path, text)?;
        result
            .check()
            .map_err(|(field, message)| ResultError::Field {
                path: path.into(),
                field,
                message,
            })?;
        // The buckets' activities are in memory by activity whatever form they were read
        // from; written again, they index this table.
        result.time_series_activities = series::activity_table();
        Ok(result)
    }

    /// Part of a document (e.g. `merge::Header`), with the same checks of its version.
    pub fn read_as<T: serde::de::DeserializeOwned + Versioned>(
        path: &Path,
    ) -> Result<T, ResultError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResultError::Io {
            path: path.into(),
            source,
        })?;
        parse_as(path, &text)
    }

    /// What serde cannot see: failure kinds are known, activities are loadgen's.
    fn check(&self) -> Result<(), (String, String)> {
        for (map, name) in [
            (&self.errors, "errors"),
            (&self.retry_reasons, "retry_reasons"),
        ] {
            for key in map.keys() {
                key.parse::<FailureKind>()
                    .map_err(|e| (format!("{name}.{key}"), e))?;
            }
        }
        for key in self.activities.keys() {
            if !Activity::ALL.iter().any(|a| a.key() == key) {
                return Err((
                    format!("activities.{key}"),
                    format!("`{key}` is not an activity"),
                ));
            }
        }
        let table = series::activity_table();
        if self.time_series_activities.is_empty() && self.schema_version >= 3 {
            return Err((
                "time_series_activities".into(),
                format!(
                    "missing: schema version {} indexes the buckets' activity_bins by it",
                    self.schema_version
                ),
            ));
        }
        if !self.time_series_activities.is_empty() && self.time_series_activities != table {
            return Err((
                "time_series_activities".into(),
                format!(
                    "{:?} is not the table this loadgen reads, {table:?}",
                    self.time_series_activities
                ),
            ));
        }
        if self.time_series_bucket_s == 0 {
            return Err(("time_series_bucket_s".into(), "must be at least 1".into()));
        }
        if self.failed_events.len() > MAX_LISTED_FAILURES {
            return Err((
                "failed_events".into(),
                format!("lists more than {MAX_LISTED_FAILURES} events"),
            ));
        }
        Ok(())
    }
}

/// A document, or part of one, that says which schema it follows.
pub trait Versioned {
    fn schema_version(&self) -> u64;
    fn writer(&self) -> &str;
}

impl Versioned for RunResult {
    fn schema_version(&self) -> u64 {
        u64::from(self.schema_version)
    }

    fn writer(&self) -> &str {
        &self.loadgen
    }
}

/// Reads `text` as a result document of a schema this loadgen knows, into `T`, in one pass
/// when it fits; when it does not, a skim of its version tells a newer document (or no result
/// document at all) from a wrong field, whose path the error names.
fn parse_as<T: serde::de::DeserializeOwned + Versioned>(
    path: &Path,
    text: &str,
) -> Result<T, ResultError> {
    #[derive(Deserialize)]
    struct Version {
        schema_version: Option<serde_json::Value>,
        loadgen: Option<serde_json::Value>,
    }
    let newer = |found: u64, writer: Option<&str>| ResultError::Newer {
        path: path.into(),
        found,
        writer: writer.map_or("unknown version".into(), |v| format!("loadgen {v}")),
    };
    let field = |field: &str, message: String| ResultError::Field {
        path: path.into(),
        field: field.to_string(),
        message,
    };
    let not_a_result = |message: String| ResultError::NotAResult {
        path: path.into(),
        message,
    };
    // A plain parse first: tracking the path costs a tenth of reading a day's series, and only
    // a failure needs it, so a failed parse runs again with the path tracked.
    let parsed = serde_json::from_str::<T>(text).map_err(|_| {
        let mut reader = serde_json::Deserializer::from_str(text);
        match serde_path_to_error::deserialize::<_, T>(&mut reader) {
            Err(e) => (e.path().to_string(), e.into_inner().to_string()),
            // Nothing may follow the document.
            Ok(_) => match reader.end() {
                Err(e) => (".".to_string(), e.to_string()),
                Ok(()) => (".".to_string(), "the document does not parse".to_string()),
            },
        }
    });
    let (at, message) = match parsed {
        Ok(value) if value.schema_version() > u64::from(SCHEMA_VERSION) => {
            return Err(newer(value.schema_version(), Some(value.writer())))
        }
        Ok(value) => return Ok(value),
        Err(failure) => failure,
    };
    let skim: Version = serde_json::from_str(text).map_err(|e| not_a_result(e.to_string()))?;
    match skim.schema_version {
        None => Err(not_a_result(
            "no `schema_version` (a report of a loadgen before result documents, or another \
             file)"
                .into(),
        )),
        Some(v) => match v.as_u64() {
            None => Err(field(
                "schema_version",
                format!("{v} is not a version number"),
            )),
            Some(found) if found > u64::from(SCHEMA_VERSION) => {
                Err(newer(found, skim.loadgen.as_ref().and_then(|v| v.as_str())))
            }
            Some(_) => Err(field(&at, message)),
        },
    }
}

/// The report's notes.
fn notes(unknown: u64) -> Vec<String> {
    let mut notes = Vec::new();
    if unknown > 0 {
        notes.push(format!(
            "{unknown} events timed out (unknown_outcome): the server may still have applied \
             them. `loadgen verify` tells what reached it; `replay --resume` resends them \
             (the API's creates are idempotent)."
        ));
    }
    notes
}

/// A report map keyed by each kind's `Display`, with its count and example.
fn entries(
    counts: &BTreeMap<FailureKind, u64>,
    examples: &BTreeMap<FailureKind, String>,
) -> BTreeMap<String, ErrorEntry> {
    counts
        .iter()
        .map(|(kind, count)| {
            (
                kind.to_string(),
                ErrorEntry {
                    count: *count,
                    example: examples.get(kind).cloned().unwrap_or_default(),
                },
            )
        })
        .collect()
}

/// A failure kind as its report key.
mod kind_key {
    use crate::outcome::FailureKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &FailureKind, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(kind)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FailureKind, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
