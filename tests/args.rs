//! Arguments, exit codes and reads of the API (issue 8, items 8, 13, 14, 15 and 21):
//! * bad arguments are usage errors (exit 2) that say why, before anything is sent;
//! * each command's `--help` lists only the exit codes it can return;
//! * `verify`, `world`, `simulate --api-url` and `start`'s world load retry 5xx and dropped
//!   connections; a fault that outlasts the retries is exit 1 with its cause, never 2;
//! * `verify` checks the API's health before it reads the trace;
//! * credentials in the API URL appear in no output and no file;
//! * world files with duplicate ids, ids of the wrong class or unknown keys are refused.
//!
//! Every stub binds 127.0.0.1:0 and its fault draws are seeded; every process runs under the
//! harness's watchdog.

#[path = "common/harness.rs"]
mod harness;

use std::path::Path;
use std::time::Duration;

use freshmart_stub::StubConfig;
use harness::{closed_url, Run};

fn run(dir: &Path, args: &[&str]) -> Run {
    harness::loadgen(dir, args, &[])
}

/// Asserts exit 2 with every one of `reasons` on stderr.
fn assert_usage(run: &Run, reasons: &[&str]) {
    run.expect_code(2);
    for reason in reasons {
        assert!(
            run.stderr.contains(reason),
            "loadgen {:?}: stderr lacks `{reason}`:\n{}",
            run.args,
            run.stderr
        );
    }
}

#[test]
fn malformed_api_urls_are_usage_errors_that_say_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    harness::simulate(dir.path(), "t.trace", "5m", 1);
    for (url, why) in [
        ("localhost:8080", "use http:// or https://"),
        ("api.example.com", "give the scheme"),
        ("ftp://127.0.0.1:8080", "the scheme is `ftp`"),
        ("http://127.0.0.1:99999", "invalid port"),
    ] {
        let replay = run(dir.path(), &["replay", "t.trace", "--api-url", url]);
        assert_usage(&replay, &["--api-url", why]);
        assert!(
            !replay.stderr.contains("builder error"),
            "{}",
            replay.stderr
        );
        let verify = run(
            dir.path(),
            &["verify", "t.trace", "--api-url", url, "--run-id", "x"],
        );
        assert_usage(&verify, &[why]);
        assert_usage(&run(dir.path(), &["health", url]), &[why]);
        assert_usage(
            &run(dir.path(), &["world", "--api-url", url, "-o", "w.json"]),
            &[why],
        );
        assert_usage(
            &run(dir.path(), &["simulate", "--api-url", url, "-o", "x.trace"]),
            &[why],
        );
    }
    assert!(!dir.path().join("w.json").exists());
    assert!(!dir.path().join("x.trace").exists());
}

#[test]
fn out_of_range_numbers_are_usage_errors_with_the_allowed_range() {
    let dir = tempfile::tempdir().expect("temp dir");
    harness::simulate(dir.path(), "t.trace", "5m", 1);
    // A closed port: had any of these been accepted, the run would fail with exit 1 instead.
    let url = closed_url();
    let replay = |extra: &[&str]| {
        let mut args = vec!["replay", "t.trace", "--api-url", &url];
        args.extend_from_slice(extra);
        run(dir.path(), &args)
    };
    assert_usage(
        &replay(&["--concurrency", "0"]),
        &["--concurrency", "at least 1"],
    );
    assert_usage(
        &replay(&["--concurrency", "4611686018427387904"]),
        &["--concurrency", "at most 100000"],
    );
    assert_usage(&replay(&["--timeout", "0"]), &["--timeout", "more than 0"]);
    assert_usage(&replay(&["--timeout", "0ms"]), &["more than 0"]);
    assert_usage(
        &replay(&["--speed", "1e9x"]),
        &["--speed", "faster than 1000000x", "`max`"],
    );
    assert_usage(&replay(&["--speed", "0x"]), &["more than 0x"]);
    assert_usage(
        &run(
            dir.path(),
            &["verify", "t.trace", "--run-id", "x", "--parallel", "0"],
        ),
        &["--parallel", "at least 1"],
    );
    assert_usage(
        &run(
            dir.path(),
            &["simulate", "--duration", "99999d", "-o", "long.trace"],
        ),
        &["--duration", "at most 10 years"],
    );
    // `start` used to hang here; a usage error comes back at once.
    let start = harness::start(
        dir.path(),
        &["start", "--duration", "99999d", "--api-url", &url],
        &[],
    )
    .wait(Duration::from_secs(30));
    assert_usage(&start, &["--duration", "at most 10 years"]);
    let start = run(
        dir.path(),
        &["start", "--concurrency", "0", "--api-url", &url],
    );
    assert_usage(&start, &["at least 1"]);
}

