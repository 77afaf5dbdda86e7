//! `loadgen export`: a trace as CSV or JSON Lines, one row per event (columns documented in
//! `trace::export`). A closed pipe (`| head`) ends the export successfully.

use std::io::{BufWriter, Write};

use anyhow::Context;

use crate::cli::{ExportArgs, ExportFormat};
use crate::sim::time::Calendar;
use crate::trace::export::export_row;
use crate::trace::input::TraceInput;

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    match &args.output {
        Some(path) if !crate::output::is_std_stream(path) => {
            crate::output::check_paths(&[("the trace", &args.trace)], &[("-o", path)])?;
            crate::output::clean_up_on_signal();
            crate::output::write_atomically(path, |out| export(&args, out))?;
            Ok(())
        }
        _ => match export(
            &args,
            BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
        ) {
            Err(err) if super::is_broken_pipe(&err) => Ok(()),
            other => other,
        },
    }
}

fn export<W: Write>(args: &ExportArgs, out: W) -> anyhow::Result<()> {
    let input = TraceInput::open(&args.trace)
        .with_context(|| format!("cannot read trace {}", args.trace.display()))?;
    let name = input.name();
    let mut reader = input.read_once().with_context(|| format!("trace {name}"))?;
    let world = reader.header().world.clone();
    let calendar = Calendar::new(reader.header().start_instant()?);
    let context = || format!("trace {name}");
    match args.format {
        ExportFormat::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            while let Some(event) = reader.next_event().with_context(context)? {
                csv.serialize(export_row(&world, &calendar, reader.events_read(), &event))?;
            }
            csv.flush()?;
        }
        ExportFormat::Jsonl => {
            let mut out = out;
            while let Some(event) = reader.next_event().with_context(context)? {
                serde_json::to_writer(
                    &mut out,
                    &export_row(&world, &calendar, reader.events_read(), &event),
                )?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
    }
    Ok(())
}
