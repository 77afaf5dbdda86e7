//! Event → HTTP requests, exactly as API.md describes each activity's writes. Pure: the same
//! event and context always give the same bytes.
//!
//! Two steps, so that what is counted and what is sent cannot disagree: [`steps`] says which
//! writes an action becomes (it needs nothing but the action, so `Action::request_count` is
//! its length), and [`RequestContext`] renders each step against a world, a run's namespace
//! and a calendar.

use super::ids;
use super::statuses::OrderStatus;
use super::subjects::Subjects;
use super::triples::{JsonBatch, ObjectType, Predicate, Text, Triple, TripleList, TripleSink};
use crate::event::{Action, Event, Line, NewCustomerNo, NewOrder, OrderNo};
use crate::time::{Calendar, SimTime, MS_PER_MINUTE};
use crate::world::names::Persona;
use crate::world::World;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: Method,
    /// Path and query, e.g. `/triples/batch?validate=true`.
    pub path: String,
    /// JSON body, if any.
    pub body: Option<String>,
}

/// The predicate of an inventory item's level: the one value a run writes on entities it did
/// not create (`cleanup --restore-stock` puts it back).
pub const STOCK_LEVEL: &str = "stock_level";

/// The predicates the writes carry (API.md's ontology).
const STOCK_LEVEL_PREDICATE: Predicate = Predicate::new(STOCK_LEVEL);
const CUSTOMER_ADDRESS: Predicate = Predicate::new("customer_address");
const CUSTOMER_EMAIL: Predicate = Predicate::new("customer_email");
const CUSTOMER_NAME: Predicate = Predicate::new("customer_name");
const DELIVERY_WINDOW_END: Predicate = Predicate::new("delivery_window_end");
const DELIVERY_WINDOW_START: Predicate = Predicate::new("delivery_window_start");
const HOME_STORE: Predicate = Predicate::new("home_store");
const LINE_AMOUNT: Predicate = Predicate::new("line_amount");
const LINE_OF_ORDER: Predicate = Predicate::new("line_of_order");
const LINE_PRODUCT: Predicate = Predicate::new("line_product");
const LINE_SEQUENCE: Predicate = Predicate::new("line_sequence");
const ORDER_LINE_UNIT_PRICE: Predicate = Predicate::new("order_line_unit_price");
const ORDER_NUMBER: Predicate = Predicate::new("order_number");
const ORDER_STATUS: Predicate = Predicate::new("order_status");
const ORDER_STORE: Predicate = Predicate::new("order_store");
const ORDER_TOTAL_AMOUNT: Predicate = Predicate::new("order_total_amount");
const PERISHABLE_FLAG: Predicate = Predicate::new("perishable_flag");
const PLACED_BY: Predicate = Predicate::new("placed_by");
const QUANTITY: Predicate = Predicate::new("quantity");

const BATCH: &str = "/triples/batch?validate=true";
const SUBJECTS: &str = "/triples/subjects/";

/// One write an action becomes, before it is rendered (ids, bodies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// POST of a new customer's triples.
    CreateCustomer {
        customer: NewCustomerNo,
        home_store: u32,
        persona: &'a Persona,
    },
    /// POST of an order's triples and its lines'.
    CreateOrder(&'a NewOrder),
    /// PUT of an order's `order_status`.
    SetStatus { order: OrderNo, to: OrderStatus },
    /// POST of a line added to an order.
    CreateLine { order: OrderNo, line: &'a Line },
    /// DELETE of a removed line's subject.
    DeleteLine { order: OrderNo, seq: u8 },
    /// PUT of an order's `order_total_amount` after a modification.
    SetTotal { order: OrderNo, total_cents: u64 },
    /// PUT of an inventory item's `stock_level`.
    SetStock { item: u32, stock_level: u32 },
}

impl Step<'_> {
    pub fn method(&self) -> Method {
        match self {
            Step::CreateCustomer { .. } | Step::CreateOrder(_) | Step::CreateLine { .. } => {
                Method::Post
            }
            Step::SetStatus { .. } | Step::SetTotal { .. } | Step::SetStock { .. } => Method::Put,
            Step::DeleteLine { .. } => Method::Delete,
        }
    }
}

