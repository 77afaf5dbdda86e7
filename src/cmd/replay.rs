//! `loadgen replay`: the plan (`plan::replay`), then the selected events paced against the
//! API by the replayer core, with the spec's console output and the JSON report.

use std::sync::Arc;

use super::session::{self, Plan};
use crate::cli::ReplayArgs;
use crate::plan::Env;
use crate::replay::Sequenced;
use crate::result::{RunContext, RunMeta, RunResult, TraceIdentity};

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let thresholds = session::threshold_plan(&args.result.thresholds)?;
    let tags = session::tags(&args.result)?;
    let mut p = crate::plan::replay::prepare(args, &Env::capture())?;
    // Before any file is written (the checkpoint): a port in use leaves nothing behind.
    let mut run_outputs = super::observe::RunOutputs::open(&p.plan.outputs)?;
    let begun = super::segment::begin(&mut p)?;
    let (plan, schedule, survey, header) = (&p.plan, &p.schedule, &p.survey, &p.header);
    let world = Arc::new(header.world.clone());
    let context = plan.request_context(world.clone(), schedule);
    let (executor, probes) = super::executor_with_probes(
        &plan.api,
        context,
        schedule.concurrency,
        plan.verbose,
        plan.probes(),
    )?;
    let (minutes, lines) = plan.console_lines(schedule, survey, header, &p.trace_name);
    let api_url = crate::units::redact_url(&plan.api.api_url);
    crate::out!(
        "{}",
        crate::report::header_block(&header.profile, Some(minutes), &api_url, &lines)
    );

    let to_send = survey.to_send;
    let feed_selection = p.selection.start_after(survey);
    let feed = move |events: tokio::sync::mpsc::Sender<Sequenced>| -> anyhow::Result<u64> {
        let mut listening = true;
        let (mut selection, second_pass) = (feed_selection, p.second_pass);
        let offered = selection.feed(&mut second_pass.reader()?, |seq, root, event| {
            // Once the replay stops listening the rest is counted, not sent.
            listening = listening && events.blocking_send(Sequenced { seq, root, event }).is_ok();
        })?;
        anyhow::ensure!(
            offered == to_send,
            "the trace changed while it was replayed"
        );
        Ok(offered)
    };
    let (segment, visibility) = super::runtime_for(plan.threads)?.block_on(async {
        session::gate_then_wait(&plan.api, schedule.start_at).await?;
        crate::outln!("{} Replaying...", super::stamp());
        let origin_ms = schedule.origin_at(chrono::Utc::now());
        let span_ms = Some((origin_ms, schedule.window.to_ms));
        let options = plan.options(schedule, origin_ms);
        let run = Plan {
            executor,
            options,
            calendar: schedule.calendar.clone(),
            span_ms,
            live: false,
            abort: session::abort_watch(&plan.result, &thresholds, Some(survey.footer.count))?,
        };
        let subjects = session::subject_renderer(world.clone(), plan.run_id.clone());
        let pacer = crate::replay::pacer::Pacer::new(plan.speed, origin_ms);
        let mut record_outputs = run_outputs.recorder(pacer, subjects);
        let mut log_completion = super::segment::completion_recorder(begun.logs);
        let on_completed = move |record: &crate::metrics::EventRecord| {
            record_outputs(record);
            log_completion(record);
        };
        let outcome = session::drive(run, feed, on_completed, run_outputs.progress()).await?;
        run_outputs.run_ended();
        let visibility = match &probes {
            Some(stats) => Some(session::probe_visibility(stats, plan.probe_timeout).await),
            None => None,
        };
        Ok::<_, anyhow::Error>((outcome, visibility))
    })?;
    let kept = p.checkpoint.as_ref().map(|(path, _)| path.as_path());
    let unfinished = super::segment::unfinished(&segment);
    let whole = super::segment::combine(segment, begun.earlier, survey, schedule.started_at, kept);
    let segments = whole.segments.segments.clone();
    let config = plan.report_config(schedule, header, segments, whole.earlier_measured);
    let subject_of = session::subject_renderer(world, plan.run_id.clone());
    let meta = RunMeta {
        trace: TraceIdentity {
            source: p.trace_name.clone(),
            events: Some(survey.footer.count),
            crc32: Some(survey.footer.crc),
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
    };
    let result = RunResult::build(
        &whole.outcome,
        RunContext {
            meta,
            config: serde_json::to_value(&config)?,
            // Shards of one run share --start-at: their time series line up on it.
            started_at: schedule
                .start_at
                .map_or(schedule.started_at, |at| at.to_utc()),
            visibility,
            subject_of: &subject_of,
        },
    );
    let code = session::finish(
        result,
        plan.report.as_deref(),
        plan.min_success,
        &thresholds,
    );
    let code = match (session::stopped_by(), unfinished) {
        (Some(signal), 1..) => stopped_unfinished(code, signal, unfinished, kept),
        _ => code,
    };
    let closed = run_outputs.close();
    drop(begun.lock);
    code.and(closed)
}

/// The exit of a replay a signal stopped before it sent all its events: 130 or 143, so a
/// supervisor runs it again (a Kubernetes Indexed Job would take exit 0 for a finished index),
/// over the verdicts on the part it ran (thresholds, `--min-success`); a report that could not
/// be written stays the error it is.
fn stopped_unfinished(
    code: anyhow::Result<()>,
    signal: crate::error::StopSignal,
    unfinished: u64,
    checkpoint: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use crate::error::{CommandError, ErrorClass};
    if let Err(err) = &code {
        if !matches!(
            CommandError::class_of(err),
            ErrorClass::ThresholdBreached | ErrorClass::RunFailed
        ) {
            return code;
        }
    }
    let resume = checkpoint.map_or_else(String::new, |path| {
        format!(": resume with `loadgen replay --resume {}`", path.display())
    });
    Err(CommandError::Unfinished {
        signal,
        unfinished,
        resume,
    }
    .into())
}
