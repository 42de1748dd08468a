//! What just-in-time access keeps: eligibility and approval policies, access requests (a
//! grant is a request in state `active`), the approvers each request was resolved to, and
//! one decision per person per request. The trait is part of [`Store`](super::Store); its
//! SQL, generic over the engine, is in `sql.rs`.
//!
//! Every change to a request goes through [`RequestStore::transition_request`]: inside one
//! transaction it reads the request, its decisions and its *current* approvers, asks the
//! domain's plan what to do, and writes the result with a compare-and-set on `version`
//! (`UPDATE … WHERE id = $1 AND version = $2`). When another writer got there first the
//! update touches no row, the transaction is rolled back and the plan is run again on what
//! is there now, so of two racing transitions exactly one wins and the loser re-decides.
//! On SQLite the write gate serialises the transactions anyway; on PostgreSQL the row lock
//! the winner's `UPDATE` takes makes the loser wait and then find the version moved.

use async_trait::async_trait;
use gatehouse_shared::error::FieldError;
use gatehouse_shared::requests::RequestState;
use serde_json::{json, Value};

use super::{EntitlementRecord, RevocationRecord, StoreError, StoreResult};
use crate::audit::NewEvent;
use crate::clock::Millis;
use crate::store::sql_store::AuditView;

mod sql;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EligibilityPolicyRecord {
    pub id: String,
    pub name: String,
    pub principal_type: String,
    pub principal_id: String,
    /// A JSON array of account ids (`["*"]`: any).
    pub account_ids: String,
    /// A JSON array of permission set ids (`["*"]`: any).
    pub permission_set_ids: String,
    pub max_duration_secs: i64,
    pub approval_required: bool,
    pub justification_required: bool,
    pub ticket_required: bool,
    /// The user's username or the group's name (empty if it is gone).
    pub principal_name: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl AuditView for EligibilityPolicyRecord {
    fn audit_view(&self) -> Value {
        json!({
            "name": self.name,
            "principal_type": self.principal_type,
            "principal_id": self.principal_id,
            "account_ids": self.account_ids,
            "permission_set_ids": self.permission_set_ids,
            "max_duration_secs": self.max_duration_secs,
            "approval_required": self.approval_required,
            "justification_required": self.justification_required,
            "ticket_required": self.ticket_required,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApprovalPolicyRecord {
    pub id: String,
    pub name: String,
    pub account_id: String,
    pub permission_set_id: String,
    /// JSON arrays of ids.
    pub approver_group_ids: String,
    pub approver_user_ids: String,
    pub approvals_needed: i64,
    pub rejections_to_end: i64,
    pub mfa_required: bool,
    pub pending_lifetime_secs: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl AuditView for ApprovalPolicyRecord {
    fn audit_view(&self) -> Value {
        json!({
            "name": self.name,
            "account_id": self.account_id,
            "permission_set_id": self.permission_set_id,
            "approver_group_ids": self.approver_group_ids,
            "approver_user_ids": self.approver_user_ids,
            "approvals_needed": self.approvals_needed,
            "rejections_to_end": self.rejections_to_end,
            "mfa_required": self.mfa_required,
            "pending_lifetime_secs": self.pending_lifetime_secs,
        })
    }
}

/// One access request (and, while `active`, its grant).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccessRequestRecord {
    pub id: String,
    pub requester_id: String,
    pub requester_name: String,
    pub account_id: String,
    pub account_name: String,
    pub permission_set_id: String,
    pub permission_set_name: String,
    pub duration_secs: i64,
    pub justification: String,
    pub ticket: Option<String>,
    pub requested_start_at: Option<Millis>,
    pub state: String,
    pub version: i64,
    pub approval_required: bool,
    pub approvals_needed: i64,
    pub rejections_to_end: i64,
    pub mfa_required: bool,
    pub pending_expires_at: Millis,
    pub starts_at: Option<Millis>,
    pub ends_at: Option<Millis>,
    pub closed_at: Option<Millis>,
    pub closed_by: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DecisionRecord {
    pub request_id: String,
    pub approver_id: String,
    pub approver_name: String,
    /// `approve` or `reject`.
    pub decision: String,
    pub comment: String,
    pub decided_at: Millis,
}

/// A user who can approve a request now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApproverRecord {
    pub id: String,
    pub username: String,
}

/// A request as one transaction sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSnapshot {
    pub request: AccessRequestRecord,
    pub decisions: Vec<DecisionRecord>,
    /// Enabled users who can approve it now (its approver users and the current members of
    /// its approver groups), never the requester.
    pub approvers: Vec<ApproverRecord>,
}

/// What a transition writes.
#[derive(Debug, Clone)]
pub struct Transition {
    pub decision: Option<DecisionRecord>,
    /// The request's new fields (`version` is moved by the store).
    pub request: AccessRequestRecord,
    pub events: Vec<NewEvent>,
    pub revocation: Option<RevocationRecord>,
}

/// Why a request did not change: a refusal by the domain's plan, a lost race the store
/// gave up on ([`RequestError::Busy`]), or the store's own error. It lives here, not in
/// `crate::access_requests`, because [`Plan`] and [`RequestStore::transition_request`] return it.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such request")]
    NotFound,
    #[error("no such policy")]
    PolicyNotFound,
    #[error("not eligible")]
    NotEligible,
    #[error("{0}")]
    Unapprovable(String),
    #[error("self-approval")]
    SelfApproval,
    #[error("not an approver of this request")]
    NotApprover,
    #[error("MFA required")]
    MfaRequired,
    #[error("already decided")]
    AlreadyDecided,
    #[error("request is {}", .0.as_str())]
    WrongState(RequestState),
    #[error("only the requester may do this")]
    NotRequester,
    #[error("only an administrator or an approver may revoke")]
    NotRevoker,
    #[error("nothing is due")]
    NothingDue,
    #[error("too many concurrent changes")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The domain's decision on a snapshot: a transition, or a refusal.
pub type Plan<'a> =
    &'a (dyn Fn(&RequestSnapshot) -> Result<Transition, RequestError> + Send + Sync);

/// An active grant with the entitlement it gives.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GrantEntitlementRecord {
    pub grant_id: String,
    pub grant_ends_at: Millis,
    #[sqlx(flatten)]
    pub entitlement: EntitlementRecord,
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub requester_id: Option<String>,
    pub state: Option<String>,
    /// Only those this user can approve now (pending, not their own).
    pub approver_id: Option<String>,
    pub limit: i64,
}

#[async_trait]
pub trait RequestStore: Send + Sync {
    async fn list_eligibility_policies(&self) -> StoreResult<Vec<EligibilityPolicyRecord>>;
    async fn get_eligibility_policy(&self, id: &str) -> StoreResult<EligibilityPolicyRecord>;
    /// Creates (`before` is `None`) or replaces the policy with `p.id`.
    async fn put_eligibility_policy(
        &self,
        p: EligibilityPolicyRecord,
        create: bool,
        event: NewEvent,
    ) -> StoreResult<EligibilityPolicyRecord>;
    async fn delete_eligibility_policy(&self, id: &str, event: NewEvent) -> StoreResult<()>;

    async fn list_approval_policies(&self) -> StoreResult<Vec<ApprovalPolicyRecord>>;
    async fn get_approval_policy(&self, id: &str) -> StoreResult<ApprovalPolicyRecord>;
    async fn put_approval_policy(
        &self,
        p: ApprovalPolicyRecord,
        create: bool,
        event: NewEvent,
    ) -> StoreResult<ApprovalPolicyRecord>;
    async fn delete_approval_policy(&self, id: &str, event: NewEvent) -> StoreResult<()>;

    /// The enabled users who would approve a request of `requester_id` resolved to these
    /// approver groups and users (never the requester).
    async fn resolve_approvers(
        &self,
        requester_id: &str,
        group_ids: &[String],
        user_ids: &[String],
    ) -> StoreResult<Vec<ApproverRecord>>;

    /// Stores a new request with its approver set and its events (built by `events` from
    /// the stored request), in one transaction.
    async fn create_request(
        &self,
        request: AccessRequestRecord,
        approver_groups: &[String],
        approver_users: &[String],
        events: Vec<NewEvent>,
    ) -> StoreResult<RequestSnapshot>;
    async fn get_request(&self, id: &str) -> StoreResult<RequestSnapshot>;
    async fn list_requests(&self, filter: &RequestFilter) -> StoreResult<Vec<AccessRequestRecord>>;
    /// Runs `plan` on the request as it is now and writes its transition, with a
    /// compare-and-set on `version`; on a lost race, runs `plan` again on the new state.
    async fn transition_request(
        &self,
        id: &str,
        plan: Plan<'_>,
    ) -> Result<RequestSnapshot, RequestError>;
    /// Requests with something due at `now`: pending past their lifetime, approved whose
    /// start has come, active whose end has come. Ids only; each is then transitioned.
    async fn due_requests(&self, now: Millis, limit: i64) -> StoreResult<Vec<String>>;
    /// The user's grants in force at `now`, with what they give.
    async fn active_grants(
        &self,
        user_id: &str,
        now: Millis,
    ) -> StoreResult<Vec<GrantEntitlementRecord>>;
}
