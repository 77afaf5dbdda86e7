//! `loadgen replay`: verify a trace, then pace it against the API with the replayer core,
//! printing the spec's console output and writing the JSON report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::session::{self, Plan};
use crate::api::probe::{ProbeKind, ProbeOptions};
use crate::api::RequestContext;
use crate::cli::ReplayArgs;
use crate::metrics::{EventRecord, EventResult, Percentiles};
use crate::replay::checkpoint::{Checkpoint, CompletedSet, CompletionLog, CHECKPOINT_VERSION};
use crate::replay::window::{TraceWindow, WindowFilter};
use crate::replay::{ReplayOptions, Sequenced};
use crate::report;
use crate::report::{KindVisibility, RunResult, Visibility};
use crate::sim::time::{Calendar, SimTime};
use crate::trace::format::Footer;
use crate::trace::{TraceHeader, TraceReader};
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
    seed: u64,
    profile: String,
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
}

/// Reads the whole trace once before anything is sent, so that a corrupt tail cannot surface
/// mid-run, and finds what is left to send (after --from/--to and a resume's completed events).
fn scan_trace(trace: &Path, args: &ReplayArgs, resume: Option<&Resume>) -> anyhow::Result<Scan> {
    let context = || format!("trace {}", trace.display());
    let mut reader = TraceReader::open(trace).with_context(context)?;
    let header: TraceHeader = reader.header().clone();
    let calendar = Calendar::new(header.start_instant()?);
    let window = match resume {
        Some(r) => TraceWindow {
            from_ms: r.checkpoint.from_ms,
            to_ms: r.checkpoint.to_ms,
        },
        None => TraceWindow::from_times_of_day(&calendar, args.from, args.to, header.duration_ms),
    };
    anyhow::ensure!(
        window.from_ms < window.to_ms,
        "--from/--to select nothing of this trace"
    );
    let mut filter = WindowFilter::new(window);
    let mut first_pending: Option<u64> = None;
    let mut to_send = 0u64;
    let mut seq = 0u64;
    while let Some(event) = reader.next_event().with_context(context)? {
        // The filter must see every event: it tracks which orders are in the window.
        let admitted = filter.admit(&event);
        if admitted && !resume.is_some_and(|r| r.done.contains(seq)) {
            first_pending.get_or_insert(event.at.as_ms());
            to_send += 1;
        }
        seq += 1;
    }
    let footer = reader
        .footer()
        .ok_or_else(|| anyhow::anyhow!("trace {} has no footer", trace.display()))?;
    Ok(Scan {
        header,
        footer,
        calendar,
        window,
        first_pending,
        to_send,
    })
}

