//! Just-in-time access: eligibility and approval policies (the strictest of the matching
//! ones wins), access requests and their state machine, grants that add to a person's
//! entitlements until they end, and the background step that expires, starts and ends.
//!
//! Every change to a request is a *plan* ([`Plan`](crate::store::Plan)): a pure function
//! from what the request is now (read inside the writing transaction) to what it becomes,
//! with its audit events. The store runs it under a compare-and-set on the request's
//! `version`, so concurrent approvals, cancellations, expiries and revocations each see
//! the state the previous winner left, and a refused plan changes nothing.

pub mod access_policies;
mod eligibility;
pub mod policy;
pub mod routes;
mod view;

use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::requests::{check_request, CreateAccessRequest, DecisionKind, RequestState};
use serde_json::{json, Value};

use crate::audit::{AuditCtx, NewEvent};
use crate::clock::{to_millis, Millis};
use crate::store::{
    AccessRequestRecord, DecisionRecord, EntitlementRecord, RequestSnapshot, RevocationRecord,
    Store, StoreError, Transition,
};

/// Defined beside the store, whose request transitions return it.
pub use crate::store::RequestError;
pub use eligibility::eligibility;
pub use policy::{resolve_approval, resolve_eligibility, ApprovalRule};
pub use view::{context, dto};

/// How recent an approver's MFA must be when a policy demands it.
pub const MFA_FRESH_MS: i64 = 5 * 60 * 1000;

/// The state stored for a request; an unknown value reads as the terminal `revoked`.
pub fn state_of(r: &AccessRequestRecord) -> RequestState {
    RequestState::parse(&r.state).unwrap_or(RequestState::Revoked)
}

/// Distinct, currently eligible approvers' decisions of `kind` (the requester never counts).
pub fn counted(snap: &RequestSnapshot, kind: &str) -> i64 {
    let n = snap
        .decisions
        .iter()
        .filter(|d| d.decision == kind && snap.approvers.iter().any(|a| a.id == d.approver_id))
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The details every request event carries (the notification contract).
fn details(r: &AccessRequestRecord, extra: Value) -> Value {
    let mut d = json!({
        "request_id": r.id,
        "requester_id": r.requester_id,
        "requester_name": r.requester_name,
        "account_id": r.account_id,
        "account_name": r.account_name,
        "permission_set_id": r.permission_set_id,
        "permission_set_name": r.permission_set_name,
        "state": r.state,
    });
    if let (Value::Object(m), Value::Object(x)) = (&mut d, extra) {
        m.extend(x);
    }
    d
}

fn event(
    now: Millis,
    ctx: &AuditCtx,
    action: AuditAction,
    r: &AccessRequestRecord,
    extra: Value,
) -> NewEvent {
    NewEvent::new(now, ctx, action, "access_request", Some(r.id.clone())).details(details(r, extra))
}

/// Events when a request reaches quorum (or needs none) at `now`: `access_request.approved`
/// and, if its start has come, `access_grant.start`. Updates `r` in place.
fn approve_now(
    now: Millis,
    ctx: &AuditCtx,
    r: &mut AccessRequestRecord,
    extra: &Value,
) -> Vec<NewEvent> {
    let start = r.requested_start_at.unwrap_or(now).max(now);
    r.starts_at = Some(start);
    r.ends_at = Some(start + r.duration_secs * 1000);
    r.updated_at = now;
    let mut events = Vec::new();
    if start <= now {
        r.state = RequestState::Active.as_str().into();
        events.push(event(
            now,
            ctx,
            AuditAction::AccessRequestApproved,
            r,
            requester_notice(r, extra),
        ));
        events.push(event(
            now,
            ctx,
            AuditAction::AccessGrantStart,
            r,
            grant_details(r),
        ));
    } else {
        r.state = RequestState::Approved.as_str().into();
        events.push(event(
            now,
            ctx,
            AuditAction::AccessRequestApproved,
            r,
            requester_notice(r, extra),
        ));
    }
    events
}

fn requester_notice(r: &AccessRequestRecord, extra: &Value) -> Value {
    let mut v = json!({
        "notify_user_ids": [r.requester_id],
        "starts_at": r.starts_at,
        "ends_at": r.ends_at,
    });
    if let (Value::Object(m), Value::Object(x)) = (&mut v, extra.clone()) {
        m.extend(x);
    }
    v
}

fn grant_details(r: &AccessRequestRecord) -> Value {
    json!({
        "grant_id": r.id,
        "notify_user_ids": [r.requester_id],
        "starts_at": r.starts_at,
        "ends_at": r.ends_at,
    })
}

/// A new request, checked against the limits that apply; built in `create`.
pub struct NewRequest {
    pub record: AccessRequestRecord,
    pub approver_groups: Vec<String>,
    pub approver_users: Vec<String>,
    pub events: Vec<NewEvent>,
}

/// Who is asking.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub name: String,
    pub is_admin: bool,
    /// A TOTP step-up or an IdP-asserted MFA sign-in within [`MFA_FRESH_MS`].
    pub mfa_fresh: bool,
    pub ctx: AuditCtx,
}

