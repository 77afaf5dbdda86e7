//! The executor's request path against a scripted server on 127.0.0.1: a success body is
//! drained without being held in memory (and leaves its connection reusable), and every
//! attempt of a retried request carries the same bytes.
//!
//! This test binary counts live heap bytes (a global allocator wrapping the system's), so a
//! body held in memory shows up as a peak. The count is process-wide, so the tests of this
//! binary take turns (`one_at_a_time`): another test's buffers must not land in a peak.

mod common;
#[path = "common/rawhttp.rs"]
mod rawhttp;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loadgen::api::client::{attempt, build_client, Attempt};
use loadgen::api::{ApiRequest, ClientOptions, FreshMartExecutor, Method, RequestContext};
use loadgen::event::{Action, CustomerRef, Event, Line, NewOrder};
use loadgen::metrics::EventResult;
use loadgen::replay::{Executor, StopFlag};
use loadgen::sim::time::SimTime;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as the new block arriving before the old one leaves, as a copy does.
        grew(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One scripted answer: status and body.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: Arc<Vec<u8>>,
}

/// What the server saw: connections accepted and every request body, in arrival order.
#[derive(Default)]
struct Seen {
    connections: usize,
    bodies: Vec<Vec<u8>>,
}

/// A keep-alive HTTP/1.1 server answering requests with `script` in order (the last answer
/// repeats).
async fn serve(script: Vec<Answer>) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let state = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            state.lock().unwrap().connections += 1;
            let (state, script) = (state.clone(), script.clone());
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    let Some((_head, body)) =
                        rawhttp::read_raw_request(&mut stream, &mut buffer).await
                    else {
                        return;
                    };
                    state.lock().unwrap().bodies.push(body);
                    let answer = {
                        let mut script = script.lock().unwrap();
                        if script.len() > 1 {
                            script.pop_front().unwrap()
                        } else {
                            script[0].clone()
                        }
                    };
                    let head = format!(
                        "HTTP/1.1 {} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        answer.status,
                        answer.body.len()
                    );
                    if stream.write_all(head.as_bytes()).await.is_err()
                        || stream.write_all(&answer.body).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

fn answer(status: u16, body: Vec<u8>) -> Answer {
    Answer {
        status,
        body: Arc::new(body),
    }
}

fn put_request() -> ApiRequest {
    ApiRequest {
        method: Method::Put,
        path: "/triples/batch?validate=true".into(),
        body: Some(
            r#"[{"subject_id":"order:LG-t-000001","predicate":"order_status","object_value":"PICKING","object_type":"string"}]"#
                .into(),
        ),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const MIB: usize = 1024 * 1024;

/// Held for the whole of each test: the live-byte count is shared by every thread.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    // A test that failed while holding it leaves nothing shared behind but the count.
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn a_success_body_is_drained_without_being_held() {
    let _turn = one_at_a_time();
    let rt = runtime();
    // 3 MiB: under the 4 MiB the client reads of a success body, so it is read to the end.
    let (url, seen) = rt.block_on(serve(vec![answer(200, vec![b'7'; 3 * MIB])]));
    let client = build_client(&ClientOptions::default()).unwrap();
    let request = put_request();
    // A first request opens the connection and warms the client's buffers.
    assert_eq!(
        rt.block_on(attempt(&client, &url, &request)),
        Attempt::Success
    );
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    assert_eq!(
        rt.block_on(attempt(&client, &url, &request)),
        Attempt::Success
    );
    let held = PEAK.load(Ordering::SeqCst).saturating_sub(before);
    assert!(
        held < MIB,
        "reading a 3 MiB success body held {held} bytes at its peak"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.bodies.len(), 2);
    assert_eq!(
        seen.connections, 1,
        "a body read to its end leaves the connection reusable"
    );
}

#[test]
fn a_success_body_past_the_limit_closes_the_connection_instead() {
    let _turn = one_at_a_time();
    let rt = runtime();
    let (url, seen) = rt.block_on(serve(vec![answer(201, vec![b'7'; 5 * MIB])]));
    let client = build_client(&ClientOptions::default()).unwrap();
    for _ in 0..2 {
        assert_eq!(
            rt.block_on(attempt(&client, &url, &put_request())),
            Attempt::Success
        );
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.bodies.len(), 2);
    assert_eq!(seen.connections, 2, "the unread rest is not waited for");
}

#[test]
fn an_error_body_still_reaches_the_failure_detail() {
    let _turn = one_at_a_time();
    let rt = runtime();
    let body =
        br#"{"detail":{"errors":[{"error_type":"unknown_predicate","msg":"order_colour"}]}}"#;
    let (url, _) = rt.block_on(serve(vec![answer(400, body.to_vec())]));
    let client = build_client(&ClientOptions::default()).unwrap();
    match rt.block_on(attempt(&client, &url, &put_request())) {
        Attempt::Failed { kind, detail } => {
            assert_eq!(kind.to_string(), "http_400:unknown_predicate");
            assert!(
                detail.starts_with("PUT /triples/batch?validate=true -> 400: "),
                "{detail}"
            );
            assert!(detail.contains("order_colour"), "{detail}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn order_event() -> Event {
    Event {
        at: SimTime(0),
        action: Action::NewOrder(NewOrder {
            order: 3,
            customer: CustomerRef::Existing(0),
            store: 0,
            window_start_min: 60,
            window_len_min: 60,
            lines: vec![
                Line {
                    seq: 1,
                    product: 0,
                    quantity: 2,
                },
                Line {
                    seq: 2,
                    product: 1,
                    quantity: 1,
                },
            ],
            total_cents: 1_777,
        }),
    }
}

fn context() -> RequestContext {
    common::request_context(
        loadgen::world::builtin_world(),
        Some("same"),
        common::DEFAULT_START,
    )
}

#[test]
fn every_attempt_of_a_retried_request_sends_the_same_bytes() {
    let _turn = one_at_a_time();
    let rt = runtime();
    let (url, seen) = rt.block_on(serve(vec![
        answer(503, b"{}".to_vec()),
        answer(502, b"{}".to_vec()),
        answer(201, b"[]".to_vec()),
    ]));
    let options = ClientOptions {
        timeout: Duration::from_secs(10),
        retries: 3,
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(4),
        ..ClientOptions::default()
    };
    let executor = FreshMartExecutor::new(&url, context(), options).unwrap();
    let event = order_event();
    let expected = executor.context().requests_for(&event);
    assert_eq!(expected.len(), 1, "a new order is one batch");
    let done = rt.block_on(executor.execute(0, event, StopFlag::default()));
    assert_eq!(done.result, EventResult::Success);
    assert_eq!((done.requests, done.retries), (3, 2));
    let seen = seen.lock().unwrap();
    let want = expected[0].body.as_deref().unwrap().as_bytes();
    assert_eq!(seen.bodies.len(), 3);
    for (n, body) in seen.bodies.iter().enumerate() {
        assert_eq!(body.as_slice(), want, "attempt {}", n + 1);
    }
}
