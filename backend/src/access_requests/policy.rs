//! Which policies apply to a request, and the strictest combination of them. Pure: the
//! callers read the policies and the person's groups.
//!
//! Eligibility: every policy naming the person (directly or through one of their groups)
//! and covering the account and permission set (an id or `*`) matches. The result takes
//! the shortest maximum duration, and approval, justification and ticket are required if
//! any match requires them. No match: not eligible.
//!
//! Approval: every policy covering the account and permission set matches. Field by field
//! the strictest wins: the most approvals needed, the fewest rejections that end it, MFA
//! if any demands it, the shortest pending lifetime. The approvers are those of the single
//! strictest policy (most approvals needed, then MFA, then the more specific: exact ids
//! beat `*`; then the shortest lifetime; then the id, for a stable choice). We do not
//! union the approvers of all matches: a broad `*` policy naming a catch-all group would
//! otherwise let that group approve requests a stricter, specific policy reserves for a
//! few; nor intersect them: disjoint sets would leave no one. If the strictest policy's
//! approvers are fewer than the approvals needed, the request is refused up front.

use gatehouse_shared::requests::{RequestLimits, ANY};

use crate::store::{ApprovalPolicyRecord, EligibilityPolicyRecord};

fn ids(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn covers(list: &[String], id: &str) -> bool {
    list.iter().any(|x| x == ANY || x == id)
}

/// The limits of the eligibility policies that match, combined strictest-first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EligibilityRule {
    pub max_duration_secs: i64,
    pub approval_required: bool,
    pub justification_required: bool,
    pub ticket_required: bool,
}

impl EligibilityRule {
    /// The limits a request under this rule (and `approval`, where one is needed) lives by.
    pub fn limits(&self, approval: Option<&ApprovalRule>) -> RequestLimits {
        RequestLimits {
            max_duration_secs: self.max_duration_secs,
            approval_required: self.approval_required,
            justification_required: self.justification_required,
            ticket_required: self.ticket_required,
            approvals_needed: approval.map_or(0, |a| a.approvals_needed),
            mfa_required: approval.is_some_and(|a| a.mfa_required),
            pending_lifetime_secs: approval.map_or(0, |a| a.pending_lifetime_secs),
        }
    }
}

pub fn resolve_eligibility(
    policies: &[EligibilityPolicyRecord],
    user_id: &str,
    group_ids: &[String],
    account_id: &str,
    permission_set_id: &str,
) -> Option<EligibilityRule> {
    policies
        .iter()
        .filter(|p| match p.principal_type.as_str() {
            "user" => p.principal_id == user_id,
            "group" => group_ids.contains(&p.principal_id),
            _ => false,
        })
        .filter(|p| {
            covers(&ids(&p.account_ids), account_id)
                && covers(&ids(&p.permission_set_ids), permission_set_id)
        })
        .fold(None, |acc: Option<EligibilityRule>, p| {
            Some(match acc {
                None => EligibilityRule {
                    max_duration_secs: p.max_duration_secs,
                    approval_required: p.approval_required,
                    justification_required: p.justification_required,
                    ticket_required: p.ticket_required,
                },
                Some(a) => EligibilityRule {
                    max_duration_secs: a.max_duration_secs.min(p.max_duration_secs),
                    approval_required: a.approval_required || p.approval_required,
                    justification_required: a.justification_required || p.justification_required,
                    ticket_required: a.ticket_required || p.ticket_required,
                },
            })
        })
}

/// The approval rule for a request: combined limits and the strictest policy's approvers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRule {
    /// The policy whose approvers were taken.
    pub policy_id: String,
    pub group_ids: Vec<String>,
    pub user_ids: Vec<String>,
    pub approvals_needed: i64,
    pub rejections_to_end: i64,
    pub mfa_required: bool,
    pub pending_lifetime_secs: i64,
}

