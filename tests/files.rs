//! Files in and out (issue 8 items 1, 2, 3, 11, 12): an output that is an input is refused
//! before anything is written; outputs are atomic and no temporary file outlives an error,
//! SIGINT or SIGTERM; a closed standard output neither crashes a command nor loses its report;
//! traces are read from standard input, FIFOs and pipes; `--from/--to` follow the trace's own
//! time line and an empty or reversed window is refused naming the span the trace covers.
//!
//! Everything runs the built binary; replays go to an in-process stub on 127.0.0.1. Nothing
//! sleeps: signals are sent once the file they must clean up is seen on disk.

#[path = "common/harness.rs"]
mod harness;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use freshmart_stub::StubConfig;
use harness::{api_requests, json, loadgen, num, Run};
use loadgen::event::Action;
use loadgen::trace::TraceReader;

/// Names in `dir` other than the harness's own stdout/stderr captures.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| !n.starts_with("loadgen-"))
        .collect();
    names.sort();
    names
}

fn stderr_names(run: &Run, paths: &[&str]) {
    for path in paths {
        assert!(
            run.stderr.contains(path),
            "the message names {path}:\n{}",
            run.stderr
        );
    }
}

/// Waits (bounded) until some file in `dir` has a name that `matches` and at least
/// `min_len` bytes.
fn wait_for_file(dir: &Path, what: &str, min_len: u64, matches: impl Fn(&str) -> bool) -> PathBuf {
    let began = Instant::now();
    loop {
        let found = std::fs::read_dir(dir).expect("read dir").find_map(|e| {
            let e = e.expect("dir entry");
            let name = e.file_name().to_string_lossy().into_owned();
            (matches(&name) && e.metadata().is_ok_and(|m| m.len() >= min_len)).then(|| e.path())
        });
        if let Some(path) = found {
            return path;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "no {what} appeared in {}: {:?}",
            dir.display(),
            files_in(dir)
        );
        std::thread::yield_now();
    }
}

fn is_partial(name: &str) -> bool {
    name.starts_with('.') && name.contains(".partial")
}

// ---------------------------------------------------------------------------------------------
// Item 1: an output that is an input
// ---------------------------------------------------------------------------------------------

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let trace = harness::simulate(d, "t.trace", "20m", 1);
    let original = std::fs::read(&trace).unwrap();
    std::os::unix::fs::symlink("t.trace", d.join("link.trace")).unwrap();
    std::fs::hard_link(&trace, d.join("hard.trace")).unwrap();
    std::fs::write(d.join("p.toml"), "name = \"p\"\ndescription = \"d\"\norders_per_minute = 10\nconcurrent_workflows = 5\nduration_minutes = 1\n").unwrap();
    let profile_before = std::fs::read(d.join("p.toml")).unwrap();
    // Nothing listens here: each command must stop before it would talk to an API.
    let url = "http://127.0.0.1:9";
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["export", "t.trace", "-o", "t.trace"],
            &["-o t.trace", "t.trace"],
        ),
        (
            &["export", "t.trace", "-o", "link.trace"],
            &["link.trace", "t.trace"],
        ),
        (
            &[
                "replay",
                "t.trace",
                "--api-url",
                url,
                "--report",
                "link.trace",
            ],
            &["--report link.trace", "the trace t.trace"],
        ),
        (
            &[
                "replay",
                "t.trace",
                "--api-url",
                url,
                "--checkpoint",
                "hard.trace",
            ],
            &["--checkpoint hard.trace", "t.trace"],
        ),
        (
            &[
                "replay",
                "t.trace",
                "--api-url",
                url,
                "--report",
                "r.json",
                "--checkpoint",
                "r.json",
            ],
            &["--report r.json", "--checkpoint r.json"],
        ),
        (
            &[
                "verify",
                "t.trace",
                "--api-url",
                url,
                "--run-id",
                "x",
                "--report",
                "t.trace",
            ],
            &["--report t.trace", "t.trace"],
        ),
        (
            &["simulate", "--world", "hard.trace", "-o", "t.trace"],
            &["-o t.trace", "--world hard.trace"],
        ),
        (
            &["simulate", "--profile-file", "p.toml", "-o", "p.toml"],
            &["-o p.toml", "--profile-file p.toml"],
        ),
        (
            &[
                "start",
                "--profile-file",
                "p.toml",
                "--api-url",
                url,
                "--report",
                "p.toml",
            ],
            &["--report p.toml", "--profile-file p.toml"],
        ),
        (
            &[
                "start",
                "--api-url",
                url,
                "--report",
                "s.json",
                "--record",
                "s.json",
            ],
            &["--report s.json", "--record s.json"],
        ),
    ];
    for (args, named) in cases {
        let run = loadgen(d, args, &[]);
        run.expect_code(2);
        stderr_names(&run, named);
        assert_eq!(
            std::fs::read(&trace).unwrap(),
            original,
            "{args:?} kept the trace"
        );
        assert_eq!(
            std::fs::read(d.join("p.toml")).unwrap(),
            profile_before,
            "{args:?}"
        );
        assert_eq!(
            files_in(d),
            ["hard.trace", "link.trace", "p.toml", "t.trace"],
            "{args:?} wrote nothing"
        );
    }
}

