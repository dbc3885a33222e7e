//! Matching members' logs against the indicators they may use.
//!
//! The indicator set comes from one of three places, and is compiled once into the
//! matcher crate's immutable [`IndicatorSet`]:
//! - the store: every observable with a record the member may see through the policy's
//!   bulk channel (the same decision as TAXII and exports);
//! - a STIX bundle: indicators whose patterns compile to simple comparisons go into the
//!   set; the others are marked complex and evaluated in full by the STIX pattern engine
//!   over the events of the lines that touched them;
//! - a TAXII collection (pulled with the sync client).
//!
//! Each hit is printed as one JSON line with the indicator ids, labels, malware and the
//! sources the member may see; per-indicator aggregates become STIX sightings.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use matcher::{Event, Hit, IndicatorSet, IndicatorSetBuilder, Sink};
use serde::Serialize;
use serde_json::{json, Value};

use crate::lookup::scope_for;
use crate::model::*;
use crate::policy::Channel;
use crate::store::{Store, StoreError};

/// Observables read from the store per page while compiling the set.
const PAGE: usize = 5_000;

/// What a handle in the compiled set stands for.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndicatorInfo {
    /// STIX indicator ids (from a bundle) or the source records' STIX ids.
    pub ids: Vec<String>,
    /// The observable value or the pattern.
    pub value: String,
    pub labels: Vec<String>,
    pub malware: Vec<String>,
    pub sources: Vec<String>,
    /// For complex patterns: evaluated by the pattern engine, not by value.
    #[serde(skip)]
    pub pattern: Option<stix::pattern::Pattern>,
    /// Store records with no STIX indicator: the derived indicator id the STIX export gives
    /// the first record, so sightings can name it in `sighting_of_ref`.
    #[serde(skip)]
    pub derived_indicator_id: Option<String>,
}

/// A compiled set and what its handles mean.
pub struct Indicators {
    pub set: IndicatorSet,
    pub info: Vec<IndicatorInfo>,
    /// Patterns that could not be used (with why), reported in the summary.
    pub unusable: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Input(String),
    #[error("compiling the indicator set: {0}")]
    Build(String),
}

/// The indicators `viewer` may use, from the store.
pub fn from_store(store: &Store, viewer: &Org) -> Result<Indicators, MatchError> {
    let scope = scope_for(store, viewer, Utc::now(), Channel::Bulk)?;
    let orgs: BTreeMap<OrgId, Org> = store.orgs()?.into_iter().map(|o| (o.id, o)).collect();
    let mut b = IndicatorSetBuilder::new();
    let mut info = vec![];
    let mut after = 0;
    loop {
        let page = store.visible_observables(&scope, after, PAGE)?;
        let Some((last, _)) = page.last() else { break };
        after = last.id;
        for (o, records) in page {
            let handle = info.len() as u32;
            let observable = Observable {
                kind: o.kind,
                value: o.value.clone(),
            };
            b.add_observable(handle, &observable);
            let mut i = IndicatorInfo {
                value: o.value.clone(),
                ..Default::default()
            };
            for r in &records {
                extend_unique(&mut i.ids, &r.claim.stix_ids);
                extend_unique(&mut i.labels, &r.claim.labels);
                extend_unique(&mut i.malware, &r.claim.malware);
                extend_unique(
                    &mut i.sources,
                    &[orgs
                        .get(&r.org_id)
                        .map(|o| o.name.clone())
                        .unwrap_or_default()],
                );
            }
            if !i.ids.iter().any(|id| id.starts_with("indicator--")) {
                i.derived_indicator_id = records
                    .first()
                    .and_then(|r| orgs.get(&r.org_id))
                    .map(|org| crate::export::stix::derived_indicator_id(&observable, org));
            }
            info.push(i);
        }
    }
    let set = b.build().map_err(|e| MatchError::Build(e.to_string()))?;
    Ok(Indicators {
        set,
        info,
        unusable: vec![],
    })
}

