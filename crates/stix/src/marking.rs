//! Data markings: TLP (1.0 and 2.0) and PAP, read from STIX objects, and the official
//! TLP 2.0 marking-definition objects for export.
//!
//! # Where the levels come from
//!
//! - **TLP 2.0**: the five marking-definitions published by OASIS for the TLP 2.0
//!   extension (`extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`), recognised
//!   by id, or any marking-definition carrying a `tlp_2_0` property in an extension.
//! - **TLP 1.0**: the four predefined STIX 2.1 marking-definitions (section 7.2.1.4),
//!   or any marking-definition with `definition_type: "tlp"`. `white` reads as
//!   [`Tlp::Clear`] (TLP 2.0 renamed it).
//! - **PAP** has no STIX standard: it is read from statement markings whose text is a
//!   PAP level (`PAP:GREEN`, as MISP exports its PAP taxonomy tags), from marking
//!   definitions named or typed `PAP` (OpenCTI style), and from labels (`pap:amber`).
//! - TLP is also read from labels (`tlp:green`, as MISP-derived feeds carry it) when no
//!   marking says otherwise.
//!
//! # Combining several markings
//!
//! When an object carries several levels (object markings, granular markings on its
//! parts, labels), the **most restrictive** wins: sharing an object whose description
//! is TLP:RED as TLP:GREEN would leak the description. Absence of any level is `None`;
//! the policy (not this crate) applies the source's default.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::object::StixObject;

/// The extension-definition the official TLP 2.0 marking-definitions declare.
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// `created` of the official TLP 2.0 marking-definitions (part of the published objects).
pub const TLP2_CREATED: &str = "2022-10-01T00:00:00.000Z";

/// `created` of the predefined TLP 1.0 marking-definitions.
pub const TLP1_CREATED: &str = "2017-01-20T00:00:00.000Z";

/// Traffic Light Protocol level, ordered from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tlp {
    /// TLP:CLEAR (TLP 1.0's WHITE): no limit on disclosure.
    #[serde(alias = "white")]
    Clear,
    /// TLP:GREEN: the community.
    Green,
    /// TLP:AMBER: the recipient organisation and its clients, need to know.
    Amber,
    /// TLP:AMBER+STRICT: the recipient organisation only.
    #[serde(rename = "amber+strict")]
    AmberStrict,
    /// TLP:RED: the named recipients only.
    Red,
}

impl Tlp {
    /// All levels, least restrictive first.
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// The TLP 2.0 level name in lower case: `clear`, `green`, `amber`, `amber+strict`, `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// The display label, e.g. `TLP:AMBER+STRICT`.
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

    /// Id of the official TLP 2.0 marking-definition for this level.
    pub fn marking_id(self) -> &'static str {
        match self {
            Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    }

