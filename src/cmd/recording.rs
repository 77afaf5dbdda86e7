//! `start --record`: the events a live run sent, written as a trace that `replay` accepts.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::event::Event;
use crate::replay::ReplayOutcome;
use crate::trace::{TraceHeader, TraceWriter};

type Recording = TraceWriter<crate::output::AtomicFile>;

/// The thread that writes the recording.
pub struct Recorder {
    path: PathBuf,
    thread: std::thread::JoinHandle<anyhow::Result<Recording>>,
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

    /// Closes the recording at the span the run covered (`planned_ms`, or less for a run cut
    /// short), moves it into place and says so.
    pub async fn close(
        self,
        planned_ms: Option<u64>,
        outcome: &ReplayOutcome,
    ) -> anyhow::Result<()> {
        let thread = self.thread;
        let writer = tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("recorder thread panicked"))??;
        // At 1x the trace time reached is the time run; a run cut short covers that much.
        let covered = match planned_ms {
            Some(d) if !outcome.stopped_early => d,
            planned => {
                let reached = outcome.elapsed.as_millis() as u64;
                let reached = reached.max(writer.end_of_events());
                planned.map_or(reached, |d| reached.min(d))
            }
        };
        let (footer, _, file) = writer
            .finish_at(covered)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
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
