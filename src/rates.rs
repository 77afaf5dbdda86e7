//! Offered load in the units FreshMart users know: activities, requests and triples per
//! minute. Triples are counted through the contract (the writes each event becomes), never
//! from a table of sizes, so they follow the requests if the contract changes.

use std::sync::Arc;

use crate::contract::RequestContext;
use crate::event::Activity;
use crate::profile::LoadProfile;
use crate::sim::{SimConfig, SimError, Simulation};
use crate::time::{Calendar, SimTime};
use crate::world::World;

/// What a simulated span offers, counted event by event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfferedLoad {
    pub duration_ms: u64,
    pub orders: u64,
    pub events: u64,
    pub requests: u64,
    pub triples: u64,
    /// Events and triples of each activity, in `Activity::ALL` order.
    pub by_activity: [(u64, u64); 6],
}

impl OfferedLoad {
    /// Simulates `duration_ms` of `profile` with `seed` from `calendar`'s start and counts it.
    pub fn simulate(
        world: &World,
        profile: &LoadProfile,
        calendar: &Calendar,
        seed: u64,
        duration_ms: u64,
    ) -> Result<OfferedLoad, SimError> {
        let config = SimConfig {
            seed,
            profile: profile.clone(),
            start: calendar.start(),
            duration: SimTime(duration_ms),
        };
        let contract = RequestContext {
            world: Arc::new(world.clone()),
            run_id: None,
            calendar: calendar.clone(),
            shift: chrono::Duration::zero(),
        };
        let mut sim = Simulation::new(world, &config)?;
        let mut load = OfferedLoad {
            duration_ms,
            ..OfferedLoad::default()
        };
        let mut counter = contract.triple_counter();
        while let Some(event) = sim.next_event()? {
            let activity = event.action.activity();
            let triples = counter.count(&event);
            load.events += 1;
            load.requests += u64::from(event.action.request_count());
            load.orders += u64::from(activity == Activity::NewOrder);
            load.triples += triples;
            let slot = &mut load.by_activity[activity.index()];
            slot.0 += 1;
            slot.1 += triples;
        }
        Ok(load)
    }

    /// `(activities, requests, triples)` per minute over the span.
    pub fn per_minute(&self) -> (f64, f64, f64) {
        let minutes = (self.duration_ms as f64 / 60_000.0).max(f64::MIN_POSITIVE);
        (
            self.events as f64 / minutes,
            self.requests as f64 / minutes,
            self.triples as f64 / minutes,
        )
    }

    /// Mean triples of one event of `activity` (0 when the span had none).
    pub fn triples_per_event(&self, activity: Activity) -> f64 {
        let (events, triples) = self.by_activity[activity.index()];
        if events == 0 {
            0.0
        } else {
            triples as f64 / events as f64
        }
    }
}

/// Events of each activity one order brings in steady state with `profile`'s mix (the model
/// of `start`'s requests per order): its creation, three transitions or one cancellation, and
/// its share of modifications, new customers and inventory updates.
pub fn events_per_order(profile: &LoadProfile) -> [(Activity, f64); 6] {
    let w = &profile.weights;
    let c = w.cancellation;
    [
        (Activity::NewOrder, 1.0),
        (Activity::StatusTransition, 3.0 * (1.0 - c)),
        (
            Activity::OrderModification,
            w.per_order(w.order_modification),
        ),
        (Activity::CustomerCreation, w.per_order(w.customer_creation)),
        (Activity::InventoryUpdate, w.per_order(w.inventory_update)),
        (Activity::Cancellation, c),
    ]
}

/// `(activities, triples)` per minute in steady state at `orders_per_minute`, with the triples
/// of each kind of event measured on `sample` (a simulation through the contract).
pub fn steady_state(
    profile: &LoadProfile,
    orders_per_minute: f64,
    sample: &OfferedLoad,
) -> (f64, f64) {
    let per_order = events_per_order(profile);
    let activities: f64 = per_order.iter().map(|(_, n)| n).sum();
    let triples: f64 = per_order
        .iter()
        .map(|(a, n)| n * sample.triples_per_event(*a))
        .sum();
    (orders_per_minute * activities, orders_per_minute * triples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_state_weighs_each_kind_by_its_measured_triples() {
        let profile = LoadProfile::named("demo").unwrap();
        let mut sample = OfferedLoad {
            duration_ms: 60_000,
            ..OfferedLoad::default()
        };
        // 28 triples per creation, 1 per transition, 3 per modification (two writes), 4 per
        // new customer, 1 per inventory update and cancellation.
        for (activity, events, triples) in [
            (Activity::NewOrder, 10, 280),
            (Activity::StatusTransition, 30, 30),
            (Activity::OrderModification, 2, 6),
            (Activity::CustomerCreation, 1, 4),
            (Activity::InventoryUpdate, 3, 3),
            (Activity::Cancellation, 1, 1),
        ] {
            sample.by_activity[activity.index()] = (events, triples);
        }
        let (activities, triples) = steady_state(&profile, 2.0, &sample);
        // Spec mix: per order 1 + 2.85 + 0.25 + 0.125 + 0.25 + 0.05 events.
        assert!((activities - 2.0 * 4.525).abs() < 1e-9, "{activities}");
        let want = 2.0 * (28.0 + 2.85 + 0.25 * 3.0 + 0.125 * 4.0 + 0.25 + 0.05);
        assert!((triples - want).abs() < 1e-9, "{triples}");
    }
}
