//! The `profiles`, `simulate`, `inspect` and `export` commands, run as the built binary in temp
//! directories. Values are checked against the library for the same seed, not just exit codes.

mod common;
#[path = "common/harness.rs"]
mod harness;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use loadgen::contract::money::dollars;
use loadgen::event::{Action, Activity, Event};
use loadgen::trace::summary::TraceSummary;

use common::DEFAULT_START;
use harness::{assert_exit, loadgen_in, loadgen_tz, stderr, stdout};

/// The documented export columns, in order (src/trace/export.rs).
const COLUMNS: [&str; 15] = [
    "seq",
    "offset_ms",
    "timestamp",
    "activity",
    "subject",
    "status_from",
    "status_to",
    "customer",
    "store",
    "product",
    "quantity",
    "stock_level",
    "amount",
    "lines",
    "detail",
];

/// The lines of one profile's block in `loadgen profiles`, whitespace-normalised.
fn profile_block(output: &str, name: &str) -> Vec<String> {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(&format!("{name} - ")))
        .unwrap_or_else(|| panic!("no block for `{name}` in:\n{output}"));
    lines[start..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn assert_block(output: &str, name: &str, expected: &[&str]) {
    let block = profile_block(output, name);
    for want in expected {
        assert!(
            // A weight line goes on with the expected counts (`… 1200/h …`).
            block.iter().any(|l| l == want
                || l.strip_prefix(want)
                    .is_some_and(|rest| rest.starts_with(' '))),
            "profile `{name}` lacks the line `{want}`:\n{}",
            block.join("\n")
        );
    }
}

const SPEC_WEIGHT_LINES: [&str; 6] = [
    "new order 40.0%",
    "status transition 30.0%",
    "order modification 10.0%",
    "customer creation 5.0%",
    "inventory update 10.0%",
    "cancellation 5.0%",
];

#[test]
fn profiles_lists_the_spec_builtins() {
    let dir = tempfile::tempdir().unwrap();
    let out = loadgen_in(dir.path(), &["profiles"]);
    assert_exit(&out, 0, "profiles");
    let text = stdout(&out);
    let table = [
        (
            "demo",
            "5",
            "10",
            "30",
            "Gentle activity for showcasing features and demos",
        ),
        (
            "standard",
            "20",
            "50",
            "120",
            "Realistic weekday traffic simulation",
        ),
        (
            "peak",
            "60",
            "150",
            "60",
            "Peak hour simulation, demonstrates Materialize vs PostgreSQL performance",
        ),
        (
            "stress",
            "200",
            "500",
            "30",
            "Stress testing to identify bottlenecks and system limits",
        ),
    ];
    for (name, rate, concurrent, minutes, use_case) in table {
        let mut expected = vec![
            format!("Target: {rate} orders/min"),
            format!("Concurrent workflows: {concurrent}"),
            format!("Duration: {minutes} minutes"),
            format!("Use case: {use_case}"),
        ];
        expected.extend(SPEC_WEIGHT_LINES.iter().map(|s| s.to_string()));
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        assert_block(&text, name, &expected);
    }
    // In the spec's order.
    let positions: Vec<usize> = ["demo - ", "standard - ", "peak - ", "stress - "]
        .iter()
        .map(|p| text.find(p).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

const CUSTOM: &str = r#"name = "custom"
description = "My custom profile"
orders_per_minute = 100
concurrent_workflows = 200
duration_minutes = 60
new_order_weight = 0.50
status_transition_weight = 0.25
order_modification_weight = 0.10
customer_creation_weight = 0.05
inventory_update_weight = 0.05
cancellation_weight = 0.05
"#;

#[test]
fn profiles_shows_a_custom_profile_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("my.toml"), CUSTOM).unwrap();
    let out = loadgen_in(dir.path(), &["profiles", "--profile-file", "my.toml"]);
    assert_exit(&out, 0, "profiles --profile-file");
    let text = stdout(&out);
    assert_block(
        &text,
        "custom",
        &[
            "custom - My custom profile",
            "Target: 100 orders/min",
            "Concurrent workflows: 200",
            "Duration: 60 minutes",
            "Use case: My custom profile",
            "new order 50.0%",
            "status transition 25.0%",
            "order modification 10.0%",
            "customer creation 5.0%",
            "inventory update 5.0%",
            "cancellation 5.0%",
        ],
    );
    // The built-ins are still listed.
    assert_block(&text, "demo", &["Target: 5 orders/min"]);

    // At the edge of the tolerance: 1.009 is accepted.
    let edge = CUSTOM.replace("new_order_weight = 0.50", "new_order_weight = 0.509");
    std::fs::write(dir.path().join("edge.toml"), edge).unwrap();
    let out = loadgen_in(dir.path(), &["profiles", "--profile-file", "edge.toml"]);
    assert_exit(&out, 0, "weights summing to 1.009");
}

#[test]
fn invalid_profile_files_name_the_field_and_the_file_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "negative.toml",
            CUSTOM.replace(
                "inventory_update_weight = 0.05",
                "inventory_update_weight = -0.05",
            ),
            vec!["inventory_update_weight", ">= 0"],
        ),
        (
            "sum.toml",
            CUSTOM.replace("new_order_weight = 0.50", "new_order_weight = 0.60"),
            vec!["weights", "sum to 1", "1.1000"],
        ),
        (
            "sum-just-over.toml",
            CUSTOM.replace("new_order_weight = 0.50", "new_order_weight = 0.511"),
            vec!["weights", "sum to 1"],
        ),
        (
            "unknown.toml",
            format!("{CUSTOM}turbo_weight = 0.1\n"),
            vec!["turbo_weight"],
        ),
        (
            "zero-rate.toml",
            CUSTOM.replace("orders_per_minute = 100", "orders_per_minute = 0"),
            vec!["orders_per_minute"],
        ),
        ("not-toml.toml", "this is = = not toml".to_string(), vec![]),
    ];
    for (file, text, needles) in cases {
        std::fs::write(dir.path().join(file), text).unwrap();
        for args in [
            vec!["profiles", "--profile-file", file],
            vec!["simulate", "--profile-file", file, "-o", "never.trace"],
        ] {
            let out = loadgen_in(dir.path(), &args);
            let what = format!("{args:?}");
            assert_exit(&out, 2, &what);
            let err = stderr(&out);
            assert!(err.contains(file), "{what}: the file is not named: {err}");
            for needle in &needles {
                assert!(err.contains(needle), "{what}: `{needle}` missing: {err}");
            }
            assert!(
                stdout(&out).is_empty(),
                "{what}: printed before failing:\n{}",
                stdout(&out)
            );
        }
    }
    assert_no_trace_left(dir.path());
}

