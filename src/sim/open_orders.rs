//! The orders in CREATED or PICKING (the statuses a cancellation or a modification can find
//! them in), indexed by order number.
//!
//! Orders are numbered in creation order and live at most 95 minutes (the longest lifecycle),
//! so the open ones fill a sliding window of numbers: a ring buffer holds the window, with a
//! hole where an order has finished. Its size follows the number of orders created in one
//! lifetime, never the duration of the simulation (a hash map's tombstones made it grow once,
//! days in), and a lookup is an index, not a hash.

use std::collections::VecDeque;

use crate::event::OrderNo;

#[derive(Debug)]
pub struct OpenOrders<T> {
    /// Number of the order in `slots[0]`.
    base: OrderNo,
    slots: VecDeque<Option<T>>,
}

impl<T> Default for OpenOrders<T> {
    fn default() -> Self {
        OpenOrders {
            base: 1,
            slots: VecDeque::new(),
        }
    }
}

impl<T> OpenOrders<T> {
    /// Adds the newest order; numbers must come in sequence.
    pub fn push(&mut self, order: OrderNo, value: T) {
        if self.slots.is_empty() {
            self.base = order;
        }
        debug_assert_eq!(
            order,
            self.base + self.slots.len() as OrderNo,
            "orders in sequence"
        );
        self.slots.push_back(Some(value));
    }

    fn index(&self, order: OrderNo) -> Option<usize> {
        order.checked_sub(self.base).map(|i| i as usize)
    }

    #[cfg(test)]
    pub fn get(&self, order: OrderNo) -> Option<&T> {
        let i = self.index(order)?;
        self.slots.get(i)?.as_ref()
    }

    pub fn get_mut(&mut self, order: OrderNo) -> Option<&mut T> {
        let i = self.index(order)?;
        self.slots.get_mut(i)?.as_mut()
    }

    pub fn remove(&mut self, order: OrderNo) -> Option<T> {
        let i = self.index(order)?;
        let value = self.slots.get_mut(i)?.take()?;
        self.slide();
        Some(value)
    }

    /// Removes `order` without reading its slot (a store, where `remove` is a load first); an
    /// order outside the window is ignored.
    pub fn clear(&mut self, order: OrderNo) {
        let Some(i) = self.index(order) else {
            return;
        };
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = None;
        }
        self.slide();
    }

    /// Slides the window past finished orders.
    fn slide(&mut self) {
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_slides_as_orders_finish_out_of_order() {
        let mut open = OpenOrders::default();
        for n in 1..=5 {
            open.push(n, n * 10);
        }
        assert_eq!(open.remove(3), Some(30));
        assert_eq!(open.remove(3), None, "already gone");
        assert_eq!(open.get_mut(3), None);
        assert_eq!(open.get(3), None);
        assert_eq!(open.get(4), Some(&40));
        assert_eq!(open.remove(1), Some(10));
        assert_eq!(open.base, 2, "slid past 1");
        assert_eq!(open.remove(2), Some(20));
        assert_eq!(open.base, 4, "slid past the hole at 3");
        *open.get_mut(4).unwrap() += 1;
        assert_eq!(open.remove(4), Some(41));
        assert_eq!(open.len(), 1);
        assert_eq!(open.get_mut(1), None, "before the window");
        assert_eq!(open.get_mut(99), None, "after the window");
        open.clear(5);
        assert_eq!(open.get(5), None, "cleared");
        open.clear(5);
        open.clear(99);
        assert_eq!(open.len(), 0);
        open.push(6, 60);
        assert_eq!(open.get_mut(6), Some(&mut 60));
    }

    #[test]
    fn memory_follows_the_window_not_the_count() {
        let mut open = OpenOrders::default();
        // A million orders, each finishing 100 orders after it was created.
        for n in 1..=1_000_000u32 {
            open.push(n, ());
            if n > 100 {
                open.remove(n - 100).unwrap();
            }
        }
        assert_eq!(open.len(), 100);
        assert!(open.slots.capacity() < 1_024, "{}", open.slots.capacity());
    }
}
