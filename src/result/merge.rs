//! `loadgen merge`: the results of a sharded run's shards, added up exactly into the result of
//! the whole run: histograms added, counts summed, time series aligned on the shared start,
//! elapsed time the span of all shards. Results that are not the shards of one run are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use super::series::{self, SeriesSum};
use super::{EventCounts, FailedEventRow, RunMeta, RunResult, Visibility, SCHEMA_VERSION};
use crate::metrics::{Metrics, MAX_LISTED_FAILURES};
use crate::outcome::FailureKind;

/// Why results cannot be merged: each names the files involved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    #[error("nothing to merge: name the results of every shard")]
    Nothing,
    #[error(
        "{path} is not the result of a shard (it has no run.shard): only the results of \
         `replay --shard I/N` merge"
    )]
    NotAShard { path: PathBuf },
    #[error("{path} is a result of another trace than {first} ({theirs}, not {ours})")]
    DifferentTrace {
        path: PathBuf,
        first: PathBuf,
        theirs: String,
        ours: String,
    },
    #[error("{path} is of run id {theirs}, {first} of run id {ours}: the shards of one run share its --run-id")]
    DifferentRunId {
        path: PathBuf,
        first: PathBuf,
        theirs: String,
        ours: String,
    },
    #[error("{path} is one of {theirs} shards, {first} one of {ours}: the shards of one run share their count")]
    DifferentShardCount {
        path: PathBuf,
        first: PathBuf,
        theirs: u32,
        ours: u32,
    },
    #[error(
        "{path} was sent by {theirs}, {first} by {ours}: shards chosen by different \
         partitions of the roots overlap and miss events, and do not add up to the run. Replay \
         every shard with one loadgen (and a new --run-id)"
    )]
    DifferentPartition {
        path: PathBuf,
        first: PathBuf,
        theirs: String,
        ours: String,
    },
    #[error("shard {shard} is in both {first} and {second}")]
    DuplicateShard {
        shard: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("the result of shard {} is missing (merged: {})", missing.join(", "), given.join(", "))]
    MissingShards {
        missing: Vec<String>,
        given: Vec<String>,
    },
    #[error("{path}: field `started_at`: {message}")]
    BadStart { path: PathBuf, message: String },
}

fn describe(run: &RunMeta) -> String {
    let t = &run.trace;
    match (t.events, t.crc32) {
        (Some(events), Some(crc)) => {
            format!("{events} events, CRC-32 {crc:08x}, starting {}", t.start)
        }
        _ => format!("a live simulation starting {}", t.start),
    }
}

fn describe_partition(version: Option<u32>) -> String {
    match version {
        Some(v) => format!("partition version {v}"),
        None => "a partition it did not record (a result of schema version 2 or older)".into(),
    }
}

/// What merge checks before adding anything: which run a result is of, by which partition,
/// and when it started.
#[derive(Clone, Debug, Deserialize)]
pub struct Header {
    pub schema_version: u64,
    pub loadgen: String,
    pub run: RunMeta,
    #[serde(default)]
    pub partition_version: Option<u32>,
    pub started_at: String,
}

impl super::Versioned for Header {
    fn schema_version(&self) -> u64 {
        self.schema_version
    }

    fn writer(&self) -> &str {
        &self.loadgen
    }
}

impl From<&RunResult> for Header {
    fn from(r: &RunResult) -> Header {
        Header {
            schema_version: u64::from(r.schema_version),
            loadgen: r.loadgen.clone(),
            run: r.run.clone(),
            partition_version: r.partition_version,
            started_at: r.started_at.clone(),
        }
    }
}

/// The shards are one run's, all of them, once each: what to add them up with.
#[derive(Clone, Debug)]
pub struct Plan {
    count: u32,
    partition_version: Option<u32>,
    earliest: DateTime<FixedOffset>,
    starts: BTreeMap<u32, DateTime<FixedOffset>>,
}

impl Plan {
    /// How long after the earliest shard shard `index` started. Shards that share
    /// --start-at start together: their buckets line up exactly. A shard that started later
    /// has its buckets moved by the whole seconds it started after.
    fn offset_ms(&self, index: u32) -> u64 {
        let start = self.starts.get(&index).copied().unwrap_or(self.earliest);
        (start - self.earliest).num_milliseconds().max(0) as u64
    }
}

