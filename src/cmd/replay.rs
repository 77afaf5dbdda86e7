//! `loadgen replay`: the plan (`plan::replay`), then the selected events paced against the
//! API by the replayer core, with the spec's console output and the JSON report.

use std::sync::Arc;

use super::session::{self, Plan};
use crate::cli::ReplayArgs;
use crate::plan::Env;
use crate::result::{RunContext, RunResult};
use crate::session::outputs::{OutputsError, RunOutputs};
use crate::session::{feed, segment, signals, verdict};

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let thresholds = session::run_thresholds(&args.result)?;
    let tags = session::tags(&args.result)?;
    let mut p = crate::plan::replay::prepare(args, &Env::capture())?;
    // Before any file is written (the checkpoint): a port in use leaves nothing behind.
    let mut run_outputs = RunOutputs::open(&p.plan.outputs).map_err(OutputsError::classed)?;
    let begun = segment::begin(&mut p)?;
    let meta = p.run_meta(tags);
    let (plan, schedule, survey, header) = (&p.plan, &p.schedule, &p.survey, &p.header);
    let world = Arc::new(header.world.clone());
    let context = plan.request_context(world.clone(), schedule);
    let (executor, probes) = crate::plan::client::executor_with_probes(
        &plan.api,
        context,
        schedule.concurrency,
        plan.verbose,
        plan.probes(),
    )?;
    crate::out!("{}", p.console_header());
    let feed = feed::trace(
        p.selection.start_after(survey),
        p.second_pass,
        survey.to_send,
    );
    let (segment, visibility) = super::runtime_for(plan.threads)?.block_on(async {
        session::gate_then_wait(&plan.api, schedule.start_at).await?;
        crate::outln!("{} Replaying...", super::stamp());
        let origin_ms = schedule.origin_at(chrono::Utc::now());
        let run = Plan {
            executor,
            options: plan.options(schedule, origin_ms),
            calendar: schedule.calendar.clone(),
            span_ms: Some((origin_ms, schedule.window.to_ms)),
            live: false,
            abort: session::abort_watch(&plan.result, &thresholds, Some(survey.footer.count))?,
        };
        let subjects = session::subject_renderer(world.clone(), plan.run_id.clone());
        let pacer = crate::replay::pacer::Pacer::new(plan.speed, origin_ms);
        let on_completed = crate::session::each_completion(
            run_outputs.recorder(pacer, subjects),
            segment::completion_recorder(begun.logs),
        );
        let outcome = session::drive(run, feed, on_completed, run_outputs.progress()).await?;
        run_outputs.run_ended();
        let visibility = verdict::visibility(probes.as_deref(), plan.probe_timeout).await;
        Ok::<_, anyhow::Error>((outcome, visibility))
    })?;
    let kept = p.checkpoint.as_ref().map(|(path, _)| path.as_path());
    let unfinished = segment::unfinished(&segment);
    let whole = segment::combine(segment, begun.earlier, survey, schedule.started_at, kept);
    let segments = whole.segments.segments.clone();
    let config = plan.report_config(schedule, header, segments, whole.earlier_measured);
    let subject_of = &session::subject_renderer(world, plan.run_id.clone());
    let (config, started_at) = (serde_json::to_value(&config)?, schedule.series_start());
    let context = RunContext {
        meta,
        config,
        started_at,
        visibility,
        subject_of,
    };
    let result = RunResult::build(&whole.outcome, context);
    let (report, min_success) = (plan.report.as_deref(), plan.min_success);
    let verdict = verdict::conclude(result, report, min_success, &thresholds)
        .map(|v| v.unless_stopped(signals::stopped_by(), unfinished, kept));
    let closed = run_outputs.close();
    drop(begun.lock);
    verdict?.into_result()?;
    Ok(closed?)
}
