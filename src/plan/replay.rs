//! `replay`'s plan: the arguments, a resumed checkpoint, the trace's header and its survey,
//! settled into the values the run uses (trace and output paths, settings, run id, shard,
//! window, schedule, timestamp shift, the checkpoint to write) before anything is sent or
//! written. `prepare` does the reading (checkpoint, completion log, the trace's survey); the
//! rest is pure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

use super::{Env, PlanError};
use crate::api::probe::ProbeOptions;
use crate::causal::Shard;
use crate::cli::{ApiArgs, ReplayArgs};
use crate::replay::checkpoint::{
    self, Checkpoint, CheckpointError, CheckpointLock, CompletedSet, CompletionLog, RunSettings,
    CHECKPOINT_VERSION,
};
use crate::replay::segments::SegmentSummary;
use crate::replay::window::TraceWindow;
use crate::replay::ReplayOptions;
use crate::result::{RunMeta, TraceIdentity};
use crate::selection::{SelectionSpec, Survey};
use crate::sim::time::{Calendar, SimTime};
use crate::trace::format::TraceError;
use crate::trace::input::{SecondPass, TraceInput};
use crate::trace::TraceHeader;
use crate::units::Speed;

/// What a replay resumes from.
pub struct Resume {
    pub path: PathBuf,
    pub checkpoint: Checkpoint,
    pub done: Arc<CompletedSet>,
}

/// A replay's settled arguments (before the trace is read).
pub struct ReplayPlan {
    pub api: ApiArgs,
    pub trace: PathBuf,
    pub resume: Option<Resume>,
    /// The checkpoint this run keeps (a resume's own, `--checkpoint`, or beside `--report`).
    pub checkpoint: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub speed: Speed,
    /// `None`: the trace profile's concurrent workflows.
    pub concurrency: Option<usize>,
    /// Dispatchers (`--threads`), each owning a partition of the causal roots.
    pub threads: usize,
    pub probe_reads: f64,
    pub probe_timeout: Duration,
    pub min_success: f64,
    pub run_id: String,
    pub shard: Option<Shard>,
    /// The wall-clock instant the window's start is sent at (`--start-at`, or a resume's).
    pub start_at: Option<DateTime<FixedOffset>>,
    pub start_slack: Duration,
    pub keep_timestamps: bool,
    pub from: Option<chrono::NaiveTime>,
    pub to: Option<chrono::NaiveTime>,
    pub verbose: bool,
    pub status_every: Duration,
    /// `--metrics-addr` and `--events-out`.
    pub outputs: crate::cli::RunOutputArgs,
    /// `--tag`, `--git-revision`, thresholds and `--abort-on-threshold`.
    pub result: crate::cli::ResultArgs,
}

