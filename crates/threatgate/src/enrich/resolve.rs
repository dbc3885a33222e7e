//! Resolutions named in the data: which address a domain resolves to.
//!
//! Read from the STIX objects the hub may see (interactive scope: enrichment is the hub's
//! own processing, nothing leaves): `domain-name` objects with `resolves_to_refs`, and
//! `relationship` objects of type `resolves-to` from a `domain-name` to an address. The
//! referenced address objects are read by id. A domain with several resolutions takes
//! the first in id order, so a run is repeatable.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use chrono::Utc;

use crate::lookup::scope_for;
use crate::policy::Channel;
use crate::store::{ObjectQuery, Result, Store};

/// Objects read per page when scanning for resolutions.
pub const PAGE: usize = 1_000;
/// Ids per lookup of referenced objects.
pub const IDS_PER_QUERY: usize = 200;

/// Host name → address, from the data. Empty when there is no hub yet.
pub fn resolutions(store: &Store) -> Result<HashMap<String, IpAddr>> {
    let Some(hub) = store.hub()? else {
        return Ok(HashMap::new());
    };
    let scope = scope_for(store, &hub, Utc::now(), Channel::Interactive)?;
    // domain object id -> value, and domain id -> address object ids.
    let mut domain_values: HashMap<String, String> = HashMap::new();
    let mut links: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut rel_links: Vec<(String, String)> = vec![];
    let mut after = None;
    loop {
        let page = store.visible_objects(
            &scope,
            &ObjectQuery {
                after: after.clone(),
                types: vec!["domain-name".into(), "relationship".into()],
                limit: PAGE,
                ..Default::default()
            },
        )?;
        let Some(last) = page.last() else { break };
        after = Some((crate::model::format_time(last.date_added), last.pk));
        for o in &page {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&o.json) else {
                continue;
            };
            if o.stix_type == "domain-name" {
                if let Some(val) = v.get("value").and_then(|x| x.as_str()) {
                    domain_values.insert(
                        o.stix_id.clone(),
                        val.to_ascii_lowercase().trim_end_matches('.').to_string(),
                    );
                }
                if let Some(refs) = v.get("resolves_to_refs").and_then(|x| x.as_array()) {
                    links
                        .entry(o.stix_id.clone())
                        .or_default()
                        .extend(refs.iter().filter_map(|r| r.as_str().map(str::to_string)));
                }
            } else if v.get("relationship_type").and_then(|x| x.as_str()) == Some("resolves-to") {
                if let (Some(s), Some(t)) = (
                    v.get("source_ref").and_then(|x| x.as_str()),
                    v.get("target_ref").and_then(|x| x.as_str()),
                ) {
                    if s.starts_with("domain-name--") {
                        rel_links.push((s.to_string(), t.to_string()));
                    }
                }
            }
        }
    }
    for (s, t) in rel_links {
        links.entry(s).or_default().push(t);
    }
    if links.is_empty() {
        return Ok(HashMap::new());
    }
    let mut wanted: Vec<String> = links
        .values()
        .flatten()
        .filter(|r| r.starts_with("ipv4-addr--") || r.starts_with("ipv6-addr--"))
        .cloned()
        .collect();
    let domains_missing: Vec<String> = links
        .keys()
        .filter(|k| !domain_values.contains_key(*k))
        .cloned()
        .collect();
    wanted.extend(domains_missing);
    wanted.sort();
    wanted.dedup();
    let mut values: HashMap<String, String> = HashMap::new();
    for chunk in wanted.chunks(IDS_PER_QUERY) {
        for o in store.visible_objects(
            &scope,
            &ObjectQuery {
                ids: chunk.to_vec(),
                limit: chunk.len() * 4,
                ..Default::default()
            },
        )? {
            if let Some(val) = serde_json::from_str::<serde_json::Value>(&o.json)
                .ok()
                .and_then(|v| v.get("value").and_then(|x| x.as_str()).map(str::to_string))
            {
                values.insert(o.stix_id.clone(), val);
            }
        }
    }
    let mut out = HashMap::new();
    for (dom_id, mut refs) in links {
        let Some(name) = domain_values.get(&dom_id).or_else(|| values.get(&dom_id)) else {
            continue;
        };
        refs.sort();
        if let Some(ip) = refs
            .iter()
            .filter_map(|r| values.get(r))
            .find_map(|v| v.parse::<IpAddr>().ok())
        {
            out.entry(name.to_ascii_lowercase()).or_insert(ip);
        }
    }
    Ok(out)
}
