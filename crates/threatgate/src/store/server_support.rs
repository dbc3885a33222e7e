//! ----- server support -----
//!
//! Store methods the TAXII server and `sync` need: collection pages with the TAXII version
//! selection, status resources, object deletion and federation cursors.
//!
//! Architecture invariant (as for the rest of the store): no access decision is made here.
//! Every read takes a [`ReadScope`] from [`crate::policy`], renders it with
//! `visibility_sql` and re-checks each row with [`ReadScope::permits`].

use chrono::Utc;

use super::*;

/// Which versions of each object a collection read returns (TAXII `match[version]`).
/// The selections are OR-ed, as the specification says for a comma-separated list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionSelect {
    /// Every version (`all`); the other fields are then irrelevant.
    pub all: bool,
    /// The earliest version of each object (`first`).
    pub first: bool,
    /// The latest version of each object (`last`, the TAXII default).
    pub last: bool,
    /// Exact versions (`modified` timestamps as stored).
    pub exact: Vec<String>,
}

impl VersionSelect {
    /// The TAXII default: the latest version only.
    pub fn latest() -> Self {
        VersionSelect {
            last: true,
            ..Default::default()
        }
    }
    pub fn every() -> Self {
        VersionSelect {
            all: true,
            ..Default::default()
        }
    }
}

/// A read of one collection: the TAXII filters plus what the collection itself restricts.
#[derive(Debug, Clone, Default)]
pub struct CollectionQuery {
    /// Cursor, ids, types and spec versions, and the page size (`base.versions` is ignored:
    /// use [`CollectionQuery::versions`]).
    pub base: ObjectQuery,
    /// TAXII `added_after`: strictly later `date_added`. Unlike the cursor, it also bounds
    /// which versions count as `first`/`last`, as the reference server does.
    pub added_after: Option<String>,
    pub versions: VersionSelect,
    /// Only objects submitted by this org (the "submissions" collection).
    pub source_org: Option<OrgId>,
    /// Only objects in this subset (a per-operation or per-report collection).
    pub subset: Option<Subset>,
}

/// A collection's subset of the objects, rendered as SQL. It only narrows the policy's
/// scope; it never admits anything the scope does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subset {
    /// Objects linked to an observable that is a target of this operation.
    OperationTargets(i64),
    /// Objects shared as one report (the shares' `reason`), with this recipient or, for
    /// the sender, granted by this org.
    ReportShares {
        reason: String,
        recipient: Option<OrgId>,
        granted_by: Option<OrgId>,
    },
}

/// One page of a collection read.
#[derive(Debug, Clone)]
/// One permitted row of a collection page, borrowed from the engine's row buffer.
pub struct PageRow<'a> {
    pub pk: i64,
    /// As stored (parse with [`crate::model::parse_stored_time`]).
    pub date_added: &'a str,
    /// The stored canonical JSON text of the object, as bytes: not checked for UTF-8 row
    /// by row (SQLite lends them unchecked); the reader checks what it renders, once.
    pub json: &'a [u8],
}

pub struct CollectionPage {
    pub objects: Vec<StoredObject>,
    /// More rows exist after the last one returned.
    pub more: bool,
}

impl Store {
    /// A page of the objects `scope` permits in a collection, ordered by (date_added, pk).
    ///
    /// The same STIX id and version submitted by several sources appears once (the first
    /// stored), so that a collection never holds two copies of one object version.
    pub fn collection_page(
        &self,
        scope: &ReadScope,
        q: &CollectionQuery,
    ) -> Result<CollectionPage> {
        let mut objects = Vec::with_capacity(q.base.limit.min(1024));
        let more = self.scan_collection_page(scope, q, &mut |r| {
            objects.push(object_from_row(&mut r.to_row()?)?);
            Ok(())
        })?;
        Ok(CollectionPage { objects, more })
    }

