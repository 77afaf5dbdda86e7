//! The replayer core (`loadgen::replay::run`) without HTTP: a no-op executor that answers every
//! event with success at once, over the events of one hour of the stress profile (the CLI's
//! default seed and start, the built-in world) held in memory, at `Speed::Max`.
//!
//! What is timed is the dispatch overhead: the feed channel, the router and the dispatchers
//! (per-root lanes owned by each dispatcher, completions over a channel), one task per event,
//! the records channel and the aggregator's three HDR histograms. The set-up mirrors `loadgen
//! replay`: the same runtime (`cmd::runtime_for`, with `--threads`' default), a feeder on its
//! own thread doing
//! `blocking_send` into a channel of 8,192, no shutdown, a 60 s window. Events are cloned out of
//! the in-memory vector by the feeder inside the timing, as `TraceReader` hands them out in the
//! real command (decoding is measured separately in `benches/simulate.rs`).
//!
//! Two runtimes: `cli_runtime` is the one `loadgen replay` runs on, built by the same function
//! (`loadgen::cmd::runtime_for`, with `--threads`' default, `plan::Env::default_threads`), so
//! the bench follows whatever the CLI builds; `current_thread` runs one dispatcher, its lanes
//! and the aggregator on one thread (what the CLI does with `--threads 1`; on 2 cores, its
//! default too).
//!
//! One element = one event, so criterion reports events per second.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loadgen::cli::{DEFAULT_SEED, DEFAULT_START};
use loadgen::event::Event;
use loadgen::metrics::EventResult;
use loadgen::profile::LoadProfile;
use loadgen::replay::{
    run, Execution, Executor, Progress, ReplayOptions, ReplayOutcome, Sequenced, StopFlag,
};
use loadgen::sim::time::{SimTime, MS_PER_HOUR};
use loadgen::sim::{SimConfig, Simulation};
use loadgen::units::Speed;

/// Concurrency limits to compare: the wrk comparison (10, 50) and the stress profile's
/// own concurrent workflows (500).
const CONCURRENCY: [usize; 3] = [10, 50, 500];

/// Answers every event with one successful request, without waiting.
struct NoOp;

impl Executor for NoOp {
    async fn execute(&self, _seq: u64, _event: Event, _stop: StopFlag) -> Execution {
        Execution {
            first_sent: tokio::time::Instant::now(),
            requests: 1,
            retries: 0,
            retry_causes: Vec::new(),
            result: EventResult::Success,
        }
    }
}

/// The events of one stress hour.
fn stress_hour() -> Vec<Event> {
    let world = loadgen::world::builtin_world();
    let config = SimConfig {
        seed: DEFAULT_SEED,
        profile: LoadProfile::named("stress").expect("built-in profile"),
        start: chrono::DateTime::parse_from_rfc3339(DEFAULT_START).expect("RFC 3339"),
        duration: SimTime(MS_PER_HOUR),
    };
    let mut sim = Simulation::new(&world, &config).expect("valid world");
    let mut events = Vec::new();
    while let Some(event) = sim.next_event().expect("simulator invariant") {
        events.push(event);
    }
    events
}

/// Replays `events` through the no-op executor; returns the outcome.
fn replay(
    rt: &tokio::runtime::Runtime,
    events: &Arc<Vec<Event>>,
    concurrency: usize,
    threads: usize,
) -> ReplayOutcome {
    let (tx, rx) = tokio::sync::mpsc::channel(8192);
    let source = events.clone();
    let feeder = std::thread::spawn(move || {
        let mut roots = loadgen::causal::RootTracker::new();
        for (seq, event) in source.iter().enumerate() {
            let item = Sequenced {
                seq: seq as u64,
                root: roots.root_of(event),
                event: event.clone(),
            };
            if tx.blocking_send(item).is_err() {
                break;
            }
        }
    });
    let options = ReplayOptions {
        speed: Speed::Max,
        origin_ms: 0,
        concurrency,
        threads,
        drain_timeout: Duration::from_secs(30),
        window: Duration::from_secs(60),
        tap: None,
        hold_until_ms: None,
        clock: loadgen::replay::clock::ClockChoice::Precise,
    };
    let outcome = rt.block_on(run(
        Arc::new(NoOp),
        rx,
        options,
        std::future::pending::<()>(),
        Arc::new(Progress::default()),
        (),
    ));
    feeder.join().expect("feeder thread");
    outcome
}

fn bench_replay(c: &mut Criterion) {
    let events = Arc::new(stress_hour());
    let n = events.len() as u64;
    // The runtime `loadgen replay` runs on by default, from the function that builds it, with
    // the default `--threads`.
    let cli_threads = loadgen::plan::Env::capture().default_threads();
    let rt = loadgen::cmd::runtime_for(cli_threads).expect("runtime");
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (concurrency, rt, threads) in CONCURRENCY
        .iter()
        .flat_map(|&c| [(c, &rt, cli_threads), (c, &single, 1)])
    {
        let outcome = replay(rt, &events, concurrency, threads);
        assert_eq!(outcome.received, n, "every event taken");
        assert_eq!(
            outcome.metrics.successes.iter().sum::<u64>(),
            n,
            "every event succeeded"
        );
    }
    eprintln!("stress profile, 1 h: {n} events in memory");

    let mut group = c.benchmark_group("replay_noop_stress_1h");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    for concurrency in CONCURRENCY {
        group.bench_function(format!("cli_runtime/concurrency_{concurrency}"), |b| {
            b.iter(|| black_box(replay(&rt, &events, concurrency, cli_threads).received))
        });
    }
    for concurrency in CONCURRENCY {
        group.bench_function(format!("current_thread/concurrency_{concurrency}"), |b| {
            b.iter(|| black_box(replay(&single, &events, concurrency, 1).received))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_replay);
criterion_main!(benches);
