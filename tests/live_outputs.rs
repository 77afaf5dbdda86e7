//! Live metrics and per-event output (issue 11 items 5 and 6) against the stub: a scrape of
//! `--metrics-addr` during a replay parses as OpenMetrics, and the last one (held for by
//! `--metrics-linger`) equals the final report; the `--events-out` rows equal the report's
//! counts and rebuild its histograms exactly; a failed or killed run leaves no events file,
//! which never overwrites the trace; a port in use is refused before the run.

#[path = "common/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use freshmart_stub::{Latency, StubConfig};
use harness::{json, num};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// A strict OpenMetrics text parser (the subset loadgen serves: counter, gauge, histogram)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `k="v",k2="v2"` (escapes \\ \" \n), in order.
fn parse_labels(text: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("label without =\" in `{line}`"));
        assert!(is_name(key), "bad label name `{key}` in `{line}`");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => panic!("bad escape {other:?} in `{line}`"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in `{line}`"),
            }
        };
        assert!(
            labels.insert(key.to_string(), value).is_none(),
            "label {key} twice in `{line}`"
        );
        rest = &after[end + 1..];
        if let Some(next) = rest.strip_prefix(',') {
            rest = next;
            assert!(!rest.is_empty(), "trailing comma in `{line}`");
        } else {
            assert!(rest.is_empty(), "junk after a label in `{line}`");
        }
    }
    labels
}

fn parse_value(text: &str, line: &str) -> f64 {
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => {
            assert!(
                text.chars()
                    .all(|c| c.is_ascii_digit() || "+-.eE".contains(c)),
                "bad number `{text}` in `{line}`"
            );
            text.parse()
                .unwrap_or_else(|_| panic!("bad number `{text}` in `{line}`"))
        }
    }
}

/// Parses OpenMetrics text strictly: every family is declared (TYPE) before its samples and
/// its samples are contiguous; sample names fit the type's suffixes; a histogram's buckets
/// are cumulative, end at +Inf and agree with `_count`; the text ends with `# EOF`.
fn parse_openmetrics(text: &str) -> Vec<Sample> {
    assert!(text.ends_with("# EOF\n"), "no final `# EOF`:\n{text}");
    let body = &text[..text.len() - "# EOF\n".len()];
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut closed: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    for line in body.lines() {
        assert!(!line.is_empty(), "empty line in:\n{text}");
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (kind, name, rest) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            assert!(is_name(name), "bad family name in `{line}`");
            if current.as_deref() != Some(name) {
                if let Some(prev) = current.take() {
                    closed.insert(prev);
                }
                assert!(!closed.contains(name), "family {name} split in:\n{text}");
                current = Some(name.to_string());
            }
            match kind {
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram"].contains(&rest),
                        "unexpected type in `{line}`"
                    );
                    assert!(
                        types.insert(name.into(), rest.into()).is_none(),
                        "{name} typed twice"
                    );
                }
                "HELP" => assert!(!rest.is_empty(), "empty help in `{line}`"),
                "UNIT" => assert!(name.ends_with(&format!("_{rest}")), "unit in `{line}`"),
                _ => panic!("unknown metadata `{line}`"),
            }
            continue;
        }
        let (head, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in `{line}`"));
        let (name, labels) = match head.split_once('{') {
            Some((name, labels)) => (
                name,
                parse_labels(
                    labels
                        .strip_suffix('}')
                        .unwrap_or_else(|| panic!("unclosed labels in `{line}`")),
                    line,
                ),
            ),
            None => (head, BTreeMap::new()),
        };
        assert!(is_name(name), "bad sample name in `{line}`");
        let family = current
            .as_deref()
            .unwrap_or_else(|| panic!("sample before any TYPE: `{line}`"));
        let suffix = name
            .strip_prefix(family)
            .unwrap_or_else(|| panic!("`{line}` is not of family {family}"));
        let allowed: &[&str] = match types.get(family).map(String::as_str) {
            Some("counter") => &["_total", "_created"],
            Some("gauge") => &[""],
            Some("histogram") => &["_bucket", "_count", "_sum", "_created"],
            _ => panic!("family {family} has no TYPE before `{line}`"),
        };
        assert!(allowed.contains(&suffix), "`{line}` does not fit its type");
        if suffix == "_bucket" {
            assert!(labels.contains_key("le"), "bucket without le: `{line}`");
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value: parse_value(value, line),
        });
    }
    check_histograms(&samples, &types);
    samples
}

