//! Local sign-in (Argon2id passwords + TOTP), server-side sessions with rotation and
//! timeouts, CSRF tokens, sign-in throttling, step-up MFA, and Gatehouse's role checks.
//! Federated sign-in (SAML, OIDC; `crate::federation`) ends in the same [`sessions`]
//! machinery.

pub mod login;
pub mod password;
pub mod routes;
pub mod sessions;
pub mod totp;

/// Why a sign-in or an MFA step was refused. Mapped to statuses at the one error edge.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("a TOTP code is required")]
    TotpRequired,
    #[error("wrong TOTP code")]
    InvalidTotp,
    #[error("TOTP code already used")]
    TotpReplayed,
    #[error("no TOTP enrolment is pending")]
    NoPendingTotp,
    #[error("the current TOTP code is required to replace the authenticator")]
    CurrentTotpRequired,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("the user has no password here")]
    NoPassword,
    #[error("{0}")]
    WeakPassword(String),
    #[error("account disabled")]
    Disabled,
    #[error("too many failed attempts")]
    RateLimited {
        scope: &'static str,
        retry_after_secs: i64,
    },
    /// No turn to hash a password came in time (`password_hash_concurrency` are running);
    /// the password was not looked at.
    #[error("too many password checks at once")]
    Busy,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Internal(String),
}
