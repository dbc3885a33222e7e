//! The web UI: HTML pages rendered on the server (maud), charts and the map as server-made
//! SVG, no JavaScript and no build step.
//!
//! Login is by API token (checked with [`crate::auth::authenticate`]); the browser then
//! holds only a random session id (see [`session`]). Every page builds the viewer's scope
//! with [`crate::lookup::scope_for`] on the interactive channel and reads through the
//! store's scoped methods and [`crate::lookup`]: the UI never decides who sees what.
//!
//! Architecture invariant: page modules are pure functions from (store, viewer, input) to
//! markup; this file only does HTTP (sessions, CSRF, forms, headers) around them.

pub mod agreements;
pub mod audit;
pub mod dashboard;
pub mod layout;
pub mod login;
pub mod operations;
pub mod search;
pub mod session;
pub mod svg;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use maud::{html, Markup};

use crate::lookup::scope_for;
use crate::model::{Org, OrgKind, TokenRole};
use crate::policy::{role_allows, Action, Channel, ReadScope};
use crate::store::{Store, StoreError};

use super::auth::AuthLimiter;
use session::{Session, Sessions};

/// Largest form body the UI accepts.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// Who is looking: the org, the token's role, the policy scope for this request, and the
/// session's CSRF token for the forms on the page.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub org: Org,
    pub role: TokenRole,
    pub scope: ReadScope,
    pub csrf: String,
}

impl Viewer {
    /// Build the viewer for `org` now, through the policy.
    pub fn new(store: &Store, org: Org, role: TokenRole, csrf: String) -> Result<Viewer, UiError> {
        let scope = scope_for(store, &org, Utc::now(), Channel::Interactive)?;
        Ok(Viewer {
            org,
            role,
            scope,
            csrf,
        })
    }

    pub fn is_hub(&self) -> bool {
        self.org.kind == OrgKind::Hub
    }

    pub fn may(&self, action: Action) -> bool {
        role_allows(self.role, action)
    }
}

/// What can go wrong serving a page, each with the status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the form was stale or not sent from this site (CSRF check failed); reload the page and try again")]
    Csrf,
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

