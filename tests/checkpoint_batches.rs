//! The checkpoint logs written per batch of completions (issue 9): a replay at `--speed max`
//! with 64 events in flight, whose completions reach the aggregator many at a time, ends with
//! every success in both logs, once each, the measurement log holding the events in the order
//! of the completion log. Loopback only.

#[path = "common/harness.rs"]
mod harness;

use std::collections::BTreeSet;

use freshmart_stub::StubConfig;
use loadgen::replay::segments::{Logged, MeasureLog};

#[test]
fn a_replay_at_max_speed_logs_every_success_once_in_both_logs() {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = harness::trace_facts(&harness::simulate(dir.path(), "t.trace", "2h", 9));
    let url = stub.url();
    let mut args = harness::replay_args(&url, "batches", "max");
    args.extend(["--concurrency", "64"]);
    harness::loadgen(dir.path(), &args, &[]).expect_code(0);
    let report = harness::json(&dir.path().join("r.json"));
    assert_eq!(harness::num(&report, "/events/succeeded"), trace.events);

    let completions = harness::logged(&dir.path().join("r.json.checkpoint.log"));
    let distinct: BTreeSet<u64> = completions.iter().copied().collect();
    assert_eq!(
        distinct,
        (0..trace.events).collect(),
        "every success logged"
    );
    assert_eq!(completions.len(), distinct.len(), "none twice");

    let measures = MeasureLog::read(&MeasureLog::path(&dir.path().join("r.json.checkpoint")))
        .expect("the measurement log reads back");
    assert!(matches!(measures.first(), Some(Logged::Segment { .. })));
    let measured: Vec<u64> = measures
        .iter()
        .filter_map(|r| match r {
            Logged::Success(r) => Some(r.seq),
            Logged::Segment { .. } => None,
        })
        .collect();
    assert_eq!(
        measured, completions,
        "the measurements, in the completion log's order"
    );
}
