//! Causal roots: which chain of dependent events each trace event belongs to, and the stable
//! partition of roots that splits a trace across dispatchers and machines.
//!
//! A root groups the events that depend on one another, so that sending a root's events in
//! trace order (and never one after a failed event it depends on) keeps the API consistent,
//! while different roots may run at once:
//! * a customer the trace creates is the root of its creation and of every order it places
//!   (and each such order's lines, modifications, transitions and cancellation);
//! * an order placed by a customer of the world is its own root: the world's customers exist
//!   before the run, so nothing in the trace precedes the order. (Rooting these orders on their
//!   customer would put most of a stress day in the world's 100 customers: per-root ordering
//!   would cap concurrency at 100, and no partition of 100 roots can be even);
//! * an inventory item is the root of its updates.
//!
//! Events name their entity, not their root: an order's later events carry only the order
//! number. `RootTracker` derives the root while it reads the trace from its first event,
//! remembering only the open orders of customers the trace created.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::event::{Action, CustomerRef, Event, NewCustomerNo, OrderNo, OrderStatus};

/// The chain of dependent events an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Root {
    /// A customer the trace creates: its creation and all its orders.
    NewCustomer(NewCustomerNo),
    /// An order of a customer of the world.
    Order(OrderNo),
    /// An inventory item (index into `World::inventory`).
    Item(u32),
}

impl Root {
    /// The 64-bit key the partition function hashes: a tag in the high 32 bits (1 new
    /// customer, 2 order, 3 item) and the number in the low 32.
    pub fn key(self) -> u64 {
        let (tag, id) = match self {
            Root::NewCustomer(n) => (1u64, n),
            Root::Order(n) => (2, n),
            Root::Item(i) => (3, i),
        };
        (tag << 32) | u64::from(id)
    }

    /// Which of `count` partitions the root falls in (`count` 0 is treated as 1). Integer
    /// arithmetic only, so it is the same on every platform, and a fixed function of the root
    /// and `count` (no table, nothing learnt from the trace): every shard, reading the trace on
    /// its own, agrees. It is part of the trace-splitting contract (pinned in tests); this
    /// version, of checkpoint version 4, replaced a hash of every root (`replay::checkpoint`
    /// refuses a shard checkpoint of the earlier one).
    ///
    /// With `mix(k) = splitmix64(k ^ splitmix64(count))` (SplitMix64's finaliser, Steele, Lea
    /// and Flood 2014; [`Root::lane`] salts with `count | 1 << 32` instead) and
    /// `scale(h) = floor(h * count / 2^64)`:
    /// * a created customer `n` (the root of all its orders) goes to
    ///   `(n mod count + scale(mix(4 << 32 | n / count))) mod count`: the customers are taken
    ///   in blocks of `count` consecutive numbers, and each block fills every partition once,
    ///   in an order rotated block by block. Customers are numbered in order of creation, and
    ///   one created early has longer to order (on a stress day the first ones place ~60
    ///   orders, the late ones one or none), so neighbours are about the same size: dealing
    ///   them out in turn leaves each partition the same mix of big and small roots, where a
    ///   hash of the number left it a random draw of them (16 shards of a stress day were up
    ///   to 6.6 % off 1/16; dealt, within 2.2 %: BENCHMARKS.md, "The partition over a stress
    ///   day");
    /// * an order of a world customer and an inventory item go to `scale(mix(key))`: they are
    ///   many, small and of similar size, so a hash spreads them evenly.
    ///
    /// `count` salts the hash, so the partitions of different counts are independent (an
    /// unsalted `scale` nests: partition `i` of `N` lies in one partition of any count
    /// dividing `N`).
    pub fn partition(self, count: u32) -> u32 {
        self.deal(count, Level::Shards)
    }

    /// Which of `count` dispatchers of one process (`--threads`) the root goes to: the
    /// function of [`Root::partition`] with another salt, so that the dispatchers of one
    /// shard each get a share of its roots even when there are as many of them as shards
    /// (`partition(N)` of the roots of partition `i` of `N` is `i`, whatever the function).
    pub fn lane(self, count: u32) -> u32 {
        self.deal(count, Level::Dispatchers)
    }

