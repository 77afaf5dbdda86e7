//! Folding a trace's events into the final state they imply.

use std::collections::BTreeMap;

use crate::event::{ids, Action, Event, OrderStatus};
use crate::world::World;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedLine {
    pub product_id: String,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedOrder {
    pub status: OrderStatus,
    pub total_cents: u64,
    pub customer_id: String,
    pub store_id: String,
    /// By line subject id.
    pub lines: BTreeMap<String, ExpectedLine>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedCustomer {
    pub name: String,
    pub email: String,
    pub address: String,
}

/// Everything keyed by subject id, in sorted order (so reports are deterministic).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedState {
    pub orders: BTreeMap<String, ExpectedOrder>,
    pub customers: BTreeMap<String, ExpectedCustomer>,
    pub stock_levels: BTreeMap<String, u32>,
}

impl ExpectedState {
    /// Applies one event, with ids in `run`'s namespace.
    pub fn apply(&mut self, world: &World, run: Option<&str>, event: &Event) {
        let product_id = |i: u32| {
            world
                .products
                .get(i as usize)
                .map(|p| p.id.clone())
                .unwrap_or_default()
        };
        match &event.action {
            Action::NewCustomer {
                customer, persona, ..
            } => {
                self.customers.insert(
                    ids::new_customer_subject(*customer, run),
                    ExpectedCustomer {
                        name: persona.full_name(),
                        email: persona.email(*customer),
                        address: persona.address(),
                    },
                );
            }
            Action::NewOrder(order) => {
                let lines = order
                    .lines
                    .iter()
                    .map(|l| {
                        (
                            ids::line_subject(order.order, l.seq, run),
                            ExpectedLine {
                                product_id: product_id(l.product),
                                quantity: u32::from(l.quantity),
                            },
                        )
                    })
                    .collect();
                self.orders.insert(
                    ids::order_subject(order.order, run),
                    ExpectedOrder {
                        status: OrderStatus::Created,
                        total_cents: order.total_cents,
                        customer_id: ids::customer_subject(world, order.customer, run),
                        store_id: world
                            .stores
                            .get(order.store as usize)
                            .map(|s| s.id.clone())
                            .unwrap_or_default(),
                        lines,
                    },
                );
            }
            Action::Transition { order, to, .. } => {
                if let Some(o) = self.orders.get_mut(&ids::order_subject(*order, run)) {
                    o.status = *to;
                }
            }
            Action::AddLine {
                order,
                line,
                total_cents,
            } => {
                if let Some(o) = self.orders.get_mut(&ids::order_subject(*order, run)) {
                    o.lines.insert(
                        ids::line_subject(*order, line.seq, run),
                        ExpectedLine {
                            product_id: product_id(line.product),
                            quantity: u32::from(line.quantity),
                        },
                    );
                    o.total_cents = *total_cents;
                }
            }
            Action::RemoveLine {
                order,
                seq,
                total_cents,
            } => {
                if let Some(o) = self.orders.get_mut(&ids::order_subject(*order, run)) {
                    o.lines.remove(&ids::line_subject(*order, *seq, run));
                    o.total_cents = *total_cents;
                }
            }
            Action::InventoryUpdate { item, stock_level } => {
                if let Some(i) = world.inventory.get(*item as usize) {
                    self.stock_levels.insert(i.id.clone(), *stock_level);
                }
            }
        }
    }
}
