//! `cleanup`: which subjects a run created, found by turning the trace's events into the very
//! requests the replay sent (so the names cannot drift from the contract), and deleting them
//! with bounded parallelism and retries. Entities the run only wrote to (stock levels) are
//! listed, never deleted (`super::restore` puts their levels back).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;

use super::client::{classify_error, error_chain, retry_transient};
use super::ClientOptions;
use crate::contract::ids::Class;
use crate::contract::Write;
use crate::outcome::FailureKind;

/// What a run did to the API, in subjects.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunFootprint {
    /// Subjects the run created (POSTed).
    created: BTreeSet<String>,
    /// Subjects the run itself deleted (lines removed by a modification).
    removed: BTreeSet<String>,
    /// Last value the run wrote, by subject and predicate, for every PUT.
    written: BTreeMap<String, BTreeMap<String, String>>,
}

/// A value the run wrote to an entity it did not create (an inventory item's stock level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedValue {
    pub subject: String,
    pub predicate: String,
    /// The last value the run wrote.
    pub value: String,
}

impl RunFootprint {
    /// Folds in the writes of one event, as `RequestContext::writes_for` makes them (the
    /// replay sends exactly these).
    pub fn add(&mut self, writes: &[Write]) {
        for write in writes {
            match write {
                Write::Post(triples) => {
                    for t in triples {
                        self.created.insert(t.subject_id.clone());
                    }
                }
                Write::Put(triples) => {
                    for t in triples {
                        self.written
                            .entry(t.subject_id.clone())
                            .or_default()
                            .insert(t.predicate.to_string(), t.object_value.clone());
                    }
                }
                Write::Delete { subject } => {
                    self.removed.insert(subject.clone());
                }
            }
        }
    }

    /// Every subject the run created, in deletion order: order lines, then orders, then
    /// customers (so an interrupted cleanup leaves no line without its order). Lines the run
    /// removed itself are included: the removal may have failed, and a 404 counts as gone.
    pub fn to_delete(&self) -> Vec<String> {
        let mut subjects: Vec<String> = self.created.iter().cloned().collect();
        subjects.sort_by_key(|s| (deletion_rank(s), s.clone()));
        subjects
    }

    /// How many of [`Self::to_delete`] the run deleted itself (they answer 404).
    pub fn removed_by_run(&self) -> usize {
        self.removed.intersection(&self.created).count()
    }

    /// Values written to subjects the run did not create: what cleanup leaves behind.
    pub fn changed(&self) -> Vec<ChangedValue> {
        self.written
            .iter()
            .filter(|(subject, _)| !self.created.contains(*subject))
            .flat_map(|(subject, values)| {
                values.iter().map(|(predicate, value)| ChangedValue {
                    subject: subject.clone(),
                    predicate: predicate.clone(),
                    value: value.clone(),
                })
            })
            .collect()
    }
}

fn deletion_rank(subject: &str) -> u8 {
    match Class::of(subject) {
        Some(Class::OrderLine) => 0,
        Some(Class::Order) => 1,
        Some(Class::Customer) => 2,
        _ => 3,
    }
}

/// How the deletion of one subject ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// 2xx: the subject's triples were deleted.
    Deleted,
    /// 404: nothing to delete (never created, deleted earlier, or a retry after a first try
    /// that went through).
    AlreadyGone,
    Failed {
        kind: FailureKind,
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedDelete {
    pub subject: String,
    pub category: String,
    pub detail: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteSummary {
    pub deleted: u64,
    pub already_gone: u64,
    pub retries: u64,
    /// In deletion order.
    pub failed: Vec<FailedDelete>,
}

/// Counters a progress display may read while deletions and restores run.
#[derive(Debug, Default)]
pub struct CleanupProgress {
    pub done: AtomicU64,
}

/// One DELETE: deleted, already gone, or a failure (retried by the caller when transient).
async fn try_delete(
    client: &reqwest::Client,
    base: &str,
    subject: &str,
) -> Result<DeleteOutcome, (FailureKind, String)> {
    let path = Write::Delete {
        subject: subject.to_string(),
    }
    .into_request()
    .path;
    let resp = client
        .delete(format!("{base}{path}"))
        .send()
        .await
        .map_err(|e| {
            (
                classify_error(&e),
                format!("DELETE {path}: {}", error_chain(&e)),
            )
        })?;
    let status = resp.status().as_u16();
    match status {
        200..=299 => Ok(DeleteOutcome::Deleted),
        404 => Ok(DeleteOutcome::AlreadyGone),
        _ => {
            let text = resp.text().await.unwrap_or_default();
            let detail = format!(
                "DELETE {path} -> {status}: {}",
                text.chars().take(300).collect::<String>()
            );
            Err((FailureKind::of_status(status, &text), detail))
        }
    }
}

/// Deletes one subject, retrying timeouts, connection errors and 5xx as the replay does
/// (`options.retries`, exponential backoff with jitter); returns the outcome and the retries.
pub async fn delete_subject(
    client: &reqwest::Client,
    base: &str,
    subject: &str,
    options: &ClientOptions,
) -> (DeleteOutcome, u32) {
    let (outcome, retries) = retry_transient(options, || try_delete(client, base, subject)).await;
    let outcome = outcome.unwrap_or_else(|(kind, detail)| DeleteOutcome::Failed { kind, detail });
    (outcome, retries)
}

/// Runs `job` on every item with at most `parallel` in flight, counting each finished one in
/// `progress`; the results come back in the items' order. A task that panicked (a bug: the
/// jobs return their failures) is an `Err` with the panic, so nothing is counted twice.
pub(crate) async fn run_bounded<I, T, F, Fut>(
    items: Vec<I>,
    parallel: usize,
    progress: Arc<CleanupProgress>,
    job: F,
) -> Vec<Result<T, String>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, item) in items.into_iter().enumerate() {
        let (permits, progress) = (permits.clone(), progress.clone());
        let work = job(item);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let done = work.await;
            progress.done.fetch_add(1, Ordering::Relaxed);
            (index, done)
        });
    }
    let mut done = Vec::new();
    let mut panicked = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, result)) => done.push((index, result)),
            Err(e) => panicked.push(e.to_string()),
        }
    }
    done.sort_by_key(|(index, _)| *index);
    done.into_iter()
        .map(|(_, result)| Ok(result))
        .chain(panicked.into_iter().map(Err))
        .collect()
}

