//! Vocabulary shared by the object model: which types are SDOs, SCOs, SROs or meta
//! objects, the STIX timestamp format, JSON pointers, and the named limits.
//!
//! These tables are the one place the crate decides "what kind of object is this type";
//! validation, reference checks and the typed views all ask here.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// The only `spec_version` this crate produces and accepts as valid.
pub const SPEC_VERSION: &str = "2.1";

/// Deepest JSON nesting accepted anywhere in a bundle (arrays and objects both count).
///
/// STIX objects are shallow (the deepest real ones — extensions inside observed-data —
/// stay below 10); anything near this limit is an attack on the parser. serde_json's
/// own recursion limit is also 128, so the two agree.
pub const MAX_DEPTH: usize = 128;

/// Largest single object (in bytes of JSON) the streaming reader buffers.
///
/// A bundle may be any size, but each object is held in memory once while it is parsed;
/// an object beyond this is refused so one hostile object cannot exhaust memory.
pub const MAX_OBJECT_BYTES: usize = 64 * 1024 * 1024;

/// Most JSON values (scalars, arrays and objects) one object of a bundle may hold.
///
/// Why, beside the byte limit: a tree costs far more than its text (`[0,0,…]` spends 2
/// bytes of input and 32 of `serde_json::Value` per element), so 64 MB of small values
/// would become a tree of gigabytes. Real objects hold at most tens of thousands of
/// values (a report's `object_refs`); a million leaves room and bounds the tree.
pub const MAX_OBJECT_VALUES: usize = 1_000_000;

/// STIX Domain Object types defined by STIX 2.1 (section 4).
pub const SDO_TYPES: &[&str] = &[
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
];

/// STIX Cyber-observable Object types defined by STIX 2.1 (section 6).
pub const SCO_TYPES: &[&str] = &[
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];

/// STIX Relationship Object types (section 5).
pub const SRO_TYPES: &[&str] = &["relationship", "sighting"];

/// STIX Meta Object types (section 7), plus `bundle` which is a container, not an object.
pub const META_TYPES: &[&str] = &[
    "marking-definition",
    "language-content",
    "extension-definition",
];

/// What family a STIX type belongs to. Reference rules ("sighting_of_ref must point at
/// an SDO") are written in these terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Domain object (indicator, malware, report, ...).
    Sdo,
    /// Cyber-observable (ipv4-addr, file, url, ...).
    Sco,
    /// Relationship or sighting.
    Sro,
    /// marking-definition, language-content, extension-definition.
    Meta,
    /// The bundle container.
    Bundle,
    /// A type the spec does not define: a custom object. Its family is unknown unless an
    /// extension-definition says otherwise, so reference checks treat it permissively.
    Custom,
}

impl Category {
    /// Family of a STIX `type` value.
    pub fn of(type_name: &str) -> Category {
        if SDO_TYPES.contains(&type_name) {
            Category::Sdo
        } else if SCO_TYPES.contains(&type_name) {
            Category::Sco
        } else if SRO_TYPES.contains(&type_name) {
            Category::Sro
        } else if META_TYPES.contains(&type_name) {
            Category::Meta
        } else if type_name == "bundle" {
            Category::Bundle
        } else {
            Category::Custom
        }
    }
}

/// Whether `s` is a syntactically valid STIX type name (section 2.6 / 3.1): 3 to 250
/// characters of `a-z`, `0-9` and `-`, starting with a letter, and no `--` (it would make
/// ids ambiguous). This is the OASIS schema's rule too.
pub fn is_valid_type_name(s: &str) -> bool {
    let b = s.as_bytes();
    (3..=250).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !s.contains("--")
}

/// Whether `s` is a valid property name (section 3.1): 3 to 250 characters of lower-case
/// `a-z`, `0-9` and `_`, starting with a letter. The spec's own `id` is the one two-letter
/// exception. (The OASIS schema's rule too.)
pub fn is_valid_property_name(s: &str) -> bool {
    if s == "id" {
        return true;
    }
    let b = s.as_bytes();
    (3..=250).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// A STIX timestamp: RFC 3339, UTC, with a literal `Z` (section 2.16).
///
/// Fractional seconds may have any number of digits; ordering compares them exactly
/// (not only to the nanosecond), so `created <= modified` is decided the way the spec
/// means it. The original text is kept so re-serialising never changes the precision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    seconds: DateTime<Utc>,
    /// `text[fraction.0..fraction.1]` are the fraction digits without trailing zeros (so
    /// "0.500" and "0.5" compare equal); an empty range for whole seconds.
    fraction: (usize, usize),
    text: String,
}

