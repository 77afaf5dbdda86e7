//! The ontology writes are validated against: classes (subject prefixes) and properties (domain,
//! range kind, range class), parsed once from the embedded CSVs into lookup maps, and the
//! per-triple validation rules with the API's error types and messages.

use std::collections::HashMap;
use std::fmt;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::literal;

const CLASSES_CSV: &str = include_str!("../data/ontology-classes.csv");
const PROPERTIES_CSV: &str = include_str!("../data/ontology-properties.csv");

/// The `object_type` of a triple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    String,
    Int,
    Float,
    Timestamp,
    Date,
    Bool,
    EntityRef,
}

impl ObjectType {
    /// Every object type, in the order the API lists them.
    pub const ALL: [ObjectType; 7] = [
        ObjectType::String,
        ObjectType::Int,
        ObjectType::Float,
        ObjectType::Timestamp,
        ObjectType::Date,
        ObjectType::Bool,
        ObjectType::EntityRef,
    ];

    /// The wire name, e.g. `"entity_ref"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::String => "string",
            ObjectType::Int => "int",
            ObjectType::Float => "float",
            ObjectType::Timestamp => "timestamp",
            ObjectType::Date => "date",
            ObjectType::Bool => "bool",
            ObjectType::EntityRef => "entity_ref",
        }
    }

    /// The object type with this wire name.
    pub fn from_wire(name: &str) -> Option<ObjectType> {
        ObjectType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a 400 answer's `errors` list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    pub error_type: &'static str,
    pub message: String,
    pub predicate: Option<String>,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

#[derive(Debug)]
struct ClassDef {
    name: String,
    prefix: String,
}

#[derive(Debug)]
struct PropertyDef {
    domain_prefix: String,
    /// `None` for a range kind the validator does not know (no type check then).
    range_kind: Option<ObjectType>,
    range_kind_name: String,
    /// Prefix of the range class of an entity reference.
    range_prefix: Option<String>,
}

/// Classes by prefix and properties by name.
#[derive(Debug)]
pub struct Ontology {
    classes: HashMap<String, ClassDef>,
    properties: HashMap<String, PropertyDef>,
}

#[derive(Deserialize)]
struct ClassRow {
    class_name: String,
    prefix: String,
}

#[derive(Deserialize)]
struct PropertyRow {
    prop_name: String,
    domain_class: String,
    range_kind: String,
    range_class: String,
}

impl Ontology {
    /// The ontology of a stock install, from the CSVs embedded in this crate.
    pub fn builtin() -> anyhow::Result<Ontology> {
        Ontology::from_csv(CLASSES_CSV, PROPERTIES_CSV)
    }

    /// Parses the two CSVs (`class_name,prefix,…` and
    /// `prop_name,domain_class,range_kind,range_class,…`).
    pub fn from_csv(classes_csv: &str, properties_csv: &str) -> anyhow::Result<Ontology> {
        let mut classes = HashMap::new();
        let mut prefix_of = HashMap::new();
        for row in csv::Reader::from_reader(classes_csv.as_bytes()).deserialize() {
            let row: ClassRow = row.context("reading the ontology classes")?;
            prefix_of.insert(row.class_name.clone(), row.prefix.clone());
            classes.insert(
                row.prefix.clone(),
                ClassDef {
                    name: row.class_name,
                    prefix: row.prefix,
                },
            );
        }
        let mut properties = HashMap::new();
        for row in csv::Reader::from_reader(properties_csv.as_bytes()).deserialize() {
            let row: PropertyRow = row.context("reading the ontology properties")?;
            let Some(domain_prefix) = prefix_of.get(&row.domain_class) else {
                bail!(
                    "property {} has an unknown domain class {}",
                    row.prop_name,
                    row.domain_class
                );
            };
            let range_prefix = if row.range_class.is_empty() {
                None
            } else {
                match prefix_of.get(&row.range_class) {
                    Some(prefix) => Some(prefix.clone()),
                    None => bail!(
                        "property {} has an unknown range class {}",
                        row.prop_name,
                        row.range_class
                    ),
                }
            };
            properties.insert(
                row.prop_name,
                PropertyDef {
                    domain_prefix: domain_prefix.clone(),
                    range_kind: ObjectType::from_wire(&row.range_kind),
                    range_kind_name: row.range_kind,
                    range_prefix,
                },
            );
        }
        Ok(Ontology {
            classes,
            properties,
        })
    }

    /// Validates one triple the way the API does: an unknown class or predicate ends the check;
    /// otherwise domain, range type, entity reference and literal errors all add up.
    pub fn validate(
        &self,
        subject_id: &str,
        predicate: &str,
        object_value: &str,
        object_type: ObjectType,
    ) -> Vec<ValidationError> {
        let subject_prefix = prefix_of(subject_id);
        let Some(subject_class) = self.classes.get(subject_prefix) else {
            return vec![ValidationError {
                error_type: "unknown_class",
                message: format!("No ontology class found for prefix '{subject_prefix}'"),
                predicate: None,
                expected: None,
                actual: Some(subject_prefix.to_owned()),
            }];
        };
        let Some(property) = self.properties.get(predicate) else {
            return vec![ValidationError {
                error_type: "unknown_predicate",
                message: format!("Predicate '{predicate}' not found in ontology"),
                predicate: Some(predicate.to_owned()),
                expected: None,
                actual: None,
            }];
        };
        let mut errors = Vec::new();
        if property.domain_prefix != subject_class.prefix {
            let domain_name = self.class_name(&property.domain_prefix);
            errors.push(ValidationError {
                error_type: "domain_violation",
                message: format!(
                    "Predicate '{predicate}' domain is '{domain_name}', but subject is '{}'",
                    subject_class.name
                ),
                predicate: Some(predicate.to_owned()),
                expected: Some(domain_name.to_owned()),
                actual: Some(subject_class.name.clone()),
            });
        }
        if property.range_kind.is_some_and(|kind| kind != object_type) {
            errors.push(ValidationError {
                error_type: "range_type_mismatch",
                message: format!(
                    "Predicate '{predicate}' expects type '{}', got '{object_type}'",
                    property.range_kind_name
                ),
                predicate: Some(predicate.to_owned()),
                expected: Some(property.range_kind_name.clone()),
                actual: Some(object_type.as_str().to_owned()),
            });
        }
        if object_type == ObjectType::EntityRef {
            if !object_value.contains(':') {
                errors.push(ValidationError {
                    error_type: "invalid_entity_ref",
                    message: "Entity reference must be in format 'prefix:id'".to_owned(),
                    predicate: None,
                    expected: None,
                    actual: Some(object_value.to_owned()),
                });
            } else if let Some(range_prefix) = &property.range_prefix {
                let object_prefix = prefix_of(object_value);
                // Like the API: a reference to a prefix no class has is not checked.
                if object_prefix != range_prefix && self.classes.contains_key(object_prefix) {
                    errors.push(ValidationError {
                        error_type: "range_class_mismatch",
                        message: format!(
                            "Entity reference should be of type '{}' (prefix '{range_prefix}'), got prefix '{object_prefix}'",
                            self.class_name(range_prefix)
                        ),
                        predicate: Some(predicate.to_owned()),
                        expected: Some(range_prefix.clone()),
                        actual: Some(object_prefix.to_owned()),
                    });
                }
            }
        }
        if let Some(error) = literal_error(object_value, object_type) {
            errors.push(error);
        }
        errors
    }

    fn class_name<'a>(&'a self, prefix: &'a str) -> &'a str {
        self.classes.get(prefix).map_or(prefix, |c| c.name.as_str())
    }
}

/// The part of an id before its first colon (the whole id if it has none).
pub fn prefix_of(id: &str) -> &str {
    id.split_once(':').map_or(id, |(prefix, _)| prefix)
}

fn literal_error(value: &str, object_type: ObjectType) -> Option<ValidationError> {
    let (valid, what, expected) = match object_type {
        ObjectType::Int => (literal::is_int(value), "a valid integer", "integer"),
        ObjectType::Float => (literal::is_float(value), "a valid float", "float"),
        ObjectType::Bool => (
            literal::is_bool(value),
            "a valid boolean (expected 'true' or 'false')",
            "true or false",
        ),
        ObjectType::Timestamp => (
            literal::is_timestamp(value),
            "a valid timestamp",
            "ISO 8601 timestamp",
        ),
        ObjectType::Date => (
            literal::is_date(value),
            "a valid date",
            "ISO 8601 date (YYYY-MM-DD)",
        ),
        ObjectType::String | ObjectType::EntityRef => return None,
    };
    (!valid).then(|| ValidationError {
        error_type: "invalid_literal",
        message: format!("Value '{value}' is not {what}"),
        predicate: None,
        expected: Some(expected.to_owned()),
        actual: Some(value.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(errors: &[ValidationError]) -> Vec<&'static str> {
        errors.iter().map(|e| e.error_type).collect()
    }

    #[test]
    fn builtin_ontology_parses() {
        let ontology = Ontology::builtin().unwrap();
        assert_eq!(ontology.classes.len(), 8);
        assert_eq!(ontology.properties.len(), 54);
        assert!(ontology.properties.contains_key("order_status"));
    }

    #[test]
    fn valid_triples_pass() {
        let o = Ontology::builtin().unwrap();
        assert!(o
            .validate("order:FM-1", "order_status", "CREATED", ObjectType::String)
            .is_empty());
        assert!(o
            .validate(
                "order:FM-1",
                "placed_by",
                "customer:00001",
                ObjectType::EntityRef
            )
            .is_empty());
        assert!(o
            .validate("orderline:FM-1-01", "quantity", "3", ObjectType::Int)
            .is_empty());
        assert!(o
            .validate(
                "order:FM-1",
                "delivery_window_start",
                "2026-11-27T18:30:00",
                ObjectType::Timestamp
            )
            .is_empty());
        // No existence check, and no check of a reference to an unknown class.
        assert!(o
            .validate(
                "order:FM-1",
                "placed_by",
                "customer:nobody",
                ObjectType::EntityRef
            )
            .is_empty());
        assert!(o
            .validate("order:FM-1", "placed_by", "alien:1", ObjectType::EntityRef)
            .is_empty());
    }

    #[test]
    fn each_rule_has_its_error_type() {
        let o = Ontology::builtin().unwrap();
        let check = |s: &str, p: &str, v: &str, t: ObjectType| types(&o.validate(s, p, v, t));
        assert_eq!(
            check("alien:1", "order_status", "x", ObjectType::String),
            ["unknown_class"]
        );
        assert_eq!(
            check("order:1", "colour", "x", ObjectType::String),
            ["unknown_predicate"]
        );
        assert_eq!(
            check("customer:1", "order_status", "x", ObjectType::String),
            ["domain_violation"]
        );
        assert_eq!(
            check("orderline:1", "quantity", "3", ObjectType::String),
            ["range_type_mismatch"]
        );
        assert_eq!(
            check("orderline:1", "quantity", "three", ObjectType::Int),
            ["invalid_literal"]
        );
        assert_eq!(
            check("order:1", "placed_by", "store:BK-01", ObjectType::EntityRef),
            ["range_class_mismatch"]
        );
        assert_eq!(
            check("order:1", "placed_by", "customer", ObjectType::EntityRef),
            ["invalid_entity_ref"]
        );
        assert_eq!(
            check("customer:1", "quantity", "x", ObjectType::Int),
            ["domain_violation", "invalid_literal"]
        );
    }

    #[test]
    fn messages_match_the_api() {
        let o = Ontology::builtin().unwrap();
        let e = &o.validate("customer:1", "order_status", "x", ObjectType::String)[0];
        assert_eq!(
            e.message,
            "Predicate 'order_status' domain is 'Order', but subject is 'Customer'"
        );
        assert_eq!(e.expected.as_deref(), Some("Order"));
        let e = &o.validate("order:1", "placed_by", "store:BK-01", ObjectType::EntityRef)[0];
        assert_eq!(
            e.message,
            "Entity reference should be of type 'Customer' (prefix 'customer'), got prefix 'store'"
        );
    }
}
