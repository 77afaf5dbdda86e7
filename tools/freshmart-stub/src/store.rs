//! The in-memory triple store: every subject's triples with ids and timestamps, ordered by
//! subject id (so a class is a key range), an index of the references the views follow, and the
//! write semantics of the API's batch endpoints.

use std::collections::btree_map::{self, BTreeMap};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ontology::ObjectType;

/// A triple as clients send it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Triple {
    pub subject_id: String,
    pub predicate: String,
    pub object_value: String,
    pub object_type: ObjectType,
}

impl Triple {
    /// A triple from its four parts.
    pub fn new(
        subject_id: impl Into<String>,
        predicate: impl Into<String>,
        object_value: impl Into<String>,
        object_type: ObjectType,
    ) -> Triple {
        Triple {
            subject_id: subject_id.into(),
            predicate: predicate.into(),
            object_value: object_value.into(),
            object_type,
        }
    }
}

/// A predicate name interned by the store: triples compare predicates as numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PredicateId(u32);

/// Declares the predicates the views read: every store interns them first, in this order, so
/// their ids are constants.
macro_rules! known_predicates {
    ($($konst:ident = $name:literal,)*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[repr(u32)]
        enum KnownIndex {
            $($konst,)*
        }

        /// Ids of the predicates the views read.
        pub mod known {
            use super::{KnownIndex, PredicateId};
            $(pub const $konst: PredicateId = PredicateId(KnownIndex::$konst as u32);)*
        }

        const KNOWN_NAMES: &[&str] = &[$($name,)*];
    };
}

known_predicates! {
    LINE_OF_ORDER = "line_of_order",
    TASK_OF_ORDER = "task_of_order",
    ORDER_NUMBER = "order_number",
    ORDER_STATUS = "order_status",
    PLACED_BY = "placed_by",
    ORDER_STORE = "order_store",
    DELIVERY_WINDOW_START = "delivery_window_start",
    DELIVERY_WINDOW_END = "delivery_window_end",
    LINE_PRODUCT = "line_product",
    QUANTITY = "quantity",
    ORDER_LINE_UNIT_PRICE = "order_line_unit_price",
    LINE_AMOUNT = "line_amount",
    LINE_SEQUENCE = "line_sequence",
    PERISHABLE_FLAG = "perishable_flag",
    CUSTOMER_NAME = "customer_name",
    CUSTOMER_EMAIL = "customer_email",
    CUSTOMER_ADDRESS = "customer_address",
    STORE_NAME = "store_name",
    STORE_ADDRESS = "store_address",
    STORE_ZONE = "store_zone",
    STORE_STATUS = "store_status",
    STORE_CAPACITY_ORDERS_PER_HOUR = "store_capacity_orders_per_hour",
    PRODUCT_NAME = "product_name",
    CATEGORY = "category",
    UNIT_PRICE = "unit_price",
    PERISHABLE = "perishable",
    INVENTORY_STORE = "inventory_store",
    INVENTORY_PRODUCT = "inventory_product",
    STOCK_LEVEL = "stock_level",
    REPLENISHMENT_ETA = "replenishment_eta",
    ASSIGNED_TO = "assigned_to",
    TASK_STATUS = "task_status",
    ETA = "eta",
}

/// Reference predicates the views follow backwards (object → subjects).
const INDEXED_REFERENCES: [PredicateId; 2] = [known::LINE_OF_ORDER, known::TASK_OF_ORDER];

