//! Request parsing with FastAPI-shaped 422 answers: query parameters, and the JSON list of
//! triples a batch endpoint takes (each error an entry of `detail`, as pydantic words it).

use serde_json::{json, Map, Value};

use crate::ontology::ObjectType;
use crate::store::Triple;

/// The entries of a 422 answer's `detail` list.
pub type Detail = Vec<Value>;

const OBJECT_TYPES_EXPECTED: &str =
    "'string', 'int', 'float', 'timestamp', 'date', 'bool' or 'entity_ref'";

/// The query string's parameters, decoded.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Decodes `a=1&b=x%20y`; an undecodable query counts as empty.
    pub fn parse(uri: &axum::http::Uri) -> QueryParams {
        let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|q| q.0)
            .unwrap_or_default();
        QueryParams(pairs)
    }

    /// A parameter's value (the last one, if repeated).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter as pydantic reads one (`true`, `1`, `yes`, `on`, …).
    pub fn bool(&self, name: &str, default: bool, errors: &mut Detail) -> bool {
        let Some(raw) = self.get(name) else {
            return default;
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "on" | "t" | "true" | "y" | "yes" => true,
            "0" | "off" | "f" | "false" | "n" | "no" => false,
            _ => {
                errors.push(json!({
                    "type": "bool_parsing",
                    "loc": ["query", name],
                    "msg": "Input should be a valid boolean, unable to interpret input",
                    "input": raw,
                }));
                default
            }
        }
    }

    /// An integer parameter with optional bounds `ge <= value <= le`.
    pub fn int(
        &self,
        name: &str,
        default: i64,
        ge: Option<i64>,
        le: Option<i64>,
        errors: &mut Detail,
    ) -> i64 {
        let Some(raw) = self.get(name) else {
            return default;
        };
        let Ok(value) = raw.trim().parse::<i64>() else {
            errors.push(json!({
                "type": "int_parsing",
                "loc": ["query", name],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": raw,
            }));
            return default;
        };
        if let Some(ge) = ge.filter(|ge| value < *ge) {
            errors.push(json!({
                "type": "greater_than_equal",
                "loc": ["query", name],
                "msg": format!("Input should be greater than or equal to {ge}"),
                "input": raw,
                "ctx": {"ge": ge},
            }));
        }
        if let Some(le) = le.filter(|le| value > *le) {
            errors.push(json!({
                "type": "less_than_equal",
                "loc": ["query", name],
                "msg": format!("Input should be less than or equal to {le}"),
                "input": raw,
                "ctx": {"le": le},
            }));
        }
        value
    }
}

/// Parses a batch body: a JSON list of `{subject_id, predicate, object_value, object_type}`.
pub fn parse_triples(body: &[u8], errors: &mut Detail) -> Vec<Triple> {
    if body.is_empty() {
        errors.push(json!({
            "type": "missing",
            "loc": ["body"],
            "msg": "Field required",
            "input": null,
        }));
        return Vec::new();
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => {
            errors.push(json!({
                "type": "json_invalid",
                "loc": ["body", error_offset(body, &e)],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": e.to_string()},
            }));
            return Vec::new();
        }
    };
    let Value::Array(items) = value else {
        errors.push(json!({
            "type": "list_type",
            "loc": ["body"],
            "msg": "Input should be a valid list",
            "input": value,
        }));
        return Vec::new();
    };
    let mut triples = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        if let Some(triple) = parse_triple(index, item, errors) {
            triples.push(triple);
        }
    }
    triples
}

