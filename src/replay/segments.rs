//! What the earlier segments of a resumed run measured, kept beside its checkpoint
//! (`CHECKPOINT.metrics.json`), so the report of the segment that finishes covers the whole run:
//! histograms merged exactly, requests, retries and durations summed, time series laid end to
//! end. Successes are not taken from here: the completion log says which events succeeded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::Activity;
use crate::metrics::{Bucket, Metrics, Timings};
use crate::outcome::FailureKind;

/// The measurements of all segments so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Segments {
    /// One entry per finished segment, in order.
    pub segments: Vec<SegmentSummary>,
    /// What they measured, merged. Absent in files of a loadgen before result documents:
    /// their segments' durations still count, their measurements do not.
    #[serde(default)]
    pub measured: Option<Measured>,
}

/// What segments measured, in the forms the result document uses: HDR histograms (V2 +
/// DEFLATE, base64), the time series' buckets, retry reasons by report key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Measured {
    pub histograms: Timings,
    /// By activity key.
    pub by_activity: BTreeMap<String, Timings>,
    pub requests: u64,
    pub retries: u64,
    /// Count and first example by retried kind.
    pub retry_reasons: BTreeMap<String, (u64, String)>,
    pub series: Vec<Bucket>,
    pub bucket_secs: u64,
}

impl Measured {
    fn of(m: &Metrics) -> Measured {
        Measured {
            histograms: Timings {
                service: m.service.clone(),
                latency: m.latency.clone(),
                lateness: m.lateness.clone(),
            },
            by_activity: Activity::ALL
                .iter()
                .map(|a| (a.key().to_string(), m.by_activity[a.index()].clone()))
                .collect(),
            requests: m.requests,
            retries: m.retries,
            retry_reasons: m
                .retry_reasons
                .iter()
                .map(|(k, n)| {
                    let example = m.retry_examples.get(k).cloned().unwrap_or_default();
                    (k.to_string(), (*n, example))
                })
                .collect(),
            series: m.series.clone(),
            bucket_secs: m.bucket_secs,
        }
    }

