//! The audit trail: what an event is, how it is chained and signed, how the chain is
//! verified, and the auditor's routes. Events are appended by the store inside the same
//! transaction as the change they record (see `store`), so a change and its event are
//! committed together or not at all.

pub mod chain;
pub mod generate;
pub mod routes;
pub mod signer;
pub mod tsa;
pub mod verify;
pub mod witness;

use gatehouse_shared::audit::{AuditAction, AuditEvent, Outcome};
use serde_json::Value;

use crate::clock::{to_datetime, Millis};

pub use signer::AuditSigner;

/// A checkpoint is written at least this often while there are new events…
pub const CHECKPOINT_INTERVAL_MS: i64 = 60_000;
/// …and whenever the chain reaches a multiple of this many events.
pub const CHECKPOINT_EVERY_EVENTS: i64 = 10_000;

/// Where a request came from, as recorded in the audit trail (read from the request by
/// its extractor in `http/extract.rs`).
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who did it, from where: taken from the request at the edge.
#[derive(Debug, Clone, Default)]
pub struct AuditCtx {
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl AuditCtx {
    /// Background work and start-up: no person, no address.
    pub fn system() -> Self {
        Self {
            actor_name: "system".into(),
            ..Self::default()
        }
    }
}

/// An event about to be appended. The store assigns `seq` and the hashes.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub occurred_at: Millis,
    pub ctx: AuditCtx,
    /// The dotted action name: an [`AuditAction`]'s string for everything Gatehouse does.
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    /// Context, before/after images; never secrets.
    pub details: Value,
}

impl NewEvent {
    pub fn new(
        occurred_at: Millis,
        ctx: &AuditCtx,
        action: AuditAction,
        target_type: &'static str,
        target_id: Option<String>,
    ) -> Self {
        Self::named(occurred_at, ctx, action.as_str(), target_type, target_id)
    }

    /// An event whose action is not one of Gatehouse's own: for tests and benchmarks that
    /// fill a trail with made-up actions. The product writes [`AuditAction`]s only (the tidy
    /// test holds `backend/src` to [`NewEvent::new`]).
    pub fn named(
        occurred_at: Millis,
        ctx: &AuditCtx,
        action: &'static str,
        target_type: &'static str,
        target_id: Option<String>,
    ) -> Self {
        Self {
            occurred_at,
            ctx: ctx.clone(),
            action,
            target_type,
            target_id,
            outcome: Outcome::Success,
            reason: None,
            details: Value::Object(serde_json::Map::new()),
        }
    }

    #[must_use]
    pub fn failed(mut self, outcome: Outcome, reason: &str) -> Self {
        self.outcome = outcome;
        self.reason = Some(reason.to_string());
        self
    }

    #[must_use]
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredEvent {
    pub seq: i64,
    pub occurred_at: i64,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl StoredEvent {
    pub fn content(&self) -> chain::EventContent<'_> {
        chain::EventContent {
            seq: self.seq,
            occurred_at: self.occurred_at,
            actor_id: self.actor_id.as_deref(),
            actor_name: &self.actor_name,
            source_ip: self.source_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            action: &self.action,
            target_type: &self.target_type,
            target_id: self.target_id.as_deref(),
            outcome: &self.outcome,
            reason: self.reason.as_deref(),
            details: &self.details,
        }
    }

    pub fn to_api(&self) -> AuditEvent {
        AuditEvent {
            seq: self.seq,
            occurred_at: to_datetime(self.occurred_at),
            actor_id: self.actor_id.clone(),
            actor_name: self.actor_name.clone(),
            source_ip: self.source_ip.clone(),
            user_agent: self.user_agent.clone(),
            action: self.action.clone(),
            target_type: self.target_type.clone(),
            target_id: self.target_id.clone(),
            outcome: Outcome::parse(&self.outcome).unwrap_or(Outcome::Failure),
            reason: self.reason.clone(),
            details: serde_json::from_str(&self.details).unwrap_or(Value::Null),
            hash: self.hash.clone(),
        }
    }
}

/// A signed statement "the chain had hash H at event S, after checkpoint P".
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCheckpoint {
    pub id: i64,
    pub event_seq: i64,
    pub event_hash: String,
    pub signed_at: i64,
    pub key_id: String,
    pub signature: String,
    /// The hash of the checkpoint before (hex); `None` for a checkpoint written before
    /// checkpoints were chained (migration 0010), whose signature covers the v1 message.
    pub prev_hash: Option<String>,
}

impl StoredCheckpoint {
    /// The bytes its signature covers (v2 when chained, v1 otherwise); `None` if a stored
    /// hash is malformed.
    pub fn message(&self) -> Option<Vec<u8>> {
        let h = chain::parse_hash(&self.event_hash)?;
        Some(match &self.prev_hash {
            None => chain::checkpoint_message(self.id, self.event_seq, &h, self.signed_at),
            Some(p) => chain::checkpoint_message_v2(
                self.id,
                self.event_seq,
                &h,
                self.signed_at,
                &chain::parse_hash(p)?,
            ),
        })
    }

    /// The checkpoint's own hash: what the next checkpoint links to and the time-stamp
    /// authority stamps.
    pub fn hash(&self) -> Option<[u8; 32]> {
        self.message().map(|m| chain::checkpoint_hash(&m))
    }
}

/// The checkpoint cadence the verifier holds the trail to (see docs/AUDIT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// The longest an event may wait for a checkpoint: each chained checkpoint is signed
    /// within this long of the first event after the checkpoint before it, and the events
    /// after the newest checkpoint span no longer than this.
    pub max_lag_ms: i64,
}

/// The default [`Cadence::max_lag_ms`]: ten ticks' worth of slack over the minute a
/// checkpoint normally waits.
pub const CHECKPOINT_MAX_LAG_MS: i64 = 10 * 60_000;

impl Default for Cadence {
    fn default() -> Self {
        Self {
            max_lag_ms: CHECKPOINT_MAX_LAG_MS,
        }
    }
}

/// Filters for the auditor's search; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    /// A username or user id.
    pub actor: Option<String>,
    /// An exact action, or a prefix when it ends in `.*`.
    pub action: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
    /// Only events before this (occurred_at, seq) in the newest-first order: the cursor
    /// the page before ended at.
    pub before: Option<(Millis, i64)>,
    pub limit: i64,
}
