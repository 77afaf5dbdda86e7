//! The events a simulation produces and a trace stores: compact, semantic records that point
//! into the world by index. Requests are built from them only at replay time (`api`).

use serde::{Deserialize, Serialize};

use crate::sim::time::SimTime;
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OrderStatus {
    Created,
    Picking,
    OutForDelivery,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Created,
        OrderStatus::Picking,
        OrderStatus::OutForDelivery,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    /// The value FreshMart stores in `order_status`.
    pub fn as_api(self) -> &'static str {
        match self {
            OrderStatus::Created => "CREATED",
            OrderStatus::Picking => "PICKING",
            OrderStatus::OutForDelivery => "OUT_FOR_DELIVERY",
            OrderStatus::Delivered => "DELIVERED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    /// The next stage of the happy path, if any.
    pub fn next(self) -> Option<OrderStatus> {
        match self {
            OrderStatus::Created => Some(OrderStatus::Picking),
            OrderStatus::Picking => Some(OrderStatus::OutForDelivery),
            OrderStatus::OutForDelivery => Some(OrderStatus::Delivered),
            OrderStatus::Delivered | OrderStatus::Cancelled => None,
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_api())
    }
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

    /// HTTP requests the action becomes (see `api`): a modification is a write of the line
    /// plus a PUT of the order's total; everything else is one request.
    pub fn request_count(&self) -> u32 {
        match self {
            Action::AddLine { .. } | Action::RemoveLine { .. } => 2,
            _ => 1,
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

/// Subject ids of the entities a trace creates, before any per-run namespace.
pub mod ids {
    use super::{CustomerRef, NewCustomerNo, OrderNo};
    use crate::world::World;

    /// `LG-000042`: the order number, also the id part of the order's subject.
    pub fn order_number(order: OrderNo, run: Option<&str>) -> String {
        match run {
            Some(run) => format!("LG-{run}-{order:06}"),
            None => format!("LG-{order:06}"),
        }
    }

    pub fn order_subject(order: OrderNo, run: Option<&str>) -> String {
        format!("order:{}", order_number(order, run))
    }

    pub fn line_subject(order: OrderNo, seq: u8, run: Option<&str>) -> String {
        format!("orderline:{}-{seq:02}", order_number(order, run))
    }

    pub fn new_customer_subject(customer: NewCustomerNo, run: Option<&str>) -> String {
        match run {
            Some(run) => format!("customer:LG-{run}-{customer:06}"),
            None => format!("customer:LG-{customer:06}"),
        }
    }

    pub fn customer_subject(world: &World, customer: CustomerRef, run: Option<&str>) -> String {
        match customer {
            CustomerRef::Existing(i) => world
                .customers
                .get(i as usize)
                .map(|c| c.id.clone())
                .unwrap_or_else(|| format!("customer:?{i}")),
            CustomerRef::New(n) => new_customer_subject(n, run),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_runs_created_to_delivered() {
        let mut path = vec![OrderStatus::Created];
        while let Some(next) = path.last().unwrap().next() {
            path.push(next);
        }
        assert_eq!(
            path,
            vec![
                OrderStatus::Created,
                OrderStatus::Picking,
                OrderStatus::OutForDelivery,
                OrderStatus::Delivered
            ]
        );
        assert_eq!(OrderStatus::Cancelled.next(), None);
    }

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

    #[test]
    fn ids_never_collide_with_stock_ids() {
        assert_eq!(ids::order_subject(42, None), "order:LG-000042");
        assert_eq!(ids::order_subject(42, Some("r1")), "order:LG-r1-000042");
        assert_eq!(ids::line_subject(42, 3, None), "orderline:LG-000042-03");
        assert_eq!(ids::new_customer_subject(7, None), "customer:LG-000007");
        // Stock installs use order:FM-…, customer:00001 …
        assert!(!ids::new_customer_subject(1, None).starts_with("customer:0"));
    }
}
