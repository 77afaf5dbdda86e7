//! `verify`'s plan: the run id and the files checked, then the part of the trace the API must
//! hold: the window the replay had, and every shard (each shard of a sharded run sent its
//! part, so the whole window is checked).

use std::path::Path;

use super::{Paths, PlanError};
use crate::cli::VerifyArgs;
use crate::replay::window::TraceWindow;
use crate::selection::SelectionSpec;
use crate::sim::time::Calendar;
use crate::trace::input::{InputReader, TraceInput};
use crate::trace::TraceHeader;
use crate::verify::{read_expected, ExpectedState, Folded};

/// A verification's settled arguments.
pub struct VerifyPlan {
    pub args: VerifyArgs,
}

/// The trace, opened at its first event, with what its header settles.
pub struct VerifyTrace {
    pub reader: InputReader,
    pub header: TraceHeader,
    pub calendar: Calendar,
    pub selection: SelectionSpec,
    /// How messages name the trace: its path, or "standard input".
    pub name: String,
}

impl VerifyPlan {
    pub fn new(args: VerifyArgs) -> Result<VerifyPlan, PlanError> {
        super::validate_run_id(&args.run_id)?;
        Ok(VerifyPlan { args })
    }

    /// The files read and the one written, by role.
    pub fn paths(&self) -> Paths<&Path> {
        let mut inputs = vec![("the trace", self.args.trace.as_path())];
        inputs.extend(self.args.auth.ca_cert.as_deref().map(|p| ("--ca-cert", p)));
        let outputs = self
            .args
            .report
            .iter()
            .map(|p| ("--report", p.as_path()))
            .collect();
        (inputs, outputs)
    }

    /// Refuses a `--report` that would overwrite the trace or the `--ca-cert`.
    pub fn check_paths(&self) -> Result<(), PlanError> {
        let (inputs, outputs) = self.paths();
        Ok(crate::output::check_paths(&inputs, &outputs)?)
    }

    /// Opens the trace (a file or a pipe, read once) and settles the selection from its
    /// header: a trace that cannot be read or a window outside it is refused here.
    pub fn open_trace(&self) -> Result<VerifyTrace, PlanError> {
        let trace_error = |trace: String| move |source| PlanError::Trace { trace, source };
        let path = &self.args.trace;
        let input = TraceInput::open(path).map_err(trace_error(path.display().to_string()))?;
        let name = input.name();
        let reader = input.read_once().map_err(trace_error(name.clone()))?;
        let header = reader.header().clone();
        let (calendar, selection) = self.selection(&header, &name)?;
        Ok(VerifyTrace {
            reader,
            header,
            calendar,
            selection,
            name,
        })
    }

    /// The trace's calendar and the events the API must reflect: the window, all shards.
    pub fn selection(
        &self,
        header: &TraceHeader,
        trace_name: &str,
    ) -> Result<(Calendar, SelectionSpec), PlanError> {
        let calendar =
            Calendar::new(header.start_instant().map_err(|source| PlanError::Trace {
                trace: trace_name.to_string(),
                source,
            })?);
        let window =
            TraceWindow::resolve(&calendar, self.args.from, self.args.to, header.duration_ms)
                .map_err(|source| PlanError::Window {
                    trace: trace_name.to_string(),
                    source,
                })?;
        let spec = SelectionSpec {
            window,
            shard: None,
            done: None,
        };
        Ok((calendar, spec))
    }
}

impl VerifyTrace {
    /// Reads the rest of the trace, folding the selected events into the state they imply
    /// (`verify::read_expected`); `progress` hears the events read every `every` events.
    pub fn read_expected(
        &mut self,
        every: u64,
        progress: impl FnMut(u64),
    ) -> Result<Folded, PlanError> {
        let world = &self.header.world;
        read_expected(&self.selection, &mut self.reader, world, every, progress).map_err(|source| {
            PlanError::Trace {
                trace: self.name.clone(),
                source,
            }
        })
    }