    /// Id of the predefined TLP 1.0 marking-definition, if the level exists in TLP 1.0
    /// (AMBER+STRICT does not).
    pub fn tlp1_marking_id(self) -> Option<&'static str> {
        Some(match self {
            Tlp::Clear => "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
            Tlp::Green => "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
            Tlp::Amber => "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
            Tlp::Red => "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
            Tlp::AmberStrict => return None,
        })
    }

    /// The level of a well-known marking-definition id (TLP 2.0 or 1.0).
    pub fn from_marking_id(id: &str) -> Option<Tlp> {
        Tlp::ALL
            .into_iter()
            .find(|t| t.marking_id() == id || t.tlp1_marking_id() == Some(id))
    }

    /// Parse a level as written in labels, tags and configuration: `TLP:AMBER+STRICT`,
    /// `tlp:white`, `green`, `amber-strict`, ... Case-insensitive.
    pub fn parse(s: &str) -> Option<Tlp> {
        let s = s.trim().to_ascii_lowercase();
        let s = s
            .strip_prefix("tlp:")
            .or_else(|| s.strip_prefix("tlp-"))
            .unwrap_or(&s)
            .trim();
        Some(match s {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" | "amber-strict" | "amber_strict" | "amber strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return None,
        })
    }

    /// The official TLP 2.0 marking-definition object for this level, for bundles that
    /// reference [`Tlp::marking_id`] (TLP 2.0 markings are not predefined by STIX 2.1,
    /// so an export must carry them).
    pub fn marking_definition(self) -> StixObject {
        let mut ext = serde_json::Map::new();
        ext.insert(
            TLP2_EXTENSION_ID.to_string(),
            json!({ "extension_type": "property-extension", "tlp_2_0": self.as_str() }),
        );
        StixObject::from_value(json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.marking_id(),
            "created": TLP2_CREATED,
            "name": self.label(),
            "extensions": ext,
        }))
        .expect("a JSON object literal")
    }

    /// The predefined TLP 1.0 marking-definition object (STIX 2.1 section 7.2.1.4), for
    /// consumers that only understand TLP 1.0. `None` for AMBER+STRICT.
    pub fn tlp1_marking_definition(self) -> Option<StixObject> {
        let level = if self == Tlp::Clear {
            "white"
        } else {
            self.as_str()
        };
        let id = self.tlp1_marking_id()?;
        Some(
            StixObject::from_value(json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": id,
                "created": TLP1_CREATED,
                "definition_type": "tlp",
                "name": format!("TLP:{}", level.to_ascii_uppercase()),
                "definition": { "tlp": level },
            }))
            .expect("a JSON object literal"),
        )
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so column widths in tables apply.
        f.pad(self.label())
    }
}

impl FromStr for Tlp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tlp::parse(s).ok_or_else(|| {
            format!("`{s}` is not a TLP level (clear, green, amber, amber+strict, red)")
        })
    }
}

/// Permissible Actions Protocol level, ordered from least to most restrictive.
///
/// PAP governs what a recipient may *do* (active actions such as takedowns need
/// CLEAR or GREEN), where TLP governs who may *see*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pap {
    /// PAP:CLEAR (older PAP:WHITE): no restriction.
    #[serde(alias = "white")]
    Clear,
    /// PAP:GREEN: active actions allowed.
    Green,
    /// PAP:AMBER: passive actions only.
    Amber,
    /// PAP:RED: no action outside the recipient's own systems.
    Red,
}

impl Pap {
    /// PAP:WHITE is PAP:CLEAR under its older name.
    #[allow(non_upper_case_globals)]
    pub const White: Pap = Pap::Clear;

    /// All levels, least restrictive first.
    pub const ALL: [Pap; 4] = [Pap::Clear, Pap::Green, Pap::Amber, Pap::Red];

    /// Lower-case level name.
    pub fn as_str(self) -> &'static str {
        match self {
            Pap::Clear => "clear",
            Pap::Green => "green",
            Pap::Amber => "amber",
            Pap::Red => "red",
        }
    }

    /// Display label, e.g. `PAP:GREEN`.
    pub fn label(self) -> &'static str {
        match self {
            Pap::Clear => "PAP:CLEAR",
            Pap::Green => "PAP:GREEN",
            Pap::Amber => "PAP:AMBER",
            Pap::Red => "PAP:RED",
        }
    }

    /// Whether active action (takedown, sinkholing, notifying the host) is permitted.
    pub fn permits_active_action(self) -> bool {
        self <= Pap::Green
    }

    /// Parse `PAP:AMBER`, `pap:white`, `green`, ... Case-insensitive. A bare level
    /// without the `pap:` prefix is accepted only by this function, never when reading
    /// labels (a bare `green` label is not a PAP statement).
    pub fn parse(s: &str) -> Option<Pap> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix("pap:").unwrap_or(&s).trim();
        Some(match s {
            "clear" | "white" => Pap::Clear,
            "green" => Pap::Green,
            "amber" => Pap::Amber,
            "red" => Pap::Red,
            _ => return None,
        })
    }

    /// A statement marking-definition carrying this PAP level, the way MISP exports its
    /// PAP taxonomy. Its id is deterministic (UUIDv5 of the label in the SCO namespace) so
    /// every export names the same object.
    pub fn marking_definition(self) -> StixObject {
        let id = format!(
            "marking-definition--{}",
            uuid::Uuid::new_v5(&crate::id::SCO_NAMESPACE, self.label().as_bytes())
        );
        StixObject::from_value(json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": id,
            "created": TLP2_CREATED,
            "name": self.label(),
            "definition_type": "statement",
            "definition": { "statement": self.label() },
        }))
        .expect("a JSON object literal")
    }
}

