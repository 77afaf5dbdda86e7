//! Triples as the API takes them: `{subject_id, predicate, object_value, object_type}`, where
//! the value is always a JSON string.
//!
//! A request's triples are described once ([`TripleSink`]: a subject, then its predicates and
//! values as unrendered [`Text`]) and either collected as owned [`Triple`]s ([`TripleList`]:
//! cleanup, counts) or written straight into the JSON body ([`JsonBatch`]: the replay), which
//! is byte for byte `serde_json::to_string(&Vec<Triple>)` without a `String` per field.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::ids;
use super::money::push_dollars;
use super::text::{is_json_plain, push_json_str_contents, push_local_timestamp, ESCAPE};
use crate::event::{NewCustomerNo, OrderNo};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    String,
    Int,
    Float,
    Timestamp,
    Bool,
    EntityRef,
}

impl ObjectType {
    /// As serialised (`entity_ref`).
    pub fn as_api(self) -> &'static str {
        match self {
            ObjectType::String => "string",
            ObjectType::Int => "int",
            ObjectType::Float => "float",
            ObjectType::Timestamp => "timestamp",
            ObjectType::Bool => "bool",
            ObjectType::EntityRef => "entity_ref",
        }
    }

    /// What ends a triple of this type in a body: `","object_type":"…"}` (one copy instead
    /// of three per triple; a test holds it to `as_api`).
    fn closing(self) -> &'static str {
        match self {
            ObjectType::String => r#"","object_type":"string"}"#,
            ObjectType::Int => r#"","object_type":"int"}"#,
            ObjectType::Float => r#"","object_type":"float"}"#,
            ObjectType::Timestamp => r#"","object_type":"timestamp"}"#,
            ObjectType::Bool => r#"","object_type":"bool"}"#,
            ObjectType::EntityRef => r#"","object_type":"entity_ref"}"#,
        }
    }
}

/// A predicate, by its API name; made only in a `const` ([`Predicate::new`] rejects at
/// compile time a name JSON would escape), so a body writes it as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Predicate(&'static str);

impl Predicate {
    pub const fn new(name: &'static str) -> Predicate {
        let bytes = name.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            assert!(
                ESCAPE[bytes[at] as usize] == 0,
                "a predicate that JSON would escape"
            );
            at += 1;
        }
        Predicate(name)
    }

    pub fn as_api(self) -> &'static str {
        self.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Triple {
    pub subject_id: String,
    pub predicate: &'static str,
    pub object_value: String,
    pub object_type: ObjectType,
}

/// A subject or value of a triple before it is rendered: ids from their numbers (in the
/// sink's run namespace), amounts from cents, timestamps from their instant.
#[derive(Clone, Copy, Debug)]
pub enum Text<'a> {
    Str(&'a str),
    /// `LG-000042`.
    OrderNumber(OrderNo),
    /// `order:LG-000042`.
    Order(OrderNo),
    /// `orderline:LG-000042-03`.
    Line(OrderNo, u8),
    /// `customer:LG-000007`.
    NewCustomer(NewCustomerNo),
    /// `customer:?5`: an index the world does not have.
    UnknownCustomer(u32),
    Uint(u64),
    /// Dollars from cents: `53.52`.
    Dollars(u64),
    Bool(bool),
    /// Local time of the instant's offset, to the second, without an offset suffix.
    Timestamp(DateTime<FixedOffset>),
}

