//! `loadgen verify`: fold the trace into the state it implies, read the API, compare.
//! Exit 0 only when they agree; 1 when they do not or the API cannot be read.

use std::io::IsTerminal;

use anyhow::Context;
use serde::Serialize;

use crate::cli::VerifyArgs;
use crate::plan::verify::VerifyPlan;
use crate::trace::input::TraceInput;
use crate::verify::{compare_order, compare_rest, ExpectedState, Finding, FindingKind, Subjects};

/// Examples of each kind printed on the console (the report has them all).
const EXAMPLES: usize = 10;
/// Events between two updates of the trace spinner.
const PROGRESS_EVERY: u64 = 1 << 14;

#[derive(Serialize)]
struct VerifyReport<'a> {
    trace: &'a std::path::Path,
    api_url: &'a str,
    run_id: &'a str,
    orders: usize,
    customers: usize,
    inventory_items: usize,
    missing: usize,
    mismatched: usize,
    unexpected: usize,
    agree: bool,
    findings: &'a [Finding],
}

/// A bar on stderr when it is a terminal, hidden otherwise (logs and pipes stay clean).
fn progress(len: Option<u64>, template: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("static template"));
    bar
}

pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let plan = VerifyPlan::new(args)?;
    let (inputs, outputs) = plan.paths();
    crate::output::check_paths(&inputs, &outputs)?;
    let args = &plan.args;
    let reader = super::api_reader(&args.auth, &args.api_url, args.timeout, args.retries)?;
    let api_url = reader.shown_url().to_string();
    // The header and the window are checked first (usage and input errors, exit 2); then the
    // API's health, so that an API that is not there fails at once, before a long trace is read.
    let input =
        TraceInput::open(&args.trace).with_context(|| format!("trace {}", args.trace.display()))?;
    let name = input.name();
    let context = || format!("trace {name}");
    let mut trace = input.read_once().with_context(context)?;
    let header = trace.header().clone();
    let (calendar, spec) = plan.selection(&header, &name)?;
    let window = spec.window;
    let runtime = super::runtime()?;
    runtime.block_on(super::session::gate(&reader))?;
    let mut expected = ExpectedState::default();
    let bar = progress(None, "{spinner} reading the trace: {pos} events");
    let (mut selected, mut span) = (0u64, None::<(u64, u64)>);
    spec.start()
        .read(&mut trace, |verdict, event| {
            let at = event.at.as_ms();
            span = Some((span.map_or(at, |(first, _)| first), at));
            if verdict.selected() {
                selected += 1;
                expected.apply(&header.world, &event);
            }
            if (verdict.seq + 1).is_multiple_of(PROGRESS_EVERY) {
                bar.set_position(verdict.seq + 1);
            }
        })
        .with_context(context)?;
    bar.finish_and_clear();
    if selected == 0 {
        return Err(window.no_events(&calendar, span)).with_context(context);
    }

    let subjects = Subjects {
        world: &header.world,
        run: Some(&args.run_id),
    };
    let bar = progress(
        Some(expected.orders.len() as u64),
        "{bar:40} {pos}/{len} orders read ({per_sec}, eta {eta})",
    );
    let mut findings = Vec::new();
    let observed = runtime.block_on(async {
        let ids = expected
            .orders
            .keys()
            .map(|&number| (number, subjects.order(number)));
        crate::api::reads::read_orders(&reader, ids, args.parallel, |number, got| {
            bar.inc(1);
            if let Some(finding) =
                compare_order(&subjects, number, &expected.orders[&number], got.as_ref())
            {
                findings.push((number, finding));
            }
        })
        .await?;
        let mut customers: Vec<String> = expected
            .customers
            .keys()
            .map(|&n| subjects.new_customer(n))
            .collect();
        customers.sort();
        let inventory: Vec<&str> = expected
            .stock_levels
            .keys()
            .map(|&i| subjects.inventory(i))
            .collect();
        crate::api::reads::observe_rest(&reader, &args.run_id, &customers, &inventory).await
    });
    bar.finish_and_clear();
    // Whatever keeps the API from being read (faults past the retries, answers of the wrong
    // shape) fails the verification; it says nothing about the trace.
    let observed = observed.map_err(|err| {
        crate::error::CommandError::RunFailed(format!("cannot read the API: {err}"))
    })?;
    // Reads finish in any order; findings are listed in order number order.
    findings.sort_by_key(|(number, _)| *number);
    let mut findings: Vec<Finding> = findings.into_iter().map(|(_, f)| f).collect();
    findings.extend(compare_rest(&subjects, &expected, &observed));
    let count = |kind| findings.iter().filter(|f| f.kind == kind).count();
    let (missing, mismatched, unexpected) = (
        count(FindingKind::Missing),
        count(FindingKind::Mismatched),
        count(FindingKind::Unexpected),
    );
    crate::outln!(
        "Verified run {} of {} against {}: {} orders, {} new customers, {} inventory items",
        args.run_id,
        args.trace.display(),
        api_url,
        expected.orders.len(),
        expected.customers.len(),
        expected.stock_levels.len()
    );
    crate::outln!("Missing: {missing}, mismatched: {mismatched}, unexpected: {unexpected}");
    for kind in [
        FindingKind::Missing,
        FindingKind::Mismatched,
        FindingKind::Unexpected,
    ] {
        for f in findings.iter().filter(|f| f.kind == kind).take(EXAMPLES) {
            crate::outln!("  {:?} {}: {}", f.kind, f.subject, f.detail);
        }
    }
    if let Some(path) = &args.report {
        let report = VerifyReport {
            trace: &args.trace,
            api_url: &api_url,
            run_id: &args.run_id,
            orders: expected.orders.len(),
            customers: expected.customers.len(),
            inventory_items: expected.stock_levels.len(),
            missing,
            mismatched,
            unexpected,
            agree: findings.is_empty(),
            findings: &findings,
        };
        crate::output::write_file(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    if findings.is_empty() {
        crate::outln!("The API agrees with the trace");
        Ok(())
    } else {
        crate::outln!("The API does not agree with the trace");
        Err(crate::error::CommandError::RunFailed(format!(
            "the API does not agree with the trace: {missing} missing, {mismatched} mismatched, {unexpected} unexpected"
        ))
        .into())
    }
}