impl fmt::Display for Pap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so column widths in tables apply.
        f.pad(self.label())
    }
}

impl FromStr for Pap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pap::parse(s).ok_or_else(|| format!("`{s}` is not a PAP level (clear, green, amber, red)"))
    }
}

/// What a marking-definition object means, as far as TLP and PAP go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MarkingMeaning {
    /// TLP level it states, if any.
    pub tlp: Option<Tlp>,
    /// PAP level it states, if any.
    pub pap: Option<Pap>,
}

/// Read a marking-definition object: which TLP or PAP level it states.
pub fn interpret_marking_definition(md: &StixObject) -> MarkingMeaning {
    let mut m = MarkingMeaning::default();
    if let Some(id) = md.id() {
        m.tlp = Tlp::from_marking_id(id);
    }
    let def_type = md.get_str("definition_type").map(str::to_ascii_lowercase);
    let definition = md.get("definition");
    // TLP 1.0 style: definition_type "tlp", definition {"tlp": "green"}.
    if def_type.as_deref() == Some("tlp") {
        if let Some(t) = definition
            .and_then(|d| d.get("tlp"))
            .and_then(Value::as_str)
        {
            m.tlp = m.tlp.or(Tlp::parse(t));
        }
    }
    // TLP 2.0 style: an extension with a `tlp_2_0` property.
    if let Some(exts) = md.get("extensions").and_then(Value::as_object) {
        for ext in exts.values() {
            if let Some(t) = ext.get("tlp_2_0").and_then(Value::as_str) {
                m.tlp = m.tlp.or(Tlp::parse(t));
            }
        }
    }
    // Statement markings: "PAP:GREEN" (MISP), sometimes "TLP:AMBER".
    if def_type.as_deref() == Some("statement") {
        if let Some(s) = definition
            .and_then(|d| d.get("statement"))
            .and_then(Value::as_str)
        {
            m.pap = m.pap.or(prefixed_pap(s));
            m.tlp = m.tlp.or(prefixed_tlp(s));
        }
    }
    // OpenCTI style: definition_type / x_opencti_definition_type "PAP", name "PAP:AMBER".
    let pap_typed = def_type.as_deref() == Some("pap")
        || md
            .get_str("x_opencti_definition_type")
            .is_some_and(|t| t.eq_ignore_ascii_case("pap"));
    if pap_typed {
        let texts = [
            md.get_str("name"),
            md.get_str("x_opencti_definition"),
            definition
                .and_then(|d| d.get("pap").or_else(|| d.get("PAP")))
                .and_then(Value::as_str),
        ];
        for t in texts.into_iter().flatten() {
            m.pap = m.pap.or(Pap::parse(t));
        }
    }
    // A name that is exactly a level, e.g. {"name": "PAP:RED"} or {"name": "TLP:AMBER"}.
    if let Some(name) = md.get_str("name") {
        m.pap = m.pap.or(prefixed_pap(name));
        if m.tlp.is_none() && def_type.as_deref() != Some("statement") {
            m.tlp = prefixed_tlp(name);
        }
    }
    m
}

/// A PAP level only when written with its `pap:` prefix.
fn prefixed_pap(s: &str) -> Option<Pap> {
    let t = s.trim();
    if t.len() > 4 && t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("pap:")) {
        Pap::parse(t)
    } else {
        None
    }
}

