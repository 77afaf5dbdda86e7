//! `start`'s plan: the profile, duration, seed, start instant, run id and concurrency of a
//! live run settled from the arguments, and what `--dry-run` prints of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::{Env, PlanError};
use crate::api::RequestContext;
use crate::cli::{ApiArgs, StartArgs};
use crate::event::Event;
use crate::profile::LoadProfile;
use crate::rates::OfferedLoad;
use crate::replay::ReplayOptions;
use crate::result::{RunMeta, TraceIdentity};
use crate::sim::time::{Calendar, SimTime};
use crate::sim::SimConfig;
use crate::trace::TraceHeader;
use crate::units::Speed;
use crate::world::World;

/// Simulated span the triples per event are measured on when the run is shorter.
const SAMPLE_MS: u64 = 60 * 60_000;

/// What the two kinds of rate `--dry-run` prints mean.
pub const RATES_EXPLAINED: &str =
    "\"Now\" is the steady state at the start's hour, with orders in \
every stage of their lifecycle; \"over the run\" is what this seed sends from an empty start \
along the peak-hour curve, with fewer status transitions while the first orders are young.";

/// A live run's settled arguments.
pub struct StartPlan {
    pub api: ApiArgs,
    pub profile: LoadProfile,
    /// How the profile was chosen, for the flags that repeat the run.
    profile_flag: String,
    /// `None`: until interrupted.
    pub duration_ms: Option<u64>,
    pub seed: u64,
    pub start: DateTime<FixedOffset>,
    pub calendar: Calendar,
    pub run_id: String,
    pub concurrency: usize,
    /// Dispatchers (`--threads`), each owning a partition of the causal roots.
    pub threads: usize,
    /// `--metrics-addr` and `--events-out`.
    pub outputs: crate::cli::RunOutputArgs,
    /// `--tag`, `--git-revision`, thresholds and `--abort-on-threshold`.
    pub result: crate::cli::ResultArgs,
    pub record: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub min_success: f64,
    pub verbose: bool,
    pub dry_run: bool,
}

/// The files `start` reads and writes, by role, for `output::check_paths`.
pub fn paths(args: &StartArgs) -> super::Paths<&Path> {
    let mut inputs = Vec::new();
    inputs.extend(
        args.profile
            .profile_file
            .as_deref()
            .map(|p| ("--profile-file", p)),
    );
    inputs.extend(args.api.auth.ca_cert.as_deref().map(|p| ("--ca-cert", p)));
    let mut outputs = Vec::new();
    outputs.extend(args.report.as_deref().map(|p| ("--report", p)));
    outputs.extend(args.record.as_deref().map(|p| ("--record", p)));
    outputs.extend(super::run_output_paths(&args.outputs));
    (inputs, outputs)
}

