//! The login page: one labelled field for an API token. The token is checked with
//! [`crate::auth::authenticate`]; the browser keeps only a session id afterwards.

use maud::{html, Markup};

use super::layout::{csrf_field, notice, shell};
use crate::auth;
use crate::model::Token;
use crate::store::{AuditEvent, Result, Store};

/// The login form. `nonce` pairs with the pre-login cookie (login CSRF).
pub fn render(nonce: &str, error: Option<&str>) -> Markup {
    shell(
        "Log in",
        html! {
            main #main .login tabindex="-1" {
                h1 { "Log in to threatgate" }
                @if let Some(e) = error { (notice("error", e)) }
                form method="post" action="/login" {
                    (csrf_field(nonce))
                    div.field {
                        label for="token" { "API token" }
                        input #token type="password" name="token" required autocomplete="current-password"
                            autofocus aria-describedby="token-hint" spellcheck="false";
                        p #token-hint .hint { "The token your organisation's administrator gave you (it starts with tg_)." }
                    }
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

/// Check a token; a successful login is audited.
pub fn authenticate(store: &Store, secret: &str) -> Result<Option<Token>> {
    let secret = secret.trim();
    if secret.is_empty() {
        return Ok(None);
    }
    let token = auth::authenticate(store, secret)?;
    match &token {
        Some(t) => store.audit(AuditEvent::new(
            Some(t.org_id),
            "ui.login",
            format!("token:{}", t.id),
            serde_json::json!({"role": t.role}),
        ))?,
        None => tracing::warn!("ui login with an unknown or revoked token"),
    }
    Ok(token)
}
