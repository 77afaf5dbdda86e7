//! `--from HH:MM --to HH:MM`: which events of a trace a replay sends. An order is replayed
//! whole or not at all: its events are admitted only if it was created inside the window, so
//! a replay never updates an order the API has not seen. Standalone events (new customers,
//! inventory updates) are admitted when they fall inside the window.

use std::collections::HashSet;

use chrono::{NaiveTime, Timelike};

use crate::event::{Action, Entity, Event, OrderNo, OrderStatus};
use crate::sim::time::{Calendar, SimTime, MS_PER_DAY};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceWindow {
    pub from_ms: u64,
    pub to_ms: u64,
}

impl TraceWindow {
    /// The first `from` time of day at or after the trace start, up to the next `to` after it
    /// (`--from 09:00 --to 09:00` is a whole day), clipped to the trace.
    pub fn from_times_of_day(
        calendar: &Calendar,
        from: Option<NaiveTime>,
        to: Option<NaiveTime>,
        duration_ms: u64,
    ) -> TraceWindow {
        let from_ms = from.map_or(0, |f| calendar.next_time_of_day(0, ms_of_day(f)));
        let to_ms = to.map_or(duration_ms, |t| {
            let to_ms = calendar.next_time_of_day(from_ms, ms_of_day(t));
            if to_ms == from_ms {
                to_ms + MS_PER_DAY
            } else {
                to_ms
            }
        });
        TraceWindow {
            from_ms: from_ms.min(duration_ms),
            to_ms: to_ms.min(duration_ms),
        }
    }

    pub fn contains(&self, at: SimTime) -> bool {
        (self.from_ms..self.to_ms).contains(&at.as_ms())
    }
}

fn ms_of_day(t: NaiveTime) -> u64 {
    u64::from(t.num_seconds_from_midnight()) * 1000
}

/// Decides event by event what a windowed replay sends.
pub struct WindowFilter {
    window: TraceWindow,
    /// Orders created inside the window and not yet finished.
    admitted: HashSet<OrderNo>,
}

impl WindowFilter {
    pub fn new(window: TraceWindow) -> WindowFilter {
        WindowFilter {
            window,
            admitted: HashSet::new(),
        }
    }

    pub fn admit(&mut self, event: &Event) -> bool {
        if !self.window.contains(event.at) {
            return false;
        }
        match (&event.action, event.action.entity()) {
            (Action::NewOrder(order), _) => {
                self.admitted.insert(order.order);
                true
            }
            (Action::Transition { order, to, .. }, _) => {
                let known = self.admitted.contains(order);
                if known && matches!(to, OrderStatus::Delivered | OrderStatus::Cancelled) {
                    self.admitted.remove(order);
                }
                known
            }
            (_, Entity::Order(order)) => self.admitted.contains(&order),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CustomerRef, NewOrder};

    fn calendar(start: &str) -> Calendar {
        Calendar::new(chrono::DateTime::parse_from_rfc3339(start).unwrap())
    }

    fn hm(h: u32, m: u32) -> Option<NaiveTime> {
        NaiveTime::from_hms_opt(h, m, 0)
    }

    #[test]
    fn windows_from_times_of_day() {
        let cal = calendar("2026-01-05T09:00:00Z");
        let day = 86_400_000;
        let hour = 3_600_000;
        let table = [
            (None, None, (0, day)),
            (hm(12, 0), None, (3 * hour, day)),
            (hm(12, 0), hm(13, 30), (3 * hour, 4 * hour + 1_800_000)),
            (None, hm(10, 0), (0, hour)),
            // Wraps past midnight.
            (hm(23, 0), hm(1, 0), (14 * hour, 16 * hour)),
            // Before the start: the next occurrence.
            (hm(8, 0), hm(9, 0), (23 * hour, day)),
        ];
        for (from, to, (a, b)) in table {
            let w = TraceWindow::from_times_of_day(&cal, from, to, day);
            assert_eq!((w.from_ms, w.to_ms), (a, b), "{from:?}..{to:?}");
        }
    }

    fn order(at: u64, n: OrderNo) -> Event {
        Event {
            at: SimTime(at),
            action: Action::NewOrder(NewOrder {
                order: n,
                customer: CustomerRef::Existing(0),
                store: 0,
                window_start_min: 120,
                window_len_min: 120,
                lines: vec![],
                total_cents: 0,
            }),
        }
    }

    fn step(at: u64, n: OrderNo, to: OrderStatus) -> Event {
        Event {
            at: SimTime(at),
            action: Action::Transition {
                order: n,
                from: OrderStatus::Created,
                to,
            },
        }
    }

    #[test]
    fn orders_are_replayed_whole_or_not_at_all() {
        let mut f = WindowFilter::new(TraceWindow {
            from_ms: 100,
            to_ms: 1_000,
        });
        assert!(!f.admit(&order(50, 1)), "before the window");
        assert!(
            !f.admit(&step(150, 1, OrderStatus::Picking)),
            "created before the window"
        );
        assert!(f.admit(&order(200, 2)));
        assert!(f.admit(&step(300, 2, OrderStatus::Picking)));
        assert!(f.admit(&step(400, 2, OrderStatus::Cancelled)));
        assert!(
            !f.admit(&step(1_200, 2, OrderStatus::Delivered)),
            "after the window"
        );
        assert!(f.admitted.is_empty(), "finished orders are forgotten");
    }
}