impl UiError {
    fn status(&self) -> StatusCode {
        match self {
            UiError::NotFound(_) | UiError::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            UiError::Forbidden(_) | UiError::Csrf => StatusCode::FORBIDDEN,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::Conflict(_) | UiError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

pub type PageResult = Result<Markup, UiError>;

/// The UI's state: the store and the live sessions.
#[derive(Clone)]
pub struct Ui {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    sessions: Sessions,
    secure_cookies: bool,
    /// Failed logins per client address, shared with the API's authentication.
    limiter: Option<Arc<AuthLimiter>>,
}

impl Ui {
    /// `secure_cookies` adds the Secure flag to cookies (set it when serving over TLS).
    pub fn new(store: Arc<Store>, secure_cookies: bool) -> Ui {
        Ui {
            inner: Arc::new(Inner {
                store,
                sessions: Sessions::default(),
                secure_cookies,
                limiter: None,
            }),
        }
    }

    /// Count failed logins in `limiter` (the API's, so both share one budget per address)
    /// and refuse logins from an address that has spent it.
    pub fn with_limiter(self, limiter: Arc<AuthLimiter>) -> Ui {
        let inner = Inner {
            store: self.inner.store.clone(),
            sessions: Sessions::default(),
            secure_cookies: self.inner.secure_cookies,
            limiter: Some(limiter),
        };
        Ui {
            inner: Arc::new(inner),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// The session named by the request's cookie, if live and its token still valid,
    /// with the viewer it stands for.
    fn viewer(&self, headers: &HeaderMap) -> Result<Option<(Session, Viewer)>, UiError> {
        let Some(sid) = cookie(headers, session::COOKIE) else {
            return Ok(None);
        };
        let Some(s) = self.sessions().get(&sid) else {
            return Ok(None);
        };
        let store = self.store();
        let live = store
            .tokens(Some(s.org_id))?
            .into_iter()
            .any(|t| t.id == s.token_id && t.revoked_at.is_none());
        if !live {
            self.sessions().remove(&s.id);
            return Ok(None);
        }
        let org = store.org(s.org_id)?;
        let v = Viewer::new(store, org, s.role, s.csrf.clone())?;
        Ok(Some((s, v)))
    }
}

/// The UI's routes, with their own state, mountable into any router (`Router::merge`).
pub fn router<S: Clone + Send + Sync + 'static>(store: Arc<Store>) -> Router<S> {
    router_with(Ui::new(store, false))
}

/// As [`router`], with a prepared [`Ui`] (tests keep a handle on its sessions).
pub fn router_with<S: Clone + Send + Sync + 'static>(ui: Ui) -> Router<S> {
    Router::new()
        .route("/", get(dashboard_page))
        .route(layout::CSS_PATH, get(stylesheet))
        .route("/login", get(login_form).post(login_submit))
        .route("/logout", post(logout))
        .route("/search", get(search_page))
        .route("/agreements", get(agreements_page))
        .route("/agreements/{id}", get(agreement_page))
        .route("/operations", get(operations_page))
        .route("/operations/{id}", get(operation_page))
        .route(
            "/operations/{id}/targets/{target}/state",
            post(move_target_submit),
        )
        .route(
            "/operations/{id}/reports/{country}/{format}",
            get(report_download),
        )
        .route("/audit", get(audit_page))
        .with_state(ui)
}

// ----- HTTP plumbing -----

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| session::cookie_value(h, name).map(str::to_string))
}

/// Headers every UI response carries: no caching of data pages, no framing, a strict CSP
/// (no script at all), no referrer.
fn secure_headers(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
}

fn html_response(status: StatusCode, body: Markup) -> Response {
    let mut r = (status, body.into_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(r.headers_mut());
    r
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    secure_headers(r.headers_mut());
    r
}

fn error_page(viewer: Option<&Viewer>, e: &UiError) -> Response {
    let status = e.status();
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "ui page failed");
    }
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::BAD_REQUEST => "Bad request",
        StatusCode::CONFLICT => "Conflict",
        _ => "Something went wrong",
    };
    let text = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "The page could not be built; the error is in the server log.".to_string()
    } else {
        e.to_string()
    };
    let body =
        html! { (layout::notice("error", &text)) p { a href="/" { "Back to the dashboard" } } };
    let page = match viewer {
        Some(v) => layout::page(v, layout::Nav::None, title, body),
        None => layout::shell(title, html! { main #main { h1 { (title) } (body) } }),
    };
    html_response(status, page)
}

/// Run a page renderer for the logged-in viewer on a blocking thread (the store is
/// synchronous). No session: redirect to the login page.
async fn with_viewer<F>(ui: Ui, headers: HeaderMap, f: F) -> Response
where
    F: FnOnce(&Ui, &Session, &Viewer) -> Result<Response, UiError> + Send + 'static,
{
    let res = tokio::task::spawn_blocking(move || match ui.viewer(&headers) {
        Ok(None) => redirect("/login"),
        Err(e) => error_page(None, &e),
        Ok(Some((s, v))) => {
            if !v.may(Action::Read) {
                return error_page(
                    Some(&v),
                    &UiError::Forbidden("this token may not read".into()),
                );
            }
            match f(&ui, &s, &v) {
                Ok(r) => r,
                Err(e) => error_page(Some(&v), &e),
            }
        }
    })
    .await;
    res.unwrap_or_else(|e| {
        tracing::error!(error = %e, "ui task failed");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })
}

fn ok(m: Markup) -> Result<Response, UiError> {
    Ok(html_response(StatusCode::OK, m))
}

/// Parse an `application/x-www-form-urlencoded` body (last value wins).
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, UiError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(UiError::BadRequest(format!(
            "the form is larger than {MAX_FORM_BYTES} bytes"
        )));
    }
    Ok(url::form_urlencoded::parse(body).into_owned().collect())
}

/// The CSRF check every POST passes first.
pub fn check_csrf(s: &Session, form: &HashMap<String, String>) -> Result<(), UiError> {
    let given = form.get("csrf").map(String::as_str).unwrap_or("");
    if session::csrf_matches(&s.csrf, given) {
        Ok(())
    } else {
        Err(UiError::Csrf)
    }
}

// ----- handlers -----

async fn stylesheet() -> Response {
    let mut r = layout::CSS.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    secure_headers(h);
    r
}

async fn dashboard_page(State(ui): State<Ui>, headers: HeaderMap) -> Response {
    with_viewer(ui, headers, |ui, _, v| {
        ok(dashboard::render(ui.store(), v)?)
    })
    .await
}

async fn search_page(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_viewer(ui, headers, move |ui, _, v| {
        let query = q.get("q").map(String::as_str).unwrap_or("");
        ok(search::render(ui.store(), v, query)?)
    })
    .await
}

async fn agreements_page(State(ui): State<Ui>, headers: HeaderMap) -> Response {
    with_viewer(ui, headers, |ui, _, v| ok(agreements::list(ui.store(), v)?)).await
}

async fn agreement_page(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    with_viewer(ui, headers, move |ui, _, v| {
        let id: i64 = id
            .parse()
            .map_err(|_| UiError::NotFound(format!("agreement {id:?}")))?;
        ok(agreements::detail(ui.store(), v, id)?)
    })
    .await
}

async fn operations_page(State(ui): State<Ui>, headers: HeaderMap) -> Response {
    with_viewer(ui, headers, |ui, _, v| ok(operations::list(ui.store(), v)?)).await
}

async fn operation_page(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_viewer(ui, headers, move |ui, _, v| {
        let id: i64 = id
            .parse()
            .map_err(|_| UiError::NotFound(format!("operation {id:?}")))?;
        let flash = q.get("moved").map(|t| format!("Target #{t} moved."));
        ok(operations::detail(ui.store(), v, id, flash.as_deref())?)
    })
    .await
}

