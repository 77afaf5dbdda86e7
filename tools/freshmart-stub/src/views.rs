//! The read models behind `/freshmart/*`, computed from the triple store as the API's PostgreSQL
//! views compute them: one row per subject of a class, each property the greatest of its values
//! (`MAX`), cast like PostgreSQL casts it, with the same ordering and the same fields.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::Serialize;

use crate::clock::Timestamp;
use crate::literal::{cast_bool, cast_cents, cast_decimal2, cast_int, format_cents};
use crate::store::{known as P, PredicateId, Store, StoredTriple};

/// Items `/freshmart/stores` reads (the API's own cap).
const STORES_INVENTORY_LIMIT: usize = 10_000;

/// The greatest value of a property (as SQL's `MAX` over text), if the subject has one.
fn value(triples: &[StoredTriple], predicate: PredicateId) -> Option<&str> {
    triples
        .iter()
        .filter(|t| t.predicate == predicate)
        .map(|t| t.object_value.as_str())
        .max()
}

/// When the subject last changed.
fn latest(triples: &[StoredTriple]) -> Option<Timestamp> {
    triples.iter().map(|t| t.updated_at).max()
}

/// Ascending with missing values last (PostgreSQL's default for `ORDER BY … ASC`).
fn nulls_last<T: Ord>(a: &Option<T>, b: &Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// An item of `/freshmart/stores/inventory` and of a store's `inventory_items`.
#[derive(Debug, Serialize)]
pub struct InventoryItemView<'a> {
    pub inventory_id: &'a str,
    pub store_id: Option<&'a str>,
    pub product_id: Option<&'a str>,
    pub stock_level: Option<i64>,
    pub replenishment_eta: Option<&'a str>,
    pub effective_updated_at: Option<Timestamp>,
    /// Always null: the API's inventory query does not select it.
    pub store_name: Option<&'a str>,
    pub product_name: Option<&'a str>,
    pub category: Option<&'a str>,
    pub perishable: Option<bool>,
}

/// Filters of `/freshmart/stores/inventory`.
#[derive(Debug, Default)]
pub struct InventoryQuery<'q> {
    pub store_id: Option<&'q str>,
    pub low_stock_only: bool,
    pub limit: usize,
    pub offset: usize,
}

/// Inventory items ordered by store and product.
pub fn inventory<'a>(store: &'a Store, query: &InventoryQuery<'_>) -> Vec<InventoryItemView<'a>> {
    let mut items: Vec<InventoryItemView<'a>> = store
        .with_prefix("inventory:")
        .filter_map(|(id, triples)| {
            let store_id = value(triples, P::INVENTORY_STORE);
            let stock_level = value(triples, P::STOCK_LEVEL).and_then(cast_int);
            if query
                .store_id
                .is_some_and(|wanted| store_id != Some(wanted))
                || query.low_stock_only && stock_level.is_none_or(|level| level >= 10)
            {
                return None;
            }
            let product_id = value(triples, P::INVENTORY_PRODUCT);
            let product = product_id
                .and_then(|p| store.subject(p))
                .unwrap_or_default();
            Some(InventoryItemView {
                inventory_id: id,
                store_id,
                product_id,
                stock_level,
                replenishment_eta: value(triples, P::REPLENISHMENT_ETA),
                effective_updated_at: latest(triples),
                store_name: None,
                product_name: value(product, P::PRODUCT_NAME),
                category: value(product, P::CATEGORY),
                perishable: value(product, P::PERISHABLE).and_then(cast_bool),
            })
        })
        .collect();
    items.sort_by(|a, b| {
        nulls_last(&a.store_id, &b.store_id)
            .then_with(|| nulls_last(&a.product_id, &b.product_id))
            .then_with(|| a.inventory_id.cmp(b.inventory_id))
    });
    items
        .into_iter()
        .skip(query.offset)
        .take(query.limit)
        .collect()
}

/// An entry of `/freshmart/stores`.
#[derive(Debug, Serialize)]
pub struct StoreView<'a> {
    pub store_id: &'a str,
    pub store_name: Option<&'a str>,
    pub store_address: Option<&'a str>,
    pub store_zone: Option<&'a str>,
    pub store_status: Option<&'a str>,
    pub store_capacity_orders_per_hour: Option<i64>,
    pub inventory_items: Vec<InventoryItemView<'a>>,
}

