//! What `replay` and `start` share once their events are lined up: the health gate, running
//! the replayer core with console output, progress bar and Ctrl+C handling, then the final
//! summary, the result document (the JSON report) and the exit code.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::api::FreshMartExecutor;
use crate::event::Entity;
use crate::metrics::EventRecord;
use crate::replay::{Observer, Progress, ReplayOptions, ReplayOutcome, Sequenced, WindowReport};
use crate::report;
use crate::result::thresholds::AbortWatch;
use crate::result::RunResult;
use crate::sim::time::{Calendar, SimTime};
use crate::threshold::ThresholdPlan;
use crate::units::Speed;

/// Probes the API (with `--retries`); prints the spec's line, and fails the run (exit 1, with
/// the cause) when it is not healthy.
pub async fn health_gate(api: &crate::cli::ApiArgs) -> anyhow::Result<()> {
    let reader = super::api_reader(&api.auth, &api.api_url, api.timeout(), api.retries())?;
    gate(&reader).await
}

/// The health gate on any reader (`verify` has no `ApiArgs`).
pub async fn gate(reader: &crate::api::fetch::ApiReader) -> anyhow::Result<()> {
    let probes = crate::api::health::check(reader).await;
    if let Some(bad) = probes.iter().find(|p| !p.healthy()) {
        let why = match &bad.result {
            Ok((status, body)) => format!("GET {} answered {status}: {body}", bad.path),
            Err(message) => message.clone(),
        };
        crate::outln!("{} API health check failed: {why}", super::stamp());
        return Err(crate::error::CommandError::RunFailed(format!(
            "the API at {} is not healthy: {why}",
            reader.shown_url()
        ))
        .into());
    }
    crate::outln!("{} API health check passed", super::stamp());
    Ok(())
}

/// The health gate, then (`--start-at` still to come) the wait for the start.
pub async fn gate_then_wait(
    api: &crate::cli::ApiArgs,
    start_at: Option<chrono::DateTime<chrono::FixedOffset>>,
) -> anyhow::Result<()> {
    // Reachability first: an API that is not there is exit 1, not a storm of failures.
    crate::outln!("\n{} Checking API health...", super::stamp());
    health_gate(api).await?;
    match start_at {
        Some(at) if at > chrono::Utc::now() => wait_for_start(at).await,
        _ => Ok(()),
    }
}

