//! Search and observable detail: one value (defanged forms accepted) looked up through
//! [`crate::lookup::lookup`], showing the source records, linked STIX objects and
//! sightings the policy lets the viewer see, with the enrichment (country, ASN, network).
//! An observable with no visible record reads exactly like an unknown one.

use maud::{html, Markup};

use super::layout::{date, opt_date, page, tlp_badge, Nav};
use super::svg::country_name;
use super::{PageResult, UiError, Viewer};
use crate::lookup::{lookup, LookupError, ObservableView};
use crate::model::Org;
use crate::policy::Channel;
use crate::store::Store;

/// Longest query accepted.
pub const MAX_QUERY: usize = 4096;

pub fn render(store: &Store, v: &Viewer, q: &str) -> PageResult {
    let q = q.trim();
    if q.len() > MAX_QUERY {
        return Err(UiError::BadRequest(format!(
            "the search is longer than {MAX_QUERY} characters"
        )));
    }
    let result = if q.is_empty() {
        None
    } else {
        Some(match lookup(store, &v.org, q, Channel::Interactive) {
            Ok(view) => Ok(view),
            Err(LookupError::Value(e)) => Err(e.to_string()),
            Err(LookupError::Store(e)) => return Err(e.into()),
        })
    };
    let orgs = store.orgs()?;
    let body = html! {
        form.inline method="get" action="/search" role="search" {
            div {
                label for="q" { "IP address, CIDR, domain, URL, file hash or e-mail address" }
                input #q type="search" name="q" value=(q) required aria-describedby="q-hint";
                p #q-hint .hint { "Defanged forms such as hxxp://evil[.]example are accepted." }
            }
            button type="submit" { "Search" }
        }
        @match &result {
            None => {}
            Some(Err(e)) => { (super::layout::notice("error", &format!("{q:?} is not an observable: {e}"))) }
            Some(Ok(None)) => {
                (super::layout::notice("info", "Nothing you may see matches this search."))
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