/// Stores by name, each with its inventory.
pub fn stores(store: &Store) -> Vec<StoreView<'_>> {
    let mut views: Vec<StoreView<'_>> = store
        .with_prefix("store:")
        .map(|(id, triples)| StoreView {
            store_id: id,
            store_name: value(triples, P::STORE_NAME),
            store_address: value(triples, P::STORE_ADDRESS),
            store_zone: value(triples, P::STORE_ZONE),
            store_status: value(triples, P::STORE_STATUS),
            store_capacity_orders_per_hour: value(triples, P::STORE_CAPACITY_ORDERS_PER_HOUR)
                .and_then(cast_int),
            inventory_items: Vec::new(),
        })
        .collect();
    views.sort_by(|a, b| {
        nulls_last(&a.store_name, &b.store_name).then_with(|| a.store_id.cmp(b.store_id))
    });
    let all = InventoryQuery {
        limit: STORES_INVENTORY_LIMIT,
        ..InventoryQuery::default()
    };
    for item in inventory(store, &all) {
        let owner = item
            .store_id
            .and_then(|s| views.iter_mut().find(|v| v.store_id == s));
        if let Some(owner) = owner {
            owner.inventory_items.push(item);
        }
    }
    views
}

/// An entry of `/freshmart/customers`.
#[derive(Debug, Serialize)]
pub struct CustomerView<'a> {
    pub customer_id: &'a str,
    pub customer_name: Option<&'a str>,
    pub customer_email: Option<&'a str>,
    pub customer_address: Option<&'a str>,
}

/// Customers by name.
pub fn customers(store: &Store) -> Vec<CustomerView<'_>> {
    let mut views: Vec<CustomerView<'_>> = store
        .with_prefix("customer:")
        .map(|(id, triples)| CustomerView {
            customer_id: id,
            customer_name: value(triples, P::CUSTOMER_NAME),
            customer_email: value(triples, P::CUSTOMER_EMAIL),
            customer_address: value(triples, P::CUSTOMER_ADDRESS),
        })
        .collect();
    views.sort_by(|a, b| {
        nulls_last(&a.customer_name, &b.customer_name)
            .then_with(|| a.customer_id.cmp(b.customer_id))
    });
    views
}

/// An entry of `/freshmart/products`; `unit_price` is a decimal string.
#[derive(Debug, Serialize)]
pub struct ProductView<'a> {
    pub product_id: &'a str,
    pub product_name: Option<&'a str>,
    pub category: Option<&'a str>,
    pub unit_price: Option<String>,
    pub perishable: Option<bool>,
}

/// Products by name.
pub fn products(store: &Store) -> Vec<ProductView<'_>> {
    let mut views: Vec<ProductView<'_>> = store
        .with_prefix("product:")
        .map(|(id, triples)| ProductView {
            product_id: id,
            product_name: value(triples, P::PRODUCT_NAME),
            category: value(triples, P::CATEGORY),
            unit_price: value(triples, P::UNIT_PRICE).and_then(cast_decimal2),
            perishable: value(triples, P::PERISHABLE).and_then(cast_bool),
        })
        .collect();
    views.sort_by(|a, b| {
        nulls_last(&a.product_name, &b.product_name).then_with(|| a.product_id.cmp(b.product_id))
    });
    views
}

/// An order of `/freshmart/orders` (enriched fields null) or `/freshmart/orders/{id}` (all
/// fields). `order_total_amount` is computed from the order's lines, as the API's view does.
#[derive(Debug, Serialize)]
pub struct OrderView<'a> {
    pub order_id: &'a str,
    pub order_number: Option<&'a str>,
    pub order_status: Option<&'a str>,
    pub store_id: Option<&'a str>,
    pub customer_id: Option<&'a str>,
    pub delivery_window_start: Option<&'a str>,
    pub delivery_window_end: Option<&'a str>,
    pub order_total_amount: Option<String>,
    pub effective_updated_at: Option<Timestamp>,
    pub customer_name: Option<&'a str>,
    pub customer_email: Option<&'a str>,
    pub customer_address: Option<&'a str>,
    pub store_name: Option<&'a str>,
    pub store_zone: Option<&'a str>,
    pub store_address: Option<&'a str>,
    pub assigned_courier_id: Option<&'a str>,
    pub delivery_task_status: Option<&'a str>,
    pub delivery_eta: Option<&'a str>,
}

/// Filters of `/freshmart/orders`.
#[derive(Debug, Default)]
pub struct OrderQuery<'q> {
    pub status: Option<&'q str>,
    pub store_id: Option<&'q str>,
    pub customer_id: Option<&'q str>,
    pub limit: usize,
    pub offset: usize,
}

/// An order's own triples with those of its customer and store.
struct OrderParts<'a> {
    id: &'a str,
    triples: &'a [StoredTriple],
    customer: &'a [StoredTriple],
    store: &'a [StoredTriple],
    effective_updated_at: Option<Timestamp>,
}