impl StartPlan {
    /// Settles `args` with the loaded `profile`; pure (the clock is `env`'s).
    pub fn new(args: StartArgs, profile: LoadProfile, env: &Env) -> Result<StartPlan, PlanError> {
        let duration_ms: Option<u64> = match args.duration {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d.as_millis() as u64),
            None if profile.duration_minutes == 0 => None,
            None => Some(u64::from(profile.duration_minutes) * 60_000),
        };
        let seed = args
            .seed
            .unwrap_or_else(|| env.now.timestamp_micros().unsigned_abs() % 1_000_000_000);
        let start = match &args.start_at {
            Some(text) => super::parse_start_at(text)?,
            None => env.now.with_timezone(&chrono::Local).fixed_offset(),
        };
        let run_id = args
            .run_id
            .clone()
            .unwrap_or_else(|| super::default_run_id(env.now));
        super::validate_run_id(&run_id)?;
        let concurrency = args
            .concurrency
            .unwrap_or(profile.concurrent_workflows as usize)
            .max(1);
        let profile_flag = match &args.profile.profile_file {
            Some(path) => format!("--profile-file {}", path.display()),
            None => format!("--profile {}", args.profile.profile),
        };
        Ok(StartPlan {
            api: args.api,
            profile,
            profile_flag,
            duration_ms,
            seed,
            start,
            calendar: Calendar::new(start),
            run_id,
            concurrency,
            threads: args.threads.map_or(env.default_threads(), usize::from),
            record: args.record,
            outputs: args.outputs,
            result: args.result,
            report: args.report,
            min_success: args.min_success,
            verbose: args.verbose,
            dry_run: args.dry_run,
        })
    }

    pub fn minutes(&self) -> Option<f64> {
        self.duration_ms.map(|ms| ms as f64 / 60_000.0)
    }

    /// The simulation that feeds the run.
    pub fn sim_config(&self) -> SimConfig {
        SimConfig {
            seed: self.seed,
            profile: self.profile.clone(),
            start: self.start,
            duration: SimTime(self.duration_ms.unwrap_or(u64::MAX)),
        }
    }

    /// At most how many events the run can end, for `--abort-on-threshold`: with a duration,
    /// the events this seed simulates on `world` before it (the feed makes exactly these; a
    /// run stopped earlier ends fewer, which only makes the bound loose, never wrong). `None`
    /// for a run until interrupted, or when `--abort-on-threshold` is off (nothing is counted).
    pub fn event_bound(&self, world: &World) -> Result<Option<u64>, crate::sim::SimError> {
        if !self.result.abort_on_threshold || self.duration_ms.is_none() {
            return Ok(None);
        }
        let mut sim = crate::sim::Simulation::new(world, &self.sim_config())?;
        let mut events = 0;
        while let Some(event) = sim.next_event()? {
            events += 1;
            sim.recycle(event);
        }
        Ok(Some(events))
    }

    /// The console line before the first event: for how long the run goes.
    pub fn running_line(&self) -> String {
        match self.minutes() {
            Some(m) => format!("Running for {} minutes...", crate::report::trim_float(m)),
            None => "Running until interrupted (Ctrl+C)...".into(),
        }
    }

    /// The console header's lines after the profile's.
    pub fn header_lines(&self) -> [(&'static str, String); 2] {
        let seed = format!(
            "{} (pass {} to repeat this run against the same world)",
            self.seed,
            self.repeat_flags()
        );
        [("Seed", seed), ("Run id", self.run_id.clone())]
    }

    /// The console's header: the profile's lines, then the seed and the run id.
    pub fn console_header(&self) -> String {
        let api_url = crate::units::redact_url(&self.api.api_url);
        let lines = self.header_lines();
        crate::report::header_block(&self.profile, self.minutes(), &api_url, &lines)
    }

    /// The `run` section of the result: a live simulation's identity and `tags`.
    pub fn run_meta(&self, tags: BTreeMap<String, String>) -> RunMeta {
        RunMeta {
            trace: TraceIdentity {
                source: "live simulation".into(),
                events: None,
                crc32: None,
                start: self.start.to_rfc3339(),
            },
            seed: self.seed,
            profile: self.profile.name.clone(),
            run_id: self.run_id.clone(),
            speed: Speed::Factor(1.0).to_string(),
            tags,
            git_revision: self.result.git_revision.clone(),
            shard: None,
            shards_merged: None,
        }
    }

    /// The header of the trace `--record` writes, on the world taken from the API.
    pub fn trace_header(&self, world: World) -> TraceHeader {
        TraceHeader {
            generator: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
            seed: self.seed,
            profile: self.profile.clone(),
            world,
            start: self.start.to_rfc3339(),
            duration_ms: self.duration_ms.unwrap_or(0),
        }
    }

    /// What the requests carry: ids in the run's namespace, timestamps as simulated (the
    /// simulation runs on the wall clock).
    pub fn request_context(&self, world: Arc<World>) -> RequestContext {
        RequestContext {
            world,
            run_id: Some(self.run_id.clone()),
            calendar: self.calendar.clone(),
            shift: chrono::Duration::zero(),
        }
    }

    /// The replayer core's options: 1x from the start, for the planned duration even when
    /// the events end sooner; `tap` receives what `--record` writes.
    pub fn options(&self, tap: Option<std::sync::mpsc::Sender<Event>>) -> ReplayOptions {
        ReplayOptions {
            speed: Speed::Factor(1.0),
            origin_ms: 0,
            concurrency: self.concurrency,
            threads: self.threads,
            drain_timeout: self.api.timeout(),
            window: Duration::from_secs(60),
            tap,
            hold_until_ms: self.duration_ms,
            clock: crate::replay::clock::ClockChoice::Precise,
        }
    }

    /// The flags that fix every request of a live run besides the world: the profile, the
    /// duration, the seed, the start instant and the run id (the ids' namespace).
    pub fn repeat_flags(&self) -> String {
        let duration = match self.duration_ms {
            None => "0".to_string(),
            Some(ms) if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
            Some(ms) if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
            Some(ms) => format!("{ms}ms"),
        };
        format!(
            "{} --duration {duration} --seed {} --start-at {} --run-id {}",
            self.profile_flag,
            self.seed,
            self.start.to_rfc3339(),
            self.run_id
        )
    }

    /// The `config` section of the JSON report.
    pub fn report_config(&self) -> ReportConfig {
        ReportConfig {
            mode: "start",
            api_url: crate::units::redact_url(&self.api.api_url),
            profile: self.profile.clone(),
            seed: self.seed,
            start: self.start.to_rfc3339(),
            duration_ms: self.duration_ms,
            concurrency: self.concurrency,
            run_id: self.run_id.clone(),
            timeout_ms: self.api.timeout().as_millis() as u64,
            retries: self.api.retries(),
            min_success: self.min_success,
        }
    }

    /// What `--dry-run` prints: the configuration and the load this seed would offer.
    pub fn dry_run_text(&self) -> Result<String, crate::sim::SimError> {
        use std::fmt::Write as _;
        let (profile, calendar) = (&self.profile, &self.calendar);
        let multiplier = calendar.multiplier_at(SimTime::ZERO);
        let rate = profile.orders_per_minute * multiplier;
        let mut out = String::new();
        let w = &mut out;
        let rule = "============================================================";
        let _ = writeln!(w, "FreshMart Load Generator (dry run: nothing is sent)");
        let _ = writeln!(w, "{rule}");
        let _ = writeln!(w, "Profile: {} - {}", profile.name, profile.description);
        let _ = writeln!(w, "Target: {} orders/min", profile.orders_per_minute);
        let _ = writeln!(w, "Concurrent Workflows: {}", profile.concurrent_workflows);
        let _ = writeln!(w, "{}", crate::report::duration_line(self.minutes()));
        let _ = writeln!(w, "API: {}", crate::units::redact_url(&self.api.api_url));
        let _ = writeln!(w, "Seed: {}", self.seed);
        let _ = writeln!(
            w,
            "Start: {} (local hour {:02}, peak-hour multiplier {multiplier}x)",
            calendar.start().to_rfc3339(),
            calendar.hour_at(SimTime::ZERO)
        );
        let _ = writeln!(w, "Effective rate now: {rate:.1} orders/min");
        let _ = writeln!(
            w,
            "Expected requests per minute now (steady state): {:.1}",
            rate * requests_per_order(profile)
        );
        // The simulator is cheap: count exactly what this seed would send (with the built-in
        // world; the live world only changes which ids are used, not how many events).
        let world = crate::world::builtin_world_ref();
        let run = match self.duration_ms {
            Some(ms) => Some(OfferedLoad::simulate(
                world, profile, calendar, self.seed, ms,
            )?),
            None => None,
        };
        // The triples of each kind of event, measured on at least an hour of this seed.
        let sample = match &run {
            Some(run) if run.duration_ms >= SAMPLE_MS => run.clone(),
            _ => OfferedLoad::simulate(world, profile, calendar, self.seed, SAMPLE_MS)?,
        };
        let (activities_now, triples_now) = crate::rates::steady_state(profile, rate, &sample);
        let _ = writeln!(
            w,
            "Expected activities per minute now (steady state): {activities_now:.1}"
        );
        let _ = writeln!(
            w,
            "Expected triples per minute now (steady state): {triples_now:.1}"
        );
        if let Some(run) = &run {
            let (activities, requests, triples) = run.per_minute();
            let _ = writeln!(
                w,
                "Over the run (this seed, following the peak-hour curve): {} orders, {} activities, {} requests ({requests:.1} requests/min)",
                run.orders, run.events, run.requests
            );
            let _ = writeln!(
                w,
                "Over the run per minute: {activities:.1} activities, {requests:.1} requests, {triples:.1} triples ({} triples in all)",
                run.triples
            );
        }
        let _ = writeln!(w, "{RATES_EXPLAINED}");
        let _ = writeln!(w, "{rule}");
        Ok(out)
    }
}

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

