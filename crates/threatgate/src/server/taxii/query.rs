//! The TAXII 2.1 URL filters (`added_after`, `limit`, `next`, `match[id]`, `match[type]`,
//! `match[version]`, `match[spec_version]`) parsed into a [`CollectionQuery`], and the
//! opaque `next` cursor.
//!
//! The cursor is the (date_added, pk) of the last row served, so a page is a keyset query:
//! pages stay correct while objects are added, and any server node can continue a read
//! another node started (nothing is kept in memory between requests).

use base64::Engine;

use super::super::error::Problem;
use super::super::limits::{DEFAULT_PAGE_SIZE, MAX_FILTER_VALUES, MAX_PAGE_SIZE};
use crate::model::{format_time, parse_stored_time, stix_time};
use crate::store::{CollectionQuery, ObjectQuery, VersionSelect};

/// Which filters an endpoint accepts (the spec lists them per endpoint).
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    pub id: bool,
    pub type_: bool,
    pub version: bool,
    pub spec_version: bool,
}

pub const OBJECTS: Allowed = Allowed {
    id: true,
    type_: true,
    version: true,
    spec_version: true,
};
pub const ONE_OBJECT: Allowed = Allowed {
    id: false,
    type_: false,
    version: true,
    spec_version: true,
};
pub const VERSIONS: Allowed = Allowed {
    id: false,
    type_: false,
    version: false,
    spec_version: true,
};

/// Parsed filters.
#[derive(Debug, Clone)]
pub struct Filters {
    pub query: CollectionQuery,
    /// The request carried `next` (a continuation, not a new read).
    pub continued: bool,
}

/// Parse the raw query string. Unknown parameters are ignored, as the spec allows;
/// malformed known ones are a 400 naming the parameter and the expected form.
pub fn parse(raw: Option<&str>, allowed: Allowed) -> Result<Filters, Problem> {
    let mut q = CollectionQuery {
        base: ObjectQuery {
            limit: DEFAULT_PAGE_SIZE,
            ..Default::default()
        },
        versions: VersionSelect::latest(),
        ..Default::default()
    };
    if !allowed.version {
        q.versions = VersionSelect::every();
    }
    let mut continued = false;
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "added_after" => {
                let t = parse_stored_time(v.trim()).ok_or_else(|| {
                    Problem::bad_request(format!(
                        "added_after={v:?} is not a timestamp; use RFC 3339, e.g. 2024-01-31T12:00:00.000Z (the X-TAXII-Date-Added-Last header of the previous response)"
                    ))
                })?;
                q.added_after = Some(format_time(t));
            }
            "limit" => {
                let n: usize = v.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Problem::bad_request(format!(
                        "limit={v:?} is not a positive integer; use 1 to {MAX_PAGE_SIZE}"
                    ))
                })?;
                q.base.limit = n.min(MAX_PAGE_SIZE);
            }
            "next" => {
                q.base.after = Some(decode_cursor(&v)?);
                continued = true;
            }
            "match[id]" if allowed.id => q.base.ids = list(&k, &v)?,
            "match[type]" if allowed.type_ => q.base.types = list(&k, &v)?,
            "match[spec_version]" if allowed.spec_version => q.base.spec_versions = list(&k, &v)?,
            "match[version]" if allowed.version => q.versions = versions(&v)?,
            _ => {}
        }
    }
    Ok(Filters {
        query: q,
        continued,
    })
}

fn list(key: &str, v: &str) -> Result<Vec<String>, Problem> {
    let items: Vec<String> = v
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if items.len() > MAX_FILTER_VALUES {
        return Err(Problem::bad_request(format!(
            "{key} lists {} values; at most {MAX_FILTER_VALUES} are accepted, split the request",
            items.len()
        )));
    }
    Ok(items)
}

/// `match[version]`: `first`, `last`, `all` or timestamps, comma-separated (OR-ed).
fn versions(v: &str) -> Result<VersionSelect, Problem> {
    let mut sel = VersionSelect::default();
    for item in list("match[version]", v)? {
        match item.as_str() {
            "all" => sel.all = true,
            "first" => sel.first = true,
            "last" => sel.last = true,
            ts => {
                let t = parse_stored_time(ts).ok_or_else(|| {
                    Problem::bad_request(format!(
                        "match[version]={ts:?} is neither first, last, all nor a timestamp such as 2016-04-06T20:07:09.000Z"
                    ))
                })?;
                // Stored versions keep the submitter's spelling; match the common ones.
                for form in [
                    ts.to_string(),
                    stix_time(t),
                    format_time(t),
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ] {
                    if !sel.exact.contains(&form) {
                        sel.exact.push(form);
                    }
                }
            }
        }
    }
    if !(sel.all || sel.first || sel.last || !sel.exact.is_empty()) {
        sel.last = true;
    }
    Ok(sel)
}

/// The `next` value for a page ending at (date_added, pk).
pub fn encode_cursor(date_added: &str, pk: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{date_added}|{pk}"))
}

fn decode_cursor(v: &str) -> Result<(String, i64), Problem> {
    let bad = || {
        Problem::bad_request(format!(
            "next={v:?} is not a cursor this server issued; repeat the request without `next` to start over"
        ))
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (added, pk) = text.split_once('|').ok_or_else(bad)?;
    let pk: i64 = pk.parse().map_err(|_| bad())?;
    parse_stored_time(added).ok_or_else(bad)?;
    Ok((added.to_string(), pk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = encode_cursor("2024-01-01T00:00:00.000001Z", 42);
        assert_eq!(
            decode_cursor(&c).unwrap(),
            ("2024-01-01T00:00:00.000001Z".to_string(), 42)
        );
        assert!(decode_cursor("nope").is_err());
    }

    #[test]
    fn filters_parse_and_bound() {
        let f = parse(
            Some("limit=5000&match[type]=indicator,malware&match[version]=first,2016-04-06T20:07:09.000Z&added_after=2020-01-01T00:00:00Z"),
            OBJECTS,
        )
        .unwrap();
        assert_eq!(f.query.base.limit, MAX_PAGE_SIZE);
        assert_eq!(f.query.base.types, vec!["indicator", "malware"]);
        assert!(f.query.versions.first && !f.query.versions.last);
        assert!(f
            .query
            .versions
            .exact
            .contains(&"2016-04-06T20:07:09.000Z".to_string()));
        assert_eq!(
            f.query.added_after.as_deref(),
            Some("2020-01-01T00:00:00.000000Z")
        );
        assert!(parse(Some("limit=0"), OBJECTS).is_err());
        assert!(parse(Some("added_after=yesterday"), OBJECTS).is_err());
        assert!(parse(Some("match[version]=newest"), OBJECTS).is_err());
        // Filters an endpoint does not take are ignored.
        let f = parse(Some("match[type]=indicator"), VERSIONS).unwrap();
        assert!(f.query.base.types.is_empty() && f.query.versions.all);
    }
}