/// Deletes `subjects` with at most `parallel` requests in flight.
pub async fn delete_all(
    client: &reqwest::Client,
    base: &str,
    subjects: &[String],
    parallel: usize,
    options: &ClientOptions,
    progress: Arc<CleanupProgress>,
) -> DeleteSummary {
    let base = base.trim_end_matches('/').to_string();
    let results = run_bounded(subjects.to_vec(), parallel, progress, |subject| {
        let (client, base, options) = (client.clone(), base.clone(), options.clone());
        async move {
            let (outcome, retries) = delete_subject(&client, &base, &subject, &options).await;
            (subject, outcome, retries)
        }
    })
    .await;
    let mut summary = DeleteSummary::default();
    for result in results {
        let (subject, outcome, retries) = match result {
            Ok(done) => done,
            Err(panic) => {
                summary.failed.push(FailedDelete {
                    subject: "(unknown)".into(),
                    category: "internal".into(),
                    detail: panic,
                });
                continue;
            }
        };
        summary.retries += u64::from(retries);
        match outcome {
            DeleteOutcome::Deleted => summary.deleted += 1,
            DeleteOutcome::AlreadyGone => summary.already_gone += 1,
            DeleteOutcome::Failed { kind, detail } => summary.failed.push(FailedDelete {
                subject,
                category: kind.to_string(),
                detail,
            }),
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::RequestContext;
    use crate::event::{Action, CustomerRef, Event, Line, NewOrder};
    use crate::time::{Calendar, SimTime};
    use crate::world::builtin_world;

    fn ctx() -> RequestContext {
        RequestContext {
            world: Arc::new(builtin_world()),
            run_id: Some("r1".into()),
            calendar: Calendar::new(
                chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z").unwrap(),
            ),
            shift: chrono::Duration::zero(),
        }
    }

    fn at(action: Action) -> Event {
        Event {
            at: SimTime(0),
            action,
        }
    }

    #[test]
    fn the_footprint_is_what_the_requests_create_and_change() {
        let c = ctx();
        let events = [
            at(Action::NewCustomer {
                customer: 3,
                home_store: 0,
                persona: crate::world::names::Persona {
                    first: 0,
                    last: 0,
                    street: 0,
                    house_number: 1,
                },
            }),
            at(Action::NewOrder(NewOrder {
                order: 7,
                customer: CustomerRef::New(3),
                store: 0,
                window_start_min: 60,
                window_len_min: 60,
                lines: vec![Line {
                    seq: 1,
                    product: 0,
                    quantity: 1,
                }],
                total_cents: 599,
            })),
            at(Action::AddLine {
                order: 7,
                line: Line {
                    seq: 2,
                    product: 1,
                    quantity: 1,
                },
                total_cents: 1178,
            }),
            at(Action::RemoveLine {
                order: 7,
                seq: 1,
                total_cents: 579,
            }),
            at(Action::InventoryUpdate {
                item: 4,
                stock_level: 10,
            }),
            at(Action::InventoryUpdate {
                item: 4,
                stock_level: 12,
            }),
        ];
        let mut footprint = RunFootprint::default();
        for e in &events {
            footprint.add(&c.writes_for(e));
        }
        assert_eq!(
            footprint.to_delete(),
            [
                "orderline:LG-r1-000007-01",
                "orderline:LG-r1-000007-02",
                "order:LG-r1-000007",
                "customer:LG-r1-000003",
            ]
        );
        assert_eq!(footprint.removed_by_run(), 1);
        assert_eq!(
            footprint.changed(),
            [ChangedValue {
                subject: "inventory:INV-000005".into(),
                predicate: "stock_level".into(),
                value: "12".into(),
            }],
            "the order's own writes are not changes to others' entities; the last level wins"
        );
    }
}
