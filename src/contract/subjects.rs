//! The subject ids a run uses, rendered from a trace's numbers and world indices: the world's
//! own ids, and the run's namespace for what the trace creates. The one place an index is
//! looked up in the world to name an entity.

use super::ids;
use super::triples::Text;
use crate::event::{CustomerRef, Entity, NewCustomerNo, OrderNo};
use crate::world::World;

#[derive(Clone, Copy)]
pub struct Subjects<'a> {
    pub world: &'a World,
    /// The run's namespace; `None` renders the ids as the trace has them.
    pub run: Option<&'a str>,
}

impl<'a> Subjects<'a> {
    pub fn order(&self, order: OrderNo) -> String {
        ids::order_subject(order, self.run)
    }

    pub fn order_number(&self, order: OrderNo) -> String {
        ids::order_number(order, self.run)
    }

    pub fn line(&self, order: OrderNo, seq: u8) -> String {
        ids::line_subject(order, seq, self.run)
    }

    pub fn new_customer(&self, customer: NewCustomerNo) -> String {
        ids::new_customer_subject(customer, self.run)
    }

    /// The world's customer, or one the trace created.
    pub fn customer(&self, customer: CustomerRef) -> String {
        self.customer_text(customer).render(self.run)
    }

    /// [`Self::customer`], not yet rendered (a request body writes it in place).
    pub fn customer_text(&self, customer: CustomerRef) -> Text<'a> {
        match customer {
            CustomerRef::Existing(i) => self
                .world
                .customers
                .get(i as usize)
                .map_or(Text::UnknownCustomer(i), |c| Text::Str(&c.id)),
            CustomerRef::New(n) => Text::NewCustomer(n),
        }
    }

    /// The store's id; empty for an index the world does not have (a trace made with another
    /// world), as the requests send it.
    pub fn store(&self, index: u32) -> &'a str {
        self.find_store(index).unwrap_or_default()
    }

    pub fn product(&self, index: u32) -> &'a str {
        self.find_product(index).unwrap_or_default()
    }

    pub fn inventory(&self, index: u32) -> &'a str {
        self.find_inventory(index).unwrap_or_default()
    }

    /// `None`: the index is not in the world.
    pub fn find_store(&self, index: u32) -> Option<&'a str> {
        self.world.stores.get(index as usize).map(|s| s.id.as_str())
    }

    pub fn find_product(&self, index: u32) -> Option<&'a str> {
        self.world
            .products
            .get(index as usize)
            .map(|p| p.id.as_str())
    }

    pub fn find_inventory(&self, index: u32) -> Option<&'a str> {
        self.world
            .inventory
            .get(index as usize)
            .map(|i| i.id.as_str())
    }

    /// The store an inventory item is stocked in.
    pub fn inventory_store(&self, index: u32) -> Option<&'a str> {
        let item = self.world.inventory.get(index as usize)?;
        self.find_store(item.store)
    }

    /// The product an inventory item holds.
    pub fn inventory_product(&self, index: u32) -> Option<&'a str> {
        let item = self.world.inventory.get(index as usize)?;
        self.find_product(item.product)
    }

    /// The subject an event's entity is, for the console and reports (an item the world does
    /// not have shows as `inventory #i`).
    pub fn entity(&self, entity: Entity) -> String {
        match entity {
            Entity::Order(n) => self.order(n),
            Entity::NewCustomer(n) => self.new_customer(n),
            Entity::Inventory(i) => self
                .find_inventory(i)
                .map_or_else(|| format!("inventory #{i}"), str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::builtin_world_ref;

    #[test]
    fn world_indices_render_as_the_worlds_ids() {
        let s = Subjects {
            world: builtin_world_ref(),
            run: Some("r1"),
        };
        assert_eq!(s.customer(CustomerRef::Existing(41)), "customer:00042");
        assert_eq!(
            s.customer(CustomerRef::Existing(100_000)),
            "customer:?100000"
        );
        assert_eq!(s.customer(CustomerRef::New(3)), "customer:LG-r1-000003");
        assert_eq!(s.store(2), "store:MAN-01");
        assert_eq!(s.product(0), "product:prod0001");
        assert_eq!(s.inventory(760), "inventory:INV-000761");
        // Item 761 is the first product of the second store (store-major).
        assert_eq!(s.inventory_store(760), Some("store:BK-02"));
        assert_eq!(s.inventory_product(760), Some("product:prod0001"));
        assert_eq!((s.store(10), s.find_store(10)), ("", None));
        assert_eq!((s.product(760), s.find_product(760)), ("", None));
        assert_eq!((s.inventory(7_600), s.find_inventory(7_600)), ("", None));
        assert_eq!(s.inventory_store(7_600), None);
    }

    #[test]
    fn entities_render_in_the_runs_namespace() {
        let s = Subjects {
            world: builtin_world_ref(),
            run: Some("r1"),
        };
        assert_eq!(s.entity(Entity::Order(7)), "order:LG-r1-000007");
        assert_eq!(s.entity(Entity::NewCustomer(7)), "customer:LG-r1-000007");
        assert_eq!(s.entity(Entity::Inventory(0)), "inventory:INV-000001");
        assert_eq!(s.entity(Entity::Inventory(9_999)), "inventory #9999");
        assert_eq!(s.order_number(7), "LG-r1-000007");
        assert_eq!(s.line(7, 2), "orderline:LG-r1-000007-02");
    }
}