fn without(labels: &BTreeMap<String, String>, key: &str) -> BTreeMap<String, String> {
    let mut l = labels.clone();
    l.remove(key);
    l
}

/// A sample's labels as a sorted list (a map key).
type Labels = Vec<(String, String)>;

fn check_histograms(samples: &[Sample], types: &BTreeMap<String, String>) {
    for (family, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for s in samples
            .iter()
            .filter(|s| s.name == format!("{family}_bucket"))
        {
            let key = without(&s.labels, "le").into_iter().collect();
            series
                .entry(key)
                .or_default()
                .push((parse_value(&s.labels["le"], "le"), s.value));
        }
        for (labels, buckets) in &series {
            assert!(
                buckets
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                "{family} {labels:?}: buckets not increasing and cumulative: {buckets:?}"
            );
            let last = buckets.last().expect("a bucket");
            assert_eq!(last.0, f64::INFINITY, "{family} {labels:?} ends at +Inf");
            let count = samples
                .iter()
                .find(|s| {
                    s.name == format!("{family}_count")
                        && s.labels.clone().into_iter().collect::<Vec<_>>() == *labels
                })
                .unwrap_or_else(|| panic!("{family} {labels:?} has no _count"));
            assert_eq!(
                count.value, last.1,
                "{family} {labels:?}: +Inf bucket is the count"
            );
        }
    }
}

fn value(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .find(|s| s.name == name && s.labels.is_empty())
        .unwrap_or_else(|| panic!("no {name}"))
        .value
}

