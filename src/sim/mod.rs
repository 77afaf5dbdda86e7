//! The deterministic discrete-event simulator: customers, orders and stock on a virtual clock.
//!
//! Orders arrive as a non-homogeneous Poisson process (the profile's rate times the
//! time-of-day multiplier, sampled by thinning); new customers, inventory updates and order
//! modifications arrive the same way in proportion to orders. Each order then lives its
//! lifecycle on the event queue. The output is a stream of `Event`s in time order.

mod basket;
mod cancelled;
pub mod model;
mod open_orders;
mod prefetch;
pub mod queue;
pub mod time;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::event::{Action, CustomerRef, Event, Line, NewOrder, OrderNo, OrderStatus};
use crate::profile::LoadProfile;
use crate::world::{World, WorldError};
use basket::Basket;
use cancelled::CancelledOrders;
use model::QuantityDistribution;
use open_orders::{OpenOrders, Stage};
use queue::{EventQueue, HeapQueue, ScheduleInPast};
use time::{Calendar, SimTime, MS_PER_HOUR, MS_PER_MINUTE, PEAK_MULTIPLIER_MAX};

/// What a simulation needs besides the world.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub profile: LoadProfile,
    pub start: chrono::DateTime<chrono::FixedOffset>,
    /// Events at or after this time are not produced.
    pub duration: SimTime,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    World(#[from] WorldError),
    #[error("simulator invariant broken: {0}")]
    Schedule(#[from] ScheduleInPast),
    #[error("simulator invariant broken: lifecycle step for order {0}, which is not open")]
    OrderNotOpen(OrderNo),
    #[error("simulator invariant broken: no draws left for new order {0}")]
    NoOrderDraws(OrderNo),
}

/// The processes that arrive on their own, each with its own random stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Process {
    Orders,
    Customers,
    InventoryUpdates,
    Modifications,
}

const PROCESSES: [Process; 4] = [
    Process::Orders,
    Process::Customers,
    Process::InventoryUpdates,
    Process::Modifications,
];

/// Stream numbers: one ChaCha stream per concern, so a change to one concern's draws does not
/// reshuffle any other.
mod stream {
    pub const ARRIVALS_BASE: u64 = 0; // + process index: 0..4
    pub const LIFECYCLE: u64 = 10;
    pub const BASKETS: u64 = 11;
    pub const ORDER_DETAILS: u64 = 12;
    pub const CUSTOMERS: u64 = 13;
    pub const INVENTORY: u64 = 14;
    pub const MODIFICATIONS: u64 = 15;
}

/// A stage delay in the `u32` a `CreatedOrder` keeps. The model's stages last at most 45
/// minutes (2.7 M ms), far inside `u32` (checked by a test of `model`).
fn stage_ms(ms: u64) -> u32 {
    debug_assert!(ms <= model::MAX_STAGE_MS);
    ms as u32
}

/// `x.round() as u64`, bit for bit, without the call to `round` that the baseline x86-64
/// target makes (it has no rounding instruction): the cast truncates, and the fraction left is
/// exact. Negative values and NaN give 0 and values past `u64::MAX` saturate, as the cast does.
fn round_to_u64(x: f64) -> u64 {
    // An arrival clock is non-negative and far below 2^52: there the conversions to and from
    // `i64` are one instruction each, where `u64`'s take a compare and a fix-up.
    if (0.0..TWO_POW_52).contains(&x) {
        let whole = x as i64;
        return (whole + i64::from(x - whole as f64 >= 0.5)) as u64;
    }
    let whole = x as u64;
    whole.saturating_add(u64::from(x - whole as f64 >= 0.5))
}

/// From here on every `f64` is a whole number.
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;

fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A non-homogeneous Poisson arrival process, sampled by thinning.
#[derive(Clone)]
struct Arrivals {
    /// Candidates per ms at the peak multiplier; 0 disables the process.
    peak_rate_per_ms: f64,
    /// Time of the last candidate in fractional ms, so rounding never accumulates.
    clock_ms: f64,
    rng: ChaCha8Rng,
    /// The acceptance probability of candidates before `hour_end` (the multiplier is constant
    /// within a local hour, and candidates come in time order): the calendar is asked once an
    /// hour instead of at every candidate, for the same value.
    accept: f64,
    hour_end: u64,
}

