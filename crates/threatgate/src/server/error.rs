//! Errors as the client sees them: a TAXII 2.1 error message (title, description,
//! http_status) on TAXII routes, the same shape as plain JSON on the REST API.
//!
//! Descriptions say what went wrong and what to do. Internal failures are logged with an
//! error id and reported by that id only, so no internal detail (or secret) leaks.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// The TAXII 2.1 media type of every TAXII response body.
pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";
/// The media type of a STIX object or bundle.
pub const STIX_MEDIA: &str = "application/stix+json;version=2.1";

/// An error answer. `taxii` selects the TAXII media type for the body.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub title: String,
    pub description: String,
    pub taxii: bool,
    /// Seconds the client should wait (429).
    pub retry_after: Option<u64>,
}

/// The body of an error (TAXII 2.1 section 3.6.1); `http_status` is a string there.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub title: String,
    pub description: String,
    pub http_status: String,
}

impl Problem {
    pub fn new(status: StatusCode, title: &str, description: impl Into<String>) -> Problem {
        Problem {
            status,
            title: title.to_string(),
            description: description.into(),
            taxii: false,
            retry_after: None,
        }
    }
    pub fn taxii(mut self) -> Problem {
        self.taxii = true;
        self
    }
    pub fn unauthorized(description: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized", description)
    }
    pub fn forbidden(description: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "Forbidden", description)
    }
    pub fn not_found(description: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "Not Found", description)
    }
    pub fn bad_request(description: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "Bad Request", description)
    }
    pub fn not_acceptable(description: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_ACCEPTABLE, "Not Acceptable", description)
    }
    pub fn unsupported_media(description: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            description,
        )
    }
    pub fn too_large(description: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload Too Large",
            description,
        )
    }
    pub fn conflict(description: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, "Conflict", description)
    }
    pub fn too_many(description: impl Into<String>, retry_after: u64) -> Problem {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            description,
        );
        p.retry_after = Some(retry_after);
        p
    }
    /// A failure inside the server: logged in full under an id, reported by that id.
    pub fn internal(what: impl std::fmt::Display) -> Problem {
        let id = uuid::Uuid::new_v4();
        tracing::error!(error_id = %id, "internal error: {what}");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            format!("the server failed to answer; quote error id {id} to its operator"),
        )
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        match e {
            StoreError::NotFound(what) => Problem::not_found(format!("{what} not found")),
            StoreError::Conflict(why) => Problem::conflict(why),
            StoreError::Invalid(why) => Problem::bad_request(why),
            other => Problem::internal(other),
        }
    }
}

impl From<tokio::task::JoinError> for Problem {
    fn from(e: tokio::task::JoinError) -> Problem {
        Problem::internal(format!("blocking task failed: {e}"))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            title: self.title,
            description: self.description,
            http_status: self.status.as_u16().to_string(),
        };
        let mut resp = (
            self.status,
            serde_json::to_vec(&body).expect("error body serialises"),
        )
            .into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(if self.taxii {
                TAXII_MEDIA
            } else {
                "application/json"
            }),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"threatgate\", Basic realm=\"threatgate\""),
            );
        }
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                h.insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