impl Text<'_> {
    /// Written onto the end of `out` as is (not escaped).
    pub fn push(&self, out: &mut String, run: Option<&str>) {
        match *self {
            Text::Str(text) => out.push_str(text),
            Text::OrderNumber(order) => ids::push_order_number(out, order, run),
            Text::Order(order) => ids::push_order_subject(out, order, run),
            Text::Line(order, seq) => ids::push_line_subject(out, order, seq, run),
            Text::NewCustomer(customer) => ids::push_new_customer_subject(out, customer, run),
            Text::UnknownCustomer(index) => ids::push_unknown_customer(out, index),
            Text::Uint(n) => super::text::push_uint(out, n),
            Text::Dollars(cents) => push_dollars(out, cents),
            Text::Bool(value) => out.push_str(if value { "true" } else { "false" }),
            Text::Timestamp(instant) => push_local_timestamp(out, &instant),
        }
    }

    pub fn render(&self, run: Option<&str>) -> String {
        let mut out = String::new();
        self.push(&mut out, run);
        out
    }

    /// Whether the rendering can hold a byte JSON escapes: only given strings and the run's
    /// namespace can; digits, dollars, timestamps and booleans cannot.
    fn may_need_escaping(&self) -> bool {
        match self {
            Text::Str(_)
            | Text::OrderNumber(_)
            | Text::Order(_)
            | Text::Line(..)
            | Text::NewCustomer(_) => true,
            Text::UnknownCustomer(_)
            | Text::Uint(_)
            | Text::Dollars(_)
            | Text::Bool(_)
            | Text::Timestamp(_) => false,
        }
    }
}

/// Receives the triples of a request: a subject, then its triples; then maybe another subject.
pub trait TripleSink {
    /// The subject of the triples added from here on.
    fn subject(&mut self, subject: Text<'_>) -> &mut Self;

    fn add(&mut self, predicate: Predicate, object_type: ObjectType, value: Text<'_>) -> &mut Self;
}

/// Collects owned [`Triple`]s.
pub struct TripleList<'r> {
    run: Option<&'r str>,
    subject: String,
    pub triples: Vec<Triple>,
}

impl<'r> TripleList<'r> {
    pub fn new(run: Option<&'r str>, capacity: usize) -> Self {
        TripleList {
            run,
            subject: String::new(),
            triples: Vec::with_capacity(capacity),
        }
    }
}

impl TripleSink for TripleList<'_> {
    fn subject(&mut self, subject: Text<'_>) -> &mut Self {
        self.subject = subject.render(self.run);
        self
    }

    fn add(&mut self, predicate: Predicate, object_type: ObjectType, value: Text<'_>) -> &mut Self {
        self.triples.push(Triple {
            subject_id: self.subject.clone(),
            predicate: predicate.as_api(),
            object_value: value.render(self.run),
            object_type,
        });
        self
    }
}

/// Writes the triples as the JSON array the batch endpoint takes, into one `String` sized
/// up front: `serde_json::to_string(&triples)` of the same [`Triple`]s, byte for byte.
pub struct JsonBatch<'r> {
    run: Option<&'r str>,
    /// The run's namespace needs no escaping (always, for a run id the CLI accepts): ids
    /// are then written straight into the body.
    run_is_plain: bool,
    body: String,
    /// What starts every triple of the current subject: `{"subject_id":"…","predicate":"`.
    opening: String,
    /// Where a rendering that needs escaping is made first.
    scratch: String,
    triples: usize,
}

/// The bytes of a triple besides its subject, predicate, value and type (`{"subject_id":…}`).
const TRIPLE_FRAME: usize =
    r#"{"subject_id":"","predicate":"","object_value":"","object_type":""},"#.len();

impl<'r> JsonBatch<'r> {
    /// `triples`: how many triples are expected, to size the body (more only cost a
    /// reallocation).
    pub fn new(run: Option<&'r str>, triples: usize) -> Self {
        // A line's triple is about 120 bytes, an order's about 130 with its timestamps.
        let per_triple = TRIPLE_FRAME + 80 + run.map_or(0, str::len);
        let mut body = String::with_capacity(2 + triples * per_triple);
        body.push('[');
        JsonBatch {
            run,
            run_is_plain: run.is_none_or(is_json_plain),
            body,
            opening: String::with_capacity(64),
            scratch: String::new(),
            triples: 0,
        }
    }

    /// The body: the JSON array of the triples added.
    pub fn finish(mut self) -> String {
        self.body.push(']');
        self.body
    }

    /// `text` as the contents of a JSON string, onto the end of `out`.
    fn push_contents(
        out: &mut String,
        scratch: &mut String,
        text: Text<'_>,
        run: Option<&str>,
        run_is_plain: bool,
    ) {
        match text {
            Text::Str(text) => push_json_str_contents(out, text),
            _ if !text.may_need_escaping() || run_is_plain => text.push(out, run),
            _ => {
                scratch.clear();
                text.push(scratch, run);
                push_json_str_contents(out, scratch);
            }
        }
    }
}

