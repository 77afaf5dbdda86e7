//! `loadgen start`: the Python tool's live mode, built from the same parts as simulate and
//! replay: the simulator runs with virtual time 0 at the moment the run starts, and its events
//! go to the replayer at 1x as they become due. Memory is bounded by open orders and the
//! replay queue, not by how long it runs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::session::{self, Plan};
use crate::api::RequestContext;
use crate::cli::StartArgs;
use crate::event::Event;
use crate::profile::LoadProfile;
use crate::rates::OfferedLoad;
use crate::replay::{ReplayOptions, Sequenced};
use crate::report;
use crate::result::{RunContext, RunMeta, RunResult, TraceIdentity};
use crate::sim::time::{Calendar, SimTime};
use crate::sim::{SimConfig, Simulation};
use crate::trace::{TraceHeader, TraceWriter};
use crate::units::Speed;

#[derive(Debug, Serialize)]
struct ReportConfig {
    mode: &'static str,
    api_url: String,
    profile: LoadProfile,
    seed: u64,
    start: String,
    duration_ms: Option<u64>,
    concurrency: usize,
    run_id: String,
    timeout_ms: u64,
    retries: u32,
    min_success: f64,
}

/// Simulated span the triples per event are measured on when the run is shorter.
const SAMPLE_MS: u64 = 60 * 60_000;

/// What the two kinds of rate `--dry-run` prints mean.
pub const RATES_EXPLAINED: &str =
    "\"Now\" is the steady state at the start's hour, with orders in \
every stage of their lifecycle; \"over the run\" is what this seed sends from an empty start \
along the peak-hour curve, with fewer status transitions while the first orders are young.";

/// Requests one order brings in steady state with `profile`'s mix: its creation, three
/// transitions (or one cancellation), and its share of modifications (two requests each),
/// new customers and inventory updates (one each).
pub fn requests_per_order(profile: &LoadProfile) -> f64 {
    let w = &profile.weights;
    let c = w.cancellation;
    1.0 + 3.0 * (1.0 - c)
        + c
        + 2.0 * w.per_order(w.order_modification)
        + w.per_order(w.customer_creation)
        + w.per_order(w.inventory_update)
}

