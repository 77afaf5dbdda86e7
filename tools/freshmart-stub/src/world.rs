//! The stock world of a fresh install, as triples: 10 stores (2 per zone), the 760 products of
//! the catalogue, 7,600 inventory items (store-major, product-minor) and 100 customers. Fixed,
//! whatever the seed.

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::clock::Timestamp;
use crate::ontology::ObjectType;
use crate::store::{Store, Triple};

const PRODUCTS_CSV: &str = include_str!("../../../src/world/products.csv");

/// Zones in the order the stock install numbers its stores: code, borough, streets.
pub const ZONES: [(&str, &str, [&str; 5]); 5] = [
    (
        "BK",
        "Brooklyn",
        [
            "Atlantic Ave",
            "Court St",
            "Flatbush Ave",
            "Smith St",
            "Bedford Ave",
        ],
    ),
    (
        "MAN",
        "Manhattan",
        [
            "Broadway",
            "5th Ave",
            "Madison Ave",
            "Park Ave",
            "Lexington Ave",
        ],
    ),
    (
        "QNS",
        "Queens",
        [
            "Steinway St",
            "Queens Blvd",
            "Jamaica Ave",
            "Roosevelt Ave",
            "Northern Blvd",
        ],
    ),
    (
        "BX",
        "Bronx",
        [
            "Grand Concourse",
            "Fordham Rd",
            "E Tremont Ave",
            "Webster Ave",
            "3rd Ave",
        ],
    ),
    (
        "SI",
        "Staten Island",
        [
            "Victory Blvd",
            "Forest Ave",
            "Hylan Blvd",
            "Richmond Ave",
            "Bay St",
        ],
    ),
];

/// Stores per zone.
pub const STORES_PER_ZONE: usize = 2;
/// Customers of a stock install.
pub const CUSTOMERS: usize = 100;
/// Products of the catalogue.
pub const PRODUCTS: usize = 760;
/// Stock level of every inventory item at start.
pub const INITIAL_STOCK_LEVEL: u32 = 100;

const FIRST_NAMES: [&str; 20] = [
    "Ava", "Liam", "Sofia", "Noah", "Maya", "Ethan", "Zoe", "Lucas", "Mia", "Omar", "Chloe",
    "Diego", "Grace", "Kenji", "Priya", "Samuel", "Elena", "Malik", "Hannah", "Tariq",
];
const LAST_NAMES: [&str; 20] = [
    "Rivera", "Chen", "Okafor", "Goldberg", "Patel", "Kowalski", "Nguyen", "Russo", "Haddad",
    "Johnson", "Moreno", "Kim", "Schwartz", "Adeyemi", "Sullivan", "Park", "Levy", "Das", "Romano",
    "Brooks",
];

#[derive(Deserialize)]
struct ProductRow {
    product_id: String,
    product_name: String,
    category: String,
    unit_price: String,
    unit_weight_grams: String,
    perishable: String,
}

/// Store ids in stock order: `store:BK-01`, `store:BK-02`, `store:MAN-01`, ….
pub fn store_ids() -> Vec<String> {
    ZONES
        .iter()
        .flat_map(|(code, _, _)| (1..=STORES_PER_ZONE).map(move |n| format!("store:{code}-{n:02}")))
        .collect()
}

