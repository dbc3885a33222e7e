//! The bulk write path of a submission: a batch of items in a handful of statements.
//!
//! Writing row by row costs about six statements per indicator (insert the object, find or
//! create the observable, find, merge and write the record, link). For a batch, this module
//! instead:
//!
//! 1. inserts all objects with [`Conn::insert_many`](super::backend::Conn::insert_many) (`INSERT … ON CONFLICT DO NOTHING`,
//!    as each engine does it fastest), and looks up only those that conflicted (already
//!    stored by this org);
//! 2. inserts all distinct observables of the batch, in key order, the same way, and looks
//!    up only those that already existed;
//! 3. merges the batch's claims per observable in memory, inserts the records that do not
//!    exist yet and merges and rewrites only those that do (and only if changed), reading
//!    back only those this submission has not written itself ([`KnownRecords`]);
//! 4. links objects to observables with one multi-row insert.
//!
//! The statements are the same on both engines; the result equals applying the items one
//! by one with [`SubmissionWriter::add_object`] and [`SubmissionWriter::add_claim`]
//! (claim merging is associative; see [`Claim::merge`]).

use std::collections::BTreeMap;

use chrono::{SubsecRound, Utc};

use super::backend::{
    fixed_chunks, placeholders, InsertMany, Result, StoreError, UpdateMany, Val, ValRef,
};
use super::{claim_text, format_time, NewObject, SubmissionWriter};
use crate::model::{Claim, Kind, Observable};

/// The writer's maps hash every value of a batch, some several times: a fast hash (seeded
/// per process) instead of SipHash.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Observable ids by (kind, value), borrowing the batch's values.
type ObsIds<'e> = HashMap<(Kind, &'e str), i64>;

/// Rows written after which a submission counts as a bulk load ([`Tx::grow_for_bulk`](super::backend::Tx::grow_for_bulk)):
/// past the size where the writer's normal page cache holds every index page it touches.
pub const BULK_ROWS: i64 = 100_000;

/// How many observable ids one submission remembers across its batches (~70 bytes each).
pub const MAX_KNOWN_OBSERVABLES: usize = 1 << 20;

/// Observable ids a submission has already inserted or found, so that a value named again
/// in a later batch (30 % of a typical multi-source feed) costs one hash lookup instead of
/// an insert attempt that conflicts plus a lookup query. Valid for the submission's
/// transaction only: writers are serialised and observables are never deleted while one
/// runs; it is dropped with the writer. Bounded by [`MAX_KNOWN_OBSERVABLES`]; past that,
/// values are resolved through the store as before.
#[derive(Default)]
pub struct KnownObservables {
    /// Per kind (a handful), so that a lookup borrows the value instead of building a key.
    by_kind: BTreeMap<Kind, HashMap<Box<str>, i64>>,
    len: usize,
}

impl KnownObservables {
    fn get(&self, kind: Kind, value: &str) -> Option<i64> {
        self.by_kind.get(&kind)?.get(value).copied()
    }

    fn remember(&mut self, kind: Kind, value: &str, id: i64) {
        if self.len < MAX_KNOWN_OBSERVABLES {
            self.by_kind
                .entry(kind)
                .or_default()
                .insert(value.into(), id);
            self.len += 1;
        }
    }
}

/// Bytes of claim text one submission remembers across its batches (see [`KnownRecords`]).
pub const MAX_KNOWN_RECORD_BYTES: usize = 64 << 20;

/// The records this submission has written, by observable id: (record id, claim text as
/// stored). A claim repeated in a later batch (the same value from another of the feed's
/// sources, 30 % of a typical multi-source feed) then merges into the remembered text
/// instead of attempting an insert that conflicts and reading the record back. The text
/// is exactly what the row holds: writers are serialised, and every write of a record in
/// this transaction goes through [`SubmissionWriter::write_records`] or
/// [`SubmissionWriter::merge_into_record`] (which remember the text written), or is the
/// insert in [`SubmissionWriter::add_claim`] (whose entry it takes out first). Bounded by
/// [`MAX_KNOWN_RECORD_BYTES`]; past that, records are read back from the store as before.
#[derive(Default)]
pub struct KnownRecords {
    by_observable: HashMap<i64, (i64, Box<str>)>,
    bytes: usize,
}

