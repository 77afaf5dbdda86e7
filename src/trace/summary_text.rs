//! The text `loadgen inspect` prints of a trace summary: counts, the realised mix, orders per
//! hour, the offered load and the stage durations.

use std::fmt::Write as _;

use crate::event::Activity;
use crate::sim::time::{Calendar, SimTime, MS_PER_HOUR};
use crate::trace::summary::{TraceSummary, STAGES};
use crate::trace::TraceHeader;

const BAR_WIDTH: u64 = 50;

pub fn render(header: &TraceHeader, s: &TraceSummary) -> anyhow::Result<String> {
    let calendar = Calendar::new(header.start_instant()?);
    let p = &header.profile;
    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "Trace")?;
    writeln!(w, "{}", "=".repeat(60))?;
    writeln!(w, "Generator: {}", header.generator)?;
    writeln!(w, "Seed: {}", header.seed)?;
    writeln!(
        w,
        "Profile: {} - {} ({} orders/min, {} concurrent workflows)",
        p.name, p.description, p.orders_per_minute, p.concurrent_workflows
    )?;
    writeln!(
        w,
        "World: {} ({} stores, {} products, {} customers, {} inventory items)",
        header.world.name,
        header.world.stores.len(),
        header.world.products.len(),
        header.world.customers.len(),
        header.world.inventory.len()
    )?;
    writeln!(w, "Start: {}", header.start)?;
    writeln!(w, "Duration: {}", SimTime(header.duration_ms))?;
    writeln!(w, "Events: {}", s.events)?;

    writeln!(w, "\nActivities (realised mix)")?;
    let orders = s.count(Activity::NewOrder).max(1) as f64;
    for activity in Activity::ALL {
        writeln!(
            w,
            "  {:<22} {:>9}  {:>5.1}%  {:>6.3} per order",
            activity.label(),
            s.count(activity),
            s.share(activity) * 100.0,
            s.count(activity) as f64 / orders
        )?;
    }

    writeln!(w, "\nOrders per hour (local time of day)")?;
    let peak = s.orders_per_hour.iter().copied().max().unwrap_or(0).max(1);
    for hour in 0..s.hours() {
        let count = s.orders_in_hour(hour);
        let at = SimTime(hour * MS_PER_HOUR);
        let label = calendar.instant_at(at).format("%a %H:%M");
        let bar = "#".repeat((count * BAR_WIDTH).div_ceil(peak) as usize);
        writeln!(
            w,
            "  {label}  x{:<3} {count:>7}  {bar}",
            calendar.multiplier_at(at)
        )?;
    }

    let (mean, max) = s.requests_per_minute_mean_max();
    writeln!(w, "\nOffered load")?;
    writeln!(w, "  Requests: {}", s.total_requests())?;
    writeln!(w, "  Requests per minute: mean {mean:.1}, max {max}")?;
    let (mean, max) = s.activities_per_minute_mean_max();
    writeln!(w, "  Activities per minute: mean {mean:.1}, max {max}")?;
    writeln!(w, "  Triples: {}", s.total_triples())?;
    let (mean, max) = s.triples_per_minute_mean_max();
    writeln!(w, "  Triples per minute: mean {mean:.1}, max {max}")?;
    writeln!(
        w,
        "  Peak open orders: {} at {}",
        s.peak_open_orders,
        calendar.instant_at(s.peak_open_at).format("%a %H:%M:%S")
    )?;

    writeln!(w, "\nStage durations (completed stages)")?;
    for (stage, stats) in STAGES.iter().zip(&s.stages) {
        writeln!(
            w,
            "  {:<17} n={:<8} min {:>5.1} min, mean {:>5.1} min, max {:>5.1} min",
            stage.as_api(),
            stats.count,
            stats.min_ms as f64 / 60_000.0,
            stats.mean_ms() / 60_000.0,
            stats.max_ms as f64 / 60_000.0
        )?;
    }
    Ok(out)
}
