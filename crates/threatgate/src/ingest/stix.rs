//! STIX 2.1 bundles, streamed with [`::stix::BundleReader`] (memory bounded by the largest
//! object, not the bundle).
//!
//! Every valid object is stored as submitted (unknown and custom properties kept). Claims:
//!
//! - **indicator** with `pattern_type: stix`: one claim per observable its pattern names by
//!   equality (`[ipv4-addr:value = '…']`, `file:hashes.'SHA-256' = …`, `IN (…)`, CIDR
//!   `ISSUBSET`), via [`::stix::pattern::compile`]. `labels` and `indicator_types` become
//!   labels; `confidence`, `valid_until`, `revoked` carry over; `first_seen` is the
//!   object's `first_seen`, else `valid_from`, else `created`; `last_seen` is `last_seen`,
//!   else `modified`.
//! - **SCOs** `ipv4-addr`, `ipv6-addr`, `domain-name`, `url`, `email-addr` (their `value`)
//!   and `file` (each known hash).
//! - **malware names**: from `indicates` relationships from an indicator to a malware
//!   object in the same bundle (applied after the last object, as relationships usually
//!   come last), from indicator labels that name a malware object seen earlier, and from
//!   labels written `malware:NAME` or `family:NAME`.
//! - **TLP / PAP**: from `object_marking_refs` and granular markings (TLP 2.0 and 1.0 ids,
//!   and marking-definitions in the bundle, via [`::stix::Markings`]) and `tlp:`/`pap:`
//!   labels; `--tlp`/`--pap` apply where the object states none.
//!
//! Each claim is linked to the object it came from, so an observable leads back to the
//! indicators and SCOs that name it.
//!
//! Every object is validated in full by [`::stix::validate::validate_object`]; an invalid
//! one is rejected with the JSON pointer of its first error and a reason naming them all.

use std::collections::HashMap;
use std::io::Read;

use ::stix::{BundleReader, Markings, StixObject};
use serde_json::Value;

use super::text::push_unique;
use super::{emit_item, emit_reject, Emit, Item, ParseContext, ParseEnd, Stop};
use crate::model::{Claim, Kind, Observable, Pap, Tlp};
use crate::store::NewObject;

/// Indicators remembered for the relationship pass. Beyond this, `indicates`
/// relationships to indicators not yet remembered are ignored (logged in the report as
/// nothing: the indicator's own claims are unaffected). At ~150 bytes per entry this caps
/// the pass at a few hundred MB for the largest bundles.
pub const MAX_REMEMBERED_INDICATORS: usize = 2_000_000;

/// Reading state across the objects of one bundle (or one TAXII envelope).
pub struct BundleState<'c> {
    ctx: &'c ParseContext,
    markings: Markings,
    /// malware id → name.
    malware: HashMap<String, String>,
    /// lower-case malware name → name, for indicator labels.
    malware_names: HashMap<String, String>,
    /// indicator id → the observables its pattern names.
    indicators: HashMap<Box<str>, Vec<Observable>>,
    /// `indicates` relationships: (pointer, indicator id, malware id).
    indicates: Vec<(String, String, String)>,
}

impl<'c> BundleState<'c> {
    pub fn new(ctx: &'c ParseContext) -> Self {
        BundleState {
            ctx,
            markings: Markings::new(),
            malware: HashMap::new(),
            malware_names: HashMap::new(),
            indicators: HashMap::new(),
            indicates: Vec::new(),
        }
    }

    /// One object given as a JSON value (TAXII envelopes).
    pub fn value(&mut self, index: usize, v: Value, out: &mut dyn Emit) -> Result<(), Stop> {
        match StixObject::from_value(v) {
            Ok(o) => self.object(index, o, out),
            Err(e) => emit_reject(
                out,
                format!("/objects/{index}"),
                format!("is {}, but a STIX object must be a JSON object", e.found),
            ),
        }
    }

