//! `/api/v1/sts-credentials`: issued credentials, listed and revoked. Administrators and
//! auditors see everyone's; everyone else sees their own. Break-glass root sessions are
//! listed with them. Administrators revoke any credential (or all of a user's); people
//! revoke their own. Revoking a credential revokes every one assumed from it, down its
//! lineage.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;
use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::auth::Role;
use gatehouse_shared::portal::{RevokedCredentials, StsCredentialInfo};
use serde::Deserialize;

use crate::app::AppState;
use crate::audit::NewEvent;
use crate::auth::sessions::CurrentSession;
use crate::clock::to_datetime;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::store::{CredentialFilter, RevocationRecord, StsCredentialRecord};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sts-credentials", get(list))
        .route("/api/v1/sts-credentials/{access_key_id}", delete(revoke))
        .route("/api/v1/users/{id}/revoke-credentials", post(revoke_user))
}

fn dto(r: &StsCredentialRecord) -> StsCredentialInfo {
    StsCredentialInfo {
        access_key_id: r.access_key_id.clone(),
        user_id: r.user_id.clone(),
        username: r.username.clone(),
        account_id: r.account_id.clone(),
        permission_set_id: r.permission_set_id.clone(),
        role_name: r.role_name.clone(),
        source: r.source.clone(),
        parent_access_key_id: r.parent_access_key_id.clone(),
        session_policy: r.session_policy,
        issued_at: to_datetime(r.issued_at),
        expires_at: to_datetime(r.expires_at),
        revoked_at: r.revoked_at.map(to_datetime),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    user_id: Option<String>,
    /// Only credentials neither expired nor revoked.
    #[serde(default)]
    active: bool,
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    who: CurrentSession,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<StsCredentialInfo>>> {
    let sees_all = who.has(Role::Administrator) || who.has(Role::Auditor);
    let user_id = if sees_all {
        q.user_id
    } else {
        Some(who.user.id.clone())
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::InvalidQuery("limit must be 1 to 500.".into()));
    }
    let filter = CredentialFilter {
        user_id,
        active_at: q.active.then(|| state.clock.now_ms()),
        limit,
    };
    Ok(Json(
        state
            .store
            .list_credentials(&filter)
            .await?
            .iter()
            .map(dto)
            .collect(),
    ))
}

async fn revoke(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(access_key_id): Path<String>,
) -> ApiResult<StatusCode> {
    let not_found = || ApiError::NotFound("No credential with this AccessKeyId.");
    let cred = state
        .store
        .get_credential(&access_key_id)
        .await
        .map_err(|e| e.or_not_found(not_found()))?;
    if cred.user_id != who.user.id && !who.has(Role::Administrator) {
        return Err(if who.has(Role::Auditor) {
            ApiError::Forbidden("Only administrators revoke other people's credentials.")
        } else {
            not_found()
        });
    }
    if cred.source == "root_session" && cred.provider != "local" {
        // Only Gatehouse's own STS verifies against its revocations.
        return Err(ApiError::Conflict(format!(
            "This root session was issued by {}: Gatehouse cannot end it; it expires at {}.",
            cred.provider,
            crate::sts::expiration_text(cred.expires_at)
        )));
    }
    let now = state.clock.now_ms();
    // Kept until the last credential assumed from this one (or from those) has expired.
    let revocation = RevocationRecord::for_key(&access_key_id, cred.expires_at, now);
    let ev = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::StsCredentialsRevoke,
        "sts_credential",
        Some(access_key_id.clone()),
    );
    state
        .store
        .revoke_credential(&access_key_id, revocation.clone(), ev)
        .await?;
    state.sts.revocations.apply(&revocation);
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_user(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<RevokedCredentials>> {
    who.require(Role::Administrator)?;
    let user = state
        .store
        .get_user(&id)
        .await
        .map_err(|e| e.or_not_found(ApiError::NotFound("No user with this ID.")))?;
    let now = state.clock.now_ms();
    let revocation = RevocationRecord::for_user(&user.id, now);
    let ev = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::StsCredentialsRevokeUser,
        "user",
        Some(user.id.clone()),
    );
    let revoked = state
        .store
        .revoke_user_credentials(&user.id, revocation.clone(), ev)
        .await?;
    state.sts.revocations.apply(&revocation);
    Ok(Json(RevokedCredentials { revoked }))
}
