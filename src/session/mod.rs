//! A run of the replayer and what surrounds it, shared by `replay` and `start`: the health gate
//! and the wait for `--start-at` (`gate`), the signals that stop a run (`signals`), the console
//! while it runs (`console`), the event sources (`feed`), the outputs besides the report
//! (`outputs`), a replay's segments and checkpoint logs (`segment`), `start --record`
//! (`recording`), and the summary, report and verdict at the end (`verdict`).

pub mod console;
pub mod feed;
pub mod gate;
pub mod outputs;
pub mod recording;
pub mod segment;
pub mod signals;
pub mod verdict;

use std::sync::Arc;

use crate::error::{CommandError, StopSignal};
use crate::event::Entity;
use crate::metrics::EventRecord;

/// `[12:34:56] ` in local wall-clock time, as the spec's console lines start.
pub fn stamp() -> String {
    chrono::Local::now().format("[%H:%M:%S]").to_string()
}

/// Renders entities as the subjects a run wrote (ids in the run's namespace).
pub fn subject_renderer(
    world: Arc<crate::world::World>,
    run_id: String,
) -> impl Fn(Entity) -> String {
    move |entity| {
        crate::contract::Subjects {
            world: &world,
            run: Some(&run_id),
        }
        .entity(entity)
    }
}

/// What hears of every event that ends, on the aggregator's task: each record, and the end of
/// each batch of them (`replay::Observer::batch_ended`), where what is written per batch
/// (the checkpoint logs) is written. A closure is one that hears only the records.
pub trait Completions: Send + 'static {
    fn completed(&mut self, record: &EventRecord);
    /// The records since the last call are a batch; called before the replayer waits again.
    fn batch_ended(&mut self) {}
}

impl<F> Completions for F
where
    F: FnMut(&EventRecord) + Send + 'static,
{
    fn completed(&mut self, record: &EventRecord) {
        self(record)
    }
}

/// Both `first` and `then`, in this order, for every event that ends and every batch end (the
/// outputs, then a replay's checkpoint logs).
pub fn each_completion(first: impl Completions, then: impl Completions) -> impl Completions {
    Both(first, then)
}

struct Both<A, B>(A, B);

impl<A: Completions, B: Completions> Completions for Both<A, B> {
    fn completed(&mut self, record: &EventRecord) {
        self.0.completed(record);
        self.1.completed(record);
    }

    fn batch_ended(&mut self) {
        self.0.batch_ended();
        self.1.batch_ended();
    }
}

/// What can go wrong around a run (the replayer core's own outcomes are counted, not errors).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The health gate failed: nothing is sent.
    #[error("the API at {url} is not healthy: {why}")]
    Unhealthy { url: String, why: String },
    /// A signal ended the wait for `--start-at`.
    #[error("stopped by {0} before the start: nothing was sent")]
    StoppedBeforeStart(StopSignal),
    #[error("cannot listen for {0}")]
    Signals(&'static str, #[source] std::io::Error),
    #[error(transparent)]
    Feed(#[from] feed::FeedError),
    #[error("event source thread panicked")]
    FeedPanicked,
    #[error(transparent)]
    Join(#[from] tokio::task::JoinError),
}

impl SessionError {
    /// The error as `main` classes it: an unhealthy API fails the run (exit 1), a signal
    /// before the start exits as the signal would; the rest are input errors.
    pub fn classed(self) -> anyhow::Error {
        match self {
            SessionError::Unhealthy { .. } => CommandError::RunFailed(self.to_string()).into(),
            SessionError::StoppedBeforeStart(signal) => CommandError::Stopped(signal).into(),
            other => other.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    #[test]
    fn classes_and_messages_are_those_main_maps() {
        let unhealthy = SessionError::Unhealthy {
            url: "http://h".into(),
            why: "GET /health answered 503: down".into(),
        }
        .classed();
        assert_eq!(CommandError::class_of(&unhealthy), ErrorClass::RunFailed);
        assert_eq!(
            format!("{unhealthy:#}"),
            "the API at http://h is not healthy: GET /health answered 503: down"
        );
        let stopped = SessionError::StoppedBeforeStart(StopSignal::Terminate).classed();
        assert_eq!(
            CommandError::class_of(&stopped),
            ErrorClass::Stopped(StopSignal::Terminate)
        );
        assert_eq!(
            stopped.to_string(),
            "stopped by SIGTERM before the start: nothing was sent"
        );
        let io = std::io::Error::other("no signals here");
        let signals = SessionError::Signals("SIGINT", io).classed();
        assert_eq!(CommandError::class_of(&signals), ErrorClass::Input);
        assert_eq!(
            format!("{signals:#}"),
            "cannot listen for SIGINT: no signals here"
        );
    }
}
