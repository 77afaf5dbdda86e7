//! The console's account of a cleanup, rendered from data: before anything is sent, what the
//! run left (`preview`, with the full list on a dry run); after, how the requests went
//! (`summary`), and the error an incomplete cleanup ends with.

use std::fmt::Write as _;

use super::Scope;
use crate::api::cleanup::DeleteSummary;
use crate::api::restore::RestoreSummary;
use crate::contract::ids;
use crate::plan::cleanup::{CleanupPlan, EXAMPLES};

/// How a cleanup's requests went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanupOutcome {
    pub deleted: DeleteSummary,
    /// `None` without `--restore-stock`.
    pub restored: Option<RestoreSummary>,
}

/// Some requests failed past their retries (exit 1): running the cleanup again retries them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cleanup incomplete: {deletions} deletions{} failed", restores.map_or(String::new(), |n| format!(" and {n} stock restores")))]
pub struct Incomplete {
    pub deletions: usize,
    /// `None` without `--restore-stock`.
    pub restores: Option<usize>,
}

impl CleanupOutcome {
    /// The failures, if any request failed.
    pub fn incomplete(&self) -> Option<Incomplete> {
        let restores = self.restored.as_ref().map(|r| r.failed.len());
        let deletions = self.deleted.failed.len();
        (deletions > 0 || restores.unwrap_or(0) > 0).then_some(Incomplete {
            deletions,
            restores,
        })
    }
}

/// What the run created and wrote, printed before anything is sent; a dry run lists every
/// subject and changed value and says nothing was sent.
pub fn preview(plan: &CleanupPlan, scope: &Scope) -> String {
    let mut out = String::new();
    let subjects = &scope.subjects;
    let count = |prefix: &str| subjects.iter().filter(|s| s.starts_with(prefix)).count();
    let _ = writeln!(
        out,
        "Cleanup of run {} of {} at {}: {} subjects the run created ({} orders, {} order lines, {} customers), {} of them removed by the run itself",
        plan.run_id,
        plan.trace.display(),
        crate::units::redact_url(&plan.api.api_url),
        subjects.len(),
        count(ids::ORDER),
        count(ids::ORDER_LINE),
        count(ids::CUSTOMER),
        scope.removed_by_run,
    );
    let changed = &scope.changed;
    let shown = plan.values_listed(changed.len());
    if plan.restore_stock {
        let _ = writeln!(
            out,
            "Stock levels the run wrote, to be put back as the trace's world recorded them: {}",
            scope.restores.len()
        );
        for r in scope.restores.iter().take(shown) {
            let _ = writeln!(
                out,
                "  {} stock_level {} -> {}",
                r.subject, r.run_wrote, r.level
            );
        }
    } else {
        let _ = writeln!(
            out,
            "Values the run wrote to stock data, left as they are: {}",
            changed.len()
        );
        for c in changed.iter().take(shown) {
            let _ = writeln!(out, "  {} {} = {}", c.subject, c.predicate, c.value);
        }
    }
    if changed.len() > shown {
        let _ = writeln!(
            out,
            "  … and {} more (--dry-run lists them all)",
            changed.len() - shown
        );
    }
    if plan.dry_run {
        out.push_str("Would delete:\n");
        for s in subjects {
            let _ = writeln!(out, "  {s}");
        }
        out.push_str("Dry run: nothing was sent\n");
    }
    out
}

