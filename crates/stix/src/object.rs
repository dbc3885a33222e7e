//! The generic STIX object: any type, every property, nothing lost.
//!
//! The raw JSON map is the source of truth. Typed views ([`crate::sdo`], [`crate::sco`])
//! and accessors read from it; nothing is parsed into a struct that could drop a custom
//! property or reformat a timestamp. The workspace's `serde_json` keeps key order
//! (`preserve_order`), so a round trip keeps even the order of properties.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::common::{Category, Timestamp};

/// One STIX object (SDO, SCO, SRO, meta or custom) as its JSON properties.
///
/// Construction only requires a JSON object; whether it is a *valid* STIX object is
/// [`crate::validate`]'s question, so invalid input can still be carried, reported on
/// and quarantined without being lost.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StixObject {
    map: Map<String, Value>,
}

/// The value given to [`StixObject::from_value`] was not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a STIX object must be a JSON object, found {found}")]
pub struct NotAnObject {
    /// JSON kind found instead (`array`, `string`, ...).
    pub found: &'static str,
}

/// Name of the JSON kind of `v` with its article (`an object`, `null`), for messages such as
/// "found an array". Public so that other readers of JSON (threatgate's MISP ingest) word
/// these messages the same way.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl StixObject {
    /// Wrap a JSON map as is.
    pub fn from_map(map: Map<String, Value>) -> StixObject {
        StixObject { map }
    }

    /// Wrap a JSON value; it must be an object.
    pub fn from_value(value: Value) -> Result<StixObject, NotAnObject> {
        match value {
            Value::Object(map) => Ok(StixObject { map }),
            other => Err(NotAnObject {
                found: json_kind(&other),
            }),
        }
    }

    /// Parse one object from JSON text (not a bundle; see [`crate::bundle`] for those).
    pub fn from_json(text: &str) -> Result<StixObject, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The properties, in their original order.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// Mutable access to the properties. Callers changing an SCO's contributing
    /// properties must recompute its id ([`crate::id::sco_id`]).
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.map
    }

    /// The properties, consuming the object.
    pub fn into_map(self) -> Map<String, Value> {
        self.map
    }

    /// The object as a JSON value, consuming it.
    pub fn into_value(self) -> Value {
        Value::Object(self.map)
    }

    /// Compact JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.map).expect("a JSON map always serialises")
    }

    /// A property, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// A string property, if present and a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.map.get(key).and_then(Value::as_str)
    }

    /// A boolean property, if present and a boolean.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.map.get(key).and_then(Value::as_bool)
    }

    /// An integer property, if present and an integer.
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.map.get(key).and_then(Value::as_i64)
    }

    /// The strings of a list-of-strings property; non-strings are skipped. Empty if absent.
    pub fn get_str_list(&self, key: &str) -> Vec<&str> {
        match self.map.get(key) {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// A timestamp property, parsed. `None` if absent or not a valid STIX timestamp.
    pub fn get_timestamp(&self, key: &str) -> Option<Timestamp> {
        self.get_str(key).and_then(|s| Timestamp::parse(s).ok())
    }

    /// Set a property, returning the previous value.
    pub fn set(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.map.insert(key.into(), value)
    }

    /// Remove a property (keeping the order of the others), returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.map.shift_remove(key)
    }

    /// `type`, if present and a string.
    pub fn type_name(&self) -> Option<&str> {
        self.get_str("type")
    }

    /// `id`, if present and a string.
    pub fn id(&self) -> Option<&str> {
        self.get_str("id")
    }

    /// SDO, SCO, SRO, meta or custom, from `type`.
    pub fn category(&self) -> Category {
        Category::of(self.type_name().unwrap_or(""))
    }

    /// `spec_version`, if present.
    pub fn spec_version(&self) -> Option<&str> {
        self.get_str("spec_version")
    }

    /// `created`, parsed.
    pub fn created(&self) -> Option<Timestamp> {
        self.get_timestamp("created")
    }

    /// `modified`, parsed.
    pub fn modified(&self) -> Option<Timestamp> {
        self.get_timestamp("modified")
    }

    /// `created_by_ref`, if present.
    pub fn created_by_ref(&self) -> Option<&str> {
        self.get_str("created_by_ref")
    }

    /// `labels` (empty if absent).
    pub fn labels(&self) -> Vec<&str> {
        self.get_str_list("labels")
    }

    /// `confidence`, if present and an integer.
    pub fn confidence(&self) -> Option<i64> {
        self.get_i64("confidence")
    }

    /// `revoked`; absent means false.
    pub fn revoked(&self) -> bool {
        self.get_bool("revoked").unwrap_or(false)
    }

    /// `object_marking_refs` (empty if absent).
    pub fn object_marking_refs(&self) -> Vec<&str> {
        self.get_str_list("object_marking_refs")
    }

    /// Marking ids of `granular_markings` entries (those with a `marking_ref`).
    pub fn granular_marking_refs(&self) -> Vec<&str> {
        match self.map.get("granular_markings") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|g| g.get("marking_ref").and_then(Value::as_str))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `external_references` entries as JSON objects (empty if absent).
    pub fn external_references(&self) -> Vec<&Map<String, Value>> {
        match self.map.get("external_references") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
            _ => Vec::new(),
        }
    }

    /// Every id this object references: each `*_ref` and `*_refs` property at the top
    /// level and inside `extensions` and `granular_markings`. Used to check references
    /// and to pull in dependencies on export.
    pub fn references(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        collect_refs(&self.map, &mut out, 0);
        out
    }

    /// Properties the spec does not define for any object: those whose name starts with
    /// `x_` (the 2.1 convention), kept and round-tripped like all others.
    pub fn custom_properties(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.map.iter().filter(|(k, _)| k.starts_with("x_"))
    }
}