impl Actor {
    /// The person behind a session, as the request rules see them.
    pub fn of(who: &crate::auth::sessions::CurrentSession, now: Millis) -> Self {
        let s = &who.session;
        let fresh = s.mfa_at.is_some_and(|at| now - at <= MFA_FRESH_MS)
            || (s.idp_mfa && now - s.created_at <= MFA_FRESH_MS);
        Self {
            id: who.user.id.clone(),
            name: who.user.username.clone(),
            is_admin: who.has(gatehouse_shared::auth::Role::Administrator),
            mfa_fresh: fresh,
            ctx: who.ctx(),
        }
    }
}

/// Checks and stores a new request. Refuses what the person is not eligible for, what
/// breaks the limits, and what no one could approve (fewer distinct eligible approvers
/// other than the requester than the approvals needed).
pub async fn create(
    store: &dyn Store,
    now: Millis,
    actor: &Actor,
    input: &CreateAccessRequest,
) -> Result<RequestSnapshot, RequestError> {
    let account = store
        .get_account(&input.account_id)
        .await
        .map_err(|e| e.or_not_found(RequestError::NotEligible))?;
    let ps = store
        .get_permission_set(&input.permission_set_id)
        .await
        .map_err(|e| e.or_not_found(RequestError::NotEligible))?;
    let groups: Vec<String> = store
        .groups_of_user(&actor.id)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    let elig = resolve_eligibility(
        &store.list_eligibility_policies().await?,
        &actor.id,
        &groups,
        &account.id,
        &ps.id,
    )
    .ok_or(RequestError::NotEligible)?;
    let mut approver_ids: Vec<String> = Vec::new();
    let approval = if elig.approval_required {
        let rule = resolve_approval(&store.list_approval_policies().await?, &account.id, &ps.id)
            .ok_or_else(|| {
                RequestError::Unapprovable(format!(
                    "No approval policy covers {} on {}, so no one could approve this request. \
                     Ask an administrator to add one.",
                    ps.name, account.name
                ))
            })?;
        let approvers = store
            .resolve_approvers(&actor.id, &rule.group_ids, &rule.user_ids)
            .await?;
        approver_ids = approvers.into_iter().map(|a| a.id).collect();
        let available = i64::try_from(approver_ids.len()).unwrap_or(i64::MAX);
        if available < rule.approvals_needed {
            return Err(RequestError::Unapprovable(format!(
                "This request needs {} approval(s), but only {available} person(s) other than you can approve it, \
                 so no one could approve it. Ask an administrator to add approvers.",
                rule.approvals_needed
            )));
        }
        Some(rule)
    } else {
        None
    };
    let limits = elig.limits(approval.as_ref());
    let faults = check_request(input, &limits, now);
    if !faults.is_empty() {
        return Err(RequestError::Invalid(faults));
    }
    let ticket = input
        .ticket
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from);
    let mut record = AccessRequestRecord {
        id: uuid::Uuid::new_v4().to_string(),
        requester_id: actor.id.clone(),
        requester_name: actor.name.clone(),
        account_id: account.id.clone(),
        account_name: account.name.clone(),
        permission_set_id: ps.id.clone(),
        permission_set_name: ps.name.clone(),
        duration_secs: input.duration_secs,
        justification: input.justification.trim().to_string(),
        ticket,
        requested_start_at: input.start_at.map(to_millis),
        state: RequestState::Pending.as_str().into(),
        version: 1,
        approval_required: limits.approval_required,
        approvals_needed: limits.approvals_needed,
        rejections_to_end: approval.as_ref().map_or(1, |a| a.rejections_to_end),
        mfa_required: limits.mfa_required,
        pending_expires_at: now + limits.pending_lifetime_secs * 1000,
        starts_at: None,
        ends_at: None,
        closed_at: None,
        closed_by: None,
        created_at: now,
        updated_at: now,
    };
    let mut events = vec![event(
        now,
        &actor.ctx,
        AuditAction::AccessRequestCreate,
        &record,
        json!({
            "duration_secs": record.duration_secs,
            "justification": record.justification,
            "ticket": record.ticket,
            "requested_start_at": record.requested_start_at,
            "approvals_needed": record.approvals_needed,
            "mfa_required": record.mfa_required,
            "pending_expires_at": record.pending_expires_at,
            "notify_user_ids": approver_ids,
        }),
    )];
    if approval.is_none() {
        events.extend(approve_now(
            now,
            &actor.ctx,
            &mut record,
            &json!({ "approval_required": false }),
        ));
        // The create event was built from the pending record; the row is stored as it is now.
    }
    let (groups, users) = approval
        .map(|a| (a.group_ids, a.user_ids))
        .unwrap_or_default();
    Ok(store
        .create_request(record, &groups, &users, events)
        .await?)
}

