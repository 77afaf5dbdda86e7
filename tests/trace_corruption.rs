//! Damaged, foreign and hostile trace files: the reader must answer each with a typed error
//! that names the byte offset (never a panic, never a silently shorter trace), and the CLI must
//! turn it into exit code 2 with the offset in the message.

mod common;
#[path = "common/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use loadgen::event::{Action, Event, OrderStatus};
use loadgen::sim::time::SimTime;
use loadgen::trace::format::{push_varint, MAX_HEADER_LEN, MAX_RECORD_LEN};
use loadgen::trace::{TraceError, TraceReader, TraceWriter, FORMAT_VERSION};
use proptest::prelude::*;

use common::{read_all, records_offset, tiny_trace};

/// Reads `bytes` fully, turning a panic into a test failure that says which input caused it.
fn read_no_panic(
    bytes: &[u8],
    what: &str,
) -> Result<(loadgen::trace::TraceHeader, Vec<Event>), TraceError> {
    catch_unwind(AssertUnwindSafe(|| read_all(bytes)))
        .unwrap_or_else(|_| panic!("the reader panicked on {what}"))
        .map(|(header, events, _)| (header, events))
}

fn expect_err(bytes: &[u8], what: &str) -> TraceError {
    match read_no_panic(bytes, what) {
        Err(err) => err,
        Ok((_, events)) => panic!("{what}: read as a valid trace of {} events", events.len()),
    }
}

fn variant(err: &TraceError) -> &'static str {
    match err {
        TraceError::Io { .. } => "Io",
        TraceError::NotATrace { .. } => "NotATrace",
        TraceError::Version { .. } => "Version",
        TraceError::Truncated { .. } => "Truncated",
        TraceError::Corrupt { .. } => "Corrupt",
        TraceError::Checksum { .. } => "Checksum",
        TraceError::OutOfOrder { .. } => "OutOfOrder",
        TraceError::Encode(_) => "Encode",
        TraceError::PastDuration { .. } => "PastDuration",
        TraceError::UnknownWorld { .. } => "UnknownWorld",
    }
}

/// Offset of the footer's event count: the trace ends with count (8), duration (8), crc (4),
/// end magic (8).
fn footer_offset(bytes: &[u8]) -> usize {
    bytes.len() - 28
}

#[test]
fn tiny_trace_round_trips_and_holds_every_kind_of_action() {
    // The corruption tests below are only meaningful if the small trace exercises every record
    // shape; this pins that precondition.
    let (bytes, events) = tiny_trace();
    let (header, read, footer) = read_all(&bytes).expect("a freshly written trace reads");
    assert_eq!(read, events);
    assert_eq!(footer.count, events.len() as u64);
    assert_eq!(header.world, common::tiny_world());
    assert_eq!(header.seed, 1);
    assert_eq!(&bytes[..8], b"LGTRACE\0");
    assert_eq!(&bytes[8..10], &FORMAT_VERSION.to_le_bytes());
    assert_eq!(&bytes[bytes.len() - 8..], b"LGTREND\0");
    let mut kinds = BTreeMap::new();
    for event in &events {
        let kind = match &event.action {
            Action::NewCustomer { .. } => "new customer",
            Action::NewOrder(_) => "new order",
            Action::Transition {
                to: OrderStatus::Cancelled,
                ..
            } => "cancellation",
            Action::Transition { .. } => "transition",
            Action::AddLine { .. } => "add line",
            Action::RemoveLine { .. } => "remove line",
            Action::InventoryUpdate { .. } => "inventory update",
        };
        *kinds.entry(kind).or_insert(0) += 1;
    }
    assert_eq!(kinds.len(), 7, "every action shape appears: {kinds:?}");
    assert!(
        bytes.len() < 4096,
        "the tiny trace stays small: {}",
        bytes.len()
    );
}

