//! MISP event JSON: `{"Event": {…}}` or `{"response": [{"Event": {…}}, …]}`.
//!
//! MISP events are not STIX, so no STIX object is stored: every attribute (and every
//! attribute of every MISP object) that names an observable becomes a claim, and the event
//! and attribute uuids are kept in the claim's `stix_ids` as `misp:event/<uuid>`,
//! `misp:attribute/<uuid>` (and `misp:object/<uuid>`), so the claim leads back to its
//! source event.
//!
//! | attribute type | observables |
//! |---|---|
//! | `ip-dst`, `ip-src` | the address or CIDR |
//! | `ip-dst\|port`, `ip-src\|port`, `hostname\|port` | the address or host, port kept |
//! | `domain`, `hostname` | the domain |
//! | `domain\|ip` | both |
//! | `url`, `uri` (with a scheme) | the URL |
//! | `md5`, `sha1`, `sha256`, `sha512` | the hash |
//! | `filename\|md5` … `filename\|sha512`, `malware-sample` | the hash; the file name is the description |
//! | `email`, `email-src`, `email-dst` | the address |
//! | `link` | not an observable: a reference on every claim of the event |
//!
//! Other types (`filename`, `regkey`, `mutex`, `text`, …) are not observables the exchange
//! merges and are skipped silently. Deleted attributes are skipped.
//!
//! Tags (event-level, overridden by attribute-level): `tlp:*` → TLP, `PAP:*` → PAP,
//! `misp-galaxy:<malware cluster>="Name"` (see [`MALWARE_GALAXIES`]) and Galaxy clusters of
//! those types → malware; other tags → labels. `to_ids: false` adds the label
//! `to_ids:false` (MISP's "not for detection"). `comment` → description (else the event's
//! `info`). `first_seen`/`last_seen` carry over; otherwise first_seen is the event `date`
//! and last_seen the attribute `timestamp`.

use std::io::Read;

use ::stix::object::json_kind;
use serde_json::Value;

use super::text::{clip, parse_loose_time, push_unique};
use super::{emit_item, emit_reject, Emit, Item, ParseContext, ParseEnd};
use crate::model::{Claim, Kind, Observable, Pap, Tlp};

/// Largest MISP event file read. Events are read whole (their structure needs it); the
/// biggest public events are tens of MB.
pub const MAX_EVENT_BYTES: u64 = 512 * 1024 * 1024;

/// Galaxy (cluster) types whose values are malware family names.
pub const MALWARE_GALAXIES: &[&str] = &[
    "malpedia",
    "ransomware",
    "rat",
    "tool",
    "botnet",
    "banker",
    "stealer",
    "backdoor",
    "android",
    "exploit-kit",
    "mitre-malware",
    "mitre-tool",
    "malware",
];

pub fn parse(reader: impl Read, ctx: &ParseContext, out: &mut dyn Emit) -> Result<(), ParseEnd> {
    let mut buf = Vec::new();
    let mut limited = reader.take(MAX_EVENT_BYTES + 1);
    limited.read_to_end(&mut buf).map_err(|e| ParseEnd::Fatal {
        location: String::new(),
        reason: format!("cannot read: {e}"),
    })?;
    if buf.len() as u64 > MAX_EVENT_BYTES {
        return Err(ParseEnd::Fatal {
            location: String::new(),
            reason: format!("a MISP event file larger than {MAX_EVENT_BYTES} bytes; split it into one file per event"),
        });
    }
    if buf.is_empty() {
        return Ok(()); // the pipeline reports the empty file
    }
    let body = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf);
    if let Err(at) = super::json_size::check(body, super::json_size::MAX_VALUES) {
        return Err(ParseEnd::Fatal {
            location: format!("line {}, column {}", at.line, at.column),
            reason: format!(
                "the event holds more than {} JSON values, too many to read whole; split it into smaller events",
                super::json_size::MAX_VALUES
            ),
        });
    }
    let doc: Value = serde_json::from_slice(body).map_err(|e| ParseEnd::Fatal {
        location: format!("line {}, column {}", e.line(), e.column()),
        reason: format!("malformed JSON: {}", strip_position(&e.to_string())),
    })?;
    for (ptr, event) in events(&doc)? {
        parse_event(&ptr, event, ctx, out)?;
    }
    Ok(())
}

fn strip_position(s: &str) -> &str {
    s.find(" at line ").map(|i| &s[..i]).unwrap_or(s)
}

