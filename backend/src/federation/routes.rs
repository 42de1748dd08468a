//! Federation's HTTP edge. The administrators' JSON API (`/api/v1/idps…`), the sign-in
//! page's list of IdPs (`/api/v1/auth/idps`), and the browser flows under `/auth/…`:
//! OIDC login and callback, SAML login, ACS and SP metadata. A refused sign-in is a small
//! server-rendered page (escaped text, the reason code, a link back to sign-in) and an
//! audit event; it never shows an internal error.
//!
//! The browser-binding cookie: a random value whose SHA-256 is stored with each sign-in
//! request. The OIDC callback is a top-level GET, so `SameSite=Lax` reaches it. The SAML ACS
//! is a cross-site POST from the IdP, which a Lax cookie does not reach: that cookie is
//! `SameSite=None; Secure` when cookies are secure, and carries no SameSite attribute on
//! plain-HTTP deployments (browsers refuse `None` without `Secure`; an unmarked cookie still
//! rides a top-level cross-site POST made within two minutes).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use gatehouse_shared::auth::Role;
use gatehouse_shared::federation::{
    safe_return_path, IdentityProvider, IdentityProviderChange, MetadataImport,
    NewIdentityProvider, PublicIdp,
};
use time::Duration;

use super::errors::SignInRefusal;
use super::signin::{audit_refusal, complete, After, VerifiedIdentity};
use super::{idp, oidc, saml, saml_signin};
use crate::app::AppState;
use crate::auth::sessions::{hash_token, CurrentSession};
use crate::http::error::ApiResult;
use crate::http::extract::{ClientMeta, Json, Path};
use crate::http::session::{presented_session, session_cookie};
use crate::secrets::random_token;
use crate::store::IdpRecord;

const OIDC_BINDING: &str = "gatehouse_fed_oidc";
const SAML_BINDING: &str = "gatehouse_fed_saml";

/// The administrators' JSON API and the public list; behind the `/api` CSRF guard.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/idps", get(list).post(create))
        .route(
            "/api/v1/idps/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/api/v1/idps/{id}/metadata", post(import_metadata))
        .route("/api/v1/auth/idps", get(public_list))
}

/// The browser flows. The ACS takes cross-site POSTs by design, so these sit outside the
/// `/api` origin guard; none of them acts on an existing session's authority.
pub fn browser_routes() -> Router<AppState> {
    Router::new()
        .route("/auth/oidc/{idp}/login", get(oidc_login))
        .route("/auth/oidc/{idp}/callback", get(oidc_callback))
        .route("/auth/saml/{idp}/login", get(saml_login))
        .route("/auth/saml/{idp}/acs", post(saml_acs))
        .route("/auth/saml/{idp}/metadata", get(saml_metadata))
}

// --- administration --------------------------------------------------------------------