/// Asserts a failed `simulate` left neither the requested file nor its partial file.
fn assert_no_trace_left(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".trace"))
        .collect();
    assert!(names.is_empty(), "left behind: {names:?}");
}

/// The events and summary the library produces for what `simulate --seed S --duration …`
/// (demo profile, default start, built-in world) writes.
fn library_run(seed: u64, duration_ms: u64) -> (Vec<u8>, Vec<Event>, TraceSummary) {
    let world = loadgen::world::builtin_world();
    let config = common::config("demo", seed, DEFAULT_START, duration_ms);
    let events = common::simulate(&world, &config);
    let bytes = common::write_trace(&common::header_for(&world, &config), &events);
    let mut summary = TraceSummary::new(duration_ms);
    for e in &events {
        summary.add(e);
    }
    (bytes, events, summary)
}

/// The number after `label` on the line that starts with it (whitespace-trimmed).
fn number_after(text: &str, label: &str) -> u64 {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no line `{label}` in:\n{text}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number after `{label}` in `{line}`"))
}

#[test]
fn simulate_writes_what_the_library_simulates_and_inspect_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = loadgen_in(
        dir.path(),
        &[
            "simulate",
            "--seed",
            "7",
            "--duration",
            "45m",
            "-o",
            "t.trace",
        ],
    );
    assert_exit(&out, 0, "simulate");
    let (bytes, events, summary) = library_run(7, 45 * 60_000);
    let written = std::fs::read(dir.path().join("t.trace")).unwrap();
    assert!(
        written == bytes,
        "the CLI's trace differs from the library's for the same seed ({} vs {} bytes)",
        written.len(),
        bytes.len()
    );
    assert!(
        stderr(&out).contains(&format!("Wrote {} events", events.len())),
        "{}",
        stderr(&out)
    );

    let out = loadgen_in(dir.path(), &["inspect", "t.trace"]);
    assert_exit(&out, 0, "inspect");
    let text = stdout(&out);
    assert_eq!(
        number_after(&text, "Events:"),
        events.len() as u64,
        "{text}"
    );
    assert_eq!(number_after(&text, "Seed:"), 7);
    assert!(text.contains("Profile: demo - "), "{text}");
    assert!(text.contains("Start: 2026-01-05T09:00:00+00:00"), "{text}");
    assert!(text.contains("Duration: 00:45:00.000"), "{text}");
    assert!(
        text.contains(
            "World: builtin (10 stores, 760 products, 100 customers, 7600 inventory items)"
        ),
        "{text}"
    );
    for activity in Activity::ALL {
        assert_eq!(
            number_after(&text, activity.label()),
            summary.count(activity),
            "{}",
            activity.label()
        );
    }
    assert_eq!(number_after(&text, "Requests:"), summary.total_requests());
    assert_eq!(
        number_after(&text, "Peak open orders:"),
        summary.peak_open_orders as u64
    );
    // Every activity happens within 45 minutes of demo traffic.
    assert!(Activity::ALL.iter().all(|&a| summary.count(a) > 0));
}

fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (headers, rows)
}

#[test]
fn export_writes_the_documented_columns_one_row_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let out = loadgen_in(
        dir.path(),
        &[
            "simulate",
            "--seed",
            "11",
            "--duration",
            "40m",
            "-o",
            "t.trace",
        ],
    );
    assert_exit(&out, 0, "simulate");
    let (_, events, _) = library_run(11, 40 * 60_000);
    let world = loadgen::world::builtin_world();
    let start = common::start(DEFAULT_START);

    let out = loadgen_in(dir.path(), &["export", "t.trace"]);
    assert_exit(&out, 0, "export");
    let csv_text = stdout(&out);
    assert_eq!(
        csv_text.lines().next().unwrap(),
        COLUMNS.join(","),
        "CSV header"
    );
    let (headers, rows) = csv_rows(&csv_text);
    assert_eq!(headers, COLUMNS);
    assert_eq!(rows.len(), events.len(), "one row per event");
    for (i, (row, event)) in rows.iter().zip(&events).enumerate() {
        assert_eq!(row.len(), COLUMNS.len());
        assert_eq!(row[0], (i + 1).to_string(), "seq");
        assert_eq!(row[1], event.at.as_ms().to_string(), "offset_ms");
        let ts = chrono::DateTime::parse_from_rfc3339(&row[2]).unwrap();
        assert_eq!(
            ts,
            start + chrono::Duration::milliseconds(event.at.as_ms() as i64),
            "timestamp of row {}",
            i + 1
        );
        assert!(row[2].ends_with("+00:00"), "{}", row[2]);
        assert_eq!(row[3], event.action.activity().key(), "activity");
        match &event.action {
            Action::NewOrder(o) => {
                assert_eq!(row[4], format!("order:LG-{:06}", o.order));
                assert_eq!(row[6], "CREATED");
                assert_eq!(row[8], world.stores[o.store as usize].id);
                let units: u32 = o.lines.iter().map(|l| u32::from(l.quantity)).sum();
                assert_eq!(row[10], units.to_string(), "quantity");
                assert_eq!(row[12], dollars(o.total_cents), "amount");
                assert_eq!(row[13], o.lines.len().to_string(), "lines");
            }
            Action::Transition { order, from, to } => {
                assert_eq!(row[4], format!("order:LG-{order:06}"));
                assert_eq!(
                    (row[5].as_str(), row[6].as_str()),
                    (from.as_api(), to.as_api())
                );
            }
            Action::InventoryUpdate { item, stock_level } => {
                let inv = &world.inventory[*item as usize];
                assert_eq!(row[4], inv.id);
                assert_eq!(row[9], world.products[inv.product as usize].id);
                assert_eq!(row[11], stock_level.to_string());
            }
            Action::AddLine {
                order,
                line,
                total_cents,
            } => {
                assert_eq!(row[4], format!("orderline:LG-{order:06}-{:02}", line.seq));
                assert_eq!(row[9], world.products[line.product as usize].id);
                assert_eq!(row[12], dollars(*total_cents));
            }
            Action::RemoveLine {
                order,
                seq,
                total_cents,
            } => {
                assert_eq!(row[4], format!("orderline:LG-{order:06}-{seq:02}"));
                assert_eq!(row[12], dollars(*total_cents));
            }
            Action::NewCustomer { customer, .. } => {
                assert_eq!(row[4], format!("customer:LG-{customer:06}"));
                assert!(row[14].contains("@example.com"), "{}", row[14]);
            }
        }
    }

    // -o writes the same bytes as standard output.
    let out = loadgen_in(dir.path(), &["export", "t.trace", "-o", "t.csv"]);
    assert_exit(&out, 0, "export -o");
    assert!(stdout(&out).is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("t.csv")).unwrap(),
        csv_text
    );

    // JSON Lines: one object per event with the same columns and values.
    let out = loadgen_in(dir.path(), &["export", "t.trace", "--format", "jsonl"]);
    assert_exit(&out, 0, "export --format jsonl");
    let jsonl = stdout(&out);
    let objects: Vec<serde_json::Map<String, serde_json::Value>> = jsonl
        .lines()
        .enumerate()
        .map(|(i, line)| match serde_json::from_str(line) {
            Ok(serde_json::Value::Object(map)) => map,
            other => panic!("line {} is not a JSON object: {other:?}", i + 1),
        })
        .collect();
    assert_eq!(objects.len(), events.len());
    for (i, (object, row)) in objects.iter().zip(&rows).enumerate() {
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = COLUMNS.to_vec();
        want.sort_unstable();
        assert_eq!(keys, want, "keys of line {}", i + 1);
        for (column, field) in COLUMNS.iter().zip(row) {
            let as_csv = match &object[*column] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                other => panic!("unexpected JSON value {other}"),
            };
            assert_eq!(&as_csv, field, "line {} column {column}", i + 1);
        }
    }
    let out = loadgen_in(
        dir.path(),
        &["export", "t.trace", "--format", "jsonl", "-o", "t.jsonl"],
    );
    assert_exit(&out, 0, "export jsonl -o");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("t.jsonl")).unwrap(),
        jsonl
    );

    // An unknown format is a usage error.
    let out = loadgen_in(dir.path(), &["export", "t.trace", "--format", "xml"]);
    assert_exit(&out, 2, "export --format xml");
}

