//! The HTTP endpoints: routes, handlers, and answers shaped as the FastAPI service shapes them.

use std::sync::{Arc, PoisonError, RwLockReadGuard, RwLockWriteGuard};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::Serialize;
use serde_json::json;

use crate::clock::Timestamp;
use crate::ontology::ValidationError;
use crate::request::{parse_triples, Detail, QueryParams};
use crate::server::App;
use crate::store::{DuplicateInBatch, Store, TripleRow};
use crate::views::{self, InventoryQuery, OrderQuery};
use crate::visibility::Write;

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Error types of a 4xx answer, attached to the response for the statistics.
#[derive(Clone, Debug)]
pub struct ErrorTypes(pub Vec<&'static str>);

/// Every route of the API.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/freshmart/stores", get(stores))
        .route("/freshmart/stores/inventory", get(inventory))
        .route("/freshmart/customers", get(customers))
        .route("/freshmart/products", get(products))
        .route("/freshmart/orders", get(orders))
        .route("/freshmart/orders/{order_id}", get(order))
        .route(
            "/freshmart/orders/{order_id}/line-items",
            get(order_line_items),
        )
        .route("/triples/batch", post(post_batch).put(put_batch))
        .route("/triples/subjects/{*subject_id}", delete(delete_subject))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

impl App {
    /// The store as reads see it: lagging behind the writes with `--visibility-delay`.
    fn read(&self) -> RwLockReadGuard<'_, Store> {
        match &self.lagged {
            Some(lagged) => lagged.read(),
            None => self.store.read().unwrap_or_else(PoisonError::into_inner),
        }
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A JSON answer.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => internal_error(),
    }
}

/// `{"detail": message}` with a status, counted under `error_type`.
fn detail(status: StatusCode, message: &str, error_type: &'static str) -> Response {
    with_error_types(
        json_response(status, &json!({ "detail": message })),
        vec![error_type],
    )
}

fn with_error_types(mut response: Response, types: Vec<&'static str>) -> Response {
    response.extensions_mut().insert(ErrorTypes(types));
    response
}

/// What FastAPI answers for an unhandled exception.
fn internal_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Internal Server Error",
    )
        .into_response()
}

/// 422 with the request's validation errors.
fn unprocessable(errors: Detail) -> Response {
    with_error_types(
        json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({ "detail": errors }),
        ),
        vec!["request_validation"],
    )
}

/// 400 for a triple that breaks the ontology.
fn validation_failed(errors: Vec<ValidationError>) -> Response {
    let types = errors.iter().map(|e| e.error_type).collect();
    let body = json!({
        "detail": {"message": "Triple validation failed", "errors": errors},
    });
    with_error_types(json_response(StatusCode::BAD_REQUEST, &body), types)
}

async fn health() -> Response {
    json_response(StatusCode::OK, &json!({"status": "healthy"}))
}

async fn ready() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"status": "ready", "database": "connected"}),
    )
}

async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found", "not_found")
}

async fn method_not_allowed() -> Response {
    detail(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        "method_not_allowed",
    )
}

async fn stores(State(app): State<Arc<App>>) -> Response {
    let store = app.read();
    json_response(StatusCode::OK, &views::stores(&store))
}

async fn customers(State(app): State<Arc<App>>) -> Response {
    let store = app.read();
    json_response(StatusCode::OK, &views::customers(&store))
}

async fn products(State(app): State<Arc<App>>) -> Response {
    let store = app.read();
    json_response(StatusCode::OK, &views::products(&store))
}

/// A filter parameter; empty counts as absent (the API tests them for truth).
fn filter<'q>(query: &'q QueryParams, name: &str) -> Option<&'q str> {
    query.get(name).filter(|v| !v.is_empty())
}

/// `limit` and `offset` as the API takes them: `limit <= 1000` (a negative one fails in the
/// database), `offset >= 0`.
fn paging(query: &QueryParams, errors: &mut Detail) -> Option<(usize, usize)> {
    let limit = query.int("limit", 100, None, Some(1000), errors);
    let offset = query.int("offset", 0, Some(0), None, errors);
    Some((usize::try_from(limit).ok()?, usize::try_from(offset).ok()?))
}