/// Sum of the samples named `name` whose labels include `filter`.
fn sum(samples: &[Sample], name: &str, filter: &[(&str, &str)]) -> u64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && filter
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value as u64)
        .sum()
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/// The metrics URL loadgen printed.
fn metrics_url(running: &mut harness::Running, dir: &Path) -> String {
    running.wait_for_stdout("/metrics", Duration::from_secs(60));
    let out = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".stdout"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .find(|s| s.contains("Serving metrics at "))
        .expect("the metrics line");
    let line = out
        .lines()
        .find(|l| l.contains("Serving metrics at "))
        .unwrap();
    line.split("Serving metrics at ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string()
}

/// Rows of the events CSV as maps.
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("events file opens");
    let headers = reader.headers().expect("header").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        loadgen::events_out::COLUMN_NAMES.to_vec()
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn histogram_of(rows: &[BTreeMap<String, String>], column: &str) -> hdrhistogram::Histogram<u64> {
    // The report's histograms: 1 µs .. 1 h, 3 significant digits, values clamped into range.
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for row in rows.iter().filter(|r| r["requests"] != "0") {
        let us: u64 = row[column]
            .parse()
            .expect("a duration where requests were sent");
        h.record(us.clamp(1, 3_600_000_000)).unwrap();
    }
    h
}

#[test]
fn a_scrape_during_a_replay_parses_and_the_last_equals_the_report_as_do_the_event_rows() {
    let rt = harness::runtime();
    // Injected 503s (some retried into success, some failing, blocking later events of their
    // entity) and a little latency, so every count and histogram has something in it.
    let stub = harness::stub(
        &rt,
        StubConfig {
            error_rate: 0.3,
            latency: Latency::Uniform(Duration::from_micros(200), Duration::from_millis(3)),
            seed: 5,
            ..StubConfig::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    harness::simulate(dir.path(), "t.trace", "10m", 61);
    let url = stub.url();
    let mut running = harness::start(
        dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &url,
            "--speed",
            "200x",
            "--retries",
            "1",
            "--min-success",
            "0",
            "--run-id",
            "live",
            "--report",
            "r.json",
            "--metrics-addr",
            "127.0.0.1:0",
            "--metrics-linger",
            "60s",
            "--events-out",
            "events.csv",
        ],
        &[],
    );
    let metrics = metrics_url(&mut running, dir.path());
    assert!(metrics.starts_with("http://127.0.0.1:"), "{metrics}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut scrapes = 0u32;
    let mut mid_run = 0u32;
    let mut previous: Option<Vec<Sample>> = None;
    let last = loop {
        assert!(Instant::now() < deadline, "no final scrape in 90 s");
        let (status, content_type, text) = rt.block_on(async {
            let answer = client.get(&metrics).send().await.expect("scrape");
            let status = answer.status().as_u16();
            let ct = answer
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, ct, answer.text().await.expect("body"))
        });
        assert_eq!(status, 200);
        assert_eq!(
            content_type.as_deref(),
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
        );
        let samples = parse_openmetrics(&text);
        scrapes += 1;
        // Counters never go down from one scrape to the next.
        if let Some(prev) = &previous {
            for p in prev.iter().filter(|s| s.name.ends_with("_total")) {
                let now = samples
                    .iter()
                    .find(|s| s.name == p.name && s.labels == p.labels)
                    .unwrap_or_else(|| panic!("{} {:?} disappeared", p.name, p.labels));
                assert!(now.value >= p.value, "{} went down", p.name);
            }
        }
        let completed = value(&samples, "loadgen_events_completed_total");
        if value(&samples, "loadgen_run_finished") == 1.0 {
            break samples;
        }
        mid_run += u32::from(completed > 0.0);
        previous = Some(samples);
        std::thread::sleep(Duration::from_millis(25));
    };
    let run = running.wait(harness::PROCESS_LIMIT);
    run.expect_code(0);
    assert!(
        mid_run > 0,
        "no scrape saw the run going on ({scrapes} scrapes)"
    );
    assert!(
        !run.stderr.contains("no scrape read the final figures"),
        "{}",
        run.stderr
    );

    let report = json(&dir.path().join("r.json"));
    let activities = report["activities"].as_object().unwrap();
    let errors = report["errors"].as_object().unwrap();
    assert!(!errors.is_empty(), "the stub's errors show: {report:#}");
    // The last scrape: the report's counts, by activity and outcome.
    for (activity, counts) in activities {
        let a = activity.as_str();
        assert_eq!(
            sum(
                &last,
                "loadgen_events_total",
                &[("activity", a), ("outcome", "success")]
            ),
            num(counts, "/succeeded"),
            "{a} successes"
        );
        let all = sum(&last, "loadgen_events_total", &[("activity", a)]);
        assert_eq!(
            all - num(counts, "/succeeded"),
            num(counts, "/failed"),
            "{a} failures"
        );
    }
    for (kind, entry) in errors {
        assert_eq!(
            sum(&last, "loadgen_events_total", &[("outcome", kind)]),
            num(entry, "/count"),
            "{kind}"
        );
    }
    let outcomes: BTreeSet<&str> = last
        .iter()
        .filter(|s| s.name == "loadgen_events_total")
        .map(|s| s.labels["outcome"].as_str())
        .collect();
    let expected: BTreeSet<&str> = errors
        .keys()
        .map(String::as_str)
        .chain(["success"])
        .collect();
    assert_eq!(outcomes, expected);
    assert_eq!(
        sum(&last, "loadgen_requests_total", &[]),
        num(&report, "/requests")
    );
    assert_eq!(
        sum(&last, "loadgen_retries_total", &[]),
        num(&report, "/retries")
    );
    assert!(num(&report, "/retries") > 0);
    assert_eq!(
        sum(&last, "loadgen_latency_seconds_count", &[]),
        num(&report, "/latency_from_intended_time/count")
    );
    assert_eq!(
        sum(&last, "loadgen_service_time_seconds_count", &[]),
        num(&report, "/service_time/count")
    );
    assert_eq!(
        value(&last, "loadgen_lateness_seconds_count") as u64,
        num(&report, "/lateness/count")
    );
    assert_eq!(
        value(&last, "loadgen_events_received_total") as u64,
        num(&report, "/events/received")
    );
    assert_eq!(
        value(&last, "loadgen_events_completed_total") as u64,
        num(&report, "/events/completed")
    );
    assert_eq!(value(&last, "loadgen_events_in_flight"), 0.0);
    assert!(value(&last, "loadgen_trace_position_milliseconds") > 0.0);

    // The rows: one per event, the report's counts, and its histograms rebuilt exactly.
    let rows = csv_rows(&dir.path().join("events.csv"));
    assert_eq!(rows.len() as u64, num(&report, "/events/received"));
    let seqs: BTreeSet<&str> = rows.iter().map(|r| r["seq"].as_str()).collect();
    assert_eq!(seqs.len(), rows.len(), "one row per event");
    let mut by: BTreeMap<(String, String), u64> = BTreeMap::new();
    for row in &rows {
        *by.entry((row["activity"].clone(), row["outcome"].clone()))
            .or_default() += 1;
    }
    for (activity, counts) in activities {
        let of = |outcome: Option<&str>| -> u64 {
            by.iter()
                .filter(|((a, o), _)| a == activity && outcome.is_none_or(|x| x == o))
                .map(|(_, n)| n)
                .sum()
        };
        assert_eq!(of(Some("success")), num(counts, "/succeeded"), "{activity}");
        assert_eq!(
            of(None) - of(Some("success")),
            num(counts, "/failed"),
            "{activity}"
        );
    }
    for (kind, entry) in errors {
        let n: u64 = by
            .iter()
            .filter(|((_, o), _)| o == kind)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(n, num(entry, "/count"), "{kind}");
    }
    let total =
        |column: &str| -> u64 { rows.iter().map(|r| r[column].parse::<u64>().unwrap()).sum() };
    assert_eq!(total("requests"), num(&report, "/requests"));
    assert_eq!(total("retries"), num(&report, "/retries"));
    for (column, figure) in [
        ("latency_us", "latency_from_intended_time"),
        ("service_us", "service_time"),
        ("lateness_us", "lateness"),
    ] {
        let h = histogram_of(&rows, column);
        let shown = &report[figure];
        assert_eq!(h.len(), num(shown, "/count"), "{column}: {figure} count");
        // The report's figures are whole microseconds shown in ms: compared as integers, so
        // the JSON parser's last-bit rounding (serde_json without float_roundtrip) cannot
        // matter.
        let us = |key: &str| (harness::float(shown, &format!("/{key}")) * 1000.0).round() as u64;
        for (key, q) in [
            ("p50_ms", 0.50),
            ("p90_ms", 0.90),
            ("p95_ms", 0.95),
            ("p99_ms", 0.99),
            ("p999_ms", 0.999),
        ] {
            assert_eq!(h.value_at_quantile(q), us(key), "{column}: {figure} {key}");
        }
        assert_eq!(h.min(), us("min_ms"), "{column}: {figure} min");
        assert_eq!(h.max(), us("max_ms"), "{column}: {figure} max");
        let mean = harness::float(shown, "/mean_ms");
        assert!(
            (h.mean() / 1000.0 - mean).abs() <= mean * 1e-14,
            "{column}: {figure} mean {} vs {mean}",
            h.mean() / 1000.0
        );
    }
    // The subjects are the ones the report names; the instants are ordered and consistent
    // with the durations (latency = lateness + service).
    for failed in report["failed_events"].as_array().unwrap() {
        let row = rows
            .iter()
            .find(|r| r["seq"] == num(failed, "/seq").to_string())
            .unwrap();
        assert_eq!(row["subject"], failed["subject"].as_str().unwrap());
        assert_eq!(row["outcome"], failed["category"].as_str().unwrap());
    }
    let instant = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    for row in rows.iter().filter(|r| r["requests"] != "0") {
        let us = |c: &str| row[c].parse::<i64>().unwrap();
        // Each is truncated to whole microseconds on its own.
        let parts = us("lateness_us") + us("service_us");
        assert!((0..=1).contains(&(us("latency_us") - parts)), "{row:?}");
        let (intended, sent, finished) = (
            instant(&row["intended"]),
            instant(&row["sent"]),
            instant(&row["finished"]),
        );
        assert!(intended <= sent && sent <= finished, "{row:?}");
        let spread = (finished - intended).num_microseconds().unwrap();
        assert!((spread - us("latency_us")).abs() <= 1, "{row:?}");
    }
    // Nothing but the outputs is left in the directory.
    let partial: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
}

fn partial_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect()
}

#[test]
fn a_failed_or_killed_run_leaves_no_events_file_and_the_trace_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    harness::simulate(dir.path(), "t.trace", "10m", 62);
    let trace_bytes = std::fs::read(dir.path().join("t.trace")).unwrap();
    std::fs::write(dir.path().join("events.csv"), b"old").unwrap();

    // The events file is an input: refused before anything runs (exit 2), trace untouched.
    let run = harness::loadgen(
        dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            "http://127.0.0.1:9",
            "--events-out",
            "./t.trace",
        ],
        &[],
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("--events-out") && run.stderr.contains("the trace"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(dir.path().join("t.trace")).unwrap(),
        trace_bytes
    );

    // The API is not there: the run fails (exit 1) and the old file stays as it was.
    let dead = harness::closed_url();
    let run = harness::loadgen(
        dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &dead,
            "--retries",
            "0",
            "--events-out",
            "events.csv",
        ],
        &[],
    );
    run.expect_code(1);
    assert_eq!(
        std::fs::read(dir.path().join("events.csv")).unwrap(),
        b"old"
    );
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());

    // A second SIGINT mid-run exits at once (130): the half-written rows are removed.
    let rt = harness::runtime();
    let stub = harness::stub(
        &rt,
        StubConfig {
            latency: Latency::Fixed(Duration::from_secs(20)),
            ..StubConfig::default()
        },
    );
    let url = stub.url();
    let mut running = harness::start(
        dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &url,
            "--speed",
            "max",
            "--events-out",
            "events.csv",
        ],
        &[],
    );
    running.wait_for_stdout("Replaying...", Duration::from_secs(60));
    // Requests are in flight (each answered after 20 s) once the stub has seen some.
    harness::wait_stats(&rt, &stub, "requests in flight", |s| {
        harness::api_requests(s) > 0
    });
    assert!(
        !partial_files(dir.path()).is_empty(),
        "the rows go to a temporary file while the run goes on"
    );
    running.signal("INT");
    running.wait_for_stdout("stopping gracefully", Duration::from_secs(30));
    running.signal("INT");
    let run = running.wait(harness::PROCESS_LIMIT);
    run.expect_code(130);
    assert_eq!(
        std::fs::read(dir.path().join("events.csv")).unwrap(),
        b"old"
    );
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
}

