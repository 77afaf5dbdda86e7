//! In-process fixtures, through the library only: a tiny world, simulation configs, simulating
//! to events, writing and reading traces in memory, the contract's request context, and the
//! replay engine over a scripted executor (`engine`). Everything that runs the built binary
//! or the stub (processes, files they write, reports) is `tests/common/harness.rs`.
//!
//! Each test crate uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod engine;

use std::sync::Arc;

use loadgen::api::RequestContext;
use loadgen::event::Event;
use loadgen::profile::LoadProfile;
use loadgen::sim::time::{Calendar, SimTime};
use loadgen::sim::{SimConfig, Simulation};
use loadgen::trace::format::Footer;
use loadgen::trace::{TraceError, TraceHeader, TraceReader, TraceWriter};
use loadgen::world::{Customer, InventoryItem, Product, Store, World};

/// The `start` the CLI uses when none is given (`cli::DEFAULT_START`).
pub const DEFAULT_START: &str = loadgen::cli::DEFAULT_START;

/// A world small enough that a trace of it is a few kilobytes, so corruption tests can try
/// every byte.
pub fn tiny_world() -> World {
    World {
        name: "tiny".into(),
        stores: vec![
            Store {
                id: "store:T-01".into(),
                zone: "T".into(),
            },
            Store {
                id: "store:T-02".into(),
                zone: "T".into(),
            },
        ],
        products: vec![
            Product {
                id: "product:t1".into(),
                name: "Apples".into(),
                category: "Produce".into(),
                price_cents: 199,
                perishable: true,
            },
            Product {
                id: "product:t2".into(),
                name: "Bread".into(),
                category: "Bakery".into(),
                price_cents: 349,
                perishable: true,
            },
            Product {
                id: "product:t3".into(),
                name: "Rice 2lb".into(),
                category: "Pantry".into(),
                price_cents: 1099,
                perishable: false,
            },
        ],
        customers: vec![
            Customer {
                id: "customer:00001".into(),
            },
            Customer {
                id: "customer:00002".into(),
            },
        ],
        inventory: vec![
            InventoryItem {
                id: "inventory:INV-000001".into(),
                store: 0,
                product: 0,
                stock_level: None,
            },
            InventoryItem {
                id: "inventory:INV-000002".into(),
                store: 1,
                product: 2,
                stock_level: None,
            },
        ],
    }
}

pub fn start(rfc3339: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(rfc3339).expect("test start is RFC 3339")
}

/// A simulation of the built-in profile `profile`.
pub fn config(profile: &str, seed: u64, start_at: &str, duration_ms: u64) -> SimConfig {
    let profile = LoadProfile::named(profile).expect("built-in profile");
    config_with(profile, seed, start_at, duration_ms)
}

pub fn config_with(profile: LoadProfile, seed: u64, start_at: &str, duration_ms: u64) -> SimConfig {
    SimConfig {
        seed,
        profile,
        start: start(start_at),
        duration: SimTime(duration_ms),
    }
}

/// What the contract makes of events of `world` for `run_id`, from a trace that starts at
/// `start_at`, timestamps as recorded.
pub fn request_context(world: World, run_id: Option<&str>, start_at: &str) -> RequestContext {
    RequestContext {
        world: Arc::new(world),
        run_id: run_id.map(str::to_string),
        calendar: Calendar::new(start(start_at)),
        shift: chrono::Duration::zero(),
    }
}

/// Every event of a simulation, through the library.
pub fn simulate(world: &World, config: &SimConfig) -> Vec<Event> {
    Simulation::new(world, config)
        .expect("simulation starts")
        .collect::<Result<Vec<_>, _>>()
        .expect("simulation runs")
}

/// The header `loadgen simulate` writes for `config` and `world`.
pub fn header_for(world: &World, config: &SimConfig) -> TraceHeader {
    TraceHeader {
        generator: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
        seed: config.seed,
        profile: config.profile.clone(),
        world: world.clone(),
        start: config.start.to_rfc3339(),
        duration_ms: config.duration.as_ms(),
    }
}

pub fn write_trace(header: &TraceHeader, events: &[Event]) -> Vec<u8> {
    let mut writer = TraceWriter::new(Vec::new(), header).expect("header encodes");
    for event in events {
        writer.write(event).expect("event encodes");
    }
    let (footer, bytes, out) = writer.finish().expect("footer writes");
    assert_eq!(footer.count, events.len() as u64);
    assert_eq!(bytes, out.len() as u64, "finish() reports the file size");
    out
}

/// Reads a whole trace, checking everything the reader checks.
pub fn read_all(bytes: &[u8]) -> Result<(TraceHeader, Vec<Event>, Footer), TraceError> {
    let mut reader = TraceReader::new(bytes)?;
    let mut events = Vec::new();
    while let Some(event) = reader.next_event()? {
        events.push(event);
    }
    let footer = reader
        .footer()
        .expect("next_event returned None, so the footer was read");
    Ok((reader.header().clone(), events, footer))
}

/// A small trace of the tiny world (demo profile, 15 virtual minutes, seed 1; about 2.4 kB,
/// with every kind of action) and its events.
pub fn tiny_trace() -> (Vec<u8>, Vec<Event>) {
    let world = tiny_world();
    let config = config("demo", 1, DEFAULT_START, 15 * 60_000);
    let events = simulate(&world, &config);
    let bytes = write_trace(&header_for(&world, &config), &events);
    (bytes, events)
}

/// Byte offset of the first record of a trace: preamble, header, header checksum.
pub fn records_offset(bytes: &[u8]) -> usize {
    let header_len = u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as usize;
    14 + header_len + 4
}
