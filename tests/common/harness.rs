//! Out-of-process fixtures: the built binary (captured, or watched and killed past a limit
//! with its output in files, so a child that runs while the test does other things never
//! blocks on a full pipe), the traces and reports it writes, and the FreshMart stub
//! (`tools/freshmart-stub`, bound to 127.0.0.1:0) served from a runtime the test owns.
//! In-process fixtures (a tiny world, the library's simulator, traces in memory) are
//! `tests/common/mod.rs`.
//!
//! Each test crate uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use freshmart_stub::{RecordedRequest, StubConfig, StubHandle, StubStats};
use loadgen::api::RequestContext;
use loadgen::event::{Action, Event};
use loadgen::sim::time::Calendar;
use loadgen::trace::{TraceHeader, TraceReader};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------------

/// Longest any one `loadgen` process may run before the watchdog kills it.
pub const PROCESS_LIMIT: Duration = Duration::from_secs(120);
/// Longest a wait on the stub's counters may take.
pub const STATS_LIMIT: Duration = Duration::from_secs(30);

/// A finished `loadgen` process.
pub struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Asserts the exit code (and that nothing panicked), showing the output otherwise.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        check_exit(
            &format!("loadgen {:?}", self.args),
            self.code,
            code,
            &self.stdout,
            &self.stderr,
        );
        self
    }

    /// Asserts nothing panicked, whatever the exit code (for runs whose code the test derives
    /// from their report).
    #[track_caller]
    pub fn expect_no_panic(&self) -> &Run {
        assert!(
            !self.stderr.contains("panicked"),
            "loadgen {:?} panicked:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// The number after `prefix` on the first stdout line holding it (stamps allowed).
    pub fn number_after(&self, prefix: &str) -> u64 {
        self.stdout
            .lines()
            .find_map(|l| l.split_once(prefix).map(|(_, rest)| rest.trim()))
            .and_then(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or_else(|| panic!("no `{prefix}N` on stdout:\n{}", self.stdout))
    }
}

/// A `loadgen` process still running.
pub struct Running {
    child: Child,
    args: Vec<String>,
    out: PathBuf,
    err: PathBuf,
    started: Instant,
}

static OUTPUTS: AtomicUsize = AtomicUsize::new(0);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_loadgen")
}

/// `loadgen args…` in `dir`: TZ=UTC, none of the caller's LOADGEN_* or RUST_BACKTRACE,
/// plus `env`.
pub fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .env_remove("LOADGEN_API_URL")
        .env_remove("LOADGEN_API_TOKEN")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null());
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// Runs `loadgen args…` in `dir` to the end, its output captured in memory (byte for byte),
/// with a fixed time zone; never inherits the caller's TZ. No watchdog: for commands that
/// send nothing and finish on their own.
pub fn loadgen_in(dir: &Path, args: &[&str]) -> Output {
    loadgen_tz(dir, "UTC", args)
}

pub fn loadgen_tz(dir: &Path, tz: &str, args: &[&str]) -> Output {
    command(dir, args, &[("TZ", tz)])
        .output()
        .expect("cannot run the loadgen binary")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the process exited with `code`, printing its output otherwise. A panic (101) is
/// called out explicitly.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32, what: &str) {
    check_exit(
        what,
        out.status.code(),
        code,
        &String::from_utf8_lossy(&out.stdout),
        &stderr(out),
    );
}

#[track_caller]
fn check_exit(what: &str, got: Option<i32>, code: i32, stdout: &str, stderr: &str) {
    assert!(
        !stderr.contains("panicked"),
        "{what}: the binary panicked:\n{stderr}"
    );
    assert_eq!(
        got,
        Some(code),
        "{what}: expected exit code {code}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
}

/// Two fresh files in `dir` for a started process's stdout and stderr.
fn output_files(dir: &Path) -> (PathBuf, PathBuf) {
    let n = OUTPUTS.fetch_add(1, Ordering::SeqCst);
    (
        dir.join(format!("loadgen-{n}.stdout")),
        dir.join(format!("loadgen-{n}.stderr")),
    )
}

fn create(path: &Path) -> std::fs::File {
    std::fs::File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()))
}

/// Starts `loadgen args…` in `dir`, its output going to files in `dir`.
pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Running {
    let (out, err) = output_files(dir);
    let mut cmd = command(dir, args, env);
    cmd.stdout(create(&out)).stderr(create(&err));
    Running::spawn(cmd, args, out, err)
}

