//! One dispatcher: paces the events of its partition of causal roots, keeps each root's
//! events in trace order (one at a time), blocks what depends on a failed event, and owns all
//! of that state alone.
//!
//! Each event runs in a task of its own and reports back over a channel (`Done`): the
//! dispatcher is the only one that reads or changes the lanes, so nothing is locked on the hot
//! path. Those tasks are workers kept for the next event (one event at a time each, at most
//! one per slot of `--concurrency`), not a task spawned per event: a tokio task is a
//! cache-line-aligned allocation (glibc's slow `memalign` path) and its future is copied in and
//! out of it, which callgrind put at about 2.3 k instructions an event. On the
//! CLI's runtimes (current-thread: `Work::on_own_thread`, or the calling thread for a single
//! dispatcher) those tasks run on the dispatcher's own thread, so a completion, a due time
//! and a connection's I/O wake that one thread and nothing crosses to another. (Workers that
//! take events from per-root ready queues themselves were the alternative: they need a shared
//! ready queue again, and the same per-root bookkeeping to keep a root's events in order.)

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::clock::{Clock as _, ClockChoice, PacingClock};
use super::pacer::Pacer;
use super::{Executor, Progress, Sequenced, StopFlag};
use crate::causal::Root;
use crate::event::{Activity, Entity, Event};
use crate::metrics::{EventRecord, EventResult};
use crate::outcome::FailureKind;
use crate::units::Speed;

/// What every dispatcher of a run shares: the schedule, the choice of clock, the stop, the
/// counters and the way to the aggregator.
pub(super) struct Shared {
    pub start: Instant,
    pub pacer: Pacer,
    /// Each dispatcher makes its own clock from these, on its own runtime (a timerfd belongs
    /// to the I/O driver it is registered with).
    pub clock: (ClockChoice, Speed),
    /// Set when the replay stops: no new event starts, executors give up their retries.
    pub stop: StopFlag,
    pub progress: Arc<Progress>,
    pub records: mpsc::UnboundedSender<EventRecord>,
    pub drain_timeout: Duration,
    pub hold_until_ms: Option<u64>,
}

impl Shared {
    /// When the event at `offset_ms` is due (`None`: at once, `--speed max`).
    pub fn due(&self, offset_ms: u64) -> Option<Instant> {
        self.pacer.due(offset_ms).map(|offset| self.start + offset)
    }

    /// A clock of this run, on the current runtime.
    pub fn clock(&self) -> PacingClock {
        PacingClock::for_run(self.clock.0, self.clock.1)
    }
}

/// Events taken from a channel in batches: a sender blocked on a full channel (the trace's
/// feed thread, or the router) is woken once per batch instead of once per event, which at
/// `--speed max` was a thread ping-pong per event. What is taken but not yet handed out is
/// still the source's: `rest` yields it first, in trace order.
pub(super) struct Batched {
    rx: mpsc::Receiver<Sequenced>,
    /// Taken but not yet handed out, the next one last (so handing out is a `pop`).
    ahead: Vec<Sequenced>,
}

/// Events taken from a channel at once.
const BATCH: usize = 256;

impl Batched {
    pub fn new(rx: mpsc::Receiver<Sequenced>) -> Batched {
        Batched {
            rx,
            ahead: Vec::new(),
        }
    }

    /// The next event; `None` once the channel is closed and empty. Cancel safe: nothing is
    /// taken unless it is kept (`recv_many` is, and the reversal does not wait).
    pub async fn next(&mut self) -> Option<Sequenced> {
        if self.ahead.is_empty() {
            if self.rx.recv_many(&mut self.ahead, BATCH).await == 0 {
                return None;
            }
            self.ahead.reverse();
        }
        self.ahead.pop()
    }

    /// What is left without waiting: the events taken ahead, then what the channel holds.
    pub fn rest(&mut self) -> impl Iterator<Item = Sequenced> + '_ {
        let ahead = std::mem::take(&mut self.ahead);
        ahead
            .into_iter()
            .rev()
            .chain(std::iter::from_fn(|| self.rx.try_recv().ok()))
    }
}