/// Every triple of the stock world.
pub fn stock_triples() -> anyhow::Result<Vec<Triple>> {
    let mut triples = Vec::with_capacity(30_000);
    let mut add =
        |s: &str, p: &str, o: String, t: ObjectType| triples.push(Triple::new(s, p, o, t));

    let stores = store_ids();
    for (i, store) in stores.iter().enumerate() {
        let (code, borough, streets) = ZONES[i / STORES_PER_ZONE];
        let n = i % STORES_PER_ZONE + 1;
        let number = 100 + (i * 137) % 900;
        let street = streets[i % streets.len()];
        let zip = 10_001 + i * 97;
        add(
            store,
            "store_name",
            format!("FreshMart {borough} {n}"),
            ObjectType::String,
        );
        add(
            store,
            "store_address",
            format!("{number} {street}, {borough}, NY {zip}"),
            ObjectType::String,
        );
        add(store, "store_zone", code.to_owned(), ObjectType::String);
        add(store, "store_status", "OPEN".to_owned(), ObjectType::String);
        add(
            store,
            "store_capacity_orders_per_hour",
            (40 + 5 * (i % 7)).to_string(),
            ObjectType::Int,
        );
    }

    let mut products = Vec::with_capacity(PRODUCTS);
    for row in csv::Reader::from_reader(PRODUCTS_CSV.as_bytes()).deserialize() {
        let row: ProductRow = row.context("reading the product catalogue")?;
        let p = &row.product_id;
        add(
            p,
            "product_name",
            row.product_name.clone(),
            ObjectType::String,
        );
        add(p, "category", row.category.clone(), ObjectType::String);
        add(p, "unit_price", row.unit_price.clone(), ObjectType::Float);
        add(
            p,
            "unit_weight_grams",
            row.unit_weight_grams.clone(),
            ObjectType::Int,
        );
        add(
            p,
            "perishable",
            row.perishable.to_ascii_lowercase(),
            ObjectType::Bool,
        );
        products.push(row.product_id);
    }
    if products.len() != PRODUCTS {
        bail!(
            "the catalogue has {} products, expected {PRODUCTS}",
            products.len()
        );
    }

    let mut item = 0;
    for store in &stores {
        for product in &products {
            item += 1;
            let id = format!("inventory:INV-{item:06}");
            add(&id, "inventory_store", store.clone(), ObjectType::EntityRef);
            add(
                &id,
                "inventory_product",
                product.clone(),
                ObjectType::EntityRef,
            );
            add(
                &id,
                "stock_level",
                INITIAL_STOCK_LEVEL.to_string(),
                ObjectType::Int,
            );
        }
    }

    for n in 1..=CUSTOMERS {
        let id = format!("customer:{n:05}");
        let first = FIRST_NAMES[n % FIRST_NAMES.len()];
        let last = LAST_NAMES[(n * 7 + n / FIRST_NAMES.len()) % LAST_NAMES.len()];
        let (_, borough, streets) = ZONES[n % ZONES.len()];
        let street = streets[(n / ZONES.len()) % streets.len()];
        let email = format!(
            "{}.{}{n}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let address = format!(
            "{} {street}, {borough}, NY {}",
            10 + (n * 53) % 990,
            10_100 + n * 3
        );
        add(
            &id,
            "customer_name",
            format!("{first} {last}"),
            ObjectType::String,
        );
        add(&id, "customer_email", email, ObjectType::String);
        add(&id, "customer_address", address, ObjectType::String);
    }
    Ok(triples)
}

/// A store holding the stock world.
pub fn stock_store(now: Timestamp) -> anyhow::Result<Store> {
    let mut store = Store::new();
    if store.post_batch(&stock_triples()?, now).is_err() {
        bail!("the stock world repeats a triple");
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ontology::Ontology;

    #[test]
    fn stock_world_has_the_stock_ids() {
        let store = stock_store(Timestamp(0)).unwrap();
        let stores: Vec<&str> = store.with_prefix("store:").map(|(id, _)| id).collect();
        assert_eq!(stores.len(), 10);
        assert_eq!(
            store_ids()[..3],
            ["store:BK-01", "store:BK-02", "store:MAN-01"]
        );
        assert_eq!(store_ids()[9], "store:SI-02");
        assert_eq!(store.with_prefix("product:").count(), 760);
        assert_eq!(store.with_prefix("inventory:").count(), 7600);
        assert_eq!(store.with_prefix("customer:").count(), 100);
        let value = |s: &str, p: &str| {
            store
                .subject(s)
                .unwrap()
                .iter()
                .find(|t| store.predicate_name(t.predicate) == p)
                .unwrap()
                .object_value
                .clone()
        };
        assert_eq!(
            value("inventory:INV-000001", "inventory_store"),
            "store:BK-01"
        );
        assert_eq!(
            value("inventory:INV-000001", "inventory_product"),
            "product:prod0001"
        );
        assert_eq!(
            value("inventory:INV-000002", "inventory_product"),
            "product:prod0002"
        );
        assert_eq!(
            value("inventory:INV-000761", "inventory_store"),
            "store:BK-02"
        );
        assert_eq!(
            value("inventory:INV-000761", "inventory_product"),
            "product:prod0001"
        );
        assert_eq!(
            value("inventory:INV-007600", "inventory_store"),
            "store:SI-02"
        );
        assert!(
            store.subject("customer:00001").is_some() && store.subject("customer:00100").is_some()
        );
    }

    #[test]
    fn stock_world_is_valid() {
        let ontology = Ontology::builtin().unwrap();
        for t in stock_triples().unwrap() {
            let errors =
                ontology.validate(&t.subject_id, &t.predicate, &t.object_value, t.object_type);
            assert!(errors.is_empty(), "{t:?}: {errors:?}");
        }
    }
}