    fn deal(self, count: u32, level: Level) -> u32 {
        let count = count.max(1);
        let salt = splitmix64(u64::from(count) | ((level as u64) << 32));
        let scale =
            |key: u64| ((u128::from(splitmix64(key ^ salt)) * u128::from(count)) >> 64) as u32;
        match self {
            Root::NewCustomer(n) => {
                let rotation = scale((4 << 32) | u64::from(n / count));
                ((u64::from(n % count) + u64::from(rotation)) % u64::from(count)) as u32
            }
            Root::Order(_) | Root::Item(_) => scale(self.key()),
        }
    }
}

/// What a split of the roots is for: its number is part of the hash's salt.
#[derive(Clone, Copy)]
enum Level {
    /// `--shard I/N`: processes, possibly on different machines.
    Shards = 0,
    /// `--threads`: the dispatchers of one process.
    Dispatchers = 1,
}

impl std::fmt::Display for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Root::NewCustomer(n) => write!(f, "new customer {n}"),
            Root::Order(n) => write!(f, "order {n}"),
            Root::Item(i) => write!(f, "inventory item {i}"),
        }
    }
}

/// SplitMix64's output function: a bijection of u64 that mixes every input bit into every
/// output bit.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives each event's root while reading a trace in order, from its first event on (also
/// the events a run does not send: an order placed before a `--from` window still needs its
/// root known).
#[derive(Debug, Default)]
pub struct RootTracker {
    /// Open orders of customers the trace created; forgotten when delivered or cancelled.
    orders_of_new_customers: HashMap<OrderNo, NewCustomerNo>,
    /// The most entries `orders_of_new_customers` has held at once.
    peak: usize,
}

impl RootTracker {
    pub fn new() -> RootTracker {
        RootTracker::default()
    }

    /// A tracker with room for `orders` open orders of created customers from the start: a
    /// second pass over a trace whose first pass saw at most that many never grows its table
    /// (each doubling held the old and the new table at once, and the freed one stayed in the
    /// feed thread's heap).
    pub fn with_capacity(orders: usize) -> RootTracker {
        RootTracker {
            orders_of_new_customers: HashMap::with_capacity(orders),
            peak: 0,
        }
    }

    /// The root of `event`, the next event of the trace.
    pub fn root_of(&mut self, event: &Event) -> Root {
        match &event.action {
            Action::NewCustomer { customer, .. } => Root::NewCustomer(*customer),
            Action::NewOrder(order) => match order.customer {
                CustomerRef::New(customer) => {
                    self.orders_of_new_customers.insert(order.order, customer);
                    self.peak = self.peak.max(self.orders_of_new_customers.len());
                    Root::NewCustomer(customer)
                }
                CustomerRef::Existing(_) => Root::Order(order.order),
            },
            Action::Transition { order, to, .. } => {
                let root = self.order_root(*order);
                if matches!(to, OrderStatus::Delivered | OrderStatus::Cancelled) {
                    self.orders_of_new_customers.remove(order);
                }
                root
            }
            Action::AddLine { order, .. } | Action::RemoveLine { order, .. } => {
                self.order_root(*order)
            }
            Action::InventoryUpdate { item, .. } => Root::Item(*item),
        }
    }

    /// Open orders of created customers it remembers (bounded by the trace's open orders).
    pub fn remembered(&self) -> usize {
        self.orders_of_new_customers.len()
    }

    /// The most open orders of created customers it has remembered at once.
    pub fn peak(&self) -> usize {
        self.peak
    }

    fn order_root(&self, order: OrderNo) -> Root {
        match self.orders_of_new_customers.get(&order) {
            Some(customer) => Root::NewCustomer(*customer),
            None => Root::Order(order),
        }
    }
}

