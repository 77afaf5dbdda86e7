//! `loadgen cleanup`: the plan, the run's footprint read from the trace (`cleanup::scope`),
//! listed, and unless `--dry-run` deleted (and with `--restore-stock` the stock levels the
//! trace's world recorded put back). Exit 1 when a request failed or the API is unreachable;
//! exit 2 when a level to restore is not known, before anything is sent.

use std::io::Write;

use crate::cleanup::{self, report};
use crate::cli::CleanupArgs;
use crate::error::CommandError;
use crate::plan::cleanup::CleanupPlan;

pub fn run(args: CleanupArgs) -> anyhow::Result<()> {
    match cleanup(args) {
        // `cleanup --dry-run | head`: a closed pipe before anything was sent is no failure.
        Err(err) if super::is_broken_pipe(&err) => Ok(()),
        other => other,
    }
}

fn cleanup(args: CleanupArgs) -> anyhow::Result<()> {
    let plan = CleanupPlan::new(args)?;
    let scope = cleanup::read_scope(&plan)?;
    let mut out = std::io::stdout();
    // A stdout that cannot be written stops the cleanup before anything is sent.
    out.write_all(report::preview(&plan, &scope).as_bytes())?;
    if plan.dry_run {
        return Ok(());
    }
    let auth = &plan.api.auth;
    let options = crate::api::ClientOptions {
        timeout: plan.api.timeout(),
        retries: plan.api.retries(),
        pool_size: plan.parallel,
        headers: crate::plan::client::request_headers(auth)?,
        root_certificates: crate::plan::client::root_certificates(auth)?,
        secrets: crate::plan::client::secrets(auth, &plan.api.api_url),
        ..crate::api::ClientOptions::default()
    };
    let client = crate::api::client::build_client(&options).map_err(|e| {
        let chain = crate::api::client::error_chain(&e);
        anyhow::anyhow!("cannot set up the HTTP client: {chain}")
    })?;
    let outcome = super::runtime()?.block_on(async {
        super::session::health_gate(&plan.api).await?;
        let len = Some(scope.requests() as u64);
        let bar = super::verify::progress(len, "{bar:40} {pos}/{len} subjects");
        let shown = bar.clone();
        let tick = move |done| shown.set_position(done);
        let outcome = cleanup::execute(&client, &options, &plan, &scope, tick).await;
        bar.finish_and_clear();
        Ok::<_, anyhow::Error>(outcome)
    })?;
    // Deletions were sent: the exit code says how they went even if stdout is gone.
    let _ = out.write_all(report::summary(&outcome).as_bytes());
    (outcome.incomplete()).map_or(Ok(()), |e| Err(CommandError::run_failed(e)))
}
