//! The sealed root-credential vault and split-custody break-glass requests.
//!
//! - A vault entry holds one account's root password and TOTP seed, sealed under the master
//!   key with purposes `vault:<entry-id>:password` and `vault:<entry-id>:totp`; they leave
//!   the server only through [`reveal`] (the password, or the *current* code, never the
//!   seed), and never enter a log, an error or the audit trail.
//! - A request needs M approvals from the password-custodian group and N from the
//!   MFA-custodian group: distinct people, none the requester, each with a fresh TOTP
//!   step-up. A person in both groups fills one slot ([`crate::store::break_glass::quorum`]).
//!   One rejection ends it; pending too long, it expires.
//! - Approved, the requester alone may, until the window ends and with a fresh TOTP step-up
//!   of their own, reveal the password and the current code, or take a task-scoped root
//!   session from the account's provider (at most 900 s). The first use marks the entry
//!   "rotation required" until a custodian records a rotation; the requester then writes a
//!   review note.

mod root_session;
pub mod routes;
pub mod tasks;
mod vault;

pub use root_session::root_session;
pub use vault::{create_vault, delete_vault, get_vault, list_vault, record_rotation, update_vault};

use gatehouse_shared::audit::{AuditAction, AuditEvent};
use gatehouse_shared::auth::{GroupRef, Role};
use gatehouse_shared::breakglass::{
    self as rules, BreakGlassDecision, BreakGlassDetail, BreakGlassRequest, BreakGlassStatus,
    CreateBreakGlass, DecideBreakGlass, RevealWhat, Revealed, RotationState, VaultEntry,
};
use gatehouse_shared::error::FieldError;
use serde_json::json;

use crate::auth::login::{self, Env};
use crate::auth::sessions::CurrentSession;
use crate::auth::{totp, AuthError};
use crate::clock::{to_datetime, Millis};
use crate::cloud::RootRefusal;
use crate::store::break_glass::{
    quorum, BreakGlassRecord, DecideOutcome, DecisionWrite, UseKind, VaultEntryRecord,
};
use crate::store::{Store, StoreError};

