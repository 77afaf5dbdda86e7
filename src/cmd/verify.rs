//! `loadgen verify`: the plan, the trace folded into the state it implies, the API read and
//! compared (`verify`), the outcome printed and reported. Exit 0 only when they agree; 1 when
//! they do not or the API cannot be read.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::api::reads::{observe_rest, read_orders};
use crate::cli::VerifyArgs;
use crate::error::CommandError;
use crate::plan::verify::VerifyPlan;
use crate::verify::{Findings, Subjects, Verification};

/// Events between two updates of the trace spinner.
const PROGRESS_EVERY: u64 = 1 << 14;

/// A bar (`None`: a spinner) on stderr when it is a terminal, hidden otherwise (logs and
/// pipes stay clean); `cleanup` shows its progress with it too.
pub(super) fn progress(len: Option<u64>, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(template).expect("static template");
    len.map_or_else(ProgressBar::new_spinner, ProgressBar::new)
        .with_style(style)
}

pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let plan = VerifyPlan::new(args)?;
    plan.check_paths()?;
    let args = &plan.args;
    let reader =
        crate::plan::client::api_reader(&args.auth, &args.api_url, args.timeout, args.retries)?;
    // The header and the window are checked first (usage and input errors, exit 2); then the
    // API's health, so that an API that is not there fails at once, before a long trace is read.
    let mut trace = plan.open_trace()?;
    let runtime = super::runtime()?;
    runtime.block_on(super::session::gate(&reader))?;
    let bar = progress(None, "{spinner} reading the trace: {pos} events");
    let folded = trace.read_expected(PROGRESS_EVERY, |n| bar.set_position(n))?;
    bar.finish_and_clear();
    let expected = trace.expected(folded)?;

    let (world, run) = (&trace.header.world, Some(args.run_id.as_str()));
    let subjects = Subjects { world, run };
    let template = "{bar:40} {pos}/{len} orders read ({per_sec}, eta {eta})";
    let bar = progress(Some(expected.orders.len() as u64), template);
    let mut findings = Findings::new(subjects, &expected);
    let orders = expected.order_ids(&subjects);
    let customers = expected.customer_ids(&subjects);
    let inventory = expected.inventory_ids(&subjects);
    let observed = runtime.block_on(async {
        read_orders(&reader, orders, args.parallel, |n, got| {
            bar.inc(1);
            findings.order(n, got.as_ref());
        })
        .await?;
        observe_rest(&reader, &args.run_id, &customers, &inventory).await
    });
    bar.finish_and_clear();
    // Whatever keeps the API from being read (faults past the retries, answers of the wrong
    // shape) fails the verification; it says nothing about the trace.
    let observed =
        observed.map_err(|e| CommandError::run_failed(format!("cannot read the API: {e}")))?;
    let (url, findings) = (reader.shown_url(), findings.finish(&observed));
    let verification = Verification::new(&args.trace, url, &args.run_id, &expected, findings);
    crate::out!("{}", verification.summary());
    if let Some(path) = &args.report {
        crate::output::write_file(path, verification.report_json()?.as_bytes())?;
    }
    crate::out!("{}", verification.verdict());
    (verification.disagreement()).map_or(Ok(()), |e| Err(CommandError::run_failed(e)))
}
