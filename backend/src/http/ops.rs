//! Liveness, readiness, Prometheus metrics, and the per-request metrics middleware.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::app::AppState;
use crate::http::error::ApiError;

/// Path segments whose next (non-empty) segment is a secret: a `credentials_uri` token is
/// the credential. (Query strings are never logged: the OIDC callback's `code` and `state`,
/// and an STS call's `SecurityToken` and `Signature`, travel there.)
const SECRET_AFTER: &[&str] = &["credentials"];

/// A request path as logs may show it: the secret segment of a capability URL replaced by
/// `…`, so that whoever reads the logs cannot fetch the credentials. Segments are compared
/// percent-decoded and in any case, and empty segments skipped, so `//credentials/t` or
/// `/%63redentials/t` (which the router refuses, but whose token may still be real) hide
/// their token too.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    let marks = |segment: &str| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        SECRET_AFTER
            .iter()
            .any(|s| decoded.trim().eq_ignore_ascii_case(s))
    };
    if !path.split('/').any(marks) {
        return path.into();
    }
    let mut secret_next = false;
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| {
            if secret_next && !segment.is_empty() {
                secret_next = false;
                "…"
            } else {
                secret_next = secret_next || marks(segment);
                segment
            }
        })
        .collect();
    segments.join("/").into()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

/// The process-wide Prometheus recorder (installed once, however many apps a test builds).
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; then ours just stays unused.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers within [`crate::http::availability::PROBE_TIMEOUT`];
/// the answer also tells [`crate::http::availability::guard`] whether to fail requests fast.
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.db_health.probe(&*state.store).await {
        Ok("ready")
    } else {
        Err(ApiError::Unavailable)
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Counts requests and their latency by route template (never by raw path: no ids or tokens).
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("gatehouse_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("gatehouse_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn capability_tokens_never_reach_the_logs() {
        assert_eq!(loggable_path("/credentials/s3cr3t-t0ken"), "/credentials/…");
        assert_eq!(loggable_path("/credentials/s3cr3t/x"), "/credentials/…/x");
        assert_eq!(loggable_path("/api/v1/portal"), "/api/v1/portal");
        assert_eq!(loggable_path("/credentials"), "/credentials");
        // Forms the router refuses, whose token may still be real.
        assert_eq!(loggable_path("//credentials/t0k"), "//credentials/…");
        assert_eq!(loggable_path("/credentials//t0k/x"), "/credentials//…/x");
        assert_eq!(loggable_path("/%63redentials/t0k"), "/%63redentials/…");
        assert_eq!(loggable_path("/CREDENTIALS/t0k"), "/CREDENTIALS/…");
        assert_eq!(loggable_path("/a/credentials/t0k"), "/a/credentials/…");
    }
}
