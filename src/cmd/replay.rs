//! `loadgen replay`: the plan (`plan::replay`), then the selected events paced against the
//! API by the replayer core, with the spec's console output and the JSON report.

use std::sync::Arc;

use super::session::{self, Plan};
use crate::api::probe::ProbeOptions;
use crate::api::RequestContext;
use crate::cli::ReplayArgs;
use crate::metrics::{EventRecord, EventResult};
use crate::plan::{replay::Prepared, Env};
use crate::replay::checkpoint;
use crate::replay::segments::Segments;
use crate::replay::{ReplayOptions, Sequenced};
use crate::report::RunResult;

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let Prepared {
        plan,
        header,
        schedule,
        selection,
        survey,
        trace_name,
        second_pass,
        checkpoint,
        mut lock,
    } = crate::plan::replay::prepare(args, &Env::capture())?;
    let earlier = match &plan.resume {
        Some(r) => Segments::load(&Segments::path(&r.path))?,
        None => None,
    };
    // Written before the first request: from here on a killed run can be resumed.
    let mut completion_log = match (&checkpoint, &plan.resume) {
        (Some((path, saved)), Some(_)) => Some(saved.create(path)?),
        (Some((path, saved)), None) => {
            let (held, log) = checkpoint::start_new(path, saved, &[Segments::path(path)])?;
            lock = Some(held);
            Some(log)
        }
        (None, _) => None,
    };
    let world = Arc::new(header.world.clone());
    let context = RequestContext {
        world: world.clone(),
        run_id: Some(plan.run_id.clone()),
        calendar: schedule.calendar.clone(),
        shift: schedule.shift,
    };
    let executor = super::executor(&plan.api, context, schedule.concurrency, plan.verbose)?;
    let (executor, probes) = match plan.probe_reads > 0.0 {
        true => {
            let probes = ProbeOptions {
                fraction: plan.probe_reads,
                interval: std::time::Duration::from_millis(50),
                give_up: plan.probe_timeout,
            };
            let (executor, stats) = executor.with_probes(probes);
            (executor, Some(stats))
        }
        false => (executor, None),
    };
    let (window_minutes, lines) = plan.console_lines(&schedule, &survey, &header, &trace_name);
    let api_url = crate::units::redact_url(&plan.api.api_url);
    crate::out!(
        "{}",
        crate::report::header_block(&header.profile, Some(window_minutes), &api_url, &lines)
    );

    let to_send = survey.to_send;
    let feed = move |events: tokio::sync::mpsc::Sender<Sequenced>| -> anyhow::Result<u64> {
        let mut listening = true;
        let offered = selection
            .start()
            .feed(&mut second_pass.reader()?, |seq, _root, event| {
                listening = listening && events.blocking_send(Sequenced { seq, event }).is_ok();
            })?;
        anyhow::ensure!(
            offered == to_send,
            "the trace changed while it was replayed"
        );
        Ok(offered)
    };
    let mut log_failed = false;
    let on_completed = move |record: &EventRecord| {
        if let (EventResult::Success, Some(log)) = (&record.result, completion_log.as_mut()) {
            if let (Err(err), false) = (log.append(record.seq), log_failed) {
                eprintln!("warning: checkpoint log: {err}; a resume may resend events");
                log_failed = true;
            }
        }
    };
    let (segment, visibility) = super::runtime()?.block_on(async {
        // Reachability first: an API that is not there is exit 1, not a storm of failures.
        crate::outln!("\n{} Checking API health...", super::stamp());
        session::health_gate(&plan.api).await?;
        if let Some(at) = schedule.wait_at(chrono::Utc::now()).and(schedule.start_at) {
            session::wait_for_start(at).await?;
        }
        crate::outln!("{} Replaying...", super::stamp());
        let origin_ms = schedule.origin_at(chrono::Utc::now());
        let options = ReplayOptions {
            speed: plan.speed,
            origin_ms,
            concurrency: schedule.concurrency,
            drain_timeout: plan.api.timeout(),
            window: plan.status_every,
            tap: None,
            hold_until_ms: None,
            clock: crate::replay::clock::ClockChoice::Precise,
        };
        let run = Plan {
            executor,
            options,
            calendar: schedule.calendar.clone(),
            span_ms: Some((origin_ms, schedule.window.to_ms)),
            live: false,
        };
        let outcome = session::drive(run, feed, on_completed).await?;
        let visibility = match &probes {
            Some(stats) => Some(session::probe_visibility(stats, plan.probe_timeout).await),
            None => None,
        };
        Ok::<_, anyhow::Error>((outcome, visibility))
    })?;
    let checkpoint_path = plan.checkpoint.as_deref().filter(|_| checkpoint.is_some());
    let whole = super::whole_run::combine(
        segment,
        earlier,
        &survey,
        plan.resume.is_some(),
        schedule.started_at,
        checkpoint_path,
    );
    let config = plan.report_config(
        &schedule,
        &header,
        whole.segments.segments.clone(),
        whole.earlier_measured,
    );
    let subject_of = session::subject_renderer(world, plan.run_id.clone());
    let run = RunResult {
        outcome: &whole.outcome,
        visibility,
        subject_of: &subject_of,
    };
    let code = session::finish(
        &run,
        plan.report.clone().map(|path| (path, config)),
        schedule.started_at,
        plan.min_success,
    );
    drop(lock);
    code
}