/// One stored triple of a subject.
#[derive(Clone, Debug)]
pub struct StoredTriple {
    pub id: u64,
    pub predicate: PredicateId,
    pub object_value: String,
    pub object_type: ObjectType,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A written triple as the batch endpoints answer with it.
#[derive(Clone, Debug, Serialize)]
pub struct TripleRow {
    pub subject_id: String,
    pub predicate: String,
    pub object_value: String,
    pub object_type: ObjectType,
    pub id: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl TripleRow {
    fn new(subject_id: &str, predicate: &str, stored: &StoredTriple) -> TripleRow {
        TripleRow {
            subject_id: subject_id.to_owned(),
            predicate: predicate.to_owned(),
            object_value: stored.object_value.clone(),
            object_type: stored.object_type,
            id: stored.id,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

/// A batch that holds the same (subject, predicate, value) twice; the API fails it with a
/// database error (500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateInBatch;

/// The triples of all subjects.
#[derive(Debug, Default)]
pub struct Store {
    subjects: BTreeMap<String, Vec<StoredTriple>>,
    /// Interned predicate names, by id.
    predicates: Vec<String>,
    predicate_ids: HashMap<String, PredicateId>,
    /// For each predicate of [`INDEXED_REFERENCES`]: object value → subjects.
    references: [HashMap<String, BTreeSet<String>>; INDEXED_REFERENCES.len()],
    next_id: u64,
    triple_count: usize,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        let mut store = Store {
            next_id: 1,
            ..Store::default()
        };
        for name in KNOWN_NAMES {
            store.intern(name);
        }
        store
    }

    /// The id of a predicate name, giving it one if it has none yet.
    fn intern(&mut self, name: &str) -> PredicateId {
        if let Some(id) = self.predicate_ids.get(name) {
            return *id;
        }
        let id = PredicateId(u32::try_from(self.predicates.len()).unwrap_or(u32::MAX));
        self.predicates.push(name.to_owned());
        self.predicate_ids.insert(name.to_owned(), id);
        id
    }

    /// The name of an interned predicate.
    pub fn predicate_name(&self, id: PredicateId) -> &str {
        self.predicates
            .get(id.0 as usize)
            .map_or("", String::as_str)
    }

    /// Number of triples held.
    pub fn triple_count(&self) -> usize {
        self.triple_count
    }

    /// The triples of one subject, in the order they were written.
    pub fn subject(&self, subject_id: &str) -> Option<&[StoredTriple]> {
        self.subjects.get(subject_id).map(Vec::as_slice)
    }

    /// All subjects whose id starts with `prefix`, in id order.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a [StoredTriple])> + 'a {
        self.subjects
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(id, _)| id.starts_with(prefix))
            .map(|(id, triples)| (id.as_str(), triples.as_slice()))
    }

    /// Subjects with a triple (`subject`, `predicate`, `object`), for a predicate of
    /// [`INDEXED_REFERENCES`] (none for any other predicate).
    pub fn referrers<'a>(
        &'a self,
        predicate: PredicateId,
        object: &str,
    ) -> impl Iterator<Item = &'a str> {
        INDEXED_REFERENCES
            .iter()
            .position(|p| *p == predicate)
            .and_then(|i| self.references[i].get(object))
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// `POST /triples/batch`: adds each triple; one already present (same subject, predicate and
    /// value) only gets a new `updated_at`. A different value for a present (subject, predicate)
    /// is added beside it.
    pub fn post_batch(
        &mut self,
        triples: &[Triple],
        now: Timestamp,
    ) -> Result<Vec<TripleRow>, DuplicateInBatch> {
        check_no_duplicates(triples)?;
        let mut rows = Vec::with_capacity(triples.len());
        for triple in triples {
            let predicate = self.intern(&triple.predicate);
            let existing = self
                .subjects
                .get_mut(&triple.subject_id)
                .and_then(|stored| {
                    stored
                        .iter_mut()
                        .find(|s| s.predicate == predicate && s.object_value == triple.object_value)
                });
            match existing {
                Some(stored) => {
                    stored.updated_at = now;
                    rows.push(TripleRow::new(
                        &triple.subject_id,
                        &triple.predicate,
                        stored,
                    ));
                }
                None => rows.push(self.insert(triple, predicate, now)),
            }
        }
        Ok(rows)
    }

