//! `simulate`'s work: a world read from a snapshot file, and the simulator streamed into a
//! trace with a progress bar on stderr, ending in the line that says what was written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::output::OutputError;
use crate::sim::{SimConfig, SimError, Simulation};
use crate::trace::format::TraceError;
use crate::trace::{TraceHeader, TraceWriter};
use crate::world::{World, WorldError};

/// Events between two progress-bar updates: cheap enough to be invisible in the hot loop.
const PROGRESS_EVERY: u64 = 1 << 16;

/// A world file that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WorldFileError {
    #[error("cannot read world file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("world file {} is not a loadgen world", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("world file {}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: WorldError,
    },
}

/// Why a trace was not written.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// Reads a world snapshot (the JSON `loadgen world` writes).
pub fn load_world(path: &Path) -> Result<World, WorldFileError> {
    let path_buf = || path.to_path_buf();
    let text = std::fs::read_to_string(path).map_err(|source| WorldFileError::Read {
        path: path_buf(),
        source,
    })?;
    let world: World = serde_json::from_str(&text).map_err(|source| WorldFileError::Parse {
        path: path_buf(),
        source,
    })?;
    world
        .validate_for_load()
        .map_err(|source| WorldFileError::Invalid {
            path: path_buf(),
            source,
        })?;
    Ok(world)
}

/// What a simulation wrote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Written {
    pub events: u64,
    pub bytes: u64,
}

impl Written {
    /// The line `simulate` ends with (on stderr: stdout may be the trace).
    pub fn summary(&self, output: &Path, took: Duration) -> String {
        format!(
            "Wrote {} events ({} bytes, {:.1} bytes/event) to {} in {:.2}s",
            self.events,
            self.bytes,
            self.bytes as f64 / self.events.max(1) as f64,
            output.display(),
            took.as_secs_f64()
        )
    }
}

/// Simulates into `out`, with a progress bar over virtual time on stderr.
pub fn write_trace<W: Write>(
    header: &TraceHeader,
    config: &SimConfig,
    out: W,
) -> Result<Written, SimulateError> {
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
    Ok(Written {
        events: footer.count,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_events_bytes_and_time() {
        let written = Written {
            events: 4,
            bytes: 90,
        };
        assert_eq!(
            written.summary(Path::new("t.trace"), Duration::from_millis(1_234)),
            "Wrote 4 events (90 bytes, 22.5 bytes/event) to t.trace in 1.23s"
        );
        let empty = Written {
            events: 0,
            bytes: 40,
        };
        assert!(empty
            .summary(Path::new("-"), Duration::ZERO)
            .starts_with("Wrote 0 events (40 bytes, 40.0 bytes/event) to - in 0.00s"));
    }

    #[test]
    fn a_world_file_names_itself_in_every_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.json");
        let err = load_world(&missing).unwrap_err();
        assert!(matches!(err, WorldFileError::Read { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("cannot read world file {}", missing.display())
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"stores\": 3}").unwrap();
        let err = load_world(&bad).unwrap_err();
        assert!(matches!(err, WorldFileError::Parse { .. }), "{err}");
        let good = dir.path().join("good.json");
        let builtin = crate::world::builtin_world();
        std::fs::write(&good, serde_json::to_string(&builtin).unwrap()).unwrap();
        let loaded = load_world(&good).unwrap();
        assert_eq!(loaded.stores.len(), builtin.stores.len());
        assert_eq!(loaded.inventory.len(), builtin.inventory.len());
    }

    #[test]
    fn a_trace_written_counts_its_events_and_bytes() {
        use clap::Parser;
        let argv = [
            "loadgen",
            "simulate",
            "-o",
            "t",
            "--duration",
            "10m",
            "--seed",
            "3",
        ];
        let args = match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Simulate(args) => args,
            other => panic!("{other:?}"),
        };
        let profile = crate::profile::LoadProfile::named("demo").unwrap();
        let plan = crate::plan::simulate::SimulatePlan::new(&args, profile).unwrap();
        let header = plan.header(crate::world::builtin_world());
        let mut bytes = Vec::new();
        let written = write_trace(&header, &plan.config, &mut bytes).unwrap();
        assert_eq!(written.bytes, bytes.len() as u64);
        let mut reader = crate::trace::TraceReader::new(bytes.as_slice()).unwrap();
        let mut events = 0;
        while reader.next_event().unwrap().is_some() {
            events += 1;
        }
        assert!(events > 0);
        assert_eq!(written.events, events);
    }
}