    /// One object of the bundle at `/objects/{index}`.
    pub fn object(
        &mut self,
        index: usize,
        obj: StixObject,
        out: &mut dyn Emit,
    ) -> Result<(), Stop> {
        let ptr = format!("/objects/{index}");
        let mut v = match validate(index, &obj) {
            Ok(v) => v,
            Err((loc, reason)) => return emit_reject(out, loc, reason),
        };
        self.markings.learn(&obj);
        let opts = &self.ctx.opts;
        let tlp = self.markings.tlp_of(&obj).and_then(tlp_of).or(opts.tlp);
        let pap = self.markings.pap_of(&obj).and_then(pap_of).or(opts.pap);
        let type_name = v.type_name.clone();
        let id = v.id.clone();
        let mut claims: Vec<(Observable, Claim)> = Vec::new();
        let mut base = Claim {
            tlp,
            pap,
            labels: opts.labels.clone(),
            malware: opts.malware.clone(),
            stix_ids: vec![id.clone()],
            ..Default::default()
        };
        match type_name.as_str() {
            "indicator" => {
                let observables = match indicator_observables(&obj, v.pattern.take()) {
                    Ok(o) => o,
                    Err(reason) => return emit_reject(out, format!("{ptr}/pattern"), reason),
                };
                indicator_claim(&obj, &mut base, &self.malware_names);
                if self.indicators.len() < MAX_REMEMBERED_INDICATORS && !observables.is_empty() {
                    self.indicators
                        .insert(id.clone().into_boxed_str(), observables.clone());
                }
                claims.extend(observables.into_iter().map(|o| (o, base.clone())));
            }
            "ipv4-addr" | "ipv6-addr" | "domain-name" | "url" | "email-addr" => {
                let kind = match type_name.as_str() {
                    "ipv4-addr" => Kind::Ipv4,
                    "ipv6-addr" => Kind::Ipv6,
                    "domain-name" => Kind::Domain,
                    "url" => Kind::Url,
                    _ => Kind::Email,
                };
                let Some(value) = obj.get_str("value") else {
                    return emit_reject(
                        out,
                        ptr,
                        format!("{type_name} is missing required property \"value\""),
                    );
                };
                match Observable::parse(kind, value) {
                    Ok(o) => {
                        common_claim(&obj, &mut base);
                        claims.push((o, base));
                    }
                    Err(e) => return emit_reject(out, format!("{ptr}/value"), e.to_string()),
                }
            }
            "file" => {
                if let Some(Value::Object(hashes)) = obj.get("hashes") {
                    common_claim(&obj, &mut base);
                    if let Some(name) = obj.get_str("name") {
                        base.description = Some(super::text::clip(name));
                    }
                    for (alg, h) in hashes {
                        let (Some(kind), Some(h)) = (Kind::from_hash_algorithm(alg), h.as_str())
                        else {
                            continue;
                        };
                        match Observable::parse(kind, h) {
                            Ok(o) => claims.push((o, base.clone())),
                            Err(e) => {
                                return emit_reject(
                                    out,
                                    format!("{ptr}/hashes/{}", escape_pointer(alg)),
                                    e.to_string(),
                                )
                            }
                        }
                    }
                }
            }
            "malware" => {
                if let Some(name) = obj.get_str("name") {
                    self.malware.insert(id.clone(), name.to_string());
                    self.malware_names
                        .insert(name.to_ascii_lowercase(), name.to_string());
                }
            }
            "relationship" if obj.get_str("relationship_type") == Some("indicates") => {
                if let (Some(s), Some(t)) = (obj.get_str("source_ref"), obj.get_str("target_ref")) {
                    if s.starts_with("indicator--") && t.starts_with("malware--") {
                        self.indicates
                            .push((ptr.clone(), s.to_string(), t.to_string()));
                    }
                }
            }
            _ => {}
        }
        // No version of its own (SCOs): the store keeps one copy per distinct JSON.
        let version = v.version.unwrap_or_default();
        let object = NewObject {
            stix_id: id,
            stix_type: type_name,
            version,
            spec_version: v.spec_version,
            tlp: tlp.unwrap_or(Tlp::Amber),
            json: obj.to_json(),
        };
        emit_item(
            out,
            Item {
                location: ptr,
                object: Some(object),
                claims,
            },
        )
    }

    /// After the last object: malware names from `indicates` relationships.
    pub fn finish(&mut self, out: &mut dyn Emit) -> Result<(), Stop> {
        for (ptr, ind, mal) in std::mem::take(&mut self.indicates) {
            let (Some(obs), Some(name)) =
                (self.indicators.get(ind.as_str()), self.malware.get(&mal))
            else {
                continue;
            };
            let claim = Claim {
                malware: vec![name.clone()],
                stix_ids: vec![ind.clone()],
                ..Default::default()
            };
            emit_item(
                out,
                Item {
                    location: ptr,
                    object: None,
                    claims: obs.iter().map(|o| (o.clone(), claim.clone())).collect(),
                },
            )?;
        }
        Ok(())
    }
}

/// Stream a bundle from `reader`.
pub fn parse_bundle(
    reader: impl Read,
    ctx: &ParseContext,
    out: &mut dyn Emit,
) -> Result<(), ParseEnd> {
    let mut state = BundleState::new(ctx);
    let mut rd = BundleReader::new(reader);
    let mut last = 0u64;
    while let Some(entry) = rd.next() {
        match entry {
            Ok(e) => state.object(e.index, e.object, out)?,
            Err(err) if err.is_recoverable() => {
                let loc = err.pointer().map(|p| p.to_string()).unwrap_or_default();
                emit_reject(out, loc, err.to_string())?;
            }
            Err(err) => {
                state.finish(out)?;
                let loc = match err.pointer() {
                    Some(p) => p.to_string(),
                    None => format!("line {}", err.location().line),
                };
                return Err(ParseEnd::Fatal {
                    location: loc,
                    reason: format!("{err}; the bundle cannot be read past this point"),
                });
            }
        }
        let now = rd.bytes_read();
        out.bytes(now - last);
        last = now;
    }
    state.finish(out)?;
    Ok(())
}