/// Starts `loadgen args…` in `dir` with standard output a pipe whose reading end is closed
/// before the process starts (`loadgen … | true`): every write to stdout fails with EPIPE.
/// Standard error goes to a file, standard input is `stdin` (null if `None`).
pub fn start_stdout_closed(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<Stdio>,
) -> Running {
    let (out, err) = output_files(dir);
    // The write end of a pipe whose only reader, a process that has exited, is gone.
    let mut reader = Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .expect("cannot run true");
    let writer = reader.stdin.take().expect("piped stdin");
    reader.wait().expect("true exits");
    let mut cmd = command(dir, args, env);
    cmd.stdout(writer).stderr(create(&err));
    if let Some(stdin) = stdin {
        cmd.stdin(stdin);
    }
    Running::spawn(cmd, args, out, err)
}

/// Starts `loadgen args…` in `dir` with `input` written to its standard input through a pipe
/// (from a thread, so a large input never blocks the test), output to files as `start` does.
pub fn start_with_stdin(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: Vec<u8>,
) -> Running {
    let (out, err) = output_files(dir);
    let mut cmd = command(dir, args, env);
    cmd.stdin(Stdio::piped())
        .stdout(create(&out))
        .stderr(create(&err));
    let mut running = Running::spawn(cmd, args, out, err);
    let mut stdin = running.child.stdin.take().expect("stdin is piped");
    std::thread::spawn(move || {
        use std::io::Write;
        // A reader that stops early closes the pipe: not the writer's concern.
        let _ = stdin.write_all(&input);
    });
    running
}

impl Running {
    fn spawn(mut cmd: Command, args: &[&str], out: PathBuf, err: PathBuf) -> Running {
        Running {
            child: cmd.spawn().expect("cannot run the loadgen binary"),
            args: args.iter().map(|s| s.to_string()).collect(),
            out,
            err,
            started: Instant::now(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash or an OOM killer would.
    pub fn kill(&mut self) {
        self.child.kill().expect("cannot kill loadgen");
    }

    /// Sends a signal (e.g. `INT`) to this process only, by its id.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits (polling, at most `limit`) until the process's stdout holds `needle`.
    pub fn wait_for_stdout(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let out =
                String::from_utf8_lossy(&std::fs::read(&self.out).unwrap_or_default()).into_owned();
            if out.contains(needle) {
                return;
            }
            let exited = self.child.try_wait().expect("try_wait").is_some();
            assert!(
                !exited && Instant::now() < deadline,
                "no `{needle}` on stdout of loadgen {:?} (exited: {exited}):\n{out}",
                self.args
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process, killing it if it outlives `limit` (then the test fails).
    pub fn wait(mut self, limit: Duration) -> Run {
        let pid = self.child.id();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            let timed_out = matches!(
                done_rx.recv_timeout(limit),
                Err(mpsc::RecvTimeoutError::Timeout)
            );
            if timed_out {
                // Only the process this helper started, by its id.
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            timed_out
        });
        let status = self.child.wait().expect("cannot wait for loadgen");
        let elapsed = self.started.elapsed();
        let _ = done_tx.send(());
        let killed = watchdog.join().expect("watchdog thread");
        let run = Run {
            args: self.args,
            code: status.code(),
            stdout: String::from_utf8_lossy(&std::fs::read(&self.out).unwrap_or_default())
                .into_owned(),
            stderr: String::from_utf8_lossy(&std::fs::read(&self.err).unwrap_or_default())
                .into_owned(),
            elapsed,
        };
        assert!(
            !killed,
            "loadgen {:?} did not finish within {limit:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.args, run.stdout, run.stderr
        );
        run
    }
}

/// Runs `loadgen args…` to the end.
pub fn loadgen(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    start(dir, args, env).wait(PROCESS_LIMIT)
}

/// Runs `loadgen args…` to the end, expecting exit 0.
pub fn loadgen_ok(dir: &Path, args: &[&str]) -> Run {
    let run = loadgen(dir, args, &[]);
    run.expect_code(0);
    run
}

/// Runs `loadgen args…` to the end (watched, as `loadgen` does) off the runtime's threads, so
/// a stub served by the test's own runtime keeps answering.
pub async fn loadgen_async(dir: &Path, args: &[&str]) -> Run {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        loadgen(&dir, &args, &[])
    })
    .await
    .expect("the loadgen runner panicked")
}

/// `replay t.trace --api-url URL --speed SPEED --run-id RUN_ID --report r.json`: the replay
/// most tests run, to which they add their own flags.
pub fn replay_args<'a>(url: &'a str, run_id: &'a str, speed: &'a str) -> Vec<&'a str> {
    vec![
        "replay",
        "t.trace",
        "--api-url",
        url,
        "--speed",
        speed,
        "--run-id",
        run_id,
        "--report",
        "r.json",
    ]
}

/// A URL nothing listens on: a port the kernel just gave us, closed again.
pub fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Makes a FIFO at `path` (`mkfifo`).
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("cannot run mkfifo");
    assert!(status.success(), "mkfifo {} failed", path.display());
}