/// How long a request waits for its quorum.
pub const PENDING_LIFETIME_MS: i64 = 60 * 60 * 1000;
/// A custodian's TOTP step-up counts as fresh this long.
pub const MFA_FRESH_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum BreakGlassError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such vault entry")]
    EntryNotFound,
    #[error("no such request")]
    RequestNotFound,
    #[error("not a custodian")]
    NotCustodian,
    #[error("own request")]
    OwnRequest,
    #[error("fresh MFA required")]
    MfaRequired,
    #[error("request is {0}")]
    NotPending(String),
    #[error("already decided")]
    AlreadyDecided,
    #[error("only the requester")]
    NotRequester,
    #[error("window not open")]
    WindowNotOpen,
    #[error("review not possible yet")]
    ReviewNotDue,
    #[error("already reviewed")]
    AlreadyReviewed,
    #[error("vault entry exists")]
    EntryExists,
    /// A rotation that would put both halves of a root credential in one person's hands.
    #[error("split custody: {0}")]
    SplitCustody(&'static str),
    #[error("no root session")]
    Root(RootRefusal),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T> = std::result::Result<T, BreakGlassError>;

fn field(name: &str, message: impl Into<String>) -> BreakGlassError {
    BreakGlassError::Invalid(vec![FieldError::new(name, message)])
}

fn password_purpose(id: &str) -> String {
    format!("vault:{id}:password")
}

fn totp_purpose(id: &str) -> String {
    format!("vault:{id}:totp")
}

fn ms_opt(ms: Option<Millis>) -> Option<time::OffsetDateTime> {
    ms.map(to_datetime)
}

fn in_group(who: &CurrentSession, group_id: &str) -> bool {
    who.groups.iter().any(|g| g.id == group_id)
}

fn is_custodian_of(who: &CurrentSession, password_group: &str, mfa_group: &str) -> bool {
    in_group(who, password_group) || in_group(who, mfa_group)
}

fn entry_dto(e: &VaultEntryRecord, who: &CurrentSession) -> VaultEntry {
    VaultEntry {
        id: e.id.clone(),
        account_id: e.account_id.clone(),
        account_name: e.account_name.clone(),
        password_custodians: GroupRef {
            id: e.password_group_id.clone(),
            name: e.password_group_name.clone(),
        },
        mfa_custodians: GroupRef {
            id: e.mfa_group_id.clone(),
            name: e.mfa_group_name.clone(),
        },
        password_approvals: e.password_approvals,
        mfa_approvals: e.mfa_approvals,
        window_secs: e.window_secs,
        rotation: RotationState {
            required: e.rotation_required_at.is_some(),
            required_since: ms_opt(e.rotation_required_at),
            rotated_at: ms_opt(e.rotated_at),
            rotated_by: e.rotated_by.clone(),
        },
        is_custodian: is_custodian_of(who, &e.password_group_id, &e.mfa_group_id),
        created_at: to_datetime(e.created_at),
        updated_at: to_datetime(e.updated_at),
    }
}

/// The user ids of both custodian groups of an entry (a deleted group has none).
async fn custodian_ids(env: Env<'_>, password_group: &str, mfa_group: &str) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for g in [password_group, mfa_group] {
        match env.store.list_members(g).await {
            Ok(members) => ids.extend(members.into_iter().map(|u| u.id)),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Whose decision a request asks for: the current members of its two custodian groups,
/// but not its requester.
pub async fn deciders(env: Env<'_>, id: &str) -> Result<Vec<String>> {
    let r = env
        .store
        .get_breakglass(id)
        .await
        .map_err(|e| e.or_not_found(BreakGlassError::RequestNotFound))?;
    let mut ids = custodian_ids(env, &r.password_group_id, &r.mfa_group_id).await?;
    ids.retain(|i| *i != r.requester_id);
    Ok(ids)
}

async fn check_group(env: Env<'_>, field_name: &str, id: &str) -> Result<()> {
    match env.store.get_group(id).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Err(field(field_name, "No group with this ID.")),
        Err(e) => Err(e.into()),
    }
}

// --- requests ------------------------------------------------------------------------

fn may_see(who: &CurrentSession, r: &BreakGlassRecord) -> bool {
    r.requester_id == who.user.id
        || is_custodian_of(who, &r.password_group_id, &r.mfa_group_id)
        || who.has(Role::Administrator)
        || who.has(Role::Auditor)
}

async fn load_visible(env: Env<'_>, who: &CurrentSession, id: &str) -> Result<BreakGlassRecord> {
    let r = env
        .store
        .get_breakglass(id)
        .await
        .map_err(|e| e.or_not_found(BreakGlassError::RequestNotFound))?;
    if may_see(who, &r) {
        Ok(r)
    } else {
        Err(BreakGlassError::RequestNotFound)
    }
}

async fn request_dto(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    r: &BreakGlassRecord,
) -> Result<BreakGlassRequest> {
    let decisions = env.store.breakglass_decisions(&r.id).await?;
    let q = quorum(
        &decisions,
        &r.requester_id,
        r.password_approvals,
        r.mfa_approvals,
    );
    let status = BreakGlassStatus::parse(&r.status).unwrap_or(BreakGlassStatus::Closed);
    let pending = status == BreakGlassStatus::Pending && r.expires_at > now;
    let window_open =
        status == BreakGlassStatus::Approved && r.window_ends_at.is_some_and(|end| end > now);
    let decided = decisions.iter().any(|d| d.approver_id == who.user.id);
    Ok(BreakGlassRequest {
        id: r.id.clone(),
        vault_entry_id: r.vault_entry_id.clone(),
        account_id: r.account_id.clone(),
        account_name: r.account_name.clone(),
        requester_id: r.requester_id.clone(),
        requester_name: r.requester_name.clone(),
        justification: r.justification.clone(),
        status: if status == BreakGlassStatus::Pending && !pending {
            BreakGlassStatus::Expired
        } else if status == BreakGlassStatus::Approved && !window_open {
            BreakGlassStatus::Closed
        } else {
            status
        },
        password_approvals_needed: r.password_approvals,
        mfa_approvals_needed: r.mfa_approvals,
        password_approvals: q.password,
        mfa_approvals: q.mfa,
        decisions: decisions
            .iter()
            .map(|d| BreakGlassDecision {
                user_id: d.approver_id.clone(),
                username: d.approver_name.clone(),
                decision: d.decision.clone(),
                comment: d.comment.clone(),
                in_password_group: d.in_password_group,
                in_mfa_group: d.in_mfa_group,
                counts_as: q
                    .slots
                    .iter()
                    .find(|(id, _)| *id == d.approver_id)
                    .map(|(_, s)| *s),
                at: to_datetime(d.created_at),
            })
            .collect(),
        can_decide: pending
            && !decided
            && r.requester_id != who.user.id
            && is_custodian_of(who, &r.password_group_id, &r.mfa_group_id),
        can_use: window_open && r.requester_id == who.user.id,
        created_at: to_datetime(r.created_at),
        expires_at: to_datetime(r.expires_at),
        decided_at: ms_opt(r.decided_at),
        window_ends_at: ms_opt(r.window_ends_at),
        first_used_at: ms_opt(r.first_used_at),
        review_due: r.first_used_at.is_some() && r.review_note.is_none(),
        review_note: r.review_note.clone(),
        reviewed_at: ms_opt(r.reviewed_at),
        notified: None,
    })
}

pub async fn create_request(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    req: CreateBreakGlass,
) -> Result<BreakGlassRequest> {
    let justification =
        rules::justification(&req.justification).map_err(|m| field("justification", m))?;
    let entry = match env.store.get_vault_entry(&req.vault_entry_id).await {
        Ok(e) => e,
        Err(StoreError::NotFound) => {
            return Err(field("vault_entry_id", "No vault entry with this ID."))
        }
        Err(e) => return Err(e.into()),
    };
    let record = BreakGlassRecord {
        id: uuid::Uuid::new_v4().to_string(),
        vault_entry_id: entry.id.clone(),
        account_id: entry.account_id.clone(),
        account_name: entry.account_name.clone(),
        requester_id: who.user.id.clone(),
        requester_name: who.user.username.clone(),
        justification: justification.clone(),
        status: "pending".into(),
        version: 1,
        created_at: now,
        expires_at: now + PENDING_LIFETIME_MS,
        decided_at: None,
        window_ends_at: None,
        first_used_at: None,
        review_note: None,
        reviewed_at: None,
        updated_at: now,
        password_approvals: entry.password_approvals,
        mfa_approvals: entry.mfa_approvals,
        window_secs: entry.window_secs,
        password_group_id: entry.password_group_id.clone(),
        mfa_group_id: entry.mfa_group_id.clone(),
    };
    let mut notify = custodian_ids(env, &entry.password_group_id, &entry.mfa_group_id).await?;
    notify.retain(|id| *id != who.user.id);
    let mut event = record.event(now, &who.ctx(), AuditAction::BreakGlassCreate, &notify);
    if let serde_json::Value::Object(m) = &mut event.details {
        m.insert("justification".into(), json!(justification));
        m.insert(
            "needed".into(),
            json!({ "password": entry.password_approvals, "mfa": entry.mfa_approvals }),
        );
    }
    let created = env.store.create_breakglass(record, event).await?;
    request_dto(env, now, who, &created).await
}

pub async fn list_requests(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
) -> Result<Vec<BreakGlassRequest>> {
    let all = who.has(Role::Administrator) || who.has(Role::Auditor);
    let records = env
        .store
        .list_breakglass((!all).then_some(who.user.id.as_str()))
        .await?;
    let mut out = Vec::with_capacity(records.len());
    for r in &records {
        out.push(request_dto(env, now, who, r).await?);
    }
    Ok(out)
}

/// The pending requests `who` can decide now as a custodian (never their own), newest
/// first: their part of the approvals inbox.
pub async fn decidable(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
) -> Result<Vec<BreakGlassRequest>> {
    let records = env.store.list_breakglass(Some(&who.user.id)).await?;
    let mut out = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.status == "pending" && r.requester_id != who.user.id)
    {
        let dto = request_dto(env, now, who, r).await?;
        if dto.can_decide {
            out.push(dto);
        }
    }
    Ok(out)
}

/// The request and every event about it, oldest first.
pub async fn get_request(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
) -> Result<BreakGlassDetail> {
    let r = load_visible(env, who, id).await?;
    let request = request_dto(env, now, who, &r).await?;
    let events = env.store.related_events(id, 500).await?;
    let timeline: Vec<AuditEvent> = events
        .iter()
        .map(crate::audit::StoredEvent::to_api)
        .collect();
    Ok(BreakGlassDetail { request, timeline })
}

/// A custodian approves or rejects, after a fresh TOTP step-up (given inline or done
/// within the last 5 minutes).
pub async fn decide(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
    approve: bool,
    req: DecideBreakGlass,
) -> Result<BreakGlassRequest> {
    let r = load_visible(env, who, id).await?;
    if r.requester_id == who.user.id {
        return Err(BreakGlassError::OwnRequest);
    }
    if !is_custodian_of(who, &r.password_group_id, &r.mfa_group_id) {
        return Err(BreakGlassError::NotCustodian);
    }
    let comment = rules::note(req.comment.as_deref().unwrap_or(""), false)
        .map_err(|m| field("comment", m))?;
    if let Some(code) = req.totp.as_deref().filter(|c| !c.trim().is_empty()) {
        login::step_up(env, now, who, code).await?;
    } else if !who.mfa_fresh(now, MFA_FRESH_MS) {
        return Err(BreakGlassError::MfaRequired);
    }
    let outcome = env
        .store
        .decide_breakglass(DecisionWrite {
            request_id: r.id.clone(),
            approver_id: who.user.id.clone(),
            approver_name: who.user.username.clone(),
            approve,
            comment,
            at: now,
            ctx: who.ctx(),
            notify_user_ids: vec![r.requester_id.clone()],
        })
        .await?;
    match outcome {
        DecideOutcome::Recorded { request, .. } => request_dto(env, now, who, &request).await,
        DecideOutcome::NotPending(status) => Err(BreakGlassError::NotPending(status)),
        DecideOutcome::AlreadyDecided => Err(BreakGlassError::AlreadyDecided),
    }
}

pub async fn cancel(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
) -> Result<BreakGlassRequest> {
    let r = load_visible(env, who, id).await?;
    if r.requester_id != who.user.id {
        return Err(BreakGlassError::NotRequester);
    }
    match env.store.cancel_breakglass(id, now, &who.ctx()).await? {
        Some(done) => request_dto(env, now, who, &done).await,
        None => {
            let current = env.store.get_breakglass(id).await?;
            let status = if current.status == "pending" {
                "expired".into()
            } else {
                current.status
            };
            Err(BreakGlassError::NotPending(status))
        }
    }
}

/// Checks that `who` is the requester, the window is open now, and the requester passed
/// MFA within the last 5 minutes: a stolen password session alone never reaches a root
/// credential.
async fn usable(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
) -> Result<BreakGlassRecord> {
    let r = load_visible(env, who, id).await?;
    if r.requester_id != who.user.id {
        return Err(BreakGlassError::NotRequester);
    }
    if r.status != "approved" || r.window_ends_at.is_none_or(|end| end <= now) {
        return Err(BreakGlassError::WindowNotOpen);
    }
    if !who.mfa_fresh(now, MFA_FRESH_MS) {
        return Err(BreakGlassError::MfaRequired);
    }
    Ok(r)
}

/// Reveals the root password or the current TOTP code to the requester inside the window.
/// The reveal is recorded (without the value) before the value is returned.
pub async fn reveal(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
    what: RevealWhat,
) -> Result<Revealed> {
    let r = usable(env, now, who, id).await?;
    let entry = env
        .store
        .get_vault_entry(&r.vault_entry_id)
        .await
        .map_err(|e| e.or_not_found(BreakGlassError::EntryNotFound))?;
    let open_err = |_| {
        StoreError::Db(sqlx::Error::Protocol(
            "a vault secret could not be opened".into(),
        ))
    };
    let (value, valid_until, action) = match what {
        RevealWhat::Password => {
            let bytes = env
                .master
                .open(&password_purpose(&entry.id), &entry.password_enc)
                .map_err(open_err)?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                StoreError::Db(sqlx::Error::Protocol(
                    "a vault password is not UTF-8".into(),
                ))
            })?;
            (
                text,
                r.window_ends_at.unwrap_or(now),
                AuditAction::BreakGlassRevealPassword,
            )
        }
        RevealWhat::Totp => {
            let seed = env
                .master
                .open(&totp_purpose(&entry.id), &entry.totp_seed_enc)
                .map_err(open_err)?;
            let secs = u64::try_from(now / 1000).unwrap_or(0);
            let code = totp::code_for_seed(&seed, secs).ok_or_else(|| {
                StoreError::Db(sqlx::Error::Protocol(
                    "a TOTP code could not be computed".into(),
                ))
            })?;
            let step_end =
                i64::try_from((secs / totp::STEP_SECS + 1) * totp::STEP_SECS).unwrap_or(0) * 1000;
            (code, step_end, AuditAction::BreakGlassRevealTotp)
        }
    };
    let custodians = custodian_ids(env, &r.password_group_id, &r.mfa_group_id).await?;
    let event = r.event(now, &who.ctx(), action, &custodians);
    if !env
        .store
        .use_breakglass(id, &who.user.id, now, UseKind::Reveal, event, &custodians)
        .await?
    {
        return Err(BreakGlassError::WindowNotOpen);
    }
    Ok(Revealed {
        what,
        value,
        valid_until: to_datetime(valid_until),
    })
}

/// The requester's post-incident review note, once the credential was used.
pub async fn review(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
    note: &str,
) -> Result<BreakGlassRequest> {
    let r = load_visible(env, who, id).await?;
    if r.requester_id != who.user.id {
        return Err(BreakGlassError::NotRequester);
    }
    if r.first_used_at.is_none() {
        return Err(BreakGlassError::ReviewNotDue);
    }
    let note = rules::note(note, true).map_err(|m| field("note", m))?;
    let custodians = custodian_ids(env, &r.password_group_id, &r.mfa_group_id).await?;
    let mut event = r.event(now, &who.ctx(), AuditAction::BreakGlassReview, &custodians);
    if let serde_json::Value::Object(m) = &mut event.details {
        m.insert("note".into(), json!(note));
    }
    match env.store.review_breakglass(id, &note, now, event).await? {
        Some(done) => request_dto(env, now, who, &done).await,
        None => Err(BreakGlassError::AlreadyReviewed),
    }
}

/// One background step (expire pending requests, close ended windows); see `jobs::tick`.
pub async fn sweep(store: &dyn Store, now: Millis) -> crate::store::StoreResult<u64> {
    store.sweep_breakglass(now).await
}
