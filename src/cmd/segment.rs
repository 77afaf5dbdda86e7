//! One segment of a replay (the first run, or a resume): its checkpoint written before the
//! first request, and its report covering the whole run: this segment, the successes of
//! earlier ones (the completion log says which events succeeded) and what they measured
//! (saved beside the checkpoint, `replay::segments`).

use std::path::Path;
use std::time::Duration;

use crate::plan::replay::Prepared;
use crate::replay::checkpoint::{self, CheckpointLock, CompletionLog};

use crate::replay::segments::{SegmentSummary, Segments};
use crate::replay::ReplayOutcome;
use crate::selection::Survey;

/// What a segment starts with.
pub struct Begun {
    /// What the earlier segments measured (a resume).
    pub earlier: Option<Segments>,
    pub completion_log: Option<CompletionLog>,
    /// Held until the run ends.
    pub lock: Option<CheckpointLock>,
}

/// Writes the checkpoint (from here on a killed run can be resumed) and reads what earlier
/// segments measured.
pub fn begin(prepared: &mut Prepared) -> anyhow::Result<Begun> {
    let resumed = prepared.plan.resume.is_some();
    let mut lock = prepared.lock.take();
    let Some((path, saved)) = &prepared.checkpoint else {
        return Ok(Begun {
            earlier: None,
            completion_log: None,
            lock,
        });
    };
    let earlier = match resumed {
        true => Segments::load(&Segments::path(path))?,
        false => None,
    };
    let (held, log) = checkpoint::begin(path, saved, resumed, &[Segments::path(path)])?;
    lock = lock.or(held);
    Ok(Begun {
        earlier,
        completion_log: Some(log),
        lock,
    })
}

/// The whole run so far.
pub struct WholeRun {
    pub outcome: ReplayOutcome,
    /// The segments, this one last.
    pub segments: Segments,
    /// False when an earlier segment was killed before it could save its measurements.
    pub earlier_measured: bool,
}

/// Adds the earlier segments (`earlier`, and the events `survey` found done) to this one's
/// outcome, and saves the measurements for a further resume beside `checkpoint`.
pub fn combine(
    segment: ReplayOutcome,
    earlier: Option<Segments>,
    survey: &Survey,
    resumed: bool,
    started_at: chrono::DateTime<chrono::Utc>,
    checkpoint: Option<&Path>,
) -> WholeRun {
    let mut outcome = segment;
    let raw = outcome.metrics.clone();
    let earlier_elapsed = earlier.as_ref().map_or(Duration::ZERO, Segments::elapsed);
    if let Some(earlier) = &earlier {
        earlier.add_to(&mut outcome.metrics);
        outcome.elapsed += earlier_elapsed;
    }
    for (i, done) in survey.done_by_activity.iter().enumerate() {
        outcome.metrics.successes[i] += done;
        outcome.received += done;
    }
    let earlier_measured = !resumed || earlier.is_some() || survey.done() == 0;
    let mut segments = earlier.unwrap_or_default();
    segments.push(
        SegmentSummary {
            started_at: started_at.to_rfc3339(),
            duration_s: (outcome.elapsed - earlier_elapsed).as_secs_f64(),
            received: outcome.received - survey.done(),
            succeeded: raw.succeeded(),
            not_sent: outcome.not_sent,
            stopped_early: outcome.stopped_early,
        },
        &raw,
    );
    if let Some(path) = checkpoint {
        if let Err(err) = segments.save(&Segments::path(path)) {
            eprintln!("warning: {err}; a resumed run's report will not include this segment's measurements");
        }
    }
    WholeRun {
        outcome,
        segments,
        earlier_measured,
    }
}