/// The writes of one action, in the order they must be sent: one, or for a modification the
/// write of the line and then the PUT of the order's new total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Steps<'a> {
    first: Step<'a>,
    then: Option<Step<'a>>,
}

impl<'a> Steps<'a> {
    pub fn len(&self) -> usize {
        1 + usize::from(self.then.is_some())
    }

    /// Never: every action writes something.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn iter(&self) -> impl Iterator<Item = Step<'a>> {
        std::iter::once(self.first).chain(self.then)
    }
}

/// Which writes `action` becomes: the one mapping from events to requests.
pub fn steps(action: &Action) -> Steps<'_> {
    let one = |first| Steps { first, then: None };
    match action {
        Action::NewCustomer {
            customer,
            home_store,
            persona,
        } => one(Step::CreateCustomer {
            customer: *customer,
            home_store: *home_store,
            persona,
        }),
        Action::NewOrder(order) => one(Step::CreateOrder(order)),
        Action::Transition { order, to, .. } => one(Step::SetStatus {
            order: *order,
            to: *to,
        }),
        Action::AddLine {
            order,
            line,
            total_cents,
        } => Steps {
            first: Step::CreateLine {
                order: *order,
                line,
            },
            then: Some(Step::SetTotal {
                order: *order,
                total_cents: *total_cents,
            }),
        },
        Action::RemoveLine {
            order,
            seq,
            total_cents,
        } => Steps {
            first: Step::DeleteLine {
                order: *order,
                seq: *seq,
            },
            then: Some(Step::SetTotal {
                order: *order,
                total_cents: *total_cents,
            }),
        },
        Action::InventoryUpdate { item, stock_level } => one(Step::SetStock {
            item: *item,
            stock_level: *stock_level,
        }),
    }
}

impl Action {
    /// HTTP requests the action becomes: the length of its [`steps`], so it is what
    /// `RequestContext::requests_for` returns.
    pub fn request_count(&self) -> u32 {
        steps(self).len() as u32
    }
}

/// What turning events into requests needs besides the event.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub world: std::sync::Arc<World>,
    /// Namespace of the ids this run creates (`order:LG-<run>-000001`); None = as in the trace.
    pub run_id: Option<String>,
    pub calendar: Calendar,
    /// Added to every timestamp: maps the trace start to the replay start (zero keeps them).
    pub shift: chrono::Duration,
}

/// Counts the triples events write (`RequestContext::triple_count`) without building every
/// event's bodies: the count depends only on the kind of event and, for an order, its number
/// of lines, so each shape is built once (`inspect` of a stress day built 1.4 M events' bodies).
pub struct TripleCounter<'a> {
    contract: &'a RequestContext,
    known: std::collections::HashMap<(std::mem::Discriminant<Action>, usize), u64>,
}

impl TripleCounter<'_> {
    pub fn count(&mut self, event: &Event) -> u64 {
        let lines = match &event.action {
            Action::NewOrder(order) => order.lines.len(),
            _ => 0,
        };
        let shape = (std::mem::discriminant(&event.action), lines);
        *self
            .known
            .entry(shape)
            .or_insert_with(|| self.contract.triple_count(event))
    }
}