    /// [`Store::collection_page`] row by row, lending each permitted object's stored JSON
    /// instead of copying it; returns whether more rows follow the page.
    pub fn collection_page_rows(
        &self,
        scope: &ReadScope,
        q: &CollectionQuery,
        visit: &mut dyn FnMut(PageRow<'_>) -> Result<()>,
    ) -> Result<bool> {
        self.scan_collection_page(scope, q, &mut |r| {
            visit(PageRow {
                pk: r.i64(0)?,
                date_added: r.str(8)?,
                json: r.text_bytes(9)?,
            })
        })
    }

    /// The page query; `visit` sees only the rows `scope` permits (columns [`OBJECT_COLS`]).
    fn scan_collection_page(
        &self,
        scope: &ReadScope,
        q: &CollectionQuery,
        visit: &mut dyn FnMut(&dyn RowView) -> Result<()>,
    ) -> Result<bool> {
        let mut more = false;
        self.read(|c| {
            let mut params: Vec<Val> = vec![];
            let mut wh = vec![visibility_sql(
                scope.visibility(),
                "x",
                "object",
                &mut params,
            )];
            // Conditions shared by the row and the versions it is compared with.
            let mut same = vec![];
            if let Some(org) = q.source_org {
                params.push(org.into());
                wh.push(format!("x.org_id = ${}", params.len()));
                same.push(format!("y.org_id = ${}", params.len()));
            }
            if let Some(after) = &q.added_after {
                params.push(after.clone().into());
                wh.push(format!("x.date_added > ${}", params.len()));
                same.push(format!("y.date_added > ${}", params.len()));
            }
            if !q.base.spec_versions.is_empty() {
                let before = params.len();
                push_in(&mut wh, &mut params, "x.spec_version", &q.base.spec_versions);
                let ph: Vec<String> = (before + 1..=params.len())
                    .map(|i| format!("${i}"))
                    .collect();
                same.push(format!("y.spec_version IN ({})", ph.join(", ")));
            }
            if let Some((added, pk)) = &q.base.after {
                // A row-value comparison, so both engines walk the (date_added, pk) index
                // from the cursor instead of scanning from the start.
                params.push(added.clone().into());
                let a = params.len();
                params.push((*pk).into());
                wh.push(format!("(x.date_added, x.pk) > (${a}, ${})", a + 1));
            }
            if let Some(until) = &q.base.added_until {
                params.push(until.clone().into());
                wh.push(format!("x.date_added <= ${}", params.len()));
            }
            push_in(&mut wh, &mut params, "x.stix_id", &q.base.ids);
            push_in(&mut wh, &mut params, "x.stix_type", &q.base.types);
            if let Some(ok) = &q.base.only_pks {
                let list: Vec<String> = ok.iter().map(|v| v.to_string()).collect();
                wh.push(format!(
                    "x.pk IN ({})",
                    if list.is_empty() {
                        "NULL".into()
                    } else {
                        list.join(",")
                    }
                ));
            }
            match &q.subset {
                None => {}
                Some(Subset::OperationTargets(op)) => {
                    params.push((*op).into());
                    wh.push(format!(
                        "x.pk IN (SELECT oo.object_pk FROM object_observables oo JOIN targets t ON t.observable_id = oo.observable_id WHERE t.operation_id = ${})",
                        params.len()
                    ));
                }
                Some(Subset::ReportShares {
                    reason,
                    recipient,
                    granted_by,
                }) => {
                    params.push(reason.as_str().into());
                    let mut cond = vec![format!("s.reason = ${}", params.len())];
                    for (col, v) in [("recipient", recipient), ("granted_by", granted_by)] {
                        if let Some(v) = v {
                            params.push((*v).into());
                            cond.push(format!("s.{col} = ${}", params.len()));
                        }
                    }
                    wh.push(format!(
                        "x.pk IN (SELECT s.subject_id FROM shares s WHERE s.subject_kind = 'object' AND {})",
                        cond.join(" AND ")
                    ));
                }
            }
            // Versions the viewer may see, compared with the row.
            let y_vis = visibility_sql(scope.visibility(), "y", "object", &mut params);
            same.push(y_vis);
            let other = |rel: &str| {
                format!(
                    "NOT EXISTS (SELECT 1 FROM objects y WHERE y.stix_id = x.stix_id AND ({rel}) AND {})",
                    same.join(" AND ")
                )
            };
            // The write-time flags answer for most rows (see `versions`): a row flagged
            // latest (first) is, for any reader who may see it, its id's latest (first)
            // version and the first copy of it. Only the other rows need the comparison.
            let dup = "y.version = x.version AND y.pk < x.pk";
            let v = &q.versions;
            let mut any = vec![];
            if v.all {
                any.push(format!(
                    "x.is_latest = 1 OR x.is_first = 1 OR {}",
                    other(dup)
                ));
            } else {
                if v.last {
                    any.push(format!(
                        "x.is_latest = 1 OR {}",
                        other(&format!("y.version > x.version OR ({dup})"))
                    ));
                }
                if v.first {
                    any.push(format!(
                        "x.is_first = 1 OR {}",
                        other(&format!("y.version < x.version OR ({dup})"))
                    ));
                }
                if !v.exact.is_empty() {
                    let mut tmp = vec![];
                    push_in(&mut tmp, &mut params, "x.version", &v.exact);
                    any.push(format!(
                        "{} AND (x.is_latest = 1 OR x.is_first = 1 OR {})",
                        tmp.join(""),
                        other(dup)
                    ));
                }
            }
            if any.is_empty() {
                any.push("1 = 0".into());
            }
            wh.push(format!("(({}))", any.join(") OR (")));
            let shared = shared_expr(scope, "x", "object", &mut params);
            params.push((q.base.limit as i64 + 1).into());
            let sql = format!(
                "SELECT {OBJECT_COLS}, {shared} FROM objects x WHERE {} ORDER BY x.date_added, x.pk LIMIT ${}",
                wh.join(" AND "),
                params.len()
            );
            let mut seen = 0;
            c.query_each(&sql, &params, &mut |r| {
                seen += 1;
                if seen > q.base.limit {
                    more = true;
                    return Ok(());
                }
                let meta = ItemMeta {
                    source: r.i64(5)?,
                    tlp: parse_tlp(r.str(7)?).map_err(corrupt("object tlp"))?,
                    stix_type: r.str(2)?,
                    shared_with_viewer: r.i64(OBJECT_NCOLS)? != 0,
                };
                if scope.permits(&meta) {
                    visit(r)?;
                }
                Ok(())
            })
        })?;
        Ok(more)
    }

    /// Delete versions of an object that `org` itself submitted (`versions` empty: all of
    /// them). Links to observables and explicit shares of those versions go with them; the
    /// org's claims about observables stay. Returns how many versions were deleted.
    pub fn delete_own_object(
        &self,
        org: OrgId,
        stix_id: &str,
        versions: &[String],
        actor: Option<OrgId>,
    ) -> Result<usize> {
        self.write(|c| {
            let mut params: Vec<Val> = vec![org.into(), stix_id.into()];
            let mut wh = vec!["org_id = $1".to_string(), "stix_id = $2".to_string()];
            push_in(&mut wh, &mut params, "version", versions);
            let pks: Vec<i64> = c
                .query(
                    &format!("SELECT pk FROM objects WHERE {}", wh.join(" AND ")),
                    &params,
                )?
                .iter()
                .map(|r| r.i64(0))
                .collect::<Result<_>>()?;
            for pk in &pks {
                c.execute(
                    "DELETE FROM object_observables WHERE object_pk = $1",
                    &[(*pk).into()],
                )?;
                c.execute(
                    "DELETE FROM shares WHERE subject_kind = 'object' AND subject_id = $1",
                    &[(*pk).into()],
                )?;
                c.execute("DELETE FROM objects WHERE pk = $1", &[(*pk).into()])?;
            }
            if !pks.is_empty() {
                super::versions::mark_versions(c, stix_id)?;
            }
            let ev = AuditEvent::new(
                actor,
                "object.delete",
                stix_id.to_string(),
                serde_json::json!({"org": org, "versions": versions, "deleted": pks.len()}),
            );
            Ok((pks.len(), if pks.is_empty() { vec![] } else { vec![ev] }))
        })
    }

    /// Keep a TAXII status resource (its JSON) so that any server node can answer for it.
    pub fn put_taxii_status(&self, id: &str, org: OrgId, body: &str) -> Result<()> {
        self.write_quiet(|c| {
            c.execute(
                "INSERT INTO taxii_status (id, org_id, created_at, body) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                &[
                    id.into(),
                    org.into(),
                    format_time(Utc::now()).into(),
                    body.into(),
                ],
            )?;
            Ok(((), vec![]))
        })
    }