#[test]
fn a_metrics_port_in_use_is_refused_before_the_run_with_the_address() {
    let dir = tempfile::tempdir().unwrap();
    harness::simulate(dir.path(), "t.trace", "10m", 63);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let run = harness::loadgen(
        dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &stub.url(),
            "--speed",
            "max",
            "--metrics-addr",
            &addr,
            "--events-out",
            "e.jsonl",
            "--report",
            "r.json",
        ],
        &[],
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains(&format!("--metrics-addr {addr}")),
        "{}",
        run.stderr
    );
    assert_eq!(harness::api_requests(&stub.stats()), 0, "nothing was sent");
    assert!(!dir.path().join("e.jsonl").exists());
    // Refused before any file was written: no checkpoint of a run that never ran.
    assert!(!dir.path().join("r.json.checkpoint").exists());
    assert!(!dir.path().join("r.json").exists());
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
    drop(taken);
}

#[test]
fn start_serves_metrics_and_writes_jsonl_rows_equal_to_its_report() {
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let run = harness::loadgen(
        dir.path(),
        &[
            "start",
            "--api-url",
            &stub.url(),
            "--profile",
            "stress",
            "--duration",
            "3s",
            "--seed",
            "7",
            "--run-id",
            "livestart",
            "--report",
            "r.json",
            "--events-out",
            "events.jsonl",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        &[],
    );
    run.expect_code(0);
    assert!(run.stdout.contains("Serving metrics at http://127.0.0.1:"));
    let report = json(&dir.path().join("r.json"));
    let text = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    assert_eq!(rows.len() as u64, num(&report, "/events/received"));
    assert!(!rows.is_empty(), "a 3 s stress run sends something");
    for (activity, counts) in report["activities"].as_object().unwrap() {
        let n = rows.iter().filter(|r| r["activity"] == *activity).count() as u64;
        assert_eq!(
            n,
            num(counts, "/succeeded") + num(counts, "/failed"),
            "{activity}"
        );
    }
    for row in &rows {
        assert!(row["subject"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(row["outcome"], "success");
    }
}

#[test]
fn an_events_file_that_cannot_be_written_fails_the_command_after_the_report() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let dir = tempfile::tempdir().unwrap();
    harness::simulate(dir.path(), "t.trace", "10m", 64);
    let run = harness::loadgen(
        dir.path(),
        &[
            "replay",
            "t.trace",
            "--api-url",
            &stub.url(),
            "--speed",
            "max",
            "--report",
            "r.json",
            "--events-out",
            "/dev/full",
        ],
        &[],
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("/dev/full") && run.stderr.contains("No space left"),
        "{}",
        run.stderr
    );
    // The run itself went through: its summary and report are there.
    let report = json(&dir.path().join("r.json"));
    assert!(num(&report, "/events/succeeded") > 0);
    assert!(run.stdout.contains("Report written to"), "{}", run.stdout);
}