fn fatal(location: &str, reason: impl Into<String>) -> ParseEnd {
    ParseEnd::Fatal {
        location: location.to_string(),
        reason: reason.into(),
    }
}

/// The events of a document, with their JSON pointers.
fn events(doc: &Value) -> Result<Vec<(String, &Value)>, ParseEnd> {
    let Some(top) = doc.as_object() else {
        return Err(fatal(
            "",
            "not a MISP event: expected a JSON object {\"Event\": …} or {\"response\": […]}",
        ));
    };
    if let Some(ev) = top.get("Event") {
        return Ok(vec![("/Event".into(), ev)]);
    }
    match top.get("response") {
        Some(Value::Array(items)) => {
            let mut v = vec![];
            for (i, item) in items.iter().enumerate() {
                match item.get("Event") {
                    Some(ev) => v.push((format!("/response/{i}/Event"), ev)),
                    None => {
                        return Err(fatal(&format!("/response/{i}"), "expected {\"Event\": …}"))
                    }
                }
            }
            Ok(v)
        }
        Some(other) => Err(fatal(
            "/response",
            format!("\"response\" must be an array, found {}", json_kind(other)),
        )),
        None => Err(fatal(
            "",
            "not a MISP event: no \"Event\" or \"response\" property",
        )),
    }
}

/// TLP, PAP, malware and labels from a `Tag` list and `Galaxy` list.
#[derive(Default, Clone)]
struct Tags {
    tlp: Option<Tlp>,
    pap: Option<Pap>,
    malware: Vec<String>,
    labels: Vec<String>,
}

fn read_tags(holder: &Value, into: &mut Tags) {
    if let Some(Value::Array(tags)) = holder.get("Tag") {
        for name in tags
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
        {
            let low = name.to_ascii_lowercase();
            if low.starts_with("tlp:") {
                if let Ok(t) = name.parse::<Tlp>() {
                    into.tlp = Some(into.tlp.map_or(t, |x| x.max(t)));
                }
            } else if low.starts_with("pap:") {
                if let Ok(p) = name.parse::<Pap>() {
                    into.pap = Some(into.pap.map_or(p, |x| x.max(p)));
                }
            } else if let Some(rest) = low.strip_prefix("misp-galaxy:") {
                let (galaxy, _) = rest.split_once('=').unwrap_or((rest, ""));
                let value = name
                    .split_once('=')
                    .map(|(_, v)| v.trim_matches('"'))
                    .unwrap_or("");
                if MALWARE_GALAXIES.contains(&galaxy) && !value.is_empty() {
                    push_unique(&mut into.malware, value);
                } else if !value.is_empty() {
                    push_unique(&mut into.labels, format!("{galaxy}:{value}"));
                }
            } else {
                push_unique(&mut into.labels, name);
            }
        }
    }
    if let Some(Value::Array(galaxies)) = holder.get("Galaxy") {
        for g in galaxies {
            let gtype = g.get("type").and_then(Value::as_str).unwrap_or("");
            let Some(Value::Array(clusters)) = g.get("GalaxyCluster") else {
                continue;
            };
            for c in clusters {
                let Some(value) = c.get("value").and_then(Value::as_str) else {
                    continue;
                };
                if MALWARE_GALAXIES.contains(&gtype) {
                    push_unique(&mut into.malware, value);
                }
            }
        }
    }
}

