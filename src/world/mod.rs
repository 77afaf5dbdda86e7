//! The reference data that events point into: stores, products, customers, inventory items.
//!
//! Events carry indices into these tables, never ids. A trace is self-contained: its header
//! embeds the world, or names the built-in one by its content hash.

mod builtin;
pub mod names;

use serde::{Deserialize, Serialize};

pub use builtin::{
    builtin_world, builtin_world_ref, builtin_world_sha256, parse_cents, world_sha256,
    BUILTIN_WORLD_NAME,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    pub id: String,
    pub zone: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub category: String,
    /// Price in cents: amounts are summed as integers so they never carry float noise.
    pub price_cents: u32,
    pub perishable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryItem {
    pub id: String,
    /// Index into `World::stores`.
    pub store: u32,
    /// Index into `World::products`.
    pub product: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct World {
    /// `builtin` for the stock install, otherwise where the snapshot came from.
    pub name: String,
    pub stores: Vec<Store>,
    pub products: Vec<Product>,
    pub customers: Vec<Customer>,
    pub inventory: Vec<InventoryItem>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorldError {
    #[error("world `{world}` has no {what}: the simulator needs at least one")]
    Empty { world: String, what: &'static str },
    #[error("world `{world}`: inventory item {item} points at {what} index {index}, out of range")]
    DanglingIndex {
        world: String,
        item: String,
        what: &'static str,
        index: u32,
    },
}

impl World {
    /// Rejects worlds the simulator cannot draw from.
    pub fn validate(&self) -> Result<(), WorldError> {
        let empty = |what| WorldError::Empty {
            world: self.name.clone(),
            what,
        };
        if self.stores.is_empty() {
            return Err(empty("stores"));
        }
        if self.products.is_empty() {
            return Err(empty("products"));
        }
        // Orders draw their customer from the world before any new customer exists.
        if self.customers.is_empty() {
            return Err(empty("customers"));
        }
        for item in &self.inventory {
            for (what, index, len) in [
                ("store", item.store, self.stores.len()),
                ("product", item.product, self.products.len()),
            ] {
                if index as usize >= len {
                    return Err(WorldError::DanglingIndex {
                        world: self.name.clone(),
                        item: item.id.clone(),
                        what,
                        index,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_world_is_refused_with_the_missing_table() {
        let mut world = builtin_world();
        world.products.clear();
        assert_eq!(
            world.validate(),
            Err(WorldError::Empty {
                world: "builtin".into(),
                what: "products"
            })
        );
    }

    #[test]
    fn dangling_inventory_index_is_refused() {
        let mut world = builtin_world();
        world.inventory[3].product = 99_999;
        assert!(matches!(
            world.validate(),
            Err(WorldError::DanglingIndex {
                what: "product",
                ..
            })
        ));
    }
}
