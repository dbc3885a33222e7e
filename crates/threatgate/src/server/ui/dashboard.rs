//! The dashboard: what the viewer may see, counted by type, source and TLP; the newest
//! submissions (the viewer's own, or all for the hub); agreements ending within 90 days
//! (amber) or already ended (red).

use chrono::Utc;
use maud::{html, Markup};

use super::layout::{
    self, chart_panel, date, datetime, expiry_marker, page, Nav, EXPIRY_WARNING_DAYS,
};
use super::svg::{bar_chart, Bar};
use super::{PageResult, Viewer};
use crate::model::{Agreement, AgreementStatus, Org, Tlp};
use crate::store::Store;

/// Submissions listed.
pub const RECENT_SUBMISSIONS: usize = 10;

pub fn render(store: &Store, v: &Viewer) -> PageResult {
    let now = Utc::now();
    let stats = store.stats(&v.scope)?;
    let orgs = store.orgs()?;
    let name = |id: i64| org_name(&orgs, id);
    let submissions = store.submissions(
        if v.is_hub() { None } else { Some(v.org.id) },
        RECENT_SUBMISSIONS,
    )?;
    let agreements = agreements_for(store, v)?;
    let watch: Vec<&Agreement> = agreements
        .iter()
        .filter(|a| needs_attention(a, &agreements, now))
        .collect();

    let by_type: Vec<Bar> = stats
        .by_type
        .iter()
        .map(|(k, n)| Bar::new(k.clone(), *n))
        .collect();
    let mut by_source: Vec<Bar> = stats
        .by_source
        .iter()
        .map(|(o, n)| Bar::new(name(*o), *n))
        .collect();
    by_source.sort_by(|a, b| b.value.cmp(&a.value).then(a.label.cmp(&b.label)));
    let by_tlp: Vec<Bar> = Tlp::ALL
        .iter()
        .filter_map(|t| {
            stats
                .by_tlp
                .get(t.as_str())
                .map(|n| Bar::new(format!("TLP:{}", t.as_str().to_uppercase()), *n))
        })
        .collect();

    let body = html! {
        p.lead {
            "You can see " strong { (stats.records) } " source records"
            @if !stats.objects_by_type.is_empty() {
                " and " strong { (stats.objects_by_type.values().sum::<i64>()) } " STIX objects"
            }
            ", as the policy allows " (v.org.name) " today."
        }
        form.inline method="get" action="/search" role="search" {
            div {
                label for="dash-q" { "Look up an observable" }
                input #dash-q type="search" name="q" placeholder="IP, domain, URL, hash or e-mail";
            }
            button type="submit" { "Search" }
        }
        div.grid {
            (chart_panel("h-type", "By type", bar_chart("chart-type", "Records by observable type", &by_type)))
            (chart_panel("h-source", "By source", bar_chart("chart-source", "Records by source organisation", &by_source)))
            (chart_panel("h-tlp", "By TLP", bar_chart("chart-tlp", "Records by TLP marking", &by_tlp)))
        }
        section aria-labelledby="h-subs" {
            h2 #h-subs { @if v.is_hub() { "Newest submissions" } @else { "Your newest submissions" } }
            @if submissions.is_empty() {
                p.muted { "No submissions yet." }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { "#" }
                        @if v.is_hub() { th scope="col" { "From" } }
                        th scope="col" { "Received" }
                        th scope="col" { "Format" }
                        th scope="col" { "Source" }
                        th scope="col" .num { "Objects" }
                        th scope="col" .num { "Records changed" }
                        th scope="col" .num { "Rejected" }
                    } }
                    tbody {
                        @for s in &submissions {
                            tr {
                                th scope="row" { (s.id) }
                                @if v.is_hub() { td { (name(s.org_id)) } }
                                td { (datetime(s.received_at)) }
                                td { (s.format) }
                                td { code { (s.source_name) } }
                                td.num { (s.objects) }
                                td.num { (s.records) }
                                td.num { (s.rejected) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-agr" {
            h2 #h-agr { "Agreements to watch" }
            p.hint { "Agreements that end within " (EXPIRY_WARNING_DAYS) " days, and those that have ended." }
            (agreement_table(&watch, &agreements, &orgs, v.is_hub(), now))
        }
    };
    Ok(page(v, Nav::Dashboard, "Dashboard", body))
}

/// The agreements the viewer may list: all for the hub, its own for anyone else.
pub fn agreements_for(
    store: &Store,
    v: &Viewer,
) -> Result<Vec<Agreement>, crate::store::StoreError> {
    store.agreements(if v.is_hub() { None } else { Some(v.org.id) })
}

/// Ended, or ending within the warning period; neither terminated on purpose nor
/// already renewed by another agreement in `all`.
pub fn needs_attention(a: &Agreement, all: &[Agreement], now: crate::model::Time) -> bool {
    a.status != AgreementStatus::Terminated
        && !all.iter().any(|b| b.renews == Some(a.id))
        && (a.valid_until <= now || a.days_to_expiry(now) < EXPIRY_WARNING_DAYS)
}

pub fn org_name(orgs: &[Org], id: i64) -> String {
    orgs.iter()
        .find(|o| o.id == id)
        .map(|o| o.name.clone())
        .unwrap_or_else(|| format!("org #{id}"))
}

/// A table of agreements with their expiry markers.
pub fn agreement_table(
    list: &[&Agreement],
    all: &[Agreement],
    orgs: &[Org],
    show_org: bool,
    now: crate::model::Time,
) -> Markup {
    html! {
        @if list.is_empty() {
            p.muted { "None." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Agreement" }
                    @if show_org { th scope="col" { "Organisation" } }
                    th scope="col" { "Role" }
                    th scope="col" { "Signed" }
                    th scope="col" { "Valid" }
                    th scope="col" { "Max TLP" }
                    th scope="col" { "Status" }
                } }
                tbody {
                    @for a in list {
                        tr {
                            th scope="row" { a href={"/agreements/" (a.id)} { "#" (a.id) } }
                            @if show_org { td { (org_name(orgs, a.org_id)) } }
                            td { (a.role) }
                            td { (date(a.signed_on)) }
                            td { (date(a.valid_from)) " to " (date(a.valid_until)) }
                            td { (layout::tlp_badge(a.max_tlp)) }
                            td {
                                @match a.status {
                                    AgreementStatus::Active => {
                                        @if let Some(next) = all.iter().find(|b| b.renews == Some(a.id)).filter(|_| a.valid_until <= now) {
                                            span.marker.marker-info { "Renewed by #" (next.id) }
                                        } @else {
                                            (expiry_marker(a.valid_until, now))
                                        }
                                    }
                                    AgreementStatus::Suspended => { span.marker.marker-amber { "Suspended" } }
                                    AgreementStatus::Terminated => {
                                        span.marker.marker-red { "Terminated" @if let Some(t) = a.terminated_at { " " (date(t)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
