//! The one error edge: every domain error becomes an [`ApiError`], and [`ApiError`] becomes
//! a status and a stable `code` in the one envelope, in a single exhaustive `match`.
//! Internal errors are logged with a correlation id and never described to the caller.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_shared::error::{ErrorBody, ErrorCode, ErrorEnvelope, FieldError};

use crate::access_requests::RequestError;
use crate::auth::AuthError;
use crate::break_glass::BreakGlassError;
use crate::cloud::RootRefusal;
use crate::directory::DirectoryError;
use crate::federation::errors::IdpError;
use crate::notifications::NotifyError;
use crate::permission_sets::PermissionSetError;
use crate::store::StoreError;
use crate::sts::IssueError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("Sign in to continue.")]
    Unauthenticated,
    #[error("The username or password is incorrect.")]
    InvalidCredentials,
    #[error("Enter the 6-digit code from your authenticator app.")]
    TotpRequired,
    #[error("{0}")]
    InvalidTotp(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    CsrfFailed(&'static str),
    #[error("{0}")]
    MfaRequired(&'static str),
    #[error("This account is disabled. Ask an administrator to enable it.")]
    AccountDisabled,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("This method is not allowed on this path.")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("The request body is too large.")]
    PayloadTooLarge,
    #[error("Send the request body as JSON with Content-Type: application/json.")]
    UnsupportedMediaType,
    #[error("Some fields are invalid.")]
    Validation(Vec<FieldError>),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: i64,
    },
    #[error("The database cannot be reached.")]
    Unavailable,
    /// Too many password checks at once: 503 with `Retry-After: 1`.
    #[error("The server is busy checking other sign-ins; try again in a moment.")]
    Busy,
    /// More requests of this kind than the server can work on at once: 503 with
    /// `Retry-After: 1` (see [`crate::http::admission`]).
    #[error("The server is busy with other requests of this kind; try again in a moment.")]
    Overloaded,
    #[error("You cannot approve or reject your own request.")]
    SelfApproval,
    #[error("{0}")]
    NotEligible(&'static str),
    #[error("{0}")]
    Unapprovable(String),
    #[error("{0}")]
    InvalidState(String),
    /// The account's cloud refused; the message names the cause and the cloud's code.
    #[error("{0}")]
    CloudRefused(String),
    /// The account's cloud could not be reached or answered nonsense.
    #[error("{0}")]
    CloudUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    pub fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidJson),
            ApiError::InvalidQuery(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidQuery),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated),
            ApiError::InvalidCredentials => {
                (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials)
            }
            ApiError::TotpRequired => (StatusCode::UNAUTHORIZED, ErrorCode::TotpRequired),
            ApiError::InvalidTotp(_) => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidTotp),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            ApiError::CsrfFailed(_) => (StatusCode::FORBIDDEN, ErrorCode::CsrfFailed),
            ApiError::MfaRequired(_) => (StatusCode::FORBIDDEN, ErrorCode::MfaRequired),
            ApiError::AccountDisabled => (StatusCode::FORBIDDEN, ErrorCode::AccountDisabled),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            ApiError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed)
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            ApiError::PayloadTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
            }
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            ApiError::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
            ),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            ApiError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Overloaded),
            ApiError::Unavailable | ApiError::Busy => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
            ApiError::SelfApproval => (StatusCode::FORBIDDEN, ErrorCode::SelfApproval),
            ApiError::NotEligible(_) => (StatusCode::FORBIDDEN, ErrorCode::NotEligible),
            ApiError::Unapprovable(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Unapprovable)
            }
            ApiError::InvalidState(_) => (StatusCode::CONFLICT, ErrorCode::InvalidState),
            ApiError::CloudRefused(_) => (StatusCode::BAD_GATEWAY, ErrorCode::CloudRefused),
            ApiError::CloudUnavailable(_) => (StatusCode::BAD_GATEWAY, ErrorCode::CloudUnavailable),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Internal(detail) => {
                let id = uuid::Uuid::new_v4();
                tracing::error!(error_id = %id, %detail, "internal error");
                format!("Something went wrong on our side (error id {id}). It has been logged.")
            }
            other => other.to_string(),
        };
        let fields = match &self {
            ApiError::Validation(f) => f.clone(),
            _ => Vec::new(),
        };
        let mut resp = (
            status,
            axum::Json(ErrorEnvelope {
                error: ErrorBody {
                    code,
                    message,
                    fields,
                },
            }),
        )
            .into_response();
        let retry_after = match self {
            ApiError::RateLimited {
                retry_after_secs, ..
            } => Some(retry_after_secs.max(1)),
            ApiError::Busy | ApiError::Unavailable | ApiError::Overloaded => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        if matches!(self, ApiError::Unavailable) {
            resp.extensions_mut()
                .insert(crate::http::availability::DatabaseUnreachable);
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("No such item."),
            StoreError::Conflict(what) => {
                let mut chars = what.chars();
                let sentence = chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                    .unwrap_or_default();
                ApiError::Conflict(format!("{sentence} already exists."))
            }
            other if other.is_unavailable() => {
                tracing::warn!(error = %other, "the database could not be reached");
                ApiError::Unavailable
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => ApiError::InvalidCredentials,
            AuthError::TotpRequired => ApiError::TotpRequired,
            AuthError::InvalidTotp => ApiError::InvalidTotp(
                "That code is not correct. Check your device's clock and enter the current code.",
            ),
            AuthError::TotpReplayed => ApiError::InvalidTotp(
                "That code was already used. Wait for the next code and try again.",
            ),
            AuthError::NoPendingTotp => ApiError::Conflict(
                "There is no authenticator set-up in progress; start again.".into(),
            ),
            AuthError::CurrentTotpRequired => ApiError::Validation(vec![FieldError::new(
                "current_code",
                "Enter a current code from your existing authenticator to replace it.",
            )]),
            AuthError::WrongCurrentPassword => ApiError::Validation(vec![FieldError::new(
                "current_password",
                "Your current password is not correct.",
            )]),
            AuthError::NoPassword => ApiError::Conflict(
                "You sign in through your identity provider and have no Gatehouse password; \
                 change your password there."
                    .into(),
            ),
            AuthError::WeakPassword(message) => {
                ApiError::Validation(vec![FieldError::new("new_password", message)])
            }
            AuthError::Disabled => ApiError::AccountDisabled,
            AuthError::RateLimited {
                scope,
                retry_after_secs,
            } => {
                let minutes = (retry_after_secs + 59) / 60;
                ApiError::RateLimited {
                    message: if scope == "totp" {
                        format!(
                            "Too many wrong authenticator codes. For your protection, codes are \
                             not accepted for {minutes} minute(s); try again after that."
                        )
                    } else {
                        format!(
                            "Too many failed sign-in attempts for this {scope}. Try again in \
                             {minutes} minute(s)."
                        )
                    },
                    retry_after_secs,
                }
            }
            AuthError::Busy => ApiError::Busy,
            AuthError::Store(e) => e.into(),
            AuthError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Invalid(fields) => ApiError::Validation(fields),
            DirectoryError::SelfLockout(why) => ApiError::Conflict(why.to_string()),
            DirectoryError::UserNotFound => ApiError::NotFound("No user with this ID."),
            DirectoryError::GroupNotFound => ApiError::NotFound("No group with this ID."),
            DirectoryError::AccountNotFound => ApiError::NotFound("No account with this ID."),
            DirectoryError::NotAMember => {
                ApiError::NotFound("That user is not a member of this group.")
            }
            DirectoryError::Auth(e) => e.into(),
            DirectoryError::Store(e) => e.into(),
        }
    }
}

