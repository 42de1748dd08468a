//! `/api/v1/permission-sets`, `/api/v1/assignments`, `/api/v1/system-policies`, and
//! `/api/v1/policies/{validate,simulate}` (the [`simulator`]):
//! administrators change permission sets, assignments and provisioning; administrators and
//! auditors may read them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;
use gatehouse_shared::auth::Role;
use gatehouse_shared::cloud::Provider;
use gatehouse_shared::permission_sets::{
    Assignment, CreateAssignment, CreatePermissionSet, PermissionSet, ProvisionRequest,
    ProvisionedRole, SystemPolicy, UpdatePermissionSet,
};
use gatehouse_shared::policies::{PolicyValidation, SimulatePolicy, Simulation, ValidatePolicy};
use serde::Deserialize;

use super::{catalogue, simulator, PermissionSetError};
use crate::app::AppState;
use crate::auth::sessions::CurrentSession;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};

const READERS: &[Role] = &[Role::Administrator, Role::Auditor];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/permission-sets",
            get(list_permission_sets).post(create_permission_set),
        )
        .route(
            "/api/v1/permission-sets/{id}",
            get(get_permission_set)
                .patch(update_permission_set)
                .delete(delete_permission_set),
        )
        .route("/api/v1/permission-sets/{id}/roles", get(list_roles))
        .route("/api/v1/permission-sets/{id}/provision", post(provision))
        .route("/api/v1/system-policies", get(system_policies))
        .route("/api/v1/policies/validate", post(validate_policy))
        .route("/api/v1/policies/simulate", post(simulate_policy))
        .route(
            "/api/v1/assignments",
            get(list_assignments).post(create_assignment),
        )
        .route("/api/v1/assignments/{id}", delete(delete_assignment))
}

async fn list_permission_sets(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<PermissionSet>>> {
    who.require_any(READERS)?;
    Ok(Json(
        state
            .store
            .list_permission_sets()
            .await?
            .iter()
            .map(super::permission_set_dto)
            .collect(),
    ))
}

async fn create_permission_set(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreatePermissionSet>,
) -> ApiResult<(StatusCode, Json<PermissionSet>)> {
    who.require(Role::Administrator)?;
    Ok((
        StatusCode::CREATED,
        Json(
            super::create_permission_set(&*state.store, state.clock.now_ms(), &who.ctx(), req)
                .await?,
        ),
    ))
}

async fn get_permission_set(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<PermissionSet>> {
    who.require_any(READERS)?;
    let p =
        state.store.get_permission_set(&id).await.map_err(|e| {
            ApiError::from(e.or_not_found(PermissionSetError::PermissionSetNotFound))
        })?;
    Ok(Json(super::permission_set_dto(&p)))
}

async fn update_permission_set(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<UpdatePermissionSet>,
) -> ApiResult<Json<PermissionSet>> {
    who.require(Role::Administrator)?;
    Ok(Json(
        super::update_permission_set(&*state.store, state.clock.now_ms(), &who.ctx(), &id, req)
            .await?,
    ))
}

async fn delete_permission_set(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    super::delete_permission_set(&*state.store, state.clock.now_ms(), &who.ctx(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_roles(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ProvisionedRole>>> {
    who.require_any(READERS)?;
    Ok(Json(super::roles(&*state.store, &id).await?))
}

/// The body is optional: none (or `{}`) provisions every assigned account.
async fn provision(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Vec<ProvisionedRole>>> {
    who.require(Role::Administrator)?;
    let req: ProvisionRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ProvisionRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::InvalidJson(format!("The JSON does not have the expected shape: {e}"))
        })?
    };
    Ok(Json(
        super::provision(
            state.cloud_env(),
            state.clock.now_ms(),
            &who.ctx(),
            &id,
            req,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
struct SystemPolicyQuery {
    provider: Option<String>,
}

/// The catalogue, or with `?provider=` the policies an account of that provider can use
/// (`local` takes Alibaba Cloud's, as it evaluates RAM's language).
async fn system_policies(
    who: CurrentSession,
    Query(q): Query<SystemPolicyQuery>,
) -> ApiResult<Json<Vec<SystemPolicy>>> {
    who.require_any(READERS)?;
    let entries: Vec<SystemPolicy> = match q.provider.as_deref().map(str::trim) {
        None | Some("") => catalogue::CATALOGUE.iter().map(|e| e.to_dto()).collect(),
        Some(name) => {
            let provider = Provider::parse(name).ok_or_else(|| {
                ApiError::InvalidQuery(format!(
                    "`provider` is local, alibaba or aws, not \"{}\".",
                    name.chars().take(40).collect::<String>()
                ))
            })?;
            catalogue::entries_for(provider)
                .map(|e| e.to_dto())
                .collect()
        }
    };
    Ok(Json(entries))
}

#[derive(Debug, Deserialize)]
struct AssignmentQuery {
    account_id: Option<String>,
    permission_set_id: Option<String>,
    principal_type: Option<String>,
    principal_id: Option<String>,
}

async fn list_assignments(
    State(state): State<AppState>,
    who: CurrentSession,
    Query(q): Query<AssignmentQuery>,
) -> ApiResult<Json<Vec<Assignment>>> {
    who.require_any(READERS)?;
    let filter = super::assignment_filter(
        q.account_id,
        q.permission_set_id,
        q.principal_type.as_deref(),
        q.principal_id,
    )?;
    Ok(Json(
        state
            .store
            .list_assignments(&filter)
            .await?
            .iter()
            .map(super::assignment_dto)
            .collect(),
    ))
}

async fn create_assignment(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreateAssignment>,
) -> ApiResult<(StatusCode, Json<Assignment>)> {
    who.require(Role::Administrator)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create_assignment(&*state.store, state.clock.now_ms(), &who.ctx(), req).await?),
    ))
}

async fn delete_assignment(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    super::delete_assignment(&*state.store, state.clock.now_ms(), &who.ctx(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn validate_policy(
    who: CurrentSession,
    Json(req): Json<ValidatePolicy>,
) -> ApiResult<Json<PolicyValidation>> {
    who.require_any(READERS)?;
    Ok(Json(simulator::validate_request(&req)?))
}

async fn simulate_policy(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<SimulatePolicy>,
) -> ApiResult<Json<Simulation>> {
    who.require_any(READERS)?;
    Ok(Json(simulator::simulate_request(&*state.store, req).await?))
}
