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

/// A `--from/--to` that selects nothing, or that cannot mean what it says.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error(
        "--from/--to select no time of the trace: the window is {window}, the trace covers {trace}"
    )]
    Empty { window: String, trace: String },
    #[error("--from {from} --to {to}: --to is earlier in the day than --from, so the window runs past midnight, but the trace ends before that midnight: it covers {trace}")]
    Reversed {
        from: String,
        to: String,
        trace: String,
    },
    #[error("--from/--to select no events: the window {window} holds none; {events}")]
    NoEvents { window: String, events: String },
}

/// The rule `--from`/`--to` follow, for `--help` and errors.
pub const WINDOW_RULE: &str = "Times are local times of day on the trace's own clock (the UTC \
offset of its start). The window is the first occurrence of FROM..TO still open when the trace \
starts, cut to the trace: on a trace of 09:00-10:00, --from 08:00 --to 09:30 replays 09:00-09:30, \
and --from 08:00 --to 09:00 selects nothing (rejected). Without --from the window starts with \
the trace; without --to it runs to the end. A TO earlier in the day than FROM crosses midnight \
(the trace must reach that midnight); TO equal to FROM is 24 hours. On a trace longer than a \
day the first such occurrence is taken.";

impl TraceWindow {
    /// The whole trace.
    pub fn all(duration_ms: u64) -> TraceWindow {
        TraceWindow {
            from_ms: 0,
            to_ms: duration_ms,
        }
    }

    /// `--from`/`--to` on the trace's time line, as `WINDOW_RULE` says; an empty or reversed
    /// window is an error that names the span the trace covers.
    pub fn resolve(
        calendar: &Calendar,
        from: Option<NaiveTime>,
        to: Option<NaiveTime>,
        duration_ms: u64,
    ) -> Result<TraceWindow, WindowError> {
        let day = MS_PER_DAY as i64;
        let start_of_day = ms_of_day(calendar.start().time()) as i64;
        let clip = |t: i64| t.clamp(0, duration_ms as i64) as u64;
        let (from_ms, to_ms) = match (from, to) {
            (None, None) => (0, duration_ms as i64),
            (Some(f), None) => (ms_of_day(f) as i64 - start_of_day, duration_ms as i64),
            (None, Some(t)) => {
                let after = (ms_of_day(t) as i64 - start_of_day).rem_euclid(day);
                (0, if after == 0 { day } else { after })
            }
            (Some(f), Some(t)) => {
                let (f_ms, t_ms) = (ms_of_day(f) as i64, ms_of_day(t) as i64);
                let len = match (t_ms - f_ms).rem_euclid(day) {
                    0 => day,
                    len => len,
                };
                // The occurrence on the trace's first day, or the next day's when that one
                // is over before the trace starts.
                let mut begin = f_ms - start_of_day;
                if begin + len <= 0 {
                    begin += day;
                }
                if t_ms < f_ms {
                    let midnight = begin + day - f_ms;
                    if duration_ms as i64 <= midnight {
                        return Err(WindowError::Reversed {
                            from: f.format("%H:%M").to_string(),
                            to: t.format("%H:%M").to_string(),
                            trace: describe(calendar, 0, duration_ms),
                        });
                    }
                }
                (begin, begin + len)
            }
        };
        let window = TraceWindow {
            from_ms: clip(from_ms),
            to_ms: clip(to_ms),
        };
        if window.from_ms >= window.to_ms {
            return Err(WindowError::Empty {
                window: describe_signed(calendar, from_ms, to_ms),
                trace: describe(calendar, 0, duration_ms),
            });
        }
        Ok(window)
    }

    pub fn contains(&self, at: SimTime) -> bool {
        (self.from_ms..self.to_ms).contains(&at.as_ms())
    }

    /// The selected span for the console: `Mon 2026-01-05 09:20 to Mon 09:40 (+00:00)`.
    pub fn describe(&self, calendar: &Calendar) -> String {
        describe(calendar, self.from_ms, self.to_ms)
    }

    /// The error for a window that holds no events; `events` is the first and last event time
    /// of the trace, if it has any.
    pub fn no_events(&self, calendar: &Calendar, events: Option<(u64, u64)>) -> WindowError {
        let at = |ms: u64| calendar.instant_at(SimTime(ms)).format("%a %H:%M:%S");
        WindowError::NoEvents {
            window: self.describe(calendar),
            events: match events {
                Some((first, last)) => {
                    format!("the trace's events run from {} to {}", at(first), at(last))
                }
                None => "the trace has no events".into(),
            },
        }
    }
}

