//! The built-in world: what a stock FreshMart install holds (10 stores, 760 products,
//! 7,600 inventory items, 100 customers).

use super::{Customer, InventoryItem, Product, Store, World};
use crate::contract::ids;
use crate::contract::money::parse_cents;

/// The stock catalogue, copied from the FreshMart seed data.
const PRODUCTS_CSV: &str = include_str!("products.csv");

/// Zones in the order the stock install numbers its stores.
const ZONES: [&str; 5] = ["BK", "MAN", "QNS", "BX", "SI"];
const STORES_PER_ZONE: usize = 2;
const STOCK_CUSTOMERS: usize = 100;

fn stock_products() -> Vec<Product> {
    let mut reader = csv::Reader::from_reader(PRODUCTS_CSV.as_bytes());
    reader
        .records()
        .enumerate()
        .map(|(row, record)| {
            // The file is compiled in and covered by a test, so a bad row is a build defect.
            let record = record.unwrap_or_else(|e| panic!("products.csv row {row}: {e}"));
            let price = parse_cents(&record[3])
                .unwrap_or_else(|| panic!("products.csv row {row}: bad price {}", &record[3]));
            Product {
                id: record[0].to_string(),
                name: record[1].to_string(),
                category: record[2].to_string(),
                price_cents: price,
                perishable: &record[5] == "true",
            }
        })
        .collect()
}

/// The name the built-in world goes by, in trace headers and world files.
pub const BUILTIN_WORLD_NAME: &str = "builtin";

/// The world of a stock FreshMart install, built afresh: building it costs about what cloning
/// the shared one does, and `simulate`'s one caller then need not wait for the shared one
/// (`builtin_world_ref`), which the trace header's encoding builds on the writer's thread.
pub fn builtin_world() -> World {
    build_builtin_world()
}

/// The built-in world, built once per process.
pub fn builtin_world_ref() -> &'static World {
    static WORLD: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    WORLD.get_or_init(build_builtin_world)
}

/// The SHA-256 of the built-in world's encoding (postcard): a trace names the built-in world
/// by this instead of embedding 220 KB, and a reader whose built-in world differs refuses it.
///
/// The hash is a constant of the binary, so it is written down rather than computed: hashing the
/// 220 KB encoding took 13.7 M instructions at every start, 1.2 % of a whole stress day's
/// `simulate` (callgrind). `tests::the_pinned_hash_is_that_of_the_built_in_world` recomputes it,
/// so a change to the built-in world cannot ship with a stale hash.
pub fn builtin_world_sha256() -> [u8; 32] {
    BUILTIN_WORLD_SHA256
}

const BUILTIN_WORLD_SHA256: [u8; 32] = [
    0xe8, 0x38, 0x80, 0xfb, 0xfa, 0xd8, 0xf8, 0x6c, 0x54, 0xbd, 0x24, 0xa1, 0xbf, 0x57, 0x59, 0x21,
    0x13, 0xfd, 0x70, 0xda, 0x31, 0xbe, 0x2b, 0xa8, 0x57, 0xf7, 0xf0, 0x1e, 0x45, 0x2d, 0x9d, 0x98,
];

/// The SHA-256 of a world's postcard encoding.
pub fn world_sha256(world: &World) -> [u8; 32] {
    use sha2::Digest;
    // Encoding owned strings and integers into a Vec cannot fail.
    let bytes = postcard::to_stdvec(world).expect("a world always encodes");
    sha2::Sha256::digest(&bytes).into()
}

/// `ids::stock_inventory`'s prefix: `inventory:INV-`.
const INVENTORY_PREFIX: &str = "inventory:INV-";