impl RequestContext {
    /// The ids of this run: the world's, and the run's namespace.
    pub fn subjects(&self) -> Subjects<'_> {
        Subjects {
            world: &self.world,
            run: self.run_id.as_deref(),
        }
    }

    /// Timestamps go out as the API's examples show them: local time of the trace's UTC
    /// offset, to the second, without an offset suffix ([`Text::Timestamp`]).
    fn timestamp(&self, at: SimTime) -> Text<'static> {
        Text::Timestamp(self.calendar.instant_at(at) + self.shift)
    }

    /// The requests of one event, in the order they must be sent: each body written straight
    /// into one `String` sized up front (the same bytes as
    /// `writes_for(event)` → [`Write::into_request`], without a `String` per field).
    pub fn requests_for(&self, event: &Event) -> Vec<ApiRequest> {
        let steps = steps(&event.action);
        let mut requests = Vec::with_capacity(steps.len());
        requests.extend(steps.iter().map(|step| self.request(event.at, step)));
        requests
    }

    /// The writes of one event, in the order they must be sent, before they are encoded.
    pub fn writes_for(&self, event: &Event) -> Vec<Write> {
        steps(&event.action)
            .iter()
            .map(|step| self.write(event.at, step))
            .collect()
    }

    /// One step of an event at `at`, as the request that sends it.
    fn request(&self, at: SimTime, step: Step<'_>) -> ApiRequest {
        let run = self.run_id.as_deref();
        if let Step::DeleteLine { order, seq } = step {
            let mut path = String::with_capacity(SUBJECTS.len() + 40);
            path.push_str(SUBJECTS);
            ids::push_line_subject(&mut path, order, seq, run);
            return ApiRequest {
                method: Method::Delete,
                path,
                body: None,
            };
        }
        let mut batch = JsonBatch::new(run, step.triples());
        self.triples(at, step, &mut batch);
        ApiRequest {
            method: step.method(),
            path: BATCH.into(),
            body: Some(batch.finish()),
        }
    }

    /// One step of an event at `at`, rendered.
    fn write(&self, at: SimTime, step: Step<'_>) -> Write {
        if let Step::DeleteLine { order, seq } = step {
            return Write::Delete {
                subject: self.subjects().line(order, seq),
            };
        }
        let mut list = TripleList::new(self.run_id.as_deref(), step.triples());
        self.triples(at, step, &mut list);
        match step.method() {
            Method::Post => Write::Post(list.triples),
            // A DELETE returned above.
            Method::Put | Method::Delete => Write::Put(list.triples),
        }
    }

    /// The triples of one step (none for a DELETE): the one place that says what each write
    /// carries, whichever form it takes.
    fn triples<S: TripleSink>(&self, at: SimTime, step: Step<'_>, sink: &mut S) {
        let subjects = self.subjects();
        match step {
            Step::CreateCustomer {
                customer,
                home_store,
                persona,
            } => {
                sink.subject(Text::NewCustomer(customer))
                    .add(
                        CUSTOMER_NAME,
                        ObjectType::String,
                        Text::Str(&persona.full_name()),
                    )
                    .add(
                        CUSTOMER_EMAIL,
                        ObjectType::String,
                        Text::Str(&persona.email(customer)),
                    )
                    .add(
                        CUSTOMER_ADDRESS,
                        ObjectType::String,
                        Text::Str(&persona.address()),
                    )
                    .add(
                        HOME_STORE,
                        ObjectType::EntityRef,
                        Text::Str(subjects.store(home_store)),
                    );
            }
            Step::CreateOrder(order) => self.order_triples(at, order, sink),
            Step::SetStatus { order, to } => {
                sink.subject(Text::Order(order)).add(
                    ORDER_STATUS,
                    ObjectType::String,
                    Text::Str(to.as_api()),
                );
            }
            Step::CreateLine { order, line } => self.line_triples(order, line, sink),
            Step::DeleteLine { .. } => {}
            Step::SetTotal { order, total_cents } => {
                sink.subject(Text::Order(order)).add(
                    ORDER_TOTAL_AMOUNT,
                    ObjectType::Float,
                    Text::Dollars(total_cents),
                );
            }
            Step::SetStock { item, stock_level } => {
                stock_level_triple(sink, subjects.inventory(item), stock_level)
            }
        }
    }

    /// Triples the event writes: those in the bodies of its requests (a line removal's
    /// DELETE carries none). This is the unit of the original tool's "triples per minute".
    pub fn triple_count(&self, event: &Event) -> u64 {
        self.writes_for(event).iter().map(Write::triples).sum()
    }

    /// A counter of the triples events write that builds each kind of event's writes once.
    pub fn triple_counter(&self) -> TripleCounter<'_> {
        TripleCounter {
            contract: self,
            known: std::collections::HashMap::new(),
        }
    }

    fn order_triples<S: TripleSink>(&self, at: SimTime, order: &NewOrder, sink: &mut S) {
        let subjects = self.subjects();
        let window_start = at.saturating_add_ms(u64::from(order.window_start_min) * MS_PER_MINUTE);
        let window_end =
            window_start.saturating_add_ms(u64::from(order.window_len_min) * MS_PER_MINUTE);
        sink.subject(Text::Order(order.order))
            .add(
                ORDER_NUMBER,
                ObjectType::String,
                Text::OrderNumber(order.order),
            )
            .add(
                ORDER_STATUS,
                ObjectType::String,
                Text::Str(OrderStatus::Created.as_api()),
            )
            .add(
                PLACED_BY,
                ObjectType::EntityRef,
                subjects.customer_text(order.customer),
            )
            .add(
                ORDER_STORE,
                ObjectType::EntityRef,
                Text::Str(subjects.store(order.store)),
            )
            .add(
                DELIVERY_WINDOW_START,
                ObjectType::Timestamp,
                self.timestamp(window_start),
            )
            .add(
                DELIVERY_WINDOW_END,
                ObjectType::Timestamp,
                self.timestamp(window_end),
            )
            .add(
                ORDER_TOTAL_AMOUNT,
                ObjectType::Float,
                Text::Dollars(order.total_cents),
            );
        for line in &order.lines {
            self.line_triples(order.order, line, sink);
        }
    }

    fn line_triples<S: TripleSink>(&self, order: OrderNo, line: &Line, sink: &mut S) {
        let (product_id, price, perishable) = match self.world.products.get(line.product as usize) {
            Some(p) => (p.id.as_str(), p.price_cents, p.perishable),
            None => ("", 0, false),
        };
        sink.subject(Text::Line(order, line.seq))
            .add(LINE_OF_ORDER, ObjectType::EntityRef, Text::Order(order))
            .add(LINE_PRODUCT, ObjectType::EntityRef, Text::Str(product_id))
            .add(
                QUANTITY,
                ObjectType::Int,
                Text::Uint(u64::from(line.quantity)),
            )
            .add(
                ORDER_LINE_UNIT_PRICE,
                ObjectType::Float,
                Text::Dollars(u64::from(price)),
            )
            .add(
                LINE_AMOUNT,
                ObjectType::Float,
                Text::Dollars(u64::from(price) * u64::from(line.quantity)),
            )
            .add(
                LINE_SEQUENCE,
                ObjectType::Int,
                Text::Uint(u64::from(line.seq)),
            )
            .add(PERISHABLE_FLAG, ObjectType::Bool, Text::Bool(perishable));
    }
}