impl KnownRecords {
    fn get(&self, observable_id: i64) -> Option<&(i64, Box<str>)> {
        self.by_observable.get(&observable_id)
    }

    fn remember(&mut self, observable_id: i64, record_id: i64, claim: &str) {
        let known = self.by_observable.contains_key(&observable_id);
        if !known && self.bytes + claim.len() > MAX_KNOWN_RECORD_BYTES {
            return;
        }
        self.bytes += claim.len();
        if let Some((_, old)) = self
            .by_observable
            .insert(observable_id, (record_id, claim.into()))
        {
            self.bytes -= old.len();
        }
    }

    /// Take the entry out: the record is about to be written, and is remembered again
    /// with the text written, if at all.
    pub(super) fn take(&mut self, observable_id: i64) -> Option<(i64, Box<str>)> {
        let (rid, text) = self.by_observable.remove(&observable_id)?;
        self.bytes -= text.len();
        Some((rid, text))
    }
}

const OBJECTS: InsertMany<'static> = InsertMany {
    table: "objects",
    columns: &[
        "stix_id",
        "stix_type",
        "version",
        "spec_version",
        "org_id",
        "submission_id",
        "tlp",
        "date_added",
        "json",
    ],
    conflict: &["stix_id", "version", "org_id"],
    key: Some("pk"),
    identity: &[0, 2],
};

const OBSERVABLES: InsertMany<'static> = InsertMany {
    table: "observables",
    columns: &["kind", "value"],
    conflict: &["kind", "value"],
    key: Some("id"),
    identity: &[0, 1],
};

const RECORDS: InsertMany<'static> = InsertMany {
    table: "records",
    columns: &[
        "observable_id",
        "org_id",
        "submission_id",
        "tlp",
        "claim",
        "created_at",
        "updated_at",
    ],
    conflict: &["observable_id", "org_id"],
    key: Some("id"),
    identity: &[0],
};

const RECORD_REWRITES: UpdateMany<'static> = UpdateMany {
    table: "records",
    key: "id",
    set: &[
        ("claim", "text"),
        ("tlp", "text"),
        ("submission_id", "bigint"),
        ("updated_at", "text"),
    ],
};

/// A stored record whose claim changed by a merge: its new text, to be written.
pub(super) struct Rewrite {
    record_id: i64,
    claim: String,
    tlp: &'static str,
}

const LINKS: InsertMany<'static> = InsertMany {
    table: "object_observables",
    columns: &["object_pk", "observable_id"],
    conflict: &["object_pk", "observable_id"],
    key: None,
    identity: &[0, 1],
};

/// One item of a batch: an object to keep and/or claims, linked to the object if given.
pub struct Entry<'a> {
    pub object: Option<&'a NewObject>,
    pub claims: &'a [(Observable, Claim)],
}