/// Checks that `headers` are every shard of one run, once each.
pub fn plan(headers: &[(PathBuf, Header)]) -> Result<Plan, MergeError> {
    let (first_path, first) = headers.first().ok_or(MergeError::Nothing)?;
    let shard_of = |path: &Path, h: &Header| {
        h.run.shard.ok_or_else(|| MergeError::NotAShard {
            path: path.to_path_buf(),
        })
    };
    let count = shard_of(first_path, first)?.count;
    let mut by_index: BTreeMap<u32, &Path> = BTreeMap::new();
    let mut starts = BTreeMap::new();
    for (path, h) in headers {
        let shard = shard_of(path, h)?;
        if !h.run.trace.same_trace(&first.run.trace) || h.run.seed != first.run.seed {
            return Err(MergeError::DifferentTrace {
                path: path.clone(),
                first: first_path.clone(),
                theirs: describe(&h.run),
                ours: describe(&first.run),
            });
        }
        if h.run.run_id != first.run.run_id {
            return Err(MergeError::DifferentRunId {
                path: path.clone(),
                first: first_path.clone(),
                theirs: h.run.run_id.clone(),
                ours: first.run.run_id.clone(),
            });
        }
        if h.partition_version != first.partition_version {
            return Err(MergeError::DifferentPartition {
                path: path.clone(),
                first: first_path.clone(),
                theirs: describe_partition(h.partition_version),
                ours: describe_partition(first.partition_version),
            });
        }
        if shard.count != count {
            return Err(MergeError::DifferentShardCount {
                path: path.clone(),
                first: first_path.clone(),
                theirs: shard.count,
                ours: count,
            });
        }
        if let Some(earlier) = by_index.insert(shard.index, path) {
            return Err(MergeError::DuplicateShard {
                shard: shard.to_string(),
                first: earlier.to_path_buf(),
                second: path.clone(),
            });
        }
        let start =
            DateTime::parse_from_rfc3339(&h.started_at).map_err(|e| MergeError::BadStart {
                path: path.clone(),
                message: format!("{:?} is not an RFC 3339 instant: {e}", h.started_at),
            })?;
        starts.insert(shard.index, start);
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::MissingShards {
            missing,
            given: by_index.keys().map(|i| format!("{i}/{count}")).collect(),
        });
    }
    let earliest = *starts.values().min().expect("at least one shard");
    Ok(Plan {
        count,
        partition_version: first.partition_version,
        earliest,
        starts,
    })
}

/// The sum of the shards added so far (one at a time, so memory holds two results at most).
pub struct Sum {
    plan: Plan,
    /// Shard 0's document, whose settings and labels the merged result keeps.
    base: Option<RunResult>,
    metrics: Metrics,
    events: EventCounts,
    failed_events: Vec<FailedEventRow>,
    failed_events_total: u64,
    stopped_early: bool,
    visibility: Option<Visibility>,
    end_ms: u64,
    /// The example of each kind of failure and of retry from the lowest shard that had one
    /// (`Metrics::merge` keeps the first to arrive, and parsers hand results over in any
    /// order).
    error_examples: BTreeMap<FailureKind, (u32, String)>,
    retry_examples: BTreeMap<FailureKind, (u32, String)>,
}

/// Keeps, of each kind, the example of the lowest shard.
fn keep_lowest(
    kept: &mut BTreeMap<FailureKind, (u32, String)>,
    shard: u32,
    theirs: &BTreeMap<FailureKind, String>,
) {
    for (kind, example) in theirs {
        match kept.get_mut(kind) {
            Some((at, mine)) if *at > shard => (*at, *mine) = (shard, example.clone()),
            Some(_) => {}
            None => {
                kept.insert(kind.clone(), (shard, example.clone()));
            }
        }
    }
}

impl Sum {
    pub fn new(plan: Plan) -> Sum {
        Sum {
            plan,
            base: None,
            metrics: Metrics::default(),
            events: EventCounts::default(),
            failed_events: Vec::new(),
            failed_events_total: 0,
            stopped_early: false,
            visibility: None,
            end_ms: 0,
            error_examples: BTreeMap::new(),
            retry_examples: BTreeMap::new(),
        }
    }

