//! The API's records as its `/freshmart/*` views return them: the views' paths, and one row
//! type per kind with the fields loadgen reads (missing optional fields are `None`; unknown
//! ones are ignored).

use serde::Deserialize;

use super::money::json_cents;
use super::statuses::OrderStatus;

/// Every order (paged); `order_path` reads one.
pub const ORDERS: &str = "/freshmart/orders";
/// Every customer (not paged).
pub const CUSTOMERS: &str = "/freshmart/customers";
/// Every store (not paged).
pub const STORES: &str = "/freshmart/stores";
/// Every product (not paged).
pub const PRODUCTS: &str = "/freshmart/products";
/// Every inventory item (paged; `?store_id=` narrows it to one store's).
pub const INVENTORY: &str = "/freshmart/stores/inventory";

/// One order, by its subject id (404 if the API does not know it).
pub fn order_path(order_id: &str) -> String {
    format!("{ORDERS}/{order_id}")
}

/// The lines of one order.
pub fn order_lines_path(order_id: &str) -> String {
    format!("{ORDERS}/{order_id}/line-items")
}

/// `GET /freshmart/orders`, `GET /freshmart/orders/{id}`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct OrderRow {
    pub order_id: String,
    #[serde(default)]
    pub order_status: Option<String>,
    /// A JSON string on the real API (`"23.76"`); numbers are accepted too.
    #[serde(default)]
    pub order_total_amount: Option<serde_json::Value>,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub store_id: Option<String>,
}

impl OrderRow {
    /// The status, if the row has one loadgen knows.
    pub fn status(&self) -> Option<OrderStatus> {
        self.order_status.as_deref().and_then(OrderStatus::from_api)
    }

    pub fn total_cents(&self) -> Option<u64> {
        self.order_total_amount.as_ref().and_then(json_cents)
    }

    /// The total as the API wrote it (a string as is, anything else as JSON; empty if absent).
    pub fn total_text(&self) -> String {
        text(&self.order_total_amount)
    }
}

/// `GET /freshmart/orders/{id}/line-items`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct LineRow {
    pub line_id: String,
    #[serde(default)]
    pub product_id: Option<String>,
    /// An int on the API; a string of digits is accepted too.
    #[serde(default)]
    pub quantity: Option<serde_json::Value>,
}

impl LineRow {
    pub fn quantity(&self) -> Option<i64> {
        integer(&self.quantity)
    }
}

/// `GET /freshmart/customers`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct CustomerRow {
    pub customer_id: String,
    #[serde(default)]
    pub customer_name: Option<String>,
    #[serde(default)]
    pub customer_email: Option<String>,
    #[serde(default)]
    pub customer_address: Option<String>,
}

/// `GET /freshmart/stores`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct StoreRow {
    pub store_id: String,
    #[serde(default)]
    pub store_zone: Option<String>,
}

/// `GET /freshmart/products`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ProductRow {
    pub product_id: String,
    #[serde(default)]
    pub product_name: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// A JSON string on the real API (`"3.19"`); numbers are accepted too.
    #[serde(default)]
    pub unit_price: Option<serde_json::Value>,
    #[serde(default)]
    pub perishable: Option<bool>,
}

/// `GET /freshmart/stores/inventory`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct InventoryRow {
    pub inventory_id: String,
    #[serde(default)]
    pub store_id: Option<String>,
    #[serde(default)]
    pub product_id: Option<String>,
    /// An int on the API; kept as it came so one odd value does not fail a whole list.
    #[serde(default)]
    pub stock_level: Option<serde_json::Value>,
}

impl InventoryRow {
    /// The level as a whole number (an int, or a string of digits), if it is one.
    pub fn stock_level(&self) -> Option<i64> {
        integer(&self.stock_level)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_views_paths() {
        assert_eq!(
            order_path("order:LG-r1-000001"),
            "/freshmart/orders/order:LG-r1-000001"
        );
        assert_eq!(
            order_lines_path("order:LG-r1-000001"),
            "/freshmart/orders/order:LG-r1-000001/line-items"
        );
        assert_eq!(
            [ORDERS, CUSTOMERS, STORES, PRODUCTS, INVENTORY],
            [
                "/freshmart/orders",
                "/freshmart/customers",
                "/freshmart/stores",
                "/freshmart/products",
                "/freshmart/stores/inventory"
            ]
        );
    }

    #[test]
    fn an_order_row_reads_its_status_and_total() {
        let row: OrderRow = serde_json::from_value(json!({
            "order_id": "order:LG-r1-000001",
            "order_number": "LG-r1-000001",
            "order_status": "OUT_FOR_DELIVERY",
            "order_total_amount": "23.76",
            "store_id": "store:BK-01",
        }))
        .unwrap();
        assert_eq!(row.status(), Some(OrderStatus::OutForDelivery));
        assert_eq!(row.total_cents(), Some(2376));
        assert_eq!(row.total_text(), "23.76");
        assert_eq!(row.customer_id, None);
        assert_eq!(row.store_id.as_deref(), Some("store:BK-01"));

        let odd: OrderRow = serde_json::from_value(json!({
            "order_id": "order:1",
            "order_status": "LOST",
            "order_total_amount": 5.5,
        }))
        .unwrap();
        assert_eq!(odd.status(), None);
        assert_eq!(odd.total_cents(), Some(550));
        assert_eq!(odd.total_text(), "5.5");
        assert!(serde_json::from_value::<OrderRow>(json!({"order_status": "CREATED"})).is_err());
    }

    #[test]
    fn whole_numbers_read_as_ints_or_strings() {
        let item = |level| InventoryRow {
            inventory_id: "inventory:INV-000001".into(),
            store_id: None,
            product_id: None,
            stock_level: level,
        };
        assert_eq!(item(Some(json!(42))).stock_level(), Some(42));
        assert_eq!(item(Some(json!("17"))).stock_level(), Some(17));
        assert_eq!(item(Some(json!(-3))).stock_level(), Some(-3));
        assert_eq!(item(Some(json!(2.5))).stock_level(), None);
        assert_eq!(item(None).stock_level(), None);
        let line: LineRow =
            serde_json::from_value(json!({"line_id": "orderline:x-01", "quantity": 3})).unwrap();
        assert_eq!(line.quantity(), Some(3));
    }
}
