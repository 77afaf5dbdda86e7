//! The event queue: pending simulation steps ordered by `(time, insertion seq)`, so equal times
//! leave in insertion order.
//!
//! `HeapQueue` deletes lazily and keeps no record of withdrawals: the caller already knows
//! which of its steps are live (an order's pending ticket), so `pop_live` asks it and drops the
//! stale entries it meets. `benches/queue.rs` compares it with a keyed heap that removes a
//! withdrawn entry at once (BENCHMARKS.md has the figures).
//!
//! Entries wait in one unsorted bucket per window of virtual time (`WINDOW_MS`), appended in
//! insertion order. When the clock reaches a window, its bucket is sorted by time with a stable
//! radix sort (insertion order breaks ties, as it already is the bucket's order) and then read
//! in sequence. Entries scheduled into the current window after that (the arrivals, a few
//! milliseconds ahead) go to a small sorted `Vec`, and a pop takes the earlier of the two heads.
//! A binary heap of every pending step took a cache miss and a mispredicted branch at every
//! level of a pop; a sorted run is read front to back. The order is still exactly
//! `(time, insertion)`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::time::SimTime;

/// Identifies one scheduled entry: its insertion sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(u64);

impl Ticket {
    /// The ticket of insertion number `seq`, for other implementations of `EventQueue`.
    pub fn from_seq(seq: u64) -> Ticket {
        Ticket(seq)
    }

