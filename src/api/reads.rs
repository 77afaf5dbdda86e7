//! Reading back what a run wrote, for `verify`: orders and their lines one by one, customers
//! and inventory in bulk, and the ids of the run's namespace for "unexpected" entities.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::verify::{ExpectedState, Observed, ObservedCustomer, ObservedLine, ObservedOrder};

/// Page size of list endpoints (the API's maximum).
const PAGE: usize = 1000;
/// List pages read at most (a million rows): a bound on a runaway read, not a limit in practice.
const MAX_PAGES: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("GET {path}: {source}")]
    Http {
        path: String,
        source: reqwest::Error,
    },
    #[error("GET {path}: HTTP {status}")]
    Status { path: String, status: u16 },
    #[error("GET {path}: unexpected answer: {message}")]
    Shape { path: String, message: String },
}

#[derive(Deserialize)]
struct OrderRow {
    order_id: String,
    #[serde(default)]
    order_status: Option<String>,
    #[serde(default)]
    order_total_amount: Option<serde_json::Value>,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    store_id: Option<String>,
}

#[derive(Deserialize)]
struct LineRow {
    line_id: String,
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    quantity: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct CustomerRow {
    customer_id: String,
    #[serde(default)]
    customer_name: Option<String>,
    #[serde(default)]
    customer_email: Option<String>,
    #[serde(default)]
    customer_address: Option<String>,
}

#[derive(Deserialize)]
struct InventoryRow {
    inventory_id: String,
    #[serde(default)]
    stock_level: Option<serde_json::Value>,
}

fn text(v: &Option<serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn integer(v: &Option<serde_json::Value>) -> Option<i64> {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

/// GET and decode; `Ok(None)` on 404.
async fn get<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    base: &str,
    path: &str,
) -> Result<Option<T>, ReadError> {
    let http = |source| ReadError::Http {
        path: path.to_string(),
        source,
    };
    let resp = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .map_err(http)?;
    match resp.status().as_u16() {
        404 => return Ok(None),
        s if !(200..300).contains(&s) => {
            return Err(ReadError::Status {
                path: path.to_string(),
                status: s,
            })
        }
        _ => {}
    }
    let bytes = resp.bytes().await.map_err(http)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ReadError::Shape {
            path: path.to_string(),
            message: e.to_string(),
        })
}

/// A whole list from an endpoint that does not page; a 404 is an error here.
pub async fn get_all<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    base: &str,
    path: &str,
) -> Result<Vec<T>, ReadError> {
    get(client, base, path).await?.ok_or(ReadError::Status {
        path: path.to_string(),
        status: 404,
    })
}

/// Every page of a paged list endpoint (`limit` / `offset`).
pub async fn list<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    base: &str,
    path: &str,
) -> Result<Vec<T>, ReadError> {
    let mut all = Vec::new();
    for page in 0..MAX_PAGES {
        let sep = if path.contains('?') { '&' } else { '?' };
        let paged = format!("{path}{sep}limit={PAGE}&offset={}", page * PAGE);
        let rows: Vec<T> = get(client, base, &paged).await?.unwrap_or_default();
        let done = rows.len() < PAGE;
        all.extend(rows);
        if done {
            break;
        }
    }
    Ok(all)
}

async fn read_order(
    client: &reqwest::Client,
    base: &str,
    id: &str,
) -> Result<Option<ObservedOrder>, ReadError> {
    let Some(order) = get::<OrderRow>(client, base, &format!("/freshmart/orders/{id}")).await?
    else {
        return Ok(None);
    };
    let lines: Vec<LineRow> = get(client, base, &format!("/freshmart/orders/{id}/line-items"))
        .await?
        .unwrap_or_default();
    Ok(Some(ObservedOrder {
        status: order.order_status.unwrap_or_default(),
        total: text(&order.order_total_amount),
        customer_id: order.customer_id.unwrap_or_default(),
        store_id: order.store_id.unwrap_or_default(),
        lines: lines
            .into_iter()
            .map(|l| {
                (
                    l.line_id,
                    ObservedLine {
                        product_id: l.product_id.unwrap_or_default(),
                        quantity: integer(&l.quantity)
                            .unwrap_or(-1)
                            .try_into()
                            .unwrap_or(u32::MAX),
                    },
                )
            })
            .collect(),
    }))
}

/// Reads everything `expected` names, plus the run's ids, with at most `parallel` requests
/// in flight.
pub async fn observe(
    client: &reqwest::Client,
    base: &str,
    run_id: &str,
    expected: &ExpectedState,
    parallel: usize,
) -> Result<Observed, ReadError> {
    let base = base.trim_end_matches('/').to_string();
    let mut observed = Observed::default();

    let permits = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for id in expected.orders.keys() {
        let (client, base, id, permits) =
            (client.clone(), base.clone(), id.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let order = read_order(&client, &base, &id).await;
            (id, order)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let Ok((id, order)) = done else { continue };
        if let Some(order) = order? {
            observed.orders.insert(id, order);
        }
    }

    let order_prefix = format!("order:LG-{run_id}-");
    let orders: Vec<OrderRow> = list(client, &base, "/freshmart/orders").await?;
    observed.run_orders = orders
        .into_iter()
        .map(|o| o.order_id)
        .filter(|id| id.starts_with(&order_prefix))
        .collect();
    observed.run_orders.sort();
    observed.run_orders.dedup();

    let customer_prefix = format!("customer:LG-{run_id}-");
    let customers: Vec<CustomerRow> = get(client, &base, "/freshmart/customers")
        .await?
        .unwrap_or_default();
    for c in customers {
        if c.customer_id.starts_with(&customer_prefix) {
            observed.run_customers.push(c.customer_id.clone());
        }
        if expected.customers.contains_key(&c.customer_id) {
            observed.customers.insert(
                c.customer_id,
                ObservedCustomer {
                    name: c.customer_name.unwrap_or_default(),
                    email: c.customer_email.unwrap_or_default(),
                    address: c.customer_address.unwrap_or_default(),
                },
            );
        }
    }
    observed.run_customers.sort();

    if !expected.stock_levels.is_empty() {
        let items: Vec<InventoryRow> = list(client, &base, "/freshmart/stores/inventory").await?;
        let levels: BTreeMap<String, Option<i64>> = items
            .into_iter()
            .map(|i| (i.inventory_id, integer(&i.stock_level)))
            .collect();
        for id in expected.stock_levels.keys() {
            if let Some(level) = levels.get(id) {
                observed.stock_levels.insert(id.clone(), *level);
            }
        }
    }
    Ok(observed)
}
