//! Browser sessions for the UI: a random session id in an HttpOnly, SameSite=Strict cookie,
//! mapped on the server to the token that logged in, and a per-session CSRF token that every
//! POST form carries in a hidden field.
//!
//! The token secret itself is never kept: a session remembers the token's id, and each
//! request re-reads the token so that revoking it ends the session at once.
//!
//! Limits: sessions expire [`SESSION_TTL`] after login (no sliding renewal), and at most
//! [`MAX_SESSIONS`] live at once (the oldest is dropped first). Sessions live in this
//! process's memory: behind a load balancer, pin UI users to one node.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{Duration, Utc};
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::model::{OrgId, Time, TokenRole};

/// The session cookie's name.
pub const COOKIE: &str = "tg_session";
/// The pre-login cookie that pairs with the login form's hidden field (login CSRF).
pub const LOGIN_COOKIE: &str = "tg_login";
/// How long a session lasts after login.
pub const SESSION_TTL: Duration = Duration::hours(8);
/// Sessions kept at most; the oldest is evicted beyond this.
pub const MAX_SESSIONS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub org_id: OrgId,
    pub token_id: i64,
    pub role: TokenRole,
    pub csrf: String,
    pub created_at: Time,
    pub expires_at: Time,
}

/// The live sessions of this process.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Sessions {
    pub fn create(&self, org_id: OrgId, token_id: i64, role: TokenRole) -> Session {
        let now = Utc::now();
        let s = Session {
            id: random_token(),
            org_id,
            token_id,
            role,
            csrf: random_token(),
            created_at: now,
            expires_at: now + SESSION_TTL,
        };
        let mut m = self.map.lock().expect("session lock");
        m.retain(|_, v| v.expires_at > now);
        if m.len() >= MAX_SESSIONS {
            if let Some(oldest) = m
                .values()
                .min_by_key(|v| v.created_at)
                .map(|v| v.id.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(s.id.clone(), s.clone());
        s
    }

    /// The live session for a cookie value, if any. Expired sessions are removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut m = self.map.lock().expect("session lock");
        match m.get(id) {
            Some(s) if s.expires_at > Utc::now() => Some(s.clone()),
            Some(_) => {
                m.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        self.map.lock().expect("session lock").remove(id);
    }

    pub fn len(&self) -> usize {
        self.map.lock().expect("session lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Constant-time comparison of a submitted CSRF token with the session's.
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    !expected.is_empty()
        && expected.len() == given.len()
        && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The value of cookie `name` in a `Cookie:` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A `Set-Cookie` value for the session: HttpOnly, SameSite=Strict, path `/`, expiring
/// with the session. `secure` adds the Secure flag (when served over TLS).
pub fn session_cookie(s: &Session, secure: bool) -> String {
    format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        s.id,
        (s.expires_at - Utc::now()).num_seconds().max(0),
        if secure { "; Secure" } else { "" }
    )
}

/// A `Set-Cookie` value that deletes cookie `name`.
pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The pre-login cookie (10 minutes), paired with the login form's hidden field.
pub fn login_cookie(value: &str, secure: bool) -> String {
    format!(
        "{LOGIN_COOKIE}={value}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=600{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_and_expire() {
        let s = Sessions::default();
        let a = s.create(1, 1, TokenRole::Read);
        let b = s.create(1, 1, TokenRole::Read);
        assert_ne!(a.id, b.id);
        assert_ne!(a.csrf, b.csrf);
        assert_eq!(a.id.len(), 64);
        assert!(s.get(&a.id).is_some());
        s.map.lock().unwrap().get_mut(&a.id).unwrap().expires_at = Utc::now();
        assert!(s.get(&a.id).is_none());
        assert_eq!(s.len(), 1);
        s.remove(&b.id);
        assert!(s.is_empty());
    }

    #[test]
    fn cookies_parse_and_carry_the_flags() {
        assert_eq!(
            cookie_value("a=1; tg_session=abc; b=2", COOKIE),
            Some("abc")
        );
        assert_eq!(cookie_value("tg_sessionx=abc", COOKIE), None);
        let s = Sessions::default().create(1, 1, TokenRole::Read);
        let c = session_cookie(&s, false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Max-Age="));
        assert!(session_cookie(&s, true).ends_with("; Secure"));
    }

    #[test]
    fn csrf_comparison() {
        assert!(csrf_matches("abc", "abc"));
        assert!(!csrf_matches("abc", "abd"));
        assert!(!csrf_matches("abc", ""));
        assert!(!csrf_matches("", ""));
    }
}