    /// As metrics without outcomes (no successes, failures or errors: the completion log and
    /// the current segment say those).
    fn metrics(&self) -> Metrics {
        let mut m = Metrics {
            service: self.histograms.service.clone(),
            latency: self.histograms.latency.clone(),
            lateness: self.histograms.lateness.clone(),
            requests: self.requests,
            retries: self.retries,
            series: self.series.clone(),
            bucket_secs: self.bucket_secs.max(1),
            ..Metrics::default()
        };
        for a in Activity::ALL {
            if let Some(t) = self.by_activity.get(a.key()) {
                m.by_activity[a.index()] = t.clone();
            }
        }
        for (key, (n, example)) in &self.retry_reasons {
            if let Ok(kind) = key.parse::<FailureKind>() {
                m.retry_reasons.insert(kind.clone(), *n);
                m.retry_examples.insert(kind, example.clone());
            }
        }
        m
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SegmentSummary {
    pub started_at: String,
    pub duration_s: f64,
    pub received: u64,
    pub succeeded: u64,
    pub not_sent: u64,
    pub stopped_early: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SegmentsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not the measurements of a loadgen run: {message}")]
    Format { path: PathBuf, message: String },
}

impl Segments {
    /// Where the measurements of the run behind `checkpoint` are kept.
    pub fn path(checkpoint: &Path) -> PathBuf {
        let mut name = checkpoint.as_os_str().to_owned();
        name.push(".metrics.json");
        PathBuf::from(name)
    }

    /// The saved measurements; none for a first segment, or when an earlier segment was
    /// killed before it could save them.
    pub fn load(path: &Path) -> Result<Option<Segments>, SegmentsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SegmentsError::Io {
                    path: path.into(),
                    source,
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SegmentsError::Format {
                path: path.into(),
                message: e.to_string(),
            })
    }

    /// Writes them atomically (a temporary file beside, renamed).
    pub fn save(&self, path: &Path) -> Result<(), SegmentsError> {
        let io = |source| SegmentsError::Io {
            path: path.into(),
            source,
        };
        let json = serde_json::to_vec(self).map_err(|e| SegmentsError::Format {
            path: path.into(),
            message: e.to_string(),
        })?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// Total wall time of the saved segments.
    pub fn elapsed(&self) -> Duration {
        Duration::from_secs_f64(self.segments.iter().map(|s| s.duration_s).sum())
    }

    /// What the saved segments measured, with no outcomes.
    fn earlier(&self) -> Metrics {
        self.measured
            .as_ref()
            .map_or_else(Metrics::default, Measured::metrics)
    }

    /// Adds a finished segment's measurements.
    pub fn push(&mut self, summary: SegmentSummary, m: &Metrics) {
        let mut whole = self.earlier();
        whole.merge(&shifted(m, self.elapsed().as_secs()));
        self.measured = Some(Measured::of(&whole));
        self.segments.push(summary);
    }

    /// Adds what the saved segments measured (not their successes or failures) to `m`, the
    /// metrics of the segment now running, whose time series comes after theirs.
    pub fn add_to(&self, m: &mut Metrics) {
        let mut earlier = self.earlier();
        let later = shifted(m, self.elapsed().as_secs());
        // The current segment's counts of outcomes stay its own; only measurements merge.
        earlier.merge(&Metrics {
            successes: [0; 6],
            failures: [0; 6],
            errors: BTreeMap::new(),
            error_examples: BTreeMap::new(),
            failed_events: Vec::new(),
            ..later.clone()
        });
        earlier.successes = later.successes;
        earlier.failures = later.failures;
        earlier.errors = later.errors;
        earlier.error_examples = later.error_examples;
        earlier.failed_events = later.failed_events;
        *m = earlier;
    }
}

/// Metrics whose time series is moved `offset` seconds later.
fn shifted(m: &Metrics, offset: u64) -> Metrics {
    let mut later = m.clone();
    for b in &mut later.series {
        b.second += offset;
    }
    later
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Activity, Entity};
    use crate::metrics::{EventRecord, EventResult};
    use crate::outcome::RetryCause;

    fn rec(ms: u64, at_s: u64, retried: bool) -> EventRecord {
        EventRecord {
            seq: at_s,
            entity: Entity::Inventory(0),
            offset_ms: 0,
            activity: Activity::NewOrder,
            finished_at: Duration::from_secs(at_s),
            lateness: Duration::from_millis(1),
            service: Duration::from_millis(ms),
            latency: Duration::from_millis(ms),
            requests: 1 + u32::from(retried),
            retries: u32::from(retried),
            retry_causes: if retried {
                vec![RetryCause {
                    kind: FailureKind::http(503),
                    detail: "503".into(),
                }]
            } else {
                Vec::new()
            },
            result: EventResult::Success,
        }
    }

    #[test]
    fn saved_segments_merge_exactly_and_round_trip() {
        let (mut first, mut second, mut whole) =
            (Metrics::default(), Metrics::default(), Metrics::default());
        for i in 0..40 {
            let r = rec(i * 7 + 1, i / 4, i % 5 == 0);
            first.add(&r);
            whole.add(&r);
        }
        for i in 0..30 {
            let r = rec(i * 11 + 3, i / 3, i % 3 == 0);
            second.add(&r);
            let mut late = r.clone();
            late.finished_at += Duration::from_secs(12);
            whole.add(&late);
        }
        let mut saved = Segments::default();
        saved.push(
            SegmentSummary {
                started_at: "t0".into(),
                duration_s: 12.5,
                received: 40,
                succeeded: 40,
                not_sent: 30,
                stopped_early: true,
            },
            &first,
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.metrics.json");
        saved.save(&path).unwrap();
        let loaded = Segments::load(&path).unwrap().unwrap();
        assert_eq!(loaded, saved);
        assert!(Segments::load(&dir.path().join("none")).unwrap().is_none());
        loaded.add_to(&mut second);
        assert_eq!(second.service, whole.service);
        assert_eq!(second.latency, whole.latency);
        assert_eq!(second.requests, whole.requests);
        assert_eq!(second.retries, whole.retries);
        assert_eq!(second.retry_reasons, whole.retry_reasons);
        assert_eq!(second.series, whole.series);
        assert_eq!(second.by_activity, whole.by_activity);
        // Outcomes stay the current segment's.
        assert_eq!(second.successes[Activity::NewOrder.index()], 30);
    }
}
