//! The fault knobs over HTTP: injected errors, connection resets, the capacity limit, outages,
//! latency and request recording. Synchronisation is by the stub's counters, never by sleeping.

mod common;

use std::time::{Duration, Instant};

use common::{triple, within, Harness};
use freshmart_stub::{Latency, RecordedRequest, StubConfig};
use serde_json::json;

fn order_status(status: &str) -> serde_json::Value {
    json!([triple("order:FM-1", "order_status", status, "string")])
}

#[tokio::test]
async fn injected_errors_answer_503_and_write_nothing() {
    let h = Harness::start(StubConfig {
        error_rate: 1.0,
        ..StubConfig::default()
    })
    .await;
    assert_eq!(
        h.post("/triples/batch", &order_status("CREATED")).await,
        (503, json!({"detail": "injected error"}))
    );
    assert_eq!(h.get("/freshmart/products").await.0, 503);
    assert!(h.stub.triples_of("order:FM-1").is_empty());
    assert_eq!(
        h.get("/health").await.0,
        200,
        "health checks are never faulted"
    );
    let stats = h.stub.stats();
    assert_eq!((stats.injected_errors, stats.by_status[&503]), (2, 2));

    h.stub.set_error_rate(0.0);
    assert_eq!(
        h.post("/triples/batch", &order_status("CREATED")).await.0,
        201
    );
    assert_eq!(h.stub.triples_of("order:FM-1").len(), 1);
}

#[tokio::test]
async fn resets_drop_the_connection_without_an_answer() {
    let h = Harness::start(StubConfig {
        reset_rate: 1.0,
        record_requests: true,
        ..StubConfig::default()
    })
    .await;
    let result = within(
        h.client
            .post(h.url("/triples/batch"))
            .body(order_status("CREATED").to_string())
            .send(),
    )
    .await;
    let error = result.expect_err("no answer on a reset connection");
    assert!(!error.is_timeout(), "{error}");
    assert!(h.stub.triples_of("order:FM-1").is_empty());
    assert_eq!(h.stub.stats().resets, 1);
    assert_eq!(h.stub.requests()[0].status, 0);

    assert_eq!(
        h.get("/ready").await.0,
        200,
        "health checks are never faulted"
    );
    h.stub.set_reset_rate(0.0);
    assert_eq!(
        h.post("/triples/batch", &order_status("CREATED")).await.0,
        201
    );
}

#[tokio::test]
async fn capacity_limits_requests_in_flight() {
    let h = Harness::start(StubConfig {
        capacity: Some(2),
        ..StubConfig::default()
    })
    .await;
    // Hold whatever gets a slot, so that the others must queue.
    h.stub.set_outage(true);
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let request = h.client.get(h.url("/freshmart/customers"));
            tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    let stats = within(h.stub.wait_for_stats(|s| s.held == 2 && s.queued == 4)).await;
    assert_eq!((stats.in_flight, stats.max_in_flight), (2, 2));

    h.stub.set_outage(false);
    for request in requests {
        assert_eq!(within(request).await.unwrap().unwrap(), 200);
    }
    let stats = h.stub.stats();
    assert_eq!(
        (stats.max_in_flight, stats.in_flight, stats.queued),
        (2, 0, 0)
    );
    assert_eq!(stats.by_endpoint["GET /freshmart/customers"], 6);
}

#[tokio::test]
async fn an_outage_holds_requests_until_it_ends() {
    let h = Harness::default().await;
    h.stub.set_outage(true);
    let request = h
        .client
        .post(h.url("/triples/batch"))
        .body(order_status("CREATED").to_string());
    let pending = tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) });
    within(h.stub.wait_for_stats(|s| s.held == 1)).await;
    assert_eq!(
        h.get("/health").await.0,
        200,
        "health checks are never faulted"
    );
    assert!(!pending.is_finished());
    assert!(h.stub.triples_of("order:FM-1").is_empty());

    h.stub.set_outage(false);
    assert_eq!(within(pending).await.unwrap().unwrap(), 201);
    assert_eq!(h.stub.triples_of("order:FM-1").len(), 1);
    assert_eq!(h.stub.stats().held, 0);
}

#[tokio::test]
async fn latency_delays_answers() {
    let h = Harness::start(StubConfig {
        latency: "fixed:40ms".parse::<Latency>().unwrap(),
        ..StubConfig::default()
    })
    .await;
    let started = Instant::now();
    assert_eq!(h.get("/freshmart/orders").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(40));
}

#[tokio::test]
async fn requests_are_recorded_in_arrival_order() {
    let h = Harness::start(StubConfig {
        record_requests: true,
        ..StubConfig::default()
    })
    .await;
    let body = order_status("CREATED");
    h.post("/triples/batch?validate=true", &body).await;
    h.delete("/triples/subjects/order:FM-1").await;
    h.get("/freshmart/orders/order:FM-1").await;
    assert_eq!(
        h.stub.requests(),
        [
            RecordedRequest {
                method: "POST".into(),
                path_and_query: "/triples/batch?validate=true".into(),
                body: body.to_string(),
                status: 201,
            },
            RecordedRequest {
                method: "DELETE".into(),
                path_and_query: "/triples/subjects/order:FM-1".into(),
                body: String::new(),
                status: 204,
            },
            RecordedRequest {
                method: "GET".into(),
                path_and_query: "/freshmart/orders/order:FM-1".into(),
                body: String::new(),
                status: 404,
            },
        ]
    );
    let unrecorded = Harness::default().await;
    unrecorded.get("/health").await;
    assert!(unrecorded.stub.requests().is_empty());
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let h = Harness::default().await;
    let url = h.url("/health");
    h.stub.clone().shutdown().await;
    assert!(h.client.get(url).send().await.is_err());
}

#[tokio::test]
async fn a_client_giving_up_during_an_outage_is_let_go() {
    let h = Harness::default().await;
    h.stub.set_outage(true);
    let request = h.client.get(h.url("/freshmart/orders"));
    let pending = tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) });
    within(h.stub.wait_for_stats(|s| s.held == 1)).await;
    pending.abort();
    let stats = within(h.stub.wait_for_stats(|s| s.held == 0)).await;
    assert_eq!((stats.in_flight, stats.completed_requests), (0, 0));
}