impl TripleSink for JsonBatch<'_> {
    fn subject(&mut self, subject: Text<'_>) -> &mut Self {
        self.opening.clear();
        self.opening.push_str(r#"{"subject_id":""#);
        Self::push_contents(
            &mut self.opening,
            &mut self.scratch,
            subject,
            self.run,
            self.run_is_plain,
        );
        self.opening.push_str(r#"","predicate":""#);
        self
    }

    fn add(&mut self, predicate: Predicate, object_type: ObjectType, value: Text<'_>) -> &mut Self {
        if self.triples > 0 {
            self.body.push(',');
        }
        self.triples += 1;
        self.body.push_str(&self.opening);
        self.body.push_str(predicate.as_api());
        self.body.push_str(r#"","object_value":""#);
        Self::push_contents(
            &mut self.body,
            &mut self.scratch,
            value,
            self.run,
            self.run_is_plain,
        );
        // The API's type names need no escaping (a test checks them against serde).
        self.body.push_str(object_type.closing());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn object_types_as_serde_writes_them() {
        for t in [
            ObjectType::String,
            ObjectType::Int,
            ObjectType::Float,
            ObjectType::Timestamp,
            ObjectType::Bool,
            ObjectType::EntityRef,
        ] {
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_api())
            );
            assert_eq!(
                t.closing(),
                format!(r#"","object_type":"{}"}}"#, t.as_api())
            );
        }
    }

    /// The same triples through both sinks: the body is serde_json's of the list.
    fn both(run: Option<&str>, fill: impl Fn(&mut dyn FnMut(Text<'_>, Predicate, Text<'_>))) {
        let mut list = TripleList::new(run, 0);
        let mut json = JsonBatch::new(run, 1);
        let mut current: Option<String> = None;
        fill(&mut |subject, predicate, value| {
            let rendered = subject.render(run);
            if current.as_deref() != Some(rendered.as_str()) {
                list.subject(subject);
                json.subject(subject);
                current = Some(rendered);
            }
            list.add(predicate, ObjectType::String, value);
            json.add(predicate, ObjectType::String, value);
        });
        assert_eq!(
            json.finish(),
            serde_json::to_string(&list.triples).unwrap(),
            "run {run:?}"
        );
    }

    #[test]
    fn an_empty_batch_is_an_empty_array() {
        both(None, |_| {});
        assert_eq!(JsonBatch::new(None, 0).finish(), "[]");
    }

    #[test]
    fn every_kind_of_text_writes_what_serde_json_writes() {
        let instant = DateTime::parse_from_rfc3339("2026-01-05T09:00:00-05:00").unwrap();
        let texts = [
            Text::Str("a \"quoted\"\\ name\n\u{1}é"),
            Text::OrderNumber(7),
            Text::Order(42),
            Text::Line(42, 3),
            Text::NewCustomer(5),
            Text::UnknownCustomer(9),
            Text::Uint(17),
            Text::Dollars(5352),
            Text::Bool(true),
            Text::Bool(false),
            Text::Timestamp(instant),
        ];
        for run in [None, Some("r1"), Some("we\"ird\\\t run")] {
            both(run, |add| {
                for subject in texts {
                    for value in texts {
                        add(subject, Predicate::new("line_of_order"), value);
                    }
                }
            });
        }
    }

    const P: Predicate = Predicate::new("p");
    const Q: Predicate = Predicate::new("q");
    const R: Predicate = Predicate::new("r");

    proptest! {
        #[test]
        fn any_strings_write_what_serde_json_writes(
            run in proptest::option::of(any::<String>()),
            subjects in proptest::collection::vec((any::<String>(), any::<u32>()), 0..4),
        ) {
            both(run.as_deref(), |add| {
                for (text, n) in &subjects {
                    add(Text::Str(text), P, Text::Order(*n));
                    add(Text::Str(text), Q, Text::Str(text));
                    add(Text::NewCustomer(*n), R, Text::Str(text));
                }
            });
        }
    }
}
