//! Request preparation, the client-side work per event before anything is sent: the event's
//! requests (`RequestContext::requests_for`: triples, JSON bodies) and their preparation for
//! sending (`Prepared::new`: the URL joined onto the base parsed once, the body taken as
//! `Bytes`), over the events of one stress hour (the CLI's default seed and start, the built-in
//! world, a run id as `loadgen replay` sets one).
//!
//! `request_url_stress_1h` times only the URLs (one element = one request), against what the
//! client did before: parsing `format!("{base}{path}")` for every attempt.
//!
//! In `request_preparation_stress_1h` one element = one event, so criterion reports events per
//! second.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loadgen::api::prepared::{Endpoint, Prepared};
use loadgen::api::RequestContext;
use loadgen::cli::{DEFAULT_SEED, DEFAULT_START};
use loadgen::event::Event;
use loadgen::profile::LoadProfile;
use loadgen::sim::time::{Calendar, SimTime, MS_PER_HOUR};
use loadgen::sim::{SimConfig, Simulation};

const BASE: &str = "http://127.0.0.1:18300";

fn stress_hour() -> (Vec<Event>, RequestContext) {
    let world = loadgen::world::builtin_world();
    let start = chrono::DateTime::parse_from_rfc3339(DEFAULT_START).expect("RFC 3339");
    let config = SimConfig {
        seed: DEFAULT_SEED,
        profile: LoadProfile::named("stress").expect("built-in profile"),
        start,
        duration: SimTime(MS_PER_HOUR),
    };
    let events = Simulation::new(&world, &config)
        .expect("valid world")
        .collect::<Result<Vec<_>, _>>()
        .expect("simulator invariant");
    let context = RequestContext {
        world: Arc::new(world),
        run_id: Some("bench".into()),
        calendar: Calendar::new(start),
        shift: chrono::Duration::zero(),
    };
    (events, context)
}

fn bench_requests(c: &mut Criterion) {
    let (events, context) = stress_hour();
    let endpoint = Endpoint::new(BASE);
    let requests: Vec<_> = events
        .iter()
        .flat_map(|e| context.requests_for(e))
        .collect();
    eprintln!(
        "stress profile, 1 h: {} events, {} requests",
        events.len(),
        requests.len()
    );

    let mut group = c.benchmark_group("request_preparation_stress_1h");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("requests_for", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for event in &events {
                for request in context.requests_for(event) {
                    bytes += request.body.map_or(0, |b| b.len());
                }
            }
            black_box(bytes)
        })
    });
    group.bench_function("requests_for_and_prepare", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for event in &events {
                for request in context.requests_for(event) {
                    let prepared = Prepared::new(&endpoint, request);
                    bytes += prepared.body.map_or(0, |b| b.len());
                }
            }
            black_box(bytes)
        })
    });
    group.finish();

    // One element = one request here.
    let mut group = c.benchmark_group("request_url_stress_1h");
    group.throughput(Throughput::Elements(requests.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("joined_on_the_parsed_base", |b| {
        b.iter(|| {
            for request in &requests {
                black_box(endpoint.url(&request.path).ok());
            }
        })
    });
    group.bench_function("whole_text_parsed", |b| {
        b.iter(|| {
            for request in &requests {
                black_box(reqwest::Url::parse(&format!("{BASE}{}", request.path)).ok());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_requests);
criterion_main!(benches);