async fn move_target_submit(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Path((id, target)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    with_viewer(ui, headers, move |ui, s, v| {
        let form = parse_form(&body)?;
        check_csrf(s, &form)?;
        let op: i64 = id
            .parse()
            .map_err(|_| UiError::NotFound(format!("operation {id:?}")))?;
        let target: i64 = target
            .parse()
            .map_err(|_| UiError::NotFound(format!("target {target:?}")))?;
        operations::move_target(ui.store(), v, op, target, &form)?;
        Ok(redirect(&format!(
            "/operations/{op}?moved={target}#target-{target}"
        )))
    })
    .await
}

async fn report_download(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Path((id, country, format)): Path<(String, String, String)>,
) -> Response {
    with_viewer(ui, headers, move |ui, _, v| {
        let op: i64 = id
            .parse()
            .map_err(|_| UiError::NotFound(format!("operation {id:?}")))?;
        let (ctype, filename, body) = operations::report(ui.store(), v, op, &country, &format)?;
        let mut r = (StatusCode::OK, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(ctype).map_err(|e| UiError::Other(e.to_string()))?,
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
                .map_err(|e| UiError::Other(e.to_string()))?,
        );
        secure_headers(h);
        Ok(r)
    })
    .await
}

async fn audit_page(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_viewer(ui, headers, move |ui, _, v| {
        let before = q.get("before").and_then(|b| b.parse().ok());
        ok(audit::render(ui.store(), v, before)?)
    })
    .await
}

async fn login_form(State(ui): State<Ui>, headers: HeaderMap) -> Response {
    tokio::task::spawn_blocking(move || {
        if let Ok(Some(_)) = ui.viewer(&headers) {
            return redirect("/");
        }
        let nonce = session::random_token();
        let mut r = html_response(StatusCode::OK, login::render(&nonce, None));
        if let Ok(v) =
            HeaderValue::from_str(&session::login_cookie(&nonce, ui.inner.secure_cookies))
        {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
        r
    })
    .await
    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn login_submit(State(ui): State<Ui>, req: Request) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES + 1)
        .await
        .unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        let secure = ui.inner.secure_cookies;
        let limiter = ui.inner.limiter.as_ref().zip(ip);
        // A fresh nonce for the form shown again after a failure.
        let again = |status: StatusCode, msg: &str| {
            let nonce = session::random_token();
            let mut r = html_response(status, login::render(&nonce, Some(msg)));
            if let Ok(v) = HeaderValue::from_str(&session::login_cookie(&nonce, secure)) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        };
        if let Some(wait) = limiter.and_then(|(l, ip)| l.blocked(ip)) {
            return again(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too many failed logins from this address. Wait {wait} seconds, then try again."),
            );
        }
        let form = match parse_form(&body) {
            Ok(f) => f,
            Err(e) => return again(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let expected = cookie(&headers, session::LOGIN_COOKIE).unwrap_or_default();
        let given = form.get("csrf").map(String::as_str).unwrap_or("");
        if !session::csrf_matches(&expected, given) {
            return again(
                StatusCode::FORBIDDEN,
                "The login form had expired or was not sent from this site. Please try again.",
            );
        }
        match login::authenticate(
            ui.store(),
            form.get("token").map(String::as_str).unwrap_or(""),
        ) {
            Ok(Some(token)) => {
                let s = ui.sessions().create(token.org_id, token.id, token.role);
                let mut r = redirect("/");
                let h = r.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&session::session_cookie(&s, secure)) {
                    h.append(header::SET_COOKIE, v);
                }
                if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(session::LOGIN_COOKIE))
                {
                    h.append(header::SET_COOKIE, v);
                }
                r
            }
            Ok(None) => {
                if let Some((l, ip)) = limiter {
                    l.failed(ip);
                }
                again(
                StatusCode::UNAUTHORIZED,
                "That token is not valid (unknown or revoked). Check it and try again.",
                )
            }
            Err(e) => {
                tracing::error!(error = %e, "login failed");
                again(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The token could not be checked; the error is in the server log.",
                )
            }
        }
    })
    .await
    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn logout(State(ui): State<Ui>, headers: HeaderMap, body: Bytes) -> Response {
    with_viewer(ui, headers, move |ui, s, v| {
        let form = parse_form(&body)?;
        check_csrf(s, &form)?;
        ui.sessions().remove(&s.id);
        ui.store().audit(crate::store::AuditEvent::new(
            Some(v.org.id),
            "ui.logout",
            format!("org:{}", v.org.id),
            serde_json::Value::Null,
        ))?;
        let mut r = redirect("/login");
        if let Ok(c) = HeaderValue::from_str(&session::clear_cookie(session::COOKIE)) {
            r.headers_mut().append(header::SET_COOKIE, c);
        }
        Ok(r)
    })
    .await
}

#[cfg(test)]
mod tests;