/// How the requests went: the counts and up to [`EXAMPLES`] failures of each kind of
/// request, and what to do when some failed.
pub fn summary(outcome: &CleanupOutcome) -> String {
    let mut out = String::new();
    let deleted = &outcome.deleted;
    let _ = writeln!(
        out,
        "Deleted: {}, already gone: {}, failed: {} ({} retries)",
        deleted.deleted,
        deleted.already_gone,
        deleted.failed.len(),
        deleted.retries
    );
    for f in deleted.failed.iter().take(EXAMPLES) {
        let _ = writeln!(out, "  failed {}: {}: {}", f.subject, f.category, f.detail);
    }
    if let Some(restored) = &outcome.restored {
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
    if outcome.incomplete().is_some() {
        out.push_str("Cleanup incomplete: run it again to retry the failed requests\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::cleanup::{ChangedValue, FailedDelete};
    use crate::api::restore::{FailedRestore, Restore};
    use crate::plan::cleanup::tests::plan;

    fn changed(n: usize) -> Vec<ChangedValue> {
        (0..n)
            .map(|i| ChangedValue {
                subject: format!("inventory:INV-{i:06}"),
                predicate: "stock_level".into(),
                value: format!("{i}"),
            })
            .collect()
    }

    fn scope(changed: Vec<ChangedValue>) -> Scope {
        Scope {
            subjects: vec![
                "orderline:LG-r1-000007-01".into(),
                "orderline:LG-r1-000007-02".into(),
                "order:LG-r1-000007".into(),
                "customer:LG-r1-000003".into(),
            ],
            removed_by_run: 1,
            changed,
            restores: Vec::new(),
        }
    }

    const HEADING: &str = "Cleanup of run r1 of t.trace at http://127.0.0.1:9: 4 subjects the run created (1 orders, 2 order lines, 1 customers), 1 of them removed by the run itself\n";

    #[test]
    fn a_real_run_lists_ten_changed_values_and_sends_on() {
        let p = plan(&["--run-id", "r1", "--api-url", "http://u:secret@127.0.0.1:9"]).unwrap();
        let text = preview(&p, &scope(changed(12)));
        let heading = HEADING.replace("http://", "http://[redacted]@");
        let mut want = heading + "Values the run wrote to stock data, left as they are: 12\n";
        for i in 0..10 {
            want += &format!("  inventory:INV-{i:06} stock_level = {i}\n");
        }
        want += "  … and 2 more (--dry-run lists them all)\n";
        assert_eq!(text, want);
        assert!(!text.contains("secret"));
    }

    #[test]
    fn a_dry_run_lists_everything_and_says_nothing_was_sent() {
        let p = plan(&[
            "--run-id",
            "r1",
            "--api-url",
            "http://127.0.0.1:9",
            "--dry-run",
        ])
        .unwrap();
        let text = preview(&p, &scope(changed(1)));
        assert_eq!(
            text,
            format!(
                "{HEADING}Values the run wrote to stock data, left as they are: 1\n  \
                 inventory:INV-000000 stock_level = 0\nWould delete:\n  \
                 orderline:LG-r1-000007-01\n  orderline:LG-r1-000007-02\n  \
                 order:LG-r1-000007\n  customer:LG-r1-000003\nDry run: nothing was sent\n"
            )
        );
    }

    #[test]
    fn restore_stock_lists_the_levels_to_put_back() {
        let args = ["--run-id", "r1", "--api-url", "http://127.0.0.1:9"];
        let p = plan(&[&args[..], &["--restore-stock"]].concat()).unwrap();
        let mut s = scope(changed(11));
        s.restores = (0..11)
            .map(|i| Restore {
                subject: format!("inventory:INV-{i:06}"),
                level: 100 + i,
                run_wrote: format!("{i}"),
            })
            .collect();
        let text = preview(&p, &s);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 1 + 10 + 1, "{text}");
        assert_eq!(
            lines[1],
            "Stock levels the run wrote, to be put back as the trace's world recorded them: 11"
        );
        assert_eq!(lines[2], "  inventory:INV-000000 stock_level 0 -> 100");
        assert_eq!(lines[11], "  inventory:INV-000009 stock_level 9 -> 109");
        assert_eq!(lines[12], "  … and 1 more (--dry-run lists them all)");
    }

    fn failed_delete(i: usize) -> FailedDelete {
        FailedDelete {
            subject: format!("order:LG-r1-{i:06}"),
            category: "http_503".into(),
            detail: format!("DELETE /x/{i} -> 503: busy"),
        }
    }

    #[test]
    fn a_complete_cleanup_is_one_line_and_no_error() {
        let outcome = CleanupOutcome {
            deleted: DeleteSummary {
                deleted: 40,
                already_gone: 2,
                retries: 3,
                failed: vec![],
            },
            restored: None,
        };
        assert_eq!(
            summary(&outcome),
            "Deleted: 40, already gone: 2, failed: 0 (3 retries)\n"
        );
        assert_eq!(outcome.incomplete(), None);
        let restored = CleanupOutcome {
            restored: Some(RestoreSummary {
                restored: 5,
                retries: 1,
                failed: vec![],
            }),
            ..outcome
        };
        assert_eq!(
            summary(&restored),
            "Deleted: 40, already gone: 2, failed: 0 (3 retries)\n\
             Stock levels restored: 5, failed: 0 (1 retries)\n"
        );
        assert_eq!(restored.incomplete(), None);
    }

    #[test]
    fn failures_are_counted_ten_are_shown_and_the_cleanup_is_incomplete() {
        let outcome = CleanupOutcome {
            deleted: DeleteSummary {
                deleted: 1,
                already_gone: 0,
                retries: 24,
                failed: (0..12).map(failed_delete).collect(),
            },
            restored: None,
        };
        let text = summary(&outcome);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 10 + 1, "{text}");
        assert_eq!(
            lines[0],
            "Deleted: 1, already gone: 0, failed: 12 (24 retries)"
        );
        assert_eq!(
            lines[1],
            "  failed order:LG-r1-000000: http_503: DELETE /x/0 -> 503: busy"
        );
        assert_eq!(
            lines[11],
            "Cleanup incomplete: run it again to retry the failed requests"
        );
        let err = outcome.incomplete().unwrap();
        assert_eq!(err.to_string(), "cleanup incomplete: 12 deletions failed");

        let restores_failed = CleanupOutcome {
            deleted: DeleteSummary::default(),
            restored: Some(RestoreSummary {
                restored: 2,
                retries: 2,
                failed: vec![FailedRestore {
                    subject: "inventory:INV-000001".into(),
                    category: "timeout".into(),
                    detail: "PUT timed out".into(),
                }],
            }),
        };
        assert_eq!(
            summary(&restores_failed),
            "Deleted: 0, already gone: 0, failed: 0 (0 retries)\n\
             Stock levels restored: 2, failed: 1 (2 retries)\n  \
             failed inventory:INV-000001: timeout: PUT timed out\n\
             Cleanup incomplete: run it again to retry the failed requests\n"
        );
        assert_eq!(
            restores_failed.incomplete().unwrap().to_string(),
            "cleanup incomplete: 0 deletions and 1 stock restores failed"
        );
    }
}
