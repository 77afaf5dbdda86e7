//! How a run ends: its result's summary and threshold verdicts on the console, the result
//! written as the report, and the verdict the exit code comes from (a breached threshold, a
//! success rate under `--min-success`, a replay a signal left unfinished).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{CommandError, StopSignal};
use crate::output::OutputError;
use crate::result::RunResult;
use crate::threshold::ThresholdPlan;

/// The verdict on a finished run.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Passed,
    /// The thresholds breached (exit 99).
    Breached(Vec<String>),
    /// The success rate is under `--min-success` (exit 1).
    UnderMinimum {
        rate: f64,
        min_success: f64,
    },
    /// A signal stopped a replay before all its selected events were sent (exit 130, 143).
    Unfinished {
        signal: StopSignal,
        unfinished: u64,
        /// The checkpoint a resume continues from, if the run keeps one.
        checkpoint: Option<PathBuf>,
    },
}

/// The report could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write report {}", path.display())]
pub struct ReportError {
    path: PathBuf,
    #[source]
    source: OutputError,
}

/// Prints the summary of a result (a run's, or a merge's) with the verdicts of its
/// thresholds, writes it as the report, and judges it: a breached threshold comes before
/// `--min-success` (the thresholds are the gate a user asked for).
pub fn conclude(
    mut result: RunResult,
    report_to: Option<&Path>,
    min_success: f64,
    thresholds: &ThresholdPlan,
) -> Result<Verdict, ReportError> {
    let evaluation = result.apply_thresholds(thresholds);
    let result = &result;
    crate::out!("{}", crate::report::final_summary(result));
    crate::out!(
        "{}",
        crate::result::thresholds::summary_lines(&result.thresholds)
    );
    if let Some(path) = report_to {
        result.write(path).map_err(|source| ReportError {
            path: path.to_path_buf(),
            source,
        })?;
        crate::outln!("Report written to {}", path.display());
    }
    let breached = evaluation.breached();
    if !breached.is_empty() {
        return Ok(Verdict::Breached(
            breached.into_iter().map(String::from).collect(),
        ));
    }
    let rate = result.success_rate;
    if rate < min_success {
        crate::outln!(
            "Success rate {:.1}% is under the minimum of {:.1}%",
            rate * 100.0,
            min_success * 100.0
        );
        return Ok(Verdict::UnderMinimum { rate, min_success });
    }
    Ok(Verdict::Passed)
}

impl Verdict {
    /// A replay a signal stopped with `unfinished` selected events not sent or cut off is
    /// unfinished, whatever the verdict on the part it ran, so a supervisor (a Kubernetes
    /// Indexed Job would take exit 0 for a finished index) runs it again.
    pub fn unless_stopped(
        self,
        stopped_by: Option<StopSignal>,
        unfinished: u64,
        checkpoint: Option<&Path>,
    ) -> Verdict {
        match (stopped_by, unfinished) {
            (Some(signal), 1..) => Verdict::Unfinished {
                signal,
                unfinished,
                checkpoint: checkpoint.map(Path::to_path_buf),
            },
            _ => self,
        }
    }

    /// The verdict as `main` maps it to an exit code.
    pub fn into_result(self) -> Result<(), CommandError> {
        match self {
            Verdict::Passed => Ok(()),
            Verdict::Breached(breached) => Err(CommandError::ThresholdBreached(format!(
                "threshold breached: {}",
                breached.join(", ")
            ))),
            Verdict::UnderMinimum { rate, min_success } => Err(CommandError::RunFailed(format!(
                "success rate {:.1}% is under --min-success {:.1}%",
                rate * 100.0,
                min_success * 100.0
            ))),
            Verdict::Unfinished {
                signal,
                unfinished,
                checkpoint,
            } => Err(CommandError::Unfinished {
                signal,
                unfinished,
                resume: checkpoint.map_or_else(String::new, |path| {
                    format!(": resume with `loadgen replay --resume {}`", path.display())
                }),
            }),
        }
    }
}

/// What the propagation probes saw (`None`: the run sent none), once the last of them gave
/// up or succeeded.
pub async fn visibility(
    probes: Option<&crate::api::probe::ProbeStats>,
    give_up: Duration,
) -> Option<crate::result::Visibility> {
    match probes {
        Some(stats) => Some(probe_visibility(stats, give_up).await),
        None => None,
    }
}

/// What the propagation probes saw, once the last of them gave up or succeeded.
async fn probe_visibility(
    stats: &crate::api::probe::ProbeStats,
    give_up: Duration,
) -> crate::result::Visibility {
    // Every probe gives up after --probe-timeout; wait for the last ones.
    let _ = tokio::time::timeout(give_up + Duration::from_secs(1), stats.wait_idle()).await;
    crate::result::Visibility::of(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    fn class(verdict: Verdict) -> (ErrorClass, String) {
        let err: anyhow::Error = verdict.into_result().unwrap_err().into();
        (CommandError::class_of(&err), err.to_string())
    }

    #[test]
    fn verdicts_map_to_their_classes_and_messages() {
        assert!(Verdict::Passed.into_result().is_ok());
        let breached = Verdict::Breached(vec!["p95<10ms".into(), "errors<1%".into()]);
        assert_eq!(
            class(breached),
            (
                ErrorClass::ThresholdBreached,
                "threshold breached: p95<10ms, errors<1%".into()
            )
        );
        let under = Verdict::UnderMinimum {
            rate: 0.5,
            min_success: 0.95,
        };
        assert_eq!(
            class(under),
            (
                ErrorClass::RunFailed,
                "success rate 50.0% is under --min-success 95.0%".into()
            )
        );
    }

    #[test]
    fn a_stop_with_events_left_overrides_the_verdict_on_the_part_run() {
        let under = || Verdict::UnderMinimum {
            rate: 0.5,
            min_success: 0.95,
        };
        let checkpoint = Path::new("/runs/CHECKPOINT");
        for verdict in [
            Verdict::Passed,
            Verdict::Breached(vec!["x".into()]),
            under(),
        ] {
            let stopped = verdict.unless_stopped(Some(StopSignal::Terminate), 3, Some(checkpoint));
            assert_eq!(
                class(stopped),
                (
                    ErrorClass::Stopped(StopSignal::Terminate),
                    "stopped by SIGTERM with 3 selected events not sent or cut off in flight: \
                     resume with `loadgen replay --resume /runs/CHECKPOINT`"
                        .into()
                )
            );
        }
        let no_checkpoint = Verdict::Passed.unless_stopped(Some(StopSignal::Interrupt), 1, None);
        assert_eq!(
            class(no_checkpoint).1,
            "stopped by SIGINT with 1 selected events not sent or cut off in flight"
        );
        // Everything sent, or no signal: the verdict stands.
        assert_eq!(
            under().unless_stopped(Some(StopSignal::Interrupt), 0, None),
            under()
        );
        assert_eq!(under().unless_stopped(None, 5, None), under());
    }
}
