//! Which shard a process is: `--shard I/N`, or `--shard-count N` with the index from
//! `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job gives each pod its index there).

use super::PlanError;
use crate::causal::Shard;

/// The shard `--shard` or `--shard-count` names, if either is given.
pub fn resolve(
    shard: Option<Shard>,
    shard_count: Option<u32>,
    job_completion_index: Option<&str>,
) -> Result<Option<Shard>, PlanError> {
    match (shard, shard_count) {
        (Some(_), Some(_)) => Err(PlanError::usage(
            "--shard I/N and --shard-count N: give one (--shard-count takes the index from JOB_COMPLETION_INDEX)",
        )),
        (Some(shard), None) => Ok(Some(shard)),
        (None, Some(count)) => {
            let Some(text) = job_completion_index else {
                return Err(PlanError::usage(format!(
                    "--shard-count {count}: JOB_COMPLETION_INDEX is not set (a Kubernetes Indexed Job sets it); give --shard I/{count} instead"
                )));
            };
            let index: u32 = text.trim().parse().map_err(|_| {
                PlanError::usage(format!(
                    "JOB_COMPLETION_INDEX `{text}` is not a shard index (0, 1, 2, ...)"
                ))
            })?;
            Shard::new(index, count)
                .map(Some)
                .map_err(|e| PlanError::usage(format!("JOB_COMPLETION_INDEX {index}: {e}")))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_the_flag_or_the_job_index() {
        let two_of_four = Shard { index: 2, count: 4 };
        assert_eq!(
            resolve(Some(two_of_four), None, Some("1")).unwrap(),
            Some(two_of_four)
        );
        assert_eq!(
            resolve(None, Some(4), Some("2")).unwrap(),
            Some(two_of_four)
        );
        assert_eq!(resolve(None, None, Some("2")).unwrap(), None);
        let refused = [
            (Some(two_of_four), Some(4), Some("2"), "give one"),
            (None, Some(4), None, "JOB_COMPLETION_INDEX is not set"),
            (None, Some(4), Some("x"), "not a shard index"),
            (None, Some(4), Some("4"), "not below the shard count 4"),
        ];
        for (shard, count, index, says) in refused {
            let err = resolve(shard, count, index).unwrap_err();
            assert!(matches!(err, PlanError::Usage(_)), "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
