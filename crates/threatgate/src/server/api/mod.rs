//! The REST management API under `/api/v1` (filled in below).

use axum::Router;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
