//! Charts and the world map, drawn as SVG on the server (no JavaScript).
//!
//! Every chart is an `<svg role="img">` with a `<title>` and a `<desc>` that says in words
//! what the picture shows, and every bar carries its value as text, so nothing is conveyed
//! by colour or shape alone. Colours come from the stylesheet (classes), so that they stay
//! in one place and meet WCAG AA contrast there.
//!
//! Limits: a bar chart draws at most [`MAX_BARS`] bars (the rest are summed into "other"),
//! and the map knows the countries of Natural Earth's 1:110m admin-0 set (see
//! `assets/README.md`); codes outside it are listed under the map instead of drawn.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{Datelike, TimeZone, Utc};
use maud::{html, Markup};

use crate::model::Time;

/// Bars beyond this are summed into one "other" bar.
pub const MAX_BARS: usize = 20;

/// The country outlines: `ALPHA2<TAB>name<TAB>path`, equirectangular, 960 units wide.
const WORLD_TSV: &str = include_str!("../../../assets/world-110m.tsv");
pub const MAP_WIDTH: f64 = 960.0;
/// (84° N − 58° S) × 960/360.
pub const MAP_HEIGHT: f64 = 142.0 * MAP_WIDTH / 360.0;

/// One country outline from the embedded Natural Earth data.
#[derive(Debug, Clone)]
pub struct CountryShape {
    /// ISO 3166-1 alpha-2, or `-99` for the few Natural Earth features without one.
    pub code: &'static str,
    pub name: &'static str,
    pub path: &'static str,
}

/// The embedded outlines, parsed once.
pub fn world() -> &'static [CountryShape] {
    static WORLD: OnceLock<Vec<CountryShape>> = OnceLock::new();
    WORLD.get_or_init(|| {
        WORLD_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let mut it = l.splitn(3, '\t');
                Some(CountryShape {
                    code: it.next()?,
                    name: it.next()?,
                    path: it.next()?,
                })
            })
            .collect()
    })
}

/// The English short name of a country code the map knows, if any.
pub fn country_name(code: &str) -> Option<&'static str> {
    world()
        .iter()
        .find(|c| c.code.eq_ignore_ascii_case(code))
        .map(|c| c.name)
}

/// One bar: a label, a value, and an optional extra class for its colour.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub class: Option<&'static str>,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: i64) -> Bar {
        Bar {
            label: label.into(),
            value,
            class: None,
        }
    }
    pub fn class(mut self, c: &'static str) -> Bar {
        self.class = Some(c);
        self
    }
}

/// Keep the first `MAX_BARS - 1` bars and sum the rest into "other".
fn capped(bars: &[Bar]) -> Vec<Bar> {
    if bars.len() <= MAX_BARS {
        return bars.to_vec();
    }
    let mut out = bars[..MAX_BARS - 1].to_vec();
    let rest: i64 = bars[MAX_BARS - 1..].iter().map(|b| b.value).sum();
    out.push(Bar::new(
        format!("{} others", bars.len() - MAX_BARS + 1),
        rest,
    ));
    out
}

/// The frame of a fixed-size chart: an `<svg role="img">` of class `chart kind`, named by its
/// `<title>` and described in words by its `<desc>` (see the module documentation), around
/// `body`. The bar chart, histogram and timeline share it so that each keeps that promise.
fn chart_frame(
    kind: &str,
    id: &str,
    (width, height): (f64, f64),
    title: &str,
    desc: Markup,
    body: Markup,
) -> Markup {
    html! {
        svg.chart.(kind) id=(id) role="img" aria-labelledby={(id) "-t " (id) "-d"}
            viewBox={"0 0 " (width) " " (height)} width=(width) height=(height)
            xmlns="http://www.w3.org/2000/svg" {
            title id={(id) "-t"} { (title) }
            desc id={(id) "-d"} { (desc) }
            (body)
        }
    }
}

