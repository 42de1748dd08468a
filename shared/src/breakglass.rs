//! The root-credential vault and split-custody break-glass requests as the API shows them,
//! and the input rules both sides apply. No type here ever carries the root password or the
//! TOTP seed, except [`Revealed`], the answer of the audited reveal.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::AuditEvent;
use crate::auth::GroupRef;
use crate::error::FieldError;

pub const DEFAULT_APPROVALS: i64 = 1;
pub const MAX_APPROVALS: i64 = 5;
pub const DEFAULT_WINDOW_SECS: i64 = 900;
pub const MIN_WINDOW_SECS: i64 = 60;
pub const MAX_WINDOW_SECS: i64 = 3_600;
/// A task-scoped root session lasts at most this long.
pub const MAX_ROOT_SESSION_SECS: i64 = 900;
pub const MIN_JUSTIFICATION_CHARS: usize = 10;
pub const MAX_TEXT_CHARS: usize = 2_000;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// `GET /api/v1/break-glass/vault`: one account's root credential, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultEntry {
    pub id: String,
    pub account_id: String,
    pub account_name: String,
    pub password_custodians: GroupRef,
    pub mfa_custodians: GroupRef,
    /// M: approvals needed from the password custodians.
    pub password_approvals: i64,
    /// N: approvals needed from the MFA custodians.
    pub mfa_approvals: i64,
    pub window_secs: i64,
    pub rotation: RotationState,
    /// Whether the signed-in person is in either custodian group.
    pub is_custodian: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// "Rotation required since T", and the last recorded rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationState {
    pub required: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub required_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub rotated_at: Option<OffsetDateTime>,
    pub rotated_by: Option<String>,
}

/// `POST /api/v1/break-glass/vault`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateVaultEntry {
    pub account_id: String,
    pub password: String,
    /// The root MFA device's TOTP seed, base32 as authenticator apps show it.
    pub totp_seed: String,
    pub password_group_id: String,
    pub mfa_group_id: String,
    #[serde(default)]
    pub password_approvals: Option<i64>,
    #[serde(default)]
    pub mfa_approvals: Option<i64>,
    #[serde(default)]
    pub window_secs: Option<i64>,
}

/// `PATCH /api/v1/break-glass/vault/{id}`: custody settings (secrets change only by rotation).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateVaultEntry {
    #[serde(default)]
    pub password_group_id: Option<String>,
    #[serde(default)]
    pub mfa_group_id: Option<String>,
    #[serde(default)]
    pub password_approvals: Option<i64>,
    #[serde(default)]
    pub mfa_approvals: Option<i64>,
    #[serde(default)]
    pub window_secs: Option<i64>,
}

/// `POST /api/v1/break-glass/vault/{id}/rotated`: the new password and/or TOTP seed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecordRotation {
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub totp_seed: Option<String>,
}

/// `POST /api/v1/break-glass/requests`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateBreakGlass {
    pub vault_entry_id: String,
    pub justification: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakGlassStatus {
    Pending,
    /// Quorum reached: the requester's window is open until `window_ends_at`.
    Approved,
    Rejected,
    Cancelled,
    /// Pending too long.
    Expired,
    /// The window has ended.
    Closed,
}

impl BreakGlassStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Approved,
            Self::Rejected,
            Self::Cancelled,
            Self::Expired,
            Self::Closed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// Which custodian slot an approval fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustodianSlot {
    Password,
    Mfa,
}

/// One custodian's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassDecision {
    pub user_id: String,
    pub username: String,
    /// `approve` or `reject`.
    pub decision: String,
    pub comment: String,
    pub in_password_group: bool,
    pub in_mfa_group: bool,
    /// The slot this approval fills in the best assignment, if it counts.
    pub counts_as: Option<CustodianSlot>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A break-glass request with its approvals so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassRequest {
    pub id: String,
    pub vault_entry_id: String,
    pub account_id: String,
    pub account_name: String,
    pub requester_id: String,
    pub requester_name: String,
    pub justification: String,
    pub status: BreakGlassStatus,
    pub password_approvals_needed: i64,
    pub mfa_approvals_needed: i64,
    pub password_approvals: i64,
    pub mfa_approvals: i64,
    pub decisions: Vec<BreakGlassDecision>,
    /// The signed-in person may approve or reject it now.
    pub can_decide: bool,
    /// The signed-in person is the requester and the window is open.
    pub can_use: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When a pending request expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub window_ends_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_used_at: Option<OffsetDateTime>,
    /// A review note is asked for once the credential was used.
    pub review_due: bool,
    pub review_note: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub reviewed_at: Option<OffsetDateTime>,
    /// Who was told of a new request, and how; only in the answer to creating it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified: Option<crate::notifications::Notified>,
}