impl Arrivals {
    fn new(per_minute: f64, rng: ChaCha8Rng) -> Arrivals {
        Arrivals {
            peak_rate_per_ms: per_minute * PEAK_MULTIPLIER_MAX / MS_PER_MINUTE as f64,
            clock_ms: 0.0,
            rng,
            accept: 0.0,
            hour_end: 0,
        }
    }

    /// The next accepted arrival, or None past `end`.
    fn next(&mut self, calendar: &Calendar, end: SimTime) -> Option<SimTime> {
        if self.peak_rate_per_ms <= 0.0 {
            return None;
        }
        loop {
            self.clock_ms += model::exponential_gap_ms(&mut self.rng, self.peak_rate_per_ms);
            let at = SimTime(round_to_u64(self.clock_ms));
            if at >= end {
                return None;
            }
            if at.0 >= self.hour_end {
                (self.accept, self.hour_end) = acceptance_until(calendar, at);
            }
            if self.rng.random::<f64>() < self.accept {
                return Some(at);
            }
        }
    }
}

/// The thinning's acceptance probability at `at`, and the end of the local hour it holds in.
fn acceptance_until(calendar: &Calendar, at: SimTime) -> (f64, u64) {
    let next_hour = (u64::from(calendar.hour_at(at)) + 1) % 24;
    let hour_end = calendar.next_time_of_day(at.0, next_hour * MS_PER_HOUR);
    (calendar.multiplier_at(at) / PEAK_MULTIPLIER_MAX, hour_end)
}

/// The number of processes that arrive on their own (orders, customers, inventory updates,
/// modifications): the indices `ArrivalTimes::next_arrival` is asked for.
pub const ARRIVAL_PROCESSES: usize = PROCESSES.len();

/// Where a simulation takes the draws from that depend on nothing but their own random
/// stream (and the calendar), never on the simulation's state: the times of its arrivals and
/// each new order's basket and lifecycle. They can be drawn anywhere, ahead of time
/// (`simulate` draws them on a thread of their own); `StreamDraws` draws them when asked.
pub trait IndependentDraws {
    /// The next accepted arrival of process `process` (below `ARRIVAL_PROCESSES`, in the
    /// order `ArrivalProcesses` numbers them), or None when it has none left before the end.
    fn next_arrival(&mut self, process: usize) -> Option<SimTime>;
    /// The draws of the next new order; None only if they ran out before the order arrivals
    /// did (a broken source).
    fn next_order(&mut self) -> Option<OrderDraws>;
}

/// What a new order draws from the two streams only new orders use (`BASKETS`, `LIFECYCLE`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrderDraws {
    lines: Basket,
    total_cents: u64,
    /// The delays of CREATED, PICKING and OUT_FOR_DELIVERY, at most 45 minutes each.
    stage_ms: [u32; 3],
    /// Cancelled this long after creation (within CREATED + PICKING), or never.
    cancel_after_ms: Option<u32>,
}

/// The basket and lifecycle streams, drawing one new order's worth at a time.
#[derive(Clone)]
pub struct OrderStreams {
    baskets: ChaCha8Rng,
    lifecycle: ChaCha8Rng,
    quantities: QuantityDistribution,
    /// The world's product prices, dense: a basket's total reads them at random products.
    prices: Vec<u32>,
    cancel_probability: f64,
}

impl OrderStreams {
    pub fn new(world: &World, config: &SimConfig) -> OrderStreams {
        OrderStreams {
            baskets: stream_rng(config.seed, stream::BASKETS),
            lifecycle: stream_rng(config.seed, stream::LIFECYCLE),
            quantities: QuantityDistribution::default(),
            prices: world.products.iter().map(|p| p.price_cents).collect(),
            cancel_probability: config.profile.weights.cancellation,
        }
    }

