//! Format version 2: the built-in world is named by its hash instead of embedded, other worlds
//! are embedded, and the footer carries the span a trace covers, so that a recording of an
//! open-ended live run is written in one pass and reads back.

mod common;
#[path = "common/harness.rs"]
mod harness;

use std::time::Duration;

use freshmart_stub::StubConfig;
use harness::{api_requests, wait_stats};
use loadgen::event::{Action, Event};
use loadgen::sim::time::SimTime;
use loadgen::trace::format::MAX_DURATION_MS;
use loadgen::trace::{TraceError, TraceReader, TraceWriter};

fn stock_action() -> Action {
    Action::InventoryUpdate {
        item: 3,
        stock_level: 7,
    }
}

#[test]
fn the_default_demo_trace_is_small_because_it_names_the_builtin_world() {
    let dir = tempfile::tempdir().unwrap();
    harness::loadgen_ok(dir.path(), &["simulate", "--seed", "42", "-o", "day.trace"]);
    let facts = harness::trace_facts(&dir.path().join("day.trace"));
    let bytes = std::fs::metadata(dir.path().join("day.trace"))
        .unwrap()
        .len();
    let per_event = bytes as f64 / facts.events as f64;
    assert!(facts.events > 100, "{} events", facts.events);
    assert!(
        per_event <= 24.0,
        "{per_event:.1} bytes/event ({bytes} bytes, {} events)",
        facts.events
    );
    let reader = TraceReader::open(&dir.path().join("day.trace")).unwrap();
    assert_eq!(reader.header().world, loadgen::world::builtin_world());
}

#[test]
fn another_world_is_embedded_and_reads_back_whole() {
    let world = common::tiny_world();
    let config = common::config("demo", 7, common::DEFAULT_START, 600_000);
    let events = common::simulate(&world, &config);
    let bytes = common::write_trace(&common::header_for(&world, &config), &events);
    let (header, read, _) = common::read_all(&bytes).unwrap();
    assert_eq!(header.world, world);
    assert_eq!(read, events);

    // The built-in world under another name is a different world: embedded, and its name kept.
    let mut renamed = loadgen::world::builtin_world();
    renamed.name = "http://freshmart.example".into();
    let config = common::config("demo", 7, common::DEFAULT_START, 60_000);
    let header = common::header_for(&renamed, &config);
    let embedded = common::write_trace(&header, &[]);
    let referenced = common::write_trace(
        &common::header_for(&loadgen::world::builtin_world(), &config),
        &[],
    );
    assert!(
        embedded.len() > 100_000 && referenced.len() < 1_000,
        "embedded {} bytes, referenced {} bytes",
        embedded.len(),
        referenced.len()
    );
    assert_eq!(common::read_all(&embedded).unwrap().0.world, renamed);
}

