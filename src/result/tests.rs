use std::time::Duration;

use base64::Engine as _;

use super::merge::{merge, MergeError};
use super::*;
use crate::metrics::{EventRecord, EventResult};
use crate::outcome::RetryCause;

/// A seeded mix of events over ~2 minutes: every activity, successes, three failure kinds,
/// retries, and blocked events that sent nothing.
fn records() -> Vec<EventRecord> {
    records_from(0x9e37_79b9_7f4a_7c15)
}

/// `records()` drawn from another (nonzero) xorshift state: the same mix, other values.
fn records_from(seed: u64) -> Vec<EventRecord> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..600u64)
        .map(|seq| {
            let r = next();
            let activity = Activity::ALL[(r % 6) as usize];
            let result = match r % 29 {
                0 => EventResult::failure(FailureKind::http(503), "503 Service Unavailable"),
                1 => EventResult::failure(FailureKind::Timeout, "no answer in 10s"),
                2 => EventResult::failure(FailureKind::Blocked, "earlier failure"),
                _ => EventResult::Success,
            };
            let sent = !matches!(result.kind(), Some(FailureKind::Blocked));
            let retried = r % 11 == 0 && sent;
            EventRecord {
                seq,
                entity: Entity::Order(seq as u32),
                offset_ms: seq * 200,
                activity,
                finished_at: Duration::from_millis(seq * 200 + r % 900),
                lateness: Duration::from_micros(if sent { r % 3_000 } else { 0 }),
                service: Duration::from_micros(if sent { 1_000 + r % 400_000 } else { 0 }),
                latency: Duration::from_micros(if sent { 2_000 + r % 500_000 } else { 0 }),
                requests: u32::from(sent) * (1 + u32::from(retried)),
                retries: u32::from(retried),
                retry_causes: if retried {
                    vec![RetryCause {
                        kind: FailureKind::Connection,
                        detail: "connection reset".into(),
                    }]
                } else {
                    Vec::new()
                },
                result,
            }
        })
        .collect()
}

fn meta(shard: Option<Shard>) -> RunMeta {
    RunMeta {
        trace: TraceIdentity {
            source: "day.trace".into(),
            events: Some(600),
            crc32: Some(0xdead_beef),
            start: "2026-01-05T09:00:00+00:00".into(),
        },
        seed: 42,
        profile: "demo".into(),
        run_id: "r1".into(),
        speed: "1x".into(),
        tags: [("env".to_string(), "test".to_string())].into(),
        git_revision: Some("abc123".into()),
        shard,
        shards_merged: None,
    }
}

fn result_of(records: &[&EventRecord], shard: Option<Shard>, elapsed: Duration) -> RunResult {
    result_with(records, shard, elapsed, None)
}

fn result_with(
    records: &[&EventRecord],
    shard: Option<Shard>,
    elapsed: Duration,
    visibility: Option<Visibility>,
) -> RunResult {
    let mut metrics = Metrics::default();
    for r in records {
        metrics.add(r);
    }
    let outcome = ReplayOutcome {
        received: metrics.total(),
        metrics,
        interrupted: 0,
        not_sent: 3,
        due_in_source: 0,
        stopped_early: false,
        elapsed,
    };
    let started_at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .unwrap()
        .to_utc();
    RunResult::build(
        &outcome,
        RunContext {
            meta: meta(shard),
            config: serde_json::json!({"speed": "1x", "shard": shard.map(|s| s.to_string())}),
            started_at,
            visibility,
            subject_of: &|e| format!("subject {e:?}"),
        },
    )
}

fn whole() -> RunResult {
    let records = records();
    result_of(
        &records.iter().collect::<Vec<_>>(),
        None,
        Duration::from_secs(121),
    )
}

/// The results of `count` shards that split `records()` by sequence number.
fn shards(count: u32) -> Vec<(PathBuf, RunResult)> {
    let records = records();
    (0..count)
        .map(|index| {
            let mine: Vec<&EventRecord> = records
                .iter()
                .filter(|r| r.seq % u64::from(count) == u64::from(index))
                .collect();
            // Shards finish at different times; the run lasts as long as the last one.
            let elapsed = Duration::from_secs(121 - u64::from(index));
            let shard = Shard::new(index, count).unwrap();
            (
                PathBuf::from(format!("r{index}.json")),
                result_of(&mine, Some(shard), elapsed),
            )
        })
        .collect()
}

