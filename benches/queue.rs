//! The event queue under the simulator's workload: `HeapQueue` (binary heap, lazy deletion:
//! the caller's pending ticket tells a stale step on pop) against `KeyedQueue` (the
//! `priority-queue` crate's keyed removal, defined here: only this comparison needs it).
//!
//! The workload mirrors the order lifecycle of `sim/mod.rs`. A fixed number of order slots are
//! always in flight (the pending count stays at tens of thousands, like a stress day's peak).
//! An order in a slot is CREATED, then advances through PICKING and OUT_FOR_DELIVERY to
//! DELIVERED, each stage a delay drawn from the spec's ranges (5–30, 10–20, 20–45 minutes).
//! When it finishes, a new order starts in the slot at that instant. At creation, 5% of orders
//! also get a cancellation inside CREATED + PICKING; when it pops, the order's pending
//! transition is withdrawn (removed from the keyed queue, left to go stale in the heap) and a
//! new order starts. One element = one popped step (an event for the simulator). The delays and the cancellation draws are precomputed, so the timed
//! loop runs the queue and little else; the prefill is built outside the timing.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::cmp::Reverse;

use loadgen::sim::queue::{EventQueue, HeapQueue, ScheduleInPast, Ticket};
use loadgen::sim::time::{SimTime, MS_PER_MINUTE};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Steps popped per measured iteration.
const STEPS: u64 = 200_000;
/// Orders in flight: a stress day (200 orders/min, 2.5x at the evening peak, about 65 min per
/// lifecycle) holds about 32,000 open orders.
const SLOTS: [usize; 2] = [4_096, 32_768];
const CANCEL_PROBABILITY: f64 = 0.05;
/// Length of the precomputed draw tables (a power of two; indices wrap).
const DRAWS: usize = 1 << 16;

/// Entry of a `KeyedQueue`: hashed and compared by its sequence number only.
struct Keyed<T> {
    seq: u64,
    item: T,
}

impl<T> std::hash::Hash for Keyed<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.seq.hash(state)
    }
}
impl<T> PartialEq for Keyed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<T> Eq for Keyed<T> {}
impl<T> std::borrow::Borrow<u64> for Keyed<T> {
    fn borrow(&self) -> &u64 {
        &self.seq
    }
}

/// The `priority-queue` crate's indexed heap: withdrawal removes the entry at once.
struct KeyedQueue<T> {
    queue: priority_queue::PriorityQueue<Keyed<T>, Reverse<(SimTime, u64)>>,
    next_seq: u64,
    now: SimTime,
}

impl<T> Default for KeyedQueue<T> {
    fn default() -> Self {
        KeyedQueue {
            queue: priority_queue::PriorityQueue::new(),
            next_seq: 0,
            now: SimTime::ZERO,
        }
    }
}

