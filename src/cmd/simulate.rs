//! `loadgen simulate`: the plan (`plan::simulate`), the world (a file, the API's, or the
//! built-in), and the simulator streamed into a trace file or standard output (`simulate`).

use std::io::BufWriter;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::SimulateArgs;
use crate::plan::simulate::SimulatePlan;
use crate::simulate::write_trace;

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let (inputs, outputs) = crate::plan::simulate::paths(&args);
    crate::output::check_paths(&inputs, &outputs)?;
    let profile = super::load_profile(&args.profile)?;
    let plan = SimulatePlan::new(&args, profile)?;
    let world = match (&args.world, &args.api_url) {
        (Some(path), _) => crate::simulate::load_world(path)?,
        (None, Some(url)) => {
            let auth = crate::cli::AuthArgs::default();
            super::world::fetch(url, &auth, Duration::from_secs(60), args.retries)?
        }
        (None, None) => crate::world::builtin_world(),
    };
    world.validate()?;
    let (header, config) = (plan.header(world), plan.config);

    let began = Instant::now();
    let written = if args.output == Path::new("-") {
        let stdout = BufWriter::with_capacity(1 << 18, std::io::stdout().lock());
        match write_trace(&header, &config, stdout).map_err(anyhow::Error::from) {
            // `loadgen simulate -o - | head -c 100`: the reader had enough.
            Err(err) if super::is_broken_pipe(&err) => return Ok(()),
            other => other?,
        }
    } else {
        // No `.partial` file outlives an interrupted simulation.
        crate::output::clean_up_on_signal();
        crate::output::write_atomically(&args.output, |out| {
            // The trace's own errors say where in the file, not which file.
            write_trace(&header, &config, out)
                .with_context(|| format!("cannot write {}", args.output.display()))
        })?
    };
    eprintln!("{}", written.summary(&args.output, began.elapsed()));
    Ok(())
}
