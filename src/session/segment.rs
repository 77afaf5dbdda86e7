//! One segment of a replay (the first run, or a resume): its checkpoint written before the
//! first request, each success logged with its measurements, and its report covering the
//! whole run: this segment and the earlier ones, rebuilt from the logs (`replay::segments`).
//!
//! The logs are written per batch of completions, not per event: the replayer's aggregator
//! takes what its channel holds (at most `replay::BATCH` records) and, before it waits again,
//! ends the batch; the recorder then writes the batch's measurements, then its completions,
//! one write each (two writes per batch instead of two per event). So a SIGKILL loses the
//! events in flight and the completed ones not yet written: those waiting in the aggregator's
//! channel (as before batches) and the batch it is taking, which it writes as soon as it has
//! taken it. The resume sends them again.

use std::path::Path;

use super::Completions;
use crate::metrics::{EventRecord, EventResult};
use crate::plan::replay::Prepared;
use crate::replay::checkpoint::{self, CheckpointError, CheckpointLock, CompletionLog};
use crate::replay::segments::{Earlier, MeasureLog, SegmentSummary, Segments, SegmentsError};
use crate::replay::ReplayOutcome;
use crate::selection::Survey;

/// Why a segment's checkpoint or logs cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error(transparent)]
    Segments(#[from] SegmentsError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// What a segment starts with.
pub struct Begun {
    /// What the earlier segments did (a resume).
    pub earlier: Option<Earlier>,
    pub logs: Option<Logs>,
    /// Held until the run ends.
    pub lock: Option<CheckpointLock>,
}

/// Where a segment logs its successes.
pub struct Logs {
    completions: CompletionLog,
    measures: MeasureLog,
}

/// Writes the checkpoint (from here on a killed run can be resumed), opens the logs, and
/// reads what earlier segments did.
pub fn begin(prepared: &mut Prepared) -> Result<Begun, SegmentError> {
    let mut lock = prepared.lock.take();
    let Some((path, saved)) = &prepared.checkpoint else {
        return Ok(Begun {
            earlier: None,
            logs: None,
            lock,
        });
    };
    let started_at = prepared.schedule.started_at.to_rfc3339();
    let measures_path = MeasureLog::path(path);
    let (measures, earlier) = match &prepared.plan.resume {
        Some(resume) => {
            let summaries = Segments::load(&Segments::path(path))?.unwrap_or_default();
            let (log, earlier) =
                MeasureLog::resume(&measures_path, &started_at, &resume.done, summaries)?;
            (Some(log), Some(earlier))
        }
        None => (None, None),
    };
    let stale = [Segments::path(path), measures_path.clone()];
    let (held, completions) = checkpoint::begin(path, saved, earlier.is_some(), &stale)?;
    let measures = match measures {
        Some(log) => log,
        None => MeasureLog::create(&measures_path, &started_at)?,
    };
    lock = lock.or(held);
    Ok(Begun {
        earlier,
        logs: Some(Logs {
            completions,
            measures,
        }),
        lock,
    })
}

/// Logs each event that succeeded, if the run keeps a checkpoint (`logs`), per batch.
pub fn completion_recorder(logs: Option<Logs>) -> CompletionRecorder {
    CompletionRecorder {
        logs,
        failed: false,
    }
}

/// Logs the successes of each batch: their measurements, then their completions (so a
/// completed event always has its measurements; one measured and not completed when a kill
/// came is sent again). A failed write is reported once (a resume may then resend events, or
/// miss their measurements); a batch whose measurements could not be written is not marked
/// completed.
pub struct CompletionRecorder {
    logs: Option<Logs>,
    failed: bool,
}

impl CompletionRecorder {
    /// Writes the batch so far, if there is one.
    fn flush(&mut self) {
        let Some(logs) = self.logs.as_mut() else {
            return;
        };
        let written = match logs.measures.flush() {
            Ok(()) => logs.completions.flush().map_err(SegmentError::from),
            Err(err) => {
                logs.completions.discard();
                Err(err.into())
            }
        };
        if let (Err(err), false) = (written, self.failed) {
            let err = crate::error::error_chain(&err);
            eprintln!("warning: checkpoint log: {err}; a resume may resend events");
            self.failed = true;
        }
    }
}

impl Completions for CompletionRecorder {
    fn completed(&mut self, record: &EventRecord) {
        let Some(logs) = self.logs.as_mut() else {
            return;
        };
        if record.result != EventResult::Success {
            return;
        }
        logs.measures.push(record);
        logs.completions.push(record.seq);
    }

    fn batch_ended(&mut self) {
        self.flush()
    }
}

/// A run that ends without its last batch ended (a panic on the aggregator's task) still
/// writes what it measured.
impl Drop for CompletionRecorder {
    fn drop(&mut self) {
        self.flush()
    }
}

/// The whole run so far.
pub struct WholeRun {
    pub outcome: ReplayOutcome,
    /// The segments, this one last.
    pub segments: Segments,
    /// False when earlier segments completed events whose measurements were not logged (a
    /// checkpoint of a loadgen before the measurement log).
    pub earlier_measured: bool,
}

/// Adds the earlier segments (`earlier`, and the events `survey` found done) to this one's
/// outcome, and saves the segments' summaries for a further resume beside `checkpoint`.
pub fn combine(
    segment: ReplayOutcome,
    earlier: Option<Earlier>,
    survey: &Survey,
    started_at: chrono::DateTime<chrono::Utc>,
    checkpoint: Option<&Path>,
) -> WholeRun {
    let mut outcome = segment;
    // This segment's own successes, before the earlier ones are added (no copy of the
    // metrics: their histograms are megabytes).
    let succeeded = outcome.metrics.succeeded();
    let mut earlier = earlier.unwrap_or_default();
    let earlier_elapsed = earlier.segments.elapsed();
    earlier.add_to(&mut outcome.metrics);
    outcome.elapsed += earlier_elapsed;
    // Successes of earlier segments: the completion log's (the survey skipped them).
    for (i, done) in survey.done_by_activity.iter().enumerate() {
        outcome.metrics.successes[i] += done;
        outcome.received += done;
    }
    let earlier_measured = earlier.measured == survey.done();
    let mut segments = earlier.segments;
    segments.segments.push(SegmentSummary {
        started_at: started_at.to_rfc3339(),
        duration_s: (outcome.elapsed - earlier_elapsed).as_secs_f64(),
        received: outcome.received - survey.done(),
        succeeded,
        not_sent: outcome.not_sent,
        stopped_early: outcome.stopped_early,
        killed: false,
    });
    if let Some(path) = checkpoint {
        if let Err(err) = segments.save(&Segments::path(path)) {
            eprintln!("warning: {err}; a resumed run's report will count this segment's time only up to its last completion");
        }
    }
    WholeRun {
        outcome,
        segments,
        earlier_measured,
    }
}

/// Events of this segment a graceful stop left unfinished: not sent, or cut off in flight
/// (a resume sends both).
pub fn unfinished(segment: &ReplayOutcome) -> u64 {
    let interrupted = segment
        .metrics
        .errors
        .get(&crate::outcome::FailureKind::Interrupted)
        .copied()
        .unwrap_or(0);
    segment.not_sent + interrupted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_is_printed_as_main_prints_an_error() {
        let io = std::io::Error::other("disk full");
        let err = SegmentError::Segments(SegmentsError::Io {
            path: "/runs/CHECKPOINT.measures".into(),
            source: io,
        });
        let main_shows = crate::error::error_chain(&*anyhow::Error::from(SegmentsError::Io {
            path: "/runs/CHECKPOINT.measures".into(),
            source: std::io::Error::other("disk full"),
        }));
        let warning = crate::error::error_chain(&err);
        assert_eq!(warning, main_shows);
        assert_eq!(warning, "/runs/CHECKPOINT.measures: disk full");
    }

    fn record(seq: u64, result: EventResult) -> EventRecord {
        EventRecord {
            seq,
            entity: crate::event::Entity::Order(seq as u32),
            offset_ms: seq,
            activity: crate::event::Activity::ALL[0],
            finished_at: std::time::Duration::from_millis(seq),
            lateness: std::time::Duration::ZERO,
            service: std::time::Duration::from_micros(300),
            latency: std::time::Duration::from_micros(400),
            requests: 1,
            retries: 0,
            retry_causes: Vec::new(),
            result,
        }
    }

    /// Logs at `dir/c.measures` and `dir/c.log`, or on /dev/full (every write fails).
    fn logs(dir: &Path, full_measures: bool, full_completions: bool) -> Logs {
        let measures = if full_measures {
            let file = std::fs::OpenOptions::new()
                .append(true)
                .open("/dev/full")
                .unwrap();
            MeasureLog::over(file, Path::new("/dev/full"))
        } else {
            MeasureLog::create(&dir.join("c.measures"), "t0").unwrap()
        };
        let completions = if full_completions {
            CompletionLog::open(Path::new("/dev/full")).unwrap()
        } else {
            CompletionLog::open(&dir.join("c.log")).unwrap()
        };
        Logs {
            completions,
            measures,
        }
    }

    fn on_disk(dir: &Path) -> (Vec<u64>, std::collections::BTreeSet<u64>) {
        let done = CompletionLog::read(&dir.join("c.log"), 100).unwrap();
        let logged = (0..100).filter(|&s| done.contains(s)).collect();
        let measured =
            crate::replay::segments::seqs(&MeasureLog::read(&dir.join("c.measures")).unwrap());
        (logged, measured)
    }

    #[test]
    fn a_batch_is_on_disk_once_it_ends_and_only_its_successes() {
        let dir = tempfile::tempdir().unwrap();
        let mut recorder = completion_recorder(Some(logs(dir.path(), false, false)));
        recorder.completed(&record(3, EventResult::Success));
        recorder.completed(&record(
            4,
            EventResult::failure(crate::outcome::FailureKind::http(503), "down"),
        ));
        recorder.completed(&record(1, EventResult::Success));
        assert_eq!(
            on_disk(dir.path()),
            (vec![], Default::default()),
            "nothing is written before the batch ends"
        );
        recorder.batch_ended();
        assert_eq!(on_disk(dir.path()), (vec![1, 3], [1, 3].into()));
        recorder.completed(&record(7, EventResult::Success));
        recorder.batch_ended();
        recorder.batch_ended();
        assert_eq!(on_disk(dir.path()), (vec![1, 3, 7], [1, 3, 7].into()));
        // One entry per success: the empty batch wrote nothing.
        assert_eq!(
            std::fs::metadata(dir.path().join("c.log")).unwrap().len(),
            24
        );
        // What a batch left unended (the aggregator's task panicked) is written on drop.
        recorder.completed(&record(9, EventResult::Success));
        drop(recorder);
        assert_eq!(on_disk(dir.path()), (vec![1, 3, 7, 9], [1, 3, 7, 9].into()));
    }

    /// The measurements go first: a batch whose measurements could not be written is not
    /// marked completed (its events are sent again), while one whose completions could not
    /// be written keeps its measurements (cut off by the resume as measured, not completed).
    #[test]
    fn a_batch_is_marked_completed_only_once_its_measurements_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut recorder = completion_recorder(Some(logs(dir.path(), true, false)));
        recorder.completed(&record(2, EventResult::Success));
        recorder.batch_ended();
        assert!(recorder.failed, "the failed write is reported");
        recorder.completed(&record(5, EventResult::Success));
        recorder.batch_ended();
        drop(recorder);
        let done = CompletionLog::read(&dir.path().join("c.log"), 100).unwrap();
        assert!(done.is_empty(), "completions without measurements");

        let dir = tempfile::tempdir().unwrap();
        let mut recorder = completion_recorder(Some(logs(dir.path(), false, true)));
        recorder.completed(&record(2, EventResult::Success));
        recorder.batch_ended();
        assert!(recorder.failed);
        drop(recorder);
        let measured = crate::replay::segments::seqs(
            &MeasureLog::read(&dir.path().join("c.measures")).unwrap(),
        );
        assert_eq!(measured, [2].into());
    }

    #[test]
    fn unfinished_events_are_those_not_sent_and_those_cut_off() {
        let mut metrics = crate::metrics::Metrics::default();
        metrics
            .errors
            .insert(crate::outcome::FailureKind::Interrupted, 4);
        let segment = ReplayOutcome {
            metrics,
            received: 10,
            interrupted: 4,
            not_sent: 7,
            due_in_source: 0,
            stopped_early: true,
            elapsed: std::time::Duration::from_secs(2),
        };
        assert_eq!(unfinished(&segment), 11);
    }
}
