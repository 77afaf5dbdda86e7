//! Triples per minute in `start --dry-run` and `inspect`, checked against fixed-seed
//! simulations: the run's totals exactly; the steady-state "now" figures against what a long
//! simulation offers once its orders are in every stage; `inspect`'s triples against the
//! triples the stub received when the trace was replayed.

mod common;
#[path = "common/harness.rs"]
mod harness;

use harness::{loadgen_ok, runtime, stub};
use loadgen::api::RequestContext;
use loadgen::event::Event;

const START: &str = "2026-01-05T14:00:00Z";

fn events(profile: &str, seed: u64, minutes: u64) -> Vec<Event> {
    let config = common::config(profile, seed, START, minutes * 60_000);
    common::simulate(&loadgen::world::builtin_world(), &config)
}

fn contract() -> RequestContext {
    common::request_context(loadgen::world::builtin_world(), None, START)
}

fn value_after(stdout: &str, prefix: &str) -> f64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in:\n{stdout}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn dry_run_shows_triples_per_minute_now_and_over_the_run() {
    let dir = tempfile::TempDir::new().unwrap();
    let run = loadgen_ok(
        dir.path(),
        &[
            "start",
            "--profile",
            "standard",
            "--dry-run",
            "--seed",
            "9",
            "--start-at",
            START,
            "--duration",
            "60m",
        ],
    );
    // Over the run: exactly what this seed's events become through the contract.
    let c = contract();
    let run_events = events("standard", 9, 60);
    let triples: u64 = run_events.iter().map(|e| c.triple_count(e)).sum();
    let requests: u64 = run_events
        .iter()
        .map(|e| u64::from(e.action.request_count()))
        .sum();
    let line = format!(
        "Over the run per minute: {:.1} activities, {:.1} requests, {:.1} triples ({triples} triples in all)",
        run_events.len() as f64 / 60.0,
        requests as f64 / 60.0,
        triples as f64 / 60.0
    );
    assert!(
        run.stdout.lines().any(|l| l == line),
        "no `{line}` in:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("\"Now\" is the steady state"));

    // Now (14:00, a 1x hour until 17:00): what a simulation offers per minute once every
    // order alive was created after the start (the lifecycle lasts at most 95 minutes),
    // between minutes 100 and 180, within 5%.
    let now_triples = value_after(
        &run.stdout,
        "Expected triples per minute now (steady state): ",
    );
    let now_activities = value_after(
        &run.stdout,
        "Expected activities per minute now (steady state): ",
    );
    let long = events("standard", 9, 180);
    let steady: Vec<&Event> = long
        .iter()
        .filter(|e| e.at.as_ms() >= 100 * 60_000)
        .collect();
    let measured_triples = steady.iter().map(|e| c.triple_count(e)).sum::<u64>() as f64 / 80.0;
    let measured_activities = steady.len() as f64 / 80.0;
    for (what, printed, measured) in [
        ("triples", now_triples, measured_triples),
        ("activities", now_activities, measured_activities),
    ] {
        assert!(
            (printed - measured).abs() <= 0.05 * measured,
            "{what} per minute now: printed {printed}, simulated {measured}"
        );
    }
}

#[test]
fn the_profiles_rank_in_triples_per_minute_as_the_originals_table() {
    // demo ~50, standard ~200, peak ~600, stress ~2000 triples/min in the original's table:
    // the same order, and each step at least 2.5x the one before.
    let dir = tempfile::TempDir::new().unwrap();
    let now: Vec<f64> = ["demo", "standard", "peak", "stress"]
        .iter()
        .map(|p| {
            let run = loadgen_ok(
                dir.path(),
                &[
                    "start",
                    "--profile",
                    p,
                    "--dry-run",
                    "--seed",
                    "1",
                    "--start-at",
                    START,
                ],
            );
            value_after(
                &run.stdout,
                "Expected triples per minute now (steady state): ",
            )
        })
        .collect();
    for pair in now.windows(2) {
        assert!(pair[1] >= 2.5 * pair[0], "{now:?}");
    }
}

#[test]
fn inspect_counts_the_triples_a_replay_sends() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = harness::simulate(dir.path(), "t.trace", "20m", 4);
    let inspect = loadgen_ok(dir.path(), &["inspect", "t.trace"]);
    let printed = value_after(&inspect.stdout, "  Triples: ") as u64;

    let rt = runtime();
    let stub = stub(&rt, harness::recording(0));
    let url = stub.url();
    loadgen_ok(
        dir.path(),
        &[
            "replay",
            path.to_str().unwrap(),
            "--api-url",
            &url,
            "--speed",
            "max",
            "--min-success",
            "100%",
        ],
    );
    let sent: u64 = stub
        .requests()
        .iter()
        .filter(|r| r.path_and_query.starts_with("/triples/batch"))
        .map(|r| {
            serde_json::from_str::<Vec<serde_json::Value>>(&r.body)
                .unwrap()
                .len() as u64
        })
        .sum();
    assert_eq!(printed, sent);

    // Per minute: the trace's 20 minutes.
    let (mean, max) = inspect
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("  Triples per minute: mean "))
        .and_then(|rest| rest.split_once(", max "))
        .map(|(m, x)| (m.parse::<f64>().unwrap(), x.parse::<u64>().unwrap()))
        .expect("a triples-per-minute line");
    assert_eq!(format!("{mean:.1}"), format!("{:.1}", sent as f64 / 20.0));
    let c = contract();
    let mut per_minute = [0u64; 20];
    let mut reader = loadgen::trace::TraceReader::open(&path).unwrap();
    while let Some(e) = reader.next_event().unwrap() {
        per_minute[(e.at.as_ms() / 60_000) as usize] += c.triple_count(&e);
    }
    assert_eq!(max, *per_minute.iter().max().unwrap());
    rt.block_on(stub.shutdown());
}