/// A TLP level only when written with its `tlp:` prefix.
fn prefixed_tlp(s: &str) -> Option<Tlp> {
    let t = s.trim();
    if t.len() > 4 && t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("tlp:")) {
        Tlp::parse(t)
    } else {
        None
    }
}

/// The marking-definitions known while reading a bundle, so that custom TLP or PAP
/// marking-definitions (not only the well-known ids) are understood.
///
/// Feed it every marking-definition as it streams by ([`Markings::learn`]); they
/// normally come before the objects that reference them, and a second pass is only
/// needed for bundles that put them last.
#[derive(Debug, Clone, Default)]
pub struct Markings {
    known: HashMap<String, MarkingMeaning>,
}

impl Markings {
    /// An empty set (the well-known TLP ids are always understood).
    pub fn new() -> Self {
        Self::default()
    }

    /// Remember what `object` means if it is a marking-definition; otherwise do nothing.
    pub fn learn(&mut self, object: &StixObject) {
        if object.type_name() == Some("marking-definition") {
            if let Some(id) = object.id() {
                let meaning = interpret_marking_definition(object);
                if meaning != MarkingMeaning::default() {
                    self.known.insert(id.to_string(), meaning);
                }
            }
        }
    }

    /// What a marking-definition id means: learned ones first, then the well-known TLP ids.
    pub fn meaning(&self, id: &str) -> MarkingMeaning {
        self.known.get(id).copied().unwrap_or(MarkingMeaning {
            tlp: Tlp::from_marking_id(id),
            pap: None,
        })
    }

    /// The most restrictive TLP level on `object`: its object markings, its granular
    /// markings, then its `tlp:` labels. `None` if it states none.
    pub fn tlp_of(&self, object: &StixObject) -> Option<Tlp> {
        let from_refs = marking_refs(object)
            .filter_map(|id| self.meaning(id).tlp)
            .max();
        let from_labels = object.labels().into_iter().filter_map(prefixed_tlp).max();
        from_refs.max(from_labels)
    }

    /// The most restrictive PAP level on `object`: marking refs, then `pap:` labels.
    pub fn pap_of(&self, object: &StixObject) -> Option<Pap> {
        let from_refs = marking_refs(object)
            .filter_map(|id| self.meaning(id).pap)
            .max();
        let from_labels = object.labels().into_iter().filter_map(prefixed_pap).max();
        from_refs.max(from_labels)
    }
}

fn marking_refs(object: &StixObject) -> impl Iterator<Item = &str> {
    object
        .object_marking_refs()
        .into_iter()
        .chain(object.granular_marking_refs())
}

/// TLP of `object` using only well-known marking ids and labels (no bundle context).
/// Prefer [`Markings::tlp_of`] while reading a bundle.
pub fn tlp_of(object: &StixObject) -> Option<Tlp> {
    Markings::default().tlp_of(object)
}