    /// Adds one shard's result (one of those `plan` checked).
    pub fn add(&mut self, mut r: RunResult) {
        let index = r.run.shard.map_or(0, |s| s.index);
        let offset_ms = self.plan.offset_ms(index);
        let mut m = r.take_measurements();
        for b in &mut m.series {
            b.second += offset_ms / 1000;
        }
        keep_lowest(&mut self.error_examples, index, &m.error_examples);
        keep_lowest(&mut self.retry_examples, index, &m.retry_examples);
        self.metrics.merge(&m);
        self.end_ms = self
            .end_ms
            .max(offset_ms + (r.duration_s * 1000.0).round() as u64);
        let (e, theirs) = (&mut self.events, &r.events);
        e.received += theirs.received;
        e.completed += theirs.completed;
        e.succeeded += theirs.succeeded;
        e.failed += theirs.failed;
        e.unknown_outcome += theirs.unknown_outcome;
        e.interrupted += theirs.interrupted;
        e.blocked += theirs.blocked;
        e.not_sent += theirs.not_sent;
        self.failed_events_total += r.failed_events_total;
        self.stopped_early |= r.stopped_early;
        self.failed_events.append(&mut r.failed_events);
        // Keep the earliest failures only, so the list stays bounded while adding; ordered
        // on every field, so that which rows are kept does not depend on the order the shards
        // arrive in.
        self.failed_events.sort_by(|a, b| {
            (a.seq, a.offset_ms, &a.activity, &a.subject, &a.category).cmp(&(
                b.seq,
                b.offset_ms,
                &b.activity,
                &b.subject,
                &b.category,
            ))
        });
        self.failed_events.truncate(MAX_LISTED_FAILURES);
        match (&mut self.visibility, r.write_to_visible.take()) {
            (Some(mine), Some(theirs)) => mine.merge(&theirs),
            (mine @ None, Some(theirs)) => *mine = Some(theirs),
            (_, None) => {}
        }
        if index == 0 || self.base.is_none() {
            // Drop the bulky parts: only settings and labels are kept from it.
            r.time_series = Vec::new();
            r.activities = BTreeMap::new();
            self.base = Some(r);
        }
    }

    /// Adds time series summed apart from their results (`series::adding_into`, already
    /// moved by each shard's offset).
    pub fn add_series(&mut self, series: SeriesSum) {
        self.metrics.merge(&series.into_metrics());
    }

    /// The merged result.
    pub fn finish(mut self) -> RunResult {
        let lowest = |kept: BTreeMap<FailureKind, (u32, String)>| {
            kept.into_iter()
                .map(|(kind, (_, example))| (kind, example))
                .collect()
        };
        self.metrics.error_examples = lowest(std::mem::take(&mut self.error_examples));
        self.metrics.retry_examples = lowest(std::mem::take(&mut self.retry_examples));
        let mut merged = self.base.expect("at least one shard was added");
        merged.schema_version = SCHEMA_VERSION;
        merged.loadgen = env!("CARGO_PKG_VERSION").to_string();
        merged.started_at = self.plan.earliest.to_rfc3339();
        merged.duration_s = self.end_ms as f64 / 1000.0;
        merged.stopped_early = self.stopped_early;
        merged.events = self.events;
        merged.failed_events = self.failed_events;
        merged.failed_events_total = self.failed_events_total;
        merged.write_to_visible = self.visibility;
        merged.partition_version = self.plan.partition_version;
        merged.run.shard = None;
        merged.run.shards_merged = Some(self.plan.count);
        // The shards' verdicts are theirs; merge checks its own on the sum.
        merged.thresholds = Vec::new();
        merged.set_measurements(&self.metrics);
        merged
    }
}

/// Adds up the results of every shard of one run (`(file, result)`, in any order).
pub fn merge(inputs: &[(PathBuf, RunResult)]) -> Result<RunResult, MergeError> {
    let headers: Vec<(PathBuf, Header)> = inputs
        .iter()
        .map(|(path, r)| (path.clone(), Header::from(r)))
        .collect();
    let mut sum = Sum::new(plan(&headers)?);
    for (_, r) in inputs {
        sum.add(r.clone());
    }
    Ok(sum.finish())
}