impl Step<'_> {
    /// Triples the step's request carries: sizes its body. [`RequestContext::triples`] is
    /// what they are; a test holds the two together.
    fn triples(&self) -> usize {
        const LINE: usize = 7;
        match self {
            Step::CreateCustomer { .. } => 4,
            Step::CreateOrder(order) => 7 + LINE * order.lines.len(),
            Step::CreateLine { .. } => LINE,
            Step::DeleteLine { .. } => 0,
            Step::SetStatus { .. } | Step::SetTotal { .. } | Step::SetStock { .. } => 1,
        }
    }
}

fn stock_level_triple<S: TripleSink>(sink: &mut S, subject: &str, level: u32) {
    sink.subject(Text::Str(subject)).add(
        STOCK_LEVEL_PREDICATE,
        ObjectType::Int,
        Text::Uint(u64::from(level)),
    );
}

/// The PUT of an inventory item's level: what an inventory update sends and what
/// `cleanup --restore-stock` sends back.
pub fn set_stock_level(subject: &str, level: u32) -> Write {
    let mut list = TripleList::new(None, 1);
    stock_level_triple(&mut list, subject, level);
    Write::Put(list.triples)
}

/// One write of an event: the triples of a batch, or the subject a DELETE removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// `POST /triples/batch`: creates the triples.
    Post(Vec<Triple>),
    /// `PUT /triples/batch`: replaces the values of each (subject, predicate).
    Put(Vec<Triple>),
    /// `DELETE /triples/subjects/{subject}`.
    Delete { subject: String },
}

impl Write {
    /// Triples the write carries (a DELETE none).
    pub fn triples(&self) -> u64 {
        match self {
            Write::Post(t) | Write::Put(t) => t.len() as u64,
            Write::Delete { .. } => 0,
        }
    }

