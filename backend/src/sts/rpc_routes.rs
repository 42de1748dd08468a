//! The `/sts/` API, compatible with Alibaba Cloud STS 2015-04-01 as the official SDKs call
//! it: `GetCallerIdentity` and `AssumeRole`, signed either the RPC way (HMAC-SHA1,
//! `Signature` parameter) or the V3 way (`Authorization: ACS3-HMAC-SHA256 …`). Served at
//! `/sts/` and at `/` (where the SDKs send it when Gatehouse is their endpoint).
//!
//! Every check is made in memory: the token opens with the server's key, the secret is
//! re-derived from the key id, revocations and nonces are in [`super::Sts`]. Only
//! `AssumeRole` reads the database (the caller's policies, the target assignment) and
//! writes (the new credential and its audit event). Results and errors have Alibaba Cloud's
//! JSON shapes; a signature mismatch says the server's string to sign.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, State};
use axum::http::{header, HeaderMap, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::nonce::MAX_NONCE_LEN;
use super::signature::{self, V3Authorization};
use super::token::{TokenError, ACCESS_KEY_PREFIX};
use super::{assumed_role_arn, Claims};
use crate::app::AppState;
use crate::audit::ClientMeta;
use crate::clock::Millis;
use crate::store::RevocationRecord;

/// The API version every call must name.
pub const VERSION: &str = "2015-04-01";
/// How far a request's timestamp may be from the server's clock.
pub const MAX_SKEW_MS: Millis = 15 * 60 * 1000;
/// Role chaining: credentials from `AssumeRole` live at most an hour, as in AWS STS.
pub const CHAINED_MAX_SECS: i64 = RevocationRecord::CHAINED_MAX_MS / 1000;
/// The largest request body accepted (a session policy is at most 2,048 characters).
pub const MAX_BODY: usize = 64 * 1024;

/// An Alibaba Cloud error: HTTP status, `Code`, `Message`.
#[derive(Debug)]
pub struct StsError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl StsError {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn missing(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
        )
    }

    pub(super) fn invalid(name: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("The parameter \"{name}\" is invalid: {why}"),
        )
    }

    pub(super) fn no_permission(why: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "NoPermission",
            format!("You are not authorized to do this action: {why}"),
        )
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The request processing has failed due to some unknown error.",
        )
    }

    /// A store failure: `ServiceUnavailable` (503, retried by the SDKs) when the database
    /// could not be reached, else `InternalError`. Logged here, without the request.
    pub(super) fn store(e: &crate::store::StoreError, doing: &'static str) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, doing, "the database could not be reached");
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            )
        } else {
            tracing::error!(error = %e, doing, "sts store error");
            Self::internal()
        }
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    fn recommend(&self) -> &'static str {
        match self.code {
            "SignatureDoesNotMatch" => "Sign with the AccessKeySecret issued with this AccessKeyId; compare your string to sign with the server's.",
            "InvalidSecurityToken.Expired" | "InvalidSecurityToken.Revoked" => "Get new credentials from the Gatehouse portal.",
            "InvalidTimeStamp.Expired" => "Check the client's clock: requests are accepted within 15 minutes of the server's time.",
            "SignatureNonceUsed" => "Use a new SignatureNonce for every request.",
            "NoPermission" => "Ask an administrator for an assignment, or a permission set that allows this.",
            _ => "See the Gatehouse STS documentation (docs/STS.md).",
        }
    }

    fn into_response_with(self, request_id: &str, host_id: &str) -> Response {
        let body = json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": self.recommend(),
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // Tells the availability guard, and the SDK when to come back.
            resp.extensions_mut()
                .insert(crate::http::availability::DatabaseUnreachable);
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        resp
    }
}

/// A request, read once: its parameters, its scheme's signature parts.
pub(super) struct Call<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a [u8],
    /// Query parameters, then form-body parameters, as sent.
    params: Vec<(String, String)>,
    query_len: usize,
}

impl Call<'_> {
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn v3(&self) -> Option<V3Authorization> {
        self.header("authorization")
            .and_then(signature::parse_v3_authorization)
    }
}

/// What a verified request carries.
struct Verified {
    claims: Claims,
    action: String,
    /// Seen by this instance for the first time; the database is asked next.
    nonce: String,
}

/// True when a request at `/` is an STS call rather than a page load.
pub fn is_sts_request(method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    let has_action = uri
        .query()
        .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "Action"));
    let v3 = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(signature::V3_ALGORITHM))
        || headers.contains_key("x-acs-action");
    let form = method == Method::POST
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    has_action || v3 || form
}

/// The answer to an STS call that was not admitted (see [`crate::http::admission`]):
/// `ServiceUnavailable`, which the SDKs retry, without the database outage's mark.
pub fn overloaded() -> Response {
    let request_id = uuid::Uuid::new_v4().to_string().to_ascii_uppercase();
    let mut resp = StsError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "The request has failed due to a temporary failure of the server.",
    )
    .into_response_with(&request_id, "gatehouse");
    resp.extensions_mut()
        .remove::<crate::http::availability::DatabaseUnreachable>();
    resp
}

