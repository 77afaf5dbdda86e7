//! Where a run's events come from, each sent to the replayer with its sequence number and
//! causal root: the trace's second reading through the run's selection (`replay`), or a
//! simulation made as the run goes (`start`). A source runs on its own thread and keeps
//! counting what it had to offer after the replay stops listening.

use std::sync::Arc;

use tokio::sync::mpsc::Sender;

use crate::replay::{ReplayOutcome, Sequenced};
use crate::selection::Selection;
use crate::sim::{SimConfig, SimError, Simulation};
use crate::trace::format::TraceError;
use crate::trace::input::SecondPass;

/// Why a source stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The second reading selected another number of events than the survey.
    #[error("the trace changed while it was replayed")]
    TraceChanged,
}

/// The selected events of the trace's second reading; `to_send` is how many the survey
/// found, which the reading must offer again.
pub fn trace(
    mut selection: Selection,
    second_pass: SecondPass,
    to_send: u64,
) -> impl FnOnce(Sender<Sequenced>) -> Result<u64, FeedError> + Send + 'static {
    move |events| {
        let mut listening = true;
        let offered = selection.feed(&mut second_pass.reader()?, |seq, root, event| {
            // Once the replay stops listening the rest is counted, not sent.
            listening = listening && events.blocking_send(Sequenced { seq, root, event }).is_ok();
        })?;
        if offered != to_send {
            return Err(FeedError::TraceChanged);
        }
        Ok(offered)
    }
}

/// The simulation, sending each event to the replayer as the simulator makes it (the replayer
/// holds it until it is due); returns how many it made before the run stopped listening.
pub fn simulation(
    world: Arc<crate::world::World>,
    config: SimConfig,
) -> impl FnOnce(Sender<Sequenced>) -> Result<u64, FeedError> + Send + 'static {
    move |events| {
        let mut sim = Simulation::new(&world, &config)?;
        let mut offered = 0;
        let mut roots = crate::causal::RootTracker::new();
        while let Some(event) = sim.next_event()? {
            if events
                .blocking_send(Sequenced {
                    seq: offered,
                    root: roots.root_of(&event),
                    event,
                })
                .is_err()
            {
                break; // the run stopped
            }
            offered += 1;
        }
        Ok(offered)
    }
}

/// The outcome with its events not sent settled from what the source `offered`: a live
/// source (a simulation running ahead of the clock) never had due what it had not reached;
/// of a trace, every selected event was received or not sent.
pub fn settle_not_sent(mut outcome: ReplayOutcome, live: bool, offered: u64) -> ReplayOutcome {
    outcome.not_sent = if live {
        outcome.not_sent + outcome.due_in_source
    } else {
        offered.saturating_sub(outcome.received)
    };
    outcome
}
