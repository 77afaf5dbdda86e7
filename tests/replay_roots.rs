//! The replayer core over causal roots (issue 9 items 3 and 7), driven by fake executors:
//! * a customer's creation failing blocks every order of that customer (counted as blocked);
//! * a creation that is slow or in backoff delays its orders, and only them;
//! * orders of the world's customers are their own roots: never held behind each other;
//! * the accounting balances (received = succeeded + failed + unknown + interrupted + blocked,
//!   received + not sent = selected) with one dispatcher and with several;
//! * `--threads 1` and `--threads 3` over the same trace give the same counts and the same
//!   per-entity order.
//!
//! Timing tests run on tokio's paused clock, so "at its due time" is exact; nothing sleeps to
//! synchronise.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::engine::EngineRun;
use loadgen::causal::{Root, RootTracker};
use loadgen::event::{Action, CustomerRef, Entity, Event, Line, NewOrder, OrderStatus};
use loadgen::metrics::EventResult;
use loadgen::outcome::{Class, FailureKind, RetryCause};
use loadgen::replay::{
    self, Execution, Executor, Progress, ReplayOptions, ReplayOutcome, Sequenced, Split, StopFlag,
};
use loadgen::sim::time::SimTime;
use loadgen::units::Speed;
use loadgen::world::names::Persona;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Longest any replay here may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(60);

/// One call of the fake executor.
#[derive(Clone, Debug)]
struct Call {
    seq: u64,
    start: Instant,
    end: Option<Instant>,
}

/// What the fake does with one event (by trace position); anything not listed succeeds at once.
#[derive(Clone, Debug)]
enum Plan {
    /// Succeeds after this long.
    Slow(Duration),
    /// Fails transiently, waits out a backoff of each of these, then succeeds.
    Backoff(Vec<Duration>),
    /// Answers 503.
    Fail,
    /// Times out: the outcome is unknown.
    Unknown,
    /// Never returns (until the drain cuts it off).
    Hang,
}

/// An executor that does what its plans say and records every call.
#[derive(Default)]
struct Fake {
    plans: HashMap<u64, Plan>,
    calls: Mutex<Vec<Call>>,
}

impl Fake {
    fn new(plans: impl IntoIterator<Item = (u64, Plan)>) -> Arc<Fake> {
        Arc::new(Fake {
            plans: plans.into_iter().collect(),
            calls: Mutex::default(),
        })
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn call(&self, seq: u64) -> Call {
        self.calls()
            .into_iter()
            .find(|c| c.seq == seq)
            .unwrap_or_else(|| panic!("event {seq} was not sent"))
    }

    fn sent(&self) -> Vec<u64> {
        let mut seqs: Vec<u64> = self.calls().iter().map(|c| c.seq).collect();
        seqs.sort();
        seqs
    }
}

impl Executor for Fake {
    async fn execute(&self, seq: u64, _event: Event, _stop: StopFlag) -> Execution {
        let start = Instant::now();
        let index = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Call {
                seq,
                start,
                end: None,
            });
            calls.len() - 1
        };
        let mut retries = 0;
        let mut retry_causes = Vec::new();
        let result = match self.plans.get(&seq) {
            None => EventResult::Success,
            Some(Plan::Slow(d)) => {
                tokio::time::sleep(*d).await;
                EventResult::Success
            }
            Some(Plan::Backoff(waits)) => {
                for wait in waits {
                    retries += 1;
                    retry_causes.push(RetryCause {
                        kind: FailureKind::http(503),
                        detail: "busy".into(),
                    });
                    tokio::time::sleep(*wait).await;
                }
                EventResult::Success
            }
            Some(Plan::Fail) => EventResult::failure(FailureKind::http(503), "told to fail"),
            Some(Plan::Unknown) => EventResult::failure(FailureKind::Timeout, "told to time out"),
            Some(Plan::Hang) => std::future::pending().await,
        };
        self.calls.lock().unwrap()[index].end = Some(Instant::now());
        Execution {
            first_sent: start,
            requests: 1 + retries,
            retries,
            retry_causes,
            result,
        }
    }
}