#[test]
fn a_resumed_run_may_not_write_its_report_over_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    harness::simulate(d, "t.trace", "10m", 1);
    std::fs::write(d.join("cp"), "{}").unwrap();
    std::fs::write(d.join("cp.log"), []).unwrap();
    for (report, named) in [("cp", "--resume cp"), ("cp.log", "completion log cp.log")] {
        let run = loadgen(
            d,
            &["replay", "t.trace", "--resume", "cp", "--report", report],
            &[],
        );
        run.expect_code(2);
        stderr_names(&run, &[&format!("--report {report}"), named]);
        assert_eq!(std::fs::read(d.join("cp")).unwrap(), b"{}");
    }
}

// ---------------------------------------------------------------------------------------------
// Item 2: atomic outputs, no temporary file left behind
// ---------------------------------------------------------------------------------------------

#[test]
fn a_failed_export_keeps_the_previous_output_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let trace = harness::simulate(d, "t.trace", "20m", 1);
    let bytes = std::fs::read(&trace).unwrap();
    // Cut in the middle of the events: the export fails after writing rows.
    std::fs::write(d.join("cut.trace"), &bytes[..bytes.len() - 200]).unwrap();
    std::fs::remove_file(&trace).unwrap();
    std::fs::write(d.join("out.csv"), "previous export\n").unwrap();
    let run = loadgen(d, &["export", "cut.trace", "-o", "out.csv"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(d.join("out.csv")).unwrap(),
        "previous export\n"
    );
    assert_eq!(files_in(d), ["cut.trace", "out.csv"]);
}

fn signalled_export_leaves_the_old_file(signal: &str, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let trace = harness::simulate(d, "t.trace", "30m", 2);
    let bytes = std::fs::read(&trace).unwrap();
    // A FIFO the test writes the trace into, half now and the rest never: the export reading
    // it is mid-way, with its output's temporary file open, until it is signalled.
    harness::mkfifo(&d.join("in.fifo"));
    std::fs::write(d.join("out.jsonl"), "previous\n").unwrap();
    let running = harness::start(
        d,
        &["export", "in.fifo", "--format", "jsonl", "-o", "out.jsonl"],
        &[],
    );
    // Blocks until the export opens the FIFO; then the export has its temporary file.
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(d.join("in.fifo"))
        .unwrap();
    fifo.write_all(&bytes[..bytes.len() / 2]).unwrap();
    fifo.flush().unwrap();
    let partial = wait_for_file(d, "temporary export", 0, is_partial);
    running.signal(signal);
    let run = running.wait(harness::PROCESS_LIMIT);
    drop(fifo);
    assert_eq!(run.code, Some(code), "{signal}: {}", run.stderr);
    assert!(
        !partial.exists(),
        "{signal}: {} left behind",
        partial.display()
    );
    assert_eq!(
        std::fs::read_to_string(d.join("out.jsonl")).unwrap(),
        "previous\n"
    );
    assert_eq!(files_in(d), ["in.fifo", "out.jsonl", "t.trace"]);
}

