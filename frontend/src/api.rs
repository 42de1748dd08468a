//! The SPA's one HTTP client: speaks the `gatehouse_shared` types to `/api/v1` on the same
//! origin, sends the session's CSRF token on every state-changing request and turns the
//! error envelope into a typed [`ApiError`].

use std::cell::RefCell;
use std::rc::Rc;

use gatehouse_shared::audit::{AuditEvent, AuditPage, VerifyReport};
use gatehouse_shared::auth::{
    ChangePassword, LoginRequest, Me, TotpCode, TotpEnrollRequest, TotpEnrollment,
};
use gatehouse_shared::breakglass::{
    BreakGlassDetail, BreakGlassRequest, CreateBreakGlass, CreateVaultEntry, DecideBreakGlass,
    RecordRotation, RevealRequest, RevealWhat, Revealed, ReviewNote, RootSession,
    RootSessionRequest, RootTask, VaultEntry,
};
use gatehouse_shared::cloud::{ConsoleRequest, ConsoleSignIn, IdpKey, SetupKit};
use gatehouse_shared::demo::{DemoGuide, DemoRemoved};
use gatehouse_shared::directory::{
    Account, CreateAccount, CreateGroup, CreateUser, Group, GroupMember, UpdateAccount,
    UpdateGroup, UpdateUser, User,
};
pub use gatehouse_shared::error::ErrorCode;
use gatehouse_shared::error::{ErrorEnvelope, FieldError};
use gatehouse_shared::federation::{
    IdentityProvider, IdentityProviderChange, MetadataImport, NewIdentityProvider, PublicIdp,
};
use gatehouse_shared::notifications::{
    CreateEndpoint, Delivery, Endpoint, EndpointWithSecret, MailSettings, TestSent, UpdateEndpoint,
};
use gatehouse_shared::permission_sets::{
    Assignment, CreateAssignment, CreatePermissionSet, PermissionSet, ProvisionRequest,
    ProvisionedRole, SystemPolicy, UpdatePermissionSet,
};
use gatehouse_shared::policies::{
    PolicyLanguage, PolicyValidation, SimulatePolicy, Simulation, ValidatePolicy,
};
use gatehouse_shared::portal::{
    CreateCredentialUri, CredentialUri, IssueCredentials, IssuedCredentials, Portal,
};
use gatehouse_shared::requests::{
    AccessRequest, ApprovalPolicy, ApprovalPolicyInput, CreateAccessRequest, DecisionInput,
    Eligibility, EligibilityPolicy, EligibilityPolicyInput, Waiting, WaitingCount,
};
use gloo_net::http::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What a failed call reports: a code of the API's error envelope, or one of the failures
/// this client finds on its own side. Pages compare it with an [`ErrorCode`] directly
/// (`e.code == ErrorCode::Conflict`), which is false for the client-side failures.
///
/// The client-side failures are not in the shared [`ErrorCode`]: that enum is the wire
/// contract, the codes the server sends. These two have no wire string and the server must
/// never send them; keeping them here means the backend cannot put them in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// A code the server sent (or the same meaning found here first, e.g. a form that
    /// failed the shared validation rules before it was sent).
    Api(ErrorCode),
    /// The request never got an answer (offline, server down).
    Network,
    /// An answer this client could not read (not the envelope, or not the expected type).
    UnexpectedResponse,
}

impl From<ErrorCode> for Code {
    fn from(code: ErrorCode) -> Self {
        Self::Api(code)
    }
}

impl PartialEq<ErrorCode> for Code {
    fn eq(&self, other: &ErrorCode) -> bool {
        matches!(self, Self::Api(code) if code == other)
    }
}

/// A failed API call: the status, the typed code, the server's sentence and any field faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status; 0 when no response arrived.
    pub status: u16,
    pub code: Code,
    pub message: String,
    pub fields: Vec<FieldError>,
}

