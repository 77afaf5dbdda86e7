//! The outputs of `replay` and `start` besides the report: live metrics (`--metrics-addr`)
//! and the per-event rows (`--events-out`). Opened before the run (the listener bound, the
//! temporary file created), fed every event that ends, closed with the run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cli::{ExportFormat, RunOutputArgs};
use crate::event::Entity;
use crate::events_out::{EventsFormat, EventsOut, EventsOutError};
use crate::live_metrics::LiveMetrics;
use crate::metrics::EventRecord;
use crate::metrics_server::{MetricsServer, MetricsServerError};
use crate::replay::pacer::Pacer;
use crate::replay::Progress;

/// Why the outputs cannot be opened or were not all written.
#[derive(Debug, thiserror::Error)]
pub enum OutputsError {
    /// `--metrics-addr` cannot be served (a port in use, ...).
    #[error("{0}")]
    MetricsAddr(MetricsServerError),
    #[error("--events-out -: standard output carries the console output; give a file")]
    EventsToStdout,
    #[error(transparent)]
    Events(#[from] EventsOutError),
}

impl OutputsError {
    /// The error as `main` classes it: the flags' own errors are bad usage, a file that cannot
    /// be created bad input (both exit 2).
    pub fn classed(self) -> anyhow::Error {
        match self {
            OutputsError::Events(err) => err.into(),
            usage => crate::error::CommandError::Usage(usage.to_string()).into(),
        }
    }
}

/// The rows being written, or why they stopped.
struct EventsState {
    out: Option<EventsOut>,
    error: Option<EventsOutError>,
}

/// The live metrics and the events file of one run.
pub struct RunOutputs {
    progress: Arc<Progress>,
    metrics: Option<Arc<LiveMetrics>>,
    server: Option<MetricsServer>,
    linger: Option<Duration>,
    events: Option<Arc<Mutex<EventsState>>>,
    error: Option<EventsOutError>,
}

fn lock(events: &Mutex<EventsState>) -> std::sync::MutexGuard<'_, EventsState> {
    // Each update is one assignment: a poisoned lock still holds a consistent state.
    events.lock().unwrap_or_else(|p| p.into_inner())
}

impl RunOutputs {
    /// Binds the metrics listener (a port in use is a usage error: exit 2) and creates the
    /// events file's temporary file. Call after the paths were checked.
    pub fn open(args: &RunOutputArgs) -> Result<RunOutputs, OutputsError> {
        let progress = Arc::new(Progress::default());
        let (metrics, server) = match args.metrics_addr {
            Some(addr) => {
                let metrics = Arc::new(LiveMetrics::new(progress.clone()));
                let server = MetricsServer::start(addr, metrics.clone())
                    .map_err(OutputsError::MetricsAddr)?;
                crate::outln!(
                    "{} Serving metrics at http://{}/metrics",
                    super::stamp(),
                    server.local_addr()
                );
                (Some(metrics), Some(server))
            }
            None => (None, None),
        };
        let events = match &args.events_out {
            Some(path) => {
                if crate::output::is_std_stream(path) {
                    return Err(OutputsError::EventsToStdout);
                }
                let format = match args.events_format {
                    Some(ExportFormat::Csv) => EventsFormat::Csv,
                    Some(ExportFormat::Jsonl) => EventsFormat::Jsonl,
                    None => EventsFormat::of_path(path),
                };
                Some(Arc::new(Mutex::new(EventsState {
                    out: Some(EventsOut::create(path, format)?),
                    error: None,
                })))
            }
            None => None,
        };
        Ok(RunOutputs {
            progress,
            metrics,
            server,
            linger: args.metrics_linger,
            events,
            error: None,
        })
    }

    /// The counters the replayer updates (the run's `Progress`).
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// What to call for every event that ended; the run starts now, on `pacer`'s schedule.
    pub fn recorder(
        &self,
        pacer: Pacer,
        subject_of: impl Fn(Entity) -> String + Send + 'static,
    ) -> impl FnMut(&EventRecord) + Send + 'static {
        let metrics = self.metrics.clone();
        let events = self.events.clone();
        if let Some(events) = &events {
            if let Some(out) = lock(events).out.as_mut() {
                out.start_run(chrono::Utc::now(), pacer);
            }
        }
        move |record: &EventRecord| {
            if let Some(metrics) = &metrics {
                metrics.record(record);
            }
            if let Some(events) = &events {
                let mut state = lock(events);
                if let Some(out) = state.out.as_mut() {
                    if let Err(err) = out.write(record, &subject_of(record.entity)) {
                        eprintln!("error: {err}; the events file will not be written");
                        // Dropping it removes the temporary file now.
                        state.out = None;
                        state.error = Some(err);
                    }
                }
            }
        }
    }

    /// Every event of the run has been recorded: the metrics are final, and the events file
    /// is moved into place (or, if a write failed, the error is kept for `close`).
    pub fn run_ended(&mut self) {
        if let Some(metrics) = &self.metrics {
            metrics.finish();
        }
        let Some(events) = self.events.take() else {
            return;
        };
        let mut state = lock(&events);
        let result = match (state.out.take(), state.error.take()) {
            (_, Some(err)) => Err(err),
            (Some(out), None) => {
                let path = out_path(&out);
                out.commit().map(|rows| (rows, path))
            }
            (None, None) => return,
        };
        match result {
            Ok((rows, path)) => crate::outln!(
                "{} Events written to {} ({rows} rows)",
                super::stamp(),
                path
            ),
            Err(err) => self.error = Some(err),
        }
    }

    /// Stops the metrics endpoint (after one last scrape with `--metrics-linger`); the error
    /// of the events file, if writing it failed.
    pub fn close(mut self) -> Result<(), EventsOutError> {
        if let Some(server) = self.server.take() {
            if let Some(limit) = self.linger {
                if !server.linger(limit) {
                    eprintln!(
                        "warning: --metrics-linger: no scrape read the final figures within {}",
                        humantime(limit)
                    );
                }
            }
        }
        match self.error.take() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

fn out_path(out: &EventsOut) -> String {
    out.path().display().to_string()
}

fn humantime(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{CommandError, ErrorClass};

    #[test]
    fn the_events_file_is_never_standard_output_and_a_busy_port_is_usage() {
        let args = RunOutputArgs {
            events_out: Some("-".into()),
            ..RunOutputArgs::default()
        };
        let Err(err) = RunOutputs::open(&args) else {
            panic!("--events-out - was accepted");
        };
        let err = err.classed();
        assert_eq!(CommandError::class_of(&err), ErrorClass::Usage);
        assert!(err
            .to_string()
            .starts_with("--events-out -: standard output"));
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let args = RunOutputArgs {
            metrics_addr: Some(busy.local_addr().unwrap()),
            ..RunOutputArgs::default()
        };
        let Err(err) = RunOutputs::open(&args) else {
            panic!("a port in use was bound");
        };
        assert_eq!(CommandError::class_of(&err.classed()), ErrorClass::Usage);
    }
}
