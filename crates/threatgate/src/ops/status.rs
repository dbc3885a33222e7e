//! Importing liveness observations from status data instead of probing.
//!
//! - **URLhaus** CSV (`id,dateadded,url,url_status,last_online,...`): a URL target seen
//!   `online` is recorded online at `last_online`; one seen `offline` is recorded online at
//!   `last_online` (if given) and offline at the time the dump was taken (`observed_at`).
//! - **C2 tracker** first/last-seen table (`ip,first_seen_commit_date,last_seen_commit_date,
//!   present_in_latest`, plain or gzip): an IP target is recorded online at its first and
//!   last snapshot; if it is no longer present it is recorded offline at the first snapshot
//!   after its last sighting. That instant comes from the tracker's snapshot list
//!   (`all_snapshots.csv`) when given, else it is taken as [`SNAPSHOT_INTERVAL_HOURS`]
//!   after the last sighting (the tracker is snapshotted daily).
//!
//! Rows for values that are not targets of the operation are counted and skipped.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use super::{Observation, Operation, OpsError, Result};
use crate::model::{parse_stored_time, Kind, Observable, OrgId, Time};
use crate::store::Store;

/// Hours between C2-tracker snapshots, used when the snapshot list is not given.
pub const SNAPSHOT_INTERVAL_HOURS: i64 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFormat {
    Urlhaus,
    C2Tracker,
}

impl std::str::FromStr for StatusFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "urlhaus" => Ok(StatusFormat::Urlhaus),
            "c2-tracker" => Ok(StatusFormat::C2Tracker),
            _ => Err(format!(
                "{s:?} is not a status format; expected urlhaus or c2-tracker"
            )),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Imported {
    pub rows: usize,
    pub matched_targets: usize,
    pub observations: usize,
    pub new_observations: usize,
    pub skipped: usize,
}

