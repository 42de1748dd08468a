//! The audit trail as the API shows it: events, pages, and the chain verification report.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// One event of the hash-chained trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub actor_id: Option<String>,
    /// The actor's name at the time (a username, or `system`, or the name tried at sign-in).
    pub actor_name: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Dotted action name, e.g. `auth.login`, `directory.group.create`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub outcome: Outcome,
    /// Machine-readable reason for a failure or refusal, e.g. `bad_password`.
    pub reason: Option<String>,
    /// Before/after and other context; never secrets.
    pub details: serde_json::Value,
    /// Hex SHA-256 of this event, chained to the previous one.
    pub hash: String,
}

/// `GET /api/v1/audit/events`: newest first; pass `next_cursor` as `cursor` for the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// What kind of damage verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainProblemKind {
    /// The event's stored content no longer matches its hash.
    Altered,
    /// One or more events before this one are gone.
    Missing,
    /// The event is intact but not where the chain says it belongs.
    Reordered,
    /// A checkpoint's signature is invalid, or names a hash the chain does not have.
    CheckpointInvalid,
    /// Events that a signed checkpoint covered are gone from the end of the trail.
    Truncated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainProblem {
    /// The first event (sequence number) at which the chain stops holding.
    pub seq: i64,
    pub kind: ChainProblemKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// The checkpoint's own number.
    pub id: i64,
    /// The last event it covers.
    pub event_seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_at: OffsetDateTime,
}

/// `GET /api/v1/audit/verify` and `gatehouse audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub intact: bool,
    pub events_checked: i64,
    pub last_checkpoint: Option<CheckpointInfo>,
    /// Events after the last checkpoint: chained, not yet signed.
    pub unsigned_events: i64,
    pub problem: Option<ChainProblem>,
}

/// Declares [`AuditAction`]: each variant with its string form, written once.
macro_rules! audit_actions {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)+) => {
        /// Every action Gatehouse writes to the audit trail, each with the dotted string the
        /// trail stores and the API returns (`AuditEvent::action`). Events read back keep
        /// their string, so a trail written by another version still reads.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum AuditAction {
            $($(#[$doc])* $variant,)+
        }

        impl AuditAction {
            /// Every action, in the order declared (by capability).
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $text,)+
                }
            }
        }
    };
}