#[test]
fn empty_input_is_a_truncation_at_byte_0() {
    let err = expect_err(&[], "an empty file");
    assert!(
        matches!(err, TraceError::Truncated { offset: 0, .. }),
        "{err:?}"
    );
    assert_eq!(err.offset(), Some(0));
    assert!(err.to_string().contains("byte 0"), "{err}");
}

#[test]
fn foreign_files_are_refused_at_offset_0() {
    let png: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let cases: [(&str, &[u8]); 6] = [
        ("a PNG header", png),
        ("a text file", b"hello, world\nthis is not a trace\n"),
        (
            "a CSV export",
            b"seq,offset_ms,timestamp,activity,subject\n1,0,x,new_order,order:LG-000001\n",
        ),
        ("an ELF header", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"),
        ("zeros", &[0u8; 64]),
        ("one byte", b"L!"),
    ];
    for (what, bytes) in cases {
        let err = expect_err(bytes, what);
        match &err {
            TraceError::NotATrace { found } => {
                assert_eq!(found.as_slice(), &bytes[..bytes.len().min(8)], "{what}")
            }
            other => panic!("{what}: expected NotATrace, got {other:?}"),
        }
        assert_eq!(err.offset(), Some(0), "{what}");
        let msg = err.to_string();
        assert!(
            msg.contains("not a loadgen trace") && msg.contains("offset 0"),
            "{what}: {msg}"
        );
    }
    // A prefix of the magic is a truncated trace, not a foreign file.
    let err = expect_err(b"LGTR", "a prefix of the magic");
    assert!(
        matches!(err, TraceError::Truncated { offset: 4, .. }),
        "{err:?}"
    );
}

#[test]
fn truncation_at_every_byte_offset_is_an_error_naming_that_offset() {
    let (bytes, events) = tiny_trace();
    for len in 0..bytes.len() {
        let what = format!("the trace cut to {len} of {} bytes", bytes.len());
        let err = expect_err(&bytes[..len], &what);
        match &err {
            TraceError::Truncated { offset, .. } => {
                assert_eq!(*offset, len as u64, "{what}: {err}")
            }
            other => panic!("{what}: expected Truncated, got {other:?}"),
        }
        assert!(
            err.to_string().contains(&format!("byte {len}")),
            "{what}: {err}"
        );

        // The iterator interface must surface the same error rather than just ending.
        let iterated = catch_unwind(AssertUnwindSafe(|| {
            TraceReader::new(&bytes[..len])
                .and_then(|reader| reader.collect::<Result<Vec<Event>, TraceError>>())
        }))
        .unwrap_or_else(|_| panic!("iterating {what} panicked"));
        match iterated {
            Err(TraceError::Truncated { offset, .. }) => assert_eq!(offset, len as u64, "{what}"),
            Err(other) => panic!("{what}: iterator gave {other:?}"),
            Ok(read) => panic!(
                "{what}: the iterator ended quietly after {} of {} events",
                read.len(),
                events.len()
            ),
        }
    }
    // And the whole file reads.
    assert_eq!(read_all(&bytes).unwrap().1, events);
}

#[test]
fn truncating_a_builtin_world_trace_is_an_error_everywhere_sampled() {
    // A real trace: the stock world's header is ~220 kB, too big to cut at every offset in a
    // debug build, so sample the preamble, the header, every byte of the first records, and
    // the footer.
    let world = loadgen::world::builtin_world();
    let config = common::config("demo", 42, common::DEFAULT_START, 5 * 60_000);
    let events = common::simulate(&world, &config);
    let bytes = common::write_trace(&common::header_for(&world, &config), &events);
    let records = records_offset(&bytes);
    let mut cuts: Vec<usize> = (0..20).collect();
    cuts.extend((20..records + 8).step_by(records / 60));
    cuts.extend(records - 8..(records + 400).min(bytes.len()));
    cuts.extend(bytes.len() - 40..bytes.len());
    for len in cuts {
        let err = expect_err(
            &bytes[..len],
            &format!("the stock trace cut to {len} bytes"),
        );
        assert!(
            matches!(err, TraceError::Truncated { offset, .. } if offset == len as u64),
            "cut to {len}: {err:?}"
        );
    }
}

#[test]
fn every_single_bit_flip_is_detected() {
    let (bytes, _) = tiny_trace();
    let records = records_offset(&bytes);
    let mut tally: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut flipped = bytes.clone();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            flipped[i] ^= 1 << bit;
            let what = format!("bit {bit} of byte {i} flipped");
            let err = expect_err(&flipped, &what);
            flipped[i] ^= 1 << bit;

            *tally.entry(variant(&err)).or_insert(0) += 1;
            let offset = err
                .offset()
                .unwrap_or_else(|| panic!("{what}: no offset in {err:?}"));
            assert!(offset <= bytes.len() as u64, "{what}: offset {offset}");
            assert!(
                err.to_string().contains(&offset.to_string()),
                "{what}: the message does not name the offset {offset}: {err}"
            );
            match i {
                0..=7 => assert_eq!(variant(&err), "NotATrace", "{what}"),
                8..=9 => assert_eq!(variant(&err), "Version", "{what}"),
                // A damaged record cannot be noticed before the record it is in starts.
                _ if i >= records => assert!(
                    offset >= records as u64,
                    "{what}: reported at {offset}, before the records at {records}"
                ),
                _ => {}
            }
        }
    }
    // The checksum and the structural checks both do real work.
    assert!(tally.get("Checksum").copied().unwrap_or(0) > 0, "{tally:?}");
    assert!(tally.get("Corrupt").copied().unwrap_or(0) > 0, "{tally:?}");
    assert_eq!(tally.get("Io"), None, "{tally:?}");
}