fn collect_refs<'a>(map: &'a Map<String, Value>, out: &mut Vec<(&'a str, &'a str)>, depth: usize) {
    if depth > 4 {
        return;
    }
    for (k, v) in map {
        if k.ends_with("_ref") {
            if let Some(s) = v.as_str() {
                out.push((k.as_str(), s));
            }
        } else if k.ends_with("_refs") {
            if let Some(a) = v.as_array() {
                out.extend(a.iter().filter_map(Value::as_str).map(|s| (k.as_str(), s)));
            }
        } else if k == "extensions" {
            if let Some(exts) = v.as_object() {
                for e in exts.values().filter_map(Value::as_object) {
                    collect_refs(e, out, depth + 1);
                }
            }
        } else if k == "granular_markings" {
            if let Some(a) = v.as_array() {
                for g in a.iter().filter_map(Value::as_object) {
                    collect_refs(g, out, depth + 1);
                }
            }
        }
    }
}

impl TryFrom<Value> for StixObject {
    type Error = NotAnObject;
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        StixObject::from_value(value)
    }
}

impl From<StixObject> for Value {
    fn from(o: StixObject) -> Value {
        o.into_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_everything_in_order() {
        let text = r#"{"type":"x-acme-thing","id":"x-acme-thing--4527e5de-8572-446a-a57a-706f15467461","zeta":1,"alpha":{"b":[1,2.5,"x"],"a":null},"x_acme":true}"#;
        let o = StixObject::from_json(text).unwrap();
        assert_eq!(o.to_json(), text);
        assert_eq!(o.type_name(), Some("x-acme-thing"));
        assert_eq!(o.category(), Category::Custom);
        assert_eq!(o.custom_properties().count(), 1);
    }

    #[test]
    fn references_are_found() {
        let o = StixObject::from_value(json!({
            "type": "sighting", "sighting_of_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "where_sighted_refs": ["identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"],
            "granular_markings": [{"marking_ref": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "selectors": ["type"]}]
        }))
        .unwrap();
        assert_eq!(o.references().len(), 3);
        assert!(StixObject::from_value(json!([1])).is_err());
    }
}
