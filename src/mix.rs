//! The activity mix the simulator's model really produces from a profile, derived from the
//! model rather than read off the weights: orders arrive at `orders_per_minute` times the hour's
//! multiplier; new customers, inventory updates and modifications arrive in proportion to
//! orders (`weight / new_order_weight`); every order then lives its lifecycle: three status
//! transitions, or, with the cancellation probability, a cancellation at a uniform instant of
//! its CREATED and PICKING stages (after the first transition when it falls in PICKING). The
//! status-transition weight has no effect: `loadgen profiles` shows it as derived.

use crate::event::{Activity, OrderStatus};
use crate::profile::LoadProfile;
use crate::sim::model::stage_bounds_minutes;
use crate::time::{peak_multiplier, Calendar, SimTime, MS_PER_MINUTE};

/// Expected events of each activity, indexed by `Activity::index`.
pub type Counts = [f64; 6];

/// Points per axis of the grid that averages over the CREATED and PICKING stage delays.
const GRID: u32 = 400;

/// Status transitions one order makes on average: 3 if it is delivered; if it is cancelled,
/// 1 when the cancellation falls in PICKING (probability `P / (C + P)` for stage delays C and
/// P, averaged over their uniform ranges), else 0.
pub fn transitions_per_order(cancellation: f64) -> f64 {
    let (c_lo, c_hi) = stage_bounds_minutes(OrderStatus::Created).unwrap_or((0, 0));
    let (p_lo, p_hi) = stage_bounds_minutes(OrderStatus::Picking).unwrap_or((0, 0));
    let at = |lo: u64, hi: u64, i: u32| {
        lo as f64 + (hi - lo) as f64 * (f64::from(i) + 0.5) / f64::from(GRID)
    };
    let mut in_picking = 0.0;
    for i in 0..GRID {
        let created = at(c_lo, c_hi, i);
        for j in 0..GRID {
            let picking = at(p_lo, p_hi, j);
            in_picking += picking / (created + picking);
        }
    }
    in_picking /= f64::from(GRID * GRID);
    (1.0 - cancellation) * 3.0 + cancellation * in_picking
}

/// Expected events per order created, by activity.
pub fn per_order(profile: &LoadProfile) -> Counts {
    let w = &profile.weights;
    let mut out = [0.0; 6];
    out[Activity::NewOrder.index()] = 1.0;
    out[Activity::StatusTransition.index()] = transitions_per_order(w.cancellation);
    out[Activity::Cancellation.index()] = w.cancellation;
    out[Activity::OrderModification.index()] = w.per_order(w.order_modification);
    out[Activity::CustomerCreation.index()] = w.per_order(w.customer_creation);
    out[Activity::InventoryUpdate.index()] = w.per_order(w.inventory_update);
    out
}

/// Expected events per hour at a multiplier of 1x.
pub fn per_hour(profile: &LoadProfile) -> Counts {
    per_order(profile).map(|n| n * profile.orders_per_minute * 60.0)
}

/// Hours at 1x that a whole local day amounts to (the sum of the 24 hourly multipliers).
pub fn day_in_nominal_hours() -> f64 {
    (0..24).map(peak_multiplier).sum()
}

/// Points per axis of the grid for orders near the end of a run.
const EDGE_GRID: u32 = 24;

/// Transitions and cancellations one order has made `r` minutes after its creation (its
/// stage delays C, P, D averaged over their uniform ranges; a cancellation falls uniformly in
/// `[0, C + P)`, after the first transition with probability `P / (C + P)`).
fn done_within(r: f64, cancellation: f64) -> (f64, f64) {
    let bounds = |s| stage_bounds_minutes(s).unwrap_or((0, 0));
    let (c, p, d) = (
        bounds(OrderStatus::Created),
        bounds(OrderStatus::Picking),
        bounds(OrderStatus::OutForDelivery),
    );
    let at = |(lo, hi): (u64, u64), i: u32| {
        lo as f64 + (hi - lo) as f64 * (f64::from(i) + 0.5) / f64::from(EDGE_GRID)
    };
    let (mut delivered_path, mut cancelled_transitions, mut cancelled) = (0.0, 0.0, 0.0);
    for i in 0..EDGE_GRID {
        let created = at(c, i);
        for j in 0..EDGE_GRID {
            let picking = at(p, j);
            cancelled_transitions +=
                f64::from(u8::from(created <= r)) * picking / (created + picking);
            cancelled += (r / (created + picking)).min(1.0);
            for k in 0..EDGE_GRID {
                let steps = [created, created + picking, created + picking + at(d, k)];
                delivered_path += steps.iter().filter(|&&t| t <= r).count() as f64;
            }
        }
    }
    let n2 = f64::from(EDGE_GRID * EDGE_GRID);
    let transitions = (1.0 - cancellation) * delivered_path / (n2 * f64::from(EDGE_GRID))
        + cancellation * cancelled_transitions / n2;
    (transitions, cancellation * cancelled / n2)
}