#[test]
fn each_help_lists_only_the_exit_codes_its_command_returns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let help = |command: &str| harness::loadgen_ok(dir.path(), &[command, "--help"]).stdout;
    let has_code = |text: &str, code: &str| {
        text.lines()
            .any(|l| l.trim_start().starts_with(&format!("{code}  ")))
    };
    for offline in ["profiles", "inspect", "export"] {
        let text = help(offline);
        assert!(
            has_code(&text, "0") && has_code(&text, "2"),
            "{offline}:\n{text}"
        );
        assert!(
            !has_code(&text, "1"),
            "{offline} cannot fail a run:\n{text}"
        );
        // Only export writes a file that a signal makes it clean up.
        assert_eq!(
            has_code(&text, "130, 143"),
            offline == "export",
            "{offline}:\n{text}"
        );
    }
    for online in ["replay", "start"] {
        let text = help(online);
        for code in ["0", "1", "2", "130, 143"] {
            assert!(has_code(&text, code), "{online} lacks {code}:\n{text}");
        }
        assert!(text.contains("--min-success"), "{online}:\n{text}");
    }
    for (command, says) in [
        ("verify", "does not agree"),
        ("world", "unreachable"),
        ("health", "not healthy"),
        ("simulate", "--api-url"),
    ] {
        let text = help(command);
        assert!(
            has_code(&text, "1") && text.contains(says),
            "{command}:\n{text}"
        );
        let writes_a_file = matches!(command, "world" | "simulate");
        assert_eq!(
            has_code(&text, "130, 143"),
            writes_a_file,
            "{command}:\n{text}"
        );
        assert!(!text.contains("--min-success\n"), "{command}:\n{text}");
    }
    assert!(!help("verify").contains("under --min-success"));
}

/// A trace replayed into a stub, then verified while 20% of the stub's answers are 503s:
/// `verify` retries them and agrees (it used to give up at the first 503).
#[test]
fn verify_retries_injected_503s_and_agrees() {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            seed: 8,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    harness::simulate(dir.path(), "t.trace", "15m", 3);
    let url = stub.url();
    harness::loadgen_ok(
        dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &url,
            "--speed",
            "max",
            "--run-id",
            "v8",
        ],
    );
    stub.set_error_rate(0.2);
    let before = stub.stats().injected_errors;
    let verify = run(
        dir.path(),
        &["verify", "t.trace", "--api-url", &url, "--run-id", "v8"],
    );
    verify.expect_code(0);
    assert!(verify.stdout.contains("The API agrees with the trace"));
    // Progress bars are for terminals: none on a file.
    assert!(
        !verify.stderr.contains("orders read") && !verify.stderr.contains("reading the trace"),
        "{}",
        verify.stderr
    );
    let injected = stub.stats().injected_errors - before;
    assert!(injected >= 5, "the stub injected only {injected} errors");

    // A fault that outlasts the retries: exit 1, with the status and the attempts.
    stub.set_error_rate(1.0);
    let verify = run(
        dir.path(),
        &[
            "verify",
            "t.trace",
            "--api-url",
            &url,
            "--run-id",
            "v8",
            "--retries",
            "1",
        ],
    );
    verify.expect_code(1);
    assert!(
        verify.stderr.contains("HTTP 503") && verify.stderr.contains("after 2 attempts"),
        "{}",
        verify.stderr
    );
}

/// The world snapshot meets dropped connections: `world` retries them and writes the world.
#[test]
fn world_retries_dropped_connections() {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            reset_rate: 0.3,
            seed: 5,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let url = stub.url();
    let world = run(
        dir.path(),
        &["world", "--api-url", &url, "-o", "w.json", "--retries", "6"],
    );
    world.expect_code(0);
    assert!(stub.stats().resets > 0, "no connection was dropped");
    let written = harness::json(&dir.path().join("w.json"));
    assert!(!written["products"].as_array().expect("products").is_empty());
}

