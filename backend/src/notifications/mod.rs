//! Notifications, driven by the audit trail. Two single steps, both called from
//! [`jobs::tick`](crate::jobs::tick) with the injected clock:
//!
//! - [`enqueue_due`] reads the audit events after the notifier's cursor, turns each event
//!   whose action is in [`EVENT_TYPES`] into deliveries (one per subscribed webhook
//!   endpoint, one e-mail per user in `details.notify_user_ids` who has an address and is
//!   enabled) and moves the cursor in the same transaction, by compare-and-set: when two
//!   instances read the same events, one commits and the other changes nothing.
//! - [`deliver_due`] claims due deliveries (with a lease, so a crashed instance's claim
//!   is taken again once it runs out), sends them, and records each attempt; a failure is
//!   retried with exponential backoff and jitter, up to [`MAX_ATTEMPTS`], then the delivery
//!   is dead.
//!
//! Webhooks are signed (see [`webhook`]); e-mail goes over SMTP with lettre (see [`mail`]).

pub mod mail;
pub mod routes;
pub mod webhook;

use gatehouse_shared::audit::AuditAction;
use std::collections::BTreeSet;
use std::time::Instant;

use gatehouse_shared::error::FieldError;
use gatehouse_shared::notifications::{EVENT_TYPES, TEST_EVENT};
use rand::Rng;
use serde_json::{json, Value};

use crate::audit::StoredEvent;
use crate::clock::{to_datetime, Millis};
use crate::config::Config;
use crate::secrets::MasterKey;
use crate::store::{
    AttemptOutcome, AttemptRecord, DeliveryRecord, EndpointRecord, NewDelivery, Store, StoreError,
    StoreResult,
};

/// Attempts before a delivery is given up (dead).
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claim holds; longer than any one attempt can take.
pub const LEASE_MS: i64 = 120_000;
/// The first retry waits this long; each later one twice as long as the one before…
pub const BACKOFF_BASE_MS: i64 = 30_000;
/// …up to this.
pub const BACKOFF_MAX_MS: i64 = 60 * 60 * 1000;
/// Audit events read per enqueue transaction.
const ENQUEUE_BATCH: i64 = 200;
/// Deliveries claimed per step.
const CLAIM_BATCH: i64 = 50;
/// The purpose the endpoint secrets are sealed under.
pub const SECRET_PURPOSE: &str = "notification-endpoint-secret";

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such notification endpoint")]
    EndpointNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The sending side, built once from the configuration.
pub struct Notifier {
    pub(crate) http: reqwest::Client,
    pub(crate) mail: Option<mail::Mailer>,
    pub(crate) public_url: String,
    pub(crate) master: MasterKey,
    pub(crate) mail_settings: gatehouse_shared::notifications::MailSettings,
}

impl Notifier {
    pub fn new(config: &Config, public_url: &str, master: &MasterKey) -> anyhow::Result<Self> {
        let timeout = std::time::Duration::from_secs(config.notify_timeout_secs);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A webhook answer is the endpoint's own: a redirect is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Gatehouse-Webhook/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            mail: mail::Mailer::from_config(config)?,
            public_url: public_url.trim_end_matches('/').to_string(),
            master: master.clone(),
            mail_settings: mail::settings_view(config),
        })
    }
}

/// What one delivery step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliverReport {
    pub delivered: usize,
    pub retrying: usize,
    pub dead: usize,
}

