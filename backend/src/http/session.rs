//! The session at the edge: its cookie, the `CurrentSession` extractor (expiry, idle
//! timeout, a disabled user, the CSRF token on state-changing requests), and the role
//! checks handlers make with it. What a session is lives in `auth/sessions.rs`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use gatehouse_shared::auth::Role;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::audit::ClientMeta;
use crate::auth::sessions::{hash_token, load, roles_of, CurrentSession, COOKIE, TOUCH_EVERY_MS};
use crate::config::Settings;
use crate::http::csrf::is_state_changing;
use crate::http::error::ApiError;
use crate::store::SessionOf;

/// The cookie carrying a new session token.
pub fn session_cookie(settings: &Settings, token: String) -> Cookie<'static> {
    Cookie::build((COOKIE, token))
        .http_only(true)
        .secure(settings.cookie_secure)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::milliseconds(settings.session_absolute_ms))
        .build()
}

/// A cookie that removes the session cookie.
pub fn clear_cookie(settings: &Settings) -> Cookie<'static> {
    let mut c = Cookie::build((COOKIE, ""))
        .http_only(true)
        .secure(settings.cookie_secure)
        .same_site(SameSite::Lax)
        .path("/")
        .build();
    c.make_removal();
    c
}

/// The hash of the session cookie the browser sent, if any.
pub fn presented_session(parts_headers: &axum::http::HeaderMap) -> Option<String> {
    CookieJar::from_headers(parts_headers)
        .get(COOKIE)
        .map(|c| hash_token(c.value()))
}

impl CurrentSession {
    /// Refuses unless the person holds one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "Your roles do not allow this. Ask an administrator for access.",
            ))
        }
    }

    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        self.require_any(&[role])
    }
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id_hash = presented_session(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let now = state.clock.now_ms();
        let SessionOf {
            session,
            user,
            groups,
        } = load(&*state.store, &state.settings, &id_hash, now)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if is_state_changing(&parts.method) {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let ok: bool = sent.as_bytes().ct_eq(session.csrf_token.as_bytes()).into();
            if sent.is_empty() || !ok {
                return Err(ApiError::CsrfFailed(
                    "The request lacks this session's X-CSRF-Token header. Reload the page and try again.",
                ));
            }
        }
        if now - session.last_seen_at >= TOUCH_EVERY_MS {
            state.store.touch_session(&id_hash, now).await?;
        }
        let roles = roles_of(&groups);
        let client = ClientMeta::from_request_parts(parts, state).await?;
        Ok(Self {
            session,
            user,
            groups,
            roles,
            client,
        })
    }
}
