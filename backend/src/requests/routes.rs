//! `/api/v1/requests…`, `/api/v1/approvals`, `/api/v1/eligibility-policies`,
//! `/api/v1/approval-policies`. Any signed-in person may ask for what they are eligible for
//! and decide what they are an approver of; administrators write the policies (auditors
//! read them) and may revoke grants.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use gatehouse_shared::audit::AuditEvent;
use gatehouse_shared::auth::Role;
use gatehouse_shared::requests::{
    check_approval_policy, check_comment, check_eligibility_policy, AccessRequest, ApprovalPolicy,
    ApprovalPolicyInput, CreateAccessRequest, DecisionInput, DecisionKind, Eligibility,
    EligibilityPolicy, EligibilityPolicyInput, EligibleItem, PrincipalKind, RequestLimits,
    RequestState,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    cancel_plan, close_grant_plan, decide_plan, dto, resolve_approval, resolve_eligibility, Actor,
    RequestError, MFA_FRESH_MS,
};
use crate::app::AppState;
use crate::audit::{EventFilter, NewEvent};
use crate::auth::sessions::CurrentSession;
use crate::clock::{to_datetime, Millis};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::store::{ApprovalPolicyRecord, EligibilityPolicyRecord, RequestFilter, RequestSnapshot};

const READERS: &[Role] = &[Role::Administrator, Role::Auditor];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/requests/eligibility", get(eligibility))
        .route("/api/v1/requests", get(list).post(create))
        .route("/api/v1/requests/{id}", get(get_one))
        .route("/api/v1/requests/{id}/timeline", get(timeline))
        .route("/api/v1/requests/{id}/approve", post(approve))
        .route("/api/v1/requests/{id}/reject", post(reject))
        .route("/api/v1/requests/{id}/cancel", post(cancel))
        .route("/api/v1/requests/{id}/end", post(end))
        .route("/api/v1/requests/{id}/revoke", post(revoke))
        .route("/api/v1/approvals", get(inbox))
        .route(
            "/api/v1/eligibility-policies",
            get(list_eligibility).post(create_eligibility),
        )
        .route(
            "/api/v1/eligibility-policies/{id}",
            get(get_eligibility)
                .put(update_eligibility)
                .delete(delete_eligibility),
        )
        .route(
            "/api/v1/approval-policies",
            get(list_approval).post(create_approval),
        )
        .route(
            "/api/v1/approval-policies/{id}",
            get(get_approval)
                .put(update_approval)
                .delete(delete_approval),
        )
}

/// The person asking, with whether their MFA is fresh: a TOTP step-up within five minutes,
/// or an IdP-asserted MFA sign-in within five minutes.
pub fn actor(who: &CurrentSession, now: Millis) -> Actor {
    let s = &who.session;
    let fresh = s.mfa_at.is_some_and(|at| now - at <= MFA_FRESH_MS)
        || (s.idp_mfa && now - s.created_at <= MFA_FRESH_MS);
    Actor {
        id: who.user.id.clone(),
        name: who.user.username.clone(),
        is_admin: who.has(Role::Administrator),
        mfa_fresh: fresh,
        ctx: who.ctx(),
    }
}

