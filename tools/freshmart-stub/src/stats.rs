//! What the stub observed: request counters, the gauges of requests queued, in flight and held
//! by an outage, and (when asked for) a log of every request in arrival order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use tokio::sync::Notify;

/// A snapshot of the stub's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StubStats {
    /// Requests received (health checks included).
    pub total_requests: u64,
    /// Requests answered (with any status).
    pub completed_requests: u64,
    /// Requests by `"METHOD /route"`, e.g. `"POST /triples/batch"`,
    /// `"DELETE /triples/subjects/{*subject_id}"`; unknown paths count as `"GET (unmatched)"`.
    pub by_endpoint: BTreeMap<String, u64>,
    /// Answers by status code.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests answered with an injected 503.
    pub injected_errors: u64,
    /// Connections dropped without an answer.
    pub resets: u64,
    /// Requests applied and then answered late (`late_rate`).
    pub late_answers: u64,
    /// 4xx answers by error type: the `error_type` of each 400 validation error, and
    /// `request_validation` (422), `not_found` (404), `method_not_allowed` (405).
    pub client_errors: BTreeMap<String, u64>,
    /// Requests waiting for a capacity slot now.
    pub queued: u64,
    /// Requests being processed now (holding a capacity slot).
    pub in_flight: u64,
    /// The most requests ever processed at once.
    pub max_in_flight: u64,
    /// Requests held by an outage now.
    pub held: u64,
    /// Triples in the store.
    pub triple_count: u64,
}

/// One request as the stub received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path_and_query: String,
    pub body: String,
    /// The answer's status; 0 while unanswered, and for a request whose connection was reset.
    pub status: u16,
}

#[derive(Default)]
struct Maps {
    by_endpoint: BTreeMap<String, u64>,
    by_status: BTreeMap<u16, u64>,
    client_errors: BTreeMap<String, u64>,
}

/// Gauges that can be waited on.
#[derive(Clone, Copy, Debug)]
pub enum Gauge {
    Queued,
    InFlight,
    Held,
}

/// The live counters behind [`StubStats`].
#[derive(Default)]
pub struct Stats {
    total: AtomicU64,
    completed: AtomicU64,
    injected_errors: AtomicU64,
    resets: AtomicU64,
    late_answers: AtomicU64,
    queued: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    held: AtomicU64,
    maps: Mutex<Maps>,
    /// Tasks waiting in [`Stats::changed`]; changes notify only while there are some.
    watchers: AtomicUsize,
    changed: Notify,
}