fn at(ms: u64, action: Action) -> Event {
    Event {
        at: SimTime(ms),
        action,
    }
}

fn new_customer(ms: u64, customer: u32) -> Event {
    at(
        ms,
        Action::NewCustomer {
            customer,
            home_store: 0,
            persona: Persona {
                first: 0,
                last: 0,
                street: 0,
                house_number: 1,
            },
        },
    )
}

fn new_order(ms: u64, order: u32, customer: CustomerRef) -> Event {
    at(
        ms,
        Action::NewOrder(NewOrder {
            order,
            customer,
            store: 0,
            window_start_min: 60,
            window_len_min: 60,
            lines: vec![Line {
                seq: 1,
                product: 0,
                quantity: 1,
            }],
            total_cents: 100,
        }),
    )
}

fn step(ms: u64, order: u32, from: OrderStatus, to: OrderStatus) -> Event {
    at(ms, Action::Transition { order, from, to })
}

fn add_line(ms: u64, order: u32) -> Event {
    at(
        ms,
        Action::AddLine {
            order,
            line: Line {
                seq: 2,
                product: 1,
                quantity: 1,
            },
            total_cents: 200,
        },
    )
}

/// The events as the feeds send them: numbered, with the root a tracker derives in order.
fn sequenced(events: Vec<Event>) -> Vec<Sequenced> {
    let mut roots = RootTracker::new();
    events
        .into_iter()
        .enumerate()
        .map(|(seq, event)| Sequenced {
            seq: seq as u64,
            root: roots.root_of(&event),
            event,
        })
        .collect()
}

fn options(speed: Speed, concurrency: usize, threads: usize) -> ReplayOptions {
    common::engine::options(speed, concurrency, threads, Duration::from_secs(5))
}