pub fn resolve_approval(
    policies: &[ApprovalPolicyRecord],
    account_id: &str,
    permission_set_id: &str,
) -> Option<ApprovalRule> {
    let matching: Vec<&ApprovalPolicyRecord> = policies
        .iter()
        .filter(|p| {
            (p.account_id == ANY || p.account_id == account_id)
                && (p.permission_set_id == ANY || p.permission_set_id == permission_set_id)
        })
        .collect();
    let specificity = |p: &ApprovalPolicyRecord| {
        u8::from(p.account_id != ANY) + u8::from(p.permission_set_id != ANY)
    };
    let strictest = matching.iter().copied().max_by(|a, b| {
        (a.approvals_needed, a.mfa_required, specificity(a))
            .cmp(&(b.approvals_needed, b.mfa_required, specificity(b)))
            .then(b.pending_lifetime_secs.cmp(&a.pending_lifetime_secs))
            .then(b.id.cmp(&a.id))
    })?;
    Some(ApprovalRule {
        policy_id: strictest.id.clone(),
        group_ids: ids(&strictest.approver_group_ids),
        user_ids: ids(&strictest.approver_user_ids),
        approvals_needed: matching
            .iter()
            .map(|p| p.approvals_needed)
            .max()
            .unwrap_or(1),
        rejections_to_end: matching
            .iter()
            .map(|p| p.rejections_to_end)
            .min()
            .unwrap_or(1),
        mfa_required: matching.iter().any(|p| p.mfa_required),
        pending_lifetime_secs: matching
            .iter()
            .map(|p| p.pending_lifetime_secs)
            .min()
            .unwrap_or(gatehouse_shared::requests::DEFAULT_PENDING_LIFETIME_SECS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(
        id: &str,
        who: (&str, &str),
        accounts: &str,
        max: i64,
        approval: bool,
    ) -> EligibilityPolicyRecord {
        EligibilityPolicyRecord {
            id: id.into(),
            name: id.into(),
            principal_type: who.0.into(),
            principal_id: who.1.into(),
            account_ids: accounts.into(),
            permission_set_ids: r#"["*"]"#.into(),
            max_duration_secs: max,
            approval_required: approval,
            justification_required: false,
            ticket_required: id == "ticket",
            principal_name: String::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn ap(
        id: &str,
        account: &str,
        n: i64,
        mfa: bool,
        life: i64,
        group: &str,
    ) -> ApprovalPolicyRecord {
        ApprovalPolicyRecord {
            id: id.into(),
            name: id.into(),
            account_id: account.into(),
            permission_set_id: "*".into(),
            approver_group_ids: format!(r#"["{group}"]"#),
            approver_user_ids: "[]".into(),
            approvals_needed: n,
            rejections_to_end: if id == "b" { 2 } else { 1 },
            mfa_required: mfa,
            pending_lifetime_secs: life,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_strictest_eligibility_wins_field_by_field() {
        let ps = [
            ep("wide", ("group", "eng"), r#"["*"]"#, 28_800, false),
            ep("ticket", ("user", "u1"), r#"["111"]"#, 3_600, true),
            ep("other", ("group", "ops"), r#"["*"]"#, 900, true),
        ];
        let r = resolve_eligibility(&ps, "u1", &["eng".into()], "111", "p").unwrap();
        assert_eq!(r.max_duration_secs, 3_600);
        assert!(r.approval_required && r.ticket_required && !r.justification_required);
        let r = resolve_eligibility(&ps, "u1", &["eng".into()], "222", "p").unwrap();
        assert_eq!(r.max_duration_secs, 28_800);
        assert!(!r.approval_required);
        assert!(resolve_eligibility(&ps, "u2", &[], "111", "p").is_none());
    }

    #[test]
    fn the_strictest_approval_policy_gives_the_approvers() {
        let ps = [
            ap("a", "*", 1, false, 10_800, "leads"),
            ap("b", "111", 2, false, 3_600, "security"),
            ap("c", "111", 1, true, 600, "oncall"),
        ];
        let r = resolve_approval(&ps, "111", "p").unwrap();
        assert_eq!(r.policy_id, "b");
        assert_eq!(r.group_ids, ["security"]);
        assert_eq!(r.approvals_needed, 2);
        assert_eq!(r.rejections_to_end, 1);
        assert!(r.mfa_required);
        assert_eq!(r.pending_lifetime_secs, 600);
        let r = resolve_approval(&ps, "222", "p").unwrap();
        assert_eq!((r.policy_id.as_str(), r.approvals_needed), ("a", 1));
        assert!(resolve_approval(&ps[1..], "222", "p").is_none());
    }
}
