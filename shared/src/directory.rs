//! Users, groups, memberships and cloud accounts.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::{GroupRef, Role};
use crate::cloud::{AlibabaSite, Provider};

/// Where a user came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserSource {
    Local,
    Federated,
    Scim,
}

impl UserSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UserSource::Local => "local",
            UserSource::Federated => "federated",
            UserSource::Scim => "scim",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "local" => Some(Self::Local),
            "federated" => Some(Self::Federated),
            "scim" => Some(Self::Scim),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub source: UserSource,
    pub disabled: bool,
    pub totp_enrolled: bool,
    pub groups: Vec<GroupRef>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `POST /api/v1/users`. A local user without a password cannot sign in until one is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateUser {
    pub username: String,
    pub email: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `PATCH /api/v1/users/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Gatehouse roles every member holds.
    pub roles: Vec<Role>,
    /// An identity provider's groups claim may put people into this group even though it
    /// gives a role, approves access requests or holds root-credential custody. Off by
    /// default: such a group is then only changed by administrators.
    #[serde(default)]
    pub idp_managed: bool,
    pub member_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `POST /api/v1/groups`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub roles: Vec<Role>,
}

/// `PATCH /api/v1/groups/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_managed: Option<bool>,
}

/// `GET /api/v1/groups/{id}/members`; members are added with
/// `PUT /api/v1/groups/{id}/members/{user_id}` and removed with `DELETE` on the same path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
}

/// A cloud account (a resource-directory member account), keyed by its 16-digit ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub environment: String,
    /// Who grants access there: Gatehouse's own STS (`local`) or Alibaba Cloud.
    #[serde(default)]
    pub provider: Provider,
    /// For `alibaba`: which site the account signs in on.
    #[serde(default)]
    pub site: AlibabaSite,
    /// For `alibaba`: the region whose STS and RAM endpoints to use (`cn-hangzhou`); none
    /// for the global endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `POST /api/v1/accounts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateAccount {
    pub id: String,
    pub name: String,
    pub environment: String,
    #[serde(default)]
    pub provider: Provider,
    #[serde(default)]
    pub site: AlibabaSite,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// `PATCH /api/v1/accounts/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateAccount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Refused while a role in the account is provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<AlibabaSite>,
    /// An empty string clears the region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}