/// The settings of this run: the flags given, else (resuming) the first run's, else the
/// defaults.
fn settle(args: &mut ReplayArgs, saved: Option<(&Path, &RunSettings)>) -> Result<(), PlanError> {
    if let Some((path, saved)) = saved {
        if args.speed.is_none() {
            args.speed = Some(crate::units::parse_speed(&saved.speed).map_err(|e| {
                CheckpointError::Format {
                    path: path.to_path_buf(),
                    message: format!("checkpoint speed `{}`: {e}", saved.speed),
                }
            })?);
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
    args.api
        .retries_flag
        .get_or_insert(ApiArgs::DEFAULT_RETRIES);
    args.api
        .timeout_flag
        .get_or_insert(ApiArgs::DEFAULT_TIMEOUT);
    Ok(())
}

impl ReplayPlan {
    /// Settles `args` with what `resume` recorded; pure.
    pub fn new(
        mut args: ReplayArgs,
        resume: Option<Resume>,
        env: &Env,
    ) -> Result<ReplayPlan, PlanError> {
        let saved = resume.as_ref().and_then(|r| {
            r.checkpoint
                .settings
                .as_ref()
                .map(|s| (r.path.as_path(), s))
        });
        settle(&mut args, saved)?;
        let report = args
            .report
            .clone()
            .or_else(|| resume.as_ref().and_then(|r| r.checkpoint.report.clone()));
        let trace = match (&args.trace, &resume) {
            (Some(trace), _) => trace.clone(),
            (None, Some(r)) => r.checkpoint.trace.clone(),
            (None, None) => {
                return Err(PlanError::usage(
                    "give a trace file to replay, or --resume CHECKPOINT",
                ))
            }
        };
        let checkpoint = match (&resume, &args.checkpoint, &report) {
            (Some(r), _, _) => Some(r.path.clone()),
            (None, Some(path), _) => Some(path.clone()),
            (None, None, Some(report)) => {
                Some(PathBuf::from(format!("{}.checkpoint", report.display())))
            }
            (None, None, None) => None,
        };
        let given_shard = super::shard::resolve(
            args.shard,
            args.shard_count,
            env.job_completion_index.as_deref(),
        )?;
        let (run_id, shard, start_at) = match &resume {
            Some(r) => {
                let shard = r.checkpoint.check_shard(&r.path, given_shard)?;
                let start_at = match &r.checkpoint.start_at {
                    Some(text) => Some(DateTime::parse_from_rfc3339(text).map_err(|e| {
                        CheckpointError::Format {
                            path: r.path.clone(),
                            message: format!("start_at `{text}`: {e}"),
                        }
                    })?),
                    None => None,
                };
                (r.checkpoint.run_id.clone(), shard, start_at)
            }
            None => {
                if given_shard.is_some() && args.run_id.is_none() {
                    return Err(PlanError::usage(
                        "--shard and --shard-count need --run-id: every shard of a run sends with the same run id",
                    ));
                }
                let run_id = args
                    .run_id
                    .clone()
                    .unwrap_or_else(|| super::default_run_id(env.now));
                let start_at = args
                    .start_at
                    .as_deref()
                    .map(super::parse_start_at)
                    .transpose()?;
                (run_id, given_shard, start_at)
            }
        };
        super::validate_run_id(&run_id)?;
        Ok(ReplayPlan {
            api: args.api,
            trace,
            resume,
            checkpoint,
            report,
            speed: args.speed.unwrap_or(Speed::Factor(1.0)),
            concurrency: args.concurrency,
            threads: args.threads.map_or(env.default_threads(), usize::from),
            probe_reads: args.probe_reads.unwrap_or(0.0),
            probe_timeout: args.probe_timeout.unwrap_or(Duration::from_secs(30)),
            min_success: args.min_success.unwrap_or(0.9),
            run_id,
            shard,
            start_at,
            start_slack: args.start_slack,
            keep_timestamps: args.keep_timestamps,
            from: args.from,
            to: args.to,
            verbose: args.verbose,
            status_every: args.status_every,
            outputs: args.outputs,
            result: args.result,
        })
    }

    /// The inputs and outputs, each role with its path, for `output::check_paths`.
    pub fn paths(&self) -> super::Paths<PathBuf> {
        let mut inputs = vec![("the trace", self.trace.clone())];
        if let Some(path) = &self.api.auth.ca_cert {
            inputs.push(("--ca-cert", path.clone()));
        }
        let mut outputs = Vec::new();
        if let Some(path) = &self.report {
            outputs.push(("--report", path.clone()));
        }
        for (role, path) in super::run_output_paths(&self.outputs) {
            outputs.push((role, path.to_path_buf()));
        }
        match (&self.resume, &self.checkpoint) {
            // A resume appends to its own checkpoint's log: an input that must stay apart
            // from the other outputs.
            (Some(r), _) => {
                inputs.push(("--resume", r.path.clone()));
                inputs.push((
                    "the checkpoint's completion log",
                    Checkpoint::log_path(&r.path),
                ));
            }
            (None, Some(path)) => {
                outputs.push(("--checkpoint", path.clone()));
                outputs.push((
                    "the checkpoint's completion log",
                    Checkpoint::log_path(path),
                ));
            }
            (None, None) => {}
        }
        (inputs, outputs)
    }

    /// The trace's calendar and what this run selects of it.
    pub fn selection(
        &self,
        header: &TraceHeader,
        trace_name: &str,
    ) -> Result<(Calendar, SelectionSpec), PlanError> {
        let calendar =
            Calendar::new(header.start_instant().map_err(|source| PlanError::Trace {
                trace: trace_name.to_string(),
                source,
            })?);
        let window = match &self.resume {
            Some(r) => TraceWindow {
                from_ms: r.checkpoint.from_ms,
                to_ms: r.checkpoint.to_ms,
            },
            None => TraceWindow::resolve(&calendar, self.from, self.to, header.duration_ms)
                .map_err(|source| PlanError::Window {
                    trace: trace_name.to_string(),
                    source,
                })?,
        };
        let spec = SelectionSpec {
            window,
            shard: self.shard,
            done: self.resume.as_ref().map(|r| r.done.clone()),
        };
        Ok((calendar, spec))
    }

    /// When and how fast the selected events go out, decided at `now` (after the survey).
    pub fn schedule(
        &self,
        header: &TraceHeader,
        calendar: Calendar,
        window: TraceWindow,
        survey: &Survey,
        trace_name: &str,
        now: DateTime<Utc>,
    ) -> Result<Schedule, PlanError> {
        if survey.in_window == 0 {
            return Err(PlanError::Window {
                trace: trace_name.to_string(),
                source: window.no_events(&calendar, survey.span),
            });
        }
        if let Some(r) = &self.resume {
            r.checkpoint.check_trace(
                &r.path,
                &self.trace,
                survey.footer.count,
                survey.footer.crc,
            )?;
        }
        if let (Some(at), None) = (self.start_at, &self.resume) {
            // A resume continues a schedule that began long ago; a new run that begins late
            // would send its first minutes at once.
            let late = now.signed_duration_since(at);
            let slack =
                chrono::Duration::from_std(self.start_slack).unwrap_or(chrono::TimeDelta::MAX);
            if late > slack {
                return Err(PlanError::usage(format!(
                    "--start-at {} is {} in the past, more than --start-slack {}: give a later instant",
                    at.to_rfc3339(),
                    seconds(late.to_std().unwrap_or_default()),
                    seconds(self.start_slack)
                )));
            }
        }
        let shift = match (&self.resume, self.start_at) {
            // The bodies a resumed run sends are the ones the first run sent.
            (Some(r), _) => chrono::Duration::milliseconds(r.checkpoint.shift_ms),
            (None, _) if self.keep_timestamps => chrono::Duration::zero(),
            // Every shard given the same start shifts alike.
            (None, Some(at)) => at - calendar.instant_at(SimTime(window.from_ms)),
            (None, None) => now.fixed_offset() - calendar.instant_at(SimTime(window.from_ms)),
        };
        let concurrency = self
            .concurrency
            .unwrap_or(header.profile.concurrent_workflows as usize)
            .max(1);
        Ok(Schedule {
            calendar,
            window,
            concurrency,
            shift,
            start_at: self.start_at,
            speed: self.speed,
            planned_origin_ms: match self.start_at {
                Some(_) => window.from_ms,
                None => survey.first_to_send.unwrap_or(window.from_ms),
            },
            started_at: now,
        })
    }

    /// What the requests carry: the world's ids in the run's namespace, shifted timestamps.
    pub fn request_context(
        &self,
        world: Arc<crate::world::World>,
        schedule: &Schedule,
    ) -> crate::api::RequestContext {
        crate::api::RequestContext {
            world,
            run_id: Some(self.run_id.clone()),
            calendar: schedule.calendar.clone(),
            shift: schedule.shift,
        }
    }

    /// The propagation probes, if `--probe-reads` asks for any.
    pub fn probes(&self) -> Option<ProbeOptions> {
        (self.probe_reads > 0.0).then_some(ProbeOptions {
            fraction: self.probe_reads,
            interval: Duration::from_millis(50),
            give_up: self.probe_timeout,
        })
    }

    /// The replayer core's options, for a run whose schedule starts at trace time `origin_ms`.
    pub fn options(&self, schedule: &Schedule, origin_ms: u64) -> ReplayOptions {
        ReplayOptions {
            speed: self.speed,
            origin_ms,
            concurrency: schedule.concurrency,
            threads: self.threads,
            drain_timeout: self.api.timeout(),
            window: self.status_every,
            tap: None,
            hold_until_ms: None,
            clock: crate::replay::clock::ClockChoice::Precise,
        }
    }

    /// The settings a further resume continues with.
    pub fn settings(&self, schedule: &Schedule) -> RunSettings {
        RunSettings {
            speed: self.speed.to_string(),
            concurrency: schedule.concurrency,
            retries: self.api.retries(),
            timeout_ms: self.api.timeout().as_millis() as u64,
            probe_reads: self.probe_reads,
            probe_timeout_ms: self.probe_timeout.as_millis() as u64,
            min_success: self.min_success,
        }
    }

    /// The checkpoint this run writes: a resume's own with this segment's settings, or a new
    /// one (`trace_as_saved`: where a later `--resume` finds the trace).
    pub fn checkpoint_to_write(
        &self,
        schedule: &Schedule,
        survey: &Survey,
        trace_as_saved: PathBuf,
    ) -> Checkpoint {
        let settings = Some(self.settings(schedule));
        match &self.resume {
            Some(r) => Checkpoint {
                version: CHECKPOINT_VERSION,
                settings,
                report: self.report.clone(),
                ..r.checkpoint.clone()
            },
            None => Checkpoint {
                version: CHECKPOINT_VERSION,
                trace: trace_as_saved,
                trace_events: survey.footer.count,
                trace_crc: survey.footer.crc,
                run_id: self.run_id.clone(),
                shift_ms: schedule.shift.num_milliseconds(),
                from_ms: schedule.window.from_ms,
                to_ms: schedule.window.to_ms,
                settings,
                report: self.report.clone(),
                shard: self.shard,
                start_at: self.start_at.map(|at| at.to_rfc3339()),
            },
        }
    }

    /// The lines of the console header after the profile's, and the minutes the window
    /// spans from where the schedule starts.
    pub fn console_lines(
        &self,
        schedule: &Schedule,
        survey: &Survey,
        header: &TraceHeader,
        trace_name: &str,
    ) -> (f64, Vec<(&'static str, String)>) {
        let window = schedule.window;
        let window_minutes = (window.to_ms - schedule.planned_origin_ms) as f64 / 60_000.0;
        let wall_minutes = match self.speed {
            Speed::Factor(f) => format!("{:.1}", window_minutes / f),
            Speed::Max => "as fast as possible".into(),
        };
        let mut lines = vec![
            (
                "Trace",
                format!(
                    "{trace_name} ({} events, seed {})",
                    survey.footer.count, header.seed
                ),
            ),
            ("Window", window.describe(&schedule.calendar)),
            (
                "Speed",
                format!("{} (wall-clock minutes: {wall_minutes})", self.speed),
            ),
            ("Concurrency", schedule.concurrency.to_string()),
            ("Run id", self.run_id.clone()),
        ];
        if let Some(shard) = self.shard {
            lines.push((
                "Shard",
                format!(
                    "{shard} ({} of the window's {} events)",
                    survey.in_window - survey.other_shard,
                    survey.in_window
                ),
            ));
        }
        if let Some(at) = self.start_at {
            lines.push(("Start at", at.to_rfc3339()));
        }
        if let Some(r) = &self.resume {
            lines.push((
                "Resuming",
                format!(
                    "{} ({} events done, {} to send)",
                    r.path.display(),
                    r.done.len(),
                    survey.to_send
                ),
            ));
        } else if let Some(path) = &self.checkpoint {
            lines.push(("Checkpoint", path.display().to_string()));
        }
        (window_minutes, lines)
    }

    /// The `config` section of the JSON report.
    pub fn report_config(
        &self,
        schedule: &Schedule,
        header: &TraceHeader,
        segments: Vec<SegmentSummary>,
        earlier_segments_measured: bool,
    ) -> ReportConfig {
        ReportConfig {
            trace: self.trace.clone(),
            checkpoint: self.checkpoint.clone(),
            resumed: self.resume.is_some(),
            api_url: crate::units::redact_url(&self.api.api_url),
            speed: self.speed.to_string(),
            concurrency: schedule.concurrency,
            run_id: self.run_id.clone(),
            shard: self.shard.map(|s| s.to_string()),
            start_at: self.start_at.map(|at| at.to_rfc3339()),
            from_ms: schedule.window.from_ms,
            to_ms: schedule.window.to_ms,
            keep_timestamps: schedule.shift.is_zero(),
            timeout_ms: self.api.timeout().as_millis() as u64,
            retries: self.api.retries(),
            min_success: self.min_success,
            probe_reads: self.probe_reads,
            seed: header.seed,
            profile: header.profile.name.clone(),
            segments,
            earlier_segments_measured,
        }
    }
}

/// `12.3s`, for messages.
fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// When and how the selected events go out.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub calendar: Calendar,
    pub window: TraceWindow,
    pub concurrency: usize,
    /// Added to every timestamp in the bodies.
    pub shift: chrono::Duration,
    pub start_at: Option<DateTime<FixedOffset>>,
    pub speed: Speed,
    /// The trace time the schedule starts at when the run starts on time: the window's start
    /// with `--start-at`, else the first event to send.
    pub planned_origin_ms: u64,
    /// When the plan was made (the report's start).
    pub started_at: DateTime<Utc>,
}

impl Schedule {
    /// How long to wait at `now` before the run starts (a `--start-at` still to come).
    pub fn wait_at(&self, now: DateTime<Utc>) -> Option<Duration> {
        let at = self.start_at?;
        at.signed_duration_since(now)
            .to_std()
            .ok()
            .filter(|d| !d.is_zero())
    }

    /// Where the result's time series start: at `--start-at`, which the shards of one run
    /// share (so their series line up), else when the plan was made.
    pub fn series_start(&self) -> DateTime<Utc> {
        self.start_at.map_or(self.started_at, |at| at.to_utc())
    }

    /// The trace time that maps to `now`, when the run starts: with `--start-at` in the past,
    /// as far into the window as the time since (the events already due go out at once).
    pub fn origin_at(&self, now: DateTime<Utc>) -> u64 {
        let Some(at) = self.start_at else {
            return self.planned_origin_ms;
        };
        let late_ms = now.signed_duration_since(at).num_milliseconds().max(0) as f64;
        match self.speed {
            Speed::Factor(factor) => {
                self.planned_origin_ms + (late_ms * factor).min(u64::MAX as f64 / 2.0) as u64
            }
            Speed::Max => self.planned_origin_ms,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ReportConfig {
    trace: PathBuf,
    checkpoint: Option<PathBuf>,
    resumed: bool,
    api_url: String,
    speed: String,
    concurrency: usize,
    run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_at: Option<String>,
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
    /// False when the checkpoint comes from a loadgen without the measurement log
    /// (`CHECKPOINT.measures`): the earlier segments' successes are counted (from the
    /// completion log), their latencies and requests are not. A killed segment's are measured.
    earlier_segments_measured: bool,
}

/// A replay ready to start: the plan, what the survey found, and the trace's second reading.
pub struct Prepared {
    pub plan: ReplayPlan,
    pub header: TraceHeader,
    pub schedule: Schedule,
    pub selection: SelectionSpec,
    pub survey: Survey,
    pub trace_name: String,
    pub second_pass: SecondPass,
    /// The checkpoint as this run writes it, and where, if it keeps one.
    pub checkpoint: Option<(PathBuf, Checkpoint)>,
    /// A resume's lock, taken before its checkpoint is read and held until the run ends.
    pub lock: Option<CheckpointLock>,
}

impl Prepared {
    /// The console's header: the profile's lines, then the trace, window, speed and the
    /// rest of `ReplayPlan::console_lines`.
    pub fn console_header(&self) -> String {
        let (schedule, survey, header) = (&self.schedule, &self.survey, &self.header);
        let plan = &self.plan;
        let (minutes, lines) = plan.console_lines(schedule, survey, header, &self.trace_name);
        let api_url = crate::units::redact_url(&plan.api.api_url);
        crate::report::header_block(&header.profile, Some(minutes), &api_url, &lines)
    }

    /// The `run` section of the result: the trace as read, the run's identity and `tags`.
    pub fn run_meta(&self, tags: BTreeMap<String, String>) -> RunMeta {
        let (plan, header, footer) = (&self.plan, &self.header, &self.survey.footer);
        RunMeta {
            trace: TraceIdentity {
                source: self.trace_name.clone(),
                events: Some(footer.count),
                crc32: Some(footer.crc),
                start: header.start.clone(),
            },
            seed: header.seed,
            profile: header.profile.name.clone(),
            run_id: plan.run_id.clone(),
            speed: plan.speed.to_string(),
            tags,
            git_revision: plan.result.git_revision.clone(),
            shard: plan.shard,
            shards_merged: None,
        }
    }
}

fn as_refs<'a>(list: &'a [(&'static str, PathBuf)]) -> Vec<(&'static str, &'a Path)> {
    list.iter().map(|(role, p)| (*role, p.as_path())).collect()
}

/// Reads what the plan needs (the checkpoint and its log, the whole trace) and settles it;
/// nothing is sent or written.
pub fn prepare(args: ReplayArgs, env: &Env) -> Result<Prepared, PlanError> {
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
    let lock = match &args.resume {
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
                done: Arc::new(done),
            })
        }
        None => None,
    };
    let given_trace = args.trace.is_some();
    let plan = ReplayPlan::new(args, resume, env)?;
    if let (false, Some(r)) = (given_trace, &plan.resume) {
        // Standard input or a pipe cannot be opened again by path: the user has to give the
        // same bytes again (the checkpoint checks they are the same trace).
        let trace = &plan.trace;
        let regular = std::fs::metadata(trace).is_ok_and(|m| m.is_file());
        if !regular || crate::output::is_std_stream(trace) {
            return Err(PlanError::usage(format!(
                "the checkpoint {} was made for a trace read from {}, which cannot be read \
                 again by name: give the trace again, e.g. `loadgen simulate … -o - | loadgen \
                 replay - --resume {}`",
                r.path.display(),
                trace.display(),
                r.path.display()
            )));
        }
    }
    let (inputs, outputs) = plan.paths();
    crate::output::check_paths(&as_refs(&inputs), &as_refs(&outputs))?;
    let trace_error = |trace: &str| {
        let trace = trace.to_string();
        move |source: TraceError| PlanError::Trace { trace, source }
    };
    let input =
        TraceInput::open(&plan.trace).map_err(trace_error(&plan.trace.display().to_string()))?;
    let trace_name = input.name();
    let regular_trace = input.is_regular_file();
    let (mut first_pass, second_pass) = input.read_twice().map_err(trace_error(&trace_name))?;
    let header = first_pass.header().clone();
    let (calendar, selection) = plan.selection(&header, &trace_name)?;
    let survey = Survey::of(&selection, &mut first_pass).map_err(trace_error(&trace_name))?;
    let schedule = plan.schedule(
        &header,
        calendar,
        selection.window,
        &survey,
        &trace_name,
        Utc::now().max(env.now),
    )?;
    // A later --resume opens a regular file by this name; anything else (`-`, a pipe) is
    // kept as given, and the resume asks for the trace again.
    let trace_as_saved = if regular_trace {
        std::path::absolute(&plan.trace).unwrap_or_else(|_| plan.trace.clone())
    } else {
        plan.trace.clone()
    };
    let checkpoint = plan.checkpoint.clone().map(|path| {
        (
            path,
            plan.checkpoint_to_write(&schedule, &survey, trace_as_saved),
        )
    });
    Ok(Prepared {
        plan,
        header,
        schedule,
        selection,
        survey,
        trace_name,
        second_pass,
        checkpoint,
        lock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(list: &[&str]) -> ReplayArgs {
        let mut argv = vec!["loadgen", "replay"];
        argv.extend_from_slice(list);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Replay(args) => args,
            other => panic!("{other:?}"),
        }
    }

    fn env() -> Env {
        Env {
            now: "2026-12-01T10:00:00Z".parse().unwrap(),
            job_completion_index: None,
            cores: 2,
        }
    }

    fn plan(list: &[&str]) -> Result<ReplayPlan, PlanError> {
        ReplayPlan::new(args(list), None, &env())
    }

    #[test]
    fn defaults_and_flags() {
        let p = plan(&["t.trace"]).unwrap();
        assert_eq!(p.trace, PathBuf::from("t.trace"));
        assert_eq!(p.speed, Speed::Factor(1.0));
        assert_eq!(p.concurrency, None);
        assert_eq!((p.probe_reads, p.min_success), (0.0, 0.9));
        assert_eq!(p.probe_timeout, Duration::from_secs(30));
        assert_eq!(p.api.retries(), 3);
        assert_eq!(p.api.timeout(), Duration::from_secs(30));
        assert_eq!(p.run_id, super::super::default_run_id(env().now));
        assert_eq!(
            (p.checkpoint, p.report, p.shard, p.start_at),
            (None, None, None, None)
        );

        let p = plan(&[
            "t.trace",
            "--speed",
            "10x",
            "--concurrency",
            "7",
            "--report",
            "r.json",
            "--run-id",
            "abc",
            "--retries",
            "1",
        ])
        .unwrap();
        assert_eq!(p.speed, Speed::Factor(10.0));
        assert_eq!(p.concurrency, Some(7));
        assert_eq!(p.run_id, "abc");
        assert_eq!(p.api.retries(), 1);
        assert_eq!(p.checkpoint, Some(PathBuf::from("r.json.checkpoint")));
        let p = plan(&["t.trace", "--report", "r.json", "--checkpoint", "c"]).unwrap();
        assert_eq!(p.checkpoint, Some(PathBuf::from("c")));
    }

    #[test]
    fn shards_need_a_run_id_and_come_from_the_flag_or_the_job_index() {
        let p = plan(&["t.trace", "--shard", "1/4", "--run-id", "big"]).unwrap();
        assert_eq!(p.shard, Some(Shard { index: 1, count: 4 }));
        let err = plan(&["t.trace", "--shard", "1/4"]).err().unwrap();
        assert!(matches!(err, PlanError::Usage(_)), "{err}");
        assert!(err.to_string().contains("need --run-id"), "{err}");
        let in_a_job = Env {
            job_completion_index: Some("3".into()),
            ..env()
        };
        let p = ReplayPlan::new(
            args(&["t.trace", "--shard-count", "4", "--run-id", "big"]),
            None,
            &in_a_job,
        )
        .unwrap();
        assert_eq!(p.shard, Some(Shard { index: 3, count: 4 }));
        let err = plan(&["t.trace", "--shard-count", "4", "--run-id", "big"])
            .err()
            .unwrap();
        assert!(err.to_string().contains("JOB_COMPLETION_INDEX"), "{err}");
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for (list, says) in [
            (&["t.trace", "--run-id", "a b"][..], "--run-id `a b`"),
            (&["t.trace", "--start-at", "noon"][..], "--start-at `noon`"),
        ] {
            let err = plan(list).err().unwrap();
            assert!(matches!(err, PlanError::Usage(_)), "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
        let refused = crate::cli::Cli::try_parse_from(["loadgen", "replay", "t", "--shard", "4/4"]);
        assert!(refused.is_err(), "clap refuses a shard that cannot be");
    }

    fn resume(shard: Option<Shard>, start_at: Option<&str>) -> Resume {
        Resume {
            path: "c".into(),
            checkpoint: Checkpoint {
                version: CHECKPOINT_VERSION,
                trace: "/data/day.trace".into(),
                trace_events: 10,
                trace_crc: 1,
                run_id: "first".into(),
                shift_ms: 1_234,
                from_ms: 100,
                to_ms: 900,
                settings: Some(RunSettings {
                    speed: "5x".into(),
                    concurrency: 3,
                    retries: 9,
                    timeout_ms: 2_000,
                    probe_reads: 0.5,
                    probe_timeout_ms: 1_000,
                    min_success: 0.25,
                }),
                report: Some("first.json".into()),
                shard,
                start_at: start_at.map(String::from),
            },
            done: Arc::new(CompletedSet::new(10)),
        }
    }

    #[test]
    fn a_resume_continues_the_first_run_unless_flags_override() {
        let two = Shard { index: 2, count: 4 };
        let p = ReplayPlan::new(
            args(&["--resume", "c", "--speed", "max"]),
            Some(resume(Some(two), Some("2026-12-01T09:00:00Z"))),
            &env(),
        )
        .unwrap();
        assert_eq!(p.trace, PathBuf::from("/data/day.trace"));
        assert_eq!(p.speed, Speed::Max, "the flag wins");
        assert_eq!(p.concurrency, Some(3));
        assert_eq!(
            (p.api.retries(), p.api.timeout()),
            (9, Duration::from_secs(2))
        );
        assert_eq!((p.probe_reads, p.min_success), (0.5, 0.25));
        assert_eq!(p.run_id, "first");
        assert_eq!(p.report, Some(PathBuf::from("first.json")));
        assert_eq!(p.checkpoint, Some(PathBuf::from("c")));
        assert_eq!(p.shard, Some(two));
        assert_eq!(p.start_at, Some("2026-12-01T09:00:00Z".parse().unwrap()));

        let same = ReplayPlan::new(
            args(&["--resume", "c", "--shard", "2/4"]),
            Some(resume(Some(two), None)),
            &env(),
        );
        assert_eq!(same.unwrap().shard, Some(two));
        for (given, made_for) in [("1/4", Some(two)), ("2/4", None)] {
            let err = ReplayPlan::new(
                args(&["--resume", "c", "--shard", given]),
                Some(resume(made_for, None)),
                &env(),
            )
            .err()
            .unwrap();
            assert!(
                matches!(
                    err,
                    PlanError::Checkpoint(CheckpointError::OtherShard { .. })
                ),
                "{err}"
            );
        }
    }

    fn header() -> TraceHeader {
        TraceHeader {
            generator: "test".into(),
            seed: 5,
            profile: crate::profile::LoadProfile::named("demo").unwrap(),
            world: crate::world::builtin_world(),
            start: "2026-01-05T09:00:00Z".into(),
            duration_ms: 3_600_000,
        }
    }

    fn survey(first_to_send: Option<u64>) -> Survey {
        Survey {
            footer: crate::trace::format::Footer {
                count: 10,
                crc: 1,
                duration_ms: 3_600_000,
            },
            span: Some((0, 3_000_000)),
            in_window: 8,
            other_shard: 6,
            to_send: 2,
            first_to_send,
            done_by_activity: [0; 6],
            roots_peak: 0,
        }
    }

    fn schedule(p: &ReplayPlan, now: &str) -> Result<Schedule, PlanError> {
        let (calendar, spec) = p.selection(&header(), "t.trace")?;
        p.schedule(
            &header(),
            calendar,
            spec.window,
            &survey(Some(600_000)),
            "t.trace",
            now.parse().unwrap(),
        )
    }

    #[test]
    fn without_start_at_the_schedule_starts_with_the_first_event_to_send() {
        let p = plan(&["t.trace", "--from", "09:05"]).unwrap();
        let s = schedule(&p, "2026-12-01T10:00:00Z").unwrap();
        assert_eq!(s.window.from_ms, 300_000);
        assert_eq!(
            s.concurrency,
            header().profile.concurrent_workflows as usize
        );
        assert_eq!(s.planned_origin_ms, 600_000);
        assert_eq!(
            s.origin_at("2026-12-01T11:00:00Z".parse().unwrap()),
            600_000
        );
        assert_eq!(s.wait_at("2026-12-01T10:00:00Z".parse().unwrap()), None);
        // The window's start (09:05 on the trace) is shifted to now.
        let shifted = "2026-01-05T09:05:00Z".parse::<DateTime<Utc>>().unwrap() + s.shift;
        assert_eq!(
            shifted,
            "2026-12-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let kept = plan(&["t.trace", "--keep-timestamps"]).unwrap();
        assert!(schedule(&kept, "2026-12-01T10:00:00Z")
            .unwrap()
            .shift
            .is_zero());
    }

    #[test]
    fn start_at_fixes_the_schedule_and_the_shift_for_every_shard() {
        let at = "2026-12-01T10:00:30Z";
        let shards: Vec<Schedule> = ["0/2", "1/2"]
            .iter()
            .map(|shard| {
                let p = plan(&[
                    "t.trace",
                    "--shard",
                    shard,
                    "--run-id",
                    "r",
                    "--start-at",
                    at,
                    "--speed",
                    "2x",
                ])
                .unwrap();
                schedule(&p, "2026-12-01T10:00:00Z").unwrap()
            })
            .collect();
        for s in &shards {
            assert_eq!(
                s.planned_origin_ms, 0,
                "the window's start, not the first event"
            );
            assert_eq!(s.shift, shards[0].shift);
            let start = "2026-01-05T09:00:00Z".parse::<DateTime<Utc>>().unwrap() + s.shift;
            assert_eq!(start, at.parse::<DateTime<Utc>>().unwrap());
            assert_eq!(
                s.wait_at("2026-12-01T10:00:00Z".parse().unwrap()),
                Some(Duration::from_secs(30))
            );
            // Started 1.5 s late at 2x: 3 s of trace are already due.
            assert_eq!(
                s.origin_at("2026-12-01T10:00:31.500Z".parse().unwrap()),
                3_000
            );
            assert_eq!(s.wait_at("2026-12-01T10:00:31Z".parse().unwrap()), None);
        }
    }

    #[test]
    fn a_start_more_than_the_slack_in_the_past_is_refused_but_a_resume_continues() {
        let p = plan(&["t.trace", "--start-at", "2026-12-01T09:59:55Z"]).unwrap();
        schedule(&p, "2026-12-01T10:00:00Z").unwrap();
        let err = schedule(&p, "2026-12-01T10:00:11Z").unwrap_err();
        assert!(matches!(err, PlanError::Usage(_)), "{err}");
        assert!(err.to_string().contains("--start-slack"), "{err}");
        let p = plan(&[
            "t.trace",
            "--start-at",
            "2026-12-01T09:59:00Z",
            "--start-slack",
            "2m",
        ])
        .unwrap();
        schedule(&p, "2026-12-01T10:00:00Z").unwrap();

        let p = ReplayPlan::new(
            args(&["t.trace", "--resume", "c"]),
            Some(resume(None, Some("2026-12-01T08:00:00Z"))),
            &env(),
        )
        .unwrap();
        let (calendar, spec) = p.selection(&header(), "t.trace").unwrap();
        assert_eq!((spec.window.from_ms, spec.window.to_ms), (100, 900));
        let s = p
            .schedule(
                &header(),
                calendar,
                spec.window,
                &Survey {
                    footer: crate::trace::format::Footer {
                        count: 10,
                        crc: 1,
                        duration_ms: 0,
                    },
                    ..survey(None)
                },
                "t.trace",
                "2026-12-01T10:00:00Z".parse().unwrap(),
            )
            .unwrap();
        assert_eq!(
            s.shift,
            chrono::Duration::milliseconds(1_234),
            "the first run's"
        );
        // Two hours after the start at 5x: ten hours of trace are due, past the window.
        assert_eq!(
            s.origin_at("2026-12-01T10:00:00Z".parse().unwrap()),
            100 + 36_000_000
        );
    }
}
