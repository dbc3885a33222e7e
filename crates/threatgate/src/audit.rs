//! The tamper-evident audit log: each entry carries the SHA-256 of the one before.
//!
//! The hash covers every field of the entry plus the previous hash, so editing, deleting or
//! reordering any entry breaks the chain from that point on. [`verify`] walks the chain
//! and names the first entry that does not fit.

use sha2::{Digest, Sha256};

use crate::model::AuditEntry;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Hash of one entry given its fields and the previous entry's hash.
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: &str,
    actor: Option<i64>,
    action: &str,
    subject: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    // Length-prefix each field so that no two different entries serialise the same.
    for part in [
        prev_hash,
        &seq.to_string(),
        at,
        &actor.map(|a| a.to_string()).unwrap_or_default(),
        action,
        subject,
        detail,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Where the chain breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("audit entry {seq}: its content does not match its hash (edited)")]
    Edited { seq: i64 },
    #[error("audit entry {seq}: expected sequence number {expected} (an entry was deleted or reordered)")]
    Gap { seq: i64, expected: i64 },
    #[error("audit entry {seq}: prev_hash does not match the entry before it (deleted, inserted or reordered)")]
    Unlinked { seq: i64 },
    #[error("the audit log ends at entry {last}, but the chain head records {head} (entries deleted from the end)")]
    Truncated { last: i64, head: i64 },
}

/// Incremental verifier, so that the log can be checked in pages of any size.
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
    pub checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_seq: 1,
            prev_hash: GENESIS.to_string(),
            checked: 0,
        }
    }
}

impl Verifier {
    pub fn check(&mut self, e: &AuditEntry, detail_text: &str) -> Result<(), ChainBreak> {
        if e.seq != self.expected_seq {
            return Err(ChainBreak::Gap {
                seq: e.seq,
                expected: self.expected_seq,
            });
        }
        if e.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked { seq: e.seq });
        }
        let at = crate::model::format_time(e.at);
        let h = entry_hash(
            &e.prev_hash,
            e.seq,
            &at,
            e.actor,
            &e.action,
            &e.subject,
            detail_text,
        );
        if h != e.hash {
            return Err(ChainBreak::Edited { seq: e.seq });
        }
        self.expected_seq += 1;
        self.prev_hash = e.hash.clone();
        self.checked += 1;
        Ok(())
    }

    /// Check the end of the log against the chain head kept beside it.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), ChainBreak> {
        let last = self.expected_seq - 1;
        if last != head_seq || (head_seq > 0 && head_hash != self.prev_hash) {
            return Err(ChainBreak::Truncated {
                last,
                head: head_seq,
            });
        }
        Ok(())
    }
}
