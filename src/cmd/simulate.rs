//! `loadgen simulate`: run the simulator and stream its events into a trace file.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use crate::cli::SimulateArgs;
use crate::plan::simulate::SimulatePlan;
use crate::sim::{SimConfig, Simulation};
use crate::trace::{TraceHeader, TraceWriter};
use crate::world::World;

/// Events between two progress-bar updates: cheap enough to be invisible in the hot loop.
const PROGRESS_EVERY: u64 = 1 << 16;

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    if let Some(path) = &args.profile.profile_file {
        inputs.push(("--profile-file", path.as_path()));
    }
    if let Some(path) = &args.world {
        inputs.push(("--world", path.as_path()));
    }
    crate::output::check_paths(&inputs, &[("-o", &args.output)])?;
    let profile = super::load_profile(&args.profile)?;
    let plan = SimulatePlan::new(&args, profile)?;
    let world = match (&args.world, &args.api_url) {
        (Some(path), _) => load_world(path)?,
        (None, Some(url)) => super::world::fetch(
            url,
            &crate::cli::AuthArgs::default(),
            std::time::Duration::from_secs(60),
            args.retries,
        )?,
        (None, None) => crate::world::builtin_world(),
    };
    world.validate()?;
    let (header, config) = (plan.header(world), plan.config);

    let began = Instant::now();
    let (events, bytes) = if args.output == Path::new("-") {
        let stdout = std::io::stdout().lock();
        match write_trace(&header, &config, BufWriter::with_capacity(1 << 18, stdout)) {
            // `loadgen simulate -o - | head -c 100`: the reader had enough.
            Err(err) if super::is_broken_pipe(&err) => return Ok(()),
            other => other?,
        }
    } else {
        // No `.partial` file outlives an interrupted simulation.
        crate::output::clean_up_on_signal();
        crate::output::write_atomically(&args.output, |out| write_trace(&header, &config, out))?
    };
    let secs = began.elapsed().as_secs_f64();
    eprintln!(
        "Wrote {events} events ({bytes} bytes, {:.1} bytes/event) to {} in {secs:.2}s",
        bytes as f64 / events.max(1) as f64,
        args.output.display()
    );
    Ok(())
}

/// Simulates into `out`; returns the event count and the bytes written.
fn write_trace<W: Write>(
    header: &TraceHeader,
    config: &SimConfig,
    out: W,
) -> anyhow::Result<(u64, u64)> {
    let mut sim = Simulation::new(&header.world, config)?;
    let mut writer = TraceWriter::new(out, header)?;
    let progress = indicatif::ProgressBar::with_draw_target(
        Some(config.duration.as_ms()),
        indicatif::ProgressDrawTarget::stderr(),
    );
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "simulating {bar:40} {percent:>3}% of virtual time, {msg} (eta {eta})",
        )
        .expect("static template"),
    );
    while let Some(event) = sim.next_event()? {
        writer.write(&event)?;
        if writer.count() % PROGRESS_EVERY == 0 {
            progress.set_position(event.at.as_ms());
            progress.set_message(format!("{} events", writer.count()));
        }
        sim.recycle(event);
    }
    progress.finish_and_clear();
    let (footer, bytes, _) = writer.finish()?;
    Ok((footer.count, bytes))
}

/// Reads a world snapshot (the JSON `loadgen world` writes).
pub fn load_world(path: &Path) -> anyhow::Result<World> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read world file {}", path.display()))?;
    let world: World = serde_json::from_str(&text)
        .with_context(|| format!("world file {} is not a loadgen world", path.display()))?;
    world
        .validate_for_load()
        .with_context(|| format!("world file {}", path.display()))?;
    Ok(world)
}