impl<'a> OrderParts<'a> {
    fn new(store: &'a Store, id: &'a str, triples: &'a [StoredTriple]) -> OrderParts<'a> {
        let related = |p: PredicateId| {
            value(triples, p)
                .and_then(|s| store.subject(s))
                .unwrap_or_default()
        };
        let (customer, store_triples) = (related(P::PLACED_BY), related(P::ORDER_STORE));
        let effective_updated_at = [latest(triples), latest(customer), latest(store_triples)]
            .into_iter()
            .flatten()
            .max();
        OrderParts {
            id,
            triples,
            customer,
            store: store_triples,
            effective_updated_at,
        }
    }

    fn view(&self, store: &'a Store, detailed: bool) -> OrderView<'a> {
        let detail = |triples: &'a [StoredTriple], p: PredicateId| {
            if detailed {
                value(triples, p)
            } else {
                None
            }
        };
        let task = |p: PredicateId| {
            if !detailed {
                return None;
            }
            store
                .referrers(P::TASK_OF_ORDER, self.id)
                .filter_map(|t| store.subject(t))
                .filter_map(|triples| value(triples, p))
                .max()
        };
        OrderView {
            order_id: self.id,
            order_number: value(self.triples, P::ORDER_NUMBER),
            order_status: value(self.triples, P::ORDER_STATUS),
            store_id: value(self.triples, P::ORDER_STORE),
            customer_id: value(self.triples, P::PLACED_BY),
            delivery_window_start: value(self.triples, P::DELIVERY_WINDOW_START),
            delivery_window_end: value(self.triples, P::DELIVERY_WINDOW_END),
            order_total_amount: Some(format_cents(order_total_cents(store, self.id))),
            effective_updated_at: self.effective_updated_at,
            customer_name: value(self.customer, P::CUSTOMER_NAME),
            customer_email: detail(self.customer, P::CUSTOMER_EMAIL),
            customer_address: detail(self.customer, P::CUSTOMER_ADDRESS),
            store_name: value(self.store, P::STORE_NAME),
            store_zone: detail(self.store, P::STORE_ZONE),
            store_address: detail(self.store, P::STORE_ADDRESS),
            assigned_courier_id: task(P::ASSIGNED_TO),
            delivery_task_status: task(P::TASK_STATUS),
            delivery_eta: task(P::ETA),
        }
    }
}

/// The lines of an order: subjects whose (greatest) `line_of_order` is the order.
fn lines_of<'a>(
    store: &'a Store,
    order_id: &'a str,
) -> impl Iterator<Item = (&'a str, &'a [StoredTriple])> {
    store
        .referrers(P::LINE_OF_ORDER, order_id)
        .filter_map(move |line_id| {
            let triples = store.subject(line_id)?;
            (value(triples, P::LINE_OF_ORDER) == Some(order_id)).then_some((line_id, triples))
        })
}

/// Sum over the order's lines of quantity × unit price, in cents.
fn order_total_cents(store: &Store, order_id: &str) -> i64 {
    lines_of(store, order_id)
        .filter_map(|(_, triples)| {
            let quantity = value(triples, P::QUANTITY).and_then(cast_int)?;
            let price = value(triples, P::ORDER_LINE_UNIT_PRICE).and_then(cast_cents)?;
            quantity.checked_mul(price)
        })
        .fold(0i64, i64::saturating_add)
}

/// Orders matching the filters, most recently changed first.
pub fn orders<'a>(store: &'a Store, query: &OrderQuery<'_>) -> Vec<OrderView<'a>> {
    let matches =
        |wanted: Option<&str>, actual: Option<&str>| wanted.is_none_or(|w| actual == Some(w));
    // Customers and stores are shared by many orders: look each up once.
    let mut related_latest: HashMap<&'a str, Option<Timestamp>> = HashMap::new();
    let mut latest_of = |id: Option<&'a str>| {
        let id = id?;
        *related_latest
            .entry(id)
            .or_insert_with(|| store.subject(id).and_then(latest))
    };
    let mut keyed: Vec<(Option<Timestamp>, &'a str, &'a [StoredTriple])> = store
        .with_prefix("order:")
        .filter(|(_, triples)| {
            matches(query.status, value(triples, P::ORDER_STATUS))
                && matches(query.store_id, value(triples, P::ORDER_STORE))
                && matches(query.customer_id, value(triples, P::PLACED_BY))
        })
        .map(|(id, triples)| {
            let effective = [
                latest(triples),
                latest_of(value(triples, P::PLACED_BY)),
                latest_of(value(triples, P::ORDER_STORE)),
            ]
            .into_iter()
            .flatten()
            .max();
            (effective, id, triples)
        })
        .collect();
    let newest_first = |a: &(Option<Timestamp>, &str, &[StoredTriple]),
                        b: &(Option<Timestamp>, &str, &[StoredTriple])| {
        b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1))
    };
    let wanted = query.offset.saturating_add(query.limit);
    if wanted == 0 {
        return Vec::new();
    }
    if wanted < keyed.len() {
        keyed.select_nth_unstable_by(wanted - 1, newest_first);
        keyed.truncate(wanted);
    }
    keyed.sort_unstable_by(newest_first);
    keyed
        .into_iter()
        .skip(query.offset)
        .map(|(_, id, triples)| OrderParts::new(store, id, triples).view(store, false))
        .collect()
}