    #[inline(always)]
    pub fn draw(&mut self) -> OrderDraws {
        let products = self.prices.len();
        let count = model::line_count(&mut self.baskets).min(products);
        let mut lines = Basket::default();
        while lines.len() < count {
            let product = self.baskets.random_range(0..products) as u32;
            if lines.has_product(product) {
                continue;
            }
            lines.push(Line {
                seq: lines.len() as u8 + 1,
                product,
                quantity: self.quantities.sample(&mut self.baskets),
            });
        }
        let total_cents = total_of(&self.prices, lines.as_slice());

        let life = &mut self.lifecycle;
        let created_ms = model::stage_delay(life, OrderStatus::Created);
        let picking_ms = model::stage_delay(life, OrderStatus::Picking);
        let delivery_ms = model::stage_delay(life, OrderStatus::OutForDelivery);
        let cancel_after_ms = life
            .random_bool(self.cancel_probability)
            // Within CREATED + PICKING, at most 75 minutes: `u32` ms holds it.
            .then(|| life.random_range(0..created_ms + picking_ms) as u32);
        OrderDraws {
            lines,
            total_cents,
            stage_ms: [
                stage_ms(created_ms),
                stage_ms(picking_ms),
                stage_ms(delivery_ms),
            ],
            cancel_after_ms,
        }
    }
}

/// The sum of `lines` at catalogue prices.
fn total_of(prices: &[u32], lines: &[Line]) -> u64 {
    lines
        .iter()
        .map(|l| u64::from(prices[l.product as usize]) * u64::from(l.quantity))
        .sum()
}

/// Every independent draw taken from its stream when asked: the `IndependentDraws` of
/// `Simulation::new`.
#[derive(Clone)]
pub struct StreamDraws {
    pub arrivals: ArrivalProcesses,
    pub orders: OrderStreams,
}

impl StreamDraws {
    pub fn new(world: &World, config: &SimConfig) -> StreamDraws {
        StreamDraws {
            arrivals: ArrivalProcesses::new(world, config),
            orders: OrderStreams::new(world, config),
        }
    }
}

impl IndependentDraws for StreamDraws {
    #[inline(always)]
    fn next_arrival(&mut self, process: usize) -> Option<SimTime> {
        self.arrivals.next_arrival(process)
    }

    #[inline(always)]
    fn next_order(&mut self) -> Option<OrderDraws> {
        Some(self.orders.draw())
    }
}

/// The arrival processes of a simulation, drawing each time when it is asked for: the
/// `ArrivalTimes` of `Simulation::new`.
#[derive(Clone)]
pub struct ArrivalProcesses {
    arrivals: [Arrivals; ARRIVAL_PROCESSES],
    calendar: Calendar,
    end: SimTime,
}

impl ArrivalProcesses {
    /// The processes of a simulation of `world` under `config`: the same times, in the same
    /// order, as the simulation draws for itself.
    pub fn new(world: &World, config: &SimConfig) -> ArrivalProcesses {
        let weights = &config.profile.weights;
        let opm = config.profile.orders_per_minute;
        let rate_of = |process: Process| match process {
            Process::Orders => opm,
            Process::Customers => opm * weights.per_order(weights.customer_creation),
            Process::InventoryUpdates if world.inventory.is_empty() => 0.0,
            Process::InventoryUpdates => opm * weights.per_order(weights.inventory_update),
            Process::Modifications => opm * weights.per_order(weights.order_modification),
        };
        ArrivalProcesses {
            arrivals: PROCESSES.map(|p| {
                Arrivals::new(
                    rate_of(p),
                    stream_rng(config.seed, stream::ARRIVALS_BASE + p as u64),
                )
            }),
            calendar: Calendar::new(config.start),
            end: config.duration,
        }
    }
}

impl ArrivalProcesses {
    /// The next accepted arrival of `process`, None when it has none left before the end.
    #[inline(always)]
    pub fn next_arrival(&mut self, process: usize) -> Option<SimTime> {
        self.arrivals[process].next(&self.calendar, self.end)
    }
}

/// A pending step on the queue. A transition carries what it needs past CREATED, so that
/// only the step out of CREATED reads the order's slot: at 500 k open orders, a slot is a cache
/// miss.
#[derive(Clone, Copy, Debug)]
enum Step {
    Arrival(Process),
    /// The transition out of `from`; `next_delay` is the delay of the stage after PICKING
    /// when `from` is PICKING (the step out of CREATED reads both delays from the slot).
    Advance {
        order: OrderNo,
        from: OrderStatus,
        next_delay: StageDelay,
    },
    Cancel(OrderNo),
}

