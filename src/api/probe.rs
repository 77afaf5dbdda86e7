//! Propagation probes (`replay --probe-reads 1%`): after a sampled write succeeds, poll the
//! read that shows it until the write is visible there, and record how long that took.
//! Against Materialize this "write → visible" time is the number the demo is about.
//!
//! Each kind of write has its read and its histogram (`ProbeKind`): order writes (creations,
//! status changes, modifications) the order's point read; new customers the customer list;
//! stock levels the inventory list of the item's store, paged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::contract::rows::{self, CustomerRow, InventoryRow, OrderRow};
use crate::contract::{ids, OrderStatus, RequestContext};
use crate::event::{Action, Event};
use crate::result::coarse::CoarseHistogram;

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
    pub status: Option<OrderStatus>,
    pub total_cents: Option<u64>,
}

impl Expectation {
    /// The read that shows `event`, if it is a probed kind.
    pub fn of(event: &Event, run: Option<&str>) -> Option<Expectation> {
        let (order, status, total) = match &event.action {
            Action::NewOrder(o) => (o.order, Some(OrderStatus::Created), Some(o.total_cents)),
            Action::Transition { order, to, .. } => (*order, Some(*to), None),
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
        self.status.is_some_and(OrderStatus::is_final)
    }

    /// Whether the read shows this write, or a later write of the same order (which, with
    /// each order's writes applied in order, means this one became visible too). A status is
    /// shown by that status or any later stage; a total by that total, or by the order having
    /// left CREATED (no modification can follow).
    fn met_by(&self, row: &OrderRow) -> bool {
        // A row without a status loadgen knows shows nothing.
        let Some(seen) = row.status().map(OrderStatus::stage) else {
            return false;
        };
        let status_ok = self.status.is_none_or(|want| seen >= want.stage());
        let total_ok = self.total_cents.is_none_or(|want| {
            row.total_cents() == Some(want) || seen > OrderStatus::Created.stage()
        });
        status_ok && total_ok
    }
}

/// The kinds of write a probe follows, each measured by its own read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProbeKind {
    Order,
    Customer,
    Stock,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 3] = [ProbeKind::Order, ProbeKind::Customer, ProbeKind::Stock];

    /// Name in reports.
    pub fn key(self) -> &'static str {
        match self {
            ProbeKind::Order => "orders",
            ProbeKind::Customer => "customers",
            ProbeKind::Stock => "stock_levels",
        }
    }

    /// The read that shows a write of this kind (the view it measures).
    pub fn read(self) -> &'static str {
        match self {
            ProbeKind::Order => "GET /freshmart/orders/{id}",
            ProbeKind::Customer => "GET /freshmart/customers",
            ProbeKind::Stock => "GET /freshmart/stores/inventory?store_id=",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A successful write a probe can follow until a read shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Order(Expectation),
    /// A new customer: shown once the customer list has it.
    Customer {
        customer_id: String,
    },
    /// A stock level: shown once the inventory list of the item's store has it at that level.
    Stock {
        inventory_id: String,
        store_id: String,
        stock_level: u32,
    },
}

impl Target {
    /// The write of `event` a probe can follow, named as `context` sends it.
    pub fn of(event: &Event, context: &RequestContext) -> Option<Target> {
        let run = context.run_id.as_deref();
        match &event.action {
            Action::NewCustomer { customer, .. } => Some(Target::Customer {
                customer_id: ids::new_customer_subject(*customer, run),
            }),
            Action::InventoryUpdate { item, stock_level } => {
                let subjects = context.subjects();
                Some(Target::Stock {
                    inventory_id: subjects.find_inventory(*item)?.to_string(),
                    store_id: subjects.inventory_store(*item)?.to_string(),
                    stock_level: *stock_level,
                })
            }
            _ => Expectation::of(event, run).map(Target::Order),
        }
    }

    pub fn kind(&self) -> ProbeKind {
        match self {
            Target::Order(_) => ProbeKind::Order,
            Target::Customer { .. } => ProbeKind::Customer,
            Target::Stock { .. } => ProbeKind::Stock,
        }
    }

    /// The state the write leaves for a read to see, where a later write can repeat it: an
    /// order's total, a stock level (an order's status only moves forward; a customer is
    /// created once).
    fn state(&self) -> Option<u64> {
        match self {
            Target::Order(e) => e.total_cents,
            Target::Stock { stock_level, .. } => Some(u64::from(*stock_level)),
            Target::Customer { .. } => None,
        }
    }