fn pairs(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

#[test]
fn a_written_result_reads_back_equal_and_renders_the_same_summary() {
    let result = whole();
    assert!(result.events.unknown_outcome > 0 && result.events.blocked > 0);
    assert!(result.retries > 0 && !result.failed_events.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    result.write(&path).unwrap();
    let back = RunResult::read(&path).unwrap();
    assert_eq!(back, result);
    assert_eq!(
        crate::report::final_summary(&back),
        crate::report::final_summary(&result)
    );
    // The summary says what the data says.
    let summary = crate::report::final_summary(&back);
    assert!(summary.contains("Total activities: 600"), "{summary}");
    assert!(summary.contains(&format!(
        "{:?}",
        Entity::Order(result.failed_events[0].seq as u32)
    )));
    assert_eq!(back.total(), 600);
    assert_eq!(
        pairs(&back.histograms.latency),
        pairs(&result.histograms.latency)
    );
}

#[test]
fn derived_fields_are_recomputed_not_trusted() {
    let result = whole();
    let mut value: serde_json::Value = serde_json::from_str(&result.to_json()).unwrap();
    value["success_rate"] = serde_json::json!(0.0);
    value["service_time"]["p99_ms"] = serde_json::json!(1e9);
    value["time_series"][0]["latency_p50_ms"] = serde_json::json!(-1.0);
    let back = RunResult::parse(Path::new("x.json"), &value.to_string()).unwrap();
    assert_eq!(back, result);
}

/// `text` rewritten as schema version 1 wrote it: coarse bins as `[[bin, count], ...]`.
fn as_version_1(text: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    v["schema_version"] = serde_json::json!(1);
    v.as_object_mut().unwrap().remove("time_series_activities");
    for bucket in v["time_series"].as_array_mut().unwrap() {
        // Version 1 had no per-activity or write-to-visible buckets.
        let fields = bucket.as_object_mut().unwrap();
        fields.remove("activity_bins");
        fields.remove("write_to_visible_bins");
        for field in ["latency_from_intended_bins", "lateness_bins"] {
            let dense: coarse::CoarseHistogram =
                serde_json::from_value(bucket[field].clone()).unwrap();
            let pairs: Vec<(u64, u64)> = (0..496u64)
                .filter_map(|bin| {
                    let count = dense.count_in_bin(bin as usize);
                    (count > 0).then_some((bin, count))
                })
                .collect();
            bucket[field] = serde_json::json!(pairs);
        }
    }
    v.to_string()
}

#[test]
fn a_version_1_document_reads_back_the_same_measurements() {
    let result = whole();
    let old = as_version_1(&result.to_json());
    assert!(
        old.contains("\"latency_from_intended_bins\":[["),
        "not the pair form"
    );
    let back = RunResult::parse(Path::new("v1.json"), &old).unwrap();
    assert_eq!(back.schema_version, 1);
    let mut without_activities = result.clone();
    for b in &mut without_activities.time_series {
        b.bucket.activities = Default::default();
    }
    assert_eq!(back.time_series, without_activities.time_series);
    assert_eq!(
        RunResult {
            schema_version: SCHEMA_VERSION,
            ..back.clone()
        },
        without_activities
    );
    // Its per-activity rows cannot be judged, and the comparison says why.
    let comparison = compare::compare(
        ("v1.json", &back),
        ("v2.json", &result),
        &crate::stats::NoiseRule::default(),
    );
    let row = |metric: &str, scope: &str| {
        comparison
            .rows
            .iter()
            .find(|r| r.metric == metric && r.scope == scope)
            .unwrap()
            .verdict
    };
    assert_eq!(row("p50 latency (ms)", "new_order"), "not judged");
    assert_eq!(row("p50 latency (ms)", "overall"), "unchanged");
    assert!(
        comparison.text().contains("schema version 1"),
        "{}",
        comparison.text()
    );
    // Written again, it is a document of this version.
    assert!(back.to_json().contains("\"lateness_bins\":\""));
}

/// `text` rewritten as schema version 2 wrote it: each bucket's activities as an object of
/// activities (`metrics::ByActivity`'s own form), no activity table, no partition.
fn as_version_2(text: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    v["schema_version"] = serde_json::json!(2);
    let top = v.as_object_mut().unwrap();
    top.remove("time_series_activities");
    top.remove("partition_version");
    for bucket in v["time_series"].as_array_mut().unwrap() {
        let fields = bucket.as_object_mut().unwrap();
        if let Some(dense) = fields.remove("activity_bins") {
            let by = series::decode_activities(dense.as_str().unwrap()).unwrap();
            fields.insert("activities".into(), serde_json::to_value(&by).unwrap());
        }
    }
    v.to_string()
}

#[test]
fn a_version_2_document_reads_back_the_same_and_is_written_dense() {
    let result = whole();
    let old = as_version_2(&result.to_json());
    assert!(
        old.contains("\"activities\":{\"new_order\":{\"events\":"),
        "not the object form"
    );
    let back = RunResult::parse(Path::new("v2.json"), &old).unwrap();
    assert_eq!(back.schema_version, 2);
    let current = RunResult {
        schema_version: SCHEMA_VERSION,
        ..back.clone()
    };
    assert_eq!(current, result);
    // Every bucket's activities came through (the buckets hold all the events).
    let in_buckets: u64 = back
        .time_series
        .iter()
        .flat_map(|b| b.bucket.activities.0.iter().map(|a| a.events))
        .sum();
    assert_eq!(in_buckets, result.total());
    // Written again, the buckets' activities are dense, against the table.
    assert_eq!(current.to_json(), result.to_json());
    assert!(result.to_json().contains("\"activity_bins\":\""));
    assert!(!result
        .to_json()
        .contains("\"activities\":{\"new_order\":{\"events"));
}

#[test]
fn a_version_3_document_without_its_activity_table_is_refused() {
    let text = whole().to_json();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        f(&mut v);
        RunResult::parse(Path::new("run.json"), &v.to_string())
            .unwrap_err()
            .to_string()
    };
    let missing = edit(&|v| {
        v.as_object_mut().unwrap().remove("time_series_activities");
    });
    assert_eq!(
        missing,
        "run.json: field `time_series_activities`: missing: schema version 3 indexes the \
         buckets' activity_bins by it"
    );
    let other = edit(&|v| v["time_series_activities"][0] = serde_json::json!("cancellation"));
    assert!(
        other.starts_with("run.json: field `time_series_activities`: [\"cancellation\", "),
        "{other}"
    );
    // A blob cut short names the bucket and the byte.
    let cut = edit(&|v| {
        let blob = v["time_series"][3]["activity_bins"]
            .as_str()
            .unwrap()
            .to_string();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&blob)
            .unwrap();
        let short = base64::engine::general_purpose::STANDARD.encode(&bytes[..bytes.len() - 1]);
        v["time_series"][3]["activity_bins"] = serde_json::json!(short);
    });
    assert!(
        cut.starts_with("run.json: field `time_series[3].activity_bins`: activity bins: byte "),
        "{cut}"
    );
    let both = edit(&|v| v["time_series"][2]["activities"] = serde_json::json!({}));
    assert!(
        both.contains("holds both `activities` and `activity_bins`"),
        "{both}"
    );
}

