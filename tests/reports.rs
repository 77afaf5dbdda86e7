//! `loadgen report`, `loadgen compare` and thresholds end to end: the HTML report of the
//! checked-in result (`tests/data/report_result.json`) is valid, self-contained HTML with one
//! SVG per chart; `compare` finds no regression between two runs of one seeded replay, finds
//! the p50 regression of a slower stub (exit 3) and does not flag a noisy-but-equal pair;
//! each threshold form passes and fails where it should (exit 99), is printed and recorded;
//! `--abort-on-threshold` stops a replay and a `start --duration` early with its report.

#[path = "common/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::time::Duration;

use freshmart_stub::{Latency, StubConfig};
use loadgen::result::render::{CHARTS, TRACE_TIME};
use loadgen::result::RunResult;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

/// A chart's title, axis labels, series, and how many points each series has (if fixed).
type Chart<'a> = (&'a str, [&'a str; 2], Vec<&'a str>, Option<usize>);

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report_result.json")
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

fn texts(e: &ElementRef<'_>) -> Vec<String> {
    e.select(&Selector::parse("text").unwrap())
        .map(|t| t.text().collect::<String>().trim().to_string())
        .collect()
}

/// Whatever in `html` could make a browser fetch something.
fn outside_references(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let mut found = Vec::new();
    for tag in [
        "script", "link", "iframe", "img", "object", "embed", "base", "image", "use",
    ] {
        if !select(&doc, tag).is_empty() {
            found.push(format!("<{tag}>"));
        }
    }
    for element in doc.root_element().descendent_elements() {
        for (name, value) in element.value().attrs() {
            if [
                "src",
                "href",
                "srcset",
                "action",
                "poster",
                "data",
                "background",
            ]
            .contains(&name)
                || value.contains("url(")
            {
                found.push(format!("<{} {name}=\"{value}\">", element.value().name()));
            }
        }
    }
    let rest = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    if rest.contains("http:") || rest.contains("https:") || rest.contains("@import") {
        found.push("a URL in the text".into());
    }
    found
}

#[test]
fn the_html_report_of_the_checked_in_result_has_its_charts_and_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture();
    let run = harness::loadgen_ok(
        dir.path(),
        &["report", input.to_str().unwrap(), "-o", "run.html"],
    );
    assert!(run.stderr.contains("Written to run.html"), "{}", run.stderr);
    let html = std::fs::read_to_string(dir.path().join("run.html")).unwrap();
    let doc = Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    assert_eq!(outside_references(&html), Vec::<String>::new());

    let result = RunResult::read(&input).unwrap();
    let buckets = result
        .time_series
        .iter()
        .filter(|b| b.bucket.trace_first_ms.is_some())
        .count();
    assert!(buckets >= 5, "the fixture has {buckets} buckets");
    // Each chart: title, axis labels, series, and how many points each series has.
    let expected: [Chart; 5] = [
        (
            CHARTS[0],
            [TRACE_TIME, "events per second of run time"],
            vec!["successes/s", "failures/s"],
            Some(buckets),
        ),
        (
            CHARTS[1],
            [TRACE_TIME, "latency (ms)"],
            vec!["p50", "p90", "p99"],
            Some(buckets),
        ),
        (
            CHARTS[2],
            [TRACE_TIME, "lateness (ms)"],
            vec!["lateness p99"],
            Some(buckets),
        ),
        (
            CHARTS[3],
            ["percentile", "latency (ms)"],
            vec!["latency"],
            None,
        ),
        (
            CHARTS[4],
            ["percentile", "write to visible (ms)"],
            vec!["write to visible"],
            None,
        ),
    ];
    let svgs = select(&doc, "figure > svg");
    assert_eq!(svgs.len(), expected.len());
    assert_eq!(select(&doc, "svg").len(), expected.len());
    let polylines = Selector::parse("polyline").unwrap();
    for (svg, (title, axes, series, points)) in svgs.iter().zip(&expected) {
        let words = texts(svg);
        for word in std::iter::once(title).chain(axes).chain(series) {
            assert!(
                words.iter().any(|t| t == word),
                "{title}: no `{word}` in {words:?}"
            );
        }
        // A series is a thick line through its points, and a short one in the legend.
        let lines: Vec<usize> = svg
            .select(&polylines)
            .filter(|l| l.value().attr("stroke-width") == Some("2"))
            .map(|l| l.value().attr("points").unwrap().split_whitespace().count())
            .filter(|&n| n > 2)
            .collect();
        assert_eq!(lines.len(), series.len(), "{title}: {lines:?}");
        if let Some(points) = points {
            assert!(lines.iter().all(|n| n == points), "{title}: {lines:?}");
        }
    }

    // The tables: every activity and the total, the thresholds as recorded, the metadata.
    let cells: Vec<String> = select(&doc, "td")
        .iter()
        .map(|c| c.text().collect())
        .collect();
    for activity in result.activities.keys() {
        assert!(cells.contains(activity), "no row for {activity}");
    }
    for t in &result.thresholds {
        assert!(cells.contains(&t.expr), "no row for {}", t.expr);
    }
    assert_eq!(select(&doc, "td.fail").len(), 1, "one threshold failed");
    assert!(cells.contains(&"fixture1".to_string()), "the run id");
    assert!(cells.contains(&"ci".to_string()), "the tag");
    let p50 = format!("{:.1}", result.latency_from_intended_time.p50_ms);
    assert!(cells.contains(&p50), "overall p50 {p50}");
}