    /// `PUT /triples/batch`: for each (subject, predicate) of the batch, removes the stored values
    /// and inserts the batch's.
    pub fn put_batch(
        &mut self,
        triples: &[Triple],
        now: Timestamp,
    ) -> Result<Vec<TripleRow>, DuplicateInBatch> {
        check_no_duplicates(triples)?;
        let predicates: Vec<PredicateId> =
            triples.iter().map(|t| self.intern(&t.predicate)).collect();
        let pairs: HashSet<(&str, PredicateId)> = triples
            .iter()
            .zip(&predicates)
            .map(|(t, p)| (t.subject_id.as_str(), *p))
            .collect();
        for (subject_id, predicate) in pairs {
            self.remove_values(subject_id, predicate);
        }
        Ok(triples
            .iter()
            .zip(predicates)
            .map(|(t, p)| self.insert(t, p, now))
            .collect())
    }

    /// `DELETE /triples/subjects/{id}`: removes every triple of a subject and says how many.
    pub fn delete_subject(&mut self, subject_id: &str) -> usize {
        let Some(removed) = self.subjects.remove(subject_id) else {
            return 0;
        };
        for stored in &removed {
            self.unindex(subject_id, stored.predicate, &stored.object_value);
        }
        self.triple_count -= removed.len();
        removed.len()
    }

    /// Inserts a triple known not to be present.
    fn insert(&mut self, triple: &Triple, predicate: PredicateId, now: Timestamp) -> TripleRow {
        let stored = StoredTriple {
            id: self.next_id,
            predicate,
            object_value: triple.object_value.clone(),
            object_type: triple.object_type,
            created_at: now,
            updated_at: now,
        };
        self.next_id += 1;
        self.triple_count += 1;
        self.index(&triple.subject_id, predicate, &triple.object_value);
        let row = TripleRow::new(&triple.subject_id, &triple.predicate, &stored);
        match self.subjects.entry(triple.subject_id.clone()) {
            btree_map::Entry::Occupied(mut e) => e.get_mut().push(stored),
            btree_map::Entry::Vacant(e) => {
                e.insert(vec![stored]);
            }
        }
        row
    }

    /// Removes every value of (subject, predicate); drops the subject if nothing is left.
    fn remove_values(&mut self, subject_id: &str, predicate: PredicateId) {
        let Some(stored) = self.subjects.get_mut(subject_id) else {
            return;
        };
        let mut removed = Vec::new();
        stored.retain(|s| {
            let keep = s.predicate != predicate;
            if !keep {
                removed.push(s.object_value.clone());
            }
            keep
        });
        if stored.is_empty() {
            self.subjects.remove(subject_id);
        }
        self.triple_count -= removed.len();
        for value in removed {
            self.unindex(subject_id, predicate, &value);
        }
    }

    fn index(&mut self, subject_id: &str, predicate: PredicateId, object: &str) {
        if let Some(i) = INDEXED_REFERENCES.iter().position(|p| *p == predicate) {
            self.references[i]
                .entry(object.to_owned())
                .or_default()
                .insert(subject_id.to_owned());
        }
    }

