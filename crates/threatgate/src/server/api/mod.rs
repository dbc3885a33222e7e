//! The REST management API under `/api/v1`: organisations, agreements, tokens, observable
//! search (through [`crate::lookup::lookup`]) and the audit log, described by an OpenAPI 3
//! document at `/api/v1/openapi.json` generated from these handlers (utoipa), so the
//! document and the code cannot drift apart. CI checks the running server against it
//! (`tests/interop/schemathesis.sh`).
//!
//! Roles ([`crate::policy::role_allows`]): administration (orgs, agreements, tokens, the
//! audit log) needs `admin`; search and stats need a role that may read. A non-admin sees
//! its own organisation and agreements only. Inputs are validated strictly: a value outside
//! the documented schema is a 400 naming the field, never silently adjusted.

use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

mod sightings;

use super::auth::Caller;
use super::error::{ErrorBody, Problem};
use super::limits::{API_DEFAULT_LIMIT, API_MAX_LIMIT, MAX_JSON_DEPTH};
use super::taxii::blocking;
use super::taxii::submit::json_depth_exceeds;
use super::AppState;
use crate::model::*;
use crate::policy::{Action, Channel};

/// The API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/orgs", get(list_orgs).post(create_org))
        .route("/api/v1/orgs/{id}", get(get_org))
        .route(
            "/api/v1/agreements",
            get(list_agreements).post(create_agreement),
        )
        .route("/api/v1/agreements/{id}/end", post(end_agreement))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/observables", get(search_observable))
        .route("/api/v1/sightings", post(sightings::report_sightings))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/audit", get(list_audit))
        .route("/api/v1/audit/verify", get(verify_audit))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "threatgate management API",
        description = "Organisations, agreements, tokens, observable search, sightings reports and the audit log of a threatgate exchange. Authenticate with `Authorization: Bearer <token>` (or HTTP Basic with the token as password). TAXII 2.1 is served separately under /taxii2/.",
        version = "1"
    ),
    paths(whoami, list_orgs, create_org, get_org, list_agreements, create_agreement, end_agreement,
          list_tokens, create_token, revoke_token, search_observable, sightings::report_sightings, stats,
          list_audit, verify_audit),
    components(schemas(ErrorBody, WhoAmI, OrgOut, NewOrgIn, AgreementOut, NewAgreementIn, EndAgreementIn,
                       TokenOut, NewTokenIn, CreatedToken, AuditOut, VerifyOut, StatsOut,
                       sightings::SightingsIn, sightings::SightingsOut)),
    modifiers(&Security),
    security(("bearer" = []), ("basic" = [])),
    tags((name = "orgs"), (name = "agreements"), (name = "tokens"), (name = "observables"), (name = "audit"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// The OpenAPI document (no authentication needed: it describes, it does not reveal).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi()
            .to_json()
            .expect("the OpenAPI document serialises"),
    )
        .into_response()
}

// ----- extractors that answer with the API's error shape -----

/// A JSON body: `Content-Type: application/json` (415 otherwise), bounded nesting, and
/// a 400 naming the problem when it does not fit the schema.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if ct.split(';').next().map(|m| m.trim().to_ascii_lowercase())
            != Some("application/json".into())
        {
            return Err(Problem::unsupported_media(format!(
                "send the body as Content-Type: application/json (got {ct:?})"
            )));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::too_large(format!("cannot read the body: {e}")))?;
        if json_depth_exceeds(&bytes, MAX_JSON_DEPTH) {
            return Err(Problem::bad_request(format!(
                "the body nests deeper than {MAX_JSON_DEPTH} levels"
            )));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let v = serde_path_to_error_free(&mut de)
            .map_err(|e| Problem::bad_request(format!("the body does not fit the schema: {e}")))?;
        Ok(ApiJson(v))
    }
}

/// Deserialize and require the input to end after the value.
fn serde_path_to_error_free<T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
) -> Result<T, serde_json::Error> {
    let v = T::deserialize(&mut *de)?;
    de.end()?;
    Ok(v)
}

/// Query parameters, with a 400 in the API's shape when they do not parse.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_from_str(q)
            .map(ApiQuery)
            .map_err(|e| Problem::bad_request(format!("query parameters: {e}")))
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(q: &str) -> Result<T, String> {
    axum::extract::Query::<T>::try_from_uri(&format!("/?{q}").parse().map_err(|e| format!("{e}"))?)
        .map(|axum::extract::Query(v)| v)
        .map_err(|e| e.body_text())
}