impl ApiError {
    /// An error made on this side, e.g. a form that failed the shared validation rules.
    pub fn local(code: impl Into<Code>, message: impl Into<String>) -> Self {
        Self {
            status: 0,
            code: code.into(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    fn network() -> Self {
        Self::local(
            Code::Network,
            "Gatehouse could not be reached. Check the connection and try again.",
        )
    }

    fn unreadable(status: u16) -> Self {
        Self {
            status,
            ..Self::local(
                Code::UnexpectedResponse,
                format!("Gatehouse sent an answer this page could not read (HTTP {status})."),
            )
        }
    }

    async fn from_response(resp: &Response) -> Self {
        let status = resp.status();
        match resp.json::<ErrorEnvelope>().await {
            Ok(envelope) => Self {
                status,
                code: Code::Api(envelope.error.code),
                message: envelope.error.message,
                fields: envelope.error.fields,
            },
            Err(_) => Self::unreadable(status),
        }
    }
}

thread_local! {
    /// The CSRF token of the current session, from the latest `Me`.
    static CSRF_TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Called whenever the server says the session is gone (`unauthenticated`).
    static ON_UNAUTHENTICATED: RefCell<Option<Rc<dyn Fn()>>> = const { RefCell::new(None) };
}

/// Keeps the CSRF token of `me` for the requests that follow.
pub fn remember(me: &Me) {
    CSRF_TOKEN.with(|t| *t.borrow_mut() = Some(me.csrf_token.clone()));
}

/// Drops the CSRF token, after sign-out or when the session has ended.
pub fn forget() {
    CSRF_TOKEN.with(|t| *t.borrow_mut() = None);
}

/// Registers what to do when any call finds the session gone (the app returns to sign-in).
pub fn on_unauthenticated(handler: impl Fn() + 'static) {
    ON_UNAUTHENTICATED.with(|h| *h.borrow_mut() = Some(Rc::new(handler)));
}

fn session_ended() {
    forget();
    let handler = ON_UNAUTHENTICATED.with(|h| h.borrow().clone());
    if let Some(handler) = handler {
        handler();
    }
}

/// Encodes one path segment (an id) so it cannot change the path's shape.
fn segment(id: &str) -> String {
    String::from(js_sys::encode_uri_component(id))
}

/// Sends one request to `/api/v1{path}` and returns the successful response.
async fn send(
    method: Method,
    path: &str,
    body: Option<&impl Serialize>,
) -> Result<Response, ApiError> {
    let state_changing = !matches!(method, Method::GET | Method::HEAD);
    let mut builder = RequestBuilder::new(&format!("/api/v1{path}"))
        .method(method)
        .header("Accept", "application/json");
    if state_changing {
        if let Some(token) = CSRF_TOKEN.with(|t| t.borrow().clone()) {
            builder = builder.header("X-CSRF-Token", &token);
        }
    }
    let request = match body {
        Some(body) => builder.json(body),
        None => builder.build(),
    }
    .map_err(|_| ApiError::local(Code::UnexpectedResponse, "The request could not be built."))?;
    let response = request.send().await.map_err(|_| ApiError::network())?;
    if response.ok() {
        return Ok(response);
    }
    let error = ApiError::from_response(&response).await;
    if error.code == ErrorCode::Unauthenticated {
        session_ended();
    }
    Err(error)
}

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status();
    response
        .json::<T>()
        .await
        .map_err(|_| ApiError::unreadable(status))
}

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    read(send(Method::GET, path, None::<&()>).await?).await
}

async fn with_body<B: Serialize, T: DeserializeOwned>(
    method: Method,
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    read(send(method, path, Some(body)).await?).await
}

/// For endpoints that answer 204.
async fn without_answer(method: Method, path: &str) -> Result<(), ApiError> {
    send(method, path, None::<&()>).await.map(|_| ())
}

fn keep_me(result: Result<Me, ApiError>) -> Result<Me, ApiError> {
    if let Ok(me) = &result {
        remember(me);
    }
    result
}

// --- sessions and me -------------------------------------------------------------------

pub async fn login(request: &LoginRequest) -> Result<Me, ApiError> {
    keep_me(with_body(Method::POST, "/auth/login", request).await)
}

pub async fn logout() -> Result<(), ApiError> {
    let result = without_answer(Method::POST, "/auth/logout").await;
    forget();
    result
}

/// The enabled identity providers the sign-in page offers (public; no session needed).
pub async fn sign_in_idps() -> Result<Vec<PublicIdp>, ApiError> {
    get("/auth/idps").await
}

pub async fn me() -> Result<Me, ApiError> {
    keep_me(get("/me").await)
}

/// Changes the signed-in person's password; their other sessions end.
pub async fn change_password(request: &ChangePassword) -> Result<(), ApiError> {
    send(Method::POST, "/me/password", Some(request))
        .await
        .map(|_| ())
}

pub async fn totp_enroll(request: &TotpEnrollRequest) -> Result<TotpEnrollment, ApiError> {
    with_body(Method::POST, "/me/mfa/totp", request).await
}

pub async fn totp_confirm(code: &TotpCode) -> Result<Me, ApiError> {
    keep_me(with_body(Method::POST, "/me/mfa/totp/confirm", code).await)
}

// --- identity providers ---------------------------------------------------------------

pub async fn idps() -> Result<Vec<IdentityProvider>, ApiError> {
    get("/idps").await
}

pub async fn create_idp(idp: &NewIdentityProvider) -> Result<IdentityProvider, ApiError> {
    with_body(Method::POST, "/idps", idp).await
}

pub async fn update_idp(
    id: &str,
    change: &IdentityProviderChange,
) -> Result<IdentityProvider, ApiError> {
    with_body(Method::PATCH, &format!("/idps/{}", segment(id)), change).await
}

/// Replaces a SAML IdP's entity ID, SSO URL and certificates from its metadata (XML or URL).
pub async fn import_idp_metadata(
    id: &str,
    import: &MetadataImport,
) -> Result<IdentityProvider, ApiError> {
    let path = format!("/idps/{}/metadata", segment(id));
    with_body(Method::POST, &path, import).await
}

pub async fn delete_idp(id: &str) -> Result<(), ApiError> {
    without_answer(Method::DELETE, &format!("/idps/{}", segment(id))).await
}

// --- directory -------------------------------------------------------------------------

pub async fn users() -> Result<Vec<User>, ApiError> {
    get("/users").await
}

pub async fn create_user(user: &CreateUser) -> Result<User, ApiError> {
    with_body(Method::POST, "/users", user).await
}

pub async fn update_user(id: &str, change: &UpdateUser) -> Result<User, ApiError> {
    with_body(Method::PATCH, &format!("/users/{}", segment(id)), change).await
}

pub async fn delete_user(id: &str) -> Result<(), ApiError> {
    without_answer(Method::DELETE, &format!("/users/{}", segment(id))).await
}

pub async fn groups() -> Result<Vec<Group>, ApiError> {
    get("/groups").await
}

pub async fn group(id: &str) -> Result<Group, ApiError> {
    get(&format!("/groups/{}", segment(id))).await
}

pub async fn create_group(group: &CreateGroup) -> Result<Group, ApiError> {
    with_body(Method::POST, "/groups", group).await
}

pub async fn update_group(id: &str, change: &UpdateGroup) -> Result<Group, ApiError> {
    with_body(Method::PATCH, &format!("/groups/{}", segment(id)), change).await
}

pub async fn delete_group(id: &str) -> Result<(), ApiError> {
    without_answer(Method::DELETE, &format!("/groups/{}", segment(id))).await
}

pub async fn group_members(id: &str) -> Result<Vec<GroupMember>, ApiError> {
    get(&format!("/groups/{}/members", segment(id))).await
}

pub async fn add_group_member(group_id: &str, user_id: &str) -> Result<(), ApiError> {
    let path = format!("/groups/{}/members/{}", segment(group_id), segment(user_id));
    without_answer(Method::PUT, &path).await
}

pub async fn remove_group_member(group_id: &str, user_id: &str) -> Result<(), ApiError> {
    let path = format!("/groups/{}/members/{}", segment(group_id), segment(user_id));
    without_answer(Method::DELETE, &path).await
}

pub async fn accounts() -> Result<Vec<Account>, ApiError> {
    get("/accounts").await
}

pub async fn create_account(account: &CreateAccount) -> Result<Account, ApiError> {
    with_body(Method::POST, "/accounts", account).await
}

/// Changes an account's name, environment, provider, site or region. Changing the
/// provider of an account where a role is provisioned is refused (`conflict`).
pub async fn update_account(id: &str, change: &UpdateAccount) -> Result<Account, ApiError> {
    with_body(Method::PATCH, &format!("/accounts/{}", segment(id)), change).await
}

pub async fn delete_account(id: &str) -> Result<(), ApiError> {
    without_answer(Method::DELETE, &format!("/accounts/{}", segment(id))).await
}

/// What the owner of a cloud account (Alibaba Cloud, AWS) runs once (administrators;
/// `conflict` for a `local` account).
pub async fn setup_kit(id: &str) -> Result<SetupKit, ApiError> {
    get(&format!("/accounts/{}/setup-kit", segment(id))).await
}

/// Gatehouse's SAML IdP signing keys, with their SHA-256 fingerprints (administrators).
pub async fn idp_keys() -> Result<Vec<IdpKey>, ApiError> {
    get("/cloud/idp-keys").await
}

/// Rollover, step one: publishes a next key in the metadata (`conflict` when one is
/// already published). Answers the new list of keys.
pub async fn publish_idp_key() -> Result<Vec<IdpKey>, ApiError> {
    with_body(Method::POST, "/cloud/idp-keys", &serde_json::json!({})).await
}

/// Rollover, step two: the next key signs, the active one is retired (`conflict` when no
/// next key is published). Answers the new list of keys.
pub async fn activate_idp_key() -> Result<Vec<IdpKey>, ApiError> {
    with_body(
        Method::POST,
        "/cloud/idp-keys/activate",
        &serde_json::json!({}),
    )
    .await
}

// --- permission sets, assignments, policies ---------------------------------------------

pub async fn permission_sets() -> Result<Vec<PermissionSet>, ApiError> {
    get("/permission-sets").await
}

pub async fn permission_set(id: &str) -> Result<PermissionSet, ApiError> {
    get(&format!("/permission-sets/{}", segment(id))).await
}

pub async fn create_permission_set(set: &CreatePermissionSet) -> Result<PermissionSet, ApiError> {
    with_body(Method::POST, "/permission-sets", set).await
}

pub async fn update_permission_set(
    id: &str,
    change: &UpdatePermissionSet,
) -> Result<PermissionSet, ApiError> {
    with_body(
        Method::PATCH,
        &format!("/permission-sets/{}", segment(id)),
        change,
    )
    .await
}

pub async fn delete_permission_set(id: &str) -> Result<(), ApiError> {
    without_answer(Method::DELETE, &format!("/permission-sets/{}", segment(id))).await
}

/// The permission set's RAM role in each account it is assigned on.
pub async fn permission_set_roles(id: &str) -> Result<Vec<ProvisionedRole>, ApiError> {
    get(&format!("/permission-sets/{}/roles", segment(id))).await
}

/// Provisions the role in `request.account_ids` (every account it has a role in when `None`).
pub async fn provision(
    id: &str,
    request: &ProvisionRequest,
) -> Result<Vec<ProvisionedRole>, ApiError> {
    with_body(
        Method::POST,
        &format!("/permission-sets/{}/provision", segment(id)),
        request,
    )
    .await
}

pub async fn system_policies() -> Result<Vec<SystemPolicy>, ApiError> {
    get("/system-policies").await
}

/// The assignments of one permission set.
pub async fn assignments_of(permission_set_id: &str) -> Result<Vec<Assignment>, ApiError> {
    get(&format!(
        "/assignments?permission_set_id={}",
        segment(permission_set_id)
    ))
    .await
}

pub async fn create_assignment(assignment: &CreateAssignment) -> Result<Assignment, ApiError> {
    with_body(Method::POST, "/assignments", assignment).await
}

pub async fn delete_assignment(id: &str) -> Result<(), ApiError> {
    without_answer(Method::DELETE, &format!("/assignments/{}", segment(id))).await
}

/// Says whether a RAM policy document parses, and where it does not.
/// Checks `document` in its own language, or in `language` when given (a document in the
/// other language is then not valid).
pub async fn validate_policy(
    document: &str,
    language: Option<PolicyLanguage>,
) -> Result<PolicyValidation, ApiError> {
    let request = ValidatePolicy {
        document: document.to_string(),
        language,
        provider: None,
    };
    with_body(Method::POST, "/policies/validate", &request).await
}

pub async fn simulate(request: &SimulatePolicy) -> Result<Simulation, ApiError> {
    with_body(Method::POST, "/policies/simulate", request).await
}

// --- the portal ------------------------------------------------------------------------

pub async fn portal() -> Result<Portal, ApiError> {
    get("/portal").await
}

/// The demo company's guide (administrators), `None` when there is none.
pub async fn demo_guide() -> Result<Option<DemoGuide>, ApiError> {
    get("/demo").await
}

pub async fn remove_demo() -> Result<DemoRemoved, ApiError> {
    read(send(Method::DELETE, "/demo", None::<&()>).await?).await
}

/// Credentials just issued, and how far the browser's clock is behind the server's.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub credentials: IssuedCredentials,
    /// Server time minus browser time, in milliseconds, from the answer's `Date` header; 0
    /// when the clocks agree within a few seconds (the header counts whole seconds) or the
    /// header is missing. A countdown adds it to the browser's clock.
    pub clock_skew_ms: f64,
}