#[test]
fn an_export_interrupted_by_sigint_leaves_the_old_file_and_no_temporary() {
    signalled_export_leaves_the_old_file("INT", 130);
}

#[test]
fn an_export_terminated_by_sigterm_leaves_the_old_file_and_no_temporary() {
    signalled_export_leaves_the_old_file("TERM", 143);
}

fn signalled_simulation_leaves_no_partial(signal: &str, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("big.trace"), "previous").unwrap();
    let running = harness::start(
        d,
        &[
            "simulate",
            "--profile",
            "stress",
            "--duration",
            "3650d",
            "-o",
            "big.trace",
        ],
        &[],
    );
    let partial = wait_for_file(d, "partial trace", 1 << 20, is_partial);
    running.signal(signal);
    let run = running.wait(harness::PROCESS_LIMIT);
    assert_eq!(run.code, Some(code), "{signal}: {}", run.stderr);
    assert!(
        !partial.exists(),
        "{signal}: {} left behind",
        partial.display()
    );
    assert_eq!(std::fs::read(d.join("big.trace")).unwrap(), b"previous");
    assert_eq!(files_in(d), ["big.trace"]);
}

#[test]
fn a_simulation_interrupted_by_sigint_leaves_no_partial_trace() {
    signalled_simulation_leaves_no_partial("INT", 130);
}

#[test]
fn a_simulation_terminated_by_sigterm_leaves_no_partial_trace() {
    signalled_simulation_leaves_no_partial("TERM", 143);
}

// ---------------------------------------------------------------------------------------------
// Item 3: a closed standard output
// ---------------------------------------------------------------------------------------------

fn closed_stdout(d: &Path, args: &[&str]) -> Run {
    harness::start_stdout_closed(d, args, &[], None).wait(harness::PROCESS_LIMIT)
}

#[test]
fn a_closed_stdout_does_not_crash_a_command_or_lose_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = stub.url();
    let trace = harness::trace_facts(&harness::simulate(d, "t.trace", "20m", 3));

    closed_stdout(d, &["profiles"]).expect_code(0);
    closed_stdout(d, &["inspect", "t.trace"]).expect_code(0);
    closed_stdout(d, &["export", "t.trace"]).expect_code(0);
    closed_stdout(d, &["simulate", "--duration", "20m", "-o", "-"]).expect_code(0);

    closed_stdout(
        d,
        &[
            "replay",
            "t.trace",
            "--api-url",
            &url,
            "--speed",
            "max",
            "--run-id",
            "c1",
            "--report",
            "r.json",
        ],
    )
    .expect_code(0);
    let report = json(&d.join("r.json"));
    assert_eq!(num(&report, "/events/succeeded"), trace.events);
    assert_eq!(num(&report, "/events/not_sent"), 0);
    // The checkpoint log has every event: the run went on after its first line was lost.
    assert_eq!(
        harness::logged(&d.join("r.json.checkpoint.log")).len() as u64,
        trace.events
    );

    closed_stdout(
        d,
        &[
            "verify",
            "t.trace",
            "--api-url",
            &url,
            "--run-id",
            "c1",
            "--report",
            "v.json",
        ],
    )
    .expect_code(0);
    assert_eq!(json(&d.join("v.json"))["agree"], true);
    // The exit code still reflects the run: another run id is not in the API.
    closed_stdout(
        d,
        &[
            "verify",
            "t.trace",
            "--api-url",
            &url,
            "--run-id",
            "nope",
            "--report",
            "v2.json",
        ],
    )
    .expect_code(1);
    assert_eq!(json(&d.join("v2.json"))["agree"], false);

    closed_stdout(
        d,
        &[
            "start",
            "--api-url",
            &url,
            "--duration",
            "2s",
            "--seed",
            "1",
            "--run-id",
            "c2",
            "--report",
            "s.json",
        ],
    )
    .expect_code(0);
    let report = json(&d.join("s.json"));
    assert_eq!(report["config"]["run_id"], "c2");
    assert_eq!(num(&report, "/events/failed"), 0);

    closed_stdout(d, &["world", "--api-url", &url, "-o", "-"]).expect_code(0);
    rt.block_on(stub.shutdown());
}