impl From<PermissionSetError> for ApiError {
    fn from(e: PermissionSetError) -> Self {
        match e {
            PermissionSetError::Invalid(fields) => ApiError::Validation(fields),
            PermissionSetError::PermissionSetNotFound => {
                ApiError::NotFound("No permission set with this ID.")
            }
            PermissionSetError::AssignmentNotFound => {
                ApiError::NotFound("No assignment with this ID.")
            }
            PermissionSetError::UserNotFound => ApiError::NotFound("No user with this ID."),
            PermissionSetError::GroupNotFound => ApiError::NotFound("No group with this ID."),
            PermissionSetError::AccountNotFound => ApiError::NotFound("No account with this ID."),
            PermissionSetError::NotAssignedOnAccount => ApiError::NotFound(
                "This permission set is not assigned on that account, so it has no role there.",
            ),
            PermissionSetError::StillAssigned(n) => ApiError::Conflict(format!(
                "This permission set is still assigned {n} time(s). Delete its assignments first."
            )),
            PermissionSetError::Store(e) => e.into(),
        }
    }
}

impl From<IssueError> for ApiError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::Invalid(fields) => ApiError::Validation(fields),
            IssueError::NotAssigned => {
                ApiError::Forbidden("You are not assigned this permission set on this account.")
            }
            IssueError::NotProvisioned => ApiError::Conflict(
                "This role is not provisioned in the account yet. Ask an administrator to provision it."
                    .into(),
            ),
            IssueError::Cloud { fault, message } => cloud_error(&fault, message),
            IssueError::Store(e) => e.into(),
        }
    }
}

/// A cloud's fault as an API error: could not be reached, or refused (never a 500).
pub fn cloud_error(fault: &gatehouse_shared::cloud::CloudFault, message: String) -> ApiError {
    if matches!(fault.code.as_str(), "Unreachable" | "BadResponse")
        || fault.code.starts_with("Http5")
    {
        ApiError::CloudUnavailable(message)
    } else {
        ApiError::CloudRefused(message)
    }
}