#[test]
fn another_format_version_reports_both_versions_at_byte_8() {
    let (bytes, _) = tiny_trace();
    for found in [FORMAT_VERSION.wrapping_add(1), 0, 0xffff, 0x0100] {
        if found == FORMAT_VERSION {
            continue;
        }
        let mut patched = bytes.clone();
        patched[8..10].copy_from_slice(&found.to_le_bytes());
        let err = expect_err(&patched, &format!("version {found}"));
        assert!(
            matches!(err, TraceError::Version { found: f, supported } if f == found && supported == FORMAT_VERSION),
            "{err:?}"
        );
        assert_eq!(err.offset(), Some(8));
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("version {found}"))
                && msg.contains(&format!("version {FORMAT_VERSION}"))
                && msg.contains("byte 8"),
            "{msg}"
        );
    }
}

#[test]
fn trailing_garbage_after_the_footer_is_refused() {
    let (bytes, events) = tiny_trace();
    let len = bytes.len() as u64;
    let garbage: [&[u8]; 3] = [&[0], b"garbage\n", &bytes];
    for tail in garbage {
        let mut padded = bytes.clone();
        padded.extend_from_slice(tail);
        let what = format!("{} bytes appended", tail.len());
        let err = expect_err(&padded, &what);
        assert!(
            matches!(&err, TraceError::Corrupt { offset, reason } if *offset == len && reason.contains("after the end")),
            "{what}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("byte {len}")), "{err}");
    }
    // The events themselves were all read before the garbage was noticed.
    let mut padded = bytes.clone();
    padded.push(b'x');
    let mut reader = TraceReader::new(padded.as_slice()).unwrap();
    let mut seen = 0;
    let err = loop {
        match reader.next_event() {
            Ok(Some(_)) => seen += 1,
            Ok(None) => panic!("trailing garbage accepted"),
            Err(err) => break err,
        }
    };
    assert_eq!(seen, events.len());
    assert!(matches!(err, TraceError::Corrupt { .. }));
}

#[test]
fn damaged_footer_fields_are_named() {
    let (bytes, events) = tiny_trace();
    let footer = footer_offset(&bytes);

    let mut count = bytes.clone();
    count[footer..footer + 8].copy_from_slice(&(events.len() as u64 + 1).to_le_bytes());
    let err = expect_err(&count, "footer count + 1");
    assert!(
        matches!(&err, TraceError::Corrupt { offset, reason } if *offset == footer as u64 && reason.contains("footer counts")),
        "{err:?}"
    );

    let mut crc = bytes.clone();
    crc[footer + 16] ^= 0xff;
    let err = expect_err(&crc, "footer checksum");
    assert!(
        matches!(err, TraceError::Checksum { offset, computed, stored } if offset == footer as u64 + 16 && computed != stored),
        "{err:?}"
    );

    // The span is covered by the checksum: a span that still covers the events is caught too.
    let mut span = bytes.clone();
    span[footer + 8] ^= 0x01;
    let err = expect_err(&span, "footer duration");
    assert!(
        matches!(err, TraceError::Checksum { offset, .. } if offset == footer as u64 + 16),
        "{err:?}"
    );

    let mut magic = bytes.clone();
    let last = magic.len() - 2;
    magic[last] = b'X';
    let err = expect_err(&magic, "end magic");
    assert!(
        matches!(&err, TraceError::Corrupt { offset, reason } if *offset == footer as u64 + 20 && reason.contains("end magic")),
        "{err:?}"
    );
}

#[test]
fn absurd_lengths_are_refused_without_trusting_them() {
    let (bytes, _) = tiny_trace();

    // Header length past the limit.
    let mut huge = bytes.clone();
    huge[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = expect_err(&huge, "header length u32::MAX");
    assert!(
        matches!(&err, TraceError::Corrupt { offset: 10, reason } if reason.contains("exceeds")),
        "{err:?}"
    );

    // Header length at the limit, but the file is short: a truncation, found as data runs out.
    let mut big = bytes.clone();
    big[10..14].copy_from_slice(&MAX_HEADER_LEN.to_le_bytes());
    let err = expect_err(&big, "header length at the limit");
    assert!(
        matches!(err, TraceError::Truncated { offset, .. } if offset == bytes.len() as u64),
        "{err:?}"
    );

    // A record length past the limit, and an overlong varint.
    let records = records_offset(&bytes);
    let mut oversized = bytes[..records].to_vec();
    push_varint(&mut oversized, MAX_RECORD_LEN + 1);
    oversized.extend_from_slice(&bytes[records..]);
    let err = expect_err(&oversized, "record length over the limit");
    assert!(
        matches!(&err, TraceError::Corrupt { offset, reason } if *offset == records as u64 && reason.contains("exceeds")),
        "{err:?}"
    );
    let mut overlong = bytes[..records].to_vec();
    overlong.extend_from_slice(&[0xff; 11]);
    overlong.extend_from_slice(&bytes[records..]);
    let err = expect_err(&overlong, "an 11-byte varint");
    assert!(
        matches!(err, TraceError::Corrupt { offset, .. } if offset == records as u64),
        "{err:?}"
    );
}

#[test]
fn writer_rejects_records_out_of_time_order() {
    let world = common::tiny_world();
    let config = common::config("demo", 1, common::DEFAULT_START, 60_000);
    let header = common::header_for(&world, &config);
    let update = |at: u64, stock_level: u32| Event {
        at: SimTime(at),
        action: Action::InventoryUpdate {
            item: 0,
            stock_level,
        },
    };
    let mut writer = TraceWriter::new(Vec::new(), &header).unwrap();
    writer.write(&update(1_000, 1)).unwrap();
    writer
        .write(&update(1_000, 2))
        .expect("equal times are in order");
    let err = writer.write(&update(999, 3)).unwrap_err();
    assert!(
        matches!(
            err,
            TraceError::OutOfOrder {
                at: 999,
                previous: 1_000
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("999") && err.to_string().contains("1000"));
    assert_eq!(writer.count(), 2, "the rejected event is not counted");
    writer.write(&update(1_001, 4)).unwrap();
    let (_, _, bytes) = writer.finish().unwrap();
    // The rejected event left no bytes behind: the trace is valid and holds the other three.
    let (_, events, footer) = read_all(&bytes).unwrap();
    assert_eq!(
        events,
        vec![update(1_000, 1), update(1_000, 2), update(1_001, 4)]
    );
    assert_eq!(footer.count, 3);
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = match TraceReader::open(&dir.path().join("nope.trace")) {
        Err(err) => err,
        Ok(_) => panic!("opened a file that does not exist"),
    };
    assert!(matches!(err, TraceError::Io { offset: 0, .. }), "{err:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Overwriting a few bytes anywhere with other values is always detected.
    #[test]
    fn overwritten_bytes_are_detected(start in 0usize..4096, patch in prop::collection::vec(any::<u8>(), 1..8)) {
        let (bytes, _) = tiny_trace();
        let start = start % bytes.len();
        let end = (start + patch.len()).min(bytes.len());
        let mut damaged = bytes.clone();
        damaged[start..end].copy_from_slice(&patch[..end - start]);
        prop_assume!(damaged != bytes);
        let result = catch_unwind(AssertUnwindSafe(|| read_all(&damaged)));
        prop_assert!(result.is_ok(), "panic with bytes {start}..{end} = {patch:02x?}");
        let result = result.unwrap();
        prop_assert!(result.is_err(), "bytes {start}..{end} = {patch:02x?} read as valid");
    }

    /// Arbitrary bytes after a valid preamble never panic the reader.
    #[test]
    fn garbage_after_the_preamble_never_panics(tail in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = b"LGTRACE\0".to_vec();
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&tail);
        let result = catch_unwind(AssertUnwindSafe(|| read_all(&bytes)));
        prop_assert!(result.is_ok(), "panic on tail {tail:02x?}");
        prop_assert!(result.unwrap().is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// The same damage through the CLI: exit code 2 and the reader's message, offset included.

#[test]
fn cli_reports_damaged_traces_with_exit_2_and_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = tiny_trace();
    let records = records_offset(&bytes);
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        (
            "png".into(),
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10".to_vec(),
        ),
        ("text".into(), b"just some text\n".to_vec()),
    ];
    for len in [5, 9, 12, 100, records, records + 7, bytes.len() - 1] {
        cases.push((format!("cut-{len}"), bytes[..len].to_vec()));
    }
    for at in [20, records + 3, bytes.len() / 2, footer_offset(&bytes) + 9] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x10;
        cases.push((format!("flip-{at}"), flipped));
    }
    let mut versioned = bytes.clone();
    versioned[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    cases.push(("version".into(), versioned));
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(b"tail");
    cases.push(("trailing".into(), trailing));

    for (name, data) in &cases {
        let file = format!("{name}.trace");
        std::fs::write(dir.path().join(&file), data).unwrap();
        let expected = expect_err(data, name);
        let offset = expected.offset().expect("every read error has an offset");
        for args in [
            vec!["inspect", file.as_str()],
            vec!["export", file.as_str()],
            vec![
                "export",
                "--format",
                "jsonl",
                file.as_str(),
                "-o",
                "out.jsonl",
            ],
        ] {
            let out = harness::loadgen_in(dir.path(), &args);
            let what = format!("{args:?} on {name}");
            harness::assert_exit(&out, 2, &what);
            let err = harness::stderr(&out);
            assert!(
                err.contains(&expected.to_string()),
                "{what}: stderr lacks the reader's error `{expected}`:\n{err}"
            );
            assert!(err.contains(&offset.to_string()), "{what}: {err}");
            assert!(err.contains(&file), "{what}: the file is not named: {err}");
            if args[0] == "inspect" {
                assert!(
                    !harness::stdout(&out).contains("Events:"),
                    "{what}: printed a summary of a damaged trace"
                );
            }
        }
    }
    // The version case names both versions.
    let out = harness::loadgen_in(dir.path(), &["inspect", "version.trace"]);
    let err = harness::stderr(&out);
    assert!(
        err.contains(&format!("version {}", FORMAT_VERSION + 1))
            && err.contains(&format!("version {FORMAT_VERSION}"))
            && err.contains("byte 8"),
        "{err}"
    );
}

#[test]
fn cli_missing_trace_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["inspect", "export"] {
        let out = harness::loadgen_in(dir.path(), &[cmd, "missing.trace"]);
        harness::assert_exit(&out, 2, cmd);
        assert!(harness::stderr(&out).contains("missing.trace"));
    }
}

/// A trace whose checksum is right but whose only event lies 2^62 ms (146 million years) past
/// its start, far beyond the header's one-hour duration. The writer refuses to write one, so
/// the record and footer are assembled by hand.
fn trace_with_an_event_past_its_duration() -> Vec<u8> {
    let world = common::tiny_world();
    let config = common::config("demo", 1, common::DEFAULT_START, 3_600_000);
    let empty = common::write_trace(&common::header_for(&world, &config), &[]);
    let mut bytes = empty[..records_offset(&empty)].to_vec();
    let mut payload = Vec::new();
    loadgen::trace::format::push_varint(&mut payload, 1 << 62);
    let action = Action::InventoryUpdate {
        item: 0,
        stock_level: 5,
    };
    payload.extend(postcard::to_stdvec(&action).unwrap());
    let mut record = Vec::new();
    loadgen::trace::format::push_varint(&mut record, payload.len() as u64);
    record.extend(payload);
    let duration: u64 = 3_600_000;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&record);
    crc.update(&duration.to_le_bytes());
    bytes.extend(&record);
    bytes.push(0);
    bytes.extend(1u64.to_le_bytes());
    bytes.extend(duration.to_le_bytes());
    bytes.extend(crc.finalize().to_le_bytes());
    bytes.extend(b"LGTREND\0");
    bytes
}

#[test]
fn the_writer_refuses_an_event_past_the_duration() {
    let world = common::tiny_world();
    let config = common::config("demo", 1, common::DEFAULT_START, 3_600_000);
    let mut writer =
        loadgen::trace::TraceWriter::new(Vec::new(), &common::header_for(&world, &config)).unwrap();
    let event = |at| Event {
        at: SimTime(at),
        action: Action::InventoryUpdate {
            item: 0,
            stock_level: 5,
        },
    };
    writer.write(&event(3_599_999)).unwrap();
    let err = writer.write(&event(3_600_000)).unwrap_err();
    assert!(
        matches!(
            err,
            TraceError::PastDuration {
                at: 3_600_000,
                duration_ms: 3_600_000
            }
        ),
        "{err:?}"
    );
    // Nor can it close the trace short of its last event.
    let err = writer.finish_at(3_000_000).unwrap_err();
    assert!(matches!(err, TraceError::PastDuration { .. }), "{err:?}");
}

#[test]
fn cli_survives_an_event_past_the_duration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("far.trace"),
        trace_with_an_event_past_its_duration(),
    )
    .unwrap();
    for cmd in ["inspect", "export"] {
        let out = harness::loadgen_in(dir.path(), &[cmd, "far.trace"]);
        let err = harness::stderr(&out);
        assert!(!err.contains("panicked"), "{cmd} panicked:\n{err}");
        assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "{cmd}: exit {:?} (killed by a signal if None):\n{err}",
            out.status.code()
        );
    }
}

#[test]
fn reader_refuses_an_event_past_the_duration() {
    let bytes = trace_with_an_event_past_its_duration();
    let err = expect_err(&bytes, "an event 2^62 ms after the start of a 1 h trace");
    assert!(
        matches!(err, TraceError::Corrupt { offset, .. } if offset >= records_offset(&bytes) as u64),
        "{err:?}"
    );
}
