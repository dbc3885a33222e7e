//! Typed views and constructors for the cyber-observables threatgate merges on:
//! ipv4-addr, ipv6-addr, domain-name, url, file, email-addr, autonomous-system,
//! network-traffic.
//!
//! Constructors give every SCO its deterministic id ([`crate::id::sco_id`]), so the same
//! observable built anywhere is the same object.

use serde_json::{Map, Value};

use crate::id::{sco_id, IdError};
use crate::object::StixObject;
use crate::view::view;

view!(
    /// `ipv4-addr` (section 6.4): an IPv4 address or CIDR block.
    Ipv4Addr, "ipv4-addr" { str value, list resolves_to_refs, list belongs_to_refs });

view!(
    /// `ipv6-addr` (section 6.5): an IPv6 address or CIDR block.
    Ipv6Addr, "ipv6-addr" { str value, list resolves_to_refs, list belongs_to_refs });

view!(
    /// `domain-name` (section 6.3).
    DomainName, "domain-name" { str value, list resolves_to_refs });

view!(
    /// `url` (section 6.15).
    Url, "url" { str value });

view!(
    /// `email-addr` (section 6.8).
    EmailAddr, "email-addr" { str value, str display_name, str belongs_to_ref });

view!(
    /// `autonomous-system` (section 6.2).
    AutonomousSystem, "autonomous-system" { int number, str name, str rir });

view!(
    /// `file` (section 6.7).
    File, "file" {
    value hashes, int size, str name, str name_enc, str magic_number_hex, str mime_type,
    ts ctime, ts mtime, ts atime, str parent_directory_ref, list contains_refs, str content_ref,
    value extensions,
});

view!(
    /// `network-traffic` (section 6.12).
    NetworkTraffic, "network-traffic" {
    ts start, ts end, bool is_active, str src_ref, str dst_ref, int src_port, int dst_port,
    list protocols, int src_byte_count, int dst_byte_count, int src_packets, int dst_packets,
    value ipfix, str src_payload_ref, str dst_payload_ref, list encapsulates_refs,
    str encapsulated_by_ref, value extensions,
});

impl File<'_> {
    /// A hash by algorithm name, matching loosely: `SHA-256`, `sha256` and `SHA256` all
    /// find the spec's `SHA-256` key (feeds are inconsistent about it).
    pub fn hash(&self, algorithm: &str) -> Option<&str> {
        let want = normalise_alg(algorithm);
        self.0
            .get("hashes")?
            .as_object()?
            .iter()
            .find(|(k, _)| normalise_alg(k) == want)
            .and_then(|(_, v)| v.as_str())
    }
}

fn normalise_alg(a: &str) -> String {
    a.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A new SCO of `type_name` with `properties` (a JSON object), `spec_version` 2.1 and its
/// deterministic id. Fails for types without ID-contributing properties (e.g. process)
/// or when none of them is present.
pub fn new_sco(type_name: &str, properties: Value) -> Result<StixObject, IdError> {
    let Value::Object(props) = properties else {
        return Err(IdError::NotAnObject);
    };
    let id = sco_id(type_name, &Value::Object(props.clone()))?;
    let mut map = Map::new();
    map.insert("type".into(), Value::from(type_name));
    map.insert("spec_version".into(), Value::from("2.1"));
    map.insert("id".into(), Value::from(id));
    for (k, v) in props {
        if !matches!(k.as_str(), "type" | "spec_version" | "id") {
            map.insert(k, v);
        }
    }
    Ok(StixObject::from_map(map))
}

/// An `ipv4-addr` SCO.
pub fn ipv4(value: &str) -> StixObject {
    value_sco("ipv4-addr", value)
}

/// An `ipv6-addr` SCO.
pub fn ipv6(value: &str) -> StixObject {
    value_sco("ipv6-addr", value)
}

/// A `domain-name` SCO.
pub fn domain(value: &str) -> StixObject {
    value_sco("domain-name", value)
}

/// A `url` SCO.
pub fn url(value: &str) -> StixObject {
    value_sco("url", value)
}

/// An `email-addr` SCO.
pub fn email(value: &str) -> StixObject {
    value_sco("email-addr", value)
}

/// A `file` SCO known by its hashes, e.g. `&[("SHA-256", "…")]`. `None` if no hash given.
pub fn file_with_hashes(hashes: &[(&str, &str)]) -> Option<StixObject> {
    let map: Map<String, Value> = hashes
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    new_sco("file", serde_json::json!({ "hashes": map })).ok()
}

fn value_sco(type_name: &str, value: &str) -> StixObject {
    new_sco(type_name, serde_json::json!({ "value": value })).expect("value is always present")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Pointer;
    use crate::validate::validate_object;
    use crate::view::View;
    use serde_json::json;

    #[test]
    fn constructors_use_deterministic_ids_and_validate() {
        let ip = ipv4("1.2.3.4");
        assert_eq!(
            ip.id(),
            Some("ipv4-addr--0198f97b-e65d-5025-87e5-58bc39d4bdb4")
        );
        let f = file_with_hashes(&[(
            "SHA-256",
            "ceafbfd424be2ca4a5f0402cae090dda2fb0526cf521b60b60077c0f622b373a",
        )])
        .unwrap();
        let dst = ipv4("10.0.0.1");
        let nt = new_sco(
            "network-traffic",
            json!({"dst_ref": dst.id(), "dst_port": 443, "protocols": ["ipv4", "tcp"]}),
        )
        .unwrap();
        for o in [
            &ip,
            &f,
            &dst,
            &nt,
            &domain("example.com"),
            &url("http://e.example/"),
            &email("a@example.com"),
            &ipv6("::1"),
        ] {
            let r = validate_object(o, &Pointer::root());
            assert!(r.issues.is_empty(), "{:?}", r.issues);
        }
        match f.view() {
            View::File(v) => assert!(v.hash("sha256").is_some() && v.hash("md5").is_none()),
            other => panic!("{other:?}"),
        }
        match nt.view() {
            View::NetworkTraffic(v) => {
                assert_eq!(v.dst_port(), Some(443));
                assert_eq!(v.protocols(), vec!["ipv4", "tcp"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(new_sco("process", json!({"pid": 4})).is_err());
    }
}