fn parse_triple(index: usize, item: &Value, errors: &mut Detail) -> Option<Triple> {
    let Value::Object(fields) = item else {
        errors.push(json!({
            "type": "model_attributes_type",
            "loc": ["body", index],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": item,
        }));
        return None;
    };
    let before = errors.len();
    let subject_id = string_field(index, fields, item, "subject_id", errors);
    if let Some(subject) = subject_id.filter(|s| !s.contains(':')) {
        errors.push(json!({
            "type": "value_error",
            "loc": ["body", index, "subject_id"],
            "msg": "Value error, subject_id must be in format 'prefix:id'",
            "input": subject,
            "ctx": {"error": {}},
        }));
    }
    let predicate = string_field(index, fields, item, "predicate", errors);
    let object_value = string_field(index, fields, item, "object_value", errors);
    let object_type = match fields.get("object_type") {
        None => {
            errors.push(missing(index, "object_type", item));
            None
        }
        Some(raw) => {
            let parsed = raw.as_str().and_then(ObjectType::from_wire);
            if parsed.is_none() {
                errors.push(json!({
                    "type": "enum",
                    "loc": ["body", index, "object_type"],
                    "msg": format!("Input should be {OBJECT_TYPES_EXPECTED}"),
                    "input": raw,
                    "ctx": {"expected": OBJECT_TYPES_EXPECTED},
                }));
            }
            parsed
        }
    };
    if errors.len() > before {
        return None;
    }
    Some(Triple {
        subject_id: subject_id?.to_owned(),
        predicate: predicate?.to_owned(),
        object_value: object_value?.to_owned(),
        object_type: object_type?,
    })
}

fn string_field<'a>(
    index: usize,
    fields: &'a Map<String, Value>,
    item: &Value,
    name: &str,
    errors: &mut Detail,
) -> Option<&'a str> {
    match fields.get(name) {
        None => {
            errors.push(missing(index, name, item));
            None
        }
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            errors.push(json!({
                "type": "string_type",
                "loc": ["body", index, name],
                "msg": "Input should be a valid string",
                "input": other,
            }));
            None
        }
    }
}

fn missing(index: usize, name: &str, item: &Value) -> Value {
    json!({
        "type": "missing",
        "loc": ["body", index, name],
        "msg": "Field required",
        "input": item,
    })
}

/// The character offset of a JSON syntax error, from its line and column.
fn error_offset(body: &[u8], error: &serde_json::Error) -> usize {
    let text = String::from_utf8_lossy(body);
    let preceding: usize = text
        .split('\n')
        .take(error.line().saturating_sub(1))
        .map(|line| line.chars().count() + 1)
        .sum();
    preceding + error.column().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> (Vec<Triple>, Detail) {
        let mut errors = Vec::new();
        let triples = parse_triples(body.as_bytes(), &mut errors);
        (triples, errors)
    }

    #[test]
    fn parses_a_list_of_triples() {
        let (triples, errors) = parse(
            r#"[{"subject_id":"order:1","predicate":"order_status","object_value":"CREATED","object_type":"string","extra":1}]"#,
        );
        assert!(errors.is_empty());
        assert_eq!(
            triples,
            [Triple::new(
                "order:1",
                "order_status",
                "CREATED",
                ObjectType::String
            )]
        );
    }

    #[test]
    fn reports_each_problem_like_pydantic() {
        let (_, errors) =
            parse(r#"[{"subject_id":"nocolon","predicate":3,"object_type":"integer"}, 5]"#);
        let types: Vec<&str> = errors.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "value_error",
                "string_type",
                "missing",
                "enum",
                "model_attributes_type"
            ]
        );
        assert_eq!(errors[0]["loc"], json!(["body", 0, "subject_id"]));
        assert_eq!(errors[4]["loc"], json!(["body", 1]));
        let (_, errors) = parse(r#"{"subject_id":"a:1"}"#);
        assert_eq!(errors[0]["type"], "list_type");
        let (_, errors) = parse("[{");
        assert_eq!(errors[0]["type"], "json_invalid");
        let (_, errors) = parse("");
        assert_eq!(errors[0]["type"], "missing");
    }

    #[test]
    fn query_flags_and_bounds() {
        let uri: axum::http::Uri = "/x?validate=false&limit=5000&offset=-1&bad=maybe"
            .parse()
            .unwrap();
        let q = QueryParams::parse(&uri);
        let mut errors = Vec::new();
        assert!(!q.bool("validate", true, &mut errors));
        assert!(q.bool("absent", true, &mut errors));
        assert!(errors.is_empty());
        q.bool("bad", true, &mut errors);
        q.int("limit", 100, None, Some(1000), &mut errors);
        q.int("offset", 0, Some(0), None, &mut errors);
        let types: Vec<&str> = errors.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["bool_parsing", "less_than_equal", "greater_than_equal"]
        );
    }
}