/// Waits until `at` (`--start-at`) with a countdown: on a terminal a line that counts down,
/// otherwise a line every `LOG_EVERY` and at the start. SIGINT or SIGTERM ends the wait
/// (nothing has been sent; exit 130 or 143).
pub async fn wait_for_start(at: chrono::DateTime<chrono::FixedOffset>) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    const LOG_EVERY: Duration = Duration::from_secs(10);
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let terminal = std::io::stderr().is_terminal();
    let left = || {
        at.signed_duration_since(chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    crate::outln!(
        "{} Waiting for the start at {} ({:.0}s)...",
        super::stamp(),
        at.to_rfc3339(),
        left().as_secs_f64().ceil()
    );
    loop {
        let remaining = left();
        if remaining.is_zero() {
            break;
        }
        let step = if terminal {
            Duration::from_secs(1)
        } else {
            LOG_EVERY
        };
        // Wake on whole seconds of the countdown, and exactly at the start.
        let nap = match remaining.as_nanos() % step.as_nanos() {
            0 => step,
            rest => Duration::from_nanos(rest as u64),
        };
        let stop = tokio::select! {
            _ = tokio::time::sleep(nap.min(remaining)) => None,
            _ = interrupt.recv() => Some(crate::error::StopSignal::Interrupt),
            _ = terminate.recv() => Some(crate::error::StopSignal::Terminate),
        };
        if let Some(signal) = stop {
            if terminal {
                eprintln!();
            }
            crate::outln!(
                "{} {signal} received before the start: nothing was sent",
                super::stamp()
            );
            return Err(crate::error::CommandError::Stopped(signal).into());
        }
        let secs = left().as_secs_f64().round();
        if terminal {
            eprint!("\r  starting in {secs:>6.0}s ");
        } else if secs > 0.0 {
            crate::outln!("{} Starting in {secs:.0}s", super::stamp());
        }
    }
    if terminal {
        eprintln!();
    }
    Ok(())
}

/// What the propagation probes saw, once the last of them gave up or succeeded.
pub async fn probe_visibility(
    stats: &crate::api::probe::ProbeStats,
    give_up: Duration,
) -> crate::result::Visibility {
    // Every probe gives up after --probe-timeout; wait for the last ones.
    let _ = tokio::time::timeout(give_up + Duration::from_secs(1), stats.wait_idle()).await;
    crate::result::Visibility::of(stats)
}

/// A replay ready to run.
pub struct Plan {
    pub executor: FreshMartExecutor,
    pub options: ReplayOptions,
    pub calendar: Calendar,
    /// Trace range the progress bar spans; `None` for an open-ended run.
    pub span_ms: Option<(u64, u64)>,
    /// A live run (`start`): the source is a simulation running ahead of the clock, so only
    /// events whose time had come count as not sent.
    pub live: bool,
    /// `--abort-on-threshold`: what stops the run once a threshold is lost.
    pub abort: Option<AbortWatch>,
}

/// The signal that stopped the run gracefully, if one did (set once per process).
static STOPPED_BY: std::sync::OnceLock<crate::error::StopSignal> = std::sync::OnceLock::new();

/// The signal that stopped the run gracefully, if one did: a replay that it left unfinished
/// exits as the signal would (130, 143), so a supervisor (a Kubernetes Indexed Job) runs it
/// again, while `start`, whose normal end is Ctrl+C, ignores it.
pub fn stopped_by() -> Option<crate::error::StopSignal> {
    STOPPED_BY.get().copied()
}

/// Reads Ctrl+C (SIGINT) and SIGTERM alike (`timeout`, `kill`, systemd, Docker and Kubernetes
/// stop a process with SIGTERM): the first stops the run gracefully, a second of either kind
/// exits at once (130 after SIGINT, 143 after SIGTERM). The handlers are installed before this
/// returns, so a signal that arrives while the run starts is not lost.
/// `stop` is the graceful stop: a lost threshold (`--abort-on-threshold`) cancels it too.
fn shutdown_on_signal(
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let stopping = stop.clone();
    tokio::spawn(async move {
        let (first, signal) = tokio::select! {
            _ = interrupt.recv() => ("Interrupt", crate::error::StopSignal::Interrupt),
            _ = terminate.recv() => ("SIGTERM", crate::error::StopSignal::Terminate),
        };
        let _ = STOPPED_BY.set(signal);
        crate::outln!(
            "\n{} {first} received, stopping gracefully...",
            super::stamp()
        );
        stopping.cancel();
        let code = tokio::select! {
            _ = interrupt.recv() => 130,
            _ = terminate.recv() => 143,
        };
        eprintln!("Second signal: exiting now");
        let _held = crate::output::remove_pending_temp_files();
        std::process::exit(code);
    });
    Ok(async move { stop.cancelled().await })
}

/// Runs the replayer core over what `feed` sends; `feed` runs on its own thread and returns
/// how many events it had to offer (it keeps counting after the replay stops listening).
/// `progress` is the replayer's counters (the live metrics read them too).
pub async fn drive(
    plan: Plan,
    feed: impl FnOnce(tokio::sync::mpsc::Sender<Sequenced>) -> anyhow::Result<u64> + Send + 'static,
    mut on_completed: impl FnMut(&EventRecord) + Send + 'static,
    progress: Arc<Progress>,
) -> anyhow::Result<ReplayOutcome> {
    let (events_tx, events_rx) = tokio::sync::mpsc::channel(8192);
    let feeder = std::thread::spawn(move || feed(events_tx));
    let bar = progress_bar(plan.span_ms);
    let ticker = spawn_progress(bar.clone(), progress.clone(), plan.span_ms);
    let show_trace_time = plan.options.speed != Speed::Factor(1.0);
    let line_bar = bar.clone();
    let calendar = plan.calendar.clone();
    let live = plan.live;
    let stop = tokio_util::sync::CancellationToken::new();
    let (mut abort, abort_stop, abort_bar) = (plan.abort, stop.clone(), bar.clone());
    let outcome = crate::replay::run(
        Arc::new(plan.executor),
        events_rx,
        plan.options,
        shutdown_on_signal(stop)?,
        progress,
        Console {
            on_window: move |w: &WindowReport| {
                let trace_time = show_trace_time.then(|| {
                    calendar
                        .instant_at(SimTime(w.trace_pos_ms))
                        .format("%a %H:%M")
                        .to_string()
                });
                let line = report::window_line(w, trace_time.as_deref());
                line_bar.suspend(|| crate::outln!("{} {line}", super::stamp()));
            },
            on_completed: move |r: &EventRecord| {
                on_completed(r);
                if let Some(lost) = abort.as_mut().and_then(|w| w.observe(r)) {
                    abort_bar.suspend(|| {
                        crate::outln!(
                            "{} Threshold `{lost}` can no longer pass: stopping gracefully...",
                            super::stamp()
                        )
                    });
                    abort_stop.cancel();
                }
            },
        },
    )
    .await;
    ticker.abort();
    bar.finish_and_clear();
    if outcome.stopped_early {
        crate::outln!("{} Stopping workers...", super::stamp());
    }
    let offered = tokio::task::spawn_blocking(move || feeder.join())
        .await?
        .map_err(|_| anyhow::anyhow!("event source thread panicked"))??;
    let mut outcome = outcome;
    outcome.not_sent = if live {
        // A simulation runs ahead of the clock: what it had not reached was never due.
        outcome.not_sent + outcome.due_in_source
    } else {
        // Every selected event was received or not sent.
        offered.saturating_sub(outcome.received)
    };
    Ok(outcome)
}

/// The command line's observer: window lines on the console, completions to the caller.
struct Console<W, C> {
    on_window: W,
    on_completed: C,
}

impl<W, C> Observer for Console<W, C>
where
    W: FnMut(&WindowReport) + Send + 'static,
    C: FnMut(&EventRecord) + Send + 'static,
{
    fn window(&mut self, window: &WindowReport) {
        (self.on_window)(window)
    }

    fn completed(&mut self, record: &EventRecord) {
        (self.on_completed)(record)
    }
}

/// Prints the summary of a result (a run's, or a merge's) with the verdicts of its
/// thresholds, writes it as the report, and decides the exit code: a breached threshold is
/// 99 (before `--min-success`'s 1: the thresholds are the gate a user asked for).
pub fn finish(
    mut result: RunResult,
    report_to: Option<&Path>,
    min_success: f64,
    thresholds: &ThresholdPlan,
) -> anyhow::Result<()> {
    let evaluation = result.apply_thresholds(thresholds);
    let result = &result;
    crate::out!("{}", report::final_summary(result));
    crate::out!(
        "{}",
        crate::result::thresholds::summary_lines(&result.thresholds)
    );
    if let Some(path) = report_to {
        result
            .write(path)
            .with_context(|| format!("cannot write report {}", path.display()))?;
        crate::outln!("Report written to {}", path.display());
    }
    let breached = evaluation.breached();
    if !breached.is_empty() {
        return Err(crate::error::CommandError::ThresholdBreached(format!(
            "threshold breached: {}",
            breached.join(", ")
        ))
        .into());
    }
    let rate = result.success_rate;
    if rate < min_success {
        crate::outln!(
            "Success rate {:.1}% is under the minimum of {:.1}%",
            rate * 100.0,
            min_success * 100.0
        );
        return Err(crate::error::CommandError::RunFailed(format!(
            "success rate {:.1}% is under --min-success {:.1}%",
            rate * 100.0,
            min_success * 100.0
        ))
        .into());
    }
    Ok(())
}

/// The thresholds of `--threshold` and `--thresholds`, checked before any work: a malformed
/// expression is bad usage, a file that cannot be read or parsed bad input.
pub fn threshold_plan(args: &crate::cli::ThresholdArgs) -> anyhow::Result<ThresholdPlan> {
    ThresholdPlan::from_args(&args.threshold, &args.thresholds).map_err(|e| match e {
        crate::threshold::ThresholdError::Expr(_) => {
            crate::error::CommandError::Usage(e.to_string()).into()
        }
        _ => crate::error::CommandError::Input(e.to_string()).into(),
    })
}

/// The run's `--abort-on-threshold` watch, if asked for; `bound` is at most how many events
/// the run can end (`None` when nothing bounds it: then no threshold is ever given up on).
pub fn abort_watch(
    args: &crate::cli::ResultArgs,
    plan: &ThresholdPlan,
    bound: Option<u64>,
) -> anyhow::Result<Option<AbortWatch>> {
    if !args.abort_on_threshold {
        return Ok(None);
    }
    if plan.is_empty() {
        return Err(crate::error::CommandError::Usage(
            "--abort-on-threshold needs a --threshold or --thresholds".into(),
        )
        .into());
    }
    Ok(Some(AbortWatch::new(plan.clone(), bound)))
}

/// The labels of `--tag KEY=VALUE`; a key given twice is refused.
pub fn tags(args: &crate::cli::ResultArgs) -> anyhow::Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    for (key, value) in &args.tags {
        if tags.insert(key.clone(), value.clone()).is_some() {
            return Err(crate::error::CommandError::Usage(format!(
                "--tag {key}=... is given twice"
            ))
            .into());
        }
    }
    Ok(tags)
}

