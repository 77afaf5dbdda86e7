//! Subject ids: the class prefix of every id the API knows, the ids of a stock install, and
//! the ids a trace creates (`LG-…`, in a run's namespace when one is given).

use super::text::{push_padded, push_uint};
use crate::event::{NewCustomerNo, OrderNo};

/// Class prefixes, as the API's ontology wants them.
pub const ORDER: &str = "order:";
pub const ORDER_LINE: &str = "orderline:";
pub const CUSTOMER: &str = "customer:";
pub const STORE: &str = "store:";
pub const PRODUCT: &str = "product:";
pub const INVENTORY: &str = "inventory:";

/// Marks the ids loadgen creates: a stock install uses `order:FM-…` and `customer:00001`, so
/// the two never collide.
const LOADGEN: &str = "LG-";

/// The class of a subject id, read from its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    OrderLine,
    Order,
    Customer,
    Store,
    Product,
    Inventory,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::OrderLine,
        Class::Order,
        Class::Customer,
        Class::Store,
        Class::Product,
        Class::Inventory,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            Class::OrderLine => ORDER_LINE,
            Class::Order => ORDER,
            Class::Customer => CUSTOMER,
            Class::Store => STORE,
            Class::Product => PRODUCT,
            Class::Inventory => INVENTORY,
        }
    }

    /// The class `subject` belongs to, if its prefix is one of the API's.
    pub fn of(subject: &str) -> Option<Class> {
        Class::ALL
            .into_iter()
            .find(|class| subject.starts_with(class.prefix()))
    }
}

/// `LG-000042` (`LG-<run>-000042` in a run's namespace): the order number, also the id part
/// of the order's subject and of its lines'.
pub fn order_number(order: OrderNo, run: Option<&str>) -> String {
    rendered(|out| push_order_number(out, order, run))
}

/// `order:LG-000042`.
pub fn order_subject(order: OrderNo, run: Option<&str>) -> String {
    rendered(|out| push_order_subject(out, order, run))
}

/// `orderline:LG-000042-03`: the order's number and the line's `line_sequence`.
pub fn line_subject(order: OrderNo, seq: u8, run: Option<&str>) -> String {
    rendered(|out| push_line_subject(out, order, seq, run))
}

/// `customer:LG-000007`.
pub fn new_customer_subject(customer: NewCustomerNo, run: Option<&str>) -> String {
    rendered(|out| push_new_customer_subject(out, customer, run))
}

/// Room for any id above with a run id of up to 24 bytes.
fn rendered(write: impl FnOnce(&mut String)) -> String {
    let mut out = String::with_capacity(48);
    write(&mut out);
    out
}

/// `LG-` and the run's namespace, if any: what every id loadgen creates starts with.
fn push_loadgen(out: &mut String, run: Option<&str>) {
    out.push_str(LOADGEN);
    if let Some(run) = run {
        out.push_str(run);
        out.push('-');
    }
}

/// [`order_number`], written onto the end of `out`.
pub fn push_order_number(out: &mut String, order: OrderNo, run: Option<&str>) {
    push_loadgen(out, run);
    push_padded(out, u64::from(order), 6);
}

/// [`order_subject`], written onto the end of `out`.
pub fn push_order_subject(out: &mut String, order: OrderNo, run: Option<&str>) {
    out.push_str(ORDER);
    push_order_number(out, order, run);
}

/// [`line_subject`], written onto the end of `out`.
pub fn push_line_subject(out: &mut String, order: OrderNo, seq: u8, run: Option<&str>) {
    out.push_str(ORDER_LINE);
    push_order_number(out, order, run);
    out.push('-');
    push_padded(out, u64::from(seq), 2);
}

/// [`new_customer_subject`], written onto the end of `out`.
pub fn push_new_customer_subject(out: &mut String, customer: NewCustomerNo, run: Option<&str>) {
    out.push_str(CUSTOMER);
    push_loadgen(out, run);
    push_padded(out, u64::from(customer), 6);
}

/// What every order subject of run `run` starts with (a list read filters on it;
/// [`order_of_subject`] then tells this run's orders from those of a run whose id extends it).
pub fn run_orders_prefix(run: &str) -> String {
    format!("{ORDER}{LOADGEN}{run}-")
}

/// What every new customer's subject of run `run` starts with.
pub fn run_customers_prefix(run: &str) -> String {
    format!("{CUSTOMER}{LOADGEN}{run}-")
}

/// The order number of `id` when it is exactly an order subject of `run` (the inverse of
/// [`order_subject`]).
pub fn order_of_subject(id: &str, run: Option<&str>) -> Option<OrderNo> {
    let digits = id.rsplit('-').next()?;
    let number: OrderNo = digits.parse().ok()?;
    (order_subject(number, run) == id).then_some(number)
}

/// Stands in for a customer index the world does not have (a trace made with another world).
pub fn unknown_customer(index: u32) -> String {
    rendered(|out| push_unknown_customer(out, index))
}

