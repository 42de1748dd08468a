//! Server-side sessions: an opaque random cookie whose SHA-256 keys the `sessions` row.
//! Idle and absolute timeouts are enforced on every request; the id is new at every sign-in
//! (the browser's previous session is deleted), and state-changing requests must carry the
//! session's CSRF token. The cookies and the extractor are the edge's: `http/session.rs`.

use gatehouse_shared::auth::{GroupRef, Me, MfaState, Role, UserRef};
use sha2::{Digest, Sha256};

use crate::audit::AuditCtx;
use crate::audit::ClientMeta;
use crate::clock::{to_datetime, Millis};
use crate::config::Settings;
use crate::store::{GroupRecord, SessionOf, SessionRecord, Store, StoreError, UserRecord};

pub const COOKIE: &str = "gatehouse_session";
/// Seen-at is written at most this often, so reads do not each cost a write.
pub const TOUCH_EVERY_MS: i64 = 60_000;

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A valid, signed-in session and the user behind it. Extracting it (in `http/session.rs`)
/// enforces expiry, idle timeout, a disabled user's exclusion, and the CSRF token on
/// state-changing requests.
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

/// Loads the session named by `id_hash` for `now`, with its user and their groups (one
/// statement): `None` when there is none, or its user is gone, or it has expired or idled
/// out or its user is disabled (then it is deleted).
pub async fn load(
    store: &dyn Store,
    settings: &Settings,
    id_hash: &str,
    now: Millis,
) -> Result<Option<SessionOf>, StoreError> {
    let Some(found) = store.session_of(id_hash).await? else {
        return Ok(None);
    };
    let s = &found.session;
    if s.expires_at <= now
        || s.last_seen_at + settings.session_idle_ms <= now
        || found.user.disabled
    {
        store.delete_session(id_hash, None).await?;
        return Ok(None);
    }
    Ok(Some(found))
}
