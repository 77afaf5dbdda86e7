//! The simulator and the trace codec on one hour of the stress profile (200 orders/min), from
//! the CLI's default start (a Monday, 09:00 UTC) and seed, on the built-in world:
//!
//! * `simulate`: `Simulation::next_event` until the hour is over, nothing else;
//! * `simulate_encode`: the same, each event written by a `TraceWriter` into a `Vec<u8>`
//!   (header with the world, records, footer: the bytes `loadgen simulate` writes);
//! * `decode`: a `TraceReader` over those bytes, checking the footer and checksum.
//!
//! One element = one event, so criterion reports events per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loadgen::cli::{DEFAULT_SEED, DEFAULT_START};
use loadgen::profile::LoadProfile;
use loadgen::sim::time::{SimTime, MS_PER_HOUR};
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

criterion_group!(benches, bench_simulate);
criterion_main!(benches);
