//! The admission layer: applies [`crate::admission`]'s turns to each request (outermost, so
//! that a refusal costs what an HTTP exchange does) and answers a refusal in its caller's own
//! form.

use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::admission::{Class, Shed};
use crate::app::AppState;
use crate::http::error::ApiError;

/// Admits a gated request when its class has a turn for it, else answers 503 with
/// `Retry-After: 1` in the form its caller reads (STS's for SDKs, a page for browsers
/// coming back from an IdP, the API's envelope otherwise).
pub async fn admit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    let Some(class) = Class::of(req.method().as_str(), uri.path(), uri.query().is_some()) else {
        return next.run(req).await;
    };
    match state.settings.admission.gate(class).enter().await {
        Ok(turn) => {
            let resp = next.run(req).await;
            drop(turn);
            resp
        }
        Err(why) => {
            metrics::counter!(
                "gatehouse_requests_shed_total",
                "class" => class.name(),
                "reason" => match why {
                    Shed::QueueFull => "queue_full",
                    Shed::Waited => "waited",
                }
            )
            .increment(1);
            refusal(class).await
        }
    }
}

/// A refusal's headers and body, made once: what [`ApiError::Overloaded`] and the
/// federation's refusal page for `SignInRefusal::Busy` answer.
struct Made {
    headers: axum::http::HeaderMap,
    body: Bytes,
}

impl Made {
    async fn from(resp: Response) -> Self {
        let (parts, body) = resp.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        Self {
            headers: parts.headers,
            body,
        }
    }

    fn response(&self) -> Response {
        let mut resp = Response::new(Body::from(self.body.clone()));
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        *resp.headers_mut() = self.headers.clone();
        resp
    }
}

async fn made(cell: &'static OnceLock<Made>, make: impl FnOnce() -> Response) -> &'static Made {
    if let Some(m) = cell.get() {
        return m;
    }
    let m = Made::from(make()).await;
    cell.get_or_init(|| m)
}

/// The 503 for a request of `class` that was not admitted. The STS answer is made each time
/// (it carries its own `RequestId`); the others are copies of one made at the first refusal.
async fn refusal(class: Class) -> Response {
    static API: OnceLock<Made> = OnceLock::new();
    static PAGE: OnceLock<Made> = OnceLock::new();
    let mut resp = match class {
        Class::Sts => crate::sts::rpc_routes::overloaded(),
        Class::Federation => made(&PAGE, || {
            crate::federation::routes::refusal_page(&crate::federation::errors::SignInRefusal::Busy)
        })
        .await
        .response(),
        _ => made(&API, || ApiError::Overloaded.into_response())
            .await
            .response(),
    };
    // The edge's headers: this answer is given outside the layers that add them.
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}