pub async fn issue_credentials(request: &IssueCredentials) -> Result<Issued, ApiError> {
    let response = send(Method::POST, "/portal/credentials", Some(request)).await?;
    let local = js_sys::Date::now();
    let server = response
        .headers()
        .get("date")
        // The header counts whole seconds: the middle of that second is the best guess.
        .map_or(f64::NAN, |d| js_sys::Date::parse(&d) + 500.0);
    let skew = server - local;
    let clock_skew_ms = if skew.is_finite() && skew.abs() > 5_000.0 {
        skew
    } else {
        0.0
    };
    Ok(Issued {
        credentials: read(response).await?,
        clock_skew_ms,
    })
}

/// How to sign in to the console of one account as one permission set (for `alibaba`, a
/// fresh SAML response to post).
pub async fn console_sign_in(request: &ConsoleRequest) -> Result<ConsoleSignIn, ApiError> {
    with_body(Method::POST, "/portal/console", request).await
}

pub async fn credential_uris() -> Result<Vec<CredentialUri>, ApiError> {
    get("/portal/credential-uris").await
}

/// Creates a `credentials_uri`; its `url` is in this answer only.
pub async fn create_credential_uri(
    request: &CreateCredentialUri,
) -> Result<CredentialUri, ApiError> {
    with_body(Method::POST, "/portal/credential-uris", request).await
}

