//! The events a simulation produces and a trace stores: compact, semantic records that point
//! into the world by index. Their subject ids, and the requests they become (with
//! `Action::request_count`), are the FreshMart contract's (`contract`), built only when needed.

use serde::{Deserialize, Serialize};

pub use crate::contract::statuses::OrderStatus;
use crate::time::SimTime;
use crate::world::names::Persona;

/// Number of an order the simulation created, from 1; rendered as `order:LG-000001`.
pub type OrderNo = u32;
/// Number of a customer the simulation created, from 1; rendered as `customer:LG-000001`.
pub type NewCustomerNo = u32;

/// Who places an order: a customer of the world, or one the trace created earlier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CustomerRef {
    /// Index into `World::customers`.
    Existing(u32),
    New(NewCustomerNo),
}

/// One line of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// `line_sequence`, from 1; never reused within an order, so line subjects stay unique.
    pub seq: u8,
    /// Index into `World::products`.
    pub product: u32,
    pub quantity: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub order: OrderNo,
    pub customer: CustomerRef,
    /// Index into `World::stores`.
    pub store: u32,
    /// Minutes from placement to the start of the delivery window.
    pub window_start_min: u16,
    /// Length of the delivery window in minutes.
    pub window_len_min: u16,
    pub lines: Vec<Line>,
    /// Sum of the lines at catalogue prices, in cents.
    pub total_cents: u64,
}

/// What happened. The six activities of the spec map onto these (see `Activity`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    NewCustomer {
        customer: NewCustomerNo,
        /// Index into `World::stores`.
        home_store: u32,
        persona: Persona,
    },
    NewOrder(NewOrder),
    /// A lifecycle step or a cancellation.
    Transition {
        order: OrderNo,
        from: OrderStatus,
        to: OrderStatus,
    },
    /// A modification: a line added to a CREATED order, with the order's new total.
    AddLine {
        order: OrderNo,
        line: Line,
        total_cents: u64,
    },
    /// A modification: a line removed from a CREATED order, with the order's new total.
    RemoveLine {
        order: OrderNo,
        seq: u8,
        total_cents: u64,
    },
    InventoryUpdate {
        /// Index into `World::inventory`.
        item: u32,
        stock_level: u32,
    },
}

/// The spec's six activities, as counted in summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Activity {
    NewOrder,
    StatusTransition,
    OrderModification,
    CustomerCreation,
    InventoryUpdate,
    Cancellation,
}

impl Activity {
    pub const ALL: [Activity; 6] = [
        Activity::NewOrder,
        Activity::StatusTransition,
        Activity::OrderModification,
        Activity::CustomerCreation,
        Activity::InventoryUpdate,
        Activity::Cancellation,
    ];

    /// Machine name, used in CSV, JSON and reports.
    pub fn key(self) -> &'static str {
        match self {
            Activity::NewOrder => "new_order",
            Activity::StatusTransition => "status_transition",
            Activity::OrderModification => "order_modification",
            Activity::CustomerCreation => "customer_creation",
            Activity::InventoryUpdate => "inventory_update",
            Activity::Cancellation => "cancellation",
        }
    }

    /// Label in the spec's "Activity Breakdown".
    pub fn label(self) -> &'static str {
        match self {
            Activity::NewOrder => "Orders created",
            Activity::StatusTransition => "Status transitions",
            Activity::OrderModification => "Order modifications",
            Activity::CustomerCreation => "Customers created",
            Activity::InventoryUpdate => "Inventory updates",
            Activity::Cancellation => "Cancellations",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The entity an event acts on; events of one entity must reach the API in trace order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    Order(OrderNo),
    NewCustomer(NewCustomerNo),
    Inventory(u32),
}

impl Action {
    pub fn activity(&self) -> Activity {
        match self {
            Action::NewCustomer { .. } => Activity::CustomerCreation,
            Action::NewOrder(_) => Activity::NewOrder,
            Action::Transition {
                to: OrderStatus::Cancelled,
                ..
            } => Activity::Cancellation,
            Action::Transition { .. } => Activity::StatusTransition,
            Action::AddLine { .. } | Action::RemoveLine { .. } => Activity::OrderModification,
            Action::InventoryUpdate { .. } => Activity::InventoryUpdate,
        }
    }

    pub fn entity(&self) -> Entity {
        match self {
            Action::NewCustomer { customer, .. } => Entity::NewCustomer(*customer),
            Action::NewOrder(o) => Entity::Order(o.order),
            Action::Transition { order, .. }
            | Action::AddLine { order, .. }
            | Action::RemoveLine { order, .. } => Entity::Order(*order),
            Action::InventoryUpdate { item, .. } => Entity::Inventory(*item),
        }
    }
}

/// An action at a point of virtual time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: SimTime,
    pub action: Action,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_is_its_own_activity() {
        let cancel = Action::Transition {
            order: 1,
            from: OrderStatus::Picking,
            to: OrderStatus::Cancelled,
        };
        assert_eq!(cancel.activity(), Activity::Cancellation);
        let step = Action::Transition {
            order: 1,
            from: OrderStatus::Picking,
            to: OrderStatus::OutForDelivery,
        };
        assert_eq!(step.activity(), Activity::StatusTransition);
        assert_eq!(step.entity(), Entity::Order(1));
    }
}