/// Replays `events` (the source closed behind them) until the end or `shutdown`.
async fn replay(
    fake: &Arc<Fake>,
    events: Vec<Sequenced>,
    options: ReplayOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> EngineRun {
    common::engine::run(fake, events, options, shutdown, false, LIMIT).await
}

/// The identity every run keeps: each received event ended in exactly one class.
fn assert_balanced(o: &ReplayOutcome) {
    let m = &o.metrics;
    let classes = m.succeeded()
        + m.in_class(Class::Failed)
        + m.in_class(Class::UnknownOutcome)
        + m.in_class(Class::Interrupted)
        + m.in_class(Class::Blocked);
    assert_eq!(
        o.received, classes,
        "received = succeeded + failed + unknown + interrupted + blocked: {m:?}"
    );
    assert_eq!(o.interrupted, m.in_class(Class::Interrupted));
}

#[tokio::test(start_paused = true)]
async fn a_failed_customer_creation_blocks_every_order_of_that_customer() {
    use CustomerRef::New;
    use OrderStatus::{Created, Picking};
    let events = sequenced(vec![
        new_customer(0, 1),             // 0: fails
        new_order(10, 10, New(1)),      // 1: blocked
        new_customer(20, 2),            // 2
        new_order(30, 11, New(2)),      // 3
        add_line(40, 10),               // 4: blocked
        step(50, 10, Created, Picking), // 5: blocked
        new_order(60, 12, New(1)),      // 6: blocked (another order of customer 1)
        step(70, 11, Created, Picking), // 7
    ]);
    for threads in [1, 3] {
        let fake = Fake::new([(0, Plan::Fail)]);
        let run = replay(
            &fake,
            events.clone(),
            options(Speed::Factor(1.0), 4, threads),
            std::future::pending(),
        )
        .await;
        assert_eq!(fake.sent(), [0, 2, 3, 7], "threads {threads}");
        let o = &run.outcome;
        assert_eq!(o.received, 8);
        assert_eq!(o.metrics.errors.get(&FailureKind::http(503)), Some(&1));
        assert_eq!(
            o.metrics.errors.get(&FailureKind::Blocked),
            Some(&4),
            "every order of customer 1 and what follows them: {:?}",
            o.metrics.errors
        );
        assert_eq!(o.metrics.succeeded(), 3);
        assert_eq!(o.metrics.requests, 4, "blocked events send nothing");
        let mut blocked: Vec<u64> = o
            .metrics
            .failed_events
            .iter()
            .filter(|f| f.category == FailureKind::Blocked)
            .map(|f| f.seq)
            .collect();
        blocked.sort();
        assert_eq!(blocked, [1, 4, 5, 6]);
        assert_balanced(o);
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_or_retried_creation_delays_its_orders_and_nothing_else() {
    use CustomerRef::{Existing, New};
    use OrderStatus::{Created, Picking};
    let trace = || {
        sequenced(vec![
            new_customer(0, 1),              // 0: slow or in backoff
            new_order(100, 10, New(1)),      // 1: waits for 0
            new_order(100, 20, Existing(5)), // 2: its own root, on time
            step(200, 10, Created, Picking), // 3: waits for 1
            new_customer(300, 2),            // 4: another root, on time
        ])
    };
    let slow = Plan::Slow(Duration::from_secs(5));
    let backoff = Plan::Backoff(vec![Duration::from_secs(1), Duration::from_secs(3)]);
    for (what, plan, held) in [("slow", slow, 5_000), ("backoff", backoff, 4_000)] {
        let fake = Fake::new([(0, plan)]);
        let run = replay(
            &fake,
            trace(),
            options(Speed::Factor(1.0), 8, 1),
            std::future::pending(),
        )
        .await;
        let t0 = run.t0;
        let since = |seq| fake.call(seq).start - t0;
        let creation_end = fake.call(0).end.expect("the creation returned") - t0;
        assert_eq!(creation_end, Duration::from_millis(held), "{what}");
        assert_eq!(
            since(1),
            creation_end,
            "{what}: the order goes out when its customer exists, not at 100 ms"
        );
        assert!(since(3) >= fake.call(1).end.unwrap() - t0, "{what}");
        assert_eq!(
            since(2),
            Duration::from_millis(100),
            "{what}: world order on time"
        );
        assert_eq!(
            since(4),
            Duration::from_millis(300),
            "{what}: other root on time"
        );
        let o = &run.outcome;
        assert_eq!(o.metrics.succeeded(), 5, "{what}");
        // The wait counts as lateness of the orders (they were due at 100 and 200 ms).
        let lateness = loadgen::metrics::Percentiles::of(&o.metrics.lateness);
        assert!(
            lateness.max_ms >= (held - 100) as f64 * 0.999,
            "{what}: lateness {lateness:?}"
        );
        assert_balanced(o);
    }
}

#[tokio::test(start_paused = true)]
async fn orders_of_world_customers_are_not_held_behind_each_other() {
    use CustomerRef::Existing;
    use OrderStatus::{Created, Picking};
    // One customer of the world, three orders; the first takes 10 s.
    let events = sequenced(vec![
        new_order(0, 1, Existing(3)),   // 0: slow
        new_order(100, 2, Existing(3)), // 1
        new_order(200, 3, Existing(3)), // 2
        step(300, 1, Created, Picking), // 3: behind order 1 only
        step(400, 2, Created, Picking), // 4
    ]);
    assert_eq!(events[1].root, Root::Order(2));
    let fake = Fake::new([(0, Plan::Slow(Duration::from_secs(10)))]);
    let run = replay(
        &fake,
        events,
        options(Speed::Factor(1.0), 8, 1),
        std::future::pending(),
    )
    .await;
    let since = |seq| fake.call(seq).start - run.t0;
    assert_eq!(since(1), Duration::from_millis(100));
    assert_eq!(since(2), Duration::from_millis(200));
    assert_eq!(since(4), Duration::from_millis(400));
    assert_eq!(since(3), Duration::from_secs(10), "behind its own order");
    assert_eq!(run.outcome.metrics.succeeded(), 5);
    assert_balanced(&run.outcome);
}

/// A trace with every way an event can end: success, failure, unknown outcome, blocked behind
/// a failed creation or a failed event, interrupted at the drain timeout, and not sent
/// because it waited behind an interrupted one.
fn eventful() -> (Vec<Sequenced>, Vec<(u64, Plan)>) {
    use CustomerRef::{Existing, New};
    use OrderStatus::{Created, Picking};
    let events = sequenced(vec![
        new_customer(0, 1),              // 0: fails -> 1, 5 blocked
        new_order(10, 10, New(1)),       // 1
        new_order(20, 20, Existing(1)),  // 2: 503 -> 6 blocked
        new_order(30, 21, Existing(2)),  // 3: unknown outcome
        new_order(40, 22, Existing(3)),  // 4: hangs -> interrupted; 8 not sent
        step(50, 10, Created, Picking),  // 5
        step(60, 20, Created, Picking),  // 6
        new_customer(70, 2),             // 7: succeeds
        step(80, 22, Created, Picking),  // 8
        new_order(90, 23, Existing(4)),  // 9: succeeds
        step(100, 23, Created, Picking), // 10: succeeds
    ]);
    let plans = vec![
        (0, Plan::Fail),
        (2, Plan::Fail),
        (3, Plan::Unknown),
        (4, Plan::Hang),
    ];
    (events, plans)
}

#[tokio::test(start_paused = true)]
async fn the_accounting_balances_with_one_dispatcher_and_with_several() {
    for threads in [1, 2, 3] {
        let (events, plans) = eventful();
        let selected = events.len() as u64;
        let fake = Fake::new(plans);
        // Every event is taken by 100 ms; the stop comes at 1 s, the drain gives up at 1.5 s.
        let run = replay(
            &fake,
            events,
            ReplayOptions {
                drain_timeout: Duration::from_millis(500),
                ..options(Speed::Factor(1.0), 16, threads)
            },
            tokio::time::sleep(Duration::from_secs(1)),
        )
        .await;
        let o = &run.outcome;
        let m = &o.metrics;
        assert!(o.stopped_early, "threads {threads}");
        assert_eq!(run.progress.received.load(Ordering::SeqCst), selected);
        assert_eq!(o.received + o.not_sent, selected, "threads {threads}");
        assert_eq!(o.not_sent, 1, "threads {threads}: event 8 waited behind 4");
        assert_eq!(
            (
                m.succeeded(),
                m.in_class(Class::Failed),
                m.in_class(Class::UnknownOutcome),
                m.in_class(Class::Interrupted),
                m.in_class(Class::Blocked)
            ),
            (3, 2, 1, 1, 3),
            "threads {threads}: {:?}",
            m.errors
        );
        assert_eq!(o.interrupted, 1);
        assert_balanced(o);
        assert!(
            o.elapsed >= Duration::from_millis(1_500) && o.elapsed < Duration::from_secs(3),
            "{:?}",
            o.elapsed
        );
    }
}

/// Fails what a deterministic function of the event says, so any two runs over one trace
/// agree on every outcome; yields once per event so that tasks interleave.
struct Deterministic {
    calls: Mutex<BTreeMap<Entity, Vec<u64>>>,
    running_per_root: Mutex<HashMap<Root, usize>>,
    roots: HashMap<u64, Root>,
    overlaps: AtomicUsize,
}

impl Executor for Deterministic {
    async fn execute(&self, seq: u64, event: Event, _stop: StopFlag) -> Execution {
        let root = self.roots[&seq];
        {
            let mut running = self.running_per_root.lock().unwrap();
            let n = running.entry(root).or_default();
            *n += 1;
            if *n > 1 {
                self.overlaps.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.calls
            .lock()
            .unwrap()
            .entry(event.action.entity())
            .or_default()
            .push(seq);
        tokio::task::yield_now().await;
        *self
            .running_per_root
            .lock()
            .unwrap()
            .get_mut(&root)
            .expect("counted") -= 1;
        let result = match seq % 23 {
            0 => EventResult::failure(FailureKind::http(503), "every 23rd fails"),
            7 => EventResult::failure(FailureKind::Timeout, "every 23rd times out"),
            _ => EventResult::Success,
        };
        Execution {
            first_sent: Instant::now(),
            requests: 1,
            retries: 0,
            retry_causes: Vec::new(),
            result,
        }
    }
}

/// What a run's outcome says, in a form two runs can be compared by.
fn summary(o: &ReplayOutcome) -> impl PartialEq + std::fmt::Debug {
    let m = &o.metrics;
    let mut failed: Vec<(u64, String)> = m
        .failed_events
        .iter()
        .map(|f| (f.seq, f.category.to_string()))
        .collect();
    failed.sort();
    (
        (o.received, o.not_sent, o.interrupted),
        (m.successes, m.failures, m.requests),
        m.errors.clone(),
        failed,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn one_thread_and_three_threads_give_the_same_counts_and_per_entity_order() {
    // Forty minutes of the stress profile: new customers with their orders, orders of the
    // world's customers, inventory updates.
    let world = loadgen::world::builtin_world();
    let config = common::config("stress", 42, common::DEFAULT_START, 40 * 60_000);
    let events = sequenced(common::simulate(&world, &config));
    let roots: HashMap<u64, Root> = events.iter().map(|e| (e.seq, e.root)).collect();
    let kinds: HashSet<std::mem::Discriminant<Root>> =
        roots.values().map(std::mem::discriminant).collect();
    assert_eq!(kinds.len(), 3, "the trace has every kind of root");
    assert!(events.len() > 2_000, "{} events", events.len());
    let mut results = Vec::new();
    for threads in [1, 3] {
        let fake = Arc::new(Deterministic {
            calls: Mutex::default(),
            running_per_root: Mutex::default(),
            roots: roots.clone(),
            overlaps: AtomicUsize::new(0),
        });
        let (tx, rx) = mpsc::channel(256);
        let feed = events.clone();
        let feeder = tokio::spawn(async move {
            for e in feed {
                tx.send(e).await.expect("the replay reads the whole source");
            }
        });
        let outcome = tokio::time::timeout(
            LIMIT,
            replay::run(
                fake.clone(),
                rx,
                ReplayOptions {
                    clock: loadgen::replay::clock::ClockChoice::Precise,
                    ..options(Speed::Max, 12, threads)
                },
                std::future::pending(),
                Arc::new(Progress::default()),
                (),
            ),
        )
        .await
        .expect("the replay finished within the limit");
        feeder.await.expect("feeder");
        assert_eq!(
            fake.overlaps.load(Ordering::SeqCst),
            0,
            "threads {threads}: a root had two events in flight"
        );
        assert_eq!(outcome.received, events.len() as u64);
        assert_balanced(&outcome);
        assert!(
            outcome.metrics.in_class(Class::Blocked) > 0,
            "some events were blocked"
        );
        let calls = std::mem::take(&mut *fake.calls.lock().unwrap());
        for (entity, seqs) in &calls {
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "threads {threads}: {entity:?} out of trace order: {seqs:?}"
            );
        }
        results.push((summary(&outcome), calls));
    }
    let (three, one) = (results.pop().unwrap(), results.pop().unwrap());
    assert_eq!(one.0, three.0, "the same counts");
    assert!(
        one.1 == three.1,
        "the same events per entity, in the same order"
    );
}

#[test]
fn the_concurrency_is_split_evenly_and_adds_up() {
    for (threads, concurrency) in [(1, 1), (3, 1), (3, 10), (4, 64), (2, 7), (16, 5)] {
        let split = Split::of(threads, concurrency);
        assert_eq!(
            split.dispatchers as usize,
            threads.min(concurrency),
            "never more dispatchers than slots"
        );
        let limits: Vec<usize> = (0..split.dispatchers).map(|i| split.limit(i)).collect();
        assert_eq!(
            limits.iter().sum::<usize>(),
            concurrency,
            "{threads}/{concurrency}"
        );
        let (min, max) = (limits.iter().min().unwrap(), limits.iter().max().unwrap());
        assert!(max - min <= 1 && *min >= 1, "{limits:?}");
    }
}