pub async fn revoke_credential_uri(id: &str) -> Result<(), ApiError> {
    without_answer(
        Method::DELETE,
        &format!("/portal/credential-uris/{}", segment(id)),
    )
    .await
}

// --- audit -----------------------------------------------------------------------------

/// The filters of `GET /api/v1/audit/events`; empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// RFC 3339 UTC.
    pub from: String,
    /// RFC 3339 UTC.
    pub to: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
}

/// The query string (`?…`, or empty) for `query` plus `extra` pairs; empty values are left out.
fn audit_query_string(query: &AuditQuery, extra: &[(&str, &str)]) -> String {
    let pairs = [
        ("from", query.from.as_str()),
        ("to", query.to.as_str()),
        ("actor", query.actor.trim()),
        ("action", query.action.trim()),
        ("target", query.target.trim()),
        ("outcome", query.outcome.as_str()),
    ];
    let mut encoded = String::new();
    for (key, value) in pairs
        .into_iter()
        .chain(extra.iter().copied())
        .filter(|(_, v)| !v.is_empty())
    {
        encoded.push(if encoded.is_empty() { '?' } else { '&' });
        encoded.push_str(key);
        encoded.push('=');
        encoded.push_str(&segment(value));
    }
    encoded
}

pub async fn audit_events(query: &AuditQuery, cursor: Option<&str>) -> Result<AuditPage, ApiError> {
    let encoded = audit_query_string(query, &[("cursor", cursor.unwrap_or_default())]);
    get(&format!("/audit/events{encoded}")).await
}

