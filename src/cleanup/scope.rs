//! A run's footprint in subjects: the trace's events inside the replay's window, turned into
//! the requests the replay sent under the run id (`RunFootprint`), and, with
//! `--restore-stock`, the levels to put back, planned whole before anything is sent.

use std::sync::Arc;

use crate::api::cleanup::{ChangedValue, RunFootprint};
use crate::api::restore::{Restore, RestorePlanError};
use crate::contract::RequestContext;
use crate::plan::cleanup::CleanupPlan;
use crate::replay::window::{TraceWindow, WindowError};
use crate::selection::SelectionSpec;
use crate::time::Calendar;
use crate::trace::format::TraceError;
use crate::trace::TraceReader;
use crate::world::World;

/// Why a cleanup stops before anything is sent: all of them are bad input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// The trace cannot be read, or is not a whole trace.
    #[error("trace {trace}")]
    Trace {
        trace: String,
        #[source]
        source: TraceError,
    },
    /// The trace header's start is not an instant (reported as the header's own error).
    #[error(transparent)]
    Start(TraceError),
    /// The window is not inside the trace.
    #[error("trace {trace}")]
    Window {
        trace: String,
        #[source]
        source: WindowError,
    },
    /// `--restore-stock` and a level the trace's world does not know.
    #[error(transparent)]
    Restore(#[from] RestorePlanError),
}

/// What a cleanup removes and reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Every subject the run created, in deletion order (lines, orders, customers).
    pub subjects: Vec<String>,
    /// How many of `subjects` the run deleted itself (they answer 404).
    pub removed_by_run: usize,
    /// Values the run wrote to entities it did not create (stock levels).
    pub changed: Vec<ChangedValue>,
    /// With `--restore-stock`, a level for each of `changed`; otherwise none.
    pub restores: Vec<Restore>,
}

impl Scope {
    /// The scope of `footprint`; with `restore_stock`, refused whole if `world` does not know
    /// a level to put back (a partial restore would look like a full one).
    pub fn of(
        footprint: &RunFootprint,
        world: &World,
        restore_stock: bool,
    ) -> Result<Scope, RestorePlanError> {
        let changed = footprint.changed();
        let restores = if restore_stock {
            crate::api::restore::plan(&changed, world)?
        } else {
            Vec::new()
        };
        Ok(Scope {
            subjects: footprint.to_delete(),
            removed_by_run: footprint.removed_by_run(),
            changed,
            restores,
        })
    }

    /// The requests a cleanup sends: the deletes and the restores.
    pub fn requests(&self) -> usize {
        self.subjects.len() + self.restores.len()
    }
}

/// Reads the plan's trace: its events inside the window as the requests the replay sent under
/// the run id (what the run's shards sent together: the whole window), then the scope.
pub fn read_scope(plan: &CleanupPlan) -> Result<Scope, CleanupError> {
    let (footprint, world) = footprint(plan)?;
    Ok(Scope::of(&footprint, &world, plan.restore_stock)?)
}

fn footprint(plan: &CleanupPlan) -> Result<(RunFootprint, Arc<World>), CleanupError> {
    let trace = || plan.trace.display().to_string();
    let trace_error = |source| CleanupError::Trace {
        trace: trace(),
        source,
    };
    let mut reader = TraceReader::open(&plan.trace).map_err(trace_error)?;
    let header = reader.header().clone();
    let calendar = Calendar::new(header.start_instant().map_err(CleanupError::Start)?);
    let window = TraceWindow::resolve(&calendar, plan.from, plan.to, header.duration_ms).map_err(
        |source| CleanupError::Window {
            trace: trace(),
            source,
        },
    )?;
    let world = Arc::new(header.world);
    let requests = RequestContext {
        world: world.clone(),
        run_id: Some(plan.run_id.clone()),
        calendar,
        // Timestamps are values, not subjects: the shift does not matter here.
        shift: chrono::Duration::zero(),
    };
    let spec = SelectionSpec {
        window,
        shard: None,
        done: None,
    };
    let mut footprint = RunFootprint::default();
    spec.start()
        .read(&mut reader, |verdict, event| {
            if verdict.selected() {
                footprint.add(&requests.writes_for(&event));
            }
        })
        .map_err(trace_error)?;
    Ok((footprint, world))
}
