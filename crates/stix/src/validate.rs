//! Validation of STIX 2.1 objects against the specification's MUSTs (errors) and a few
//! cheap SHOULDs (warnings).
//!
//! Every [`Issue`] names the JSON pointer of the offending value (`/objects/3/created`),
//! a stable rule name (for tests and for suppressing a rule), and a message that says
//! what was expected.
//!
//! # What is checked (errors)
//!
//! | rule | MUST |
//! |---|---|
//! | `type` | `type` present, 3–250 chars of `a-z0-9-`, no `--` |
//! | `id` | `id` is `type--UUID` (RFC 4122: variant bits, version 1–5) and its type matches `type` |
//! | `spec-version` | `spec_version` is `"2.1"`; required except on SCOs |
//! | `required` | the properties each type requires (e.g. indicator: `pattern`, `pattern_type`, `valid_from`) |
//! | `timestamp` | `created`, `modified` and each type's timestamps are RFC 3339 UTC with `Z` |
//! | `timestamp-order` | `created <= modified`; `valid_until > valid_from`; `last_seen >= first_seen`; ... |
//! | `confidence` | integer 0–100 |
//! | `null` | no property is `null` (omit it instead) |
//! | `empty-list` | list properties, when present, are non-empty lists |
//! | `property-name` | property names are 3–250 chars of `a-z0-9_`, starting with a letter |
//! | `reference` | every `*_ref` / `*_refs` holds valid ids |
//! | `reference-type` | references point at the right types (`created_by_ref` → identity, `sighting_of_ref` → SDO, ...) |
//! | `marking` | `object_marking_refs` and granular `marking_ref` name marking-definitions; granular markings have `selectors` and exactly one of `marking_ref`/`lang`; selectors resolve; no self-reference |
//! | `external-reference` | each external reference has `source_name` and one of `description`, `url`, `external_id` |
//! | `timestamp-precision` | `created` and `modified` are precise to the millisecond (at least 3 fraction digits) |
//! | `relationship-type` | `relationship_type` is lower-case `a-z`, `0-9`, `-` |
//! | `kill-chain-phase` | each phase has `kill_chain_name` and `phase_name` |
//! | `hashes` | MD5/SHA-1/SHA-256/SHA-512 values are hex of the right length |
//! | `range` | counts and ports within the spec's ranges |
//! | `marking-definition` | `definition_type`/`definition` consistent (TLP 1.0 levels, statements) |
//! | `enumeration` | closed vocabularies: `opinion`, an extension's `extension_type` |
//! | `pattern` | an indicator's `pattern` parses when `pattern_type` is `stix` ([`crate::pattern::parse`]) |
//!
//! # Warnings
//!
//! `id-case` (upper-case hex in an id's UUID), `sco-id` (an SCO whose id is not the
//! deterministic one), `uuid-version` (an SDO/SRO
//! id that is not UUIDv4), `vocabulary` (`pattern_type` outside its open vocabulary).
//!
//! Checks are per object; whether referenced objects exist is a store question, not a
//! validity one (STIX allows references to objects elsewhere).

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, Utc};

use serde_json::{Map, Value};

use crate::common::{
    cmp_fraction, is_valid_property_name, is_valid_type_name, Category, Pointer, Timestamp,
    SPEC_VERSION,
};
use crate::id::{contributing_properties, sco_id_from_map, StixId};
use crate::object::{json_kind, StixObject};

/// How serious an issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A SHOULD of the spec is not followed; the object is still valid.
    Warning,
    /// A MUST of the spec is violated; the object is invalid.
    Error,
}

/// One validation finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Error or warning.
    pub severity: Severity,
    /// JSON pointer of the offending value, e.g. `/objects/3/created`.
    pub pointer: Pointer,
    /// Stable rule name, e.g. `timestamp-order` (see the module documentation).
    pub rule: &'static str,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{sev} at {}: {} [{}]",
            self.pointer, self.message, self.rule
        )
    }
}

/// All findings for one object (or a bundle), errors and warnings together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Findings in the order they were found.
    pub issues: Vec<Issue>,
}

impl Report {
    /// Whether there is no error (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !self.issues.iter().any(|i| i.severity == Severity::Error)
    }

    /// Whether there is no error other than those of the given rules. For callers that
    /// knowingly tolerate a MUST, e.g. `&["timestamp-precision"]` for feeds that write
    /// `created` to the second.
    pub fn is_valid_except(&self, rules: &[&str]) -> bool {
        !self.errors().any(|i| !rules.contains(&i.rule))
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.severity == Severity::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Issue> {
        self.issues
            .iter()
            .filter(|i| i.severity == Severity::Warning)
    }

    /// Add another report's findings.
    pub fn extend(&mut self, other: Report) {
        self.issues.extend(other.issues);
    }
}

/// Validate one object. `at` is where the object sits (e.g. `Pointer::object(3)` inside
/// a bundle, or `Pointer::root()` for a lone object); every issue's pointer starts there.
pub fn validate_object(object: &StixObject, at: &Pointer) -> Report {
    validate_object_keeping_pattern(object, at).0
}

/// [`validate_object`], also handing back the indicator pattern that the `pattern` rule
/// parsed (`Some` when the object has a `stix` pattern that parses, `None` otherwise), so
/// that a caller who needs the pattern anyway (ingest extracts its observables) does not
/// parse it a second time. The report is exactly that of [`validate_object`].
pub fn validate_object_keeping_pattern(
    object: &StixObject,
    at: &Pointer,
) -> (Report, Option<crate::pattern::Pattern>) {
    let mut v = Checker {
        obj: object.as_map(),
        at,
        report: Report::default(),
        pattern: None,
    };
    v.run();
    (v.report, v.pattern)
}

