//! The mix `loadgen profiles` shows is the mix the simulator produces (issue 8, item 19): the
//! expected counts of each activity, derived from the model, agree with a simulated standard
//! day (seed 19); and the status-transition weight, which the model does not use, may be left
//! out of a profile file.
//!
//! Tolerance: 4 standard deviations of a Poisson count (the arrivals are Poisson), plus 0.5%
//! for the model's numerical averaging over stage delays.

mod common;
#[path = "common/harness.rs"]
mod harness;

use loadgen::event::Activity;
use loadgen::mix;
use loadgen::sim::time::Calendar;
use loadgen::world::builtin_world;

const DAY_MS: u64 = 24 * 3_600_000;

#[test]
fn a_simulated_standard_day_matches_the_derived_mix() {
    let config = common::config("standard", 19, common::DEFAULT_START, DAY_MS);
    let events = common::simulate(&builtin_world(), &config);
    let mut got = [0u64; 6];
    for event in &events {
        got[event.action.activity().index()] += 1;
    }
    let expected = mix::over(&config.profile, &Calendar::new(config.start), DAY_MS);
    for activity in Activity::ALL {
        let (g, e) = (got[activity.index()] as f64, expected[activity.index()]);
        let tolerance = 4.0 * e.sqrt() + 0.005 * e;
        assert!(
            (g - e).abs() <= tolerance,
            "{}: simulated {g}, expected {e:.0} ± {tolerance:.0}",
            activity.key()
        );
    }
    // The figure: about 62% of a standard day's activities are transitions, not 30%.
    let share = got[Activity::StatusTransition.index()] as f64 / events.len() as f64;
    assert!((0.60..0.65).contains(&share), "{share}");
}

#[test]
fn profiles_shows_the_expected_counts_beside_the_weights() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = harness::loadgen_in(dir.path(), &["profiles"]);
    harness::assert_exit(&out, 0, "profiles");
    let text = harness::stdout(&out);
    let standard = loadgen::profile::LoadProfile::named("standard").unwrap();
    let per_hour = mix::per_hour(&standard);
    let section = &text[text.find("standard - ").expect("standard")..];
    let line = |label: &str| {
        section
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` line:\n{section}"))
            .to_string()
    };
    let transitions = line("status transition");
    assert!(transitions.contains("30.0%"), "{transitions}");
    assert!(
        transitions.contains(&format!(
            "{:.0}/h",
            per_hour[Activity::StatusTransition.index()]
        )),
        "{transitions}"
    );
    assert!(transitions.contains("63.2% of activities"), "{transitions}");
    assert!(transitions.contains("weight not used"), "{transitions}");
    assert!(line("new order").contains("1200/h"), "{section}");
}

#[test]
fn a_profile_file_may_leave_the_status_transition_weight_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("custom.toml"),
        "name = \"custom\"\norders_per_minute = 100\nconcurrent_workflows = 200\n\
         duration_minutes = 60\nnew_order_weight = 0.50\norder_modification_weight = 0.10\n\
         customer_creation_weight = 0.05\ninventory_update_weight = 0.05\n\
         cancellation_weight = 0.05\n",
    )
    .expect("write");
    let out = harness::loadgen_in(dir.path(), &["profiles", "--profile-file", "custom.toml"]);
    harness::assert_exit(
        &out,
        0,
        "profiles --profile-file without the transition weight",
    );
    let text = harness::stdout(&out);
    let custom = &text[text.find("custom - ").expect("custom")..];
    assert!(custom.contains("status transition     25.0%"), "{custom}");
    assert!(custom.contains("6000/h"), "{custom}");
}
