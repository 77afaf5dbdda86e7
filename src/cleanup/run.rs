//! A cleanup's requests: the deletes, then (stock data is never deleted, so they do not depend
//! on how the deletes went) the restores, with bounded parallelism and the client's retries.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{CleanupOutcome, Scope};
use crate::api::cleanup::{delete_all, CleanupProgress};
use crate::api::restore::restore_all;
use crate::api::ClientOptions;
use crate::plan::cleanup::CleanupPlan;

/// How often `on_progress` hears how many requests are done.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Sends the scope's deletes and (with `--restore-stock`) restores to the plan's API;
/// `on_progress` is called with the number of finished requests while they run.
pub async fn execute(
    client: &reqwest::Client,
    options: &ClientOptions,
    plan: &CleanupPlan,
    scope: &Scope,
    on_progress: impl Fn(u64) + Send + 'static,
) -> CleanupOutcome {
    let progress = Arc::new(CleanupProgress::default());
    let ticker = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROGRESS_EVERY);
            loop {
                tick.tick().await;
                on_progress(progress.done.load(Ordering::Relaxed));
            }
        })
    };
    let (base, parallel) = (&plan.api.api_url, plan.parallel);
    let deleted = delete_all(
        client,
        base,
        &scope.subjects,
        parallel,
        options,
        progress.clone(),
    )
    .await;
    let restored = if plan.restore_stock {
        Some(restore_all(client, base, &scope.restores, parallel, options, progress).await)
    } else {
        None
    };
    ticker.abort();
    CleanupOutcome { deleted, restored }
}
