//! What the result arguments (`--threshold`, `--thresholds`, `--tag`, `--abort-on-threshold`)
//! settle into: the threshold plan, the result's labels, and the abort watch.

use std::collections::BTreeMap;

use super::PlanError;
use crate::cli::{ResultArgs, ThresholdArgs};
use crate::result::thresholds::AbortWatch;
use crate::threshold::{ThresholdError, ThresholdPlan};

/// The thresholds of `--threshold` and `--thresholds`, checked before any work: a malformed
/// expression is bad usage (`PlanError::Usage`), a file that cannot be read or parsed bad
/// input (`PlanError::Thresholds`).
pub fn threshold_plan(args: &ThresholdArgs) -> Result<ThresholdPlan, PlanError> {
    ThresholdPlan::from_args(&args.threshold, &args.thresholds).map_err(|e| match e {
        ThresholdError::Expr(_) => PlanError::Usage(e.to_string()),
        _ => PlanError::Thresholds(e),
    })
}

/// The thresholds of a run (`replay`, `start`), with `--abort-on-threshold` checked against
/// them here, before any work: refused later, it would come after the health check and the
/// checkpoint it writes.
pub fn run_thresholds(args: &ResultArgs) -> Result<ThresholdPlan, PlanError> {
    let plan = threshold_plan(&args.thresholds)?;
    abort_needs_thresholds(args, &plan)?;
    Ok(plan)
}

fn abort_needs_thresholds(args: &ResultArgs, plan: &ThresholdPlan) -> Result<(), PlanError> {
    if args.abort_on_threshold && plan.is_empty() {
        return Err(PlanError::usage(
            "--abort-on-threshold needs a --threshold or --thresholds",
        ));
    }
    Ok(())
}

/// The run's `--abort-on-threshold` watch, if asked for; `bound` is at most how many events
/// the run can end (`None` when nothing bounds it: then no threshold is ever given up on).
pub fn abort_watch(
    args: &ResultArgs,
    plan: &ThresholdPlan,
    bound: Option<u64>,
) -> Result<Option<AbortWatch>, PlanError> {
    if !args.abort_on_threshold {
        return Ok(None);
    }
    abort_needs_thresholds(args, plan)?;
    Ok(Some(AbortWatch::new(plan.clone(), bound)))
}

/// The labels of `--tag KEY=VALUE`; a key given twice is refused.
pub fn tags(args: &ResultArgs) -> Result<BTreeMap<String, String>, PlanError> {
    let mut tags = BTreeMap::new();
    for (key, value) in &args.tags {
        if tags.insert(key.clone(), value.clone()).is_some() {
            return Err(PlanError::usage(format!("--tag {key}=... is given twice")));
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{CommandError, ErrorClass};

    fn class(err: PlanError) -> (ErrorClass, String) {
        let err: anyhow::Error = err.into();
        (CommandError::class_of(&err), format!("{err:#}"))
    }

    fn result_args(tags: &[(&str, &str)], abort: bool) -> ResultArgs {
        ResultArgs {
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            abort_on_threshold: abort,
            ..ResultArgs::default()
        }
    }

    #[test]
    fn a_bad_expression_is_usage_and_an_unreadable_file_input() {
        let expr = ThresholdArgs {
            threshold: vec!["p99<<5ms".into()],
            ..ThresholdArgs::default()
        };
        let (class_of, message) = class(threshold_plan(&expr).unwrap_err());
        assert_eq!(class_of, ErrorClass::Usage);
        assert!(message.starts_with("threshold `p99<<5ms`"), "{message}");
        let file = ThresholdArgs {
            thresholds: vec!["/nonexistent/t.toml".into()],
            ..ThresholdArgs::default()
        };
        let (class_of, message) = class(threshold_plan(&file).unwrap_err());
        assert_eq!(class_of, ErrorClass::Input);
        // One line, as before: the file's error and its cause, not the cause again.
        assert!(
            message.starts_with("cannot read /nonexistent/t.toml: "),
            "{message}"
        );
        assert_eq!(message.matches("No such file").count(), 1, "{message}");
        let plan = threshold_plan(&ThresholdArgs {
            threshold: vec!["p99<500ms".into()],
            ..ThresholdArgs::default()
        })
        .unwrap();
        assert!(!plan.is_empty());
    }

    #[test]
    fn tags_are_kept_in_key_order_and_a_key_twice_is_refused() {
        let tags = tags(&result_args(&[("env", "ci"), ("build", "7")], false)).unwrap();
        assert_eq!(
            tags.into_iter().collect::<Vec<_>>(),
            [("build".into(), "7".into()), ("env".into(), "ci".into())]
        );
        let twice = super::tags(&result_args(&[("env", "a"), ("env", "b")], false));
        assert_eq!(
            class(twice.unwrap_err()),
            (ErrorClass::Usage, "--tag env=... is given twice".into())
        );
    }

    #[test]
    fn the_abort_watch_needs_thresholds() {
        let none = ThresholdPlan::default();
        assert!(abort_watch(&result_args(&[], false), &none, Some(3))
            .unwrap()
            .is_none());
        let Err(err) = abort_watch(&result_args(&[], true), &none, Some(3)) else {
            panic!("--abort-on-threshold without thresholds was accepted");
        };
        assert_eq!(
            class(err),
            (
                ErrorClass::Usage,
                "--abort-on-threshold needs a --threshold or --thresholds".into()
            )
        );
        let plan = threshold_plan(&ThresholdArgs {
            threshold: vec!["success>=99%".into()],
            ..ThresholdArgs::default()
        })
        .unwrap();
        assert!(abort_watch(&result_args(&[], true), &plan, None)
            .unwrap()
            .is_some());
    }
}
