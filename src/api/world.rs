//! World snapshots from a live API: stores, products, customers and inventory items, read
//! from the `/freshmart/*` views and put in canonical order (sorted by id), so the same data
//! always gives the same world whatever order the API answers in. Each inventory item keeps
//! the stock level the API listed, so `cleanup --restore-stock` can put it back.

use std::collections::HashMap;

use super::reads::{self, ApiReader, ReadError};
use crate::contract::money::json_cents;
use crate::contract::rows::{self, CustomerRow, InventoryRow, ProductRow, StoreRow};
use crate::world::{Customer, InventoryItem, Product, Store, World};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{path}: product {product}: unit_price `{price}` is not a price")]
    Price {
        path: String,
        product: String,
        price: String,
    },
    #[error(transparent)]
    World(#[from] crate::world::WorldError),
}

/// A level `cleanup --restore-stock` can PUT back as the API's `int`: a whole number in
/// `u32` (or such a number as a string). Anything else (null, negative, fractional) is not
/// recorded, and a restore of that item is refused rather than guessed.
fn stock_level(value: &serde_json::Value) -> Option<u32> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A price in `u32` cents (a number beyond it saturates, as a float's cast would).
fn price_cents(value: &serde_json::Value) -> Option<u32> {
    json_cents(value).map(|cents| u32::try_from(cents).unwrap_or(u32::MAX))
}

/// Reads the four views and builds a world named after the API (credentials redacted).
pub async fn snapshot(reader: &ApiReader) -> Result<World, SnapshotError> {
    // Stores, products and customers come whole (the API ignores `limit` there); inventory
    // pages (100 items by default, at most 1000).
    let mut stores: Vec<StoreRow> = reads::get_all(reader, rows::STORES).await?;
    let mut products: Vec<ProductRow> = reads::get_all(reader, rows::PRODUCTS).await?;
    let mut customers: Vec<CustomerRow> = reads::get_all(reader, rows::CUSTOMERS).await?;
    let mut inventory: Vec<InventoryRow> = reads::list(reader, rows::INVENTORY).await?;
    stores.sort_by(|a, b| a.store_id.cmp(&b.store_id));
    stores.dedup_by(|a, b| a.store_id == b.store_id);
    products.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    products.dedup_by(|a, b| a.product_id == b.product_id);
    customers.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    customers.dedup_by(|a, b| a.customer_id == b.customer_id);
    inventory.sort_by(|a, b| a.inventory_id.cmp(&b.inventory_id));
    inventory.dedup_by(|a, b| a.inventory_id == b.inventory_id);

    let store_index: HashMap<&str, u32> = stores
        .iter()
        .enumerate()
        .map(|(i, s)| (s.store_id.as_str(), i as u32))
        .collect();
    let product_index: HashMap<&str, u32> = products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.product_id.as_str(), i as u32))
        .collect();
    let world_products = products
        .iter()
        .map(|p| {
            let price = p.unit_price.as_ref().and_then(price_cents).ok_or_else(|| {
                SnapshotError::Price {
                    path: rows::PRODUCTS.into(),
                    product: p.product_id.clone(),
                    price: p
                        .unit_price
                        .as_ref()
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "null".into()),
                }
            })?;
            Ok(Product {
                id: p.product_id.clone(),
                name: p.product_name.clone().unwrap_or_default(),
                category: p.category.clone().unwrap_or_default(),
                price_cents: price,
                perishable: p.perishable.unwrap_or(false),
            })
        })
        .collect::<Result<Vec<_>, SnapshotError>>()?;
    // Items whose store or product is not in the snapshot cannot be drawn meaningfully.
    let world_inventory = inventory
        .iter()
        .filter_map(|i| {
            Some(InventoryItem {
                id: i.inventory_id.clone(),
                store: *store_index.get(i.store_id.as_deref()?)?,
                product: *product_index.get(i.product_id.as_deref()?)?,
                stock_level: i.stock_level.as_ref().and_then(stock_level),
            })
        })
        .collect();
    let world = World {
        name: reader.shown_url().to_string(),
        stores: stores
            .iter()
            .map(|s| Store {
                id: s.store_id.clone(),
                zone: s.store_zone.clone().unwrap_or_default(),
            })
            .collect(),
        products: world_products,
        customers: customers
            .iter()
            .map(|c| Customer {
                id: c.customer_id.clone(),
            })
            .collect(),
        inventory: world_inventory,
    };
    world.validate_for_load()?;
    Ok(world)
}

#[cfg(test)]
mod tests {
    use super::stock_level;
    use serde_json::json;

    #[test]
    fn only_whole_levels_in_range_are_recorded() {
        assert_eq!(stock_level(&json!(42)), Some(42));
        assert_eq!(stock_level(&json!(0)), Some(0));
        assert_eq!(stock_level(&json!("17")), Some(17));
        for odd in [
            json!(null),
            json!(-1),
            json!(2.5),
            json!("many"),
            json!(u64::from(u32::MAX) + 1),
        ] {
            assert_eq!(stock_level(&odd), None, "{odd}");
        }
    }
}
