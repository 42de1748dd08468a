//! `/saml/idp/metadata.xml` (Gatehouse's IdP metadata, public: clouds and owners fetch it),
//! `/api/v1/accounts/{id}/setup-kit` and the IdP keys for administrators, and
//! `POST /api/v1/portal/console` for a signed-in person.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use gatehouse_shared::auth::Role;
use gatehouse_shared::cloud::{ConsoleRequest, ConsoleSignIn, IdpKey, Provider, SetupKit};

use super::{idp, metadata_url, setup_kit};
use crate::app::AppState;
use crate::auth::sessions::CurrentSession;
use crate::clock::to_datetime;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::store::StoreError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/saml/idp/metadata.xml", get(metadata))
        .route("/api/v1/accounts/{id}/setup-kit", get(get_setup_kit))
        .route("/api/v1/portal/console", post(open_console))
        .route(
            "/api/v1/cloud/idp-keys",
            get(list_idp_keys).post(add_idp_key),
        )
        .route("/api/v1/cloud/idp-keys/activate", post(activate_idp_key))
}

async fn metadata_xml(state: &AppState) -> Result<String, ApiError> {
    let now = state.clock.now_ms();
    let certs = state
        .cloud
        .idp
        .certificates(&*state.store, &state.master, now)
        .await
        .map_err(ApiError::internal)?;
    Ok(idp::metadata(
        &state.cloud.entity_id,
        &format!("{}/", state.settings.public_url),
        &certs,
    ))
}

async fn metadata(State(state): State<AppState>) -> ApiResult<Response> {
    let xml = metadata_xml(&state).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        xml,
    )
        .into_response())
}

async fn get_setup_kit(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<SetupKit>> {
    who.require(Role::Administrator)?;
    let account = state.store.get_account(&id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound("No account with this ID."),
        other => other.into(),
    })?;
    let provider = Provider::parse(&account.provider).unwrap_or_default();
    if provider == Provider::Local {
        return Err(ApiError::Conflict(
            "This account uses Gatehouse's own STS (local): it needs no setup. Change its provider \
             to Alibaba Cloud or AWS first."
                .into(),
        ));
    }
    let xml = metadata_xml(&state).await?;
    let url = metadata_url(&state.settings.public_url);
    Ok(Json(match provider {
        Provider::Aws => {
            let root_sessions = state.cloud.settings.aws_root_sessions_account.as_deref()
                == Some(account.id.as_str());
            super::aws::setup_kit::kit(&account, &url, &xml, root_sessions)
        }
        _ => setup_kit::kit(&account, &url, &xml),
    }))
}

async fn open_console(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<ConsoleRequest>,
) -> ApiResult<Json<ConsoleSignIn>> {
    let signin = super::console(
        state.cloud_env(),
        state.clock.now_ms(),
        &who.user.id,
        &who.user.username,
        &req,
        &who.ctx(),
    )
    .await?;
    Ok(Json(signin))
}

async fn list_idp_keys(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<IdpKey>>> {
    who.require(Role::Administrator)?;
    let keys = state.store.idp_keys().await?;
    Ok(Json(
        keys.into_iter()
            .map(|k| {
                use base64::Engine as _;
                use sha2::Digest as _;
                let der = base64::engine::general_purpose::STANDARD
                    .decode(&k.certificate)
                    .unwrap_or_default();
                IdpKey {
                    fingerprint: hex::encode(sha2::Sha256::digest(der)),
                    id: k.id,
                    state: k.state,
                    created_at: to_datetime(k.created_at),
                    activated_at: k.activated_at.map(to_datetime),
                }
            })
            .collect(),
    ))
}

/// Rollover, step one: a next key, published in the metadata from now on.
async fn add_idp_key(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<IdpKey>>> {
    who.require(Role::Administrator)?;
    let now = state.clock.now_ms();
    idp::add_next_key(
        &*state.store,
        &state.master,
        &state.cloud.idp,
        now,
        &who.ctx(),
    )
    .await
    .map_err(|e| match e {
        idp::IdpError::Store(StoreError::Conflict(_)) => ApiError::Conflict(
            "A next key is already published. Activate it once every account trusts it.".into(),
        ),
        other => ApiError::internal(other),
    })?;
    list_idp_keys(State(state), who).await
}

/// Rollover, step two: the next key signs; the old one is retired.
async fn activate_idp_key(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<IdpKey>>> {
    who.require(Role::Administrator)?;
    let now = state.clock.now_ms();
    idp::promote_next_key(&*state.store, &state.cloud.idp, now, &who.ctx())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                ApiError::Conflict("There is no next key to activate. Publish one first.".into())
            }
            other => other.into(),
        })?;
    list_idp_keys(State(state), who).await
}
