//! The HTML form of a country report: the summary, a bar chart drawn as inline SVG on the
//! server (no JavaScript), and the target table. Values are defanged so that nobody opens
//! a malicious URL by clicking it.

use std::collections::BTreeMap;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{defang, CountryReport};
use crate::model::stix_time;
use crate::ops::summary::Figures;

/// Networks shown as bars; the rest are summed into one "other" bar.
pub const CHART_BARS: usize = 10;
const BAR_HEIGHT: u32 = 22;
const CHART_WIDTH: u32 = 640;
const LABEL_WIDTH: u32 = 240;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px}\
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#eee}.tlp{font-weight:bold;padding:4px 8px;display:inline-block}\
.tlp-clear{background:#fff;border:1px solid #000}.tlp-green{background:#33ff00}.tlp-amber,.tlp-amber\\+strict{background:#ffc000}.tlp-red{background:#ff2b2b;color:#fff}\
.consent{color:#b00;font-weight:bold}.figures td{text-align:right}";

pub fn render(r: &CountryReport) -> String {
    let title = format!(
        "Cyber activity report: operation {} — {} ({})",
        r.operation.name, r.country_name, r.country
    );
    let tlp_label = format!("TLP:{}", r.tlp.as_str().to_ascii_uppercase());
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                p { span class=(format!("tlp tlp-{}", r.tlp.as_str())) { (tlp_label) } }
                h1 { (title) }
                p {
                    "Prepared by " (r.hub.name) " on " (stix_time(r.generated_at)) ". Window "
                    (stix_time(r.operation.window_from)) " to " (stix_time(r.operation.window_to)) "."
                }
                h2 { "Summary for " (r.country) }
                (figures_table(&r.figures))
                h2 { "Operation summary" }
                p {
                    (r.summary.overall.targets) " targets identified in " (r.summary.country_count) " countries; "
                    (r.summary.overall.reported) " reported, " (r.summary.overall.taken_down) " taken down"
                    @if let Some(p) = r.summary.overall.taken_down_pct { " (" (format!("{p:.1}")) "%)" }
                    "; " (r.summary.seizures) " seizures, " (r.summary.arrests) " arrests."
                    @if let Some(m) = r.summary.overall.time_to_takedown.median_hours {
                        " Median time to takedown " (format!("{m:.1}")) " h"
                        @if let Some(p) = r.summary.overall.time_to_takedown.p90_hours { ", p90 " (format!("{p:.1}")) " h" }
                        "."
                    }
                }
                h2 { "Targets by network" }
                (chart(r))
                h2 { "Targets" }
                table {
                    thead { tr {
                        th { "#" } th { "Type" } th { "Value" } th { "Network" } th { "Notify" }
                        th { "Malware" } th { "Last seen" } th { "State" } th { "Recommended action" }
                    } }
                    tbody {
                        @for t in &r.targets {
                            tr {
                                td { (t.id) }
                                td { (t.category.as_str()) }
                                td { code { (defang(&t.value)) } }
                                td {
                                    @if let Some(a) = t.asn { "AS" (a) " " }
                                    (t.network.clone().unwrap_or_default())
                                }
                                td { (t.abuse_contact.clone().unwrap_or_else(|| "—".into())) }
                                td { (t.snapshot.malware.join(", ")) }
                                td { (t.snapshot.last_seen.map(|x| stix_time(x)[..10].to_string()).unwrap_or_default()) }
                                td { (t.state.as_str()) }
                                td {
                                    (t.category.recommended_action())
                                    @if t.needs_consent {
                                        br; span class="consent" { "needs source consent before any action" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

fn figures_table(f: &Figures) -> Markup {
    html! {
        table class="figures" {
            tr { th { "Targets" } td { (f.targets) } }
            tr { th { "C2 servers" } td { (f.c2) } }
            tr { th { "Compromised websites" } td { (f.compromised_websites) } }
            tr { th { "Reported" } td { (f.reported) } }
            tr { th { "Taken down" } td { (f.taken_down) @if let Some(p) = f.taken_down_pct { " (" (format!("{p:.1}")) "%)" } } }
            tr { th { "Need source consent" } td { (f.needs_consent) } }
        }
    }
}

/// Horizontal bars: targets per network, the taken-down share drawn darker.
fn chart(r: &CountryReport) -> Markup {
    let mut by_net: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for t in &r.targets {
        let name = match (t.asn, &t.network) {
            (Some(a), Some(n)) => format!("AS{a} {n}"),
            (Some(a), None) => format!("AS{a}"),
            _ => "unknown network".into(),
        };
        let e = by_net.entry(name).or_default();
        e.0 += 1;
        e.1 += t.state.is_actioned() as usize;
    }
    let mut bars: Vec<(String, usize, usize)> =
        by_net.into_iter().map(|(k, (n, d))| (k, n, d)).collect();
    bars.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if bars.len() > CHART_BARS {
        let rest = bars.split_off(CHART_BARS - 1);
        let (n, d) = rest.iter().fold((0, 0), |(n, d), b| (n + b.1, d + b.2));
        bars.push((format!("{} other networks", rest.len()), n, d));
    }
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let scale = |n: usize| (n as u32 * (CHART_WIDTH - LABEL_WIDTH - 40)) / max as u32;
    let height = bars.len() as u32 * BAR_HEIGHT + 10;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(CHART_WIDTH) height=(height) role="img" aria-label="targets by network" {
            @for (i, (name, n, d)) in bars.iter().enumerate() {
                @let y = i as u32 * BAR_HEIGHT + 5;
                @let label: String = name.chars().take(36).collect();
                text x="0" y=(y + 15) font-size="12" { (label) }
                rect x=(LABEL_WIDTH) y=(y) width=(scale(*n).max(1)) height=(BAR_HEIGHT - 6) fill="#9ab" {
                    title { (n) " targets" }
                }
                rect x=(LABEL_WIDTH) y=(y) width=(scale(*d)) height=(BAR_HEIGHT - 6) fill="#246" {
                    title { (d) " actioned" }
                }
                text x=(LABEL_WIDTH + scale(*n).max(1) + 4) y=(y + 15) font-size="12" { (n) }
            }
        }
    }
}
