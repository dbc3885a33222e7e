//! The audit log with the result of verifying its hash chain. Administrators only; the
//! hub's administrators see every entry, another org's administrators their org's own.

use maud::html;

use super::layout::{datetime, notice, page, Nav};
use super::{PageResult, UiError, Viewer};
use crate::policy::Action;
use crate::store::Store;

/// Entries per page.
pub const PAGE: usize = 100;

pub fn render(store: &Store, v: &Viewer, before: Option<i64>) -> PageResult {
    if !v.may(Action::Administer) {
        return Err(UiError::Forbidden(
            "the audit log is for administrators; log in with an admin token".into(),
        ));
    }
    let actor = if v.is_hub() { None } else { Some(v.org.id) };
    let entries = store.audit_recent(actor, before, PAGE)?;
    let verified = store.verify_audit()?;
    let orgs = store.orgs()?;
    let body = html! {
        @match &verified {
            Ok(n) => { (notice("ok", &format!("Chain verified: all {n} entries link up and match their hashes."))) }
            Err(b) => { (notice("error", &format!("Chain broken: {b}. Run `threatgate audit --verify` on the server and investigate."))) }
        }
        @if !v.is_hub() { p.hint { "Entries recorded for actions by " (v.org.name) "." } }
        table {
            caption { "Newest first" }
            thead { tr {
                th scope="col" .num { "Seq" }
                th scope="col" { "At" }
                th scope="col" { "Actor" }
                th scope="col" { "Action" }
                th scope="col" { "Subject" }
                th scope="col" { "Detail" }
            } }
            tbody {
                @for e in &entries {
                    tr {
                        th scope="row" .num { (e.seq) }
                        td { (datetime(e.at)) }
                        td { @match e.actor { Some(a) => { (super::dashboard::org_name(&orgs, a)) } None => { "–" } } }
                        td { code { (e.action) } }
                        td { code { (e.subject) } }
                        td { code { (truncate(&e.detail.to_string(), 160)) } }
                    }
                }
            }
        }
        @if entries.len() == PAGE {
            @if let Some(last) = entries.last() {
                p { a href={"/audit?before=" (last.seq)} { "Older entries" } }
            }
        }
    };
    Ok(page(v, Nav::Audit, "Audit log", body))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).chain(std::iter::once('…')).collect()
    }
}
