//! Search and observable detail: one value (defanged forms accepted) looked up through
//! [`crate::lookup::lookup`], showing the source records, linked STIX objects and
//! sightings the policy lets the viewer see, with the enrichment (country, ASN, network).
//! An observable with no visible record reads exactly like an unknown one.

use maud::{html, Markup};

use super::layout::{date, opt_date, page, tlp_badge, Nav};
use super::svg::country_name;
use super::{PageResult, UiError, Viewer};
use crate::lookup::{lookup, LookupError, ObservableView};
use crate::model::{ObservableRow, Org, SourceRecord, Tlp};
use crate::ops::filter::{Candidate, Filter};
use crate::ops::targets::categorise;
use crate::policy::Channel;
use crate::store::AuditEvent;
use crate::store::Store;

/// Longest query accepted.
pub const MAX_QUERY: usize = 4096;
/// Most results a filter search lists.
pub const MAX_FILTER_RESULTS: usize = 200;
/// Most observables a filter search examines (bounds the work of one page view).
pub const MAX_FILTER_SCAN: usize = 100_000;
/// Observables read per store page while filtering.
const SCAN_PAGE: usize = 1000;

/// One filter hit: the observable, the viewer's visible records, their source names.
pub struct Hit {
    pub observable: ObservableRow,
    pub records: Vec<SourceRecord>,
    pub sources: Vec<String>,
}

/// The filter results and whether the scan stopped at a limit.
pub struct FilterResults {
    pub hits: Vec<Hit>,
    pub truncated: bool,
}

/// Observables the viewer may see whose visible records match `f` (evaluated on those
/// records only, so a hidden record can neither add nor explain a match). Audited.
pub fn filter_search(
    store: &Store,
    v: &Viewer,
    f: &Filter,
    text: &str,
) -> Result<FilterResults, UiError> {
    let orgs = store.orgs()?;
    let mut hits = vec![];
    let mut after = 0;
    let mut scanned = 0;
    let mut truncated = false;
    'scan: loop {
        let page = store.visible_observables(&v.scope, after, SCAN_PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.0.id;
        for (obs, records) in page {
            scanned += 1;
            if scanned > MAX_FILTER_SCAN || hits.len() >= MAX_FILTER_RESULTS {
                truncated = true;
                break 'scan;
            }
            let mut sources: Vec<String> = records
                .iter()
                .map(|r| super::dashboard::org_name(&orgs, r.org_id))
                .collect();
            sources.dedup();
            let mut cand = Candidate {
                kind: Some(obs.kind),
                labels: vec![],
                malware: vec![],
                sources: sources.clone(),
                country: obs.enrichment.country.clone(),
                asn: obs.enrichment.asn,
                network: obs.enrichment.network.clone(),
                category: categorise(obs.kind, &records).map(|c| c.as_str().to_string()),
                confidence: None,
                first_seen: None,
                last_seen: None,
            };
            for r in &records {
                let c = &r.claim;
                cand.labels.extend(c.labels.iter().cloned());
                cand.malware.extend(c.malware.iter().cloned());
                cand.confidence = cand.confidence.max(c.confidence);
                cand.first_seen = match (cand.first_seen, c.first_seen) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                cand.last_seen = cand.last_seen.max(c.last_seen);
            }
            if f.matches(&cand) {
                hits.push(Hit {
                    observable: obs,
                    records,
                    sources,
                });
            }
        }
    }
    store.audit(AuditEvent::new(
        Some(v.org.id),
        "search.filter",
        format!("filter:{text}"),
        serde_json::json!({"hits": hits.len(), "truncated": truncated}),
    ))?;
    Ok(FilterResults { hits, truncated })
}