#[test]
fn simulate_to_stdout_writes_the_same_bytes_as_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["simulate", "--seed", "3", "--duration", "20m"];
    let file = loadgen_in(dir.path(), &[&args[..], &["-o", "f.trace"]].concat());
    assert_exit(&file, 0, "simulate -o f.trace");
    let piped = loadgen_in(dir.path(), &[&args[..], &["-o", "-"]].concat());
    assert_exit(&piped, 0, "simulate -o -");
    let from_file = std::fs::read(dir.path().join("f.trace")).unwrap();
    assert!(!from_file.is_empty());
    assert!(
        piped.stdout == from_file,
        "stdout ({} bytes) differs from the file ({} bytes)",
        piped.stdout.len(),
        from_file.len()
    );
    // Nothing named `-` was created.
    assert!(!dir.path().join("-").exists());
}

/// Spawns `loadgen export` with a pipe for stdout, reads three lines, closes the pipe while the
/// exporter is still writing, and expects a quiet success.
fn export_into_closed_pipe(dir: &Path, trace: &str, format: &str) {
    let mut child = Command::new(harness::bin())
        .args(["export", trace, "--format", format])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..3 {
        assert!(lines.next().unwrap().unwrap().len() > 10);
    }
    drop(lines);
    let out = child.wait_with_output().unwrap();
    assert_exit(
        &out,
        0,
        &format!("export --format {format} into a closed pipe"),
    );
    assert!(
        out.stderr.is_empty(),
        "complained about the closed pipe: {}",
        stderr(&out)
    );
}