    /// The insertion sequence number (0 for the first entry ever scheduled).
    pub fn seq(self) -> u64 {
        self.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot schedule at {at} ms: the clock is already at {now} ms")]
pub struct ScheduleInPast {
    pub at: u64,
    pub now: u64,
}

pub trait EventQueue<T> {
    /// Adds `item` at `at`; scheduling before the time of the last popped entry is an error.
    fn schedule(&mut self, at: SimTime, item: T) -> Result<Ticket, ScheduleInPast>;
    /// The earliest entry (first scheduled among equals) that `live` accepts; advances the
    /// clock to its time. Earlier entries that `live` rejects are dropped for good, without
    /// moving the clock: they are steps the caller has superseded.
    fn pop_live(&mut self, live: impl FnMut(Ticket, &T) -> bool) -> Option<(SimTime, T)>;
    /// The earliest entry, whatever it is.
    fn pop(&mut self) -> Option<(SimTime, T)> {
        self.pop_live(|_, _| true)
    }
    /// The time of the last popped entry.
    fn now(&self) -> SimTime;
    /// Entries held, including stale ones a lazy queue has not met yet.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Ordered by time, then by insertion (the derived order compares the fields in turn).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    at: u64,
    seq: u64,
}

#[derive(Clone, Copy)]
struct HeapEntry<T> {
    key: Reverse<Key>,
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

impl<T> HeapEntry<T> {
    fn at(&self) -> u64 {
        self.key.0.at
    }
}

/// The entries scheduled into the current window after it was sorted: in the simulator, the
/// next arrival of each process and now and then a cancellation, a handful. Kept in a `Vec`
/// sorted with the earliest last, so a pop is a `Vec::pop` and an insertion a binary search
/// and a move of a few entries: a binary heap's sift cost more (87 instructions a pop).
struct Late<T>(Vec<HeapEntry<T>>);

impl<T> Late<T> {
    #[inline(always)]
    fn push(&mut self, entry: HeapEntry<T>) {
        // Keys are unique (the insertion sequence is part of them): no ties to place.
        let position = self.0.partition_point(|e| e.key.0 > entry.key.0);
        self.0.insert(position, entry);
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<HeapEntry<T>> {
        self.0.pop()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Width of a window of virtual time, as a power of two: 2^14 ms, about 16 s.
const WINDOW_BITS: u32 = 14;
/// The radix sort of a window takes the offset in it in two digits of this many bits.
const DIGIT_BITS: u32 = WINDOW_BITS / 2;
const _: () = assert!(2 * DIGIT_BITS == WINDOW_BITS);
/// Windows ahead kept in buckets: 256 windows, about 70 minutes, longer than any stage of an
/// order's lifecycle (entries further ahead wait in `far`).
const RING: u64 = 256;

/// Lazy deletion: a superseded entry stays in the queue until it reaches the front, where the
/// caller's `live` test drops it.
pub struct HeapQueue<T> {
    /// The entries of the current window that were in its bucket, sorted; `window[next..]`
    /// are still pending.
    window: Vec<HeapEntry<T>>,
    next: usize,
    /// Entries scheduled into the current window after it was sorted.
    late: Late<T>,
    /// End of the current window.
    near_end: u64,
    /// Entries of the `RING` windows from `near_end` on, window `w` in `ring[w % RING]`.
    ring: Vec<Vec<HeapEntry<T>>>,
    in_ring: usize,
    /// Entries beyond the ring.
    far: BinaryHeap<HeapEntry<T>>,
    /// The radix sort's second buffer.
    scratch: Vec<HeapEntry<T>>,
    next_seq: u64,
    now: SimTime,
}

impl<T> Default for HeapQueue<T> {
    fn default() -> Self {
        HeapQueue {
            window: Vec::new(),
            next: 0,
            late: Late(Vec::new()),
            near_end: 1 << WINDOW_BITS,
            ring: (0..RING).map(|_| Vec::new()).collect(),
            in_ring: 0,
            far: BinaryHeap::new(),
            scratch: Vec::new(),
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

impl<T: Copy> HeapQueue<T> {
    /// The entry `k` places after the next one in the current window's sorted run (ignoring
    /// entries scheduled into the window since it was sorted): a guess at what pops soon, for
    /// prefetching.
    pub fn ahead(&self, k: usize) -> Option<&T> {
        self.window.get(self.next + k).map(|e| &e.item)
    }

    /// Makes the next window current (or, with nothing in the ring, the window of the earliest
    /// far entry): its entries sorted in `window`. False when nothing is left.
    fn next_window(&mut self) -> bool {
        debug_assert!(self.next == self.window.len() && self.late.is_empty());
        if self.in_ring == 0 {
            let Some(first) = self.far.peek() else {
                return false;
            };
            let window = first.at() >> WINDOW_BITS;
            self.near_end = self.near_end.max(window << WINDOW_BITS);
        }
        let start = self.near_end;
        self.near_end += 1 << WINDOW_BITS;
        self.window.clear();
        self.next = 0;
        // The far entries of this window were all scheduled before any in its bucket (an
        // entry goes far only while its window is beyond the ring), and the far heap yields
        // them in (time, insertion) order: followed by the bucket, which is in insertion
        // order, every run of equal times is in insertion order, as the stable sort needs.
        while self.far.peek().is_some_and(|e| e.at() < self.near_end) {
            self.window.extend(self.far.pop());
        }
        let bucket = &mut self.ring[((start >> WINDOW_BITS) % RING) as usize];
        self.in_ring -= bucket.len();
        // The bucket gives up its allocation, and grows again as it fills. Kept, every bucket
        // held the capacity of the busiest window it ever had: 256 busy windows' worth after a
        // stress evening, 2 MB more peak heap than the entries pending at any time need.
        if self.window.is_empty() {
            self.window = std::mem::take(bucket);
        } else {
            self.window.append(bucket);
            *bucket = Vec::new();
        }
        sort_by_offset(&mut self.window, &mut self.scratch, start);
        true
    }
}

/// Sorts `entries` by time, stably, all times being in `[start, start + 2^WINDOW_BITS)`: an
/// LSD radix sort over the offset's two digits.
fn sort_by_offset<T: Copy>(
    entries: &mut Vec<HeapEntry<T>>,
    scratch: &mut Vec<HeapEntry<T>>,
    start: u64,
) {
    const DIGITS: usize = 1 << DIGIT_BITS;
    const MASK: u64 = DIGITS as u64 - 1;
    let Some(&first) = entries.first() else {
        return;
    };
    let offset = |e: &HeapEntry<T>| {
        debug_assert!(e.at() >= start && e.at() - start < 1 << WINDOW_BITS);
        e.at() - start
    };
    let mut counts = [[0usize; DIGITS]; 2];
    let mut sorted = true;
    let mut previous = 0;
    for e in entries.iter() {
        let off = offset(e);
        counts[0][(off & MASK) as usize] += 1;
        counts[1][(off >> DIGIT_BITS) as usize] += 1;
        sorted &= off >= previous;
        previous = off;
    }
    if sorted {
        return;
    }
    scratch.clear();
    scratch.resize(entries.len(), first);
    for (digit, counts) in counts.iter_mut().enumerate() {
        let mut sum = 0;
        for count in counts.iter_mut() {
            let here = *count;
            *count = sum;
            sum += here;
        }
        let shift = digit as u32 * DIGIT_BITS;
        for e in entries.iter() {
            let d = ((offset(e) >> shift) & MASK) as usize;
            scratch[counts[d]] = *e;
            counts[d] += 1;
        }
        std::mem::swap(entries, scratch);
    }
}

impl<T: Copy> EventQueue<T> for HeapQueue<T> {
    // `schedule` and `pop_live` run once or twice per event: inlined, their entries and
    // results stay in registers, and the caller's `live` test is folded in.
    #[inline(always)]
    fn schedule(&mut self, at: SimTime, item: T) -> Result<Ticket, ScheduleInPast> {
        if at < self.now {
            return Err(ScheduleInPast {
                at: at.0,
                now: self.now.0,
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = HeapEntry {
            key: Reverse(Key { at: at.0, seq }),
            item,
        };
        let window = at.0 >> WINDOW_BITS;
        if at.0 < self.near_end {
            self.late.push(entry);
        } else if window < (self.near_end >> WINDOW_BITS) + RING {
            self.ring[(window % RING) as usize].push(entry);
            self.in_ring += 1;
        } else {
            self.far.push(entry);
        }
        Ok(Ticket(seq))
    }

    #[inline(always)]
    fn pop_live(&mut self, mut live: impl FnMut(Ticket, &T) -> bool) -> Option<(SimTime, T)> {
        loop {
            let sorted = self.window.get(self.next);
            let entry = match (sorted, self.late.0.last()) {
                (Some(s), Some(l)) if l.key > s.key => self.late.pop(),
                (Some(&s), _) => {
                    self.next += 1;
                    Some(s)
                }
                (None, Some(_)) => self.late.pop(),
                (None, None) => None,
            };
            let Some(HeapEntry {
                key: Reverse(Key { at, seq }),
                item,
            }) = entry
            else {
                if !self.next_window() {
                    return None;
                }
                continue;
            };
            if live(Ticket(seq), &item) {
                self.now = SimTime(at);
                return Some((self.now, item));
            }
        }
    }

    fn now(&self) -> SimTime {
        self.now
    }

    fn len(&self) -> usize {
        self.window.len() - self.next + self.late.len() + self.in_ring + self.far.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<Q: EventQueue<&'static str>>(q: &mut Q) -> Vec<(u64, &'static str)> {
        std::iter::from_fn(|| q.pop().map(|(t, s)| (t.0, s))).collect()
    }

    #[test]
    fn orders_by_time_then_insertion() {
        let mut q = HeapQueue::new();
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

    #[test]
    fn tickets_count_insertions() {
        let mut q = HeapQueue::new();
        assert_eq!(q.schedule(SimTime(9), 'a').unwrap().seq(), 0);
        assert_eq!(q.schedule(SimTime(1), 'b').unwrap().seq(), 1);
    }

    #[test]
    fn stale_entries_are_dropped_without_moving_the_clock() {
        let mut q = HeapQueue::new();
        q.schedule(SimTime(5), "keep").unwrap();
        let gone = q.schedule(SimTime(7), "gone").unwrap();
        q.schedule(SimTime(9), "last").unwrap();
        let live = |t: Ticket, _: &&str| t != gone;
        assert_eq!(q.pop_live(live), Some((SimTime(5), "keep")));
        assert_eq!(q.pop_live(live), Some((SimTime(9), "last")));
        assert_eq!(q.now(), SimTime(9));

        let mut q = HeapQueue::new();
        let only = q.schedule(SimTime(4), "stale").unwrap();
        assert_eq!(q.pop_live(|t, _| t != only), None);
        assert_eq!(
            q.now(),
            SimTime::ZERO,
            "a dropped entry does not move the clock"
        );
        assert!(q.is_empty(), "and it is gone");
    }

    #[test]
    fn refuses_the_past() {
        let mut q = HeapQueue::new();
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
    fn radix_sort_is_a_stable_sort_by_time() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let start = 7 << WINDOW_BITS;
        for len in [0, 1, 2, 17, 300, 5_000] {
            // Few distinct times, so runs of equal times are long; seq gives the input order.
            let spread = rng.random_range(1..=1u64 << WINDOW_BITS);
            let mut entries: Vec<HeapEntry<u32>> = (0..len)
                .map(|i| HeapEntry {
                    key: Reverse(Key {
                        at: start + rng.random_range(0..spread),
                        seq: u64::MAX - i as u64,
                    }),
                    item: i,
                })
                .collect();
            let mut expected = entries.clone();
            expected.sort_by_key(|e| e.at());
            sort_by_offset(&mut entries, &mut Vec::new(), start);
            let items = |v: &[HeapEntry<u32>]| v.iter().map(|e| e.item).collect::<Vec<_>>();
            assert_eq!(items(&entries), items(&expected), "{len} entries");
        }
    }

    /// A bucket keeps no allocation once drained: after a busy stretch has passed through the
    /// ring, a quiet one holds the room its own entries need, not the capacity of the busiest
    /// window each bucket ever had.
    #[test]
    fn drained_buckets_keep_no_capacity() {
        let window = 1u64 << WINDOW_BITS;
        let mut q = HeapQueue::new();
        // 200 entries in each of 300 windows: the whole ring, and some beyond it.
        for w in 1..=300 {
            for i in 0..200 {
                q.schedule(SimTime(w * window + i * 7), w).unwrap();
            }
        }
        for _ in 0..300 * 200 {
            assert!(q.pop().is_some());
        }
        assert!(q.is_empty());
        // Then one entry in each of the windows ahead, all in the ring.
        let quiet = RING as usize - 1;
        for w in 0..quiet as u64 {
            q.schedule(SimTime((301 + w) * window), 0).unwrap();
        }
        let room: usize = q.ring.iter().map(Vec::capacity).sum();
        assert_eq!(q.in_ring, quiet);
        // A `Vec` of 24-byte entries starts with room for 4.
        assert!(
            room <= 4 * quiet,
            "room for {room} entries in the ring, {quiet} pending"
        );
    }

    /// `Late` pops what a binary heap of the same entries pops, pushes and pops interleaved.
    #[test]
    fn late_entries_pop_like_a_binary_heap() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (mut late, mut heap) = (Late(Vec::new()), BinaryHeap::new());
        for seq in 0..20_000u64 {
            if rng.random_bool(0.55) {
                let entry = HeapEntry {
                    key: Reverse(Key {
                        at: rng.random_range(0..50),
                        seq,
                    }),
                    item: seq,
                };
                late.push(entry);
                heap.push(entry);
            } else {
                let (a, b) = (late.pop(), heap.pop());
                let key = |e: HeapEntry<u64>| (e.key.0.at, e.key.0.seq, e.item);
                assert_eq!(a.map(key), b.map(key));
            }
            assert_eq!(late.len(), heap.len());
        }
    }

    /// Against a model that keeps every pending entry in a sorted map and removes a
    /// withdrawn one at once: the same pops, in the same order.
    #[test]
    fn agrees_with_an_eager_model_on_a_long_mixed_sequence() {
        // Delays within one window, across the ring of windows, beyond it (the far heap),
        // and a mix with long idle stretches.
        let window = 1 << WINDOW_BITS;
        for (seed, delays) in [
            (7, vec![50]),
            (8, vec![3 * window, 40 * 60_000]),
            (9, vec![50, 2 * window * RING, 10 * window * RING]),
            (10, vec![10, 45 * 60_000, 365 * 24 * 3_600_000]),
        ] {
            agrees_with_an_eager_model(seed, &delays);
        }
    }

    fn agrees_with_an_eager_model(seed: u64, delays: &[u64]) {
        use rand::{Rng, SeedableRng};
        use std::collections::{BTreeMap, BTreeSet};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut heap = HeapQueue::new();
        let mut model: BTreeMap<(u64, u64), u32> = BTreeMap::new();
        let mut model_now = 0;
        let mut withdrawn: BTreeSet<Ticket> = BTreeSet::new();
        // Pending tickets in insertion order (a Vec keeps the draw deterministic).
        let mut pending: Vec<(u32, Ticket)> = Vec::new();
        let mut pops = 0;
        for i in 0..5_000u32 {
            match rng.random_range(0..10) {
                0..=5 => {
                    let most = delays[rng.random_range(0..delays.len())];
                    let at = SimTime(heap.now().0 + rng.random_range(0..most));
                    let ticket = heap.schedule(at, i).unwrap();
                    model.insert((at.0, ticket.seq()), i);
                    pending.push((i, ticket));
                }
                6 if !pending.is_empty() => {
                    let (_, t) = pending.remove(rng.random_range(0..pending.len()));
                    withdrawn.insert(t);
                    model.retain(|&(_, seq), _| seq != t.seq());
                }
                _ => {
                    let popped = heap.pop_live(|t, _| !withdrawn.contains(&t));
                    let expected = model.pop_first().map(|((at, _), item)| {
                        model_now = at;
                        (SimTime(at), item)
                    });
                    assert_eq!(popped, expected);
                    assert_eq!(heap.now().0, model_now);
                    if let Some((_, item)) = popped {
                        pending.retain(|(i, _)| *i != item);
                        pops += 1;
                    }
                }
            }
            assert!(heap.len() >= model.len());
        }
        assert!(pops > 1_000, "{pops}");
        // Drained in the same order to the end.
        loop {
            let popped = heap.pop_live(|t, _| !withdrawn.contains(&t));
            let expected = model.pop_first().map(|((at, _), item)| (SimTime(at), item));
            assert_eq!(popped, expected);
            if popped.is_none() {
                break;
            }
        }
        assert!(heap.is_empty());
    }
}
