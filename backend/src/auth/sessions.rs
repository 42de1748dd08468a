//! Server-side sessions: an opaque random cookie whose SHA-256 keys the `sessions` row.
//! Idle and absolute timeouts are enforced on every request; the id is new at every sign-in
//! (the browser's previous session is deleted), and state-changing requests must carry the
//! session's CSRF token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use gatehouse_shared::auth::{GroupRef, Me, MfaState, Role, UserRef};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::audit::AuditCtx;
use crate::audit::ClientMeta;
use crate::clock::{to_datetime, Millis};
use crate::config::Settings;
use crate::http::csrf::is_state_changing;
use crate::http::error::ApiError;
use crate::store::{GroupRecord, SessionRecord, StoreError, UserRecord};

pub const COOKIE: &str = "gatehouse_session";
/// Seen-at is written at most this often, so reads do not each cost a write.
const TOUCH_EVERY_MS: i64 = 60_000;

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

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

/// A valid, signed-in session and the user behind it. Extracting it enforces expiry, idle
/// timeout, a disabled user's exclusion, and the CSRF token on state-changing requests.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub session: SessionRecord,
    pub user: UserRecord,
    pub groups: Vec<GroupRecord>,
    pub roles: Vec<Role>,
    pub client: ClientMeta,
}

impl CurrentSession {
    /// The audit context of this person and request.
    pub fn ctx(&self) -> AuditCtx {
        AuditCtx {
            actor_id: Some(self.user.id.clone()),
            actor_name: self.user.username.clone(),
            source_ip: self.client.ip.clone(),
            user_agent: self.client.user_agent.clone(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

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

    /// Whether MFA was passed within the freshness window.
    pub fn mfa_fresh(&self, now: Millis, fresh_ms: i64) -> bool {
        self.session.mfa_at.is_some_and(|at| now - at <= fresh_ms)
    }

    pub fn to_me(&self, now: Millis, settings: &Settings) -> Me {
        Me {
            user: UserRef {
                id: self.user.id.clone(),
                username: self.user.username.clone(),
                display_name: self.user.display_name.clone(),
            },
            email: self.user.email.clone(),
            groups: self
                .groups
                .iter()
                .map(|g| GroupRef {
                    id: g.id.clone(),
                    name: g.name.clone(),
                })
                .collect(),
            roles: self.roles.clone(),
            mfa: MfaState {
                totp_enrolled: self.user.totp_secret_enc.is_some(),
                idp_mfa: self.session.idp_mfa,
                last_mfa_at: self.session.mfa_at.map(to_datetime),
                fresh: self.mfa_fresh(now, settings.mfa_fresh_ms),
            },
            csrf_token: self.session.csrf_token.clone(),
            auth_method: self.session.auth_method.clone(),
            password_set: self.user.password_hash.is_some(),
            session_expires_at: to_datetime(self.session.expires_at),
        }
    }
}

/// The roles the groups carry, each once, in a stable order.
pub fn roles_of(groups: &[GroupRecord]) -> Vec<Role> {
    let mut roles: Vec<Role> = groups
        .iter()
        .flat_map(|g| g.roles.split(',').filter_map(Role::parse))
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// Loads the session named by `id_hash` for `now`, or says why it is not valid.
pub async fn load(
    state: &AppState,
    id_hash: &str,
    now: Millis,
) -> Result<(SessionRecord, UserRecord), ApiError> {
    let session = state
        .store
        .get_session(id_hash)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let s = &state.settings;
    if session.expires_at <= now || session.last_seen_at + s.session_idle_ms <= now {
        state.store.delete_session(id_hash, None).await?;
        return Err(ApiError::Unauthenticated);
    }
    let user = match state.store.get_user(&session.user_id).await {
        Ok(u) => u,
        Err(StoreError::NotFound) => return Err(ApiError::Unauthenticated),
        Err(e) => return Err(e.into()),
    };
    if user.disabled {
        state.store.delete_session(id_hash, None).await?;
        return Err(ApiError::Unauthenticated);
    }
    Ok((session, user))
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id_hash = presented_session(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let now = state.clock.now_ms();
        let (session, user) = load(state, &id_hash, now).await?;
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
        let groups = state.store.groups_of_user(&user.id).await?;
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
