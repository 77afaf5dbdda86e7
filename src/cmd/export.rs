//! `loadgen export`: a trace as CSV or JSON Lines, one row per event (columns documented in
//! `trace::export`). A closed pipe (`| head`) ends the export successfully.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Context;

use crate::cli::{ExportArgs, ExportFormat};
use crate::sim::time::Calendar;
use crate::trace::export::export_row;
use crate::trace::TraceReader;

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    match export(&args, BufWriter::with_capacity(1 << 16, out)) {
        Err(err) if super::is_broken_pipe(&err) => Ok(()),
        other => other,
    }
}

fn export<W: Write>(args: &ExportArgs, out: W) -> anyhow::Result<()> {
    let mut reader = TraceReader::open(&args.trace)
        .with_context(|| format!("cannot read trace {}", args.trace.display()))?;
    let world = reader.header().world.clone();
    let calendar = Calendar::new(reader.header().start_instant()?);
    let context = || format!("trace {}", args.trace.display());
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