#[test]
fn several_results_are_overlaid_and_md_and_text_render_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture();
    let copy = dir.path().join("again.json");
    std::fs::copy(&input, &copy).unwrap();
    harness::loadgen_ok(
        dir.path(),
        &[
            "report",
            input.to_str().unwrap(),
            "again.json",
            "-o",
            "both.html",
        ],
    );
    let doc = Html::parse_document(&std::fs::read_to_string(dir.path().join("both.html")).unwrap());
    let latency = texts(&select(&doc, "figure > svg")[1]);
    for name in [
        format!("{} p99", input.display()),
        "again.json p99".to_string(),
    ] {
        assert!(latency.contains(&name), "no {name} in {latency:?}");
    }

    let result = RunResult::read(&input).unwrap();
    let text = harness::loadgen_ok(dir.path(), &["report", "again.json", "--format", "text"]);
    assert_eq!(text.stdout, loadgen::result::render::text(&result));
    assert!(text.stdout.contains("Final Summary"));
    assert!(
        text.stdout.contains("Thresholds: 1 of 2 passed"),
        "{}",
        text.stdout
    );
    let p95 = result.activities["new_order"]
        .latency_from_intended_time
        .p95_ms;
    assert!(
        p95 < 1000.0,
        "the fixture's new_order p95 prints in ms: {p95}"
    );
    assert!(
        text.stdout
            .contains(&format!("FAILED  new_order.p95<1ms (observed {p95:.1}ms)")),
        "{}",
        text.stdout
    );
    let md = harness::loadgen_ok(dir.path(), &["report", "again.json", "--format", "md"]);
    assert!(md.stdout.contains("| activity | events |"));
    let all = format!(
        "| all | {} | {} | {:.1} |",
        result.total(),
        result.total_failures(),
        result.latency_from_intended_time.p50_ms
    );
    assert!(md.stdout.contains(&all), "no `{all}` in\n{}", md.stdout);
    assert!(md.stdout.contains(&format!(
        "| `new_order.p95<1ms` | {p95:.1}ms | **FAILED** |"
    )));

    // Never over an input; a file that is not a result is bad input.
    harness::loadgen(
        dir.path(),
        &["report", "again.json", "-o", "again.json"],
        &[],
    )
    .expect_code(2);
    std::fs::write(dir.path().join("junk.json"), "{\"a\":1}").unwrap();
    let junk = harness::loadgen(dir.path(), &["report", "junk.json", "-o", "j.html"], &[]);
    junk.expect_code(2);
    assert!(!dir.path().join("j.html").exists());
}