// A queue entry is its 16-byte key and a step: 8 bytes keep it at 24.
const _: () = assert!(std::mem::size_of::<Step>() == 8);

/// A stage delay in 3 bytes (a stage lasts at most 45 minutes, 2.7 M ms < 2^24), so that a
/// `Step` carrying one stays 8 bytes.
#[derive(Clone, Copy, Debug)]
struct StageDelay([u8; 3]);

impl StageDelay {
    const ZERO: StageDelay = StageDelay([0; 3]);

    fn from_ms(ms: u32) -> StageDelay {
        debug_assert!(ms < 1 << 24);
        let [a, b, c, _] = ms.to_le_bytes();
        StageDelay([a, b, c])
    }

    fn ms(self) -> u32 {
        let [a, b, c] = self.0;
        u32::from_le_bytes([a, b, c, 0])
    }
}

/// An order in CREATED: the set modifications draw from. Its basket is inline, so a
/// modification reads one entry and a new order writes at the end of the set, and so are the
/// delays of the two later stages (drawn at creation, so that a cancellation time can be drawn
/// inside CREATED + PICKING): the step out of CREATED reads this entry, which it must touch
/// anyway to take the order out of the set.
#[derive(Clone, Copy)]
struct CreatedOrder {
    order: OrderNo,
    /// PICKING and OUT_FOR_DELIVERY, at most 45 minutes each: `u32` ms holds them.
    later_delays_ms: [u32; 2],
    next_line_seq: u8,
    total_cents: u64,
    lines: Basket,
}

/// Stock levels are at most `model::MAX_STOCK`, so a `u16` holds one, and this marks an item
/// not touched yet.
const UNTOUCHED_STOCK: u16 = u16::MAX;
const _: () = assert!(model::MAX_STOCK < UNTOUCHED_STOCK as u32);

/// The simulator. Pull events with `next_event` (or iterate); memory stays bounded by the
/// number of open orders, whatever the duration.
pub struct Simulation<'w, A = StreamDraws> {
    world: &'w World,
    end: SimTime,
    queue: HeapQueue<Step>,
    /// The arrival times and the new orders' baskets and lifecycles.
    draws: A,
    order_details: ChaCha8Rng,
    customers: ChaCha8Rng,
    inventory: ChaCha8Rng,
    modifications: ChaCha8Rng,
    quantities: QuantityDistribution,
    /// The stage of each order in CREATED or PICKING.
    open_orders: OpenOrders,
    /// Orders between CREATED and DELIVERED/CANCELLED (those in OUT_FOR_DELIVERY have no slot).
    open_count: usize,
    /// Cancelled orders whose queued `Advance` is stale and not popped yet.
    cancelled: CancelledOrders,
    /// Orders in CREATED, in a deterministic order (appended, taken out by swap-remove), for
    /// modifications to draw from.
    created: Vec<CreatedOrder>,
    orders_created: u32,
    customers_created: u32,
    /// The world's product prices, dense: a basket's total reads them at random products.
    prices: Vec<u32>,
    /// Last stock level written per inventory item; `UNTOUCHED_STOCK` until first touched.
    stock_levels: Vec<u16>,
    skipped_modifications: u64,
    /// The lines `Vec` of a `NewOrder` the caller handed back (`recycle`), reused by the next
    /// new order instead of allocating one.
    spare_lines: Vec<Line>,
}

impl<'w> Simulation<'w> {
    pub fn new(world: &'w World, config: &SimConfig) -> Result<Simulation<'w>, SimError> {
        Simulation::with_draws(world, config, StreamDraws::new(world, config))
    }
}

impl<'w, A: IndependentDraws> Simulation<'w, A> {
    /// A simulation taking its independent draws from `draws`, which must give those of
    /// `StreamDraws::new(world, config)` (or the trace is another one).
    pub fn with_draws(
        world: &'w World,
        config: &SimConfig,
        draws: A,
    ) -> Result<Simulation<'w, A>, SimError> {
        world.validate()?;
        let mut sim = Simulation {
            world,
            end: config.duration,
            queue: HeapQueue::new(),
            draws,
            order_details: stream_rng(config.seed, stream::ORDER_DETAILS),
            customers: stream_rng(config.seed, stream::CUSTOMERS),
            inventory: stream_rng(config.seed, stream::INVENTORY),
            modifications: stream_rng(config.seed, stream::MODIFICATIONS),
            quantities: QuantityDistribution::default(),
            open_orders: OpenOrders::default(),
            open_count: 0,
            cancelled: CancelledOrders::default(),
            created: Vec::new(),
            orders_created: 0,
            customers_created: 0,
            prices: world.products.iter().map(|p| p.price_cents).collect(),
            stock_levels: vec![UNTOUCHED_STOCK; world.inventory.len()],
            skipped_modifications: 0,
            spare_lines: Vec::new(),
        };
        for process in PROCESSES {
            sim.schedule_arrival(process)?;
        }
        Ok(sim)
    }

