//! Per-event output (`--events-out`): one row per event that ended, streamed as CSV or JSON
//! Lines into an atomic output file (nothing is kept in memory but the write buffer), in the
//! order the events ended. The columns are documented in docs/events-out.md and `COLUMNS`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::metrics::{EventRecord, EventResult};
use crate::output::{AtomicFile, OutputError};
use crate::replay::pacer::Pacer;

/// The format of the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventsFormat {
    Csv,
    Jsonl,
}

impl EventsFormat {
    /// The format a path's extension implies: `.jsonl` or `.ndjson` is JSON Lines, anything
    /// else CSV.
    pub fn of_path(path: &Path) -> EventsFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext)
                if ext.eq_ignore_ascii_case("jsonl") || ext.eq_ignore_ascii_case("ndjson") =>
            {
                EventsFormat::Jsonl
            }
            _ => EventsFormat::Csv,
        }
    }
}

/// The columns, in order, with what each holds (`--help` and docs/events-out.md say the same).
pub const COLUMNS: &str = "\
Columns of --events-out (one row per event, in the order the events ended; instants are RFC 3339
in UTC with microseconds, durations integer microseconds; a field is empty in CSV, null in JSON
Lines, where the replayer has no value):
  seq          the event's position in its trace (0-based; for `start`, in the simulation)
  trace_ms     the event's time in the trace, ms from the trace start
  activity     new_order, status_transition, order_modification, customer_creation,
               inventory_update or cancellation (the report's keys)
  subject      the subject id the run wrote (in the run's namespace)
  intended     when the schedule said to send it (empty at --speed max for an event that sent
               nothing)
  sent         when its first request went out (empty if it sent nothing)
  finished     when it ended (its last response, or when it was blocked or cut off)
  latency_us   intended -> finished: latency from the intended time (empty if it sent nothing)
  service_us   sent -> finished: service time (empty if it sent nothing)
  lateness_us  intended -> sent: how late the schedule ran (empty if it sent nothing)
  requests     requests sent, retries included
  retries      retries among them
  outcome      success, or the failure kind as the report names it (http_503, timeout,
               blocked_by_earlier_failure, interrupted, ...)";

#[derive(Serialize)]
struct Row<'a> {
    seq: u64,
    trace_ms: u64,
    activity: &'static str,
    subject: &'a str,
    intended: Option<String>,
    sent: Option<String>,
    finished: String,
    latency_us: Option<u64>,
    service_us: Option<u64>,
    lateness_us: Option<u64>,
    requests: u32,
    retries: u32,
    outcome: String,
}

enum Sink {
    Csv(Box<csv::Writer<AtomicFile>>),
    Jsonl(AtomicFile),
}

#[derive(Debug, thiserror::Error)]
pub enum EventsOutError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("cannot write --events-out {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Rows being written to a temporary file beside the target; `commit` moves it into place,
/// dropping it without `commit` removes it.
pub struct EventsOut {
    path: PathBuf,
    sink: Sink,
    /// Wall-clock instant of the replay's start: the instants are it plus the replayer's
    /// monotonic offsets.
    start: DateTime<Utc>,
    /// The schedule, for the intended time of an event that sent nothing.
    pacer: Pacer,
    rows: u64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl EventsOut {
    /// Opens the temporary file beside `path` (the checks that it is no input come first:
    /// `output::check_paths`).
    pub fn create(path: &Path, format: EventsFormat) -> Result<EventsOut, EventsOutError> {
        let file = AtomicFile::create(path)?;
        let sink = match format {
            EventsFormat::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(file))),
            EventsFormat::Jsonl => Sink::Jsonl(file),
        };
        Ok(EventsOut {
            path: path.to_path_buf(),
            sink,
            start: Utc::now(),
            pacer: Pacer::new(crate::units::Speed::Max, 0),
            rows: 0,
        })
    }

    /// The run starts now (wall clock), on `pacer`'s schedule.
    pub fn start_run(&mut self, start: DateTime<Utc>, pacer: Pacer) {
        self.start = start;
        self.pacer = pacer;
    }

    fn instant(&self, since_start: Duration) -> String {
        let at = self.start + chrono::Duration::from_std(since_start).unwrap_or_default();
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the row of one event that ended.
    pub fn write(&mut self, r: &EventRecord, subject: &str) -> Result<(), EventsOutError> {
        let sent_something = r.requests > 0;
        let intended = if sent_something {
            Some(r.finished_at.saturating_sub(r.latency))
        } else {
            self.pacer.due(r.offset_ms)
        };
        let row = Row {
            seq: r.seq,
            trace_ms: r.offset_ms,
            activity: r.activity.key(),
            subject,
            intended: intended.map(|d| self.instant(d)),
            sent: sent_something.then(|| self.instant(r.finished_at.saturating_sub(r.service))),
            finished: self.instant(r.finished_at),
            latency_us: sent_something.then(|| micros(r.latency)),
            service_us: sent_something.then(|| micros(r.service)),
            lateness_us: sent_something.then(|| micros(r.lateness)),
            requests: r.requests,
            retries: r.retries,
            outcome: match &r.result {
                EventResult::Success => "success".to_string(),
                EventResult::Failure { kind, .. } => kind.to_string(),
            },
        };
        let write_err = |source| EventsOutError::Write {
            path: self.path.clone(),
            source,
        };
        match &mut self.sink {
            Sink::Csv(w) => w.serialize(&row).map_err(|e| write_err(e.into()))?,
            Sink::Jsonl(file) => {
                serde_json::to_writer(&mut *file, &row).map_err(|e| write_err(e.into()))?;
                file.write_all(b"\n").map_err(write_err)?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Flushes the rows and moves the file into place. A run that ended no event still gets
    /// a CSV header line.
    pub fn commit(self) -> Result<u64, EventsOutError> {
        let path = self.path;
        let file = match self.sink {
            Sink::Csv(mut w) => {
                if self.rows == 0 {
                    w.write_record(COLUMN_NAMES)
                        .map_err(|e| EventsOutError::Write {
                            path: path.clone(),
                            source: e.into(),
                        })?;
                }
                w.into_inner().map_err(|e| EventsOutError::Write {
                    path: path.clone(),
                    source: std::io::Error::other(e.error().to_string()),
                })?
            }
            Sink::Jsonl(file) => file,
        };
        file.commit()?;
        Ok(self.rows)
    }
}

/// The CSV header, as `Row` serialises it.
pub const COLUMN_NAMES: [&str; 13] = [
    "seq",
    "trace_ms",
    "activity",
    "subject",
    "intended",
    "sent",
    "finished",
    "latency_us",
    "service_us",
    "lateness_us",
    "requests",
    "retries",
    "outcome",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Activity, Entity};
    use crate::outcome::FailureKind;
    use crate::units::Speed;

    fn sent(seq: u64) -> EventRecord {
        EventRecord {
            seq,
            entity: Entity::Order(seq as u32),
            offset_ms: 2_000,
            activity: Activity::NewOrder,
            finished_at: Duration::from_micros(1_500_250),
            lateness: Duration::from_micros(250),
            service: Duration::from_micros(1_000),
            latency: Duration::from_micros(1_250),
            requests: 2,
            retries: 1,
            retry_causes: Vec::new(),
            result: EventResult::failure(FailureKind::http(503), "x"),
        }
    }

    #[test]
    fn csv_rows_have_the_documented_columns_and_instants() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.csv");
        let mut out = EventsOut::create(&path, EventsFormat::of_path(&path)).unwrap();
        let start = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        out.start_run(start, Pacer::new(Speed::Factor(2.0), 0));
        out.write(&sent(7), "order:r1-7").unwrap();
        let blocked = EventRecord::unanswered(
            8,
            Entity::Order(7),
            3_000,
            Activity::Cancellation,
            Duration::from_secs(2),
            FailureKind::Blocked,
            "b",
        );
        out.write(&blocked, "order:r1-7").unwrap();
        // Nothing is in place before the commit.
        assert!(!path.exists());
        assert_eq!(out.commit().unwrap(), 2);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], COLUMN_NAMES.join(","));
        assert_eq!(
            lines[1],
            "7,2000,new_order,order:r1-7,2026-12-01T10:00:01.499000Z,\
             2026-12-01T10:00:01.499250Z,2026-12-01T10:00:01.500250Z,1250,1000,250,2,1,http_503"
        );
        // Due at 3000 ms / 2x = 1.5 s; it sent nothing, so it has no times.
        assert_eq!(
            lines[2],
            "8,3000,cancellation,order:r1-7,2026-12-01T10:00:01.500000Z,,\
             2026-12-01T10:00:02.000000Z,,,,0,0,blocked_by_earlier_failure"
        );
        assert_eq!(lines.len(), 3);
        for name in COLUMN_NAMES {
            assert!(
                COLUMNS.contains(&format!("  {name} ")),
                "{name} undocumented"
            );
        }
    }

    #[test]
    fn jsonl_rows_and_a_dropped_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        assert_eq!(EventsFormat::of_path(&path), EventsFormat::Jsonl);
        let mut out = EventsOut::create(&path, EventsFormat::Jsonl).unwrap();
        out.write(&sent(1), "order:x").unwrap();
        drop(out);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut out = EventsOut::create(&path, EventsFormat::Jsonl).unwrap();
        out.write(&sent(1), "order:x").unwrap();
        out.commit().unwrap();
        let row: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
        assert_eq!(row["latency_us"], 1250);
        assert_eq!(row["outcome"], "http_503");
        assert_eq!(row["subject"], "order:x");
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut names = COLUMN_NAMES.to_vec();
        names.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, names);
    }
}