/// The facts about an object the store needs, once it is known to be valid.
struct Valid {
    type_name: String,
    id: String,
    /// `modified`, else `created`; `None` for objects without either (SCOs).
    version: Option<String>,
    spec_version: String,
    /// An indicator's STIX pattern as validation parsed it, so it is parsed only once.
    pattern: Option<::stix::pattern::Pattern>,
}

/// Full STIX 2.1 validation ([`::stix::validate::validate_object`]: every MUST, with the
/// JSON pointer of each offending value). On failure: the pointer of the first error and
/// a reason naming every error (later ones with their pointers).
fn validate(index: usize, obj: &StixObject) -> Result<Valid, (String, String)> {
    let (report, pattern) = ::stix::validate::validate_object_keeping_pattern(
        obj,
        &::stix::common::Pointer::object(index),
    );
    let mut errors = report.errors();
    if let Some(first) = errors.next() {
        let mut reason = first.message.clone();
        let rest: Vec<String> = errors
            .map(|i| format!("{}: {}", i.pointer, i.message))
            .collect();
        if !rest.is_empty() {
            reason.push_str(&format!(" (and {} more: {})", rest.len(), rest.join("; ")));
        }
        return Err((first.pointer.to_string(), reason));
    }
    // Valid, so `type` and `id` are strings.
    let text = |p: &str| obj.get_str(p).map(str::to_string);
    Ok(Valid {
        type_name: text("type").unwrap_or_default(),
        id: text("id").unwrap_or_default(),
        version: text("modified").or_else(|| text("created")),
        spec_version: text("spec_version")
            .unwrap_or_else(|| ::stix::common::SPEC_VERSION.to_string()),
        pattern,
    })
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The observables an indicator's pattern names by equality; an error for a STIX
/// pattern that does not parse. Other pattern languages (snort, yara, sigma) name none.
/// `parsed` is the pattern validation already parsed (always there for a valid STIX
/// indicator); it is parsed here only if not.
fn indicator_observables(
    obj: &StixObject,
    parsed: Option<::stix::pattern::Pattern>,
) -> Result<Vec<Observable>, String> {
    if obj.get_str("pattern_type") != Some("stix") {
        return Ok(vec![]);
    }
    let parsed = match parsed {
        Some(p) => p,
        None => ::stix::pattern::parse(obj.get_str("pattern").unwrap_or_default())
            .map_err(|e| format!("invalid STIX pattern: {e}"))?,
    };
    let compiled = ::stix::pattern::compile(&parsed);
    let mut v: Vec<Observable> = compiled.observables().cloned().collect();
    v.sort();
    v.dedup();
    Ok(v)
}

/// Labels, confidence, validity, dates, references and description common to claims.
fn common_claim(obj: &StixObject, c: &mut Claim) {
    for l in obj.labels() {
        let low = l.to_ascii_lowercase();
        if low.starts_with("tlp:") || low.starts_with("pap:") {
            continue;
        }
        push_unique(&mut c.labels, l);
    }
    if let Some(n) = obj.confidence() {
        c.confidence = Some(n.clamp(0, 100) as u8);
    }
    c.revoked = obj.revoked();
    let ts = |p: &str| obj.get_timestamp(p).map(|t| t.to_datetime());
    c.first_seen = ts("first_seen")
        .or_else(|| ts("valid_from"))
        .or_else(|| ts("created"));
    c.last_seen = ts("last_seen").or_else(|| ts("modified"));
    c.valid_until = ts("valid_until");
    for r in obj.external_references() {
        let text = r
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                let src = r.get("source_name").and_then(Value::as_str)?;
                let ext = r.get("external_id").and_then(Value::as_str)?;
                Some(format!("{src}:{ext}"))
            });
        if let Some(t) = text {
            push_unique(&mut c.references, t);
        }
    }
    c.description = obj
        .get_str("description")
        .or_else(|| obj.get_str("name"))
        .map(super::text::clip);
}

fn indicator_claim(obj: &StixObject, c: &mut Claim, malware_names: &HashMap<String, String>) {
    common_claim(obj, c);
    for t in obj.get_str_list("indicator_types") {
        push_unique(&mut c.labels, t);
    }
    for l in obj.labels() {
        let low = l.to_ascii_lowercase();
        if let Some(name) = low
            .strip_prefix("malware:")
            .or_else(|| low.strip_prefix("family:"))
        {
            push_unique(&mut c.malware, l[l.len() - name.len()..].trim());
        } else if let Some(name) = malware_names.get(&low) {
            push_unique(&mut c.malware, name.clone());
        }
    }
}