/// Validate a bundle given as a JSON value: its envelope and every object in it.
/// For large bundles, stream with [`crate::bundle::BundleReader`] and call
/// [`validate_object`] on each entry instead.
pub fn validate_bundle_value(bundle: &Value) -> Report {
    let mut report = Report::default();
    let root = Pointer::root();
    let Some(map) = bundle.as_object() else {
        report.issues.push(error(
            &root,
            "type",
            format!(
                "a bundle must be a JSON object, found {}",
                json_kind(bundle)
            ),
        ));
        return report;
    };
    match map.get("type") {
        Some(Value::String(t)) if t == "bundle" => {}
        other => report.issues.push(error(
            &root.key("type"),
            "type",
            format!(
                "a bundle's `type` must be \"bundle\", found {}",
                describe(other)
            ),
        )),
    }
    match map.get("id").and_then(Value::as_str) {
        Some(id) => match StixId::parse(id) {
            Ok(p) if p.type_name == "bundle" => {}
            Ok(_) => report.issues.push(error(
                &root.key("id"),
                "id",
                format!("a bundle's id must start with `bundle--`, found `{id}`"),
            )),
            Err(e) => report
                .issues
                .push(error(&root.key("id"), "id", e.to_string())),
        },
        None => report
            .issues
            .push(error(&root.key("id"), "required", "a bundle requires `id`")),
    }
    match map.get("objects") {
        None => {}
        Some(Value::Array(objects)) => {
            if objects.is_empty() {
                // "one or more" objects, but stix2-validator and TAXII servers accept an
                // empty bundle, so this is a warning.
                report.issues.push(warning(
                    &root.key("objects"),
                    "empty-list",
                    "`objects` is empty; omit it for an empty bundle",
                ));
            }
            for (i, o) in objects.iter().enumerate() {
                match o.as_object() {
                    Some(m) => report.extend(validate_object(
                        &StixObject::from_map(m.clone()),
                        &Pointer::object(i),
                    )),
                    None => report.issues.push(error(
                        &Pointer::object(i),
                        "type",
                        format!(
                            "a STIX object must be a JSON object, found {}",
                            json_kind(o)
                        ),
                    )),
                }
            }
        }
        Some(other) => report.issues.push(error(
            &root.key("objects"),
            "type",
            format!("`objects` must be an array, found {}", json_kind(other)),
        )),
    }
    report
}

fn error(p: &Pointer, rule: &'static str, message: impl Into<String>) -> Issue {
    Issue {
        severity: Severity::Error,
        pointer: p.clone(),
        rule,
        message: message.into(),
    }
}

fn warning(p: &Pointer, rule: &'static str, message: impl Into<String>) -> Issue {
    Issue {
        severity: Severity::Warning,
        pointer: p.clone(),
        rule,
        message: message.into(),
    }
}

fn describe(v: Option<&Value>) -> String {
    match v {
        None => "nothing".to_string(),
        Some(Value::String(s)) => format!("\"{s}\""),
        Some(other) => json_kind(other).to_string(),
    }
}

/// Which object types a reference may point at.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// Exactly these types.
    Types(&'static [&'static str]),
    /// Any SDO (or custom object, whose family is unknown).
    Sdo,
    /// Any SCO (or custom object).
    Sco,
    /// An SDO or SCO (or custom object): relationship ends.
    SdoOrSco,
    /// An SCO or SRO (or custom object): observed-data's object_refs.
    ScoOrSro,
    /// Any object.
    Any,
}

impl Target {
    fn allows(self, type_name: &str) -> bool {
        let cat = Category::of(type_name);
        match self {
            Target::Types(ts) => ts.contains(&type_name),
            Target::Sdo => matches!(cat, Category::Sdo | Category::Custom),
            Target::Sco => matches!(cat, Category::Sco | Category::Custom),
            Target::SdoOrSco => matches!(cat, Category::Sdo | Category::Sco | Category::Custom),
            Target::ScoOrSro => matches!(cat, Category::Sco | Category::Sro | Category::Custom),
            Target::Any => cat != Category::Bundle,
        }
    }

    fn describe(self) -> String {
        match self {
            Target::Types(ts) => ts.join(" or "),
            Target::Sdo => "an SDO".into(),
            Target::Sco => "an SCO".into(),
            Target::SdoOrSco => "an SDO or SCO".into(),
            Target::ScoOrSro => "an SCO or SRO".into(),
            Target::Any => "a STIX object".into(),
        }
    }
}

const ADDRS: &[&str] = &["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"];

/// Reference properties whose targets the spec constrains, per object type.
fn reference_rules(type_name: &str) -> &'static [(&'static str, Target)] {
    match type_name {
        "sighting" => &[
            ("sighting_of_ref", Target::Sdo),
            ("observed_data_refs", Target::Types(&["observed-data"])),
            (
                "where_sighted_refs",
                Target::Types(&["identity", "location"]),
            ),
        ],
        "relationship" => &[
            ("source_ref", Target::SdoOrSco),
            ("target_ref", Target::SdoOrSco),
        ],
        "malware" => &[
            ("sample_refs", Target::Types(&["file", "artifact"])),
            ("operating_system_refs", Target::Types(&["software"])),
        ],
        "malware-analysis" => &[
            ("host_vm_ref", Target::Types(&["software"])),
            ("operating_system_ref", Target::Types(&["software"])),
            ("installed_software_refs", Target::Types(&["software"])),
            (
                "sample_ref",
                Target::Types(&["file", "artifact", "network-traffic"]),
            ),
            ("analysis_sco_refs", Target::Sco),
        ],
        "observed-data" => &[("object_refs", Target::ScoOrSro)],
        "report" | "note" | "opinion" | "grouping" => &[("object_refs", Target::Any)],
        "language-content" => &[("object_ref", Target::Any)],
        "network-traffic" => &[
            ("src_ref", Target::Types(ADDRS)),
            ("dst_ref", Target::Types(ADDRS)),
            ("src_payload_ref", Target::Types(&["artifact"])),
            ("dst_payload_ref", Target::Types(&["artifact"])),
            ("encapsulates_refs", Target::Types(&["network-traffic"])),
            ("encapsulated_by_ref", Target::Types(&["network-traffic"])),
        ],
        "domain-name" => &[(
            "resolves_to_refs",
            Target::Types(&["ipv4-addr", "ipv6-addr", "domain-name"]),
        )],
        "ipv4-addr" | "ipv6-addr" => &[
            ("resolves_to_refs", Target::Types(&["mac-addr"])),
            ("belongs_to_refs", Target::Types(&["autonomous-system"])),
        ],
        "email-addr" => &[("belongs_to_ref", Target::Types(&["user-account"]))],
        "email-message" => &[
            ("from_ref", Target::Types(&["email-addr"])),
            ("sender_ref", Target::Types(&["email-addr"])),
            ("to_refs", Target::Types(&["email-addr"])),
            ("cc_refs", Target::Types(&["email-addr"])),
            ("bcc_refs", Target::Types(&["email-addr"])),
            ("raw_email_ref", Target::Types(&["artifact"])),
        ],
        "file" => &[
            ("parent_directory_ref", Target::Types(&["directory"])),
            ("content_ref", Target::Types(&["artifact"])),
            ("contains_refs", Target::Sco),
        ],
        "directory" => &[("contains_refs", Target::Types(&["file", "directory"]))],
        "process" => &[
            (
                "opened_connection_refs",
                Target::Types(&["network-traffic"]),
            ),
            ("creator_user_ref", Target::Types(&["user-account"])),
            ("image_ref", Target::Types(&["file"])),
            ("parent_ref", Target::Types(&["process"])),
            ("child_refs", Target::Types(&["process"])),
        ],
        _ => &[],
    }
}