pub fn run(args: StartArgs) -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    if let Some(path) = &args.profile.profile_file {
        inputs.push(("--profile-file", path.as_path()));
    }
    if let Some(path) = &args.api.auth.ca_cert {
        inputs.push(("--ca-cert", path.as_path()));
    }
    let mut outputs = Vec::new();
    if let Some(path) = &args.report {
        outputs.push(("--report", path.as_path()));
    }
    if let Some(path) = &args.record {
        outputs.push(("--record", path.as_path()));
    }
    crate::output::check_paths(&inputs, &outputs)?;
    let profile = super::load_profile(&args.profile)?;
    let thresholds = session::threshold_plan(&args.result.thresholds)?;
    let duration_ms: Option<u64> = match args.duration {
        Some(d) if d.is_zero() => None,
        Some(d) => Some(d.as_millis() as u64),
        None if profile.duration_minutes == 0 => None,
        None => Some(u64::from(profile.duration_minutes) * 60_000),
    };
    let seed = args
        .seed
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros().unsigned_abs() % 1_000_000_000);
    let start = match &args.start_at {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("--start-at `{text}` is not an RFC 3339 instant"))?,
        None => chrono::Local::now().fixed_offset(),
    };
    let calendar = Calendar::new(start);
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(super::replay::default_run_id);
    super::replay::validate_run_id(&run_id)?;
    let concurrency = args
        .concurrency
        .unwrap_or(profile.concurrent_workflows as usize)
        .max(1);
    let minutes = duration_ms.map(|ms| ms as f64 / 60_000.0);

    if args.dry_run {
        crate::out!(
            "{}",
            dry_run(
                &profile,
                &calendar,
                seed,
                minutes,
                duration_ms,
                &crate::units::redact_url(&args.api.api_url)
            )?
        );
        return Ok(());
    }
    crate::out!(
        "{}",
        report::header_block(
            &profile,
            minutes,
            &crate::units::redact_url(&args.api.api_url),
            &[
                (
                    "Seed",
                    format!(
                        "{seed} (pass {} to repeat this run against the same world)",
                        repeat_flags(&args, seed, &start, duration_ms, &run_id)
                    )
                ),
                ("Run id", run_id.clone()),
            ],
        )
    );

    let run_id_for_report = run_id.clone();
    let runtime = super::runtime()?;
    let started_at = chrono::Utc::now();
    let outcome = runtime.block_on(async {
        crate::outln!("\n{} Initializing load orchestrator...", super::stamp());
        session::health_gate(&args.api).await?;
        let reader = super::api_reader(
            &args.api.auth,
            &args.api.api_url,
            args.api.timeout().max(Duration::from_secs(60)),
            args.api.retries(),
        )?;
        let world = super::world::snapshot(&reader).await?;
        crate::outln!(
            "{} Loaded {} customers, {} stores, {} products",
            super::stamp(),
            world.customers.len(),
            world.stores.len(),
            world.products.len()
        );
        let header = TraceHeader {
            generator: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
            seed,
            profile: profile.clone(),
            world: world.clone(),
            start: start.to_rfc3339(),
            duration_ms: duration_ms.unwrap_or(0),
        };
        let (tap, recorder) = match &args.record {
            Some(path) => {
                let (tx, rx) = std::sync::mpsc::channel::<Event>();
                let (header, path) = (header.clone(), path.clone());
                (
                    Some(tx),
                    Some(std::thread::spawn(move || record(&path, header, rx))),
                )
            }
            None => (None, None),
        };
        let world_for_report = world.clone();
        let executor = super::executor(
            &args.api,
            RequestContext {
                world: Arc::new(world.clone()),
                run_id: Some(run_id.clone()),
                calendar: calendar.clone(),
                shift: chrono::Duration::zero(),
            },
            concurrency,
            args.verbose,
        )?;
        crate::outln!(
            "{} Load orchestrator initialized successfully",
            super::stamp()
        );
        match minutes {
            Some(m) => crate::outln!(
                "{} Running for {} minutes...\n",
                super::stamp(),
                report::trim_float(m)
            ),
            None => crate::outln!("{} Running until interrupted (Ctrl+C)...\n", super::stamp()),
        }
        let plan = Plan {
            executor,
            options: ReplayOptions {
                speed: Speed::Factor(1.0),
                origin_ms: 0,
                concurrency,
                drain_timeout: args.api.timeout(),
                window: Duration::from_secs(60),
                tap,
                hold_until_ms: duration_ms,
                clock: crate::replay::clock::ClockChoice::Precise,
            },
            calendar: calendar.clone(),
            span_ms: duration_ms.map(|d| (0, d)),
            live: true,
            // A live simulation's event count is not known ahead: nothing is ever given up on.
            abort: session::abort_watch(&args.result, &thresholds, None)?,
        };
        let config = SimConfig {
            seed,
            profile: profile.clone(),
            start,
            duration: SimTime(duration_ms.unwrap_or(u64::MAX)),
        };
        let feed = move |events: tokio::sync::mpsc::Sender<Sequenced>| -> anyhow::Result<u64> {
            let mut sim = Simulation::new(&world, &config)?;
            let mut offered = 0;
            while let Some(event) = sim.next_event()? {
                if events
                    .blocking_send(Sequenced {
                        seq: offered,
                        event,
                    })
                    .is_err()
                {
                    break; // the run stopped
                }
                offered += 1;
            }
            Ok(offered)
        };
        let outcome = session::drive(plan, feed, |_| {}).await?;
        if let (Some(recorder), Some(path)) = (recorder, &args.record) {
            let writer = tokio::task::spawn_blocking(move || recorder.join())
                .await?
                .map_err(|_| anyhow::anyhow!("recorder thread panicked"))??;
            // At 1x the trace time reached is the time run; a run cut short covers that much.
            let covered = match duration_ms {
                Some(d) if !outcome.stopped_early => d,
                planned => {
                    let reached = outcome.elapsed.as_millis() as u64;
                    let reached = reached.max(writer.end_of_events());
                    planned.map_or(reached, |d| reached.min(d))
                }
            };
            let written = finish_recording(path, writer, covered)?;
            crate::outln!(
                "{} Recorded {written} events to {}",
                super::stamp(),
                path.display()
            );
        }
        Ok::<_, anyhow::Error>((outcome, Arc::new(world_for_report)))
    })?;
    let (outcome, world) = outcome;
    let config = ReportConfig {
        mode: "start",
        api_url: crate::units::redact_url(&args.api.api_url),
        profile,
        seed,
        start: start.to_rfc3339(),
        duration_ms,
        concurrency,
        run_id,
        timeout_ms: args.api.timeout().as_millis() as u64,
        retries: args.api.retries(),
        min_success: args.min_success,
    };
    let subject_of = session::subject_renderer(world, run_id_for_report);
    let meta = RunMeta {
        trace: TraceIdentity {
            source: "live simulation".into(),
            events: None,
            crc32: None,
            start: config.start.clone(),
        },
        seed,
        profile: config.profile.name.clone(),
        run_id: config.run_id.clone(),
        speed: Speed::Factor(1.0).to_string(),
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
            started_at,
            visibility: None,
            subject_of: &subject_of,
        },
    );
    session::finish(
        result,
        args.report.as_deref(),
        args.min_success,
        &thresholds,
    )
}

