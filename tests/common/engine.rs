//! The replay engine in process (`loadgen::replay::run`) over an executor the test scripts:
//! its options, and one run of a fixed list of events under a time limit.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use loadgen::replay::clock::ClockChoice;
use loadgen::replay::{self, Executor, Progress, ReplayOptions, ReplayOutcome, Sequenced};
use loadgen::units::Speed;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Options of a run from trace offset 0 on tokio's clock (paused in `start_paused` tests),
/// with no tap and no hold.
pub fn options(
    speed: Speed,
    concurrency: usize,
    threads: usize,
    drain_timeout: Duration,
) -> ReplayOptions {
    ReplayOptions {
        speed,
        origin_ms: 0,
        concurrency,
        threads,
        drain_timeout,
        window: Duration::from_secs(3600),
        tap: None,
        hold_until_ms: None,
        clock: ClockChoice::Tokio,
    }
}

/// A finished run of the engine.
pub struct EngineRun {
    pub outcome: ReplayOutcome,
    /// An instant taken just before `run` started (its own start is at most microseconds later).
    pub t0: Instant,
    pub progress: Arc<Progress>,
}

/// Runs the replay over `events`, failing the test if it outlasts `limit`. With
/// `source_open`, the source stays open (more events could come), so only `shutdown` ends the
/// run; otherwise it is closed behind the events.
pub async fn run<X: Executor>(
    executor: &Arc<X>,
    events: Vec<Sequenced>,
    options: ReplayOptions,
    shutdown: impl Future<Output = ()>,
    source_open: bool,
    limit: Duration,
) -> EngineRun {
    let (tx, rx) = mpsc::channel(events.len().max(1));
    for e in events {
        tx.try_send(e).expect("the channel holds every event");
    }
    let keep = source_open.then_some(tx);
    let progress = Arc::new(Progress::default());
    let t0 = Instant::now();
    let outcome = tokio::time::timeout(
        limit,
        replay::run(
            executor.clone(),
            rx,
            options,
            shutdown,
            progress.clone(),
            (),
        ),
    )
    .await
    .expect("the replay finished within the limit");
    drop(keep);
    EngineRun {
        outcome,
        t0,
        progress,
    }
}
