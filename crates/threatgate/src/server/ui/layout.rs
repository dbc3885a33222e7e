//! The page shell (navigation, skip link, language, stylesheet) and small shared pieces:
//! TLP badges, expiry markers, dates, the CSRF hidden field.
//!
//! Accessibility: `lang="en"`, a skip link to `<main>`, a visible focus ring on every
//! interactive element, `aria-current` on the current navigation item, colours that meet
//! WCAG AA, and every colour marker repeated in text.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::model::{Time, Tlp};
use crate::policy::{role_allows, Action};

use super::Viewer;

/// Where the stylesheet is served.
pub const CSS_PATH: &str = "/static/ui.css";

/// The navigation entries: (path, label, who sees it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Search,
    Agreements,
    Operations,
    Audit,
    None,
}

/// A whole page for a logged-in viewer.
pub fn page(viewer: &Viewer, nav: Nav, title: &str, body: Markup) -> Markup {
    let items: Vec<(Nav, &str, &str)> = [
        (Nav::Dashboard, "/", "Dashboard"),
        (Nav::Search, "/search", "Search"),
        (Nav::Agreements, "/agreements", "Agreements"),
        (Nav::Operations, "/operations", "Operations"),
        (Nav::Audit, "/audit", "Audit log"),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n != Nav::Audit || role_allows(viewer.role, Action::Administer))
    .collect();
    shell(
        title,
        html! {
            header.top {
                a.brand href="/" { "threatgate" }
                nav aria-label="Main" {
                    ul {
                        @for (n, href, label) in &items {
                            li {
                                @if *n == nav {
                                    a href=(href) aria-current="page" { (label) }
                                } @else {
                                    a href=(href) { (label) }
                                }
                            }
                        }
                    }
                }
                div.who {
                    span { "Signed in as " strong { (viewer.org.name) } " (" (viewer.org.kind) ", " (viewer.role) ")" }
                    form method="post" action="/logout" {
                        (csrf_field(&viewer.csrf))
                        button type="submit" { "Log out" }
                    }
                }
            }
            main #main tabindex="-1" {
                h1 { (title) }
                (body)
            }
        },
    )
}

/// The bare document: doctype, language, stylesheet, skip link.
pub fn shell(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · threatgate" }
                link rel="stylesheet" href=(CSS_PATH);
            }
            body {
                a.skip-link href="#main" { "Skip to main content" }
                (content)
            }
        }
    }
}

/// The hidden CSRF field every POST form carries.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A TLP marking in FIRST's colours (coloured text on black), with its name as text.
pub fn tlp_badge(t: Tlp) -> Markup {
    let name = t.as_str().to_uppercase();
    html! { span class={"tlp tlp-" (t.as_str().replace('+', "-"))} { "TLP:" (name) } }
}

pub fn date(t: Time) -> String {
    t.format("%Y-%m-%d").to_string()
}

pub fn datetime(t: Time) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn opt_date(t: Option<Time>) -> String {
    t.map(date).unwrap_or_else(|| "–".into())
}

/// A list of STIX type names.
pub fn stix_list(types: &[String]) -> Markup {
    html! { @for (i, t) in types.iter().enumerate() { @if i > 0 { ", " } code { (t) } } }
}

/// Days within which an agreement's end is flagged.
pub const EXPIRY_WARNING_DAYS: i64 = 90;

/// How an agreement's end date stands at `now`: expired (red), expiring within
/// [`EXPIRY_WARNING_DAYS`] (amber), or fine. The marker always says it in words.
pub fn expiry_marker(valid_until: Time, now: Time) -> Markup {
    let secs = (valid_until - now).num_seconds();
    if secs <= 0 {
        let days = -(valid_until - now).num_days();
        html! { span.marker.marker-red { "Expired" @if days > 0 { " " (days) " days ago" } } }
    } else {
        let days = (valid_until - now).num_days();
        if days < EXPIRY_WARNING_DAYS {
            html! { span.marker.marker-amber { "Expires in " (days) " days" } }
        } else {
            html! { span.marker.marker-ok { "Valid" } }
        }
    }
}

