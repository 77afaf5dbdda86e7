//! Propagation probes (`replay --probe-reads 1%`): after a sampled order write succeeds, poll
//! the order's read endpoint until the write is visible there, and record how long that took.
//! Against Materialize this "write → visible" time is the number the demo is about.
//!
//! Only order writes are probed (creations, status changes, modifications): they have a
//! cheap point read. Customers and stock levels are only readable through list endpoints.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::event::{ids, Action, Event};

#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Fraction of order writes probed.
    pub fraction: f64,
    /// Time between two reads of the same order.
    pub interval: Duration,
    /// A write not visible after this is counted as not visible.
    pub give_up: Duration,
}

/// Whether the write of trace event `seq` in run `run_id` is probed (`--probe-reads
/// fraction`). A stable hash (FNV-1a of the run id, mixed with the sequence number by
/// SplitMix64), not `DefaultHasher` or an RNG: two runs of one trace with one run id probe the
/// same writes, on any machine and with any loadgen version.
pub fn is_sampled(run_id: &str, seq: u64, fraction: f64) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in run_id.bytes() {
        h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut x = h ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    // The top 53 bits as a number in [0, 1).
    let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
    unit < fraction.clamp(0.0, 1.0)
}

/// What a probe waits to see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub order_id: String,
    pub status: Option<&'static str>,
    pub total_cents: Option<u64>,
}

impl Expectation {
    /// The read that shows `event`, if it is a probed kind.
    pub fn of(event: &Event, run: Option<&str>) -> Option<Expectation> {
        let (order, status, total) = match &event.action {
            Action::NewOrder(o) => (o.order, Some("CREATED"), Some(o.total_cents)),
            Action::Transition { order, to, .. } => (*order, Some(to.as_api()), None),
            Action::AddLine {
                order, total_cents, ..
            }
            | Action::RemoveLine {
                order, total_cents, ..
            } => (*order, None, Some(*total_cents)),
            _ => return None,
        };
        Some(Expectation {
            order_id: ids::order_subject(order, run),
            status,
            total_cents: total,
        })
    }

    /// A delivery or cancellation: nothing is written to the order after it.
    pub fn is_last_write(&self) -> bool {
        matches!(self.status, Some("DELIVERED" | "CANCELLED"))
    }

    /// Whether the read shows this write, or a later write of the same order (which, with
    /// each order's writes applied in order, means this one became visible too). A status is
    /// shown by that status or any later stage; a total by that total, or by the order having
    /// left CREATED (no modification can follow).
    fn met_by(&self, row: &OrderRow) -> bool {
        let seen = row.order_status.as_deref().map(stage).unwrap_or(-1);
        let status_ok = self.status.is_none_or(|want| seen >= stage(want));
        let total_ok = self.total_cents.is_none_or(|want| {
            let got = match &row.order_total_amount {
                Some(serde_json::Value::String(s)) => crate::world::parse_cents(s).map(u64::from),
                Some(serde_json::Value::Number(n)) => {
                    n.as_f64().map(|f| (f * 100.0).round() as u64)
                }
                _ => None,
            };
            got == Some(want) || seen > stage("CREATED")
        });
        seen >= 0 && status_ok && total_ok
    }
}

/// Position of a status in the lifecycle; a cancellation ends it like a delivery.
fn stage(status: &str) -> i32 {
    match status {
        "CREATED" => 0,
        "PICKING" => 1,
        "OUT_FOR_DELIVERY" => 2,
        "DELIVERED" | "CANCELLED" => 3,
        _ => -1,
    }
}

#[derive(Deserialize)]
struct OrderRow {
    #[serde(default)]
    order_status: Option<String>,
    #[serde(default)]
    order_total_amount: Option<serde_json::Value>,
}

/// Generation of an order's last write.
const FINAL: u64 = u64::MAX;

/// Results of all probes of a run.
#[derive(Debug)]
pub struct ProbeStats {
    pub visible: Mutex<Histogram<u64>>,
    pub not_visible: AtomicU64,
    /// Probes whose order was written again before they saw their write: what the read shows
    /// is then the later write, which says nothing about when this one became visible.
    pub superseded: AtomicU64,
    pub started: AtomicU64,
    pending: AtomicUsize,
    idle: Notify,
    /// Successful writes per open order (only while probing), so a probe can tell that a later
    /// write of its order went out. Entries go when the order is delivered or cancelled.
    generations: Mutex<HashMap<String, u64>>,
}

impl Default for ProbeStats {
    fn default() -> Self {
        ProbeStats {
            // 1 µs .. 1 h, 3 significant digits: fixed, valid bounds.
            visible: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds"),
            ),
            not_visible: AtomicU64::new(0),
            superseded: AtomicU64::new(0),
            started: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
            generations: Mutex::new(HashMap::new()),
        }
    }
}

