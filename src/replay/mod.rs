//! The replayer core: paces trace events against an executor on an absolute schedule, open
//! loop, bounded by a concurrency limit, keeping each entity's events in trace order, and
//! measures every event (service time, latency from the intended time, lateness).
//!
//! It knows nothing of HTTP or triples: an `Executor` turns an event into requests
//! (`api::FreshMartExecutor` for the real thing, fakes in tests). Shutdown is a future passed
//! in, so tests can fire it.

pub mod checkpoint;
pub mod clock;
pub mod pacer;
pub mod segments;
pub mod window;

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::event::{Activity, Entity, Event};
use crate::metrics::{EventRecord, EventResult, Metrics};
use crate::outcome::{FailureKind, RetryCause};
use crate::units::Speed;
use clock::{Clock as _, ClockChoice, PacingClock};
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
}

#[derive(Clone, Debug)]
pub struct ReplayOptions {
    pub speed: Speed,
    /// The trace offset that maps to the replay start.
    pub origin_ms: u64,
    /// Events in flight at once (each entity's events run one after another).
    pub concurrency: usize,
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
/// failure lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequenced {
    pub seq: u64,
    pub event: Event,
}

/// Hears about the replay as it runs; called from the single aggregating task, in completion
/// order. Both methods do nothing by default.
pub trait Observer: Send + 'static {
    /// Every reporting window (the spec's per-minute line).
    fn window(&mut self, _window: &WindowReport) {}
    /// Every event that ended (success, failure or interruption).
    fn completed(&mut self, _record: &EventRecord) {}
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

struct Job {
    seq: u64,
    event: Event,
    due: Instant,
}

/// Events of one entity: the one being sent (if any) and those waiting behind it.
struct Lane {
    running: Option<(u64, Activity, u64)>,
    queued: VecDeque<Job>,
}

/// Busy entities, and entities whose events are no longer sent because one of them failed:
/// sending the rest would apply them out of order (a status change for an order the API never
/// received), and a resumed run resends from the failed event on, in order.
#[derive(Default)]
struct LaneMap {
    busy: HashMap<Entity, Lane>,
    blocked: HashSet<Entity>,
}

type Lanes = Arc<Mutex<LaneMap>>;

fn blocked_record(job: &Job, entity: Entity, finished_at: Duration) -> EventRecord {
    EventRecord::unanswered(
        job.seq,
        entity,
        job.event.at.as_ms(),
        job.event.action.activity(),
        finished_at,
        FailureKind::Blocked,
        "not sent: an earlier event of the same entity failed",
    )
}

fn lock(lanes: &Lanes) -> MutexGuard<'_, LaneMap> {
    // A panicking lane task cannot leave the map inconsistent (each update is one statement),
    // so a poisoned lock is still usable.
    lanes.lock().unwrap_or_else(|p| p.into_inner())
}