/// Connections dropped while `start` checks health and loads the world are retried: the run
/// goes on (it used to exit 2, "bad input", at the first reset).
#[test]
fn start_carries_on_through_dropped_connections_while_it_loads_the_world() {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            reset_rate: 0.3,
            seed: 5,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let url = stub.url();
    // 2 s of the demo profile at 09:00 sends next to nothing: the resets fall on the health
    // checks and the world's pages.
    let start = run(
        dir.path(),
        &[
            "start",
            "--api-url",
            &url,
            "--duration",
            "2s",
            "--seed",
            "1",
            "--start-at",
            "2026-01-05T09:00:00Z",
            "--retries",
            "8",
            "--report",
            "r.json",
        ],
    );
    start.expect_code(0);
    assert!(start.stdout.contains("Loaded "), "{}", start.stdout);
    let report = harness::json(&dir.path().join("r.json"));
    let resets = stub.stats().resets;
    let event_retries = harness::num(&report, "/retries");
    assert!(
        resets > event_retries,
        "{resets} connections dropped, {event_retries} of them retried by events: none fell on the world load"
    );
}

/// Every read of the world fails: `start` and `simulate --api-url` fail the run (exit 1,
/// saying the connection was dropped), not "bad input" (exit 2) as they did.
#[test]
fn a_world_load_that_outlasts_the_retries_is_a_run_failure() {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            reset_rate: 1.0,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let url = stub.url();
    let start = run(
        dir.path(),
        &[
            "start",
            "--api-url",
            &url,
            "--duration",
            "1",
            "--retries",
            "1",
        ],
    );
    start.expect_code(1);
    assert!(
        start.stderr.contains("cannot snapshot the world")
            && start.stderr.contains("after 2 attempts"),
        "{}",
        start.stderr
    );
    let simulate = run(
        dir.path(),
        &[
            "simulate",
            "--api-url",
            &url,
            "--retries",
            "1",
            "-o",
            "t.trace",
        ],
    );
    simulate.expect_code(1);
    assert!(
        simulate.stderr.contains("after 2 attempts"),
        "{}",
        simulate.stderr
    );
    assert!(!dir.path().join("t.trace").exists());
    // With nothing listening at all, the cause is named.
    let closed = closed_url();
    let world = run(
        dir.path(),
        &[
            "world",
            "--api-url",
            &closed,
            "-o",
            "w.json",
            "--retries",
            "1",
        ],
    );
    world.expect_code(1);
    assert!(
        world.stderr.contains("connection refused"),
        "{}",
        world.stderr
    );
}

/// `verify` checks health before it reads the trace's events: with the API unreachable, the
/// corrupt second half of a trace is never reached (it used to read the whole trace first, and
/// then say exit 2 for this one). Its header is read first: a trace that is not one at all is
/// still exit 2.
#[test]
fn verify_checks_health_before_reading_the_trace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let whole = std::fs::read(harness::simulate(dir.path(), "t.trace", "30m", 5)).expect("read");
    std::fs::write(dir.path().join("bad.trace"), &whole[..whole.len() / 2]).expect("write");
    let url = closed_url();
    let not_a_trace = dir.path().join("junk.trace");
    std::fs::write(&not_a_trace, b"not a trace at all").expect("write");
    let junk = run(
        dir.path(),
        &["verify", "junk.trace", "--api-url", &url, "--run-id", "x"],
    );
    junk.expect_code(2);
    let verify = run(
        dir.path(),
        &[
            "verify",
            "bad.trace",
            "--api-url",
            &url,
            "--run-id",
            "x",
            "--retries",
            "1",
        ],
    );
    verify.expect_code(1);
    assert!(
        verify.stderr.contains("connection refused"),
        "{}",
        verify.stderr
    );
    assert!(!verify.stderr.contains("bad.trace"), "{}", verify.stderr);
}

const PASSWORD: &str = "hunter2-in-the-url";