/// The built-in world's hash inside a written trace's header, with the header's CRC fixed up
/// after `patch` changed it.
fn with_patched_world_hash(patch: impl Fn(&mut [u8])) -> Vec<u8> {
    let world = loadgen::world::builtin_world();
    let config = common::config("demo", 7, common::DEFAULT_START, 60_000);
    let mut bytes = common::write_trace(&common::header_for(&world, &config), &[]);
    let hash = loadgen::world::builtin_world_sha256();
    let at = bytes
        .windows(32)
        .position(|w| w == hash)
        .expect("the header holds the built-in world's hash");
    patch(&mut bytes[at..at + 32]);
    let header_len = u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as usize;
    let crc = crc32fast::hash(&bytes[14..14 + header_len]);
    bytes[14 + header_len..18 + header_len].copy_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn a_trace_naming_another_builtin_world_is_refused_with_both_hashes() {
    let bytes = with_patched_world_hash(|hash| hash[0] ^= 0xff);
    let err = common::read_all(&bytes).unwrap_err();
    let ours = loadgen::world::builtin_world_sha256();
    match &err {
        TraceError::UnknownWorld {
            name,
            theirs,
            ours: said,
        } => {
            assert_eq!(name, "builtin");
            assert_ne!(theirs, said);
            assert!(said.starts_with(&format!("{:02x}", ours[0])), "{said}");
        }
        other => panic!("expected UnknownWorld, got {other:?}"),
    }
    assert_eq!(err.offset(), Some(14));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("other.trace"), &bytes).unwrap();
    let run = harness::loadgen(dir.path(), &["inspect", "other.trace"], &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("built-in world") && run.stderr.contains("other.trace"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_open_ended_trace_is_closed_at_the_span_it_covered() {
    let world = common::tiny_world();
    let mut header =
        common::header_for(&world, &common::config("demo", 1, common::DEFAULT_START, 1));
    header.duration_ms = 0; // open-ended: the end is not known while writing
    let mut writer = TraceWriter::new(Vec::new(), &header).unwrap();
    for at in [5, 2_000, 61_000] {
        writer
            .write(&Event {
                at: SimTime(at),
                action: stock_action(),
            })
            .unwrap();
    }
    assert_eq!(writer.end_of_events(), 61_001);
    let (footer, _, bytes) = writer.finish_at(75_000).unwrap();
    assert_eq!((footer.count, footer.duration_ms), (3, 75_000));

    // A stream does not know the end until the footer: an upper bound, then the span.
    let mut stream = TraceReader::new(bytes.as_slice()).unwrap();
    assert_eq!(stream.header().duration_ms, MAX_DURATION_MS);
    while stream.next_event().unwrap().is_some() {}
    assert_eq!(stream.header().duration_ms, 75_000);

    // A file shows the span up front.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open.trace");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        TraceReader::open(&path).unwrap().header().duration_ms,
        75_000
    );
}

#[test]
fn a_planned_trace_cut_short_covers_less_but_never_more_than_planned() {
    let world = common::tiny_world();
    let header = common::header_for(
        &world,
        &common::config("demo", 1, common::DEFAULT_START, 120_000),
    );
    let event = Event {
        at: SimTime(30_000),
        action: stock_action(),
    };
    let mut writer = TraceWriter::new(Vec::new(), &header).unwrap();
    writer.write(&event).unwrap();
    let (_, _, bytes) = writer.finish_at(45_000).unwrap();
    let (read_header, events, footer) = common::read_all(&bytes).unwrap();
    assert_eq!(footer.duration_ms, 45_000);
    assert_eq!(read_header.duration_ms, 45_000);
    assert_eq!(events, vec![event.clone()]);

    let mut writer = TraceWriter::new(Vec::new(), &header).unwrap();
    writer.write(&event).unwrap();
    assert!(writer.finish_at(120_001).is_err());
}

/// An open-ended profile: `start` runs until interrupted.
const ENDLESS: &str = "name = \"endless\"\ndescription = \"Open-ended\"\norders_per_minute = 600\nconcurrent_workflows = 10\n";

#[test]
fn an_interrupted_open_ended_live_run_leaves_a_recording_that_replays() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("endless.toml"), ENDLESS).unwrap();
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = stub.url();
    let live = harness::start(
        dir.path(),
        &[
            "start",
            "--profile-file",
            "endless.toml",
            "--api-url",
            &url,
            "--seed",
            "3",
            "--start-at",
            "2026-01-05T12:00:00Z",
            "--run-id",
            "live",
            "--record",
            "rec.trace",
            "--report",
            "live.json",
        ],
        &[],
    );
    wait_stats(&rt, &stub, "a few live requests", |s| api_requests(s) >= 15);
    live.signal("INT");
    let run = live.wait(Duration::from_secs(60));
    run.expect_code(0);
    let recorded = run.number_after("Recorded");
    assert!(recorded > 0, "{}", run.stdout);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".rec.trace."))
        .collect();
    assert!(
        left.is_empty(),
        "the temporary recording was left behind: {left:?}"
    );

    let mut reader = TraceReader::open(&dir.path().join("rec.trace")).unwrap();
    let mut events = 0u64;
    let mut last = 0;
    while let Some(event) = reader.next_event().unwrap() {
        events += 1;
        last = event.at.as_ms();
    }
    assert_eq!(events, recorded);
    assert!(reader.header().duration_ms > last);
    assert!(
        reader.header().duration_ms < 10 * 60_000,
        "covered {} ms",
        reader.header().duration_ms
    );

    let replay = harness::loadgen(
        dir.path(),
        &[
            "replay",
            "rec.trace",
            "--api-url",
            &url,
            "--speed",
            "max",
            "--run-id",
            "again",
            "--report",
            "again.json",
        ],
        &[],
    );
    replay.expect_code(0);
    let report = harness::json(&dir.path().join("again.json"));
    assert_eq!(harness::num(&report, "/events/succeeded"), recorded);
}
