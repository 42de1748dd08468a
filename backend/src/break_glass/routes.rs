//! `/api/v1/break-glass/…`: the vault (administrators write; custodians record rotations)
//! and break-glass requests (anyone signed in asks; custodians decide; the requester
//! reveals, takes a root session and writes the review).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use gatehouse_shared::auth::Role;
use gatehouse_shared::breakglass::{
    BreakGlassDetail, BreakGlassRequest, CreateBreakGlass, CreateVaultEntry, DecideBreakGlass,
    RecordRotation, RevealRequest, Revealed, ReviewNote, RootSession, RootSessionRequest,
    UpdateVaultEntry, VaultEntry,
};

use crate::app::AppState;
use crate::auth::sessions::CurrentSession;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/break-glass/vault",
            get(list_vault).post(create_vault),
        )
        .route(
            "/api/v1/break-glass/vault/{id}",
            get(get_vault).patch(update_vault).delete(delete_vault),
        )
        .route("/api/v1/break-glass/vault/{id}/rotated", post(rotated))
        .route(
            "/api/v1/break-glass/requests",
            get(list_requests).post(create_request),
        )
        .route("/api/v1/break-glass/requests/{id}", get(get_request))
        .route("/api/v1/break-glass/requests/{id}/approve", post(approve))
        .route("/api/v1/break-glass/requests/{id}/reject", post(reject))
        .route("/api/v1/break-glass/requests/{id}/cancel", post(cancel))
        .route("/api/v1/break-glass/requests/{id}/reveal", post(reveal))
        .route(
            "/api/v1/break-glass/requests/{id}/root-session",
            post(root_session),
        )
        .route("/api/v1/break-glass/requests/{id}/review", post(review))
}

async fn list_vault(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<VaultEntry>>> {
    Ok(Json(super::list_vault(state.auth_env(), &who).await?))
}

async fn get_vault(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<VaultEntry>> {
    Ok(Json(super::get_vault(state.auth_env(), &who, &id).await?))
}

async fn create_vault(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreateVaultEntry>,
) -> ApiResult<(StatusCode, Json<VaultEntry>)> {
    who.require(Role::Administrator)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create_vault(state.auth_env(), state.clock.now_ms(), &who, req).await?),
    ))
}

async fn update_vault(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<UpdateVaultEntry>,
) -> ApiResult<Json<VaultEntry>> {
    who.require(Role::Administrator)?;
    Ok(Json(
        super::update_vault(state.auth_env(), state.clock.now_ms(), &who, &id, req).await?,
    ))
}

async fn delete_vault(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    super::delete_vault(state.auth_env(), state.clock.now_ms(), &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotated(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<RecordRotation>,
) -> ApiResult<Json<VaultEntry>> {
    Ok(Json(
        super::record_rotation(state.auth_env(), state.clock.now_ms(), &who, &id, req).await?,
    ))
}

async fn list_requests(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<BreakGlassRequest>>> {
    Ok(Json(
        super::list_requests(state.auth_env(), state.clock.now_ms(), &who).await?,
    ))
}

async fn create_request(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreateBreakGlass>,
) -> ApiResult<(StatusCode, Json<BreakGlassRequest>)> {
    let env = state.auth_env();
    let mut created = super::create_request(env, state.clock.now_ms(), &who, req).await?;
    let ids = super::deciders(env, &created.id).await?;
    created.notified = Some(
        crate::notifications::who_is_told(
            &*state.store,
            &state.notify,
            gatehouse_shared::audit::AuditAction::BreakGlassCreate,
            &ids,
        )
        .await?,
    );
    Ok((StatusCode::CREATED, Json(created)))
}

async fn get_request(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<BreakGlassDetail>> {
    Ok(Json(
        super::get_request(state.auth_env(), state.clock.now_ms(), &who, &id).await?,
    ))
}

async fn approve(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<DecideBreakGlass>,
) -> ApiResult<Json<BreakGlassRequest>> {
    Ok(Json(
        super::decide(state.auth_env(), state.clock.now_ms(), &who, &id, true, req).await?,
    ))
}

async fn reject(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<DecideBreakGlass>,
) -> ApiResult<Json<BreakGlassRequest>> {
    Ok(Json(
        super::decide(
            state.auth_env(),
            state.clock.now_ms(),
            &who,
            &id,
            false,
            req,
        )
        .await?,
    ))
}

async fn cancel(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<BreakGlassRequest>> {
    Ok(Json(
        super::cancel(state.auth_env(), state.clock.now_ms(), &who, &id).await?,
    ))
}

async fn reveal(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<RevealRequest>,
) -> ApiResult<Json<Revealed>> {
    Ok(Json(
        super::reveal(state.auth_env(), state.clock.now_ms(), &who, &id, req.what).await?,
    ))
}

async fn root_session(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<RootSessionRequest>,
) -> ApiResult<Json<RootSession>> {
    Ok(Json(
        super::root_session(
            state.auth_env(),
            state.cloud_env(),
            state.clock.now_ms(),
            &who,
            &id,
            req,
        )
        .await?,
    ))
}

async fn review(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<ReviewNote>,
) -> ApiResult<Json<BreakGlassRequest>> {
    Ok(Json(
        super::review(state.auth_env(), state.clock.now_ms(), &who, &id, &req.note).await?,
    ))
}