impl Stats {
    fn maps(&self) -> MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self) {
        if self.watchers.load(Ordering::SeqCst) > 0 {
            self.changed.notify_waiters();
        }
    }

    /// Counts an arriving request.
    pub fn request(&self, endpoint: &str) {
        self.total.fetch_add(1, Ordering::SeqCst);
        {
            let mut maps = self.maps();
            match maps.by_endpoint.get_mut(endpoint) {
                Some(n) => *n += 1,
                None => {
                    maps.by_endpoint.insert(endpoint.to_owned(), 1);
                }
            }
        }
        self.notify();
    }

    /// Counts an answer, with the error types of a 4xx answer.
    pub fn response(&self, status: u16, error_types: &[&str]) {
        {
            let mut maps = self.maps();
            *maps.by_status.entry(status).or_default() += 1;
            for error_type in error_types {
                match maps.client_errors.get_mut(*error_type) {
                    Some(n) => *n += 1,
                    None => {
                        maps.client_errors.insert((*error_type).to_owned(), 1);
                    }
                }
            }
        }
        self.completed.fetch_add(1, Ordering::SeqCst);
        self.notify();
    }

    /// Counts an injected 503.
    pub fn injected_error(&self) {
        self.injected_errors.fetch_add(1, Ordering::SeqCst);
        self.notify();
    }

    /// Counts a dropped connection.
    pub fn reset(&self) {
        self.resets.fetch_add(1, Ordering::SeqCst);
        self.notify();
    }

    /// Counts a request applied and then answered late.
    pub fn late_answer(&self) {
        self.late_answers.fetch_add(1, Ordering::SeqCst);
        self.notify();
    }

    /// Raises a gauge until the returned guard is dropped.
    pub fn enter(&self, gauge: Gauge) -> GaugeGuard<'_> {
        let value = self.gauge(gauge).fetch_add(1, Ordering::SeqCst) + 1;
        if let Gauge::InFlight = gauge {
            self.max_in_flight.fetch_max(value, Ordering::SeqCst);
        }
        self.notify();
        GaugeGuard { stats: self, gauge }
    }

    fn gauge(&self, gauge: Gauge) -> &AtomicU64 {
        match gauge {
            Gauge::Queued => &self.queued,
            Gauge::InFlight => &self.in_flight,
            Gauge::Held => &self.held,
        }
    }

    /// A snapshot; `triple_count` is left for the caller to fill in.
    pub fn snapshot(&self) -> StubStats {
        let maps = self.maps();
        StubStats {
            total_requests: self.total.load(Ordering::SeqCst),
            completed_requests: self.completed.load(Ordering::SeqCst),
            by_endpoint: maps.by_endpoint.clone(),
            by_status: maps.by_status.clone(),
            injected_errors: self.injected_errors.load(Ordering::SeqCst),
            resets: self.resets.load(Ordering::SeqCst),
            late_answers: self.late_answers.load(Ordering::SeqCst),
            client_errors: maps.client_errors.clone(),
            queued: self.queued.load(Ordering::SeqCst),
            in_flight: self.in_flight.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            held: self.held.load(Ordering::SeqCst),
            triple_count: 0,
        }
    }

    /// Waits until `ready` holds for a fresh snapshot (taken by `snapshot`), re-checking after
    /// every change of the counters.
    pub async fn wait_until<F, S>(&self, snapshot: S, ready: F) -> StubStats
    where
        F: Fn(&StubStats) -> bool,
        S: Fn() -> StubStats,
    {
        self.watchers.fetch_add(1, Ordering::SeqCst);
        let _watching = WatcherGuard(&self.watchers);
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let stats = snapshot();
            if ready(&stats) {
                return stats;
            }
            changed.await;
        }
    }
}

struct WatcherGuard<'a>(&'a AtomicUsize);

impl Drop for WatcherGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Lowers its gauge when dropped (also when the request is abandoned).
pub struct GaugeGuard<'a> {
    stats: &'a Stats,
    gauge: Gauge,
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.stats.gauge(self.gauge).fetch_sub(1, Ordering::SeqCst);
        self.stats.notify();
    }
}

/// The request log, when recording is on.
pub struct Recorder {
    requests: Option<Mutex<Vec<RecordedRequest>>>,
}

impl Recorder {
    /// A recorder that keeps requests only if `enabled`.
    pub fn new(enabled: bool) -> Recorder {
        Recorder {
            requests: enabled.then(|| Mutex::new(Vec::new())),
        }
    }

    /// Whether requests are recorded.
    pub fn enabled(&self) -> bool {
        self.requests.is_some()
    }

    fn log(&self) -> Option<MutexGuard<'_, Vec<RecordedRequest>>> {
        self.requests
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Logs an arriving request; returns its slot for [`Recorder::body`] and
    /// [`Recorder::answered`].
    pub fn arrived(&self, method: &str, path_and_query: &str) -> Option<usize> {
        let mut log = self.log()?;
        log.push(RecordedRequest {
            method: method.to_owned(),
            path_and_query: path_and_query.to_owned(),
            body: String::new(),
            status: 0,
        });
        Some(log.len() - 1)
    }

    /// Notes the body of a logged request.
    pub fn body(&self, slot: Option<usize>, body: String) {
        if let (Some(slot), Some(mut log)) = (slot, self.log()) {
            if let Some(request) = log.get_mut(slot) {
                request.body = body;
            }
        }
    }

    /// Notes the status a logged request was answered with.
    pub fn answered(&self, slot: Option<usize>, status: u16) {
        if let (Some(slot), Some(mut log)) = (slot, self.log()) {
            if let Some(request) = log.get_mut(slot) {
                request.status = status;
            }
        }
    }

    /// The log so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log().map(|log| log.clone()).unwrap_or_default()
    }
}