impl From<BreakGlassError> for ApiError {
    fn from(e: BreakGlassError) -> Self {
        match e {
            BreakGlassError::Invalid(fields) => ApiError::Validation(fields),
            BreakGlassError::EntryNotFound => ApiError::NotFound("No vault entry with this ID."),
            BreakGlassError::RequestNotFound => {
                ApiError::NotFound("No break-glass request with this ID.")
            }
            BreakGlassError::NotCustodian => ApiError::Forbidden(
                "Only the password or MFA custodians of this vault entry can do this.",
            ),
            BreakGlassError::OwnRequest => {
                ApiError::Forbidden("No one can approve or reject their own break-glass request.")
            }
            BreakGlassError::MfaRequired => ApiError::MfaRequired(
                "Confirm with a current code from your authenticator first (step-up within the last 5 minutes; set up an authenticator on your account page if you have none).",
            ),
            BreakGlassError::NotPending(status) => ApiError::Conflict(format!(
                "This request is {status}; it can no longer be decided or cancelled."
            )),
            BreakGlassError::AlreadyDecided => {
                ApiError::Conflict("You have already decided on this request.".into())
            }
            BreakGlassError::NotRequester => {
                ApiError::Forbidden("Only the person who asked can do this.")
            }
            BreakGlassError::WindowNotOpen => ApiError::Conflict(
                "The reveal window of this request is not open: it opens when the custodians approve and closes when its time is up."
                    .into(),
            ),
            BreakGlassError::ReviewNotDue => ApiError::Conflict(
                "A review note is written after the root credential was used.".into(),
            ),
            BreakGlassError::AlreadyReviewed => {
                ApiError::Conflict("This request already has its review note.".into())
            }
            BreakGlassError::SplitCustody(m) => ApiError::Forbidden(m),
            BreakGlassError::EntryExists => {
                ApiError::Conflict("This account already has a vault entry.".into())
            }
            BreakGlassError::Root(RootRefusal::Unavailable(m)) => ApiError::Conflict(m),
            BreakGlassError::Root(RootRefusal::Cloud { fault, message }) => {
                cloud_error(&fault, message)
            }
            BreakGlassError::Root(RootRefusal::Store(e)) => e.into(),
            BreakGlassError::Auth(e) => e.into(),
            BreakGlassError::Store(e) => e.into(),
        }
    }
}

impl From<crate::demo::DemoError> for ApiError {
    fn from(e: crate::demo::DemoError) -> Self {
        use crate::demo::DemoError;
        match e {
            DemoError::Directory(e) => e.into(),
            DemoError::PermissionSet(e) => e.into(),
            DemoError::Request(e) => e.into(),
            DemoError::BreakGlass(e) => e.into(),
            DemoError::Store(e) => e.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            JsonRejection::JsonDataError(e) => ApiError::InvalidJson(format!(
                "The JSON does not have the expected shape: {}",
                e.body_text()
            )),
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::InvalidJson(format!("The body is not valid JSON: {}", e.body_text()))
            }
            other => ApiError::InvalidJson(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::InvalidQuery(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::InvalidQuery(r.body_text())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::Invalid(fields) => ApiError::Validation(fields),
            NotifyError::EndpointNotFound => ApiError::NotFound("No such notification endpoint."),
            NotifyError::Store(e) => ApiError::from(e),
        }
    }
}

impl From<IdpError> for ApiError {
    fn from(e: IdpError) -> Self {
        match e {
            IdpError::Invalid(fields) => ApiError::Validation(fields),
            IdpError::NotFound => ApiError::NotFound("No identity provider with this ID."),
            IdpError::Store(e) => e.into(),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Invalid(fields) => ApiError::Validation(fields),
            RequestError::NotFound => ApiError::NotFound("No such request."),
            RequestError::PolicyNotFound => ApiError::NotFound("No such policy."),
            RequestError::NotEligible => ApiError::NotEligible(
                "You are not eligible to request this permission set on this account.",
            ),
            RequestError::Unapprovable(why) => ApiError::Unapprovable(why),
            RequestError::SelfApproval => ApiError::SelfApproval,
            RequestError::NotApprover => {
                ApiError::Forbidden("You are not an approver of this request.")
            }
            RequestError::MfaRequired => ApiError::MfaRequired(
                "This approval needs a fresh MFA check: enter a code from your authenticator.",
            ),
            RequestError::AlreadyDecided => {
                ApiError::Conflict("You have already decided on this request.".into())
            }
            RequestError::WrongState(s) => ApiError::InvalidState(format!(
                "This request is {} and can no longer be changed that way.",
                s.label().to_lowercase()
            )),
            RequestError::NotRequester => {
                ApiError::Forbidden("Only the person who asked can do this.")
            }
            RequestError::NotRevoker => ApiError::Forbidden(
                "Only an administrator or an approver of this request can revoke the grant.",
            ),
            RequestError::NothingDue | RequestError::Busy => ApiError::Conflict(
                "The request changed while this was being decided; reload it and try again.".into(),
            ),
            RequestError::Store(e) => e.into(),
        }
    }
}
