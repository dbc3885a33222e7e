//! Typed views and constructors for the domain, relationship and meta objects threatgate
//! works with: indicator, malware, infrastructure, observed-data, sighting, identity,
//! report, relationship, marking-definition.
//!
//! Views borrow a [`StixObject`] (see [`crate::view`]); constructors return a
//! [`StixObject`] with the common properties filled in, ready for more properties via
//! [`StixObject::set`].

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::common::Timestamp;
use crate::id::random_id;
use crate::marking::{interpret_marking_definition, Pap, Tlp};
use crate::object::StixObject;
use crate::view::view;

view!(
    /// `indicator` (STIX 2.1 section 4.7): a pattern for detecting suspicious activity.
    Indicator, "indicator" {
    str name, str description, list indicator_types, str pattern, str pattern_type,
    str pattern_version, ts valid_from, ts valid_until, value kill_chain_phases,
});

view!(
    /// `malware` (section 4.11): a malware instance or family.
    Malware, "malware" {
    str name, str description, list malware_types, bool is_family, list aliases,
    ts first_seen, ts last_seen, list capabilities, list sample_refs, list operating_system_refs,
    list architecture_execution_envs, list implementation_languages, value kill_chain_phases,
});

view!(
    /// `infrastructure` (section 4.8): systems used by an adversary, e.g. C2 servers.
    Infrastructure, "infrastructure" {
    str name, str description, list infrastructure_types, list aliases,
    ts first_seen, ts last_seen, value kill_chain_phases,
});

view!(
    /// `observed-data` (section 4.14): raw observations of SCOs.
    ObservedData, "observed-data" {
    ts first_observed, ts last_observed, int number_observed, list object_refs, value objects,
});

view!(
    /// `sighting` (section 5.2): someone saw an indicator, malware, ... in their systems.
    Sighting, "sighting" {
    str description, ts first_seen, ts last_seen, int count, str sighting_of_ref,
    list observed_data_refs, list where_sighted_refs, bool summary,
});

view!(
    /// `identity` (section 4.5): an organisation, individual or system.
    Identity, "identity" {
    str name, str description, list roles, str identity_class, list sectors, str contact_information,
});

view!(
    /// `report` (section 4.16): a collection of intelligence about a topic.
    Report, "report" {
    str name, str description, list report_types, ts published, list object_refs,
});

view!(
    /// `relationship` (section 5.1): a typed link between two objects.
    Relationship, "relationship" {
    str relationship_type, str description, str source_ref, str target_ref, ts start_time, ts stop_time,
});

view!(
    /// `marking-definition` (section 7.2): a data marking (TLP, statement, extension-defined).
    MarkingDefinition, "marking-definition" {
    str name, str definition_type, value definition, value extensions,
});

impl MarkingDefinition<'_> {
    /// The TLP level this marking states, if any (TLP 1.0 or 2.0).
    pub fn tlp(&self) -> Option<Tlp> {
        interpret_marking_definition(self.0).tlp
    }

    /// The PAP level this marking states, if any.
    pub fn pap(&self) -> Option<Pap> {
        interpret_marking_definition(self.0).pap
    }
}

/// A new SDO/SRO skeleton: `type`, `spec_version`, a random UUIDv4 `id`, and `created` =
/// `modified` = `at` with millisecond precision (the conventional STIX precision).
pub fn new_sdo(type_name: &str, at: DateTime<Utc>) -> StixObject {
    let t = Timestamp::format_millis(at);
    StixObject::from_value(json!({
        "type": type_name,
        "spec_version": "2.1",
        "id": random_id(type_name),
        "created": t,
        "modified": t,
    }))
    .expect("a JSON object literal")
}

/// A STIX-pattern indicator valid from `valid_from`.
pub fn new_indicator(pattern: &str, valid_from: DateTime<Utc>, at: DateTime<Utc>) -> StixObject {
    let mut o = new_sdo("indicator", at);
    o.set("pattern", Value::from(pattern));
    o.set("pattern_type", Value::from("stix"));
    o.set(
        "valid_from",
        Value::from(Timestamp::format_millis(valid_from)),
    );
    o
}

/// A sighting of `sighting_of_ref` (an SDO id, typically an indicator).
pub fn new_sighting(sighting_of_ref: &str, at: DateTime<Utc>) -> StixObject {
    let mut o = new_sdo("sighting", at);
    o.set("sighting_of_ref", Value::from(sighting_of_ref));
    o
}

/// A relationship `source --relationship_type--> target`.
pub fn new_relationship(
    relationship_type: &str,
    source_ref: &str,
    target_ref: &str,
    at: DateTime<Utc>,
) -> StixObject {
    let mut o = new_sdo("relationship", at);
    o.set("relationship_type", Value::from(relationship_type));
    o.set("source_ref", Value::from(source_ref));
    o.set("target_ref", Value::from(target_ref));
    o
}

/// An identity (`identity_class`: individual, group, system, organization, class, unspecified).
pub fn new_identity(name: &str, identity_class: &str, at: DateTime<Utc>) -> StixObject {
    let mut o = new_sdo("identity", at);
    o.set("name", Value::from(name));
    o.set("identity_class", Value::from(identity_class));
    o
}

/// A report over `object_refs`, published at `published`.
pub fn new_report(
    name: &str,
    published: DateTime<Utc>,
    object_refs: &[&str],
    at: DateTime<Utc>,
) -> StixObject {
    let mut o = new_sdo("report", at);
    o.set("name", Value::from(name));
    o.set(
        "published",
        Value::from(Timestamp::format_millis(published)),
    );
    o.set("object_refs", Value::from(object_refs.to_vec()));
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Pointer;
    use crate::validate::validate_object;
    use crate::view::View;

    #[test]
    fn constructed_objects_are_valid_and_viewable() {
        let at = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let ind = new_indicator("[ipv4-addr:value = '1.2.3.4']", at, at);
        let me = new_identity("Hub", "organization", at);
        let mut s = new_sighting(ind.id().unwrap(), at);
        s.set("where_sighted_refs", json!([me.id().unwrap()]));
        s.set("count", json!(3));
        let r = new_relationship(
            "indicates",
            ind.id().unwrap(),
            "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
            at,
        );
        let rep = new_report("Operation X", at, &[ind.id().unwrap(), s.id().unwrap()], at);
        for o in [&ind, &me, &s, &r, &rep] {
            let report = validate_object(o, &Pointer::root());
            assert!(report.is_valid(), "{:?}", report.issues);
        }
        match s.view() {
            View::Sighting(v) => {
                assert_eq!(v.count(), Some(3));
                assert_eq!(v.where_sighted_refs(), vec![me.id().unwrap()]);
                assert_eq!(v.sighting_of_ref(), ind.id());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Indicator::new(&ind).unwrap().valid_from().unwrap().as_str(),
            "2024-05-01T10:00:00.123Z"
        );
        assert!(Indicator::new(&s).is_none());
        assert_eq!(
            MarkingDefinition::new(&Tlp::Amber.marking_definition())
                .unwrap()
                .tlp(),
            Some(Tlp::Amber)
        );
    }
}