/// One dispatcher's part of a run, before it starts.
pub(super) struct Work<X> {
    pub index: u32,
    pub executor: Arc<X>,
    pub events: mpsc::Receiver<Sequenced>,
    pub shared: Arc<Shared>,
    pub concurrency: usize,
    /// Receives a copy of every event whose time has come (a lone dispatcher's; with several,
    /// the router taps).
    pub tap: Option<std::sync::mpsc::Sender<Event>>,
}

/// A dispatcher that was started, as a task or on a thread of its own.
pub(super) enum Started {
    Task(JoinHandle<Tally>),
    Thread(tokio::sync::oneshot::Receiver<Tally>),
}

impl Started {
    /// The dispatcher's tally once it has finished; `None` if it panicked.
    pub async fn tally(self) -> Option<Tally> {
        match self {
            Started::Task(task) => task.await.ok(),
            Started::Thread(tally) => tally.await.ok(),
        }
    }
}

impl<X: Executor> Work<X> {
    async fn run(self) -> Tally {
        let clock = self.shared.clock();
        dispatch(
            self.executor,
            self.events,
            self.shared,
            clock,
            self.concurrency,
            self.tap,
        )
        .await
    }

    /// A task of the calling runtime.
    pub fn on_this_runtime(self) -> Started {
        Started::Task(tokio::spawn(self.run()))
    }

    /// An OS thread of its own running a current-thread runtime: the dispatcher, its events'
    /// tasks, their connections and its clock all live there. The thread ends with its
    /// runtime (its connections closed) before the tally is handed over. Should no runtime
    /// or thread be had, a task of the calling runtime instead.
    pub fn on_own_thread(self) -> Started {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return self.on_this_runtime();
        };
        // The work goes over once the thread exists, so that it is not lost if it cannot.
        let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<Work<X>>(1);
        let (tally_tx, tally_rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("dispatcher-{}", self.index))
            .spawn(move || {
                if let Ok(work) = work_rx.recv() {
                    // A task, not the future `block_on` polls: that one's every wake also
                    // writes the driver's eventfd (see `replay::run`). A panic there is a
                    // panic here, as it was before: no tally.
                    let tally = runtime.block_on(async { tokio::spawn(work.run()).await });
                    drop(runtime);
                    if let Ok(tally) = tally {
                        let _ = tally_tx.send(tally);
                    }
                }
            });
        if spawned.is_err() {
            return self.on_this_runtime();
        }
        match work_tx.send(self) {
            Ok(()) => Started::Thread(tally_rx),
            Err(std::sync::mpsc::SendError(work)) => work.on_this_runtime(),
        }
    }
}

/// What one dispatcher accounts for; the run sums these over its dispatchers.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub taken: u64,
    pub not_sent: u64,
    pub interrupted: u64,
    pub due_in_source: u64,
    pub stopped_early: bool,
}

struct Job {
    seq: u64,
    root: Root,
    event: Event,
    due: Instant,
}

impl Job {
    fn entity(&self) -> Entity {
        self.event.action.entity()
    }
}

/// The event of a lane being sent, and the worker sending it (aborted at the drain timeout).
struct Running {
    seq: u64,
    entity: Entity,
    activity: Activity,
    offset_ms: u64,
    worker: Worker,
}

/// A task that sends the events handed to it, one at a time, until its sender is dropped.
struct Worker {
    jobs: mpsc::UnboundedSender<Job>,
    task: JoinHandle<()>,
}

/// A root with an event in flight, and its events waiting behind it in trace order.
struct Lane {
    running: Option<Running>,
    queued: VecDeque<Job>,
}

/// An event's task has ended.
struct Done {
    root: Root,
    record: EventRecord,
}