/// A horizontal bar chart: one row per bar, label on the left, value at the bar's end.
/// `id` must be unique on the page (it names the title and description).
pub fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> Markup {
    let bars = capped(bars);
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    // Drawn about as wide as a dashboard panel, so text is not scaled down much.
    let row = 26.0;
    let label_w = 150.0;
    let plot_w = 180.0;
    let width = label_w + plot_w + 50.0;
    let height = (bars.len().max(1) as f64) * row + 8.0;
    let desc = if bars.is_empty() {
        "No data.".to_string()
    } else {
        bars.iter()
            .map(|b| format!("{}: {}", b.label, b.value))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let body = html! {
        @if bars.is_empty() {
            text x="4" y="20" class="chart-empty" { "No data yet" }
        }
        @for (i, b) in bars.iter().enumerate() {
            @let y = 4.0 + i as f64 * row;
            @let w = if b.value > 0 { (b.value as f64 / max * plot_w).max(2.0) } else { 0.0 };
            g.bar data-label=(b.label) data-value=(b.value) {
                title { (b.label) ": " (b.value) }
                text x=(label_w - 8.0) y=(y + 16.0) text-anchor="end" class="chart-label" { (truncate(&b.label, 20)) }
                rect x=(label_w) y=(y + 3.0) width=(fmt1(w)) height=(row - 8.0)
                    class={"bar-fill " (b.class.unwrap_or(""))} {}
                text x=(fmt1(label_w + w + 6.0)) y=(y + 16.0) class="chart-value" { (b.value) }
            }
        }
    };
    chart_frame(
        "bar-chart",
        id,
        (width, height),
        title,
        html! { (desc) },
        body,
    )
}

/// A vertical histogram with labelled bins (e.g. time to takedown).
pub fn histogram(id: &str, title: &str, x_label: &str, bins: &[Bar]) -> Markup {
    let max = bins.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let col = 88.0;
    let plot_h = 160.0;
    let top = 20.0;
    let width = (bins.len().max(1) as f64) * col + 40.0;
    let height = top + plot_h + 56.0;
    let desc = bins
        .iter()
        .map(|b| format!("{}: {}", b.label, b.value))
        .collect::<Vec<_>>()
        .join("; ");
    let body = html! {
        line x1="20" y1=(top + plot_h) x2=(width - 10.0) y2=(top + plot_h) class="axis" {}
        @for (i, b) in bins.iter().enumerate() {
            @let x = 24.0 + i as f64 * col;
            @let h = if b.value > 0 { (b.value as f64 / max * plot_h).max(2.0) } else { 0.0 };
            g.bin data-label=(b.label) data-value=(b.value) {
                rect x=(x) y=(fmt1(top + plot_h - h)) width=(col - 12.0) height=(fmt1(h))
                    class={"bar-fill " (b.class.unwrap_or(""))} {}
                text x=(x + (col - 12.0) / 2.0) y=(fmt1(top + plot_h - h - 4.0)) text-anchor="middle" class="chart-value" { (b.value) }
                text x=(x + (col - 12.0) / 2.0) y=(top + plot_h + 16.0) text-anchor="middle" class="chart-label" { (b.label) }
            }
        }
        text x=(width / 2.0) y=(height - 8.0) text-anchor="middle" class="chart-axis-label" { (x_label) }
    };
    chart_frame(
        "histogram",
        id,
        (width, height),
        title,
        html! { (x_label) ". " (desc) },
        body,
    )
}

/// One row of a timeline: a span with point events on it.
#[derive(Debug, Clone)]
pub struct Span {
    pub label: String,
    pub from: Time,
    pub until: Time,
    /// Where the span was cut short (termination), drawn as a hatched end.
    pub ended: Option<Time>,
    pub class: &'static str,
    pub events: Vec<(Time, String)>,
}

/// A timeline of spans (an agreement and its renewals), with a year axis and a "now" line.
pub fn timeline(id: &str, title: &str, spans: &[Span], now: Time) -> Markup {
    let label_w = 150.0;
    let plot_w = 560.0;
    let row = 44.0;
    let top = 28.0;
    let width = label_w + plot_w + 20.0;
    let height = top + spans.len().max(1) as f64 * row + 24.0;
    let mut lo = spans.iter().map(|s| s.from).min().unwrap_or(now);
    let mut hi = spans.iter().map(|s| s.until).max().unwrap_or(now);
    for s in spans {
        for (t, _) in &s.events {
            lo = lo.min(*t);
            hi = hi.max(*t);
        }
    }
    lo = lo.min(now);
    hi = hi.max(now);
    // Whole years either side, so the axis reads naturally.
    let lo = Utc
        .with_ymd_and_hms(lo.year(), 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(lo);
    let hi = Utc
        .with_ymd_and_hms(hi.year() + 1, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(hi);
    let span_s = ((hi - lo).num_seconds().max(1)) as f64;
    let x = |t: Time| label_w + ((t - lo).num_seconds() as f64 / span_s) * plot_w;
    let years: Vec<i32> = (lo.year()..=hi.year()).collect();
    let step = (years.len() / 8).max(1);
    let desc = spans
        .iter()
        .map(|s| {
            let mut d = format!(
                "{}: valid {} to {}",
                s.label,
                s.from.format("%Y-%m-%d"),
                s.until.format("%Y-%m-%d")
            );
            if let Some(e) = s.ended {
                d.push_str(&format!(", ended {}", e.format("%Y-%m-%d")));
            }
            for (t, what) in &s.events {
                d.push_str(&format!(", {what} {}", t.format("%Y-%m-%d")));
            }
            d
        })
        .collect::<Vec<_>>()
        .join("; ");
    let body = html! {
        @for (i, y) in years.iter().enumerate() {
            @if i % step == 0 {
                @let t = Utc.with_ymd_and_hms(*y, 1, 1, 0, 0, 0).single().unwrap_or(lo);
                line x1=(fmt1(x(t))) y1=(top - 6.0) x2=(fmt1(x(t))) y2=(height - 20.0) class="gridline" {}
                text x=(fmt1(x(t))) y=(top - 10.0) text-anchor="middle" class="chart-label" { (y) }
            }
        }
        @for (i, s) in spans.iter().enumerate() {
            @let y = top + i as f64 * row + 8.0;
            @let end = s.ended.map(|e| e.min(s.until)).unwrap_or(s.until);
            g.span data-label=(s.label) {
                text x=(label_w - 8.0) y=(y + 14.0) text-anchor="end" class="chart-label" { (truncate(&s.label, 20)) }
                rect x=(fmt1(x(s.from))) y=(y) width=(fmt1((x(end) - x(s.from)).max(2.0))) height="18" class={"span " (s.class)} {}
                @if end < s.until {
                    rect x=(fmt1(x(end))) y=(y) width=(fmt1((x(s.until) - x(end)).max(1.0))) height="18" class="span span-cut" {}
                }
                @for (t, what) in &s.events {
                    @let cx = x(*t);
                    path d={"M" (fmt1(cx)) " " (y - 4.0) "l6 11-6 11-6-11z"} class="event" {
                        title { (what) " " (t.format("%Y-%m-%d")) }
                    }
                    text x=(fmt1(cx)) y=(y + 34.0) text-anchor="middle" class="event-label" { (what) }
                }
            }
        }
        line x1=(fmt1(x(now))) y1=(top - 4.0) x2=(fmt1(x(now))) y2=(height - 20.0) class="now-line" {}
        text x=(fmt1(x(now))) y=(height - 6.0) text-anchor="middle" class="chart-label now-label" { "today" }
    };
    chart_frame(
        "timeline",
        id,
        (width, height),
        title,
        html! { (desc) ". Today is " (now.format("%Y-%m-%d")) "." },
        body,
    )
}

/// Shading level 0–4 of a count relative to the largest count.
pub fn level(count: i64, max: i64) -> u8 {
    if count <= 0 || max <= 0 {
        return 0;
    }
    let r = count as f64 / max as f64;
    if r > 0.75 {
        4
    } else if r > 0.5 {
        3
    } else if r > 0.25 {
        2
    } else {
        1
    }
}

/// A world map with each country shaded by its count (`counts` keyed by ISO alpha-2,
/// upper-case). Every path carries `data-country` and a fill class `fill-N` (N = 0–4);
/// countries with a count also carry `data-count`.
pub fn choropleth(id: &str, title: &str, counts: &BTreeMap<String, i64>) -> Markup {
    let max = counts.values().copied().max().unwrap_or(0);
    let known: Vec<&str> = world().iter().map(|c| c.code).collect();
    let unmapped: Vec<(&String, &i64)> = counts
        .iter()
        .filter(|(cc, _)| !known.iter().any(|k| k.eq_ignore_ascii_case(cc)))
        .collect();
    let desc = if counts.is_empty() {
        "No country has targets.".to_string()
    } else {
        counts
            .iter()
            .map(|(cc, n)| format!("{} ({cc}): {n}", country_name(cc).unwrap_or(cc)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    // The legend names the range of counts actually drawn at each level.
    let mut legend: Vec<(u8, String)> = vec![(0, "no targets".to_string())];
    for lvl in 1..=4u8 {
        let at: Vec<i64> = counts
            .values()
            .copied()
            .filter(|n| level(*n, max) == lvl)
            .collect();
        if let (Some(lo), Some(hi)) = (at.iter().min(), at.iter().max()) {
            legend.push((
                lvl,
                if lo == hi {
                    format!("{lo}")
                } else {
                    format!("{lo}–{hi}")
                },
            ));
        }
    }
    html! {
        figure.map {
            svg.chart.choropleth id=(id) role="img" aria-labelledby={(id) "-t " (id) "-d"}
                viewBox={"0 0 " (MAP_WIDTH) " " (fmt1(MAP_HEIGHT))} preserveAspectRatio="xMidYMid meet"
                xmlns="http://www.w3.org/2000/svg" {
                title id={(id) "-t"} { (title) }
                desc id={(id) "-d"} { (desc) }
                rect.sea x="0" y="0" width=(MAP_WIDTH) height=(fmt1(MAP_HEIGHT)) {}
                @for c in world() {
                    @let n = counts.get(c.code).copied().unwrap_or(0);
                    @if c.code == "-99" {
                        path.country.fill-0 d=(c.path) { title { (c.name) } }
                    } @else if n > 0 {
                        path class={"country fill-" (level(n, max))} d=(c.path)
                            data-country=(c.code) data-count=(n) {
                            title { (c.name) " (" (c.code) "): " (n) }
                        }
                    } @else {
                        path.country.fill-0 d=(c.path) data-country=(c.code) { title { (c.name) } }
                    }
                }
            }
            figcaption {
                ul.legend aria-label="Map legend: targets per country" {
                    li { strong { "Targets per country:" } }
                    @for (lvl, text) in &legend {
                        li { span class={"swatch fill-" (lvl)} aria-hidden="true" {} (text) }
                    }
                }
                @if !unmapped.is_empty() {
                    p { "Not on the map: "
                        @for (i, (cc, n)) in unmapped.iter().enumerate() {
                            @if i > 0 { ", " } (cc) " (" (n) ")"
                        }
                    }
                }
            }
        }
    }
}

fn fmt1(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_time;

    #[test]
    fn the_map_knows_the_natural_earth_quirks() {
        assert!(world().len() > 170, "{}", world().len());
        assert_eq!(country_name("FR"), Some("France"));
        assert_eq!(country_name("NO"), Some("Norway"));
        assert_eq!(country_name("XK"), Some("Kosovo"));
        assert!(world().iter().all(|c| c.path.starts_with('M')));
    }

    #[test]
    fn choropleth_shades_countries_with_counts() {
        let counts: BTreeMap<String, i64> =
            [("FR".to_string(), 4), ("DE".into(), 1), ("ZZ".into(), 2)].into();
        let svg = choropleth("m", "Targets", &counts).into_string();
        assert!(svg.contains(r#"class="country fill-4""#), "{svg:.300}");
        assert!(svg.contains(r#"data-country="FR" data-count="4""#));
        assert!(svg.contains(r#"data-country="DE" data-count="1""#));
        assert!(svg.contains(r#"class="country fill-0""#));
        assert!(svg.contains("Not on the map: ZZ (2)"));
        assert!(svg.contains("France (FR): 4"));
    }

    #[test]
    fn bar_chart_writes_values_as_text_and_caps_bars() {
        let bars: Vec<Bar> = (0..30).map(|i| Bar::new(format!("b{i}"), i)).collect();
        let svg = bar_chart("c", "Chart", &bars).into_string();
        assert_eq!(svg.matches("<g class=\"bar\"").count(), MAX_BARS);
        assert!(svg.contains("11 others"));
        assert!(svg.contains("<title id=\"c-t\">Chart</title>"));
        let empty = bar_chart("e", "Empty", &[]).into_string();
        assert!(empty.contains("No data yet"));
    }

    #[test]
    fn timeline_marks_events_and_today() {
        let s = Span {
            label: "#1".into(),
            from: parse_time("2019-07-03").unwrap(),
            until: parse_time("2024-07-03").unwrap(),
            ended: None,
            class: "span-active",
            events: vec![(parse_time("2019-07-03").unwrap(), "signed".into())],
        };
        let svg = timeline("t", "Agreement", &[s], parse_time("2022-01-01").unwrap()).into_string();
        assert!(svg.contains("signed 2019-07-03"));
        assert!(svg.contains("today"));
        assert!(svg.contains(">2019<") && svg.contains(">2025<"));
    }
}
