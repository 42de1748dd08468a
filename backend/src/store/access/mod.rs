//! Who may have which role where: accounts, permission sets, assignments of a permission
//! set to a user or group in an account, and the role each assignment needs provisioned.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::StoreResult;
use crate::audit::NewEvent;
use crate::clock::Millis;
use crate::store::sql_store::AuditView;

pub(in crate::store) mod sql;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: String,
    pub name: String,
    pub environment: String,
    /// `local`, `alibaba` or `aws`.
    pub provider: String,
    /// `international` or `china`.
    pub site: String,
    pub region: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl AuditView for AccountRecord {
    fn audit_view(&self) -> Value {
        json!({
            "name": self.name,
            "environment": self.environment,
            "provider": self.provider,
            "site": self.site,
            "region": self.region,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    pub name: Option<String>,
    pub environment: Option<String>,
    pub provider: Option<String>,
    pub site: Option<String>,
    /// `Some(None)` clears the region.
    pub region: Option<Option<String>>,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PermissionSetRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub session_duration_secs: i64,
    pub relay_state: Option<String>,
    /// A JSON array of system policy names.
    pub system_policies: String,
    pub inline_policy: Option<String>,
    pub version: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl PermissionSetRecord {
    /// The system policy names (an unreadable column reads as none).
    pub fn policy_names(&self) -> Vec<String> {
        serde_json::from_str(&self.system_policies).unwrap_or_default()
    }

    /// Whether two images differ in anything a RAM role is made of.
    pub fn same_content(&self, other: &Self) -> bool {
        self.description == other.description
            && self.session_duration_secs == other.session_duration_secs
            && self.relay_state == other.relay_state
            && self.policy_names() == other.policy_names()
            && self.inline_policy == other.inline_policy
    }
}

impl AuditView for PermissionSetRecord {
    fn audit_view(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "session_duration_secs": self.session_duration_secs,
            "relay_state": self.relay_state,
            "system_policies": self.policy_names(),
            "inline_policy": self.inline_policy,
            "version": self.version,
        })
    }
}

/// Fields to change; `None` leaves a field as it is, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct PermissionSetChange {
    pub description: Option<String>,
    pub session_duration_secs: Option<i64>,
    pub relay_state: Option<Option<String>>,
    /// A JSON array of names.
    pub system_policies: Option<String>,
    pub inline_policy: Option<Option<String>>,
    pub at: Millis,
}

/// What deleting something that others may still refer to did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// Refused: this many rows still refer to it.
    InUse(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AssignmentRecord {
    pub id: String,
    pub principal_type: String,
    pub principal_id: String,
    /// The username or group name (read by join; empty if the principal is gone).
    pub principal_name: String,
    pub account_id: String,
    pub permission_set_id: String,
    /// Read by join.
    pub permission_set_name: String,
    pub created_at: Millis,
}

impl AuditView for AssignmentRecord {
    fn audit_view(&self) -> Value {
        json!({
            "principal_type": self.principal_type,
            "principal_id": self.principal_id,
            "principal_name": self.principal_name,
            "account_id": self.account_id,
            "permission_set_id": self.permission_set_id,
            "permission_set": self.permission_set_name,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewAssignmentRecord {
    pub id: String,
    pub principal_type: String,
    pub principal_id: String,
    pub account_id: String,
    pub permission_set_id: String,
    pub created_at: Millis,
}

/// Which assignments to list; every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct AssignmentFilter {
    pub account_id: Option<String>,
    pub permission_set_id: Option<String>,
    pub principal_type: Option<String>,
    pub principal_id: Option<String>,
}

/// The RAM role of one permission set in one account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoleRecord {
    pub permission_set_id: String,
    pub account_id: String,
    /// `provisioned`, `needs_reprovisioning`, `not_provisioned`, `provisioning`, `failed`
    /// or `drifted`.
    pub status: String,
    pub provisioned_at: Option<Millis>,
    pub provisioned_version: Option<i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// The version being provisioned while `provisioning`.
    pub target_version: Option<i64>,
    /// JSON: what the cloud answered when the last attempt failed.
    pub fault: Option<String>,
    /// JSON array: how the cloud's role differs from what was provisioned.
    pub drift: Option<String>,
    pub checked_at: Option<Millis>,
}

impl AuditView for RoleRecord {
    fn audit_view(&self) -> Value {
        json!({
            "account_id": self.account_id,
            "status": self.status,
            "provisioned_version": self.provisioned_version,
            "target_version": self.target_version,
        })
    }
}

#[async_trait]
pub trait AccessStore: Send + Sync {
    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>>;
    async fn get_account(&self, id: &str) -> StoreResult<AccountRecord>;
    async fn create_account(
        &self,
        account: AccountRecord,
        event: NewEvent,
    ) -> StoreResult<AccountRecord>;
    async fn update_account(
        &self,
        id: &str,
        change: AccountChange,
        event: NewEvent,
    ) -> StoreResult<AccountRecord>;
    async fn delete_account(&self, id: &str, event: NewEvent) -> StoreResult<()>;

    async fn list_permission_sets(&self) -> StoreResult<Vec<PermissionSetRecord>>;
    async fn get_permission_set(&self, id: &str) -> StoreResult<PermissionSetRecord>;
    async fn create_permission_set(
        &self,
        permission_set: PermissionSetRecord,
        event: NewEvent,
    ) -> StoreResult<PermissionSetRecord>;
    /// Applies `change`. If anything a role is made of changed, bumps the version and turns
    /// every `provisioned` role of the permission set into `needs_reprovisioning`. The
    /// event gets `before`/`after` images and the accounts whose roles were marked.
    async fn update_permission_set(
        &self,
        id: &str,
        change: PermissionSetChange,
        event: NewEvent,
    ) -> StoreResult<PermissionSetRecord>;
    /// Deletes a permission set and its role records, unless assignments still name it
    /// ([`Deletion::InUse`] with their number; nothing is changed or recorded then).
    async fn delete_permission_set(&self, id: &str, event: NewEvent) -> StoreResult<Deletion>;

    async fn list_assignments(
        &self,
        filter: &AssignmentFilter,
    ) -> StoreResult<Vec<AssignmentRecord>>;
    async fn get_assignment(&self, id: &str) -> StoreResult<AssignmentRecord>;
    /// Creates the assignment and, for the first assignment of its permission set in its
    /// account, the role record (`not_provisioned`). A duplicate is a conflict.
    async fn create_assignment(
        &self,
        assignment: NewAssignmentRecord,
        event: NewEvent,
    ) -> StoreResult<AssignmentRecord>;
    /// Deletes the assignment and, if it was the last of its permission set in its account,
    /// that role record.
    async fn delete_assignment(&self, id: &str, event: NewEvent) -> StoreResult<()>;

    /// The roles of a permission set, one per assigned account, by account ID.
    async fn list_roles(&self, permission_set_id: &str) -> StoreResult<Vec<RoleRecord>>;
    /// Marks the roles in `account_ids` (all the permission set's roles when `None`)
    /// provisioned at the permission set's current version. An account without a role
    /// of this permission set is [`StoreError::NotFound`]. The event gets each role's
    /// `before` and `after` status.
    async fn provision_roles(
        &self,
        permission_set_id: &str,
        account_ids: Option<&[String]>,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<Vec<RoleRecord>>;
}
