//! Operations: the list, and per operation a per-country bar chart, a world map shaded by
//! targets per country, the takedown board (one column per state; a target moves with
//! evidence through a CSRF-protected form), a time-to-takedown chart and the per-country
//! report downloads.
//!
//! Which targets a viewer sees is the policy's answer: a target shows when the viewer may
//! see a source record of its observable ([`Store::visible_records`] with the viewer's
//! scope). Who may move a target is the operations rule [`takedown::may_move`].

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use maud::{html, Markup};

use super::layout::{chart_panel, csrf_field, date, datetime, notice, page, Nav};
use super::svg::{bar_chart, choropleth, country_name, histogram, Bar};
use super::{PageResult, UiError, Viewer};
use crate::model::Tlp;
use crate::ops::summary::{self, Summary};
use crate::ops::{
    report, takedown, Observation, Operation, OpsError, Snapshot, Target, TargetState,
};
use crate::policy::Action;
use crate::store::Store;

/// The operation with id `id`, if the viewer may see at least one of its targets (the
/// operation's creator always may).
fn operation(store: &Store, v: &Viewer, id: i64) -> Result<(Operation, Vec<Target>), UiError> {
    let op = store
        .operations()?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or_else(|| UiError::NotFound(format!("operation #{id}")))?;
    let targets = visible_targets(store, v, &op)?;
    if targets.is_empty() && op.created_by != v.org.id {
        // Reads exactly like a missing operation.
        return Err(UiError::NotFound(format!("operation #{id}")));
    }
    Ok((op, targets))
}

/// The targets of `op` whose observable the viewer may see through the policy, each as
/// the viewer may see it: its snapshot (labels, malware, sources, PAPs, dates), TLP and
/// consent flag rebuilt from the source records the viewer may read, so that nothing
/// hints at records it may not. Targets whose source data is gone (retention) stay
/// visible, as snapshotted, to the operation's creator only.
pub fn visible_targets(store: &Store, v: &Viewer, op: &Operation) -> Result<Vec<Target>, UiError> {
    let orgs = store.orgs()?;
    let mut out = vec![];
    for mut t in store.targets(op.id)? {
        match t.observable_id {
            Some(oid) => {
                let records = store.visible_records(oid, &v.scope)?;
                if records.is_empty() {
                    continue;
                }
                let mut snap = Snapshot::default();
                let mut tlp = Tlp::Clear;
                for r in &records {
                    let c = &r.claim;
                    for l in &c.labels {
                        if !snap.labels.contains(l) {
                            snap.labels.push(l.clone());
                        }
                    }
                    for m in &c.malware {
                        if !snap.malware.contains(m) {
                            snap.malware.push(m.clone());
                        }
                    }
                    for p in &c.ports {
                        if !snap.ports.contains(p) {
                            snap.ports.push(*p);
                        }
                    }
                    snap.sources
                        .push(super::dashboard::org_name(&orgs, r.org_id));
                    snap.paps.push(c.pap);
                    snap.confidence = snap.confidence.max(c.confidence);
                    snap.first_seen = match (snap.first_seen, c.first_seen) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    snap.last_seen = snap.last_seen.max(c.last_seen);
                    tlp = tlp.max(c.tlp_or_default());
                }
                snap.labels.sort();
                snap.malware.sort();
                snap.ports.sort_unstable();
                t.needs_consent = snap
                    .paps
                    .iter()
                    .any(|p| !p.is_some_and(|p| p.permits_active_action()));
                t.snapshot = snap;
                t.tlp = tlp;
                out.push(t);
            }
            None if op.created_by == v.org.id => out.push(t),
            None => {}
        }
    }
    Ok(out)
}

/// Observations of the visible targets only.
fn visible_observations(
    store: &Store,
    op: &Operation,
    targets: &[Target],
) -> Result<Vec<Observation>, UiError> {
    let ids: HashSet<i64> = targets.iter().map(|t| t.id).collect();
    Ok(store
        .observations(op.id)?
        .into_iter()
        .filter(|o| ids.contains(&o.target_id))
        .collect())
}

/// The operation's figures over what the viewer may see ([`summary::compute`], so the
/// page and the reports count the same way).
fn figures(
    store: &Store,
    op: &Operation,
    targets: &[Target],
) -> Result<(Summary, Vec<Observation>), UiError> {
    let obs = visible_observations(store, op, targets)?;
    let counts = store.counts(op.id)?;
    Ok((
        summary::compute(op, targets, &obs, &counts, Utc::now()),
        obs,
    ))
}

