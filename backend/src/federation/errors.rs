//! Why a federated sign-in was refused: one stable reason code per cause (shown to the
//! person and written to the audit trail) and a sentence a person understands. Also the
//! administration errors (mapped onto the API's one error edge in `http/error.rs`).

use gatehouse_shared::error::FieldError;

use super::saml::Refusal;
use crate::store::StoreError;

/// A refused federated sign-in. `code()` is stable; `detail()` is the precise reason for
/// the audit trail (never a secret, never shown to the person).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInRefusal {
    UnknownIdp,
    IdpDisabled,
    /// The browser did not present the cookie its sign-in started with.
    BindingMissing,
    /// `state` names no sign-in this browser started (or it was used or expired).
    UnknownState,
    /// The IdP sent back an error instead of a code.
    IdpError(String),
    /// The RFC 9207 `iss` response parameter names another issuer.
    IssParameter,
    MissingCode,
    Discovery(String),
    /// The token endpoint refused the code (reused code, wrong PKCE verifier, …).
    TokenExchange(String),
    NoIdToken,
    /// The ID token failed a check; the code says which.
    IdToken(&'static str, String),
    Userinfo(String),
    UserinfoSubject,
    Saml(Refusal),
    SamlUnavailable,
    MissingSubject,
    MissingEmail,
    /// No linked account, and neither linking by e-mail nor JIT creation applies.
    NoAccount,
    AmbiguousEmail,
    UsernameTaken,
    UsernameInvalid,
    AccountDisabled,
    Internal(String),
    /// Not admitted: more sign-ins at once than the server works on (see
    /// [`crate::http::admission`]).
    Busy,
}

impl SignInRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownIdp => "idp_unknown",
            Self::IdpDisabled => "idp_disabled",
            Self::BindingMissing => "binding_missing",
            Self::UnknownState => "oidc_state",
            Self::IdpError(_) => "idp_error",
            Self::IssParameter => "oidc_iss_parameter",
            Self::MissingCode => "oidc_no_code",
            Self::Discovery(_) => "oidc_discovery",
            Self::TokenExchange(_) => "oidc_token_exchange",
            Self::NoIdToken => "oidc_no_id_token",
            Self::IdToken(code, _) => code,
            Self::Userinfo(_) => "oidc_userinfo",
            Self::UserinfoSubject => "oidc_userinfo_sub",
            Self::Saml(r) => r.code(),
            Self::SamlUnavailable => "saml_unavailable",
            Self::MissingSubject => "no_subject",
            Self::MissingEmail => "no_email",
            Self::NoAccount => "no_account",
            Self::AmbiguousEmail => "email_ambiguous",
            Self::UsernameTaken => "jit_username_taken",
            Self::UsernameInvalid => "jit_username_invalid",
            Self::AccountDisabled => "account_disabled",
            Self::Internal(_) => "internal",
            Self::Busy => "busy",
        }
    }

    /// What the person reads.
    pub fn message(&self) -> String {
        match self {
            // The SAML core words each refusal itself, with the detail a person can act on.
            Self::Saml(r) => r.message(),
            other => other.fixed_message().to_string(),
        }
    }

    fn fixed_message(&self) -> &'static str {
        match self {
            Self::UnknownIdp => "This sign-in option does not exist.",
            Self::IdpDisabled => "This sign-in option is switched off. Ask an administrator.",
            Self::BindingMissing | Self::UnknownState => {
                "This sign-in was not started in this browser, took too long, or was already used. Start again."
            }
            Self::IdpError(_) => "Your identity provider did not sign you in.",
            Self::IssParameter
            | Self::MissingCode
            | Self::NoIdToken
            | Self::IdToken(..)
            | Self::Userinfo(_)
            | Self::UserinfoSubject
            | Self::TokenExchange(_) => {
                "Your identity provider's answer could not be trusted, so you were not signed in."
            }
            Self::Discovery(_) => {
                "Gatehouse could not reach your identity provider. Try again later or tell an administrator."
            }
            Self::Saml(_) => "The sign-in response could not be trusted, so you were not signed in.",
            Self::SamlUnavailable => "SAML sign-in is not available on this server.",
            Self::MissingSubject | Self::MissingEmail => {
                "Your identity provider did not say who you are (a required attribute is missing). Tell an administrator."
            }
            Self::NoAccount => {
                "You have no Gatehouse account for this identity provider. Ask an administrator for access."
            }
            Self::AmbiguousEmail => {
                "More than one Gatehouse account has your e-mail address, so none was chosen. Tell an administrator."
            }
            Self::UsernameTaken | Self::UsernameInvalid => {
                "A Gatehouse account could not be created for you automatically. Tell an administrator."
            }
            Self::AccountDisabled => "Your Gatehouse account is disabled. Ask an administrator.",
            Self::Internal(_) => "Something went wrong on our side. It has been logged; try again.",
            Self::Busy => {
                "Gatehouse is busy with other sign-ins. Sign in again in a moment."
            }
        }
    }

    /// The precise reason for the audit trail.
    pub fn detail(&self) -> Option<String> {
        match self {
            Self::IdpError(d)
            | Self::Discovery(d)
            | Self::TokenExchange(d)
            | Self::IdToken(_, d)
            | Self::Userinfo(d) => Some(d.clone()),
            Self::Saml(Refusal::StatusNotSuccess(s)) => Some(format!("status {s}")),
            Self::Saml(Refusal::AlgorithmForbidden(a)) => Some(format!("algorithm {a}")),
            Self::Saml(Refusal::AssertionCount(n)) => Some(format!("{n} assertions")),
            _ => None,
        }
    }
}

impl From<StoreError> for SignInRefusal {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Administration of identity providers.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("invalid")]
    Invalid(Vec<FieldError>),
    #[error("no such identity provider")]
    NotFound,
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl IdpError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}
