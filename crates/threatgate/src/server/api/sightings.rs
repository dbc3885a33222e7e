//! `POST /api/v1/sightings`: a member reports where indicators were seen in its logs
//! (`threatgate match --report-to`). The reporter is the organisation of the calling token,
//! never anything the body claims; what is stored and who may see it are decided in
//! [`crate::matching::store_sightings`] and [`crate::policy::ReadScope::permits_sighting`].

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::super::auth::Caller;
use super::super::error::{ErrorBody, Problem};
use super::super::limits::MAX_OBJECTS_PER_POST;
use super::super::taxii::blocking;
use super::super::AppState;
use super::ApiJson;
use crate::matching::MatchError;
use crate::policy::Action;

/// A STIX bundle (or TAXII envelope) of sightings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SightingsIn {
    /// `bundle` when a STIX bundle is sent.
    #[serde(rename = "type")]
    #[schema(pattern = "^bundle$")]
    pub kind: Option<String>,
    /// The bundle's id; accepted so a whole STIX bundle can be sent, not used.
    #[allow(dead_code)]
    pub id: Option<String>,
    /// STIX 2.1 sightings: `sighting_of_ref` (an indicator known here) or
    /// `x_threatgate_value` (the observable), `count`, `first_seen`, `last_seen`.
    #[schema(value_type = Vec<Object>)]
    pub objects: Vec<serde_json::Value>,
}

/// What was done with the report.
#[derive(Serialize, ToSchema)]
pub struct SightingsOut {
    /// Sightings stored, one per sighted observable.
    pub stored: usize,
    /// Sightings of nothing the reporter may see (unknown and invisible look the same).
    pub ignored: usize,
}

/// Report sightings (a role that may submit). Stored for the observables the caller may
/// see, shown to the observable's sources, the hub and the caller only.
#[utoipa::path(post, path = "/api/v1/sightings", tag = "observables", request_body = SightingsIn,
    responses((status = 200, body = SightingsOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(super) async fn report_sightings(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<SightingsIn>,
) -> Result<Json<SightingsOut>, Problem> {
    caller.require(Action::Submit)?;
    if b.kind.as_deref().is_some_and(|k| k != "bundle") {
        return Err(Problem::bad_request("/type: must be \"bundle\""));
    }
    if b.objects.len() > MAX_OBJECTS_PER_POST {
        return Err(Problem::too_large(format!(
            "/objects holds {} sightings; at most {MAX_OBJECTS_PER_POST} per request are accepted: split it",
            b.objects.len()
        )));
    }
    let org = caller.org.clone();
    let r = blocking(&st.store, move |s| {
        crate::matching::store_sightings(s, &org, &b.objects).map_err(|e| match e {
            MatchError::Input(m) => Problem::bad_request(m),
            MatchError::Store(e) => e.into(),
            other => Problem::internal(other),
        })
    })
    .await?;
    Ok(Json(SightingsOut {
        stored: r.stored,
        ignored: r.ignored,
    }))
}
