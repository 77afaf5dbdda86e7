//! The event queue: pending simulation steps ordered by `(time, insertion seq)`, so equal times
//! leave in insertion order, with withdrawal of a scheduled step (a cancelled order's next
//! transition).
//!
//! Two implementations share one trait: `HeapQueue` (a binary heap with lazy deletion, used by
//! the simulator) and `KeyedQueue` (the `priority-queue` crate's keyed removal). BENCHMARKS.md
//! has the comparison that chose the heap.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use super::time::SimTime;

/// Identifies one scheduled entry, for withdrawal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(u64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot schedule at {at} ms: the clock is already at {now} ms")]
pub struct ScheduleInPast {
    pub at: u64,
    pub now: u64,
}

pub trait EventQueue<T> {
    /// Adds `item` at `at`; scheduling before the time of the last popped entry is an error.
    fn schedule(&mut self, at: SimTime, item: T) -> Result<Ticket, ScheduleInPast>;
    /// Makes sure a scheduled, not yet popped entry is never popped. Returns false if the ticket
    /// was already withdrawn. Withdrawing a ticket that was popped is a caller bug: the keyed
    /// queue reports it, the heap cannot tell and would miscount `len`.
    fn withdraw(&mut self, ticket: Ticket) -> bool;
    /// The earliest entry (first scheduled among equals); advances the clock to its time.
    fn pop(&mut self) -> Option<(SimTime, T)>;
    /// The time of the last popped entry.
    fn now(&self) -> SimTime;
    /// Entries still pending (withdrawn ones excluded).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct HeapEntry<T> {
    key: Reverse<(SimTime, u64)>,
    item: T,
}

impl<T> PartialEq for HeapEntry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<T> Eq for HeapEntry<T> {}
impl<T> PartialOrd for HeapEntry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for HeapEntry<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// Binary heap with lazy deletion: a withdrawn entry stays in the heap and is skipped on pop.
pub struct HeapQueue<T> {
    heap: BinaryHeap<HeapEntry<T>>,
    withdrawn: HashSet<u64>,
    next_seq: u64,
    now: SimTime,
}

impl<T> Default for HeapQueue<T> {
    fn default() -> Self {
        HeapQueue {
            heap: BinaryHeap::new(),
            withdrawn: HashSet::new(),
            next_seq: 0,
            now: SimTime::ZERO,
        }
    }
}