/// `prefix` and `number` in at least `width` digits, zero-padded: what `format!("{prefix}
/// {number:0width$}")` gives, without the formatting machinery (building the world's 7,700
/// ids with `format!` was 8.6 M instructions, most of `simulate`'s start).
fn numbered(prefix: &str, number: usize, width: usize) -> String {
    let mut digits = [b'0'; 20];
    let (mut rest, mut first) = (number, digits.len());
    while rest > 0 {
        first -= 1;
        digits[first] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    // At least one digit (0 is `0`), at most the 20 a `usize` can need.
    let first = first.min(digits.len() - width.clamp(1, 20));
    let mut id = String::with_capacity(prefix.len() + digits.len() - first);
    id.push_str(prefix);
    id.push_str(std::str::from_utf8(&digits[first..]).expect("ASCII digits"));
    id
}

fn build_builtin_world() -> World {
    let stores: Vec<Store> = ZONES
        .iter()
        .flat_map(|zone| {
            (1..=STORES_PER_ZONE).map(move |n| Store {
                id: ids::stock_store(zone, n),
                zone: zone.to_string(),
            })
        })
        .collect();
    let products = stock_products();
    let inventory = (0..stores.len())
        .flat_map(|s| (0..products.len()).map(move |p| (s, p)))
        .enumerate()
        .map(|(i, (s, p))| InventoryItem {
            id: numbered(INVENTORY_PREFIX, i + 1, 6),
            store: s as u32,
            product: p as u32,
            // A stock install draws its levels at random: the built-in world cannot know them.
            stock_level: None,
        })
        .collect();
    let customers = (1..=STOCK_CUSTOMERS)
        .map(|n| Customer {
            id: numbered(ids::CUSTOMER, n, 5),
        })
        .collect();
    World {
        name: BUILTIN_WORLD_NAME.into(),
        stores,
        products,
        customers,
        inventory,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_hash_is_that_of_the_built_in_world() {
        let computed = world_sha256(builtin_world_ref());
        assert_eq!(
            BUILTIN_WORLD_SHA256, computed,
            "the built-in world changed: set BUILTIN_WORLD_SHA256 to {computed:?}"
        );
    }

    #[test]
    fn numbered_ids_are_those_of_a_stock_install() {
        for n in (0..=12_000).chain([99_999, 100_000, 1_234_567, usize::MAX]) {
            assert_eq!(numbered(INVENTORY_PREFIX, n, 6), ids::stock_inventory(n));
            assert_eq!(numbered(ids::CUSTOMER, n, 5), ids::stock_customer(n));
        }
        assert_eq!(numbered("x", 7, 0), "x7");
        assert_eq!(numbered("x", 0, 0), format!("x{:0}", 0));
    }

    /// Built afresh or shared, it is the one world.
    #[test]
    fn every_build_is_the_shared_world() {
        assert_eq!(builtin_world(), *builtin_world_ref());
    }

    #[test]
    fn matches_a_stock_install() {
        let world = builtin_world();
        world.validate().unwrap();
        assert_eq!(world.stores.len(), 10);
        assert_eq!(world.stores[0].id, "store:BK-01");
        assert_eq!(world.stores[1].id, "store:BK-02");
        assert_eq!(world.stores[2].id, "store:MAN-01");
        assert_eq!(world.stores[9].id, "store:SI-02");
        assert_eq!(world.products.len(), 760);
        assert_eq!(world.products[0].id, "product:prod0001");
        assert_eq!(world.products[0].price_cents, 599);
        assert!(world.products[0].perishable);
        assert_eq!(world.inventory.len(), 7600);
        let first = &world.inventory[0];
        assert_eq!(
            (first.id.as_str(), first.store, first.product),
            ("inventory:INV-000001", 0, 0)
        );
        let second_store = &world.inventory[760];
        assert_eq!(
            (
                second_store.id.as_str(),
                second_store.store,
                second_store.product
            ),
            ("inventory:INV-000761", 1, 0)
        );
        assert_eq!(world.inventory[7599].id, "inventory:INV-007600");
        assert_eq!(world.customers.len(), 100);
        assert_eq!(world.customers[0].id, "customer:00001");
        assert_eq!(world.customers[99].id, "customer:00100");
    }
}