impl ProbeStats {
    /// Records a successful write of `order_id`; returns its generation (`FINAL` for the
    /// order's last write, which nothing can supersede).
    pub fn written(&self, order_id: &str, last_write: bool) -> u64 {
        let mut generations = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        if last_write {
            generations.remove(order_id);
            return FINAL;
        }
        let next = generations.get(order_id).map_or(1, |g| g + 1);
        generations.insert(order_id.to_string(), next);
        next
    }

    /// Whether `order_id` was written after `generation` (or has finished since).
    fn superseded(&self, order_id: &str, generation: u64) -> bool {
        if generation == FINAL {
            return false;
        }
        let generations = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        generations.get(order_id).is_none_or(|g| *g > generation)
    }

    /// Waits until every started probe has finished (each is bounded by `give_up`).
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    pub fn histogram(&self) -> Histogram<u64> {
        self.visible
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Starts a background probe for `expect`, written at `written`.
pub fn spawn(
    client: reqwest::Client,
    base_url: String,
    expect: Expectation,
    generation: u64,
    written: Instant,
    options: ProbeOptions,
    stats: Arc<ProbeStats>,
) {
    stats.started.fetch_add(1, Ordering::Relaxed);
    stats.pending.fetch_add(1, Ordering::AcqRel);
    tokio::spawn(async move {
        let url = format!("{base_url}/freshmart/orders/{}", expect.order_id);
        let deadline = written + options.give_up;
        let mut seen = None;
        let mut superseded = false;
        while Instant::now() < deadline {
            // Checked before the read: a read that follows a newer write may show either.
            let newer = stats.superseded(&expect.order_id, generation);
            if let Ok(resp) = client.get(&url).send().await {
                if resp.status().is_success() {
                    if let Ok(row) = resp.json::<OrderRow>().await {
                        if expect.met_by(&row) {
                            seen = Some(Instant::now());
                            break;
                        }
                    }
                }
            }
            if newer {
                superseded = true;
                break;
            }
            tokio::time::sleep(options.interval).await;
        }
        match seen {
            None if superseded => {
                stats.superseded.fetch_add(1, Ordering::Relaxed);
            }
            Some(at) => {
                let us = ((at - written).as_micros() as u64).clamp(1, 3_600_000_000);
                let _ = stats
                    .visible
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .record(us);
            }
            None => {
                stats.not_visible.fetch_add(1, Ordering::Relaxed);
            }
        }
        if stats.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            stats.idle.notify_waiters();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::OrderStatus;
    use crate::sim::time::SimTime;

    #[test]
    fn expectations_follow_the_write() {
        let t = Event {
            at: SimTime(0),
            action: Action::Transition {
                order: 4,
                from: OrderStatus::Created,
                to: OrderStatus::Picking,
            },
        };
        let e = Expectation::of(&t, Some("r")).unwrap();
        assert_eq!(e.order_id, "order:LG-r-000004");
        assert_eq!(e.status, Some("PICKING"));
        let row = |status: &str, total: &str| OrderRow {
            order_status: Some(status.into()),
            order_total_amount: Some(serde_json::Value::String(total.into())),
        };
        assert!(e.met_by(&row("PICKING", "1.00")));
        assert!(!e.met_by(&row("CREATED", "1.00")));
        // Superseded by a later write of the same order: visible too.
        assert!(e.met_by(&row("OUT_FOR_DELIVERY", "1.00")));
        assert!(e.met_by(&row("CANCELLED", "1.00")));
        let m = Expectation {
            order_id: "o".into(),
            status: None,
            total_cents: Some(1234),
        };
        assert!(m.met_by(&row("CREATED", "12.34")));
        assert!(!m.met_by(&row("CREATED", "12.30")));
        assert!(
            m.met_by(&row("PICKING", "12.30")),
            "left CREATED: the write was superseded"
        );
        let inv = Event {
            at: SimTime(0),
            action: Action::InventoryUpdate {
                item: 0,
                stock_level: 1,
            },
        };
        assert_eq!(Expectation::of(&inv, None), None);
    }

    #[test]
    fn a_later_write_supersedes_an_earlier_one_but_not_the_last() {
        let stats = ProbeStats::default();
        let first = stats.written("order:a", false);
        assert!(!stats.superseded("order:a", first));
        let second = stats.written("order:a", false);
        assert!(stats.superseded("order:a", first));
        assert!(!stats.superseded("order:a", second));
        let last = stats.written("order:a", true);
        assert_eq!(last, FINAL);
        assert!(
            stats.superseded("order:a", second),
            "the order finished since"
        );
        assert!(!stats.superseded("order:a", last));
        assert!(
            stats.generations.lock().unwrap().is_empty(),
            "finished orders are forgotten"
        );
    }
}