impl<T> HeapQueue<T> {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T> EventQueue<T> for HeapQueue<T> {
    fn schedule(&mut self, at: SimTime, item: T) -> Result<Ticket, ScheduleInPast> {
        if at < self.now {
            return Err(ScheduleInPast {
                at: at.0,
                now: self.now.0,
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(HeapEntry {
            key: Reverse((at, seq)),
            item,
        });
        Ok(Ticket(seq))
    }

    fn withdraw(&mut self, ticket: Ticket) -> bool {
        // Membership is not checked: that would cost a hash per schedule and pop, the very
        // thing lazy deletion saves. The simulator only withdraws pending tickets.
        ticket.0 < self.next_seq && self.withdrawn.insert(ticket.0)
    }

    fn pop(&mut self) -> Option<(SimTime, T)> {
        while let Some(HeapEntry {
            key: Reverse((at, seq)),
            item,
        }) = self.heap.pop()
        {
            if !self.withdrawn.is_empty() && self.withdrawn.remove(&seq) {
                continue;
            }
            self.now = at;
            return Some((at, item));
        }
        None
    }

    fn now(&self) -> SimTime {
        self.now
    }

    fn len(&self) -> usize {
        self.heap.len() - self.withdrawn.len()
    }
}

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
pub struct KeyedQueue<T> {
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

impl<T> KeyedQueue<T> {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T> EventQueue<T> for KeyedQueue<T> {
    fn schedule(&mut self, at: SimTime, item: T) -> Result<Ticket, ScheduleInPast> {
        if at < self.now {
            return Err(ScheduleInPast {
                at: at.0,
                now: self.now.0,
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Keyed { seq, item }, Reverse((at, seq)));
        Ok(Ticket(seq))
    }

    fn withdraw(&mut self, ticket: Ticket) -> bool {
        self.queue.remove(&ticket.0).is_some()
    }

    fn pop(&mut self) -> Option<(SimTime, T)> {
        let (entry, Reverse((at, _))) = self.queue.pop()?;
        self.now = at;
        Some((at, entry.item))
    }

    fn now(&self) -> SimTime {
        self.now
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<Q: EventQueue<&'static str>>(q: &mut Q) -> Vec<(u64, &'static str)> {
        std::iter::from_fn(|| q.pop().map(|(t, s)| (t.0, s))).collect()
    }

    fn ordering_and_ties<Q: EventQueue<&'static str> + Default>() {
        let mut q = Q::default();
        q.schedule(SimTime(30), "c").unwrap();
        q.schedule(SimTime(10), "a1").unwrap();
        q.schedule(SimTime(20), "b").unwrap();
        q.schedule(SimTime(10), "a2").unwrap();
        q.schedule(SimTime(10), "a3").unwrap();
        assert_eq!(q.len(), 5);
        assert_eq!(
            drain(&mut q),
            vec![(10, "a1"), (10, "a2"), (10, "a3"), (20, "b"), (30, "c")]
        );
        assert!(q.is_empty());
    }

    fn withdrawal<Q: EventQueue<&'static str> + Default>() {
        let mut q = Q::default();
        q.schedule(SimTime(5), "keep").unwrap();
        let gone = q.schedule(SimTime(7), "gone").unwrap();
        q.schedule(SimTime(9), "last").unwrap();
        assert!(q.withdraw(gone));
        assert!(
            !q.withdraw(gone),
            "a second withdrawal reports nothing pending"
        );
        assert_eq!(q.len(), 2);
        assert_eq!(drain(&mut q), vec![(5, "keep"), (9, "last")]);
    }

    fn past_is_refused<Q: EventQueue<&'static str> + Default>() {
        let mut q = Q::default();
        q.schedule(SimTime(100), "x").unwrap();
        q.pop();
        assert_eq!(q.now(), SimTime(100));
        assert_eq!(
            q.schedule(SimTime(99), "late"),
            Err(ScheduleInPast { at: 99, now: 100 })
        );
        // Same instant is allowed and comes after anything already due then.
        q.schedule(SimTime(100), "now").unwrap();
        assert_eq!(q.pop().map(|(t, s)| (t.0, s)), Some((100, "now")));
    }

    #[test]
    fn heap_queue_orders_by_time_then_insertion() {
        ordering_and_ties::<HeapQueue<_>>();
    }

    #[test]
    fn keyed_queue_orders_by_time_then_insertion() {
        ordering_and_ties::<KeyedQueue<_>>();
    }

    #[test]
    fn heap_queue_withdraws() {
        withdrawal::<HeapQueue<_>>();
    }

    #[test]
    fn keyed_queue_withdraws() {
        withdrawal::<KeyedQueue<_>>();
    }

    #[test]
    fn heap_queue_refuses_the_past() {
        past_is_refused::<HeapQueue<_>>();
    }

    #[test]
    fn keyed_queue_refuses_the_past() {
        past_is_refused::<KeyedQueue<_>>();
    }

    #[test]
    fn both_queues_agree_on_a_long_mixed_sequence() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut heap = HeapQueue::new();
        let mut keyed = KeyedQueue::new();
        // Pending tickets by item, in insertion order (a Vec keeps the draw deterministic).
        let mut pending: Vec<(u32, Ticket, Ticket)> = Vec::new();
        let mut popped_log = Vec::new();
        for i in 0..5_000u32 {
            match rng.random_range(0..10) {
                0..=5 => {
                    let at = SimTime(heap.now().0 + rng.random_range(0..50));
                    pending.push((
                        i,
                        heap.schedule(at, i).unwrap(),
                        keyed.schedule(at, i).unwrap(),
                    ));
                }
                6 if !pending.is_empty() => {
                    let (_, h, k) = pending.remove(rng.random_range(0..pending.len()));
                    assert!(heap.withdraw(h));
                    assert!(keyed.withdraw(k));
                }
                _ => {
                    let popped = heap.pop();
                    assert_eq!(popped, keyed.pop());
                    if let Some((_, item)) = popped {
                        pending.retain(|(i, _, _)| *i != item);
                    }
                    popped_log.push(popped);
                }
            }
            assert_eq!(heap.len(), keyed.len());
        }
        assert!(popped_log.iter().filter(|p| p.is_some()).count() > 1_000);
    }
}