async fn eligibility(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Eligibility>> {
    let store = &*state.store;
    let groups: Vec<String> = who.groups.iter().map(|g| g.id.clone()).collect();
    let eps = store.list_eligibility_policies().await?;
    let aps = store.list_approval_policies().await?;
    let accounts = store.list_accounts().await?;
    let sets = store.list_permission_sets().await?;
    let mut items = Vec::new();
    for a in &accounts {
        for p in &sets {
            let Some(e) = resolve_eligibility(&eps, &who.user.id, &groups, &a.id, &p.id) else {
                continue;
            };
            let rule = if e.approval_required {
                resolve_approval(&aps, &a.id, &p.id)
            } else {
                None
            };
            items.push(EligibleItem {
                account_id: a.id.clone(),
                account_name: a.name.clone(),
                permission_set_id: p.id.clone(),
                permission_set_name: p.name.clone(),
                limits: RequestLimits {
                    max_duration_secs: e.max_duration_secs,
                    approval_required: e.approval_required,
                    justification_required: e.justification_required,
                    ticket_required: e.ticket_required,
                    approvals_needed: rule.as_ref().map_or(0, |r| r.approvals_needed),
                    mfa_required: rule.as_ref().is_some_and(|r| r.mfa_required),
                    pending_lifetime_secs: rule.as_ref().map_or(0, |r| r.pending_lifetime_secs),
                },
            });
        }
    }
    Ok(Json(Eligibility { items }))
}

async fn create(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreateAccessRequest>,
) -> ApiResult<(StatusCode, Json<AccessRequest>)> {
    let now = state.clock.now_ms();
    let me = actor(&who, now);
    let snap = super::create(&*state.store, now, &me, &req).await?;
    Ok((StatusCode::CREATED, Json(dto(&snap, &me, now))))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    /// `mine` (default) or `all` (administrators and auditors).
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    who: CurrentSession,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<AccessRequest>>> {
    let now = state.clock.now_ms();
    let all = match q.scope.as_deref() {
        None | Some("mine") => false,
        Some("all") => {
            who.require_any(READERS)?;
            true
        }
        Some(_) => return Err(ApiError::InvalidQuery("scope is mine or all.".into())),
    };
    if let Some(s) = &q.state {
        if RequestState::parse(s).is_none() {
            return Err(ApiError::InvalidQuery(format!(
                "{s} is not a request state."
            )));
        }
    }
    let filter = RequestFilter {
        requester_id: (!all).then(|| who.user.id.clone()),
        state: q.state,
        approver_id: None,
        limit: 200,
    };
    snapshots(&state, &who, now, filter).await
}

async fn inbox(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<AccessRequest>>> {
    let now = state.clock.now_ms();
    let filter = RequestFilter {
        approver_id: Some(who.user.id.clone()),
        limit: 200,
        ..RequestFilter::default()
    };
    let Json(all) = snapshots(&state, &who, now, filter).await?;
    Ok(Json(all.into_iter().filter(|r| r.can_approve).collect()))
}

async fn snapshots(
    state: &AppState,
    who: &CurrentSession,
    now: Millis,
    filter: RequestFilter,
) -> ApiResult<Json<Vec<AccessRequest>>> {
    let me = actor(who, now);
    let mut out = Vec::new();
    for r in state.store.list_requests(&filter).await? {
        let snap = state.store.get_request(&r.id).await?;
        out.push(dto(&snap, &me, now));
    }
    Ok(Json(out))
}

/// The request, if `who` may see it: its requester, an approver (now or who decided), an
/// administrator or an auditor. Others get "no such request".
async fn visible(
    state: &AppState,
    who: &CurrentSession,
    id: &str,
) -> Result<RequestSnapshot, ApiError> {
    let snap = state
        .store
        .get_request(id)
        .await
        .map_err(|e| e.or_not_found(RequestError::NotFound))?;
    let me = &who.user.id;
    let ok = snap.request.requester_id == *me
        || snap.approvers.iter().any(|a| a.id == *me)
        || snap.decisions.iter().any(|d| d.approver_id == *me)
        || who.require_any(READERS).is_ok();
    if ok {
        Ok(snap)
    } else {
        Err(RequestError::NotFound.into())
    }
}

async fn get_one(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<AccessRequest>> {
    let now = state.clock.now_ms();
    let snap = visible(&state, &who, &id).await?;
    Ok(Json(dto(&snap, &actor(&who, now), now)))
}

/// The request's whole story, oldest first: every audit event whose target is it.
async fn timeline(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    visible(&state, &who, &id).await?;
    let filter = EventFilter {
        target: Some(id),
        limit: 1_000,
        ..EventFilter::default()
    };
    let mut events = state.store.search_events(&filter).await?;
    events.reverse();
    Ok(Json(
        events
            .iter()
            .map(crate::audit::StoredEvent::to_api)
            .collect(),
    ))
}

async fn decide(
    state: &AppState,
    who: &CurrentSession,
    id: &str,
    kind: DecisionKind,
    body: &DecisionInput,
) -> ApiResult<Json<AccessRequest>> {
    let faults = check_comment(&body.comment);
    if !faults.is_empty() {
        return Err(ApiError::Validation(faults));
    }
    visible(state, who, id).await?;
    let now = state.clock.now_ms();
    let me = actor(who, now);
    let plan = |s: &RequestSnapshot| decide_plan(s, &me, kind, &body.comment, now);
    let result = state.store.transition_request(id, &plan).await;
    let snap = refused_or(state, &me, id, kind_action(kind), now, result).await?;
    Ok(Json(dto(&snap, &me, now)))
}

fn kind_action(kind: DecisionKind) -> &'static str {
    match kind {
        DecisionKind::Approve => "access_request.approve",
        DecisionKind::Reject => "access_request.reject",
    }
}

/// Passes a transition through, recording a refused self-approval, non-approver decision
/// or missing MFA as a denied audit event first.
async fn refused_or(
    state: &AppState,
    me: &Actor,
    id: &str,
    action: &'static str,
    now: Millis,
    result: Result<RequestSnapshot, RequestError>,
) -> Result<RequestSnapshot, ApiError> {
    match result {
        Ok(s) => Ok(s),
        Err(e) => {
            let reason = match &e {
                RequestError::SelfApproval => Some("self-approval"),
                RequestError::NotApprover => Some("not an approver"),
                RequestError::MfaRequired => Some("fresh MFA required"),
                RequestError::NotRevoker => Some("not an administrator or approver"),
                _ => None,
            };
            if let Some(reason) = reason {
                let ev = NewEvent::new(now, &me.ctx, action, "access_request", Some(id.into()))
                    .failed(gatehouse_shared::audit::Outcome::Denied, reason)
                    .details(json!({ "request_id": id }));
                state.store.append_event(ev).await?;
            }
            Err(e.into())
        }
    }
}

async fn approve(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(body): Json<DecisionInput>,
) -> ApiResult<Json<AccessRequest>> {
    decide(&state, &who, &id, DecisionKind::Approve, &body).await
}

async fn reject(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(body): Json<DecisionInput>,
) -> ApiResult<Json<AccessRequest>> {
    decide(&state, &who, &id, DecisionKind::Reject, &body).await
}

async fn cancel(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<AccessRequest>> {
    visible(&state, &who, &id).await?;
    let now = state.clock.now_ms();
    let me = actor(&who, now);
    let plan = |s: &RequestSnapshot| cancel_plan(s, &me, now);
    let snap = state.store.transition_request(&id, &plan).await?;
    Ok(Json(dto(&snap, &me, now)))
}

async fn close_grant(
    state: &AppState,
    who: &CurrentSession,
    id: &str,
    revoke: bool,
) -> ApiResult<Json<AccessRequest>> {
    visible(state, who, id).await?;
    let now = state.clock.now_ms();
    let me = actor(who, now);
    let plan = |s: &RequestSnapshot| close_grant_plan(s, &me, revoke, now);
    let action = if revoke {
        "access_grant.revoke"
    } else {
        "access_grant.end"
    };
    let result = state.store.transition_request(id, &plan).await;
    let snap = refused_or(state, &me, id, action, now, result).await?;
    // Credentials issued under the grant stop working on this instance now; other
    // instances load the revocation on their next tick.
    state
        .sts
        .revocations
        .apply(&super::grant_revocation(&snap.request, now));
    Ok(Json(dto(&snap, &me, now)))
}

async fn end(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<AccessRequest>> {
    close_grant(&state, &who, &id, false).await
}

async fn revoke(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<AccessRequest>> {
    close_grant(&state, &who, &id, true).await
}

// --- policies --------------------------------------------------------------------------

fn eligibility_dto(r: &EligibilityPolicyRecord) -> EligibilityPolicy {
    EligibilityPolicy {
        id: r.id.clone(),
        input: EligibilityPolicyInput {
            name: r.name.clone(),
            principal_type: PrincipalKind::parse(&r.principal_type).unwrap_or(PrincipalKind::User),
            principal_id: r.principal_id.clone(),
            account_ids: serde_json::from_str(&r.account_ids).unwrap_or_default(),
            permission_set_ids: serde_json::from_str(&r.permission_set_ids).unwrap_or_default(),
            max_duration_secs: r.max_duration_secs,
            approval_required: r.approval_required,
            justification_required: r.justification_required,
            ticket_required: r.ticket_required,
        },
        principal_name: r.principal_name.clone(),
        updated_at: to_datetime(r.updated_at),
    }
}

fn approval_dto(r: &ApprovalPolicyRecord) -> ApprovalPolicy {
    ApprovalPolicy {
        id: r.id.clone(),
        input: ApprovalPolicyInput {
            name: r.name.clone(),
            account_id: r.account_id.clone(),
            permission_set_id: r.permission_set_id.clone(),
            approver_group_ids: serde_json::from_str(&r.approver_group_ids).unwrap_or_default(),
            approver_user_ids: serde_json::from_str(&r.approver_user_ids).unwrap_or_default(),
            approvals_needed: r.approvals_needed,
            rejections_to_end: r.rejections_to_end,
            mfa_required: r.mfa_required,
            pending_lifetime_secs: r.pending_lifetime_secs,
        },
        updated_at: to_datetime(r.updated_at),
    }
}

/// Checks that the ids a policy names exist (`*` aside).
async fn check_refs(
    state: &AppState,
    accounts: &[String],
    sets: &[String],
    users: &[String],
    groups: &[String],
) -> Result<(), ApiError> {
    use gatehouse_shared::error::FieldError;
    let s = &*state.store;
    let mut faults = Vec::new();
    for a in accounts.iter().filter(|a| *a != "*") {
        if s.get_account(a).await.is_err() {
            faults.push(FieldError::new(
                "account_ids",
                format!("No account with ID {a}."),
            ));
        }
    }
    for p in sets.iter().filter(|p| *p != "*") {
        if s.get_permission_set(p).await.is_err() {
            faults.push(FieldError::new(
                "permission_set_ids",
                format!("No permission set with ID {p}."),
            ));
        }
    }
    for u in users {
        if s.get_user(u).await.is_err() {
            faults.push(FieldError::new(
                "approver_user_ids",
                format!("No user with ID {u}."),
            ));
        }
    }
    for g in groups {
        if s.get_group(g).await.is_err() {
            faults.push(FieldError::new(
                "approver_group_ids",
                format!("No group with ID {g}."),
            ));
        }
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(faults))
    }
}

async fn eligibility_record(
    state: &AppState,
    id: String,
    input: &EligibilityPolicyInput,
    created_at: Millis,
) -> Result<EligibilityPolicyRecord, ApiError> {
    let faults = check_eligibility_policy(input);
    if !faults.is_empty() {
        return Err(ApiError::Validation(faults));
    }
    let (users, groups) = match input.principal_type {
        PrincipalKind::User => (vec![input.principal_id.clone()], vec![]),
        PrincipalKind::Group => (vec![], vec![input.principal_id.clone()]),
    };
    check_refs(
        state,
        &input.account_ids,
        &input.permission_set_ids,
        &users,
        &groups,
    )
    .await
    .map_err(|e| match e {
        ApiError::Validation(mut f) => {
            for x in &mut f {
                if x.field.starts_with("approver_") {
                    x.field = "principal_id".into();
                }
            }
            ApiError::Validation(f)
        }
        other => other,
    })?;
    Ok(EligibilityPolicyRecord {
        id,
        name: input.name.trim().to_string(),
        principal_type: input.principal_type.as_str().into(),
        principal_id: input.principal_id.clone(),
        account_ids: json!(input.account_ids).to_string(),
        permission_set_ids: json!(input.permission_set_ids).to_string(),
        max_duration_secs: input.max_duration_secs,
        approval_required: input.approval_required,
        justification_required: input.justification_required,
        ticket_required: input.ticket_required,
        principal_name: String::new(),
        created_at,
        updated_at: state.clock.now_ms(),
    })
}

async fn approval_record(
    state: &AppState,
    id: String,
    input: &ApprovalPolicyInput,
    created_at: Millis,
) -> Result<ApprovalPolicyRecord, ApiError> {
    let faults = check_approval_policy(input);
    if !faults.is_empty() {
        return Err(ApiError::Validation(faults));
    }
    check_refs(
        state,
        std::slice::from_ref(&input.account_id),
        std::slice::from_ref(&input.permission_set_id),
        &input.approver_user_ids,
        &input.approver_group_ids,
    )
    .await
    .map_err(|e| match e {
        ApiError::Validation(mut f) => {
            for x in &mut f {
                if x.field.ends_with("_ids") && !x.field.starts_with("approver_") {
                    x.field.truncate(x.field.len() - 1);
                }
            }
            ApiError::Validation(f)
        }
        other => other,
    })?;
    Ok(ApprovalPolicyRecord {
        id,
        name: input.name.trim().to_string(),
        account_id: input.account_id.clone(),
        permission_set_id: input.permission_set_id.clone(),
        approver_group_ids: json!(input.approver_group_ids).to_string(),
        approver_user_ids: json!(input.approver_user_ids).to_string(),
        approvals_needed: input.approvals_needed,
        rejections_to_end: input.rejections_to_end,
        mfa_required: input.mfa_required,
        pending_lifetime_secs: input.pending_lifetime_secs,
        created_at,
        updated_at: state.clock.now_ms(),
    })
}

fn policy_event(
    state: &AppState,
    who: &CurrentSession,
    action: &'static str,
    kind: &'static str,
    id: &str,
) -> NewEvent {
    NewEvent::new(
        state.clock.now_ms(),
        &who.ctx(),
        action,
        kind,
        Some(id.to_string()),
    )
}

async fn list_eligibility(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<EligibilityPolicy>>> {
    who.require_any(READERS)?;
    Ok(Json(
        state
            .store
            .list_eligibility_policies()
            .await?
            .iter()
            .map(eligibility_dto)
            .collect(),
    ))
}

async fn get_eligibility(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<EligibilityPolicy>> {
    who.require_any(READERS)?;
    let r = state
        .store
        .get_eligibility_policy(&id)
        .await
        .map_err(|e| e.or_not_found(RequestError::PolicyNotFound))?;
    Ok(Json(eligibility_dto(&r)))
}

async fn create_eligibility(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(input): Json<EligibilityPolicyInput>,
) -> ApiResult<(StatusCode, Json<EligibilityPolicy>)> {
    who.require(Role::Administrator)?;
    let id = uuid::Uuid::new_v4().to_string();
    let rec = eligibility_record(&state, id.clone(), &input, state.clock.now_ms()).await?;
    let ev = policy_event(
        &state,
        &who,
        "eligibility_policy.create",
        "eligibility_policy",
        &id,
    );
    let r = state.store.put_eligibility_policy(rec, true, ev).await?;
    Ok((StatusCode::CREATED, Json(eligibility_dto(&r))))
}

async fn update_eligibility(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(input): Json<EligibilityPolicyInput>,
) -> ApiResult<Json<EligibilityPolicy>> {
    who.require(Role::Administrator)?;
    let old = state
        .store
        .get_eligibility_policy(&id)
        .await
        .map_err(|e| e.or_not_found(RequestError::PolicyNotFound))?;
    let rec = eligibility_record(&state, id.clone(), &input, old.created_at).await?;
    let ev = policy_event(
        &state,
        &who,
        "eligibility_policy.update",
        "eligibility_policy",
        &id,
    );
    let r = state.store.put_eligibility_policy(rec, false, ev).await?;
    Ok(Json(eligibility_dto(&r)))
}

async fn delete_eligibility(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    let ev = policy_event(
        &state,
        &who,
        "eligibility_policy.delete",
        "eligibility_policy",
        &id,
    );
    state
        .store
        .delete_eligibility_policy(&id, ev)
        .await
        .map_err(|e| e.or_not_found(RequestError::PolicyNotFound))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_approval(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<ApprovalPolicy>>> {
    who.require_any(READERS)?;
    Ok(Json(
        state
            .store
            .list_approval_policies()
            .await?
            .iter()
            .map(approval_dto)
            .collect(),
    ))
}

async fn get_approval(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<ApprovalPolicy>> {
    who.require_any(READERS)?;
    let r = state
        .store
        .get_approval_policy(&id)
        .await
        .map_err(|e| e.or_not_found(RequestError::PolicyNotFound))?;
    Ok(Json(approval_dto(&r)))
}

async fn create_approval(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(input): Json<ApprovalPolicyInput>,
) -> ApiResult<(StatusCode, Json<ApprovalPolicy>)> {
    who.require(Role::Administrator)?;
    let id = uuid::Uuid::new_v4().to_string();
    let rec = approval_record(&state, id.clone(), &input, state.clock.now_ms()).await?;
    let ev = policy_event(
        &state,
        &who,
        "approval_policy.create",
        "approval_policy",
        &id,
    );
    let r = state.store.put_approval_policy(rec, true, ev).await?;
    Ok((StatusCode::CREATED, Json(approval_dto(&r))))
}

async fn update_approval(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(input): Json<ApprovalPolicyInput>,
) -> ApiResult<Json<ApprovalPolicy>> {
    who.require(Role::Administrator)?;
    let old = state
        .store
        .get_approval_policy(&id)
        .await
        .map_err(|e| e.or_not_found(RequestError::PolicyNotFound))?;
    let rec = approval_record(&state, id.clone(), &input, old.created_at).await?;
    let ev = policy_event(
        &state,
        &who,
        "approval_policy.update",
        "approval_policy",
        &id,
    );
    let r = state.store.put_approval_policy(rec, false, ev).await?;
    Ok(Json(approval_dto(&r)))
}

async fn delete_approval(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    let ev = policy_event(
        &state,
        &who,
        "approval_policy.delete",
        "approval_policy",
        &id,
    );
    state
        .store
        .delete_approval_policy(&id, ev)
        .await
        .map_err(|e| e.or_not_found(RequestError::PolicyNotFound))?;
    Ok(StatusCode::NO_CONTENT)
}
