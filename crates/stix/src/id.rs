//! STIX identifiers: `type--UUID` syntax, random ids for SDOs, and the deterministic
//! UUIDv5 ids of cyber-observables (STIX 2.1 section 2.9).
//!
//! Deterministic SCO ids are what make "the same IP from two sources" one object: the id
//! is a UUIDv5 in the STIX namespace over the JSON Canonicalization Scheme (RFC 8785)
//! serialisation of the type's ID-contributing properties. The property lists and the
//! hash choice below follow the spec and the OASIS `stix2` library exactly; the tests in
//! `tests/sco_ids.rs` compare against ids recorded from `stix2` itself.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::common::is_valid_type_name;

/// The namespace of deterministic SCO ids, fixed by STIX 2.1 section 2.9.
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// A parsed STIX identifier, `type--UUID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StixId<'a> {
    /// The object type before `--`.
    pub type_name: &'a str,
    /// The UUID after `--`.
    pub uuid: Uuid,
}

/// Why a string is not a STIX identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// No `--` separator at all.
    #[error("`{0}` is not a STIX id: expected `type--UUID`")]
    NoSeparator(String),
    /// The part before `--` is not a valid type name.
    #[error("`{0}` is not a STIX id: `{1}` is not a valid object type")]
    BadType(String, String),
    /// The part after `--` is not an RFC 4122 UUID in canonical (hyphenated) form.
    #[error("`{0}` is not a STIX id: `{1}` is not an RFC 4122 UUID")]
    BadUuid(String, String),
    /// Deterministic id requested for a type with no ID-contributing properties, or none present.
    #[error("type `{0}` has no ID-contributing properties present; use a random (UUIDv4) id")]
    NoContributingProperties(String),
    /// The property value given to an id constructor was not a JSON object.
    #[error("ID-contributing properties must be given as a JSON object")]
    NotAnObject,
}

impl<'a> StixId<'a> {
    /// Parse `type--UUID`. The UUID must be hyphenated (8-4-4-4-12 hex digits), an RFC
    /// 4122 UUID (that variant, versions 1 to 5), as the spec and the OASIS schema require.
    /// Upper-case hex is accepted (RFC 4122 input is case-insensitive); validation warns
    /// about it because ids are compared as strings.
    pub fn parse(s: &'a str) -> Result<StixId<'a>, IdError> {
        let (type_name, uuid_text) = s
            .split_once("--")
            .ok_or_else(|| IdError::NoSeparator(s.to_string()))?;
        if !is_valid_type_name(type_name) {
            return Err(IdError::BadType(s.to_string(), type_name.to_string()));
        }
        let bad_uuid = || IdError::BadUuid(s.to_string(), uuid_text.to_string());
        let canonical_shape = uuid_text.len() == 36
            && uuid_text.bytes().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == b'-',
                _ => c.is_ascii_hexdigit(),
            });
        if !canonical_shape {
            return Err(bad_uuid());
        }
        let uuid = Uuid::from_str(uuid_text).map_err(|_| bad_uuid())?;
        if uuid.get_variant() != uuid::Variant::RFC4122
            || !(1..=5).contains(&uuid.get_version_num())
        {
            return Err(bad_uuid());
        }
        Ok(StixId { type_name, uuid })
    }
}

impl fmt::Display for StixId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}--{}", self.type_name, self.uuid)
    }
}

/// The object type an id names, without validating the UUID (cheap, for reference checks).
pub fn id_type(id: &str) -> Option<&str> {
    id.split_once("--").map(|(t, _)| t)
}

/// A new random (UUIDv4) id for an SDO, SRO or meta object of `type_name`.
pub fn random_id(type_name: &str) -> String {
    format!("{type_name}--{}", Uuid::new_v4())
}

