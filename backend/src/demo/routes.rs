//! `/api/v1/demo`: administrators read the demo company's guide (`null` once it is gone, or
//! when there never was one) and remove it in one action.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use gatehouse_shared::auth::Role;
use gatehouse_shared::demo::{DemoGuide, DemoRemoved};

use crate::app::AppState;
use crate::auth::sessions::CurrentSession;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/demo", get(guide).delete(remove))
}

async fn guide(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Option<DemoGuide>>> {
    who.require(Role::Administrator)?;
    Ok(Json(super::guide(&*state.store).await?))
}

async fn remove(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<DemoRemoved>> {
    who.require(Role::Administrator)?;
    if state.store.demo_objects().await?.is_empty() {
        return Err(ApiError::NotFound("There is no demo company to remove."));
    }
    let env = super::Env {
        auth: state.auth_env(),
        cloud: state.cloud_env(),
    };
    Ok(Json(super::remove(env, state.clock.now_ms(), &who).await?))
}
