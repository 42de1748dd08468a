//! `/api/v1/auth/*` and `/api/v1/me*`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use gatehouse_shared::auth::{
    ChangePassword, LoginRequest, Me, TotpCode, TotpEnrollRequest, TotpEnrollment,
};
use zeroize::Zeroizing;

use super::login;
use super::sessions::CurrentSession;
use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ClientMeta, Json};
use crate::http::session::{clear_cookie, presented_session, session_cookie};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login_handler))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/step-up", post(step_up))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/password", post(change_password))
        .route("/api/v1/me/mfa/totp", post(totp_begin))
        .route("/api/v1/me/mfa/totp/confirm", post(totp_confirm))
}

async fn login_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientMeta,
    jar: CookieJar,
    Json(req): Json<LoginRequest>,
) -> ApiResult<(CookieJar, Json<Me>)> {
    let previous = presented_session(&headers);
    let password = Zeroizing::new(req.password);
    let signed_in = login::sign_in(
        state.auth_env(),
        state.clock.now_ms(),
        &client,
        &req.username,
        password,
        req.totp.as_deref(),
        previous,
    )
    .await?;
    let me = signed_in
        .session
        .to_me(state.clock.now_ms(), &state.settings);
    Ok((
        jar.add(session_cookie(&state.settings, signed_in.token)),
        Json(me),
    ))
}

async fn logout(
    State(state): State<AppState>,
    who: CurrentSession,
    jar: CookieJar,
) -> ApiResult<(CookieJar, StatusCode)> {
    login::sign_out(&*state.store, state.clock.now_ms(), &who).await?;
    Ok((
        jar.add(clear_cookie(&state.settings)),
        StatusCode::NO_CONTENT,
    ))
}

async fn me(State(state): State<AppState>, who: CurrentSession) -> Json<Me> {
    Json(who.to_me(state.clock.now_ms(), &state.settings))
}

async fn totp_begin(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<TotpEnrollRequest>,
) -> ApiResult<Json<TotpEnrollment>> {
    let (secret_base32, otpauth_uri, qr_svg) = login::begin_totp(
        state.auth_env(),
        state.clock.now_ms(),
        &who,
        req.current_code.as_deref(),
    )
    .await?;
    Ok(Json(TotpEnrollment {
        secret_base32,
        otpauth_uri,
        qr_svg,
    }))
}

async fn reload(state: &AppState, who: &CurrentSession) -> ApiResult<Me> {
    let found = super::sessions::load(
        &*state.store,
        &state.settings,
        &who.session.id_hash,
        state.clock.now_ms(),
    )
    .await?
    .ok_or(ApiError::Unauthenticated)?;
    let fresh = CurrentSession {
        session: found.session,
        user: found.user,
        ..who.clone()
    };
    Ok(fresh.to_me(state.clock.now_ms(), &state.settings))
}

async fn totp_confirm(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<TotpCode>,
) -> ApiResult<Json<Me>> {
    login::confirm_totp(state.auth_env(), state.clock.now_ms(), &who, &req.code).await?;
    Ok(Json(reload(&state, &who).await?))
}

async fn step_up(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<TotpCode>,
) -> ApiResult<Json<Me>> {
    login::step_up(state.auth_env(), state.clock.now_ms(), &who, &req.code).await?;
    Ok(Json(reload(&state, &who).await?))
}

async fn change_password(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<ChangePassword>,
) -> ApiResult<StatusCode> {
    login::change_password(
        state.auth_env(),
        state.clock.now_ms(),
        &who,
        Zeroizing::new(req.current_password),
        Zeroizing::new(req.new_password),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