/// Read while adding its buckets into a sum (`merge`), a bad bucket is refused as `read`
/// refuses it, naming the field.
#[test]
fn a_bad_bucket_added_while_read_is_refused_naming_the_field() {
    let mut v: serde_json::Value = serde_json::from_str(&whole().to_json()).unwrap();
    v["time_series"][3]["activity_bins"] = serde_json::json!("AAEAAQ==");
    let text = v.to_string();
    let mut sum = series::SeriesSum::default();
    let err = series::adding_into(&mut sum, 0, || RunResult::parse(Path::new("r.json"), &text))
        .unwrap_err()
        .to_string();
    let read = RunResult::parse(Path::new("r.json"), &text)
        .unwrap_err()
        .to_string();
    assert!(
        read.starts_with("r.json: field `time_series[3].activity_bins`: activity bins: byte 0: "),
        "{read}"
    );
    // Added field by field, the error is the bucket's (`merge_files` reads the file again
    // for the field).
    assert!(
        err.starts_with("r.json: field `time_series[3]`: activity bins: byte 0: "),
        "{err}"
    );
}

#[test]
fn shards_of_different_partitions_are_refused() {
    assert_eq!(
        whole().partition_version,
        None,
        "a whole run has no partition"
    );
    let inputs = shards(2);
    assert!(inputs
        .iter()
        .all(|(_, r)| r.partition_version == Some(PARTITION_VERSION)));
    assert_eq!(
        merge(&inputs).unwrap().partition_version,
        Some(PARTITION_VERSION)
    );
    // Shard 1 of a loadgen before results recorded their partition (schema version 2).
    let mut mixed = shards(2);
    mixed[1].1.partition_version = None;
    let err = merge(&mixed).unwrap_err();
    assert!(
        matches!(err, MergeError::DifferentPartition { .. }),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(
            "r1.json was sent by a partition it did not record (a result of schema version 2 \
             or older), r0.json by partition version 4: "
        ),
        "{err}"
    );
    let mut other = shards(3);
    other[0].1.partition_version = Some(PARTITION_VERSION + 1);
    assert!(merge(&other)
        .unwrap_err()
        .to_string()
        .starts_with("r1.json was sent by partition version 4, r0.json by partition version 5"));
    // Shards that all predate the record merge as they did.
    let mut old = shards(2);
    for (_, r) in &mut old {
        r.partition_version = None;
    }
    assert_eq!(merge(&old).unwrap().partition_version, None);
}