async fn list(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<IdentityProvider>>> {
    who.require(Role::Administrator)?;
    Ok(Json(idp::list(state.federation_env()).await?))
}

async fn get_one(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<IdentityProvider>> {
    who.require(Role::Administrator)?;
    Ok(Json(idp::get(state.federation_env(), &id).await?))
}

async fn create(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<NewIdentityProvider>,
) -> ApiResult<(StatusCode, Json<IdentityProvider>)> {
    who.require(Role::Administrator)?;
    Ok((
        StatusCode::CREATED,
        Json(idp::create(state.federation_env(), state.clock.now_ms(), &who, req).await?),
    ))
}

async fn update(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<IdentityProviderChange>,
) -> ApiResult<Json<IdentityProvider>> {
    who.require(Role::Administrator)?;
    Ok(Json(
        idp::update(state.federation_env(), state.clock.now_ms(), &who, &id, req).await?,
    ))
}

async fn import_metadata(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<MetadataImport>,
) -> ApiResult<Json<IdentityProvider>> {
    who.require(Role::Administrator)?;
    Ok(Json(
        idp::import(state.federation_env(), state.clock.now_ms(), &who, &id, req).await?,
    ))
}

async fn delete(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    idp::delete(state.federation_env(), state.clock.now_ms(), &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn public_list(State(state): State<AppState>) -> ApiResult<Json<Vec<PublicIdp>>> {
    Ok(Json(idp::list_public(state.federation_env()).await?))
}

// --- refusal page ------------------------------------------------------------------------

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page a person sees when a federated sign-in is refused.
/// The status of the refusal page.
fn refusal_status(refusal: &SignInRefusal) -> StatusCode {
    match refusal {
        SignInRefusal::UnknownIdp => StatusCode::NOT_FOUND,
        SignInRefusal::Discovery(_) => StatusCode::BAD_GATEWAY,
        SignInRefusal::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        SignInRefusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
        SignInRefusal::Saml(saml::Refusal::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
        SignInRefusal::Saml(saml::Refusal::NotBase64 | saml::Refusal::MalformedXml) => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::FORBIDDEN,
    }
}

pub fn refusal_page(refusal: &SignInRefusal) -> Response {
    let code = refusal.code();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign-in refused · Gatehouse</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933}}\
         h1{{font-size:1.4rem}}code{{background:#f0f4f8;padding:.1rem .3rem;border-radius:3px}}\
         a{{color:#2457c5}}</style></head><body><main role=\"main\">\
         <h1>You were not signed in</h1><p id=\"message\">{}</p>\
         <p>Reason code: <code id=\"reason\">{}</code>. Give this code to an administrator if you need help.</p>\
         <p><a href=\"/login?error={}\">Back to sign-in</a></p></main></body></html>",
        escape(&refusal.message()),
        escape(code),
        escape(code),
    );
    let mut resp = (refusal_status(refusal), body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    resp
}

async fn refuse(
    state: &AppState,
    idp_id: &str,
    idp: Option<&IdpRecord>,
    client: &ClientMeta,
    refusal: SignInRefusal,
    subject: Option<&str>,
) -> Response {
    audit_refusal(
        state.federation_env(),
        state.clock.now_ms(),
        idp_id,
        idp.map(|i| i.name.as_str()),
        client,
        &refusal,
        subject,
    )
    .await;
    refusal_page(&refusal)
}

/// The IdP named in the path, of the right kind and enabled.
async fn usable_idp(state: &AppState, id: &str, kind: &str) -> Result<IdpRecord, SignInRefusal> {
    match state.store.get_idp(id).await {
        Ok(i) if i.kind != kind => Err(SignInRefusal::UnknownIdp),
        Ok(i) if !i.enabled => Err(SignInRefusal::IdpDisabled),
        Ok(i) => Ok(i),
        Err(crate::store::StoreError::NotFound) => Err(SignInRefusal::UnknownIdp),
        Err(e) => Err(e.into()),
    }
}

fn binding_cookie(
    state: &AppState,
    name: &'static str,
    value: String,
    saml: bool,
) -> Cookie<'static> {
    let mut b = Cookie::build((name, value))
        .http_only(true)
        .path("/auth/")
        .max_age(Duration::milliseconds(oidc::REQUEST_TTL_MS));
    if saml {
        if state.settings.cookie_secure {
            b = b.secure(true).same_site(SameSite::None);
        }
    } else {
        b = b
            .secure(state.settings.cookie_secure)
            .same_site(SameSite::Lax);
    }
    b.build()
}

/// The browser's binding cookie (reused while it lasts) and its hash.
fn binding(jar: &CookieJar, name: &str) -> (Option<String>, String) {
    match jar.get(name).map(Cookie::value).filter(|v| v.len() >= 32) {
        Some(v) => (None, hash_token(v)),
        None => {
            let v = random_token(32);
            let h = hash_token(&v);
            (Some(v), h)
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

fn return_path(q: &LoginQuery) -> String {
    q.return_to
        .as_deref()
        .and_then(safe_return_path)
        .unwrap_or_else(|| "/".into())
}

/// A verified identity becomes a session; the browser goes to its return path.
async fn sign_in(
    state: &AppState,
    idp: &IdpRecord,
    who: &VerifiedIdentity,
    client: &ClientMeta,
    headers: &HeaderMap,
    jar: CookieJar,
    after: After,
) -> Response {
    let previous = presented_session(headers);
    match complete(
        state.federation_env(),
        state.clock.now_ms(),
        idp,
        who,
        client,
        previous,
        after,
    )
    .await
    {
        Ok(s) => {
            let to = safe_return_path(&s.return_to).unwrap_or_else(|| "/".into());
            (
                jar.add(session_cookie(&state.settings, s.token)),
                Redirect::to(&to),
            )
                .into_response()
        }
        Err(r) => refuse(state, &idp.id, Some(idp), client, r, Some(&who.subject)).await,
    }
}

// --- OIDC -------------------------------------------------------------------------------

async fn oidc_login(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LoginQuery>,
    client: ClientMeta,
    jar: CookieJar,
) -> Response {
    let idp = match usable_idp(&state, &id, "oidc").await {
        Ok(i) => i,
        Err(r) => return refuse(&state, &id, None, &client, r, None).await,
    };
    let (new_cookie, hash) = binding(&jar, OIDC_BINDING);
    match oidc::begin(
        state.federation_env(),
        state.clock.now_ms(),
        &idp,
        &hash,
        &return_path(&q),
    )
    .await
    {
        Ok(url) => {
            let jar = match new_cookie {
                Some(v) => jar.add(binding_cookie(&state, OIDC_BINDING, v, false)),
                None => jar,
            };
            (jar, Redirect::to(&url)).into_response()
        }
        Err(r) => refuse(&state, &id, Some(&idp), &client, r, None).await,
    }
}

async fn oidc_callback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<oidc::CallbackQuery>,
    client: ClientMeta,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let idp = match usable_idp(&state, &id, "oidc").await {
        Ok(i) => i,
        Err(r) => return refuse(&state, &id, None, &client, r, None).await,
    };
    let hash = jar.get(OIDC_BINDING).map(|c| hash_token(c.value()));
    match oidc::finish(
        state.federation_env(),
        state.clock.now_ms(),
        &idp,
        hash.as_deref(),
        q,
    )
    .await
    {
        Ok((who, return_to)) => {
            let after = After::Known(return_to);
            sign_in(&state, &idp, &who, &client, &headers, jar, after).await
        }
        Err(r) => refuse(&state, &id, Some(&idp), &client, r, None).await,
    }
}

// --- SAML -------------------------------------------------------------------------------

async fn saml_login(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LoginQuery>,
    client: ClientMeta,
    jar: CookieJar,
) -> Response {
    let idp = match usable_idp(&state, &id, "saml").await {
        Ok(i) => i,
        Err(r) => return refuse(&state, &id, None, &client, r, None).await,
    };
    let settings = match saml_signin::saml_idp_settings(&idp) {
        Ok(s) => s,
        Err(r) => return refuse(&state, &id, Some(&idp), &client, r, None).await,
    };
    let sp = idp::sp_settings(&state.settings, &idp.id);
    let now = state.clock.now_ms();
    let req = saml::authn_request(&sp, &settings, None, crate::clock::to_datetime(now));
    if req.id.is_empty() || req.redirect_url.is_empty() {
        return refuse(
            &state,
            &id,
            Some(&idp),
            &client,
            SignInRefusal::SamlUnavailable,
            None,
        )
        .await;
    }
    let (new_cookie, hash) = binding(&jar, SAML_BINDING);
    let record = crate::store::FederationRequestRecord {
        id: req.id,
        idp_id: idp.id.clone(),
        binding_hash: hash,
        nonce: None,
        pkce_verifier_enc: None,
        return_to: return_path(&q),
        created_at: now,
        expires_at: now + oidc::REQUEST_TTL_MS,
    };
    if let Err(e) = state.store.create_federation_request(record).await {
        return refuse(&state, &id, Some(&idp), &client, e.into(), None).await;
    }
    let jar = match new_cookie {
        Some(v) => jar.add(binding_cookie(&state, SAML_BINDING, v, true)),
        None => jar,
    };
    (jar, Redirect::to(&req.redirect_url)).into_response()
}

async fn saml_acs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: ClientMeta,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let idp = match usable_idp(&state, &id, "saml").await {
        Ok(i) => i,
        Err(r) => return refuse(&state, &id, None, &client, r, None).await,
    };
    let binding_hash = jar.get(SAML_BINDING).map(|c| hash_token(c.value()));
    let sp = idp::sp_settings(&state.settings, &idp.id);
    match saml_signin::acs(
        &*state.store,
        state.clock.now_ms(),
        sp,
        binding_hash,
        &idp,
        &body,
    )
    .await
    {
        Ok((who, guard)) => {
            let after = After::Guarded(guard);
            sign_in(&state, &idp, &who, &client, &headers, jar, after).await
        }
        Err(r) => refuse(&state, &id, Some(&idp), &client, r, None).await,
    }
}

async fn saml_metadata(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.store.get_idp(&id).await {
        Ok(i) if i.kind == "saml" => {
            let xml = saml::sp_metadata(&idp::sp_settings(&state.settings, &i.id));
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/samlmetadata+xml"),
                )],
                xml,
            )
                .into_response()
        }
        Ok(_) | Err(crate::store::StoreError::NotFound) => {
            crate::http::error::ApiError::NotFound("No SAML identity provider with this ID.")
                .into_response()
        }
        Err(e) => crate::http::error::ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_page_escapes_and_names_the_code() {
        let resp = refusal_page(&SignInRefusal::Saml(saml::Refusal::Replayed));
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
