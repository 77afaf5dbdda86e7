//! The replayer core: paces trace events against an executor on an absolute schedule, open
//! loop, bounded by a concurrency limit, keeping each causal root's events in trace order
//! (and never sending one after a failed event it depends on), and measures every event
//! (service time, latency from the intended time, lateness).
//!
//! `run` splits the roots over `threads` dispatchers (`dispatcher`), one per lane of
//! `Root::lane`; they share the schedule, the stop and one aggregator of the records.
//! Thread per core: a run of one dispatcher runs it on the calling task, so on a
//! current-thread runtime (the CLI's, `cmd::runtime_for`) one thread dispatches, sends,
//! paces and aggregates; with several, each runs on an OS thread of its own with a
//! current-thread runtime, its own clock and its own executor (`Executor::for_own_thread`:
//! its own connection pool), so an event's tasks, its connections and its timer never leave
//! that thread; only the router's feed and the records to the aggregator cross threads.
//! Under tokio's clock (`ClockChoice::Tokio`, tests on a paused clock) every dispatcher is a
//! task of the calling runtime instead, since a paused clock belongs to one runtime.
//!
//! It knows nothing of HTTP or triples: an `Executor` turns an event into requests
//! (`api::FreshMartExecutor` for the real thing, fakes in tests). Shutdown is a future passed
//! in, so tests can fire it.

pub mod checkpoint;
pub mod clock;
mod dispatcher;
pub mod pacer;
pub mod segments;
pub mod window;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::causal::Root;
use crate::event::Event;
use crate::metrics::{EventRecord, EventResult, Metrics};
use crate::outcome::RetryCause;
use crate::units::Speed;
use clock::{Clock as _, ClockChoice};
use dispatcher::{Batched, Shared, Tally, Work};
use pacer::Pacer;

/// Set once a replay is stopping: executors must not start retries after it, and a backoff
/// sleep waiting on `stopped()` ends at once.
#[derive(Clone, Debug, Default)]
pub struct StopFlag(tokio_util::sync::CancellationToken);

impl StopFlag {
    pub fn is_set(&self) -> bool {
        self.0.is_cancelled()
    }

    pub fn set(&self) {
        self.0.cancel()
    }

    /// Completes when the flag is set.
    pub async fn stopped(&self) {
        self.0.cancelled().await
    }
}

/// How one event went, as the executor saw it.
#[derive(Clone, Debug)]
pub struct Execution {
    /// When the first request went out (the end of the event's lateness).
    pub first_sent: Instant,
    pub requests: u32,
    pub retries: u32,
    /// Why each retry happened.
    pub retry_causes: Vec<RetryCause>,
    pub result: EventResult,
}

/// Turns an event into requests and sends them, retrying as it sees fit.
pub trait Executor: Send + Sync + 'static {
    /// `seq` is the event's position in its trace, which identifies it across runs.
    fn execute(
        &self,
        seq: u64,
        event: Event,
        stop: StopFlag,
    ) -> impl Future<Output = Execution> + Send;

    /// The executor of a dispatcher that runs on a thread and runtime of its own; called on
    /// the runtime that calls `run`. What is tied to a runtime (a connection pool, whose
    /// connections are tasks) should be the new thread's own; the rest may be shared. By
    /// default, this same executor.
    fn for_own_thread(self: &Arc<Self>) -> Arc<Self> {
        self.clone()
    }
}

#[derive(Clone, Debug)]
pub struct ReplayOptions {
    pub speed: Speed,
    /// The trace offset that maps to the replay start.
    pub origin_ms: u64,
    /// Events in flight at once, over all dispatchers (each root's events run one after
    /// another).
    pub concurrency: usize,
    /// Dispatchers, each owning the roots of one lane (`Root::lane`), with an even
    /// share of `concurrency`; never more than `concurrency`.
    pub threads: usize,
    /// After a shutdown, how long in-flight events may take to finish.
    pub drain_timeout: Duration,
    /// How often `on_window` is called.
    pub window: Duration,
    /// Receives a copy of every event whose time has come (`start --record`).
    pub tap: Option<std::sync::mpsc::Sender<Event>>,
    /// Trace offset the run lasts until even when the source ends before it (`start
    /// --duration`: a run of N minutes takes N minutes, not until its last event).
    pub hold_until_ms: Option<u64>,
    /// What waits for each event's due time (`Tokio` under a paused test clock).
    pub clock: ClockChoice,
}

/// An event with its position in the trace (0-based), which identifies it in checkpoints and
/// failure lists, and its causal root (from a `causal::RootTracker` that saw every event of
/// the trace before it, sent or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequenced {
    pub seq: u64,
    pub root: Root,
    pub event: Event,
}

