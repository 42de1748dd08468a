//! What the root-credential vault and break-glass requests keep: vault entries (secrets
//! sealed by the caller, never opened here), requests, one decision per custodian, and the
//! task-scoped root sessions issued. The trait is part of [`Store`](super::Store); its SQL,
//! generic over the engine, is in `sql.rs`.
//!
//! Concurrency: every transition starts with a compare-and-set `UPDATE … WHERE status = …`
//! on the request row. On PostgreSQL that takes the row lock until commit, so concurrent
//! decisions on one request queue and each re-checks the status the previous one left; on
//! SQLite the write gate serialises writers. Either way two approvals can never both be
//! the one that reaches quorum, and an approval racing a cancellation or an expiry has one
//! winner.

use async_trait::async_trait;
use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::breakglass::CustodianSlot;
use serde_json::{json, Value};

use super::StoreResult;
use crate::audit::{AuditCtx, NewEvent};
use crate::clock::{to_datetime, Millis};
use crate::store::sql_store::AuditView;

mod sql;

/// A vault entry as stored; `password_enc` and `totp_seed_enc` are sealed under the master
/// key and only `break_glass` opens them.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VaultEntryRecord {
    pub id: String,
    pub account_id: String,
    pub account_name: String,
    pub password_enc: String,
    pub totp_seed_enc: String,
    pub password_group_id: String,
    pub password_group_name: String,
    pub mfa_group_id: String,
    pub mfa_group_name: String,
    pub password_approvals: i64,
    pub mfa_approvals: i64,
    pub window_secs: i64,
    pub rotation_required_at: Option<Millis>,
    pub rotated_at: Option<Millis>,
    pub rotated_by: Option<String>,
    /// Who set the current password and TOTP seed by a recorded rotation (user IDs; `None`:
    /// set when the entry was created). Split custody: never the same person.
    pub password_set_by_id: Option<String>,
    pub totp_set_by_id: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl std::fmt::Debug for VaultEntryRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultEntryRecord")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl AuditView for VaultEntryRecord {
    /// What the audit trail may say about an entry: never the secrets.
    fn audit_view(&self) -> Value {
        json!({
            "account_id": self.account_id,
            "password_group_id": self.password_group_id,
            "mfa_group_id": self.mfa_group_id,
            "password_approvals": self.password_approvals,
            "mfa_approvals": self.mfa_approvals,
            "window_secs": self.window_secs,
            "rotation_required": self.rotation_required_at.is_some(),
        })
    }
}

/// A change to a vault entry's custody settings.
#[derive(Debug, Clone, Default)]
pub struct VaultChange {
    pub password_group_id: Option<String>,
    pub mfa_group_id: Option<String>,
    pub password_approvals: Option<i64>,
    pub mfa_approvals: Option<i64>,
    pub window_secs: Option<i64>,
    pub updated_at: Millis,
}

/// A break-glass request with the custody settings it was made under (copied from its
/// vault entry then: a later change to the entry does not change what it needs).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BreakGlassRecord {
    pub id: String,
    pub vault_entry_id: String,
    pub account_id: String,
    pub account_name: String,
    pub requester_id: String,
    pub requester_name: String,
    pub justification: String,
    pub status: String,
    pub version: i64,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub decided_at: Option<Millis>,
    pub window_ends_at: Option<Millis>,
    pub first_used_at: Option<Millis>,
    pub review_note: Option<String>,
    pub reviewed_at: Option<Millis>,
    pub updated_at: Millis,
    pub password_approvals: i64,
    pub mfa_approvals: i64,
    pub window_secs: i64,
    pub password_group_id: String,
    pub mfa_group_id: String,
}

impl BreakGlassRecord {
    /// The details every break-glass event carries (the notification contract).
    pub fn event_details(&self, notify_user_ids: &[String]) -> Value {
        json!({
            "request_id": self.id,
            "requester_id": self.requester_id,
            "requester_name": self.requester_name,
            "account_id": self.account_id,
            "vault_entry_id": self.vault_entry_id,
            "status": self.status,
            "notify_user_ids": notify_user_ids,
        })
    }

    /// An event about this request.
    pub fn event(
        &self,
        at: Millis,
        ctx: &AuditCtx,
        action: AuditAction,
        notify_user_ids: &[String],
    ) -> NewEvent {
        NewEvent::new(
            at,
            ctx,
            action,
            "break_glass_request",
            Some(self.id.clone()),
        )
        .details(self.event_details(notify_user_ids))
    }
}

/// One custodian's decision, with their current custodian group membership.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DecisionRecord {
    pub approver_id: String,
    pub approver_name: String,
    pub decision: String,
    pub comment: String,
    pub created_at: Millis,
    pub in_password_group: bool,
    pub in_mfa_group: bool,
}

