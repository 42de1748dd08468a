//! Sign-in, sessions, who-am-I and TOTP.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Gatehouse's own roles, granted through membership of a group that carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Configures identity providers, the directory, accounts, permission sets and policies.
    Administrator,
    /// Reads, searches, exports and verifies the audit trail; changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Administrator, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Auditor => "auditor",
        }
    }

    /// Parses the stored or typed name of a role.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Required when the user has TOTP enrolled; the server answers `totp_required` without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
}

/// A reference to a user as shown next to other things.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: String,
    pub username: String,
    pub display_name: String,
}

/// A reference to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// The MFA state of the current session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaState {
    /// The user has a confirmed TOTP authenticator.
    pub totp_enrolled: bool,
    /// The identity provider asserted MFA at sign-in.
    pub idp_mfa: bool,
    /// When this session last passed MFA (TOTP at sign-in or step-up), if ever.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_mfa_at: Option<OffsetDateTime>,
    /// Whether that was recent enough for actions that demand a fresh MFA check.
    pub fresh: bool,
}

/// `GET /api/v1/me`: who is signed in, with what rights, and the session's CSRF token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: UserRef,
    pub email: String,
    pub groups: Vec<GroupRef>,
    pub roles: Vec<Role>,
    pub mfa: MfaState,
    /// Send as the `X-CSRF-Token` header on every state-changing request.
    pub csrf_token: String,
    /// How the session was established: `password`, `password+totp`, `saml:<idp>`, `oidc:<idp>`
    /// (`<idp>` is the identity provider's name at sign-in).
    pub auth_method: String,
    /// Whether the user has a Gatehouse password (people who sign in only through an
    /// identity provider have none, and change it there).
    #[serde(default)]
    pub password_set: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub session_expires_at: OffsetDateTime,
}

/// `POST /api/v1/me/mfa/totp`: start (or replace) TOTP enrolment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TotpEnrollRequest {
    /// A current code from the existing authenticator, required when replacing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_code: Option<String>,
}

/// A pending TOTP secret to be scanned; it takes effect once confirmed with a code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotpEnrollment {
    pub secret_base32: String,
    pub otpauth_uri: String,
    /// The `otpauth://` URI as an SVG QR code.
    pub qr_svg: String,
}

/// `POST /api/v1/me/mfa/totp/confirm` and `POST /api/v1/auth/step-up`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotpCode {
    pub code: String,
}

/// `POST /api/v1/me/password`: change one's own password. Other sessions end; this one stays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}
