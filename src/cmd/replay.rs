//! `loadgen replay`: verify a trace, then pace it against the API with the replayer core,
//! printing the spec's console output and writing the JSON report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::api::{ClientOptions, FreshMartExecutor, RequestContext};
use crate::cli::ReplayArgs;
use crate::replay::window::{TraceWindow, WindowFilter};
use crate::replay::{Progress, ReplayOptions};
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
fn default_run_id() -> String {
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
        !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
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
    anyhow::ensure!(window.from_ms < window.to_ms, "--from/--to select nothing of this trace");
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
    let executor = Arc::new(FreshMartExecutor::new(&args.api.api_url, request_context, client_options.clone())?);

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
                ("Trace", format!("{} ({} events, seed {})", args.trace.display(), footer.count, header.seed)),
                ("Speed", format!("{} (wall-clock minutes: {wall_minutes})", args.speed)),
                ("Concurrency", concurrency.to_string()),
                ("Run id", run_id.clone()),
            ],
        )
    );

    let runtime = super::runtime()?;
    let outcome = runtime.block_on(async {
        // Reachability first: an API that is not there is exit 1, not a storm of failures.
        let probe_client = reqwest::Client::builder().timeout(args.api.timeout).build()?;
        println!("\n{} Checking API health...", super::stamp());
        let probes = crate::api::health::check(&probe_client, &args.api.api_url).await;
        if let Some(bad) = probes.iter().find(|p| !p.healthy()) {
            let why = match &bad.result {
                Ok((status, body)) => format!("GET {} answered {status}: {body}", bad.path),
                Err(message) => message.clone(),
            };
            println!("{} API health check failed: {why}", super::stamp());
            return Ok::<_, anyhow::Error>(None);
        }
        println!("{} API health check passed", super::stamp());
        println!("{} Replaying...", super::stamp());

        let (events_tx, events_rx) = tokio::sync::mpsc::channel(8192);
        let path = args.trace.clone();
        // The trace is read on its own thread; it keeps counting after the replay stops, so
        // that every event of the window is accounted for.
        let feeder = std::thread::spawn(move || -> anyhow::Result<u64> {
            let mut reader = TraceReader::open(&path)?;
            let mut filter = WindowFilter::new(window);
            let mut admitted = 0u64;
            let mut listening = true;
            while let Some(event) = reader.next_event()? {
                if !filter.admit(&event) {
                    continue;
                }
                admitted += 1;
                if listening && events_tx.blocking_send(event).is_err() {
                    listening = false;
                }
            }
            Ok(admitted)
        });

        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                println!("\n{} Interrupt received, stopping gracefully...", super::stamp());
                let _ = stop_tx.send(true);
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("Second interrupt: exiting now");
                    std::process::exit(130);
                }
            }
        });
        let shutdown = async move {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
        };

        let progress = Arc::new(Progress::default());
        let bar = progress_bar(window);
        let ticker = spawn_progress(bar.clone(), progress.clone(), window);
        let show_trace_time = args.speed != Speed::Factor(1.0);
        let line_bar = bar.clone();
        let line_calendar = calendar.clone();
        let outcome = crate::replay::run(
            executor,
            events_rx,
            ReplayOptions {
                speed: args.speed,
                origin_ms: window.from_ms,
                concurrency,
                drain_timeout: args.api.timeout,
                window: Duration::from_secs(60),
            },
            shutdown,
            progress,
            move |w| {
                let trace_time = show_trace_time.then(|| {
                    line_calendar
                        .instant_at(SimTime(w.trace_pos_ms))
                        .format("%a %H:%M")
                        .to_string()
                });
                let line = report::window_line(w, trace_time.as_deref());
                line_bar.suspend(|| println!("{} {line}", super::stamp()));
            },
        )
        .await;
        ticker.abort();
        bar.finish_and_clear();
        let admitted = tokio::task::spawn_blocking(move || feeder.join())
            .await?
            .map_err(|_| anyhow::anyhow!("trace reader thread panicked"))??;
        let mut outcome = outcome;
        outcome.not_sent += admitted.saturating_sub(outcome.received);
        Ok(Some(outcome))
    })?;

    let Some(outcome) = outcome else {
        return Ok(ExitCode::from(super::EXIT_FAILED));
    };
    print!("{}", report::final_summary(&outcome));
    if let Some(path) = &args.report {
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
        let json = report::json_report(config, replay_start.to_rfc3339(), &outcome);
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(path, text).with_context(|| format!("cannot write report {}", path.display()))?;
        println!("Report written to {}", path.display());
    }
    if outcome.metrics.success_rate() < args.min_success {
        println!(
            "Success rate {:.1}% is under the minimum of {:.1}%",
            outcome.metrics.success_rate() * 100.0,
            args.min_success * 100.0
        );
        return Ok(ExitCode::from(super::EXIT_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(window: TraceWindow) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(window.to_ms - window.from_ms);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% of the trace, {msg}")
            .expect("static template"),
    );
    bar
}

fn spawn_progress(
    bar: indicatif::ProgressBar,
    progress: Arc<Progress>,
    window: TraceWindow,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let pos = progress.trace_pos_ms.load(Ordering::Relaxed);
            bar.set_position(pos.saturating_sub(window.from_ms));
            bar.set_message(format!(
                "{} sent, {} done",
                progress.dispatched.load(Ordering::Relaxed),
                progress.completed.load(Ordering::Relaxed)
            ));
        }
    })
}