fn id_param(raw: &str, what: &str) -> Result<i64, Problem> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| Problem::bad_request(format!("{what} id {raw:?} is not a positive integer")))
}

fn limit_param(limit: Option<i64>) -> Result<usize, Problem> {
    match limit {
        None => Ok(API_DEFAULT_LIMIT),
        Some(n) if n >= 1 && n <= API_MAX_LIMIT as i64 => Ok(n as usize),
        Some(n) => Err(Problem::bad_request(format!(
            "limit={n}: use 1 to {API_MAX_LIMIT}"
        ))),
    }
}

/// Parse a canonical enum value exactly (the API accepts no aliases).
fn exact<T: Copy>(
    all: &[T],
    name: impl Fn(T) -> &'static str,
    v: &str,
    field: &str,
) -> Result<T, Problem> {
    all.iter().copied().find(|x| name(*x) == v).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|x| name(*x)).collect();
        Problem::bad_request(format!("{field}: {v:?} is not one of {}", names.join(", ")))
    })
}

fn time_field(v: &str, field: &str) -> Result<Time, Problem> {
    parse_time(v).map_err(|e| Problem::bad_request(format!("{field}: {}", e.0)))
}

// ----- schemas -----

#[derive(Serialize, ToSchema)]
pub struct WhoAmI {
    pub org: OrgOut,
    pub token_id: i64,
    #[schema(example = "read")]
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrgOut {
    pub id: i64,
    pub name: String,
    /// hub, partner or member.
    pub kind: String,
    pub country: Option<String>,
    pub identity_id: String,
    pub created_at: String,
}

impl From<&Org> for OrgOut {
    fn from(o: &Org) -> Self {
        OrgOut {
            id: o.id,
            name: o.name.clone(),
            kind: o.kind.as_str().to_string(),
            country: o.country.clone(),
            identity_id: o.identity_id.clone(),
            created_at: stix_time(o.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgIn {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[A-Za-z0-9][A-Za-z0-9 ._-]*$"
    )]
    pub name: String,
    #[schema(pattern = "^(partner|member)$")]
    pub kind: String,
    /// ISO 3166-1 alpha-2, required for members.
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AgreementOut {
    pub id: i64,
    pub org_id: i64,
    pub role: String,
    pub signed_on: String,
    pub valid_from: String,
    pub valid_until: String,
    pub max_tlp: String,
    pub scope: Option<Vec<String>>,
    pub purpose: String,
    pub retention_days: Option<i64>,
    pub status: String,
    pub terminated_at: Option<String>,
    pub renews: Option<i64>,
    pub in_force: bool,
    pub days_to_expiry: i64,
}

impl From<&Agreement> for AgreementOut {
    fn from(a: &Agreement) -> Self {
        let now = Utc::now();
        AgreementOut {
            id: a.id,
            org_id: a.org_id,
            role: a.role.as_str().to_string(),
            signed_on: stix_time(a.signed_on),
            valid_from: stix_time(a.valid_from),
            valid_until: stix_time(a.valid_until),
            max_tlp: a.max_tlp.as_str().to_string(),
            scope: a.scope.clone(),
            purpose: a.purpose.clone(),
            retention_days: a.retention_days,
            status: a.status.as_str().to_string(),
            terminated_at: a.terminated_at.map(stix_time),
            renews: a.renews,
            in_force: a.in_force_at(now),
            days_to_expiry: a.days_to_expiry(now),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgreementIn {
    #[schema(minimum = 1)]
    pub org_id: i64,
    #[schema(pattern = "^(provide|receive|both)$")]
    pub role: String,
    /// YYYY-MM-DD or RFC 3339.
    pub signed_on: String,
    pub valid_from: String,
    pub valid_until: String,
    #[schema(pattern = r"^(clear|green|amber|amber\+strict|red)$")]
    pub max_tlp: String,
    /// STIX types in scope; absent means every type.
    pub scope: Option<Vec<String>>,
    pub purpose: String,
    #[schema(minimum = 1)]
    pub retention_days: Option<i64>,
    #[schema(minimum = 1)]
    pub renews: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndAgreementIn {
    /// When it ends (YYYY-MM-DD or RFC 3339); absent means now.
    pub at: Option<String>,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenOut {
    pub id: i64,
    pub org_id: i64,
    pub role: String,
    pub label: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&Token> for TokenOut {
    fn from(t: &Token) -> Self {
        TokenOut {
            id: t.id,
            org_id: t.org_id,
            role: t.role.as_str().to_string(),
            label: t.label.clone(),
            created_at: stix_time(t.created_at),
            revoked_at: t.revoked_at.map(stix_time),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenIn {
    #[schema(minimum = 1)]
    pub org_id: i64,
    #[schema(pattern = "^(admin|analyst|ingest|read)$")]
    pub role: String,
    #[schema(max_length = 200)]
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: TokenOut,
    /// The secret, shown this once; only its hash is stored.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    pub seq: i64,
    pub at: String,
    pub actor: Option<i64>,
    pub action: String,
    pub subject: String,
    /// Any JSON value (what was done, in the action's own terms).
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct VerifyOut {
    pub ok: bool,
    pub checked: u64,
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StatsOut {
    pub records: i64,
    #[schema(value_type = Object)]
    pub by_type: serde_json::Value,
    #[schema(value_type = Object)]
    pub by_tlp: serde_json::Value,
    #[schema(value_type = Object)]
    pub objects_by_type: serde_json::Value,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgFilter {
    /// Only this organisation's rows (admins; others always see their own).
    #[param(minimum = 1)]
    pub org_id: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// An IP, CIDR, domain, URL, hash or e-mail address; defanged forms are accepted.
    #[param(min_length = 1, max_length = 4096)]
    pub value: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries after this sequence number.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

fn require_admin(c: &Caller) -> Result<(), Problem> {
    c.require(Action::Administer)
}

// ----- handlers -----

/// The calling token and its organisation.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "orgs",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        org: (&caller.org).into(),
        token_id: caller.token.id,
        role: caller.token.role.as_str().to_string(),
    })
}

/// Organisations: all for an admin, the caller's own otherwise.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs",
    responses((status = 200, body = [OrgOut]), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn list_orgs(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<OrgOut>>, Problem> {
    let admin = caller.require(Action::Administer).is_ok();
    let orgs = blocking(&st.store, move |s| Ok(s.orgs()?)).await?;
    Ok(Json(
        orgs.iter()
            .filter(|o| admin || o.id == caller.org.id)
            .map(OrgOut::from)
            .collect(),
    ))
}

/// Add a partner or member organisation (admin).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = NewOrgIn,
    responses((status = 201, body = OrgOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create_org(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewOrgIn>,
) -> Result<Response, Problem> {
    require_admin(&caller)?;
    let name = body.name.clone();
    if !valid_org_name(&name) {
        return Err(Problem::bad_request(format!("name: {ORG_NAME_RULE}")));
    }
    let kind = exact(
        &[OrgKind::Partner, OrgKind::Member],
        |k: OrgKind| k.as_str(),
        &body.kind,
        "kind",
    )?;
    let country = match body.country {
        Some(c)
            if c.len() == 2
                && c.chars().all(|x| x.is_ascii_uppercase())
                && iprange::country::is_valid(&c) =>
        {
            Some(c)
        }
        Some(c) => {
            return Err(Problem::bad_request(format!(
                "country: {c:?} is not an ISO 3166-1 alpha-2 code in upper case (e.g. FR)"
            )))
        }
        None => None,
    };
    if kind == OrgKind::Member && country.is_none() {
        return Err(Problem::bad_request(
            "country: a member organisation needs its ISO 3166-1 alpha-2 country code",
        ));
    }
    let actor = caller.org.id;
    let org = blocking(&st.store, move |s| {
        Ok(s.create_org(
            &NewOrg {
                name,
                kind,
                country,
            },
            Some(actor),
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(OrgOut::from(&org))).into_response())
}

/// One organisation (admins: any; others: their own).
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = OrgOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn get_org(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<OrgOut>, Problem> {
    let id = id_param(&id, "organisation")?;
    if id != caller.org.id && caller.require(Action::Administer).is_err() {
        return Err(Problem::not_found(format!("organisation #{id} not found")));
    }
    let org = blocking(&st.store, move |s| Ok(s.org(id)?)).await?;
    Ok(Json((&org).into()))
}

/// Agreements: all (or one org's) for an admin, the caller's own otherwise.
#[utoipa::path(get, path = "/api/v1/agreements", tag = "agreements", params(OrgFilter),
    responses((status = 200, body = [AgreementOut]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn list_agreements(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<OrgFilter>,
) -> Result<Json<Vec<AgreementOut>>, Problem> {
    if let Some(o) = f.org_id {
        if o < 1 {
            return Err(Problem::bad_request("org_id must be a positive integer"));
        }
    }
    let org = if caller.require(Action::Administer).is_ok() {
        f.org_id
    } else {
        Some(caller.org.id)
    };
    let list = blocking(&st.store, move |s| Ok(s.agreements(org)?)).await?;
    Ok(Json(list.iter().map(AgreementOut::from).collect()))
}

/// Record an agreement between the hub and an organisation (admin).
#[utoipa::path(post, path = "/api/v1/agreements", tag = "agreements", request_body = NewAgreementIn,
    responses((status = 201, body = AgreementOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create_agreement(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewAgreementIn>,
) -> Result<Response, Problem> {
    require_admin(&caller)?;
    if b.org_id < 1 || b.retention_days.is_some_and(|d| d < 1) || b.renews.is_some_and(|r| r < 1) {
        return Err(Problem::bad_request(
            "org_id, retention_days and renews must be positive integers",
        ));
    }
    let new = NewAgreement {
        org_id: b.org_id,
        role: exact(
            AgreementRole::ALL,
            |r: AgreementRole| r.as_str(),
            &b.role,
            "role",
        )?,
        signed_on: time_field(&b.signed_on, "signed_on")?,
        valid_from: time_field(&b.valid_from, "valid_from")?,
        valid_until: time_field(&b.valid_until, "valid_until")?,
        max_tlp: exact(&Tlp::ALL, |t: Tlp| t.as_str(), &b.max_tlp, "max_tlp")?,
        scope: b.scope,
        purpose: b.purpose,
        retention_days: b.retention_days,
        renews: b.renews,
    };
    let actor = caller.org.id;
    let a = blocking(&st.store, move |s| {
        let org = s.org(new.org_id)?;
        if org.kind == OrgKind::Hub {
            return Err(Problem::bad_request(
                "the hub needs no agreement with itself",
            ));
        }
        Ok(s.add_agreement(&new, Some(actor))?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(AgreementOut::from(&a))).into_response())
}

/// End an agreement early (admin); access ends at `at` to the second.
#[utoipa::path(post, path = "/api/v1/agreements/{id}/end", tag = "agreements", params(("id" = i64, Path, minimum = 1)),
    request_body = EndAgreementIn,
    responses((status = 200, body = AgreementOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn end_agreement(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EndAgreementIn>,
) -> Result<Json<AgreementOut>, Problem> {
    require_admin(&caller)?;
    let id = id_param(&id, "agreement")?;
    let at = match &b.at {
        Some(t) => time_field(t, "at")?,
        None => Utc::now(),
    };
    let actor = caller.org.id;
    let a = blocking(&st.store, move |s| {
        Ok(s.end_agreement(id, at, &b.reason, Some(actor))?)
    })
    .await?;
    Ok(Json((&a).into()))
}

/// API tokens (admin); secrets are never listed.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(OrgFilter),
    responses((status = 200, body = [TokenOut]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn list_tokens(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<OrgFilter>,
) -> Result<Json<Vec<TokenOut>>, Problem> {
    require_admin(&caller)?;
    if f.org_id.is_some_and(|o| o < 1) {
        return Err(Problem::bad_request("org_id must be a positive integer"));
    }
    let list = blocking(&st.store, move |s| Ok(s.tokens(f.org_id)?)).await?;
    Ok(Json(list.iter().map(TokenOut::from).collect()))
}

/// Create a token (admin); the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewTokenIn,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create_token(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewTokenIn>,
) -> Result<Response, Problem> {
    require_admin(&caller)?;
    if b.org_id < 1 {
        return Err(Problem::bad_request("org_id must be a positive integer"));
    }
    if b.label.chars().count() > 200 {
        return Err(Problem::bad_request("label: at most 200 characters"));
    }
    let role = exact(TokenRole::ALL, |r: TokenRole| r.as_str(), &b.role, "role")?;
    let actor = caller.org.id;
    let (t, secret) = blocking(&st.store, move |s| {
        s.org(b.org_id)?;
        let secret = crate::auth::generate_secret();
        let t = s.create_token(
            b.org_id,
            role,
            &b.label,
            &crate::auth::hash_secret(&secret),
            Some(actor),
        )?;
        Ok((t, secret))
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: (&t).into(),
            secret,
        }),
    )
        .into_response())
}

/// Revoke a token (admin).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path, minimum = 1)),
    responses((status = 204, description = "revoked"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn revoke_token(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    require_admin(&caller)?;
    let id = id_param(&id, "token")?;
    if id == caller.token.id {
        return Err(Problem::conflict(
            "this is the token you are calling with; revoke it with another admin token (or `threatgate token revoke`)",
        ));
    }
    let actor = caller.org.id;
    blocking(&st.store, move |s| Ok(s.revoke_token(id, Some(actor))?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Look up one observable as the caller's organisation may see it (audited). An
/// observable with no record visible to the caller is a 404, exactly like an unknown one.
#[utoipa::path(get, path = "/api/v1/observables", tag = "observables", params(SearchQuery),
    responses((status = 200, description = "the observable, the source records the caller may see, linked STIX objects and sightings", body = Object),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn search_observable(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<serde_json::Value>, Problem> {
    caller.require(Action::Read)?;
    if q.value.is_empty() || q.value.len() > 4096 {
        return Err(Problem::bad_request("value: 1 to 4096 characters"));
    }
    let view = blocking(&st.store, move |s| {
        crate::lookup::lookup(s, &caller.org, &q.value, Channel::Interactive).map_err(|e| match e {
            crate::lookup::LookupError::Value(v) => Problem::bad_request(format!("value: {v}")),
            crate::lookup::LookupError::Store(s) => s.into(),
        })
    })
    .await?;
    match view {
        Some(v) => Ok(Json(serde_json::to_value(&v).map_err(Problem::internal)?)),
        None => Err(Problem::not_found(
            "no such observable visible to your organisation",
        )),
    }
}

/// Counts of what the caller's organisation may see.
#[utoipa::path(get, path = "/api/v1/stats", tag = "observables",
    responses((status = 200, body = StatsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn stats(State(st): State<AppState>, caller: Caller) -> Result<Json<StatsOut>, Problem> {
    caller.require(Action::Read)?;
    let s = blocking(&st.store, move |s| {
        let scope = crate::lookup::scope_for(s, &caller.org, Utc::now(), Channel::Interactive)?;
        Ok(s.stats(&scope)?)
    })
    .await?;
    Ok(Json(StatsOut {
        records: s.records,
        by_type: serde_json::to_value(&s.by_type).unwrap_or_default(),
        by_tlp: serde_json::to_value(&s.by_tlp).unwrap_or_default(),
        objects_by_type: serde_json::to_value(&s.objects_by_type).unwrap_or_default(),
    }))
}

/// The audit log, oldest first (admin).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = [AuditOut]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn list_audit(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditOut>>, Problem> {
    require_admin(&caller)?;
    let limit = limit_param(q.limit)?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(Problem::bad_request("after must be 0 or more"));
    }
    let entries = blocking(&st.store, move |s| Ok(s.audit_entries(after, limit)?)).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|(e, _)| AuditOut {
                seq: e.seq,
                at: format_time(e.at),
                actor: e.actor,
                action: e.action,
                subject: e.subject,
                detail: e.detail,
                prev_hash: e.prev_hash,
                hash: e.hash,
            })
            .collect(),
    ))
}

/// Verify the audit log's hash chain (admin).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify_audit(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<VerifyOut>, Problem> {
    require_admin(&caller)?;
    let r = blocking(&st.store, move |s| Ok(s.verify_audit()?)).await?;
    Ok(Json(match r {
        Ok(n) => VerifyOut {
            ok: true,
            checked: n,
            error: None,
        },
        Err(b) => VerifyOut {
            ok: false,
            checked: 0,
            error: Some(b.to_string()),
        },
    }))
}
