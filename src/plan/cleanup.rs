//! `cleanup`'s plan: the run id whose subjects are deleted, the replay's window, whether
//! anything is sent (`--dry-run`) and whether stock levels are put back (`--restore-stock`),
//! settled before the trace is read.

use std::path::PathBuf;

use super::PlanError;
use crate::cli::{ApiArgs, CleanupArgs};

/// Failed requests and changed values a real run lists on the console (a dry run lists every
/// changed value).
pub const EXAMPLES: usize = 10;

/// A cleanup's settled arguments.
#[derive(Debug)]
pub struct CleanupPlan {
    pub trace: PathBuf,
    pub api: ApiArgs,
    pub run_id: String,
    /// The replay's window.
    pub from: Option<chrono::NaiveTime>,
    pub to: Option<chrono::NaiveTime>,
    /// List only: nothing is sent.
    pub dry_run: bool,
    /// Requests in flight at once.
    pub parallel: usize,
    pub restore_stock: bool,
}

impl CleanupPlan {
    pub fn new(args: CleanupArgs) -> Result<CleanupPlan, PlanError> {
        super::validate_run_id(&args.run_id)?;
        Ok(CleanupPlan {
            trace: args.trace,
            api: args.api,
            run_id: args.run_id,
            from: args.from,
            to: args.to,
            dry_run: args.dry_run,
            parallel: args.parallel as usize,
            restore_stock: args.restore_stock,
        })
    }

    /// How many of the values the run wrote the console lists: a long run touches thousands
    /// of items, so a real run shows a few and a dry run all of them.
    pub fn values_listed(&self, changed: usize) -> usize {
        if self.dry_run {
            changed
        } else {
            EXAMPLES
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::Parser;

    pub(crate) fn plan(list: &[&str]) -> Result<CleanupPlan, PlanError> {
        let mut argv = vec!["loadgen", "cleanup", "t.trace"];
        argv.extend_from_slice(list);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Cleanup(args) => CleanupPlan::new(args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_arguments_are_settled() {
        let p = plan(&[
            "--run-id",
            "r-1",
            "--from",
            "09:30",
            "--parallel",
            "4",
            "--restore-stock",
            "--api-url",
            "http://127.0.0.1:9",
        ])
        .unwrap();
        assert_eq!(p.trace, PathBuf::from("t.trace"));
        assert_eq!(p.run_id, "r-1");
        assert_eq!(p.from, chrono::NaiveTime::from_hms_opt(9, 30, 0));
        assert_eq!(p.to, None);
        assert_eq!(p.parallel, 4);
        assert!(p.restore_stock && !p.dry_run);
        assert_eq!(p.api.api_url, "http://127.0.0.1:9");
        assert_eq!(p.values_listed(3), EXAMPLES, "a real run lists a few");
        let dry = plan(&["--run-id", "r", "--dry-run"]).unwrap();
        assert_eq!((dry.parallel, dry.values_listed(12_345)), (16, 12_345));
    }

    #[test]
    fn a_run_id_that_cannot_be_a_subject_is_a_usage_error() {
        for bad in ["a b", "x/y", &"z".repeat(33)] {
            let err = plan(&["--run-id", bad]).unwrap_err();
            assert!(matches!(err, PlanError::Usage(_)), "{bad:?}: {err}");
            assert!(
                err.to_string().starts_with(&format!("--run-id `{bad}`")),
                "{err}"
            );
        }
    }
}