/// Indicators from a STIX bundle (any size; streamed).
pub fn from_bundle(reader: impl Read, name: &str) -> Result<Indicators, MatchError> {
    let mut c = Collector::default();
    for entry in stix::BundleReader::new(reader) {
        let entry = entry.map_err(|e| MatchError::Input(format!("{name}: {e}")))?;
        c.add(
            entry.object.as_map(),
            &format!("{name}: {}", entry.pointer().as_str()),
        );
    }
    c.build()
}

/// Indicators from STIX objects obtained elsewhere (a TAXII collection).
pub fn from_objects(
    objects: impl IntoIterator<Item = Value>,
    name: &str,
) -> Result<Indicators, MatchError> {
    let mut c = Collector::default();
    for (i, o) in objects.into_iter().enumerate() {
        if let Value::Object(m) = o {
            c.add(&m, &format!("{name}: object {i}"));
        }
    }
    c.build()
}

/// Accumulates indicator objects into a set under construction.
#[derive(Default)]
struct Collector {
    b: IndicatorSetBuilder,
    info: Vec<IndicatorInfo>,
    unusable: Vec<String>,
}

impl Collector {
    fn add(&mut self, obj: &serde_json::Map<String, Value>, at: &str) {
        if obj.get("type").and_then(Value::as_str) != Some("indicator") {
            return;
        }
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if obj
            .get("pattern_type")
            .and_then(Value::as_str)
            .is_some_and(|t| t != "stix")
        {
            return;
        }
        let Some(text) = obj.get("pattern").and_then(Value::as_str) else {
            return;
        };
        let pattern = match stix::pattern::parse_lenient(text) {
            Ok(p) => p,
            Err(e) => {
                self.unusable.push(format!("{at}: {id}: {e}"));
                return;
            }
        };
        let compiled = stix::pattern::compile(&pattern);
        if compiled.needs_full_scan() {
            // No value to index: it would have to run on every log line.
            self.unusable.push(format!("{at}: {id}: an alternative of this pattern names no IP, domain, URL, hash or email to index; not used for line-rate matching"));
            return;
        }
        let handle = self.info.len() as u32;
        for o in compiled.observables() {
            self.b.add_observable(handle, o);
        }
        let strings = |k: &str| -> Vec<String> {
            obj.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut labels = strings("labels");
        extend_unique(&mut labels, &strings("indicator_types"));
        let complex = !compiled.is_simple;
        if complex {
            self.b.mark_complex(handle);
        }
        self.info.push(IndicatorInfo {
            ids: vec![id],
            value: text.to_string(),
            labels,
            malware: vec![],
            sources: obj
                .get("created_by_ref")
                .and_then(Value::as_str)
                .map(|s| vec![s.to_string()])
                .unwrap_or_default(),
            pattern: complex.then_some(pattern),
            derived_indicator_id: None,
        });
    }

    fn build(self) -> Result<Indicators, MatchError> {
        let set = self
            .b
            .build()
            .map_err(|e| MatchError::Build(e.to_string()))?;
        Ok(Indicators {
            set,
            info: self.info,
            unusable: self.unusable,
        })
    }
}

fn extend_unique(into: &mut Vec<String>, from: &[String]) {
    for v in from {
        if !v.is_empty() && !into.contains(v) {
            into.push(v.clone());
        }
    }
}

/// One output line of `threatgate match`.
#[derive(Debug, Serialize)]
pub struct HitLine<'a> {
    pub file: &'a str,
    pub line: u64,
    pub field: &'a str,
    pub value: &'a str,
    pub rule: &'a str,
    pub indicator: &'a str,
    pub indicator_ids: Vec<&'a str>,
    pub labels: Vec<&'a str>,
    pub malware: Vec<&'a str>,
    pub sources: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// Per-indicator sighting aggregate.
#[derive(Debug, Clone, Serialize)]
pub struct Aggregate {
    pub count: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub values: BTreeSet<String>,
}

/// Collects hits in order, writes them, and aggregates sightings. Complex-pattern
/// indicators only count once their whole pattern matches the events they touched.
pub struct HitWriter<'a, W: std::io::Write> {
    pub out: W,
    pub indicators: &'a Indicators,
    pub sightings: BTreeMap<u32, Aggregate>,
    /// Observations per complex indicator, for full pattern evaluation at the end.
    events: BTreeMap<u32, Vec<Value>>,
    pub hits: u64,
    pub error: Option<std::io::Error>,
}

