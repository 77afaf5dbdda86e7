//! `loadgen merge r0.json r1.json … -o total.json`: reads every shard's result, adds them up
//! (`result::merge`), prints the final summary of the whole run and writes its result.

use crate::cli::MergeArgs;
use crate::error::CommandError;
use crate::result::merge::merge_files;

pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let inputs: Vec<(&'static str, &std::path::Path)> = args
        .results
        .iter()
        .map(|p| ("a result", p.as_path()))
        .collect();
    let outputs: Vec<(&'static str, &std::path::Path)> =
        args.output.iter().map(|p| ("-o", p.as_path())).collect();
    crate::output::check_paths(&inputs, &outputs)?;
    let thresholds = super::session::threshold_plan(&args.thresholds)?;
    let merged = merge_files(&args.results).map_err(|e| CommandError::Input(e.to_string()))?;
    super::session::finish(
        merged,
        args.output.as_deref(),
        args.min_success,
        &thresholds,
    )
}
