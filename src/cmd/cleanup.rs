//! `loadgen cleanup`: fold the trace (inside the window) into the run's footprint, list it,
//! and unless `--dry-run` delete what the run created. Exit 1 when a deletion failed or the
//! API is unreachable.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::api::cleanup::{delete_all, DeleteProgress, RunFootprint};
use crate::api::RequestContext;
use crate::cli::CleanupArgs;
use crate::replay::window::{TraceWindow, WindowFilter};
use crate::sim::time::Calendar;
use crate::trace::TraceReader;

/// Failed deletions and changed values printed on the console of a real run.
const EXAMPLES: usize = 10;

pub fn run(args: CleanupArgs) -> anyhow::Result<()> {
    match cleanup(args) {
        // `cleanup --dry-run | head`: a closed pipe before anything was sent is no failure.
        Err(err) if super::is_broken_pipe(&err) => Ok(()),
        other => other,
    }
}

fn cleanup(args: CleanupArgs) -> anyhow::Result<()> {
    super::replay::validate_run_id(&args.run_id)?;
    anyhow::ensure!(
        !args.restore_stock,
        "--restore-stock: the trace's world names the inventory items but holds no stock \
         levels, so the levels before the run are not known and nothing can be put back; \
         `cleanup --dry-run` lists the levels the run changed"
    );
    let footprint = footprint(&args)?;
    let subjects = footprint.to_delete();
    let count = |prefix: &str| subjects.iter().filter(|s| s.starts_with(prefix)).count();
    let mut out = std::io::stdout();
    writeln!(
        out,
        "Cleanup of run {} of {} at {}: {} subjects the run created ({} orders, {} order lines, {} customers), {} of them removed by the run itself",
        args.run_id,
        args.trace.display(),
        crate::units::redact_url(&args.api.api_url),
        subjects.len(),
        count("order:"),
        count("orderline:"),
        count("customer:"),
        footprint.removed_by_run(),
    )?;
    let changed = footprint.changed();
    writeln!(
        out,
        "Values the run wrote to stock data, left as they are: {}",
        changed.len()
    )?;
    // A long run touches thousands of items: a real run shows a few, a dry run all of them.
    let shown = if args.dry_run {
        changed.len()
    } else {
        EXAMPLES
    };
    for c in changed.iter().take(shown) {
        writeln!(out, "  {} {} = {}", c.subject, c.predicate, c.value)?;
    }
    if changed.len() > shown {
        writeln!(
            out,
            "  … and {} more (--dry-run lists them all)",
            changed.len() - shown
        )?;
    }
    if args.dry_run {
        writeln!(out, "Would delete:")?;
        for s in &subjects {
            writeln!(out, "  {s}")?;
        }
        writeln!(out, "Dry run: nothing was sent")?;
        return Ok(());
    }

    let options = crate::api::ClientOptions {
        timeout: args.api.timeout(),
        retries: args.api.retries(),
        pool_size: args.parallel as usize,
        headers: super::request_headers(&args.api.auth)?,
        root_certificates: super::root_certificates(&args.api.auth)?,
        secrets: super::secrets(&args.api.auth, &args.api.api_url),
        ..crate::api::ClientOptions::default()
    };
    let client = crate::api::client::build_client(&options).map_err(|e| {
        anyhow::anyhow!(
            "cannot set up the HTTP client: {}",
            crate::api::client::error_chain(&e)
        )
    })?;
    let summary = super::runtime()?.block_on(async {
        super::session::health_gate(&args.api).await?;
        let progress = Arc::new(DeleteProgress::default());
        let bar = progress_bar(subjects.len() as u64);
        let ticker = {
            let (bar, progress) = (bar.clone(), progress.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(250));
                loop {
                    tick.tick().await;
                    bar.set_position(progress.done.load(Ordering::Relaxed));
                }
            })
        };
        let summary = delete_all(
            &client,
            &args.api.api_url,
            &subjects,
            args.parallel as usize,
            &options,
            progress,
        )
        .await;
        ticker.abort();
        bar.finish_and_clear();
        Ok::<_, anyhow::Error>(summary)
    })?;
    // Deletions were sent: the exit code says how they went even if stdout is gone.
    let _ = writeln!(
        out,
        "Deleted: {}, already gone: {}, failed: {} ({} retries)",
        summary.deleted,
        summary.already_gone,
        summary.failed.len(),
        summary.retries
    );
    for f in summary.failed.iter().take(EXAMPLES) {
        let _ = writeln!(out, "  failed {}: {}: {}", f.subject, f.category, f.detail);
    }
    if summary.failed.is_empty() {
        Ok(())
    } else {
        let _ = writeln!(
            out,
            "Cleanup incomplete: run it again to retry the failed deletions"
        );
        Err(crate::error::CommandError::RunFailed(format!(
            "cleanup incomplete: {} deletions failed",
            summary.failed.len()
        ))
        .into())
    }
}

/// The trace's events inside the window, as the requests the replay sent under the run id.
fn footprint(args: &CleanupArgs) -> anyhow::Result<RunFootprint> {
    let context = || format!("trace {}", args.trace.display());
    let mut reader = TraceReader::open(&args.trace).with_context(context)?;
    let header = reader.header().clone();
    let calendar = Calendar::new(header.start_instant()?);
    let window = TraceWindow::resolve(&calendar, args.from, args.to, header.duration_ms)
        .with_context(context)?;
    let requests = RequestContext {
        world: Arc::new(header.world),
        run_id: Some(args.run_id.clone()),
        calendar,
        // Timestamps are values, not subjects: the shift does not matter here.
        shift: chrono::Duration::zero(),
    };
    let mut filter = WindowFilter::new(window);
    let mut footprint = RunFootprint::default();
    while let Some(event) = reader.next_event().with_context(context)? {
        // The filter must see every event: it tracks which orders are in the window.
        if filter.admit(&event) {
            footprint.add(&requests.writes_for(&event));
        }
    }
    Ok(footprint)
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} subjects")
            .expect("static template"),
    );
    bar
}