/// Why `merge_files` failed: a result that cannot be read, or results that do not add up.
#[derive(Debug, thiserror::Error)]
pub enum MergeFilesError {
    #[error(transparent)]
    Read(#[from] super::ResultError),
    #[error(transparent)]
    Merge(#[from] MergeError),
}

/// `merge` on files, reading them twice (their headers, then each whole result in turn) so
/// memory holds a few results beside the sum however many shards there are.
///
/// Parsing a result is most of the work (a day's time series is megabytes of JSON), so one
/// parser per core reads them while this thread adds them up; the sum does not depend on the
/// order the results arrive in (every part of it is a sum, a maximum, or sorted), and of
/// several unreadable files the first in `paths` is the one reported.
pub fn merge_files(paths: &[PathBuf]) -> Result<RunResult, MergeFilesError> {
    let mut headers = Vec::with_capacity(paths.len());
    for path in paths {
        headers.push((path.clone(), read_header(path)?));
    }
    let mut sum = Sum::new(plan(&headers)?);
    let offsets_s: Vec<u64> = headers
        .iter()
        .map(|(_, h)| sum.plan.offset_ms(h.run.shard.map_or(0, |s| s.index)) / 1000)
        .collect();
    let offsets_s = &offsets_s;
    let parsers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, paths.len().max(1));
    let mut first_error: Option<(usize, super::ResultError)> = None;
    std::thread::scope(|scope| {
        // A parser adds each result's time series into its own sum as it reads it (most of a
        // result; the sum of the sums does not depend on which parser read what), then hands
        // the rest over and waits: memory holds at most one result per parser and the one
        // being added, whatever N is.
        let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel(0);
        let mut series_sums = Vec::with_capacity(parsers);
        for parser in 0..parsers {
            let parsed_tx = parsed_tx.clone();
            series_sums.push(scope.spawn(move || {
                let mut series = SeriesSum::default();
                for (at, path) in paths.iter().enumerate().skip(parser).step_by(parsers) {
                    let parsed = series::adding_into(&mut series, offsets_s[at], || {
                        RunResult::read_data(path)
                    })
                    .map_err(|streamed| {
                        // Added field by field, a bad bucket's error names the bucket; read
                        // whole, the field in it.
                        RunResult::read_data(path).err().unwrap_or(streamed)
                    });
                    let failed = parsed.is_err();
                    if parsed_tx.send((at, parsed)).is_err() || failed {
                        break;
                    }
                }
                series
            }));
        }
        drop(parsed_tx);
        for (at, parsed) in parsed_rx {
            match parsed {
                Ok(result) if first_error.is_none() => sum.add(result),
                Ok(_) => {}
                Err(e) => {
                    if first_error.as_ref().is_none_or(|(first, _)| at < *first) {
                        first_error = Some((at, e));
                    }
                }
            }
        }
        for parser in series_sums {
            match parser.join() {
                Ok(series) if first_error.is_none() => sum.add_series(series),
                Ok(_) => {}
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    match first_error {
        Some((_, e)) => Err(e.into()),
        None => Ok(sum.finish()),
    }
}

/// A result's `Header`, read from the start of its file only: loadgen writes the header's
/// fields first, so the rest (a day's time series is megabytes) is not skimmed. When they are
/// not all found first, or are wrong, or of a newer version, the whole document is read
/// (`read_as`) for its checks and errors. The rest is checked when the result is added.
pub(crate) fn read_header(path: &Path) -> Result<Header, super::ResultError> {
    use serde::de::Deserializer as _;
    if let Ok(file) = std::fs::File::open(path) {
        let mut found = None;
        let mut reader = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(
            16 * 1024,
            file,
        ));
        // Stopping early makes serde_json report an unfinished object: the header, if found,
        // is in `found`.
        let _ = (&mut reader).deserialize_map(HeaderFirst { found: &mut found });
        let known = |h: &Header| h.schema_version <= u64::from(SCHEMA_VERSION);
        // loadgen writes a shard's partition before `started_at`; a document without it
        // there is read whole, in case it comes later.
        let complete = |h: &Header| {
            h.schema_version < 3 || h.run.shard.is_none() || h.partition_version.is_some()
        };
        if let Some(header) = found.filter(|h| known(h) && complete(h)) {
            return Ok(header);
        }
    }
    RunResult::read_as::<Header>(path)
}

/// Collects the header's fields from a document's first entries and stops once it has them.
struct HeaderFirst<'a> {
    found: &'a mut Option<Header>,
}

impl<'de> serde::de::Visitor<'de> for HeaderFirst<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a result document")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut version, mut writer, mut run, mut start) = (None, None, None, None);
        let mut partition = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "schema_version" => version = Some(map.next_value::<u64>()?),
                "loadgen" => writer = Some(map.next_value::<String>()?),
                "run" => run = Some(map.next_value::<RunMeta>()?),
                "partition_version" => partition = map.next_value::<Option<u32>>()?,
                "started_at" => start = Some(map.next_value::<String>()?),
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            if let (Some(v), Some(w), Some(r), Some(s)) = (&version, &writer, &run, &start) {
                *self.found = Some(Header {
                    schema_version: *v,
                    loadgen: w.clone(),
                    run: r.clone(),
                    partition_version: partition,
                    started_at: s.clone(),
                });
                return Err(serde::de::Error::custom("the header is read"));
            }
        }
        Ok(())
    }
}
