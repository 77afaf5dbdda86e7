//! A verification's outcome as data (what was checked and the findings), and what is rendered
//! from it: the console's lines, the JSON report (`--report`) and the error of a disagreement.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::compare::{Finding, FindingKind};
use super::expected::ExpectedState;

/// Examples of each kind printed on the console (the report has them all).
pub const EXAMPLES: usize = 10;

/// What one verification checked and found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub trace: PathBuf,
    /// As shown (credentials redacted).
    pub api_url: String,
    pub run_id: String,
    pub orders: usize,
    pub customers: usize,
    pub inventory_items: usize,
    /// Orders first (in number order), then customers and stock levels.
    pub findings: Vec<Finding>,
}

/// The API does not hold what the trace implies (exit 1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the API does not agree with the trace: {missing} missing, {mismatched} mismatched, {unexpected} unexpected"
)]
pub struct Disagreement {
    pub missing: usize,
    pub mismatched: usize,
    pub unexpected: usize,
}

#[derive(Serialize)]
struct VerifyReport<'a> {
    trace: &'a Path,
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

const KINDS: [FindingKind; 3] = [
    FindingKind::Missing,
    FindingKind::Mismatched,
    FindingKind::Unexpected,
];

impl Verification {
    /// The outcome of checking `expected` against the API at `api_url`.
    pub fn new(
        trace: &Path,
        api_url: &str,
        run_id: &str,
        expected: &ExpectedState,
        findings: Vec<Finding>,
    ) -> Verification {
        Verification {
            trace: trace.to_path_buf(),
            api_url: api_url.to_string(),
            run_id: run_id.to_string(),
            orders: expected.orders.len(),
            customers: expected.customers.len(),
            inventory_items: expected.stock_levels.len(),
            findings,
        }
    }

    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }

    pub fn agrees(&self) -> bool {
        self.findings.is_empty()
    }

    /// The console's lines before the report is written: what was checked, the counts, and
    /// up to [`EXAMPLES`] findings of each kind.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Verified run {} of {} against {}: {} orders, {} new customers, {} inventory items",
            self.run_id,
            self.trace.display(),
            self.api_url,
            self.orders,
            self.customers,
            self.inventory_items
        );
        let [missing, mismatched, unexpected] = KINDS.map(|kind| self.count(kind));
        let _ = writeln!(
            out,
            "Missing: {missing}, mismatched: {mismatched}, unexpected: {unexpected}"
        );
        for kind in KINDS {
            for f in self
                .findings
                .iter()
                .filter(|f| f.kind == kind)
                .take(EXAMPLES)
            {
                let _ = writeln!(out, "  {:?} {}: {}", f.kind, f.subject, f.detail);
            }
        }
        out
    }

    /// The console's last line, printed once the report is written.
    pub fn verdict(&self) -> &'static str {
        if self.agrees() {
            "The API agrees with the trace\n"
        } else {
            "The API does not agree with the trace\n"
        }
    }

    /// The JSON report: the counts, `agree`, and every finding.
    pub fn report_json(&self) -> serde_json::Result<String> {
        let [missing, mismatched, unexpected] = KINDS.map(|kind| self.count(kind));
        serde_json::to_string_pretty(&VerifyReport {
            trace: &self.trace,
            api_url: &self.api_url,
            run_id: &self.run_id,
            orders: self.orders,
            customers: self.customers,
            inventory_items: self.inventory_items,
            missing,
            mismatched,
            unexpected,
            agree: self.agrees(),
            findings: &self.findings,
        })
    }

    /// The error a disagreement ends the command with; `None` when the API agrees.
    pub fn disagreement(&self) -> Option<Disagreement> {
        let [missing, mismatched, unexpected] = KINDS.map(|kind| self.count(kind));
        (!self.agrees()).then_some(Disagreement {
            missing,
            mismatched,
            unexpected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(kind: FindingKind, subject: &str) -> Finding {
        Finding {
            kind,
            subject: subject.into(),
            detail: format!("detail of {subject}"),
        }
    }

    fn verification(findings: Vec<Finding>) -> Verification {
        Verification {
            trace: "t.trace".into(),
            api_url: "http://127.0.0.1:1".into(),
            run_id: "r1".into(),
            orders: 12,
            customers: 3,
            inventory_items: 4,
            findings,
        }
    }

    #[test]
    fn agreement_renders_the_counts_and_no_error() {
        let v = verification(vec![]);
        assert_eq!(
            v.summary(),
            "Verified run r1 of t.trace against http://127.0.0.1:1: 12 orders, 3 new customers, 4 inventory items\n\
             Missing: 0, mismatched: 0, unexpected: 0\n"
        );
        assert_eq!(v.verdict(), "The API agrees with the trace\n");
        assert_eq!(v.disagreement(), None);
        let report: serde_json::Value = serde_json::from_str(&v.report_json().unwrap()).unwrap();
        assert_eq!(
            report,
            serde_json::json!({
                "trace": "t.trace", "api_url": "http://127.0.0.1:1", "run_id": "r1",
                "orders": 12, "customers": 3, "inventory_items": 4,
                "missing": 0, "mismatched": 0, "unexpected": 0,
                "agree": true, "findings": [],
            })
        );
    }

    #[test]
    fn the_console_shows_ten_of_each_kind_grouped_and_the_report_all() {
        let mut findings: Vec<Finding> = (0..12)
            .map(|i| finding(FindingKind::Missing, &format!("order:{i:02}")))
            .collect();
        findings.insert(1, finding(FindingKind::Unexpected, "customer:x"));
        findings.push(finding(FindingKind::Mismatched, "inventory:y"));
        let v = verification(findings);
        let summary = v.summary();
        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(lines[1], "Missing: 12, mismatched: 1, unexpected: 1");
        assert_eq!(lines.len(), 2 + 10 + 1 + 1, "{summary}");
        assert_eq!(lines[2], "  Missing order:00: detail of order:00");
        assert_eq!(lines[11], "  Missing order:09: detail of order:09");
        assert_eq!(lines[12], "  Mismatched inventory:y: detail of inventory:y");
        assert_eq!(lines[13], "  Unexpected customer:x: detail of customer:x");
        assert_eq!(v.verdict(), "The API does not agree with the trace\n");
        let err = v.disagreement().unwrap();
        assert_eq!(
            err.to_string(),
            "the API does not agree with the trace: 12 missing, 1 mismatched, 1 unexpected"
        );
        let report: serde_json::Value = serde_json::from_str(&v.report_json().unwrap()).unwrap();
        assert_eq!(report["agree"], false);
        assert_eq!(report["missing"], 12);
        assert_eq!(report["findings"].as_array().unwrap().len(), 14);
        assert_eq!(
            report["findings"][1],
            serde_json::json!({"kind": "unexpected", "subject": "customer:x", "detail": "detail of customer:x"})
        );
    }
}
