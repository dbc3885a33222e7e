//! The bulk write path of a submission: a batch of items in a handful of statements.
//!
//! Writing row by row costs about six statements per indicator (insert the object, find or
//! create the observable, find, merge and write the record, link). For a batch, this module
//! instead:
//!
//! 1. inserts all objects in multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`, and
//!    looks up only those that conflicted (already stored by this org);
//! 2. inserts all distinct observables of the batch, in key order, the same way, and looks
//!    up only those that already existed;
//! 3. merges the batch's claims per observable in memory, inserts the records that do not
//!    exist yet and reads, merges and rewrites only those that do (and only if changed);
//! 4. links objects to observables with one multi-row insert.
//!
//! The statements are the same on both engines; the result equals applying the items one
//! by one with [`SubmissionWriter::add_object`] and [`SubmissionWriter::add_claim`]
//! (claim merging is associative; see [`Claim::merge`]).

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;

use super::backend::{Result, StoreError, Val};
use super::{format_time, parse_stored_time, NewObject, SubmissionWriter};
use crate::model::{Claim, Kind, Observable};

/// Rows per multi-row statement: well under both engines' parameter limits (SQLite
/// 32,766, PostgreSQL 65,535) for the widest row (9 columns).
const ROWS_PER_STATEMENT: usize = 500;

/// Observable ids by (kind, value), borrowing the batch's values.
type ObsIds<'e> = HashMap<(Kind, &'e str), i64>;

/// One item of a batch: an object to keep and/or claims, linked to the object if given.
pub struct Entry<'a> {
    pub object: Option<&'a NewObject>,
    pub claims: &'a [(Observable, Claim)],
}

/// `"($1, $2), ($3, $4)"` for `rows` rows of `cols` placeholders, numbered from `first`.
fn values_list(rows: usize, cols: usize, first: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&(first + r * cols + c).to_string());
        }
        s.push(')');
    }
    s
}

/// `"$2, $3, $4"`: a list of `n` placeholders numbered from `first`.
/// Which column of a stored object row `stored_rows_of` returns beside its pk.
#[derive(Clone, Copy)]
enum RowColumn {
    Json,
    Version,
}

