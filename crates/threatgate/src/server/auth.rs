//! Who is calling: the token in `Authorization: Bearer <token>` or in HTTP Basic
//! (`Authorization: Basic base64(user:token)`, the password is the token, the user name is
//! ignored), resolved through [`crate::auth::authenticate`] (hash lookup, constant-time
//! compare).
//!
//! Failed authentications are rate-limited per client IP with a token bucket, so guessing
//! tokens from one address is slow. The secret never leaves this module: it is not logged,
//! not echoed in errors and not kept after the lookup.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine;

use super::error::Problem;
use super::limits::{AUTH_FAILURE_BURST, AUTH_FAILURE_REFILL_PER_SEC, AUTH_LIMITER_MAX_CLIENTS};
use super::AppState;
use crate::model::{Org, Token};
use crate::policy::{role_allows, Action};

/// An authenticated caller: the token and the organisation it belongs to.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: Org,
    pub token: Token,
}

impl Caller {
    /// Refuse with 403 unless the token's role allows `action` (see [`role_allows`]).
    pub fn require(&self, action: Action) -> Result<(), Problem> {
        if role_allows(self.token.role, action) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "this token has role {:?}, which may not {}; ask an admin of {} for a token with a role that may",
                self.token.role.as_str(),
                match action {
                    Action::Read => "read",
                    Action::Submit => "submit data",
                    Action::Operate => "run operations",
                    Action::Administer => "administer the exchange",
                },
                self.org.name
            )))
        }
    }
}

/// Extract the token secret from the Authorization header, if one is there.
pub fn credentials(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return (!rest.is_empty()).then(|| rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        return (!password.is_empty()).then(|| password.to_string());
    }
    None
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let taxii = parts.uri.path().starts_with("/taxii2");
        let flavour = |p: Problem| if taxii { p.taxii() } else { p };
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if let Some(ip) = ip {
            if let Some(wait) = state.limiter.blocked(ip) {
                return Err(flavour(Problem::too_many(
                    format!("too many failed authentications from {ip}; retry in {wait} s with a valid token"),
                    wait,
                )));
            }
        }
        let Some(secret) = credentials(&parts.headers) else {
            return Err(flavour(Problem::unauthorized(
                "no credentials: send `Authorization: Bearer <token>` (or HTTP Basic with the token as password); `threatgate token create` makes one",
            )));
        };
        let store = state.store.clone();
        let found = tokio::task::spawn_blocking(move || -> crate::store::Result<_> {
            match crate::auth::authenticate(&store, &secret)? {
                Some(token) => {
                    let org = store.org(token.org_id)?;
                    Ok(Some((token, org)))
                }
                None => Ok(None),
            }
        })
        .await
        .map_err(|e| flavour(e.into()))?
        .map_err(|e| flavour(e.into()))?;
        match found {
            Some((token, org)) => Ok(Caller { org, token }),
            None => {
                if let Some(ip) = ip {
                    state.limiter.failed(ip);
                }
                tracing::info!(client = ?ip, "authentication failed");
                Err(flavour(Problem::unauthorized(
                    "the token is unknown or revoked; ask an admin for a new one",
                )))
            }
        }
    }
}

/// Token buckets of authentication failures, per client IP.
pub struct AuthLimiter {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    /// Failures allowed in a burst ([`AUTH_FAILURE_BURST`] unless configured).
    burst: f64,
}

struct Bucket {
    /// Failures still allowed right now (refills over time, capped at the burst).
    tokens: f64,
    last: Instant,
}

impl Default for AuthLimiter {
    fn default() -> Self {
        AuthLimiter::new(AUTH_FAILURE_BURST)
    }
}

impl AuthLimiter {
    pub fn new(burst: f64) -> AuthLimiter {
        AuthLimiter {
            buckets: Mutex::new(HashMap::new()),
            burst: burst.max(1.0),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let dt = now.duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + dt * AUTH_FAILURE_REFILL_PER_SEC).min(self.burst);
        b.last = now;
    }

    /// Seconds to wait if `ip` has spent its failures, else `None`.
    pub fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let mut m = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = m.get_mut(&ip)?;
        self.refill(b, Instant::now());
        (b.tokens < 1.0).then(|| ((1.0 - b.tokens) / AUTH_FAILURE_REFILL_PER_SEC).ceil() as u64)
    }

    /// Count one failed authentication from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let mut m = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if m.len() >= AUTH_LIMITER_MAX_CLIENTS && !m.contains_key(&ip) {
            // Forget clients whose buckets have refilled: they are not attacking now.
            m.retain(|_, b| {
                self.refill(b, now);
                b.tokens < self.burst
            });
        }
        let burst = self.burst;
        let b = m.entry(ip).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        self.refill(b, now);
        b.tokens = (b.tokens - 1.0).max(0.0);
    }
}