    /// The subject whose later writes supersede this one.
    pub fn subject(&self) -> &str {
        match self {
            Target::Order(e) => &e.order_id,
            Target::Customer { customer_id } => customer_id,
            Target::Stock { inventory_id, .. } => inventory_id,
        }
    }

    /// Nothing is written to the subject after this: an order's delivery or cancellation, a
    /// new customer (created once). A stock level can always be written again.
    pub fn is_last_write(&self) -> bool {
        match self {
            Target::Order(e) => e.is_last_write(),
            Target::Customer { .. } => true,
            Target::Stock { .. } => false,
        }
    }
}

/// Page size of the inventory list (the API's maximum) and pages read at most per probe read.
const INVENTORY_PAGE: usize = 1000;
const INVENTORY_PAGES: usize = 20;

async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
) -> Option<T> {
    let resp = client.get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json::<T>().await.ok()
}

/// One read of what shows `target`: whether it shows the write (or a later one).
async fn shows(client: &reqwest::Client, base_url: &str, target: &Target) -> bool {
    match target {
        Target::Order(expect) => {
            let url = format!("{base_url}{}", rows::order_path(&expect.order_id));
            get_json::<OrderRow>(client, &url)
                .await
                .is_some_and(|row| expect.met_by(&row))
        }
        Target::Customer { customer_id } => {
            let url = format!("{base_url}{}", rows::CUSTOMERS);
            get_json::<Vec<CustomerRow>>(client, &url)
                .await
                .is_some_and(|rows| rows.iter().any(|r| &r.customer_id == customer_id))
        }
        Target::Stock {
            inventory_id,
            store_id,
            stock_level,
        } => {
            for page in 0..INVENTORY_PAGES {
                let url = format!(
                    "{base_url}{}?store_id={store_id}&limit={INVENTORY_PAGE}&offset={}",
                    rows::INVENTORY,
                    page * INVENTORY_PAGE
                );
                let Some(rows) = get_json::<Vec<InventoryRow>>(client, &url).await else {
                    return false;
                };
                if let Some(row) = rows.iter().find(|r| &r.inventory_id == inventory_id) {
                    return row.stock_level() == Some(i64::from(*stock_level));
                }
                if rows.len() < INVENTORY_PAGE {
                    break;
                }
            }
            false
        }
    }
}

/// Generation of an order's last write.
const FINAL: u64 = u64::MAX;

/// Results of the probes of one kind.
#[derive(Debug)]
pub struct KindStats {
    pub visible: Mutex<Histogram<u64>>,
    pub not_visible: AtomicU64,
    pub superseded: AtomicU64,
    pub started: AtomicU64,
}

impl Default for KindStats {
    fn default() -> Self {
        KindStats {
            visible: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds"),
            ),
            not_visible: AtomicU64::new(0),
            superseded: AtomicU64::new(0),
            started: AtomicU64::new(0),
        }
    }
}

impl KindStats {
    pub fn histogram(&self) -> Histogram<u64> {
        self.visible
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Results of all probes of a run: over all kinds, and by kind.
#[derive(Debug)]
pub struct ProbeStats {
    /// By `ProbeKind`, in `ProbeKind::ALL` order.
    pub by_kind: [KindStats; 3],
    pub visible: Mutex<Histogram<u64>>,
    pub not_visible: AtomicU64,
    /// Probes whose subject was written again before they saw their write: what the read
    /// shows is then the later write, which says nothing about when this one became visible.
    pub superseded: AtomicU64,
    pub started: AtomicU64,
    /// The same times by the Unix second (wall clock) their write was sent in, for the run
    /// result's time series.
    pub by_second: Mutex<std::collections::BTreeMap<u64, CoarseHistogram>>,
    pending: AtomicUsize,
    idle: Notify,
    /// The successful writes of each subject (only while probing). An order's entry goes when
    /// it is delivered or cancelled; an inventory item's stays (there are as many as the world
    /// has items).
    subjects: Mutex<HashMap<String, History>>,
}

/// What the writes of one subject so far tell a probe.
#[derive(Debug, Default)]
struct History {
    /// Writes so far, so a probe can tell that a later write of its subject went out.
    generation: u64,
    /// The states the writes left the subject in, as a read sees them (an order's totals, an
    /// item's stock levels): a write that brings the subject back to one of them (A → B → A)
    /// cannot be told apart from the earlier write by any read.
    states: Vec<u64>,
}

/// What recording one write learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// The write's generation (`FINAL` for a subject's last write, which nothing supersedes).
    pub generation: u64,
    /// An earlier write left the subject in the state this one does: a read showing that
    /// state may show the earlier write, so this one cannot be timed.
    pub repeats_earlier_state: bool,
}

impl Default for ProbeStats {
    fn default() -> Self {
        ProbeStats {
            by_kind: Default::default(),
            // 1 µs .. 1 h, 3 significant digits: fixed, valid bounds.
            visible: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds"),
            ),
            not_visible: AtomicU64::new(0),
            superseded: AtomicU64::new(0),
            started: AtomicU64::new(0),
            by_second: Mutex::new(std::collections::BTreeMap::new()),
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
            subjects: Mutex::new(HashMap::new()),
        }
    }
}