/// Properties each type requires beyond the common ones.
fn required_properties(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "attack-pattern" | "campaign" | "course-of-action" | "identity" | "incident"
        | "infrastructure" | "intrusion-set" | "threat-actor" | "tool" | "vulnerability" => {
            &["name"]
        }
        "grouping" => &["context", "object_refs"],
        "indicator" => &["pattern", "pattern_type", "valid_from"],
        "malware" => &["is_family"],
        "malware-analysis" => &["product"],
        "note" => &["content", "object_refs"],
        "observed-data" => &["first_observed", "last_observed", "number_observed"],
        "opinion" => &["opinion", "object_refs"],
        "report" => &["name", "published", "object_refs"],
        "relationship" => &["relationship_type", "source_ref", "target_ref"],
        "sighting" => &["sighting_of_ref"],
        "language-content" => &["object_ref", "contents"],
        "extension-definition" => &[
            "created_by_ref",
            "name",
            "schema",
            "version",
            "extension_types",
        ],
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => &["value"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "email-message" => &["is_multipart"],
        "mutex" | "software" => &["name"],
        "network-traffic" => &["protocols"],
        "windows-registry-key" => &[],
        _ => &[],
    }
}

/// Timestamp properties by type (besides `created` and `modified`).
fn timestamp_properties(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "campaign" | "infrastructure" | "intrusion-set" | "malware" | "threat-actor" => {
            &["first_seen", "last_seen"]
        }
        "indicator" => &["valid_from", "valid_until"],
        "malware-analysis" => &["submitted", "analysis_started", "analysis_ended"],
        "observed-data" => &["first_observed", "last_observed"],
        "report" => &["published"],
        "relationship" => &["start_time", "stop_time"],
        "sighting" => &["first_seen", "last_seen"],
        "language-content" => &["object_modified"],
        "network-traffic" => &["start", "end"],
        "file" => &["ctime", "mtime", "atime"],
        "directory" => &["ctime", "mtime", "atime"],
        "email-message" => &["date"],
        "process" => &["created_time"],
        "user-account" => &[
            "account_created",
            "account_expires",
            "credential_last_changed",
            "account_first_login",
            "account_last_login",
        ],
        "windows-registry-key" => &["modified_time"],
        "x509-certificate" => &["validity_not_before", "validity_not_after"],
        _ => &[],
    }
}

/// `(later, strictly, earlier)`: `later` must be after (or, unless strictly, equal to) `earlier`.
fn timestamp_orders(type_name: &str) -> &'static [(&'static str, bool, &'static str)] {
    match type_name {
        "campaign" | "infrastructure" | "intrusion-set" | "malware" | "threat-actor"
        | "sighting" => &[("last_seen", false, "first_seen")],
        "indicator" => &[("valid_until", true, "valid_from")],
        "observed-data" => &[("last_observed", false, "first_observed")],
        "relationship" => &[("stop_time", true, "start_time")],
        "network-traffic" => &[("end", false, "start")],
        "x509-certificate" => &[("validity_not_after", false, "validity_not_before")],
        _ => &[],
    }
}

/// Common list properties that must be non-empty when present.
const LIST_PROPERTIES: &[&str] = &[
    "labels",
    "external_references",
    "object_marking_refs",
    "granular_markings",
    "kill_chain_phases",
    "object_refs",
    "aliases",
    "roles",
    "sectors",
    "goals",
    "indicator_types",
    "malware_types",
    "infrastructure_types",
    "tool_types",
    "threat_actor_types",
    "report_types",
    "protocols",
    "where_sighted_refs",
    "observed_data_refs",
    "sample_refs",
];

/// Hex lengths of the hash algorithms whose format is fixed.
fn hash_hex_len(algorithm: &str) -> Option<usize> {
    match algorithm {
        "MD5" => Some(32),
        "SHA-1" => Some(40),
        "SHA-256" | "SHA3-256" => Some(64),
        "SHA-512" | "SHA3-512" => Some(128),
        _ => None,
    }
}

const PATTERN_TYPES: &[&str] = &["stix", "pcre", "sigma", "snort", "suricata", "yara"];

struct Checker<'a> {
    obj: &'a Map<String, Value>,
    at: &'a Pointer,
    report: Report,
    /// The indicator's parsed STIX pattern, kept for [`validate_object_keeping_pattern`].
    pattern: Option<crate::pattern::Pattern>,
}

impl<'a> Checker<'a> {
    fn err(&mut self, p: Pointer, rule: &'static str, message: impl Into<String>) {
        self.report.issues.push(error(&p, rule, message));
    }

    fn warn(&mut self, p: Pointer, rule: &'static str, message: impl Into<String>) {
        self.report.issues.push(warning(&p, rule, message));
    }

    fn p(&self, key: &str) -> Pointer {
        self.at.key(key)
    }

    fn run(&mut self) {
        let type_name = match self.obj.get("type") {
            Some(Value::String(t)) => {
                if !is_valid_type_name(t) {
                    self.err(self.p("type"), "type", format!("`{t}` is not a valid STIX type: 3-250 characters of a-z, 0-9 and `-`, starting with a letter, no `--`"));
                }
                t.as_str()
            }
            other => {
                self.err(
                    self.p("type"),
                    "required",
                    format!(
                        "every STIX object requires `type` (a string), found {}",
                        describe(other)
                    ),
                );
                ""
            }
        };
        let cat = Category::of(type_name);
        if cat == Category::Bundle {
            self.err(
                self.p("type"),
                "type",
                "a bundle cannot be an element of `objects`",
            );
        }
        self.check_id(type_name, cat);
        self.check_common_required(type_name, cat);
        for key in required_properties(type_name) {
            if !self.obj.contains_key(*key) {
                self.err(
                    self.p(key),
                    "required",
                    format!("{type_name} requires `{key}`"),
                );
            }
        }
        self.check_type_specific(type_name);
        self.check_names_and_nulls();
        self.check_timestamps(type_name);
        self.check_confidence();
        self.check_lists();
        self.check_references(type_name);
        self.check_markings(type_name);
        self.check_external_references();
        self.check_kill_chain_phases();
        self.check_hashes_everywhere();
        self.check_extensions();
        if cat == Category::Sco {
            self.check_sco_id(type_name);
        }
    }

