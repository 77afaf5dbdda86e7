//! `loadgen replay`: verify a trace, then pace it against the API with the replayer core,
//! printing the spec's console output and writing the JSON report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::session::{self, Plan};
use crate::api::{ClientOptions, FreshMartExecutor, RequestContext};
use crate::cli::ReplayArgs;
use crate::event::Event;
use crate::replay::window::{TraceWindow, WindowFilter};
use crate::replay::ReplayOptions;
use crate::report;
use crate::sim::time::{Calendar, SimTime};
use crate::trace::{TraceHeader, TraceReader};
use crate::units::Speed;

#[derive(Debug, Serialize)]
struct ReportConfig {
    trace: PathBuf,
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

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let context = || format!("trace {}", args.trace.display());
    let mut reader = TraceReader::open(&args.trace).with_context(context)?;
    let header: TraceHeader = reader.header().clone();
    // Check the whole file before sending anything: a corrupt tail must not surface mid-run.
    let footer = reader.verify_rest().with_context(context)?;
    drop(reader);

    let calendar = Calendar::new(header.start_instant()?);
    let window = TraceWindow::from_times_of_day(&calendar, args.from, args.to, header.duration_ms);
    anyhow::ensure!(
        window.from_ms < window.to_ms,
        "--from/--to select nothing of this trace"
    );
    let run_id = args.run_id.clone().unwrap_or_else(default_run_id);
    validate_run_id(&run_id)?;
    let concurrency = args
        .concurrency
        .unwrap_or(header.profile.concurrent_workflows as usize)
        .max(1);
    let replay_start = chrono::Utc::now();
    let shift = if args.keep_timestamps {
        chrono::Duration::zero()
    } else {
        replay_start.fixed_offset() - calendar.instant_at(SimTime(window.from_ms))
    };
    let request_context = RequestContext {
        world: Arc::new(header.world.clone()),
        run_id: Some(run_id.clone()),
        calendar: calendar.clone(),
        shift,
    };
    let client_options = ClientOptions {
        timeout: args.api.timeout,
        retries: args.api.retries,
        pool_size: concurrency,
        log_failures: args.verbose,
        ..ClientOptions::default()
    };
    let executor = FreshMartExecutor::new(&args.api.api_url, request_context, client_options)?;

    let window_minutes = (window.to_ms - window.from_ms) as f64 / 60_000.0;
    let wall_minutes = match args.speed {
        Speed::Factor(f) => format!("{:.1}", window_minutes / f),
        Speed::Max => "as fast as possible".into(),
    };
    print!(
        "{}",
        report::header_block(
            &header.profile,
            window_minutes,
            &args.api.api_url,
            &[
                (
                    "Trace",
                    format!(
                        "{} ({} events, seed {})",
                        args.trace.display(),
                        footer.count,
                        header.seed
                    )
                ),
                (
                    "Speed",
                    format!("{} (wall-clock minutes: {wall_minutes})", args.speed)
                ),
                ("Concurrency", concurrency.to_string()),
                ("Run id", run_id.clone()),
            ],
        )
    );

    let plan = Plan {
        executor,
        options: ReplayOptions {
            speed: args.speed,
            origin_ms: window.from_ms,
            concurrency,
            drain_timeout: args.api.timeout,
            window: Duration::from_secs(60),
            tap: None,
        },
        calendar,
        span_ms: Some((window.from_ms, window.to_ms)),
    };
    let path = args.trace.clone();
    let feed = move |events: tokio::sync::mpsc::Sender<Event>| -> anyhow::Result<u64> {
        let mut reader = TraceReader::open(&path)?;
        let mut filter = WindowFilter::new(window);
        let mut offered = 0u64;
        let mut listening = true;
        while let Some(event) = reader.next_event()? {
            if !filter.admit(&event) {
                continue;
            }
            offered += 1;
            if listening && events.blocking_send(event).is_err() {
                listening = false;
            }
        }
        Ok(offered)
    };

    let outcome = super::runtime()?.block_on(async {
        // Reachability first: an API that is not there is exit 1, not a storm of failures.
        println!("\n{} Checking API health...", super::stamp());
        if !session::health_gate(&args.api.api_url, args.api.timeout).await? {
            return Ok::<_, anyhow::Error>(None);
        }
        println!("{} Replaying...", super::stamp());
        session::drive(plan, feed).await.map(Some)
    })?;
    let Some(outcome) = outcome else {
        return Ok(ExitCode::from(super::EXIT_FAILED));
    };
    let config = ReportConfig {
        trace: args.trace.clone(),
        api_url: args.api.api_url.clone(),
        speed: args.speed.to_string(),
        concurrency,
        run_id,
        from_ms: window.from_ms,
        to_ms: window.to_ms,
        keep_timestamps: args.keep_timestamps,
        timeout_ms: args.api.timeout.as_millis() as u64,
        retries: args.api.retries,
        min_success: args.min_success,
        seed: header.seed,
        profile: header.profile.name.clone(),
    };
    session::finish(
        &outcome,
        args.report.clone().map(|path| (path, config)),
        replay_start,
        args.min_success,
    )
}