    /// The request that sends the write, its body serialised by serde_json
    /// (`RequestContext::requests_for` writes the same bytes directly).
    pub fn into_request(self) -> ApiRequest {
        match self {
            Write::Post(triples) => ApiRequest {
                method: Method::Post,
                path: BATCH.into(),
                body: body(&triples),
            },
            Write::Put(triples) => ApiRequest {
                method: Method::Put,
                path: BATCH.into(),
                body: body(&triples),
            },
            Write::Delete { subject } => ApiRequest {
                method: Method::Delete,
                path: format!("{SUBJECTS}{subject}"),
                body: None,
            },
        }
    }
}

fn body(triples: &[Triple]) -> Option<String> {
    // Serialising plain strings and enums cannot fail.
    Some(serde_json::to_string(triples).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CustomerRef, NewCustomerNo};
    use crate::world::builtin_world;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn ctx(run: Option<&str>) -> RequestContext {
        RequestContext {
            world: Arc::new(builtin_world()),
            run_id: run.map(String::from),
            calendar: Calendar::new(
                chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z").unwrap(),
            ),
            shift: chrono::Duration::zero(),
        }
    }

    fn triples_of(req: &ApiRequest) -> Vec<serde_json::Value> {
        serde_json::from_str(req.body.as_deref().unwrap()).unwrap()
    }

    fn order_event() -> Event {
        Event {
            at: SimTime(90_000),
            action: Action::NewOrder(NewOrder {
                order: 7,
                customer: CustomerRef::Existing(41),
                store: 2,
                window_start_min: 150,
                window_len_min: 120,
                lines: vec![
                    Line {
                        seq: 1,
                        product: 0,
                        quantity: 3,
                    },
                    Line {
                        seq: 2,
                        product: 1,
                        quantity: 1,
                    },
                ],
                total_cents: 599 * 3 + 579,
            }),
        }
    }

    #[test]
    fn new_order_is_one_post_with_the_spec_triples() {
        let reqs = ctx(Some("r1")).requests_for(&order_event());
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].method, Method::Post);
        assert_eq!(reqs[0].path, "/triples/batch?validate=true");
        let t = triples_of(&reqs[0]);
        assert_eq!(t.len(), 7 + 2 * 7);
        let find = |s: &str, p: &str| {
            t.iter()
                .find(|x| x["subject_id"] == s && x["predicate"] == p)
                .unwrap_or_else(|| panic!("{s} {p}"))
                .clone()
        };
        let order = "order:LG-r1-000007";
        assert_eq!(find(order, "order_number")["object_value"], "LG-r1-000007");
        assert_eq!(find(order, "placed_by")["object_value"], "customer:00042");
        assert_eq!(find(order, "placed_by")["object_type"], "entity_ref");
        assert_eq!(find(order, "order_store")["object_value"], "store:MAN-01");
        assert_eq!(find(order, "order_total_amount")["object_value"], "23.76");
        assert_eq!(
            find(order, "delivery_window_start")["object_value"],
            "2026-01-05T11:31:30"
        );
        assert_eq!(
            find(order, "delivery_window_end")["object_value"],
            "2026-01-05T13:31:30"
        );
        let line = "orderline:LG-r1-000007-01";
        assert_eq!(find(line, "line_of_order")["object_value"], order);
        assert_eq!(
            find(line, "line_product")["object_value"],
            "product:prod0001"
        );
        assert_eq!(find(line, "quantity")["object_value"], "3");
        assert_eq!(find(line, "order_line_unit_price")["object_value"], "5.99");
        assert_eq!(find(line, "line_amount")["object_value"], "17.97");
        assert_eq!(find(line, "perishable_flag")["object_value"], "true");
        assert_eq!(find(line, "perishable_flag")["object_type"], "bool");
        // Never a duplicate triple in a batch.
        let unique: HashSet<String> = t
            .iter()
            .map(|x| {
                format!(
                    "{}|{}|{}",
                    x["subject_id"], x["predicate"], x["object_value"]
                )
            })
            .collect();
        assert_eq!(unique.len(), t.len());
    }

    #[test]
    fn timestamps_shift_to_the_replay_start() {
        let mut c = ctx(None);
        c.shift = chrono::Duration::days(30);
        let t = triples_of(&c.requests_for(&order_event())[0]);
        let start = t
            .iter()
            .find(|x| x["predicate"] == "delivery_window_start")
            .unwrap();
        assert_eq!(start["object_value"], "2026-02-04T11:31:30");
    }

    #[test]
    fn modifications_write_the_line_then_the_total() {
        let c = ctx(None);
        let add = Event {
            at: SimTime(0),
            action: Action::AddLine {
                order: 3,
                line: Line {
                    seq: 4,
                    product: 2,
                    quantity: 2,
                },
                total_cents: 1234,
            },
        };
        let reqs = c.requests_for(&add);
        assert_eq!(
            reqs.iter().map(|r| r.method).collect::<Vec<_>>(),
            [Method::Post, Method::Put]
        );
        assert_eq!(
            triples_of(&reqs[0])[0]["subject_id"],
            "orderline:LG-000003-04"
        );
        let total = triples_of(&reqs[1]);
        assert_eq!(total.len(), 1);
        assert_eq!(total[0]["predicate"], "order_total_amount");
        assert_eq!(total[0]["object_value"], "12.34");

        let remove = Event {
            at: SimTime(0),
            action: Action::RemoveLine {
                order: 3,
                seq: 2,
                total_cents: 99,
            },
        };
        let reqs = c.requests_for(&remove);
        assert_eq!(reqs[0].method, Method::Delete);
        assert_eq!(reqs[0].path, "/triples/subjects/orderline:LG-000003-02");
        assert_eq!(reqs[0].body, None);
        assert_eq!(triples_of(&reqs[1])[0]["object_value"], "0.99");
    }

    #[test]
    fn status_inventory_and_customer_writes() {
        let c = ctx(None);
        let status = c.requests_for(&Event {
            at: SimTime(0),
            action: Action::Transition {
                order: 9,
                from: OrderStatus::Picking,
                to: OrderStatus::Cancelled,
            },
        });
        assert_eq!(status[0].method, Method::Put);
        assert_eq!(triples_of(&status[0])[0]["object_value"], "CANCELLED");

        let inv = c.requests_for(&Event {
            at: SimTime(0),
            action: Action::InventoryUpdate {
                item: 760,
                stock_level: 42,
            },
        });
        let t = triples_of(&inv[0]);
        assert_eq!(t[0]["subject_id"], "inventory:INV-000761");
        assert_eq!(t[0]["object_type"], "int");

        let customer = c.requests_for(&Event {
            at: SimTime(0),
            action: Action::NewCustomer {
                customer: 5,
                home_store: 9,
                persona: crate::world::names::Persona {
                    first: 0,
                    last: 0,
                    street: 0,
                    house_number: 1,
                },
            },
        });
        let t = triples_of(&customer[0]);
        let preds: Vec<_> = t.iter().map(|x| x["predicate"].as_str().unwrap()).collect();
        assert_eq!(
            preds,
            [
                "customer_name",
                "customer_email",
                "customer_address",
                "home_store"
            ]
        );
        assert_eq!(t[0]["subject_id"], "customer:LG-000005");
        assert_eq!(t[3]["object_value"], "store:SI-02");
    }

    #[test]
    fn triple_counts_are_the_triples_the_requests_carry() {
        let c = ctx(None);
        // 7 order triples and 7 per line.
        assert_eq!(c.triple_count(&order_event()), 7 + 2 * 7);
        let remove = Event {
            at: SimTime(0),
            action: Action::RemoveLine {
                order: 1,
                seq: 1,
                total_cents: 0,
            },
        };
        // The DELETE carries no triple; the PUT of the total one.
        assert_eq!(c.triple_count(&remove), 1);
    }

    #[test]
    fn the_counter_agrees_with_the_contract_on_every_event_of_a_day() {
        let world = crate::world::builtin_world();
        let config = crate::sim::SimConfig {
            seed: 3,
            profile: crate::profile::LoadProfile::named("standard").unwrap(),
            start: chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z").unwrap(),
            duration: SimTime(6 * 3_600_000),
        };
        let c = ctx(None);
        let mut counter = c.triple_counter();
        let mut sim = crate::sim::Simulation::new(&world, &config).unwrap();
        let mut events = 0;
        while let Some(event) = sim.next_event().unwrap() {
            assert_eq!(counter.count(&event), c.triple_count(&event), "{event:?}");
            events += 1;
        }
        assert!(events > 1_000, "{events} events");
    }

    #[test]
    fn request_counts_match_the_event_model() {
        let c = ctx(None);
        let events = [
            order_event(),
            Event {
                at: SimTime(0),
                action: Action::RemoveLine {
                    order: 1,
                    seq: 1,
                    total_cents: 0,
                },
            },
        ];
        for e in events {
            assert_eq!(c.requests_for(&e).len() as u32, e.action.request_count());
        }
    }

    /// One action of every kind; the match makes a new kind of action a compile error here
    /// until it is added.
    fn one_of_each() -> Vec<Action> {
        let persona = crate::world::names::Persona {
            first: 0,
            last: 0,
            street: 0,
            house_number: 1,
        };
        let line = Line {
            seq: 3,
            product: 1,
            quantity: 2,
        };
        let actions = vec![
            Action::NewCustomer {
                customer: 1,
                home_store: 0,
                persona,
            },
            order_event().action,
            Action::Transition {
                order: 1,
                from: OrderStatus::Created,
                to: OrderStatus::Picking,
            },
            Action::Transition {
                order: 1,
                from: OrderStatus::Picking,
                to: OrderStatus::Cancelled,
            },
            Action::AddLine {
                order: 1,
                line,
                total_cents: 10,
            },
            Action::RemoveLine {
                order: 1,
                seq: 3,
                total_cents: 0,
            },
            Action::InventoryUpdate {
                item: 5,
                stock_level: 7,
            },
        ];
        let mut kinds = std::collections::BTreeSet::new();
        for action in &actions {
            kinds.insert(match action {
                Action::NewCustomer { .. } => 0,
                Action::NewOrder(_) => 1,
                Action::Transition { .. } => 2,
                Action::AddLine { .. } => 3,
                Action::RemoveLine { .. } => 4,
                Action::InventoryUpdate { .. } => 5,
            });
        }
        assert_eq!(kinds.len(), 6, "one action of each kind");
        actions
    }

    #[test]
    fn request_count_and_requests_agree_for_every_kind_of_action() {
        for run in [None, Some("r1")] {
            let c = ctx(run);
            for action in one_of_each() {
                let event = Event {
                    at: SimTime(60_000),
                    action,
                };
                let requests = c.requests_for(&event);
                assert_eq!(
                    requests.len() as u32,
                    event.action.request_count(),
                    "{event:?}"
                );
                let planned: Vec<Method> =
                    steps(&event.action).iter().map(|s| s.method()).collect();
                let sent: Vec<Method> = requests.iter().map(|r| r.method).collect();
                assert_eq!(planned, sent, "{event:?}");
            }
        }
        let counts: Vec<u32> = one_of_each().iter().map(Action::request_count).collect();
        assert_eq!(counts, [1, 1, 1, 1, 2, 2, 1]);
    }

    /// What `requests_for` sent before it wrote bodies itself: the writes' owned triples,
    /// serialised by serde_json. The two must agree byte for byte.
    fn through_serde_json(c: &RequestContext, event: &Event) -> Vec<ApiRequest> {
        c.writes_for(event)
            .into_iter()
            .map(Write::into_request)
            .collect()
    }

    /// A world whose ids need escaping in JSON, and indices past its end.
    fn hostile_world() -> crate::world::World {
        let mut world = builtin_world();
        world.stores[0].id = "store:\"quoted\"\\back".into();
        world.products[0].id = "product:tab\there\u{1}é😀".into();
        world.customers[0].id = "customer:new\nline".into();
        world
    }

    fn actions_out_of_range() -> Vec<Action> {
        vec![
            Action::NewOrder(NewOrder {
                order: 1,
                customer: CustomerRef::Existing(u32::MAX),
                store: u32::MAX,
                window_start_min: 0,
                window_len_min: 0,
                lines: vec![Line {
                    seq: 1,
                    product: u32::MAX,
                    quantity: 1,
                }],
                total_cents: 0,
            }),
            Action::NewOrder(NewOrder {
                order: OrderNo::MAX,
                customer: CustomerRef::New(NewCustomerNo::MAX),
                store: 0,
                window_start_min: u16::MAX,
                window_len_min: u16::MAX,
                lines: vec![],
                total_cents: u64::MAX,
            }),
            Action::NewOrder(NewOrder {
                order: 2,
                customer: CustomerRef::Existing(0),
                store: 0,
                window_start_min: 1,
                window_len_min: 1,
                lines: (1..=u8::MAX)
                    .map(|seq| Line {
                        seq,
                        product: u32::from(seq) % 3,
                        quantity: seq,
                    })
                    .collect(),
                total_cents: 1,
            }),
            Action::InventoryUpdate {
                item: u32::MAX,
                stock_level: u32::MAX,
            },
            Action::NewCustomer {
                customer: 1,
                home_store: u32::MAX,
                persona: crate::world::names::Persona {
                    first: u16::MAX,
                    last: u16::MAX,
                    street: u16::MAX,
                    house_number: u16::MAX,
                },
            },
        ]
    }

    #[test]
    fn bodies_written_in_place_are_serde_jsons_bytes_for_every_kind_of_action() {
        let mut contexts = Vec::new();
        for world in [builtin_world(), hostile_world()] {
            for run in [None, Some("r1"), Some("we\"ird\\\trun")] {
                let mut c = ctx(run);
                c.world = Arc::new(world.clone());
                contexts.push(c);
            }
        }
        let mut shifted = ctx(Some("r1"));
        shifted.shift = chrono::Duration::days(3_000_000);
        contexts.push(shifted);
        for c in &contexts {
            for action in one_of_each().into_iter().chain(actions_out_of_range()) {
                // The last instant: year 10,000 and later, where chrono writes a sign.
                for at in [
                    SimTime(0),
                    SimTime(86_399_999),
                    SimTime(10_000 * 31_556_952_000),
                ] {
                    let event = Event {
                        at,
                        action: action.clone(),
                    };
                    let sent = c.requests_for(&event);
                    assert_eq!(sent, through_serde_json(c, &event), "{event:?}");
                    // Each body parses, and holds the triples its step says it does.
                    for (request, step) in sent.iter().zip(steps(&event.action).iter()) {
                        let triples = request.body.as_deref().map_or(0, |body| {
                            serde_json::from_str::<Vec<serde_json::Value>>(body)
                                .unwrap()
                                .len()
                        });
                        assert_eq!(triples, step.triples(), "{step:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn bodies_written_in_place_are_serde_jsons_bytes_for_a_stress_hour() {
        let world = builtin_world();
        let config = crate::sim::SimConfig {
            seed: 11,
            profile: crate::profile::LoadProfile::named("stress").unwrap(),
            start: chrono::DateTime::parse_from_rfc3339("2026-03-29T00:30:00+01:00").unwrap(),
            duration: SimTime(3_600_000),
        };
        let mut sim = crate::sim::Simulation::new(&world, &config).unwrap();
        let mut c = ctx(Some("r7"));
        c.shift = chrono::Duration::seconds(-3_599);
        let mut requests = 0;
        while let Some(event) = sim.next_event().unwrap() {
            let sent = c.requests_for(&event);
            requests += sent.len();
            assert_eq!(sent, through_serde_json(&c, &event), "{event:?}");
        }
        assert!(requests > 10_000, "{requests} requests");
    }

    #[test]
    fn a_restored_level_is_the_write_an_inventory_update_sends() {
        let c = ctx(None);
        let update = c.writes_for(&Event {
            at: SimTime(0),
            action: Action::InventoryUpdate {
                item: 4,
                stock_level: 12,
            },
        });
        assert_eq!(update, [set_stock_level("inventory:INV-000005", 12)]);
        let req = set_stock_level("inventory:INV-000005", 12).into_request();
        assert_eq!(req.method, Method::Put);
        assert_eq!(req.path, "/triples/batch?validate=true");
        assert_eq!(
            req.body.as_deref(),
            Some(
                r#"[{"subject_id":"inventory:INV-000005","predicate":"stock_level","object_value":"12","object_type":"int"}]"#
            )
        );
    }
}