/// The STS endpoint.
pub async fn handle(State(state): State<AppState>, req: Request<Body>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string().to_ascii_uppercase();
    let (mut parts, body) = req.into_parts();
    let host_id = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("gatehouse")
        .to_string();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "InvalidParameter.BodyTooLarge",
            format!("The request body is larger than {MAX_BODY} bytes."),
        )
        .into_response_with(&request_id, &host_id);
    };
    // The same client address (and X-Forwarded-For policy) as every other route.
    // (It never fails: a missing address is `None`.)
    let source_ip = ClientMeta::from_request_parts(&mut parts, &state)
        .await
        .ok()
        .and_then(|c| c.ip)
        .unwrap_or_default();
    match respond(&state, &parts, &body, &request_id, source_ip).await {
        Ok(mut v) => {
            if let Value::Object(m) = &mut v {
                m.insert("RequestId".into(), Value::String(request_id));
            }
            (StatusCode::OK, axum::Json(v)).into_response()
        }
        Err(e) => {
            tracing::info!(code = e.code, request_id = %request_id, "sts request refused");
            e.into_response_with(&request_id, &host_id)
        }
    }
}

async fn respond(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: &Bytes,
    request_id: &str,
    source_ip: String,
) -> Result<Value, StsError> {
    let mut params: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let query_len = params.len();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        params.extend(form_urlencoded::parse(body).into_owned());
    }
    if let Some(name) = signature::repeated_parameter(&params) {
        return Err(StsError::invalid(
            name,
            "it is given more than once; send each parameter once.",
        ));
    }
    let call = Call {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        body,
        params,
        query_len,
    };
    let now = state.clock.now_ms();
    let verified = verify(state, &call, now)?;
    check_shared_nonce(state, &verified, now).await?;
    match verified.action.as_str() {
        "GetCallerIdentity" => Ok(caller_identity(&verified.claims)),
        "AssumeRole" => super::assume_role_routes::assume_role(state, &call, &verified.claims, now, request_id, source_ip).await,
        _ => Err(StsError::new(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            format!("The action \"{}\" is not supported by this STS endpoint; it offers GetCallerIdentity and AssumeRole.", verified.action),
        )),
    }
}

/// Checks everything about a signed request that needs no database.
fn verify(state: &AppState, call: &Call<'_>, now: Millis) -> Result<Verified, StsError> {
    let v3 = call.v3();
    let (action, version, access_key_id, token, timestamp, nonce) = match &v3 {
        Some(auth) => (
            call.header("x-acs-action"),
            call.header("x-acs-version"),
            Some(auth.access_key_id.as_str()),
            call.header("x-acs-security-token"),
            call.header("x-acs-date"),
            call.header("x-acs-signature-nonce"),
        ),
        None => (
            call.param("Action"),
            call.param("Version"),
            call.param("AccessKeyId"),
            call.param("SecurityToken"),
            call.param("Timestamp"),
            call.param("SignatureNonce"),
        ),
    };
    let action = action.ok_or_else(|| StsError::missing("Action"))?;
    match version {
        Some(VERSION) => {}
        Some(other) => {
            return Err(StsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidVersion",
                format!(
                    "Specified parameter Version \"{other}\" is not valid; this API is {VERSION}."
                ),
            ))
        }
        None => return Err(StsError::missing("Version")),
    }
    if v3.is_none() && call.param("Signature").is_none() {
        return Err(StsError::new(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            "The request is not signed: send a Signature parameter (HMAC-SHA1) or an ACS3-HMAC-SHA256 Authorization header.",
        ));
    }
    let access_key_id = access_key_id.ok_or_else(|| StsError::missing("AccessKeyId"))?;
    if !access_key_id.starts_with(ACCESS_KEY_PREFIX) {
        return Err(StsError::new(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found. Gatehouse accepts only the STS credentials it issued.",
        ));
    }
    let token = token.ok_or_else(|| StsError::missing("SecurityToken"))?;
    let claims = state
        .sts
        .keys
        .open(access_key_id, token)
        .map_err(|e| match e {
            TokenError::Malformed => StsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidSecurityToken.Malformed",
                "Specified SecurityToken is malformed or was not issued by this server.",
            ),
            TokenError::MismatchWithAccessKey => StsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "Specified SecurityToken mismatch with the AccessKey.",
            ),
        })?;
    let secret = state.sts.keys.secret_for(access_key_id);
    match &v3 {
        Some(auth) => check_v3(call, auth, &secret)?,
        None => check_rpc(call, &secret)?,
    }
    let timestamp = timestamp.ok_or_else(|| StsError::missing("Timestamp"))?;
    let at = super::parse_timestamp(timestamp).ok_or_else(|| {
        StsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted; use ISO 8601 UTC, e.g. 2026-11-23T10:00:00Z.",
        )
    })?;
    if (now - at).abs() > MAX_SKEW_MS {
        return Err(StsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            format!("Specified time stamp or date value is expired: {timestamp} is more than 15 minutes from the server's time."),
        ));
    }
    if now >= claims.exp {
        return Err(StsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidSecurityToken.Expired",
            format!(
                "Specified SecurityToken is expired (at {}).",
                super::expiration_text(claims.exp)
            ),
        ));
    }
    if state.sts.revocations.is_revoked(&claims) {
        return Err(StsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidSecurityToken.Revoked",
            "Specified SecurityToken has been revoked.",
        ));
    }
    let nonce = nonce.ok_or_else(|| StsError::missing("SignatureNonce"))?;
    if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
        return Err(StsError::invalid(
            "SignatureNonce",
            &format!("send 1 to {MAX_NONCE_LEN} characters, new for every request."),
        ));
    }
    if !state.sts.nonces.first_use(access_key_id, nonce, now) {
        return Err(nonce_used());
    }
    Ok(Verified {
        claims,
        action: action.to_string(),
        nonce: nonce.to_string(),
    })
}

