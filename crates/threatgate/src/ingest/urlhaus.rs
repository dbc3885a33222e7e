//! The abuse.ch URLhaus CSV dump:
//! `id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter`.
//!
//! The header is either a plain first row (as in the online dump) or a `# id,dateadded,…`
//! comment (as in `csv.txt`); without either, the columns are taken in that standard order.
//!
//! Mapping: `url` → the observable; `dateadded` → first_seen; `last_online` → last_seen;
//! `threat` → a label (`malware_download`); `tags` → labels, except tags that name a
//! malware family, which go to malware. URLhaus tags mix families (`Mozi`, `AgentTesla`,
//! `QakBot`) with file traits (`elf`, `mips`, `32-bit`, `exe`); families are the tags with an
//! upper-case letter that are not in [`TRAIT_TAGS`]. `urlhaus_link` → references;
//! `url_status` → a label (`online`/`offline`); `reporter` → description.

use std::io::Read;

use super::csv::{csv_error, norm_header};
use super::text::{parse_loose_time, push_unique, LineGuard};
use super::{emit_item, emit_reject, Emit, Item, ParseContext, ParseEnd};
use crate::model::{Kind, Observable};

/// The dump's columns, in order.
pub const COLUMNS: [&str; 9] = [
    "id",
    "dateadded",
    "url",
    "url_status",
    "last_online",
    "threat",
    "tags",
    "urlhaus_link",
    "reporter",
];

/// Upper-case tags that describe a file, not a family.
pub const TRAIT_TAGS: &[&str] = &[
    "ELF",
    "PE",
    "EXE",
    "DLL",
    "ARM",
    "MIPS",
    "APK",
    "ZIP",
    "RAR",
    "ISO",
    "LNK",
    "JS",
    "VBS",
    "HTA",
    "PS1",
    "SH",
    "HTML",
    "PDF",
    "DOC",
    "XLS",
    "MSI",
    "CoinMiner",
    "Miner",
    "RAT",
    "Stealer",
    "Loader",
    "Ransomware",
];

/// Whether a header row (normalised) is a URLhaus one.
pub fn is_urlhaus_header(headers: &[String]) -> bool {
    headers.iter().any(|h| h == "urlhaus_link")
        || (headers.len() >= 3
            && headers[0] == "id"
            && headers[1] == "dateadded"
            && headers[2] == "url")
}

pub fn parse(reader: impl Read, ctx: &ParseContext, out: &mut dyn Emit) -> Result<(), ParseEnd> {
    let mut rd = ::csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(LineGuard::new(reader));
    let mut cols: Vec<usize> = (0..COLUMNS.len()).collect();
    let mut rec = ::csv::StringRecord::new();
    let mut first = true;
    loop {
        match rd.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                if let ::csv::ErrorKind::Utf8 { pos, .. } = e.kind() {
                    let line = pos.as_ref().map(|p| p.line()).unwrap_or(0);
                    emit_reject(
                        out,
                        format!("line {line}"),
                        "not valid UTF-8; URLhaus dumps are UTF-8",
                    )?;
                    continue;
                }
                return Err(csv_error(&e));
            }
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let cell0 = rec.get(0).unwrap_or("").trim();
        if cell0.starts_with('#') {
            // A commented header names the columns; other comments are skipped.
            let text = rec.iter().collect::<Vec<_>>().join(",");
            let h: Vec<String> = text
                .trim_start_matches('#')
                .split(',')
                .map(norm_header)
                .collect();
            if is_urlhaus_header(&h) {
                cols = map_columns(&h);
            }
            continue;
        }
        if first {
            first = false;
            let h: Vec<String> = rec.iter().map(norm_header).collect();
            if is_urlhaus_header(&h) {
                cols = map_columns(&h);
                continue;
            }
        }
        let get = |name: usize| {
            rec.get(cols[name])
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "None")
        };
        let Some(url) = get(2) else {
            emit_reject(out, format!("line {line}"), "no url in this row")?;
            continue;
        };
        let obs = match Observable::parse(Kind::Url, url) {
            Ok(o) => o,
            Err(e) => {
                emit_reject(out, format!("line {line}"), e.to_string())?;
                continue;
            }
        };
        let mut claim = ctx.base_claim();
        claim.first_seen = get(1).and_then(parse_loose_time);
        claim.last_seen = get(4).and_then(parse_loose_time).or(claim.first_seen);
        if let Some(t) = get(5) {
            push_unique(&mut claim.labels, t);
        }
        if let Some(s) = get(3) {
            push_unique(&mut claim.labels, s);
        }
        let explicit_malware = !ctx.opts.malware.is_empty();
        if let Some(tags) = get(6) {
            for tag in tags.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if is_family(tag) && !explicit_malware {
                    push_unique(&mut claim.malware, tag);
                } else {
                    push_unique(&mut claim.labels, tag.to_ascii_lowercase());
                }
            }
        }
        if let Some(l) = get(7) {
            push_unique(&mut claim.references, l);
        }
        if let Some(r) = get(8) {
            claim.description = Some(format!("reported by {r}"));
        }
        emit_item(
            out,
            Item {
                location: format!("line {line}"),
                object: None,
                claims: vec![(obs, claim)],
            },
        )?;
    }
    Ok(())
}

fn map_columns(h: &[String]) -> Vec<usize> {
    COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| h.iter().position(|x| x == c).unwrap_or(i))
        .collect()
}

/// A tag naming a malware family (see the module documentation).
pub fn is_family(tag: &str) -> bool {
    tag.chars().any(|c| c.is_ascii_uppercase())
        && !TRAIT_TAGS.iter().any(|t| t.eq_ignore_ascii_case(tag))
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

    #[test]
    fn maps_dump_columns() {
        let text = "id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\
\"3520667\",\"2025-04-21 12:35:06\",\"http://117.209.87.242:60905/bin.sh\",\"online\",\"2025-04-21 13:00:00\",\"malware_download\",\"32-bit,elf,mips,Mozi\",\"https://urlhaus.abuse.ch/url/3520667/\",\"geenensp\"\n";
        let ctx = ParseContext {
            name: "u.csv".into(),
            path: None,
            opts: IngestOptions::default(),
        };
        let mut c = Collect(vec![]);
        parse(text.as_bytes(), &ctx, &mut c).unwrap();
        assert_eq!(c.0.len(), 1);
        let Event::Item(i) = &c.0[0] else { panic!() };
        let (o, cl) = &i.claims[0];
        assert_eq!(o.value, "http://117.209.87.242:60905/bin.sh");
        assert_eq!(cl.malware, vec!["Mozi"]);
        assert_eq!(
            cl.labels,
            vec!["malware_download", "online", "32-bit", "elf", "mips"]
        );
        assert_eq!(cl.references, vec!["https://urlhaus.abuse.ch/url/3520667/"]);
        assert_eq!(
            cl.first_seen,
            crate::model::parse_time("2025-04-21T12:35:06Z").ok()
        );
        assert_eq!(i.location, "line 2");
    }
}
