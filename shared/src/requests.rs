//! Just-in-time access: eligibility and approval policies, access requests with their
//! approvals, and the rules a request must meet (checked by the SPA before sending and by
//! the server again).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::FieldError;

/// "Any account" / "any permission set" in a policy.
pub const ANY: &str = "*";
/// The shortest grant anyone may ask for.
pub const MIN_REQUEST_SECS: i64 = 900;
/// The longest grant a policy may allow (7 days).
pub const MAX_REQUEST_SECS: i64 = 7 * 86_400;
/// How long a request waits for approval unless a policy says otherwise.
pub const DEFAULT_PENDING_LIFETIME_SECS: i64 = 3 * 3_600;
pub const MAX_JUSTIFICATION_CHARS: usize = 2_000;
pub const MAX_TICKET_CHARS: usize = 100;
pub const MAX_COMMENT_CHARS: usize = 2_000;
/// A scheduled start may be at most this far ahead (30 days).
pub const MAX_SCHEDULE_AHEAD_SECS: i64 = 30 * 86_400;

/// Where a request is. Terminal states never change again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for approvals.
    Pending,
    /// Approved; the grant starts at its scheduled time.
    Approved,
    /// The grant is in force.
    Active,
    Rejected,
    Cancelled,
    /// Nobody decided within the pending lifetime.
    TimedOut,
    /// The requester ended the grant early.
    Ended,
    /// The grant ran its full time.
    Expired,
    /// An administrator or approver revoked the grant.
    Revoked,
}

impl RequestState {
    pub const ALL: [RequestState; 9] = [
        RequestState::Pending,
        RequestState::Approved,
        RequestState::Active,
        RequestState::Rejected,
        RequestState::Cancelled,
        RequestState::TimedOut,
        RequestState::Ended,
        RequestState::Expired,
        RequestState::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Active => "active",
            RequestState::Rejected => "rejected",
            RequestState::Cancelled => "cancelled",
            RequestState::TimedOut => "timed_out",
            RequestState::Ended => "ended",
            RequestState::Expired => "expired",
            RequestState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            RequestState::Pending | RequestState::Approved | RequestState::Active
        )
    }

    /// What a person reads in a badge.
    pub fn label(self) -> &'static str {
        match self {
            RequestState::Pending => "Pending approval",
            RequestState::Approved => "Approved, scheduled",
            RequestState::Active => "Active",
            RequestState::Rejected => "Rejected",
            RequestState::Cancelled => "Cancelled",
            RequestState::TimedOut => "Timed out",
            RequestState::Ended => "Ended early",
            RequestState::Expired => "Expired",
            RequestState::Revoked => "Revoked",
        }
    }
}

/// Who a policy is about: a user or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Group,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(PrincipalKind::User),
            "group" => Some(PrincipalKind::Group),
            _ => None,
        }
    }
}

/// `POST/PUT /api/v1/eligibility-policies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityPolicyInput {
    pub name: String,
    pub principal_type: PrincipalKind,
    pub principal_id: String,
    /// Account ids, or `["*"]` for any.
    pub account_ids: Vec<String>,
    /// Permission set ids, or `["*"]` for any.
    pub permission_set_ids: Vec<String>,
    pub max_duration_secs: i64,
    pub approval_required: bool,
    #[serde(default)]
    pub justification_required: bool,
    #[serde(default)]
    pub ticket_required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityPolicy {
    pub id: String,
    #[serde(flatten)]
    pub input: EligibilityPolicyInput,
    /// The user's username or the group's name.
    pub principal_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Why the policy cannot work as the directory stands now (read again on every read, so
    /// a group that shrank or a role not yet provisioned shows): empty when it can.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `POST/PUT /api/v1/approval-policies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPolicyInput {
    pub name: String,
    /// An account id or `*`.
    pub account_id: String,
    /// A permission set id or `*`.
    pub permission_set_id: String,
    #[serde(default)]
    pub approver_group_ids: Vec<String>,
    #[serde(default)]
    pub approver_user_ids: Vec<String>,
    pub approvals_needed: i64,
    /// Rejections that end the request (default 1).
    #[serde(default = "one")]
    pub rejections_to_end: i64,
    #[serde(default)]
    pub mfa_required: bool,
    #[serde(default = "default_pending")]
    pub pending_lifetime_secs: i64,
}

fn one() -> i64 {
    1
}
fn default_pending() -> i64 {
    DEFAULT_PENDING_LIFETIME_SECS
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPolicy {
    pub id: String,
    #[serde(flatten)]
    pub input: ApprovalPolicyInput,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Why the policy cannot work as the directory stands now (read again on every read, so
    /// a group that shrank or a role not yet provisioned shows): empty when it can.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One thing the signed-in person may ask for, with the limits that apply (the strictest
/// of every matching policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibleItem {
    pub account_id: String,
    pub account_name: String,
    pub permission_set_id: String,
    pub permission_set_name: String,
    pub limits: RequestLimits,
}

/// The rules a request for one item must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLimits {
    pub max_duration_secs: i64,
    pub approval_required: bool,
    pub justification_required: bool,
    pub ticket_required: bool,
    /// Approvals needed (0 when no approval is required).
    pub approvals_needed: i64,
    pub mfa_required: bool,
    pub pending_lifetime_secs: i64,
}

/// `GET /api/v1/requests/eligibility`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    pub items: Vec<EligibleItem>,
}

/// `POST /api/v1/requests`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAccessRequest {
    pub account_id: String,
    pub permission_set_id: String,
    pub duration_secs: i64,
    #[serde(default)]
    pub justification: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Start at this time instead of as soon as approved.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_at: Option<OffsetDateTime>,
}