/// Records one approval or rejection by `actor`.
pub fn decide_plan(
    snap: &RequestSnapshot,
    actor: &Actor,
    kind: DecisionKind,
    comment: &str,
    now: Millis,
) -> Result<Transition, RequestError> {
    let r = &snap.request;
    let state = state_of(r);
    if state != RequestState::Pending {
        return Err(RequestError::WrongState(state));
    }
    if now >= r.pending_expires_at {
        return Err(RequestError::WrongState(RequestState::TimedOut));
    }
    if actor.id == r.requester_id {
        return Err(RequestError::SelfApproval);
    }
    if !snap.approvers.iter().any(|a| a.id == actor.id) {
        return Err(RequestError::NotApprover);
    }
    if snap.decisions.iter().any(|d| d.approver_id == actor.id) {
        return Err(RequestError::AlreadyDecided);
    }
    if r.mfa_required && !actor.mfa_fresh {
        return Err(RequestError::MfaRequired);
    }
    let kind_str = match kind {
        DecisionKind::Approve => "approve",
        DecisionKind::Reject => "reject",
    };
    let decision = DecisionRecord {
        request_id: r.id.clone(),
        approver_id: actor.id.clone(),
        approver_name: actor.name.clone(),
        decision: kind_str.into(),
        comment: comment.trim().to_string(),
        decided_at: now,
    };
    let mut after = r.clone();
    after.updated_at = now;
    let approvals = counted(snap, "approve") + i64::from(kind == DecisionKind::Approve);
    let rejections = counted(snap, "reject") + i64::from(kind == DecisionKind::Reject);
    let progress = json!({
        "approvals": approvals,
        "needed": r.approvals_needed,
        "rejections": rejections,
        "rejections_to_end": r.rejections_to_end,
        "comment": decision.comment,
    });
    let mut events = Vec::new();
    match kind {
        DecisionKind::Approve => {
            events.push(event(
                now,
                &actor.ctx,
                AuditAction::AccessRequestApprove,
                r,
                progress.clone(),
            ));
            if approvals >= r.approvals_needed {
                events.extend(approve_now(now, &actor.ctx, &mut after, &progress));
            }
        }
        DecisionKind::Reject => {
            let ends = rejections >= r.rejections_to_end;
            if ends {
                after.state = RequestState::Rejected.as_str().into();
                after.closed_at = Some(now);
                after.closed_by = Some(actor.id.clone());
            }
            let mut extra = progress;
            if let Value::Object(m) = &mut extra {
                m.insert("final".into(), json!(ends));
                m.insert("notify_user_ids".into(), json!([r.requester_id]));
            }
            events.push(event(
                now,
                &actor.ctx,
                AuditAction::AccessRequestReject,
                &after,
                extra,
            ));
        }
    }
    Ok(Transition {
        decision: Some(decision),
        request: after,
        events,
        revocation: None,
    })
}