/// [`unknown_customer`], written onto the end of `out`.
pub fn push_unknown_customer(out: &mut String, index: u32) {
    out.push_str(CUSTOMER);
    out.push('?');
    push_uint(out, u64::from(index));
}

/// A stock install's store: `store:BK-01`, its zone and its number in the zone.
pub fn stock_store(zone: &str, number: usize) -> String {
    format!("{STORE}{zone}-{number:02}")
}

/// A stock install's inventory item, from 1: `inventory:INV-000761`.
pub fn stock_inventory(number: usize) -> String {
    format!("{INVENTORY}INV-{number:06}")
}

/// A stock install's customer, from 1: `customer:00042`.
pub fn stock_customer(number: usize) -> String {
    format!("{CUSTOMER}{number:05}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_collide_with_stock_ids() {
        assert_eq!(order_subject(42, None), "order:LG-000042");
        assert_eq!(order_subject(42, Some("r1")), "order:LG-r1-000042");
        assert_eq!(line_subject(42, 3, None), "orderline:LG-000042-03");
        assert_eq!(new_customer_subject(7, None), "customer:LG-000007");
        // Stock installs use order:FM-…, customer:00001 …
        assert!(!new_customer_subject(1, None).starts_with("customer:0"));
        assert!(!new_customer_subject(1, None).starts_with(&stock_customer(1)[..10]));
    }

    #[test]
    fn the_exact_strings_the_api_takes() {
        assert_eq!(order_number(7, Some("r1")), "LG-r1-000007");
        assert_eq!(order_number(1_234_567, None), "LG-1234567");
        assert_eq!(line_subject(7, 12, Some("r1")), "orderline:LG-r1-000007-12");
        assert_eq!(new_customer_subject(3, Some("r1")), "customer:LG-r1-000003");
        assert_eq!(stock_store("MAN", 1), "store:MAN-01");
        assert_eq!(stock_inventory(761), "inventory:INV-000761");
        assert_eq!(stock_customer(42), "customer:00042");
        assert_eq!(unknown_customer(5), "customer:?5");
    }

    #[test]
    fn ids_are_what_format_wrote() {
        for run in [None, Some("r1"), Some("a-b")] {
            let ns = run.map_or(String::new(), |r| format!("{r}-"));
            for n in [0, 7, 42, 999_999, 1_000_000, u32::MAX] {
                assert_eq!(order_number(n, run), format!("LG-{ns}{n:06}"));
                assert_eq!(order_subject(n, run), format!("order:LG-{ns}{n:06}"));
                assert_eq!(
                    new_customer_subject(n, run),
                    format!("customer:LG-{ns}{n:06}")
                );
                for seq in [0, 1, 12, 99, 100, u8::MAX] {
                    assert_eq!(
                        line_subject(n, seq, run),
                        format!("orderline:LG-{ns}{n:06}-{seq:02}")
                    );
                }
            }
        }
    }

    #[test]
    fn a_runs_prefixes_start_its_subjects_and_no_other_runs() {
        let orders = run_orders_prefix("r1");
        assert_eq!(orders, "order:LG-r1-");
        assert!(order_subject(9, Some("r1")).starts_with(&orders));
        assert!(!order_subject(9, Some("r2")).starts_with(&orders));
        assert!(!line_subject(9, 1, Some("r1")).starts_with(&orders));
        let customers = run_customers_prefix("r1");
        assert_eq!(customers, "customer:LG-r1-");
        assert!(new_customer_subject(9, Some("r1")).starts_with(&customers));
        assert!(!new_customer_subject(9, None).starts_with(&customers));
    }

    #[test]
    fn order_subjects_round_trip_in_their_namespace_only() {
        for run in [None, Some("r1"), Some("a-b")] {
            for order in [1, 42, 999_999, 1_000_000, OrderNo::MAX] {
                let id = order_subject(order, run);
                assert_eq!(order_of_subject(&id, run), Some(order), "{id}");
            }
        }
        assert_eq!(order_of_subject("order:LG-r1-000042", Some("r1")), Some(42));
        assert_eq!(order_of_subject("order:LG-r2-000042", Some("r1")), None);
        assert_eq!(order_of_subject("order:LG-r1-42", Some("r1")), None);
        assert_eq!(order_of_subject("order:LG-000042", Some("r1")), None);
        assert_eq!(
            order_of_subject("orderline:LG-r1-000042-01", Some("r1")),
            None
        );
    }

    #[test]
    fn every_subject_has_its_class() {
        let cases = [
            (line_subject(1, 1, None), Class::OrderLine),
            (order_subject(1, Some("r")), Class::Order),
            (new_customer_subject(1, None), Class::Customer),
            (stock_customer(1), Class::Customer),
            (stock_store("BK", 1), Class::Store),
            ("product:prod0001".to_string(), Class::Product),
            (stock_inventory(1), Class::Inventory),
        ];
        for (subject, class) in cases {
            assert_eq!(Class::of(&subject), Some(class), "{subject}");
        }
        assert_eq!(Class::of("shelf:1"), None);
        assert_eq!(Class::of("order"), None);
    }
}