    fn unindex(&mut self, subject_id: &str, predicate: PredicateId, object: &str) {
        if let Some(i) = INDEXED_REFERENCES.iter().position(|p| *p == predicate) {
            if let Some(subjects) = self.references[i].get_mut(object) {
                subjects.remove(subject_id);
                if subjects.is_empty() {
                    self.references[i].remove(object);
                }
            }
        }
    }
}

fn check_no_duplicates(triples: &[Triple]) -> Result<(), DuplicateInBatch> {
    if triples.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(triples.len());
    for t in triples {
        if !seen.insert((&t.subject_id, &t.predicate, &t.object_value)) {
            return Err(DuplicateInBatch);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str, p: &str, o: &str) -> Triple {
        Triple::new(s, p, o, ObjectType::String)
    }

    fn values(store: &Store, s: &str, p: &str) -> Vec<String> {
        store
            .subject(s)
            .unwrap_or_default()
            .iter()
            .filter(|t| store.predicate_name(t.predicate) == p)
            .map(|t| t.object_value.clone())
            .collect()
    }

    #[test]
    fn post_is_idempotent_and_multi_valued() {
        let mut store = Store::new();
        let first = store
            .post_batch(&[t("order:1", "order_status", "CREATED")], Timestamp(1))
            .unwrap();
        let again = store
            .post_batch(&[t("order:1", "order_status", "CREATED")], Timestamp(2))
            .unwrap();
        assert_eq!(first[0].id, again[0].id);
        assert_eq!(
            (again[0].created_at, again[0].updated_at),
            (Timestamp(1), Timestamp(2))
        );
        assert_eq!(store.triple_count(), 1);
        store
            .post_batch(&[t("order:1", "order_status", "PICKING")], Timestamp(3))
            .unwrap();
        assert_eq!(
            values(&store, "order:1", "order_status"),
            ["CREATED", "PICKING"]
        );
    }

    #[test]
    fn put_replaces_every_value() {
        let mut store = Store::new();
        store
            .post_batch(
                &[
                    t("order:1", "order_status", "CREATED"),
                    t("order:1", "order_status", "PICKING"),
                ],
                Timestamp(1),
            )
            .unwrap();
        store
            .put_batch(&[t("order:1", "order_status", "DELIVERED")], Timestamp(2))
            .unwrap();
        assert_eq!(values(&store, "order:1", "order_status"), ["DELIVERED"]);
        assert_eq!(store.triple_count(), 1);
    }

    #[test]
    fn duplicates_in_a_batch_fail_and_write_nothing() {
        let mut store = Store::new();
        let batch = [
            t("order:1", "order_status", "X"),
            t("order:1", "order_status", "X"),
        ];
        assert_eq!(
            store.post_batch(&batch, Timestamp(1)).unwrap_err(),
            DuplicateInBatch
        );
        assert_eq!(
            store.put_batch(&batch, Timestamp(1)).unwrap_err(),
            DuplicateInBatch
        );
        assert_eq!(store.triple_count(), 0);
    }

    #[test]
    fn references_are_indexed_and_unindexed() {
        let mut store = Store::new();
        store
            .post_batch(
                &[t("orderline:1-1", "line_of_order", "order:1")],
                Timestamp(1),
            )
            .unwrap();
        store
            .post_batch(
                &[t("orderline:1-2", "line_of_order", "order:1")],
                Timestamp(1),
            )
            .unwrap();
        assert_eq!(
            store
                .referrers(known::LINE_OF_ORDER, "order:1")
                .collect::<Vec<_>>(),
            ["orderline:1-1", "orderline:1-2"]
        );
        assert_eq!(store.delete_subject("orderline:1-1"), 1);
        assert_eq!(store.delete_subject("orderline:1-1"), 0);
        store
            .put_batch(
                &[t("orderline:1-2", "line_of_order", "order:2")],
                Timestamp(2),
            )
            .unwrap();
        assert_eq!(store.referrers(known::LINE_OF_ORDER, "order:1").count(), 0);
        assert_eq!(
            store
                .referrers(known::LINE_OF_ORDER, "order:2")
                .collect::<Vec<_>>(),
            ["orderline:1-2"]
        );
    }

    #[test]
    fn known_predicates_have_their_ids() {
        let mut store = Store::new();
        assert_eq!(store.predicate_name(known::LINE_OF_ORDER), "line_of_order");
        assert_eq!(store.predicate_name(known::ETA), "eta");
        assert_eq!(store.intern("order_status"), known::ORDER_STATUS);
        let fresh = store.intern("colour");
        assert_eq!(store.predicate_name(fresh), "colour");
    }

    #[test]
    fn prefix_ranges_stop_at_the_prefix() {
        let mut store = Store::new();
        for s in ["order:2", "order:1", "orderline:1-1", "customer:1"] {
            store.post_batch(&[t(s, "x", "y")], Timestamp(1)).unwrap();
        }
        let ids: Vec<&str> = store.with_prefix("order:").map(|(id, _)| id).collect();
        assert_eq!(ids, ["order:1", "order:2"]);
    }
}