    /// A status resource, only for the org that created it.
    pub fn taxii_status(&self, id: &str, org: OrgId) -> Result<Option<String>> {
        self.read(|c| {
            c.query_one(
                "SELECT body FROM taxii_status WHERE id = $1 AND org_id = $2",
                &[id.into(), org.into()],
            )?
            .map(|r| r.string(0))
            .transpose()
        })
    }

    /// The cursor of a federation link (`sync pull`/`sync push`), if it ran before.
    pub fn sync_cursor(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            c.query_one(
                "SELECT cursor FROM sync_state WHERE key = $1",
                &[key.into()],
            )?
            .map(|r| r.opt_str(0).map(|s| s.map(str::to_string)))
            .transpose()
            .map(Option::flatten)
        })
    }

    /// Record how far a federation link got. Called after each page is stored, so that an
    /// interrupted run resumes from the last stored page.
    pub fn set_sync_cursor(
        &self,
        key: &str,
        direction: &str,
        remote: &str,
        local_org: OrgId,
        cursor: &str,
    ) -> Result<()> {
        self.write_quiet(|c| {
            c.execute(
                "INSERT INTO sync_state (key, direction, remote, local_org, cursor, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (key) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                &[
                    key.into(),
                    direction.into(),
                    remote.into(),
                    local_org.into(),
                    cursor.into(),
                    format_time(Utc::now()).into(),
                ],
            )?;
            Ok(((), vec![]))
        })
    }
}