audit_actions! {
    /// The first administrator was created on an empty database.
    DirectoryBootstrap = "directory.bootstrap",
    DirectoryUserCreate = "directory.user.create",
    DirectoryUserUpdate = "directory.user.update",
    DirectoryUserDelete = "directory.user.delete",
    DirectoryGroupCreate = "directory.group.create",
    DirectoryGroupUpdate = "directory.group.update",
    DirectoryGroupDelete = "directory.group.delete",
    DirectoryGroupMemberAdd = "directory.group.member_add",
    DirectoryGroupMemberRemove = "directory.group.member_remove",
    DirectoryAccountCreate = "directory.account.create",
    DirectoryAccountUpdate = "directory.account.update",
    DirectoryAccountDelete = "directory.account.delete",
    /// The example company `gatehouse serve --demo` made was removed.
    DemoRemove = "demo.remove",

    /// A local sign-in, successful or not.
    AuthLogin = "auth.login",
    AuthLogout = "auth.logout",
    /// A sign-in through a SAML or OIDC identity provider, successful or not.
    AuthFederatedLogin = "auth.federated_login",
    AuthPasswordChange = "auth.password.change",
    AuthTotpEnroll = "auth.totp.enroll",
    AuthTotpConfirm = "auth.totp.confirm",
    /// A fresh MFA check for a sensitive action.
    AuthStepUp = "auth.step_up",

    IdpCreate = "idp.create",
    IdpUpdate = "idp.update",
    IdpDelete = "idp.delete",
    IdpMetadataImport = "idp.metadata_import",

    PermissionSetCreate = "permission_set.create",
    PermissionSetUpdate = "permission_set.update",
    PermissionSetDelete = "permission_set.delete",
    PermissionSetProvision = "permission_set.provision",
    AssignmentCreate = "assignment.create",
    AssignmentDelete = "assignment.delete",

    /// A cloud provider created or updated a role (or failed to).
    CloudRoleProvision = "cloud.role.provision",
    /// A drift check found a role changed behind Gatehouse's back (or repaired).
    CloudRoleDrift = "cloud.role.drift",
    /// A role the last assignment left was deleted in its cloud (or failed to be).
    CloudRoleRemove = "cloud.role.remove",
    /// One call to a cloud API: action, account, the cloud's RequestId; never a secret.
    CloudApiCall = "cloud.api.call",
    /// A console sign-in assertion was signed for a person.
    CloudConsoleSignIn = "cloud.console.sign_in",
    /// A cloud was told to deny a revoked role session until its token expires.
    CloudSessionDeny = "cloud.session.deny",
    CloudIdpKeyCreate = "cloud.idp_key.create",
    CloudIdpKeyActivate = "cloud.idp_key.activate",

    StsCredentialsIssue = "sts.credentials.issue",
    StsCredentialsRevoke = "sts.credentials.revoke",
    /// Every credential of one person revoked at once.
    StsCredentialsRevokeUser = "sts.credentials.revoke_user",
    /// A chained `AssumeRole` through the STS-compatible API.
    StsAssumeRole = "sts.assume_role",
    PortalCredentialsUriCreate = "portal.credentials_uri.create",
    PortalCredentialsUriRevoke = "portal.credentials_uri.revoke",

    EligibilityPolicyCreate = "eligibility_policy.create",
    EligibilityPolicyUpdate = "eligibility_policy.update",
    EligibilityPolicyDelete = "eligibility_policy.delete",
    ApprovalPolicyCreate = "approval_policy.create",
    ApprovalPolicyUpdate = "approval_policy.update",
    ApprovalPolicyDelete = "approval_policy.delete",
    AccessRequestCreate = "access_request.create",
    /// One approver's approval (the request may need more).
    AccessRequestApprove = "access_request.approve",
    AccessRequestReject = "access_request.reject",
    AccessRequestCancel = "access_request.cancel",
    /// A pending request outlived its policy's pending lifetime.
    AccessRequestExpire = "access_request.expire",
    /// The last approval needed arrived.
    AccessRequestApproved = "access_request.approved",
    AccessGrantStart = "access_grant.start",
    AccessGrantEnd = "access_grant.end",
    AccessGrantRevoke = "access_grant.revoke",

    VaultCreate = "vault.create",
    VaultUpdate = "vault.update",
    VaultDelete = "vault.delete",
    VaultRotate = "vault.rotate",
    VaultRotationRequired = "vault.rotation_required",
    BreakGlassCreate = "breakglass.create",
    BreakGlassApprove = "breakglass.approve",
    BreakGlassApproved = "breakglass.approved",
    BreakGlassReject = "breakglass.reject",
    BreakGlassCancel = "breakglass.cancel",
    BreakGlassExpire = "breakglass.expire",
    BreakGlassClose = "breakglass.close",
    BreakGlassRevealPassword = "breakglass.reveal_password",
    BreakGlassRevealTotp = "breakglass.reveal_totp",
    BreakGlassRootSession = "breakglass.root_session",
    BreakGlassReview = "breakglass.review",

    NotificationEndpointCreate = "notification.endpoint.create",
    NotificationEndpointUpdate = "notification.endpoint.update",
    NotificationEndpointDelete = "notification.endpoint.delete",
    NotificationEndpointRotateSecret = "notification.endpoint.rotate_secret",
    /// A "send test" delivery.
    NotificationTest = "notification.test",

    AuditExport = "audit.export",
}

impl AuditAction {
    /// The action a stored string names, if this version knows it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl AuditAction {
    /// What the audit search's action filter offers: for each area (the part before the
    /// first dot) `area.*`, which matches every action of it, then that area's actions.
    pub fn filter_choices() -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in Self::ALL {
            let area = a.as_str().split('.').next().unwrap_or_default();
            let all = format!("{area}.*");
            if !out.contains(&all) {
                out.push(all);
            }
            out.push(a.as_str().to_string());
        }
        out
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod action_tests {
    use super::AuditAction;

    #[test]
    fn every_action_has_its_own_dotted_lower_case_string() {
        let mut seen = std::collections::BTreeSet::new();
        for a in AuditAction::ALL {
            let s = a.as_str();
            assert!(seen.insert(s), "{s} is used by two actions");
            assert!(
                s.contains('.')
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                "{s}"
            );
            assert_eq!(AuditAction::parse(s), Some(*a));
        }
        assert_eq!(AuditAction::parse("auth.loginx"), None);
    }

    #[test]
    fn the_action_filter_offers_each_area_before_its_actions() {
        let choices = AuditAction::filter_choices();
        let areas: Vec<&String> = choices.iter().filter(|c| c.ends_with(".*")).collect();
        assert_eq!(choices.len(), AuditAction::ALL.len() + areas.len());
        let at = |s: &str| choices.iter().position(|c| c == s).unwrap();
        for a in AuditAction::ALL {
            let area = format!("{}.*", a.as_str().split('.').next().unwrap());
            assert_eq!(choices.iter().filter(|c| **c == area).count(), 1, "{area}");
            assert!(at(&area) < at(a.as_str()), "{area} before {a}");
        }
        assert!(areas.iter().any(|a| *a == "breakglass.*"));
    }
}