/// The contract field `notify_user_ids`, deduplicated, in order.
fn notify_user_ids(details: &Value) -> Vec<String> {
    let mut seen = BTreeSet::new();
    details
        .get("notify_user_ids")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .filter(|id| seen.insert((*id).to_string()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Who is told of `action` asking for the decision of `user_ids`, and how: by e-mail when
/// mail is set up and they have an address (as [`enqueue_due`] sends it), and through the
/// enabled endpoints that want it.
pub async fn who_is_told(
    store: &dyn Store,
    notifier: &Notifier,
    action: AuditAction,
    user_ids: &[String],
) -> StoreResult<gatehouse_shared::notifications::Notified> {
    let mut people = Vec::new();
    let mut emailed = false;
    for id in user_ids {
        match store.get_user(id).await {
            Ok(u) if !u.disabled => {
                emailed |= !u.email.trim().is_empty();
                people.push(if u.display_name.trim().is_empty() {
                    u.username
                } else {
                    u.display_name
                });
            }
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    let webhooks = store
        .list_endpoints()
        .await?
        .into_iter()
        .filter(|e| e.wants(action.as_str()))
        .map(|e| e.name)
        .collect();
    Ok(gatehouse_shared::notifications::Notified {
        people,
        by_email: notifier.mail.is_some() && emailed,
        webhooks,
    })
}

/// Checks and stores a new webhook endpoint with a new signing secret: the record and the
/// secret, which is shown this once and kept only sealed.
pub async fn create_endpoint(
    store: &dyn Store,
    master: &MasterKey,
    now: Millis,
    ctx: &crate::audit::AuditCtx,
    req: gatehouse_shared::notifications::CreateEndpoint,
) -> Result<(EndpointRecord, String), NotifyError> {
    use gatehouse_shared::notifications::{validate_event_types, validate_name, validate_url};
    let mut f = gatehouse_shared::validate::Faults::new();
    let name = f.check("name", validate_name(&req.name));
    let url = f.check("url", validate_url(&req.url));
    let types = f.check("event_types", validate_event_types(&req.event_types));
    let (Some(name), Some(url), Some(types)) = (name, url, types) else {
        return Err(NotifyError::Invalid(f.into_vec()));
    };
    let secret = format!("whsec_{}", crate::secrets::random_token(32));
    let record = EndpointRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        url,
        event_types: types.join(","),
        enabled: req.enabled,
        secret_sealed: master.seal(SECRET_PURPOSE, secret.as_bytes()),
        created_at: now,
        updated_at: now,
    };
    let event = crate::audit::NewEvent::new(
        now,
        ctx,
        AuditAction::NotificationEndpointCreate,
        "notification_endpoint",
        Some(record.id.clone()),
    );
    Ok((store.create_endpoint(record, event).await?, secret))
}

/// The page a notification links to.
pub fn link_for(public_url: &str, action: &str, target_id: Option<&str>) -> String {
    let id = target_id.unwrap_or_default();
    if action.starts_with("breakglass.") {
        format!("{public_url}/break-glass/{id}")
    } else if action.starts_with("vault.") {
        format!("{public_url}/vault")
    } else if action == AuditAction::AccessRequestCreate.as_str() {
        // Someone may approve it: their inbox lists it with the approve button.
        format!("{public_url}/approvals")
    } else if action.starts_with("access_") {
        // The requester's own list, where the request shows its state and countdown.
        format!("{public_url}/requests")
    } else {
        format!("{public_url}/admin/notifications")
    }
}

/// The webhook body for an audit event: `{id, type, occurred_at, actor, target, outcome,
/// details, event_seq, link}`; `id` is the delivery id (the same on every retry).
pub fn webhook_body(delivery_id: &str, ev: &StoredEvent, public_url: &str) -> String {
    let details: Value = serde_json::from_str(&ev.details).unwrap_or(Value::Null);
    json!({
        "id": delivery_id,
        "type": ev.action,
        "occurred_at": rfc3339(ev.occurred_at),
        "event_seq": ev.seq,
        "actor": { "id": ev.actor_id, "name": ev.actor_name },
        "target": { "type": ev.target_type, "id": ev.target_id },
        "outcome": ev.outcome,
        "details": details,
        "link": link_for(public_url, &ev.action, ev.target_id.as_deref()),
    })
    .to_string()
}

pub fn rfc3339(ms: Millis) -> String {
    to_datetime(ms)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Turns the audit events after the cursor into deliveries, moving the cursor with them in
/// one transaction. Returns the number of deliveries created by this call.
pub async fn enqueue_due(
    store: &dyn Store,
    notifier: &Notifier,
    now: Millis,
) -> StoreResult<usize> {
    let mut created = 0;
    // Bounded: a lost compare-and-set re-reads from the cursor the winner left.
    for _ in 0..20 {
        let cursor = store.notification_cursor().await?;
        let events = store.events_after(cursor, ENQUEUE_BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(created);
        };
        let endpoints = store.list_endpoints().await?;
        let mut deliveries = Vec::new();
        for ev in events
            .iter()
            .filter(|e| EVENT_TYPES.iter().any(|a| a.as_str() == e.action))
        {
            for ep in endpoints.iter().filter(|ep| ep.wants(&ev.action)) {
                let id = new_id();
                deliveries.push(NewDelivery {
                    payload: webhook_body(&id, ev, &notifier.public_url),
                    id,
                    event_seq: Some(ev.seq),
                    event_type: ev.action.clone(),
                    channel: "webhook",
                    endpoint_id: Some(ep.id.clone()),
                    recipient: None,
                    dedupe_key: Some(format!("{}:webhook:{}", ev.seq, ep.id)),
                    created_at: now,
                });
            }
            if notifier.mail.is_none() {
                continue;
            }
            let details: Value = serde_json::from_str(&ev.details).unwrap_or(Value::Null);
            for user_id in notify_user_ids(&details) {
                let user = match store.get_user(&user_id).await {
                    Ok(u) => u,
                    Err(StoreError::NotFound) => continue,
                    Err(e) => return Err(e),
                };
                if user.disabled || user.email.trim().is_empty() {
                    continue;
                }
                let message = mail::render(ev, &details, &user, &notifier.public_url);
                deliveries.push(NewDelivery {
                    id: new_id(),
                    event_seq: Some(ev.seq),
                    event_type: ev.action.clone(),
                    channel: "email",
                    endpoint_id: None,
                    recipient: Some(user.email.clone()),
                    dedupe_key: Some(format!("{}:email:{}", ev.seq, user.id)),
                    payload: message.to_string(),
                    created_at: now,
                });
            }
        }
        let n = deliveries.len();
        match store
            .enqueue_after_cursor(cursor, last, deliveries, now)
            .await
        {
            Ok(true) => created += n,
            // Another instance moved the cursor (or inserted the same delivery) first.
            Ok(false) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        if events.len() < usize::try_from(ENQUEUE_BATCH).unwrap_or(usize::MAX) {
            let now_cursor = store.notification_cursor().await?;
            if now_cursor >= last {
                return Ok(created);
            }
        }
    }
    Ok(created)
}

/// The wait before attempt `attempt + 1`, given that attempt `attempt` (1-based) failed:
/// 30 s, 60 s, 120 s, … up to an hour, plus up to a quarter more at random (`jitter` in
/// 0..1) so many failed deliveries do not all return at once.
pub fn backoff_ms(attempt: i64, jitter: f64) -> i64 {
    let exp = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    let base = BACKOFF_BASE_MS
        .saturating_mul(1_i64 << exp)
        .min(BACKOFF_MAX_MS);
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a quarter of at most an hour in ms"
    )]
    let extra = (base as f64 * 0.25 * jitter.clamp(0.0, 1.0)) as i64;
    base + extra
}

/// The result of one attempt, before it is recorded.
pub(crate) struct Sent {
    pub ok: bool,
    /// A failure that retrying cannot fix.
    pub permanent: bool,
    pub status_code: Option<i64>,
    pub detail: String,
}

impl Sent {
    pub(crate) fn failed(detail: impl Into<String>) -> Self {
        Self {
            ok: false,
            permanent: false,
            status_code: None,
            detail: detail.into(),
        }
    }
}

/// Claims the due deliveries, sends each, and records the attempt.
pub async fn deliver_due(
    store: &dyn Store,
    notifier: &Notifier,
    now: Millis,
) -> StoreResult<DeliverReport> {
    let owner = new_id();
    let claimed = store
        .claim_deliveries(now, LEASE_MS, &owner, CLAIM_BATCH)
        .await?;
    let mut report = DeliverReport::default();
    for d in claimed {
        let started = Instant::now();
        let sent = send(store, notifier, &d, now).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let outcome = if sent.ok {
            report.delivered += 1;
            AttemptOutcome {
                status: "delivered",
                next_attempt_at: now,
                delivered_at: Some(now),
            }
        } else if sent.permanent || d.attempts >= MAX_ATTEMPTS {
            report.dead += 1;
            AttemptOutcome {
                status: "dead",
                next_attempt_at: now,
                delivered_at: None,
            }
        } else {
            report.retrying += 1;
            let jitter: f64 = rand::thread_rng().gen();
            AttemptOutcome {
                status: "retrying",
                next_attempt_at: now + backoff_ms(d.attempts, jitter),
                delivered_at: None,
            }
        };
        let attempt = AttemptRecord {
            delivery_id: d.id.clone(),
            attempt: d.attempts,
            started_at: now,
            duration_ms,
            ok: sent.ok,
            status_code: sent.status_code,
            detail: sent.detail,
        };
        if !store.finish_attempt(&owner, attempt, outcome).await? {
            tracing::warn!(delivery = %d.id, "a notification claim expired before its attempt was recorded");
        }
    }
    Ok(report)
}

async fn send(store: &dyn Store, notifier: &Notifier, d: &DeliveryRecord, now: Millis) -> Sent {
    match d.channel.as_str() {
        "webhook" => {
            let Some(endpoint_id) = &d.endpoint_id else {
                return Sent {
                    permanent: true,
                    ..Sent::failed("no endpoint")
                };
            };
            let endpoint = match store.get_endpoint(endpoint_id).await {
                Ok(e) => e,
                Err(StoreError::NotFound) => {
                    return Sent {
                        permanent: true,
                        ..Sent::failed("endpoint deleted")
                    }
                }
                Err(_) => return Sent::failed("database error"),
            };
            if !endpoint.enabled {
                return Sent {
                    permanent: true,
                    ..Sent::failed("endpoint disabled")
                };
            }
            let Ok(secret) = notifier
                .master
                .open(SECRET_PURPOSE, &endpoint.secret_sealed)
            else {
                return Sent {
                    permanent: true,
                    ..Sent::failed("endpoint secret cannot be opened")
                };
            };
            webhook::send(&notifier.http, &endpoint.url, &secret, d, now).await
        }
        "email" => match &notifier.mail {
            Some(m) => m.send(&d.payload).await,
            None => Sent {
                permanent: true,
                ..Sent::failed("SMTP is not configured")
            },
        },
        _ => Sent {
            permanent: true,
            ..Sent::failed("unknown channel")
        },
    }
}

/// One notification step of [`jobs::tick`](crate::jobs::tick): enqueue, then deliver.
pub async fn step(
    store: &dyn Store,
    notifier: &Notifier,
    now: Millis,
) -> StoreResult<(usize, DeliverReport)> {
    let enqueued = enqueue_due(store, notifier, now).await?;
    let report = deliver_due(store, notifier, now).await?;
    Ok((enqueued, report))
}

/// The delivery a "send test" creates: a webhook with the test event's body.
pub fn test_delivery(endpoint_id: &str, actor: &str, public_url: &str, now: Millis) -> NewDelivery {
    let id = new_id();
    let payload = json!({
        "id": id,
        "type": TEST_EVENT,
        "occurred_at": rfc3339(now),
        "event_seq": null,
        "actor": { "name": actor },
        "target": { "type": "notification_endpoint", "id": endpoint_id },
        "outcome": "success",
        "details": { "message": "A test from Gatehouse: this endpoint receives notifications." },
        "link": format!("{public_url}/admin/notifications"),
    })
    .to_string();
    NewDelivery {
        id,
        event_seq: None,
        event_type: TEST_EVENT.as_str().into(),
        channel: "webhook",
        endpoint_id: Some(endpoint_id.into()),
        recipient: None,
        dedupe_key: None,
        payload,
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_a_cap() {
        assert_eq!(backoff_ms(1, 0.0), 30_000);
        assert_eq!(backoff_ms(2, 0.0), 60_000);
        assert_eq!(backoff_ms(3, 1.0), 150_000);
        assert_eq!(backoff_ms(40, 0.0), BACKOFF_MAX_MS);
        assert!(backoff_ms(1, 0.5) > 30_000 && backoff_ms(1, 0.5) < 37_501);
    }

    #[test]
    fn notify_user_ids_are_deduplicated_and_strings_only() {
        let d = json!({ "notify_user_ids": ["a", "b", "a", 3] });
        assert_eq!(notify_user_ids(&d), vec!["a".to_string(), "b".to_string()]);
        assert!(notify_user_ids(&json!({})).is_empty());
    }
}