impl<T> EventQueue<T> for KeyedQueue<T> {
    fn schedule(&mut self, at: SimTime, item: T) -> Result<Ticket, ScheduleInPast> {
        if at < self.now {
            return Err(ScheduleInPast {
                at: at.as_ms(),
                now: self.now.as_ms(),
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Keyed { seq, item }, Reverse((at, seq)));
        Ok(Ticket::from_seq(seq))
    }

    fn pop_live(&mut self, mut live: impl FnMut(Ticket, &T) -> bool) -> Option<(SimTime, T)> {
        while let Some((entry, Reverse((at, seq)))) = self.queue.pop() {
            if live(Ticket::from_seq(seq), &entry.item) {
                self.now = at;
                return Some((at, entry.item));
            }
        }
        None
    }

    fn now(&self) -> SimTime {
        self.now
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

/// How a workload gives up a scheduled step: the keyed queue removes it, the heap does
/// nothing (the slot's pending ticket no longer matches, so `pop_live` drops it).
trait Withdraw {
    fn withdraw(&mut self, ticket: Ticket);
}

impl<T> Withdraw for HeapQueue<T> {
    fn withdraw(&mut self, _: Ticket) {}
}

impl<T> Withdraw for KeyedQueue<T> {
    fn withdraw(&mut self, ticket: Ticket) {
        assert!(
            self.queue.remove(&ticket.seq()).is_some(),
            "withdrew a pending step"
        );
    }
}

/// A pending step, the same size and shape as the simulator's `Step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Advance(u32),
    Cancel(u32),
}

/// Precomputed randomness: stage delays, cancellation decisions and cancellation offsets.
struct Draws {
    /// Per draw: the CREATED, PICKING and OUT_FOR_DELIVERY delays in ms.
    delays: Vec<[u64; 3]>,
    /// Per draw: the cancellation time after creation, when the order is cancelled.
    cancel_after: Vec<Option<u64>>,
}

impl Draws {
    fn new(seed: u64) -> Draws {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut delays = Vec::with_capacity(DRAWS);
        let mut cancel_after = Vec::with_capacity(DRAWS);
        for _ in 0..DRAWS {
            let d = [
                rng.random_range(5 * MS_PER_MINUTE..=30 * MS_PER_MINUTE),
                rng.random_range(10 * MS_PER_MINUTE..=20 * MS_PER_MINUTE),
                rng.random_range(20 * MS_PER_MINUTE..=45 * MS_PER_MINUTE),
            ];
            let cancel = rng
                .random_bool(CANCEL_PROBABILITY)
                .then(|| rng.random_range(0..d[0] + d[1]));
            delays.push(d);
            cancel_after.push(cancel);
        }
        Draws {
            delays,
            cancel_after,
        }
    }
}

/// One order slot: its current stage, the draw that fixed its delays, its pending ticket.
#[derive(Clone, Copy)]
struct Slot {
    stage: u8,
    draw: usize,
    pending: Ticket,
}

/// A queue with its slots, prefilled and ready to run.
struct Workload<'d, Q> {
    queue: Q,
    slots: Vec<Slot>,
    draws: &'d Draws,
    next_draw: usize,
}

impl<'d, Q: EventQueue<Step> + Withdraw> Workload<'d, Q> {
    /// Starts one order per slot, at creation times spread over the first hour.
    fn prefill(queue: Q, slots: usize, draws: &'d Draws) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(slots as u64);
        let mut starts: Vec<u64> = (0..slots)
            .map(|_| rng.random_range(0..60 * MS_PER_MINUTE))
            .collect();
        // Creation times in order, so nothing is ever scheduled before the clock.
        starts.sort_unstable();
        let mut w = Workload {
            queue,
            slots: Vec::with_capacity(slots),
            draws,
            next_draw: 0,
        };
        for (slot, start) in starts.into_iter().enumerate() {
            let order = w.start_order(slot as u32, SimTime(start));
            w.slots.push(order);
        }
        w
    }

    /// Schedules a new order's first transition (and its cancellation, if drawn).
    fn start_order(&mut self, slot: u32, now: SimTime) -> Slot {
        let draw = self.next_draw;
        self.next_draw = (self.next_draw + 1) & (DRAWS - 1);
        let delay = self.draws.delays[draw][0];
        let pending = self
            .queue
            .schedule(now.saturating_add_ms(delay), Step::Advance(slot))
            .expect("never in the past");
        if let Some(after) = self.draws.cancel_after[draw] {
            self.queue
                .schedule(now.saturating_add_ms(after), Step::Cancel(slot))
                .expect("never in the past");
        }
        Slot {
            stage: 0,
            draw,
            pending,
        }
    }

    /// Pops `steps` steps, reacting to each as the simulator would; returns a checksum of what
    /// was popped so the two queues can be compared and the work cannot be optimised away.
    fn run(&mut self, steps: u64) -> u64 {
        let mut checksum = 0u64;
        for _ in 0..steps {
            let slots = &self.slots;
            let live = |ticket, step: &Step| match *step {
                Step::Advance(slot) => slots[slot as usize].pending == ticket,
                Step::Cancel(_) => true,
            };
            let (at, step) = self
                .queue
                .pop_live(live)
                .expect("slots keep the queue non-empty");
            checksum = checksum.rotate_left(5) ^ at.as_ms();
            match step {
                Step::Advance(slot) => {
                    checksum ^= u64::from(slot);
                    let s = &mut self.slots[slot as usize];
                    s.stage += 1;
                    if s.stage == 3 {
                        self.slots[slot as usize] = self.start_order(slot, at);
                    } else {
                        let delay = self.draws.delays[s.draw][s.stage as usize];
                        s.pending = self
                            .queue
                            .schedule(at.saturating_add_ms(delay), Step::Advance(slot))
                            .expect("never in the past");
                    }
                }
                Step::Cancel(slot) => {
                    checksum ^= u64::from(slot) << 32;
                    let pending = self.slots[slot as usize].pending;
                    self.queue.withdraw(pending);
                    self.slots[slot as usize] = self.start_order(slot, at);
                }
            }
        }
        checksum
    }
}

fn bench_queues(c: &mut Criterion) {
    let draws = Draws::new(42);
    for slots in SLOTS {
        // Both queues must do the same work: same pops in the same order, same pending count.
        let mut heap = Workload::prefill(HeapQueue::new(), slots, &draws);
        let mut keyed = Workload::prefill(KeyedQueue::default(), slots, &draws);
        assert_eq!(heap.run(STEPS), keyed.run(STEPS));
        // The heap also holds the stale steps it has not met yet.
        assert!(heap.queue.len() >= keyed.queue.len());

        let mut group = c.benchmark_group(format!("queue/{slots}_in_flight"));
        group.throughput(Throughput::Elements(STEPS));
        group.sample_size(20);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        group.bench_function("HeapQueue", |b| {
            b.iter_batched(
                || Workload::prefill(HeapQueue::new(), slots, &draws),
                |mut w| {
                    black_box(w.run(STEPS));
                    w // dropped outside the timing
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_function("KeyedQueue", |b| {
            b.iter_batched(
                || Workload::prefill(KeyedQueue::default(), slots, &draws),
                |mut w| {
                    black_box(w.run(STEPS));
                    w
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, bench_queues);
criterion_main!(benches);
