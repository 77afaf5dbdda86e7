//! A deliberately minimal HTTP/1.1 server on a raw tokio socket, for what the stub cannot do:
//! answer writes badly (huge, garbage, never, a closed or reset connection, a trickle) and
//! record request headers. `GET /health` and `GET /ready` always answer like FreshMart, so
//! loadgen's health gate passes and only the writes meet the hostile behaviour.
//!
//! Generic over the stream, so `security.rs` serves the same thing over TLS.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How writes (anything but the health checks) are answered.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete answer; the connection stays open.
    Status { status: u16, body: Vec<u8> },
    /// `status` with `Content-Length: len`, then `len` bytes streamed until the client stops
    /// reading; the connection is closed after.
    Huge { status: u16, len: u64 },
    /// Never answers; holds the connection until the client closes it.
    Silent,
    /// Closes the connection (FIN) without sending a byte.
    Close,
    /// Resets the connection (RST) without sending a byte.
    Reset,
    /// `200` with `Content-Length: 1000`, then one byte every `every`.
    Trickle { every: Duration },
    /// `status` with the request's headers echoed in a JSON body, as some proxies do.
    EchoHeaders { status: u16 },
}

/// One request as the server read it (header names lower-cased).
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_health(&self) -> bool {
        self.method == "GET" && matches!(self.path.as_str(), "/health" | "/ready")
    }
}

/// What the server saw.
pub struct Shared {
    reply: Reply,
    requests: Mutex<Vec<Recorded>>,
    /// Requests other than health checks, to wait on.
    writes: watch::Sender<u64>,
    /// Most bytes of a `Huge` body written on one connection.
    pub max_streamed: AtomicU64,
    /// `Huge` answers that ended (the client stopped reading or the body was complete).
    huge_ended: watch::Sender<u64>,
}

impl Shared {
    pub fn new(reply: Reply) -> Arc<Shared> {
        Arc::new(Shared {
            reply,
            requests: Mutex::new(Vec::new()),
            writes: watch::channel(0).0,
            max_streamed: AtomicU64::new(0),
            huge_ended: watch::channel(0).0,
        })
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests other than health checks.
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| !r.is_health())
            .collect()
    }

    /// Waits until `n` `Huge` answers have ended.
    pub async fn wait_huge_ended(&self, n: u64) {
        let mut rx = self.huge_ended.subscribe();
        let _ = rx.wait_for(|count| *count >= n).await;
    }

    /// Waits until `n` requests other than health checks have arrived.
    pub async fn wait_writes(&self, n: u64) {
        let mut rx = self.writes.subscribe();
        let _ = rx.wait_for(|count| *count >= n).await;
    }
}

/// A server on 127.0.0.1 that runs until the runtime ends.
pub struct RawServer {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
}

impl RawServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts a plain-HTTP server answering writes with `reply`.
pub async fn spawn(reply: Reply) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let shared = Shared::new(reply);
    let state = shared.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            if matches!(state.reply, Reply::Reset) {
                // Closing this socket sends a reset instead of a FIN.
                let _ = stream.set_zero_linger();
            }
            tokio::spawn(serve(stream, state.clone()));
        }
    });
    RawServer { addr, shared }
}

/// One request's head as sent (without its closing blank line) and its `Content-Length`
/// body; bytes read past it stay in `buffer` for the next. `None` once the client is gone.
pub async fn read_raw_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut Vec<u8>,
) -> Option<(String, Vec<u8>)> {
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buffer.len() > 1 << 20 {
            return None;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    buffer.drain(..head_end + 4);
    let length: usize = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buffer.drain(..length).collect();
    Some((head, body))
}

/// The head of a request: method, path, headers; and the bytes read past it.
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut Vec<u8>,
) -> Option<Recorded> {
    let (head, body) = read_raw_request(stream, buffer).await?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

fn head(status: u16, length: u64) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} Whatever\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
    .into_bytes()
}

fn answer(status: u16, body: &[u8]) -> Vec<u8> {
    let mut out = head(status, body.len() as u64);
    out.extend_from_slice(body);
    out
}

/// Serves one connection: requests one after another until the client closes it or the reply
/// ends it.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        let health = request.is_health();
        let path = request.path.clone();
        let headers = request.headers.clone();
        shared.requests.lock().unwrap().push(request);
        if health {
            let body: &[u8] = if path == "/health" {
                br#"{"status":"healthy"}"#
            } else {
                br#"{"status":"ready","database":"connected"}"#
            };
            if stream.write_all(&answer(200, body)).await.is_err() {
                return;
            }
            continue;
        }
        shared.writes.send_modify(|n| *n += 1);
        match shared.reply.clone() {
            Reply::Status { status, body } => {
                if stream.write_all(&answer(status, &body)).await.is_err() {
                    return;
                }
            }
            Reply::EchoHeaders { status } => {
                let echoed: serde_json::Map<String, serde_json::Value> = headers
                    .into_iter()
                    .map(|(n, v)| (n, serde_json::Value::String(v)))
                    .collect();
                let body = serde_json::json!({ "detail": { "message": "bad request", "headers": echoed } })
                    .to_string();
                if stream
                    .write_all(&answer(status, body.as_bytes()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Reply::Huge { status, len } => {
                let mut written = 0u64;
                if stream.write_all(&head(status, len)).await.is_ok() {
                    let block = vec![b'7'; 64 * 1024];
                    while written < len {
                        let n = block.len().min((len - written) as usize);
                        if stream.write_all(&block[..n]).await.is_err() {
                            break;
                        }
                        written += n as u64;
                    }
                }
                shared.max_streamed.fetch_max(written, Ordering::SeqCst);
                shared.huge_ended.send_modify(|n| *n += 1);
                return;
            }
            Reply::Silent => {
                // Read (and drop) whatever comes until the client goes away.
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                return;
            }
            Reply::Close | Reply::Reset => return,
            Reply::Trickle { every } => {
                if stream.write_all(&head(200, 1000)).await.is_err() {
                    return;
                }
                for _ in 0..1000 {
                    // The sleep is the fault itself: a body that dribbles in.
                    tokio::time::sleep(every).await;
                    if stream.write_all(b" ").await.is_err() {
                        return;
                    }
                }
                return;
            }
        }
    }
}
