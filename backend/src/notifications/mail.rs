//! E-mail over SMTP with lettre: the transport from the configuration (`smtp_*`), and a
//! human subject and plain-text body per event type. The SMTP password lives only in the
//! transport; it is never logged, stored or shown.

use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::notifications::MailSettings;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};

use super::{link_for, Sent};
use crate::audit::StoredEvent;
use crate::config::Config;
use crate::store::UserRecord;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

fn port_for(config: &Config) -> u16 {
    config.smtp_port.unwrap_or(match config.smtp_tls.as_str() {
        "tls" => 465,
        "none" => 25,
        _ => 587,
    })
}

impl Mailer {
    /// `None` when no `smtp_host` is configured.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        let Some(host) = config.smtp_host.as_deref() else {
            return Ok(None);
        };
        let from: Mailbox = config
            .smtp_from
            .as_deref()
            .unwrap_or_default()
            .parse()
            .map_err(|e| anyhow::anyhow!("smtp_from is not an e-mail address: {e}"))?;
        let mut builder = match config.smtp_tls.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        builder = builder
            .port(port_for(config))
            .timeout(Some(std::time::Duration::from_secs(
                config.notify_timeout_secs,
            )));
        if let (Some(user), Some(password)) = (&config.smtp_username, &config.smtp_password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Some(Self {
            transport: builder.build(),
            from,
        }))
    }

    /// Sends one rendered message (`{to, to_name, subject, body}`).
    pub(crate) async fn send(&self, payload: &str) -> Sent {
        let Ok(v) = serde_json::from_str::<Value>(payload) else {
            return Sent {
                permanent: true,
                ..Sent::failed("malformed message")
            };
        };
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let Ok(address) = text("to").parse() else {
            return Sent {
                permanent: true,
                ..Sent::failed("invalid recipient address")
            };
        };
        let name = Some(text("to_name")).filter(|n| !n.is_empty());
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(name, address))
            .subject(text("subject"))
            .header(ContentType::TEXT_PLAIN)
            .body(text("body"));
        let Ok(message) = message else {
            return Sent {
                permanent: true,
                ..Sent::failed("the message could not be built")
            };
        };
        match self.transport.send(message).await {
            Ok(resp) => Sent {
                ok: true,
                permanent: false,
                status_code: None,
                detail: format!(
                    "SMTP {} {}",
                    resp.code(),
                    resp.message().collect::<Vec<_>>().join(" ")
                )
                .chars()
                .take(200)
                .collect(),
            },
            Err(e) => {
                let code = e.status().map(|c| c.to_string());
                let class = if e.is_permanent() {
                    "permanent SMTP error"
                } else if e.is_transient() {
                    "transient SMTP error"
                } else if e.is_timeout() {
                    "SMTP timeout"
                } else if e.is_client() {
                    "SMTP client error (e.g. no common authentication mechanism)"
                } else {
                    "SMTP connection failed"
                };
                Sent {
                    ok: false,
                    permanent: e.is_permanent(),
                    status_code: None,
                    detail: match code {
                        Some(c) => format!("{class} {c}"),
                        None => class.to_string(),
                    },
                }
            }
        }
    }
}

/// What the admin page shows: never the password.
pub fn settings_view(config: &Config) -> MailSettings {
    MailSettings {
        configured: config.smtp_host.is_some(),
        host: config.smtp_host.clone(),
        port: config.smtp_host.as_ref().map(|_| port_for(config)),
        tls: config.smtp_tls.clone(),
        username: config.smtp_username.clone(),
        password_set: config.smtp_password.is_some(),
        from: config.smtp_from.clone(),
    }
}

/// What happened, in words, for a subject line.
fn headline(action: &str) -> &'static str {
    let Some(action) = AuditAction::parse(action) else {
        return "Gatehouse notification";
    };
    match action {
        AuditAction::AccessRequestCreate => "New access request",
        AuditAction::AccessRequestApprove => "Access request approval recorded",
        AuditAction::AccessRequestReject => "Access request rejected",
        AuditAction::AccessRequestCancel => "Access request cancelled",
        AuditAction::AccessRequestExpire => "Access request timed out",
        AuditAction::AccessRequestApproved => "Access request approved",
        AuditAction::AccessGrantStart => "Access granted",
        AuditAction::AccessGrantEnd => "Access ended",
        AuditAction::AccessGrantRevoke => "Access revoked",
        AuditAction::BreakGlassCreate => "Break-glass request",
        AuditAction::BreakGlassApprove => "Break-glass approval recorded",
        AuditAction::BreakGlassReject => "Break-glass request rejected",
        AuditAction::BreakGlassCancel => "Break-glass request cancelled",
        AuditAction::BreakGlassExpire => "Break-glass request timed out",
        AuditAction::BreakGlassApproved => "Break-glass approved: reveal window open",
        AuditAction::BreakGlassRevealPassword => "Root password revealed",
        AuditAction::BreakGlassRevealTotp => "Root MFA code revealed",
        AuditAction::BreakGlassRootSession => "Root session started",
        AuditAction::BreakGlassReview => "Break-glass review recorded",
        AuditAction::VaultRotationRequired => "Root credential rotation required",
        AuditAction::VaultRotate => "Root credential rotated",
        _ => "Gatehouse notification",
    }
}

/// The message for one recipient of one event, as the delivery's payload.
pub fn render(ev: &StoredEvent, details: &Value, to: &UserRecord, public_url: &str) -> Value {
    let field = |k: &str| details.get(k).and_then(Value::as_str).map(str::to_string);
    let requester = field("requester_name").unwrap_or_else(|| "someone".into());
    let account = field("account_id").unwrap_or_default();
    let what = field("permission_set_name")
        .map(|p| format!("permission set {p}"))
        .or_else(|| field("vault_entry_id").map(|_| "root credentials".to_string()))
        .unwrap_or_else(|| "access".into());
    let head = headline(&ev.action);
    let subject = format!("[Gatehouse] {head}: {requester}, {what} on account {account}");
    let mut body = format!("Hello {},\n\n{head}.\n\n", to.display_name);
    body.push_str(&format!("Requester:   {requester}\n"));
    body.push_str(&format!("Account:     {account}\n"));
    body.push_str(&format!("For:         {what}\n"));
    if ev.actor_name != requester {
        body.push_str(&format!("By:          {}\n", ev.actor_name));
    }
    for (key, label) in [
        ("justification", "Reason:      "),
        ("comment", "Comment:     "),
        ("reason", "Why:         "),
        ("window_ends_at", "Window ends: "),
        ("ends_at", "Ends at:     "),
    ] {
        if let Some(v) = field(key) {
            body.push_str(&format!("{label}{v}\n"));
        }
    }
    if let (Some(a), Some(n)) = (details.get("approvals"), details.get("needed")) {
        body.push_str(&format!("Approvals:   {a} of {n}\n"));
    }
    body.push_str(&format!(
        "When:        {}\n",
        super::rfc3339(ev.occurred_at)
    ));
    body.push_str(&format!(
        "\nOpen it in Gatehouse: {}\n\nYou receive this because Gatehouse named you for this event.\n",
        link_for(public_url, &ev.action, ev.target_id.as_deref())
    ));
    json!({
        "to": to.email,
        "to_name": to.display_name,
        "subject": subject,
        "body": body,
    })
}
