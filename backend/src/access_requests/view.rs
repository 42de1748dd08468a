//! Requests as the API shows them: what a viewer sees of one and may do with it, and
//! what an approver weighs before deciding.

use gatehouse_shared::requests::{
    AccessRequest, Decision, DecisionKind, PersonRef, RequestContext, RequestState,
};

use super::{counted, state_of, Actor};
use crate::clock::{to_datetime, Millis};
use crate::store::{AccessRequestRecord, RequestSnapshot, Store, StoreError};

/// The request as `viewer` sees it, with what they may do now.
pub fn dto(snap: &RequestSnapshot, viewer: &Actor, now: Millis) -> AccessRequest {
    let r = &snap.request;
    let state = state_of(r);
    let is_requester = viewer.id == r.requester_id;
    let is_approver = snap.approvers.iter().any(|a| a.id == viewer.id);
    let decided = snap.decisions.iter().any(|d| d.approver_id == viewer.id);
    let active = state == RequestState::Active && r.ends_at.is_some_and(|e| e > now);
    AccessRequest {
        id: r.id.clone(),
        requester: PersonRef {
            id: r.requester_id.clone(),
            name: r.requester_name.clone(),
        },
        account_id: r.account_id.clone(),
        account_name: r.account_name.clone(),
        permission_set_id: r.permission_set_id.clone(),
        permission_set_name: r.permission_set_name.clone(),
        duration_secs: r.duration_secs,
        justification: r.justification.clone(),
        ticket: r.ticket.clone(),
        state,
        approval_required: r.approval_required,
        approvals_needed: r.approvals_needed,
        approvals_counted: counted(snap, "approve"),
        rejections_to_end: r.rejections_to_end,
        mfa_required: r.mfa_required,
        approvers: snap
            .approvers
            .iter()
            .map(|a| PersonRef {
                id: a.id.clone(),
                name: a.username.clone(),
            })
            .collect(),
        decisions: snap
            .decisions
            .iter()
            .map(|d| Decision {
                approver_id: d.approver_id.clone(),
                approver_name: d.approver_name.clone(),
                decision: if d.decision == "approve" {
                    DecisionKind::Approve
                } else {
                    DecisionKind::Reject
                },
                comment: d.comment.clone(),
                counts: snap.approvers.iter().any(|a| a.id == d.approver_id),
                decided_at: to_datetime(d.decided_at),
            })
            .collect(),
        requested_start_at: r.requested_start_at.map(to_datetime),
        pending_expires_at: to_datetime(r.pending_expires_at),
        starts_at: r.starts_at.map(to_datetime),
        ends_at: r.ends_at.map(to_datetime),
        closed_at: r.closed_at.map(to_datetime),
        created_at: to_datetime(r.created_at),
        can_approve: state == RequestState::Pending
            && now < r.pending_expires_at
            && !is_requester
            && is_approver
            && !decided,
        can_cancel: is_requester && matches!(state, RequestState::Pending | RequestState::Approved),
        can_end: is_requester && active,
        can_revoke: active && (viewer.is_admin || is_approver),
        context: None,
        notified: None,
    }
}

/// What an approver weighs: the requester's name, the account's environment, what the
/// permission set grants, and whether its role could be used at once. What is gone since
/// the request was made reads as empty.
pub async fn context(
    store: &dyn Store,
    r: &AccessRequestRecord,
) -> Result<RequestContext, StoreError> {
    fn found<T>(r: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
    let user = found(store.get_user(&r.requester_id).await)?;
    let account = found(store.get_account(&r.account_id).await)?;
    let set = found(store.get_permission_set(&r.permission_set_id).await)?;
    let role = found(store.get_role(&r.permission_set_id, &r.account_id).await)?;
    Ok(RequestContext {
        requester_display_name: user.map(|u| u.display_name).unwrap_or_default(),
        account_environment: account.map(|a| a.environment).unwrap_or_default(),
        permission_set_description: set
            .as_ref()
            .map(|p| p.description.clone())
            .unwrap_or_default(),
        system_policies: set
            .as_ref()
            .map(crate::store::PermissionSetRecord::policy_names)
            .unwrap_or_default(),
        has_inline_policy: set.as_ref().is_some_and(|p| p.inline_policy.is_some()),
        role_usable: role.is_some_and(|r| r.status != "not_provisioned"),
    })
}
