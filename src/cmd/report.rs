//! `loadgen report r.json [more.json ...] [-o run.html] [--format html|md|text]`: reads result
//! documents and renders them (`result::render`), written atomically, never over an input.

use std::path::{Path, PathBuf};

use crate::cli::{ReportArgs, ReportFormat};
use crate::error::CommandError;
use crate::result::render::{self, Named};
use crate::result::RunResult;

/// Reads every result, failing (exit 2) on the first that cannot be read.
pub fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<RunResult>> {
    paths
        .iter()
        .map(|p| RunResult::read(p).map_err(|e| CommandError::Input(e.to_string()).into()))
        .collect()
}

/// How a result is named in a page: its path as given.
pub fn name_of(path: &Path) -> String {
    path.display().to_string()
}

/// Writes `text` to `output` (atomically), or to standard output when there is none or it
/// is `-`.
pub fn emit(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) if !crate::output::is_std_stream(path) => {
            crate::output::write_file(path, text.as_bytes())?;
            eprintln!("Written to {}", path.display());
        }
        _ => crate::out!("{text}"),
    }
    Ok(())
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let output = match (&args.output, args.format) {
        (None, ReportFormat::Html) => Some(PathBuf::from("run.html")),
        (o, _) => o.clone(),
    };
    let inputs: Vec<(&'static str, &Path)> = args
        .results
        .iter()
        .map(|p| ("a result", p.as_path()))
        .collect();
    let outputs: Vec<(&'static str, &Path)> = output.iter().map(|p| ("-o", p.as_path())).collect();
    crate::output::check_paths(&inputs, &outputs)?;
    let results = read_all(&args.results)?;
    let named: Vec<Named> = args
        .results
        .iter()
        .zip(&results)
        .map(|(path, result)| Named {
            name: name_of(path),
            result,
        })
        .collect();
    let text = match args.format {
        ReportFormat::Html => render::html(&named).map_err(CommandError::run_failed)?,
        ReportFormat::Md => render::markdown(&named),
        ReportFormat::Text => named
            .iter()
            .map(|n| render::text(n.result))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    emit(output.as_deref(), &text)
}
