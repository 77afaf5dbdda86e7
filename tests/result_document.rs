//! The result document end to end: what `replay --report` and `merge -o` write validates
//! against the checked-in schema (`schema/result.schema.json`), reads back, and renders the
//! summary the command printed; `merge` adds shard results exactly and refuses what is not
//! one run's shards, with exit 2.

#[path = "common/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::time::Duration;

use freshmart_stub::StubConfig;
use loadgen::causal::Shard;
use loadgen::event::{Activity, Entity};
use loadgen::metrics::{EventRecord, EventResult, Metrics};
use loadgen::outcome::FailureKind;
use loadgen::replay::ReplayOutcome;
use loadgen::report::final_summary;
use loadgen::result::{RunContext, RunMeta, RunResult, TraceIdentity, SCHEMA};
use serde_json::Value;

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

fn assert_valid(path: &Path) -> Value {
    let document = harness::json(path);
    let errors: Vec<String> = validator()
        .iter_errors(&document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    document
}

#[test]
fn a_replay_report_validates_reads_back_and_renders_the_printed_summary() {
    let dir = tempfile::tempdir().unwrap();
    let trace = harness::simulate(dir.path(), "t.trace", "5m", 11);
    let rt = harness::runtime();
    let stub = harness::stub(&rt, StubConfig::default());
    let url = format!("http://{}", stub.addr());
    let run = harness::loadgen_ok(
        dir.path(),
        &[
            "replay",
            trace.to_str().unwrap(),
            "--api-url",
            &url,
            "--speed",
            "max",
            "--run-id",
            "doc1",
            "--probe-reads",
            "20%",
            "--report",
            "r.json",
            "--tag",
            "env=ci",
            "--tag",
            "build=7",
            "--git-revision",
            "abc123",
        ],
    );
    let path = dir.path().join("r.json");
    let document = assert_valid(&path);
    assert_eq!(document["schema_version"], loadgen::result::SCHEMA_VERSION);
    assert_eq!(document["run"]["tags"]["env"], "ci");
    assert_eq!(document["run"]["tags"]["build"], "7");
    assert_eq!(document["run"]["git_revision"], "abc123");
    assert_eq!(document["run"]["run_id"], "doc1");
    assert_eq!(document["run"]["seed"], 11);
    let facts = harness::trace_facts(&trace);
    assert_eq!(document["run"]["trace"]["events"], facts.events);
    assert_eq!(document["run"]["trace"]["crc32"], facts.crc);

    // The schema is strict enough to catch a drift.
    for broken in [
        |d: &mut Value| {
            d.as_object_mut().unwrap().remove("events");
        },
        |d: &mut Value| d["errors"]["teapot"] = serde_json::json!({"count": 1, "example": ""}),
        |d: &mut Value| d["histograms"]["lateness"] = serde_json::json!(12),
        |d: &mut Value| d["time_series"][0]["surprise"] = serde_json::json!(1),
    ] {
        let mut d = document.clone();
        broken(&mut d);
        assert!(!validator().is_valid(&d), "{d:#}");
    }

    let result = RunResult::read(&path).expect("the report reads back");
    assert_eq!(result.total(), facts.events);
    assert!(
        run.stdout.contains(&final_summary(&result)),
        "the saved result renders another summary than the run printed:\n{}\n---\n{}",
        run.stdout,
        final_summary(&result)
    );
    // Per activity, the histograms count the activity's events.
    for activity in Activity::ALL {
        let a = &result.activities[activity.key()];
        assert_eq!(a.histograms.latency.len(), a.succeeded + a.failed);
    }
    // The time series holds every event, its requests, and the trace time of its events.
    let series = &result.time_series;
    assert_eq!(
        series.iter().map(|b| b.bucket.events).sum::<u64>(),
        facts.events
    );
    assert_eq!(
        series.iter().map(|b| b.bucket.requests).sum::<u64>(),
        result.requests
    );
    assert_eq!(
        series.iter().map(|b| b.bucket.latency.len()).sum::<u64>(),
        facts.events
    );
    assert!(series
        .iter()
        .all(|b| b.bucket.trace_first_ms <= b.bucket.trace_last_ms));
    assert!(result.write_to_visible.as_ref().unwrap().probed > 0);
    rt.block_on(stub.shutdown());
}

/// A shard's result, as a sharded `replay --report` writes it, from `records`.
fn shard_result(records: &[EventRecord], shard: Shard, run_id: &str, crc: u32) -> RunResult {
    let mut metrics = Metrics::default();
    for r in records {
        metrics.add(r);
    }
    let outcome = ReplayOutcome {
        received: metrics.total(),
        metrics,
        interrupted: 0,
        not_sent: 0,
        due_in_source: 0,
        stopped_early: false,
        elapsed: Duration::from_secs(70),
    };
    RunResult::build(
        &outcome,
        RunContext {
            meta: RunMeta {
                trace: TraceIdentity {
                    source: "t.trace".into(),
                    events: Some(400),
                    crc32: Some(crc),
                    start: "2026-01-05T09:00:00+00:00".into(),
                },
                seed: 42,
                profile: "demo".into(),
                run_id: run_id.into(),
                speed: "1x".into(),
                tags: Default::default(),
                git_revision: None,
                shard: Some(shard),
                shards_merged: None,
            },
            config: serde_json::json!({ "shard": shard.to_string() }),
            started_at: "2026-12-01T10:00:00Z".parse().unwrap(),
            visibility: None,
            subject_of: &|e: Entity| format!("{e:?}"),
        },
    )
}

fn records() -> Vec<EventRecord> {
    (0..400u64)
        .map(|seq| EventRecord {
            seq,
            entity: Entity::Order(seq as u32),
            offset_ms: seq * 150,
            activity: Activity::ALL[(seq % 6) as usize],
            finished_at: Duration::from_millis(seq * 150 + seq % 7 * 100),
            lateness: Duration::from_micros(seq * 37 % 2_000),
            service: Duration::from_micros(1_000 + seq * 7_919 % 300_000),
            latency: Duration::from_micros(3_000 + seq * 7_919 % 300_000),
            requests: 1,
            retries: 0,
            retry_causes: Vec::new(),
            result: if seq.is_multiple_of(13) {
                EventResult::failure(FailureKind::http(500), "500 Internal Server Error")
            } else {
                EventResult::Success
            },
        })
        .collect()
}

/// Writes shard `i`'s result (events with seq % count == i) as `r{i}.json`.
fn write_shards(dir: &Path, count: u32, run_id: &str) -> Vec<PathBuf> {
    let records = records();
    (0..count)
        .map(|index| {
            let mine: Vec<EventRecord> = records
                .iter()
                .filter(|r| r.seq % u64::from(count) == u64::from(index))
                .cloned()
                .collect();
            let result = shard_result(&mine, Shard::new(index, count).unwrap(), run_id, 7);
            let path = dir.join(format!("r{index}.json"));
            result.write(&path).unwrap();
            path
        })
        .collect()
}

fn args<'a>(paths: &'a [PathBuf], extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["merge"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    args.extend(extra);
    args
}

#[test]
fn merge_adds_shards_exactly_and_prints_the_whole_runs_summary() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_shards(dir.path(), 3, "m1");
    for shard in &shards {
        assert_valid(shard);
    }
    let run = harness::loadgen_ok(dir.path(), &args(&shards, &["-o", "total.json"]));
    let total_path = dir.path().join("total.json");
    assert_valid(&total_path);
    let total = RunResult::read(&total_path).unwrap();
    let mut whole = Metrics::default();
    for r in records() {
        whole.add(&r);
    }
    assert_eq!(total.histograms.latency, whole.latency);
    assert_eq!(total.histograms.service, whole.service);
    assert_eq!(total.histograms.lateness, whole.lateness);
    for a in Activity::ALL {
        assert_eq!(
            total.activities[a.key()].histograms,
            whole.by_activity[a.index()]
        );
    }
    assert_eq!(total.total(), 400);
    assert_eq!(total.events.failed, whole.total_failures());
    assert_eq!(total.run.shards_merged, Some(3));
    assert!(
        run.stdout.contains(&final_summary(&total)),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Total activities: 400"),
        "{}",
        run.stdout
    );

    // --min-success is the merged run's: 31 of 400 failed (92.25%).
    let strict = harness::loadgen(dir.path(), &args(&shards, &["--min-success", "95%"]), &[]);
    strict.expect_code(1);
    assert!(
        strict.stderr.contains("is under --min-success 95.0%"),
        "{}",
        strict.stderr
    );
    harness::loadgen_ok(dir.path(), &args(&shards, &["--min-success", "92%"]));

    // Thresholds are the merged run's too: 92.25% passes 92% and fails 93%, and the merged
    // document records its own verdicts.
    let gated = harness::loadgen(
        dir.path(),
        &args(
            &shards,
            &[
                "--min-success",
                "0",
                "--threshold",
                "success>=92%",
                "--threshold",
                "success>=93%",
                "-o",
                "gated.json",
            ],
        ),
        &[],
    );
    gated.expect_code(99);
    assert!(
        gated
            .stdout
            .contains("FAILED  success>=93% (observed 92.25% (369 of 400))"),
        "{}",
        gated.stdout
    );
    let gated_doc = assert_valid(&dir.path().join("gated.json"));
    assert_eq!(gated_doc["thresholds"][0]["passed"], true);
    assert_eq!(gated_doc["thresholds"][1]["passed"], false);
}

