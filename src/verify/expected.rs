//! Folding a trace's events into the final state they imply, kept compact (numbers and world
//! indices, never rendered ids) so that a multi-day trace fits in memory: about 100 bytes per
//! order (BENCHMARKS.md). Ids are rendered by `contract::Subjects` when the API is read and
//! compared.

use std::collections::BTreeMap;
use std::io::Read;

use crate::contract::Subjects;
use crate::event::{Action, CustomerRef, Event, NewCustomerNo, OrderNo, OrderStatus};
use crate::replay::window::{TraceWindow, WindowError};
use crate::selection::SelectionSpec;
use crate::time::Calendar;
use crate::trace::format::TraceError;
use crate::trace::TraceReader;
use crate::world::names::Persona;
use crate::world::World;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectedLine {
    pub seq: u8,
    /// Index into `World::products`.
    pub product: u32,
    pub quantity: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedOrder {
    pub status: OrderStatus,
    pub total_cents: u64,
    pub customer: CustomerRef,
    /// Index into `World::stores`.
    pub store: u32,
    /// Sorted by `seq`.
    pub lines: Vec<ExpectedLine>,
}

/// Everything keyed by number or index, in sorted order (so reports are deterministic).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedState {
    pub orders: BTreeMap<OrderNo, ExpectedOrder>,
    pub customers: BTreeMap<NewCustomerNo, Persona>,
    /// By index into `World::inventory`.
    pub stock_levels: BTreeMap<u32, u32>,
}