/// A short message box (`role="status"` for news, `role="alert"` for errors).
pub fn notice(kind: &str, text: &str) -> Markup {
    let role = if kind == "error" { "alert" } else { "status" };
    html! { p class={"notice notice-" (kind)} role=(role) { (text) } }
}

/// A dashboard panel: a heading (`heading_id` names it for the section) over one chart.
/// The dashboard and the operation page draw their charts in it, so they look alike.
pub fn chart_panel(heading_id: &str, heading: &str, chart: Markup) -> Markup {
    html! {
        section.panel aria-labelledby=(heading_id) {
            h2 id=(heading_id) { (heading) }
            (chart)
        }
    }
}

/// The stylesheet. Colours are chosen for WCAG AA contrast on white.
pub const CSS: &str = r#"
:root { --fg:#1a1a1a; --muted:#4a5360; --bg:#ffffff; --panel:#f4f6f8; --line:#c9ced6;
  --link:#0b4fa0; --accent:#1d4ed8; --focus:#b45309; }
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; font-size: 16px;
  color: var(--fg); background: var(--bg); line-height: 1.45; }
body { margin: 0; }
a { color: var(--link); }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
main:focus { outline: none; }
.skip-link { position: absolute; left: -10000px; top: 0; background: #fff; color: var(--link);
  padding: .5rem 1rem; z-index: 10; }
