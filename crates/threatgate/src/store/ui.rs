//! Store reads the web UI needs beyond the general ones. Policy-free like the rest of the
//! store: callers pass what to filter on, decided elsewhere.

use serde_json::Value;

use super::{time_col, Result, Store, Val};
use crate::model::{AuditEntry, OrgId};

impl Store {
    /// The newest audit entries (seq descending), optionally only those whose actor is
    /// `actor`, strictly before `before` when given.
    pub fn audit_recent(
        &self,
        actor: Option<OrgId>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>> {
        self.read(|c| {
            let mut params: Vec<Val> = vec![(limit as i64).into()];
            let mut wh = vec!["1 = 1".to_string()];
            if let Some(a) = actor {
                params.push(a.into());
                wh.push(format!("actor = ${}", params.len()));
            }
            if let Some(b) = before {
                params.push(b.into());
                wh.push(format!("seq < ${}", params.len()));
            }
            c.query(
                &format!(
                    "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE {} ORDER BY seq DESC LIMIT $1",
                    wh.join(" AND ")
                ),
                &params,
            )?
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.i64(0)?,
                    at: time_col(r, 1)?,
                    actor: r.opt_i64(2)?,
                    action: r.string(3)?,
                    subject: r.string(4)?,
                    detail: serde_json::from_str(r.str(5)?).unwrap_or(Value::Null),
                    prev_hash: r.string(6)?,
                    hash: r.string(7)?,
                })
            })
            .collect()
        })
    }
}