async fn inventory(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let query = QueryParams::parse(&uri);
    let mut errors = Vec::new();
    let paging = paging(&query, &mut errors);
    let low_stock_only = query.bool("low_stock_only", false, &mut errors);
    if !errors.is_empty() {
        return unprocessable(errors);
    }
    let Some((limit, offset)) = paging else {
        return internal_error();
    };
    let filters = InventoryQuery {
        store_id: filter(&query, "store_id"),
        low_stock_only,
        limit,
        offset,
    };
    let store = app.read();
    json_response(StatusCode::OK, &views::inventory(&store, &filters))
}

async fn orders(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let query = QueryParams::parse(&uri);
    let mut errors = Vec::new();
    let paging = paging(&query, &mut errors);
    if !errors.is_empty() {
        return unprocessable(errors);
    }
    let Some((limit, offset)) = paging else {
        return internal_error();
    };
    let filters = OrderQuery {
        status: filter(&query, "status"),
        store_id: filter(&query, "store_id"),
        customer_id: filter(&query, "customer_id"),
        limit,
        offset,
    };
    let store = app.read();
    json_response(StatusCode::OK, &views::orders(&store, &filters))
}

async fn order(State(app): State<Arc<App>>, Path(order_id): Path<String>) -> Response {
    let store = app.read();
    match views::order(&store, &order_id) {
        Some(view) => json_response(StatusCode::OK, &view),
        None => detail(StatusCode::NOT_FOUND, "Order not found", "not_found"),
    }
}

async fn order_line_items(State(app): State<Arc<App>>, Path(order_id): Path<String>) -> Response {
    let store = app.read();
    match views::order_lines(&store, &order_id) {
        Some(lines) => json_response(StatusCode::OK, &lines),
        None => internal_error(),
    }
}

/// Which batch endpoint is being served.
#[derive(Clone, Copy)]
enum BatchKind {
    Post,
    Put,
}

async fn post_batch(State(app): State<Arc<App>>, uri: Uri, body: Bytes) -> Response {
    write_batch(&app, &uri, &body, BatchKind::Post)
}

async fn put_batch(State(app): State<Arc<App>>, uri: Uri, body: Bytes) -> Response {
    write_batch(&app, &uri, &body, BatchKind::Put)
}

/// Parses, validates (unless `validate=false`) and writes a batch; nothing of a batch is
/// written unless all of it is.
fn write_batch(app: &App, uri: &Uri, body: &[u8], kind: BatchKind) -> Response {
    let query = QueryParams::parse(uri);
    let mut errors = Vec::new();
    let validate = query.bool("validate", true, &mut errors);
    let triples = parse_triples(body, &mut errors);
    if !errors.is_empty() {
        return unprocessable(errors);
    }
    if validate {
        for t in &triples {
            let errors =
                app.ontology
                    .validate(&t.subject_id, &t.predicate, &t.object_value, t.object_type);
            if !errors.is_empty() {
                return validation_failed(errors);
            }
        }
    }
    let now = Timestamp::now();
    let written: Result<Vec<TripleRow>, DuplicateInBatch> = {
        let mut store = app.write();
        let written = match kind {
            BatchKind::Post => store.post_batch(&triples, now),
            BatchKind::Put => store.put_batch(&triples, now),
        };
        if let (Some(lagged), Ok(_)) = (&app.lagged, &written) {
            lagged.written(match kind {
                BatchKind::Post => Write::Post(triples, now),
                BatchKind::Put => Write::Put(triples, now),
            });
        }
        written
    };
    match (written, kind) {
        (Ok(rows), BatchKind::Post) => json_response(StatusCode::CREATED, &rows),
        (Ok(rows), BatchKind::Put) => json_response(StatusCode::OK, &rows),
        (Err(DuplicateInBatch), _) => internal_error(),
    }
}

async fn delete_subject(State(app): State<Arc<App>>, Path(subject_id): Path<String>) -> Response {
    let removed = {
        let mut store = app.write();
        let removed = store.delete_subject(&subject_id);
        if let (Some(lagged), true) = (&app.lagged, removed > 0) {
            lagged.written(Write::Delete(subject_id));
        }
        removed
    };
    if removed == 0 {
        return detail(StatusCode::NOT_FOUND, "Subject not found", "not_found");
    }
    StatusCode::NO_CONTENT.into_response()
}