/// `POST /api/v1/requests/{id}/approve|reject`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionInput {
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Approve,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub approver_id: String,
    pub approver_name: String,
    pub decision: DecisionKind,
    pub comment: String,
    /// Whether this decision counts now (its author is still an eligible approver).
    pub counts: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    pub id: String,
    pub name: String,
}

/// One request as its requester, its approvers and administrators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub id: String,
    pub requester: PersonRef,
    pub account_id: String,
    pub account_name: String,
    pub permission_set_id: String,
    pub permission_set_name: String,
    pub duration_secs: i64,
    pub justification: String,
    pub ticket: Option<String>,
    pub state: RequestState,
    pub approval_required: bool,
    pub approvals_needed: i64,
    /// Approvals that count now (distinct, still-eligible approvers).
    pub approvals_counted: i64,
    pub rejections_to_end: i64,
    pub mfa_required: bool,
    /// Who can approve it now (never the requester).
    pub approvers: Vec<PersonRef>,
    pub decisions: Vec<Decision>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub requested_start_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub pending_expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub starts_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ends_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// What the person asking may do with it now.
    pub can_approve: bool,
    pub can_cancel: bool,
    pub can_end: bool,
    pub can_revoke: bool,
    /// What an approver weighs before deciding; given by `GET /api/v1/approvals` and
    /// `GET /api/v1/requests/{id}`, absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<RequestContext>,
    /// Who was told of a new request, and how; only in the answer to creating it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified: Option<crate::notifications::Notified>,
}

/// `GET /api/v1/approvals/waiting`: every decision waiting for the signed-in person, of
/// both kinds (the approvals inbox and the navigation's count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// Access requests they can approve or reject now, each with its context.
    pub access_requests: Vec<AccessRequest>,
    /// Break-glass requests they can decide now as a custodian.
    pub break_glass: Vec<crate::breakglass::BreakGlassRequest>,
}

/// `GET /api/v1/approvals/count`: how many decisions wait for the signed-in person (the
/// navigation's badge, read on every navigation: small on the wire and in every bundle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingCount {
    pub waiting: usize,
}

/// Who asks, where, and what the permission set would let them do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    pub requester_display_name: String,
    /// The account's environment, e.g. `production`.
    pub account_environment: String,
    pub permission_set_description: String,
    /// The permission set's system policies, by name.
    pub system_policies: Vec<String>,
    pub has_inline_policy: bool,
    /// Whether the role exists in the account so a grant could be used at once; when not,
    /// an administrator must provision it first.
    pub role_usable: bool,
}

