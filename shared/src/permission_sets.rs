//! Permission sets (CloudSSO "access configurations"), the system policy catalogue, standing
//! assignments, and the RAM role each permission set becomes in each assigned account.

use crate::cloud::{CloudFault, Provider};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A permission set: what a person may do once signed in to an account through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSet {
    pub id: String,
    pub name: String,
    pub description: String,
    /// How long issued credentials live at most (900–43,200 s).
    pub session_duration_secs: i64,
    /// The console page a person lands on (an `https://` URL), if any.
    pub relay_state: Option<String>,
    /// Names from `GET /api/v1/system-policies`.
    pub system_policies: Vec<String>,
    /// One policy document, if any: a RAM policy (Version "1"), applied in Alibaba Cloud and
    /// local accounts, or an IAM policy (Version "2012-10-17"), applied in AWS accounts.
    pub inline_policy: Option<String>,
    /// Bumped by every change; roles provisioned at an older version need re-provisioning.
    pub version: i64,
    /// The RAM role this permission set becomes in each account: `GatehouseSSO-<name>`.
    pub role_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `POST /api/v1/permission-sets`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreatePermissionSet {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Defaults to 3,600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_duration_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_state: Option<String>,
    #[serde(default)]
    pub system_policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_policy: Option<String>,
}

/// `PATCH /api/v1/permission-sets/{id}`: only the fields present change. The name cannot
/// change (it names the RAM role in every account). An empty `relay_state` or
/// `inline_policy` removes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdatePermissionSet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_duration_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_policies: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_policy: Option<String>,
}

/// One entry of the built-in system policy catalogue (`GET /api/v1/system-policies`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemPolicy {
    pub name: String,
    pub description: String,
    /// The policy document: RAM's language (Version "1") for an `alibaba` policy, IAM's
    /// (Version "2012-10-17") for an `aws` one.
    pub document: String,
    /// Whose policy it is: `alibaba` (an Alibaba Cloud system policy, attached in Alibaba
    /// Cloud accounts and evaluated by `local` ones) or `aws` (an AWS managed policy, named
    /// by its ARN, attached in AWS accounts). A server that did not say had only Alibaba
    /// Cloud's.
    #[serde(default = "alibaba")]
    pub provider: Provider,
}

fn alibaba() -> Provider {
    Provider::Alibaba
}

/// Who an assignment grants to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalType {
    User,
    Group,
}

impl PrincipalType {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::User => "user",
            PrincipalType::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "group" => Some(Self::Group),
            _ => None,
        }
    }
}

/// A standing grant: a user or group may use a permission set on an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub id: String,
    pub principal_type: PrincipalType,
    pub principal_id: String,
    /// The username or group name.
    pub principal_name: String,
    pub account_id: String,
    pub permission_set_id: String,
    pub permission_set_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `POST /api/v1/assignments`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateAssignment {
    pub principal_type: PrincipalType,
    pub principal_id: String,
    pub account_id: String,
    pub permission_set_id: String,
}

/// Where a permission set's RAM role in one account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningStatus {
    /// The role matches the permission set's current version.
    Provisioned,
    /// The permission set changed after the role was provisioned.
    NeedsReprovisioning,
    /// Assigned, never provisioned.
    NotProvisioned,
    /// A cloud provider is creating or updating the role now (or will finish it after a
    /// restart).
    Provisioning,
    /// The last attempt failed; the role's `fault` says what the cloud answered.
    Failed,
    /// The role in the cloud no longer matches what Gatehouse provisioned; `drift` says how.
    Drifted,
}

impl ProvisioningStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisioningStatus::Provisioned => "provisioned",
            ProvisioningStatus::NeedsReprovisioning => "needs_reprovisioning",
            ProvisioningStatus::NotProvisioned => "not_provisioned",
            ProvisioningStatus::Provisioning => "provisioning",
            ProvisioningStatus::Failed => "failed",
            ProvisioningStatus::Drifted => "drifted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "provisioned" => Some(Self::Provisioned),
            "needs_reprovisioning" => Some(Self::NeedsReprovisioning),
            "not_provisioned" => Some(Self::NotProvisioned),
            "provisioning" => Some(Self::Provisioning),
            "failed" => Some(Self::Failed),
            "drifted" => Some(Self::Drifted),
            _ => None,
        }
    }
}

/// `GET /api/v1/permission-sets/{id}/roles`: the RAM role in one assigned account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionedRole {
    pub permission_set_id: String,
    pub account_id: String,
    pub role_name: String,
    /// `acs:ram::<account-id>:role/<role-name>`.
    pub arn: String,
    pub status: ProvisioningStatus,
    #[serde(with = "time::serde::rfc3339::option")]
    pub provisioned_at: Option<OffsetDateTime>,
    pub provisioned_version: Option<i64>,
    /// The permission set's version now.
    pub current_version: i64,
    /// Where the role lives (the account's provider).
    #[serde(default)]
    pub provider: Provider,
    /// What the cloud answered when the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<CloudFault>,
    /// How the role in the cloud differs from what Gatehouse provisioned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
}

/// `POST /api/v1/permission-sets/{id}/provision`: which accounts (default: every assigned
/// account).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProvisionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_ids: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_policy_without_a_provider_is_alibaba_clouds() {
        let old: SystemPolicy = serde_json::from_str(
            r#"{"name": "ReadOnlyAccess", "description": "", "document": "{}"}"#,
        )
        .unwrap();
        assert_eq!(old.provider, Provider::Alibaba);
        let aws = SystemPolicy {
            provider: Provider::Aws,
            ..old
        };
        assert!(serde_json::to_string(&aws)
            .unwrap()
            .contains(r#""provider":"aws""#));
    }
}