/// Which column of a stored object row `stored_rows_of` returns beside its pk.
#[derive(Clone, Copy)]
enum RowColumn {
    Json,
    Version,
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
        if !self.bulk && self.objects + self.records >= BULK_ROWS {
            self.tx.grow_for_bulk()?;
            self.bulk = true;
        }
        let (pks, stored) = self.write_objects(entries)?;
        let obs_ids = self.write_observables(entries)?;
        self.write_records(entries, &obs_ids)?;
        self.write_links(entries, &pks, &obs_ids)?;
        Ok(stored)
    }

    /// The next `date_added`: strictly increasing, so that TAXII paging by date never skips.
    fn next_added(&mut self) -> String {
        let now = Utc::now().trunc_subsecs(6);
        let added = match self.last_added {
            Some(prev) if now <= prev => prev + chrono::Duration::microseconds(1),
            _ => now,
        };
        self.last_added = Some(added);
        format_time(added)
    }

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
        let mut rows: HashMap<String, Vec<(String, i64)>> = HashMap::default();
        for chunk in fixed_chunks(ids) {
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
        for chunk in fixed_chunks(&ids) {
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

    /// Objects: (pk per entry, newly stored per entry).
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
        let mut first_copy: HashMap<(&str, &str), usize> = HashMap::default();
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
        let mut values: Vec<ValRef<'_>> = Vec::with_capacity(rows.len() * OBJECTS.columns.len());
        for (i, version, added) in &rows {
            let o = entries[*i].object.expect("row has an object");
            values.extend([
                ValRef::from(&o.stix_id),
                ValRef::from(&o.stix_type),
                ValRef::from(version),
                ValRef::from(&o.spec_version),
                ValRef::Int(org),
                ValRef::Int(self.id),
                ValRef::from(o.tlp.as_str()),
                ValRef::from(added),
                ValRef::from(&o.json),
            ]);
        }
        let keys = self.tx.insert_many(&OBJECTS, &values)?;
        drop(values);
        let mut new_ids: Vec<&str> = vec![];
        let mut conflicted: Vec<(usize, String)> = vec![];
        for ((i, version, _), key) in rows.into_iter().zip(keys) {
            let o = entries[i].object.expect("row has an object");
            match key {
                Some(pk) => {
                    pks[i] = Some(pk);
                    stored[i] = true;
                    self.objects += 1;
                    new_ids.push(o.stix_id.as_str());
                }
                None => conflicted.push((i, version)),
            }
        }
        self.mark_versions_of(new_ids)?;
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
        let mut ids: ObsIds<'e> = HashMap::default();
        // Sorted, so that new keys go into the (kind, value) index in order.
        let mut keys: BTreeMap<(&str, &'e str), Kind> = BTreeMap::new();
        for e in entries {
            for (o, _) in e.claims {
                match self.known_observables.get(o.kind, &o.value) {
                    Some(id) => {
                        ids.insert((o.kind, o.value.as_str()), id);
                    }
                    None => {
                        keys.insert((o.kind.as_str(), o.value.as_str()), o.kind);
                    }
                }
            }
        }
        let keys: Vec<(Kind, &'e str)> = keys.into_iter().map(|((_, v), k)| (k, v)).collect();
        let values: Vec<ValRef<'_>> = keys
            .iter()
            .flat_map(|&(k, v)| [ValRef::Text(k.as_str()), ValRef::Text(v)])
            .collect();
        let known_before = ids.len();
        // Keys that already existed, by kind.
        let mut missing: BTreeMap<Kind, Vec<&'e str>> = BTreeMap::new();
        for (&(k, v), id) in keys.iter().zip(self.tx.insert_many(&OBSERVABLES, &values)?) {
            match id {
                Some(id) => {
                    ids.insert((k, v), id);
                }
                None => missing.entry(k).or_default().push(v),
            }
        }
        // One lookup per kind and chunk (values are still sorted).
        for (kind, values) in missing {
            for chunk in fixed_chunks(&values) {
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
        if ids.len() != known_before + keys.len() {
            return Err(StoreError::Db(format!(
                "{} observables of a batch could be neither inserted nor found",
                known_before + keys.len() - ids.len()
            )));
        }
        for &(k, v) in &keys {
            self.known_observables.remember(k, v, ids[&(k, v)]);
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
        // Records this submission already wrote are merged without an insert attempt.
        let (known, fresh): (Vec<usize>, Vec<usize>) =
            (0..groups.len()).partition(|&g| self.known_records.get(groups[g].0).is_some());
        let texts: Vec<String> = fresh
            .iter()
            .map(|&g| claim_text::encode(&groups[g].1))
            .collect();
        let mut values: Vec<ValRef<'_>> = Vec::with_capacity(fresh.len() * RECORDS.columns.len());
        for (&g, text) in fresh.iter().zip(&texts) {
            let (oid, claim) = &groups[g];
            values.extend([
                ValRef::Int(*oid),
                ValRef::Int(org),
                ValRef::Int(self.id),
                ValRef::from(claim.tlp_or_default().as_str()),
                ValRef::from(text),
                ValRef::from(&now),
                ValRef::from(&now),
            ]);
        }
        let mut conflicted: Vec<usize> = vec![];
        let inserted = self.tx.insert_many(&RECORDS, &values)?;
        drop(values);
        for ((&g, id), text) in fresh.iter().zip(inserted).zip(&texts) {
            match id {
                Some(rid) => {
                    self.records += 1;
                    self.known_records.remember(groups[g].0, rid, text);
                }
                None => conflicted.push(g),
            }
        }
        let mut rewrites: Vec<Rewrite> = vec![];
        for g in known {
            let (oid, claim) = &groups[g];
            let (rid, text) = self.known_records.take(*oid).expect("partitioned as known");
            rewrites.extend(self.merge_into_record(*oid, rid, &text, claim)?);
        }
        // Only records that already existed are read back and merged.
        for chunk in fixed_chunks(&conflicted) {
            let sql = format!(
                "SELECT id, observable_id, claim FROM records WHERE org_id = $1 AND observable_id IN ({})",
                placeholders(chunk.len(), 2)
            );
            let mut params = vec![Val::Int(org)];
            params.extend(chunk.iter().map(|&g| Val::Int(groups[g].0)));
            let mut stored: HashMap<i64, (i64, String)> = HashMap::default();
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
                rewrites.extend(self.merge_into_record(*oid, *rid, text, claim)?);
            }
        }
        self.rewrite_records(&rewrites, &now)
    }

    /// Merge `claim` into a stored record whose claim text is `text`. Returns the rewrite
    /// the row needs, if the merge changed it, and remembers the resulting text
    /// ([`KnownRecords`]); the caller writes the rewrites with [`Self::rewrite_records`]
    /// before anything reads the record again.
    pub(super) fn merge_into_record(
        &mut self,
        oid: i64,
        rid: i64,
        text: &str,
        claim: &Claim,
    ) -> Result<Option<Rewrite>> {
        let before: Claim = claim_text::decode(text)
            .map_err(|e| StoreError::Corrupt(format!("record #{rid} claim: {e}")))?;
        let mut after = before.clone();
        after.merge(claim);
        if after == before {
            self.known_records.remember(oid, rid, text);
            return Ok(None);
        }
        let new_text = claim_text::encode(&after);
        self.records += 1;
        self.known_records.remember(oid, rid, &new_text);
        Ok(Some(Rewrite {
            record_id: rid,
            claim: new_text,
            tlp: after.tlp_or_default().as_str(),
        }))
    }

    /// Write merged records, in one statement per chunk where the engine can.
    pub(super) fn rewrite_records(&mut self, rewrites: &[Rewrite], now: &str) -> Result<()> {
        if rewrites.is_empty() {
            return Ok(());
        }
        let mut values: Vec<ValRef<'_>> =
            Vec::with_capacity(rewrites.len() * (1 + RECORD_REWRITES.set.len()));
        for r in rewrites {
            values.extend([
                ValRef::Int(r.record_id),
                ValRef::from(r.claim.as_str()),
                ValRef::from(r.tlp),
                ValRef::Int(self.id),
                ValRef::from(now),
            ]);
        }
        self.tx.update_many(&RECORD_REWRITES, &values)
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
        let values: Vec<ValRef<'_>> = links
            .iter()
            .flat_map(|&(p, o)| [ValRef::Int(p), ValRef::Int(o)])
            .collect();
        self.tx.insert_many(&LINKS, &values)?;
        Ok(())
    }
}