#[test]
fn export_into_a_closed_pipe_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    // The standard profile's two hours: megabytes of CSV, far more than a pipe buffer holds,
    // so the exporter is certainly still writing when the reader goes away.
    let out = loadgen_in(
        dir.path(),
        &["simulate", "--profile", "standard", "-o", "big.trace"],
    );
    assert_exit(&out, 0, "simulate standard");
    assert!(
        std::fs::metadata(dir.path().join("big.trace"))
            .unwrap()
            .len()
            > 100_000
    );
    export_into_closed_pipe(dir.path(), "big.trace", "csv");
    export_into_closed_pipe(dir.path(), "big.trace", "jsonl");

    // The same through a shell pipeline, where bash's pipefail makes the exporter's status count.
    if Path::new("/bin/bash").exists() {
        let out = Command::new("/bin/bash")
            .arg("-c")
            .arg("set -o pipefail; \"$0\" export big.trace | head -n 3")
            .arg(harness::bin())
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_exit(&out, 0, "bash: loadgen export | head -n 3");
        assert_eq!(stdout(&out).lines().count(), 3);
        assert_eq!(stdout(&out).lines().next().unwrap(), COLUMNS.join(","));
    }
}

#[test]
fn simulate_is_byte_identical_across_directories_and_time_zones() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let args = ["simulate", "--seed", "42", "-o", "a.trace"];
    let out = loadgen_tz(a.path(), "Asia/Tokyo", &args);
    assert_exit(&out, 0, "simulate in Tokyo");
    let out = loadgen_tz(b.path(), "America/New_York", &args);
    assert_exit(&out, 0, "simulate in New York");
    let tokyo = std::fs::read(a.path().join("a.trace")).unwrap();
    let new_york = std::fs::read(b.path().join("a.trace")).unwrap();
    assert!(
        tokyo == new_york,
        "the TZ or the directory changed the trace"
    );
    // The default is the demo profile's 30 minutes from the fixed default start.
    let (header, _, _) = common::read_all(&tokyo).unwrap();
    assert_eq!(header.seed, 42);
    assert_eq!(header.profile.name, "demo");
    assert_eq!(header.duration_ms, 30 * 60_000);
    assert_eq!(header.start, "2026-01-05T09:00:00+00:00");

    // What is derived from it does not depend on the zone either.
    for cmd in [vec!["inspect", "a.trace"], vec!["export", "a.trace"]] {
        let tokyo = loadgen_tz(a.path(), "Asia/Tokyo", &cmd);
        let new_york = loadgen_tz(b.path(), "America/New_York", &cmd);
        assert_exit(&tokyo, 0, &format!("{cmd:?}"));
        assert_eq!(stdout(&tokyo), stdout(&new_york), "{cmd:?}");
    }

    // And the seed matters.
    let out = loadgen_in(a.path(), &["simulate", "--seed", "43", "-o", "c.trace"]);
    assert_exit(&out, 0, "simulate seed 43");
    assert!(std::fs::read(a.path().join("c.trace")).unwrap() != tokyo);
}