/// The dispatcher's own state: nothing else reads or writes it.
struct Lanes {
    busy: HashMap<Root, Lane>,
    /// Lanes with an event in flight (after a stop, lanes may hold only unsent events).
    running: usize,
    /// Entities with a failed event: the rest of their events is not sent (it would reach the
    /// API out of order; a resumed run resends from the failed event on, in order).
    blocked_entities: HashSet<Entity>,
    /// Roots whose customer creation failed: nothing of theirs is sent (their orders would
    /// name a customer the API does not have).
    blocked_roots: HashSet<Root>,
    /// Events that ended interrupted without being cut off (an executor that panicked).
    interrupted: u64,
    done_tx: mpsc::UnboundedSender<Done>,
    /// Workers without an event, the last to finish last (its memory is the warmest).
    idle: Vec<Worker>,
}

fn blocked_record(job: &Job, finished_at: Duration, why: &str) -> EventRecord {
    EventRecord::unanswered(
        job.seq,
        job.entity(),
        job.event.at.as_ms(),
        job.event.action.activity(),
        finished_at,
        FailureKind::Blocked,
        why,
    )
}

impl Lanes {
    /// Why `job` must not be sent, if it must not.
    fn blocked(&self, job: &Job) -> Option<&'static str> {
        if self.blocked_roots.contains(&job.root) {
            Some("not sent: the creation of its customer failed")
        } else if self.blocked_entities.contains(&job.entity()) {
            Some("not sent: an earlier event of the same entity failed")
        } else {
            None
        }
    }

    /// Hands `job` to an idle worker, or to a new one.
    fn spawn<X: Executor>(&mut self, executor: &Arc<X>, shared: &Shared, job: Job) -> Running {
        let (seq, entity) = (job.seq, job.entity());
        let (activity, offset_ms) = (job.event.action.activity(), job.event.at.as_ms());
        let mut job = job;
        let worker = loop {
            let worker = match self.idle.pop() {
                Some(worker) => worker,
                None => {
                    let (jobs, queue) = mpsc::unbounded_channel();
                    let task = tokio::spawn(work(
                        executor.clone(),
                        queue,
                        shared.stop.clone(),
                        shared.start,
                        self.done_tx.clone(),
                    ));
                    Worker { jobs, task }
                }
            };
            match worker.jobs.send(job) {
                Ok(()) => break worker,
                // Cannot happen (a worker ends only when aborted or told to), but a job is
                // never lost: another worker takes it.
                Err(mpsc::error::SendError(back)) => job = back,
            }
        };
        self.running += 1;
        Running {
            seq,
            entity,
            activity,
            offset_ms,
            worker,
        }
    }

    /// Starts `job` in a new lane of its root (the caller checked that a slot is free).
    fn open<X: Executor>(&mut self, executor: &Arc<X>, shared: &Shared, job: Job) {
        let root = job.root;
        let running = self.spawn(executor, shared, job);
        self.busy.insert(
            root,
            Lane {
                running: Some(running),
                queued: VecDeque::new(),
            },
        );
    }

    /// An event ended: record it, block what depended on it if it failed, and start the next
    /// event of its root unless the replay is stopping.
    fn complete<X: Executor>(&mut self, executor: &Arc<X>, shared: &Shared, done: Done) {
        let Done { root, record } = done;
        let failed = record.result != EventResult::Success;
        if record.result.kind() == Some(&FailureKind::Interrupted) {
            self.interrupted += 1;
        }
        if failed {
            self.blocked_entities.insert(record.entity);
            if record.activity == Activity::CustomerCreation {
                self.blocked_roots.insert(root);
            }
        }
        let _ = shared.records.send(record);
        shared.progress.completed.fetch_add(1, Ordering::Relaxed);
        self.running -= 1;
        let Some(mut lane) = self.busy.remove(&root) else {
            debug_assert!(false, "a completion for a root without a lane");
            return;
        };
        if let Some(done) = lane.running.take() {
            self.idle.push(done.worker);
        }
        if failed {
            // What waits behind a failed event is settled now, as it would be on arrival.
            let finished_at = shared.start.elapsed();
            lane.queued.retain(|job| match self.blocked(job) {
                Some(why) => {
                    let _ = shared.records.send(blocked_record(job, finished_at, why));
                    shared.progress.completed.fetch_add(1, Ordering::Relaxed);
                    false
                }
                None => true,
            });
        }
        if shared.stop.is_set() {
            // Stopping: what waits behind stays unsent (and is counted as such).
            if !lane.queued.is_empty() {
                self.busy.insert(root, lane);
            }
            return;
        }
        if let Some(next) = lane.queued.pop_front() {
            lane.running = Some(self.spawn(executor, shared, next));
            self.busy.insert(root, lane);
        }
    }
}

