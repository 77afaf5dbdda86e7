//! The glue `replay` and `start` share (the core is `crate::session`): the health gate on the
//! command's API flags, running the replayer core over a source with the run's console, and
//! the summary, report and exit code at the end (`merge` ends with them too).

use std::path::Path;
use std::sync::Arc;

use crate::api::FreshMartExecutor;
use crate::replay::{Progress, ReplayOptions, ReplayOutcome, Sequenced};
use crate::result::thresholds::AbortWatch;
use crate::result::RunResult;
use crate::session::console::RunConsole;
use crate::session::feed::FeedError;
use crate::session::{gate as core_gate, signals, verdict, SessionError};
use crate::sim::time::Calendar;
use crate::threshold::ThresholdPlan;

pub use crate::plan::result::{abort_watch, run_thresholds, tags, threshold_plan};
pub use crate::session::subject_renderer;

/// Probes the API (with `--retries`); prints the spec's line, and fails the run (exit 1, with
/// the cause) when it is not healthy.
pub async fn health_gate(api: &crate::cli::ApiArgs) -> anyhow::Result<()> {
    let reader =
        crate::plan::client::api_reader(&api.auth, &api.api_url, api.timeout(), api.retries())?;
    gate(&reader).await
}

/// The health gate on any reader (`verify` has no `ApiArgs`).
pub async fn gate(reader: &crate::api::fetch::ApiReader) -> anyhow::Result<()> {
    core_gate::health(reader)
        .await
        .map_err(SessionError::classed)
}

/// The health gate, then (`--start-at` still to come) the wait for the start.
pub async fn gate_then_wait(
    api: &crate::cli::ApiArgs,
    start_at: Option<chrono::DateTime<chrono::FixedOffset>>,
) -> anyhow::Result<()> {
    // Reachability first: an API that is not there is exit 1, not a storm of failures.
    crate::outln!("\n{} Checking API health...", super::stamp());
    health_gate(api).await?;
    core_gate::wait_until(start_at)
        .await
        .map_err(SessionError::classed)
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

/// Runs the replayer core over what `feed` sends (`session::feed`); `feed` runs on its own
/// thread. `progress` is the replayer's counters (the live metrics read them too).
pub async fn drive(
    plan: Plan,
    feed: impl FnOnce(tokio::sync::mpsc::Sender<Sequenced>) -> Result<u64, FeedError> + Send + 'static,
    on_completed: impl crate::session::Completions,
    progress: Arc<Progress>,
) -> anyhow::Result<ReplayOutcome> {
    let (events_tx, events_rx) = tokio::sync::mpsc::channel(8192);
    let feeder = std::thread::spawn(move || feed(events_tx));
    let console = RunConsole::start(plan.span_ms, progress.clone());
    let stop = tokio_util::sync::CancellationToken::new();
    let speed = plan.options.speed;
    let observer = console.observer(speed, plan.calendar, on_completed, plan.abort, stop.clone());
    let outcome = crate::replay::run(
        Arc::new(plan.executor),
        events_rx,
        plan.options,
        signals::shutdown_on_signal(stop)?,
        progress,
        observer,
    )
    .await;
    console.finish(outcome.stopped_early);
    let offered = tokio::task::spawn_blocking(move || feeder.join())
        .await
        .map_err(SessionError::from)?
        .map_err(|_| SessionError::FeedPanicked)?
        .map_err(SessionError::from)?;
    Ok(crate::session::feed::settle_not_sent(
        outcome, plan.live, offered,
    ))
}

/// Prints the summary of a result (a run's, or a merge's) with the verdicts of its
/// thresholds, writes it as the report, and decides the exit code (`session::verdict`).
pub fn finish(
    result: RunResult,
    report_to: Option<&Path>,
    min_success: f64,
    thresholds: &ThresholdPlan,
) -> anyhow::Result<()> {
    Ok(verdict::conclude(result, report_to, min_success, thresholds)?.into_result()?)
}
