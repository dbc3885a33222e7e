//! Generic CSV with a header row, tolerant of how partners name their columns.
//!
//! Header names are matched ignoring case, a UTF-8 BOM, surrounding spaces, and `-`/`_`/
//! space differences. Recognised columns (first match wins):
//!
//! | role | header names |
//! |---|---|
//! | value (required) | `indicator`, `value`, `ioc`, `observable`, `ioc_value`, `indicator_value` |
//! | type | `type`, `indicator_type`, `ioc_type`, `kind`, `value_type` |
//! | description | `note`, `notes`, `description`, `comment`, `comments` |
//! | tlp / pap | `tlp`, `pap` |
//! | confidence | `confidence` (0–100, or `low`/`medium`/`high`) |
//! | dates | `first_seen`, `firstseen`, `last_seen`, `lastseen` |
//! | labels | `tags`, `labels`, `tag`, `label` (split on `,` `;` `|`) |
//! | malware | `malware`, `malware_family`, `family` |
//! | references | `reference`, `references`, `link` |
//!
//! A file with a single column and no recognised header is read as values. The `type`
//! column accepts threatgate's kinds and common synonyms (`ip`, `IPv4`, `hostname`,
//! `FileHash-SHA256`, `email`); an unknown or empty type falls back to detection. Lines
//! starting with `#` are comments. Each row is one item; a bad row is rejected with its
//! line number.

use std::io::Read;

use super::text::{clip, parse_loose_time, push_unique, split_tags, LineGuard, LineTooLong};
use super::{emit_item, emit_reject, Emit, Item, ParseContext, ParseEnd};
use crate::model::{Kind, Observable, Pap, Tlp};

const VALUE: &[&str] = &[
    "indicator",
    "value",
    "ioc",
    "observable",
    "ioc_value",
    "indicator_value",
];
const TYPE: &[&str] = &["type", "indicator_type", "ioc_type", "kind", "value_type"];
const NOTE: &[&str] = &["note", "notes", "description", "comment", "comments"];
const FIRST: &[&str] = &["first_seen", "firstseen", "first_seen_utc"];
const LAST: &[&str] = &["last_seen", "lastseen", "last_seen_utc"];
const TAGS: &[&str] = &["tags", "labels", "tag", "label"];
const MALWARE: &[&str] = &["malware", "malware_family", "family"];
const REFS: &[&str] = &["reference", "references", "link"];

/// Normalise a header cell for matching.
pub fn norm_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .trim()
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
}

/// Whether a header row names a value column this parser understands (for sniffing).
pub fn header_has_value_column(headers: &[String]) -> bool {
    headers.iter().any(|h| VALUE.contains(&h.as_str()))
}

struct Columns {
    value: usize,
    kind: Option<usize>,
    note: Option<usize>,
    tlp: Option<usize>,
    pap: Option<usize>,
    confidence: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    tags: Option<usize>,
    malware: Option<usize>,
    refs: Option<usize>,
}

fn find(headers: &[String], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| headers.iter().position(|h| h == n))
}

pub(crate) fn csv_error(e: &::csv::Error) -> ParseEnd {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    if let ::csv::ErrorKind::Io(io) = e.kind() {
        if let Some(t) = io.get_ref().and_then(|x| x.downcast_ref::<LineTooLong>()) {
            return ParseEnd::Fatal {
                location: format!("line {}", t.line),
                reason: t.to_string(),
            };
        }
    }
    ParseEnd::Fatal {
        location: if line > 0 {
            format!("line {line}")
        } else {
            String::new()
        },
        reason: format!("malformed CSV: {e}"),
    }
}

