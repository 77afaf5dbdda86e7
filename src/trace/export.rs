//! One flat row per event, for CSV and JSON Lines export (pandas, DuckDB, spreadsheets).
//!
//! Columns:
//! * `seq`: position in the trace, from 1; `offset_ms`: ms since the trace start;
//!   `timestamp`: RFC 3339 with the start's UTC offset.
//! * `activity`: new_order, status_transition, order_modification, customer_creation,
//!   inventory_update, cancellation.
//! * `subject`: the entity's subject id as replayed without a run namespace
//!   (`order:LG-000001`, `orderline:LG-000001-03`, `customer:LG-000001`, `inventory:INV-…`).
//! * `status_from`, `status_to`: for transitions (and CREATED for a new order).
//! * `customer`, `store`: the order's customer and store; a new customer's home store.
//! * `product`, `quantity`: the line added by a modification; for a new order `quantity` is
//!   the number of units over all lines.
//! * `stock_level`: the level an inventory update sets.
//! * `amount`: for orders and modifications, the order total after the event, in dollars.
//! * `lines`: a new order's line count.
//! * `detail`: a new customer's name, email and address; the removed line of a modification.

use serde::Serialize;

use crate::contract::money::dollars;
use crate::contract::{OrderStatus, Subjects};
use crate::event::{Action, Event};
use crate::time::Calendar;
use crate::world::World;

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct ExportRow {
    pub seq: u64,
    pub offset_ms: u64,
    pub timestamp: String,
    pub activity: &'static str,
    pub subject: String,
    pub status_from: Option<&'static str>,
    pub status_to: Option<&'static str>,
    pub customer: Option<String>,
    pub store: Option<String>,
    pub product: Option<String>,
    pub quantity: Option<u32>,
    pub stock_level: Option<u32>,
    pub amount: Option<String>,
    pub lines: Option<u32>,
    pub detail: Option<String>,
}

pub fn export_row(world: &World, calendar: &Calendar, seq: u64, event: &Event) -> ExportRow {
    let mut row = ExportRow {
        seq,
        offset_ms: event.at.as_ms(),
        timestamp: calendar
            .instant_at(event.at)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        activity: event.action.activity().key(),
        ..ExportRow::default()
    };
    // As the trace has them: the run namespace is the replay's.
    let subjects = Subjects { world, run: None };
    let store_id = |i: u32| subjects.find_store(i).map(str::to_string);
    let product_id = |i: u32| subjects.find_product(i).map(str::to_string);
    match &event.action {
        Action::NewCustomer {
            customer,
            home_store,
            persona,
        } => {
            row.subject = subjects.new_customer(*customer);
            row.store = store_id(*home_store);
            row.detail = Some(format!(
                "{} <{}>, {}",
                persona.full_name(),
                persona.email(*customer),
                persona.address()
            ));
        }
        Action::NewOrder(order) => {
            row.subject = subjects.order(order.order);
            row.status_to = Some(OrderStatus::Created.as_api());
            row.customer = Some(subjects.customer(order.customer));
            row.store = store_id(order.store);
            row.quantity = Some(order.lines.iter().map(|l| u32::from(l.quantity)).sum());
            row.amount = Some(dollars(order.total_cents));
            row.lines = Some(order.lines.len() as u32);
        }
        Action::Transition { order, from, to } => {
            row.subject = subjects.order(*order);
            row.status_from = Some(from.as_api());
            row.status_to = Some(to.as_api());
        }
        Action::AddLine {
            order,
            line,
            total_cents,
        } => {
            row.subject = subjects.line(*order, line.seq);
            row.product = product_id(line.product);
            row.quantity = Some(u32::from(line.quantity));
            row.amount = Some(dollars(*total_cents));
            row.detail = Some(format!(
                "add line {} to {}",
                line.seq,
                subjects.order(*order)
            ));
        }
        Action::RemoveLine {
            order,
            seq,
            total_cents,
        } => {
            row.subject = subjects.line(*order, *seq);
            row.amount = Some(dollars(*total_cents));
            row.detail = Some(format!("remove line {seq} from {}", subjects.order(*order)));
        }
        Action::InventoryUpdate { item, stock_level } => {
            row.subject = subjects.inventory(*item).to_string();
            row.store = subjects.inventory_store(*item).map(str::to_string);
            row.product = subjects.inventory_product(*item).map(str::to_string);
            row.stock_level = Some(*stock_level);
        }
    }
    row
}