#[test]
fn merge_refuses_what_is_not_one_runs_shards_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_shards(dir.path(), 3, "m1");
    let refused = |paths: &[PathBuf], needle: &str| {
        let run = harness::loadgen(dir.path(), &args(paths, &["-o", "out.json"]), &[]);
        run.expect_code(2);
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
        assert!(!dir.path().join("out.json").exists());
    };
    refused(&shards[..2], "the result of shard 2/3 is missing");
    let twice = [shards.clone(), vec![shards[1].clone()]].concat();
    refused(&twice, "shard 1/3 is in both");
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let other_run = write_shards(&other, 3, "m2");
    refused(
        &[shards[0].clone(), shards[1].clone(), other_run[2].clone()],
        "is of run id m2",
    );
    let four = write_shards(&other, 4, "m1");
    refused(&[shards[0].clone(), four[1].clone()], "is one of 4 shards");
    let mut trace = RunResult::read(&shards[2]).unwrap();
    trace.run.trace.crc32 = Some(8);
    let other_trace = other.join("t.json");
    trace.write(&other_trace).unwrap();
    refused(
        &[shards[0].clone(), shards[1].clone(), other_trace],
        "is a result of another trace",
    );
    // A document of a newer schema names the file and what to do.
    let mut newer = harness::json(&shards[2]);
    newer["schema_version"] = serde_json::json!(99);
    let newer_path = other.join("newer.json");
    std::fs::write(&newer_path, newer.to_string()).unwrap();
    refused(
        &[shards[0].clone(), shards[1].clone(), newer_path],
        "newer.json: schema_version 99 is newer than this loadgen reads",
    );
    // The output may not be one of the inputs.
    let run = harness::loadgen(
        dir.path(),
        &args(&shards, &["-o", shards[0].to_str().unwrap()]),
        &[],
    );
    run.expect_code(2);
}

