//! `loadgen inspect`: a human summary of a trace. Nothing is sent anywhere.

use anyhow::Context;

use crate::api::RequestContext;
use crate::cli::InspectArgs;
use crate::replay::window::TraceWindow;
use crate::selection::SelectionSpec;
use crate::sim::time::Calendar;
use crate::trace::input::TraceInput;
use crate::trace::summary::TraceSummary;

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let input = TraceInput::open(&args.trace)
        .with_context(|| format!("cannot read trace {}", args.trace.display()))?;
    let name = input.name();
    let mut reader = input.read_once().with_context(|| format!("trace {name}"))?;
    let header = reader.header().clone();
    let calendar = Calendar::new(header.start_instant()?);
    let window = TraceWindow::resolve(&calendar, args.from, args.to, header.duration_ms)
        .with_context(|| format!("trace {name}"))?;
    let spec = SelectionSpec {
        window,
        shard: args.shard,
        done: None,
    };
    let mut summary = TraceSummary::new(header.duration_ms);
    // Triples are counted from the requests the contract makes of each event.
    let contract = RequestContext {
        world: std::sync::Arc::new(header.world.clone()),
        run_id: None,
        calendar,
        shift: chrono::Duration::zero(),
    };
    let mut triples = contract.triple_counter();
    spec.start()
        .read(&mut reader, |verdict, event| {
            if verdict.selected() {
                summary.add(&event);
                summary.add_triples(event.at, triples.count(&event));
            }
        })
        .with_context(|| format!("trace {name}"))?;
    crate::out!("{}", crate::trace::summary_text::render(&header, &summary)?);
    if args.from.is_some() || args.to.is_some() || args.shard.is_some() {
        let shard = args
            .shard
            .map(|s| format!(", shard {s}"))
            .unwrap_or_default();
        crate::outln!(
            "\nOnly what a replay of {}{shard} sends",
            window.describe(&contract.calendar)
        );
    }
    Ok(())
}