/// Import a status file into `op`'s observations. `observed_at` is when the file was
/// taken (URLhaus offline rows); `snapshots` is the C2 tracker's snapshot list.
pub fn import(
    store: &Store,
    op: &Operation,
    path: &Path,
    format: StatusFormat,
    observed_at: Time,
    snapshots: Option<&Path>,
    actor: Option<OrgId>,
) -> Result<Imported> {
    let targets: HashMap<(Kind, String), i64> = store
        .targets(op.id)?
        .into_iter()
        .map(|t| ((t.kind, t.value), t.id))
        .collect();
    let mut out = Imported::default();
    let mut obs = vec![];
    let name = path.display().to_string();
    let reader = open(path)?;
    match format {
        StatusFormat::Urlhaus => {
            let mut rdr = csv::ReaderBuilder::new()
                .flexible(true)
                .comment(Some(b'#'))
                .from_reader(reader);
            let headers = rdr
                .headers()
                .map_err(|e| bad(&name, 1, &e.to_string()))?
                .clone();
            let col = |n: &str| headers.iter().position(|h| h.trim() == n);
            let (Some(url_c), Some(status_c)) = (col("url"), col("url_status")) else {
                return Err(bad(&name, 1, "a URLhaus CSV needs the columns url and url_status (header line `id,dateadded,url,url_status,last_online,...`)"));
            };
            let last_c = col("last_online");
            for (i, rec) in rdr.records().enumerate() {
                let line = i as u64 + 2;
                let rec = rec.map_err(|e| bad(&name, line, &e.to_string()))?;
                out.rows += 1;
                let Ok(o) = Observable::parse(Kind::Url, rec.get(url_c).unwrap_or("")) else {
                    out.skipped += 1;
                    continue;
                };
                let Some(&tid) = targets.get(&(o.kind, o.value)) else {
                    out.skipped += 1;
                    continue;
                };
                out.matched_targets += 1;
                let status = rec.get(status_c).unwrap_or("").trim().to_ascii_lowercase();
                let last = last_c.and_then(|c| rec.get(c)).and_then(parse_loose_time);
                if let Some(t) = last {
                    obs.push(Observation {
                        target_id: tid,
                        at: t,
                        online: true,
                        method: "urlhaus".into(),
                        detail: "last_online".into(),
                    });
                }
                match status.as_str() {
                    "online" => {}
                    "offline" => obs.push(Observation {
                        target_id: tid,
                        at: observed_at,
                        online: false,
                        method: "urlhaus".into(),
                        detail: "url_status offline".into(),
                    }),
                    other => {
                        return Err(bad(
                            &name,
                            line,
                            &format!("url_status {other:?} is neither online nor offline"),
                        ))
                    }
                }
            }
        }
        StatusFormat::C2Tracker => {
            let snaps = match snapshots {
                Some(p) => Some(load_snapshots(p)?),
                None => None,
            };
            let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
            let headers = rdr
                .headers()
                .map_err(|e| bad(&name, 1, &e.to_string()))?
                .clone();
            let want = [
                "ip",
                "first_seen_commit_date",
                "last_seen_commit_date",
                "present_in_latest",
            ];
            let cols: Vec<usize> = want
                .iter()
                .map(|w| headers.iter().position(|h| h.trim() == *w))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad(&name, 1, "a C2-tracker table needs the header `ip,first_seen_commit_date,last_seen_commit_date,present_in_latest`"))?;
            for (i, rec) in rdr.records().enumerate() {
                let line = i as u64 + 2;
                let rec = rec.map_err(|e| bad(&name, line, &e.to_string()))?;
                out.rows += 1;
                let Ok(o) = Observable::detect(rec.get(cols[0]).unwrap_or("")) else {
                    out.skipped += 1;
                    continue;
                };
                let Some(&tid) = targets.get(&(o.kind, o.value)) else {
                    out.skipped += 1;
                    continue;
                };
                out.matched_targets += 1;
                let time = |c: usize| {
                    parse_loose_time(rec.get(c).unwrap_or("")).ok_or_else(|| {
                        bad(
                            &name,
                            line,
                            &format!("{:?} is not a timestamp", rec.get(c).unwrap_or("")),
                        )
                    })
                };
                let first = time(cols[1])?;
                let last = time(cols[2])?;
                obs.push(Observation {
                    target_id: tid,
                    at: first,
                    online: true,
                    method: "c2-tracker".into(),
                    detail: "first snapshot".into(),
                });
                obs.push(Observation {
                    target_id: tid,
                    at: last,
                    online: true,
                    method: "c2-tracker".into(),
                    detail: "last snapshot".into(),
                });
                let present = rec
                    .get(cols[3])
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("true");
                if !present {
                    let gone = snaps
                        .as_ref()
                        .and_then(|s| s.iter().find(|t| **t > last).copied())
                        .unwrap_or(last + chrono::Duration::hours(SNAPSHOT_INTERVAL_HOURS));
                    obs.push(Observation {
                        target_id: tid,
                        at: gone,
                        online: false,
                        method: "c2-tracker".into(),
                        detail: "absent from the next snapshot".into(),
                    });
                }
            }
        }
    }
    out.observations = obs.len();
    out.new_observations = store.add_observations(op.id, &obs, actor, &name)?;
    Ok(out)
}

fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = std::fs::File::open(path)
        .map_err(|e| OpsError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    iprange::decompress(f)
        .map_err(|e| OpsError::Invalid(format!("cannot read {}: {e}", path.display())))
}

fn bad(file: &str, line: u64, what: &str) -> OpsError {
    OpsError::Invalid(format!("{file}:{line}: {what}"))
}

/// The tracker's snapshot instants, sorted (`commit_date,commit,ip_count`).
pub fn load_snapshots(path: &Path) -> Result<Vec<Time>> {
    let name = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new().from_reader(open(path)?);
    let mut out = vec![];
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| bad(&name, i as u64 + 2, &e.to_string()))?;
        let t = parse_loose_time(rec.get(0).unwrap_or(""))
            .ok_or_else(|| bad(&name, i as u64 + 2, "the first column is not a timestamp"))?;
        out.push(t);
    }
    out.sort();
    Ok(out)
}

/// RFC 3339 (with any offset) or `YYYY-MM-DD HH:MM:SS` (UTC, as URLhaus writes it).
pub fn parse_loose_time(s: &str) -> Option<Time> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    parse_stored_time(s).or_else(|| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|n| n.and_utc())
    })
}
