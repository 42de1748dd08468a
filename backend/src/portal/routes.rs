//! `/api/v1/portal…` for every signed-in person, and `/credentials/{token}`, the
//! `credentials_uri` endpoint that whoever holds the URL may call: Alibaba Cloud's
//! `credentials_uri` JSON for `alibaba`/`local` accounts, AWS's container-credentials JSON
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI`) for `aws` accounts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::audit::Outcome;
use gatehouse_shared::error::FieldError;
use gatehouse_shared::portal::{
    CreateCredentialUri, CredentialUri, IssueCredentials, IssuedCredentials, Portal,
};
use gatehouse_shared::validate::{AccountId, Faults};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{credential_uri_dto, issued_dto, portal_dto};
use crate::app::AppState;
use crate::audit::{AuditCtx, NewEvent};
use crate::auth::sessions::CurrentSession;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ClientMeta, Json, Path};
use crate::secrets::random_token;
use crate::store::{CredentialUriRecord, StoreError};
use crate::sts::{self, IssueRequest, Source};

/// A `credentials_uri` lives 8 hours unless asked otherwise, 1 hour to 30 days.
pub const URI_DEFAULT_TTL_SECS: i64 = 8 * 3_600;
pub const URI_MIN_TTL_SECS: i64 = 3_600;
pub const URI_MAX_TTL_SECS: i64 = 30 * 86_400;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/portal", get(portal))
        .route("/api/v1/portal/credentials", post(issue_credentials))
        .route(
            "/api/v1/portal/credential-uris",
            get(list_uris).post(create_uri),
        )
        .route("/api/v1/portal/credential-uris/{id}", delete(revoke_uri))
        .route("/credentials/{token}", get(use_uri))
}

async fn portal(State(state): State<AppState>, who: CurrentSession) -> ApiResult<Json<Portal>> {
    // Assignments and the just-in-time grants in force now.
    let now = state.clock.now_ms();
    Ok(Json(portal_dto(
        &crate::access_requests::entitlements(&*state.store, &who.user.id, now).await?,
    )))
}

/// The account id and permission set id both requests name, checked.
fn target(account_id: &str, permission_set_id: &str) -> Result<(), ApiError> {
    let mut f = Faults::new();
    f.check("account_id", AccountId::parse(account_id));
    let mut faults = f.into_result().err().unwrap_or_default();
    if permission_set_id.trim().is_empty() {
        faults.push(FieldError::new(
            "permission_set_id",
            "Choose a permission set.",
        ));
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(faults))
    }
}

async fn issue_credentials(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<IssueCredentials>,
) -> ApiResult<Json<IssuedCredentials>> {
    target(&req.account_id, &req.permission_set_id)?;
    let issued = sts::issue(
        state.cloud_env(),
        state.clock.now_ms(),
        IssueRequest {
            user_id: &who.user.id,
            username: &who.user.username,
            session_name: &who.user.username,
            account_id: &req.account_id,
            permission_set_id: &req.permission_set_id,
            duration_secs: req.duration_secs,
            session_policy: req.session_policy,
            source: Source::Portal,
            ctx: who.ctx(),
        },
        None,
    )
    .await?;
    Ok(Json(issued_dto(&issued)))
}

async fn list_uris(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<CredentialUri>>> {
    Ok(Json(
        state
            .store
            .list_credential_uris(&who.user.id)
            .await?
            .iter()
            // A revoked URL can never work again; the audit trail keeps its history.
            .filter(|r| r.revoked_at.is_none())
            .map(|r| credential_uri_dto(r, None))
            .collect(),
    ))
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

async fn create_uri(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreateCredentialUri>,
) -> ApiResult<(StatusCode, Json<CredentialUri>)> {
    target(&req.account_id, &req.permission_set_id)?;
    let ttl = req.ttl_secs.unwrap_or(URI_DEFAULT_TTL_SECS);
    if !(URI_MIN_TTL_SECS..=URI_MAX_TTL_SECS).contains(&ttl) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "ttl_secs",
            "A credentials URL lives from 1 hour (3600) to 30 days (2592000).",
        )]));
    }
    let now = state.clock.now_ms();
    let target_id = format!("{}/{}", req.account_id, req.permission_set_id);
    let Some((entitlement, grant)) = crate::access_requests::entitlement(
        &*state.store,
        &who.user.id,
        &req.account_id,
        &req.permission_set_id,
        now,
    )
    .await?
    else {
        let ev = NewEvent::new(
            now,
            &who.ctx(),
            AuditAction::PortalCredentialsUriCreate,
            "role",
            Some(target_id),
        )
        .failed(Outcome::Denied, "not assigned");
        state.store.append_event(ev).await?;
        return Err(ApiError::Forbidden(
            "You are not assigned this permission set on this account.",
        ));
    };
    let token = format!("gh_cu_{}", random_token(32));
    let record = CredentialUriRecord {
        id: uuid::Uuid::new_v4().to_string(),
        token_hash: hash(&token),
        user_id: who.user.id.clone(),
        account_id: entitlement.account_id.clone(),
        permission_set_id: entitlement.permission_set.id.clone(),
        permission_set_name: entitlement.permission_set.name.clone(),
        created_at: now,
        // A URL for a just-in-time grant ends with the grant.
        expires_at: grant.map_or(now + ttl * 1000, |(_, ends)| ends.min(now + ttl * 1000)),
        last_used_at: None,
        revoked_at: None,
    };
    let ev = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::PortalCredentialsUriCreate,
        "credentials_uri",
        Some(record.id.clone()),
    );
    let created = state.store.create_credential_uri(record, ev).await?;
    let url = format!(
        "{}/credentials/{token}",
        state.settings.public_url.trim_end_matches('/')
    );
    Ok((
        StatusCode::CREATED,
        Json(credential_uri_dto(&created, Some(url))),
    ))
}

async fn revoke_uri(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let uri = state
        .store
        .get_credential_uri(&id)
        .await
        .map_err(|e| e.or_not_found(ApiError::NotFound("No credentials URL with this ID.")))?;
    // Another person's URL is "not found" to you: its existence is theirs to know.
    if uri.user_id != who.user.id {
        return Err(ApiError::NotFound("No credentials URL with this ID."));
    }
    let now = state.clock.now_ms();
    let ev = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::PortalCredentialsUriRevoke,
        "credentials_uri",
        Some(id.clone()),
    );
    state.store.revoke_credential_uri(&id, now, ev).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `credentials_uri` errors in the provider's shape: `Code` and `Message`.
fn uri_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "Code": code, "Message": message })),
    )
        .into_response()
}

async fn use_uri(
    State(state): State<AppState>,
    client: ClientMeta,
    headers: axum::http::HeaderMap,
    Path(token): Path<String>,
) -> Response {
    // The AWS SDKs' container-credentials provider sends `AWS_CONTAINER_AUTHORIZATION_TOKEN`
    // as `Authorization` when it is set: it must then be this URL's token. (Without it the
    // URL alone is the capability, as for Alibaba Cloud's `credentials_uri`.)
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| hash(v.to_str().unwrap_or_default().trim()));
    match use_uri_inner(&state, client, &token, authorization).await {
        Ok(r) | Err(r) => r,
    }
}

async fn use_uri_inner(
    state: &AppState,
    client: ClientMeta,
    token: &str,
    authorization: Option<String>,
) -> Result<Response, Response> {
    let internal = |e: StoreError| {
        let e = ApiError::from(e);
        e.into_response()
    };
    let now = state.clock.now_ms();
    let Some(uri) = state
        .store
        .find_credential_uri(&hash(token))
        .await
        .map_err(internal)?
    else {
        return Err(uri_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "This credentials URL does not exist.",
        ));
    };
    let user = state.store.get_user(&uri.user_id).await.map_err(internal)?;
    let ctx = AuditCtx {
        actor_id: Some(user.id.clone()),
        actor_name: user.username.clone(),
        source_ip: client.ip,
        user_agent: client.user_agent,
    };
    let refusal = if authorization.is_some_and(|h| h != uri.token_hash) {
        Some((
            "InvalidAuthorization",
            "The Authorization header is not this credentials URL's token.",
        ))
    } else if uri.revoked_at.is_some() {
        Some(("Revoked", "This credentials URL was revoked."))
    } else if uri.expires_at <= now {
        Some((
            "Expired",
            "This credentials URL has expired; create a new one in the portal.",
        ))
    } else if user.disabled {
        Some((
            "AccountDisabled",
            "The user this credentials URL belongs to is disabled.",
        ))
    } else {
        None
    };
    if let Some((code, message)) = refusal {
        let ev = NewEvent::new(
            now,
            &ctx,
            AuditAction::StsCredentialsIssue,
            "credentials_uri",
            Some(uri.id.clone()),
        )
        .failed(Outcome::Denied, code)
        .details(json!({ "source": "credentials_uri" }));
        state.store.append_event(ev).await.map_err(internal)?;
        return Err(uri_error(StatusCode::FORBIDDEN, code, message));
    }
    let issued = sts::issue(
        state.cloud_env(),
        now,
        IssueRequest {
            user_id: &user.id,
            username: &user.username,
            session_name: &user.username,
            account_id: &uri.account_id,
            permission_set_id: &uri.permission_set_id,
            duration_secs: None,
            session_policy: None,
            source: Source::CredentialsUri(uri.id.clone()),
            ctx,
        },
        None,
    )
    .await
    .map_err(|e| match e {
        sts::IssueError::NotAssigned => uri_error(
            StatusCode::FORBIDDEN,
            "NotAssigned",
            "The user is no longer assigned this permission set on this account.",
        ),
        sts::IssueError::NotProvisioned => uri_error(
            StatusCode::CONFLICT,
            "NotProvisioned",
            "The role is not provisioned in this account.",
        ),
        other => ApiError::from(other).into_response(),
    })?;
    let c = &issued.credential;
    let body = if super::formats::is_aws(&issued) {
        // An `aws` account's: the container-credentials JSON that the AWS SDKs read from
        // `AWS_CONTAINER_CREDENTIALS_FULL_URI` (with `Code`, which they ignore).
        json!({
            "Code": "Success",
            "AccessKeyId": c.access_key_id,
            "SecretAccessKey": c.access_key_secret.as_str(),
            "Token": c.security_token,
            "Expiration": issued.expiration(),
            "AccountId": issued.claims.acc,
        })
    } else {
        json!({
            "Code": "Success",
            "AccessKeyId": c.access_key_id,
            "AccessKeySecret": c.access_key_secret.as_str(),
            "SecurityToken": c.security_token,
            "Expiration": issued.expiration(),
        })
    };
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}