/// The requester cancels a request that has not started.
pub fn cancel_plan(
    snap: &RequestSnapshot,
    actor: &Actor,
    now: Millis,
) -> Result<Transition, RequestError> {
    let r = &snap.request;
    if actor.id != r.requester_id {
        return Err(RequestError::NotRequester);
    }
    let state = state_of(r);
    if !matches!(state, RequestState::Pending | RequestState::Approved) {
        return Err(RequestError::WrongState(state));
    }
    let mut after = r.clone();
    after.state = RequestState::Cancelled.as_str().into();
    after.closed_at = Some(now);
    after.closed_by = Some(actor.id.clone());
    after.updated_at = now;
    let notify: Vec<&str> = snap.approvers.iter().map(|a| a.id.as_str()).collect();
    let events = vec![event(
        now,
        &actor.ctx,
        AuditAction::AccessRequestCancel,
        &after,
        json!({ "notify_user_ids": notify }),
    )];
    Ok(Transition {
        decision: None,
        request: after,
        events,
        revocation: None,
    })
}

/// The requester ends their grant early, or an administrator or current approver revokes it.
pub fn close_grant_plan(
    snap: &RequestSnapshot,
    actor: &Actor,
    revoke: bool,
    now: Millis,
) -> Result<Transition, RequestError> {
    let r = &snap.request;
    if revoke {
        if !actor.is_admin && !snap.approvers.iter().any(|a| a.id == actor.id) {
            return Err(RequestError::NotRevoker);
        }
    } else if actor.id != r.requester_id {
        return Err(RequestError::NotRequester);
    }
    let state = state_of(r);
    if state != RequestState::Active || r.ends_at.is_some_and(|e| e <= now) {
        return Err(RequestError::WrongState(state));
    }
    let mut after = r.clone();
    let (new_state, action, extra) = if revoke {
        (
            RequestState::Revoked,
            AuditAction::AccessGrantRevoke,
            json!({ "reason": "revoked" }),
        )
    } else {
        (
            RequestState::Ended,
            AuditAction::AccessGrantEnd,
            json!({ "reason": "ended_early" }),
        )
    };
    after.state = new_state.as_str().into();
    after.closed_at = Some(now);
    after.closed_by = Some(actor.id.clone());
    after.updated_at = now;
    let mut extra = extra;
    if let Value::Object(m) = &mut extra {
        m.insert("grant_id".into(), json!(r.id));
        m.insert("notify_user_ids".into(), json!([r.requester_id]));
        m.insert("scheduled_end".into(), json!(r.ends_at));
    }
    Ok(Transition {
        decision: None,
        revocation: Some(grant_revocation(r, now)),
        events: vec![event(now, &actor.ctx, action, &after, extra)],
        request: after,
    })
}

/// Ends (`revoke`: an administrator or approver revokes) the grant of request `id` as
/// `me`; on success the grant's credentials stop working on this instance at once (others
/// load the revocation on their next tick).
pub async fn close_grant(
    store: &dyn Store,
    sts: &crate::sts::Sts,
    me: &Actor,
    id: &str,
    revoke: bool,
    now: Millis,
) -> Result<RequestSnapshot, RequestError> {
    let plan = |s: &RequestSnapshot| close_grant_plan(s, me, revoke, now);
    let snap = store.transition_request(id, &plan).await?;
    sts.revocations.apply(&grant_revocation(&snap.request, now));
    Ok(snap)
}

/// Refuses every credential issued under the grant until it would have expired anyway.
pub fn grant_revocation(r: &AccessRequestRecord, now: Millis) -> RevocationRecord {
    RevocationRecord {
        id: uuid::Uuid::new_v4().to_string(),
        kind: "grant".into(),
        subject: r.id.clone(),
        not_before: now,
        expires_at: r.ends_at.unwrap_or(now).max(now),
        created_at: now,
    }
}

