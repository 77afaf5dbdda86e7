//! `loadgen profiles`: the built-in profiles and, with --profile-file, a custom one.

use std::process::ExitCode;

use crate::cli::ProfilesArgs;
use crate::profile::LoadProfile;

pub fn run(args: ProfilesArgs) -> anyhow::Result<ExitCode> {
    let mut profiles = LoadProfile::builtins();
    if let Some(path) = &args.profile_file {
        profiles.push(LoadProfile::from_file(path)?);
    }
    crate::outln!("Available load profiles");
    crate::outln!("{}", "=".repeat(60));
    for profile in &profiles {
        crate::out!("{}", render(profile));
    }
    Ok(ExitCode::SUCCESS)
}

/// One profile as the spec's "Load Profiles" section describes it.
pub fn render(p: &LoadProfile) -> String {
    let duration = match p.duration_minutes {
        0 => "until interrupted".to_string(),
        m => format!("{m} minutes"),
    };
    let mut out = format!(
        "\n{} - {}\n  Target: {} orders/min\n  Concurrent workflows: {}\n  Duration: {duration}\n  Use case: {}\n  Activity weights:\n",
        p.name, p.description, p.orders_per_minute, p.concurrent_workflows, p.use_case
    );
    for (field, weight) in p.weights.named() {
        let label = field.trim_end_matches("_weight").replace('_', " ");
        out.push_str(&format!("    {label:<20} {:>5.1}%\n", weight * 100.0));
    }
    out
}