fn nonce_used() -> StsError {
    StsError::new(
        StatusCode::BAD_REQUEST,
        "SignatureNonceUsed",
        "Specified signature nonce was used already.",
    )
}

/// The nonce's second check, after this instance's memory: the database every instance
/// shares (and that outlives a restart) must not hold it either.
async fn check_shared_nonce(state: &AppState, v: &Verified, now: Millis) -> Result<(), StsError> {
    match state
        .sts
        .shared_nonces
        .first_use(&v.claims.ak, &v.nonce, now)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(nonce_used()),
        Err(e) => Err(StsError::store(&e, "record sts nonce")),
    }
}

fn mismatch(string_to_sign: &str) -> StsError {
    StsError::new(
        StatusCode::BAD_REQUEST,
        "SignatureDoesNotMatch",
        format!("Specified signature does not match our calculation. server string to sign is:{string_to_sign}"),
    )
}

fn check_rpc(call: &Call<'_>, secret: &str) -> Result<(), StsError> {
    match call.param("SignatureMethod") {
        Some("HMAC-SHA1") | None => {}
        Some(other) => {
            return Err(StsError::invalid(
                "SignatureMethod",
                &format!("\"{other}\" is not supported; use HMAC-SHA1 or ACS3-HMAC-SHA256."),
            ))
        }
    }
    let given = call.param("Signature").unwrap_or_default();
    let string_to_sign = signature::rpc_string_to_sign(call.method.as_str(), &call.params);
    if signature::same(&signature::rpc_signature(secret, &string_to_sign), given) {
        Ok(())
    } else {
        Err(mismatch(&string_to_sign))
    }
}

/// Headers a V3 signature must cover, so none of them can be changed in transit.
const V3_REQUIRED_SIGNED: &[&str] = &[
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

fn check_v3(call: &Call<'_>, auth: &V3Authorization, secret: &str) -> Result<(), StsError> {
    let mut required: Vec<&str> = V3_REQUIRED_SIGNED.to_vec();
    if call.headers.contains_key("x-acs-security-token") {
        required.push("x-acs-security-token");
    }
    if let Some(h) = required
        .iter()
        .find(|h| !auth.signed_headers.iter().any(|s| s == *h))
    {
        return Err(StsError::new(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            format!("The header \"{h}\" must be signed (listed in SignedHeaders)."),
        ));
    }
    let payload_hash = call.header("x-acs-content-sha256").unwrap_or_default();
    if !payload_hash.eq_ignore_ascii_case(&signature::payload_hash(call.body)) {
        return Err(StsError::new(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            "The x-acs-content-sha256 header is not the SHA-256 of the request body.",
        ));
    }
    let canonical = signature::v3_canonical_request(
        call.method.as_str(),
        call.uri.path(),
        &call.params[..call.query_len],
        &auth.signed_headers,
        |name| call.header(name),
        payload_hash,
    );
    let string_to_sign = signature::v3_string_to_sign(&canonical);
    if signature::same(
        &signature::v3_signature(secret, &string_to_sign),
        &auth.signature,
    ) {
        Ok(())
    } else {
        Err(mismatch(&string_to_sign))
    }
}

/// A stable numeric role id per (account, role), as RAM gives every role one.
pub(super) fn role_id(account_id: &str, role_name: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{account_id}:{}", role_name.to_ascii_lowercase()));
    let mut n = [0u8; 8];
    n.copy_from_slice(&d[..8]);
    format!("3{:018}", u64::from_be_bytes(n) % 1_000_000_000_000_000_000)
}

fn caller_identity(c: &Claims) -> Value {
    if c.rt.is_some() {
        // A break-glass root session acts as the account's root principal.
        return json!({
            "IdentityType": "Account",
            "AccountId": c.acc,
            "Arn": crate::break_glass::tasks::root_arn(&c.acc),
            "PrincipalId": c.acc,
            "UserId": c.acc,
        });
    }
    let role_id = role_id(&c.acc, &c.role);
    json!({
        "IdentityType": "AssumedRoleUser",
        "AccountId": c.acc,
        "Arn": assumed_role_arn(c),
        "RoleId": role_id,
        "PrincipalId": format!("{role_id}:{}", c.sn),
        "UserId": format!("{role_id}:{}", c.sn),
    })
}