/// Where the browser downloads every event matching `query` (`format`: `csv` or `jsonl`).
pub fn audit_export_url(query: &AuditQuery, format: &str) -> String {
    format!(
        "/api/v1/audit/export{}",
        audit_query_string(query, &[("format", format)])
    )
}

/// One subject's story (a request, a user, …), oldest first.
pub async fn audit_timeline(subject: &str) -> Result<Vec<AuditEvent>, ApiError> {
    get(&format!("/audit/timeline/{}", segment(subject))).await
}

pub async fn audit_verify() -> Result<VerifyReport, ApiError> {
    get("/audit/verify").await
}

// --- break-glass -----------------------------------------------------------------------

pub async fn vault_entries() -> Result<Vec<VaultEntry>, ApiError> {
    get("/break-glass/vault").await
}

pub async fn create_vault_entry(entry: &CreateVaultEntry) -> Result<VaultEntry, ApiError> {
    with_body(Method::POST, "/break-glass/vault", entry).await
}

pub async fn record_rotation(id: &str, rotation: &RecordRotation) -> Result<VaultEntry, ApiError> {
    let path = format!("/break-glass/vault/{}/rotated", segment(id));
    with_body(Method::POST, &path, rotation).await
}

pub async fn break_glass_requests() -> Result<Vec<BreakGlassRequest>, ApiError> {
    get("/break-glass/requests").await
}