// ---------------------------------------------------------------------------------------------
// Item 11: traces from standard input, FIFOs and pipes
// ---------------------------------------------------------------------------------------------

#[test]
fn a_trace_from_standard_input_is_replayed_inspected_exported_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = stub.url();
    let path = harness::simulate(d, "t.trace", "20m", 4);
    let facts = harness::trace_facts(&path);
    let bytes = std::fs::read(&path).unwrap();
    let piped = |args: &[&str]| {
        harness::start_with_stdin(d, args, &[], bytes.clone()).wait(harness::PROCESS_LIMIT)
    };

    let run = piped(&[
        "replay",
        "-",
        "--api-url",
        &url,
        "--speed",
        "max",
        "--run-id",
        "p1",
        "--report",
        "r.json",
    ]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("Trace: standard input"),
        "{}",
        run.stdout
    );
    let report = json(&d.join("r.json"));
    assert_eq!(num(&report, "/events/succeeded"), facts.events);
    assert_eq!(api_requests(&stub.stats()), facts.requests);

    let run = piped(&["verify", "-", "--api-url", &url, "--run-id", "p1"]);
    run.expect_code(0);
    assert!(run.stdout.contains("The API agrees"), "{}", run.stdout);
    let after_verify = api_requests(&stub.stats());

    let run = piped(&["inspect", "-"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains(&format!("Events: {}", facts.events)),
        "{}",
        run.stdout
    );

    let run = piped(&["export", "-", "--format", "jsonl"]);
    run.expect_code(0);
    assert_eq!(run.stdout.lines().count() as u64, facts.events);

    // A resume cannot open standard input again by name: it says how to give it again.
    let checkpoint = json(&d.join("r.json.checkpoint"));
    assert_eq!(checkpoint["trace"], "-");
    let run = loadgen(
        d,
        &["replay", "--resume", "r.json.checkpoint", "--api-url", &url],
        &[],
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("give the trace again") && run.stderr.contains("replay - --resume"),
        "{}",
        run.stderr
    );
    // Given again, the same bytes resume (nothing is left to send).
    let run = piped(&[
        "replay",
        "-",
        "--resume",
        "r.json.checkpoint",
        "--api-url",
        &url,
    ]);
    run.expect_code(0);
    assert!(run.stdout.contains("0 to send"), "{}", run.stdout);
    assert_eq!(api_requests(&stub.stats()), after_verify, "nothing resent");
    rt.block_on(stub.shutdown());
}

#[test]
fn a_trace_from_a_fifo_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = stub.url();
    let path = harness::simulate(d, "t.trace", "20m", 5);
    let facts = harness::trace_facts(&path);
    let bytes = std::fs::read(&path).unwrap();
    harness::mkfifo(&d.join("t.fifo"));
    let running = harness::start(
        d,
        &[
            "replay",
            "t.fifo",
            "--api-url",
            &url,
            "--speed",
            "max",
            "--run-id",
            "f1",
            "--report",
            "r.json",
        ],
        &[],
    );
    let writer = std::thread::spawn({
        let fifo = d.join("t.fifo");
        move || {
            // Opening blocks until the replay opens the FIFO for reading.
            let mut fifo = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            fifo.write_all(&bytes).unwrap();
        }
    });
    // Opened twice, the replay would wait for a second writer forever.
    let run = running.wait(Duration::from_secs(60));
    writer.join().unwrap();
    run.expect_code(0);
    assert_eq!(
        num(&json(&d.join("r.json")), "/events/succeeded"),
        facts.events
    );
    assert_eq!(api_requests(&stub.stats()), facts.requests);
    rt.block_on(stub.shutdown());
}