/// Hears about the replay as it runs; called from the single aggregating task, in completion
/// order. Every method does nothing by default.
pub trait Observer: Send + 'static {
    /// Every reporting window (the spec's per-minute line).
    fn window(&mut self, _window: &WindowReport) {}
    /// Every event that ended (success, failure or interruption).
    fn completed(&mut self, _record: &EventRecord) {}
    /// The records given to `completed` since the last call are a batch: what the
    /// aggregator's channel held when it looked (at most `BATCH`). Called before the
    /// aggregator waits again, so before any `window` and before the run returns: an observer
    /// that writes per batch (the checkpoint logs) has nothing pending while the run waits.
    fn batch_ended(&mut self) {}
}

impl Observer for () {}

/// Counters readable while the replay runs (progress bars).
#[derive(Debug, Default)]
pub struct Progress {
    pub received: AtomicU64,
    pub dispatched: AtomicU64,
    pub completed: AtomicU64,
    /// Trace offset of the last event whose time has come.
    pub trace_pos_ms: AtomicU64,
}

/// What happened during one reporting window (the spec's per-minute line).
#[derive(Clone, Debug)]
pub struct WindowReport {
    pub elapsed: Duration,
    pub span: Duration,
    pub trace_pos_ms: u64,
    pub events: u64,
    pub failures: u64,
    /// Summed latency from the intended time (queueing included).
    pub latency_sum: Duration,
    /// Summed service time: what the spec's "avg latency" is.
    pub service_sum: Duration,
}

#[derive(Debug)]
pub struct ReplayOutcome {
    pub metrics: Metrics,
    /// Events the replay took on: each ended as a success, a failure, an unknown outcome, an
    /// interruption or a block, so `received == metrics.total()`.
    pub received: u64,
    /// Events in flight when the drain timeout expired (counted as `interrupted` failures).
    pub interrupted: u64,
    /// Events taken from the source but never sent because the replay stopped (not part of
    /// `received`). Events the source still held are not counted here: the caller knows how
    /// many it offered.
    pub not_sent: u64,
    /// Events the source still held when the replay stopped whose time had already come
    /// (what a live run counts as not sent).
    pub due_in_source: u64,
    /// True when the shutdown future fired before the source ran out.
    pub stopped_early: bool,
    pub elapsed: Duration,
}

/// Replays `events` (in trace order) through `executor` until the source ends or `shutdown`
/// fires; then drains in-flight events for at most `drain_timeout`.
///
/// `options.threads` dispatchers each take the roots of one lane (`Root::lane`) and
/// share the schedule, the stop and one aggregator (so the metrics are one, exact); their
/// counts are summed.
pub async fn run<X: Executor>(
    executor: Arc<X>,
    events: mpsc::Receiver<Sequenced>,
    options: ReplayOptions,
    shutdown: impl Future<Output = ()>,
    progress: Arc<Progress>,
    observer: impl Observer,
) -> ReplayOutcome {
    let start = Instant::now();
    let (records_tx, records_rx) = mpsc::unbounded_channel::<EventRecord>();
    let aggregator = tokio::spawn(aggregate(
        records_rx,
        start,
        options.window,
        progress.clone(),
        observer,
    ));
    let split = Split::of(options.threads, options.concurrency);
    let shared = Arc::new(Shared {
        start,
        pacer: Pacer::new(options.speed, options.origin_ms),
        clock: (options.clock, options.speed),
        stop: StopFlag::default(),
        progress,
        records: records_tx,
        drain_timeout: options.drain_timeout,
        hold_until_ms: options.hold_until_ms,
    });
    let tallies = {
        let work = async {
            if split.dispatchers == 1 {
                // One partition: the dispatcher reads the source itself, in a task of the
                // calling runtime, not in the calling task: on a current-thread runtime the
                // calling task is the one `block_on` polls, and every wake of that one (each
                // completion, each due time) also wakes the runtime's driver through its
                // eventfd, a write and a spurious return from epoll; a task's wake is a push
                // on the run queue.
                let work = Work {
                    index: 0,
                    executor,
                    events,
                    shared: shared.clone(),
                    concurrency: split.limit(0),
                    tap: options.tap.clone(),
                };
                let tally = work.on_this_runtime().tally().await;
                debug_assert!(tally.is_some(), "the dispatcher panicked");
                vec![tally.unwrap_or_default()]
            } else {
                dispatch_partitions(executor, events, &shared, split, options.tap.clone()).await
            }
        };
        tokio::pin!(work);
        // The shutdown first: once it has fired, no dispatcher starts anything more.
        tokio::select! {
            biased;
            _ = shutdown => {
                shared.stop.set();
                work.await
            }
            tallies = &mut work => tallies,
        }
    };
    let mut outcome = ReplayOutcome {
        metrics: Metrics::default(),
        received: 0,
        interrupted: 0,
        not_sent: 0,
        due_in_source: 0,
        stopped_early: false,
        elapsed: Duration::ZERO,
    };
    let mut taken = 0;
    for tally in tallies {
        taken += tally.taken;
        outcome.not_sent += tally.not_sent;
        outcome.interrupted += tally.interrupted;
        outcome.due_in_source += tally.due_in_source;
        outcome.stopped_early |= tally.stopped_early;
    }
    // The shutdown may have fired after every dispatcher had finished its source.
    outcome.stopped_early |= shared.stop.is_set();
    let elapsed = start.elapsed();
    drop(shared);
    outcome.metrics = aggregator.await.unwrap_or_default();
    outcome.received = taken - outcome.not_sent;
    debug_assert_eq!(outcome.received, outcome.metrics.total());
    outcome.elapsed = elapsed;
    outcome
}