/// The flags that fix every request of a live run besides the world: the profile, the
/// duration, the seed, the start instant and the run id (the ids' namespace).
fn repeat_flags(
    args: &StartArgs,
    seed: u64,
    start: &chrono::DateTime<chrono::FixedOffset>,
    duration_ms: Option<u64>,
    run_id: &str,
) -> String {
    let profile = match &args.profile.profile_file {
        Some(path) => format!("--profile-file {}", path.display()),
        None => format!("--profile {}", args.profile.profile),
    };
    let duration = match duration_ms {
        None => "0".to_string(),
        Some(ms) if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        Some(ms) if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        Some(ms) => format!("{ms}ms"),
    };
    format!(
        "{profile} --duration {duration} --seed {seed} --start-at {} --run-id {run_id}",
        start.to_rfc3339()
    )
}

fn dry_run(
    profile: &LoadProfile,
    calendar: &Calendar,
    seed: u64,
    minutes: Option<f64>,
    duration_ms: Option<u64>,
    api_url: &str,
) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let multiplier = calendar.multiplier_at(SimTime::ZERO);
    let rate = profile.orders_per_minute * multiplier;
    let mut out = String::new();
    writeln!(out, "FreshMart Load Generator (dry run: nothing is sent)")?;
    writeln!(
        out,
        "============================================================"
    )?;
    writeln!(out, "Profile: {} - {}", profile.name, profile.description)?;
    writeln!(out, "Target: {} orders/min", profile.orders_per_minute)?;
    writeln!(
        out,
        "Concurrent Workflows: {}",
        profile.concurrent_workflows
    )?;
    writeln!(out, "{}", report::duration_line(minutes))?;
    writeln!(out, "API: {api_url}")?;
    writeln!(out, "Seed: {seed}")?;
    writeln!(
        out,
        "Start: {} (local hour {:02}, peak-hour multiplier {multiplier}x)",
        calendar.start().to_rfc3339(),
        calendar.hour_at(SimTime::ZERO)
    )?;
    writeln!(out, "Effective rate now: {rate:.1} orders/min")?;
    writeln!(
        out,
        "Expected requests per minute now (steady state): {:.1}",
        rate * requests_per_order(profile)
    )?;
    // The simulator is cheap: count exactly what this seed would send (with the built-in
    // world; the live world only changes which ids are used, not how many events).
    let world = crate::world::builtin_world_ref();
    let run = match duration_ms {
        Some(ms) => Some(OfferedLoad::simulate(world, profile, calendar, seed, ms)?),
        None => None,
    };
    // The triples of each kind of event, measured on at least an hour of this seed.
    let sample = match &run {
        Some(run) if run.duration_ms >= SAMPLE_MS => run.clone(),
        _ => OfferedLoad::simulate(world, profile, calendar, seed, SAMPLE_MS)?,
    };
    let (activities_now, triples_now) = crate::rates::steady_state(profile, rate, &sample);
    writeln!(
        out,
        "Expected activities per minute now (steady state): {activities_now:.1}"
    )?;
    writeln!(
        out,
        "Expected triples per minute now (steady state): {triples_now:.1}"
    )?;
    if let Some(run) = &run {
        writeln!(
            out,
            "Over the run (this seed, following the peak-hour curve): {} orders, {} activities, {} requests ({:.1} requests/min)",
            run.orders,
            run.events,
            run.requests,
            run.per_minute().1
        )?;
        let (activities, requests, triples) = run.per_minute();
        writeln!(
            out,
            "Over the run per minute: {activities:.1} activities, {requests:.1} requests, {triples:.1} triples ({} triples in all)",
            run.triples
        )?;
    }
    writeln!(out, "{RATES_EXPLAINED}")?;
    writeln!(
        out,
        "============================================================"
    )?;
    Ok(out)
}

type Recording = TraceWriter<crate::output::AtomicFile>;

/// Writes the events of a live run to a temporary trace beside `path`, in one pass: its header
/// says the planned duration (0 for an open-ended run) and the footer, written by
/// `finish_recording`, the span the run covered. An error, or a second interrupt, removes the
/// temporary file.
fn record(
    path: &Path,
    header: TraceHeader,
    events: std::sync::mpsc::Receiver<Event>,
) -> anyhow::Result<Recording> {
    let file = crate::output::AtomicFile::create(path)?;
    let mut writer = TraceWriter::new(file, &header)?;
    for event in events {
        writer.write(&event)?;
    }
    Ok(writer)
}

/// Closes the recording at the span the run covered and moves it into place.
fn finish_recording(path: &Path, writer: Recording, covered_ms: u64) -> anyhow::Result<u64> {
    let (footer, _, file) = writer
        .finish_at(covered_ms)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.commit()?;
    Ok(footer.count)
}