/// What the background step does to a request at `now`: time out a pending one, start an
/// approved one whose start has come, end an active one whose time is up.
pub fn due_plan(snap: &RequestSnapshot, now: Millis) -> Result<Transition, RequestError> {
    let r = &snap.request;
    let ctx = AuditCtx::system();
    let mut after = r.clone();
    after.updated_at = now;
    let (events, revocation) = match state_of(r) {
        RequestState::Pending if now >= r.pending_expires_at => {
            after.state = RequestState::TimedOut.as_str().into();
            after.closed_at = Some(now);
            let notify: Vec<&str> = std::iter::once(r.requester_id.as_str())
                .chain(snap.approvers.iter().map(|a| a.id.as_str()))
                .collect();
            (
                vec![event(
                    now,
                    &ctx,
                    AuditAction::AccessRequestExpire,
                    &after,
                    json!({
                        "approvals": counted(snap, "approve"),
                        "needed": r.approvals_needed,
                        "notify_user_ids": notify,
                    }),
                )],
                None,
            )
        }
        RequestState::Approved if r.starts_at.is_some_and(|s| s <= now) => {
            after.state = RequestState::Active.as_str().into();
            (
                vec![event(
                    now,
                    &ctx,
                    AuditAction::AccessGrantStart,
                    &after,
                    grant_details(&after),
                )],
                None,
            )
        }
        RequestState::Active if r.ends_at.is_some_and(|e| e <= now) => {
            after.state = RequestState::Expired.as_str().into();
            after.closed_at = Some(now);
            let mut d = grant_details(&after);
            if let Value::Object(m) = &mut d {
                m.insert("reason".into(), json!("expired"));
            }
            // Credentials were clamped to the grant's end, so nothing is left to revoke.
            (
                vec![event(now, &ctx, AuditAction::AccessGrantEnd, &after, d)],
                None,
            )
        }
        _ => return Err(RequestError::NothingDue),
    };
    Ok(Transition {
        decision: None,
        request: after,
        events,
        revocation,
    })
}

/// What one background step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    pub transitioned: u64,
}

/// One background step: moves every request with something due at `now`. Safe on several
/// instances at once: each transition is a compare-and-set, so a request moved by another
/// instance is simply not due any more here (and no second event is written).
pub async fn step(store: &dyn Store, now: Millis) -> Result<StepReport, StoreError> {
    let mut report = StepReport::default();
    for id in store.due_requests(now, 500).await? {
        let plan = |s: &RequestSnapshot| due_plan(s, now);
        match store.transition_request(&id, &plan).await {
            Ok(_) => report.transitioned += 1,
            Err(
                RequestError::NothingDue
                | RequestError::NotFound
                | RequestError::Store(StoreError::NotFound),
            ) => {}
            Err(RequestError::Store(e)) => return Err(e),
            Err(e) => tracing::warn!(request_id = %id, error = %e, "request step refused"),
        }
    }
    Ok(report)
}

/// The entitlement `user_id` has to (`account_id`, `permission_set_id`) at `now`: an
/// assignment (no grant, no end) or else an active grant (its id and end).
pub async fn entitlement(
    store: &dyn Store,
    user_id: &str,
    account_id: &str,
    permission_set_id: &str,
    now: Millis,
) -> Result<Option<(EntitlementRecord, Option<(String, Millis)>)>, StoreError> {
    if let Some(e) = store
        .entitlement(user_id, account_id, permission_set_id)
        .await?
    {
        return Ok(Some((e, None)));
    }
    Ok(store
        .active_grants(user_id, now)
        .await?
        .into_iter()
        .find(|g| {
            g.entitlement.account_id == account_id
                && g.entitlement.permission_set.id == permission_set_id
        })
        .map(|g| (g.entitlement, Some((g.grant_id, g.grant_ends_at)))))
}

/// Every entitlement of `user_id` at `now`: assignments, plus active grants for what no
/// assignment already gives (the longest-running grant when there are several), ordered
/// by account then permission set.
pub async fn entitlements(
    store: &dyn Store,
    user_id: &str,
    now: Millis,
) -> Result<Vec<(EntitlementRecord, Option<(String, Millis)>)>, StoreError> {
    let mut out: Vec<(EntitlementRecord, Option<(String, Millis)>)> = store
        .entitlements(user_id)
        .await?
        .into_iter()
        .map(|e| (e, None))
        .collect();
    for g in store.active_grants(user_id, now).await? {
        let covered = out.iter().any(|(e, _)| {
            e.account_id == g.entitlement.account_id
                && e.permission_set.id == g.entitlement.permission_set.id
        });
        if !covered {
            out.push((g.entitlement, Some((g.grant_id, g.grant_ends_at))));
        }
    }
    out.sort_by(|(a, _), (b, _)| {
        (&a.account_name, &a.account_id, &a.permission_set.name).cmp(&(
            &b.account_name,
            &b.account_id,
            &b.permission_set.name,
        ))
    });
    Ok(out)
}
