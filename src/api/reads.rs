//! Reading back what a run wrote, for `verify`: orders and their lines one by one, customers
//! and inventory in bulk, and the ids of the run's namespace for "unexpected" entities.

pub use super::fetch::{ApiReader, ReadError};
use crate::contract::ids;
use crate::contract::rows::{self, CustomerRow, InventoryRow, LineRow, OrderRow};
use crate::verify::{Observed, ObservedCustomer, ObservedLine, ObservedOrder};

/// Page size of list endpoints (the API's maximum).
const PAGE: usize = 1000;
/// List pages read at most (a million rows): a bound on a runaway read, not a limit in practice.
const MAX_PAGES: usize = 1000;

/// A whole list from an endpoint that does not page; a 404 is an error here.
pub async fn get_all<T: serde::de::DeserializeOwned>(
    reader: &ApiReader,
    path: &str,
) -> Result<Vec<T>, ReadError> {
    reader.get(path).await?.ok_or(ReadError::Status {
        path: path.to_string(),
        status: 404,
        body: String::new(),
        attempts: 1,
    })
}

/// Every row of a paged list endpoint (`limit` / `offset`), one page in memory at a time.
pub async fn list_each<T: serde::de::DeserializeOwned>(
    reader: &ApiReader,
    path: &str,
    mut each: impl FnMut(T),
) -> Result<(), ReadError> {
    for page in 0..MAX_PAGES {
        let sep = if path.contains('?') { '&' } else { '?' };
        let paged = format!("{path}{sep}limit={PAGE}&offset={}", page * PAGE);
        let rows: Vec<T> = reader.get(&paged).await?.unwrap_or_default();
        let done = rows.len() < PAGE;
        rows.into_iter().for_each(&mut each);
        if done {
            break;
        }
    }
    Ok(())
}

/// Every row of a paged list endpoint.
pub async fn list<T: serde::de::DeserializeOwned>(
    reader: &ApiReader,
    path: &str,
) -> Result<Vec<T>, ReadError> {
    let mut all = Vec::new();
    list_each(reader, path, |row| all.push(row)).await?;
    Ok(all)
}

/// One order and its lines; `None` when the API does not know it.
pub async fn read_order(reader: &ApiReader, id: &str) -> Result<Option<ObservedOrder>, ReadError> {
    let Some(order) = reader.get::<OrderRow>(&rows::order_path(id)).await? else {
        return Ok(None);
    };
    let lines: Vec<LineRow> = reader
        .get(&rows::order_lines_path(id))
        .await?
        .unwrap_or_default();
    Ok(Some(ObservedOrder {
        total: order.total_text(),
        status: order.order_status.unwrap_or_default(),
        customer_id: order.customer_id.unwrap_or_default(),
        store_id: order.store_id.unwrap_or_default(),
        lines: lines
            .into_iter()
            .map(|l| {
                let quantity = l.quantity().unwrap_or(-1).try_into().unwrap_or(u32::MAX);
                (
                    l.line_id,
                    ObservedLine {
                        product_id: l.product_id.unwrap_or_default(),
                        quantity,
                    },
                )
            })
            .collect(),
    }))
}

/// Reads the orders `ids` names with at most `parallel` reads in flight (tasks are started as
/// others finish, so memory does not grow with the number of orders), and hands each to
/// `each` as it arrives. The first read that fails past its retries stops the reading.
pub async fn read_orders<K: Send + 'static>(
    reader: &ApiReader,
    ids: impl Iterator<Item = (K, String)>,
    parallel: usize,
    mut each: impl FnMut(K, Option<ObservedOrder>),
) -> Result<(), ReadError> {
    let parallel = parallel.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    let mut handle = |done: Result<(K, Result<Option<ObservedOrder>, ReadError>), _>| match done {
        Ok((key, result)) => result.map(|order| each(key, order)),
        // A read task cannot panic short of a bug; count it as a failed read of the API.
        Err(join) => Err(ReadError::Unreachable {
            path: rows::ORDERS.into(),
            cause: format!("read task failed: {join}"),
            attempts: 1,
        }),
    };
    for (key, id) in ids {
        while tasks.len() >= parallel {
            if let Some(done) = tasks.join_next().await {
                handle(done)?;
            }
        }
        let reader = reader.clone();
        tasks.spawn(async move {
            let order = read_order(&reader, &id).await;
            (key, order)
        });
    }
    while let Some(done) = tasks.join_next().await {
        handle(done)?;
    }
    Ok(())
}

/// Reads the run's namespace (every order and customer id of `run_id`), the customers named in
/// `customers` (sorted) and the stock levels of `inventory`.
pub async fn observe_rest(
    reader: &ApiReader,
    run_id: &str,
    customers: &[String],
    inventory: &[&str],
) -> Result<Observed, ReadError> {
    let mut observed = Observed::default();
    let order_prefix = ids::run_orders_prefix(run_id);
    list_each(reader, rows::ORDERS, |o: OrderRow| {
        if o.order_id.starts_with(&order_prefix) {
            observed.run_orders.push(o.order_id);
        }
    })
    .await?;
    observed.run_orders.sort();
    observed.run_orders.dedup();

    let customer_prefix = ids::run_customers_prefix(run_id);
    let rows: Vec<CustomerRow> = reader.get(rows::CUSTOMERS).await?.unwrap_or_default();
    for c in rows {
        if c.customer_id.starts_with(&customer_prefix) {
            observed.run_customers.push(c.customer_id.clone());
        }
        if customers.binary_search(&c.customer_id).is_ok() {
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

    if !inventory.is_empty() {
        let wanted: std::collections::BTreeSet<&str> = inventory.iter().copied().collect();
        list_each(reader, rows::INVENTORY, |i: InventoryRow| {
            if wanted.contains(i.inventory_id.as_str()) {
                let level = i.stock_level();
                observed.stock_levels.insert(i.inventory_id, level);
            }
        })
        .await?;
    }
    Ok(observed)
}
