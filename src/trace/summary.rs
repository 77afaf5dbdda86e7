//! What `loadgen inspect` reports about a trace: counts, the realised mix, orders per hour,
//! offered requests per minute, open orders and stage durations. Fed one event at a time, so
//! memory depends on the number of open orders and minutes, not on the number of events.

use std::collections::HashMap;

use crate::event::{Action, Activity, Event, OrderNo, OrderStatus};
use crate::time::{SimTime, MS_PER_HOUR, MS_PER_MINUTE};

/// Min / mean / max of a duration, in ms.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DurationStats {
    pub count: u64,
    pub min_ms: u64,
    pub max_ms: u64,
    pub sum_ms: u128,
}

impl DurationStats {
    pub fn record(&mut self, ms: u64) {
        if self.count == 0 || ms < self.min_ms {
            self.min_ms = ms;
        }
        self.max_ms = self.max_ms.max(ms);
        self.sum_ms += u128::from(ms);
        self.count += 1;
    }

    pub fn mean_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ms as f64 / self.count as f64
        }
    }
}

/// The stages whose durations are measured, in lifecycle order.
pub const STAGES: [OrderStatus; 3] = [
    OrderStatus::Created,
    OrderStatus::Picking,
    OrderStatus::OutForDelivery,
];

#[derive(Debug, Default)]
pub struct TraceSummary {
    /// The trace's duration: the per-hour and per-minute series span it.
    pub duration_ms: u64,
    pub events: u64,
    pub by_activity: [u64; 6],
    /// Orders created per hour of the trace (index 0 = the first hour after the start); grows
    /// as events arrive, see `orders_in_hour`.
    pub orders_per_hour: Vec<u64>,
    /// Requests the events become, per minute of the trace (grows as events arrive).
    pub requests_per_minute: Vec<u64>,
    /// Events (activities) per minute of the trace.
    pub activities_per_minute: Vec<u64>,
    /// Triples the events write per minute of the trace, as counted by the caller from the
    /// contract (`add_triples`); empty when nobody counted them.
    pub triples_per_minute: Vec<u64>,
    pub peak_open_orders: usize,
    pub peak_open_at: SimTime,
    /// Completed stays in CREATED, PICKING, OUT_FOR_DELIVERY (cancelled stays excluded).
    pub stages: [DurationStats; 3],
    pub last_event: SimTime,
    /// When each open order entered its current status.
    entered: HashMap<OrderNo, SimTime>,
}

fn bump(buckets: &mut Vec<u64>, index: usize, by: u64) {
    if buckets.len() <= index {
        buckets.resize(index + 1, 0);
    }
    buckets[index] += by;
}

impl TraceSummary {
    /// A summary of a trace lasting `duration_ms`. Nothing is allocated up front: series grow
    /// with the events, so a long but sparse (or hostile) trace costs nothing.
    pub fn new(duration_ms: u64) -> TraceSummary {
        TraceSummary {
            duration_ms,
            ..TraceSummary::default()
        }
    }

    /// Hours the trace spans.
    pub fn hours(&self) -> u64 {
        self.duration_ms.div_ceil(MS_PER_HOUR)
    }

    /// Orders created in hour `hour` of the trace.
    pub fn orders_in_hour(&self, hour: u64) -> u64 {
        self.orders_per_hour
            .get(hour as usize)
            .copied()
            .unwrap_or(0)
    }

    pub fn add(&mut self, event: &Event) {
        let at = event.at;
        self.events += 1;
        self.last_event = at;
        self.by_activity[event.action.activity().index()] += 1;
        bump(
            &mut self.requests_per_minute,
            (at.as_ms() / MS_PER_MINUTE) as usize,
            u64::from(event.action.request_count()),
        );
        bump(
            &mut self.activities_per_minute,
            (at.as_ms() / MS_PER_MINUTE) as usize,
            1,
        );
        match &event.action {
            Action::NewOrder(order) => {
                bump(
                    &mut self.orders_per_hour,
                    (at.as_ms() / MS_PER_HOUR) as usize,
                    1,
                );
                self.entered.insert(order.order, at);
                if self.entered.len() > self.peak_open_orders {
                    self.peak_open_orders = self.entered.len();
                    self.peak_open_at = at;
                }
            }
            Action::Transition { order, from, to } => {
                if let Some(since) = self.entered.remove(order) {
                    if *to != OrderStatus::Cancelled {
                        if let Some(i) = STAGES.iter().position(|s| s == from) {
                            self.stages[i].record(at.as_ms() - since.as_ms());
                        }
                    }
                    if to.next().is_some() {
                        self.entered.insert(*order, at);
                    }
                }
            }
            _ => {}
        }
    }

    pub fn count(&self, activity: Activity) -> u64 {
        self.by_activity[activity.index()]
    }

    /// Share of all events that `activity` makes up.
    pub fn share(&self, activity: Activity) -> f64 {
        if self.events == 0 {
            0.0
        } else {
            self.count(activity) as f64 / self.events as f64
        }
    }

    /// Orders currently open (at the end of what was read).
    pub fn open_orders(&self) -> usize {
        self.entered.len()
    }

    pub fn total_requests(&self) -> u64 {
        self.requests_per_minute.iter().sum()
    }

    /// Mean and max offered requests per minute over the trace's minutes.
    pub fn requests_per_minute_mean_max(&self) -> (f64, u64) {
        self.mean_max(&self.requests_per_minute)
    }

    /// Mean and max activities (events) per minute over the trace's minutes.
    pub fn activities_per_minute_mean_max(&self) -> (f64, u64) {
        self.mean_max(&self.activities_per_minute)
    }

    /// Records `triples` written by an event at `at` (the contract counts them; see
    /// `api::RequestContext::triple_count`).
    pub fn add_triples(&mut self, at: SimTime, triples: u64) {
        bump(
            &mut self.triples_per_minute,
            (at.as_ms() / MS_PER_MINUTE) as usize,
            triples,
        );
    }

    pub fn total_triples(&self) -> u64 {
        self.triples_per_minute.iter().sum()
    }

    /// Mean and max triples per minute over the trace's minutes.
    pub fn triples_per_minute_mean_max(&self) -> (f64, u64) {
        self.mean_max(&self.triples_per_minute)
    }

    fn mean_max(&self, series: &[u64]) -> (f64, u64) {
        let minutes = self
            .duration_ms
            .div_ceil(MS_PER_MINUTE)
            .max(series.len() as u64)
            .max(1);
        let max = series.iter().copied().max().unwrap_or(0);
        (series.iter().sum::<u64>() as f64 / minutes as f64, max)
    }
}