/// PAP of `object` from its labels and, if `object` is itself a marking-definition,
/// its own statement. Prefer [`Markings::pap_of`] while reading a bundle, since PAP
/// markings have no well-known ids.
pub fn pap_of(object: &StixObject) -> Option<Pap> {
    Markings::default().pap_of(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the CI fuzz pass: a name whose 4th byte is inside a multi-byte
    /// character panicked on the `pap:`/`tlp:` prefix check.
    #[test]
    fn names_with_multibyte_characters_near_the_prefix_do_not_panic() {
        for name in [
            "pa\u{e9}:x",
            "tl\u{20ac}AMBER",
            "\u{1f600}RED",
            "PAP:\u{e9}",
            "TLP:RED",
        ] {
            let md = StixObject::from_value(json!({"type": "marking-definition", "name": name}));
            let m = interpret_marking_definition(&md.unwrap());
            assert_eq!(m.tlp, (name == "TLP:RED").then_some(Tlp::Red), "{name}");
            assert_eq!(m.pap, None, "{name}");
        }
    }

    #[test]
    fn tlp_ids_and_order() {
        assert!(
            Tlp::Clear < Tlp::Green && Tlp::Amber < Tlp::AmberStrict && Tlp::AmberStrict < Tlp::Red
        );
        for t in Tlp::ALL {
            assert_eq!(Tlp::from_marking_id(t.marking_id()), Some(t));
            if let Some(id) = t.tlp1_marking_id() {
                assert_eq!(Tlp::from_marking_id(id), Some(t));
            }
            assert_eq!(
                interpret_marking_definition(&t.marking_definition()).tlp,
                Some(t)
            );
            assert_eq!(Tlp::parse(t.label()), Some(t));
        }
        assert_eq!(Tlp::parse("TLP:WHITE"), Some(Tlp::Clear));
        assert_eq!(
            serde_json::from_str::<Tlp>("\"amber+strict\"").unwrap(),
            Tlp::AmberStrict
        );
        assert_eq!(
            serde_json::from_str::<Tlp>("\"white\"").unwrap(),
            Tlp::Clear
        );
    }

    #[test]
    fn custom_tlp2_marking_definitions_are_understood() {
        // Any marking-definition carrying `tlp_2_0` in an extension, whatever its id or
        // the extension-definition's id, states that level.
        let md = StixObject::from_value(json!({
            "type": "marking-definition", "spec_version": "2.1",
            "id": "marking-definition--0a9e9aa5-7e0b-4b1c-9f5f-1f2d7a1c0e11",
            "created": "2022-10-01T00:00:00.000Z",
            "extensions": {"extension-definition--60a3c5c5-0d10-538e-8bfc-0fe2b1a0e4ab": {
                "extension_type": "property-extension", "tlp_2_0": "amber+strict"}}
        }))
        .unwrap();
        let mut m = Markings::new();
        m.learn(&md);
        let o = StixObject::from_value(
            json!({"type": "indicator", "object_marking_refs": [md.id().unwrap()]}),
        )
        .unwrap();
        assert_eq!(m.tlp_of(&o), Some(Tlp::AmberStrict));
        // Without having seen the definition, only well-known ids are understood.
        assert_eq!(tlp_of(&o), None);
    }

    #[test]
    fn most_restrictive_wins() {
        let o = StixObject::from_value(json!({
            "type": "indicator",
            "object_marking_refs": [Tlp::Green.marking_id()],
            "granular_markings": [{"marking_ref": Tlp::Red.tlp1_marking_id().unwrap(), "selectors": ["description"]}],
            "labels": ["tlp:amber", "pap:green", "PAP:AMBER"]
        }))
        .unwrap();
        assert_eq!(tlp_of(&o), Some(Tlp::Red));
        assert_eq!(pap_of(&o), Some(Pap::Amber));
    }

    #[test]
    fn pap_from_statement_markings() {
        let md = StixObject::from_value(json!({
            "type": "marking-definition", "id": "marking-definition--3e2ea1f6-5b8c-4fc0-8b5a-6e2f4ee3c8a1",
            "definition_type": "statement", "definition": {"statement": "PAP:GREEN"}
        }))
        .unwrap();
        let mut m = Markings::new();
        m.learn(&md);
        let o = StixObject::from_value(
            json!({"type": "indicator", "object_marking_refs": [md.id().unwrap()]}),
        )
        .unwrap();
        assert_eq!(m.pap_of(&o), Some(Pap::Green));
        assert_eq!(m.tlp_of(&o), None);
        assert_eq!(Pap::parse("PAP:WHITE"), Some(Pap::White));
        assert!(Pap::Green.permits_active_action() && !Pap::Amber.permits_active_action());
        assert_eq!(
            interpret_marking_definition(&Pap::Red.marking_definition()).pap,
            Some(Pap::Red)
        );
        // A bare "green" label is not a PAP statement.
        let o = StixObject::from_value(json!({"type": "indicator", "labels": ["green"]})).unwrap();
        assert_eq!(pap_of(&o), None);
    }
}