#[test]
fn the_start_offset_sets_the_local_time_of_day() {
    let dir = tempfile::tempdir().unwrap();
    // The same instant: midnight in Tokyo is 15:00 UTC the day before.
    let cases = [
        ("tokyo.trace", "2026-01-05T00:00:00+09:00"),
        ("utc.trace", "2026-01-04T15:00:00Z"),
    ];
    let mut orders_first_hour = Vec::new();
    for (file, start) in cases {
        let out = loadgen_in(
            dir.path(),
            &["simulate", "--start", start, "--duration", "1h", "-o", file],
        );
        assert_exit(&out, 0, start);
        let (header, events, _) =
            common::read_all(&std::fs::read(dir.path().join(file)).unwrap()).unwrap();
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(&header.start).unwrap(),
            chrono::DateTime::parse_from_rfc3339(start).unwrap()
        );
        orders_first_hour.push(
            events
                .iter()
                .filter(|e| e.action.activity() == Activity::NewOrder)
                .count(),
        );
    }
    // Demo is 5 orders/min: 0.3× at local midnight (~90/h), 1× at 15:00 (~300/h).
    assert!(
        (50..150).contains(&orders_first_hour[0]),
        "{orders_first_hour:?}"
    );
    assert!(
        (240..360).contains(&orders_first_hour[1]),
        "{orders_first_hour:?}"
    );
    let out = loadgen_in(dir.path(), &["inspect", "tokyo.trace"]);
    assert!(
        stdout(&out).contains("Start: 2026-01-05T00:00:00+09:00"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("Mon 00:00  x0.3"), "{}", stdout(&out));
}

#[test]
fn bad_arguments_exit_2_and_leave_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &[&str]); 9] = [
        (&["--profile", "turbo"], &["turbo"]),
        (&["--start", "yesterday"], &["--start", "yesterday"]),
        (&["--start", "2026-01-05 09:00"], &["--start"]),
        (&["--start", "2026-01-05T09:00:00"], &["--start"]),
        (&["--duration", "10y"], &["10y", "duration"]),
        (&["--duration=-5m"], &["-5m", "duration"]),
        (&["--duration", "abc"], &["abc"]),
        (&["--duration", "0"], &["--duration"]),
        (&["--seed", "minus-one"], &["--seed"]),
    ];
    for (extra, needles) in cases {
        let args = [&["simulate"], extra, &["-o", "x.trace"]].concat();
        let out = loadgen_in(dir.path(), &args);
        let what = format!("{args:?}");
        assert_exit(&out, 2, &what);
        let err = stderr(&out);
        for needle in needles {
            assert!(err.contains(needle), "{what}: `{needle}` missing in {err}");
        }
    }
    // Missing -o is a usage error too.
    let out = loadgen_in(dir.path(), &["simulate"]);
    assert_exit(&out, 2, "simulate without -o");
    assert_no_trace_left(dir.path());
}

#[test]
fn world_files_are_used_and_validated() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = common::tiny_world();
    std::fs::write(
        dir.path().join("tiny.json"),
        serde_json::to_string_pretty(&tiny).unwrap(),
    )
    .unwrap();
    let out = loadgen_in(
        dir.path(),
        &[
            "simulate",
            "--world",
            "tiny.json",
            "--duration",
            "30m",
            "--seed",
            "5",
            "-o",
            "tiny.trace",
        ],
    );
    assert_exit(&out, 0, "simulate --world tiny.json");
    // The same bytes as the library writes for that world.
    let config = common::config("demo", 5, DEFAULT_START, 30 * 60_000);
    let events = common::simulate(&tiny, &config);
    let expected = common::write_trace(&common::header_for(&tiny, &config), &events);
    assert!(std::fs::read(dir.path().join("tiny.trace")).unwrap() == expected);
    let out = loadgen_in(dir.path(), &["inspect", "tiny.trace"]);
    assert!(
        stdout(&out).contains("World: tiny (2 stores, 3 products, 2 customers, 2 inventory items)"),
        "{}",
        stdout(&out)
    );

    let mut no_stores = tiny.clone();
    no_stores.stores.clear();
    no_stores.inventory.clear();
    let mut no_products = tiny.clone();
    no_products.products.clear();
    no_products.inventory.clear();
    let mut dangling = tiny.clone();
    dangling.inventory[0].product = 99;
    let cases = [
        (
            "no-stores.json",
            serde_json::to_string(&no_stores).unwrap(),
            vec!["no stores"],
        ),
        (
            "no-products.json",
            serde_json::to_string(&no_products).unwrap(),
            vec!["no products"],
        ),
        (
            "dangling.json",
            serde_json::to_string(&dangling).unwrap(),
            vec!["inventory:INV-000001", "99"],
        ),
        (
            "garbage.json",
            "{\"stores\": 3}".to_string(),
            vec!["not a loadgen world"],
        ),
    ];
    for (file, text, needles) in cases {
        std::fs::write(dir.path().join(file), text).unwrap();
        let out = loadgen_in(
            dir.path(),
            &["simulate", "--world", file, "-o", "bad.trace"],
        );
        assert_exit(&out, 2, file);
        let err = stderr(&out);
        assert!(err.contains(file), "{file}: not named in {err}");
        for needle in needles {
            assert!(err.contains(needle), "{file}: `{needle}` missing in {err}");
        }
    }
    let out = loadgen_in(
        dir.path(),
        &["simulate", "--world", "missing.json", "-o", "bad.trace"],
    );
    assert_exit(&out, 2, "missing world file");
    assert!(!dir.path().join("bad.trace").exists());
    assert!(!dir.path().join(".bad.trace.partial").exists());
}

