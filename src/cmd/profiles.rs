//! `loadgen profiles`: the built-in profiles and, with --profile-file, a custom one.

use crate::cli::ProfilesArgs;
use crate::event::Activity;
use crate::profile::LoadProfile;

pub fn run(args: ProfilesArgs) -> anyhow::Result<()> {
    let mut profiles = LoadProfile::builtins();
    if let Some(path) = &args.profile_file {
        profiles.push(LoadProfile::from_file(path)?);
    }
    crate::outln!("Available load profiles");
    crate::outln!("{}", "=".repeat(60));
    for profile in &profiles {
        crate::out!("{}", render(profile));
    }
    Ok(())
}

/// One profile as the spec's "Load Profiles" section describes it, plus what the model
/// produces from it: each activity's expected count per hour at 1x and its share of all
/// activities (the weights are inputs of the model, not the mix it realises).
pub fn render(p: &LoadProfile) -> String {
    use std::fmt::Write as _;
    let duration = match p.duration_minutes {
        0 => "until interrupted".to_string(),
        m => format!("{m} minutes"),
    };
    let mut out = format!(
        "\n{} - {}\n  Target: {} orders/min\n  Concurrent workflows: {}\n  Duration: {duration}\n  Use case: {}\n",
        p.name, p.description, p.orders_per_minute, p.concurrent_workflows, p.use_case
    );
    let per_hour = crate::mix::per_hour(p);
    let total: f64 = per_hour.iter().sum();
    let _ = writeln!(
        out,
        "  Activity weights, and what the model produces (per hour at 1x; x0.3 at night to x2.5 at 17-20):"
    );
    for (activity, (field, weight)) in Activity::ALL.iter().zip(p.weights.named()) {
        let label = field.trim_end_matches("_weight").replace('_', " ");
        let n = per_hour[activity.index()];
        let _ = write!(
            out,
            "    {label:<20} {:>5.1}%  {n:>9.0}/h  {:>5.1}% of activities",
            weight * 100.0,
            100.0 * n / total
        );
        if *activity == Activity::StatusTransition {
            let _ = write!(
                out,
                "  (weight not used: {:.2} per order, from the lifecycle)",
                crate::mix::transitions_per_order(p.weights.cancellation)
            );
        }
        out.push('\n');
    }
    let day = crate::mix::day_in_nominal_hours();
    let _ = writeln!(
        out,
        "  A whole day (the peak-hour curve amounts to {day:.1} hours at 1x): {:.0} orders, {:.0} activities",
        per_hour[Activity::NewOrder.index()] * day,
        total * day
    );
    out
}