.skip-link:focus { left: .5rem; top: .5rem; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem 2rem; padding: .6rem 1.5rem;
  background: #10233f; color: #fff; }
header.top a { color: #fff; }
header.top .brand { font-weight: 700; font-size: 1.15rem; text-decoration: none; }
header.top nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1.2rem; margin: 0; padding: 0; }
header.top nav a { text-decoration: none; padding: .2rem .1rem; border-bottom: 3px solid transparent; }
header.top nav a[aria-current="page"] { border-bottom-color: #ffd166; font-weight: 600; }
header.top nav a:hover { border-bottom-color: #9db8e0; }
header.top :focus-visible { outline-color: #ffd166; }
header.top .who { margin-left: auto; display: flex; gap: .8rem; align-items: center; font-size: .92rem; }
main { padding: 1rem 1.5rem 3rem; max-width: 1400px; }
h1 { font-size: 1.6rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.8rem 0 .6rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem 2rem; }
section.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .6rem 1rem 1rem; }
section.panel h2 { margin-top: .4rem; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; font-size: .95rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #e8ecf1; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .value { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .92em; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
label { font-weight: 600; display: block; margin-bottom: .2rem; }
input[type=text], input[type=password], input[type=search], select, textarea {
  font: inherit; padding: .4rem .5rem; border: 1px solid #6b7280; border-radius: 4px; background: #fff; color: var(--fg); }
input[type=search] { width: min(100%, 36rem); }
button, .button { font: inherit; padding: .4rem .9rem; border-radius: 4px; border: 1px solid #0b3d91;
  background: #1d4ed8; color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
button:hover, .button:hover { background: #1e40af; }
header.top button { background: transparent; border-color: #9db8e0; padding: .2rem .7rem; }
form.inline { display: flex; gap: .5rem; align-items: flex-start; flex-wrap: wrap; margin-bottom: 1rem; }
form.inline button { margin-top: 1.55rem; }
div.inline { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; }
.field { margin-bottom: .8rem; }
.hint { color: var(--muted); font-size: .9rem; margin: .2rem 0 0; }
.notice { padding: .6rem .9rem; border-radius: 4px; border: 1px solid; }
.notice-error { background: #fdecec; border-color: #b42318; color: #7a1410; }
.notice-ok { background: #e7f6ec; border-color: #1a7f37; color: #11542a; }
.notice-info { background: #eef4fc; border-color: #0b4fa0; color: #0b3563; }
.tlp { background: #000; padding: .05rem .4rem; border-radius: 3px; font-weight: 700; font-size: .82rem;
  font-family: ui-monospace, monospace; white-space: nowrap; }
.tlp-clear { color: #fff; } .tlp-green { color: #33ff00; } .tlp-amber, .tlp-amber-strict { color: #ffc000; }
.tlp-red { color: #ff2b2b; }
.marker { padding: .05rem .45rem; border-radius: 3px; font-weight: 600; font-size: .88rem; border: 1px solid; white-space: nowrap; }
.marker-amber { background: #fff4d6; color: #6b4400; border-color: #b7791f; }
.marker-amber::before { content: "⚠ "; }
.marker-red { background: #fde8e8; color: #8f1111; border-color: #c81e1e; }
.marker-red::before { content: "✖ "; }
.marker-ok { background: #e7f6ec; color: #11542a; border-color: #1a7f37; }
.marker-info { background: #eef1f5; color: #2f3a48; border-color: #6b7280; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: .5rem 0 1rem; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; }
.chart { max-width: 100%; height: auto; font-size: 13px; }
.bar-chart { width: 100%; max-width: 520px; }
.chart-label { fill: #1f2937; } .chart-value { fill: #111827; font-weight: 600; }
.chart-empty { fill: var(--muted); }
.chart-axis-label { fill: var(--muted); }
.bar-fill { fill: #2563eb; }
.bar-fill.state-taken-down, .bar-fill.good { fill: #15803d; }
.bar-fill.bad { fill: #b91c1c; }
.axis { stroke: #6b7280; } .gridline { stroke: #d1d5db; stroke-dasharray: 2 3; }
.span { stroke: #1f2937; stroke-width: .5; }
.span-active { fill: #2563eb; } .span-ended { fill: #9ca3af; } .span-suspended { fill: #d97706; }
.span-cut { fill: #f3f4f6; stroke-dasharray: 3 2; }
.event { fill: #111827; } .event-label { fill: #374151; font-size: 11px; }
.now-line { stroke: #b91c1c; stroke-width: 2; } .now-label { fill: #b91c1c; font-weight: 600; }
figure.map { margin: 0; }
.choropleth { width: 100%; height: auto; border: 1px solid var(--line); }
.sea { fill: #f3f7fb; }
.country { stroke: #ffffff; stroke-width: .4; }
.fill-0 { fill: #d5d9df; background: #d5d9df; } .fill-1 { fill: #9ecae1; background: #9ecae1; }
.fill-2 { fill: #4292c6; background: #4292c6; } .fill-3 { fill: #2166ac; background: #2166ac; }
.fill-4 { fill: #08306b; background: #08306b; }
.country[data-count]:hover { stroke: #b45309; stroke-width: 1.5; }
ul.summary { list-style: none; display: flex; flex-wrap: wrap; gap: .4rem 1.6rem; padding: 0; margin: .5rem 0 1rem; font-size: 1.05rem; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; padding: 0; margin: .4rem 0; font-size: .9rem; }
.swatch { display: inline-block; width: 1rem; height: 1rem; border: 1px solid #6b7280; vertical-align: -2px; margin-right: .3rem; }
.board { display: grid; grid-template-columns: repeat(auto-fit, minmax(138px, 1fr)); gap: .5rem; padding-bottom: .5rem; }
.board section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .4rem .45rem; min-height: 6rem; min-width: 0; }
.board h3 { font-size: .95rem; margin: .2rem 0 .5rem; overflow-wrap: anywhere; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: .4rem .45rem; margin-bottom: .5rem; font-size: .85rem; overflow-wrap: anywhere; }
.card form { margin-top: .35rem; display: grid; gap: .3rem; }
.card summary { cursor: pointer; color: var(--link); font-weight: 600; margin-top: .25rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.card label { font-size: .82rem; margin: 0; }
.card select, .card input { width: 100%; font-size: .88rem; }
.card button { font-size: .85rem; padding: .25rem .6rem; }
.flag { color: #8f1111; font-weight: 600; }
.login { max-width: 28rem; margin: 4rem auto; padding: 1.5rem 2rem; border: 1px solid var(--line); border-radius: 8px; background: var(--panel); }
.login input { width: 100%; }
.downloads a { margin-right: .8rem; }
@media (max-width: 700px) { header.top .who { margin-left: 0; } main { padding: 1rem; } }
"#;

/// The stylesheet wrapped for inclusion where a file cannot be linked (e.g. a saved page).
pub fn inline_css() -> Markup {
    html! { style { (PreEscaped(CSS)) } }
}