/// Compare two fraction-of-second digit strings (no trailing zeros) as numbers.
pub(crate) fn cmp_fraction(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(b'0');
        let y = b.get(i).copied().unwrap_or(b'0');
        match x.cmp(&y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

impl Timestamp {
    /// Parse `YYYY-MM-DDTHH:MM:SS[.fraction]Z`. Lower-case `t`/`z`, offsets other than
    /// `Z`, and leap seconds (`:60`) are refused: the spec requires UTC with `Z`.
    pub fn parse(s: &str) -> Result<Timestamp, String> {
        let (seconds, fraction) = Self::parse_parts(s)?;
        let start = if fraction.is_empty() { 0 } else { 20 };
        Ok(Timestamp {
            seconds,
            fraction: (start, start + fraction.len()),
            text: s.to_string(),
        })
    }

    /// Parse without allocating: the whole seconds and the fraction digits (trailing
    /// zeros trimmed). Validation uses this on every timestamp of every object.
    pub(crate) fn parse_parts(s: &str) -> Result<(DateTime<Utc>, &str), String> {
        let b = s.as_bytes();
        let bad =
            || format!("`{s}` is not a STIX timestamp (expected YYYY-MM-DDTHH:MM:SS[.s+]Z, UTC)");
        if b.len() < 20 || b[b.len() - 1] != b'Z' {
            if b.len() >= 20 && (s.ends_with("+00:00") || s.ends_with('z')) {
                return Err(format!(
                    "`{s}` must end with a literal `Z` (UTC), not an offset"
                ));
            }
            return Err(bad());
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &b[r];
            if part.iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(part).ok()?.parse().ok()
            } else {
                None
            }
        };
        if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return Err(bad());
        }
        let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) = (
            digits(0..4),
            digits(5..7),
            digits(8..10),
            digits(11..13),
            digits(14..16),
            digits(17..19),
        ) else {
            return Err(bad());
        };
        let rest = &s[19..s.len() - 1];
        let fraction = if rest.is_empty() {
            ""
        } else if let Some(f) = rest.strip_prefix('.') {
            if f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            f.trim_end_matches('0')
        } else {
            return Err(bad());
        };
        let date = NaiveDate::from_ymd_opt(y as i32, mo, d)
            .ok_or_else(|| format!("`{s}`: no such date"))?;
        let time = NaiveTime::from_hms_opt(h, mi, se)
            .ok_or_else(|| format!("`{s}`: no such time of day"))?;
        let seconds = Utc.from_utc_datetime(&NaiveDateTime::new(date, time));
        Ok((seconds, fraction))
    }

    fn fraction(&self) -> &str {
        &self.text[self.fraction.0..self.fraction.1]
    }

    /// The instant, truncated to nanoseconds (enough for any use but ordering, which
    /// [`Ord`] does exactly).
    pub fn to_datetime(&self) -> DateTime<Utc> {
        let mut nanos = self.fraction().to_string();
        nanos.truncate(9);
        while nanos.len() < 9 {
            nanos.push('0');
        }
        self.seconds + chrono::Duration::nanoseconds(nanos.parse::<i64>().unwrap_or(0))
    }

    /// The text exactly as it was given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Format an instant the way STIX producers conventionally do: millisecond precision.
    pub fn format_millis(t: DateTime<Utc>) -> String {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        self.seconds
            .cmp(&other.seconds)
            .then_with(|| cmp_fraction(self.fraction(), other.fraction()))
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A JSON pointer (RFC 6901) under construction, e.g. `/objects/3/created`.
///
/// Errors carry these so a user can find the offending value in a file of any size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pointer(String);

impl Pointer {
    /// The root pointer (the empty string).
    pub fn root() -> Pointer {
        Pointer(String::new())
    }

    /// Pointer to element `index` of the bundle's `objects` array.
    pub fn object(index: usize) -> Pointer {
        Pointer(format!("/objects/{index}"))
    }

    /// Parse a pointer given as text. No unescaping happens: the text is kept as is.
    pub fn from_raw(s: impl Into<String>) -> Pointer {
        Pointer(s.into())
    }

    /// Append an object key, escaping `~` and `/` as RFC 6901 requires.
    pub fn key(&self, key: &str) -> Pointer {
        let mut s = self.0.clone();
        s.push('/');
        s.push_str(&key.replace('~', "~0").replace('/', "~1"));
        Pointer(s)
    }

    /// Append an array index.
    pub fn index(&self, i: usize) -> Pointer {
        Pointer(format!("{}/{i}", self.0))
    }

    /// The pointer text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("/")
        } else {
            f.write_str(&self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_and_order_exactly() {
        let a = Timestamp::parse("2016-04-06T20:03:48.000Z").unwrap();
        let b = Timestamp::parse("2016-04-06T20:03:48Z").unwrap();
        assert_eq!(a.cmp(&b), Ordering::Equal);
        let c = Timestamp::parse("2016-04-06T20:03:48.0000000001Z").unwrap();
        assert!(c > a);
        assert!(Timestamp::parse("2016-04-06T20:03:48.123+00:00").is_err());
        assert!(Timestamp::parse("2016-04-06 20:03:48Z").is_err());
        assert!(Timestamp::parse("2016-02-30T20:03:48Z").is_err());
        assert!(Timestamp::parse("2016-04-06T20:03:48.Z").is_err());
        assert_eq!(a.to_datetime(), b.to_datetime());
    }

    #[test]
    fn names() {
        assert!(is_valid_type_name("x-acme-thing"));
        assert!(!is_valid_type_name("X-acme"));
        assert!(!is_valid_type_name("a--b"));
        assert!(is_valid_property_name("x_acme_score"));
        assert!(!is_valid_property_name("ab"));
        assert!(!is_valid_property_name("x-acme"));
        assert!(!is_valid_property_name("x_Acme"));
        assert!(!is_valid_property_name("_xacme"));
        assert_eq!(
            Pointer::object(3).key("a/b~c").as_str(),
            "/objects/3/a~1b~0c"
        );
    }
}