/// The ID-contributing properties of each SCO type (STIX 2.1, each SCO's section), in
/// the spec's order. Types not listed (and `process`) get random ids.
pub fn contributing_properties(type_name: &str) -> Option<&'static [&'static str]> {
    Some(match type_name {
        "artifact" => &["hashes", "payload_bin"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => &["value"],
        "email-message" => &["from_ref", "subject", "body"],
        "file" => &["hashes", "name", "parent_directory_ref", "extensions"],
        "mutex" => &["name"],
        "network-traffic" => &[
            "start",
            "end",
            "src_ref",
            "dst_ref",
            "src_port",
            "dst_port",
            "protocols",
            "extensions",
        ],
        "software" => &["name", "cpe", "swid", "vendor", "version"],
        "user-account" => &["account_type", "user_id", "account_login"],
        "windows-registry-key" => &["key", "values"],
        "x509-certificate" => &["hashes", "serial_number"],
        _ => return None,
    })
}

/// Pick the one hash that contributes to an id: MD5, then SHA-1, SHA-256, SHA-512, else
/// the first one given. This is what `stix2` does, and ids must agree with it.
fn choose_one_hash(hashes: &Map<String, Value>) -> Option<(String, Value)> {
    for k in ["MD5", "SHA-1", "SHA-256", "SHA-512"] {
        if let Some(v) = hashes.get(k) {
            return Some((k.to_string(), v.clone()));
        }
    }
    hashes.iter().next().map(|(k, v)| (k.clone(), v.clone()))
}

/// The deterministic id of an SCO of `type_name` with the given properties (the whole
/// object or just the contributing properties; others are ignored).
///
/// ```
/// use serde_json::json;
/// let id = stix::id::sco_id("ipv4-addr", &json!({"value": "1.2.3.4"})).unwrap();
/// assert!(id.starts_with("ipv4-addr--"));
/// ```
pub fn sco_id(type_name: &str, properties: &Value) -> Result<String, IdError> {
    sco_id_from_map(
        type_name,
        properties.as_object().ok_or(IdError::NotAnObject)?,
    )
}

/// [`sco_id`] over a property map (e.g. [`crate::StixObject::as_map`]), without
/// building a `Value` first.
pub fn sco_id_from_map(type_name: &str, props: &Map<String, Value>) -> Result<String, IdError> {
    let names = contributing_properties(type_name)
        .ok_or_else(|| IdError::NoContributingProperties(type_name.to_string()))?;
    let mut selected = Map::new();
    for name in names {
        let Some(v) = props.get(*name) else { continue };
        if v.is_null() {
            continue;
        }
        if *name == "hashes" {
            if let Some((k, h)) = v.as_object().and_then(choose_one_hash) {
                let mut one = Map::new();
                one.insert(k, h);
                selected.insert((*name).to_string(), Value::Object(one));
            }
            continue;
        }
        selected.insert((*name).to_string(), v.clone());
    }
    if selected.is_empty() {
        return Err(IdError::NoContributingProperties(type_name.to_string()));
    }
    let canonical = jcs(&Value::Object(selected));
    Ok(format!(
        "{type_name}--{}",
        Uuid::new_v5(&SCO_NAMESPACE, canonical.as_bytes())
    ))
}

/// Id of an `ipv4-addr` with `value`.
pub fn ipv4_id(value: &str) -> String {
    value_id("ipv4-addr", value)
}

/// Id of an `ipv6-addr` with `value`.
pub fn ipv6_id(value: &str) -> String {
    value_id("ipv6-addr", value)
}

/// Id of a `domain-name` with `value`.
pub fn domain_id(value: &str) -> String {
    value_id("domain-name", value)
}

/// Id of a `url` with `value`.
pub fn url_id(value: &str) -> String {
    value_id("url", value)
}

/// Id of an `email-addr` with `value`.
pub fn email_id(value: &str) -> String {
    value_id("email-addr", value)
}

/// Id of an `autonomous-system` with `number`.
pub fn autonomous_system_id(number: u32) -> String {
    sco_id(
        "autonomous-system",
        &serde_json::json!({ "number": number }),
    )
    .expect("number is always present")
}

/// Id of a `file` known only by hashes, e.g. `&[("SHA-256", "…")]`. Algorithm names are
/// the spec's hash vocabulary (`MD5`, `SHA-1`, `SHA-256`, `SHA-512`, ...). Returns
/// `None` for an empty list.
pub fn file_id_from_hashes(hashes: &[(&str, &str)]) -> Option<String> {
    let map: Map<String, Value> = hashes
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    sco_id("file", &serde_json::json!({ "hashes": map })).ok()
}

fn value_id(type_name: &str, value: &str) -> String {
    sco_id(type_name, &serde_json::json!({ "value": value })).expect("value is always present")
}

/// RFC 8785 JSON Canonicalization Scheme: keys sorted by UTF-16 code units, no
/// whitespace, minimal string escaping, numbers in ECMAScript form.
pub fn jcs(value: &Value) -> String {
    let mut out = String::new();
    write_jcs(value, &mut out);
    out
}

fn write_jcs(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&es6_number(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => write_jcs_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs(v, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs_string(k, out);
                out.push(':');
                write_jcs(&m[k], out);
            }
            out.push('}');
        }
    }
}