/// How a run's roots and its concurrency are split over its dispatchers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// Dispatchers: `--threads`, but never more than the concurrency (each needs a slot).
    pub dispatchers: u32,
    pub concurrency: usize,
}

impl Split {
    pub fn of(threads: usize, concurrency: usize) -> Split {
        let concurrency = concurrency.max(1);
        let dispatchers = threads.clamp(1, concurrency).min(u32::MAX as usize) as u32;
        Split {
            dispatchers,
            concurrency,
        }
    }

    /// Dispatcher `index`'s share of the concurrency: an even split, the remainder going to
    /// the first ones, so the shares add up to the whole.
    pub fn limit(self, index: u32) -> usize {
        let n = self.dispatchers as usize;
        self.concurrency / n + usize::from((index as usize) < self.concurrency % n)
    }
}

/// Several dispatchers, each on its own thread (on tokio's clock: its own task), fed by this
/// task routing the source by root.
async fn dispatch_partitions<X: Executor>(
    executor: Arc<X>,
    events: mpsc::Receiver<Sequenced>,
    shared: &Arc<Shared>,
    split: Split,
    tap: Option<std::sync::mpsc::Sender<Event>>,
) -> Vec<Tally> {
    let own_threads = shared.clock.0 != ClockChoice::Tokio;
    let mut events = Batched::new(events);
    let mut feeds = Vec::with_capacity(split.dispatchers as usize);
    let mut tasks = Vec::with_capacity(split.dispatchers as usize);
    for index in 0..split.dispatchers {
        let (tx, rx) = mpsc::channel(PARTITION_FEED);
        feeds.push(tx);
        let work = Work {
            index,
            executor: if own_threads {
                executor.for_own_thread()
            } else {
                executor.clone()
            },
            events: rx,
            shared: shared.clone(),
            concurrency: split.limit(index),
            tap: None,
        };
        tasks.push(if own_threads {
            work.on_own_thread()
        } else {
            work.on_this_runtime()
        });
    }
    // The router's own clock, for the tap.
    let clock = shared.clock();
    let stop = shared.stop.clone();
    let stopped = stop.stopped();
    tokio::pin!(stopped);
    let mut held = None;
    loop {
        let next = tokio::select! {
            biased;
            _ = &mut stopped => break,
            next = events.next() => match next { Some(e) => e, None => break },
        };
        if let Some(tap) = &tap {
            // A recording is in trace order and holds only events whose time came, so the
            // router taps them at their due time (the dispatchers then find them due).
            if let Some(due) = shared.due(next.event.at.as_ms()) {
                tokio::select! {
                    biased;
                    _ = &mut stopped => { held = Some(next); break; }
                    _ = clock.synchronize(due) => {}
                }
            }
            let _ = tap.send(next.event.clone());
        }
        let feed = &feeds[next.root.lane(split.dispatchers) as usize];
        tokio::select! {
            biased;
            _ = &mut stopped => { held = Some(next); break; }
            slot = feed.reserve() => match slot {
                Ok(slot) => slot.send(next),
                Err(_) => break, // the dispatcher stopped listening: it is stopping
            },
        }
    }
    drop(feeds);
    let mut due_in_source = 0;
    if stop.is_set() {
        // What the router still held or the source still had, whose time had come.
        let now = Instant::now();
        let is_due = |e: &Sequenced| shared.due(e.event.at.as_ms()).is_none_or(|d| d <= now);
        let mut rest = held.into_iter().chain(events.rest());
        due_in_source = rest.by_ref().take_while(is_due).count() as u64;
    }
    drop(events);
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        // A dispatcher does not panic (an executor's panic is caught per event); if one did,
        // its events would go missing from the counts, so say so loudly in debug builds.
        let tally = task.tally().await;
        debug_assert!(tally.is_some(), "a dispatcher panicked");
        tallies.push(tally.unwrap_or_default());
    }
    tallies.push(Tally {
        due_in_source,
        ..Tally::default()
    });
    tallies
}

/// Events buffered between the router and each dispatcher.
const PARTITION_FEED: usize = 1024;

