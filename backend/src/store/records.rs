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