    /// Virtual time of the last step taken.
    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    pub fn end(&self) -> SimTime {
        self.end
    }

    /// Orders currently between CREATED and DELIVERED/CANCELLED.
    pub fn open_orders(&self) -> usize {
        self.open_count
    }

    /// Modification arrivals that found no CREATED order to modify.
    pub fn skipped_modifications(&self) -> u64 {
        self.skipped_modifications
    }

    /// Takes back an event the caller is done with, so that the next new order reuses its
    /// allocation. Optional: it changes no event.
    pub fn recycle(&mut self, event: Event) {
        if let Action::NewOrder(order) = event.action {
            self.spare_lines = order.lines;
        }
    }

    /// Takes back the lines `Vec` of a new order the caller is done with (as `recycle` does
    /// with the whole event), for the next new order to reuse. Optional: it changes no event.
    pub fn recycle_lines(&mut self, lines: Vec<Line>) {
        self.spare_lines = lines;
    }

    /// The next event, or None when the duration is over.
    ///
    /// Inlined into the caller's loop: returned through memory, the event was written in 2- to
    /// 8-byte pieces and read back at once in 16-byte ones, a load that cannot be forwarded
    /// from those stores and waits for them (perf put a sixth of a stress day's samples on it).
    #[inline(always)]
    pub fn next_event(&mut self) -> Result<Option<Event>, SimError> {
        loop {
            let cancelled = &mut self.cancelled;
            // A cancelled order's transition is the only stale step: exactly one per
            // cancellation, so the bit goes when it pops.
            let live = |_, step: &Step| match *step {
                Step::Advance { order, .. } => !cancelled.remove(order),
                Step::Arrival(_) | Step::Cancel(_) => true,
            };
            let Some((at, step)) = self.queue.pop_live(live) else {
                return Ok(None);
            };
            if at >= self.end {
                return Ok(None);
            }
            self.prefetch_ahead();
            let action = match step {
                Step::Arrival(process) => {
                    self.schedule_arrival(process)?;
                    self.arrive(process)?
                }
                Step::Advance {
                    order,
                    from,
                    next_delay,
                } => Some(self.advance(order, from, next_delay.ms())?),
                Step::Cancel(order) => Some(self.cancel(order)?),
            };
            if let Some(action) = action {
                return Ok(Some(Event { at, action }));
            }
        }
    }

    /// Starts loading what the step out of CREATED of an order due soon reads: the order's
    /// stage now, its CREATED entry (found through that stage, loaded by now) a few steps
    /// later. At 500 k open orders both are cache misses, at random places; a step out of
    /// CREATED is about one in five.
    fn prefetch_ahead(&self) {
        /// Steps ahead: far enough for a miss to complete (a step takes 0.1-0.3 µs), near
        /// enough for the lines to stay in cache.
        const STAGE_AHEAD: usize = 16;
        const ENTRY_AHEAD: usize = 8;
        let leaving_created = |k| match self.queue.ahead(k) {
            Some(&Step::Advance {
                order,
                from: OrderStatus::Created,
                ..
            }) => Some(order),
            _ => None,
        };
        if let Some(order) = leaving_created(STAGE_AHEAD) {
            self.open_orders.prefetch(order);
        }
        if let Some(order) = leaving_created(ENTRY_AHEAD) {
            if let Some(Stage::Created(position)) = self.open_orders.get(order) {
                if let Some(entry) = self.created.get(position as usize) {
                    // The swap-remove copies a whole entry into it: every line, not the first.
                    prefetch::prefetch_all(entry);
                }
            }
        }
    }

