//! The HTTP endpoint of `--metrics-addr`: `GET /metrics` answers the live metrics as
//! OpenMetrics text. The listener is bound before the run starts (so a port in use is a usage
//! error, not a surprise mid-run) and served from a thread of its own, apart from the
//! replayer's runtime; it stops with the run, or after one last scrape (`--metrics-linger`).

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

use crate::live_metrics::{self, LiveMetrics};

#[derive(Debug, thiserror::Error)]
pub enum MetricsServerError {
    #[error("--metrics-addr {addr}: cannot listen there: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("--metrics-addr {addr}: cannot start the server: {source}")]
    Start {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Whether a scrape has read the final figures (after `LiveMetrics::finish`).
#[derive(Default)]
struct FinalScrape {
    done: Mutex<bool>,
    seen: Condvar,
}

struct State {
    metrics: Arc<LiveMetrics>,
    final_scrape: FinalScrape,
}

/// A listener serving `GET /metrics` until stopped.
pub struct MetricsServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` now and serves `metrics` from a thread of its own.
    pub fn start(
        addr: SocketAddr,
        metrics: Arc<LiveMetrics>,
    ) -> Result<MetricsServer, MetricsServerError> {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| MetricsServerError::Bind { addr, source })?;
        let start_err = |source| MetricsServerError::Start { addr, source };
        let bound = listener.local_addr().map_err(start_err)?;
        listener.set_nonblocking(true).map_err(start_err)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(start_err)?;
        let state = Arc::new(State {
            metrics,
            final_scrape: FinalScrape::default(),
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(start_err)?
        };
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                let app = axum::Router::new()
                    .route("/metrics", get(move || scrape(served.clone())))
                    .into_make_service();
                runtime.block_on(async move {
                    // An accept error ends the endpoint, never the run.
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop_rx.await;
                        })
                        .await;
                });
            })
            .map_err(start_err)?;
        Ok(MetricsServer {
            addr: bound,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The address listened on (the port chosen when `:0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Keeps serving until a scrape has read the final figures or `limit` has passed, then
    /// stops. Returns whether such a scrape came. Blocks: call it outside any runtime.
    pub fn linger(mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let scrape = &self.state.final_scrape;
        let mut done = scrape.done.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            done = scrape
                .seen
                .wait_timeout(done, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let seen = *done;
        drop(done);
        self.shut_down();
        seen
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Graceful: a scrape being answered is finished first.
            let _ = thread.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

async fn scrape(state: Arc<State>) -> impl axum::response::IntoResponse {
    // Read before encoding: figures encoded after `finish` are the final ones.
    let is_final = state.metrics.is_finished();
    let text = state.metrics.encode();
    if is_final {
        let scrape = &state.final_scrape;
        *scrape.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
        scrape.seen.notify_all();
    }
    ([(CONTENT_TYPE, live_metrics::CONTENT_TYPE)], text)
}