/// What a replay resumes from, if anything.
struct Resume {
    path: PathBuf,
    checkpoint: Checkpoint,
    done: CompletedSet,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
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
    let trace = match (&args.trace, &resume) {
        (Some(trace), _) => trace.clone(),
        (None, Some(r)) => r.checkpoint.trace.clone(),
        (None, None) => anyhow::bail!("give a trace file to replay, or --resume CHECKPOINT"),
    };
    let scan = scan_trace(&trace, &args, resume.as_ref())?;
    let (header, footer, window, calendar) = (scan.header, scan.footer, scan.window, scan.calendar);
    let (first_pending, to_send) = (scan.first_pending, scan.to_send);
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
    let checkpoint_path = match (&resume, &args.checkpoint, &args.report) {
        (Some(r), _, _) => Some(r.path.clone()),
        (None, Some(path), _) => Some(path.clone()),
        (None, None, Some(report)) => {
            Some(PathBuf::from(format!("{}.checkpoint", report.display())))
        }
        (None, None, None) => None,
    };
    let mut completion_log = match (&checkpoint_path, &resume) {
        (Some(path), Some(_)) => Some(CompletionLog::open(&Checkpoint::log_path(path))?),
        (Some(path), None) => {
            let checkpoint = Checkpoint {
                version: CHECKPOINT_VERSION,
                trace: std::path::absolute(&trace).unwrap_or_else(|_| trace.clone()),
                trace_events: footer.count,
                trace_crc: footer.crc,
                run_id: run_id.clone(),
                shift_ms: shift.num_milliseconds(),
                from_ms: window.from_ms,
                to_ms: window.to_ms,
            };
            // A new run starts a new log.
            let _ = std::fs::remove_file(Checkpoint::log_path(path));
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
    let (executor, probes) = if args.probe_reads > 0.0 {
        let (executor, stats) = executor.with_probes(ProbeOptions {
            fraction: args.probe_reads,
            interval: Duration::from_millis(50),
            give_up: args.probe_timeout,
        });
        (executor, Some(stats))
    } else {
        (executor, None)
    };

    let origin_ms = first_pending.unwrap_or(window.from_ms);
    let window_minutes = (window.to_ms - origin_ms) as f64 / 60_000.0;
    let wall_minutes = match args.speed {
        Speed::Factor(f) => format!("{:.1}", window_minutes / f),
        Speed::Max => "as fast as possible".into(),
    };
    let mut extra = vec![
        (
            "Trace",
            format!(
                "{} ({} events, seed {})",
                trace.display(),
                footer.count,
                header.seed
            ),
        ),
        (
            "Speed",
            format!("{} (wall-clock minutes: {wall_minutes})", args.speed),
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
    print!(
        "{}",
        report::header_block(
            &header.profile,
            Some(window_minutes),
            &args.api.api_url,
            &extra
        )
    );

    let plan = Plan {
        executor,
        options: ReplayOptions {
            speed: args.speed,
            origin_ms,
            concurrency,
            drain_timeout: args.api.timeout,
            window: Duration::from_secs(60),
            tap: None,
        },
        calendar,
        span_ms: Some((origin_ms, window.to_ms)),
    };
    let path = trace.clone();
    let done = resume.map(|r| r.done);
    let feed = move |events: tokio::sync::mpsc::Sender<Sequenced>| -> anyhow::Result<u64> {
        let mut reader = TraceReader::open(&path)?;
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
        println!("\n{} Checking API health...", super::stamp());
        if !session::health_gate(&args.api).await? {
            return Ok::<_, anyhow::Error>(None);
        }
        println!("{} Replaying...", super::stamp());
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
                let _ = tokio::time::timeout(
                    args.probe_timeout + Duration::from_secs(1),
                    stats.wait_idle(),
                )
                .await;
                Some(Visibility {
                    probed: stats.started.load(std::sync::atomic::Ordering::Relaxed),
                    not_visible: stats.not_visible.load(std::sync::atomic::Ordering::Relaxed),
                    superseded: stats.superseded.load(std::sync::atomic::Ordering::Relaxed),
                    write_to_visible: Percentiles::of(&stats.histogram()),
                    by_kind: ProbeKind::ALL
                        .iter()
                        .map(|&kind| {
                            let k = stats.kind(kind);
                            let load = |c: &std::sync::atomic::AtomicU64| {
                                c.load(std::sync::atomic::Ordering::Relaxed)
                            };
                            let of_kind = KindVisibility {
                                read: kind.read(),
                                probed: load(&k.started),
                                not_visible: load(&k.not_visible),
                                superseded: load(&k.superseded),
                                write_to_visible: Percentiles::of(&k.histogram()),
                            };
                            (kind.key(), of_kind)
                        })
                        .collect(),
                })
            }
            None => None,
        };
        Ok(Some((outcome, visibility)))
    })?;
    let Some((outcome, visibility)) = outcome else {
        return Ok(ExitCode::from(super::EXIT_FAILED));
    };
    let config = ReportConfig {
        trace: trace.clone(),
        checkpoint: checkpoint_path.clone(),
        resumed: args.resume.is_some(),
        api_url: args.api.api_url.clone(),
        speed: args.speed.to_string(),
        concurrency,
        run_id,
        from_ms: window.from_ms,
        to_ms: window.to_ms,
        keep_timestamps: shift.is_zero(),
        timeout_ms: args.api.timeout.as_millis() as u64,
        retries: args.api.retries,
        min_success: args.min_success,
        seed: header.seed,
        profile: header.profile.name.clone(),
    };
    let subject_of = session::subject_renderer(world, run_id_for_report);
    let run = RunResult {
        outcome: &outcome,
        visibility,
        subject_of: &subject_of,
    };
    session::finish(
        &run,
        args.report.clone().map(|path| (path, config)),
        replay_start,
        args.min_success,
    )
}