    fn schedule_arrival(&mut self, process: Process) -> Result<(), SimError> {
        if let Some(at) = self.draws.next_arrival(process as usize) {
            self.queue.schedule(at, Step::Arrival(process))?;
        }
        Ok(())
    }

    #[inline(always)]
    fn arrive(&mut self, process: Process) -> Result<Option<Action>, SimError> {
        Ok(match process {
            Process::Orders => Some(self.new_order()?),
            Process::Customers => Some(self.new_customer()),
            Process::InventoryUpdates => Some(self.inventory_update()),
            Process::Modifications => self.modification(),
        })
    }

    #[inline(always)]
    fn new_customer(&mut self) -> Action {
        self.customers_created += 1;
        let rng = &mut self.customers;
        Action::NewCustomer {
            customer: self.customers_created,
            home_store: rng.random_range(0..self.world.stores.len()) as u32,
            persona: model::persona(rng),
        }
    }

    #[inline(always)]
    fn new_order(&mut self) -> Result<Action, SimError> {
        self.orders_created += 1;
        let order = self.orders_created;
        let now = self.queue.now();

        let details = &mut self.order_details;
        let existing = self.world.customers.len() as u32;
        let pick = details.random_range(0..existing + self.customers_created);
        let customer = if pick < existing {
            CustomerRef::Existing(pick)
        } else {
            CustomerRef::New(pick - existing + 1)
        };
        let store = details.random_range(0..self.world.stores.len()) as u32;
        let (window_start_min, window_len_min) = model::delivery_window(details);

        let Some(draws) = self.draws.next_order() else {
            return Err(SimError::NoOrderDraws(order));
        };
        let [created_ms, picking_ms, delivery_ms] = draws.stage_ms;
        self.queue.schedule(
            now.saturating_add_ms(u64::from(created_ms)),
            Step::Advance {
                order,
                from: OrderStatus::Created,
                next_delay: StageDelay::ZERO,
            },
        )?;
        if let Some(after_ms) = draws.cancel_after_ms {
            self.queue.schedule(
                now.saturating_add_ms(u64::from(after_ms)),
                Step::Cancel(order),
            )?;
        }
        self.open_count += 1;
        self.open_orders
            .push(order, Stage::Created(self.created.len() as u32));
        let (lines, total_cents) = (draws.lines, draws.total_cents);
        self.created.push(CreatedOrder {
            order,
            later_delays_ms: [picking_ms, delivery_ms],
            next_line_seq: lines.len() as u8 + 1,
            total_cents,
            lines,
        });
        Ok(Action::NewOrder(NewOrder {
            order,
            customer,
            store,
            window_start_min,
            window_len_min,
            lines: {
                let mut spare = std::mem::take(&mut self.spare_lines);
                spare.clear();
                spare.extend_from_slice(lines.as_slice());
                spare
            },
            total_cents,
        }))
    }

    /// Takes the order at `position` out of the CREATED set (swap-remove, fixing the stage of
    /// the order moved into its place) and returns its entry.
    fn leave_created(&mut self, position: u32) -> CreatedOrder {
        let gone = self.created.swap_remove(position as usize);
        if let Some(moved) = self.created.get(position as usize) {
            self.open_orders.set(moved.order, Stage::Created(position));
        }
        gone
    }

    #[inline(always)]
    fn advance(
        &mut self,
        order: OrderNo,
        from: OrderStatus,
        next_delay_ms: u32,
    ) -> Result<Action, SimError> {
        let now = self.queue.now();
        let to = from.next().unwrap_or(OrderStatus::Delivered);
        let next = match from {
            OrderStatus::Created => {
                let Some(Stage::Created(position)) = self.open_orders.get(order) else {
                    return Err(SimError::OrderNotOpen(order));
                };
                self.open_orders.set(order, Stage::Picking);
                let [picking_ms, delivery_ms] = self.leave_created(position).later_delays_ms;
                Some((picking_ms, delivery_ms))
            }
            OrderStatus::Picking => {
                // No cancellation can come after PICKING (it is drawn inside CREATED +
                // PICKING), so the order needs no slot any more. `clear` only stores: the
                // step carries the delay, so nothing waits for the slot's cache line.
                self.open_orders.clear(order);
                Some((next_delay_ms, 0))
            }
            _ => {
                self.open_count -= 1;
                None
            }
        };
        if let Some((delay_ms, next_delay_ms)) = next {
            self.queue.schedule(
                now.saturating_add_ms(u64::from(delay_ms)),
                Step::Advance {
                    order,
                    from: to,
                    next_delay: StageDelay::from_ms(next_delay_ms),
                },
            )?;
        }
        Ok(Action::Transition { order, from, to })
    }