impl ProbeStats {
    /// Records a successful write of `target`'s subject.
    pub fn written(&self, target: &Target) -> Written {
        let mut subjects = self.subjects.lock().unwrap_or_else(|p| p.into_inner());
        if target.is_last_write() {
            subjects.remove(target.subject());
            return Written {
                generation: FINAL,
                repeats_earlier_state: false,
            };
        }
        let history = subjects.entry(target.subject().to_string()).or_default();
        history.generation += 1;
        let repeats_earlier_state = match target.state() {
            Some(state) if history.states.contains(&state) => true,
            Some(state) => {
                history.states.push(state);
                false
            }
            None => false,
        };
        Written {
            generation: history.generation,
            repeats_earlier_state,
        }
    }

    /// A sampled write that cannot be timed (`Written::repeats_earlier_state`): counted with the
    /// superseded ones, which a read cannot time either.
    pub fn untimeable(&self, kind: ProbeKind) {
        for (started, superseded) in [
            (&self.started, &self.superseded),
            (&self.kind(kind).started, &self.kind(kind).superseded),
        ] {
            started.fetch_add(1, Ordering::Relaxed);
            superseded.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether `order_id` was written after `generation` (or has finished since).
    fn superseded(&self, order_id: &str, generation: u64) -> bool {
        if generation == FINAL {
            return false;
        }
        let subjects = self.subjects.lock().unwrap_or_else(|p| p.into_inner());
        subjects
            .get(order_id)
            .is_none_or(|h| h.generation > generation)
    }

    pub fn kind(&self, kind: ProbeKind) -> &KindStats {
        &self.by_kind[kind.index()]
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

/// Starts a background probe for `target`, written at `written`.
pub fn spawn(
    client: reqwest::Client,
    base_url: String,
    target: Target,
    generation: u64,
    written: Instant,
    options: ProbeOptions,
    stats: Arc<ProbeStats>,
) {
    let kind = target.kind();
    stats.started.fetch_add(1, Ordering::Relaxed);
    stats.kind(kind).started.fetch_add(1, Ordering::Relaxed);
    stats.pending.fetch_add(1, Ordering::AcqRel);
    tokio::spawn(async move {
        let deadline = written + options.give_up;
        let mut seen = None;
        let mut superseded = false;
        while Instant::now() < deadline {
            // Checked before the read: a read that follows a newer write may show either.
            let newer = stats.superseded(target.subject(), generation);
            if shows(&client, &base_url, &target).await {
                seen = Some(Instant::now());
                break;
            }
            if newer {
                superseded = true;
                break;
            }
            tokio::time::sleep(options.interval).await;
        }
        let of_kind = stats.kind(kind);
        match seen {
            None if superseded => {
                stats.superseded.fetch_add(1, Ordering::Relaxed);
                of_kind.superseded.fetch_add(1, Ordering::Relaxed);
            }
            Some(at) => {
                let us = ((at - written).as_micros() as u64).clamp(1, 3_600_000_000);
                for histogram in [&stats.visible, &of_kind.visible] {
                    let _ = histogram
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .record(us);
                }
                // When the write went out on the wall clock, which the result's time series
                // counts from.
                let sent = std::time::SystemTime::now()
                    .checked_sub(Instant::now().saturating_duration_since(written))
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
                if let Some(sent) = sent {
                    stats
                        .by_second
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(sent.as_secs())
                        .or_default()
                        .record(us);
                }
            }
            None => {
                stats.not_visible.fetch_add(1, Ordering::Relaxed);
                of_kind.not_visible.fetch_add(1, Ordering::Relaxed);
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

    #[test]
    fn a_write_back_to_an_earlier_state_is_not_timeable() {
        let stats = ProbeStats::default();
        let order = |total| {
            Target::Order(Expectation {
                order_id: "order:LG-x-000001".into(),
                status: None,
                total_cents: Some(total),
            })
        };
        let stock = |level| Target::Stock {
            inventory_id: "inventory:INV-000001".into(),
            store_id: "store:BK-01".into(),
            stock_level: level,
        };
        // A → B → A: the second A is what the first already showed.
        let repeats = |target: &Target| stats.written(target).repeats_earlier_state;
        assert!(!repeats(&order(800)));
        assert!(!repeats(&order(1_150)));
        assert!(repeats(&order(800)));
        assert!(!repeats(&stock(5)));
        assert!(!repeats(&stock(9)));
        assert!(repeats(&stock(5)));
        // An order's last write forgets its history.
        let delivered = Target::Order(Expectation {
            order_id: "order:LG-x-000001".into(),
            status: Some(OrderStatus::Delivered),
            total_cents: None,
        });
        assert!(!repeats(&delivered));
        assert!(!repeats(&order(800)));
        stats.untimeable(ProbeKind::Stock);
        assert_eq!(stats.superseded.load(Ordering::Relaxed), 1);
        assert_eq!(
            stats.kind(ProbeKind::Stock).started.load(Ordering::Relaxed),
            1
        );
    }
    use crate::time::SimTime;

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
        assert_eq!(e.status, Some(OrderStatus::Picking));
        let row = |status: &str, total: &str| OrderRow {
            order_id: "order:LG-r-000004".into(),
            order_status: Some(status.into()),
            order_total_amount: Some(serde_json::Value::String(total.into())),
            customer_id: None,
            store_id: None,
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
    fn targets_name_the_subject_and_read_of_each_kind() {
        let context = RequestContext {
            world: Arc::new(crate::world::builtin_world()),
            run_id: Some("r".into()),
            calendar: crate::time::Calendar::new(
                chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z").unwrap(),
            ),
            shift: chrono::Duration::zero(),
        };
        let at = |action| Event {
            at: SimTime(0),
            action,
        };
        let stock = Target::of(
            &at(Action::InventoryUpdate {
                item: 760,
                stock_level: 42,
            }),
            &context,
        )
        .unwrap();
        // Item 761 is the first product of the second store (store-major).
        assert_eq!(
            stock,
            Target::Stock {
                inventory_id: "inventory:INV-000761".into(),
                store_id: "store:BK-02".into(),
                stock_level: 42,
            }
        );
        assert_eq!(stock.kind(), ProbeKind::Stock);
        assert!(!stock.is_last_write(), "a stock level can be written again");
        let customer = Target::of(
            &at(Action::NewCustomer {
                customer: 3,
                home_store: 0,
                persona: crate::world::names::Persona {
                    first: 0,
                    last: 0,
                    street: 0,
                    house_number: 1,
                },
            }),
            &context,
        )
        .unwrap();
        assert_eq!(customer.subject(), "customer:LG-r-000003");
        assert!(customer.is_last_write(), "a new customer is written once");
        let order = Target::of(
            &at(Action::Transition {
                order: 4,
                from: OrderStatus::Picking,
                to: OrderStatus::Delivered,
            }),
            &context,
        )
        .unwrap();
        assert_eq!(order.kind(), ProbeKind::Order);
        assert_eq!(order.subject(), "order:LG-r-000004");
        assert!(order.is_last_write());
    }

    #[test]
    fn a_later_write_supersedes_an_earlier_one_but_not_the_last() {
        let stats = ProbeStats::default();
        let write = |status| {
            Target::Order(Expectation {
                order_id: "order:a".into(),
                status: Some(status),
                total_cents: None,
            })
        };
        let first = stats.written(&write(OrderStatus::Picking)).generation;
        assert!(!stats.superseded("order:a", first));
        let second = stats
            .written(&write(OrderStatus::OutForDelivery))
            .generation;
        assert!(stats.superseded("order:a", first));
        assert!(!stats.superseded("order:a", second));
        let last = stats.written(&write(OrderStatus::Delivered)).generation;
        assert_eq!(last, FINAL);
        assert!(
            stats.superseded("order:a", second),
            "the order finished since"
        );
        assert!(!stats.superseded("order:a", last));
        assert!(
            stats.subjects.lock().unwrap().is_empty(),
            "finished orders are forgotten"
        );
    }
}
