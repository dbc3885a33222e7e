//! Which format a file or directory is, from its name and its first bytes.
//!
//! Rules, in order:
//! - a directory holding `manifest.json` → MISP feed;
//! - JSON whose top-level object has `"type": "bundle"` → STIX; whose first key is
//!   `"Event"` or `"response"` → MISP;
//! - a first line that is a URLhaus header (`id,dateadded,url,…`, possibly commented) →
//!   URLhaus;
//! - a first line with commas naming a value column (`indicator`, `value`, …), or any
//!   `.csv` file → CSV;
//! - anything else → plain lines.
//!
//! Directories are walked recursively in name order. Documentation and licence files are
//! skipped ([`is_ignored_name`]), as are files whose extension is not a data extension
//! ([`DATA_EXTENSIONS`]); a file named explicitly is always read.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{csv, urlhaus, Format, IngestError};

/// Bytes read from the start of a file to decide its format.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Extensions taken from directories (lower-case, without the dot).
pub const DATA_EXTENSIONS: &[&str] = &[
    "json", "stix", "csv", "txt", "list", "lst", "ioc", "iocs", "md5", "sha1", "sha256", "sha512",
];

/// File names skipped in directories: documentation, licences and provenance notes.
pub fn is_ignored_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    name.starts_with('.')
        || [
            "README",
            "LICENSE",
            "LICENCE",
            "PROVENANCE",
            "NOTICE",
            "FILEMAP",
            "COPYING",
            "CHANGELOG",
        ]
        .iter()
        .any(|p| upper.starts_with(p))
}

/// One input to ingest, with its format decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    pub format: Format,
}

/// Expand a path given on the command line into inputs.
pub fn expand(
    path: &Path,
    forced: Option<Format>,
    out: &mut Vec<Input>,
) -> Result<(), IngestError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| IngestError::Io {
        file: name.clone(),
        source,
    })?;
    if meta.is_file() {
        let format = match forced {
            Some(f) => f,
            None => sniff_file(path)?,
        };
        out.push(Input {
            path: path.to_path_buf(),
            format,
        });
        return Ok(());
    }
    if path.join("manifest.json").is_file() && matches!(forced, None | Some(Format::MispFeed)) {
        out.push(Input {
            path: path.to_path_buf(),
            format: Format::MispFeed,
        });
        return Ok(());
    }
    let before = out.len();
    walk(path, forced, out)?;
    if out.len() == before {
        return Err(IngestError::input(
            &name,
            "",
            format!(
                "no ingestible files in this directory (looked for *.{} and MISP feed manifests); name files explicitly to ingest others",
                DATA_EXTENSIONS.join(", *.")
            ),
        ));
    }
    Ok(())
}

fn walk(dir: &Path, forced: Option<Format>, out: &mut Vec<Input>) -> Result<(), IngestError> {
    let io = |source| IngestError::Io {
        file: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if is_ignored_name(&name) {
            continue;
        }
        if p.is_dir() {
            if p.join("manifest.json").is_file() && matches!(forced, None | Some(Format::MispFeed))
            {
                out.push(Input {
                    path: p,
                    format: Format::MispFeed,
                });
            } else {
                walk(&p, forced, out)?;
            }
            continue;
        }
        let ext = p
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if !DATA_EXTENSIONS.contains(&ext.as_str()) {
            continue;
        }
        let format = match forced {
            Some(f) => f,
            None => sniff_file(&p)?,
        };
        out.push(Input { path: p, format });
    }
    Ok(())
}

/// Decide the format of a file from its extension and first bytes.
pub fn sniff_file(path: &Path) -> Result<Format, IngestError> {
    let name = path.display().to_string();
    let mut f = std::fs::File::open(path).map_err(|source| IngestError::Io {
        file: name.clone(),
        source,
    })?;
    let mut head = vec![0u8; SNIFF_BYTES];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(IngestError::Io { file: name, source }),
        }
    }
    head.truncate(n);
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    Ok(sniff(&head, &ext))
}

/// Decide a format from the first bytes and the extension (lower-case, may be empty).
pub fn sniff(head: &[u8], ext: &str) -> Format {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start();
    if let Some(rest) = t.strip_prefix('{') {
        let first_key = rest.trim_start();
        if first_key.starts_with("\"Event\"") || first_key.starts_with("\"response\"") {
            return Format::Misp;
        }
        if has_bundle_type(t) {
            return Format::Stix;
        }
        if t.contains("\"Event\"") && t.contains("\"Attribute\"") {
            return Format::Misp;
        }
        // Unknown JSON: the STIX reader gives the clearest error ("not a STIX bundle").
        return Format::Stix;
    }
    let first_line = t.lines().find(|l| {
        let l = l.trim();
        // Skip comments, except a commented header naming `dateadded` (URLhaus CSV).
        !l.is_empty() && (!l.starts_with('#') || l.to_ascii_lowercase().contains("dateadded"))
    });
    if let Some(line) = first_line {
        let headers: Vec<String> = line
            .trim_start_matches('#')
            .split(',')
            .map(|h| csv::norm_header(h.trim_matches('"')))
            .collect();
        if headers.len() > 1 && urlhaus::is_urlhaus_header(&headers) {
            return Format::Urlhaus;
        }
        if headers.len() > 1 && csv::header_has_value_column(&headers) {
            return Format::Csv;
        }
    }
    if ext == "csv" {
        return Format::Csv;
    }
    if ext == "json" {
        return Format::Stix;
    }
    Format::Lines
}

/// Whether the top-level object says `"type": "bundle"` (before or after `objects`,
/// within the sniffed bytes).
fn has_bundle_type(t: &str) -> bool {
    let mut rest = t;
    while let Some(i) = rest.find("\"type\"") {
        let after = rest[i + 6..].trim_start();
        if let Some(v) = after.strip_prefix(':') {
            if v.trim_start().starts_with("\"bundle\"") {
                return true;
            }
        }
        rest = &rest[i + 6..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(
            sniff(
                br#"{"type": "bundle", "id": "bundle--x", "objects": []}"#,
                "json"
            ),
            Format::Stix
        );
        assert_eq!(
            sniff(
                b"\xEF\xBB\xBF{\n \"id\": \"bundle--x\",\n \"type\" : \"bundle\"}",
                ""
            ),
            Format::Stix
        );
        assert_eq!(sniff(br#"{"Event": {"info": "x"}}"#, "json"), Format::Misp);
        assert_eq!(
            sniff(br#"{ "response": [ {"Event": {}} ]}"#, "json"),
            Format::Misp
        );
        assert_eq!(
            sniff(
                b"id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n",
                "csv"
            ),
            Format::Urlhaus
        );
        assert_eq!(sniff(b"################\n# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n", "txt"), Format::Urlhaus);
        assert_eq!(
            sniff(b"Indicator,Type,Note\n1.2.3.4,ip,x\n", "txt"),
            Format::Csv
        );
        assert_eq!(
            sniff(b"# comment\nevil.example\n1.2.3.4:80\n", "txt"),
            Format::Lines
        );
        assert_eq!(sniff(b"a,b\n", "csv"), Format::Csv);
        assert_eq!(sniff(b"", "sha256"), Format::Lines);
    }

    #[test]
    fn ignores_documentation() {
        assert!(is_ignored_name("README.adoc"));
        assert!(is_ignored_name("PROVENANCE.txt"));
        assert!(!is_ignored_name("emotet.txt"));
    }
}