pub fn list(store: &Store, v: &Viewer) -> PageResult {
    let mut rows = vec![];
    for op in store.operations()? {
        let targets = visible_targets(store, v, &op)?;
        if targets.is_empty() && op.created_by != v.org.id {
            continue;
        }
        rows.push((op, targets));
    }
    let body = html! {
        @if rows.is_empty() {
            p.muted { "No operations you take part in." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Operation" }
                    th scope="col" { "Window" }
                    th scope="col" .num { "Targets" }
                    th scope="col" .num { "Countries" }
                    th scope="col" .num { "Reported" }
                    th scope="col" .num { "Taken down" }
                } }
                tbody {
                    @for (op, ts) in &rows {
                        @let countries = ts.iter().filter_map(|t| t.country.as_deref()).collect::<std::collections::BTreeSet<_>>().len();
                        tr {
                            th scope="row" { a href={"/operations/" (op.id)} { (op.name) } }
                            td { (date(op.window_from)) " to " (date(op.window_to)) }
                            td.num { (ts.len()) }
                            td.num { (countries) }
                            td.num { (ts.iter().filter(|t| t.state.was_reported()).count()) }
                            td.num { (ts.iter().filter(|t| t.state.is_actioned()).count()) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(v, Nav::Operations, "Operations", body))
}

/// Bins of the time-to-takedown histogram, in hours: (label, upper bound).
const TTD_BINS: [(&str, f64); 6] = [
    ("< 1 day", 24.0),
    ("1–2 days", 48.0),
    ("2–7 days", 168.0),
    ("1–4 weeks", 672.0),
    ("1–3 months", 2160.0),
    ("longer", f64::INFINITY),
];

fn hours_text(h: f64) -> String {
    if h < 48.0 {
        format!("{h:.1} hours")
    } else {
        format!("{:.1} days", h / 24.0)
    }
}

/// Which countries' reports the viewer may download: the hub every country; a member
/// its own (the report is addressed to it).
fn may_get_report(v: &Viewer, cc: &str) -> bool {
    v.is_hub() || v.org.country.as_deref() == Some(cc)
}

pub fn detail(store: &Store, v: &Viewer, id: i64, flash: Option<&str>) -> PageResult {
    let (op, targets) = operation(store, v, id)?;
    let (sum, obs) = figures(store, &op, &targets)?;
    let mut by_target: HashMap<i64, Vec<&Observation>> = HashMap::new();
    for o in &obs {
        by_target.entry(o.target_id).or_default().push(o);
    }
    // Hours from report to first confirmed offline, per timed target.
    let ttd: Vec<(i64, f64)> = targets
        .iter()
        .filter_map(|t| {
            let (_, secs) =
                summary::outcome(t, by_target.get(&t.id).map(Vec::as_slice).unwrap_or(&[]));
            secs.map(|s| (t.id, s as f64 / 3600.0))
        })
        .collect();

    // Per country: targets, reported, taken down (as the summary defines them).
    let mut per_country: BTreeMap<String, (i64, i64, i64)> = sum
        .countries
        .iter()
        .map(|(cc, f)| {
            (
                cc.clone(),
                (f.targets as i64, f.reported as i64, f.taken_down as i64),
            )
        })
        .collect();
    if sum.unknown_country > 0 {
        let unknown: Vec<&Target> = targets.iter().filter(|t| t.country.is_none()).collect();
        per_country.insert(
            "??".into(),
            (
                unknown.len() as i64,
                unknown.iter().filter(|t| t.state.was_reported()).count() as i64,
                unknown.iter().filter(|t| t.state.is_actioned()).count() as i64,
            ),
        );
    }
    let map_counts: BTreeMap<String, i64> = per_country
        .iter()
        .filter(|(cc, _)| cc.as_str() != "??")
        .map(|(cc, (n, _, _))| (cc.clone(), *n))
        .collect();
    let mut country_bars: Vec<Bar> = per_country
        .iter()
        .map(|(cc, (n, _, _))| Bar::new(country_label(cc), *n))
        .collect();
    country_bars.sort_by(|a, b| b.value.cmp(&a.value).then(a.label.cmp(&b.label)));
    let state_bars: Vec<Bar> = TargetState::ALL
        .iter()
        .map(|s| {
            let b = Bar::new(
                s.as_str(),
                targets.iter().filter(|t| t.state == *s).count() as i64,
            );
            if s.is_actioned() {
                b.class("good")
            } else if matches!(s, TargetState::Rejected | TargetState::FalsePositive) {
                b.class("bad")
            } else {
                b
            }
        })
        .collect();
    let mut lo = 0.0;
    let ttd_bins: Vec<Bar> = TTD_BINS
        .iter()
        .map(|(label, hi)| {
            let n = ttd.iter().filter(|(_, h)| *h >= lo && *h < *hi).count() as i64;
            lo = *hi;
            Bar::new(*label, n).class("good")
        })
        .collect();
    let all = &sum.overall;
    let can_operate = v.may(Action::Operate);

    let body = html! {
        @if let Some(f) = flash { (notice("ok", f)) }
        dl.facts {
            dt { "Window" } dd { (date(op.window_from)) " to " (date(op.window_to)) }
            dt { "Filter" } dd { code { (op.filter) } }
        }
        ul.summary #summary aria-label="Operation figures" {
            li { strong #count-targets { (targets.len()) } " targets" }
            li { strong #count-countries { (map_counts.len()) } " countries" }
            li { strong #count-reported { (all.reported) } " reported" }
            li { strong #count-actioned { (all.taken_down) } " taken down" }
            @if let Some(p) = all.taken_down_pct { li { strong { (p) " %" } " of those reported" } }
            li { "median time to takedown: " strong #median-ttd { (all.time_to_takedown.median_hours.map(hours_text).unwrap_or_else(|| "–".into())) } }
            @if all.needs_consent > 0 { li { strong { (all.needs_consent) } " need source consent" } }
        }
        div.grid {
            (chart_panel("h-country", "Targets by country", bar_chart("chart-country", "Targets by country", &country_bars)))
            (chart_panel("h-state", "Targets by state", bar_chart("chart-state", "Targets by takedown state", &state_bars)))
        }
        section aria-labelledby="h-map" {
            h2 #h-map { "Where the targets are" }
            (choropleth("target-map", "World map shaded by the number of targets per country", &map_counts))
        }
        section aria-labelledby="h-board" {
            h2 #h-board { "Takedown board" }
            @if can_operate {
                p.hint { "Move a target with the form on its card; every move needs evidence (what happened, a ticket number)." }
            }
            div.board {
                @for s in TargetState::ALL {
                    @let here: Vec<&Target> = targets.iter().filter(|t| t.state == s).collect();
                    section.column aria-labelledby={"col-" (s.as_str())} data-state=(s.as_str()) {
                        h3 #{"col-" (s.as_str())} { (s.as_str()) " (" (here.len()) ")" }
                        @for t in here {
                            (card(v, &op, t, can_operate))
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-ttd" {
            h2 #h-ttd { "Time to takedown" }
            p.hint { "From the report to the first confirmed offline, for " (ttd.len()) " targets." }
            (histogram("chart-ttd", "Time to takedown", "Time from report to offline", &ttd_bins))
        }
        section aria-labelledby="h-reports" {
            h2 #h-reports { "Per-country reports" }
            table {
                thead { tr {
                    th scope="col" { "Country" }
                    th scope="col" .num { "Targets" }
                    th scope="col" .num { "Reported" }
                    th scope="col" .num { "Taken down" }
                    th scope="col" { "Report" }
                } }
                tbody {
                    @for (cc, (n, r, a)) in &per_country {
                        tr data-country=(cc) {
                            th scope="row" { (country_label(cc)) }
                            td.num { (n) }
                            td.num { (r) }
                            td.num { (a) }
                            td.downloads {
                                @if cc.as_str() != "??" && may_get_report(v, cc) {
                                    @for (fmt, label) in [("html", "HTML"), ("csv", "CSV"), ("stix", "STIX")] {
                                        a href={"/operations/" (op.id) "/reports/" (cc) "/" (fmt)}
                                          aria-label={(label) " report for " (country_label(cc))} { (label) }
                                    }
                                } @else { span.muted { "–" } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        v,
        Nav::Operations,
        &format!("Operation {}", op.name),
        body,
    ))
}

fn country_label(cc: &str) -> String {
    match country_name(cc) {
        Some(n) => format!("{n} ({cc})"),
        None if cc == "??" => "unknown country".into(),
        None => cc.to_string(),
    }
}

fn card(v: &Viewer, op: &Operation, t: &Target, can_operate: bool) -> Markup {
    let moves: Vec<TargetState> = if can_operate {
        takedown::next_states(t.state)
            .iter()
            .copied()
            .filter(|to| takedown::may_move(&v.org, t, *to).is_ok())
            .collect()
    } else {
        vec![]
    };
    let fid = format!("t{}", t.id);
    html! {
        article.card #{"target-" (t.id)} data-target=(t.id) data-state=(t.state.as_str()) data-country=[t.country.as_deref()] {
            div { span.value { (t.value) } }
            div.muted {
                (t.category.as_str())
                @if let Some(cc) = &t.country { " · " (cc) }
                @if let Some(a) = t.asn { " · AS" (a) }
                @if let Some(n) = &t.network { " " (n) }
            }
            @if t.needs_consent { div.flag { "Needs source consent (PAP)" } }
            div.muted { "since " (datetime(t.updated_at)) }
            @if !moves.is_empty() {
                // Folded so the board stays compact; <details> opens with Enter or Space.
                details {
                    summary { "Move…" span.visually-hidden { " target " (t.value) } }
                    form method="post" action={"/operations/" (op.id) "/targets/" (t.id) "/state"} {
                        (csrf_field(&v.csrf))
                        label for={(fid) "-to"} { "Move to" }
                        select #{(fid) "-to"} name="to" {
                            @for m in &moves { option value=(m.as_str()) { (m.as_str()) } }
                        }
                        label for={(fid) "-ev"} { "Evidence" }
                        input #{(fid) "-ev"} type="text" name="evidence" required maxlength=(takedown::MAX_EVIDENCE_LEN)
                            placeholder="e.g. ticket 4711";
                        button type="submit" aria-label={"Move " (t.value)} { "Move" }
                    }
                }
            }
        }
    }
}

/// Apply a move from the board's form (`to`, `evidence`). The CSRF check has passed.
pub fn move_target(
    store: &Store,
    v: &Viewer,
    op_id: i64,
    target_id: i64,
    form: &HashMap<String, String>,
) -> Result<(), UiError> {
    if !v.may(Action::Operate) {
        return Err(UiError::Forbidden(format!(
            "a {} token may not change targets; log in with an analyst or admin token",
            v.role
        )));
    }
    let (op, targets) = operation(store, v, op_id)?;
    let t = targets
        .into_iter()
        .find(|t| t.id == target_id)
        .ok_or_else(|| {
            UiError::NotFound(format!("target #{target_id} of operation {}", op.name))
        })?;
    let to = form.get("to").map(String::as_str).unwrap_or("");
    let evidence = form.get("evidence").map(String::as_str).unwrap_or("");
    takedown::move_target(store, &t, to, &v.org, evidence, None).map_err(ops_error)?;
    Ok(())
}

fn ops_error(e: OpsError) -> UiError {
    match e {
        OpsError::Store(s) => UiError::Store(s),
        OpsError::NotAllowed(m) => UiError::Forbidden(m),
        OpsError::Invalid(m) => UiError::BadRequest(m),
        other => UiError::BadRequest(other.to_string()),
    }
}

/// A per-country report as (content type, file name, body), generated by
/// [`crate::ops::report`] from the targets the viewer may see.
pub fn report(
    store: &Store,
    v: &Viewer,
    op_id: i64,
    country: &str,
    format: &str,
) -> Result<(&'static str, String, Vec<u8>), UiError> {
    let (op, targets) = operation(store, v, op_id)?;
    let cc = country.trim().to_ascii_uppercase();
    if !may_get_report(v, &cc)
        || !targets
            .iter()
            .any(|t| t.country.as_deref() == Some(cc.as_str()))
    {
        return Err(UiError::NotFound(format!(
            "a report for {cc} in operation {}",
            op.name
        )));
    }
    let hub = store
        .hub()?
        .ok_or_else(|| UiError::Other("the store has no hub".into()))?;
    let mut r = report::build(store, &op, &hub, Some(&cc))
        .map_err(ops_error)?
        .pop()
        .ok_or_else(|| UiError::NotFound(format!("a report for {cc}")))?;
    // Rebuild it from what the viewer may see (the hub sees it all anyway).
    let (sum, _) = figures(store, &op, &targets)?;
    r.targets = targets
        .into_iter()
        .filter(|t| {
            t.country.as_deref() == Some(cc.as_str()) && t.state != TargetState::FalsePositive
        })
        .collect();
    r.tlp = r.targets.iter().map(|t| t.tlp).max().unwrap_or(Tlp::Clear);
    r.figures = sum.countries.get(&cc).cloned().unwrap_or_default();
    r.summary = sum;
    let base = format!("{}-{cc}", report::slug(&op.name));
    let _ = store.audit(crate::store::AuditEvent::new(
        Some(v.org.id),
        "report.download",
        format!("operation:{}", op.id),
        serde_json::json!({"country": cc, "format": format, "targets": r.targets.len()}),
    ));
    Ok(match format {
        "html" => (
            "text/html; charset=utf-8",
            format!("{base}.html"),
            report::html::render(&r).into_bytes(),
        ),
        "csv" => (
            "text/csv; charset=utf-8",
            format!("{base}.csv"),
            report::csv::render(&r).map_err(ops_error)?,
        ),
        "stix" => (
            "application/stix+json;version=2.1",
            format!("{base}.stix.json"),
            report::stix::render(&r).into_bytes(),
        ),
        other => {
            return Err(UiError::NotFound(format!(
                "a report format {other:?} (html, csv or stix)"
            )))
        }
    })
}
