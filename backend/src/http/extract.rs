//! Extractors at the edge: JSON, query and path rejections in the one error envelope, and
//! the caller's address and user agent for the audit trail.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
pub use crate::audit::ClientMeta;
use crate::http::error::ApiError;

/// `axum::Json`, but malformed bodies answer in the error envelope.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, with rejections in the error envelope.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path`, with rejections in the error envelope.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

const MAX_USER_AGENT: usize = 256;

impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let forwarded = state.settings.forwarded_hops.and_then(|hops| {
            let values = parts.headers.get_all("x-forwarded-for").iter();
            forwarded_client(values.filter_map(|v| v.to_str().ok()), hops)
        });
        let ip = forwarded.map(|ip| ip.to_string()).or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string())
        });
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(MAX_USER_AGENT).collect());
        Ok(Self { ip, user_agent })
    }
}

/// The client address behind `hops` trusted proxies: each proxy appends the address it
/// received the request from, so the client is the `hops`-th entry from the right of all
/// `X-Forwarded-For` values in order. Entries further left were written by the client and
/// prove nothing. `None` (use the connection's address) when the list is shorter than the
/// proxies, as when a request reached Gatehouse around them, or the entry is not an address.
fn forwarded_client<'a>(values: impl Iterator<Item = &'a str>, hops: usize) -> Option<IpAddr> {
    let entries: Vec<&str> = values.flat_map(|v| v.split(',')).map(str::trim).collect();
    let at = entries.len().checked_sub(hops)?;
    entries.get(at)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::forwarded_client;

    fn client(values: &[&str], hops: usize) -> Option<String> {
        forwarded_client(values.iter().copied(), hops).map(|ip| ip.to_string())
    }

    #[test]
    fn the_client_is_what_the_trusted_proxies_saw_not_what_it_wrote() {
        // One proxy: it appended the real address after the client's own claim.
        assert_eq!(
            client(&["203.0.113.9, 198.51.100.7"], 1).as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(
            client(&["198.51.100.7"], 1).as_deref(),
            Some("198.51.100.7")
        );
        // Two proxies, the second writing its own header line.
        assert_eq!(
            client(&["203.0.113.9, 198.51.100.7", "10.0.0.2"], 2).as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(client(&["2001:db8::1"], 1).as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn too_few_entries_or_junk_fall_back_to_the_connection() {
        assert_eq!(client(&[], 1), None);
        assert_eq!(client(&["198.51.100.7"], 2), None);
        assert_eq!(client(&["198.51.100.7, not-an-address"], 1), None);
    }
}