impl<'a, W: std::io::Write> HitWriter<'a, W> {
    pub fn new(out: W, indicators: &'a Indicators) -> Self {
        HitWriter {
            out,
            indicators,
            sightings: BTreeMap::new(),
            events: BTreeMap::new(),
            hits: 0,
            error: None,
        }
    }

    fn record(&mut self, handle: u32, time: Option<DateTime<Utc>>, value: &str) {
        let a = self.sightings.entry(handle).or_insert(Aggregate {
            count: 0,
            first_seen: None,
            last_seen: None,
            values: BTreeSet::new(),
        });
        a.count += 1;
        if let Some(t) = time {
            a.first_seen = Some(a.first_seen.map_or(t, |f| f.min(t)));
            a.last_seen = Some(a.last_seen.map_or(t, |l| l.max(t)));
        }
        if a.values.len() < 16 {
            a.values.insert(value.to_string());
        }
    }

    /// Evaluate complex patterns over their events; returns how many matched.
    pub fn finish_complex(&mut self) -> usize {
        let mut matched = 0;
        for (handle, observations) in std::mem::take(&mut self.events) {
            let Some(p) = &self.indicators.info[handle as usize].pattern else {
                continue;
            };
            if p.matches(&observations).unwrap_or(false) {
                matched += 1;
                let first = observations
                    .iter()
                    .filter_map(|o| o["first_observed"].as_str())
                    .filter_map(parse_stored_time)
                    .min();
                let last = observations
                    .iter()
                    .filter_map(|o| o["last_observed"].as_str())
                    .filter_map(parse_stored_time)
                    .max();
                let a = self.sightings.entry(handle).or_insert(Aggregate {
                    count: 0,
                    first_seen: first,
                    last_seen: last,
                    values: BTreeSet::new(),
                });
                a.count += observations.len() as u64;
            }
        }
        matched
    }
}

impl<W: std::io::Write> Sink for HitWriter<'_, W> {
    fn hit(&mut self, h: &Hit) {
        let mut ids = vec![];
        let mut labels = vec![];
        let mut malware = vec![];
        let mut sources = vec![];
        let mut any_simple = false;
        for &handle in &h.handles {
            let i = &self.indicators.info[handle as usize];
            if i.pattern.is_some() {
                continue; // counted only if the whole pattern matches
            }
            any_simple = true;
            ids.extend(i.ids.iter().map(String::as_str));
            labels.extend(i.labels.iter().map(String::as_str));
            malware.extend(i.malware.iter().map(String::as_str));
            sources.extend(i.sources.iter().map(String::as_str));
        }
        if !any_simple {
            return;
        }
        for v in [&mut ids, &mut labels, &mut malware, &mut sources] {
            v.sort_unstable();
            v.dedup();
        }
        let line = HitLine {
            file: &h.file,
            line: h.line,
            field: &h.field,
            value: &h.value,
            rule: h.rule.as_str(),
            indicator: &h.indicator,
            indicator_ids: ids,
            labels,
            malware,
            sources,
            time: h.time.map(stix_time),
        };
        if self.error.is_none() {
            if let Err(e) = serde_json::to_writer(&mut self.out, &line)
                .and_then(|_| self.out.write_all(b"\n").map_err(serde_json::Error::io))
            {
                self.error = Some(std::io::Error::other(e));
            }
        }
        self.hits += 1;
        for &handle in &h.handles {
            if self.indicators.info[handle as usize].pattern.is_none() {
                self.record(handle, h.time, &h.value);
            }
        }
    }

    fn event(&mut self, e: &Event) {
        // Each line becomes one observed-data with the SCOs found on it.
        let mut objects = serde_json::Map::new();
        for (i, (_, o)) in e.fields.iter().enumerate() {
            let sco = match o.kind {
                k if k.is_hash() => {
                    json!({"type": "file", "hashes": {k.stix_hash_algorithm().expect("a hash kind"): o.value}})
                }
                k => json!({"type": k.stix_type(), "value": o.value}),
            };
            objects.insert(i.to_string(), sco);
        }
        let t = stix_time(e.time.unwrap_or_else(Utc::now));
        let observed = json!({
            "type": "observed-data",
            "id": format!("observed-data--{}", uuid::Uuid::new_v4()),
            "first_observed": t, "last_observed": t, "number_observed": 1,
            "objects": objects,
        });
        for &handle in &e.handles {
            if self.indicators.info[handle as usize].pattern.is_some() {
                let v = self.events.entry(handle).or_default();
                if v.len() < MAX_EVENTS_PER_PATTERN {
                    v.push(observed.clone());
                }
            }
        }
    }
}