/// A worker: sends the events it is handed, one at a time, each as `execute` does.
async fn work<X: Executor>(
    executor: Arc<X>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    stop: StopFlag,
    start: Instant,
    done: mpsc::UnboundedSender<Done>,
) {
    while let Some(job) = jobs.recv().await {
        let event = std::pin::pin!(execute(&*executor, job, &stop, start, &done));
        // An executor's panic ends its event (its report says so), not the worker, as it
        // ended only that event's task when each event had one.
        let _ = CatchUnwind(event).await;
    }
}

/// A future's panic, caught as its output.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Sends one event and reports how it went.
async fn execute<X: Executor>(
    executor: &X,
    job: Job,
    stop: &StopFlag,
    start: Instant,
    done: &mpsc::UnboundedSender<Done>,
) {
    let (seq, root, due) = (job.seq, job.root, job.due);
    let entity = job.entity();
    let activity = job.event.action.activity();
    let offset_ms = job.event.at.as_ms();
    let mut report = Report {
        done: Some(done),
        root,
        unanswered: (seq, entity, offset_ms, activity, start),
    };
    let execution = executor.execute(seq, job.event, stop.clone()).await;
    let finished = Instant::now();
    let first_sent = execution.first_sent.max(due);
    report.send(EventRecord {
        seq,
        entity,
        offset_ms,
        activity,
        finished_at: finished - start,
        lateness: first_sent - due,
        service: finished - first_sent,
        latency: finished - due,
        requests: execution.requests,
        retries: execution.retries,
        retry_causes: execution.retry_causes,
        result: execution.result,
    });
}

/// An event's report to its dispatcher, sent even if the executor panics (the lane would
/// otherwise wait forever); an aborted task reports nothing (the drain counts it).
struct Report<'a> {
    done: Option<&'a mpsc::UnboundedSender<Done>>,
    root: Root,
    unanswered: (u64, Entity, u64, Activity, Instant),
}

impl Report<'_> {
    fn send(&mut self, record: EventRecord) {
        if let Some(done) = self.done.take() {
            // Only the dispatcher's own end drops the receiver, after every lane is settled.
            let _ = done.send(Done {
                root: self.root,
                record,
            });
        }
    }
}

impl Drop for Report<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let (seq, entity, offset_ms, activity, start) = self.unanswered;
            self.send(EventRecord::unanswered(
                seq,
                entity,
                offset_ms,
                activity,
                start.elapsed(),
                FailureKind::Interrupted,
                "the executor panicked",
            ));
        }
    }
}

