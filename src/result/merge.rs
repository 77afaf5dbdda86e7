//! `loadgen merge`: the results of a sharded run's shards, added up exactly into the result of
//! the whole run: histograms added, counts summed, time series aligned on the shared start,
//! elapsed time the span of all shards. Results that are not the shards of one run are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{RunResult, SCHEMA_VERSION};
use crate::metrics::{Metrics, MAX_LISTED_FAILURES};

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

fn describe(r: &RunResult) -> String {
    let t = &r.run.trace;
    match (t.events, t.crc32) {
        (Some(events), Some(crc)) => {
            format!("{events} events, CRC-32 {crc:08x}, starting {}", t.start)
        }
        _ => format!("a live simulation starting {}", t.start),
    }
}

/// Adds up the results of every shard of one run (`(file, result)`, in any order).
pub fn merge(inputs: &[(PathBuf, RunResult)]) -> Result<RunResult, MergeError> {
    let (first_path, first) = inputs.first().ok_or(MergeError::Nothing)?;
    let shard_of = |path: &Path, r: &RunResult| {
        r.run.shard.ok_or_else(|| MergeError::NotAShard {
            path: path.to_path_buf(),
        })
    };
    let count = shard_of(first_path, first)?.count;
    let mut by_index: BTreeMap<u32, &Path> = BTreeMap::new();
    for (path, r) in inputs {
        let shard = shard_of(path, r)?;
        if !r.run.trace.same_trace(&first.run.trace) || r.run.seed != first.run.seed {
            return Err(MergeError::DifferentTrace {
                path: path.clone(),
                first: first_path.clone(),
                theirs: describe(r),
                ours: describe(first),
            });
        }
        if r.run.run_id != first.run.run_id {
            return Err(MergeError::DifferentRunId {
                path: path.clone(),
                first: first_path.clone(),
                theirs: r.run.run_id.clone(),
                ours: first.run.run_id.clone(),
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

    let start_of = |path: &Path, r: &RunResult| {
        chrono::DateTime::parse_from_rfc3339(&r.started_at).map_err(|e| MergeError::BadStart {
            path: path.to_path_buf(),
            message: format!("{:?} is not an RFC 3339 instant: {e}", r.started_at),
        })
    };
    let mut starts = Vec::with_capacity(inputs.len());
    for (path, r) in inputs {
        starts.push(start_of(path, r)?);
    }
    let earliest = *starts.iter().min().expect("at least one input");
    // Shards that share --start-at start together: their buckets line up exactly. A shard
    // that started later has its buckets moved by the whole seconds it started after.
    let offset_ms = |start: &chrono::DateTime<chrono::FixedOffset>| {
        (*start - earliest).num_milliseconds().max(0) as u64
    };
    let base = inputs
        .iter()
        .find(|(_, r)| r.run.shard.is_some_and(|s| s.index == 0))
        .map_or(first, |(_, r)| r);
    let mut merged = base.clone();
    let mut metrics = Metrics::default();
    let mut end_ms = 0u64;
    let mut failed_events = Vec::new();
    let mut visibility: Option<super::Visibility> = None;
    merged.events = Default::default();
    merged.failed_events_total = 0;
    merged.stopped_early = false;
    for ((_, r), start) in inputs.iter().zip(&starts) {
        let offset = offset_ms(start);
        let mut m = r.measurements();
        let shift = offset / 1000;
        for b in &mut m.series {
            b.second += shift;
        }
        metrics.merge(&m);
        end_ms = end_ms.max(offset + (r.duration_s * 1000.0).round() as u64);
        let e = &mut merged.events;
        e.received += r.events.received;
        e.completed += r.events.completed;
        e.succeeded += r.events.succeeded;
        e.failed += r.events.failed;
        e.unknown_outcome += r.events.unknown_outcome;
        e.interrupted += r.events.interrupted;
        e.blocked += r.events.blocked;
        e.not_sent += r.events.not_sent;
        merged.failed_events_total += r.failed_events_total;
        merged.stopped_early |= r.stopped_early;
        failed_events.extend(r.failed_events.iter().cloned());
        match (&mut visibility, &r.write_to_visible) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, Some(theirs)) => visibility = Some(theirs.clone()),
            (_, None) => {}
        }
    }
    failed_events.sort_by_key(|f| f.seq);
    failed_events.truncate(MAX_LISTED_FAILURES);
    merged.failed_events = failed_events;
    merged.write_to_visible = visibility;
    merged.schema_version = SCHEMA_VERSION;
    merged.loadgen = env!("CARGO_PKG_VERSION").to_string();
    merged.started_at = earliest.to_rfc3339();
    merged.duration_s = end_ms as f64 / 1000.0;
    merged.run.shard = None;
    merged.run.shards_merged = Some(count);
    merged.set_measurements(&metrics);
    Ok(merged)
}