#[test]
fn durations_take_units_and_default_to_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let runs = [
        ("90m.trace", Some("90m"), "demo", 90 * 60_000),
        ("1h30m.trace", Some("1h30m"), "demo", 90 * 60_000),
        ("24h.trace", Some("24h"), "demo", 24 * 3_600_000),
        ("peak.trace", None, "peak", 60 * 60_000),
    ];
    for (file, duration, profile, want_ms) in runs {
        let mut args = vec!["simulate", "--profile", profile, "-o", file];
        if let Some(d) = duration {
            args.extend(["--duration", d]);
        }
        let out = loadgen_in(dir.path(), &args);
        assert_exit(&out, 0, &format!("{args:?}"));
        let (header, events, _) =
            common::read_all(&std::fs::read(dir.path().join(file)).unwrap()).unwrap();
        assert_eq!(header.duration_ms, want_ms, "{args:?}");
        assert_eq!(header.profile.name, profile);
        let last = events.last().unwrap().at.as_ms();
        assert!(
            last < want_ms && last > want_ms - 5 * 60_000,
            "{args:?}: last event at {last} ms"
        );
    }
    // Two spellings of one duration give one trace.
    assert!(
        std::fs::read(dir.path().join("90m.trace")).unwrap()
            == std::fs::read(dir.path().join("1h30m.trace")).unwrap()
    );
}

#[test]
fn a_world_without_customers_is_refused_or_simulated_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut world = common::tiny_world();
    world.customers.clear();
    std::fs::write(
        dir.path().join("nocustomers.json"),
        serde_json::to_string(&world).unwrap(),
    )
    .unwrap();
    let out = loadgen_in(
        dir.path(),
        &[
            "simulate",
            "--world",
            "nocustomers.json",
            "--duration",
            "10m",
            "-o",
            "t.trace",
        ],
    );
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "panicked:\n{err}");
    match out.status.code() {
        Some(0) => {}
        Some(2) => assert!(err.contains("customers"), "unclear refusal: {err}"),
        other => panic!("exit {other:?}: {err}"),
    }
}

/// A failed write names the output (a full device says only where in the trace it failed),
/// and a cause the message already shows is not said again.
#[test]
fn write_errors_name_the_output_and_say_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let full = loadgen_in(
        dir.path(),
        &["simulate", "--duration", "1h", "-o", "/dev/full"],
    );
    assert_exit(&full, 2, "simulate -o /dev/full");
    let text = stderr(&full);
    assert!(
        text.contains("cannot write /dev/full: I/O error at byte"),
        "{text}"
    );

    std::fs::create_dir(dir.path().join("taken")).unwrap();
    let onto_dir = loadgen_in(dir.path(), &["simulate", "--duration", "1m", "-o", "taken"]);
    assert_exit(&onto_dir, 2, "simulate -o a directory");
    let text = stderr(&onto_dir);
    let error_line = text.lines().find(|l| l.starts_with("error:")).unwrap_or("");
    let cause = std::io::Error::from_raw_os_error(21).to_string();
    assert_eq!(error_line.matches(&cause).count(), 1, "{text}");
}