impl ExpectedState {
    /// Applies one event.
    pub fn apply(&mut self, world: &World, event: &Event) {
        match &event.action {
            Action::NewCustomer {
                customer, persona, ..
            } => {
                self.customers.insert(*customer, *persona);
            }
            Action::NewOrder(order) => {
                let mut lines: Vec<ExpectedLine> = order
                    .lines
                    .iter()
                    .map(|l| ExpectedLine {
                        seq: l.seq,
                        product: l.product,
                        quantity: l.quantity,
                    })
                    .collect();
                lines.sort_by_key(|l| l.seq);
                lines.shrink_to_fit();
                self.orders.insert(
                    order.order,
                    ExpectedOrder {
                        status: OrderStatus::Created,
                        total_cents: order.total_cents,
                        customer: order.customer,
                        store: order.store,
                        lines,
                    },
                );
            }
            Action::Transition { order, to, .. } => {
                if let Some(o) = self.orders.get_mut(order) {
                    o.status = *to;
                }
            }
            Action::AddLine {
                order,
                line,
                total_cents,
            } => {
                if let Some(o) = self.orders.get_mut(order) {
                    o.lines.retain(|l| l.seq != line.seq);
                    let at = o.lines.partition_point(|l| l.seq < line.seq);
                    o.lines.insert(
                        at,
                        ExpectedLine {
                            seq: line.seq,
                            product: line.product,
                            quantity: line.quantity,
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
                if let Some(o) = self.orders.get_mut(order) {
                    o.lines.retain(|l| l.seq != *seq);
                    o.total_cents = *total_cents;
                }
            }
            Action::InventoryUpdate { item, stock_level } => {
                if (*item as usize) < world.inventory.len() {
                    self.stock_levels.insert(*item, *stock_level);
                }
            }
        }
    }
}

/// The state a trace's selected events imply, and what the reading saw of the trace.
#[derive(Debug, Default)]
pub struct Folded {
    pub expected: ExpectedState,
    /// How many events the selection chose.
    pub selected: u64,
    /// The time (ms) of the trace's first and last event, if it has any.
    pub span: Option<(u64, u64)>,
}

impl Folded {
    /// The state, or the window's error when it chose no event (nothing to verify).
    pub fn into_expected(
        self,
        window: &TraceWindow,
        calendar: &Calendar,
    ) -> Result<ExpectedState, WindowError> {
        if self.selected == 0 {
            Err(window.no_events(calendar, self.span))
        } else {
            Ok(self.expected)
        }
    }
}

/// Reads the rest of `trace` through `spec`, folding the selected events into the state they
/// imply; `progress` is called with the number of events read every `every` events.
pub fn read_expected<R: Read>(
    spec: &SelectionSpec,
    trace: &mut TraceReader<R>,
    world: &World,
    every: u64,
    mut progress: impl FnMut(u64),
) -> Result<Folded, TraceError> {
    let mut folded = Folded::default();
    spec.start().read(trace, |verdict, event| {
        let at = event.at.as_ms();
        folded.span = Some((folded.span.map_or(at, |(first, _)| first), at));
        if verdict.selected() {
            folded.selected += 1;
            folded.expected.apply(world, &event);
        }
        if (verdict.seq + 1).is_multiple_of(every) {
            progress(verdict.seq + 1);
        }
    })?;
    Ok(folded)
}

impl ExpectedState {
    /// The orders to read, by number with their subject id, in number order.
    pub fn order_ids<'a>(
        &'a self,
        subjects: &'a Subjects<'a>,
    ) -> impl Iterator<Item = (OrderNo, String)> + 'a {
        self.orders
            .keys()
            .map(|&number| (number, subjects.order(number)))
    }

    /// The new customers' subject ids, sorted (as `api::reads::observe_rest` takes them).
    pub fn customer_ids(&self, subjects: &Subjects) -> Vec<String> {
        let mut ids: Vec<String> = self
            .customers
            .keys()
            .map(|&n| subjects.new_customer(n))
            .collect();
        ids.sort();
        ids
    }

    /// The touched inventory items' subject ids, in index order.
    pub fn inventory_ids<'a>(&self, subjects: &Subjects<'a>) -> Vec<&'a str> {
        self.stock_levels
            .keys()
            .map(|&i| subjects.inventory(i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trace of a world customer's order (09:01, moved on at 09:05), a new customer
    /// (09:10) and a stock level (09:20), encoded.
    fn trace_bytes() -> (crate::trace::TraceHeader, Vec<u8>) {
        use crate::event::{Line, NewOrder};
        let header = crate::trace::TraceHeader {
            generator: "test".into(),
            seed: 1,
            profile: crate::profile::LoadProfile::named("demo").unwrap(),
            world: crate::world::builtin_world(),
            start: "2026-01-05T09:00:00Z".into(),
            duration_ms: 1_800_000,
        };
        let at = |minute: u64, action| Event {
            at: crate::time::SimTime(minute * 60_000),
            action,
        };
        let persona = Persona {
            first: 1,
            last: 2,
            street: 3,
            house_number: 4,
        };
        let events = [
            at(
                1,
                Action::NewOrder(NewOrder {
                    order: 5,
                    customer: CustomerRef::Existing(2),
                    store: 1,
                    window_start_min: 60,
                    window_len_min: 60,
                    lines: vec![Line {
                        seq: 1,
                        product: 9,
                        quantity: 2,
                    }],
                    total_cents: 1_000,
                }),
            ),
            at(
                5,
                Action::Transition {
                    order: 5,
                    from: OrderStatus::Created,
                    to: OrderStatus::Picking,
                },
            ),
            at(
                10,
                Action::NewCustomer {
                    customer: 4,
                    home_store: 0,
                    persona,
                },
            ),
            at(
                20,
                Action::InventoryUpdate {
                    item: 6,
                    stock_level: 11,
                },
            ),
        ];
        let mut bytes = Vec::new();
        let mut writer = crate::trace::TraceWriter::new(&mut bytes, &header).unwrap();
        for event in &events {
            writer.write(event).unwrap();
        }
        writer.finish().unwrap();
        (header, bytes)
    }

    fn window(header: &crate::trace::TraceHeader, from: u32, to: u32) -> (Calendar, SelectionSpec) {
        let calendar = Calendar::new(header.start_instant().unwrap());
        let time = |minute| chrono::NaiveTime::from_hms_opt(9, minute, 0);
        let window =
            TraceWindow::resolve(&calendar, time(from), time(to), header.duration_ms).unwrap();
        let spec = SelectionSpec {
            window,
            shard: None,
            done: None,
        };
        (calendar, spec)
    }

    #[test]
    fn the_selected_events_fold_into_the_state_they_imply() {
        let (header, bytes) = trace_bytes();
        let (calendar, spec) = window(&header, 0, 30);
        let mut reader = TraceReader::new(bytes.as_slice()).unwrap();
        let mut ticks = Vec::new();
        let folded =
            read_expected(&spec, &mut reader, &header.world, 2, |n| ticks.push(n)).unwrap();
        assert_eq!(ticks, [2, 4], "every second event");
        assert_eq!(
            (folded.selected, folded.span),
            (4, Some((60_000, 1_200_000)))
        );
        let state = folded.into_expected(&spec.window, &calendar).unwrap();
        assert_eq!(state.orders.len(), 1);
        let order = &state.orders[&5];
        assert_eq!(
            (order.status, order.total_cents, order.store, order.customer),
            (OrderStatus::Picking, 1_000, 1, CustomerRef::Existing(2))
        );
        assert_eq!(
            order.lines,
            [ExpectedLine {
                seq: 1,
                product: 9,
                quantity: 2
            }]
        );
        assert_eq!(state.customers.keys().collect::<Vec<_>>(), [&4]);
        assert_eq!(state.stock_levels, BTreeMap::from([(6, 11)]));
        let subjects = Subjects {
            world: &header.world,
            run: Some("r1"),
        };
        assert_eq!(
            state.order_ids(&subjects).collect::<Vec<_>>(),
            [(5, "order:LG-r1-000005".to_string())]
        );
        assert_eq!(state.customer_ids(&subjects), ["customer:LG-r1-000004"]);
        assert_eq!(state.inventory_ids(&subjects), [subjects.inventory(6)]);
    }

    #[test]
    fn a_window_that_holds_no_event_is_an_error_naming_the_events_times() {
        let (header, bytes) = trace_bytes();
        // 09:11–09:19 holds nothing: the order and the customer are earlier, the level later.
        let (calendar, spec) = window(&header, 11, 19);
        let mut reader = TraceReader::new(bytes.as_slice()).unwrap();
        let folded = read_expected(&spec, &mut reader, &header.world, 1 << 14, |_| {}).unwrap();
        assert_eq!(
            (folded.selected, folded.span),
            (0, Some((60_000, 1_200_000)))
        );
        let err = folded.into_expected(&spec.window, &calendar).unwrap_err();
        match &err {
            WindowError::NoEvents { events, .. } => assert_eq!(
                events,
                "the trace's events run from Mon 09:01:00 to Mon 09:20:00"
            ),
            other => panic!("{other}"),
        }
    }

    /// The compact state stays far under the 300 bytes per order the issue aims at: the
    /// inline size of an order plus its lines (the map adds about 1/11 of a node per entry).
    #[test]
    fn an_order_is_compact() {
        let inline = std::mem::size_of::<OrderNo>() + std::mem::size_of::<ExpectedOrder>();
        let lines = 6 * std::mem::size_of::<ExpectedLine>();
        assert!(inline + lines < 120, "{inline} + {lines} bytes");
    }
}
