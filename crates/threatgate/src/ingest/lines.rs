//! Plain lists: one value per line (IPs, `IP:port`, domains, URLs with or without scheme,
//! hashes, e-mail addresses), `#` comments, and maltrail trail files.
//!
//! # Format
//!
//! ```text
//! file      ::= line*
//! line      ::= comment | value-line | blank
//! comment   ::= '#' text                     (ignored, except the two below)
//!             | '# Reference:' text          (a reference, see below)
//!             | '# Aliases:' name (',' name)*  (maltrail: more names of the family)
//! value-line::= value ( ws+ rest )?          (rest: a file name in `sha256sum` output,
//!                                             or a trailing `# comment`; kept as description)
//! ```
//!
//! Values are refanged and canonicalised by [`observable::detect_with_port`]; a port given
//! as `IP:port` or `host:port` is kept in the claim's ports; `host/path` without a scheme
//! is a URL (maltrail writes them so). Hash list files such as `samples.sha256` are plain
//! lists too (`hash  filename` lines keep the file name as the claim's description).
//!
//! # References (maltrail)
//!
//! Every value after a `# Reference: URL` line, until the next reference, carries that
//! reference. Consecutive `# Reference:` lines form one block whose references all apply.
//!
//! # Malware family from the file name (maltrail only)
//!
//! A maltrail trail under `.../malware/NAME.txt` names a family: its values get malware
//! `NAME` plus the names of its `# Aliases:` line, **unless `--malware` is given**, in
//! which case only the `--malware` names are used (the operator knows better than the
//! file name). Trails in other maltrail categories (`malicious/`, `suspicious/`) get the
//! category and the file name as labels instead (`suspicious`, `dynamic_domain`).
//! A file is a maltrail trail when its path has a `trails` or `maltrail` directory, or
//! its first comment lines mention Maltrail.
//!
//! Maltrail also has path-only trails (`/wp-admin/admin.php`, matched by its sensor in any
//! HTTP request). They name no host, so they are not observables the exchange merges:
//! in a trail file they are skipped; in any other list they are rejected like any value
//! that is not an observable.

use std::io::Read;
use std::path::Path;

use super::text::{clip, push_unique, Line, LineReader, MAX_LINE_BYTES};
use super::{emit_item, emit_reject, Emit, Item, ParseContext, ParseEnd};
use crate::model::Claim;

/// Comment lines at the top of a file searched for the word "Maltrail".
const HEADER_LINES_SNIFFED: u64 = 5;

/// What the file path says about a maltrail trail.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TrailInfo {
    pub is_trail: bool,
    /// `malware` for family files, `malicious` / `suspicious` for the others.
    pub category: Option<String>,
    pub stem: Option<String>,
}

/// Read maltrail facts from a path (`.../trails/static/malware/emotet.txt`).
pub fn trail_info(path: &Path) -> TrailInfo {
    let comps: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_ascii_lowercase())
        .collect();
    let is_trail = comps.iter().any(|c| c == "trails" || c == "maltrail");
    let category = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().to_ascii_lowercase());
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().to_ascii_lowercase());
    TrailInfo {
        is_trail,
        category,
        stem,
    }
}

pub fn parse(reader: impl Read, ctx: &ParseContext, out: &mut dyn Emit) -> Result<(), ParseEnd> {
    let mut info = ctx.path.as_deref().map(trail_info).unwrap_or_default();
    let explicit_malware = !ctx.opts.malware.is_empty();
    let mut base = ctx.base_claim();
    let mut lines = LineReader::new(reader);
    let mut refs: Vec<String> = vec![];
    let mut last_was_ref = false;
    let mut family_applied = false;
    loop {
        // The number the next line will have (the reader counts only lines it returns).
        let no = lines.line_no + 1;
        let line = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                return Err(ParseEnd::Fatal {
                    location: format!("line {no}"),
                    reason: format!("cannot read: {e}"),
                })
            }
        };
        let text = match line {
            Line::Text(t) => t,
            Line::TooLong(n) => {
                emit_reject(
                    out,
                    format!("line {no}"),
                    format!("the line is {n} bytes long, over the {MAX_LINE_BYTES}-byte limit for one value; skipped"),
                )?;
                continue;
            }
            Line::BadUtf8(at) => {
                emit_reject(
                    out,
                    format!("line {no}"),
                    format!(
                        "not valid UTF-8 (byte {} of the line); save the file as UTF-8",
                        at + 1
                    ),
                )?;
                continue;
            }
        };
        let t = text.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(comment) = t.strip_prefix('#') {
            let c = comment.trim();
            if no <= HEADER_LINES_SNIFFED && c.to_ascii_lowercase().contains("maltrail") {
                info.is_trail = true;
            }
            if let Some(r) = strip_prefix_ci(c, "reference:") {
                if !last_was_ref {
                    refs.clear();
                }
                let r = r.trim();
                // "http://x/dump.php (# 2019-11-04, AgentTesla)": keep the URL itself.
                let url = r.split_whitespace().next().unwrap_or(r);
                if !url.is_empty() {
                    push_unique(&mut refs, url);
                }
                last_was_ref = true;
            } else if let Some(a) = strip_prefix_ci(c, "aliases:") {
                if info.is_trail && !explicit_malware {
                    for name in a.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        push_unique(&mut base.malware, name.to_ascii_lowercase());
                    }
                }
                last_was_ref = false;
            } else {
                last_was_ref = false;
            }
            continue;
        }
        last_was_ref = false;
        if info.is_trail && !family_applied {
            family_applied = true;
            apply_family(&info, explicit_malware, &mut base);
        }
        let (value, rest) = match t.split_once(char::is_whitespace) {
            Some((v, r)) => (v, r.trim()),
            None => (t, ""),
        };
        if info.is_trail && value.starts_with('/') {
            // A maltrail path-only trail (`/admin.php`): it names no host, so no observable.
            continue;
        }
        match detect(value) {
            Ok((obs, port)) => {
                let mut claim: Claim = base.clone();
                claim.references.clone_from(&refs);
                if let Some(p) = port {
                    claim.ports.push(p);
                }
                let rest = rest.trim_start_matches('*').trim();
                let rest = rest.strip_prefix('#').map(str::trim).unwrap_or(rest);
                if !rest.is_empty() {
                    claim.description = Some(clip(rest));
                }
                emit_item(
                    out,
                    Item {
                        location: format!("line {no}"),
                        object: None,
                        claims: vec![(obs, claim)],
                    },
                )?;
            }
            Err(e) => emit_reject(out, format!("line {no}"), e.to_string())?,
        }
    }
    Ok(())
}

