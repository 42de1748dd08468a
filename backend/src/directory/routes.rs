//! `/api/v1/users`, `/api/v1/groups`, `/api/v1/accounts`: administrators change the
//! directory; administrators and auditors may read it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Router;
use gatehouse_shared::auth::Role;
use gatehouse_shared::directory::{
    Account, CreateAccount, CreateGroup, CreateUser, Group, GroupMember, UpdateAccount,
    UpdateGroup, UpdateUser, User,
};
use serde::Deserialize;

use super::DirectoryError;
use crate::app::AppState;
use crate::auth::sessions::CurrentSession;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};

const READERS: &[Role] = &[Role::Administrator, Role::Auditor];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list_users).post(create_user))
        .route(
            "/api/v1/users/{id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/api/v1/groups", get(list_groups).post(create_group))
        .route(
            "/api/v1/groups/{id}",
            get(get_group).patch(update_group).delete(delete_group),
        )
        .route("/api/v1/groups/{id}/members", get(list_members))
        .route(
            "/api/v1/groups/{id}/members/{user_id}",
            put(add_member).delete(remove_member),
        )
        .route("/api/v1/accounts", get(list_accounts).post(create_account))
        .route(
            "/api/v1/accounts/{id}",
            get(get_account)
                .patch(update_account)
                .delete(delete_account),
        )
}

#[derive(Debug, Deserialize)]
struct UserQuery {
    q: Option<String>,
}

async fn list_users(
    State(state): State<AppState>,
    who: CurrentSession,
    Query(q): Query<UserQuery>,
) -> ApiResult<Json<Vec<User>>> {
    who.require_any(READERS)?;
    let query = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut out = Vec::new();
    for u in state.store.list_users(query).await? {
        out.push(super::user_with_groups(&*state.store, u).await?);
    }
    Ok(Json(out))
}

async fn create_user(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    who.require(Role::Administrator)?;
    Ok((
        StatusCode::CREATED,
        Json(
            super::create_user(
                &*state.store,
                &state.settings.password_hashing,
                state.clock.now_ms(),
                &who.ctx(),
                req,
            )
            .await?,
        ),
    ))
}

async fn get_user(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<User>> {
    who.require_any(READERS)?;
    let u = state
        .store
        .get_user(&id)
        .await
        .map_err(|e| ApiError::from(e.or_not_found(DirectoryError::UserNotFound)))?;
    Ok(Json(super::user_with_groups(&*state.store, u).await?))
}

async fn update_user(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<UpdateUser>,
) -> ApiResult<Json<User>> {
    who.require(Role::Administrator)?;
    Ok(Json(
        super::update_user(
            &*state.store,
            &state.settings.password_hashing,
            state.clock.now_ms(),
            &who,
            &id,
            req,
        )
        .await?,
    ))
}

async fn delete_user(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    super::delete_user(&*state.store, state.clock.now_ms(), &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_groups(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<Group>>> {
    who.require_any(READERS)?;
    Ok(Json(
        state
            .store
            .list_groups()
            .await?
            .iter()
            .map(super::group_dto)
            .collect(),
    ))
}

async fn create_group(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreateGroup>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    who.require(Role::Administrator)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create_group(&*state.store, state.clock.now_ms(), &who.ctx(), req).await?),
    ))
}

async fn get_group(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Group>> {
    who.require_any(READERS)?;
    let g = state
        .store
        .get_group(&id)
        .await
        .map_err(|e| ApiError::from(e.or_not_found(DirectoryError::GroupNotFound)))?;
    Ok(Json(super::group_dto(&g)))
}

async fn update_group(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<UpdateGroup>,
) -> ApiResult<Json<Group>> {
    who.require(Role::Administrator)?;
    Ok(Json(
        super::update_group(&*state.store, state.clock.now_ms(), &who, &id, req).await?,
    ))
}

async fn delete_group(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    super::delete_group(&*state.store, state.clock.now_ms(), &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_members(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<GroupMember>>> {
    who.require_any(READERS)?;
    let members = state
        .store
        .list_members(&id)
        .await
        .map_err(|e| ApiError::from(e.or_not_found(DirectoryError::GroupNotFound)))?;
    Ok(Json(members.iter().map(super::member_dto).collect()))
}

async fn add_member(
    State(state): State<AppState>,
    who: CurrentSession,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    super::add_member(
        &*state.store,
        state.clock.now_ms(),
        &who.ctx(),
        &id,
        &user_id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(state): State<AppState>,
    who: CurrentSession,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    super::remove_member(&*state.store, state.clock.now_ms(), &who, &id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_accounts(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<Account>>> {
    who.require_any(READERS)?;
    Ok(Json(
        state
            .store
            .list_accounts()
            .await?
            .iter()
            .map(super::account_dto)
            .collect(),
    ))
}

async fn create_account(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreateAccount>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    who.require(Role::Administrator)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create_account(&*state.store, state.clock.now_ms(), &who.ctx(), req).await?),
    ))
}

async fn get_account(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    who.require_any(READERS)?;
    let a = state
        .store
        .get_account(&id)
        .await
        .map_err(|e| ApiError::from(e.or_not_found(DirectoryError::AccountNotFound)))?;
    Ok(Json(super::account_dto(&a)))
}

async fn update_account(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<UpdateAccount>,
) -> ApiResult<Json<Account>> {
    who.require(Role::Administrator)?;
    Ok(Json(
        super::update_account(&*state.store, state.clock.now_ms(), &who.ctx(), &id, req).await?,
    ))
}

async fn delete_account(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    super::delete_account(&*state.store, state.clock.now_ms(), &who.ctx(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
