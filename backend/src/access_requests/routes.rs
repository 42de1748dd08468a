//! `/api/v1/requests…`, `/api/v1/approvals`, `/api/v1/eligibility-policies`,
//! `/api/v1/approval-policies`. Any signed-in person may ask for what they are eligible for
//! and decide what they are an approver of; administrators write the policies (auditors
//! read them) and may revoke grants.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::audit::AuditEvent;
use gatehouse_shared::auth::Role;
use gatehouse_shared::requests::{
    check_comment, AccessRequest, CreateAccessRequest, DecisionInput, DecisionKind, Eligibility,
    RequestState, Waiting, WaitingCount,
};
use serde::Deserialize;
use serde_json::json;

use super::access_policies::{self, AccessPolicyKind, ApprovalPolicies, EligibilityPolicies};
use super::{cancel_plan, decide_plan, dto, Actor, RequestError};
use crate::app::AppState;
use crate::audit::NewEvent;
use crate::auth::sessions::CurrentSession;
use crate::clock::Millis;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::store::{RequestFilter, RequestSnapshot};

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
        .route("/api/v1/approvals/waiting", get(waiting))
        .route("/api/v1/approvals/count", get(waiting_count))
        .route(
            "/api/v1/eligibility-policies",
            get(list_policies::<EligibilityPolicies>).post(create_policy::<EligibilityPolicies>),
        )
        .route(
            "/api/v1/eligibility-policies/{id}",
            get(get_policy::<EligibilityPolicies>)
                .put(update_policy::<EligibilityPolicies>)
                .delete(delete_policy::<EligibilityPolicies>),
        )
        .route(
            "/api/v1/approval-policies",
            get(list_policies::<ApprovalPolicies>).post(create_policy::<ApprovalPolicies>),
        )
        .route(
            "/api/v1/approval-policies/{id}",
            get(get_policy::<ApprovalPolicies>)
                .put(update_policy::<ApprovalPolicies>)
                .delete(delete_policy::<ApprovalPolicies>),
        )
}

/// The person asking, with whether their MFA is fresh: a TOTP step-up within five minutes,
/// or an IdP-asserted MFA sign-in within five minutes.
fn actor(who: &CurrentSession, now: Millis) -> Actor {
    Actor::of(who, now)
}

async fn eligibility(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Eligibility>> {
    let groups: Vec<String> = who.groups.iter().map(|g| g.id.clone()).collect();
    Ok(Json(
        super::eligibility(&*state.store, &who.user.id, &groups).await?,
    ))
}

async fn create(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreateAccessRequest>,
) -> ApiResult<(StatusCode, Json<AccessRequest>)> {
    let now = state.clock.now_ms();
    let me = actor(&who, now);
    let snap = super::create(&*state.store, now, &me, &req).await?;
    let mut request = dto(&snap, &me, now);
    if request.state == RequestState::Pending {
        let ids: Vec<String> = snap.approvers.iter().map(|a| a.id.clone()).collect();
        request.notified = Some(
            crate::notifications::who_is_told(
                &*state.store,
                &state.notify,
                AuditAction::AccessRequestCreate,
                &ids,
            )
            .await?,
        );
    }
    Ok((StatusCode::CREATED, Json(request)))
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
    Ok(Json(decidable(&state, &who).await?))
}

/// Every decision waiting for the caller: access requests and break-glass requests.
async fn waiting(State(state): State<AppState>, who: CurrentSession) -> ApiResult<Json<Waiting>> {
    let access_requests = decidable(&state, &who).await?;
    let break_glass =
        crate::break_glass::decidable(state.auth_env(), state.clock.now_ms(), &who).await?;
    Ok(Json(Waiting {
        access_requests,
        break_glass,
    }))
}

/// How many decisions of both kinds wait for the caller.
async fn waiting_count(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<WaitingCount>> {
    let access = decidable_without_context(&state, &who).await?.len();
    let break_glass =
        crate::break_glass::decidable(state.auth_env(), state.clock.now_ms(), &who).await?;
    Ok(Json(WaitingCount {
        waiting: access + break_glass.len(),
    }))
}

/// The access requests the caller can approve or reject now, each with its context.
async fn decidable(state: &AppState, who: &CurrentSession) -> ApiResult<Vec<AccessRequest>> {
    let mut out = decidable_without_context(state, who).await?;
    for (request, record) in &mut out {
        request.context = Some(super::context(&*state.store, record).await?);
    }
    Ok(out.into_iter().map(|(request, _)| request).collect())
}

/// The access requests the caller can approve or reject now, with their records.
async fn decidable_without_context(
    state: &AppState,
    who: &CurrentSession,
) -> ApiResult<Vec<(AccessRequest, crate::store::AccessRequestRecord)>> {
    let now = state.clock.now_ms();
    let filter = RequestFilter {
        approver_id: Some(who.user.id.clone()),
        limit: 200,
        ..RequestFilter::default()
    };
    let me = actor(who, now);
    let mut out = Vec::new();
    for r in state.store.list_requests(&filter).await? {
        let snap = state.store.get_request(&r.id).await?;
        let request = dto(&snap, &me, now);
        if request.can_approve {
            out.push((request, snap.request));
        }
    }
    Ok(out)
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
    let mut request = dto(&snap, &actor(&who, now), now);
    request.context = Some(super::context(&*state.store, &snap.request).await?);
    Ok(Json(request))
}

/// The request's whole story, oldest first: every audit event whose target is it, and the
/// events that name it (its grant's credentials, its end).
async fn timeline(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    visible(&state, &who, &id).await?;
    let events = state.store.related_events(&id, 1_000).await?;
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

fn kind_action(kind: DecisionKind) -> AuditAction {
    match kind {
        DecisionKind::Approve => AuditAction::AccessRequestApprove,
        DecisionKind::Reject => AuditAction::AccessRequestReject,
    }
}

/// Passes a transition through, recording a refused self-approval, non-approver decision
/// or missing MFA as a denied audit event first.
async fn refused_or(
    state: &AppState,
    me: &Actor,
    id: &str,
    action: AuditAction,
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
    let action = if revoke {
        AuditAction::AccessGrantRevoke
    } else {
        AuditAction::AccessGrantEnd
    };
    let result = super::close_grant(&*state.store, &state.sts, &me, id, revoke, now).await;
    let snap = refused_or(state, &me, id, action, now, result).await?;
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

// --- access policies -------------------------------------------------------------------

async fn list_policies<K: AccessPolicyKind>(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<K::Policy>>> {
    who.require_any(READERS)?;
    Ok(Json(access_policies::list::<K>(&*state.store).await?))
}

async fn get_policy<K: AccessPolicyKind>(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<K::Policy>> {
    who.require_any(READERS)?;
    Ok(Json(access_policies::get::<K>(&*state.store, &id).await?))
}

async fn create_policy<K: AccessPolicyKind>(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(input): Json<K::Input>,
) -> ApiResult<(StatusCode, Json<K::Policy>)> {
    who.require(Role::Administrator)?;
    let now = state.clock.now_ms();
    let policy = access_policies::create::<K>(&*state.store, now, &who.ctx(), &input).await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

async fn update_policy<K: AccessPolicyKind>(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(input): Json<K::Input>,
) -> ApiResult<Json<K::Policy>> {
    who.require(Role::Administrator)?;
    let now = state.clock.now_ms();
    let policy = access_policies::update::<K>(&*state.store, now, &who.ctx(), &id, &input).await?;
    Ok(Json(policy))
}

async fn delete_policy<K: AccessPolicyKind>(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    let now = state.clock.now_ms();
    access_policies::delete::<K>(&*state.store, now, &who.ctx(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
