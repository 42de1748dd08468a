//! Rows as the store reads and writes them, and the changes it applies.

use serde_json::{json, Value};

use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub source: String,
    pub disabled: bool,
    pub password_hash: Option<String>,
    pub totp_secret_enc: Option<String>,
    pub totp_pending_enc: Option<String>,
    pub totp_last_step: Option<i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl UserRecord {
    /// What the audit trail may show of a user: no hashes, no seeds.
    pub fn audit_view(&self) -> Value {
        json!({
            "username": self.username,
            "email": self.email,
            "display_name": self.display_name,
            "source": self.source,
            "disabled": self.disabled,
            "password_set": self.password_hash.is_some(),
            "totp_enrolled": self.totp_secret_enc.is_some(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewUserRecord {
    pub id: String,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub source: String,
    pub password_hash: Option<String>,
    pub created_at: Millis,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Comma-separated role names.
    pub roles: String,
    pub member_count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl GroupRecord {
    pub fn audit_view(&self) -> Value {
        json!({ "name": self.name, "description": self.description, "roles": self.roles })
    }
}

#[derive(Debug, Clone)]
pub struct NewGroupRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub roles: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Default)]
pub struct GroupChange {
    pub description: Option<String>,
    pub roles: Option<String>,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: String,
    pub name: String,
    pub environment: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl AccountRecord {
    pub fn audit_view(&self) -> Value {
        json!({ "name": self.name, "environment": self.environment })
    }
}

#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    pub name: Option<String>,
    pub environment: Option<String>,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub auth_method: String,
    pub idp_mfa: bool,
    pub mfa_at: Option<Millis>,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
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

    pub fn audit_view(&self) -> Value {
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

impl AssignmentRecord {
    pub fn audit_view(&self) -> Value {
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
    /// `provisioned`, `needs_reprovisioning` or `not_provisioned`.
    pub status: String,
    pub provisioned_at: Option<Millis>,
    pub provisioned_version: Option<i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl RoleRecord {
    pub fn audit_view(&self) -> Value {
        json!({
            "account_id": self.account_id,
            "status": self.status,
            "provisioned_version": self.provisioned_version,
        })
    }
}

/// A permission set a user may use on an account (directly or through a group), with its
/// role's provisioning status there.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EntitlementRecord {
    pub account_id: String,
    pub account_name: String,
    pub environment: String,
    #[sqlx(flatten)]
    pub permission_set: PermissionSetRecord,
    /// `provisioned`, `needs_reprovisioning` or `not_provisioned`.
    pub role_status: String,
}

/// An issued STS credential (no secret: it is derived from the key id).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StsCredentialRecord {
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
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub revoked_at: Option<Millis>,
}

impl StsCredentialRecord {
    pub fn audit_view(&self) -> Value {
        json!({
            "access_key_id": self.access_key_id,
            "account_id": self.account_id,
            "permission_set_id": self.permission_set_id,
            "role_name": self.role_name,
            "source": self.source,
            "parent_access_key_id": self.parent_access_key_id,
            "session_policy": self.session_policy,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        })
    }
}

/// Which STS credentials to list.
#[derive(Debug, Clone, Default)]
pub struct CredentialFilter {
    pub user_id: Option<String>,
    /// Only those neither expired nor revoked at this time.
    pub active_at: Option<Millis>,
    pub limit: i64,
}

/// What verifiers must refuse: one key (`key`), or a user's credentials issued before
/// `not_before` (`user`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RevocationRecord {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub not_before: Millis,
    pub expires_at: Millis,
    pub created_at: Millis,
}

/// A `credentials_uri` capability (only the hash of its secret).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CredentialUriRecord {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub account_id: String,
    pub permission_set_id: String,
    pub permission_set_name: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl CredentialUriRecord {
    pub fn audit_view(&self) -> Value {
        json!({
            "account_id": self.account_id,
            "permission_set_id": self.permission_set_id,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        })
    }
}

/// The longest an STS credential lives (a permission set's longest session), so a
/// revocation can be forgotten once every credential it could refuse has expired.
pub const MAX_CREDENTIAL_LIFETIME_MS: Millis = 43_200_000;

impl RevocationRecord {
    /// Refuses every credential of `user_id` issued before `at`.
    pub fn for_user(user_id: &str, at: Millis) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            kind: "user".into(),
            subject: user_id.into(),
            not_before: at,
            expires_at: at + MAX_CREDENTIAL_LIFETIME_MS,
            created_at: at,
        }
    }

    /// Refuses the credential `access_key_id` (and those assumed from it) until it expires.
    pub fn for_key(access_key_id: &str, expires_at: Millis, at: Millis) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            kind: "key".into(),
            subject: access_key_id.into(),
            not_before: at,
            expires_at,
            created_at: at,
        }
    }
}
