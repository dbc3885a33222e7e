//! The exchange's domain types: organisations, agreements, tokens, observables, source
//! records, STIX objects, shares, sightings and audit entries.
//!
//! These are plain data. What an org may do with them is decided in [`crate::policy`] only.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

pub use observable::{Kind, Observable};

pub type OrgId = i64;
pub type Time = DateTime<Utc>;

/// An error in a user-supplied enum or date, worded for the command line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.pad(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                let l = s.trim().to_ascii_lowercase();
                match l.as_str() {
                    $($text $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(ParseError(format!(
                        "{:?} is not a valid {}; expected one of: {}",
                        s, stringify!($name).to_ascii_lowercase(),
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}

/// TLP and PAP come from the STIX crate, which also knows their marking definitions.
pub use stix::marking::{Pap, Tlp};

/// Parse a TLP level as users write it (`amber+strict`, `TLP:WHITE`, ...).
pub fn parse_tlp(s: &str) -> Result<Tlp, ParseError> {
    Tlp::parse(s).ok_or_else(|| {
        ParseError(format!(
            "{s:?} is not a TLP level; expected one of: clear, green, amber, amber+strict, red"
        ))
    })
}

/// Parse a PAP level as users write it (`green`, `PAP:AMBER`, ...).
pub fn parse_pap(s: &str) -> Result<Pap, ParseError> {
    Pap::parse(s).ok_or_else(|| {
        ParseError(format!(
            "{s:?} is not a PAP level; expected one of: clear, green, amber, red"
        ))
    })
}

string_enum! {
    /// What an organisation is to the exchange. An org may be both partner and member,
    /// which its agreement's role expresses; the kind is its primary role.
    OrgKind { Hub => "hub", Partner => "partner", Member => "member" }
}

string_enum! {
    /// What an agreement lets the org do.
    AgreementRole { Provide => "provide", Receive => "receive", Both => "both" }
}

impl AgreementRole {
    pub fn provides(self) -> bool {
        matches!(self, AgreementRole::Provide | AgreementRole::Both)
    }
    pub fn receives(self) -> bool {
        matches!(self, AgreementRole::Receive | AgreementRole::Both)
    }
}

string_enum! {
    AgreementStatus { Active => "active", Suspended => "suspended", Terminated => "terminated" }
}

string_enum! {
    /// Token roles: what a token may do through the API, independent of what data its org sees.
    TokenRole { Admin => "admin", Analyst => "analyst", Ingest => "ingest", Read => "read" }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub kind: OrgKind,
    /// ISO 3166-1 alpha-2, upper-case; members must have one.
    pub country: Option<String>,
    /// The STIX identity that represents this org in exports.
    pub identity_id: String,
    pub created_at: Time,
}

/// What an organisation name may be; the same rule for the command line and the API.
pub const ORG_NAME_RULE: &str =
    "1 to 200 characters, letters, digits, space, '.', '_' or '-', starting with a letter or digit";

/// Whether `name` follows [`ORG_NAME_RULE`] (no surrounding spaces either).
pub fn valid_org_name(name: &str) -> bool {
    name.len() <= 200
        && name == name.trim()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._-".contains(c))
}

#[derive(Debug, Clone)]
pub struct NewOrg {
    pub name: String,
    pub kind: OrgKind,
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    pub id: i64,
    pub org_id: OrgId,
    pub role: AgreementRole,
    pub signed_on: Time,
    pub valid_from: Time,
    pub valid_until: Time,
    pub max_tlp: Tlp,
    /// STIX types in scope; `None` means every type.
    pub scope: Option<Vec<String>>,
    pub purpose: String,
    /// How long data the org provides may be kept; `None` keeps it indefinitely.
    pub retention_days: Option<i64>,
    pub status: AgreementStatus,
    pub terminated_at: Option<Time>,
    /// The agreement this one renews, so history is kept as a chain.
    pub renews: Option<i64>,
    pub created_at: Time,
}

impl Agreement {
    /// In force at `at`: active or terminated-later, and within [valid_from, valid_until).
    pub fn in_force_at(&self, at: Time) -> bool {
        let live = match self.status {
            AgreementStatus::Active => true,
            AgreementStatus::Suspended => false,
            AgreementStatus::Terminated => self.terminated_at.is_some_and(|t| at < t),
        };
        live && self.valid_from <= at && at < self.valid_until
    }

    pub fn covers_type(&self, stix_type: &str) -> bool {
        match &self.scope {
            None => true,
            Some(types) => types.iter().any(|t| t == stix_type),
        }
    }

    /// Whole days from `at` to the end of validity (negative once expired).
    pub fn days_to_expiry(&self, at: Time) -> i64 {
        (self.valid_until - at).num_days()
    }
}

#[derive(Debug, Clone)]
pub struct NewAgreement {
    pub org_id: OrgId,
    pub role: AgreementRole,
    pub signed_on: Time,
    pub valid_from: Time,
    pub valid_until: Time,
    pub max_tlp: Tlp,
    pub scope: Option<Vec<String>>,
    pub purpose: String,
    pub retention_days: Option<i64>,
    pub renews: Option<i64>,
}

impl NewAgreement {
    /// Why this agreement cannot be recorded, if it cannot: its term is empty, it was
    /// signed after it ended, or its scope names no type or a type STIX does not define.
    ///
    /// A misspelt scope type would silently refuse every item of the intended type for
    /// the agreement's whole term, so scope names are checked against the spec's types;
    /// custom types must use the `x-` prefix the spec reserves for them.
    pub fn check(&self) -> Result<(), String> {
        if self.valid_until <= self.valid_from {
            return Err(format!(
                "valid_until ({}) must be after valid_from ({})",
                stix_time(self.valid_until),
                stix_time(self.valid_from)
            ));
        }
        if self.signed_on > self.valid_until {
            return Err(format!(
                "signed_on ({}) is after the term ends ({}): an agreement cannot be signed once it has expired",
                stix_time(self.signed_on),
                stix_time(self.valid_until)
            ));
        }
        if let Some(scope) = &self.scope {
            if scope.is_empty() {
                return Err("the scope names no type, so it would cover nothing; leave the scope out to cover every type".into());
            }
            let unknown: Vec<String> = scope
                .iter()
                .filter(|t| !is_scope_type(t))
                .map(|t| match closest_stix_type(t) {
                    Some(near) => format!("{t:?} (did you mean {near:?}?)"),
                    None => format!("{t:?}"),
                })
                .collect();
            if !unknown.is_empty() {
                return Err(format!(
                    "scope: unknown STIX type {}; scope types are STIX 2.1 object types such as indicator, malware, ipv4-addr, url, relationship, or custom types starting with x-",
                    unknown.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// A type an agreement's scope may name: one STIX 2.1 defines, or a custom `x-` type.
fn is_scope_type(t: &str) -> bool {
    use stix::common::{is_valid_type_name, Category};
    match Category::of(t) {
        Category::Bundle => false,
        Category::Custom => t.starts_with("x-") && is_valid_type_name(t),
        _ => true,
    }
}

/// The defined STIX type nearest to a misspelt one (at most two edits away).
fn closest_stix_type(t: &str) -> Option<&'static str> {
    use stix::common::{META_TYPES, SCO_TYPES, SDO_TYPES, SRO_TYPES};
    SDO_TYPES
        .iter()
        .chain(SCO_TYPES)
        .chain(SRO_TYPES)
        .chain(META_TYPES)
        .map(|k| (strsim::levenshtein(t, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub id: i64,
    pub org_id: OrgId,
    pub role: TokenRole,
    pub label: String,
    pub created_at: Time,
    pub revoked_at: Option<Time>,
}

/// A merged observable with its enrichment. Source statements live in [`SourceRecord`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservableRow {
    pub id: i64,
    pub kind: Kind,
    pub value: String,
    pub enrichment: Enrichment,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub network: Option<String>,
    pub registered_domain: Option<String>,
}

/// One org's statement about one observable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub id: i64,
    pub observable_id: i64,
    pub org_id: OrgId,
    pub submission_id: i64,
    #[serde(flatten)]
    pub claim: Claim,
    pub created_at: Time,
    pub updated_at: Time,
}

/// What a source says about an observable; merged field by field on re-submission.
/// Absent fields read as their defaults (the store keeps claims without empty fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Claim {
    pub first_seen: Option<Time>,
    pub last_seen: Option<Time>,
    pub confidence: Option<u8>,
    pub labels: Vec<String>,
    pub malware: Vec<String>,
    pub tlp: Option<Tlp>,
    pub pap: Option<Pap>,
    pub valid_until: Option<Time>,
    pub revoked: bool,
    /// STIX ids of the objects this claim came from.
    pub stix_ids: Vec<String>,
    /// Where the source says this came from (maltrail `# Reference:` lines, MISP links).
    pub references: Vec<String>,
    /// Ports seen with the value (maltrail `IP:port`).
    pub ports: Vec<u16>,
    /// Admiralty grading: source reliability A–F.
    pub reliability: Option<char>,
    /// Admiralty grading: information credibility 1–6.
    pub credibility: Option<u8>,
    pub description: Option<String>,
}

impl Claim {
    /// Merge a newer statement from the same source. Idempotent: merging the same claim
    /// twice changes nothing, so re-ingesting a file is harmless.
    pub fn merge(&mut self, other: &Claim) {
        self.first_seen = min_opt(self.first_seen, other.first_seen);
        self.last_seen = max_opt(self.last_seen, other.last_seen);
        if other.confidence.is_some() {
            self.confidence = other.confidence;
        }
        union(&mut self.labels, &other.labels);
        union(&mut self.malware, &other.malware);
        union(&mut self.stix_ids, &other.stix_ids);
        union(&mut self.references, &other.references);
        for p in &other.ports {
            if !self.ports.contains(p) {
                self.ports.push(*p);
            }
        }
        self.ports.sort_unstable();
        // The most restrictive marking a source ever gave wins: loosening needs a new decision.
        self.tlp = max_opt(self.tlp, other.tlp);
        self.pap = max_opt(self.pap, other.pap);
        if other.valid_until.is_some() {
            self.valid_until = other.valid_until;
        }
        self.revoked |= other.revoked;
        if other.reliability.is_some() {
            self.reliability = other.reliability;
        }
        if other.credibility.is_some() {
            self.credibility = other.credibility;
        }
        if other.description.is_some() && self.description.is_none() {
            self.description = other.description.clone();
        }
    }

    pub fn tlp_or_default(&self) -> Tlp {
        self.tlp.unwrap_or(Tlp::Amber)
    }
}

fn union(into: &mut Vec<String>, from: &[String]) {
    for v in from {
        if !into.contains(v) {
            into.push(v.clone());
        }
    }
    into.sort();
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

fn max_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A stored STIX object version, as submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredObject {
    pub pk: i64,
    pub stix_id: String,
    pub stix_type: String,
    /// `modified`, or `created`, or date added for objects without versions (SCOs).
    pub version: String,
    pub spec_version: String,
    pub org_id: OrgId,
    pub submission_id: i64,
    pub tlp: Tlp,
    pub date_added: Time,
    pub json: String,
}

/// What kind of thing an explicit share grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShareSubject {
    Record(i64),
    Object(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub recipient: OrgId,
    pub subject: ShareSubject,
    pub granted_by: OrgId,
    pub reason: String,
    pub granted_at: Time,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    pub id: i64,
    pub observable_id: i64,
    pub org_id: OrgId,
    pub count: i64,
    pub first_seen: Time,
    pub last_seen: Time,
    pub where_sighted: String,
    pub created_at: Time,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub id: i64,
    pub org_id: OrgId,
    pub format: String,
    pub source_name: String,
    pub received_at: Time,
    pub objects: i64,
    pub records: i64,
    pub rejected: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Time,
    pub actor: Option<OrgId>,
    pub action: String,
    pub subject: String,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Parse a date given as `YYYY-MM-DD` (midnight UTC) or as an RFC 3339 timestamp.
pub fn parse_time(s: &str) -> Result<Time, ParseError> {
    let t = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists")));
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            ParseError(format!(
                "{s:?} is not a date: use YYYY-MM-DD or an RFC 3339 timestamp such as 2019-07-03T00:00:00Z"
            ))
        })
}

/// Fixed-width UTC text, so that timestamps sort correctly as strings in both stores.
pub fn format_time(t: Time) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let (year, nanos) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    }
    // The text of the format above, without interpreting a format string per call: ingest
    // stamps every object it stores.
    let mut s = String::with_capacity(27);
    let _ = write!(
        s,
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        nanos / 1000
    );
    s
}

/// The STIX form of a timestamp (millisecond precision, `Z`).
pub fn stix_time(t: Time) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parse a stored or STIX timestamp.
pub fn parse_stored_time(s: &str) -> Option<Time> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement_with(scope: Option<&[&str]>) -> NewAgreement {
        NewAgreement {
            org_id: 2,
            role: AgreementRole::Provide,
            signed_on: parse_time("2019-07-01").unwrap(),
            valid_from: parse_time("2019-07-03").unwrap(),
            valid_until: parse_time("2024-07-03").unwrap(),
            max_tlp: Tlp::Amber,
            scope: scope.map(|s| s.iter().map(|t| t.to_string()).collect()),
            purpose: "test".into(),
            retention_days: None,
            renews: None,
        }
    }

    #[test]
    fn agreement_scope_names_defined_or_custom_types_only() {
        assert!(agreement_with(None).check().is_ok());
        let defined = [
            "indicator",
            "ipv4-addr",
            "relationship",
            "marking-definition",
            "x-misp-object",
        ];
        assert!(agreement_with(Some(&defined)).check().is_ok());

        let err = agreement_with(Some(&["indicator", "indicatr"]))
            .check()
            .unwrap_err();
        assert!(
            err.contains("\"indicatr\" (did you mean \"indicator\"?)"),
            "{err}"
        );
        assert!(
            !err.contains("\"indicator\" ("),
            "a valid type is not reported: {err}"
        );
        let err = agreement_with(Some(&["my-type", "bundle", "x-Bad"]))
            .check()
            .unwrap_err();
        for t in ["my-type", "bundle", "x-Bad"] {
            assert!(err.contains(&format!("{t:?}")), "{t} not reported: {err}");
        }
        let err = agreement_with(Some(&[])).check().unwrap_err();
        assert!(
            err.contains("covers nothing") || err.contains("cover nothing"),
            "{err}"
        );
    }

    #[test]
    fn agreement_term_must_be_nonempty_and_signed_before_it_ends() {
        let mut a = agreement_with(None);
        a.valid_until = a.valid_from;
        assert!(a.check().unwrap_err().contains("must be after valid_from"));
        let mut a = agreement_with(None);
        // Signing after the start (a retroactive agreement) is allowed...
        a.signed_on = parse_time("2020-01-01").unwrap();
        assert!(a.check().is_ok());
        // ...signing after the end is not.
        a.signed_on = parse_time("2024-07-04").unwrap();
        assert!(a.check().unwrap_err().contains("signed_on"));
    }

    #[test]
    fn format_time_matches_the_strftime_form() {
        let strftime = |t: Time| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let times = [
            Utc::now(),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 29, 23, 59, 59).unwrap()
                + chrono::Duration::nanoseconds(999_999_999),
            Utc.with_ymd_and_hms(9999, 12, 31, 1, 2, 3).unwrap()
                + chrono::Duration::microseconds(7),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.from_utc_datetime(
                &NaiveDate::from_ymd_opt(2016, 12, 31)
                    .unwrap()
                    .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
                    .unwrap(),
            ),
        ];
        for t in times {
            assert_eq!(format_time(t), strftime(t));
        }
    }

    #[test]
    fn tlp_order_and_parse() {
        assert!(
            Tlp::Clear < Tlp::Green && Tlp::Amber < Tlp::AmberStrict && Tlp::AmberStrict < Tlp::Red
        );
        assert_eq!(parse_tlp("amber+strict").unwrap(), Tlp::AmberStrict);
        assert_eq!(parse_tlp("TLP:WHITE").unwrap(), Tlp::Clear);
        let err = parse_tlp("purple").unwrap_err().to_string();
        assert!(
            err.contains("clear, green, amber, amber+strict, red"),
            "{err}"
        );
    }

    #[test]
    fn dates_accept_both_forms() {
        assert_eq!(
            format_time(parse_time("2019-07-03").unwrap()),
            "2019-07-03T00:00:00.000000Z"
        );
        assert_eq!(
            format_time(parse_time("2019-07-03T10:00:00+02:00").unwrap()),
            "2019-07-03T08:00:00.000000Z"
        );
        assert!(parse_time("03/07/2019").is_err());
    }

    #[test]
    fn claim_merge_is_idempotent() {
        let a = Claim {
            labels: vec!["c2".into()],
            first_seen: Some(parse_time("2020-01-02").unwrap()),
            tlp: Some(Tlp::Green),
            ..Default::default()
        };
        let b = Claim {
            labels: vec!["botnet".into(), "c2".into()],
            first_seen: Some(parse_time("2020-01-01").unwrap()),
            tlp: Some(Tlp::Amber),
            ports: vec![443],
            ..Default::default()
        };
        let mut m = a.clone();
        m.merge(&b);
        let once = m.clone();
        m.merge(&b);
        assert_eq!(m, once);
        assert_eq!(m.labels, vec!["botnet", "c2"]);
        assert_eq!(m.tlp, Some(Tlp::Amber));
        assert_eq!(m.first_seen, b.first_seen);
    }

    #[test]
    fn agreement_ends_to_the_second() {
        let a = Agreement {
            id: 1,
            org_id: 1,
            role: AgreementRole::Both,
            signed_on: parse_time("2019-07-03").unwrap(),
            valid_from: parse_time("2019-07-03").unwrap(),
            valid_until: parse_time("2024-07-03").unwrap(),
            max_tlp: Tlp::Amber,
            scope: None,
            purpose: String::new(),
            retention_days: None,
            status: AgreementStatus::Active,
            terminated_at: None,
            renews: None,
            created_at: parse_time("2019-07-03").unwrap(),
        };
        assert!(a.in_force_at(parse_time("2024-07-02T23:59:59Z").unwrap()));
        assert!(!a.in_force_at(parse_time("2024-07-03T00:00:00Z").unwrap()));
        assert!(!a.in_force_at(parse_time("2019-07-02T23:59:59Z").unwrap()));
    }
}