#[test]
fn the_merged_document_is_the_same_whatever_order_the_shards_arrive_in() {
    let mut inputs = shards(3);
    // Each shard saw its own example of each kind of failure and retry.
    for (i, (_, r)) in inputs.iter_mut().enumerate() {
        for e in r.errors.values_mut().chain(r.retry_reasons.values_mut()) {
            e.example = format!("{} (shard {i})", e.example);
        }
    }
    let first = merge(&inputs).unwrap().to_json();
    assert!(first.contains("(shard 0)"), "{first}");
    assert!(!first.contains("(shard 1)") && !first.contains("(shard 2)"));
    for order in [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        let arrived: Vec<_> = order.iter().map(|&i| inputs[i].clone()).collect();
        assert_eq!(merge(&arrived).unwrap().to_json(), first, "{order:?}");
    }
}

/// `text` with each bucket's fields in reverse order (`second` last), as another tool may
/// write them.
fn with_buckets_reversed(text: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    for bucket in v["time_series"].as_array_mut().unwrap() {
        let entries: Vec<(String, serde_json::Value)> = bucket
            .as_object()
            .unwrap()
            .clone()
            .into_iter()
            .rev()
            .collect();
        let mut reversed = serde_json::Map::new();
        for (key, value) in entries {
            reversed.insert(key, value);
        }
        *bucket = serde_json::Value::Object(reversed);
    }
    let text = v.to_string();
    assert!(text.contains("\"lateness_p99_ms\":"), "{text}");
    text
}

/// A document's text rewritten as another version or writer would write it.
type Rewrite = dyn Fn(&str) -> String;

