//! The server: its configuration, the accept loop (each connection served by hyper, and dropped
//! without an answer when a reset is injected), the request pipeline that applies the faults and
//! keeps the statistics, and the handle tests and the binary drive it with.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::api::{self, json_response, ErrorTypes};
use crate::clock::Timestamp;
use crate::faults::Faults;
use crate::latency::Latency;
use crate::ontology::Ontology;
use crate::stats::{Gauge, RecordedRequest, Recorder, Stats, StubStats};
use crate::store::{Store, Triple};
use crate::visibility::Lagged;
use crate::world;

/// How the stub behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct StubConfig {
    /// Delay added before answering each request.
    pub latency: Latency,
    /// Fraction of requests answered 503 `{"detail":"injected error"}` without effect.
    pub error_rate: f64,
    /// Fraction of requests whose connection is dropped without an answer.
    pub reset_rate: f64,
    /// Most requests processed at once (others wait); `None` for no limit.
    pub capacity: Option<usize>,
    /// Keep a log of every request (see [`StubHandle::requests`]).
    pub record_requests: bool,
    /// Seed of the fault and latency draws.
    pub seed: u64,
    /// Fraction of requests applied and then answered `late_by` late.
    pub late_rate: f64,
    pub late_by: Duration,
    /// Writes become visible to reads only this long after they were answered (zero: at once).
    pub visibility_delay: Duration,
}

impl Default for StubConfig {
    fn default() -> StubConfig {
        StubConfig {
            latency: Latency::None,
            error_rate: 0.0,
            reset_rate: 0.0,
            capacity: None,
            record_requests: false,
            seed: 0,
            late_rate: 0.0,
            late_by: Duration::ZERO,
            visibility_delay: Duration::ZERO,
        }
    }
}

/// State shared by every request.
pub struct App {
    pub(crate) store: RwLock<Store>,
    pub(crate) ontology: Ontology,
    pub(crate) faults: Faults,
    pub(crate) stats: Stats,
    pub(crate) recorder: Recorder,
    /// The store as reads see it, when writes become visible late.
    pub(crate) lagged: Option<Lagged>,
}

impl App {
    fn stats_snapshot(&self) -> StubStats {
        let mut stats = self.stats.snapshot();
        let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
        stats.triple_count = store.triple_count() as u64;
        stats
    }
}

/// The connection a request came on; notifying `abort` drops it.
#[derive(Clone)]
struct Connection {
    abort: Arc<Notify>,
}

/// Starts a stub on `addr` (e.g. `"127.0.0.1:0"` for any free port) holding the stock world.
pub async fn spawn(addr: &str, cfg: StubConfig) -> anyhow::Result<StubHandle> {
    let seeded = Timestamp::now();
    let lagged = if cfg.visibility_delay.is_zero() {
        None
    } else {
        Some(Lagged::new(
            cfg.visibility_delay,
            world::stock_store(seeded)?,
        ))
    };
    let app = Arc::new(App {
        store: RwLock::new(world::stock_store(seeded)?),
        ontology: Ontology::builtin()?,
        faults: Faults::new(
            cfg.seed,
            cfg.latency,
            cfg.error_rate,
            cfg.reset_rate,
            cfg.capacity,
        ),
        stats: Stats::default(),
        recorder: Recorder::new(cfg.record_requests),
        lagged,
    });
    app.faults.set_late(cfg.late_rate, cfg.late_by);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local_addr = listener.local_addr()?;
    let router = api::router()
        .layer(middleware::from_fn_with_state(app.clone(), pipeline))
        .with_state(app.clone());
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, router, stop_rx));
    Ok(StubHandle {
        inner: Arc::new(HandleInner {
            addr: local_addr,
            app,
            stop,
            task: Mutex::new(Some(task)),
        }),
    })
}

async fn accept_loop(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone()));
                }
                // Out of file descriptors and the like: give connections time to close.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// Resolves once a stop is asked for (never, if every handle is gone without asking).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn serve_connection(stream: TcpStream, router: Router) {
    // Best effort: small answers should not wait for Nagle.
    let _ = stream.set_nodelay(true);
    // A second descriptor of the socket, to make a dropped connection a reset (RST).
    #[cfg(unix)]
    let socket = {
        use std::os::fd::AsFd;
        stream.as_fd().try_clone_to_owned().ok()
    };
    let connection = Connection {
        abort: Arc::new(Notify::new()),
    };
    let abort = connection.abort.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(connection.clone());
        router.clone().oneshot(request)
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let serving = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = serving => {}
        () = abort.notified() => {
            #[cfg(unix)]
            if let Some(socket) = &socket {
                let _ = socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO));
            }
        }
    }
}