#[derive(Debug, Serialize)]
pub struct ReportConfig {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(list: &[&str]) -> Result<StartPlan, PlanError> {
        let mut argv = vec!["loadgen", "start"];
        argv.extend_from_slice(list);
        let args = match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Start(args) => args,
            other => panic!("{other:?}"),
        };
        let profile = LoadProfile::named(&args.profile.profile).unwrap();
        let env = Env {
            now: "2026-12-01T10:00:00Z".parse().unwrap(),
            job_completion_index: None,
            cores: 2,
        };
        StartPlan::new(args, profile, &env)
    }

    #[test]
    fn values_from_flags_and_the_profile() {
        let p = plan(&[
            "--profile",
            "standard",
            "--duration",
            "90s",
            "--seed",
            "7",
            "--start-at",
            "2026-01-05T17:00:00+01:00",
            "--run-id",
            "live",
        ])
        .unwrap();
        assert_eq!(p.duration_ms, Some(90_000));
        assert_eq!(p.seed, 7);
        assert_eq!(p.concurrency, p.profile.concurrent_workflows as usize);
        assert_eq!(p.calendar.hour_at(SimTime::ZERO), 17);
        assert_eq!(
            p.repeat_flags(),
            "--profile standard --duration 90s --seed 7 --start-at 2026-01-05T17:00:00+01:00 --run-id live"
        );
        let open = plan(&["--duration", "0", "--concurrency", "3"]).unwrap();
        assert_eq!((open.duration_ms, open.minutes()), (None, None));
        assert_eq!(open.concurrency, 3);
        assert_eq!(open.run_id, super::super::default_run_id(open_now()));
        assert_eq!(
            open.seed,
            open_now().timestamp_micros().unsigned_abs() % 1_000_000_000
        );
    }

    fn open_now() -> chrono::DateTime<chrono::Utc> {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for (list, says) in [
            (&["--start-at", "tomorrow"][..], "--start-at `tomorrow`"),
            (&["--run-id", "no/slash"][..], "--run-id `no/slash`"),
        ] {
            let err = plan(list).err().unwrap();
            assert!(matches!(err, PlanError::Usage(_)), "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
