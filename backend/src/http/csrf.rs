//! Cross-site request forgery defence, in two layers:
//! 1. this middleware refuses any state-changing `/api` request whose `Origin` names
//!    another site (browsers always send `Origin` on cross-site POSTs);
//! 2. the session extractor requires `X-CSRF-Token` to equal the session's token on every
//!    state-changing request made with a session cookie (see `auth::sessions`).
//!
//! Sign-in has no session yet; layer 1 and the JSON-only body (a cross-site form cannot
//! send `application/json` without a CORS preflight we never grant) protect it.

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::http::error::ApiError;

pub fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn origin_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_state_changing(req.method()) {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let same_host = origin
                .split_once("://")
                .is_some_and(|(_, rest)| !host.is_empty() && rest == host);
            if !(same_host || origin == state.settings.public_origin) {
                return ApiError::CsrfFailed("Requests from another site are refused.")
                    .into_response();
            }
        }
    }
    next.run(req).await
}
