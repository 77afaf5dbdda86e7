//! The cancelled orders whose queued transition has not popped yet: one bit per order number.
//!
//! A cancellation leaves the order's pending `Advance` in the queue (the heap deletes lazily).
//! Asking this set when a step pops, instead of the order's slot, keeps the live test in a few
//! cache-resident words: the bits span only the order numbers between the oldest and the newest
//! cancelled order still waiting, so memory follows one lifetime of orders, never the duration.

use std::collections::VecDeque;

use crate::event::OrderNo;

#[derive(Debug, Default)]
pub struct CancelledOrders {
    /// Index (order number / 64) of the word in `words[0]`.
    base_word: u32,
    /// No zero word at either end.
    words: VecDeque<u64>,
}

fn split(order: OrderNo) -> (u32, u64) {
    (order / 64, 1 << (order % 64))
}

impl CancelledOrders {
    pub fn insert(&mut self, order: OrderNo) {
        let (word, bit) = split(order);
        if self.words.is_empty() {
            self.base_word = word;
        }
        while word < self.base_word {
            self.words.push_front(0);
            self.base_word -= 1;
        }
        let i = (word - self.base_word) as usize;
        if i >= self.words.len() {
            self.words.resize(i + 1, 0);
        }
        self.words[i] |= bit;
    }

    /// Whether `order` is in the set; takes it out. Asked at every lifecycle step: inlined.
    #[inline]
    pub fn remove(&mut self, order: OrderNo) -> bool {
        let (word, bit) = split(order);
        let Some(i) = word.checked_sub(self.base_word) else {
            return false;
        };
        let Some(w) = self.words.get_mut(i as usize) else {
            return false;
        };
        if *w & bit == 0 {
            return false;
        }
        *w &= !bit;
        if *w == 0 {
            while self.words.front() == Some(&0) {
                self.words.pop_front();
                self.base_word += 1;
            }
            while self.words.back() == Some(&0) {
                self.words.pop_back();
            }
        }
        true
    }

    #[cfg(test)]
    fn span_words(&self) -> usize {
        self.words.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_order_is_taken_out_once() {
        let mut set = CancelledOrders::default();
        assert!(!set.remove(5), "empty");
        for order in [700, 3, 64, 63, 1_000_000, 65] {
            set.insert(order);
        }
        assert!(!set.remove(4));
        assert!(!set.remove(699));
        assert!(!set.remove(2_000_000), "past the end");
        for order in [64, 700, 3, 1_000_000, 63, 65] {
            assert!(set.remove(order), "{order}");
            assert!(!set.remove(order), "{order} twice");
        }
        assert_eq!(set.span_words(), 0, "nothing kept once empty");
        set.insert(0);
        assert!(set.remove(0));
    }

    #[test]
    fn memory_follows_the_pending_span_not_the_count() {
        let mut set = CancelledOrders::default();
        // Ten million orders, one in twenty cancelled, each taken out 5,000 orders later.
        for n in 0..10_000_000u32 {
            if n % 20 == 0 {
                set.insert(n);
            }
            if n >= 5_000 && (n - 5_000) % 20 == 0 {
                assert!(set.remove(n - 5_000));
            }
            assert!(set.span_words() <= 5_000 / 64 + 2, "{}", set.span_words());
        }
    }
}
