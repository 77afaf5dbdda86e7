//! The reference data that events point into: stores, products, customers, inventory items.
//!
//! Events carry indices into these tables, never ids. A trace is self-contained: its header
//! embeds the world, or names the built-in one by its content hash.

mod builtin;
pub mod names;

use serde::{Deserialize, Serialize};

use crate::contract::ids;

pub use builtin::{
    builtin_world, builtin_world_ref, builtin_world_sha256, world_sha256, BUILTIN_WORLD_NAME,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub id: String,
    pub zone: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub category: String,
    /// Price in cents: amounts are summed as integers so they never carry float noise.
    pub price_cents: u32,
    pub perishable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryItem {
    pub id: String,
    /// Index into `World::stores`.
    pub store: u32,
    /// Index into `World::products`.
    pub product: u32,
    /// The item's stock level when the world was taken from an API (`stock_level` of
    /// `/freshmart/stores/inventory`): what `cleanup --restore-stock` puts back. None when it
    /// is not known: the built-in world (a stock install's levels are random), a world file
    /// written before levels were recorded, an item the API listed without a level.
    #[serde(default)]
    pub stock_level: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[error("world `{world}`: {what} id `{id}` appears twice (entries {first} and {second})")]
    DuplicateId {
        world: String,
        what: &'static str,
        id: String,
        first: usize,
        second: usize,
    },
    #[error("world `{world}`: {what} id `{id}` is not a {what} id: it must start with `{prefix}` and name something after it")]
    WrongClass {
        world: String,
        what: &'static str,
        id: String,
        prefix: &'static str,
    },
}

/// Checks one table's ids: each of its class (`store:…`) and none twice. Positions are 1-based,
/// as a person counts entries in the file.
fn check_ids<'a>(
    world: &str,
    what: &'static str,
    prefix: &'static str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), WorldError> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (position, id) in ids.enumerate() {
        let name = id.strip_prefix(prefix).unwrap_or("");
        if name.trim().is_empty() {
            return Err(WorldError::WrongClass {
                world: world.to_string(),
                what,
                id: id.to_string(),
                prefix,
            });
        }
        if let Some(first) = seen.insert(id, position + 1) {
            return Err(WorldError::DuplicateId {
                world: world.to_string(),
                what,
                id: id.to_string(),
                first,
                second: position + 1,
            });
        }
    }
    Ok(())
}

impl World {
    /// Everything `validate` checks, and the ids: each of its table's class (`store:…`,
    /// `product:…`, `customer:…`, `inventory:…`, as the API's ontology wants) and none twice.
    /// For worlds loaded from a file or an API snapshot, which would otherwise fail later, one
    /// request at a time, as HTTP 400s.
    pub fn validate_for_load(&self) -> Result<(), WorldError> {
        self.validate()?;
        check_ids(
            &self.name,
            "store",
            ids::STORE,
            self.stores.iter().map(|s| s.id.as_str()),
        )?;
        check_ids(
            &self.name,
            "product",
            ids::PRODUCT,
            self.products.iter().map(|p| p.id.as_str()),
        )?;
        check_ids(
            &self.name,
            "customer",
            ids::CUSTOMER,
            self.customers.iter().map(|c| c.id.as_str()),
        )?;
        check_ids(
            &self.name,
            "inventory",
            ids::INVENTORY,
            self.inventory.iter().map(|i| i.id.as_str()),
        )?;
        Ok(())
    }

    /// Rejects worlds the simulator cannot draw from (a trace's world is checked this far:
    /// its ids are what it was made with).
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
    fn the_builtin_world_is_valid() {
        assert_eq!(builtin_world().validate_for_load(), Ok(()));
    }

    #[test]
    fn duplicate_ids_are_refused_naming_the_id_and_both_entries() {
        let mut world = builtin_world();
        world.products[5].id = world.products[2].id.clone();
        let err = world.validate_for_load().unwrap_err();
        assert_eq!(
            err,
            WorldError::DuplicateId {
                world: "builtin".into(),
                what: "product",
                id: world.products[2].id.clone(),
                first: 3,
                second: 6,
            }
        );
        let mut world = builtin_world();
        world.customers.push(world.customers[0].clone());
        assert!(err.to_string().contains("appears twice"), "{err}");
        assert!(matches!(
            world.validate_for_load(),
            Err(WorldError::DuplicateId {
                what: "customer",
                ..
            })
        ));
        // A trace's world is only checked for what the simulator needs.
        assert_eq!(world.validate(), Ok(()));
    }

    #[test]
    fn ids_of_the_wrong_class_are_refused() {
        for (table, id) in [
            ("store", "product:prod0001"),
            ("product", "store:BK-01"),
            ("customer", "00001"),
            ("inventory", "inventory:"),
        ] {
            let mut world = builtin_world();
            match table {
                "store" => world.stores[0].id = id.into(),
                "product" => world.products[0].id = id.into(),
                "customer" => world.customers[0].id = id.into(),
                _ => world.inventory[0].id = id.into(),
            }
            let err = world.validate_for_load().unwrap_err();
            assert!(
                matches!(&err, WorldError::WrongClass { what, id: bad, .. } if *what == table && bad == id),
                "{table} {id}: {err}"
            );
            assert!(err.to_string().contains(&format!("`{id}`")), "{err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let mut json: serde_json::Value = serde_json::to_value(builtin_world()).unwrap();
        json["stores_extra"] = serde_json::json!([]);
        let err = serde_json::from_value::<World>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("stores_extra"), "{err}");
        let mut json: serde_json::Value = serde_json::to_value(builtin_world()).unwrap();
        json["products"][0]["colour"] = serde_json::json!("red");
        let err = serde_json::from_value::<World>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
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