/// Runs around every request: counts it, records it, and (except for health checks) applies
/// capacity, outage, latency and injected faults.
async fn pipeline(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str());
    let exempt = matches!(route, Some("/health" | "/ready"));
    let endpoint = format!("{} {}", request.method(), route.unwrap_or("(unmatched)"));
    app.stats.request(&endpoint);
    let (request, slot) = if app.recorder.enabled() {
        record(&app, request).await
    } else {
        (request, None)
    };
    let response = if exempt {
        next.run(request).await
    } else {
        faulted(&app, request, next).await
    };
    let status = response.status();
    let error_types = match response.extensions().get::<ErrorTypes>() {
        Some(ErrorTypes(types)) => types.clone(),
        None if status.is_client_error() => vec!["other_client_error"],
        None => Vec::new(),
    };
    app.stats.response(status.as_u16(), &error_types);
    app.recorder.answered(slot, status.as_u16());
    response
}

async fn faulted(app: &App, request: Request, next: Next) -> Response {
    let _slot = if app.faults.limited() {
        let _queued = app.stats.enter(Gauge::Queued);
        app.faults.slot().await
    } else {
        None
    };
    let _in_flight = app.stats.enter(Gauge::InFlight);
    if app.faults.outage() {
        let _held = app.stats.enter(Gauge::Held);
        app.faults.outage_over().await;
    }
    let verdict = app.faults.draw();
    if let Some(delay) = verdict.delay {
        tokio::time::sleep(delay).await;
    }
    if verdict.reset {
        if let Some(connection) = request.extensions().get::<Connection>() {
            app.stats.reset();
            connection.abort.notify_one();
            // The connection task drops this request with its connection.
            std::future::pending::<()>().await;
        }
    }
    if verdict.error || verdict.reset {
        app.stats.injected_error();
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"detail": "injected error"}),
        );
    }
    let response = next.run(request).await;
    if let Some(late) = verdict.late {
        // Applied already: the client that gives up before this does not know it.
        app.stats.late_answer();
        tokio::time::sleep(late).await;
    }
    response
}

/// Logs the request (reading its body) and hands it on with the same body.
async fn record(app: &App, request: Request) -> (Request, Option<usize>) {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let slot = app.recorder.arrived(parts.method.as_str(), path);
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    app.recorder
        .body(slot, String::from_utf8_lossy(&bytes).into_owned());
    (Request::from_parts(parts, Body::from(bytes)), slot)
}

struct HandleInner {
    addr: SocketAddr,
    app: Arc<App>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A running stub. Clones control the same stub; it runs until [`StubHandle::shutdown`] (or
/// the end of the runtime).
#[derive(Clone)]
pub struct StubHandle {
    inner: Arc<HandleInner>,
}

impl StubHandle {
    /// The address the stub listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Its base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// Every request so far in arrival order (empty unless `record_requests`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.app.recorder.requests()
    }

    /// The counters now.
    pub fn stats(&self) -> StubStats {
        self.inner.app.stats_snapshot()
    }

    /// Waits until `ready` holds for the counters, and returns them; re-checks on every change
    /// (no polling). Wrap it in a timeout.
    pub async fn wait_for_stats<F: Fn(&StubStats) -> bool>(&self, ready: F) -> StubStats {
        let app = &self.inner.app;
        app.stats.wait_until(|| app.stats_snapshot(), ready).await
    }

    /// Starts (`true`) or ends an outage: requests are accepted but held unanswered until it ends.
    pub fn set_outage(&self, on: bool) {
        self.inner.app.faults.set_outage(on);
    }

    /// Sets the fraction of requests applied and then answered `by` late.
    pub fn set_late(&self, rate: f64, by: Duration) {
        self.inner.app.faults.set_late(rate, by);
    }

    /// Sets the fraction of requests answered 503.
    pub fn set_error_rate(&self, rate: f64) {
        self.inner.app.faults.set_error_rate(rate);
    }

    /// Sets the fraction of requests whose connection is dropped.
    pub fn set_reset_rate(&self, rate: f64) {
        self.inner.app.faults.set_reset_rate(rate);
    }

    /// The triples the store holds for a subject, in the order they were written.
    pub fn triples_of(&self, subject: &str) -> Vec<Triple> {
        let store = self
            .inner
            .app
            .store
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        store
            .subject(subject)
            .unwrap_or_default()
            .iter()
            .map(|t| {
                let predicate = store.predicate_name(t.predicate);
                Triple::new(subject, predicate, t.object_value.clone(), t.object_type)
            })
            .collect()
    }

    /// Every triple the store holds, by subject id and then in the order they were written
    /// (for tests that compare the whole store before and after).
    pub fn all_triples(&self) -> Vec<Triple> {
        let store = self
            .inner
            .app
            .store
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let store = &*store;
        store
            .with_prefix("")
            .flat_map(|(subject, triples)| {
                triples.iter().map(move |t| {
                    let predicate = store.predicate_name(t.predicate);
                    Triple::new(subject, predicate, t.object_value.clone(), t.object_type)
                })
            })
            .collect()
    }

    /// Stops accepting, drops every open connection and waits for the server task to end.
    pub async fn shutdown(self) {
        self.inner.stop.send_replace(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