/// One order with every field, if it exists.
pub fn order<'a>(store: &'a Store, order_id: &'a str) -> Option<OrderView<'a>> {
    if !order_id.starts_with("order:") {
        return None;
    }
    let triples = store.subject(order_id)?;
    Some(OrderParts::new(store, order_id, triples).view(store, true))
}

/// An entry of `/freshmart/orders/{id}/line-items`.
#[derive(Debug, Serialize)]
pub struct LineView<'a> {
    pub line_id: &'a str,
    pub order_id: Option<&'a str>,
    pub product_id: Option<&'a str>,
    pub quantity: Option<i64>,
    pub unit_price: Option<String>,
    pub line_amount: Option<String>,
    pub line_sequence: Option<i64>,
    pub perishable_flag: Option<bool>,
    pub effective_updated_at: Option<Timestamp>,
    pub product_name: Option<&'a str>,
    pub category: Option<&'a str>,
}

/// An order's lines by `line_sequence`: those named `orderline:<order number>-…` (the API finds
/// them by name). `None` for an order id without a colon, which the API fails on.
pub fn order_lines<'a>(store: &'a Store, order_id: &'a str) -> Option<Vec<LineView<'a>>> {
    let number = order_id.split(':').nth(1)?;
    let name_prefix = format!("orderline:{number}-");
    let mut lines: Vec<LineView<'a>> = lines_of(store, order_id)
        .filter(|(line_id, _)| line_id.starts_with(&name_prefix))
        .map(|(line_id, triples)| {
            let product_id = value(triples, P::LINE_PRODUCT);
            let product = product_id
                .and_then(|p| store.subject(p))
                .unwrap_or_default();
            LineView {
                line_id,
                order_id: value(triples, P::LINE_OF_ORDER),
                product_id,
                quantity: value(triples, P::QUANTITY).and_then(cast_int),
                unit_price: value(triples, P::ORDER_LINE_UNIT_PRICE).and_then(cast_decimal2),
                line_amount: value(triples, P::LINE_AMOUNT).and_then(cast_decimal2),
                line_sequence: value(triples, P::LINE_SEQUENCE).and_then(cast_int),
                perishable_flag: value(triples, P::PERISHABLE_FLAG).and_then(cast_bool),
                effective_updated_at: latest(triples),
                product_name: value(product, P::PRODUCT_NAME),
                category: value(product, P::CATEGORY),
            }
        })
        .collect();
    lines.sort_by(|a, b| {
        nulls_last(&a.line_sequence, &b.line_sequence).then_with(|| a.line_id.cmp(b.line_id))
    });
    Some(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ontology::ObjectType;
    use crate::store::Triple;
    use crate::world::stock_store;

    fn s(subject: &str, predicate: &str, value: &str, t: ObjectType) -> Triple {
        Triple::new(subject, predicate, value, t)
    }

    fn with_order() -> Store {
        let mut store = stock_store(Timestamp(1)).unwrap();
        let batch = [
            s("order:FM-1", "order_number", "FM-1", ObjectType::String),
            s("order:FM-1", "order_status", "CREATED", ObjectType::String),
            s(
                "order:FM-1",
                "placed_by",
                "customer:00001",
                ObjectType::EntityRef,
            ),
            s(
                "order:FM-1",
                "order_store",
                "store:BK-01",
                ObjectType::EntityRef,
            ),
            s(
                "order:FM-1",
                "order_total_amount",
                "999.99",
                ObjectType::Float,
            ),
            s(
                "orderline:FM-1-02",
                "line_of_order",
                "order:FM-1",
                ObjectType::EntityRef,
            ),
            s(
                "orderline:FM-1-02",
                "line_product",
                "product:prod0002",
                ObjectType::EntityRef,
            ),
            s("orderline:FM-1-02", "quantity", "1", ObjectType::Int),
            s(
                "orderline:FM-1-02",
                "order_line_unit_price",
                "5.79",
                ObjectType::Float,
            ),
            s("orderline:FM-1-02", "line_sequence", "2", ObjectType::Int),
            s(
                "orderline:FM-1-01",
                "line_of_order",
                "order:FM-1",
                ObjectType::EntityRef,
            ),
            s(
                "orderline:FM-1-01",
                "line_product",
                "product:prod0001",
                ObjectType::EntityRef,
            ),
            s("orderline:FM-1-01", "quantity", "2", ObjectType::Int),
            s(
                "orderline:FM-1-01",
                "order_line_unit_price",
                "5.99",
                ObjectType::Float,
            ),
            s(
                "orderline:FM-1-01",
                "line_amount",
                "11.98",
                ObjectType::Float,
            ),
            s("orderline:FM-1-01", "line_sequence", "1", ObjectType::Int),
            s(
                "orderline:FM-1-01",
                "perishable_flag",
                "true",
                ObjectType::Bool,
            ),
        ];
        store.post_batch(&batch, Timestamp(2)).unwrap();
        store
    }

    #[test]
    fn order_total_is_computed_from_lines() {
        let store = with_order();
        let view = order(&store, "order:FM-1").unwrap();
        assert_eq!(view.order_total_amount.as_deref(), Some("17.77"));
        assert!(view.customer_email.is_some());
        assert_eq!(view.store_zone, Some("BK"));
        assert!(order(&store, "order:FM-2").is_none());
        assert!(order(&store, "customer:00001").is_none());
    }

    #[test]
    fn lines_come_in_sequence_order() {
        let store = with_order();
        let lines = order_lines(&store, "order:FM-1").unwrap();
        let ids: Vec<&str> = lines.iter().map(|l| l.line_id).collect();
        assert_eq!(ids, ["orderline:FM-1-01", "orderline:FM-1-02"]);
        assert_eq!(lines[0].quantity, Some(2));
        assert_eq!(lines[0].unit_price.as_deref(), Some("5.99"));
        assert_eq!(lines[0].line_amount.as_deref(), Some("11.98"));
        assert_eq!(lines[0].product_name, Some("Organic Whole Milk 1 Gallon"));
        assert_eq!(lines[1].line_amount, None);
        assert!(order_lines(&store, "nocolon").is_none());
    }

    #[test]
    fn order_filters_and_paging() {
        let store = with_order();
        let all = OrderQuery {
            limit: 100,
            ..OrderQuery::default()
        };
        assert_eq!(orders(&store, &all).len(), 1);
        let picking = OrderQuery {
            status: Some("PICKING"),
            limit: 100,
            ..OrderQuery::default()
        };
        assert!(orders(&store, &picking).is_empty());
        let skipped = OrderQuery {
            offset: 1,
            limit: 100,
            ..OrderQuery::default()
        };
        assert!(orders(&store, &skipped).is_empty());
        let listed = &orders(&store, &all)[0];
        assert!(listed.customer_name.is_some());
        assert_eq!(listed.customer_email, None);
    }

    #[test]
    fn inventory_is_ordered_by_store_then_product() {
        let store = stock_store(Timestamp(1)).unwrap();
        let first = inventory(
            &store,
            &InventoryQuery {
                limit: 3,
                ..InventoryQuery::default()
            },
        );
        let ids: Vec<&str> = first.iter().map(|i| i.inventory_id).collect();
        assert_eq!(
            ids,
            [
                "inventory:INV-000001",
                "inventory:INV-000002",
                "inventory:INV-000003"
            ]
        );
        let bx = InventoryQuery {
            store_id: Some("store:BX-01"),
            limit: 1000,
            ..InventoryQuery::default()
        };
        assert_eq!(inventory(&store, &bx).len(), 760);
        let low = InventoryQuery {
            low_stock_only: true,
            limit: 1000,
            ..InventoryQuery::default()
        };
        assert!(inventory(&store, &low).is_empty());
    }

    #[test]
    fn stores_carry_their_inventory() {
        let store = stock_store(Timestamp(1)).unwrap();
        let views = stores(&store);
        assert_eq!(views.len(), 10);
        assert!(views.iter().all(|v| v.inventory_items.len() == 760));
        assert_eq!(products(&store).len(), 760);
        assert_eq!(
            products(&store)
                .iter()
                .filter(|p| p.unit_price.is_none())
                .count(),
            0
        );
        assert_eq!(customers(&store).len(), 100);
    }
}