    /// The state to verify, or the window's error when it chose no event of the trace.
    pub fn expected(&self, folded: Folded) -> Result<ExpectedState, PlanError> {
        let (window, calendar) = (&self.selection.window, &self.calendar);
        folded
            .into_expected(window, calendar)
            .map_err(|source| PlanError::Window {
                trace: self.name.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::window::WindowError;
    use crate::trace::format::TraceError;
    use clap::Parser;

    fn plan(list: &[&str]) -> Result<VerifyPlan, PlanError> {
        let mut argv = vec!["loadgen", "verify", "t.trace"];
        argv.extend_from_slice(list);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Verify(args) => VerifyPlan::new(args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_window_of_the_replay_and_every_shard() {
        let header = TraceHeader {
            generator: "test".into(),
            seed: 1,
            profile: crate::profile::LoadProfile::named("demo").unwrap(),
            world: crate::world::builtin_world(),
            start: "2026-01-05T09:00:00Z".into(),
            duration_ms: 3_600_000,
        };
        let p = plan(&["--run-id", "r", "--from", "09:30", "--report", "v.json"]).unwrap();
        let (_, spec) = p.selection(&header, "t.trace").unwrap();
        assert_eq!(
            (spec.window.from_ms, spec.window.to_ms),
            (1_800_000, 3_600_000)
        );
        assert!(spec.shard.is_none() && spec.done.is_none());
        let (inputs, outputs) = p.paths();
        assert_eq!(inputs, [("the trace", Path::new("t.trace"))]);
        assert_eq!(outputs, [("--report", Path::new("v.json"))]);
        let err = plan(&["--run-id", "r", "--from", "11:00"])
            .unwrap()
            .selection(&header, "t.trace")
            .err()
            .unwrap();
        assert!(matches!(err, PlanError::Window { .. }), "{err}");
        let err = plan(&["--run-id", "a b"]).err().unwrap();
        assert!(matches!(err, PlanError::Usage(_)), "{err}");
    }

    #[test]
    fn a_window_without_events_is_refused_once_read_naming_the_trace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.trace");
        let header = TraceHeader {
            generator: "test".into(),
            seed: 1,
            profile: crate::profile::LoadProfile::named("demo").unwrap(),
            world: crate::world::builtin_world(),
            start: "2026-01-05T09:00:00Z".into(),
            duration_ms: 3_600_000,
        };
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = crate::trace::TraceWriter::new(file, &header).unwrap();
        let update = crate::event::Action::InventoryUpdate {
            item: 1,
            stock_level: 5,
        };
        writer
            .write(&crate::event::Event {
                at: crate::time::SimTime(60_000),
                action: update,
            })
            .unwrap();
        writer.finish().unwrap();
        let mut args = plan(&["--run-id", "r", "--from", "09:30"]).unwrap().args;
        args.trace = path.clone();
        let mut trace = VerifyPlan::new(args).unwrap().open_trace().unwrap();
        assert_eq!(trace.name, path.display().to_string());
        let mut ticks = 0;
        let folded = trace.read_expected(1, |_| ticks += 1).unwrap();
        assert_eq!((folded.selected, ticks), (0, 1));
        match trace.expected(folded) {
            Err(PlanError::Window {
                trace: name,
                source,
            }) => {
                assert_eq!(name, path.display().to_string());
                assert!(matches!(source, WindowError::NoEvents { .. }), "{source}");
            }
            Err(other) => panic!("{other}"),
            Ok(state) => panic!("{state:?}"),
        }
    }

    #[test]
    fn a_trace_that_cannot_be_opened_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.trace");
        let mut args = plan(&["--run-id", "r"]).unwrap().args;
        args.trace = missing.clone();
        let err = VerifyPlan::new(args).unwrap().open_trace().err().unwrap();
        match &err {
            PlanError::Trace { trace, source } => {
                assert_eq!(trace, &missing.display().to_string());
                assert!(
                    matches!(source, TraceError::Io { offset: 0, .. }),
                    "{source}"
                );
            }
            other => panic!("{other}"),
        }
        let garbage = dir.path().join("garbage.trace");
        std::fs::write(&garbage, b"not a trace at all").unwrap();
        let mut args = plan(&["--run-id", "r"]).unwrap().args;
        args.trace = garbage.clone();
        let err = VerifyPlan::new(args).unwrap().open_trace().err().unwrap();
        match &err {
            PlanError::Trace { trace, source } => {
                assert_eq!(trace, &garbage.display().to_string());
                assert!(matches!(source, TraceError::NotATrace { .. }), "{source}");
            }
            other => panic!("{other}"),
        }
    }
}