pub fn parse(reader: impl Read, ctx: &ParseContext, out: &mut dyn Emit) -> Result<(), ParseEnd> {
    let mut rd = ::csv::ReaderBuilder::new()
        .flexible(true)
        .comment(Some(b'#'))
        .has_headers(true)
        .from_reader(LineGuard::new(reader));
    let raw_headers: Vec<String> = match rd.byte_headers() {
        Ok(h) => h
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect(),
        Err(e) => return Err(csv_error(&e)),
    };
    let headers: Vec<String> = raw_headers.iter().map(|h| norm_header(h)).collect();
    let single_column_values = headers.len() == 1 && find(&headers, VALUE).is_none();
    let value = match find(&headers, VALUE) {
        Some(i) => i,
        None if single_column_values => 0,
        None => {
            return Err(ParseEnd::Fatal {
                location: "line 1".into(),
                reason: format!(
                    "no indicator column in the header ({}); name it one of: {}",
                    headers.join(", "),
                    VALUE.join(", ")
                ),
            })
        }
    };
    let cols = Columns {
        value,
        kind: find(&headers, TYPE),
        note: find(&headers, NOTE),
        tlp: find(&headers, &["tlp"]),
        pap: find(&headers, &["pap"]),
        confidence: find(&headers, &["confidence"]),
        first: find(&headers, FIRST),
        last: find(&headers, LAST),
        tags: find(&headers, TAGS),
        malware: find(&headers, MALWARE),
        refs: find(&headers, REFS),
    };
    if single_column_values {
        // The "header" is the first value: feed it through as a row.
        let first = raw_headers
            .first()
            .map(|h| h.trim_start_matches('\u{feff}').to_string())
            .unwrap_or_default();
        row(&cols, &[first.as_str()], 1, ctx, out)?;
    }
    let mut rec = ::csv::ByteRecord::new();
    loop {
        match rd.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&e)),
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let mut fields = Vec::with_capacity(rec.len());
        let mut bad = None;
        for (i, f) in rec.iter().enumerate() {
            match std::str::from_utf8(f) {
                Ok(s) => fields.push(s),
                Err(_) => {
                    bad = Some(i + 1);
                    break;
                }
            }
        }
        if let Some(col) = bad {
            emit_reject(
                out,
                format!("line {line}"),
                format!("column {col} is not valid UTF-8; save the file as UTF-8"),
            )?;
            continue;
        }
        row(&cols, &fields, line, ctx, out)?;
    }
    Ok(())
}

fn row(
    cols: &Columns,
    fields: &[&str],
    line: u64,
    ctx: &ParseContext,
    out: &mut dyn Emit,
) -> Result<(), ParseEnd> {
    let get = |c: Option<usize>| {
        c.and_then(|i| fields.get(i))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    };
    let loc = format!("line {line}");
    let Some(raw) = get(Some(cols.value)) else {
        if fields.iter().all(|f| f.trim().is_empty()) {
            return Ok(());
        }
        emit_reject(out, loc, "the indicator column is empty")?;
        return Ok(());
    };
    let kind_text = get(cols.kind);
    let parsed = match kind_text.map(kind_from_type) {
        Some(Some(kind)) => match Observable::parse(kind, raw) {
            Ok(o) => Ok((o, None)),
            Err(e) if matches!(kind, Kind::Ipv4 | Kind::Ipv6 | Kind::Domain) => {
                // "1.2.3.4:443" typed as an IP: keep the port.
                match observable::detect_with_port(raw) {
                    Ok((o, p)) if o.kind == kind && p.is_some() => Ok((o, p)),
                    _ => Err(e.to_string()),
                }
            }
            Err(e) => Err(e.to_string()),
        },
        _ => observable::detect_with_port(raw).map_err(|e| match kind_text {
            Some(t) => format!("unknown type {t:?}, and {e}"),
            None => e.to_string(),
        }),
    };
    let (obs, port) = match parsed {
        Ok(v) => v,
        Err(reason) => {
            emit_reject(out, loc, reason)?;
            return Ok(());
        }
    };
    let mut claim = ctx.base_claim();
    if let Some(p) = port {
        claim.ports.push(p);
    }
    if let Some(t) = get(cols.tlp) {
        match t.parse::<Tlp>() {
            Ok(t) => claim.tlp = Some(t),
            Err(e) => {
                emit_reject(out, loc, e.to_string())?;
                return Ok(());
            }
        }
    }
    if let Some(p) = get(cols.pap) {
        match p.parse::<Pap>() {
            Ok(p) => claim.pap = Some(p),
            Err(e) => {
                emit_reject(out, loc, e.to_string())?;
                return Ok(());
            }
        }
    }
    if let Some(c) = get(cols.confidence) {
        match parse_confidence(c) {
            Some(n) => claim.confidence = Some(n),
            None => {
                emit_reject(
                    out,
                    loc,
                    format!("confidence {c:?} is not 0-100 or low/medium/high"),
                )?;
                return Ok(());
            }
        }
    }
    for (col, slot) in [
        (cols.first, &mut claim.first_seen),
        (cols.last, &mut claim.last_seen),
    ] {
        if let Some(t) = get(col) {
            match parse_loose_time(t) {
                Some(t) => *slot = Some(t),
                None => {
                    emit_reject(
                        out,
                        loc,
                        format!(
                            "{t:?} is not a date (use 2025-04-21, 2025-04-21 12:35:06 or RFC 3339)"
                        ),
                    )?;
                    return Ok(());
                }
            }
        }
    }
    if let Some(t) = get(cols.tags) {
        for tag in split_tags(t) {
            push_unique(&mut claim.labels, tag);
        }
    }
    if let Some(m) = get(cols.malware) {
        for name in split_tags(m) {
            push_unique(&mut claim.malware, name);
        }
    }
    if let Some(r) = get(cols.refs) {
        push_unique(&mut claim.references, r);
    }
    if let Some(n) = get(cols.note) {
        claim.description = Some(clip(n));
    }
    emit_item(
        out,
        Item {
            location: loc,
            object: None,
            claims: vec![(obs, claim)],
        },
    )?;
    Ok(())
}