    /// Closes the order; its queued transition is now stale and dropped when popped.
    #[inline(always)]
    fn cancel(&mut self, order: OrderNo) -> Result<Action, SimError> {
        let from = match self.open_orders.remove(order) {
            Some(Stage::Created(position)) => {
                self.leave_created(position);
                OrderStatus::Created
            }
            Some(Stage::Picking) => OrderStatus::Picking,
            None => return Err(SimError::OrderNotOpen(order)),
        };
        self.open_count -= 1;
        self.cancelled.insert(order);
        Ok(Action::Transition {
            order,
            from,
            to: OrderStatus::Cancelled,
        })
    }

    #[inline(always)]
    fn modification(&mut self) -> Option<Action> {
        if self.created.is_empty() {
            self.skipped_modifications += 1;
            return None;
        }
        let rng = &mut self.modifications;
        let slot = rng.random_range(0..self.created.len());
        let products = self.world.products.len();
        let created = &mut self.created[slot];
        let order = created.order;
        let lines = &mut created.lines;
        let can_remove = lines.len() > 1;
        let can_add = lines.len() < model::MAX_LINES.min(products);
        let remove = can_remove && (!can_add || rng.random_bool(0.5));
        if remove {
            let line = lines.remove(rng.random_range(0..lines.len()));
            created.total_cents -=
                u64::from(self.prices[line.product as usize]) * u64::from(line.quantity);
            return Some(Action::RemoveLine {
                order,
                seq: line.seq,
                total_cents: created.total_cents,
            });
        }
        if !can_add {
            self.skipped_modifications += 1;
            return None;
        }
        let product = loop {
            let p = rng.random_range(0..products) as u32;
            if !lines.has_product(p) {
                break p;
            }
        };
        let line = Line {
            seq: created.next_line_seq,
            product,
            quantity: self.quantities.sample(rng),
        };
        created.next_line_seq += 1;
        lines.push(line);
        created.total_cents += u64::from(self.prices[product as usize]) * u64::from(line.quantity);
        Some(Action::AddLine {
            order,
            line,
            total_cents: created.total_cents,
        })
    }

    #[inline(always)]
    fn inventory_update(&mut self) -> Action {
        let rng = &mut self.inventory;
        let item = rng.random_range(0..self.world.inventory.len());
        let current = match self.stock_levels[item] {
            UNTOUCHED_STOCK => model::initial_stock(rng),
            level => u32::from(level),
        };
        let stock_level = model::next_stock_level(rng, current);
        // At most MAX_STOCK (or the initial level, at most 200): `u16` holds it.
        debug_assert!(stock_level < u32::from(UNTOUCHED_STOCK));
        self.stock_levels[item] = stock_level as u16;
        Action::InventoryUpdate {
            item: item as u32,
            stock_level,
        }
    }
}

