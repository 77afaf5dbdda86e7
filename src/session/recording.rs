//! `start --record`: the events a live run sent, written as a trace that `replay` accepts.

use std::path::{Path, PathBuf};

use crate::event::Event;
use crate::output::OutputError;
use crate::replay::ReplayOutcome;
use crate::trace::format::TraceError;
use crate::trace::{TraceHeader, TraceWriter};

type Recording = TraceWriter<crate::output::AtomicFile>;

/// Why the recording was not written.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("cannot write {}", path.display())]
    Finish {
        path: PathBuf,
        #[source]
        source: TraceError,
    },
    #[error("recorder thread panicked")]
    Panicked,
    #[error(transparent)]
    Join(#[from] tokio::task::JoinError),
}

/// The thread that writes the recording.
pub struct Recorder {
    path: PathBuf,
    thread: std::thread::JoinHandle<Result<Recording, RecordingError>>,
}

impl Recorder {
    /// Starts writing what the returned sender is given to a temporary trace beside `path`,
    /// in one pass: its header says the planned duration (0 for an open-ended run) and the
    /// footer, written by `close`, the span the run covered. An error, or a second
    /// interrupt, removes the temporary file.
    pub fn spawn(path: &Path, header: TraceHeader) -> (std::sync::mpsc::Sender<Event>, Recorder) {
        let (tx, rx) = std::sync::mpsc::channel::<Event>();
        let target = path.to_path_buf();
        let thread = std::thread::spawn(move || {
            let file = crate::output::AtomicFile::create(&target)?;
            let mut writer = TraceWriter::new(file, &header)?;
            for event in rx {
                writer.write(&event)?;
            }
            Ok(writer)
        });
        let path = path.to_path_buf();
        (tx, Recorder { path, thread })
    }

    /// `spawn` when there is a `path` to record to (`--record`): the sender the run's events
    /// go to, and the recorder to close.
    pub fn spawn_if(
        path: Option<&Path>,
        header: impl FnOnce() -> TraceHeader,
    ) -> (Option<std::sync::mpsc::Sender<Event>>, Option<Recorder>) {
        match path {
            Some(path) => {
                let (tap, recorder) = Recorder::spawn(path, header());
                (Some(tap), Some(recorder))
            }
            None => (None, None),
        }
    }

    /// Closes the recording at the span the run covered (`planned_ms`, or less for a run cut
    /// short), moves it into place and says so.
    pub async fn close(
        self,
        planned_ms: Option<u64>,
        outcome: &ReplayOutcome,
    ) -> Result<(), RecordingError> {
        let thread = self.thread;
        let writer = tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| RecordingError::Panicked)??;
        let reached = outcome.elapsed.as_millis() as u64;
        let covered = covered_ms(
            planned_ms,
            outcome.stopped_early,
            reached,
            writer.end_of_events(),
        );
        let (footer, _, file) =
            writer
                .finish_at(covered)
                .map_err(|source| RecordingError::Finish {
                    path: self.path.clone(),
                    source,
                })?;
        file.commit()?;
        crate::outln!(
            "{} Recorded {} events to {}",
            super::stamp(),
            footer.count,
            self.path.display()
        );
        Ok(())
    }
}

/// The span a recording covers: the planned duration of a run that ran it all; of a run cut
/// short (or open-ended), the time it reached (at 1x the trace time reached is the time run)
/// or its last event's, whichever is later, never past the plan.
pub fn covered_ms(
    planned_ms: Option<u64>,
    stopped_early: bool,
    reached_ms: u64,
    last_event_ms: u64,
) -> u64 {
    match planned_ms {
        Some(d) if !stopped_early => d,
        planned => {
            let reached = reached_ms.max(last_event_ms);
            planned.map_or(reached, |d| reached.min(d))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::covered_ms;

    #[test]
    fn a_recording_covers_the_plan_or_what_a_run_cut_short_reached() {
        // Ran its whole plan: the plan, even if the last event came earlier.
        assert_eq!(covered_ms(Some(60_000), false, 61_000, 59_000), 60_000);
        // Cut short: the time reached or the last event, whichever is later.
        assert_eq!(covered_ms(Some(60_000), true, 20_000, 21_500), 21_500);
        assert_eq!(covered_ms(Some(60_000), true, 20_000, 3_000), 20_000);
        // Never past the plan.
        assert_eq!(covered_ms(Some(60_000), true, 70_000, 3_000), 60_000);
        // Open-ended: what it reached.
        assert_eq!(covered_ms(None, false, 42_000, 41_000), 42_000);
        assert_eq!(covered_ms(None, true, 42_000, 43_000), 43_000);
    }
}
