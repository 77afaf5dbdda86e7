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

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(received: u64, not_sent: u64, due_in_source: u64) -> ReplayOutcome {
        ReplayOutcome {
            metrics: crate::metrics::Metrics::default(),
            received,
            interrupted: 0,
            not_sent,
            due_in_source,
            stopped_early: true,
            elapsed: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn not_sent_is_what_was_due_live_and_what_was_offered_of_a_trace() {
        // A trace: every selected event the source offered was received or not sent.
        assert_eq!(settle_not_sent(outcome(40, 3, 9), false, 100).not_sent, 60);
        assert_eq!(settle_not_sent(outcome(40, 3, 9), false, 40).not_sent, 0);
        // Live: what the replayer held, plus what the simulation held whose time had come.
        assert_eq!(settle_not_sent(outcome(40, 3, 9), true, 100).not_sent, 12);
    }

    #[test]
    fn a_simulation_counts_what_it_sent_until_the_run_stopped_listening() {
        let world = Arc::new(crate::world::builtin_world());
        let config = SimConfig {
            seed: 1,
            profile: crate::profile::LoadProfile::named("demo").unwrap(),
            start: chrono::DateTime::parse_from_rfc3339("2026-01-05T12:00:00Z").unwrap(),
            duration: crate::sim::time::SimTime(3_600_000),
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let feeder = std::thread::spawn(move || simulation(world, config)(tx));
        let mut seqs = Vec::new();
        for _ in 0..5 {
            seqs.push(rx.blocking_recv().unwrap().seq);
        }
        drop(rx);
        // Up to the channel's capacity more went out before it noticed; none after.
        let offered = feeder.join().unwrap().unwrap();
        assert_eq!(seqs, [0, 1, 2, 3, 4]);
        assert!((5..=5 + 8).contains(&offered), "{offered}");
    }
}