/// Expected events of a simulation that starts at `calendar`'s start and runs `duration_ms`,
/// following the peak-hour curve minute by minute; orders of the last hour and a half are
/// counted with only the part of their lifecycle that fits in the run.
pub fn over(profile: &LoadProfile, calendar: &Calendar, duration_ms: u64) -> Counts {
    let whole: u64 = [
        OrderStatus::Created,
        OrderStatus::Picking,
        OrderStatus::OutForDelivery,
    ]
    .iter()
    .filter_map(|s| stage_bounds_minutes(*s))
    .map(|(_, hi)| hi)
    .sum();
    let per = per_order(profile);
    let c = profile.weights.cancellation;
    let minutes = duration_ms.div_ceil(MS_PER_MINUTE);
    let mut out = [0.0; 6];
    for m in 0..minutes {
        let span_ms = (duration_ms - m * MS_PER_MINUTE).min(MS_PER_MINUTE);
        let orders = profile.orders_per_minute
            * calendar.multiplier_at(SimTime(m * MS_PER_MINUTE))
            * span_ms as f64
            / MS_PER_MINUTE as f64;
        let remaining = (duration_ms - m * MS_PER_MINUTE) as f64 / MS_PER_MINUTE as f64 - 0.5;
        for (slot, n) in out.iter_mut().zip(per) {
            *slot += n * orders;
        }
        if remaining < whole as f64 {
            let (transitions, cancellations) = done_within(remaining.max(0.0), c);
            out[Activity::StatusTransition.index()] -=
                orders * (per[Activity::StatusTransition.index()] - transitions);
            out[Activity::Cancellation.index()] -=
                orders * (per[Activity::Cancellation.index()] - cancellations);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_lifecycle() {
        assert_eq!(transitions_per_order(0.0), 3.0);
        // Always cancelled: in PICKING with probability E[P / (C + P)], C in 5-30, P in 10-20.
        let cancelled = transitions_per_order(1.0);
        assert!((0.45..0.50).contains(&cancelled), "{cancelled}");
        let spec = transitions_per_order(0.05);
        assert!((2.87..2.88).contains(&spec), "{spec}");
    }

    #[test]
    fn an_order_finishes_its_lifecycle_within_95_minutes() {
        let (t, c) = done_within(95.0, 0.05);
        assert!((t - transitions_per_order(0.05)).abs() < 0.01, "{t}");
        assert!((c - 0.05).abs() < 1e-9, "{c}");
        assert_eq!(done_within(0.0, 0.05).0, 0.0);
        assert_eq!(done_within(4.9, 0.0), (0.0, 0.0));
    }

    #[test]
    fn a_standard_hour_is_mostly_transitions() {
        let standard = LoadProfile::named("standard").unwrap();
        let hour = per_hour(&standard);
        assert_eq!(hour[Activity::NewOrder.index()], 1200.0);
        assert_eq!(hour[Activity::CustomerCreation.index()], 150.0);
        assert_eq!(hour[Activity::Cancellation.index()], 60.0);
        let total: f64 = hour.iter().sum();
        let share = hour[Activity::StatusTransition.index()] / total;
        assert!((0.62..0.64).contains(&share), "{share}");
        assert!((day_in_nominal_hours() - 25.9).abs() < 1e-9);
    }
}
