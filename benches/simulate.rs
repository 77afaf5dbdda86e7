//! The simulator and the trace codec on one hour of the stress profile (200 orders/min), from
//! the CLI's default start (a Monday, 09:00 UTC) and seed, on the built-in world:
//!
//! * `simulate`: `Simulation::next_event` until the hour is over, nothing else;
//! * `simulate_encode`: the same, each event written by a `TraceWriter` into a `Vec<u8>`
//!   (header with the world, records, footer: the bytes `loadgen simulate` writes);
//! * `decode`: a `TraceReader` over those bytes, checking the footer and checksum.
//!
//! `open_orders/{30k,500k}` measure simulate + encode in a steady state with about 30,000 and
//! 500,000 open orders: the profiles `tools/bench/night-{30k,500k}.toml` through the night
//! (a flat 0.3x multiplier from 22:00 to 06:00), timed only after the first 100 minutes (longer
//! than any order lives), in chunks of events from one running simulation; a fresh one is
//! warmed up, untimed, before the night runs out. The writer encodes into `io::sink()`.
//!
//! One element = one event, so criterion reports events per second.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loadgen::cli::{DEFAULT_SEED, DEFAULT_START};
use loadgen::profile::LoadProfile;
use loadgen::sim::time::{SimTime, MS_PER_HOUR, MS_PER_MINUTE};
use loadgen::sim::{SimConfig, Simulation};
use loadgen::trace::{TraceHeader, TraceReader, TraceWriter};
use loadgen::world::World;

const DURATION: SimTime = SimTime(MS_PER_HOUR);

fn setup() -> (World, SimConfig, TraceHeader) {
    let world = loadgen::world::builtin_world();
    let profile = LoadProfile::named("stress").expect("built-in profile");
    let start = chrono::DateTime::parse_from_rfc3339(DEFAULT_START).expect("RFC 3339");
    let config = SimConfig {
        seed: DEFAULT_SEED,
        profile: profile.clone(),
        start,
        duration: DURATION,
    };
    let header = TraceHeader {
        generator: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
        seed: DEFAULT_SEED,
        profile,
        world: world.clone(),
        start: start.to_rfc3339(),
        duration_ms: DURATION.as_ms(),
    };
    (world, config, header)
}

/// Runs the simulation to its end; returns the number of events.
fn simulate(world: &World, config: &SimConfig) -> u64 {
    let mut sim = Simulation::new(world, config).expect("valid world");
    let mut events = 0u64;
    while let Some(event) = sim.next_event().expect("simulator invariant") {
        black_box(&event);
        events += 1;
    }
    events
}

/// Simulates into a trace in memory; returns its bytes.
fn simulate_encode(world: &World, config: &SimConfig, header: &TraceHeader) -> Vec<u8> {
    let mut sim = Simulation::new(world, config).expect("valid world");
    let mut writer = TraceWriter::new(Vec::new(), header).expect("header encodes");
    while let Some(event) = sim.next_event().expect("simulator invariant") {
        writer.write(&event).expect("in-memory write");
        sim.recycle(event);
    }
    let (_, _, bytes) = writer.finish().expect("in-memory write");
    bytes
}

/// Reads every event of `trace` and checks its footer; returns the number of events.
fn decode(trace: &[u8]) -> u64 {
    let mut reader = TraceReader::new(trace).expect("valid header");
    let mut events = 0u64;
    while let Some(event) = reader.next_event().expect("valid trace") {
        black_box(&event);
        events += 1;
    }
    assert!(reader.footer().is_some(), "footer checked");
    events
}

fn bench_simulate(c: &mut Criterion) {
    let (world, config, header) = setup();
    let events = simulate(&world, &config);
    let trace = simulate_encode(&world, &config, &header);
    assert_eq!(decode(&trace), events);
    eprintln!(
        "stress profile, 1 h: {events} events, trace {} bytes ({:.1} bytes/event)",
        trace.len(),
        trace.len() as f64 / events as f64
    );

    let mut group = c.benchmark_group("stress_1h");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("simulate", |b| {
        b.iter(|| simulate(black_box(&world), black_box(&config)))
    });
    group.bench_function("simulate_encode", |b| {
        b.iter(|| simulate_encode(black_box(&world), black_box(&config), black_box(&header)))
    });
    group.bench_function("decode", |b| b.iter(|| decode(black_box(&trace))));
    group.finish();
}

/// Events per timed chunk of the steady-state benchmark.
const CHUNK: u64 = 50_000;
/// Warm-up before timing: every order open at the start of the timing was created in the
/// night (the longest lifecycle is 95 minutes).
const WARM: SimTime = SimTime(100 * MS_PER_MINUTE);
/// 22:00 to 06:00.
const NIGHT: SimTime = SimTime(8 * MS_PER_HOUR);

/// A simulation of the night profile `name`, warmed up and writing into a sink.
struct Steady<'w> {
    sim: Simulation<'w>,
    writer: TraceWriter<std::io::Sink>,
}

impl<'w> Steady<'w> {
    fn new(world: &'w World, profile: &LoadProfile) -> Steady<'w> {
        let start = chrono::DateTime::parse_from_rfc3339("2026-01-05T22:00:00Z").expect("RFC 3339");
        let config = SimConfig {
            seed: DEFAULT_SEED,
            profile: profile.clone(),
            start,
            duration: NIGHT,
        };
        let header = TraceHeader {
            generator: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
            seed: DEFAULT_SEED,
            profile: profile.clone(),
            world: world.clone(),
            start: start.to_rfc3339(),
            duration_ms: NIGHT.as_ms(),
        };
        let mut steady = Steady {
            sim: Simulation::new(world, &config).expect("valid world"),
            writer: TraceWriter::new(std::io::sink(), &header).expect("header encodes"),
        };
        while steady.sim.now() < WARM {
            steady.step();
        }
        steady
    }

    fn step(&mut self) {
        let event = self.sim.next_event().expect("simulator invariant");
        let event = event.expect("the night outlasts the benchmark");
        self.writer.write(&event).expect("sink write");
        self.sim.recycle(event);
    }
}

fn bench_open_orders(c: &mut Criterion) {
    let world = loadgen::world::builtin_world();
    let mut group = c.benchmark_group("open_orders");
    group.throughput(Throughput::Elements(CHUNK));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    for name in ["30k", "500k"] {
        let file =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tools/bench/night-{name}.toml"));
        let profile = LoadProfile::from_file(&file).expect("bench profile");
        let mut steady = Steady::new(&world, &profile);
        eprintln!(
            "{name}: {} open orders after the warm-up",
            steady.sim.open_orders()
        );
        let (mut least, mut most) = (usize::MAX, 0);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    // Room for one more chunk before the night ends: a chunk is about 25
                    // minutes of virtual time at 30 k open orders, 1.5 at 500 k.
                    if steady.sim.now().as_ms() + 40 * MS_PER_MINUTE >= NIGHT.as_ms() {
                        steady = Steady::new(&world, &profile);
                    }
                    let started = Instant::now();
                    for _ in 0..CHUNK {
                        steady.step();
                    }
                    timed += started.elapsed();
                    least = least.min(steady.sim.open_orders());
                    most = most.max(steady.sim.open_orders());
                }
                timed
            })
        });
        eprintln!("{name}: {least}..{most} open orders while timed");
    }
    group.finish();
}

criterion_group!(benches, bench_simulate, bench_open_orders);
criterion_main!(benches);