/// Renders entities as the subjects a run wrote (ids in the run's namespace).
pub fn subject_renderer(
    world: Arc<crate::world::World>,
    run_id: String,
) -> impl Fn(Entity) -> String {
    move |entity| {
        crate::contract::Subjects {
            world: &world,
            run: Some(&run_id),
        }
        .entity(entity)
    }
}

fn progress_bar(span: Option<(u64, u64)>) -> indicatif::ProgressBar {
    let Some((from, to)) = span.filter(|_| std::io::stderr().is_terminal()) else {
        return indicatif::ProgressBar::hidden();
    };
    let bar = indicatif::ProgressBar::new(to - from);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% of the trace, {msg}")
            .expect("static template"),
    );
    bar
}

fn spawn_progress(
    bar: indicatif::ProgressBar,
    progress: Arc<Progress>,
    span: Option<(u64, u64)>,
) -> tokio::task::JoinHandle<()> {
    let from = span.map_or(0, |(from, _)| from);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let pos = progress.trace_pos_ms.load(Ordering::Relaxed);
            bar.set_position(pos.saturating_sub(from));
            bar.set_message(format!(
                "{} sent, {} done",
                progress.dispatched.load(Ordering::Relaxed),
                progress.completed.load(Ordering::Relaxed)
            ));
        }
    })
}