impl<A: IndependentDraws> Iterator for Simulation<'_, A> {
    type Item = Result<Event, SimError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::builtin_world;

    #[test]
    fn round_to_u64_is_round_then_cast() {
        use rand::{Rng, SeedableRng};
        let mut cases = vec![
            0.0,
            -0.0,
            0.5,
            0.49999999999999994,
            1.5,
            2.5,
            -0.5,
            -0.7,
            -3.2,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            4503599627370495.5,
            4503599627370497.0,
            9007199254740993.0,
            18446744073709549568.0,
            18446744073709551616.0,
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..1_000_000 {
            cases.push(rng.random::<f64>() * 1e9);
            cases.push((rng.random_range(0..1u64 << 40) as f64) + 0.5);
            cases.push(f64::from_bits(rng.random::<u64>()));
        }
        for x in cases {
            let next = f64::from_bits(x.to_bits().wrapping_add(1));
            let prev = f64::from_bits(x.to_bits().wrapping_sub(1));
            for y in [x, next, prev] {
                assert_eq!(round_to_u64(y), y.round() as u64, "{y:e}");
            }
        }
    }

    /// The cached acceptance is the calendar's until exactly the next local hour, from starts
    /// that put the hour boundaries at odd places (a half-hour offset, seconds and ms), asked at
    /// a boundary and at random times inside an hour.
    #[test]
    fn acceptance_holds_until_the_hour_ends() {
        use rand::{Rng, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for start in [
            "2026-01-05T00:00:00Z",
            "2026-03-01T17:30:00+05:30",
            "2026-06-30T23:59:59.999-04:00",
            "2026-01-05T09:17:42.123Z",
        ] {
            let calendar = Calendar::new(chrono::DateTime::parse_from_rfc3339(start).unwrap());
            let mut at = SimTime::ZERO;
            for step in 0..200 {
                let (accept, hour_end) = acceptance_until(&calendar, at);
                let hour = calendar.hour_at(at);
                assert!(
                    hour_end > at.0 && hour_end - at.0 <= MS_PER_HOUR,
                    "{start} {at}"
                );
                assert_eq!(
                    calendar.hour_at(SimTime(hour_end - 1)),
                    hour,
                    "{start} {at}"
                );
                assert_ne!(calendar.hour_at(SimTime(hour_end)), hour, "{start} {at}");
                for t in [at.0, hour_end - 1, rng.random_range(at.0..hour_end)] {
                    let want = calendar.multiplier_at(SimTime(t)) / PEAK_MULTIPLIER_MAX;
                    assert_eq!(accept.to_bits(), want.to_bits(), "{start} at {t} ms");
                }
                // Next at the boundary itself, or somewhere inside the next hour.
                at = SimTime(hour_end + (step % 2) * rng.random_range(0..MS_PER_HOUR));
            }
        }
    }

    /// Handing events back changes none of the events that follow.
    #[test]
    fn recycled_events_change_nothing() {
        let world = builtin_world();
        let config = SimConfig {
            seed: 9,
            profile: crate::profile::LoadProfile::named("stress").unwrap(),
            start: chrono::DateTime::parse_from_rfc3339("2026-01-05T17:00:00Z").unwrap(),
            duration: SimTime(3_600_000),
        };
        let plain: Vec<Event> = Simulation::new(&world, &config)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut sim = Simulation::new(&world, &config).unwrap();
        let mut recycled = 0;
        for expected in &plain {
            let event = sim.next_event().unwrap().expect("as many events");
            assert_eq!(&event, expected);
            recycled += usize::from(matches!(event.action, Action::NewOrder(_)));
            sim.recycle(event);
        }
        assert_eq!(sim.next_event().unwrap(), None);
        assert!(recycled > 5_000, "{recycled}");
    }

    /// The count includes orders OUT_FOR_DELIVERY, which have no slot any more, and every
    /// cancellation finds its order (the stale steps are dropped, never turned into events).
    #[test]
    fn open_orders_follow_the_events() {
        let world = builtin_world();
        let config = SimConfig {
            seed: 42,
            profile: crate::profile::LoadProfile::named("stress").unwrap(),
            start: chrono::DateTime::parse_from_rfc3339("2026-01-05T17:00:00Z").unwrap(),
            duration: SimTime(3 * 3_600_000),
        };
        let mut sim = Simulation::new(&world, &config).unwrap();
        let (mut open, mut most, mut cancelled, mut out_for_delivery) = (0usize, 0, 0, 0);
        while let Some(event) = sim.next_event().unwrap() {
            match event.action {
                Action::NewOrder(_) => open += 1,
                Action::Transition { from, to, .. } => {
                    if to == OrderStatus::Cancelled {
                        assert!(matches!(from, OrderStatus::Created | OrderStatus::Picking));
                        cancelled += 1;
                    }
                    if to == OrderStatus::OutForDelivery {
                        out_for_delivery += 1;
                    }
                    if matches!(to, OrderStatus::Delivered | OrderStatus::Cancelled) {
                        open -= 1;
                    }
                }
                _ => {}
            }
            assert_eq!(sim.open_orders(), open);
            most = most.max(open);
        }
        assert!(most > 5_000, "{most}");
        assert!(cancelled > 100 && out_for_delivery > 10_000);
    }
}