/// Events kept per complex indicator for full evaluation (bounds memory on hot indicators).
pub const MAX_EVENTS_PER_PATTERN: usize = 10_000;

/// STIX sightings for the aggregates, to send back to the hub.
pub fn sightings_bundle(
    indicators: &Indicators,
    sightings: &BTreeMap<u32, Aggregate>,
    sighter_identity: &str,
    where_sighted: &str,
) -> Value {
    let now = stix_time(Utc::now());
    let mut objects = vec![];
    for (handle, a) in sightings {
        let info = &indicators.info[*handle as usize];
        let mut s = json!({
            "type": "sighting",
            "spec_version": "2.1",
            "id": format!("sighting--{}", uuid::Uuid::new_v4()),
            "created": now, "modified": now,
            "count": a.count.min(999_999_999),
            "description": format!("seen by {where_sighted}"),
            "where_sighted_refs": [sighter_identity],
            "x_threatgate_where": where_sighted,
            "x_threatgate_values": a.values.iter().collect::<Vec<_>>(),
        });
        if let Some(f) = a.first_seen {
            s["first_seen"] = json!(stix_time(f));
        }
        if let Some(l) = a.last_seen {
            s["last_seen"] = json!(stix_time(l));
        }
        // STIX 2.1 requires sighting_of_ref: records ingested without a STIX indicator
        // (CSV, lists, MISP) name the indicator the STIX export derives for them.
        if let Some(id) = info
            .ids
            .iter()
            .find(|id| id.starts_with("indicator--"))
            .or(info.derived_indicator_id.as_ref())
        {
            s["sighting_of_ref"] = json!(id);
        }
        // Indicators from the store stand for one observable: name it, so the hub finds
        // it whatever indicator ids it holds.
        if info.pattern.is_none() && Observable::detect(&info.value).is_ok() {
            s["x_threatgate_value"] = json!(info.value);
        }
        objects.push(s);
    }
    json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects})
}

/// What [`store_sightings`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SightingsReceipt {
    /// Sightings stored (one per sighted observable).
    pub stored: usize,
    /// Sightings naming nothing the reporter may see (unknown and invisible look the same).
    pub ignored: usize,
}

/// A reported sighting, checked.
struct Reported {
    count: i64,
    first: Time,
    last: Time,
    where_sighted: String,
    value: Option<String>,
    sighting_of: Option<String>,
}