/// [`observable::detect_with_port`], plus `host:port/path` and `IP/path` without a scheme
/// (maltrail writes C2 URLs so), which are read as `http://` URLs.
fn detect(value: &str) -> Result<(crate::model::Observable, Option<u16>), observable::Error> {
    match observable::detect_with_port(value) {
        Ok(v) => Ok(v),
        Err(e) => {
            let host = value.split('/').next().unwrap_or("");
            if value.contains('/') && !value.contains("://") && !host.is_empty() {
                if let Ok(o) = crate::model::Observable::parse(
                    crate::model::Kind::Url,
                    &format!("http://{value}"),
                ) {
                    return Ok((o, None));
                }
            }
            Err(e)
        }
    }
}

fn apply_family(info: &TrailInfo, explicit_malware: bool, base: &mut Claim) {
    let Some(stem) = &info.stem else { return };
    match info.category.as_deref() {
        Some("malware") => {
            if !explicit_malware {
                // The family goes first; aliases were pushed as they were read.
                base.malware.retain(|m| m != stem);
                base.malware.insert(0, stem.clone());
            }
        }
        Some(cat) => {
            push_unique(&mut base.labels, cat);
            push_unique(&mut base.labels, stem.clone());
        }
        None => push_unique(&mut base.labels, stem.clone()),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
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

    fn run(path: &str, text: &str, opts: IngestOptions) -> Vec<Event> {
        let ctx = ParseContext {
            name: path.into(),
            path: Some(path.into()),
            opts,
        };
        let mut c = Collect(vec![]);
        parse(text.as_bytes(), &ctx, &mut c).unwrap();
        c.0
    }

    fn claims(ev: &[Event]) -> Vec<(String, Claim)> {
        ev.iter()
            .filter_map(|e| match e {
                Event::Item(i) => Some((i.claims[0].0.to_string(), i.claims[0].1.clone())),
                _ => None,
            })
            .collect()
    }

    const TRAIL: &str = "# Copyright (c) 2014-2026 Maltrail developers\n\n# Aliases: heodo, geodo\n\n# Reference: https://a.example/1\n# Reference: https://a.example/2\n\nevil[.]example\n66.210.228.178:443\n\n# Reference: https://b.example/3\n\nbad.example/gate.php\n999.1.1.1\n";

    #[test]
    fn maltrail_references_aliases_and_family() {
        let ev = run(
            "x/trails/static/malware/emotet.txt",
            TRAIL,
            IngestOptions::default(),
        );
        let c = claims(&ev);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].0, "domain-name:evil.example");
        assert_eq!(
            c[0].1.references,
            vec!["https://a.example/1", "https://a.example/2"]
        );
        assert_eq!(c[0].1.malware, vec!["emotet", "heodo", "geodo"]);
        assert_eq!(c[1].0, "ipv4-addr:66.210.228.178");
        assert_eq!(c[1].1.ports, vec![443]);
        assert_eq!(c[2].0, "url:http://bad.example/gate.php");
        assert_eq!(c[2].1.references, vec!["https://b.example/3"]);
        let rejects: Vec<_> = ev
            .iter()
            .filter(|e| matches!(e, Event::Reject { .. }))
            .collect();
        assert_eq!(rejects.len(), 1);
        match rejects[0] {
            Event::Reject { location, reason } => {
                assert_eq!(location, "line 14");
                assert!(reason.contains("999.1.1.1"), "{reason}");
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn explicit_malware_wins_over_the_file_name() {
        let opts = IngestOptions {
            malware: vec!["custom".into()],
            ..Default::default()
        };
        let c = claims(&run("x/trails/static/malware/emotet.txt", TRAIL, opts));
        assert_eq!(c[0].1.malware, vec!["custom"]);
    }

    #[test]
    fn other_categories_become_labels() {
        let c = claims(&run(
            "m/trails/static/suspicious/dynamic_domain.txt",
            "a.example\n",
            IngestOptions::default(),
        ));
        assert_eq!(c[0].1.labels, vec!["suspicious", "dynamic_domain"]);
        assert!(c[0].1.malware.is_empty());
    }

    #[test]
    fn hash_lists_keep_file_names() {
        let c = claims(&run(
            "samples.sha256",
            "433d0ca49bf2d80f3d61dcf97cd5af0ee52be83d5f8a070560cbf26ff840a676  dropper.exe\nD41D8CD98F00B204E9800998ECF8427E\n",
            IngestOptions::default(),
        ));
        assert_eq!(c[0].0.split(':').next(), Some("sha256"));
        assert_eq!(c[0].1.description.as_deref(), Some("dropper.exe"));
        assert_eq!(c[1].0, "md5:d41d8cd98f00b204e9800998ecf8427e");
        assert!(c[1].1.malware.is_empty(), "not a trail: no family");
    }
}