/// `merge` of 100 shard results of a day-long run (the figure in BENCHMARKS.md): writes them
/// into `LOADGEN_MERGE_BENCH_DIR` for timing the release binary by hand, and checks their sum.
#[test]
#[ignore = "writes 100 day-long results (175 MB): run by hand for BENCHMARKS.md"]
fn merge_of_100_day_long_shard_results() {
    let dir = std::env::var("LOADGEN_MERGE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| tempfile::tempdir().unwrap().keep());
    std::fs::create_dir_all(&dir).unwrap();
    // One shard's day: 60,000 events over 24 h, latencies spread over five decades.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let records: Vec<EventRecord> = (0..60_000u64)
        .map(|seq| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let latency = 200 + state % 2_000_000;
            EventRecord {
                seq,
                entity: Entity::Order(seq as u32),
                offset_ms: seq * 1_440,
                activity: Activity::ALL[(state % 6) as usize],
                finished_at: Duration::from_millis(seq * 1_440),
                lateness: Duration::from_micros(state % 5_000),
                service: Duration::from_micros(latency / 2),
                latency: Duration::from_micros(latency),
                requests: 1,
                retries: 0,
                retry_causes: Vec::new(),
                result: if state.is_multiple_of(97) {
                    EventResult::failure(FailureKind::http(503), "503")
                } else {
                    EventResult::Success
                },
            }
        })
        .collect();
    let mut one = shard_result(&records, Shard::new(0, 100).unwrap(), "day", 7);
    one.duration_s = 86_400.0;
    let paths: Vec<PathBuf> = (0..100)
        .map(|i| {
            one.run.shard = Some(Shard::new(i, 100).unwrap());
            let path = dir.join(format!("r{i:02}.json"));
            one.write(&path).unwrap();
            path
        })
        .collect();
    // Timed by hand on the release binary: `loadgen merge r*.json -o total.json`.
    let total = loadgen::result::merge::merge_files(&paths).unwrap();
    assert_eq!(total.total(), 100 * 60_000);
    assert_eq!(total.histograms.latency.len(), 100 * 60_000);
    assert_eq!(total.time_series.len(), one.time_series.len());
}

