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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Action, CustomerRef, Event, Line, NewOrder};
    use crate::plan::cleanup::tests::plan;
    use crate::time::SimTime;

    fn header(world: World) -> crate::trace::TraceHeader {
        crate::trace::TraceHeader {
            generator: "test".into(),
            seed: 1,
            profile: crate::profile::LoadProfile::named("demo").unwrap(),
            world,
            start: "2026-01-05T09:00:00Z".into(),
            duration_ms: 1_800_000,
        }
    }

    fn events() -> Vec<Event> {
        let at = |minute: u64, action| Event {
            at: SimTime(minute * 60_000),
            action,
        };
        let line = |seq, product| Line {
            seq,
            product,
            quantity: 1,
        };
        vec![
            at(
                1,
                Action::NewCustomer {
                    customer: 3,
                    home_store: 0,
                    persona: crate::world::names::Persona {
                        first: 0,
                        last: 0,
                        street: 0,
                        house_number: 1,
                    },
                },
            ),
            at(
                2,
                Action::NewOrder(NewOrder {
                    order: 7,
                    customer: CustomerRef::New(3),
                    store: 0,
                    window_start_min: 60,
                    window_len_min: 60,
                    lines: vec![line(1, 0)],
                    total_cents: 599,
                }),
            ),
            at(
                3,
                Action::AddLine {
                    order: 7,
                    line: line(2, 1),
                    total_cents: 1178,
                },
            ),
            at(
                4,
                Action::RemoveLine {
                    order: 7,
                    seq: 1,
                    total_cents: 579,
                },
            ),
            at(
                5,
                Action::InventoryUpdate {
                    item: 4,
                    stock_level: 10,
                },
            ),
            at(
                25,
                Action::InventoryUpdate {
                    item: 4,
                    stock_level: 12,
                },
            ),
            at(
                25,
                Action::InventoryUpdate {
                    item: 9,
                    stock_level: 3,
                },
            ),
        ]
    }

    /// A plan of `args` for a trace of `events()` over `world`, written into `dir`.
    fn planned(dir: &std::path::Path, world: World, args: &[&str]) -> CleanupPlan {
        let path = dir.join("run.trace");
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = crate::trace::TraceWriter::new(file, &header(world)).unwrap();
        for event in events() {
            writer.write(&event).unwrap();
        }
        writer.finish().unwrap();
        let mut plan = plan(&[&["--run-id", "r1"], args].concat()).unwrap();
        plan.trace = path;
        plan
    }

    fn changed(subject: &str, value: &str) -> ChangedValue {
        ChangedValue {
            subject: subject.into(),
            predicate: "stock_level".into(),
            value: value.into(),
        }
    }

    const CREATED: [&str; 4] = [
        "orderline:LG-r1-000007-01",
        "orderline:LG-r1-000007-02",
        "order:LG-r1-000007",
        "customer:LG-r1-000003",
    ];

    #[test]
    fn the_scope_is_what_the_window_of_the_run_created_and_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let world = crate::world::builtin_world();
        let scope = read_scope(&planned(dir.path(), world.clone(), &[])).unwrap();
        assert_eq!(
            scope,
            Scope {
                subjects: CREATED.map(String::from).to_vec(),
                removed_by_run: 1,
                changed: vec![
                    changed("inventory:INV-000005", "12"),
                    changed("inventory:INV-000010", "3"),
                ],
                restores: vec![],
            }
        );
        assert_eq!(scope.requests(), 4);
        // The replay's window: the updates at 09:25 were not sent.
        let windowed = read_scope(&planned(dir.path(), world, &["--to", "09:20"])).unwrap();
        assert_eq!(windowed.subjects, CREATED);
        assert_eq!(windowed.changed, [changed("inventory:INV-000005", "10")]);
    }

    #[test]
    fn restore_stock_plans_a_level_for_every_value_or_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let mut world = crate::world::builtin_world();
        let refused = read_scope(&planned(dir.path(), world.clone(), &["--restore-stock"]));
        match refused {
            Err(CleanupError::Restore(RestorePlanError::UnknownLevels {
                missing,
                written,
                ..
            })) => assert_eq!((missing, written), (2, 2)),
            other => panic!("{other:?}"),
        }
        world.inventory[4].stock_level = Some(37);
        world.inventory[9].stock_level = Some(0);
        let scope = read_scope(&planned(dir.path(), world, &["--restore-stock"])).unwrap();
        let levels: Vec<_> = scope
            .restores
            .iter()
            .map(|r| (r.subject.as_str(), r.level, r.run_wrote.as_str()))
            .collect();
        assert_eq!(
            levels,
            [
                ("inventory:INV-000005", 37, "12"),
                ("inventory:INV-000010", 0, "3")
            ]
        );
        assert_eq!(scope.requests(), 6);
    }

    #[test]
    fn a_trace_that_cannot_be_read_or_a_window_outside_it_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let world = crate::world::builtin_world();
        let plan = planned(dir.path(), world, &["--from", "10:00"]);
        let name = plan.trace.display().to_string();
        match read_scope(&plan) {
            Err(CleanupError::Window { trace, .. }) => assert_eq!(trace, name),
            other => panic!("{other:?}"),
        }
        let mut plan = plan;
        plan.trace = dir.path().join("none.trace");
        match read_scope(&plan) {
            Err(CleanupError::Trace { trace, source }) => {
                assert_eq!(trace, plan.trace.display().to_string());
                assert!(
                    matches!(source, TraceError::Io { offset: 0, .. }),
                    "{source}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