    fn check_id(&mut self, type_name: &str, cat: Category) {
        let Some(v) = self.obj.get("id") else {
            self.err(self.p("id"), "required", "every STIX object requires `id`");
            return;
        };
        let Some(id) = v.as_str() else {
            self.err(
                self.p("id"),
                "id",
                format!("`id` must be a string, found {}", json_kind(v)),
            );
            return;
        };
        match StixId::parse(id) {
            Err(e) => self.err(self.p("id"), "id", e.to_string()),
            Ok(parsed) => {
                if !type_name.is_empty() && parsed.type_name != type_name {
                    self.err(
                        self.p("id"),
                        "id",
                        format!(
                            "id `{id}` names type `{}` but the object's type is `{type_name}`",
                            parsed.type_name
                        ),
                    );
                }
                if id.bytes().any(|c| c.is_ascii_uppercase()) {
                    self.warn(
                        self.p("id"),
                        "id-case",
                        format!("`{id}` should be lower-case: ids are compared as strings, so `{}` would be a different object", id.to_ascii_lowercase()),
                    );
                }
                let version = parsed.uuid.get_version_num();
                if matches!(cat, Category::Sdo | Category::Sro) && version != 4 {
                    self.warn(
                        self.p("id"),
                        "uuid-version",
                        format!(
                            "ids of SDOs and SROs should be UUIDv4; `{id}` is version {version}"
                        ),
                    );
                }
                if type_name == "process" && version != 4 {
                    self.err(
                        self.p("id"),
                        "id",
                        "a process has no ID-contributing properties, so its id must be UUIDv4",
                    );
                }
            }
        }
    }

    fn check_common_required(&mut self, type_name: &str, cat: Category) {
        let needs: &[&str] = match cat {
            Category::Sdo | Category::Sro => &["spec_version", "created", "modified"],
            Category::Meta if type_name == "marking-definition" => &["spec_version", "created"],
            Category::Meta => &["spec_version", "created", "modified"],
            _ => &[],
        };
        for key in needs {
            if !self.obj.contains_key(*key) {
                self.err(
                    self.p(key),
                    "required",
                    format!("{type_name} requires `{key}`"),
                );
            }
        }
        // A custom object with `created` is an SDO-like object and needs `modified` too
        // (and the reverse); one with neither is SCO-like. The OASIS schema agrees.
        if cat == Category::Custom {
            match (
                self.obj.contains_key("created"),
                self.obj.contains_key("modified"),
            ) {
                (true, false) => self.err(
                    self.p("modified"),
                    "required",
                    "a custom object with `created` requires `modified`",
                ),
                (false, true) => self.err(
                    self.p("created"),
                    "required",
                    "a custom object with `modified` requires `created`",
                ),
                _ => {}
            }
        }
        self.expect_kind("revoked", Value::is_boolean, "a boolean");
        self.expect_kind("lang", Value::is_string, "a string");
        if let Some(v) = self.obj.get("spec_version") {
            if v.as_str() != Some(SPEC_VERSION) {
                self.err(
                    self.p("spec_version"),
                    "spec-version",
                    format!(
                        "`spec_version` must be \"2.1\", found {}",
                        describe(Some(v))
                    ),
                );
            }
        }
    }