/// The checked-in result (a replay with probes) validates, and its per-bucket samples add up:
/// each activity's buckets to the activity's events, the probes' buckets to every timed probe.
#[test]
fn the_checked_in_result_validates_and_its_buckets_add_up() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report_result.json");
    let document = assert_valid(&path);
    assert_eq!(document["schema_version"], loadgen::result::SCHEMA_VERSION);
    let result = RunResult::read(&path).unwrap();
    for activity in Activity::ALL {
        let of = result.activities[activity.key()].clone();
        let in_buckets: u64 = result
            .time_series
            .iter()
            .map(|b| b.bucket.activities.get(activity).events)
            .sum();
        assert_eq!(in_buckets, of.succeeded + of.failed, "{}", activity.key());
        let timed: u64 = result
            .time_series
            .iter()
            .map(|b| b.bucket.activities.get(activity).latency.len())
            .sum();
        assert_eq!(timed, of.histograms.latency.len(), "{}", activity.key());
    }
    let visibility = result
        .write_to_visible
        .as_ref()
        .expect("the fixture probed");
    let in_buckets: u64 = result
        .time_series
        .iter()
        .map(|b| b.bucket.visible.len())
        .sum();
    assert!(in_buckets > 0);
    assert_eq!(in_buckets, visibility.histogram.len());
}

/// A result saved by the loadgen of schema version 2 (each bucket's activities as an object)
/// reads back as the same result as its rewrite in version 3 (`tests/data/README.md`), and
/// compares against it, so a baseline saved before version 3 is still a baseline.
#[test]
fn a_result_saved_in_schema_version_2_reads_the_same_and_compares() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let (v2, v3) = (
        data.join("report_result_v2.json"),
        data.join("report_result.json"),
    );
    assert_eq!(harness::json(&v2)["schema_version"], 2);
    assert!(harness::json(&v2)["time_series"][0]["activities"].is_object());
    let (old, new) = (RunResult::read(&v2).unwrap(), RunResult::read(&v3).unwrap());
    assert_eq!(
        RunResult {
            schema_version: new.schema_version,
            ..old.clone()
        },
        new
    );
    assert_eq!(final_summary(&old), final_summary(&new));
    let dir = tempfile::tempdir().unwrap();
    let run = harness::loadgen_ok(
        dir.path(),
        &["compare", v2.to_str().unwrap(), v3.to_str().unwrap()],
    );
    // Per activity too: the version 2 buckets' activities are read, not dropped.
    assert!(!run.stdout.contains("not judged"), "{}", run.stdout);
    assert!(!run.stdout.contains("schema version"), "{}", run.stdout);
}

/// Rewrites shard result `path` with `edit` applied to its JSON.
fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut document = harness::json(path);
    edit(&mut document);
    std::fs::write(path, document.to_string()).unwrap();
}

#[test]
fn merge_refuses_shards_of_different_partitions_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_shards(dir.path(), 3, "p1");
    for shard in &shards {
        assert_eq!(
            harness::json(shard)["partition_version"],
            loadgen::result::PARTITION_VERSION
        );
    }
    harness::loadgen_ok(dir.path(), &args(&shards, &["-o", "total.json"]));
    let total = harness::json(&dir.path().join("total.json"));
    assert_eq!(
        total["partition_version"],
        loadgen::result::PARTITION_VERSION
    );
    // Shard 2 as a loadgen before results recorded their partition wrote it.
    edit_json(&shards[2], |d| {
        d.as_object_mut().unwrap().remove("partition_version");
        d["schema_version"] = serde_json::json!(2);
    });
    let run = harness::loadgen(dir.path(), &args(&shards, &["-o", "mixed.json"]), &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(&format!(
            "{} was sent by a partition it did not record (a result of schema version 2 or \
             older), {} by partition version 4",
            shards[2].display(),
            shards[0].display()
        )),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("mixed.json").exists());
    edit_json(&shards[2], |d| {
        d["partition_version"] = serde_json::json!(3)
    });
    let run = harness::loadgen(dir.path(), &args(&shards, &["-o", "mixed.json"]), &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("by partition version 3, "),
        "{}",
        run.stderr
    );
}

#[test]
fn a_corrupt_activity_blob_is_refused_naming_the_file_and_field_with_exit_2() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let shards = write_shards(dir.path(), 2, "c1");
    let mut blob = String::new();
    edit_json(&shards[1], |d| {
        let bucket = &mut d["time_series"][4]["activity_bins"];
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(bucket.as_str().unwrap())
            .unwrap();
        // Cut inside the last varint: the last latency bin's count.
        blob = base64::engine::general_purpose::STANDARD.encode(&bytes[..bytes.len() - 1]);
        *bucket = serde_json::json!(blob);
    });
    let expected = format!(
        "{}: field `time_series[4].activity_bins`: activity bins: byte ",
        shards[1].display()
    );
    for command in [
        args(&shards, &["-o", "out.json"]),
        vec!["report", shards[1].to_str().unwrap()],
    ] {
        let run = harness::loadgen(dir.path(), &command, &[]);
        run.expect_code(2);
        assert!(run.stderr.contains(&expected), "{expected}\n{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert!(!dir.path().join("out.json").exists());
}
