//! What a hub would announce about an operation: overall, per country and per network.
//!
//! Definitions, written down because every figure is quoted publicly:
//! - **reported**: targets that reached `reported` (whatever happened after).
//! - **taken down**: targets in an actioned state (taken-down, sinkholed, cleaned), or
//!   reported targets confirmed offline at or after the moment they were reported.
//! - **time to takedown**: from `reported_at` to the first offline observation at or after
//!   it. Targets never confirmed offline give no sample (an "actioned" claim without an
//!   observation is counted as taken down but not timed).
//! - **median** and **p90** use the nearest-rank method (the ⌈p·n⌉-th smallest sample), so
//!   every figure is a duration that was actually observed.
//! - Targets with no known country count under `unknown_country`, not under `countries`.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use serde::Serialize;

use super::{Counts, Observation, Operation, Result, Target, TargetState};
use crate::model::{stix_time, Time};
use crate::store::Store;

/// Figures for one slice (all targets, one country, one network).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub targets: usize,
    pub c2: usize,
    pub compromised_websites: usize,
    pub reported: usize,
    pub taken_down: usize,
    /// taken_down / reported × 100, one decimal; `None` when nothing was reported.
    pub taken_down_pct: Option<f64>,
    pub needs_consent: usize,
    pub by_state: BTreeMap<String, usize>,
    pub time_to_takedown: Ttd,
}

/// Time-to-takedown distribution, in hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ttd {
    pub samples: usize,
    pub median_hours: Option<f64>,
    pub p90_hours: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkFigures {
    pub asn: u32,
    pub name: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub operation: String,
    pub window: [String; 2],
    pub generated_at: String,
    #[serde(flatten)]
    pub overall: Figures,
    /// Number of distinct countries with targets.
    pub country_count: usize,
    pub unknown_country: usize,
    pub seizures: i64,
    pub arrests: i64,
    /// Per country, keyed by ISO 3166-1 alpha-2 code.
    pub countries: BTreeMap<String, Figures>,
    /// Per network, keyed `AS<number>`.
    pub networks: BTreeMap<String, NetworkFigures>,
}

/// Per target: whether it is taken down, and the time to takedown in seconds if measured.
pub fn outcome(t: &Target, obs: &[&Observation]) -> (bool, Option<i64>) {
    let first_offline = t.reported_at.and_then(|r| {
        obs.iter()
            .filter(|o| !o.online && o.at >= r)
            .map(|o| o.at)
            .min()
            .map(|off| (off - r).num_seconds())
    });
    (
        t.state.is_actioned() || first_offline.is_some(),
        first_offline,
    )
}

/// The nearest-rank percentile (`p` in 0..=100) of sorted `v`.
pub fn nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn hours(s: i64) -> f64 {
    (s as f64 / 36.0).round() / 100.0
}

#[derive(Default)]
struct Acc {
    f: Figures,
    ttd: Vec<i64>,
}

impl Acc {
    fn add(&mut self, t: &Target, down: bool, ttd: Option<i64>) {
        let f = &mut self.f;
        f.targets += 1;
        match t.category {
            super::Category::C2 => f.c2 += 1,
            super::Category::CompromisedWebsite => f.compromised_websites += 1,
        }
        if t.state.was_reported() && t.reported_at.is_some() {
            f.reported += 1;
        }
        if down {
            f.taken_down += 1;
        }
        f.needs_consent += t.needs_consent as usize;
        *f.by_state.entry(t.state.as_str().to_string()).or_default() += 1;
        self.ttd.extend(ttd);
    }
    fn finish(mut self) -> Figures {
        self.ttd.sort_unstable();
        let f = &mut self.f;
        f.taken_down_pct = (f.reported > 0)
            .then(|| (f.taken_down as f64 * 1000.0 / f.reported as f64).round() / 10.0);
        f.time_to_takedown = Ttd {
            samples: self.ttd.len(),
            median_hours: nearest_rank(&self.ttd, 50.0).map(hours),
            p90_hours: nearest_rank(&self.ttd, 90.0).map(hours),
        };
        self.f
    }
}

/// Compute the summary from stored targets, observations and counts.
pub fn summarise(store: &Store, op: &Operation) -> Result<Summary> {
    let targets = store.targets(op.id)?;
    let obs = store.observations(op.id)?;
    let counts = store.counts(op.id)?;
    Ok(compute(op, &targets, &obs, &counts, Utc::now()))
}