pub async fn create_break_glass(request: &CreateBreakGlass) -> Result<BreakGlassRequest, ApiError> {
    with_body(Method::POST, "/break-glass/requests", request).await
}

pub async fn break_glass(id: &str) -> Result<BreakGlassDetail, ApiError> {
    get(&format!("/break-glass/requests/{}", segment(id))).await
}

/// `verb`: `approve`, `reject`.
pub async fn decide_break_glass(
    id: &str,
    verb: &str,
    decision: &DecideBreakGlass,
) -> Result<BreakGlassRequest, ApiError> {
    let path = format!("/break-glass/requests/{}/{verb}", segment(id));
    with_body(Method::POST, &path, decision).await
}

pub async fn cancel_break_glass(id: &str) -> Result<BreakGlassRequest, ApiError> {
    let path = format!("/break-glass/requests/{}/cancel", segment(id));
    with_body(Method::POST, &path, &serde_json::json!({})).await
}

pub async fn reveal(id: &str, what: RevealWhat) -> Result<Revealed, ApiError> {
    let path = format!("/break-glass/requests/{}/reveal", segment(id));
    with_body(Method::POST, &path, &RevealRequest { what }).await
}

pub async fn root_session(id: &str, task: RootTask) -> Result<RootSession, ApiError> {
    let path = format!("/break-glass/requests/{}/root-session", segment(id));
    let body = RootSessionRequest {
        task,
        duration_secs: None,
    };
    with_body(Method::POST, &path, &body).await
}

pub async fn review_break_glass(id: &str, note: &str) -> Result<BreakGlassRequest, ApiError> {
    let path = format!("/break-glass/requests/{}/review", segment(id));
    with_body(Method::POST, &path, &ReviewNote { note: note.into() }).await
}

// --- notifications -----------------------------------------------------------------------

pub async fn notification_endpoints() -> Result<Vec<Endpoint>, ApiError> {
    get("/notification-endpoints").await
}

pub async fn create_notification_endpoint(
    endpoint: &CreateEndpoint,
) -> Result<EndpointWithSecret, ApiError> {
    with_body(Method::POST, "/notification-endpoints", endpoint).await
}

pub async fn update_notification_endpoint(
    id: &str,
    change: &UpdateEndpoint,
) -> Result<Endpoint, ApiError> {
    let path = format!("/notification-endpoints/{}", segment(id));
    with_body(Method::PATCH, &path, change).await
}