/// Checks a request against the limits of what it asks for; `now_ms` and `start_at_ms`
/// are Unix milliseconds. Used by the SPA before sending and by the server.
pub fn check_request(
    req: &CreateAccessRequest,
    limits: &RequestLimits,
    now_ms: i64,
) -> Vec<FieldError> {
    let mut faults = Vec::new();
    if !(MIN_REQUEST_SECS..=limits.max_duration_secs).contains(&req.duration_secs) {
        faults.push(FieldError::new(
            "duration_secs",
            format!(
                "Ask for {} to {} minutes.",
                MIN_REQUEST_SECS / 60,
                limits.max_duration_secs / 60
            ),
        ));
    }
    let justification = req.justification.trim();
    if limits.justification_required && justification.is_empty() {
        faults.push(FieldError::new(
            "justification",
            "Say why you need this access.",
        ));
    } else if justification.chars().count() > MAX_JUSTIFICATION_CHARS {
        faults.push(FieldError::new(
            "justification",
            format!("Keep the justification under {MAX_JUSTIFICATION_CHARS} characters."),
        ));
    }
    let ticket = req.ticket.as_deref().map(str::trim).unwrap_or_default();
    if limits.ticket_required && ticket.is_empty() {
        faults.push(FieldError::new("ticket", "Give the ticket number."));
    } else if ticket.chars().count() > MAX_TICKET_CHARS || ticket.chars().any(char::is_control) {
        faults.push(FieldError::new(
            "ticket",
            format!("A ticket number is at most {MAX_TICKET_CHARS} printable characters."),
        ));
    }
    if let Some(start) = req.start_at {
        let ms = i64::try_from(start.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        if ms < now_ms - 60_000 {
            faults.push(FieldError::new(
                "start_at",
                "A scheduled start must be in the future.",
            ));
        } else if ms > now_ms + MAX_SCHEDULE_AHEAD_SECS * 1000 {
            faults.push(FieldError::new(
                "start_at",
                "Schedule the start at most 30 days ahead.",
            ));
        }
    }
    faults
}

/// Checks a comment on a decision.
pub fn check_comment(comment: &str) -> Vec<FieldError> {
    if comment.chars().count() > MAX_COMMENT_CHARS {
        vec![FieldError::new(
            "comment",
            format!("Keep the comment under {MAX_COMMENT_CHARS} characters."),
        )]
    } else {
        Vec::new()
    }
}

/// Checks an eligibility policy.
pub fn check_eligibility_policy(p: &EligibilityPolicyInput) -> Vec<FieldError> {
    let mut faults = Vec::new();
    check_name(&p.name, &mut faults);
    if p.principal_id.trim().is_empty() {
        faults.push(FieldError::new("principal_id", "Choose a user or group."));
    }
    check_targets("account_ids", &p.account_ids, &mut faults);
    check_targets("permission_set_ids", &p.permission_set_ids, &mut faults);
    if !(MIN_REQUEST_SECS..=MAX_REQUEST_SECS).contains(&p.max_duration_secs) {
        faults.push(FieldError::new(
            "max_duration_secs",
            "The maximum duration is from 15 minutes (900) to 7 days (604800).",
        ));
    }
    faults
}

/// Checks an approval policy.
pub fn check_approval_policy(p: &ApprovalPolicyInput) -> Vec<FieldError> {
    let mut faults = Vec::new();
    check_name(&p.name, &mut faults);
    for (field, v) in [
        ("account_id", &p.account_id),
        ("permission_set_id", &p.permission_set_id),
    ] {
        if v.trim().is_empty() {
            faults.push(FieldError::new(field, "Choose one, or * for any."));
        }
    }
    if p.approver_group_ids.is_empty() && p.approver_user_ids.is_empty() {
        faults.push(FieldError::new(
            "approver_group_ids",
            "Name at least one approver group or user.",
        ));
    }
    if !(1..=10).contains(&p.approvals_needed) {
        faults.push(FieldError::new(
            "approvals_needed",
            "Approvals needed is from 1 to 10.",
        ));
    }
    if !(1..=10).contains(&p.rejections_to_end) {
        faults.push(FieldError::new(
            "rejections_to_end",
            "Rejections that end a request is from 1 to 10.",
        ));
    }
    if !(300..=7 * 86_400).contains(&p.pending_lifetime_secs) {
        faults.push(FieldError::new(
            "pending_lifetime_secs",
            "A request may wait from 5 minutes (300) to 7 days (604800).",
        ));
    }
    faults
}

fn check_name(name: &str, faults: &mut Vec<FieldError>) {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 {
        faults.push(FieldError::new(
            "name",
            "Give a name of 1 to 100 characters.",
        ));
    }
}

fn check_targets(field: &str, ids: &[String], faults: &mut Vec<FieldError>) {
    if ids.is_empty() || ids.iter().any(|i| i.trim().is_empty()) {
        faults.push(FieldError::new(field, "Choose at least one, or * for any."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RequestLimits {
        RequestLimits {
            max_duration_secs: 3_600,
            approval_required: true,
            justification_required: true,
            ticket_required: true,
            approvals_needed: 1,
            mfa_required: false,
            pending_lifetime_secs: 10_800,
        }
    }

    #[test]
    fn a_request_must_fit_its_limits() {
        let mut r = CreateAccessRequest {
            account_id: "1".into(),
            permission_set_id: "p".into(),
            duration_secs: 7_200,
            ..Default::default()
        };
        let fields: Vec<_> = check_request(&r, &limits(), 0)
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, ["duration_secs", "justification", "ticket"]);
        r.duration_secs = 3_600;
        r.justification = "incident 42".into();
        r.ticket = Some("INC-42".into());
        assert!(check_request(&r, &limits(), 0).is_empty());
        r.start_at = Some(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(check_request(&r, &limits(), 3_600_000).len(), 1);
    }

    #[test]
    fn terminal_states_are_the_closed_ones() {
        let open: Vec<_> = RequestState::ALL
            .into_iter()
            .filter(|s| !s.is_terminal())
            .collect();
        assert_eq!(
            open,
            [
                RequestState::Pending,
                RequestState::Approved,
                RequestState::Active
            ]
        );
        for s in RequestState::ALL {
            assert_eq!(RequestState::parse(s.as_str()), Some(s));
        }
    }
}
