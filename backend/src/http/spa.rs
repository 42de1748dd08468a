//! Serving the built SPA: static files (compressed), with an `index.html` for any other
//! path so deep links work. The SPA is three bundles (`gatehouse_shared::spa`): each page
//! path gets the `index.html` of the bundle that shows it, every other path the everyday
//! bundle's `index.html` at the root. `/api`, `/auth` and `/sts` never fall
//! through to the SPA: a mistyped API path answers a JSON 404, not a page.

use std::path::Path;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use gatehouse_shared::spa::PAGES;
use tower::ServiceExt as _;
use tower_http::services::{ServeDir, ServeFile};

use crate::app::AppState;
use crate::http::error::ApiError;

pub fn service(static_dir: &Path) -> Router<AppState> {
    let index = static_dir.join("index.html");
    if !index.exists() {
        tracing::warn!(dir = %static_dir.display(), "the SPA is not built here; run `scripts/build-spa.sh` (the README's run command does)");
    }
    let files = ServeDir::new(static_dir)
        .precompressed_gzip()
        .precompressed_br()
        .fallback(
            ServeFile::new(index)
                .precompressed_gzip()
                .precompressed_br(),
        );
    // A nested service sees the path without its prefix, so no file is looked up there:
    // every path under a bundle's page prefix is that bundle's page.
    let mut router = Router::new();
    for (prefix, bundle) in PAGES {
        let index = static_dir.join(bundle.dir()).join("index.html");
        if !index.exists() {
            tracing::warn!(dir = %static_dir.display(), bundle = bundle.dir(), "a bundle of the SPA is not built here; run `scripts/build-spa.sh`");
        }
        let page = ServeFile::new(index)
            .precompressed_gzip()
            .precompressed_br();
        router = router.nest_service(prefix, page);
    }
    router.fallback_service(files)
}

/// `/`: an STS call when it looks like one (SDKs post to the endpoint's root), otherwise
/// the SPA's `index.html`.
pub async fn root(State(state): State<AppState>, req: Request<Body>) -> Response {
    if crate::sts::rpc_routes::is_sts_request(req.method(), req.uri(), req.headers()) {
        return crate::sts::rpc_routes::handle(State(state), req).await;
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return method_not_allowed().await;
    }
    let index = state.static_dir.join("index.html");
    if !index.exists() {
        return not_built().await;
    }
    match ServeFile::new(index)
        .precompressed_gzip()
        .precompressed_br()
        .oneshot(req)
        .await
    {
        Ok(resp) => resp.into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// The fallback for unknown API-like paths.
pub async fn api_not_found(uri: Uri) -> Response {
    let _ = uri;
    ApiError::NotFound("There is no API endpoint at this path.").into_response()
}

pub async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

/// Shown when the SPA has not been built, instead of an empty 404.
pub async fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "The Gatehouse web app has not been built. Run the README's first command, or `scripts/build-spa.sh`.\n",
    )
        .into_response()
}