/// The wall-clock instant `secs` from now, as RFC 3339 (for `--start-at`).
pub fn in_seconds(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339()
}

// ---------------------------------------------------------------------------------------------
// Traces on disk
// ---------------------------------------------------------------------------------------------

/// `loadgen simulate --profile demo --duration D --seed N -o NAME` in `dir`.
pub fn simulate(dir: &Path, name: &str, duration: &str, seed: u64) -> PathBuf {
    loadgen_ok(
        dir,
        &[
            "simulate",
            "--profile",
            "demo",
            "--duration",
            duration,
            "--seed",
            &seed.to_string(),
            "-o",
            name,
        ],
    );
    dir.join(name)
}

/// What a test needs to know of a trace.
#[derive(Clone, Debug)]
pub struct TraceFacts {
    pub events: u64,
    pub crc: u32,
    /// Orders the trace creates.
    pub orders: u64,
    /// Requests the trace's events make when nothing fails (adding or removing a line is two).
    pub requests: u64,
    pub concurrency: u64,
}

pub fn trace_facts(path: &Path) -> TraceFacts {
    let mut reader = TraceReader::open(path).expect("trace opens");
    let concurrency = u64::from(reader.header().profile.concurrent_workflows);
    let (mut orders, mut requests) = (0, 0);
    while let Some(event) = reader.next_event().expect("trace reads") {
        orders += u64::from(matches!(event.action, Action::NewOrder(_)));
        requests += match event.action {
            Action::AddLine { .. } | Action::RemoveLine { .. } => 2,
            _ => 1,
        };
    }
    let footer = reader.footer().expect("footer");
    TraceFacts {
        events: footer.count,
        crc: footer.crc,
        orders,
        requests,
        concurrency,
    }
}

/// A trace file read back whole through the library.
pub struct Trace {
    pub header: TraceHeader,
    pub events: Vec<Event>,
}

pub fn read_trace(path: &Path) -> Trace {
    let mut reader = TraceReader::open(path)
        .unwrap_or_else(|e| panic!("cannot open the trace {}: {e}", path.display()));
    let header = reader.header().clone();
    let mut events = Vec::new();
    while let Some(e) = reader.next_event().expect("read the trace") {
        events.push(e);
    }
    Trace { header, events }
}

impl Trace {
    /// Requests the events make when nothing fails.
    pub fn requests(&self) -> u64 {
        self.events
            .iter()
            .map(|e| u64::from(e.action.request_count()))
            .sum()
    }

