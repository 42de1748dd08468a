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

/// Who was told about something just asked for, and how: given with a new access request
/// or break-glass request so the page can say it truthfully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    /// Whose decision is asked, by display name.
    pub people: Vec<String>,
    /// Whether they were e-mailed (mail is set up, and they have an address).
    pub by_email: bool,
    /// The enabled webhook endpoints that receive it, by name.
    pub webhooks: Vec<String>,
}

impl Notified {
    /// One sentence for the person who asked: who was told and how, or that no one was and
    /// whom to tell.
    pub fn sentence(&self) -> String {
        use crate::text::either_list;
        let were = |n: usize| if n == 1 { "was" } else { "were" };
        let hooks = match self.webhooks.len() {
            0 => String::new(),
            1 => format!("the webhook {}", self.webhooks[0]),
            n => format!(
                "the webhooks {} {}",
                either_list(&self.webhooks, "and"),
                were(n)
            ),
        };
        // "the webhook X was sent it" / "the webhooks X and Y were sent it"
        let hooks_sent = match self.webhooks.len() {
            0 => String::new(),
            1 => format!("{hooks} was sent it"),
            _ => format!("{hooks} sent it"),
        };
        let ask = format!("ask {} to decide it", either_list(&self.people, "or"));
        match (
            self.people.is_empty(),
            self.by_email,
            self.webhooks.is_empty(),
        ) {
            (true, _, true) => "No one can decide it yet: ask an administrator.".into(),
            (true, _, false) => format!("No one can decide it yet; {hooks_sent}."),
            (false, true, true) => format!(
                "{} {} e-mailed.",
                either_list(&self.people, "and"),
                were(self.people.len())
            ),
            (false, true, false) => format!(
                "{} {} e-mailed, and {hooks_sent}.",
                either_list(&self.people, "and"),
                were(self.people.len())
            ),
            (false, false, true) => {
                format!("No e-mail or webhook is set up, so no one was told: {ask}.")
            }
            (false, false, false) => {
                let mut first = hooks_sent.chars();
                let capital: String = first
                    .next()
                    .into_iter()
                    .flat_map(char::to_uppercase)
                    .collect();
                format!(
                    "{capital}{}; no e-mail is set up, so {ask}.",
                    first.as_str()
                )
            }
        }
    }
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

    fn told(people: &[&str], by_email: bool, webhooks: &[&str]) -> String {
        Notified {
            people: people.iter().map(|p| (*p).to_string()).collect(),
            by_email,
            webhooks: webhooks.iter().map(|w| (*w).to_string()).collect(),
        }
        .sentence()
    }

    #[test]
    fn the_sentence_says_who_was_told_and_how_or_whom_to_ask() {
        assert_eq!(
            told(&["Frank", "Erin", "Grace"], false, &[]),
            "No e-mail or webhook is set up, so no one was told: ask Frank, Erin or Grace to decide it."
        );
        assert_eq!(told(&["Bob"], true, &[]), "Bob was e-mailed.");
        assert_eq!(
            told(&["Bob", "Ann"], true, &["Chat"]),
            "Bob and Ann were e-mailed, and the webhook Chat was sent it."
        );
        assert_eq!(
            told(&["Bob"], false, &["Chat", "Pager"]),
            "The webhooks Chat and Pager were sent it; no e-mail is set up, so ask Bob to decide it."
        );
        assert_eq!(
            told(&[], true, &["Chat"]),
            "No one can decide it yet; the webhook Chat was sent it."
        );
        assert_eq!(
            told(&[], false, &[]),
            "No one can decide it yet: ask an administrator."
        );
    }
}
