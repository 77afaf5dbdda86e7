//! Helpers shared by the integration tests: a stub on a free port and a plain HTTP client.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use freshmart_stub::{StubConfig, StubHandle};
use serde_json::{json, Value};

/// A started stub and a client for it.
pub struct Harness {
    pub stub: StubHandle,
    pub client: reqwest::Client,
}

impl Harness {
    pub async fn start(config: StubConfig) -> Harness {
        let stub = freshmart_stub::spawn("127.0.0.1:0", config)
            .await
            .expect("stub starts");
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client builds");
        Harness { stub, client }
    }

    pub async fn default() -> Harness {
        Harness::start(StubConfig::default()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stub.url())
    }

    /// Sends a request and returns the status and the body as JSON (`Null` if empty or not JSON).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("request answered");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body read");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body.to_string()))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body.to_string()))
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// `(predicate, value)` pairs of a subject, in store order.
    pub fn values_of(&self, subject: &str) -> Vec<(String, String)> {
        self.stub
            .triples_of(subject)
            .into_iter()
            .map(|t| (t.predicate, t.object_value))
            .collect()
    }
}

/// A triple as JSON.
pub fn triple(subject: &str, predicate: &str, value: &str, object_type: &str) -> Value {
    json!({"subject_id": subject, "predicate": predicate, "object_value": value, "object_type": object_type})
}

/// Fails the test instead of hanging when `future` takes more than 5 s.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .expect("finished within 5 s")
}