/// Replays `events` (in trace order) through `executor` until the source ends or `shutdown`
/// fires; then drains in-flight events for at most `drain_timeout`.
pub async fn run<X: Executor>(
    executor: Arc<X>,
    mut events: mpsc::Receiver<Sequenced>,
    options: ReplayOptions,
    shutdown: impl Future<Output = ()>,
    progress: Arc<Progress>,
    observer: impl Observer,
) -> ReplayOutcome {
    let start = Instant::now();
    let pacer = Pacer::new(options.speed, options.origin_ms);
    let clock = PacingClock::for_run(options.clock, options.speed);
    let stop = StopFlag::default();
    let lanes: Lanes = Arc::default();
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let (records_tx, records_rx) = mpsc::unbounded_channel::<EventRecord>();
    let aggregator = tokio::spawn(aggregate(
        records_rx,
        start,
        options.window,
        progress.clone(),
        observer,
    ));
    let mut tasks = JoinSet::new();
    let mut not_sent = 0u64;
    let mut taken = 0u64;
    let mut stopped_early = false;
    tokio::pin!(shutdown);

    loop {
        let Sequenced { seq, event } = tokio::select! {
            biased;
            _ = &mut shutdown => { stopped_early = true; break; }
            next = events.recv() => match next { Some(e) => e, None => break },
        };
        progress.received.fetch_add(1, Ordering::Relaxed);
        taken += 1;
        let due = match pacer.due(event.at.as_ms()) {
            Some(offset) => start + offset,
            None => Instant::now(),
        };
        tokio::select! {
            biased;
            _ = &mut shutdown => { stopped_early = true; not_sent += 1; break; }
            _ = clock.synchronize(due) => {}
        }
        progress
            .trace_pos_ms
            .store(event.at.as_ms(), Ordering::Relaxed);
        if let Some(tap) = &options.tap {
            let _ = tap.send(event.clone());
        }
        let entity = event.action.entity();
        let job = Job { seq, event, due };
        {
            let mut map = lock(&lanes);
            if map.blocked.contains(&entity) {
                let _ = records_tx.send(blocked_record(&job, entity, start.elapsed()));
                progress.dispatched.fetch_add(1, Ordering::Relaxed);
                progress.completed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if let Some(lane) = map.busy.get_mut(&entity) {
                lane.queued.push_back(job);
                progress.dispatched.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        // Only this loop creates lanes, so the entity cannot become busy while we wait here.
        let permit = tokio::select! {
            biased;
            _ = &mut shutdown => { stopped_early = true; not_sent += 1; break; }
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => { not_sent += 1; break; } // the semaphore is never closed
            },
        };
        lock(&lanes).busy.insert(
            entity,
            Lane {
                running: Some((job.seq, job.event.action.activity(), job.event.at.as_ms())),
                queued: VecDeque::new(),
            },
        );
        progress.dispatched.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(run_lane(
            executor.clone(),
            lanes.clone(),
            entity,
            job,
            permit,
            records_tx.clone(),
            stop.clone(),
            start,
            progress.clone(),
        ));
        while tasks.try_join_next().is_some() {}
    }
    let mut due_in_source = 0u64;
    if stopped_early {
        // Events are in trace order: count those already due, up to the first that is not.
        let now = Instant::now();
        while let Ok(next) = events.try_recv() {
            match pacer.due(next.event.at.as_ms()) {
                Some(offset) if start + offset > now => break,
                _ => due_in_source += 1,
            }
        }
    }
    // Let the source see that nobody listens any more.
    drop(events);

    if !stopped_early {
        // The source is exhausted, but a shutdown must still cut the tail short; a run with a
        // set length lasts it out.
        let hold = options
            .hold_until_ms
            .and_then(|ms| pacer.due(ms))
            .map(|offset| start + offset);
        tokio::select! {
            biased;
            _ = &mut shutdown => stopped_early = true,
            _ = async {
                while tasks.join_next().await.is_some() {}
                if let Some(hold) = hold {
                    tokio::time::sleep_until(hold).await;
                }
            } => {}
        }
    }
    if stopped_early {
        stop.set();
        let drained = tokio::time::timeout(options.drain_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    } else {
        while tasks.join_next().await.is_some() {}
    }

    // Whatever is left in a lane was either cut off mid-flight or never started.
    let mut interrupted = 0u64;
    let finished_at = start.elapsed();
    for (entity, lane) in lock(&lanes).busy.iter() {
        if let Some((seq, activity, offset_ms)) = lane.running {
            interrupted += 1;
            let _ = records_tx.send(EventRecord::unanswered(
                seq,
                *entity,
                offset_ms,
                activity,
                finished_at,
                FailureKind::Interrupted,
                "still in flight when the drain timeout expired",
            ));
        }
        not_sent += lane.queued.len() as u64;
    }
    drop(records_tx);
    let metrics = aggregator.await.unwrap_or_default();
    debug_assert_eq!(taken - not_sent, metrics.total());
    ReplayOutcome {
        metrics,
        received: taken - not_sent,
        interrupted,
        not_sent,
        due_in_source,
        stopped_early,
        elapsed: start.elapsed(),
    }
}

/// Sends one entity's events one after another, then frees the lane.
#[allow(clippy::too_many_arguments)]
async fn run_lane<X: Executor>(
    executor: Arc<X>,
    lanes: Lanes,
    entity: Entity,
    first: Job,
    _permit: OwnedSemaphorePermit,
    records: mpsc::UnboundedSender<EventRecord>,
    stop: StopFlag,
    start: Instant,
    progress: Arc<Progress>,
) {
    let mut job = first;
    loop {
        let activity = job.event.action.activity();
        let offset_ms = job.event.at.as_ms();
        let execution = executor.execute(job.seq, job.event, stop.clone()).await;
        let finished = Instant::now();
        let first_sent = execution.first_sent.max(job.due);
        let failed = execution.result != EventResult::Success;
        let _ = records.send(EventRecord {
            seq: job.seq,
            entity,
            offset_ms,
            activity,
            finished_at: finished - start,
            lateness: first_sent - job.due,
            service: finished - first_sent,
            latency: finished - job.due,
            requests: execution.requests,
            retries: execution.retries,
            retry_causes: execution.retry_causes,
            result: execution.result,
        });
        progress.completed.fetch_add(1, Ordering::Relaxed);
        let mut map = lock(&lanes);
        if failed {
            map.blocked.insert(entity);
            if let Some(lane) = map.busy.remove(&entity) {
                for waiting in &lane.queued {
                    let _ = records.send(blocked_record(waiting, entity, start.elapsed()));
                    progress.completed.fetch_add(1, Ordering::Relaxed);
                }
            }
            return;
        }
        let Some(lane) = map.busy.get_mut(&entity) else {
            return;
        };
        match lane.queued.pop_front() {
            Some(next) if !stop.is_set() => {
                lane.running = Some((
                    next.seq,
                    next.event.action.activity(),
                    next.event.at.as_ms(),
                ));
                job = next;
            }
            Some(next) => {
                // Stopping: what waits behind stays unsent (and is counted as such).
                lane.queued.push_front(next);
                lane.running = None;
                return;
            }
            None => {
                map.busy.remove(&entity);
                return;
            }
        }
    }
}

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
    loop {
        tokio::select! {
            record = records.recv() => match record {
                Some(r) => {
                    window.events += 1;
                    window.failures += u64::from(r.result != EventResult::Success);
                    window.latency_sum += r.latency;
                    window.service_sum += r.service;
                    observer.completed(&r);
                    metrics.add(&r);
                }
                None => break,
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