fn filter_results(r: &FilterResults) -> Markup {
    html! {
        section aria-labelledby="h-hits" {
            h2 #h-hits { (r.hits.len()) " matching " (if r.hits.len() == 1 { "observable" } else { "observables" }) @if r.truncated { " (the first ones; narrow the filter to see all)" } }
            @if r.hits.is_empty() {
                p.muted { "Nothing you may see matches this filter." }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { "Observable" }
                        th scope="col" { "Type" }
                        th scope="col" { "Country" }
                        th scope="col" { "Network" }
                        th scope="col" { "Labels" }
                        th scope="col" { "Malware" }
                        th scope="col" { "Sources" }
                        th scope="col" { "TLP" }
                    } }
                    tbody {
                        @for h in &r.hits {
                            @let o = &h.observable;
                            @let labels = sorted_unique(h.records.iter().flat_map(|x| x.claim.labels.iter()));
                            @let malware = sorted_unique(h.records.iter().flat_map(|x| x.claim.malware.iter()));
                            @let tlp = h.records.iter().map(|x| x.claim.tlp_or_default()).max().unwrap_or(Tlp::Clear);
                            tr {
                                th scope="row" { a.value href={"/search?q=" (url_encode(&o.value))} { (o.value) } }
                                td { (o.kind) }
                                td { (o.enrichment.country.as_deref().unwrap_or("–")) }
                                td { @if let Some(a) = o.enrichment.asn { "AS" (a) " " } (o.enrichment.network.as_deref().unwrap_or("")) }
                                td { (labels.join(", ")) }
                                td { (malware.join(", ")) }
                                td { (h.sources.join(", ")) }
                                td { (tlp_badge(tlp)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn sorted_unique<'a>(it: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut v: Vec<&str> = it.map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn render(store: &Store, v: &Viewer, q: &str) -> PageResult {
    let q = q.trim();
    if q.len() > MAX_QUERY {
        return Err(UiError::BadRequest(format!(
            "the search is longer than {MAX_QUERY} characters"
        )));
    }
    // A value first; what is not an observable but parses as a filter is a filter search.
    let mut filtered = None;
    let result = if q.is_empty() {
        None
    } else {
        Some(match lookup(store, &v.org, q, Channel::Interactive) {
            Ok(view) => Ok(view),
            Err(LookupError::Value(e)) => match Filter::parse(q) {
                Ok(f) => {
                    filtered = Some(filter_search(store, v, &f, q)?);
                    Ok(None)
                }
                Err(fe) => Err(format!(
                    "{q:?} is neither an observable ({e}) nor a filter expression ({})",
                    fe.to_string().lines().next().unwrap_or_default()
                )),
            },
            Err(LookupError::Store(e)) => return Err(e.into()),
        })
    };
    let orgs = store.orgs()?;
    let body = html! {
        form method="get" action="/search" role="search" {
            label for="q" { "Value or filter expression" }
            div.inline {
                input #q type="search" name="q" value=(q) required aria-describedby="q-hint";
                button type="submit" { "Search" }
            }
            p #q-hint .hint { "An IP address, CIDR, domain, URL, file hash or e-mail address (defanged forms such as hxxp://evil[.]example are accepted), or a filter such as "
                code { "malware = emotet AND country IN (FR, DE)" } " (fields: type, label, malware, source, country, asn, network, category, confidence, first_seen, last_seen)." }
        }
        @match &result {
            None => {}
            Some(Err(e)) => { (super::layout::notice("error", e)) }
            Some(Ok(None)) => {
                @match &filtered {
                    Some(list) => { (filter_results(list)) }
                    None => { (super::layout::notice("info", "Nothing you may see matches this search.")) }
                }
            }
            Some(Ok(Some(view))) => { (detail(view, &orgs)) }
        }
    };
    Ok(page(v, Nav::Search, "Search", body))
}

fn detail(view: &ObservableView, orgs: &[Org]) -> Markup {
    let o = &view.observable;
    let e = &o.enrichment;
    let org = |id: i64| super::dashboard::org_name(orgs, id);
    html! {
        section aria-labelledby="h-obs" {
            h2 #h-obs { (o.kind) " " span.value { (o.value) } }
            dl.facts {
                dt { "Country" }
                dd { @match &e.country {
                    Some(cc) => { (country_name(cc).unwrap_or(cc)) " (" (cc) ")" }
                    None => { "–" }
                } }
                dt { "ASN" }
                dd { @match e.asn { Some(a) => { "AS" (a) } None => { "–" } } }
                dt { "Network" }
                dd { (e.network.as_deref().unwrap_or("–")) }
                dt { "Registered domain" }
                dd { (e.registered_domain.as_deref().unwrap_or("–")) }
            }
        }
        section aria-labelledby="h-rec" {
            h2 #h-rec { "Source records (" (view.records.len()) ")" }
            table {
                thead { tr {
                    th scope="col" { "Source" }
                    th scope="col" { "TLP" }
                    th scope="col" { "PAP" }
                    th scope="col" .num { "Confidence" }
                    th scope="col" { "Grading" }
                    th scope="col" { "Labels" }
                    th scope="col" { "Malware" }
                    th scope="col" { "First seen" }
                    th scope="col" { "Last seen" }
                    th scope="col" { "Valid until" }
                } }
                tbody {
                    @for r in &view.records {
                        @let c = &r.record.claim;
                        tr {
                            th scope="row" { (r.source) @if c.revoked { " " span.flag { "(revoked)" } } }
                            td { (tlp_badge(c.tlp_or_default())) }
                            td { @match c.pap { Some(p) => { "PAP:" (p.as_str().to_uppercase()) } None => { "–" } } }
                            td.num { @match c.confidence { Some(n) => { (n) } None => { "–" } } }
                            td { (c.reliability.map(|r| r.to_string()).unwrap_or_else(|| "–".into()))
                                 (c.credibility.map(|n| n.to_string()).unwrap_or_default()) }
                            td { (c.labels.join(", ")) }
                            td { (c.malware.join(", ")) }
                            td { (opt_date(c.first_seen)) }
                            td { (opt_date(c.last_seen)) }
                            td { (opt_date(c.valid_until)) }
                        }
                    }
                }
            }
            @for r in &view.records {
                @if let Some(d) = &r.record.claim.description {
                    p { strong { (r.source) ": " } (d) }
                }
                @if !r.record.claim.references.is_empty() {
                    p { strong { (r.source) " references: " }
                        @for (i, link) in r.record.claim.references.iter().enumerate() {
                            @if i > 0 { ", " } code { (link) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-sight" {
            h2 #h-sight { "Sightings (" (view.sightings.len()) ")" }
            @if view.sightings.is_empty() {
                p.muted { "No sightings you may see." }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { "Seen by" }
                        th scope="col" .num { "Count" }
                        th scope="col" { "First seen" }
                        th scope="col" { "Last seen" }
                        th scope="col" { "Where" }
                    } }
                    tbody {
                        @for s in &view.sightings {
                            tr {
                                th scope="row" { (org(s.org_id)) }
                                td.num { (s.count) }
                                td { (date(s.first_seen)) }
                                td { (date(s.last_seen)) }
                                td { (s.where_sighted) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-obj" {
            h2 #h-obj { "Linked STIX objects (" (view.objects.len()) ")" }
            @if view.objects.is_empty() {
                p.muted { "None you may see." }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { "Type" }
                        th scope="col" { "Name or pattern" }
                        th scope="col" { "Id" }
                    } }
                    tbody {
                        @for obj in &view.objects {
                            tr {
                                th scope="row" { (obj["type"].as_str().unwrap_or("?")) }
                                td { code { (obj["name"].as_str().or(obj["pattern"].as_str()).unwrap_or("")) } }
                                td { code { (obj["id"].as_str().unwrap_or("")) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