fn tlp_of(t: ::stix::Tlp) -> Option<Tlp> {
    t.as_str().parse().ok()
}

fn pap_of(p: ::stix::Pap) -> Option<Pap> {
    p.as_str().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::super::{Event, IngestOptions};
    use super::*;

    struct Collect(Vec<Event>);
    impl Emit for Collect {
        fn emit(&mut self, e: Event) -> Result<(), Stop> {
            self.0.push(e);
            Ok(())
        }
    }

    fn run(text: &str) -> (Vec<Event>, Result<(), ParseEnd>) {
        let ctx = ParseContext {
            name: "b.json".into(),
            path: None,
            opts: IngestOptions::default(),
        };
        let mut c = Collect(vec![]);
        let r = parse_bundle(text.as_bytes(), &ctx, &mut c);
        (c.0, r)
    }

    const IND: &str = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","indicator_types":["malicious-activity"],"pattern":"[ipv4-addr:value = '198.51.100.1'] OR [url:value = 'hxxp://evil[.]example/a']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z","object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],"x_custom":{"kept":true}}"#;
    const MAL: &str = r#"{"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","name":"Poison Ivy","is_family":true}"#;
    const REL: &str = r#"{"type":"relationship","spec_version":"2.1","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad","created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z","relationship_type":"indicates","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}"#;

    #[test]
    fn indicator_claims_markings_and_relationship_malware() {
        let text = format!(
            r#"{{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{IND},{MAL},{REL}]}}"#
        );
        let (ev, r) = run(&text);
        r.unwrap();
        let items: Vec<&Item> = ev
            .iter()
            .map(|e| match e {
                Event::Item(i) => i,
                Event::Reject { location, reason } => panic!("{location}: {reason}"),
            })
            .collect();
        assert_eq!(items.len(), 4);
        let ind = items[0];
        let obj = ind.object.as_ref().unwrap();
        assert_eq!(obj.tlp, Tlp::Green);
        assert!(obj.json.contains("x_custom"));
        let values: Vec<String> = ind.claims.iter().map(|(o, _)| o.to_string()).collect();
        assert_eq!(
            values,
            vec!["ipv4-addr:198.51.100.1", "url:http://evil.example/a"]
        );
        assert_eq!(ind.claims[0].1.labels, vec!["malicious-activity"]);
        assert_eq!(ind.claims[0].1.tlp, Some(Tlp::Green));
        let last = items[3];
        assert!(last.object.is_none());
        assert_eq!(last.claims.len(), 2);
        assert_eq!(last.claims[0].1.malware, vec!["Poison Ivy"]);
    }

    #[test]
    fn missing_required_property_names_pointer() {
        let bad = IND.replace(r#""pattern":"[ipv4-addr:value = '198.51.100.1'] OR [url:value = 'hxxp://evil[.]example/a']","#, "");
        let text = format!(
            r#"{{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{MAL},{bad}]}}"#
        );
        let (ev, _) = run(&text);
        match &ev[1] {
            Event::Reject { location, reason } => {
                assert_eq!(location, "/objects/1/pattern");
                assert_eq!(reason, "indicator requires `pattern`");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_pattern_and_bad_hash_are_rejected() {
        let bad = IND.replace(
            "[ipv4-addr:value = '198.51.100.1'] OR ",
            "[ipv4-addr:value = ",
        );
        let file = r#"{"type":"file","id":"file--5a27d487-c542-5f97-a131-a8866b477b46","hashes":{"SHA-256":"abcd"}}"#;
        let text = format!(
            r#"{{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{bad},{file}]}}"#
        );
        let (ev, _) = run(&text);
        let rejects: Vec<(String, String)> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Reject { location, reason } => Some((location.clone(), reason.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(rejects.len(), 2, "{rejects:?}");
        assert_eq!(rejects[0].0, "/objects/0/pattern");
        assert!(
            rejects[0].1.starts_with("not a valid STIX pattern"),
            "{}",
            rejects[0].1
        );
        assert_eq!(rejects[1].0, "/objects/1/hashes/SHA-256");
    }

    #[test]
    fn truncated_bundle_is_fatal_with_location() {
        let text = format!(
            r#"{{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{MAL},{{"type":"indic"#
        );
        let (ev, r) = run(&text);
        assert_eq!(ev.len(), 1);
        match r {
            Err(ParseEnd::Fatal { location, reason }) => {
                assert_eq!(location, "/objects/1");
                assert!(reason.contains("end of input"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
