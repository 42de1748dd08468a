//! Notifications: webhook endpoints, the delivery log, and the mail settings. The event
//! types are the audit actions the notifier turns into deliveries (the contract shared with
//! the access-request and break-glass code), plus `notification.test`.

use serde::{Deserialize, Serialize};

use crate::audit::AuditAction;
use time::OffsetDateTime;

/// Every audit action that becomes a notification.
pub const EVENT_TYPES: &[AuditAction] = &[
    AuditAction::AccessRequestCreate,
    AuditAction::AccessRequestApprove,
    AuditAction::AccessRequestReject,
    AuditAction::AccessRequestCancel,
    AuditAction::AccessRequestExpire,
    AuditAction::AccessRequestApproved,
    AuditAction::AccessGrantStart,
    AuditAction::AccessGrantEnd,
    AuditAction::AccessGrantRevoke,
    AuditAction::BreakGlassCreate,
    AuditAction::BreakGlassApprove,
    AuditAction::BreakGlassReject,
    AuditAction::BreakGlassCancel,
    AuditAction::BreakGlassExpire,
    AuditAction::BreakGlassApproved,
    AuditAction::BreakGlassRevealPassword,
    AuditAction::BreakGlassRevealTotp,
    AuditAction::BreakGlassRootSession,
    AuditAction::BreakGlassReview,
    AuditAction::VaultRotationRequired,
    AuditAction::VaultRotate,
];

/// The event type of a "send test" delivery.
pub const TEST_EVENT: AuditAction = AuditAction::NotificationTest;

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Longest endpoint name accepted.
pub const MAX_NAME_LEN: usize = 100;

/// Checks a webhook URL: absolute `http://` or `https://` with a host, no credentials,
/// at most [`MAX_URL_LEN`] characters.
pub fn validate_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    if url.is_empty() {
        return Err("Enter the URL that receives the webhooks.".into());
    }
    if url.len() > MAX_URL_LEN {
        return Err(format!(
            "The URL may have at most {MAX_URL_LEN} characters."
        ));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("The URL must start with http:// or https://.")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err("The URL needs a host name.".into());
    }
    if authority.contains('@') {
        return Err("Put no user name or password in the URL.".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("The URL may not contain spaces.".into());
    }
    Ok(url.to_string())
}

/// Checks an endpoint name: 1 to [`MAX_NAME_LEN`] characters after trimming.
pub fn validate_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Enter a name for the endpoint.".into());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(format!(
            "The name may have at most {MAX_NAME_LEN} characters."
        ));
    }
    Ok(name.to_string())
}

/// Checks an event-type filter: each one a known type, no duplicates. Empty means "all".
pub fn validate_event_types(types: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for t in types {
        let t = t.trim();
        if !EVENT_TYPES.iter().any(|a| a.as_str() == t) {
            return Err(format!("Unknown event type \"{t}\"."));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub name: String,
    pub url: String,
    /// The event types sent to this endpoint; empty means every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The answer to creating an endpoint or rotating its secret: the only time the secret is
/// shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointWithSecret {
    pub endpoint: Endpoint,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateEndpoint {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub event_types: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateEndpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestSent {
    pub delivery_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not tried yet.
    Pending,
    /// Failed at least once; tried again at `next_attempt_at`.
    Retrying,
    Delivered,
    /// Gave up after the last attempt.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "retrying" => Some(Self::Retrying),
            "delivered" => Some(Self::Delivered),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Webhook,
    Email,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub attempt: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub duration_ms: i64,
    pub ok: bool,
    /// The HTTP status of a webhook answer.
    pub status_code: Option<i64>,
    /// What happened, in short: an SMTP reply, an error class, or a snippet of the answer.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub event_type: String,
    /// The audit event it came from (`None` for a test).
    pub event_seq: Option<i64>,
    pub channel: Channel,
    pub endpoint_id: Option<String>,
    /// The e-mail address, for e-mail.
    pub recipient: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

/// The SMTP settings as the admin page shows them: never the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailSettings {
    pub configured: bool,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `none`, `starttls` or `tls`.
    pub tls: String,
    pub username: Option<String>,
    pub password_set: bool,
    pub from: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host_and_no_credentials() {
        assert!(validate_url("https://hooks.example.com/x").is_ok());
        assert!(validate_url("http://127.0.0.1:9000/").is_ok());
        assert!(validate_url("ftp://example.com").is_err());
        assert!(validate_url("https://").is_err());
        assert!(validate_url("https://user:pw@example.com/").is_err());
        assert!(validate_url("https://example.com/a b").is_err());
        assert!(validate_url(&format!("https://e.com/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn event_types_are_known_and_deduplicated() {
        let ok = validate_event_types(&["vault.rotate".into(), "vault.rotate".into()]);
        assert_eq!(ok, Ok(vec!["vault.rotate".to_string()]));
        assert!(validate_event_types(&["user.create".into()]).is_err());
    }
}
