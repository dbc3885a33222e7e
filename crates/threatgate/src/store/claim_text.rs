//! How a source record's claim is kept in the `records.claim` column.
//!
//! Stored compactly: fields that say nothing (`null`, `[]`, `false`) are left out. A
//! typical claim is about half as long that way, and at a million records that is
//! ~150 MB less to write to the WAL, checkpoint, and parse back when merging
//! (`bench/INGEST_RESULTS.md`). Reading accepts both this form and the full form that
//! earlier versions wrote, since [`Claim`] fills absent fields with their defaults.
//!
//! The column's form is private to the store: the API and the command line serialise
//! [`Claim`] itself, with every field present.

use serde::Serialize;

use crate::model::{Claim, Pap, Time, Tlp};

fn is_false(b: &bool) -> bool {
    !*b
}

/// [`Claim`] by reference, with the empty fields skipped.
#[derive(Serialize)]
struct Compact<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: &'a Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: &'a Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: &'a Option<u8>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    labels: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    malware: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    tlp: &'a Option<Tlp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pap: &'a Option<Pap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_until: &'a Option<Time>,
    #[serde(skip_serializing_if = "is_false")]
    revoked: &'a bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stix_ids: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    references: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ports: &'a [u16],
    #[serde(skip_serializing_if = "Option::is_none")]
    reliability: &'a Option<char>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credibility: &'a Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: &'a Option<String>,
}

/// The column text of a claim.
pub fn encode(claim: &Claim) -> String {
    // Destructured without `..`: a field added to `Claim` does not compile here until it
    // is stored too.
    let Claim {
        first_seen,
        last_seen,
        confidence,
        labels,
        malware,
        tlp,
        pap,
        valid_until,
        revoked,
        stix_ids,
        references,
        ports,
        reliability,
        credibility,
        description,
    } = claim;
    let compact = Compact {
        first_seen,
        last_seen,
        confidence,
        labels,
        malware,
        tlp,
        pap,
        valid_until,
        revoked,
        stix_ids,
        references,
        ports,
        reliability,
        credibility,
        description,
    };
    serde_json::to_string(&compact).expect("a claim serialises")
}

/// A claim from its column text, in either the compact or the earlier full form.
pub fn decode(text: &str) -> serde_json::Result<Claim> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono::Utc;

    fn full() -> Claim {
        let t = |d| Utc.with_ymd_and_hms(2025, 1, d, 10, 0, 0).unwrap();
        Claim {
            first_seen: Some(t(1)),
            last_seen: Some(t(2)),
            confidence: Some(0),
            labels: vec!["c2".into()],
            malware: vec!["emotet".into()],
            tlp: Some(Tlp::AmberStrict),
            pap: Some(Pap::Red),
            valid_until: Some(t(3)),
            revoked: true,
            stix_ids: vec!["indicator--c60c2e46-1e83-4b75-a7ac-b7ad21a6ade0".into()],
            references: vec!["https://example.org/report".into()],
            ports: vec![443, 8080],
            reliability: Some('B'),
            credibility: Some(2),
            description: Some(String::new()),
        }
    }

    #[test]
    fn every_field_survives_the_compact_form() {
        let c = full();
        assert_eq!(decode(&encode(&c)).unwrap(), c);
        // Zero and the empty string are values, not absence.
        let text = encode(&c);
        assert!(text.contains(r#""confidence":0"#), "{text}");
        assert!(text.contains(r#""description":"""#), "{text}");
    }

    #[test]
    fn empty_fields_are_left_out_and_come_back_as_defaults() {
        let c = Claim {
            labels: vec!["phishing".into()],
            ..Claim::default()
        };
        assert_eq!(encode(&c), r#"{"labels":["phishing"]}"#);
        assert_eq!(decode(&encode(&c)).unwrap(), c);
        assert_eq!(encode(&Claim::default()), "{}");
        assert_eq!(decode("{}").unwrap(), Claim::default());
    }

    #[test]
    fn the_full_form_earlier_versions_stored_still_reads() {
        let c = full();
        let old = serde_json::to_string(&c).unwrap();
        assert!(old.len() > encode(&Claim::default()).len());
        assert_eq!(decode(&old).unwrap(), c);
        let old_empty = serde_json::to_string(&Claim::default()).unwrap();
        assert!(old_empty.contains(r#""pap":null"#), "{old_empty}");
        assert_eq!(decode(&old_empty).unwrap(), Claim::default());
    }
}