/// A kind from a type column, accepting the names partner exports use.
pub fn kind_from_type(t: &str) -> Option<Kind> {
    if let Ok(k) = t.parse::<Kind>() {
        return Some(k);
    }
    let l = t.trim().to_ascii_lowercase().replace([' ', '_'], "-");
    Some(match l.as_str() {
        "ipv4-address" | "ip-address" | "ipaddress" | "ip-addr" | "cidr" | "ipv4-cidr" => {
            Kind::Ipv4
        }
        "ipv6-address" | "ipv6-cidr" => Kind::Ipv6,
        "domain-name" | "domainname" | "dns" => Kind::Domain,
        "filehash-md5" | "hash-md5" | "md5-hash" => Kind::Md5,
        "filehash-sha1" | "hash-sha1" | "sha1-hash" => Kind::Sha1,
        "filehash-sha256" | "hash-sha256" | "sha256-hash" => Kind::Sha256,
        "filehash-sha512" | "hash-sha512" => Kind::Sha512,
        "email-address" | "emailaddress" | "mail" => Kind::Email,
        _ => return None,
    })
}

fn parse_confidence(s: &str) -> Option<u8> {
    match s.to_ascii_lowercase().as_str() {
        "low" => Some(15),
        "medium" => Some(50),
        "high" => Some(85),
        t => t
            .trim_end_matches('%')
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= 100),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Event, IngestOptions, Stop};
    use super::*;
    use crate::model::Claim;

    struct Collect(Vec<Event>);
    impl Emit for Collect {
        fn emit(&mut self, e: Event) -> Result<(), Stop> {
            self.0.push(e);
            Ok(())
        }
    }

    /// Claims by value, rejects by location, and how the parse ended.
    type Parsed = (
        Vec<(String, Claim)>,
        Vec<(String, String)>,
        Result<(), ParseEnd>,
    );

    fn run(text: &[u8]) -> Parsed {
        let ctx = ParseContext {
            name: "x.csv".into(),
            path: None,
            opts: IngestOptions::default(),
        };
        let mut c = Collect(vec![]);
        let r = parse(text, &ctx, &mut c);
        let mut items = vec![];
        let mut rejects = vec![];
        for e in c.0 {
            match e {
                Event::Item(i) => items.push((i.claims[0].0.to_string(), i.claims[0].1.clone())),
                Event::Reject { location, reason } => rejects.push((location, reason)),
            }
        }
        (items, rejects, r)
    }

    #[test]
    fn tolerant_headers_with_bom() {
        let (items, rejects, r) = run(
            "\u{feff}Indicator,Indicator_Type,NOTES,TLP,Confidence,First Seen,Tags,Malware\n\
             hxxp://evil[.]example/x,URL,seen in phish,amber,high,2024-01-02,\"phishing,kit\",Emotet\n\
             1.2.3.4:8080,IPv4,,green,70,,,\n\
             999.1.1.1,ip,,,,,,\n\
             abcd,sha256,,,,,,\n"
                .as_bytes(),
        );
        r.unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].0, "url:http://evil.example/x");
        assert_eq!(items[0].1.tlp, Some(Tlp::Amber));
        assert_eq!(items[0].1.confidence, Some(85));
        assert_eq!(items[0].1.labels, vec!["phishing", "kit"]);
        assert_eq!(items[0].1.malware, vec!["Emotet"]);
        assert_eq!(items[0].1.description.as_deref(), Some("seen in phish"));
        assert_eq!(items[1].1.ports, vec![8080]);
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[0].0, "line 4");
        assert!(rejects[1].1.contains("sha256"), "{:?}", rejects[1]);
    }

    #[test]
    fn missing_value_column_is_explained() {
        let (_, _, r) = run(b"foo,bar\n1,2\n");
        match r {
            Err(ParseEnd::Fatal { reason, .. }) => {
                assert!(reason.contains("no indicator column"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_utf8_row_is_rejected() {
        let (items, rejects, _) = run(b"value\nevil.example\n\xff\xfe.example\n");
        assert_eq!(items.len(), 1);
        assert_eq!(rejects[0].0, "line 3");
    }
}