/// `compare fixture fixture` with thresholds on the (same) new run.
fn gate(dir: &Path, thresholds: &[&str]) -> harness::Run {
    let input = fixture();
    let input = input.to_str().unwrap();
    let mut args = vec!["compare", input, input];
    for t in thresholds {
        args.extend(["--threshold", t]);
    }
    harness::loadgen(dir, &args, &[])
}

#[test]
fn each_threshold_form_passes_and_fails_where_it_should() {
    let _turn = one_replay_test_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let r = RunResult::read(&fixture()).unwrap();
    let ms = |v: f64| format!("{}ms", v.round() as u64);
    let p99 = r.latency_from_intended_time.p99_ms;
    let new_order_p95 = r.activities["new_order"].latency_from_intended_time.p95_ms;
    let lateness = r.lateness.p99_ms;
    let visible = r.write_to_visible.as_ref().unwrap().write_to_visible.p99_ms;
    let per_s = r.throughput_per_min / 60.0;
    assert_eq!(r.success_rate, 1.0, "the fixture has no failure");
    let forms = [
        (
            format!("p99<{}", ms(p99 * 2.0)),
            format!("p99<{}", ms(p99 / 2.0)),
        ),
        (
            format!("new_order.p95<{}", ms(new_order_p95 * 2.0)),
            format!("new_order.p95<{}", ms(new_order_p95 / 2.0)),
        ),
        ("success>=99.5%".to_string(), "success<99.5%".to_string()),
        (
            format!("lateness.p99<{}", ms(lateness * 2.0)),
            format!("lateness.p99<{}", ms(lateness / 2.0)),
        ),
        (
            format!("visible.p99<{}", ms(visible * 2.0)),
            format!("visible.p99<{}", ms(visible / 2.0)),
        ),
        (
            format!("throughput>={}/s", (per_s / 2.0).floor()),
            format!("throughput>={}/s", (per_s * 2.0).ceil()),
        ),
    ];
    for (pass, fail) in &forms {
        let run = gate(dir.path(), &[pass]);
        run.expect_code(0);
        assert!(
            run.stdout.contains(&format!("passed  {pass} (observed")),
            "{}",
            run.stdout
        );
        let run = gate(dir.path(), &[pass, fail]);
        run.expect_code(99);
        assert!(
            run.stdout.contains(&format!("FAILED  {fail} (observed")),
            "{}",
            run.stdout
        );
        assert!(
            run.stderr.contains("threshold breached on"),
            "{}",
            run.stderr
        );
    }
    // The observed p99 is the histogram's, as the summary shows it.
    let run = gate(dir.path(), &[&forms[0].0]);
    assert!(
        run.stdout.contains(&format!("(observed {p99:.1}ms)")),
        "{p99}: {}",
        run.stdout
    );
    // From a file.
    std::fs::write(
        dir.path().join("ok.toml"),
        format!("[[threshold]]\nexpr = \"{}\"\n", forms[0].0),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        format!("[[threshold]]\nexpr = \"{}\"\n", forms[0].1),
    )
    .unwrap();
    let input = fixture();
    let input = input.to_str().unwrap();
    harness::loadgen(
        dir.path(),
        &["compare", input, input, "--thresholds", "ok.toml"],
        &[],
    )
    .expect_code(0);
    harness::loadgen(
        dir.path(),
        &["compare", input, input, "--thresholds", "bad.toml"],
        &[],
    )
    .expect_code(99);
    // A malformed expression or file is bad usage or input, before anything runs.
    harness::loadgen(
        dir.path(),
        &["compare", input, input, "--threshold", "p99<<1ms"],
        &[],
    )
    .expect_code(2);
    std::fs::write(dir.path().join("broken.toml"), "[[threshold]]\nexp = 1\n").unwrap();
    harness::loadgen(
        dir.path(),
        &["compare", input, input, "--thresholds", "broken.toml"],
        &[],
    )
    .expect_code(2);
}

