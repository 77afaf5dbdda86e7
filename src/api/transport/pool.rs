//! The keep-alive connections of one transport: opened on demand (TCP_NODELAY, TLS for
//! https), lent to one request at a time, and taken back only after an answer read to its end.

use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::tls::Tls;
use super::Origin;

/// The sending half of a connection; its other half runs as a task of the runtime that
/// opened it.
pub(super) type Sender = SendRequest<Full<Bytes>>;

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub(super) enum ConnectError {
    #[error("cannot connect to {authority}")]
    Tcp {
        authority: String,
        #[source]
        source: std::io::Error,
    },
    /// The `io::Error` carries the `rustls::Error` (see `client::is_tls_error`).
    #[error("TLS handshake with {authority} failed")]
    Tls {
        authority: String,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP/1.1 handshake with {authority} failed")]
    Handshake {
        authority: String,
        #[source]
        source: hyper::Error,
    },
}

/// Idle connections, most recently used last (a warm one is taken first). A `std` mutex:
/// each transport belongs to one dispatcher thread, so it is never contended, and it is never
/// held across an await.
pub(super) struct Pool {
    idle: Mutex<Vec<Sender>>,
    max_idle: usize,
}

impl Pool {
    pub(super) fn new(max_idle: usize) -> Pool {
        Pool {
            idle: Mutex::new(Vec::with_capacity(max_idle.min(1024))),
            max_idle,
        }
    }

    /// An idle connection that is still open and ready for a request, if any. Closed ones
    /// (the server hung up while they were idle) are dropped on the way.
    pub(super) async fn take(&self) -> Option<Sender> {
        loop {
            let mut sender = self.lock().pop()?;
            if sender.is_closed() {
                continue;
            }
            // Ready at once unless its task has not yet seen the end of the last answer.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    /// Keeps a connection whose last answer was read to its end, up to `max_idle`.
    pub(super) fn give_back(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < self.max_idle {
            idle.push(sender);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Sender>> {
        // A Vec of senders cannot be left inconsistent by a panic.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Opens a new connection to `origin` (TCP, then TLS when `tls` is given, then the HTTP/1.1
/// handshake) and spawns its task on the current runtime.
pub(super) async fn connect(origin: &Origin, tls: Option<&Tls>) -> Result<Sender, ConnectError> {
    let tcp = match origin.ip {
        Some(ip) => TcpStream::connect((ip, origin.port)).await,
        None => TcpStream::connect((origin.host.as_str(), origin.port)).await,
    }
    .map_err(|source| ConnectError::Tcp {
        authority: origin.authority.clone(),
        source,
    })?;
    // As reqwest's `tcp_nodelay(true)`: a request is one write; Nagle would hold it back.
    let _ = tcp.set_nodelay(true);
    match tls {
        None => handshake(origin, tcp).await,
        Some(tls) => {
            let stream = tls.connect(tcp).await.map_err(|source| ConnectError::Tls {
                authority: origin.authority.clone(),
                source,
            })?;
            handshake(origin, stream).await
        }
    }
}

async fn handshake<T>(origin: &Origin, io: T) -> Result<Sender, ConnectError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .writev(false)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|source| ConnectError::Handshake {
            authority: origin.authority.clone(),
            source,
        })?;
    // The connection's errors reach the request that was in flight; an idle one that fails
    // is seen closed by the pool.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
