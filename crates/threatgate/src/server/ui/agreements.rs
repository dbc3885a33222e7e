//! Agreements: the list (the hub sees all, anyone else its own) with expiry markers, and
//! a detail page with a timeline of signing, validity, renewals and termination.

use chrono::Utc;
use maud::html;

use super::dashboard::{agreement_table, agreements_for, org_name};
use super::layout::{date, expiry_marker, page, stix_list, tlp_badge, Nav};
use super::svg::{timeline, Span};
use super::{PageResult, UiError, Viewer};
use crate::model::{Agreement, AgreementStatus, Time};
use crate::store::Store;

pub fn list(store: &Store, v: &Viewer) -> PageResult {
    let now = Utc::now();
    let all = agreements_for(store, v)?;
    let orgs = store.orgs()?;
    let mut refs: Vec<&Agreement> = all.iter().collect();
    refs.sort_by_key(|a| a.valid_until);
    let body = html! {
        p.hint {
            @if v.is_hub() { "Every agreement between the hub and an organisation, soonest end first." }
            @else { "Your organisation's agreements with the hub, soonest end first." }
            " Markers: amber when an agreement ends within 90 days, red once it has ended."
        }
        (agreement_table(&refs, &all, &orgs, v.is_hub(), now))
    };
    Ok(page(v, Nav::Agreements, "Agreements", body))
}

/// The chain an agreement belongs to: what it renews, back to the first, and what renews
/// it, forward to the latest. Oldest first.
pub fn chain(all: &[Agreement], id: i64) -> Vec<Agreement> {
    let by_id = |i: i64| all.iter().find(|a| a.id == i);
    let mut out = vec![];
    let mut cur = by_id(id);
    let mut guard = 0;
    while let Some(a) = cur {
        out.push(a.clone());
        cur = a.renews.and_then(by_id);
        guard += 1;
        if guard > all.len() {
            break;
        }
    }
    out.reverse();
    let mut last = id;
    while let Some(next) = all.iter().find(|a| a.renews == Some(last)) {
        if out.iter().any(|a| a.id == next.id) {
            break;
        }
        out.push(next.clone());
        last = next.id;
    }
    out
}

fn span_class(a: &Agreement, now: Time) -> &'static str {
    match a.status {
        AgreementStatus::Suspended => "span-suspended",
        AgreementStatus::Terminated => "span-ended",
        AgreementStatus::Active if a.valid_until <= now => "span-ended",
        AgreementStatus::Active => "span-active",
    }
}

pub fn detail(store: &Store, v: &Viewer, id: i64) -> PageResult {
    let now = Utc::now();
    let all = agreements_for(store, v)?;
    let Some(a) = all.iter().find(|a| a.id == id) else {
        // Another org's agreement reads exactly like a missing one.
        return Err(UiError::NotFound(format!("agreement #{id}")));
    };
    let orgs = store.orgs()?;
    let chain = chain(&all, id);
    let spans: Vec<Span> = chain
        .iter()
        .map(|c| {
            let mut events = vec![(
                c.signed_on,
                if c.renews.is_some() {
                    "renewal signed".to_string()
                } else {
                    "signed".to_string()
                },
            )];
            if let Some(t) = c.terminated_at {
                events.push((t, "terminated".into()));
            }
            Span {
                label: format!("#{} ({})", c.id, c.role),
                from: c.valid_from,
                until: c.valid_until,
                ended: c.terminated_at,
                class: span_class(c, now),
                events,
            }
        })
        .collect();
    let title = format!("Agreement #{id}");
    let body = html! {
        dl.facts {
            dt { "Organisation" } dd { (org_name(&orgs, a.org_id)) }
            dt { "Role" } dd { (a.role) }
            dt { "Signed" } dd { (date(a.signed_on)) }
            dt { "Valid" } dd { (date(a.valid_from)) " to " (date(a.valid_until)) " " (expiry_marker(a.valid_until, now)) }
            dt { "Status" } dd { (a.status) @if let Some(t) = a.terminated_at { " at " (date(t)) } }
            dt { "Highest TLP received" } dd { (tlp_badge(a.max_tlp)) }
            dt { "Scope" } dd { @match &a.scope { Some(s) => { (stix_list(s)) } None => { "every type" } } }
            dt { "Purpose" } dd { (a.purpose) }
            dt { "Retention" } dd { @match a.retention_days { Some(d) => { (d) " days" } None => { "indefinite" } } }
            @if let Some(r) = a.renews {
                dt { "Renews" } dd { a href={"/agreements/" (r)} { "#" (r) } }
            }
        }
        h2 { "Timeline" }
        (timeline("agreement-timeline", &format!("Agreement #{id}: signing, validity and renewals"), &spans, now))
        h2 { "History" }
        table {
            thead { tr {
                th scope="col" { "Agreement" }
                th scope="col" { "Signed" }
                th scope="col" { "Valid" }
                th scope="col" { "Status" }
            } }
            tbody {
                @for c in &chain {
                    tr {
                        th scope="row" {
                            @if c.id == id { "#" (c.id) " (this one)" }
                            @else { a href={"/agreements/" (c.id)} { "#" (c.id) } }
                        }
                        td { (date(c.signed_on)) }
                        td { (date(c.valid_from)) " to " (date(c.valid_until)) }
                        td { (c.status) }
                    }
                }
            }
        }
    };
    Ok(page(v, Nav::Agreements, &title, body))
}