fn parse_event(
    ptr: &str,
    ev: &Value,
    ctx: &ParseContext,
    out: &mut dyn Emit,
) -> Result<(), ParseEnd> {
    if !ev.is_object() {
        return Err(fatal(
            ptr,
            format!("an event must be a JSON object, found {}", json_kind(ev)),
        ));
    }
    let uuid = ev
        .get("uuid")
        .and_then(Value::as_str)
        .or_else(|| ev.get("id").and_then(Value::as_str))
        .unwrap_or("unknown");
    let mut tags = Tags::default();
    read_tags(ev, &mut tags);
    let mut base = ctx.base_claim();
    // Markings stated in the data win over command-line defaults.
    base.tlp = tags.tlp.or(base.tlp);
    base.pap = tags.pap.or(base.pap);
    for m in &tags.malware {
        push_unique(&mut base.malware, m.clone());
    }
    for l in &tags.labels {
        push_unique(&mut base.labels, l.clone());
    }
    base.first_seen = ev
        .get("date")
        .and_then(Value::as_str)
        .and_then(parse_loose_time);
    base.description = ev.get("info").and_then(Value::as_str).map(clip);
    base.stix_ids = vec![format!("misp:event/{uuid}")];
    // `link` attributes describe the event: references for all its claims.
    let mut links = vec![];
    let mut collect_links = |attrs: Option<&Value>| {
        if let Some(Value::Array(a)) = attrs {
            for at in a {
                if at.get("type").and_then(Value::as_str) == Some("link") {
                    if let Some(v) = at.get("value").and_then(Value::as_str) {
                        push_unique(&mut links, v);
                    }
                }
            }
        }
    };
    collect_links(ev.get("Attribute"));
    if let Some(Value::Array(objs)) = ev.get("Object") {
        for o in objs {
            collect_links(o.get("Attribute"));
        }
    }
    base.references = links;
    attributes(
        &format!("{ptr}/Attribute"),
        ev.get("Attribute"),
        &base,
        None,
        out,
    )?;
    match ev.get("Object") {
        None | Some(Value::Null) => {}
        Some(Value::Array(objs)) => {
            for (j, o) in objs.iter().enumerate() {
                let optr = format!("{ptr}/Object/{j}");
                if o.get("deleted").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                let ouuid = o.get("uuid").and_then(Value::as_str);
                attributes(
                    &format!("{optr}/Attribute"),
                    o.get("Attribute"),
                    &base,
                    ouuid,
                    out,
                )?;
            }
        }
        Some(other) => emit_reject(
            out,
            format!("{ptr}/Object"),
            format!("\"Object\" must be an array, found {}", json_kind(other)),
        )?,
    }
    Ok(())
}

fn attributes(
    ptr: &str,
    attrs: Option<&Value>,
    base: &Claim,
    object_uuid: Option<&str>,
    out: &mut dyn Emit,
) -> Result<(), ParseEnd> {
    let list = match attrs {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(a)) => a,
        Some(other) => {
            emit_reject(
                out,
                ptr,
                format!("\"Attribute\" must be an array, found {}", json_kind(other)),
            )?;
            return Ok(());
        }
    };
    for (i, at) in list.iter().enumerate() {
        let aptr = format!("{ptr}/{i}");
        if !at.is_object() {
            emit_reject(
                out,
                aptr,
                format!(
                    "an attribute must be a JSON object, found {}",
                    json_kind(at)
                ),
            )?;
            continue;
        }
        if at.get("deleted").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let (t, v) = match (at.get("type"), at.get("value")) {
            (Some(Value::String(t)), Some(Value::String(v))) => (t.as_str(), v.as_str()),
            (Some(Value::String(_)), Some(other)) => {
                emit_reject(
                    out,
                    format!("{aptr}/value"),
                    format!("\"value\" must be a string, found {}", json_kind(other)),
                )?;
                continue;
            }
            (Some(other), _) if !other.is_string() => {
                emit_reject(
                    out,
                    format!("{aptr}/type"),
                    format!("\"type\" must be a string, found {}", json_kind(other)),
                )?;
                continue;
            }
            _ => {
                emit_reject(out, aptr, "an attribute needs \"type\" and \"value\"")?;
                continue;
            }
        };
        let values = match observables_of(t, v) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(reason) => {
                emit_reject(out, format!("{aptr}/value"), reason)?;
                continue;
            }
        };
        let mut claim = base.clone();
        let mut tags = Tags::default();
        read_tags(at, &mut tags);
        if let Some(t) = tags.tlp {
            claim.tlp = Some(t);
        }
        if let Some(p) = tags.pap {
            claim.pap = Some(p);
        }
        for m in tags.malware {
            push_unique(&mut claim.malware, m);
        }
        for l in tags.labels {
            push_unique(&mut claim.labels, l);
        }
        if at.get("to_ids").and_then(Value::as_bool) == Some(false) {
            push_unique(&mut claim.labels, "to_ids:false");
        }
        if let Some(c) = at
            .get("comment")
            .and_then(Value::as_str)
            .filter(|c| !c.trim().is_empty())
        {
            claim.description = Some(clip(c));
        }
        let time = |k: &str| match at.get(k) {
            Some(Value::String(s)) => parse_loose_time(s),
            Some(Value::Number(n)) => n
                .as_i64()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
            _ => None,
        };
        if let Some(f) = time("first_seen") {
            claim.first_seen = Some(f);
        }
        claim.last_seen = time("last_seen").or_else(|| time("timestamp"));
        if let Some(u) = object_uuid {
            claim.stix_ids.push(format!("misp:object/{u}"));
        }
        if let Some(u) = at.get("uuid").and_then(Value::as_str) {
            claim.stix_ids.push(format!("misp:attribute/{u}"));
        }
        let mut claims = vec![];
        for (obs, port, filename) in values {
            let mut c = claim.clone();
            if let Some(p) = port {
                c.ports.push(p);
            }
            if let Some(f) = filename {
                if c.description.is_none()
                    || at
                        .get("comment")
                        .and_then(Value::as_str)
                        .is_none_or(|s| s.trim().is_empty())
                {
                    c.description = Some(clip(f));
                }
            }
            claims.push((obs, c));
        }
        emit_item(
            out,
            Item {
                location: aptr,
                object: None,
                claims,
            },
        )?;
    }
    Ok(())
}

