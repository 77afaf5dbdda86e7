//! `loadgen compare base.json new.json [--noise 5%] [--format text|md|json] [-o compare.html]`:
//! the comparison (`result::compare`) printed, optionally as an HTML page with both runs
//! overlaid; thresholds are checked on the new run. Exit 99 on a breach, 3 on a regression.

use std::path::Path;

use crate::cli::{CompareArgs, CompareFormat};
use crate::error::CommandError;
use crate::html::Block;
use crate::result::compare::compare;
use crate::result::render::{self, Named};
use crate::stats::NoiseRule;

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let inputs = [
        ("the base", args.base.as_path()),
        ("the new", args.new.as_path()),
    ];
    let outputs: Vec<(&'static str, &Path)> =
        args.output.iter().map(|p| ("-o", p.as_path())).collect();
    crate::output::check_paths(&inputs, &outputs)?;
    let thresholds = super::session::threshold_plan(&args.thresholds)?;
    let mut results = super::report::read_all(&[args.base.clone(), args.new.clone()])?;
    let mut new = results.pop().expect("two results");
    let base = results.pop().expect("two results");
    let evaluation = new.apply_thresholds(&thresholds);
    let (base_name, new_name) = (
        super::report::name_of(&args.base),
        super::report::name_of(&args.new),
    );
    let rule = NoiseRule {
        noise: args.noise,
        ..NoiseRule::default()
    };
    let comparison = compare((&base_name, &base), (&new_name, &new), &rule);
    let printed = match args.format {
        CompareFormat::Text => comparison.text(),
        CompareFormat::Md => comparison.markdown(),
        CompareFormat::Json => comparison.json() + "\n",
    };
    crate::out!("{printed}");
    if !new.thresholds.is_empty() && args.format != CompareFormat::Json {
        crate::out!(
            "Thresholds on the new run: {}",
            crate::result::thresholds::summary_lines(&new.thresholds)
        );
    }
    if let Some(path) = &args.output {
        let named = [
            Named {
                name: base_name.clone(),
                result: &base,
            },
            Named {
                name: new_name.clone(),
                result: &new,
            },
        ];
        let mut page = render::html_page(&named).map_err(CommandError::run_failed)?;
        page.title = format!("loadgen compare: {base_name} -> {new_name}");
        page.blocks.insert(0, Block::Table(comparison.table()));
        page.blocks.insert(0, Block::Heading("Comparison".into()));
        crate::output::write_file(path, page.render().as_bytes())?;
        eprintln!("Comparison written to {}", path.display());
    }
    let breached = evaluation.breached();
    if !breached.is_empty() {
        return Err(CommandError::ThresholdBreached(format!(
            "threshold breached on {new_name}: {}",
            breached.join(", ")
        ))
        .into());
    }
    let regressions = comparison.regressions();
    if !regressions.is_empty() {
        let what: Vec<&str> = regressions.iter().map(|r| r.metric.as_str()).collect();
        return Err(CommandError::Regressed(format!(
            "{new_name} regressed against {base_name}: {}",
            what.join(", ")
        ))
        .into());
    }
    Ok(())
}