/// `GET /api/v1/break-glass/requests/{id}`: the request and its whole story, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakGlassDetail {
    pub request: BreakGlassRequest,
    pub timeline: Vec<AuditEvent>,
}

/// `POST …/approve` and `…/reject`. `totp` performs the fresh MFA check in the same call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DecideBreakGlass {
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub totp: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevealWhat {
    Password,
    Totp,
}

/// `POST …/reveal`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevealRequest {
    pub what: RevealWhat,
}

/// The one answer that carries a root secret: the password, or the current 6-digit code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revealed {
    pub what: RevealWhat,
    pub value: String,
    /// The code's time step ends, or the window ends (password).
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
}

/// The five task-scoped root sessions, after AWS's privileged root tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootTask {
    AuditRootCredentials,
    CreateRootPassword,
    DeleteRootCredentials,
    UnlockBucketPolicy,
    UnlockQueuePolicy,
}

impl RootTask {
    pub const ALL: [RootTask; 5] = [
        RootTask::AuditRootCredentials,
        RootTask::CreateRootPassword,
        RootTask::DeleteRootCredentials,
        RootTask::UnlockBucketPolicy,
        RootTask::UnlockQueuePolicy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuditRootCredentials => "audit_root_credentials",
            Self::CreateRootPassword => "create_root_password",
            Self::DeleteRootCredentials => "delete_root_credentials",
            Self::UnlockBucketPolicy => "unlock_bucket_policy",
            Self::UnlockQueuePolicy => "unlock_queue_policy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::AuditRootCredentials => "Audit root credentials",
            Self::CreateRootPassword => "Create root password",
            Self::DeleteRootCredentials => "Delete root credentials",
            Self::UnlockBucketPolicy => "Unlock a bucket policy (OSS, S3)",
            Self::UnlockQueuePolicy => "Unlock a queue policy (MNS, SQS)",
        }
    }

    /// The AWS managed task policy `sts:AssumeRoot` limits an AWS root session to.
    pub fn aws_policy_arn(self) -> &'static str {
        match self {
            Self::AuditRootCredentials => {
                "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
            }
            Self::CreateRootPassword => {
                "arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword"
            }
            Self::DeleteRootCredentials => {
                "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"
            }
            Self::UnlockBucketPolicy => "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy",
            Self::UnlockQueuePolicy => "arn:aws:iam::aws:policy/root-task/SQSUnlockQueuePolicy",
        }
    }
}

/// `POST …/root-session`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootSessionRequest {
    pub task: RootTask,
    #[serde(default)]
    pub duration_secs: Option<i64>,
}

/// STS credentials for the account's root principal, limited to one task policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootSession {
    pub task: RootTask,
    /// The account's provider: `local` (Gatehouse's STS), or `aws` (`sts:AssumeRoot`).
    #[serde(default)]
    pub provider: crate::cloud::Provider,
    /// The RAM policy document that limits a `local` session (empty for `aws`).
    #[serde(default)]
    pub policy_document: String,
    /// The AWS managed task policy that limits an `aws` session.
    #[serde(default)]
    pub task_policy_arn: Option<String>,
    /// `acs:ram::<account>:root`, or `arn:aws:iam::<account>:root`.
    pub principal_arn: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expiration: OffsetDateTime,
    /// `shell` (export lines) and a CLI profile (`aliyun_cli`, or `aws_cli` for `aws`).
    pub formats: Vec<(String, String)>,
}

/// `POST …/review`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewNote {
    pub note: String,
}