fn placeholders(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A claim in the form merging produces (lists sorted), so that a record written once
/// compares equal after re-ingesting the same claim.
fn normalised(c: &Claim) -> Claim {
    let mut n = c.clone();
    n.merge(c);
    n
}

impl SubmissionWriter<'_> {
    /// Write a batch of entries. Returns, per entry, whether its object was newly stored
    /// (`false` when there is none or this org already submitted exactly that version).
    ///
    /// An object whose `version` is empty has no version of its own (an SCO has no
    /// `modified`): if this org already stored one with the same id and identical JSON,
    /// that is the object; otherwise it is stored with its `date_added` as version.
    pub fn add_entries(&mut self, entries: &[Entry<'_>]) -> Result<Vec<bool>> {
        let (pks, stored) = self.write_objects(entries)?;
        let obs_ids = self.write_observables(entries)?;
        self.write_records(entries, &obs_ids)?;
        self.write_links(entries, &pks, &obs_ids)?;
        Ok(stored)
    }

    /// The next `date_added`: strictly increasing, so that TAXII paging by date never skips.
    fn next_added(&mut self) -> String {
        let mut added = format_time(Utc::now());
        if added <= self.last_added {
            let prev = parse_stored_time(&self.last_added).unwrap_or(self.now);
            added = format_time(prev + chrono::Duration::microseconds(1));
        }
        self.last_added = added.clone();
        added
    }

    /// Objects: (pk per entry, newly stored per entry).
    /// This org's stored rows of each of `ids`, as stix_id -> [(column value, pk)].
    fn stored_rows_of(
        &mut self,
        column: RowColumn,
        ids: &[&str],
    ) -> Result<HashMap<String, Vec<(String, i64)>>> {
        let column = match column {
            RowColumn::Json => "json",
            RowColumn::Version => "version",
        };
        let mut rows: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT pk, stix_id, {column} FROM objects WHERE org_id = $1 AND stix_id IN ({})",
                placeholders(chunk.len(), 2)
            );
            let mut params = vec![Val::Int(self.meta.org_id)];
            params.extend(chunk.iter().map(|s| Val::from(*s)));
            for r in self.tx.query(&sql, &params)? {
                rows.entry(r.string(1)?)
                    .or_default()
                    .push((r.string(2)?, r.i64(0)?));
            }
        }
        Ok(rows)
    }

    /// Keeps the schema v5 version flags true for STIX ids that just gained rows. A new
    /// row starts as latest and first, which is right when it is its id's only row; one
    /// query per chunk finds the ids that have more, and only those are recomputed.
    fn mark_versions_of(&mut self, mut ids: Vec<&str>) -> Result<()> {
        ids.sort_unstable();
        ids.dedup();
        let mut several: Vec<String> = vec![];
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT stix_id FROM objects WHERE stix_id IN ({}) GROUP BY stix_id HAVING COUNT(*) > 1",
                placeholders(chunk.len(), 1)
            );
            let params: Vec<Val> = chunk.iter().map(|s| Val::from(*s)).collect();
            for r in self.tx.query(&sql, &params)? {
                several.push(r.string(0)?);
            }
        }
        for id in several {
            super::versions::mark_versions(&mut *self.tx, &id)?;
        }
        Ok(())
    }

    pub(super) fn write_objects(
        &mut self,
        entries: &[Entry<'_>],
    ) -> Result<(Vec<Option<i64>>, Vec<bool>)> {
        let org = self.meta.org_id;
        let mut pks: Vec<Option<i64>> = vec![None; entries.len()];
        let mut stored = vec![false; entries.len()];
        // Unversioned objects already stored with identical JSON are that object:
        // stix_id -> [(json, pk)].
        let unversioned: Vec<&str> = entries
            .iter()
            .filter_map(|e| e.object)
            .filter(|o| o.version.is_empty())
            .map(|o| o.stix_id.as_str())
            .collect();
        let same_json = self.stored_rows_of(RowColumn::Json, &unversioned)?;
        let find_same = |m: &HashMap<String, Vec<(String, i64)>>, o: &NewObject| {
            m.get(o.stix_id.as_str())
                .and_then(|v| v.iter().find(|(j, _)| *j == o.json).map(|(_, pk)| *pk))
        };
        // Rows to insert, as (entry index, version, date_added).
        let mut rows: Vec<(usize, String, String)> = vec![];
        // Identical unversioned copies later in the batch: (entry index, first copy's index).
        let mut first_copy: HashMap<(&str, &str), usize> = HashMap::new();
        let mut copies: Vec<(usize, usize)> = vec![];
        for (i, e) in entries.iter().enumerate() {
            let Some(o) = e.object else { continue };
            if o.version.is_empty() {
                if let Some(pk) = find_same(&same_json, o) {
                    pks[i] = Some(pk);
                    continue;
                }
                match first_copy.entry((o.stix_id.as_str(), o.json.as_str())) {
                    std::collections::hash_map::Entry::Occupied(f) => {
                        copies.push((i, *f.get()));
                        continue;
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(i);
                    }
                }
            }
            let added = self.next_added();
            let version = if o.version.is_empty() {
                added.clone()
            } else {
                o.version.clone()
            };
            rows.push((i, version, added));
        }
        // stix_id -> [(version, pk)] of the rows the inserts returned.
        let mut inserted: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO objects (stix_id, stix_type, version, spec_version, org_id, submission_id, tlp, date_added, json)
                 VALUES {} ON CONFLICT (org_id, stix_id, version) DO NOTHING RETURNING pk, stix_id, version",
                values_list(chunk.len(), 9, 1)
            );
            let mut params = Vec::with_capacity(chunk.len() * 9);
            for (i, version, added) in chunk {
                let o = entries[*i].object.expect("row has an object");
                params.extend([
                    Val::from(&o.stix_id),
                    Val::from(&o.stix_type),
                    Val::from(version),
                    Val::from(&o.spec_version),
                    Val::Int(org),
                    Val::Int(self.id),
                    Val::from(o.tlp.as_str()),
                    Val::from(added),
                    Val::from(&o.json),
                ]);
            }
            for r in self.tx.query(&sql, &params)? {
                inserted
                    .entry(r.string(1)?)
                    .or_default()
                    .push((r.string(2)?, r.i64(0)?));
            }
        }
        // The first row with a returned key was the one inserted; the others conflicted.
        let mut conflicted: Vec<(usize, String)> = vec![];
        for (i, version, _) in rows {
            let o = entries[i].object.expect("row has an object");
            let got = inserted.get_mut(o.stix_id.as_str()).and_then(|v| {
                let at = v.iter().position(|(ver, _)| *ver == version)?;
                Some(v.swap_remove(at).1)
            });
            match got {
                Some(pk) => {
                    pks[i] = Some(pk);
                    stored[i] = true;
                    self.objects += 1;
                }
                None => conflicted.push((i, version)),
            }
        }
        self.mark_versions_of(inserted.keys().map(String::as_str).collect())?;
        // Resolve only the keys that already existed.
        let ids: Vec<&str> = conflicted
            .iter()
            .map(|(i, _)| {
                entries[*i]
                    .object
                    .expect("row has an object")
                    .stix_id
                    .as_str()
            })
            .collect();
        let existing = self.stored_rows_of(RowColumn::Version, &ids)?;
        for (i, version) in conflicted {
            let o = entries[i].object.expect("row has an object");
            pks[i] = existing
                .get(o.stix_id.as_str())
                .and_then(|v| v.iter().find(|(ver, _)| *ver == version))
                .map(|(_, pk)| *pk);
        }
        for (i, first) in copies {
            pks[i] = pks[first];
        }
        Ok((pks, stored))
    }

    /// Observables: the id of every observable the batch names.
    fn write_observables<'e>(&mut self, entries: &'e [Entry<'_>]) -> Result<ObsIds<'e>> {
        // Sorted, so that new keys go into the (kind, value) index in order.
        let mut keys: BTreeMap<(&str, &'e str), Kind> = BTreeMap::new();
        for e in entries {
            for (o, _) in e.claims {
                keys.insert((o.kind.as_str(), o.value.as_str()), o.kind);
            }
        }
        let keys: Vec<(Kind, &'e str)> = keys.into_iter().map(|((_, v), k)| (k, v)).collect();
        let mut ids: ObsIds<'e> = HashMap::with_capacity(keys.len());
        let mut missing: Vec<(Kind, &'e str)> = vec![];
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO observables (kind, value) VALUES {} ON CONFLICT (kind, value) DO NOTHING RETURNING id, kind, value",
                values_list(chunk.len(), 2, 1)
            );
            let mut params = Vec::with_capacity(chunk.len() * 2);
            // value -> kinds not yet returned (a value rarely has more than one kind).
            let mut wanted: HashMap<&'e str, (&'e str, Vec<Kind>)> =
                HashMap::with_capacity(chunk.len());
            for &(k, v) in chunk {
                params.push(Val::from(k.as_str()));
                params.push(Val::from(v));
                wanted.entry(v).or_insert((v, vec![])).1.push(k);
            }
            for r in self.tx.query(&sql, &params)? {
                let (kind, value) = (r.str(1)?, r.str(2)?);
                if let Some((v, kinds)) = wanted.get_mut(value) {
                    if let Some(at) = kinds.iter().position(|k| k.as_str() == kind) {
                        ids.insert((kinds.swap_remove(at), *v), r.i64(0)?);
                    }
                }
            }
            for (v, (_, kinds)) in wanted {
                missing.extend(kinds.into_iter().map(|k| (k, v)));
            }
        }
        // Keys that already existed: one lookup per kind and chunk.
        let mut by_kind: BTreeMap<Kind, Vec<&'e str>> = BTreeMap::new();
        for (k, v) in missing {
            by_kind.entry(k).or_default().push(v);
        }
        for (kind, mut values) in by_kind {
            values.sort_unstable();
            for chunk in values.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "SELECT id, value FROM observables WHERE kind = $1 AND value IN ({})",
                    placeholders(chunk.len(), 2)
                );
                let mut params = vec![Val::from(kind.as_str())];
                params.extend(chunk.iter().map(|v| Val::from(*v)));
                let wanted: HashMap<&str, &'e str> = chunk.iter().map(|v| (*v, *v)).collect();
                for r in self.tx.query(&sql, &params)? {
                    if let Some(v) = wanted.get(r.str(1)?) {
                        ids.insert((kind, v), r.i64(0)?);
                    }
                }
            }
        }
        if ids.len() != keys.len() {
            return Err(StoreError::Db(format!(
                "{} observables of a batch could be neither inserted nor found",
                keys.len() - ids.len()
            )));
        }
        Ok(ids)
    }

    /// Records: this org's claims, merged per observable, inserted or merged into the
    /// stored record (rewritten only if the merge changed it).
    fn write_records(&mut self, entries: &[Entry<'_>], obs_ids: &ObsIds<'_>) -> Result<()> {
        let org = self.meta.org_id;
        let mut merged: BTreeMap<i64, Claim> = BTreeMap::new();
        for e in entries {
            for (o, c) in e.claims {
                let id = obs_ids[&(o.kind, o.value.as_str())];
                match merged.get_mut(&id) {
                    Some(m) => m.merge(c),
                    None => {
                        merged.insert(id, normalised(c));
                    }
                }
            }
        }
        let now = format_time(self.now);
        let groups: Vec<(i64, Claim)> = merged.into_iter().collect();
        let mut conflicted: Vec<usize> = vec![];
        for (start, chunk) in groups
            .chunks(ROWS_PER_STATEMENT)
            .enumerate()
            .map(|(n, c)| (n * ROWS_PER_STATEMENT, c))
        {
            let sql = format!(
                "INSERT INTO records (observable_id, org_id, submission_id, tlp, claim, created_at, updated_at)
                 VALUES {} ON CONFLICT (observable_id, org_id) DO NOTHING RETURNING observable_id",
                values_list(chunk.len(), 7, 1)
            );
            let mut params = Vec::with_capacity(chunk.len() * 7);
            for (oid, claim) in chunk {
                params.extend([
                    Val::Int(*oid),
                    Val::Int(org),
                    Val::Int(self.id),
                    Val::from(claim.tlp_or_default().as_str()),
                    Val::from(serde_json::to_string(claim).expect("claim serialises")),
                    Val::from(&now),
                    Val::from(&now),
                ]);
            }
            let mut returned = std::collections::HashSet::new();
            for r in self.tx.query(&sql, &params)? {
                returned.insert(r.i64(0)?);
            }
            self.records += returned.len() as i64;
            for (j, (oid, _)) in chunk.iter().enumerate() {
                if !returned.contains(oid) {
                    conflicted.push(start + j);
                }
            }
        }
        // Only records that already existed are read back and merged.
        for chunk in conflicted.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT id, observable_id, claim FROM records WHERE org_id = $1 AND observable_id IN ({})",
                placeholders(chunk.len(), 2)
            );
            let mut params = vec![Val::Int(org)];
            params.extend(chunk.iter().map(|&g| Val::Int(groups[g].0)));
            let mut stored: HashMap<i64, (i64, String)> = HashMap::new();
            for r in self.tx.query(&sql, &params)? {
                stored.insert(r.i64(1)?, (r.i64(0)?, r.string(2)?));
            }
            for &g in chunk {
                let (oid, claim) = &groups[g];
                let (rid, text) = stored.get(oid).ok_or_else(|| {
                    StoreError::Db(format!(
                        "record of observable #{oid} conflicted but is missing"
                    ))
                })?;
                let before: Claim = serde_json::from_str(text)
                    .map_err(|e| StoreError::Corrupt(format!("record #{rid} claim: {e}")))?;
                let mut after = before.clone();
                after.merge(claim);
                if after != before {
                    self.tx.execute(
                        "UPDATE records SET claim = $1, tlp = $2, submission_id = $3, updated_at = $4 WHERE id = $5",
                        &[
                            serde_json::to_string(&after).expect("claim serialises").into(),
                            after.tlp_or_default().as_str().into(),
                            self.id.into(),
                            now.as_str().into(),
                            (*rid).into(),
                        ],
                    )?;
                    self.records += 1;
                }
            }
        }
        Ok(())
    }

    /// Links from objects to the observables their claims name.
    fn write_links(
        &mut self,
        entries: &[Entry<'_>],
        pks: &[Option<i64>],
        obs_ids: &ObsIds<'_>,
    ) -> Result<()> {
        let mut links: Vec<(i64, i64)> = vec![];
        for (e, pk) in entries.iter().zip(pks) {
            let Some(pk) = pk else { continue };
            for (o, _) in e.claims {
                links.push((*pk, obs_ids[&(o.kind, o.value.as_str())]));
            }
        }
        links.sort_unstable();
        links.dedup();
        for chunk in links.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO object_observables (object_pk, observable_id) VALUES {} ON CONFLICT DO NOTHING",
                values_list(chunk.len(), 2, 1)
            );
            let params: Vec<Val> = chunk
                .iter()
                .flat_map(|(p, o)| [Val::Int(*p), Val::Int(*o)])
                .collect();
            self.tx.execute(&sql, &params)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_lists() {
        assert_eq!(values_list(2, 2, 1), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(3, 2), "$2, $3, $4");
    }
}