/// `merge_files` adds each file's buckets into a sum as it reads them (`series::adding_into`);
/// it gives what `merge` of the same results read whole gives, whatever their schema version,
/// the order of a bucket's fields, the buckets' width or the shards' start.
#[test]
fn merging_files_as_they_are_read_gives_what_merging_whole_results_gives() {
    let mut inputs = shards(4);
    inputs[1].1.started_at = "2026-12-01T10:00:05+00:00".into();
    // Shard 2's buckets are 2 s wide (a longer run's are wider).
    let narrow = std::mem::take(&mut inputs[2].1.time_series);
    inputs[2].1.time_series = narrow
        .chunks(2)
        .map(|pair| {
            let mut wide = pair[0].bucket.clone();
            for b in &pair[1..] {
                wide.absorb(&b.bucket);
            }
            SeriesBucket::from_bucket(wide)
        })
        .collect();
    inputs[2].1.time_series_bucket_s = 2;
    let in_memory = merge(&inputs).unwrap();
    assert_eq!(in_memory.time_series_bucket_s, 2);
    let dir = tempfile::tempdir().unwrap();
    let forms: [(&str, &Rewrite); 4] = [
        ("v3", &|t: &str| t.to_string()),
        ("v2", &as_version_2),
        ("v1", &as_version_1),
        ("reordered", &with_buckets_reversed),
    ];
    for (form, rewrite) in forms {
        let paths: Vec<PathBuf> = inputs
            .iter()
            .map(|(name, r)| {
                let path = dir.path().join(format!("{form}-{}", name.display()));
                std::fs::write(&path, rewrite(&r.to_json())).unwrap();
                path
            })
            .collect();
        let whole: Vec<(PathBuf, RunResult)> = paths
            .iter()
            .map(|p| (p.clone(), RunResult::read(p).unwrap()))
            .collect();
        let expected = merge(&whole).unwrap();
        let streamed = super::merge::merge_files(&paths).unwrap();
        assert_eq!(streamed.to_json(), expected.to_json(), "{form}");
        if form != "v1" {
            // Nothing is lost on the way: the sum of the whole results in memory.
            assert_eq!(streamed.time_series, in_memory.time_series, "{form}");
        }
    }
}