/// Dispatches `events` (one partition of the trace, in trace order) until the source ends or
/// the replay stops, with at most `concurrency` roots in flight; then drains.
pub(super) async fn dispatch<X: Executor>(
    executor: Arc<X>,
    events: mpsc::Receiver<Sequenced>,
    shared: Arc<Shared>,
    clock: PacingClock,
    concurrency: usize,
    tap: Option<std::sync::mpsc::Sender<Event>>,
) -> Tally {
    let concurrency = concurrency.max(1);
    let mut events = Batched::new(events);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut lanes = Lanes {
        busy: HashMap::new(),
        running: 0,
        blocked_entities: HashSet::new(),
        blocked_roots: HashSet::new(),
        interrupted: 0,
        done_tx,
        idle: Vec::new(),
    };
    let stop = shared.stop.clone();
    let stopped = stop.stopped();
    tokio::pin!(stopped);
    let progress = &shared.progress;
    let mut tally = Tally::default();

    'feed: loop {
        let Sequenced { seq, root, event } = tokio::select! {
            biased;
            _ = &mut stopped => { tally.stopped_early = true; break; }
            Some(done) = done_rx.recv() => {
                lanes.complete(&executor, &shared, done);
                continue;
            }
            next = events.next() => match next { Some(e) => e, None => break },
        };
        progress.received.fetch_add(1, Ordering::Relaxed);
        tally.taken += 1;
        let due = match shared.due(event.at.as_ms()) {
            Some(due) => {
                let synchronized = clock.synchronize(due);
                tokio::pin!(synchronized);
                loop {
                    tokio::select! {
                        biased;
                        _ = &mut stopped => {
                            tally.stopped_early = true;
                            tally.not_sent += 1;
                            break 'feed;
                        }
                        Some(done) = done_rx.recv() => lanes.complete(&executor, &shared, done),
                        _ = &mut synchronized => break,
                    }
                }
                due
            }
            None => Instant::now(),
        };
        progress
            .trace_pos_ms
            .fetch_max(event.at.as_ms(), Ordering::Relaxed);
        if let Some(tap) = &tap {
            let _ = tap.send(event.clone());
        }
        let job = Job {
            seq,
            root,
            event,
            due,
        };
        if let Some(why) = lanes.blocked(&job) {
            progress.dispatched.fetch_add(1, Ordering::Relaxed);
            let _ = shared
                .records
                .send(blocked_record(&job, shared.start.elapsed(), why));
            progress.completed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if let Some(lane) = lanes.busy.get_mut(&root) {
            lane.queued.push_back(job);
            progress.dispatched.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        // A new lane needs a slot. Only this loop opens lanes, and completions of other roots
        // cannot block this one, so the job stays valid while we wait.
        while lanes.busy.len() >= concurrency {
            tokio::select! {
                biased;
                _ = &mut stopped => {
                    tally.stopped_early = true;
                    tally.not_sent += 1;
                    break 'feed;
                }
                Some(done) = done_rx.recv() => lanes.complete(&executor, &shared, done),
            }
        }
        progress.dispatched.fetch_add(1, Ordering::Relaxed);
        lanes.open(&executor, &shared, job);
    }

    if tally.stopped_early {
        // Events are in trace order: count those already due, up to the first that is not.
        let now = Instant::now();
        for next in events.rest() {
            match shared.due(next.event.at.as_ms()) {
                Some(due) if due > now => break,
                _ => tally.due_in_source += 1,
            }
        }
    }
    // Let the source see that nobody listens any more.
    drop(events);

    if !tally.stopped_early {
        // The source is exhausted, but a stop must still cut the tail short; a run with a set
        // length lasts it out.
        let hold = shared.hold_until_ms.and_then(|ms| shared.due(ms));
        let rest = async {
            while !lanes.busy.is_empty() {
                match done_rx.recv().await {
                    Some(done) => lanes.complete(&executor, &shared, done),
                    None => break, // cannot happen: `lanes` holds a sender
                }
            }
            if let Some(hold) = hold {
                tokio::time::sleep_until(hold).await;
            }
        };
        tokio::select! {
            biased;
            _ = &mut stopped => tally.stopped_early = true,
            _ = rest => {}
        }
    }
    if tally.stopped_early {
        let drained = tokio::time::timeout(shared.drain_timeout, async {
            while lanes.running > 0 {
                match done_rx.recv().await {
                    Some(done) => lanes.complete(&executor, &shared, done),
                    None => break,
                }
            }
        })
        .await;
        if drained.is_err() {
            // Cut off what is still in flight; a task that ended meanwhile has reported.
            for lane in lanes.busy.values_mut() {
                if let Some(running) = &lane.running {
                    running.worker.task.abort();
                }
            }
            for lane in lanes.busy.values_mut() {
                if let Some(running) = lane.running.as_mut() {
                    let _ = (&mut running.worker.task).await;
                }
            }
            while let Ok(done) = done_rx.try_recv() {
                lanes.complete(&executor, &shared, done);
            }
        }
    }

    // Whatever is left in a lane was either cut off mid-flight or never started.
    tally.interrupted = lanes.interrupted;
    let finished_at = shared.start.elapsed();
    for lane in lanes.busy.values() {
        if let Some(running) = &lane.running {
            tally.interrupted += 1;
            let _ = shared.records.send(EventRecord::unanswered(
                running.seq,
                running.entity,
                running.offset_ms,
                running.activity,
                finished_at,
                FailureKind::Interrupted,
                "still in flight when the drain timeout expired",
            ));
        }
        tally.not_sent += lane.queued.len() as u64;
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Action;
    use crate::replay::Execution;
    use crate::sim::time::SimTime;

    fn event(seq: u64) -> Sequenced {
        Sequenced {
            seq,
            root: Root::Item(seq as u32),
            event: Event {
                at: SimTime(seq),
                action: Action::InventoryUpdate {
                    item: seq as u32,
                    stock_level: 1,
                },
            },
        }
    }

    /// Batches change when a sender is woken, never the order: what `next` hands out and what
    /// `rest` leaves are the channel's events in the order they were sent.
    #[tokio::test]
    async fn a_batched_feed_keeps_trace_order_across_batches_and_in_what_is_left() {
        let total = 2 * BATCH as u64 + 7;
        let (tx, rx) = mpsc::channel(4 * BATCH);
        for seq in 0..total {
            tx.send(event(seq)).await.unwrap();
        }
        let mut feed = Batched::new(rx);
        let taken = BATCH as u64 + 3;
        for expected in 0..taken {
            assert_eq!(feed.next().await.map(|e| e.seq), Some(expected));
        }
        let rest: Vec<u64> = feed.rest().map(|e| e.seq).collect();
        assert_eq!(rest, (taken..total).collect::<Vec<_>>());
        drop(tx);
        assert!(feed.next().await.is_none());
    }

    /// Panics on the events it names; the others succeed at once.
    struct Panicking(Vec<u64>);

    impl Executor for Panicking {
        async fn execute(&self, seq: u64, _event: Event, _stop: StopFlag) -> Execution {
            tokio::task::yield_now().await;
            assert!(!self.0.contains(&seq), "a test executor's panic");
            Execution {
                first_sent: Instant::now(),
                requests: 1,
                retries: 0,
                retry_causes: Vec::new(),
                result: EventResult::Success,
            }
        }
    }

    /// An executor's panic ends its event as interrupted and nothing else: with one slot (one
    /// worker), the events after it are still sent.
    #[tokio::test]
    async fn a_panicking_event_is_interrupted_and_the_events_after_it_are_sent() {
        let (records, mut recorded) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            start: Instant::now(),
            pacer: Pacer::new(Speed::Max, 0),
            clock: (ClockChoice::Tokio, Speed::Max),
            stop: StopFlag::default(),
            progress: Arc::new(Progress::default()),
            records,
            drain_timeout: Duration::from_secs(5),
            hold_until_ms: None,
        });
        let (tx, rx) = mpsc::channel(64);
        for seq in 0..12 {
            tx.send(event(seq)).await.unwrap();
        }
        drop(tx);
        let clock = shared.clock();
        let tally = dispatch(
            Arc::new(Panicking(vec![3, 7])),
            rx,
            shared.clone(),
            clock,
            1,
            None,
        )
        .await;
        drop(shared);
        let mut seen = Vec::new();
        while let Some(record) = recorded.recv().await {
            seen.push((record.seq, record.result));
        }
        seen.sort_by_key(|(seq, _)| *seq);
        assert_eq!(seen.len(), 12, "{seen:?}");
        for (seq, result) in &seen {
            match seq {
                3 | 7 => assert_eq!(
                    result,
                    &EventResult::Failure {
                        kind: FailureKind::Interrupted,
                        detail: "the executor panicked".into()
                    },
                    "event {seq}"
                ),
                _ => assert_eq!(result, &EventResult::Success, "event {seq}"),
            }
        }
        assert_eq!((tally.taken, tally.interrupted, tally.not_sent), (12, 2, 0));
    }
}
