//! The latest/first version facts of STIX objects, kept at write time.
//!
//! Schema v5 gives every `objects` row `is_latest` and `is_first`: the row is the newest
//! (earliest) version of its STIX id in the whole store, and the first stored copy of that
//! version. Collection reads use them to answer TAXII `match[version]` without comparing
//! each row with its other versions; rows whose flag is 0 still get the full comparison,
//! because an older version is the latest one for a reader who may not see the newer.
//!
//! Every write that adds or removes object rows calls [`mark_versions`] for the STIX ids it
//! touched, inside the same transaction. This is the only place the flags are set.

use super::backend::{Conn, Result};

/// Recompute the version flags of every stored row of `stix_id`. Cheap when nothing
/// changes (the common case: a new STIX id, whose row starts with both flags at 1): two
/// index probes and no row write.
pub fn mark_versions(c: &mut dyn Conn, stix_id: &str) -> Result<()> {
    const LATEST: &str = "CASE WHEN pk = (SELECT y.pk FROM objects y WHERE y.stix_id = $1 ORDER BY y.version DESC, y.pk ASC LIMIT 1) THEN 1 ELSE 0 END";
    const FIRST: &str = "CASE WHEN pk = (SELECT y.pk FROM objects y WHERE y.stix_id = $1 ORDER BY y.version ASC, y.pk ASC LIMIT 1) THEN 1 ELSE 0 END";
    c.execute(
        &format!(
            "UPDATE objects SET is_latest = {LATEST}, is_first = {FIRST}
             WHERE stix_id = $1 AND (is_latest <> {LATEST} OR is_first <> {FIRST})"
        ),
        &[stix_id.into()],
    )?;
    Ok(())
}
