//! The audit trail as the API shows it: events, pages, and the chain verification report.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// One event of the hash-chained trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub actor_id: Option<String>,
    /// The actor's name at the time (a username, or `system`, or the name tried at sign-in).
    pub actor_name: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Dotted action name, e.g. `auth.login`, `directory.group.create`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub outcome: Outcome,
    /// Machine-readable reason for a failure or refusal, e.g. `bad_password`.
    pub reason: Option<String>,
    /// Before/after and other context; never secrets.
    pub details: serde_json::Value,
    /// Hex SHA-256 of this event, chained to the previous one.
    pub hash: String,
}

/// `GET /api/v1/audit/events`: newest first; pass `next_cursor` as `cursor` for the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// What kind of damage verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainProblemKind {
    /// The event's stored content no longer matches its hash.
    Altered,
    /// One or more events before this one are gone.
    Missing,
    /// The event is intact but not where the chain says it belongs.
    Reordered,
    /// A checkpoint's signature is invalid, or names a hash the chain does not have.
    CheckpointInvalid,
    /// Events that a signed checkpoint covered are gone from the end of the trail.
    Truncated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainProblem {
    /// The first event (sequence number) at which the chain stops holding.
    pub seq: i64,
    pub kind: ChainProblemKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// The checkpoint's own number.
    pub id: i64,
    /// The last event it covers.
    pub event_seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_at: OffsetDateTime,
}

/// `GET /api/v1/audit/verify` and `gatehouse audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub intact: bool,
    pub events_checked: i64,
    pub last_checkpoint: Option<CheckpointInfo>,
    /// Events after the last checkpoint: chained, not yet signed.
    pub unsigned_events: i64,
    pub problem: Option<ChainProblem>,
}