    /// What the contract makes of these events for `run_id`, timestamps as recorded.
    pub fn context(&self, run_id: &str) -> RequestContext {
        RequestContext {
            world: Arc::new(self.header.world.clone()),
            run_id: Some(run_id.to_string()),
            calendar: Calendar::new(self.header.start_instant().expect("start instant")),
            shift: chrono::Duration::zero(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reports and checkpoints
// ---------------------------------------------------------------------------------------------

/// A JSON file (a report).
pub fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// `v[key]…` as u64, failing with the path when absent.
pub fn num(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no integer at {pointer} in {v:#}"))
}

pub fn float(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {v:#}"))
}

/// The keys of the report's `errors` map.
pub fn error_keys(report: &Value) -> BTreeSet<String> {
    report["errors"]
        .as_object()
        .expect("errors is a map")
        .keys()
        .cloned()
        .collect()
}

/// Checks the report's accounting: each of the `to_send` events the run had (the trace's, less
/// those a resumed run skipped) was received or not sent, and each received event ended in
/// exactly one class (succeeded, failed, unknown outcome, interrupted, blocked); the classes
/// that are not successes add up in `errors`, `activities` and `failed_events`, and every one
/// of those events is listed.
pub fn assert_accounted(report: &Value, to_send: u64, trace_events: u64) {
    let e = |k: &str| num(report, &format!("/events/{k}"));
    assert_eq!(
        e("received") + e("not_sent"),
        to_send,
        "every selected event is received or not sent: {:#}",
        report["events"]
    );
    let unsuccessful = e("failed") + e("unknown_outcome") + e("interrupted") + e("blocked");
    assert_eq!(
        e("succeeded") + unsuccessful,
        e("received"),
        "every received event ended in one class: {:#}",
        report["events"]
    );
    assert_eq!(e("completed"), e("received") - e("interrupted"));
    let errors: u64 = report["errors"]
        .as_object()
        .expect("errors")
        .values()
        .map(|v| v["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(
        errors, unsuccessful,
        "errors add up to the events that did not succeed"
    );
    let by_activity: (u64, u64) = report["activities"]
        .as_object()
        .expect("activities")
        .values()
        .fold((0, 0), |(s, f), a| {
            (
                s + a["succeeded"].as_u64().expect("succeeded"),
                f + a["failed"].as_u64().expect("failed"),
            )
        });
    assert_eq!(by_activity, (e("succeeded"), unsuccessful));
    assert_eq!(num(report, "/failed_events_total"), unsuccessful);
    let listed = report["failed_events"].as_array().expect("failed_events");
    assert_eq!(listed.len() as u64, unsuccessful, "every failure is listed");
    for row in listed {
        for key in ["seq", "offset_ms"] {
            assert!(row[key].is_u64(), "{key} in {row}");
        }
        for key in ["activity", "subject", "category"] {
            assert!(
                row[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key} in {row}"
            );
        }
        assert!(num(row, "/seq") < trace_events, "{row}");
    }
}

/// Checks that every `blocked_by_earlier_failure` row follows an earlier failed event that was
/// really sent (not itself blocked) and that it depends on: one of the same subject, or the
/// creation of the customer whose order it is (`trace`, read with the causal roots, tells
/// which customer that is).
pub fn assert_blocked_follow_failures(report: &Value, trace: &Path) {
    let mut reader = TraceReader::open(trace).expect("trace opens");
    let mut roots = loadgen::causal::RootTracker::new();
    let (mut root_of, mut created_at) = (Vec::new(), std::collections::HashMap::new());
    while let Some(event) = reader.next_event().expect("trace reads") {
        let root = roots.root_of(&event);
        if let Action::NewCustomer { .. } = event.action {
            created_at.insert(root, root_of.len() as u64);
        }
        root_of.push(root);
    }
    let rows = report["failed_events"].as_array().expect("failed_events");
    let sent_failure = |r: &&Value| r["category"] != "blocked_by_earlier_failure";
    for row in rows
        .iter()
        .filter(|r| r["category"] == "blocked_by_earlier_failure")
    {
        let seq = num(row, "/seq");
        let creation = created_at.get(&root_of[seq as usize]).copied();
        let cause = rows.iter().filter(sent_failure).find(|r| {
            let earlier = num(r, "/seq") < seq;
            earlier && (r["subject"] == row["subject"] || Some(num(r, "/seq")) == creation)
        });
        assert!(
            cause.is_some(),
            "blocked event {row} has no earlier failure of its subject or its customer's creation"
        );
    }
}

/// Sequence numbers in a checkpoint's completion log (8 bytes each, little-endian).
pub fn logged(path: &Path) -> Vec<u64> {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The stub
// ---------------------------------------------------------------------------------------------

/// A runtime owned by the test, serving stubs on its worker threads while the test thread runs
/// the binary.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A stub on 127.0.0.1:0, served by `rt`.
pub fn stub(rt: &tokio::runtime::Runtime, config: StubConfig) -> StubHandle {
    rt.block_on(spawn_stub(config))
}

/// A stub on 127.0.0.1:0, served by the runtime of the calling (async) test.
pub async fn spawn_stub(config: StubConfig) -> StubHandle {
    freshmart_stub::spawn("127.0.0.1:0", config)
        .await
        .expect("cannot start the stub")
}

/// A stub configuration that keeps a log of every request, faults drawn with `seed`.
pub fn recording(seed: u64) -> StubConfig {
    StubConfig {
        record_requests: true,
        seed,
        ..StubConfig::default()
    }
}

/// Waits (at most `STATS_LIMIT`) until `ready` holds for the stub's counters.
pub fn wait_stats(
    rt: &tokio::runtime::Runtime,
    stub: &StubHandle,
    what: &str,
    ready: impl Fn(&StubStats) -> bool,
) -> StubStats {
    wait_stats_within(rt, stub, what, STATS_LIMIT, ready)
}

/// Waits (at most `limit`) until `ready` holds for the stub's counters.
pub fn wait_stats_within(
    rt: &tokio::runtime::Runtime,
    stub: &StubHandle,
    what: &str,
    limit: Duration,
    ready: impl Fn(&StubStats) -> bool,
) -> StubStats {
    rt.block_on(async { tokio::time::timeout(limit, stub.wait_for_stats(ready)).await })
        .unwrap_or_else(|_| panic!("waited {limit:?} for {what}: {:#?}", stub.stats()))
}

/// Requests the stub received on `endpoint` (`"POST /triples/batch"`).
pub fn endpoint_count(stats: &StubStats, endpoint: &str) -> u64 {
    stats.by_endpoint.get(endpoint).copied().unwrap_or(0)
}

/// The writes (not the health checks or other reads) a recording stub received, in arrival
/// order.
pub fn writes(stub: &StubHandle) -> Vec<RecordedRequest> {
    stub.requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect()
}

/// Requests the stub received other than health checks.
pub fn api_requests(stats: &StubStats) -> u64 {
    stats
        .by_endpoint
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "GET /health" | "GET /ready"))
        .map(|(_, v)| v)
        .sum()
}
