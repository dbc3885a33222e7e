//! API tokens: generated once, shown once, stored only as a SHA-256 hash.
//!
//! Lookup is by hash (an index lookup on a value an attacker cannot choose), and the final
//! comparison is constant-time, so response timing reveals nothing about stored tokens.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::Token;
use crate::store::{Result, Store};

/// Every token starts with this, so secret scanners and log filters can find them.
pub const TOKEN_PREFIX: &str = "tg_";

/// A new random token secret (256 bits).
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

/// The live (unrevoked) token for `secret`, if any.
pub fn authenticate(store: &Store, secret: &str) -> Result<Option<Token>> {
    let wanted = hash_secret(secret);
    Ok(store.token_by_hash(&wanted)?.and_then(|(token, stored)| {
        // Found through the index; confirm in constant time before trusting the row.
        let same = bool::from(wanted.as_bytes().ct_eq(stored.as_bytes()));
        (same && token.revoked_at.is_none()).then_some(token)
    }))
}
