//! `loadgen verify`: fold the trace into the state it implies, read the API, compare.
//! Exit 0 only when they agree; 1 when they do not or the API cannot be read.

use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use crate::cli::VerifyArgs;
use crate::replay::window::{TraceWindow, WindowFilter};
use crate::sim::time::Calendar;
use crate::trace::input::TraceInput;
use crate::verify::{compare, ExpectedState, Finding, FindingKind};

/// Examples of each kind printed on the console (the report has them all).
const EXAMPLES: usize = 10;

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

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    super::replay::validate_run_id(&args.run_id)?;
    let mut inputs = vec![("the trace", args.trace.as_path())];
    if let Some(path) = &args.auth.ca_cert {
        inputs.push(("--ca-cert", path.as_path()));
    }
    if let Some(path) = &args.report {
        crate::output::check_paths(&inputs, &[("--report", path)])?;
    }
    let input =
        TraceInput::open(&args.trace).with_context(|| format!("trace {}", args.trace.display()))?;
    let name = input.name();
    let context = || format!("trace {name}");
    let mut reader = input.read_once().with_context(context)?;
    let header = reader.header().clone();
    let calendar = Calendar::new(header.start_instant()?);
    let window: TraceWindow =
        TraceWindow::resolve(&calendar, args.from, args.to, header.duration_ms)
            .with_context(context)?;
    let mut filter = WindowFilter::new(window);
    let mut expected = ExpectedState::default();
    let (mut selected, mut span) = (0u64, None::<(u64, u64)>);
    while let Some(event) = reader.next_event().with_context(context)? {
        let at = event.at.as_ms();
        span = Some((span.map_or(at, |(first, _)| first), at));
        if filter.admit(&event) {
            selected += 1;
            expected.apply(&header.world, Some(&args.run_id), &event);
        }
    }
    if selected == 0 {
        return Err(window.no_events(&calendar, span)).with_context(context);
    }

    let client = super::plain_client(&args.auth, args.timeout)?;
    let observed = match super::runtime()?.block_on(crate::api::reads::observe(
        &client,
        &args.api_url,
        &args.run_id,
        &expected,
        args.parallel,
    )) {
        Ok(observed) => observed,
        Err(err) => {
            eprintln!("error: cannot read the API: {err}");
            return Ok(ExitCode::from(super::EXIT_FAILED));
        }
    };
    let findings = compare(&expected, &observed);
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
        args.api_url,
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
            api_url: &args.api_url,
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
        Ok(ExitCode::SUCCESS)
    } else {
        crate::outln!("The API does not agree with the trace");
        Ok(ExitCode::from(super::EXIT_FAILED))
    }
}