/// Check one reported STIX sighting; errors name the JSON pointer of the bad property.
fn check_sighting(s: &Value, at: &str) -> Result<Reported, MatchError> {
    let bad = |prop: &str, why: String| MatchError::Input(format!("{at}/{prop}: {why}"));
    if s.get("type").and_then(Value::as_str) != Some("sighting") {
        return Err(bad("type", "must be \"sighting\"".into()));
    }
    let count = match s.get("count") {
        None => 1,
        Some(c) => match c.as_i64() {
            Some(n) if (1..=999_999_999).contains(&n) => n,
            _ => {
                return Err(bad(
                    "count",
                    format!("must be an integer from 1 to 999999999, found {c}"),
                ))
            }
        },
    };
    let time = |prop: &str| -> Result<Option<Time>, MatchError> {
        match s.get(prop) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(parse_stored_time)
                .map(Some)
                .ok_or_else(|| bad(prop, format!("must be an RFC 3339 timestamp, found {v}"))),
        }
    };
    let first = time("first_seen")?;
    let last = time("last_seen")?;
    let (first, last) = match (first, last) {
        (Some(f), Some(l)) if l < f => {
            return Err(bad("last_seen", "is earlier than first_seen".into()))
        }
        (Some(f), Some(l)) => (f, l),
        (Some(t), None) | (None, Some(t)) => (t, t),
        (None, None) => {
            let now = Utc::now();
            (now, now)
        }
    };
    let text = |prop: &str| -> Result<Option<String>, MatchError> {
        match s.get(prop) {
            None => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.clone())),
            Some(v) => Err(bad(prop, format!("must be a string, found {v}"))),
        }
    };
    let value = text("x_threatgate_value")?;
    let sighting_of = text("sighting_of_ref")?;
    if value.is_none() && sighting_of.is_none() {
        return Err(bad(
            "sighting_of_ref",
            "missing: a sighting names its indicator (sighting_of_ref) or its observable (x_threatgate_value)".into(),
        ));
    }
    let where_sighted = text("x_threatgate_where")?
        .or(text("description")?)
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    Ok(Reported {
        count,
        first,
        last,
        where_sighted,
        value,
        sighting_of,
    })
}

/// Store sightings reported by `org` (`threatgate match --report-to`, received by
/// `POST /api/v1/sightings`). Each names its observable (`x_threatgate_value`) or an
/// indicator stored here (`sighting_of_ref`); it is stored once per sighted observable the
/// reporter may see through the policy (the same bulk scope as its indicator set), and
/// ignored otherwise, so a reporter learns nothing about what it may not see. All or
/// nothing: one malformed sighting refuses the whole report, naming it.
pub fn store_sightings(
    store: &Store,
    org: &Org,
    sightings: &[Value],
) -> Result<SightingsReceipt, MatchError> {
    let checked: Vec<Reported> = sightings
        .iter()
        .enumerate()
        .map(|(i, s)| check_sighting(s, &format!("/objects/{i}")))
        .collect::<Result<_, _>>()?;
    let scope = scope_for(store, org, Utc::now(), Channel::Bulk)?;
    let mut receipt = SightingsReceipt::default();
    for r in checked {
        let mut targets: BTreeSet<i64> = BTreeSet::new();
        if let Some(o) = r.value.as_deref().and_then(|v| Observable::detect(v).ok()) {
            if let Some(row) = store.observable(o.kind, &o.value)? {
                targets.insert(row.id);
            }
        }
        if let Some(id) = &r.sighting_of {
            targets.extend(store.observables_of_object(id)?);
        }
        let mut stored = false;
        for id in targets {
            if store.visible_records(id, &scope)?.is_empty() {
                continue;
            }
            store.add_sighting(&crate::store::NewSighting {
                observable_id: id,
                org_id: org.id,
                count: r.count,
                first_seen: r.first,
                last_seen: r.last,
                where_sighted: r.where_sighted.clone(),
            })?;
            receipt.stored += 1;
            stored = true;
        }
        if !stored {
            receipt.ignored += 1;
        }
    }
    Ok(receipt)
}

/// Read a bundle of indicators from a file path.
pub fn from_bundle_path(path: &Path) -> Result<Indicators, MatchError> {
    let f = std::fs::File::open(path)
        .map_err(|e| MatchError::Input(format!("{}: {e}", path.display())))?;
    from_bundle(std::io::BufReader::new(f), &path.display().to_string())
}
