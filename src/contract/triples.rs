//! Triples as the API takes them: `{subject_id, predicate, object_value, object_type}`, where
//! the value is always a JSON string.

use serde::Serialize;

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

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Triple {
    pub subject_id: String,
    pub predicate: &'static str,
    pub object_value: String,
    pub object_type: ObjectType,
}

/// Builds the triples of one subject.
pub struct SubjectTriples<'a> {
    subject: &'a str,
    out: &'a mut Vec<Triple>,
}

impl<'a> SubjectTriples<'a> {
    pub fn new(subject: &'a str, out: &'a mut Vec<Triple>) -> Self {
        SubjectTriples { subject, out }
    }

    pub fn add(
        &mut self,
        predicate: &'static str,
        object_type: ObjectType,
        value: String,
    ) -> &mut Self {
        self.out.push(Triple {
            subject_id: self.subject.to_string(),
            predicate,
            object_value: value,
            object_type,
        });
        self
    }
}