type Found<'a> = (Observable, Option<u16>, Option<&'a str>);

/// The observables a MISP attribute names; `Ok(None)` for types that name none.
pub fn observables_of<'a>(t: &str, v: &'a str) -> Result<Option<Vec<Found<'a>>>, String> {
    let ip = |s: &str| -> Result<Observable, String> {
        let s = s.trim();
        let kind = if s.contains(':') {
            Kind::Ipv6
        } else {
            Kind::Ipv4
        };
        Observable::parse(kind, s).map_err(|e| e.to_string())
    };
    let port = |s: &str| -> Result<u16, String> {
        s.trim()
            .parse::<u16>()
            .map_err(|_| format!("{s:?} is not a port number"))
    };
    let split = |v: &'a str| -> Result<(&'a str, &'a str), String> {
        v.split_once('|')
            .ok_or_else(|| format!("a composite value needs the form left|right, found {v:?}"))
    };
    let t = t.to_ascii_lowercase();
    let found = match t.as_str() {
        "ip-dst" | "ip-src" => vec![(ip(v)?, None, None)],
        "ip-dst|port" | "ip-src|port" => {
            let (a, p) = split(v)?;
            vec![(ip(a)?, Some(port(p)?), None)]
        }
        "hostname|port" => {
            let (h, p) = split(v)?;
            vec![(
                Observable::parse(Kind::Domain, h).map_err(|e| e.to_string())?,
                Some(port(p)?),
                None,
            )]
        }
        "domain" | "hostname" => vec![(
            Observable::parse(Kind::Domain, v).map_err(|e| e.to_string())?,
            None,
            None,
        )],
        "domain|ip" => {
            let (d, a) = split(v)?;
            vec![
                (
                    Observable::parse(Kind::Domain, d).map_err(|e| e.to_string())?,
                    None,
                    None,
                ),
                (ip(a)?, None, None),
            ]
        }
        "url" => vec![(
            Observable::parse(Kind::Url, v).map_err(|e| e.to_string())?,
            None,
            None,
        )],
        "uri" if v.contains("://") => vec![(
            Observable::parse(Kind::Url, v).map_err(|e| e.to_string())?,
            None,
            None,
        )],
        "md5" | "sha1" | "sha256" | "sha512" => {
            let kind: Kind = t.parse().map_err(|e: observable::Error| e.to_string())?;
            vec![(
                Observable::parse(kind, v).map_err(|e| e.to_string())?,
                None,
                None,
            )]
        }
        "malware-sample" | "filename|md5" | "filename|sha1" | "filename|sha256"
        | "filename|sha512" => {
            let (f, h) = split(v)?;
            let kind = match t.as_str() {
                "malware-sample" | "filename|md5" => Kind::Md5,
                "filename|sha1" => Kind::Sha1,
                "filename|sha256" => Kind::Sha256,
                _ => Kind::Sha512,
            };
            vec![(
                Observable::parse(kind, h).map_err(|e| e.to_string())?,
                None,
                Some(f),
            )]
        }
        "email" | "email-src" | "email-dst" => vec![(
            Observable::parse(Kind::Email, v).map_err(|e| e.to_string())?,
            None,
            None,
        )],
        _ => return Ok(None),
    };
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::super::{Event, IngestOptions, Stop};
    use super::*;

    struct Collect(Vec<Event>);
    impl Emit for Collect {
        fn emit(&mut self, e: Event) -> Result<(), Stop> {
            self.0.push(e);
            Ok(())
        }
    }

    const EVENT: &str = r#"{"response":[{"Event":{"uuid":"5c706a30-8ad4-4fcc-9e17-4d3d02de0b81","date":"2019-02-22","info":"BabyShark",
      "Tag":[{"name":"tlp:green"},{"name":"misp-galaxy:tool=\"BabyShark\""},{"name":"type:OSINT"}],
      "Attribute":[
        {"type":"link","value":"https://unit42.example/babyshark","uuid":"a1"},
        {"type":"ip-dst|port","value":"198.51.100.7|8443","to_ids":true,"uuid":"a2","timestamp":"1550871103"},
        {"type":"filename|sha256","value":"drop.exe|433d0ca49bf2d80f3d61dcf97cd5af0ee52be83d5f8a070560cbf26ff840a676","uuid":"a3","comment":"","Tag":[{"name":"PAP:AMBER"},{"name":"tlp:amber"}]},
        {"type":"domain|ip","value":"evil.example|203.0.113.9","to_ids":false,"uuid":"a4"},
        {"type":"regkey","value":"HKLM\\x","uuid":"a5"},
        {"type":"ip-dst","value":"999.1.1.1","uuid":"a6"},
        {"type":"md5","value":"abc","uuid":"a7"}
      ],
      "Object":[{"uuid":"o1","Attribute":[{"type":"url","value":"hxxp://evil[.]example/x","uuid":"a8"}]}]}}]}"#;

    #[test]
    fn attributes_composites_tags_and_pointers() {
        let ctx = ParseContext {
            name: "e.json".into(),
            path: None,
            opts: IngestOptions::default(),
        };
        let mut c = Collect(vec![]);
        parse(EVENT.as_bytes(), &ctx, &mut c).unwrap();
        let mut items = vec![];
        let mut rejects = vec![];
        for e in c.0 {
            match e {
                Event::Item(i) => items.push(i),
                Event::Reject { location, reason } => rejects.push((location, reason)),
            }
        }
        assert_eq!(items.len(), 4);
        let (o, cl) = &items[0].claims[0];
        assert_eq!(o.value, "198.51.100.7");
        assert_eq!(cl.ports, vec![8443]);
        assert_eq!(cl.tlp, Some(Tlp::Green));
        assert_eq!(cl.malware, vec!["BabyShark"]);
        assert_eq!(cl.references, vec!["https://unit42.example/babyshark"]);
        assert_eq!(
            cl.stix_ids,
            vec![
                "misp:event/5c706a30-8ad4-4fcc-9e17-4d3d02de0b81",
                "misp:attribute/a2"
            ]
        );
        assert!(cl.labels.contains(&"type:OSINT".to_string()));
        let (o, cl) = &items[1].claims[0];
        assert_eq!(o.kind, Kind::Sha256);
        assert_eq!(cl.tlp, Some(Tlp::Amber));
        assert_eq!(cl.pap, Some(Pap::Amber));
        assert_eq!(cl.description.as_deref(), Some("drop.exe"));
        assert_eq!(items[2].claims.len(), 2);
        assert!(items[2].claims[0]
            .1
            .labels
            .contains(&"to_ids:false".to_string()));
        assert_eq!(items[3].claims[0].0.value, "http://evil.example/x");
        assert!(items[3].claims[0]
            .1
            .stix_ids
            .contains(&"misp:object/o1".to_string()));
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[0].0, "/response/0/Event/Attribute/5/value");
        assert_eq!(rejects[1].0, "/response/0/Event/Attribute/6/value");
    }

    #[test]
    fn wrong_types_and_truncation() {
        let ctx = ParseContext {
            name: "e.json".into(),
            path: None,
            opts: IngestOptions::default(),
        };
        let mut c = Collect(vec![]);
        match parse(&br#"{"Event": {"Attribute": [{"type": "#[..], &ctx, &mut c) {
            Err(ParseEnd::Fatal { location, reason }) => {
                assert!(location.starts_with("line 1"), "{location}");
                assert!(reason.contains("malformed JSON"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let mut c = Collect(vec![]);
        parse(&br#"{"Event": {"Attribute": [{"type": 5, "value": "x"}, {"type": "md5", "value": 7}]}}"#[..], &ctx, &mut c).unwrap();
        let locs: Vec<String> =
            c.0.iter()
                .map(|e| match e {
                    Event::Reject { location, .. } => location.clone(),
                    _ => panic!(),
                })
                .collect();
        assert_eq!(
            locs,
            vec!["/Event/Attribute/0/type", "/Event/Attribute/1/value"]
        );
    }
}
