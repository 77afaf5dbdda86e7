//! `loadgen cleanup`: fold the trace (inside the window) into the run's footprint, list it,
//! and unless `--dry-run` delete what the run created (and with `--restore-stock` put back the
//! stock levels the trace's world recorded). Exit 1 when a request failed or the API is
//! unreachable; exit 2 when a level to restore is not known, before anything is sent.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::api::cleanup::{delete_all, CleanupProgress, RunFootprint};
use crate::api::restore::{restore_all, Restore};
use crate::api::RequestContext;
use crate::cli::CleanupArgs;
use crate::contract::ids;
use crate::replay::window::TraceWindow;
use crate::selection::SelectionSpec;
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
    crate::plan::validate_run_id(&args.run_id)?;
    let (footprint, world) = footprint(&args)?;
    let subjects = footprint.to_delete();
    let changed = footprint.changed();
    // Refused whole, before anything is sent: a partial restore would look like a full one.
    let restores: Vec<Restore> = if args.restore_stock {
        crate::api::restore::plan(&changed, &world)?
    } else {
        Vec::new()
    };
    let count = |prefix: &str| subjects.iter().filter(|s| s.starts_with(prefix)).count();
    let mut out = std::io::stdout();
    writeln!(
        out,
        "Cleanup of run {} of {} at {}: {} subjects the run created ({} orders, {} order lines, {} customers), {} of them removed by the run itself",
        args.run_id,
        args.trace.display(),
        crate::units::redact_url(&args.api.api_url),
        subjects.len(),
        count(ids::ORDER),
        count(ids::ORDER_LINE),
        count(ids::CUSTOMER),
        footprint.removed_by_run(),
    )?;
    // A long run touches thousands of items: a real run shows a few, a dry run all of them.
    let shown = if args.dry_run {
        changed.len()
    } else {
        EXAMPLES
    };
    if args.restore_stock {
        writeln!(
            out,
            "Stock levels the run wrote, to be put back as the trace's world recorded them: {}",
            restores.len()
        )?;
        for r in restores.iter().take(shown) {
            writeln!(
                out,
                "  {} stock_level {} -> {}",
                r.subject, r.run_wrote, r.level
            )?;
        }
    } else {
        writeln!(
            out,
            "Values the run wrote to stock data, left as they are: {}",
            changed.len()
        )?;
        for c in changed.iter().take(shown) {
            writeln!(out, "  {} {} = {}", c.subject, c.predicate, c.value)?;
        }
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
    let (summary, restored) = super::runtime()?.block_on(async {
        super::session::health_gate(&args.api).await?;
        let progress = Arc::new(CleanupProgress::default());
        let bar = progress_bar((subjects.len() + restores.len()) as u64);
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
            progress.clone(),
        )
        .await;
        // Stock data is never deleted, so the restores do not depend on how the deletes went.
        let restored = if args.restore_stock {
            Some(
                restore_all(
                    &client,
                    &args.api.api_url,
                    &restores,
                    args.parallel as usize,
                    &options,
                    progress,
                )
                .await,
            )
        } else {
            None
        };
        ticker.abort();
        bar.finish_and_clear();
        Ok::<_, anyhow::Error>((summary, restored))
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
    let failed_restores = restored.as_ref().map_or(0, |r| r.failed.len());
    if let Some(restored) = &restored {
        let _ = writeln!(
            out,
            "Stock levels restored: {}, failed: {} ({} retries)",
            restored.restored,
            restored.failed.len(),
            restored.retries
        );
        for f in restored.failed.iter().take(EXAMPLES) {
            let _ = writeln!(out, "  failed {}: {}: {}", f.subject, f.category, f.detail);
        }
    }
    if summary.failed.is_empty() && failed_restores == 0 {
        Ok(())
    } else {
        let _ = writeln!(
            out,
            "Cleanup incomplete: run it again to retry the failed requests"
        );
        let restores = if args.restore_stock {
            format!(" and {failed_restores} stock restores")
        } else {
            String::new()
        };
        Err(crate::error::CommandError::RunFailed(format!(
            "cleanup incomplete: {} deletions{restores} failed",
            summary.failed.len()
        ))
        .into())
    }
}

/// The trace's events inside the window, as the requests the replay sent under the run id,
/// and the trace's world.
fn footprint(args: &CleanupArgs) -> anyhow::Result<(RunFootprint, Arc<crate::world::World>)> {
    let context = || format!("trace {}", args.trace.display());
    let mut reader = TraceReader::open(&args.trace).with_context(context)?;
    let header = reader.header().clone();
    let calendar = Calendar::new(header.start_instant()?);
    let window = TraceWindow::resolve(&calendar, args.from, args.to, header.duration_ms)
        .with_context(context)?;
    let world = Arc::new(header.world);
    let requests = RequestContext {
        world: world.clone(),
        run_id: Some(args.run_id.clone()),
        calendar,
        // Timestamps are values, not subjects: the shift does not matter here.
        shift: chrono::Duration::zero(),
    };
    // What the run's shards sent together: the whole window.
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
        .with_context(context)?;
    Ok((footprint, world))
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
