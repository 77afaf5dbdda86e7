//! `cleanup --restore-stock`: the stock levels a run overwrote, put back as the trace's world
//! recorded them when it was taken from the API. Planned whole before anything is sent: a
//! level the world does not know refuses the restore instead of guessing it.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::cleanup::{run_bounded, ChangedValue, CleanupProgress};
use super::client::{attempt, retry_transient, Attempt};
use super::ClientOptions;
use crate::contract::requests::{set_stock_level, STOCK_LEVEL};
use crate::outcome::FailureKind;
use crate::world::World;

/// One level to put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restore {
    pub subject: String,
    /// The level the trace's world recorded (before the run).
    pub level: u32,
    /// The last value the run wrote (what the API holds now, unless someone else wrote).
    pub run_wrote: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RestorePlanError {
    #[error(
        "--restore-stock: the trace's world `{world}` holds no stock level for {missing} of the \
         {written} values the run wrote to stock data (first: {first}), so what was there before \
         the run is not known and nothing was sent. The built-in world never holds levels (a \
         stock install's are random), nor does a world file written before loadgen recorded \
         them. To restore levels, take the world from the API before the run and simulate with \
         it: `loadgen world --api-url URL -o world.json`, then `loadgen simulate --world \
         world.json …`, and replay that trace"
    )]
    UnknownLevels {
        world: String,
        missing: usize,
        written: usize,
        /// `subject predicate` of the first value without a recorded level.
        first: String,
    },
}

/// The levels to put back for `changed` (as `RunFootprint::changed` lists them), from the
/// levels `world` recorded; refused if any of them is not known.
pub fn plan(changed: &[ChangedValue], world: &World) -> Result<Vec<Restore>, RestorePlanError> {
    let recorded: HashMap<&str, Option<u32>> = world
        .inventory
        .iter()
        .map(|item| (item.id.as_str(), item.stock_level))
        .collect();
    let mut restores = Vec::with_capacity(changed.len());
    let mut missing = Vec::new();
    for value in changed {
        let level = (value.predicate == STOCK_LEVEL)
            .then(|| recorded.get(value.subject.as_str()).copied().flatten())
            .flatten();
        match level {
            Some(level) => restores.push(Restore {
                subject: value.subject.clone(),
                level,
                run_wrote: value.value.clone(),
            }),
            None => missing.push(value),
        }
    }
    match missing.first() {
        None => Ok(restores),
        Some(first) => Err(RestorePlanError::UnknownLevels {
            world: world.name.clone(),
            missing: missing.len(),
            written: changed.len(),
            first: format!("{} {}", first.subject, first.predicate),
        }),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedRestore {
    pub subject: String,
    pub category: String,
    pub detail: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreSummary {
    pub restored: u64,
    pub retries: u64,
    /// In the plan's order.
    pub failed: Vec<FailedRestore>,
}

/// PUTs one level back, retrying timeouts, connection errors and 5xx as the deletes do
/// (a PUT of the same value is idempotent); returns the failure, if any, and the retries.
async fn restore_one(
    client: &reqwest::Client,
    base: &str,
    restore: &Restore,
    options: &ClientOptions,
) -> (Option<(FailureKind, String)>, u32) {
    let request = set_stock_level(&restore.subject, restore.level).into_request();
    let (outcome, retries) = retry_transient(options, || async {
        match attempt(client, base, &request).await {
            Attempt::Success => Ok(()),
            Attempt::Failed { kind, detail } => Err((kind, detail)),
        }
    })
    .await;
    (outcome.err(), retries)
}

/// Puts back every planned level with at most `parallel` requests in flight.
pub async fn restore_all(
    client: &reqwest::Client,
    base: &str,
    restores: &[Restore],
    parallel: usize,
    options: &ClientOptions,
    progress: Arc<CleanupProgress>,
) -> RestoreSummary {
    let base = base.trim_end_matches('/').to_string();
    let results = run_bounded(restores.to_vec(), parallel, progress, |restore| {
        let (client, base, options) = (client.clone(), base.clone(), options.clone());
        async move {
            let (failure, retries) = restore_one(&client, &base, &restore, &options).await;
            (restore.subject, failure, retries)
        }
    })
    .await;
    let mut summary = RestoreSummary::default();
    for result in results {
        match result {
            Ok((_, None, retries)) => {
                summary.restored += 1;
                summary.retries += u64::from(retries);
            }
            Ok((subject, Some((kind, detail)), retries)) => {
                summary.retries += u64::from(retries);
                summary.failed.push(FailedRestore {
                    subject,
                    category: kind.to_string(),
                    detail,
                });
            }
            Err(panic) => summary.failed.push(FailedRestore {
                subject: "(unknown)".into(),
                category: "internal".into(),
                detail: panic,
            }),
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::builtin_world;

    fn changed(subject: &str, value: &str) -> ChangedValue {
        ChangedValue {
            subject: subject.into(),
            predicate: STOCK_LEVEL.into(),
            value: value.into(),
        }
    }

    #[test]
    fn the_plan_takes_each_level_from_the_world() {
        let mut world = builtin_world();
        world.name = "http://api".into();
        world.inventory[4].stock_level = Some(37);
        world.inventory[9].stock_level = Some(0);
        let plan = plan(
            &[
                changed("inventory:INV-000005", "12"),
                changed("inventory:INV-000010", "3"),
            ],
            &world,
        )
        .unwrap();
        assert_eq!(
            plan,
            [
                Restore {
                    subject: "inventory:INV-000005".into(),
                    level: 37,
                    run_wrote: "12".into(),
                },
                Restore {
                    subject: "inventory:INV-000010".into(),
                    level: 0,
                    run_wrote: "3".into(),
                },
            ]
        );
    }

    #[test]
    fn an_unknown_level_refuses_the_whole_plan() {
        let mut world = builtin_world();
        world.inventory[4].stock_level = Some(37);
        let err = plan(
            &[
                changed("inventory:INV-000005", "12"),
                changed("inventory:INV-000006", "3"),
                changed("inventory:NOT-IN-WORLD", "3"),
            ],
            &world,
        )
        .unwrap_err();
        assert_eq!(
            err,
            RestorePlanError::UnknownLevels {
                world: "builtin".into(),
                missing: 2,
                written: 3,
                first: "inventory:INV-000006 stock_level".into(),
            }
        );
        let text = err.to_string();
        assert!(text.contains("loadgen world --api-url"), "{text}");
        assert!(text.contains("simulate --world world.json"), "{text}");
        // A value of another predicate has no recorded level either.
        let other = ChangedValue {
            predicate: "order_status".into(),
            ..changed("inventory:INV-000005", "x")
        };
        assert!(plan(&[other], &world).is_err());
        assert_eq!(plan(&[], &builtin_world()), Ok(vec![]));
    }
}