#[test]
fn merge_reads_the_header_from_the_start_of_a_file_and_any_order_too() {
    let (_, shard) = shards(2).remove(1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r1.json");
    shard.write(&path).unwrap();
    let header = super::merge::read_header(&path).unwrap();
    let expected = super::merge::Header::from(&shard);
    assert_eq!(
        (&header.run, &header.started_at, header.schema_version),
        (&expected.run, &expected.started_at, expected.schema_version)
    );
    // The header's fields last (as another tool may write them): found all the same.
    let v: serde_json::Value = serde_json::from_str(&shard.to_json()).unwrap();
    let mut entries: Vec<(String, serde_json::Value)> =
        v.as_object().unwrap().clone().into_iter().collect();
    entries.reverse();
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{v}", serde_json::json!(k)))
        .collect();
    let reordered = dir.path().join("reordered.json");
    std::fs::write(&reordered, format!("{{{}}}", body.join(","))).unwrap();
    assert!(std::fs::read_to_string(&reordered)
        .unwrap()
        .starts_with("{\"write_to_visible\""));
    let header = super::merge::read_header(&reordered).unwrap();
    assert_eq!(header.run, expected.run);
    assert_eq!(header.partition_version, Some(PARTITION_VERSION));
    // A newer version is refused as `read` refuses it.
    let newer = dir.path().join("newer.json");
    let text = shard.to_json().replacen(
        &format!("\"schema_version\":{SCHEMA_VERSION}"),
        &format!("\"schema_version\":{}", SCHEMA_VERSION + 1),
        1,
    );
    std::fs::write(&newer, text).unwrap();
    let err = super::merge::read_header(&newer).unwrap_err().to_string();
    assert!(err.contains("is newer than this loadgen reads"), "{err}");
}

/// `records()` with the latency of new orders scaled by `factor`.
fn with_slower_orders(factor: f64) -> Vec<EventRecord> {
    records()
        .into_iter()
        .map(|mut r| {
            if r.activity == Activity::NewOrder {
                r.latency = r.latency.mul_f64(factor);
            }
            r
        })
        .collect()
}

/// Probes of a 2-minute run: one write a second, visible after `ms(second)` milliseconds.
fn probed(ms: impl Fn(u64) -> u64) -> Visibility {
    let mut histogram = crate::metrics::histogram();
    let mut by_second = BTreeMap::new();
    // 2026-12-01T10:00:00Z, the start `result_with` gives.
    let start = 1_796_119_200u64;
    for second in 0..120 {
        let us = ms(second) * 1000;
        histogram.record(us).unwrap();
        by_second
            .entry(start + second)
            .or_insert_with(coarse::CoarseHistogram::default)
            .record(us);
    }
    Visibility {
        probed: 120,
        not_visible: 0,
        superseded: 0,
        write_to_visible: Percentiles::default(),
        histogram,
        by_second,
        by_kind: BTreeMap::new(),
    }
}

#[test]
fn compare_judges_an_activity_and_write_to_visible_on_their_buckets() {
    let rule = crate::stats::NoiseRule::default();
    let run = |records: &[EventRecord], visible: Visibility| {
        result_with(
            &records.iter().collect::<Vec<_>>(),
            None,
            Duration::from_secs(121),
            Some(visible),
        )
    };
    let jitter = |s: u64| 200 + (s * 7919) % 100;
    let base = run(&records(), probed(jitter));
    // Every timed probe is in the bucket of its second.
    assert_eq!(
        base.time_series
            .iter()
            .map(|b| b.bucket.visible.len())
            .sum::<u64>(),
        120
    );
    assert_eq!(base.time_series[7].bucket.visible.len(), 1);
    let verdicts = |c: &compare::Comparison, scope: &str| -> Vec<(String, &'static str)> {
        c.rows
            .iter()
            .filter(|r| r.scope == scope)
            .map(|r| (r.metric.clone(), r.verdict))
            .collect()
    };
    // New orders 3x slower, probes 40% slower: those rows regress, the other activities not.
    let slower = run(&with_slower_orders(3.0), probed(|s| jitter(s) * 7 / 5));
    let c = compare::compare(("base", &base), ("new", &slower), &rule);
    let orders = verdicts(&c, "new_order");
    assert!(
        orders.contains(&("p50 latency (ms)".into(), "regressed")),
        "{orders:?}"
    );
    assert!(orders.contains(&("success (%)".into(), "unchanged")));
    for other in ["status_transition", "inventory_update", "cancellation"] {
        assert!(
            verdicts(&c, other).iter().all(|(_, v)| *v == "unchanged"),
            "{other}: {:?}",
            verdicts(&c, other)
        );
    }
    let overall = verdicts(&c, "overall");
    assert!(overall.contains(&("p50 write to visible (ms)".into(), "regressed")));
    // The same run against itself: nothing changed, everything judged.
    let same = compare::compare(("base", &base), ("again", &base), &rule);
    assert!(same.regressions().is_empty());
    assert!(
        same.rows.iter().all(|r| r.verdict == "unchanged"),
        "{:?}",
        same.rows
    );
    assert!(!same.text().contains("not judged"));
}

#[test]
fn equal_pairs_show_a_regression_in_the_overall_rows_at_most_alpha_of_the_time() {
    // Two runs drawn from one distribution differ only by chance: the comparison may call
    // such a pair a regression in at most alpha of the pairs, whichever row it is in.
    let rule = crate::stats::NoiseRule::default();
    let run = |seed: u64| {
        let records = records_from(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        result_of(
            &records.iter().collect::<Vec<_>>(),
            None,
            Duration::from_secs(121),
        )
    };
    let pairs = 200u64;
    let flagged: Vec<Vec<String>> = (0..pairs)
        .map(|i| {
            let c = compare::compare(("base", &run(2 * i + 1)), ("new", &run(2 * i + 2)), &rule);
            c.rows
                .iter()
                .filter(|r| r.scope == "overall" && r.verdict == "regressed")
                .map(|r| r.metric.clone())
                .collect::<Vec<_>>()
        })
        .filter(|regressed| !regressed.is_empty())
        .collect();
    assert!(
        flagged.len() as f64 <= rule.alpha * pairs as f64,
        "{} of {pairs} equal pairs flagged: {flagged:?}",
        flagged.len()
    );
}

#[test]
fn merging_the_shards_of_a_run_gives_the_whole_run() {
    let whole = whole();
    let merged = merge(&shards(3)).unwrap();
    assert_eq!(
        pairs(&merged.histograms.service),
        pairs(&whole.histograms.service)
    );
    assert_eq!(merged.histograms, whole.histograms);
    assert_eq!(merged.activities, whole.activities);
    assert_eq!(merged.errors, whole.errors);
    assert_eq!(merged.retry_reasons, whole.retry_reasons);
    assert_eq!(
        (merged.requests, merged.retries),
        (whole.requests, whole.retries)
    );
    assert_eq!(merged.time_series, whole.time_series);
    assert_eq!(merged.failed_events, whole.failed_events);
    assert_eq!(merged.failed_events_total, whole.failed_events_total);
    assert_eq!(merged.duration_s, whole.duration_s);
    let not_sent = 3 * 3;
    assert_eq!(
        merged.events,
        EventCounts {
            not_sent,
            ..whole.events.clone()
        }
    );
    assert_eq!(merged.run.shard, None);
    assert_eq!(merged.run.shards_merged, Some(3));
    assert_eq!(merged.success_rate, whole.success_rate);
    assert_eq!(merged.service_time, whole.service_time);
    // The order the results are named in does not matter.
    let mut reversed = shards(3);
    reversed.reverse();
    assert_eq!(merge(&reversed).unwrap(), merged);
    assert!(crate::report::final_summary(&merged).contains("Shards: 3 (merged)"));
}

#[test]
fn a_shard_that_started_later_has_its_buckets_moved() {
    let mut inputs = shards(2);
    inputs[1].1.started_at = "2026-12-01T10:00:05+00:00".into();
    let merged = merge(&inputs).unwrap();
    let events = |r: &RunResult, second: u64| {
        r.time_series
            .iter()
            .find(|b| b.bucket.second == second)
            .map_or(0, |b| b.bucket.events)
    };
    let first_of_1 = inputs[1].1.time_series[0].bucket.events;
    assert_eq!(
        events(&merged, 5),
        events(&inputs[0].1, 5) + first_of_1,
        "shard 1's second 0 is the run's second 5"
    );
    // Elapsed is the span of all shards: shard 1 ran 120 s from second 5.
    assert_eq!(merged.duration_s, 125.0);
}

#[test]
fn results_that_are_not_the_shards_of_one_run_are_refused() {
    let mut other_trace = shards(2);
    other_trace[1].1.run.trace.crc32 = Some(1);
    assert!(matches!(
        merge(&other_trace),
        Err(MergeError::DifferentTrace { path, .. }) if path == Path::new("r1.json")
    ));
    let mut other_run = shards(2);
    other_run[0].1.run.run_id = "r2".into();
    let err = merge(&other_run).unwrap_err();
    assert!(matches!(err, MergeError::DifferentRunId { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("r1.json is of run id r1, r0.json of run id r2"),
        "{err}"
    );
    let mut counts = shards(2);
    counts.push(shards(3).remove(2));
    assert!(matches!(
        merge(&counts),
        Err(MergeError::DifferentShardCount {
            theirs: 3,
            ours: 2,
            ..
        })
    ));
    let mut missing = shards(4);
    missing.remove(2);
    let err = merge(&missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the result of shard 2/4 is missing (merged: 0/4, 1/4, 3/4)"
    );
    let mut twice = shards(2);
    twice.push((PathBuf::from("copy.json"), twice[0].1.clone()));
    assert_eq!(
        merge(&twice).unwrap_err().to_string(),
        "shard 0/2 is in both r0.json and copy.json"
    );
    let unsharded = vec![(PathBuf::from("w.json"), whole())];
    assert!(matches!(
        merge(&unsharded),
        Err(MergeError::NotAShard { .. })
    ));
    assert_eq!(merge(&[]), Err(MergeError::Nothing));
}

#[test]
fn bad_documents_are_refused_naming_the_file_and_field() {
    let text = whole().to_json();
    let path = Path::new("run.json");
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        f(&mut v);
        RunResult::parse(path, &v.to_string())
            .unwrap_err()
            .to_string()
    };
    let newer = edit(&|v| v["schema_version"] = serde_json::json!(SCHEMA_VERSION + 1));
    assert!(
        newer.starts_with(&format!(
            "run.json: schema_version {} is newer",
            SCHEMA_VERSION + 1
        )),
        "{newer}"
    );
    let missing = edit(&|v| {
        v["events"].as_object_mut().unwrap().remove("received");
    });
    assert!(missing.contains("run.json: field `events"), "{missing}");
    assert!(missing.contains("received"), "{missing}");
    let bad_histogram = edit(&|v| v["histograms"]["lateness"] = serde_json::json!("????"));
    assert!(
        bad_histogram.starts_with("run.json: field `histograms.lateness`: not base64"),
        "{bad_histogram}"
    );
    let bad_kind =
        edit(&|v| v["errors"]["teapot"] = serde_json::json!({"count": 1, "example": ""}));
    assert!(
        bad_kind.starts_with("run.json: field `errors.teapot`"),
        "{bad_kind}"
    );
    let old = edit(&|v| {
        v.as_object_mut().unwrap().remove("schema_version");
    });
    assert!(old.contains("no `schema_version`"), "{old}");
    assert!(RunResult::parse(path, &format!("{text} trailing")).is_err());
    assert!(RunResult::parse(path, "[1, 2")
        .unwrap_err()
        .to_string()
        .starts_with("run.json: not a loadgen result document"));
}

#[test]
fn the_checked_in_schema_describes_what_is_written() {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    assert_eq!(
        schema["properties"]["schema_version"]["const"],
        serde_json::json!(SCHEMA_VERSION)
    );
}

mod thresholds {
    use super::*;
    use crate::result::thresholds::AbortWatch;
    use crate::threshold::{parse_threshold, Metric, Scope, ThresholdPlan, ThresholdSource};

    #[test]
    fn a_result_answers_thresholds_from_its_histograms() {
        let r = whole();
        let count = r.sample_count(Metric::Latency, Scope::Overall);
        assert_eq!(count, r.histograms.latency.len());
        let p99 = crate::threshold::quantile_rank(0.99, count);
        assert_eq!(
            r.value_at_rank(Metric::Latency, Scope::Overall, p99),
            Some(Duration::from_micros(
                r.histograms.latency.value_at_quantile(0.99)
            ))
        );
        let a = &r.activities["new_order"];
        let o = r.outcomes(Scope::Activity(Activity::NewOrder));
        assert_eq!(
            (o.ended, o.succeeded),
            (a.succeeded + a.failed, a.succeeded)
        );
        // No probes in this result: nothing measured, so a visible threshold fails.
        assert_eq!(r.sample_count(Metric::Visible, Scope::Overall), 0);
        let mut r = r;
        let plan = ThresholdPlan {
            thresholds: vec![
                parse_threshold("visible.p99<2s").unwrap(),
                parse_threshold("p99<10s").unwrap(),
            ],
        };
        let evaluation = r.apply_thresholds(&plan);
        assert!(!evaluation.all_passed());
        assert_eq!(
            r.thresholds
                .iter()
                .map(|t| (t.expr.as_str(), t.passed, t.observed.is_some()))
                .collect::<Vec<_>>(),
            [("visible.p99<2s", false, false), ("p99<10s", true, true)]
        );
        // Recorded verdicts survive a write and a read.
        let back = RunResult::parse(Path::new("r.json"), &r.to_json()).unwrap();
        assert_eq!(back.thresholds, r.thresholds);
    }

    fn event(seq: u64, ok: bool) -> EventRecord {
        EventRecord {
            seq,
            entity: Entity::Order(seq as u32),
            offset_ms: seq,
            activity: Activity::NewOrder,
            finished_at: Duration::from_millis(seq),
            lateness: Duration::from_micros(10),
            service: Duration::from_millis(5),
            latency: Duration::from_millis(5),
            requests: 1,
            retries: 0,
            retry_causes: Vec::new(),
            result: if ok {
                EventResult::Success
            } else {
                EventResult::failure(FailureKind::http(503), "503")
            },
        }
    }

    #[test]
    fn the_abort_watch_gives_up_exactly_when_the_threshold_cannot_pass() {
        let plan = ThresholdPlan {
            thresholds: vec![parse_threshold("success>=90%").unwrap()],
        };
        // Ten events at most: one failure still allows 9 of 10, the second does not.
        let mut watch = AbortWatch::new(plan.clone(), Some(10));
        assert_eq!(watch.observe(&event(0, true)), None);
        assert_eq!(watch.observe(&event(1, false)), None);
        assert_eq!(watch.observe(&event(2, true)), None);
        assert_eq!(
            watch.observe(&event(3, false)),
            Some("success>=90%".to_string())
        );
        // Said once.
        assert_eq!(watch.observe(&event(4, false)), None);
        // Without a bound nothing is ever given up on.
        let mut unbounded = AbortWatch::new(plan, None);
        for seq in 0..20 {
            assert_eq!(unbounded.observe(&event(seq, false)), None);
        }
    }
}