fn describe(calendar: &Calendar, from_ms: u64, to_ms: u64) -> String {
    describe_signed(calendar, from_ms as i64, to_ms as i64)
}

/// `from..to` as local instants; the second omits the date when it is the same day.
fn describe_signed(calendar: &Calendar, from_ms: i64, to_ms: i64) -> String {
    let at = |ms: i64| calendar.start() + chrono::Duration::milliseconds(ms);
    let (a, b) = (at(from_ms), at(to_ms));
    let end = if a.date_naive() == b.date_naive() {
        b.format("%H:%M").to_string()
    } else {
        b.format("%a %Y-%m-%d %H:%M").to_string()
    };
    format!(
        "{} to {end} ({})",
        a.format("%a %Y-%m-%d %H:%M"),
        a.format("%:z")
    )
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
        if self.window.from_ms == 0 {
            // Every order was created at or after the window's start, so an event inside the
            // window is of an order created inside it: nothing to remember (memory stays flat
            // over a whole-trace replay, however many orders are open).
            return true;
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
            (None, hm(9, 0), (0, day)),
            // Wraps past midnight.
            (hm(23, 0), hm(1, 0), (14 * hour, 16 * hour)),
            // Over before the trace starts: the next day's.
            (hm(8, 0), hm(9, 0), (23 * hour, day)),
            // Still open when the trace starts: from the start.
            (hm(8, 0), hm(10, 0), (0, hour)),
            (hm(8, 0), None, (0, day)),
            (hm(9, 0), hm(9, 0), (0, day)),
        ];
        for (from, to, (a, b)) in table {
            let w = TraceWindow::resolve(&cal, from, to, day).unwrap();
            assert_eq!((w.from_ms, w.to_ms), (a, b), "{from:?}..{to:?}");
        }
    }

    #[test]
    fn a_window_before_the_trace_starts_it() {
        // A 09:00-10:00 trace.
        let cal = calendar("2026-01-05T09:00:00Z");
        let hour = 3_600_000;
        let w = TraceWindow::resolve(&cal, hm(8, 0), hm(9, 30), hour).unwrap();
        assert_eq!((w.from_ms, w.to_ms), (0, hour / 2));
        assert_eq!(w.describe(&cal), "Mon 2026-01-05 09:00 to 09:30 (+00:00)");
        let w = TraceWindow::resolve(&cal, hm(8, 0), None, hour).unwrap();
        assert_eq!((w.from_ms, w.to_ms), (0, hour));
    }

    #[test]
    fn empty_and_reversed_windows_name_the_trace_span() {
        let cal = calendar("2026-01-05T09:00:00Z");
        let hour = 3_600_000;
        let span = "Mon 2026-01-05 09:00 to 10:00 (+00:00)";
        let err = TraceWindow::resolve(&cal, hm(9, 40), hm(9, 20), hour).unwrap_err();
        assert!(matches!(err, WindowError::Reversed { .. }), "{err}");
        assert!(err.to_string().contains(span), "{err}");
        for (from, to) in [
            (hm(8, 0), hm(9, 0)),
            (hm(10, 30), None),
            (hm(11, 0), hm(12, 0)),
        ] {
            let err = TraceWindow::resolve(&cal, from, to, hour).unwrap_err();
            assert!(matches!(err, WindowError::Empty { .. }), "{err}");
            assert!(err.to_string().contains(span), "{err}");
        }
        // A window across midnight on a trace that reaches it is fine.
        let cal = calendar("2026-01-05T22:00:00+01:00");
        let w = TraceWindow::resolve(&cal, hm(23, 0), hm(1, 0), 4 * hour).unwrap();
        assert_eq!((w.from_ms, w.to_ms), (hour, 3 * hour));
        assert_eq!(
            w.describe(&cal),
            "Mon 2026-01-05 23:00 to Tue 2026-01-06 01:00 (+01:00)"
        );
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

    #[test]
    fn a_window_from_the_start_admits_without_remembering_orders() {
        let mut f = WindowFilter::new(TraceWindow {
            from_ms: 0,
            to_ms: 1_000,
        });
        assert!(f.admit(&order(0, 1)));
        assert!(f.admit(&order(500, 2)));
        assert!(f.admit(&step(600, 1, OrderStatus::Picking)));
        assert!(f.admit(&step(700, 2, OrderStatus::Picking)));
        assert!(
            !f.admit(&step(1_000, 2, OrderStatus::Delivered)),
            "after the window"
        );
        assert!(f.admitted.is_empty(), "open orders are not tracked");
    }
}
