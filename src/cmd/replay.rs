//! `loadgen replay`: verify a trace, then pace it against the API with the replayer core,
//! printing the spec's console output and writing the JSON report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::session::{self, Plan};
use crate::api::probe::ProbeOptions;
use crate::api::RequestContext;
use crate::cli::ApiArgs;
use crate::cli::ReplayArgs;
use crate::metrics::{EventRecord, EventResult};
use crate::replay::checkpoint::{
    self, Checkpoint, CompletedSet, CompletionLog, RunSettings, CHECKPOINT_VERSION,
};
use crate::replay::segments::{SegmentSummary, Segments};
use crate::replay::window::{TraceWindow, WindowFilter};
use crate::replay::{ReplayOptions, Sequenced};
use crate::report;
use crate::result::{RunContext, RunMeta, RunResult, TraceIdentity, Visibility};
use crate::sim::time::{Calendar, SimTime};
use crate::trace::format::Footer;
use crate::trace::input::{InputReader, TraceInput};
use crate::trace::TraceHeader;
use crate::units::Speed;

#[derive(Debug, Serialize)]
struct ReportConfig {
    trace: PathBuf,
    checkpoint: Option<PathBuf>,
    resumed: bool,
    api_url: String,
    speed: String,
    concurrency: usize,
    run_id: String,
    from_ms: u64,
    to_ms: u64,
    keep_timestamps: bool,
    timeout_ms: u64,
    retries: u32,
    min_success: f64,
    probe_reads: f64,
    seed: u64,
    profile: String,
    /// Each segment of the run (one per process: the first run and each resume).
    segments: Vec<SegmentSummary>,
    /// False when an earlier segment was killed before it could save its measurements: its
    /// successes are counted (from the completion log), its latencies and requests are not.
    earlier_segments_measured: bool,
}

/// A run id from the wall clock: base-36 seconds since 2020, short and unique enough per run.
pub fn default_run_id() -> String {
    let mut n = (chrono::Utc::now().timestamp() - 1_577_836_800).max(0) as u64;
    let mut digits = Vec::new();
    while n > 0 || digits.is_empty() {
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
    }
    digits.reverse();
    format!("r{}", String::from_utf8_lossy(&digits))
}

/// Run ids end up in subject ids and URL paths.
pub fn validate_run_id(id: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !id.is_empty()
            && id.len() <= 32
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "--run-id `{id}`: use 1-32 letters, digits, '-' or '_'"
    );
    Ok(())
}

/// What the pass over the trace before the replay found.
struct Scan {
    header: TraceHeader,
    footer: Footer,
    calendar: Calendar,
    window: TraceWindow,
    /// Trace time of the first event still to send: where the schedule starts.
    first_pending: Option<u64>,
    to_send: u64,
    /// Events a resumed run skips because they succeeded before, by activity.
    done_by_activity: [u64; 6],
}

/// Reads the whole trace once before anything is sent, so that a corrupt tail cannot surface
/// mid-run, and finds what is left to send (after --from/--to and a resume's completed events).
fn scan_trace(
    mut reader: InputReader,
    name: &str,
    args: &ReplayArgs,
    resume: Option<&Resume>,
) -> anyhow::Result<Scan> {
    let context = || format!("trace {name}");
    let header: TraceHeader = reader.header().clone();
    let calendar = Calendar::new(header.start_instant()?);
    let window = match resume {
        Some(r) => TraceWindow {
            from_ms: r.checkpoint.from_ms,
            to_ms: r.checkpoint.to_ms,
        },
        None => TraceWindow::resolve(&calendar, args.from, args.to, header.duration_ms)
            .with_context(context)?,
    };
    let mut filter = WindowFilter::new(window);
    let mut first_pending: Option<u64> = None;
    let mut selected = 0u64;
    let mut to_send = 0u64;
    let mut done_by_activity = [0u64; 6];
    let mut seq = 0u64;
    let mut span: Option<(u64, u64)> = None;
    while let Some(event) = reader.next_event().with_context(context)? {
        let at = event.at.as_ms();
        span = Some((span.map_or(at, |(first, _)| first), at));
        // The filter must see every event: it tracks which orders are in the window.
        let admitted = filter.admit(&event);
        selected += u64::from(admitted);
        if admitted && resume.is_some_and(|r| r.done.contains(seq)) {
            done_by_activity[event.action.activity().index()] += 1;
        } else if admitted {
            first_pending.get_or_insert(at);
            to_send += 1;
        }
        seq += 1;
    }
    let footer = reader
        .footer()
        .ok_or_else(|| anyhow::anyhow!("trace {name} has no footer"))?;
    if selected == 0 {
        return Err(window.no_events(&calendar, span)).with_context(context);
    }
    Ok(Scan {
        header,
        footer,
        calendar,
        window,
        first_pending,
        to_send,
        done_by_activity,
    })
}

