//! `loadgen start`: the Python tool's live mode, built from the same parts as simulate and
//! replay: the simulator runs with virtual time 0 at the moment the run starts, and its events
//! go to the replayer at 1x as they become due (`session::feed::simulation`). Memory is bounded
//! by open orders and the replay queue, not by how long it runs. The plan is `plan::start`.

use std::sync::Arc;

use super::session::{self, Plan};
use crate::cli::StartArgs;
use crate::plan::{start::StartPlan, Env};
use crate::result::{RunContext, RunResult};
use crate::session::outputs::{OutputsError, RunOutputs};
use crate::session::recording::Recorder;
use crate::units::Speed;

pub fn run(args: StartArgs) -> anyhow::Result<()> {
    let thresholds = session::run_thresholds(&args.result)?;
    let tags = session::tags(&args.result)?;
    let (inputs, outputs) = crate::plan::start::paths(&args);
    crate::output::check_paths(&inputs, &outputs)?;
    let profile = super::load_profile(&args.profile)?;
    let plan = StartPlan::new(args, profile, &Env::capture())?;
    if plan.dry_run {
        crate::out!("{}", plan.dry_run_text()?);
        return Ok(());
    }
    crate::out!("{}", plan.console_header());
    let mut run_outputs = RunOutputs::open(&plan.outputs).map_err(OutputsError::classed)?;
    let started_at = chrono::Utc::now();
    let (outcome, world) = super::runtime_for(plan.threads)?.block_on(async {
        crate::outln!("\n{} Initializing load orchestrator...", super::stamp());
        session::health_gate(&plan.api).await?;
        let world = Arc::new(super::world::snapshot_for_run(&plan.api).await?);
        let header = || plan.trace_header((*world).clone());
        let (tap, recorder) = Recorder::spawn_if(plan.record.as_deref(), header);
        let context = plan.request_context(world.clone());
        let executor =
            crate::plan::client::executor(&plan.api, context, plan.concurrency, plan.verbose)?;
        crate::outln!(
            "{} Load orchestrator initialized successfully",
            super::stamp()
        );
        crate::outln!("{} {}\n", super::stamp(), plan.running_line());
        let run = Plan {
            executor,
            options: plan.options(tap),
            calendar: plan.calendar.clone(),
            span_ms: plan.duration_ms.map(|d| (0, d)),
            live: true,
            abort: session::abort_watch(&plan.result, &thresholds, plan.event_bound(&world)?)?,
        };
        let feed = crate::session::feed::simulation(world.clone(), plan.sim_config());
        let subjects = session::subject_renderer(world.clone(), plan.run_id.clone());
        let pacer = crate::replay::pacer::Pacer::new(Speed::Factor(1.0), 0);
        let on_completed = run_outputs.recorder(pacer, subjects);
        let outcome = session::drive(run, feed, on_completed, run_outputs.progress()).await?;
        run_outputs.run_ended();
        if let Some(recorder) = recorder {
            recorder.close(plan.duration_ms, &outcome).await?;
        }
        Ok::<_, anyhow::Error>((outcome, world))
    })?;
    let subject_of = &session::subject_renderer(world, plan.run_id.clone());
    let meta = plan.run_meta(tags);
    let config = serde_json::to_value(plan.report_config())?;
    let context = RunContext {
        meta,
        config,
        started_at,
        visibility: None,
        subject_of,
    };
    let result = RunResult::build(&outcome, context);
    let (report, min_success) = (plan.report.as_deref(), plan.min_success);
    let code = session::finish(result, report, min_success, &thresholds);
    let closed = run_outputs.close();
    code?;
    Ok(closed?)
}