// ---------------------------------------------------------------------------------------------
// Item 12: --from/--to on the trace's time line
// ---------------------------------------------------------------------------------------------

/// Orders a 09:00-10:00 trace creates in `from_ms..to_ms`.
fn orders_created(path: &Path, from_ms: u64, to_ms: u64) -> u64 {
    let mut reader = TraceReader::open(path).unwrap();
    let mut n = 0;
    while let Some(e) = reader.next_event().unwrap() {
        n += u64::from(
            matches!(e.action, Action::NewOrder(_)) && (from_ms..to_ms).contains(&e.at.as_ms()),
        );
    }
    n
}

#[test]
fn a_window_that_opens_before_the_trace_starts_replays_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = stub.url();
    // 09:00-10:00 UTC.
    let path = harness::simulate(d, "t.trace", "1h", 6);
    let expected = orders_created(&path, 0, 30 * 60_000);
    assert!(expected > 5);
    let run = loadgen(
        d,
        &[
            "replay",
            "t.trace",
            "--api-url",
            &url,
            "--speed",
            "max",
            "--run-id",
            "w1",
            "--from",
            "08:00",
            "--to",
            "09:30",
            "--report",
            "r.json",
        ],
        &[],
    );
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("Window: Mon 2026-01-05 09:00 to 09:30 (+00:00)"),
        "{}",
        run.stdout
    );
    let report = json(&d.join("r.json"));
    assert_eq!(
        (
            num(&report, "/config/from_ms"),
            num(&report, "/config/to_ms")
        ),
        (0, 30 * 60_000)
    );
    assert_eq!(num(&report, "/activities/new_order/succeeded"), expected);
    rt.block_on(stub.shutdown());
}

#[test]
fn empty_and_reversed_windows_are_refused_naming_the_trace_span() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = stub.url();
    harness::simulate(d, "t.trace", "1h", 6);
    let span = "the trace covers Mon 2026-01-05 09:00 to 10:00 (+00:00)";
    let reversed = "it covers Mon 2026-01-05 09:00 to 10:00 (+00:00)";
    for (from, to, says) in [
        ("09:40", "09:20", reversed),
        ("08:00", "09:00", span),
        ("10:30", "11:00", span),
    ] {
        for command in ["replay", "verify"] {
            let run = loadgen(
                d,
                &[
                    command,
                    "t.trace",
                    "--api-url",
                    &url,
                    "--run-id",
                    "w2",
                    "--speed",
                    "max",
                    "--from",
                    from,
                    "--to",
                    to,
                ]
                .into_iter()
                .filter(|a| command == "replay" || !["--speed", "max"].contains(a))
                .collect::<Vec<_>>(),
                &[],
            );
            run.expect_code(2);
            assert!(
                run.stderr.contains(says),
                "{command} --from {from} --to {to}: {}",
                run.stderr
            );
        }
    }
    assert_eq!(api_requests(&stub.stats()), 0, "nothing was sent");
    rt.block_on(stub.shutdown());
}

#[test]
fn an_output_that_is_a_device_is_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    harness::simulate(d, "t.trace", "10m", 1);
    loadgen(d, &["export", "t.trace", "-o", "/dev/null"], &[]).expect_code(0);
    let null = Path::new("/dev/null").metadata().unwrap();
    assert!(
        null.file_type().is_char_device(),
        "/dev/null is still a device"
    );
    assert_eq!(files_in(d), ["t.trace"]);
}