/// How approvals fill the two custodian slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quorum {
    pub password: i64,
    pub mfa: i64,
    pub reached: bool,
    /// The slot each counted approver fills, by approver id.
    pub slots: Vec<(String, CustodianSlot)>,
}

/// The quorum rule. Only approvals count, from people other than the requester who are in
/// a custodian group now; each person fills one slot. People in one group fill its slots;
/// people in both groups fill the password slots still missing, then the MFA slots still
/// missing, then (surplus) password. That assignment is a maximum one: quorum is reachable
/// iff `max(0, M - password_only) + max(0, N - mfa_only) <= both`.
pub fn quorum(
    decisions: &[DecisionRecord],
    requester_id: &str,
    needed_password: i64,
    needed_mfa: i64,
) -> Quorum {
    let counted: Vec<&DecisionRecord> = decisions
        .iter()
        .filter(|d| d.decision == "approve" && d.approver_id != requester_id)
        .filter(|d| d.in_password_group || d.in_mfa_group)
        .collect();
    let mut slots = Vec::new();
    let (mut password, mut mfa) = (0i64, 0i64);
    for d in counted
        .iter()
        .filter(|d| d.in_password_group != d.in_mfa_group)
    {
        if d.in_password_group {
            password += 1;
            slots.push((d.approver_id.clone(), CustodianSlot::Password));
        } else {
            mfa += 1;
            slots.push((d.approver_id.clone(), CustodianSlot::Mfa));
        }
    }
    for d in counted
        .iter()
        .filter(|d| d.in_password_group && d.in_mfa_group)
    {
        let slot = if password < needed_password {
            CustodianSlot::Password
        } else if mfa < needed_mfa {
            CustodianSlot::Mfa
        } else {
            CustodianSlot::Password
        };
        match slot {
            CustodianSlot::Password => password += 1,
            CustodianSlot::Mfa => mfa += 1,
        }
        slots.push((d.approver_id.clone(), slot));
    }
    Quorum {
        password,
        mfa,
        reached: password >= needed_password && mfa >= needed_mfa,
        slots,
    }
}

