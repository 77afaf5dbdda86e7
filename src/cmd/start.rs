//! `loadgen start`: the Python tool's live mode, built from the same parts as simulate and
//! replay: the simulator runs with virtual time 0 at the moment the run starts, and its events
//! go to the replayer at 1x as they become due. Memory is bounded by open orders and the
//! replay queue, not by how long it runs. The plan is `plan::start`.

use std::sync::Arc;

use super::recording::Recorder;
use super::session::{self, Plan};
use crate::cli::StartArgs;
use crate::plan::{start::StartPlan, Env};
use crate::replay::Sequenced;
use crate::report;
use crate::result::{RunContext, RunMeta, RunResult, TraceIdentity};
use crate::sim::Simulation;

pub fn run(args: StartArgs) -> anyhow::Result<()> {
    let thresholds = session::threshold_plan(&args.result.thresholds)?;
    let tags = session::tags(&args.result)?;
    let (inputs, outputs) = crate::plan::start::paths(&args);
    crate::output::check_paths(&inputs, &outputs)?;
    let profile = super::load_profile(&args.profile)?;
    let plan = StartPlan::new(args, profile, &Env::capture())?;
    if plan.dry_run {
        crate::out!("{}", plan.dry_run_text()?);
        return Ok(());
    }
    let api_url = crate::units::redact_url(&plan.api.api_url);
    let lines = plan.header_lines();
    crate::out!(
        "{}",
        report::header_block(&plan.profile, plan.minutes(), &api_url, &lines)
    );

    let mut run_outputs = super::observe::RunOutputs::open(&plan.outputs)?;
    let started_at = chrono::Utc::now();
    let (outcome, world) = super::runtime_for(plan.threads)?.block_on(async {
        crate::outln!("\n{} Initializing load orchestrator...", super::stamp());
        session::health_gate(&plan.api).await?;
        let world = Arc::new(super::world::snapshot_for_run(&plan.api).await?);
        let header = plan.trace_header((*world).clone());
        let (tap, recorder) = match &plan.record {
            Some(path) => {
                let (tap, recorder) = Recorder::spawn(path, header);
                (Some(tap), Some(recorder))
            }
            None => (None, None),
        };
        let context = plan.request_context(world.clone());
        let executor = super::executor(&plan.api, context, plan.concurrency, plan.verbose)?;
        crate::outln!(
            "{} Load orchestrator initialized successfully",
            super::stamp()
        );
        crate::outln!("{} {}\n", super::stamp(), plan.running_line());
        let options = plan.options(tap);
        let span_ms = plan.duration_ms.map(|d| (0, d));
        let run = Plan {
            executor,
            options,
            calendar: plan.calendar.clone(),
            span_ms,
            live: true,
            abort: session::abort_watch(&plan.result, &thresholds, plan.event_bound(&world)?)?,
        };
        let feed = simulation_feed(world.clone(), plan.sim_config());
        let subjects = session::subject_renderer(world.clone(), plan.run_id.clone());
        let pacer = crate::replay::pacer::Pacer::new(crate::units::Speed::Factor(1.0), 0);
        let on_completed = run_outputs.recorder(pacer, subjects);
        let outcome = session::drive(run, feed, on_completed, run_outputs.progress()).await?;
        run_outputs.run_ended();
        if let Some(recorder) = recorder {
            recorder.close(plan.duration_ms, &outcome).await?;
        }
        Ok::<_, anyhow::Error>((outcome, world))
    })?;
    let subject_of = session::subject_renderer(world, plan.run_id.clone());
    let config = plan.report_config();
    let meta = RunMeta {
        trace: TraceIdentity {
            source: "live simulation".into(),
            events: None,
            crc32: None,
            start: plan.start.to_rfc3339(),
        },
        seed: plan.seed,
        profile: plan.profile.name.clone(),
        run_id: plan.run_id.clone(),
        speed: crate::units::Speed::Factor(1.0).to_string(),
        tags,
        git_revision: plan.result.git_revision.clone(),
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
    let code = session::finish(
        result,
        plan.report.as_deref(),
        plan.min_success,
        &thresholds,
    );
    code.and(run_outputs.close())
}

/// The simulation, sending each event to the replayer as the simulator makes it (the replayer
/// holds it until it is due); returns how many it made before the run stopped listening.
fn simulation_feed(
    world: Arc<crate::world::World>,
    config: crate::sim::SimConfig,
) -> impl FnOnce(tokio::sync::mpsc::Sender<Sequenced>) -> anyhow::Result<u64> + Send + 'static {
    move |events| {
        let mut sim = Simulation::new(&world, &config)?;
        let mut offered = 0;
        let mut roots = crate::causal::RootTracker::new();
        while let Some(event) = sim.next_event()? {
            if events
                .blocking_send(Sequenced {
                    seq: offered,
                    root: roots.root_of(&event),
                    event,
                })
                .is_err()
            {
                break; // the run stopped
            }
            offered += 1;
        }
        Ok(offered)
    }
}