    fn check_type_specific(&mut self, type_name: &str) {
        let obj = self.obj;
        match type_name {
            "indicator" => {
                if let Some(pt) = obj.get("pattern_type").and_then(Value::as_str) {
                    if !PATTERN_TYPES.contains(&pt) {
                        self.warn(
                            self.p("pattern_type"),
                            "vocabulary",
                            format!(
                                "`{pt}` is not in the pattern-type vocabulary ({})",
                                PATTERN_TYPES.join(", ")
                            ),
                        );
                    }
                }
                self.expect_kind("pattern", Value::is_string, "a string");
                // A STIX pattern must parse (spec 9); other pattern languages are opaque.
                let stix_pattern = obj.get("pattern_type").and_then(Value::as_str) == Some("stix");
                if let (true, Some(p)) = (stix_pattern, obj.get("pattern").and_then(Value::as_str))
                {
                    match crate::pattern::parse(p) {
                        Ok(parsed) => self.pattern = Some(parsed),
                        Err(e) => self.err(
                            self.p("pattern"),
                            "pattern",
                            format!(
                                "not a valid STIX pattern (column {} of the pattern): {e}",
                                e.column
                            ),
                        ),
                    }
                }
            }
            "malware" => {
                self.expect_kind("is_family", Value::is_boolean, "a boolean");
                if obj.get("is_family") == Some(&Value::Bool(true)) && !obj.contains_key("name") {
                    self.err(
                        self.p("name"),
                        "required",
                        "a malware family (`is_family: true`) requires `name`",
                    );
                }
            }
            "malware-analysis"
                if !obj.contains_key("result") && !obj.contains_key("analysis_sco_refs") =>
            {
                self.err(
                    self.at.clone(),
                    "required",
                    "malware-analysis requires `result` or `analysis_sco_refs`",
                );
            }
            "location" => {
                let has_region = obj.contains_key("region");
                let has_country = obj.contains_key("country");
                let has_lat = obj.contains_key("latitude");
                let has_long = obj.contains_key("longitude");
                if !(has_region || has_country || (has_lat && has_long)) {
                    self.err(
                        self.at.clone(),
                        "required",
                        "location requires `region`, `country`, or both `latitude` and `longitude`",
                    );
                }
                if has_lat != has_long {
                    self.err(
                        self.p(if has_lat { "longitude" } else { "latitude" }),
                        "required",
                        "`latitude` and `longitude` must be given together",
                    );
                }
            }
            "observed-data" => {
                match (obj.contains_key("object_refs"), obj.contains_key("objects")) {
                    (false, false) => self.err(
                        self.p("object_refs"),
                        "required",
                        "observed-data requires `object_refs` (or the deprecated `objects`)",
                    ),
                    (true, true) => self.err(
                        self.p("objects"),
                        "required",
                        "observed-data must not have both `object_refs` and `objects`",
                    ),
                    _ => {}
                }
                self.expect_range("number_observed", 1, 999_999_999);
            }
            "sighting" => self.expect_range("count", 0, 999_999_999),
            "relationship" => {
                if let Some(rt) = obj.get("relationship_type").and_then(Value::as_str) {
                    if rt.is_empty()
                        || !rt
                            .bytes()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                    {
                        self.err(
                            self.p("relationship_type"),
                            "relationship-type",
                            format!(
                                "relationship_type `{rt}` may only contain lower-case a-z, 0-9 and `-`"
                            ),
                        );
                    }
                }
            }
            "network-traffic" => {
                if !obj.contains_key("src_ref") && !obj.contains_key("dst_ref") {
                    self.err(
                        self.at.clone(),
                        "required",
                        "network-traffic requires `src_ref` or `dst_ref`",
                    );
                }
                self.expect_range("src_port", 0, 65535);
                self.expect_range("dst_port", 0, 65535);
            }
            "autonomous-system" => {
                self.expect_kind("number", |v| v.is_u64(), "a non-negative integer")
            }
            "file" if !obj.contains_key("hashes") && !obj.contains_key("name") => {
                self.err(
                    self.p("hashes"),
                    "required",
                    "file requires `hashes` or `name`",
                );
            }
            "artifact" => {
                if obj.contains_key("payload_bin") && obj.contains_key("url") {
                    self.err(
                        self.p("url"),
                        "required",
                        "artifact must not have both `payload_bin` and `url`",
                    );
                }
                if obj.contains_key("url") && !obj.contains_key("hashes") {
                    self.err(
                        self.p("hashes"),
                        "required",
                        "an artifact with `url` requires `hashes`",
                    );
                }
            }
            "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => {
                self.expect_kind("value", Value::is_string, "a string");
                let syntax = match (type_name, obj.get("value").and_then(Value::as_str)) {
                    ("domain-name", Some(v)) => crate::syntax::check_domain_name(v).err(),
                    ("url", Some(v)) => crate::syntax::check_uri(v).err(),
                    _ => None,
                };
                if let Some(why) = syntax {
                    self.err(self.p("value"), "format", why);
                }
            }
            "marking-definition" => self.check_marking_definition(),
            "opinion" => {
                const OPINIONS: &[&str] = &[
                    "strongly-disagree",
                    "disagree",
                    "neutral",
                    "agree",
                    "strongly-agree",
                ];
                if let Some(op) = obj.get("opinion").and_then(Value::as_str) {
                    if !OPINIONS.contains(&op) {
                        self.err(
                            self.p("opinion"),
                            "enumeration",
                            format!("opinion `{op}` is not one of {}", OPINIONS.join(", ")),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn expect_kind(&mut self, key: &str, ok: fn(&Value) -> bool, what: &str) {
        if let Some(v) = self.obj.get(key) {
            if !ok(v) && !v.is_null() {
                self.err(
                    self.p(key),
                    "type",
                    format!("`{key}` must be {what}, found {}", json_kind(v)),
                );
            }
        }
    }

    fn expect_range(&mut self, key: &str, lo: i64, hi: i64) {
        if let Some(v) = self.obj.get(key) {
            if v.is_null() {
                return;
            }
            match v.as_i64() {
                Some(n) if (lo..=hi).contains(&n) => {}
                _ => self.err(
                    self.p(key),
                    "range",
                    format!("`{key}` must be an integer from {lo} to {hi}, found {v}"),
                ),
            }
        }
    }

    fn check_marking_definition(&mut self) {
        let obj = self.obj;
        let def_type = obj.get("definition_type");
        let definition = obj.get("definition");
        if !obj.contains_key("extensions") {
            if def_type.is_none() {
                self.err(
                    self.p("definition_type"),
                    "marking-definition",
                    "a marking-definition without `extensions` requires `definition_type`",
                );
            }
            if definition.is_none() {
                self.err(
                    self.p("definition"),
                    "marking-definition",
                    "a marking-definition without `extensions` requires `definition`",
                );
            }
        }
        if def_type.is_some() && definition.is_none() {
            self.err(
                self.p("definition"),
                "marking-definition",
                "`definition_type` requires `definition`",
            );
        }
        if let Some(d) = definition {
            if !d.is_object() {
                self.err(
                    self.p("definition"),
                    "marking-definition",
                    format!("`definition` must be an object, found {}", json_kind(d)),
                );
                return;
            }
        }
        match def_type.and_then(Value::as_str) {
            Some("tlp") => {
                let level = definition
                    .and_then(|d| d.get("tlp"))
                    .and_then(Value::as_str);
                if !matches!(level, Some("white" | "green" | "amber" | "red")) {
                    self.err(
                        self.p("definition").key("tlp"),
                        "marking-definition",
                        "a TLP 1.0 definition's `tlp` must be white, green, amber or red",
                    );
                }
            }
            Some("statement")
                if definition
                    .and_then(|d| d.get("statement"))
                    .and_then(Value::as_str)
                    .is_none() =>
            {
                self.err(
                    self.p("definition").key("statement"),
                    "marking-definition",
                    "a statement definition requires `statement` (a string)",
                );
            }
            _ => {}
        }
    }

    fn check_names_and_nulls(&mut self) {
        for (k, v) in self.obj {
            if !is_valid_property_name(k) {
                self.err(
                    self.p(k),
                    "property-name",
                    format!(
                        "property name `{k}` must be 3-250 characters of lower-case a-z, 0-9 and `_`, starting with a letter"
                    ),
                );
            }
            if v.is_null() {
                self.err(
                    self.p(k),
                    "null",
                    format!("`{k}` is null; STIX forbids null values (omit the property instead)"),
                );
            }
        }
    }

    fn check_timestamps(&mut self, type_name: &str) {
        // Each timestamp is parsed once; the valid ones are kept for the order checks.
        let mut parsed: Vec<(&str, DateTime<Utc>, &str)> = Vec::new();
        let keys = ["created", "modified"]
            .into_iter()
            .chain(timestamp_properties(type_name).iter().copied());
        for key in keys {
            let Some(v) = self.obj.get(key) else { continue };
            match v.as_str() {
                Some(s) => match Timestamp::parse_parts(s) {
                    Ok((secs, frac)) => {
                        // "MUST be precise to the nearest millisecond" (section 3.2): the
                        // text needs at least three fraction digits, even if they are zeros.
                        let millis = s.len() >= 24 && s.as_bytes()[19] == b'.' && s.len() - 21 >= 3;
                        if (key == "created" || key == "modified") && !millis {
                            self.err(
                                self.p(key),
                                "timestamp-precision",
                                format!("`{key}` ({s}) must be precise to the millisecond, e.g. `{}.000Z`", &s[..s.len().min(19)]),
                            );
                        }
                        parsed.push((key, secs, frac))
                    }
                    Err(m) => self.err(self.p(key), "timestamp", format!("`{key}`: {m}")),
                },
                None if !v.is_null() => self.err(
                    self.p(key),
                    "timestamp",
                    format!("`{key}` must be a timestamp string, found {}", json_kind(v)),
                ),
                None => {}
            }
        }
        let find = |k: &str| {
            parsed
                .iter()
                .find(|(key, _, _)| *key == k)
                .map(|(_, s, f)| (*s, *f))
        };
        let orders = [("modified", false, "created")]
            .into_iter()
            .chain(timestamp_orders(type_name).iter().copied());
        for (later, strict, earlier) in orders {
            let (Some(l), Some(e)) = (find(later), find(earlier)) else {
                continue;
            };
            let ord = l.0.cmp(&e.0).then_with(|| cmp_fraction(l.1, e.1));
            let bad = if strict {
                ord != Ordering::Greater
            } else {
                ord == Ordering::Less
            };
            if bad {
                let rel = if strict {
                    "later than"
                } else {
                    "later than or equal to"
                };
                let (lt, et) = (
                    self.obj[later].as_str().unwrap_or(""),
                    self.obj[earlier].as_str().unwrap_or(""),
                );
                self.err(
                    self.p(later),
                    "timestamp-order",
                    format!("`{later}` ({lt}) must be {rel} `{earlier}` ({et})"),
                );
            }
        }
    }

    fn check_confidence(&mut self) {
        if let Some(v) = self.obj.get("confidence") {
            if v.is_null() {
                return;
            }
            match v.as_i64() {
                Some(n) if (0..=100).contains(&n) => {}
                _ => self.err(
                    self.p("confidence"),
                    "confidence",
                    format!("`confidence` must be an integer from 0 to 100, found {v}"),
                ),
            }
        }
    }

    fn check_lists(&mut self) {
        // Walk the object's keys (about as many as LIST_PROPERTIES) instead of hashing
        // every list name: this runs on every ingested object.
        let obj = self.obj;
        for (key, v) in obj {
            if let Value::Array(items) = v {
                let string_list = !matches!(
                    key.as_str(),
                    "external_references" | "granular_markings" | "kill_chain_phases"
                );
                if string_list && !items.is_empty() && LIST_PROPERTIES.contains(&key.as_str()) {
                    if let Some(i) = items.iter().position(|x| !x.is_string()) {
                        self.err(
                            self.p(key).index(i),
                            "type",
                            format!(
                                "`{key}` must be a list of strings, found {}",
                                json_kind(&items[i])
                            ),
                        );
                    }
                }
            }
            if !matches!(v, Value::Array(_) | Value::Null)
                || matches!(v, Value::Array(a) if a.is_empty())
            {
                if !LIST_PROPERTIES.contains(&key.as_str()) {
                    continue;
                }
                match v {
                    Value::Array(_) => self.err(
                        self.p(key),
                        "empty-list",
                        format!("`{key}`, when present, must be a non-empty list"),
                    ),
                    other => self.err(
                        self.p(key),
                        "type",
                        format!("`{key}` must be a list, found {}", json_kind(other)),
                    ),
                }
            }
        }
    }

    /// What is wrong with one reference value, if anything; `target` constrains its
    /// type if known. Returns the rule and message so the pointer is only built for
    /// errors (validation runs on every ingested object).
    fn ref_problem(key: &str, v: &Value, target: Option<Target>) -> Option<(&'static str, String)> {
        let Some(id) = v.as_str() else {
            return Some((
                "reference",
                format!("`{key}` must hold id strings, found {}", json_kind(v)),
            ));
        };
        match StixId::parse(id) {
            Err(e) => Some(("reference", format!("`{key}`: {e}"))),
            Ok(parsed) => match target {
                Some(t) if !t.allows(parsed.type_name) => Some((
                    "reference-type",
                    format!(
                        "`{key}` must reference {}, but `{id}` is a {}",
                        t.describe(),
                        parsed.type_name
                    ),
                )),
                _ => None,
            },
        }
    }

    fn check_references(&mut self, type_name: &str) {
        let rules = reference_rules(type_name);
        let target_of = |key: &str| -> Option<Target> {
            if key == "created_by_ref" {
                return Some(Target::Types(&["identity"]));
            }
            rules.iter().find(|(k, _)| *k == key).map(|(_, t)| *t)
        };
        for (k, v) in self.obj {
            if k == "object_marking_refs" || v.is_null() {
                continue; // markings are checked by check_markings
            }
            if k.ends_with("_ref") {
                if let Some((rule, m)) = Self::ref_problem(k, v, target_of(k)) {
                    self.err(self.p(k), rule, m);
                }
            } else if k.ends_with("_refs") {
                match v {
                    Value::Array(a) => {
                        let target = target_of(k);
                        for (i, item) in a.iter().enumerate() {
                            if let Some((rule, m)) = Self::ref_problem(k, item, target) {
                                self.err(self.p(k).index(i), rule, m);
                            }
                        }
                    }
                    other => self.err(
                        self.p(k),
                        "reference",
                        format!("`{k}` must be a list of ids, found {}", json_kind(other)),
                    ),
                }
            }
        }
    }

    fn check_markings(&mut self, type_name: &str) {
        let own_id = self.obj.get("id").and_then(Value::as_str);
        if let Some(Value::Array(a)) = self.obj.get("object_marking_refs") {
            for (i, item) in a.iter().enumerate() {
                self.check_marking_ref(None, ("object_marking_refs", i), item, own_id, type_name);
            }
        }
        let Some(gm) = self.obj.get("granular_markings") else {
            return;
        };
        let Some(list) = gm.as_array() else { return };
        for (i, g) in list.iter().enumerate() {
            let p = self.p("granular_markings").index(i);
            let Some(g) = g.as_object() else {
                self.err(
                    p,
                    "marking",
                    format!(
                        "a granular marking must be an object, found {}",
                        json_kind(g)
                    ),
                );
                continue;
            };
            match (g.get("marking_ref"), g.get("lang")) {
                (Some(r), None) => self.check_marking_ref(
                    Some(&p),
                    ("marking_ref", usize::MAX),
                    r,
                    own_id,
                    type_name,
                ),
                (None, Some(_)) => {}
                (Some(_), Some(_)) => self.err(p.clone(), "marking", "a granular marking must have exactly one of `marking_ref` and `lang`, not both"),
                (None, None) => self.err(p.clone(), "marking", "a granular marking requires `marking_ref` or `lang`"),
            }
            match g.get("selectors") {
                Some(Value::Array(sel)) if !sel.is_empty() => {
                    for (j, s) in sel.iter().enumerate() {
                        let sp = p.key("selectors").index(j);
                        match s.as_str() {
                            Some(s) => {
                                if let Err(m) = resolve_selector(self.obj, s) {
                                    self.err(
                                        sp,
                                        "marking",
                                        format!("selector `{s}` does not resolve: {m}"),
                                    );
                                }
                            }
                            None => self.err(sp, "marking", "selectors must be strings"),
                        }
                    }
                }
                _ => self.err(
                    p.key("selectors"),
                    "marking",
                    "a granular marking requires a non-empty `selectors` list",
                ),
            }
        }
    }

    /// Check a marking reference. `at.0` is the property name and `at.1` its list index
    /// (`usize::MAX` for a single value); `base` is the pointer of the JSON object holding
    /// it (`None`: the STIX object itself).
    fn check_marking_ref(
        &mut self,
        base: Option<&Pointer>,
        at: (&str, usize),
        v: &Value,
        own_id: Option<&str>,
        type_name: &str,
    ) {
        let self_ref =
            type_name == "marking-definition" && v.as_str().is_some() && v.as_str() == own_id;
        let problem = Self::ref_problem(at.0, v, Some(Target::Types(&["marking-definition"])));
        if problem.is_none() && !self_ref {
            return;
        }
        let mut p = base.unwrap_or(self.at).key(at.0);
        if at.1 != usize::MAX {
            p = p.index(at.1);
        }
        if let Some((rule, m)) = problem {
            self.err(p.clone(), rule, m);
        }
        if self_ref {
            self.err(p, "marking", "a marking-definition must not mark itself");
        }
    }

    fn check_external_references(&mut self) {
        let Some(Value::Array(list)) = self.obj.get("external_references") else {
            return;
        };
        for (i, r) in list.iter().enumerate() {
            let p = self.p("external_references").index(i);
            match r.as_object() {
                None => self.err(
                    p,
                    "external-reference",
                    format!(
                        "an external reference must be an object, found {}",
                        json_kind(r)
                    ),
                ),
                Some(m) => {
                    if !m.get("source_name").is_some_and(Value::is_string) {
                        self.err(
                            p.key("source_name"),
                            "external-reference",
                            "an external reference requires `source_name` (a string)",
                        );
                    }
                    if !["description", "url", "external_id"]
                        .iter()
                        .any(|k| m.contains_key(*k))
                    {
                        self.err(
                            p.clone(),
                            "external-reference",
                            "an external reference needs `description`, `url` or `external_id` besides `source_name`",
                        );
                    }
                    if let Some(Value::Object(h)) = m.get("hashes") {
                        self.check_hashes(p.key("hashes"), h);
                    }
                }
            }
        }
    }

    fn check_kill_chain_phases(&mut self) {
        let Some(Value::Array(list)) = self.obj.get("kill_chain_phases") else {
            return;
        };
        for (i, k) in list.iter().enumerate() {
            let p = self.p("kill_chain_phases").index(i);
            for key in ["kill_chain_name", "phase_name"] {
                if !k.get(key).is_some_and(Value::is_string) {
                    self.err(
                        p.key(key),
                        "kill-chain-phase",
                        format!("a kill chain phase requires `{key}` (a string)"),
                    );
                }
            }
        }
    }

    fn check_hashes_everywhere(&mut self) {
        if let Some(v) = self.obj.get("hashes") {
            match v {
                Value::Object(h) => {
                    if h.is_empty() {
                        self.err(
                            self.p("hashes"),
                            "hashes",
                            "`hashes`, when present, must not be empty",
                        );
                    }
                    self.check_hashes(self.p("hashes"), h);
                }
                Value::Null => {}
                other => self.err(
                    self.p("hashes"),
                    "hashes",
                    format!("`hashes` must be an object, found {}", json_kind(other)),
                ),
            }
        }
    }

    fn check_hashes(&mut self, p: Pointer, hashes: &Map<String, Value>) {
        for (alg, v) in hashes {
            let Some(value) = v.as_str() else {
                self.err(
                    p.key(alg),
                    "hashes",
                    format!("hash `{alg}` must be a string, found {}", json_kind(v)),
                );
                continue;
            };
            if let Some(n) = hash_hex_len(alg) {
                if value.len() != n || !value.bytes().all(|c| c.is_ascii_hexdigit()) {
                    self.err(
                        p.key(alg),
                        "hashes",
                        format!("`{value}` is not a valid {alg} hash ({n} hexadecimal digits)"),
                    );
                }
            }
        }
    }

    /// `extensions` is a dictionary of objects; an extension-definition's entry names its
    /// `extension_type` from a closed enumeration.
    fn check_extensions(&mut self) {
        const EXTENSION_TYPES: &[&str] = &[
            "new-sdo",
            "new-sco",
            "new-sro",
            "property-extension",
            "toplevel-property-extension",
        ];
        let Some(exts) = self.obj.get("extensions") else {
            return;
        };
        let Some(exts) = exts.as_object() else {
            if !exts.is_null() {
                self.err(
                    self.p("extensions"),
                    "type",
                    format!("`extensions` must be an object, found {}", json_kind(exts)),
                );
            }
            return;
        };
        for (name, ext) in exts {
            let p = || self.p("extensions").key(name);
            let Some(ext) = ext.as_object() else {
                let m = format!(
                    "extension `{name}` must be an object, found {}",
                    json_kind(ext)
                );
                self.err(p(), "type", m);
                continue;
            };
            if let Some(t) = ext.get("extension_type") {
                if !t.as_str().is_some_and(|t| EXTENSION_TYPES.contains(&t)) {
                    let m = format!(
                        "`extension_type` must be one of {}, found {t}",
                        EXTENSION_TYPES.join(", ")
                    );
                    self.err(p().key("extension_type"), "enumeration", m);
                }
            }
        }
    }

    fn check_sco_id(&mut self, type_name: &str) {
        let Some(id) = self.obj.get("id").and_then(Value::as_str) else {
            return;
        };
        if StixId::parse(id).is_err() || contributing_properties(type_name).is_none() {
            return;
        }
        if let Ok(expected) = sco_id_from_map(type_name, self.obj) {
            if expected != id {
                self.warn(self.p("id"), "sco-id", format!("the deterministic id of this {type_name} is `{expected}` (UUIDv5 over its ID-contributing properties); `{id}` will not merge with other sources' copies"));
            }
        }
    }
}

/// Follow a granular-marking selector (`description`, `external_references.[0].url`)
/// through the object.
fn resolve_selector(obj: &Map<String, Value>, selector: &str) -> Result<(), String> {
    let mut segments = selector.split('.');
    let first = segments.next().unwrap_or("");
    let mut cur: &Value = obj
        .get(first)
        .ok_or_else(|| format!("there is no property `{first}`"))?;
    for seg in segments {
        cur = if let Some(idx) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let i: usize = idx
                .parse()
                .map_err(|_| format!("`{seg}` is not a list index"))?;
            match cur {
                Value::Array(a) => a
                    .get(i)
                    .ok_or_else(|| format!("index {i} is out of range"))?,
                _ => return Err(format!("`{seg}` indexes something that is not a list")),
            }
        } else {
            match cur {
                Value::Object(m) => m
                    .get(seg)
                    .ok_or_else(|| format!("there is no property `{seg}`"))?,
                _ => {
                    return Err(format!(
                        "`{seg}` names a property of something that is not an object"
                    ))
                }
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issues(v: Value) -> Vec<(String, &'static str)> {
        let o = StixObject::from_value(v).unwrap();
        validate_object(&o, &Pointer::object(3))
            .errors()
            .map(|i| (i.pointer.as_str().to_string(), i.rule))
            .collect()
    }

    fn indicator() -> Value {
        json!({
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
            "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
            "valid_from": "2016-01-01T00:00:00Z"
        })
    }

    #[test]
    fn valid_indicator_has_no_errors() {
        assert!(issues(indicator()).is_empty());
    }

    #[test]
    fn kept_pattern_is_the_one_validation_parsed() {
        let at = Pointer::object(3);
        let keep = |v: Value| {
            let o = StixObject::from_value(v).unwrap();
            let (report, pattern) = validate_object_keeping_pattern(&o, &at);
            assert_eq!(report, validate_object(&o, &at));
            pattern.map(|p| p.to_string())
        };
        assert_eq!(
            keep(indicator()).as_deref(),
            Some("[ipv4-addr:value = '198.51.100.1']")
        );
        let mut bad = indicator();
        bad["pattern"] = json!("[ipv4-addr:value = '1.2.3.4' and x:y = 1]");
        assert_eq!(keep(bad), None);
        let mut snort = indicator();
        snort["pattern_type"] = json!("snort");
        snort["pattern"] = json!("alert tcp any any -> any any (msg:\"x\";)");
        assert_eq!(keep(snort), None);
    }

    #[test]
    fn created_after_modified_is_located() {
        let mut v = indicator();
        v["created"] = json!("2017-01-01T00:00:00.000Z");
        assert_eq!(
            issues(v),
            vec![("/objects/3/modified".into(), "timestamp-order")]
        );
    }

    #[test]
    fn bad_timestamp_id_confidence() {
        let mut v = indicator();
        v["created"] = json!("2016-04-06T20:03:48+01:00");
        v["id"] = json!("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        v["confidence"] = json!(101);
        let got = issues(v);
        assert!(
            got.contains(&("/objects/3/created".into(), "timestamp")),
            "{got:?}"
        );
        assert!(got.contains(&("/objects/3/id".into(), "id")), "{got:?}");
        assert!(
            got.contains(&("/objects/3/confidence".into(), "confidence")),
            "{got:?}"
        );
    }

    #[test]
    fn sighting_references() {
        let v = json!({
            "type": "sighting", "spec_version": "2.1",
            "id": "sighting--ee20065d-2555-424f-ad9e-0f8428623c75",
            "created": "2016-04-06T20:08:31.000Z", "modified": "2016-04-06T20:08:31.000Z",
            "sighting_of_ref": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
            "where_sighted_refs": ["identity--b67d30ff-02ac-498a-92f9-32f845f448ff", "malware--b67d30ff-02ac-498a-92f9-32f845f448ff"],
            "created_by_ref": "indicator--b67d30ff-02ac-498a-92f9-32f845f448ff",
            "object_marking_refs": ["identity--b67d30ff-02ac-498a-92f9-32f845f448ff"]
        });
        let got = issues(v);
        assert!(
            got.contains(&("/objects/3/sighting_of_ref".into(), "reference-type")),
            "{got:?}"
        );
        assert!(
            got.contains(&("/objects/3/where_sighted_refs/1".into(), "reference-type")),
            "{got:?}"
        );
        assert!(
            got.contains(&("/objects/3/created_by_ref".into(), "reference-type")),
            "{got:?}"
        );
        assert!(
            got.contains(&("/objects/3/object_marking_refs/0".into(), "reference-type")),
            "{got:?}"
        );
        assert_eq!(got.len(), 4, "{got:?}");
    }

    #[test]
    fn granular_markings() {
        let mut v = indicator();
        v["granular_markings"] = json!([
            {"marking_ref": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "selectors": ["pattern"]},
            {"marking_ref": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "selectors": ["description"]},
            {"selectors": ["pattern"]}
        ]);
        let got = issues(v);
        assert_eq!(
            got,
            vec![
                (
                    "/objects/3/granular_markings/1/selectors/0".into(),
                    "marking"
                ),
                ("/objects/3/granular_markings/2".into(), "marking")
            ]
        );
    }

    #[test]
    fn tolerated_rules() {
        let mut v = indicator();
        v["created"] = json!("2016-04-06T20:03:48Z");
        let r = validate_object(&StixObject::from_value(v).unwrap(), &Pointer::root());
        assert!(!r.is_valid());
        assert!(r.is_valid_except(&["timestamp-precision"]));
    }

    #[test]
    fn required_and_sco_id_warning() {
        let o = StixObject::from_value(
            json!({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"}),
        )
        .unwrap();
        let r = validate_object(&o, &Pointer::root());
        assert_eq!(r.errors().next().unwrap().pointer.as_str(), "/value");
        let o = StixObject::from_value(json!({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "10.0.0.1"})).unwrap();
        let r = validate_object(&o, &Pointer::root());
        assert!(r.is_valid());
        assert_eq!(r.warnings().next().unwrap().rule, "sco-id");
    }
}
