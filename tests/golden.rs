//! The golden trace: one hour of the demo profile, seed 42, committed in `traces/` with its
//! SHA-256 pinned here. What a seed produces is part of the format's contract: a trace made
//! today must be reproducible by the same version tomorrow, on any machine.

mod common;
#[path = "common/harness.rs"]
mod harness;

use std::path::PathBuf;

use loadgen::trace::FORMAT_VERSION;
use sha2::{Digest, Sha256};

const GOLDEN: &str = "traces/demo-1h-seed42.trace";
const GOLDEN_SHA256: &str = "3bf472dbf39cf90064f3cbecddb5ba5b5946070d362a20ee3acd2c9b1e36ba46";
const REGENERATE: &str =
    "loadgen simulate --profile demo --duration 1h --seed 42 -o traces/demo-1h-seed42.trace";

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(GOLDEN)
}

fn how_to_bump() -> String {
    format!(
        "Changing what a seed produces must be deliberate: it breaks every trace people have \
         recorded and compared. If the change is intended, bump FORMAT_VERSION in \
         src/trace/format.rs (byte layout or record meaning changed) or the generator version \
         (the crate version in Cargo.toml, written into every header, when the simulator's \
         draws changed), say so in the changelog, then regenerate the golden trace with\n    \
         cargo run --release -- {}\nand update GOLDEN_SHA256 in tests/golden.rs to the output of\n    \
         sha256sum {GOLDEN}",
        REGENERATE.trim_start_matches("loadgen ")
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn committed() -> Vec<u8> {
    std::fs::read(golden_path()).unwrap_or_else(|e| {
        panic!(
            "cannot read the golden trace {}: {e}\nCreate it with\n    {REGENERATE}",
            golden_path().display()
        )
    })
}

/// Where two byte strings first differ, for the failure message.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!("they first differ at byte {i}"),
        None => format!(
            "one is a prefix of the other ({} vs {} bytes)",
            a.len(),
            b.len()
        ),
    }
}

#[test]
fn the_committed_golden_trace_has_the_pinned_sha256() {
    let bytes = committed();
    let sha = sha256_hex(&bytes);
    assert_eq!(
        sha,
        GOLDEN_SHA256,
        "{GOLDEN} is not the committed golden trace (SHA-256 {sha}, pinned {GOLDEN_SHA256}).\n{}",
        how_to_bump()
    );
}

#[test]
fn simulate_reproduces_the_golden_trace_byte_for_byte() {
    let golden = committed();
    let dir = tempfile::tempdir().unwrap();
    let out = harness::loadgen_tz(
        dir.path(),
        "Pacific/Chatham",
        &[
            "simulate",
            "--profile",
            "demo",
            "--duration",
            "1h",
            "--seed",
            "42",
            "-o",
            "demo-1h-seed42.trace",
        ],
    );
    harness::assert_exit(&out, 0, REGENERATE);
    let fresh = std::fs::read(dir.path().join("demo-1h-seed42.trace")).unwrap();
    assert!(
        fresh == golden,
        "`{REGENERATE}` no longer produces the committed {GOLDEN}: {} ({} bytes now, {} \
         committed; SHA-256 now {}).\n{}",
        first_difference(&fresh, &golden),
        fresh.len(),
        golden.len(),
        sha256_hex(&fresh),
        how_to_bump()
    );
}

#[test]
fn the_library_reproduces_the_golden_trace_and_it_reads_back() {
    let golden = committed();
    // The header says what made it.
    assert_eq!(&golden[..8], b"LGTRACE\0");
    assert_eq!(
        u16::from_le_bytes([golden[8], golden[9]]),
        FORMAT_VERSION,
        "the golden trace is of another format version.\n{}",
        how_to_bump()
    );
    let (header, events, footer) = common::read_all(&golden).expect("the golden trace reads");
    assert_eq!(header.seed, 42);
    assert_eq!(header.profile.name, "demo");
    assert_eq!(header.duration_ms, 3_600_000);
    assert_eq!(header.start, "2026-01-05T09:00:00+00:00");
    assert_eq!(header.world, loadgen::world::builtin_world());
    assert_eq!(footer.count, events.len() as u64);

    // Simulating through the library gives the same events and, written, the same bytes.
    let world = loadgen::world::builtin_world();
    let config = common::config("demo", 42, common::DEFAULT_START, 3_600_000);
    let simulated = common::simulate(&world, &config);
    assert!(
        simulated == events,
        "the simulator's events for seed 42 differ from the golden trace's ({} vs {}).\n{}",
        simulated.len(),
        events.len(),
        how_to_bump()
    );
    let written = common::write_trace(&common::header_for(&world, &config), &simulated);
    assert!(
        written == golden,
        "the trace writer's bytes differ from the golden trace: {}.\n{}",
        first_difference(&written, &golden),
        how_to_bump()
    );
}