/// The rules of a justification.
pub fn justification(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    let n = t.chars().count();
    if n < MIN_JUSTIFICATION_CHARS {
        return Err(format!(
            "Say why root access is needed, in at least {MIN_JUSTIFICATION_CHARS} characters."
        ));
    }
    if n > MAX_TEXT_CHARS {
        return Err(format!("Keep it within {MAX_TEXT_CHARS} characters."));
    }
    Ok(t.to_string())
}

/// The rules of a comment or review note (`required`: not empty).
pub fn note(raw: &str, required: bool) -> Result<String, String> {
    let t = raw.trim();
    if required && t.is_empty() {
        return Err("Write what happened and what was done.".into());
    }
    if t.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("Keep it within {MAX_TEXT_CHARS} characters."));
    }
    Ok(t.to_string())
}

/// M or N.
pub fn approvals(n: i64) -> Result<i64, String> {
    if (1..=MAX_APPROVALS).contains(&n) {
        Ok(n)
    } else {
        Err(format!("Ask for 1 to {MAX_APPROVALS} approvals."))
    }
}

pub fn window_secs(n: i64) -> Result<i64, String> {
    if (MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "The window lasts {MIN_WINDOW_SECS} to {MAX_WINDOW_SECS} seconds."
        ))
    }
}

pub fn root_password(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("Enter the root password.".into());
    }
    if raw.chars().count() > MAX_PASSWORD_CHARS {
        return Err(format!(
            "A root password has at most {MAX_PASSWORD_CHARS} characters."
        ));
    }
    Ok(raw.to_string())
}

/// A base32 TOTP seed (spaces and case ignored, `=` padding allowed), at least 80 bits.
pub fn totp_seed(raw: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let mut bits: u64 = 0;
    let mut nbits = 0u32;
    let mut out = Vec::with_capacity(cleaned.len() * 5 / 8);
    for c in cleaned.chars() {
        let v = match c {
            'A'..='Z' => c as u64 - 'A' as u64,
            '2'..='7' => c as u64 - '2' as u64 + 26,
            _ => return Err("The TOTP seed is base32: letters A–Z and digits 2–7.".into()),
        };
        bits = (bits << 5) | v;
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push(((bits >> nbits) & 0xff) as u8);
        }
    }
    if out.len() < 10 {
        return Err("The TOTP seed is too short: at least 16 base32 characters.".into());
    }
    Ok(out)
}

/// Checks a new vault entry; the SPA shows the same messages.
pub fn check_create(c: &CreateVaultEntry) -> Vec<FieldError> {
    let mut f = Vec::new();
    let mut push = |field: &str, r: Result<(), String>| {
        if let Err(m) = r {
            f.push(FieldError::new(field, m));
        }
    };
    push("password", root_password(&c.password).map(|_| ()));
    push("totp_seed", totp_seed(&c.totp_seed).map(|_| ()));
    if let Some(n) = c.password_approvals {
        push("password_approvals", approvals(n).map(|_| ()));
    }
    if let Some(n) = c.mfa_approvals {
        push("mfa_approvals", approvals(n).map(|_| ()));
    }
    if let Some(n) = c.window_secs {
        push("window_secs", window_secs(n).map(|_| ()));
    }
    if c.password_group_id.trim().is_empty() {
        push(
            "password_group_id",
            Err("Choose the password-custodian group.".into()),
        );
    }
    if c.mfa_group_id.trim().is_empty() {
        push(
            "mfa_group_id",
            Err("Choose the MFA-custodian group.".into()),
        );
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_seeds_decode_and_bad_ones_are_refused() {
        // RFC 4648: "12345678901234567890" in base32.
        assert_eq!(
            totp_seed("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            b"12345678901234567890"
        );
        assert_eq!(
            totp_seed("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap(),
            b"12345678901234567890"
        );
        assert!(totp_seed("GEZDGNBV").is_err());
        assert!(totp_seed("GEZDGNBVGY3TQOJQ1!").is_err());
    }

    #[test]
    fn justification_and_counts() {
        assert!(justification("short").is_err());
        assert!(justification("  production outage INC-1  ").is_ok());
        assert!(approvals(0).is_err() && approvals(6).is_err() && approvals(3).is_ok());
        assert!(window_secs(59).is_err() && window_secs(900).is_ok());
    }
}
