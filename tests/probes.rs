//! Write → visible probes for every kind of write (orders, new customers, stock levels)
//! against a stub whose writes become visible to reads only after a fixed delay: each kind's
//! histogram starts at that delay or later, every probe is timed or superseded, and the
//! console and the report show one histogram per kind with the read it measured.

#[path = "common/harness.rs"]
mod harness;

use std::time::Duration;

use freshmart_stub::StubConfig;
use harness::{float, json, num};

const DELAY_MS: u64 = 300;

#[test]
fn every_kind_of_write_is_probed_and_none_is_visible_before_the_delay() {
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            visibility_delay: Duration::from_millis(DELAY_MS),
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    harness::loadgen_ok(
        dir.path(),
        &[
            "simulate",
            "--profile",
            "standard",
            "--duration",
            "4m",
            "--seed",
            "8",
            "-o",
            "t.trace",
        ],
    );
    let url = stub.url();
    // 60x: an order's next write comes minutes of trace (seconds of wall clock) later, so
    // most order probes are timed rather than superseded.
    let run = harness::loadgen(
        dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &url,
            "--speed",
            "60x",
            "--run-id",
            "vis",
            "--report",
            "r.json",
            "--probe-reads",
            "100%",
            "--probe-timeout",
            "10s",
        ],
        &[],
    );
    run.expect_code(0);
    let r = json(&dir.path().join("r.json"));
    assert_eq!(float(&r, "/success_rate"), 1.0, "{:#}", r["errors"]);
    let v = &r["write_to_visible"];
    let mut probed = 0;
    for (kind, read) in [
        ("orders", "GET /freshmart/orders/{id}"),
        ("customers", "GET /freshmart/customers"),
        ("stock_levels", "GET /freshmart/stores/inventory?store_id="),
    ] {
        let k = &v["by_kind"][kind];
        assert_eq!(k["read"], read, "{kind}: {k:#}");
        let timed = num(k, "/write_to_visible/count");
        assert!(timed > 0, "{kind}: no probe was timed: {k:#}");
        assert_eq!(num(k, "/not_visible"), 0, "{kind}: {k:#}");
        assert_eq!(
            num(k, "/probed"),
            timed + num(k, "/superseded"),
            "{kind}: every probe timed or superseded: {k:#}"
        );
        let min = float(k, "/write_to_visible/min_ms");
        assert!(
            min >= DELAY_MS as f64,
            "{kind}: a write was visible after {min} ms, before the stub's {DELAY_MS} ms delay"
        );
        assert!(
            run.stdout
                .lines()
                .any(|l| l.starts_with(&format!("  {kind} ({read}): {} probes", num(k, "/probed")))),
            "{kind}: no console line in:\n{}",
            run.stdout
        );
        probed += num(k, "/probed");
    }
    assert_eq!(
        num(&v["by_kind"]["customers"], "/superseded"),
        0,
        "a new customer is written once"
    );
    assert_eq!(probed, num(v, "/probed"), "the kinds add up to the total");
    // Every event is one of the three kinds, and 100% of them were probed.
    assert_eq!(probed, num(&r, "/events/succeeded"));
    rt.block_on(stub.shutdown());
}