fn write_jcs_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// ECMAScript `Number.prototype.toString` for a finite double (RFC 8785 section 3.2.2.3).
fn es6_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".to_string();
    }
    // `{:e}` gives the shortest round-trip digits, e.g. "1.2345e-7".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1; // position of the decimal point relative to the digits
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e < 0 { '-' } else { '+' };
        if k == 1 {
            format!("{digits}e{sign}{}", e.abs())
        } else {
            format!("{}.{}e{sign}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    if x < 0.0 {
        format!("-{body}")
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_ids() {
        let id = StixId::parse("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").unwrap();
        assert_eq!(id.type_name, "indicator");
        assert!(StixId::parse("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_err());
        assert!(StixId::parse("indicator--8E2E2D2B-17d4-4cbf-938f-98ee46b3cd3f").is_ok());
        // RFC 4122 defines versions 1 to 5 only.
        assert!(StixId::parse("indicator--018f2e2d-17d4-7cbf-938f-98ee46b3cd3f").is_err());
        assert!(StixId::parse("indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f").is_err());
        assert!(StixId::parse("Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_err());
        // variant bits 0b0xxx (NCS) are not RFC 4122
        assert!(StixId::parse("indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f").is_err());
    }

    #[test]
    fn jcs_numbers_follow_ecmascript() {
        assert_eq!(es6_number(1e21), "1e+21");
        assert_eq!(es6_number(1e20), "100000000000000000000");
        assert_eq!(es6_number(0.000001), "0.000001");
        assert_eq!(es6_number(1e-7), "1e-7");
        assert_eq!(es6_number(-1.5), "-1.5");
        assert_eq!(es6_number(123.456), "123.456");
        assert_eq!(es6_number(4.5e-300), "4.5e-300");
    }

    #[test]
    fn jcs_sorts_keys_by_utf16() {
        let v = json!({"b": 1, "a": [true, null, "\u{1f600}\n"], "\u{e000}": 0, "\u{1f600}": 0});
        assert_eq!(
            jcs(&v),
            "{\"a\":[true,null,\"\u{1f600}\\n\"],\"b\":1,\"\u{1f600}\":0,\"\u{e000}\":0}"
        );
    }

    #[test]
    fn spec_example_ids() {
        // Hashes choice: MD5 wins over SHA-256 whatever the order given.
        let a = sco_id("file", &json!({"hashes": {"SHA-256": "aa", "MD5": "bb"}})).unwrap();
        let b = sco_id("file", &json!({"hashes": {"MD5": "bb"}})).unwrap();
        assert_eq!(a, b);
        assert!(sco_id("process", &json!({"pid": 1})).is_err());
        assert!(sco_id("ipv4-addr", &json!({"resolves_to_refs": []})).is_err());
    }
}