/// `--shard I/N`: partition `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// A shard that cannot be: `I` must be below `N`, `N` at least 1.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("shard count must be at least 1")]
    NoShards,
    #[error("shard index {index} is not below the shard count {count} (indexes run from 0)")]
    IndexOutOfRange { index: u32, count: u32 },
    #[error("a shard is written INDEX/COUNT, e.g. 0/4, not {0:?}")]
    Syntax(String),
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards);
        }
        if index >= count {
            return Err(ShardError::IndexOutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// Whether the events of `root` belong to this shard.
    pub fn holds(self, root: Root) -> bool {
        root.partition(self.count) == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (index, count) = s.split_once('/').ok_or_else(syntax)?;
        let index = index.trim().parse().map_err(|_| syntax())?;
        let count = count.trim().parse().map_err(|_| syntax())?;
        Shard::new(index, count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Line, NewOrder};
    use crate::sim::time::SimTime;
    use proptest::prelude::*;

    fn at(action: Action) -> Event {
        Event {
            at: SimTime(0),
            action,
        }
    }

    fn new_order(order: OrderNo, customer: CustomerRef) -> Event {
        at(Action::NewOrder(NewOrder {
            order,
            customer,
            store: 0,
            window_start_min: 60,
            window_len_min: 60,
            lines: vec![Line {
                seq: 1,
                product: 0,
                quantity: 1,
            }],
            total_cents: 100,
        }))
    }

    fn step(order: OrderNo, to: OrderStatus) -> Event {
        at(Action::Transition {
            order,
            from: OrderStatus::Created,
            to,
        })
    }

    #[test]
    fn an_order_of_a_created_customer_shares_its_root_until_it_ends() {
        let mut roots = RootTracker::new();
        let creation = at(Action::NewCustomer {
            customer: 7,
            home_store: 0,
            persona: crate::world::names::Persona {
                first: 0,
                last: 0,
                street: 0,
                house_number: 1,
            },
        });
        assert_eq!(roots.root_of(&creation), Root::NewCustomer(7));
        assert_eq!(
            roots.root_of(&new_order(3, CustomerRef::New(7))),
            Root::NewCustomer(7)
        );
        let modification = at(Action::RemoveLine {
            order: 3,
            seq: 1,
            total_cents: 0,
        });
        assert_eq!(roots.root_of(&modification), Root::NewCustomer(7));
        assert_eq!(
            roots.root_of(&step(3, OrderStatus::Picking)),
            Root::NewCustomer(7)
        );
        assert_eq!(roots.remembered(), 1);
        assert_eq!(
            roots.root_of(&step(3, OrderStatus::Cancelled)),
            Root::NewCustomer(7)
        );
        assert_eq!(roots.remembered(), 0, "an ended order is forgotten");
    }

    #[test]
    fn orders_of_world_customers_and_items_are_their_own_roots() {
        let mut roots = RootTracker::new();
        assert_eq!(
            roots.root_of(&new_order(4, CustomerRef::Existing(2))),
            Root::Order(4)
        );
        assert_eq!(
            roots.root_of(&step(4, OrderStatus::Picking)),
            Root::Order(4)
        );
        assert_eq!(roots.remembered(), 0, "nothing to remember for them");
        let update = at(Action::InventoryUpdate {
            item: 9,
            stock_level: 3,
        });
        assert_eq!(roots.root_of(&update), Root::Item(9));
    }

    /// Pinned: the partition of a root is part of the trace-splitting contract (shards of one
    /// run on different machines must agree), so these change only with a documented change of
    /// the function, which a checkpoint refuses to resume across (`replay::checkpoint`).
    #[test]
    fn partitions_are_pinned() {
        let pinned: [(Root, u32, u32); 12] = [
            (Root::NewCustomer(1), 4, PINNED[0]),
            (Root::NewCustomer(1_000), 16, PINNED[1]),
            (Root::Order(1), 4, PINNED[2]),
            (Root::Order(123_456), 16, PINNED[3]),
            (Root::Item(0), 4, PINNED[4]),
            (Root::Item(7_599), 16, PINNED[5]),
            (Root::Order(u32::MAX), 1_000, PINNED[6]),
            (Root::NewCustomer(u32::MAX), 7, PINNED[7]),
            (Root::NewCustomer(0), 16, PINNED[8]),
            (Root::NewCustomer(17), 16, PINNED[9]),
            (Root::NewCustomer(31), 16, PINNED[10]),
            (Root::Item(42), 1, 0),
        ];
        for (root, count, expected) in pinned {
            assert_eq!(root.partition(count), expected, "{root} of {count}");
        }
        let lanes: [(Root, u32, u32); 6] = [
            (Root::NewCustomer(1_000), 16, 15),
            (Root::NewCustomer(77), 7, 4),
            (Root::Order(123_456), 16, 0),
            (Root::Order(99), 5, 3),
            (Root::Item(7_599), 16, 6),
            (Root::Item(42), 3, 0),
        ];
        for (root, count, expected) in lanes {
            assert_eq!(root.lane(count), expected, "{root} of {count} lanes");
        }
        assert_eq!(
            splitmix64(0),
            0xE220_A839_7B1D_CDAF,
            "SplitMix64's published first output"
        );
    }

    // Computed independently of this code (a Python transcription of the formulas in
    // `Root::partition`'s documentation).
    const PINNED: [u32; 11] = [0, 2, 3, 14, 1, 9, 587, 3, 4, 4, 2];

    /// The partition the function replaced (an unsalted hash of every root): kept to show
    /// what the tests below measure against.
    fn hashed(root: Root, count: u32) -> u32 {
        ((u128::from(splitmix64(root.key())) * u128::from(count)) >> 64) as u32
    }

    #[test]
    fn each_block_of_created_customers_fills_every_partition_once() {
        for count in [1u32, 2, 3, 16, 100] {
            for block in [0u32, 1, 2, 1_000, u32::MAX / count - 1] {
                let mut seen: Vec<u32> = (0..count)
                    .map(|i| Root::NewCustomer(block * count + i).partition(count))
                    .collect();
                seen.sort_unstable();
                assert_eq!(
                    seen,
                    (0..count).collect::<Vec<_>>(),
                    "block {block} of {count}"
                );
            }
        }
    }

    /// `--threads T` dispatchers within `--shard I/N` split the shard's roots with `lane(T)`:
    /// every dispatcher gets a share of every kind of root. (With `partition(T)`, the unsalted
    /// hash gave all of a shard's roots to one dispatcher whenever T divided N, and any
    /// function does when T is N.)
    #[test]
    fn the_partitions_of_one_shard_spread_over_any_count_of_dispatchers() {
        let kinds: [fn(u32) -> Root; 3] = [Root::NewCustomer, Root::Order, Root::Item];
        for (shards, dispatchers) in [(16u32, 2u32), (4, 2), (4, 4), (2, 2), (3, 2)] {
            for kind in kinds {
                let mut lanes = vec![0u32; dispatchers as usize];
                let in_shard = (0..20_000).map(kind).filter(|r| r.partition(shards) == 1);
                in_shard.for_each(|r| lanes[r.lane(dispatchers) as usize] += 1);
                let total: u32 = lanes.iter().sum();
                let fair = total / dispatchers;
                assert!(
                    lanes
                        .iter()
                        .all(|&n| n > fair * 9 / 10 && n < fair * 11 / 10),
                    "{} of shard 1/{shards} over {dispatchers} dispatchers: {lanes:?}",
                    kind(0)
                );
            }
        }
        let old: Vec<u32> = (0..1_000)
            .map(Root::Order)
            .filter(|r| hashed(*r, 4) == 1)
            .map(|r| hashed(r, 2))
            .collect();
        assert!(old.iter().all(|&lane| lane == 0), "the old hash nested");
        let same: Vec<u32> = (0..1_000)
            .map(Root::NewCustomer)
            .filter(|r| r.partition(4) == 1)
            .map(|r| r.partition(4))
            .collect();
        assert!(
            same.iter().all(|&p| p == 1),
            "why lanes need their own salt"
        );
    }

    /// Issue 10's target in small: the 16 shards of a stress morning each hold close to 1/16
    /// of its events and of its requests. A created customer is the root of all its orders,
    /// and the early ones order most, so a hash of the roots left some shards several per
    /// cent over (the test checks the bound is one it missed).
    #[test]
    fn sixteen_shards_of_a_stress_morning_are_even() {
        let world = crate::world::builtin_world();
        let config = crate::sim::SimConfig {
            seed: 3,
            profile: crate::profile::LoadProfile::named("stress").unwrap(),
            start: chrono::DateTime::parse_from_rfc3339("2026-01-05T06:00:00Z").unwrap(),
            duration: SimTime(HOURS * 3_600_000),
        };
        let (mut dealt, mut old) = ([[0u64; 2]; 16], [[0u64; 2]; 16]);
        let mut roots = RootTracker::new();
        for event in crate::sim::Simulation::new(&world, &config).unwrap() {
            let event = event.unwrap();
            let root = roots.root_of(&event);
            let requests = u64::from(event.action.request_count());
            for (shards, p) in [
                (&mut dealt, root.partition(16)),
                (&mut old, hashed(root, 16)),
            ] {
                shards[p as usize][0] += 1;
                shards[p as usize][1] += requests;
            }
        }
        // The largest deviation from 1/16, in per cent, of events and of requests.
        let worst = |shards: &[[u64; 2]; 16], what: usize| {
            let total: u64 = shards.iter().map(|s| s[what]).sum();
            let fair = total as f64 / 16.0;
            let off = shards.iter().map(|s| (s[what] as f64 / fair - 1.0).abs());
            off.fold(0.0, f64::max) * 100.0
        };
        for (what, name) in [(0, "events"), (1, "requests")] {
            let (dealt, old) = (worst(&dealt, what), worst(&old, what));
            eprintln!("{name}: worst shard {dealt:.2} % off 1/16 (the hash: {old:.2} %)");
            assert!(dealt <= BOUND, "{name}: a shard {dealt:.2} % off 1/16");
            assert!(
                old > BOUND,
                "{name}: the hash was {old:.2} % off: the bound checks nothing"
            );
        }
    }

    // Chosen from seeds 1-8 of this morning (06:00-09:00 UTC, ~185,000 events): dealt, the
    // worst shard was 3.3-5.7 % off; hashed, 14.6-18.3 %. Seed 3: 3.31 % and 18.0 %.
    const HOURS: u64 = 3;
    const BOUND: f64 = 6.0;

    #[test]
    fn shards_parse_and_refuse_what_cannot_be() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(
            "4/4".parse::<Shard>(),
            Err(ShardError::IndexOutOfRange { index: 4, count: 4 })
        );
        assert_eq!("0/0".parse::<Shard>(), Err(ShardError::NoShards));
        assert!(matches!("x".parse::<Shard>(), Err(ShardError::Syntax(_))));
        assert!(matches!("1/".parse::<Shard>(), Err(ShardError::Syntax(_))));
    }

    proptest! {
        /// Every root falls in exactly one shard of any count, and always the same one.
        #[test]
        fn the_partition_is_total_and_stable(tag in 0u8..3, id in any::<u32>(), count in 1u32..5_000) {
            let root = match tag { 0 => Root::NewCustomer(id), 1 => Root::Order(id), _ => Root::Item(id) };
            let p = root.partition(count);
            prop_assert!(p < count);
            prop_assert_eq!(p, root.partition(count));
            let holders = (0..count.min(64)).filter(|&i| Shard { index: i, count }.holds(root)).count();
            prop_assert_eq!(holders, usize::from(p < 64));
        }

        /// Extreme counts and numbers neither overflow nor leave the range.
        #[test]
        fn extreme_counts_stay_in_range(id in any::<u32>(), count in any::<u32>()) {
            for root in [Root::NewCustomer(id), Root::Order(id), Root::Item(id)] {
                prop_assert!(root.partition(count) < count.max(1));
            }
            prop_assert_eq!(Root::NewCustomer(id).partition(0), 0);
        }
    }
}
