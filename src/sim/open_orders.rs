//! Where each order in CREATED or PICKING stands (the statuses a cancellation or a
//! modification can find it in), indexed by order number: 4 bytes per order.
//!
//! Orders are numbered in creation order and live at most 95 minutes (the longest lifecycle),
//! so the open ones fill a sliding window of numbers: a ring buffer holds the window, with a
//! hole where an order has finished. Its size follows the number of orders created in one
//! lifetime, never the duration of the simulation (a hash map's tombstones made it grow once,
//! days in), and a lookup is an index, not a hash. At 500 k open orders the window spans about
//! 730 k numbers: 4 bytes each keep it a few MB, where the step out of CREATED reads it at a
//! random place.

use std::collections::VecDeque;

use crate::event::OrderNo;

/// An open order's stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// In CREATED, at this position of the CREATED set.
    Created(u32),
    Picking,
}

/// A slot's code: a CREATED position, or one of these.
const CLOSED: u32 = u32::MAX;
const PICKING: u32 = u32::MAX - 1;

fn encode(stage: Stage) -> u32 {
    match stage {
        Stage::Created(position) => {
            assert!(position < PICKING, "CREATED set over 2^32 - 2 orders");
            position
        }
        Stage::Picking => PICKING,
    }
}

fn decode(code: u32) -> Option<Stage> {
    match code {
        CLOSED => None,
        PICKING => Some(Stage::Picking),
        position => Some(Stage::Created(position)),
    }
}

#[derive(Debug)]
pub struct OpenOrders {
    /// Number of the order in `slots[0]`.
    base: OrderNo,
    slots: VecDeque<u32>,
}

impl Default for OpenOrders {
    fn default() -> Self {
        OpenOrders {
            base: 1,
            slots: VecDeque::new(),
        }
    }
}

impl OpenOrders {
    /// Adds the newest order; numbers must come in sequence.
    pub fn push(&mut self, order: OrderNo, stage: Stage) {
        if self.slots.is_empty() {
            self.base = order;
        }
        debug_assert_eq!(
            order,
            self.base + self.slots.len() as OrderNo,
            "orders in sequence"
        );
        self.slots.push_back(encode(stage));
    }

    fn slot_mut(&mut self, order: OrderNo) -> Option<&mut u32> {
        let i = order.checked_sub(self.base)?;
        self.slots.get_mut(i as usize)
    }

    /// The stage of `order`, None when it is not open.
    pub fn get(&self, order: OrderNo) -> Option<Stage> {
        let i = order.checked_sub(self.base)?;
        decode(*self.slots.get(i as usize)?)
    }

    /// Hints that `order`'s slot is about to be read.
    pub fn prefetch(&self, order: OrderNo) {
        if let Some(slot) = order
            .checked_sub(self.base)
            .and_then(|i| self.slots.get(i as usize))
        {
            super::prefetch::prefetch(slot);
        }
    }

    /// Moves an open order to `stage`; false (and nothing changed) when it is not open.
    pub fn set(&mut self, order: OrderNo, stage: Stage) -> bool {
        match self.slot_mut(order) {
            Some(slot) if *slot != CLOSED => {
                *slot = encode(stage);
                true
            }
            _ => false,
        }
    }

    /// Closes `order` and returns its stage, None when it was not open.
    pub fn remove(&mut self, order: OrderNo) -> Option<Stage> {
        let slot = self.slot_mut(order)?;
        let stage = decode(std::mem::replace(slot, CLOSED))?;
        self.slide();
        Some(stage)
    }

    /// Closes `order` without reading its slot (a store, where `remove` is a load first); an
    /// order outside the window is ignored.
    pub fn clear(&mut self, order: OrderNo) {
        if let Some(slot) = self.slot_mut(order) {
            *slot = CLOSED;
        }
        self.slide();
    }

    /// Slides the window past finished orders.
    fn slide(&mut self) {
        while self.slots.front() == Some(&CLOSED) {
            self.slots.pop_front();
            self.base += 1;
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|&&s| s != CLOSED).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_slides_as_orders_finish_out_of_order() {
        let mut open = OpenOrders::default();
        for n in 1..=5 {
            open.push(n, Stage::Created(n * 10));
        }
        assert_eq!(open.remove(3), Some(Stage::Created(30)));
        assert_eq!(open.remove(3), None, "already gone");
        assert!(!open.set(3, Stage::Picking), "closed stays closed");
        assert_eq!(open.get(3), None);
        assert_eq!(open.get(4), Some(Stage::Created(40)));
        assert_eq!(open.remove(1), Some(Stage::Created(10)));
        assert_eq!(open.base, 2, "slid past 1");
        assert_eq!(open.remove(2), Some(Stage::Created(20)));
        assert_eq!(open.base, 4, "slid past the hole at 3");
        assert!(open.set(4, Stage::Picking));
        assert_eq!(open.get(4), Some(Stage::Picking));
        assert_eq!(open.remove(4), Some(Stage::Picking));
        assert_eq!(open.len(), 1);
        assert_eq!(open.get(1), None, "before the window");
        assert_eq!(open.get(99), None, "after the window");
        assert!(!open.set(99, Stage::Picking));
        open.clear(5);
        assert_eq!(open.get(5), None, "cleared");
        open.clear(5);
        open.clear(99);
        assert_eq!(open.len(), 0);
        open.push(6, Stage::Created(0));
        assert_eq!(open.get(6), Some(Stage::Created(0)));
    }

    #[test]
    fn codes_round_trip_up_to_the_largest_position() {
        for stage in [
            Stage::Created(0),
            Stage::Created(PICKING - 1),
            Stage::Picking,
        ] {
            assert_eq!(decode(encode(stage)), Some(stage));
        }
        assert_eq!(decode(CLOSED), None);
    }

    #[test]
    fn memory_follows_the_window_not_the_count() {
        let mut open = OpenOrders::default();
        // A million orders, each finishing 100 orders after it was created.
        for n in 1..=1_000_000u32 {
            open.push(n, Stage::Picking);
            if n > 100 {
                open.remove(n - 100).unwrap();
            }
        }
        assert_eq!(open.len(), 100);
        assert!(open.slots.capacity() < 1_024, "{}", open.slots.capacity());
    }
}