pub async fn delete_notification_endpoint(id: &str) -> Result<(), ApiError> {
    let path = format!("/notification-endpoints/{}", segment(id));
    without_answer(Method::DELETE, &path).await
}

pub async fn send_test_notification(id: &str) -> Result<TestSent, ApiError> {
    let path = format!("/notification-endpoints/{}/test", segment(id));
    with_body(Method::POST, &path, &serde_json::json!({})).await
}

pub async fn rotate_notification_secret(id: &str) -> Result<EndpointWithSecret, ApiError> {
    let path = format!("/notification-endpoints/{}/rotate-secret", segment(id));
    with_body(Method::POST, &path, &serde_json::json!({})).await
}

pub async fn notification_deliveries(
    endpoint: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<Delivery>, ApiError> {
    let mut path = String::from("/notification-deliveries?limit=100");
    if let Some(e) = endpoint {
        path.push_str(&format!("&endpoint={}", segment(e)));
    }
    if let Some(s) = status {
        path.push_str(&format!("&status={}", segment(s)));
    }
    get(&path).await
}

pub async fn notification_settings() -> Result<MailSettings, ApiError> {
    get("/notification-settings").await
}

// --- just-in-time access ---------------------------------------------------------------

/// A fresh MFA check (TOTP) for the current session, e.g. before an approval that needs one.
pub async fn step_up(code: &TotpCode) -> Result<Me, ApiError> {
    keep_me(with_body(Method::POST, "/auth/step-up", code).await)
}

pub async fn eligibility() -> Result<Eligibility, ApiError> {
    get("/requests/eligibility").await
}

pub async fn my_requests() -> Result<Vec<AccessRequest>, ApiError> {
    get("/requests").await
}

pub async fn create_request(request: &CreateAccessRequest) -> Result<AccessRequest, ApiError> {
    with_body(Method::POST, "/requests", request).await
}

pub async fn waiting() -> Result<Waiting, ApiError> {
    get("/approvals/waiting").await
}

pub async fn waiting_count() -> Result<WaitingCount, ApiError> {
    get("/approvals/count").await
}

/// `verb` is one of `approve`, `reject`, `cancel`, `end`, `revoke`.
pub async fn request_action(
    id: &str,
    verb: &'static str,
    input: &DecisionInput,
) -> Result<AccessRequest, ApiError> {
    with_body(
        Method::POST,
        &format!("/requests/{}/{verb}", segment(id)),
        input,
    )
    .await
}

// --- access policies (administrators write, auditors read) -----------------------------

pub async fn eligibility_policies() -> Result<Vec<EligibilityPolicy>, ApiError> {
    get("/eligibility-policies").await
}

/// Creates (`id` none) or replaces an eligibility policy.
pub async fn save_eligibility_policy(
    id: Option<&str>,
    policy: &EligibilityPolicyInput,
) -> Result<EligibilityPolicy, ApiError> {
    match id {
        Some(id) => {
            let path = format!("/eligibility-policies/{}", segment(id));
            with_body(Method::PUT, &path, policy).await
        }
        None => with_body(Method::POST, "/eligibility-policies", policy).await,
    }
}

pub async fn delete_eligibility_policy(id: &str) -> Result<(), ApiError> {
    let path = format!("/eligibility-policies/{}", segment(id));
    without_answer(Method::DELETE, &path).await
}

pub async fn approval_policies() -> Result<Vec<ApprovalPolicy>, ApiError> {
    get("/approval-policies").await
}

/// Creates (`id` none) or replaces an approval policy.
pub async fn save_approval_policy(
    id: Option<&str>,
    policy: &ApprovalPolicyInput,
) -> Result<ApprovalPolicy, ApiError> {
    match id {
        Some(id) => {
            let path = format!("/approval-policies/{}", segment(id));
            with_body(Method::PUT, &path, policy).await
        }
        None => with_body(Method::POST, "/approval-policies", policy).await,
    }
}

pub async fn delete_approval_policy(id: &str) -> Result<(), ApiError> {
    let path = format!("/approval-policies/{}", segment(id));
    without_answer(Method::DELETE, &path).await
}
