//! The employee portal: the accounts × permission sets a person may use, the short-lived
//! STS credentials issued for one of them, and `credentials_uri` capability URLs.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::permission_sets::ProvisioningStatus;

/// `GET /api/v1/portal`: what the signed-in person may use, grouped by account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portal {
    pub accounts: Vec<PortalAccount>,
}

/// One cloud account and the permission sets the person is assigned on it (directly or
/// through a group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalAccount {
    pub account_id: String,
    pub name: String,
    pub environment: String,
    /// Where credentials and the console come from: for `alibaba`, the console opens by
    /// `POST /api/v1/portal/console` (a SAML sign-in), not by following `console_url`.
    #[serde(default)]
    pub provider: crate::cloud::Provider,
    pub permission_sets: Vec<PortalPermissionSet>,
}

/// A permission set as the portal shows it: the role it becomes in this account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalPermissionSet {
    pub permission_set_id: String,
    pub name: String,
    pub description: String,
    pub session_duration_secs: i64,
    pub role_name: String,
    /// `acs:ram::<account-id>:role/<role-name>`.
    pub role_arn: String,
    /// Credentials can be issued only for a provisioned role (also when it needs
    /// re-provisioning: the role exists, at an older version).
    pub status: ProvisioningStatus,
    /// The console page to open (the permission set's relay state, or the console home).
    pub console_url: String,
    /// Set when the person has this only through a just-in-time grant: the grant (its
    /// access request's id) and when it ends. Credentials never outlive it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub grant_ends_at: Option<OffsetDateTime>,
}

/// `POST /api/v1/portal/credentials`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IssueCredentials {
    pub account_id: String,
    pub permission_set_id: String,
    /// Clamped to the permission set's session duration; defaults to it. At least 900.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<i64>,
    /// A RAM policy document (≤ 2,048 characters) that can only narrow the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
}

/// Short-lived STS credentials for one role, with the forms tools read ready to paste.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCredentials {
    /// `STS.` followed by random characters.
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expiration: OffsetDateTime,
    pub account_id: String,
    pub role_arn: String,
    /// `acs:ram::<account-id>:assumed-role/<role-name>/<session-name>`.
    pub assumed_role_arn: String,
    pub formats: CredentialFormats,
}

/// The same credentials in the forms common tools read, in the account's provider's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialFormats {
    /// `export` lines for a POSIX shell: `ALIBABA_CLOUD_ACCESS_KEY_ID=…`, or for an `aws`
    /// account `AWS_ACCESS_KEY_ID=…`, `AWS_SECRET_ACCESS_KEY=…`, `AWS_SESSION_TOKEN=…`.
    pub shell: String,
    /// An `aliyun configure set` command creating an `StsToken` profile for the Alibaba
    /// Cloud CLI; empty for an `aws` account.
    pub aliyun_cli: String,
    /// For an `aws` account: an AWS CLI profile (`[profile gatehouse-<account>-<set>]` with
    /// `credential_process = gatehouse credentials --uri …`) and the `aws configure set`
    /// commands for these credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_cli: Option<String>,
    /// AWS-style `credential_process` JSON (`Version` 1).
    pub credential_process: String,
}

/// `POST /api/v1/portal/credential-uris`: a capability URL for Alibaba Cloud's
/// `credentials_uri` provider, bound to one account and permission set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateCredentialUri {
    pub account_id: String,
    pub permission_set_id: String,
    /// How long the URL works (3,600–2,592,000 s); defaults to 8 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<i64>,
}

/// A `credentials_uri` capability. `url` is present only in the response that created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialUri {
    pub id: String,
    pub account_id: String,
    pub permission_set_id: String,
    pub permission_set_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// `GET /api/v1/sts-credentials`: an issued STS credential (never its secret or token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsCredentialInfo {
    pub access_key_id: String,
    pub user_id: String,
    pub username: String,
    pub account_id: String,
    pub permission_set_id: String,
    pub role_name: String,
    /// `portal`, `credentials_uri` or `assume_role`.
    pub source: String,
    pub parent_access_key_id: Option<String>,
    pub session_policy: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// `POST /api/v1/users/{id}/revoke-credentials`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedCredentials {
    /// How many unexpired credentials were revoked.
    pub revoked: u64,
}