/// Checks that `PASSWORD` is in no output of `runs` and no file of `dir` (traces included: a
/// snapshot's world is named after its API).
fn assert_password_nowhere(dir: &Path, runs: &[&Run]) {
    let mut files = 0;
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{} holds the URL's password",
            path.display()
        );
        files += 1;
    }
    assert!(files >= 6, "only {files} files checked");
    for run in runs {
        assert!(
            !run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD),
            "loadgen {:?} shows the URL's password:\n{}\n{}",
            run.args,
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn credentials_in_the_api_url_appear_in_no_output_and_no_file() {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    harness::simulate(dir.path(), "t.trace", "5m", 2);
    let url = stub
        .url()
        .replace("http://", &format!("http://loadgen:{PASSWORD}@"));
    let replay = run(
        dir.path(),
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
    );
    replay.expect_code(0);
    let report = harness::json(&dir.path().join("r.json"));
    assert!(
        report["config"]["api_url"]
            .as_str()
            .is_some_and(|u| u.contains("[redacted]@127.0.0.1")),
        "{}",
        report["config"]
    );
    let verify = run(
        dir.path(),
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
    );
    verify.expect_code(0);
    let health = run(dir.path(), &["health", &url]);
    health.expect_code(0);
    let world = run(dir.path(), &["world", "--api-url", &url, "-o", "w.json"]);
    world.expect_code(0);
    let simulate = run(
        dir.path(),
        &[
            "simulate",
            "--api-url",
            &url,
            "--duration",
            "5m",
            "-o",
            "s.trace",
        ],
    );
    simulate.expect_code(0);
    // And in an error: nothing listens there.
    let closed = closed_url().replace("http://", &format!("http://loadgen:{PASSWORD}@"));
    let failed = run(
        dir.path(),
        &["replay", "t.trace", "--api-url", &closed, "--retries", "0"],
    );
    failed.expect_code(1);
    assert_password_nowhere(
        dir.path(),
        &[&replay, &verify, &health, &world, &simulate, &failed],
    );
    // The URL is still shown, with its credentials redacted.
    for shown in [
        &replay.stdout,
        &verify.stdout,
        &health.stdout,
        &world.stderr,
        &failed.stderr,
    ] {
        assert!(shown.contains("http://[redacted]@127.0.0.1:"), "{shown}");
    }
}

/// Writes the built-in world as JSON after `edit`.
fn world_file(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut json = serde_json::to_value(loadgen::world::builtin_world()).expect("world");
    edit(&mut json);
    std::fs::write(dir.join(name), serde_json::to_vec(&json).expect("json")).expect("write");
}

#[test]
fn world_files_with_duplicate_or_misclassed_ids_or_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let simulate = |file: &str| run(d, &["simulate", "--world", file, "-o", "t.trace"]);
    world_file(d, "ok.json", |_| {});
    simulate("ok.json").expect_code(0);
    std::fs::remove_file(d.join("t.trace")).expect("remove");

    world_file(d, "dup.json", |w| {
        let id = w["products"][0]["id"].clone();
        w["products"][7]["id"] = id;
    });
    assert_usage(
        &simulate("dup.json"),
        &[
            "dup.json",
            "product id `product:",
            "appears twice",
            "entries 1 and 8",
        ],
    );
    world_file(d, "class.json", |w| {
        w["stores"][1]["id"] = serde_json::json!("product:prod0001");
    });
    assert_usage(
        &simulate("class.json"),
        &["class.json", "store id `product:prod0001`", "`store:`"],
    );
    world_file(d, "keys.json", |w| {
        w["warehouses"] = serde_json::json!([]);
    });
    assert_usage(&simulate("keys.json"), &["keys.json", "warehouses"]);
    assert!(!d.join("t.trace").exists());
}

/// `--abort-on-threshold` without a threshold is bad usage, found before any work: with
/// nothing listening, the answer is about the arguments (exit 2), not the connection (exit 1),
/// and the replay has written no checkpoint. It used to be found after the health check.
#[test]
fn abort_on_threshold_without_thresholds_is_refused_before_any_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::simulate(dir.path(), "t.trace", "10m", 5);
    let url = closed_url();
    let trace = trace.to_str().expect("utf-8 path");
    let runs = [
        vec![
            "replay",
            trace,
            "--api-url",
            &url,
            "--report",
            "r.json",
            "--abort-on-threshold",
        ],
        vec![
            "start",
            "--api-url",
            &url,
            "--duration",
            "1m",
            "--abort-on-threshold",
        ],
    ];
    for args in runs {
        let refused = run(dir.path(), &args);
        refused.expect_code(2);
        assert!(
            refused
                .stderr
                .contains("--abort-on-threshold needs a --threshold or --thresholds"),
            "{}: {}",
            args[0],
            refused.stderr
        );
        assert!(
            !refused.stderr.contains("connection refused"),
            "{}",
            refused.stderr
        );
    }
    assert!(!dir.path().join("r.json").exists());
    assert!(!dir.path().join("r.json.checkpoint").exists());
}