/// A stress trace of a minute, replayed at 6x: ten seconds, so ten buckets per run.
fn stress_trace(dir: &Path) -> PathBuf {
    harness::loadgen_ok(
        dir,
        &[
            "simulate",
            "--profile",
            "stress",
            "--duration",
            "1m",
            "--seed",
            "7",
            "-o",
            "s.trace",
        ],
    );
    dir.join("s.trace")
}

/// Held by each test that runs a replay: they take turns, so no other replay of this file
/// loads the machine while a pair of runs is measured (a pair's base and new runs still run
/// side by side, under the same conditions). In CI, a noisy-but-equal pair run beside this
/// file's other replays once came out with p99 lateness 1.5 ms against 4 ms, "regressed".
fn one_replay_test_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Replays `trace` against a stub of `base` and one of `new` at once; returns both reports.
fn replay_pair(dir: &Path, base: StubConfig, new: StubConfig) -> (PathBuf, PathBuf) {
    let trace = stress_trace(dir);
    let rt = harness::runtime();
    let stubs = [harness::stub(&rt, base), harness::stub(&rt, new)];
    let runs: Vec<harness::Running> = stubs
        .iter()
        .zip(["base", "new"])
        .map(|(stub, name)| {
            let url = format!("http://{}", stub.addr());
            let report = format!("{name}.json");
            harness::start(
                dir,
                &[
                    "replay",
                    trace.to_str().unwrap(),
                    "--api-url",
                    &url,
                    "--speed",
                    "6x",
                    "--run-id",
                    name,
                    "--report",
                    &report,
                ],
                &[],
            )
        })
        .collect();
    for run in runs {
        run.wait(harness::PROCESS_LIMIT).expect_code(0);
    }
    (dir.join("base.json"), dir.join("new.json"))
}

fn compare_json(dir: &Path, base: &Path, new: &Path) -> (harness::Run, Value) {
    let run = harness::loadgen(
        dir,
        &[
            "compare",
            base.to_str().unwrap(),
            new.to_str().unwrap(),
            "--format",
            "json",
            "-o",
            "compare.html",
        ],
        &[],
    );
    let json: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    (run, json)
}

fn verdict(json: &Value, metric: &str) -> String {
    json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == metric && r["scope"] == "overall")
        .unwrap_or_else(|| panic!("no {metric}"))["verdict"]
        .as_str()
        .unwrap()
        .to_string()
}