/// Records the aggregator takes from its channel at once, at most: one batch for the
/// observer (`Observer::batch_ended`). At C = 64 a batch rarely reaches 64; the bound keeps a
/// backlog (a slow disk, a stalled observer) from holding many unwritten completions.
pub const BATCH: usize = 256;

/// The single consumer of event records: builds the metrics and the periodic window reports.
async fn aggregate(
    mut records: mpsc::UnboundedReceiver<EventRecord>,
    start: Instant,
    every: Duration,
    progress: Arc<Progress>,
    mut observer: impl Observer,
) -> Metrics {
    let mut metrics = Metrics::default();
    let mut ticker = tokio::time::interval_at(start + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut window = WindowReport {
        elapsed: Duration::ZERO,
        span: every,
        trace_pos_ms: 0,
        events: 0,
        failures: 0,
        latency_sum: Duration::ZERO,
        service_sum: Duration::ZERO,
    };
    let mut window_start = start;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            taken = records.recv_many(&mut batch, BATCH) => {
                if taken == 0 {
                    break;
                }
                for r in batch.drain(..) {
                    window.events += 1;
                    window.failures += u64::from(r.result != EventResult::Success);
                    window.latency_sum += r.latency;
                    window.service_sum += r.service;
                    observer.completed(&r);
                    metrics.add(&r);
                }
                observer.batch_ended();
            },
            now = ticker.tick() => {
                window.elapsed = now - start;
                window.span = now - window_start;
                window.trace_pos_ms = progress.trace_pos_ms.load(Ordering::Relaxed);
                observer.window(&window);
                window_start = now;
                window.events = 0;
                window.failures = 0;
                window.latency_sum = Duration::ZERO;
                window.service_sum = Duration::ZERO;
            }
        }
    }
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Activity, Entity};
    use std::sync::Mutex;

    fn record(seq: u64) -> EventRecord {
        EventRecord {
            seq,
            entity: Entity::Order(seq as u32),
            offset_ms: seq,
            activity: Activity::ALL[0],
            finished_at: Duration::from_millis(seq),
            lateness: Duration::ZERO,
            service: Duration::from_micros(10),
            latency: Duration::from_micros(20),
            requests: 1,
            retries: 0,
            retry_causes: Vec::new(),
            result: EventResult::Success,
        }
    }

    #[derive(Debug, PartialEq)]
    enum Call {
        Completed(u64),
        BatchEnded,
        Window(u64),
    }

    /// Notes every call, and checks that nothing is left unended when the aggregator waits.
    struct Noting(Arc<Mutex<Vec<Call>>>, usize);

    impl Observer for Noting {
        fn window(&mut self, w: &WindowReport) {
            assert_eq!(self.1, 0, "a window came with a batch not ended");
            self.0.lock().unwrap().push(Call::Window(w.events));
        }
        fn completed(&mut self, r: &EventRecord) {
            self.1 += 1;
            self.0.lock().unwrap().push(Call::Completed(r.seq));
        }
        fn batch_ended(&mut self) {
            assert!(self.1 > 0, "an empty batch");
            self.1 = 0;
            self.0.lock().unwrap().push(Call::BatchEnded);
        }
    }

    /// What the checkpoint logs rely on: a batch is at most `BATCH` records in completion
    /// order and is ended before the aggregator waits, so before a window and before it
    /// returns.
    #[tokio::test(start_paused = true)]
    async fn every_batch_is_bounded_and_ended_before_the_aggregator_waits() {
        let (tx, rx) = mpsc::unbounded_channel();
        let first = 2 * BATCH + 88;
        for seq in 0..first as u64 {
            tx.send(record(seq)).unwrap();
        }
        let calls = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let aggregator = tokio::spawn(aggregate(
            rx,
            start,
            Duration::from_secs(1),
            Arc::new(Progress::default()),
            Noting(calls.clone(), 0),
        ));
        // On the paused clock: the aggregator takes the backlog, then the first window
        // (at 1 s) comes before these later records (at 1.5 s).
        tokio::time::sleep_until(start + Duration::from_millis(1_500)).await;
        for seq in first as u64..first as u64 + 10 {
            tx.send(record(seq)).unwrap();
        }
        drop(tx);
        let metrics = aggregator.await.unwrap();
        assert_eq!(metrics.total(), first as u64 + 10);
        let mut want = Vec::new();
        for (from, to) in [(0, BATCH), (BATCH, 2 * BATCH), (2 * BATCH, first)] {
            want.extend((from as u64..to as u64).map(Call::Completed));
            want.push(Call::BatchEnded);
        }
        want.push(Call::Window(first as u64));
        want.extend((first as u64..first as u64 + 10).map(Call::Completed));
        want.push(Call::BatchEnded);
        assert_eq!(*calls.lock().unwrap(), want);
    }
}