/// A custodian's decision to record.
#[derive(Debug, Clone)]
pub struct DecisionWrite {
    pub request_id: String,
    pub approver_id: String,
    pub approver_name: String,
    pub approve: bool,
    pub comment: String,
    pub at: Millis,
    pub ctx: AuditCtx,
    /// Who is told about the decision (the requester).
    pub notify_user_ids: Vec<String>,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideOutcome {
    /// Recorded; `approved` when this approval reached quorum.
    Recorded {
        request: Box<BreakGlassRecord>,
        approved: bool,
    },
    /// The request is no longer pending (its current status), or its pending time is up.
    NotPending(String),
    /// This person already decided.
    AlreadyDecided,
}

/// A reveal or a root session to record.
#[derive(Debug, Clone)]
pub enum UseKind {
    Reveal,
    RootSession {
        access_key_id: String,
        task: String,
        expires_at: Millis,
    },
}

#[async_trait]
pub trait BreakGlassStore: Send + Sync {
    async fn list_vault_entries(&self) -> StoreResult<Vec<VaultEntryRecord>>;
    async fn get_vault_entry(&self, id: &str) -> StoreResult<VaultEntryRecord>;
    /// One entry per account: a second is a conflict.
    async fn create_vault_entry(
        &self,
        entry: VaultEntryRecord,
        event: NewEvent,
    ) -> StoreResult<VaultEntryRecord>;
    async fn update_vault_entry(
        &self,
        id: &str,
        change: VaultChange,
        event: NewEvent,
    ) -> StoreResult<VaultEntryRecord>;
    /// Deletes the entry and its requests (their events stay in the trail).
    async fn delete_vault_entry(&self, id: &str, event: NewEvent) -> StoreResult<()>;
    /// Replaces the sealed secrets given and clears "rotation required", recording `by_id`
    /// as who set each half given. Split custody, checked under the write: refuses
    /// ([`StoreError::Conflict`](super::StoreError::Conflict)) when both halves are given,
    /// or when `by_id` set the half not given.
    #[expect(
        clippy::too_many_arguments,
        reason = "one audited write, each part distinct"
    )]
    async fn record_rotation(
        &self,
        id: &str,
        password_enc: Option<String>,
        totp_seed_enc: Option<String>,
        by: &str,
        by_id: &str,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<VaultEntryRecord>;

    async fn create_breakglass(
        &self,
        request: BreakGlassRecord,
        event: NewEvent,
    ) -> StoreResult<BreakGlassRecord>;
    async fn get_breakglass(&self, id: &str) -> StoreResult<BreakGlassRecord>;
    /// Requests `user_id` made or is a custodian for (every request when `None`), newest first.
    async fn list_breakglass(&self, user_id: Option<&str>) -> StoreResult<Vec<BreakGlassRecord>>;
    /// Decisions in the order they were made, with current custodian membership.
    async fn breakglass_decisions(&self, request_id: &str) -> StoreResult<Vec<DecisionRecord>>;
    /// Records a decision under the request's compare-and-set; an approval that reaches
    /// quorum opens the window (`breakglass.approved`) in the same transaction, a rejection
    /// ends the request.
    async fn decide_breakglass(&self, d: DecisionWrite) -> StoreResult<DecideOutcome>;
    /// Cancels a pending request; `None` if it is no longer pending.
    async fn cancel_breakglass(
        &self,
        id: &str,
        at: Millis,
        ctx: &AuditCtx,
    ) -> StoreResult<Option<BreakGlassRecord>>;
    /// Records a reveal or a root session by the requester while the window is open, marks
    /// the vault entry "rotation required" (with `vault.rotation_required`, told to
    /// `custodians`) the first time, and appends `event`. `false`: the window is not open.
    async fn use_breakglass(
        &self,
        id: &str,
        requester_id: &str,
        at: Millis,
        kind: UseKind,
        event: NewEvent,
        custodians: &[String],
    ) -> StoreResult<bool>;
    /// Stores the post-incident review note; `None` if one was already written.
    async fn review_breakglass(
        &self,
        id: &str,
        note: &str,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<Option<BreakGlassRecord>>;
    /// One background step: pending requests past their deadline become `expired`, open
    /// windows past their end become `closed`, each with its event. Each row changes under
    /// its own compare-and-set, so several instances never process one twice.
    async fn sweep_breakglass(&self, now: Millis) -> StoreResult<u64>;
}

/// The events a sweep writes. `closed` is not in the notification contract; `expire` is.
pub(crate) fn sweep_event(r: &BreakGlassRecord, at: Millis, expired: bool) -> NewEvent {
    let action = if expired {
        AuditAction::BreakGlassExpire
    } else {
        AuditAction::BreakGlassClose
    };
    let mut ev = r.event(
        at,
        &AuditCtx::system(),
        action,
        std::slice::from_ref(&r.requester_id),
    );
    if let Value::Object(m) = &mut ev.details {
        if let Some(end) = r.window_ends_at {
            m.insert("window_ends_at".into(), json!(to_datetime(end).to_string()));
        }
    }
    ev
}

/// The audit context of an event, to write a follow-on event as the same person.
pub(crate) fn event_ctx(ev: &NewEvent) -> AuditCtx {
    ev.ctx.clone()
}

pub(crate) fn with_detail_value(mut details: Value, key: &str, value: Value) -> Value {
    if let Value::Object(m) = &mut details {
        m.insert(key.into(), value);
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: &str, p: bool, m: bool) -> DecisionRecord {
        DecisionRecord {
            approver_id: id.into(),
            approver_name: id.into(),
            decision: "approve".into(),
            comment: String::new(),
            created_at: 0,
            in_password_group: p,
            in_mfa_group: m,
        }
    }

    #[test]
    fn quorum_needs_both_groups_and_people_in_both_fill_one_slot() {
        // One person in both groups is not a quorum of 1 + 1.
        assert!(!quorum(&[d("a", true, true)], "r", 1, 1).reached);
        assert!(quorum(&[d("a", true, true), d("b", true, false)], "r", 1, 1).reached);
        // Two password custodians are not an MFA approval.
        assert!(!quorum(&[d("a", true, false), d("b", true, false)], "r", 1, 1).reached);
        // The assignment maximises: `both` goes where it is missing.
        let q = quorum(&[d("b", true, true), d("a", true, false)], "r", 1, 1);
        assert!(q.reached);
        assert!(q.slots.contains(&("b".into(), CustodianSlot::Mfa)));
        // The requester never counts, nor someone in no group.
        assert!(!quorum(&[d("r", true, false), d("b", false, true)], "r", 1, 1).reached);
        assert!(!quorum(&[d("x", false, false), d("b", false, true)], "r", 1, 1).reached);
        // M = 2, N = 1 with one of each and one in both.
        assert!(
            quorum(
                &[d("a", true, false), d("b", false, true), d("c", true, true)],
                "r",
                2,
                1
            )
            .reached
        );
        assert!(
            !quorum(
                &[d("a", true, false), d("b", false, true), d("c", true, true)],
                "r",
                2,
                2
            )
            .reached
        );
        // Rejections do not count.
        let mut rej = d("b", false, true);
        rej.decision = "reject".into();
        assert!(!quorum(&[d("a", true, false), rej], "r", 1, 1).reached);
    }
}