fn regressed(json: &Value) -> Vec<String> {
    json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == "regressed")
        .map(|r| r["metric"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn compare_of_two_runs_of_the_same_replay_finds_no_regression() {
    let _turn = one_replay_test_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    // A fixed service time, so what is measured is the stub's and not the busy machine's.
    let config = || StubConfig {
        latency: Latency::Fixed(Duration::from_millis(10)),
        ..StubConfig::default()
    };
    let (base, new) = replay_pair(dir.path(), config(), config());
    let (run, json) = compare_json(dir.path(), &base, &new);
    run.expect_code(0);
    assert_eq!(regressed(&json), Vec::<String>::new());
    assert!(json["rows"].as_array().unwrap().len() > 7);
    // The HTML comparison: both runs overlaid, the table first.
    let html = std::fs::read_to_string(dir.path().join("compare.html")).unwrap();
    assert_eq!(outside_references(&html), Vec::<String>::new());
    let doc = Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    let legend = texts(&select(&doc, "figure > svg")[1]);
    assert!(
        legend.iter().any(|t| t.ends_with("base.json p50")),
        "{legend:?}"
    );
    assert!(
        legend.iter().any(|t| t.ends_with("new.json p50")),
        "{legend:?}"
    );
}

#[test]
fn compare_finds_the_p50_regression_of_a_slower_stub_with_exit_3() {
    let _turn = one_replay_test_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let slower = StubConfig {
        latency: Latency::Fixed(Duration::from_millis(20)),
        ..StubConfig::default()
    };
    let (base, new) = replay_pair(dir.path(), StubConfig::default(), slower);
    let (run, json) = compare_json(dir.path(), &base, &new);
    run.expect_code(3);
    assert_eq!(verdict(&json, "p50 latency (ms)"), "regressed");
    assert!(run.stderr.contains("regressed against"), "{}", run.stderr);
    // Per activity too: the activities of every second of a stress minute (each bucket holds
    // several of them) regressed, and every per-activity row was tested.
    let p50 = activity_verdicts(&json, "p50 latency (ms)");
    for main in ["new_order", "order_modification", "inventory_update"] {
        assert!(
            p50.contains(&(main.to_string(), "regressed".to_string())),
            "{main}: {p50:?}\n{}",
            run.stdout
        );
    }
    assert!(per_activity_rows(&json)
        .iter()
        .all(|r| r["verdict"] != "not judged" && r["p_value"].is_number()));
    // The other way round it is an improvement, exit 0.
    let (run, json) = compare_json(dir.path(), &new, &base);
    run.expect_code(0);
    assert_eq!(verdict(&json, "p50 latency (ms)"), "improved");
}

#[test]
fn a_noisy_but_equal_pair_is_not_flagged() {
    let _turn = one_replay_test_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let noisy = |seed| StubConfig {
        latency: "uniform:5ms..40ms".parse().unwrap(),
        seed,
        ..StubConfig::default()
    };
    let (base, new) = replay_pair(dir.path(), noisy(1), noisy(2));
    let (run, json) = compare_json(dir.path(), &base, &new);
    assert_eq!(regressed(&json), Vec::<String>::new(), "{}", run.stdout);
    // The per-activity rows were judged, not skipped.
    let per_activity = per_activity_rows(&json);
    assert!(per_activity.len() >= 15, "{}", run.stdout);
    assert!(per_activity.iter().any(|r| r["p_value"].is_number()));
    run.expect_code(0);
}

fn per_activity_rows(json: &Value) -> Vec<&Value> {
    json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["scope"] != "overall")
        .collect()
}

/// The verdicts of the per-activity rows of `metric`, by activity.
fn activity_verdicts(json: &Value, metric: &str) -> Vec<(String, String)> {
    json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["metric"] == metric && r["scope"] != "overall")
        .map(|r| {
            (
                r["scope"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_replay_prints_records_and_gates_on_its_thresholds() {
    let _turn = one_replay_test_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let trace = harness::simulate(dir.path(), "t.trace", "3m", 5);
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = format!("http://{}", stub.addr());
    let run = harness::loadgen(
        dir.path(),
        &[
            "replay",
            trace.to_str().unwrap(),
            "--api-url",
            &url,
            "--speed",
            "max",
            "--report",
            "r.json",
            "--threshold",
            "success>=99.5%",
            "--threshold",
            "p99<1us",
        ],
        &[],
    );
    run.expect_code(99);
    assert!(
        run.stdout.contains("Thresholds: 1 of 2 passed"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("passed  success>=99.5% (observed 100.00%"));
    assert!(run.stdout.contains("FAILED  p99<1us (observed"));
    assert!(
        run.stderr.contains("threshold breached: p99<1us"),
        "{}",
        run.stderr
    );
    let doc = harness::json(&dir.path().join("r.json"));
    let schema: Value = serde_json::from_str(loadgen::result::SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&doc), "the report does not validate");
    assert_eq!(doc["thresholds"][0]["expr"], "success>=99.5%");
    assert_eq!(doc["thresholds"][0]["passed"], true);
    assert_eq!(doc["thresholds"][1]["expr"], "p99<1us");
    assert_eq!(doc["thresholds"][1]["passed"], false);
    // Without thresholds the document has none, and the run exits 0.
    harness::loadgen_ok(
        dir.path(),
        &[
            "replay",
            trace.to_str().unwrap(),
            "--api-url",
            &url,
            "--speed",
            "max",
            "--report",
            "r2.json",
        ],
    );
    assert!(harness::json(&dir.path().join("r2.json"))
        .get("thresholds")
        .is_none());
    // --abort-on-threshold needs a threshold.
    harness::loadgen(
        dir.path(),
        &[
            "replay",
            trace.to_str().unwrap(),
            "--api-url",
            &url,
            "--abort-on-threshold",
        ],
        &[],
    )
    .expect_code(2);
}

#[test]
fn abort_on_threshold_stops_the_run_early_with_its_report() {
    let _turn = one_replay_test_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let trace = stress_trace(dir.path());
    let events = harness::trace_facts(&trace).events;
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = format!("http://{}", stub.addr());
    // At 1x the trace lasts a minute; the maximum is lost with the first event.
    let run = harness::loadgen(
        dir.path(),
        &[
            "replay",
            trace.to_str().unwrap(),
            "--api-url",
            &url,
            "--report",
            "r.json",
            "--threshold",
            "max<1us",
            "--abort-on-threshold",
        ],
        &[],
    );
    run.expect_code(99);
    assert!(
        run.stdout
            .contains("Threshold `max<1us` can no longer pass: stopping gracefully"),
        "{}",
        run.stdout
    );
    assert!(run.elapsed < Duration::from_secs(45), "{:?}", run.elapsed);
    let doc = harness::json(&dir.path().join("r.json"));
    assert_eq!(doc["stopped_early"], true);
    let received = harness::num(&doc, "/events/received");
    assert!(received < events, "{received} of {events} sent");
    assert_eq!(received + harness::num(&doc, "/events/not_sent"), events);
    assert_eq!(doc["thresholds"][0]["passed"], false);
    harness::assert_accounted(&doc, events, events);
}

/// `start --duration` knows how many events its seed makes (the same simulation, counted
/// before the first is sent), so `--abort-on-threshold` gives up exactly when no future can
/// pass: `p90<1us` (every real latency breaks it) is lost once more than B − ⌈0.9·B⌉ events
/// have ended, B the run's event count, which `simulate` on the same world, seed, start and
/// duration also counts.
#[test]
fn start_with_a_duration_gives_up_a_lost_threshold_at_the_exact_event() {
    let _turn = one_replay_test_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = stub.url();
    let (seed, start_at) = ("11", "2026-01-05T18:00:00Z");
    harness::loadgen_ok(
        dir.path(),
        &[
            "simulate",
            "--api-url",
            &url,
            "--profile",
            "stress",
            "--seed",
            seed,
            "--start",
            start_at,
            "--duration",
            "1m",
            "-o",
            "same.trace",
        ],
    );
    let bound = harness::trace_facts(&dir.path().join("same.trace")).events;
    let lost_after = bound - (bound * 9).div_ceil(10) + 1;
    assert!(lost_after < 256, "{bound} events: checked at every event");

    let run = harness::loadgen(
        dir.path(),
        &[
            "start",
            "--api-url",
            &url,
            "--profile",
            "stress",
            "--seed",
            seed,
            "--start-at",
            start_at,
            "--duration",
            "1m",
            "--run-id",
            "abortlive",
            "--concurrency",
            "1",
            "--threads",
            "1",
            "--report",
            "r.json",
            "--threshold",
            "p90<1us",
            "--abort-on-threshold",
        ],
        &[],
    );
    run.expect_code(99);
    assert!(
        run.stdout
            .contains("Threshold `p90<1us` can no longer pass: stopping gracefully"),
        "{}",
        run.stdout
    );
    let doc = harness::json(&dir.path().join("r.json"));
    assert_eq!(doc["stopped_early"], true);
    let ended = harness::num(&doc, "/events/received");
    // The decision came at the `lost_after`-th ended event; the one in flight then ends too.
    assert_eq!(harness::num(&doc, "/config/concurrency"), 1);
    assert!(
        (lost_after..=lost_after + 1).contains(&ended),
        "{ended} events ended, lost after {lost_after} of {bound}"
    );
    assert_eq!(doc["thresholds"][0]["passed"], false);
}
