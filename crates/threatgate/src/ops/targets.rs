//! Picking an operation's targets: C2 servers and compromised websites the hub may see.
//!
//! Candidates come from [`Store::visible_observables`] under the hub's `Channel::Bulk`
//! scope, so RED data (never in bulk output) is never a target. A candidate is a target
//! when it has a category (from its sources' labels), its sightings overlap the window,
//! and the filter matches.
//!
//! Choices, written down:
//! - **Window overlap**: first seen ≤ window end and last seen ≥ window start. A source that
//!   gave no first/last seen is taken to have seen it from when it submitted
//!   (`created_at`) to its last re-submission (`updated_at`).
//! - **PAP**: active action needs PAP:CLEAR or PAP:GREEN from *every* source. A source that
//!   gave no PAP has not permitted action, so a missing PAP flags the target "needs source
//!   consent" too (DESIGN: "anything else is flagged"). Flagged targets are still reported,
//!   marked, so the receiving country can ask the source.
//! - Revoked statements and statements past their `valid_until` do not make a target.

use std::collections::BTreeMap;

use chrono::Utc;

use super::filter::{Candidate, Filter};
use super::{Category, NewTarget, Operation, Result, Snapshot};
use crate::lookup::scope_for;
use crate::model::*;
use crate::policy::Channel;
use crate::store::Store;

/// Labels that make an IP, domain or URL a command-and-control target.
pub const C2_LABELS: &[&str] = &[
    "c2",
    "botnet_cc",
    "botnet-cc",
    "c&c",
    "cnc",
    "command-and-control",
];
/// Labels that make a domain or URL a compromised-website target.
pub const WEBSITE_LABELS: &[&str] = &[
    "compromised-website",
    "compromised",
    "malware_download",
    "malware-download",
    "malware-distribution",
    "phishing",
];
/// Observables read per page from the store.
pub const PAGE: usize = 1000;

/// What picking found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Picked {
    /// Observables the hub may see (of the kinds an operation can act on).
    pub candidates: usize,
    /// Candidates that are targets (category, window and filter).
    pub matched: usize,
    pub added: usize,
    pub refreshed: usize,
    pub needs_consent: usize,
}

/// The category a set of statements gives an observable, if any.
pub fn categorise(kind: Kind, records: &[SourceRecord]) -> Option<Category> {
    let has = |list: &[&str]| {
        records
            .iter()
            .flat_map(|r| &r.claim.labels)
            .any(|l| list.iter().any(|x| l.eq_ignore_ascii_case(x)))
    };
    match kind {
        Kind::Ipv4 | Kind::Ipv6 | Kind::Domain | Kind::Url if has(C2_LABELS) => Some(Category::C2),
        Kind::Domain | Kind::Url if has(WEBSITE_LABELS) => Some(Category::CompromisedWebsite),
        _ => None,
    }
}

/// Pick (or refresh) the targets of `op` as `hub` sees the store at `now`.
pub fn pick(store: &Store, op: &Operation, hub: &Org, now: Time) -> Result<Picked> {
    let filter = Filter::parse(&op.filter)?;
    let scope = scope_for(store, hub, now, Channel::Bulk)?;
    let names: BTreeMap<OrgId, String> =
        store.orgs()?.into_iter().map(|o| (o.id, o.name)).collect();
    let contacts = store.network_contacts()?;
    let mut picked = Picked::default();
    let mut found = vec![];
    let mut after = 0;
    loop {
        let page = store.visible_observables(&scope, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.0.id;
        for (obs, recs) in page {
            if !matches!(obs.kind, Kind::Ipv4 | Kind::Ipv6 | Kind::Domain | Kind::Url) {
                continue;
            }
            let live: Vec<SourceRecord> = recs
                .into_iter()
                .filter(|r| !r.claim.revoked && r.claim.valid_until.is_none_or(|v| v > now))
                .collect();
            if live.is_empty() {
                continue;
            }
            picked.candidates += 1;
            let Some(category) = categorise(obs.kind, &live) else {
                continue;
            };
            let snapshot = snapshot_of(&live, &names);
            let (Some(first), Some(last)) = (snapshot.first_seen, snapshot.last_seen) else {
                continue;
            };
            if first > op.window_to || last < op.window_from {
                continue;
            }
            let cand = Candidate {
                kind: Some(obs.kind),
                labels: snapshot.labels.clone(),
                malware: snapshot.malware.clone(),
                sources: snapshot.sources.clone(),
                country: obs.enrichment.country.clone(),
                asn: obs.enrichment.asn,
                network: obs.enrichment.network.clone(),
                category: Some(category.as_str().to_string()),
                confidence: snapshot.confidence,
                first_seen: Some(first),
                last_seen: Some(last),
            };
            if !filter.matches(&cand) {
                continue;
            }
            let needs_consent = live
                .iter()
                .any(|r| !r.claim.pap.is_some_and(Pap::permits_active_action));
            picked.matched += 1;
            picked.needs_consent += needs_consent as usize;
            found.push(NewTarget {
                observable_id: obs.id,
                kind: obs.kind,
                value: obs.value.clone(),
                category,
                abuse_contact: obs.enrichment.asn.and_then(|a| contacts.get(&a).cloned()),
                country: obs.enrichment.country,
                asn: obs.enrichment.asn,
                network: obs.enrichment.network,
                registered_domain: obs.enrichment.registered_domain,
                snapshot,
                needs_consent,
                tlp: live
                    .iter()
                    .map(|r| r.claim.tlp_or_default())
                    .max()
                    .unwrap_or(Tlp::Amber),
            });
        }
    }
    let (added, refreshed) = store.upsert_targets(op.id, &found, hub.id)?;
    picked.added = added;
    picked.refreshed = refreshed;
    Ok(picked)
}

/// Pick at the current instant.
pub fn pick_now(store: &Store, op: &Operation, hub: &Org) -> Result<Picked> {
    pick(store, op, hub, Utc::now())
}

fn snapshot_of(recs: &[SourceRecord], names: &BTreeMap<OrgId, String>) -> Snapshot {
    let mut s = Snapshot::default();
    for r in recs {
        let c = &r.claim;
        for l in &c.labels {
            if !s.labels.contains(l) {
                s.labels.push(l.clone());
            }
        }
        for m in &c.malware {
            if !s.malware.iter().any(|x| x.eq_ignore_ascii_case(m)) {
                s.malware.push(m.clone());
            }
        }
        for p in &c.ports {
            if !s.ports.contains(p) {
                s.ports.push(*p);
            }
        }
        s.sources.push(
            names
                .get(&r.org_id)
                .cloned()
                .unwrap_or_else(|| format!("org #{}", r.org_id)),
        );
        s.confidence = s.confidence.max(c.confidence);
        let first = c.first_seen.unwrap_or(r.created_at);
        let last = c.last_seen.unwrap_or(r.updated_at).max(first);
        s.first_seen = Some(s.first_seen.map_or(first, |f| f.min(first)));
        s.last_seen = Some(s.last_seen.map_or(last, |l| l.max(last)));
        s.paps.push(c.pap);
    }
    s.labels.sort();
    s.malware.sort();
    s.ports.sort_unstable();
    s
}