/// The pure computation (tests and reports call it on data they hold).
pub fn compute(
    op: &Operation,
    targets: &[Target],
    obs: &[Observation],
    counts: &Counts,
    now: Time,
) -> Summary {
    let mut by_target: HashMap<i64, Vec<&Observation>> = HashMap::new();
    for o in obs {
        by_target.entry(o.target_id).or_default().push(o);
    }
    let mut all = Acc::default();
    let mut countries: BTreeMap<String, Acc> = BTreeMap::new();
    let mut networks: BTreeMap<u32, (Option<String>, Acc)> = BTreeMap::new();
    let mut unknown = 0;
    for t in targets {
        let (down, ttd) = outcome(t, by_target.get(&t.id).map(Vec::as_slice).unwrap_or(&[]));
        all.add(t, down, ttd);
        match &t.country {
            Some(c) => countries.entry(c.clone()).or_default().add(t, down, ttd),
            None => unknown += 1,
        }
        if let Some(asn) = t.asn {
            let e = networks
                .entry(asn)
                .or_insert_with(|| (t.network.clone(), Acc::default()));
            e.1.add(t, down, ttd);
        }
    }
    Summary {
        operation: op.name.clone(),
        window: [stix_time(op.window_from), stix_time(op.window_to)],
        generated_at: stix_time(now),
        overall: all.finish(),
        country_count: countries.len(),
        unknown_country: unknown,
        seizures: counts.seizures,
        arrests: counts.arrests,
        countries: countries
            .into_iter()
            .map(|(k, a)| (k, a.finish()))
            .collect(),
        networks: networks
            .into_iter()
            .map(|(asn, (name, a))| {
                (
                    format!("AS{asn}"),
                    NetworkFigures {
                        asn,
                        name,
                        figures: a.finish(),
                    },
                )
            })
            .collect(),
    }
}

/// Whether a state counts as "still to act on" for boards and reports.
pub fn is_open(s: TargetState) -> bool {
    !s.is_final()
}

/// The summary as a few lines a person reads (the CLI's `--format text`).
pub fn to_text(s: &Summary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let f = &s.overall;
    let pct = |p: Option<f64>| {
        p.map(|p| format!("{p:.1}%"))
            .unwrap_or_else(|| "n/a".into())
    };
    let h = |x: Option<f64>| {
        x.map(|x| format!("{x:.1} h"))
            .unwrap_or_else(|| "n/a".into())
    };
    let _ = writeln!(
        o,
        "Operation {} ({} .. {})",
        s.operation,
        &s.window[0][..10],
        &s.window[1][..10]
    );
    let _ = writeln!(
        o,
        "{} targets identified ({} C2 servers, {} compromised websites) in {} countries{}",
        f.targets,
        f.c2,
        f.compromised_websites,
        s.country_count,
        if s.unknown_country > 0 {
            format!(" (+{} with unknown country)", s.unknown_country)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        o,
        "{} reported, {} taken down ({} of reported)",
        f.reported,
        f.taken_down,
        pct(f.taken_down_pct)
    );
    let _ = writeln!(
        o,
        "time to takedown: median {}, p90 {} ({} measured)",
        h(f.time_to_takedown.median_hours),
        h(f.time_to_takedown.p90_hours),
        f.time_to_takedown.samples
    );
    let _ = writeln!(
        o,
        "{} seizures, {} arrests; {} targets need source consent",
        s.seizures, s.arrests, f.needs_consent
    );
    let _ = writeln!(
        o,
        "\n{:<8} {:>8} {:>9} {:>11} {:>8} {:>12}",
        "COUNTRY", "TARGETS", "REPORTED", "TAKEN DOWN", "%", "MEDIAN TTD"
    );
    for (cc, c) in &s.countries {
        let _ = writeln!(
            o,
            "{:<8} {:>8} {:>9} {:>11} {:>8} {:>12}",
            cc,
            c.targets,
            c.reported,
            c.taken_down,
            pct(c.taken_down_pct),
            h(c.time_to_takedown.median_hours)
        );
    }
    let mut nets: Vec<&NetworkFigures> = s.networks.values().collect();
    nets.sort_by(|a, b| {
        b.figures
            .targets
            .cmp(&a.figures.targets)
            .then(a.asn.cmp(&b.asn))
    });
    let _ = writeln!(
        o,
        "\n{:<10} {:<32} {:>8} {:>11}",
        "NETWORK", "NAME", "TARGETS", "TAKEN DOWN"
    );
    for n in nets.iter().take(SUMMARY_TEXT_NETWORKS) {
        let name: String = n
            .name
            .clone()
            .unwrap_or_default()
            .chars()
            .take(32)
            .collect();
        let _ = writeln!(
            o,
            "{:<10} {:<32} {:>8} {:>11}",
            format!("AS{}", n.asn),
            name,
            n.figures.targets,
            n.figures.taken_down
        );
    }
    if nets.len() > SUMMARY_TEXT_NETWORKS {
        let _ = writeln!(
            o,
            "... and {} more networks (--format json lists all)",
            nets.len() - SUMMARY_TEXT_NETWORKS
        );
    }
    o
}

/// Networks listed in the text summary (JSON lists all).
pub const SUMMARY_TEXT_NETWORKS: usize = 20;