/// Refuses, before anything is written, an output that is an input or another output.
fn check_paths(
    trace: &Path,
    args: &ReplayArgs,
    report: Option<&Path>,
    resume: Option<&Resume>,
    checkpoint: Option<&Path>,
) -> anyhow::Result<()> {
    let mut inputs = vec![("the trace", trace.to_path_buf())];
    if let Some(path) = &args.api.auth.ca_cert {
        inputs.push(("--ca-cert", path.clone()));
    }
    let mut outputs = Vec::new();
    if let Some(path) = report {
        outputs.push(("--report", path.to_path_buf()));
    }
    match (resume, checkpoint) {
        // A resume appends to its own checkpoint's log: an input that must stay apart from
        // the other outputs.
        (Some(r), _) => {
            inputs.push(("--resume", r.path.clone()));
            inputs.push((
                "the checkpoint's completion log",
                Checkpoint::log_path(&r.path),
            ));
        }
        (None, Some(path)) => {
            outputs.push(("--checkpoint", path.to_path_buf()));
            outputs.push((
                "the checkpoint's completion log",
                Checkpoint::log_path(path),
            ));
        }
        (None, None) => {}
    }
    fn view<'a>(list: &'a [(&'static str, PathBuf)]) -> Vec<(&'static str, &'a Path)> {
        list.iter().map(|(role, p)| (*role, p.as_path())).collect()
    }
    crate::output::check_paths(&view(&inputs), &view(&outputs))?;
    Ok(())
}

/// What a replay resumes from, if anything.
struct Resume {
    path: PathBuf,
    checkpoint: Checkpoint,
    done: CompletedSet,
}

/// The settings of this run: the flags given, else (resuming) the first run's, else the
/// defaults. Written back into `args`, so everything downstream reads one value.
fn settle(args: &mut ReplayArgs, saved: Option<&RunSettings>) -> anyhow::Result<()> {
    if let Some(saved) = saved {
        if args.speed.is_none() {
            args.speed = Some(
                crate::units::parse_speed(&saved.speed)
                    .map_err(|e| anyhow::anyhow!("checkpoint speed `{}`: {e}", saved.speed))?,
            );
        }
        args.concurrency.get_or_insert(saved.concurrency);
        args.api.retries_flag.get_or_insert(saved.retries);
        args.api
            .timeout_flag
            .get_or_insert(Duration::from_millis(saved.timeout_ms));
        args.probe_reads.get_or_insert(saved.probe_reads);
        args.probe_timeout
            .get_or_insert(Duration::from_millis(saved.probe_timeout_ms));
        args.min_success.get_or_insert(saved.min_success);
    }
    args.speed.get_or_insert(Speed::Factor(1.0));
    args.api
        .retries_flag
        .get_or_insert(ApiArgs::DEFAULT_RETRIES);
    args.api
        .timeout_flag
        .get_or_insert(ApiArgs::DEFAULT_TIMEOUT);
    args.probe_reads.get_or_insert(0.0);
    args.probe_timeout.get_or_insert(Duration::from_secs(30));
    args.min_success.get_or_insert(0.9);
    Ok(())
}

pub fn run(mut args: ReplayArgs) -> anyhow::Result<()> {
    if let (Some(checkpoint), Some(report)) = (&args.resume, &args.report) {
        // Before the checkpoint is even read: the full check needs the trace it names.
        let log = Checkpoint::log_path(checkpoint);
        crate::output::check_paths(
            &[
                ("--resume", checkpoint),
                ("the checkpoint's completion log", &log),
            ],
            &[("--report", report)],
        )?;
    }
    // Held until the run ends: a second process on this checkpoint is refused (exit 2).
    let mut checkpoint_lock = match &args.resume {
        Some(path) => Some(checkpoint::lock(path, false)?),
        None => None,
    };
    let resume = match &args.resume {
        Some(path) => {
            let checkpoint = Checkpoint::load(path)?;
            let done = CompletionLog::read(&Checkpoint::log_path(path), checkpoint.trace_events)?;
            Some(Resume {
                path: path.clone(),
                checkpoint,
                done,
            })
        }
        None => None,
    };
    settle(
        &mut args,
        resume.as_ref().and_then(|r| r.checkpoint.settings.as_ref()),
    )?;
    let speed = args.speed.unwrap_or(Speed::Factor(1.0));
    let probe_reads = args.probe_reads.unwrap_or(0.0);
    let probe_timeout = args.probe_timeout.unwrap_or(Duration::from_secs(30));
    let min_success = args.min_success.unwrap_or(0.9);
    let thresholds = session::threshold_plan(&args.result.thresholds)?;
    let report_path = args
        .report
        .clone()
        .or_else(|| resume.as_ref().and_then(|r| r.checkpoint.report.clone()));
    let trace = match (&args.trace, &resume) {
        (Some(trace), _) => trace.clone(),
        (None, Some(r)) => {
            let trace = r.checkpoint.trace.clone();
            // Standard input or a pipe cannot be opened again by path: the user has to give
            // the same bytes again (the checkpoint checks they are the same trace).
            anyhow::ensure!(
                std::fs::metadata(&trace).is_ok_and(|m| m.is_file())
                    && !crate::output::is_std_stream(&trace),
                "the checkpoint {} was made for a trace read from {}, which cannot be read \
                 again by name: give the trace again, e.g. `loadgen simulate … -o - | loadgen \
                 replay - --resume {}`",
                r.path.display(),
                trace.display(),
                r.path.display()
            );
            trace
        }
        (None, None) => anyhow::bail!("give a trace file to replay, or --resume CHECKPOINT"),
    };
    let checkpoint_path = match (&resume, &args.checkpoint, &report_path) {
        (Some(r), _, _) => Some(r.path.clone()),
        (None, Some(path), _) => Some(path.clone()),
        (None, None, Some(report)) => {
            Some(PathBuf::from(format!("{}.checkpoint", report.display())))
        }
        (None, None, None) => None,
    };
    check_paths(
        &trace,
        &args,
        report_path.as_deref(),
        resume.as_ref(),
        checkpoint_path.as_deref(),
    )?;
    let input = TraceInput::open(&trace).with_context(|| format!("trace {}", trace.display()))?;
    let trace_name = input.name();
    let regular_trace = input.is_regular_file();
    let (first_pass, second_pass) = input
        .read_twice()
        .with_context(|| format!("trace {trace_name}"))?;
    let scan = scan_trace(first_pass, &trace_name, &args, resume.as_ref())?;
    let (header, footer, window, calendar) = (scan.header, scan.footer, scan.window, scan.calendar);
    let (first_pending, to_send) = (scan.first_pending, scan.to_send);
    let done_by_activity = scan.done_by_activity;
    if let Some(r) = &resume {
        r.checkpoint
            .check_trace(&r.path, &trace, footer.count, footer.crc)?;
    }

    let run_id = match &resume {
        Some(r) => r.checkpoint.run_id.clone(),
        None => args.run_id.clone().unwrap_or_else(default_run_id),
    };
    validate_run_id(&run_id)?;
    let concurrency = args
        .concurrency
        .unwrap_or(header.profile.concurrent_workflows as usize)
        .max(1);
    let replay_start = chrono::Utc::now();
    let shift = match &resume {
        // The bodies a resumed run sends are the ones the first run sent.
        Some(r) => chrono::Duration::milliseconds(r.checkpoint.shift_ms),
        None if args.keep_timestamps => chrono::Duration::zero(),
        None => replay_start.fixed_offset() - calendar.instant_at(SimTime(window.from_ms)),
    };
    let settings = RunSettings {
        speed: speed.to_string(),
        concurrency,
        retries: args.api.retries(),
        timeout_ms: args.api.timeout().as_millis() as u64,
        probe_reads,
        probe_timeout_ms: probe_timeout.as_millis() as u64,
        min_success,
    };
    let earlier = match (&checkpoint_path, &resume) {
        (Some(path), Some(_)) => Segments::load(&Segments::path(path))?,
        _ => None,
    };
    let mut completion_log = match (&checkpoint_path, &resume) {
        (Some(path), Some(r)) => {
            // The settings this segment runs with are the ones a further resume continues.
            let checkpoint = Checkpoint {
                version: CHECKPOINT_VERSION,
                settings: Some(settings.clone()),
                report: report_path.clone(),
                ..r.checkpoint.clone()
            };
            Some(checkpoint.create(path)?)
        }
        (Some(path), None) => {
            checkpoint_lock = Some(checkpoint::lock(path, true)?);
            let checkpoint = Checkpoint {
                version: CHECKPOINT_VERSION,
                // A later --resume opens a regular file by this name; anything else (`-`, a
                // pipe) is kept as given, and the resume asks for the trace again.
                trace: if regular_trace {
                    std::path::absolute(&trace).unwrap_or_else(|_| trace.clone())
                } else {
                    trace.clone()
                },
                trace_events: footer.count,
                trace_crc: footer.crc,
                run_id: run_id.clone(),
                shift_ms: shift.num_milliseconds(),
                from_ms: window.from_ms,
                to_ms: window.to_ms,
                settings: Some(settings.clone()),
                report: report_path.clone(),
            };
            // A new run starts a new log and new measurements.
            let _ = std::fs::remove_file(Checkpoint::log_path(path));
            let _ = std::fs::remove_file(Segments::path(path));
            Some(checkpoint.create(path)?)
        }
        (None, _) => None,
    };
    let world = Arc::new(header.world.clone());
    let run_id_for_report = run_id.clone();
    let request_context = RequestContext {
        world: world.clone(),
        run_id: Some(run_id.clone()),
        calendar: calendar.clone(),
        shift,
    };
    let executor = super::executor(&args.api, request_context, concurrency, args.verbose)?;
    let (executor, probes) = if probe_reads > 0.0 {
        let (executor, stats) = executor.with_probes(ProbeOptions {
            fraction: probe_reads,
            interval: Duration::from_millis(50),
            give_up: probe_timeout,
        });
        (executor, Some(stats))
    } else {
        (executor, None)
    };

    let origin_ms = first_pending.unwrap_or(window.from_ms);
    let window_minutes = (window.to_ms - origin_ms) as f64 / 60_000.0;
    let wall_minutes = match speed {
        Speed::Factor(f) => format!("{:.1}", window_minutes / f),
        Speed::Max => "as fast as possible".into(),
    };
    let mut extra = vec![
        (
            "Trace",
            format!(
                "{trace_name} ({} events, seed {})",
                footer.count, header.seed
            ),
        ),
        ("Window", window.describe(&calendar)),
        (
            "Speed",
            format!("{speed} (wall-clock minutes: {wall_minutes})"),
        ),
        ("Concurrency", concurrency.to_string()),
        ("Run id", run_id.clone()),
    ];
    if let Some(r) = &resume {
        extra.push((
            "Resuming",
            format!(
                "{} ({} events done, {to_send} to send)",
                r.path.display(),
                r.done.len()
            ),
        ));
    } else if let Some(path) = &checkpoint_path {
        extra.push(("Checkpoint", path.display().to_string()));
    }
    crate::out!(
        "{}",
        report::header_block(
            &header.profile,
            Some(window_minutes),
            &crate::units::redact_url(&args.api.api_url),
            &extra
        )
    );

    let plan = Plan {
        executor,
        options: ReplayOptions {
            speed,
            origin_ms,
            concurrency,
            drain_timeout: args.api.timeout(),
            window: args.status_every,
            tap: None,
            hold_until_ms: None,
            clock: crate::replay::clock::ClockChoice::Precise,
        },
        calendar,
        span_ms: Some((origin_ms, window.to_ms)),
        live: false,
        abort: session::abort_watch(&args.result, &thresholds, Some(footer.count))?,
    };
    let resumed = resume.is_some();
    let done = resume.map(|r| r.done);
    let feed = move |events: tokio::sync::mpsc::Sender<Sequenced>| -> anyhow::Result<u64> {
        let mut reader = second_pass.reader()?;
        let mut filter = WindowFilter::new(window);
        let mut offered = 0u64;
        let mut listening = true;
        let mut seq = 0u64;
        while let Some(event) = reader.next_event()? {
            seq += 1;
            // The filter must see every event (it tracks which orders are in the window).
            if !filter.admit(&event) || done.as_ref().is_some_and(|d| d.contains(seq - 1)) {
                continue;
            }
            offered += 1;
            if listening
                && events
                    .blocking_send(Sequenced {
                        seq: seq - 1,
                        event,
                    })
                    .is_err()
            {
                listening = false;
            }
        }
        Ok(offered)
    };

    let outcome = super::runtime()?.block_on(async {
        // Reachability first: an API that is not there is exit 1, not a storm of failures.
        crate::outln!("\n{} Checking API health...", super::stamp());
        session::health_gate(&args.api).await?;
        crate::outln!("{} Replaying...", super::stamp());
        let mut log_failed = false;
        let on_completed = move |record: &EventRecord| {
            if record.result != EventResult::Success {
                return;
            }
            if let Some(log) = completion_log.as_mut() {
                if let Err(err) = log.append(record.seq) {
                    if !log_failed {
                        eprintln!("warning: checkpoint log: {err}; a resume may resend events");
                        log_failed = true;
                    }
                }
            }
        };
        let outcome = session::drive(plan, feed, on_completed).await?;
        let visibility = match &probes {
            Some(stats) => {
                // Every probe gives up after --probe-timeout; wait for the last ones.
                let _ =
                    tokio::time::timeout(probe_timeout + Duration::from_secs(1), stats.wait_idle())
                        .await;
                Some(Visibility::of(stats))
            }
            None => None,
        };
        Ok::<_, anyhow::Error>((outcome, visibility))
    })?;
    let (segment, visibility) = outcome;
    // The report covers the whole run: this segment, the successes of earlier ones (from the
    // completion log) and what they measured (saved beside the checkpoint).
    let mut outcome = segment;
    let raw = outcome.metrics.clone();
    if let Some(earlier) = &earlier {
        earlier.add_to(&mut outcome.metrics);
        outcome.elapsed += earlier.elapsed();
    }
    for (i, done) in done_by_activity.iter().enumerate() {
        outcome.metrics.successes[i] += done;
        outcome.received += done;
    }
    let mut segments = earlier.clone().unwrap_or_default();
    segments.push(
        SegmentSummary {
            started_at: replay_start.to_rfc3339(),
            duration_s: (outcome.elapsed
                - earlier.as_ref().map_or(Duration::ZERO, Segments::elapsed))
            .as_secs_f64(),
            received: outcome.received - done_by_activity.iter().sum::<u64>(),
            succeeded: raw.succeeded(),
            not_sent: outcome.not_sent,
            stopped_early: outcome.stopped_early,
        },
        &raw,
    );
    if let Some(path) = &checkpoint_path {
        if let Err(err) = segments.save(&Segments::path(path)) {
            eprintln!("warning: {err}; a resumed run's report will not include this segment's measurements");
        }
    }
    let earlier_measured =
        !resumed || earlier.is_some() || done_by_activity.iter().sum::<u64>() == 0;
    let config = ReportConfig {
        trace: trace.clone(),
        checkpoint: checkpoint_path.clone(),
        resumed: args.resume.is_some(),
        api_url: crate::units::redact_url(&args.api.api_url),
        speed: speed.to_string(),
        concurrency,
        run_id,
        from_ms: window.from_ms,
        to_ms: window.to_ms,
        keep_timestamps: shift.is_zero(),
        timeout_ms: args.api.timeout().as_millis() as u64,
        retries: args.api.retries(),
        min_success,
        probe_reads,
        segments: segments.segments.clone(),
        earlier_segments_measured: earlier_measured,
        seed: header.seed,
        profile: header.profile.name.clone(),
    };
    let subject_of = session::subject_renderer(world, run_id_for_report);
    let meta = RunMeta {
        trace: TraceIdentity {
            source: trace_name,
            events: Some(footer.count),
            crc32: Some(footer.crc),
            start: header.start.clone(),
        },
        seed: header.seed,
        profile: header.profile.name.clone(),
        run_id: config.run_id.clone(),
        speed: speed.to_string(),
        tags: session::tags(&args.result)?,
        git_revision: args.result.git_revision.clone(),
        shard: None,
        shards_merged: None,
    };
    let result = RunResult::build(
        &outcome,
        RunContext {
            meta,
            config: serde_json::to_value(&config)?,
            started_at: replay_start,
            visibility,
            subject_of: &subject_of,
        },
    );
    let code = session::finish(result, report_path.as_deref(), min_success, &thresholds);
    drop(checkpoint_lock);
    code
}
