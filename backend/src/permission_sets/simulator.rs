//! The policy engine offered to people (`POST /api/v1/policies/validate` and
//! `/simulate`, routed in `routes.rs`). Validation reports a fault as data (line, column, what was
//! expected); simulation answers "may this do action A on resource R in context C?" with the
//! statements that decided, naming each policy as a person would (`AliyunECSFullAccess`,
//! `inline`, `policies[0]`, `session`).

use gatehouse_shared::error::FieldError;
use gatehouse_shared::policies::{
    PolicyFault, PolicyValidation, SimulatePolicy, SimulatedStatement, Simulation,
};

use super::{catalogue, PermissionSetError};
use crate::policy::{
    evaluate_with_session_policy, Context, DecisionEffect, MatchedStatement, PolicyParseError,
    RamPolicy, Request, MAX_POLICY_CHARS, MAX_SESSION_POLICY_CHARS,
};
use crate::store::Store;

/// A RAM principal holds at most this many policies of each kind; we take the same bound.
const MAX_POLICIES: usize = 20;

fn fault(e: &PolicyParseError) -> PolicyFault {
    PolicyFault {
        line: e.line,
        column: e.column,
        expected: e.expected.clone(),
        found: e.found.clone(),
        message: e.to_string(),
    }
}

/// Parses a document, or says where it is wrong.
pub fn validate_document(document: &str) -> PolicyValidation {
    match RamPolicy::parse_with_limit(document, MAX_POLICY_CHARS) {
        Ok(p) => PolicyValidation {
            valid: true,
            statement_count: p.statements().len(),
            fault: None,
        },
        Err(e) => PolicyValidation {
            valid: false,
            statement_count: 0,
            fault: Some(fault(&e)),
        },
    }
}

fn parse_field(
    field: &str,
    text: &str,
    limit: usize,
    faults: &mut Vec<FieldError>,
) -> Option<RamPolicy> {
    match RamPolicy::parse_with_limit(text, limit) {
        Ok(p) => Some(p),
        Err(e) => {
            faults.push(FieldError::new(
                field,
                format!("The policy is not valid: {e}"),
            ));
            None
        }
    }
}

/// Runs the simulation for `req`, loading a permission set's policies when it names one.
pub async fn simulate_request(
    store: &dyn Store,
    req: SimulatePolicy,
) -> Result<Simulation, PermissionSetError> {
    let mut faults = Vec::new();
    if req.action.trim().is_empty() {
        faults.push(FieldError::new(
            "action",
            "Enter an action, such as ecs:StartInstance.",
        ));
    }
    if req.resource.trim().is_empty() {
        faults.push(FieldError::new(
            "resource",
            "Enter a resource, such as acs:ecs:*:*:instance/i-123.",
        ));
    }
    if req.policies.len() > MAX_POLICIES {
        faults.push(FieldError::new(
            "policies",
            format!("Simulate with at most {MAX_POLICIES} policies."),
        ));
    }
    let mut named: Vec<(String, RamPolicy)> = Vec::new();
    for (i, text) in req.policies.iter().enumerate() {
        let field = format!("policies[{i}]");
        if let Some(p) = parse_field(&field, text, MAX_POLICY_CHARS, &mut faults) {
            named.push((field, p));
        }
    }
    if let Some(id) = req.permission_set_id.as_deref().filter(|s| !s.is_empty()) {
        let ps = store
            .get_permission_set(id)
            .await
            .map_err(|e| e.or_not_found(PermissionSetError::PermissionSetNotFound))?;
        for name in ps.policy_names() {
            if let Some(entry) = catalogue::find(&name) {
                if let Some(p) = parse_field(&name, entry.document, usize::MAX, &mut faults) {
                    named.push((name, p));
                }
            }
        }
        // An IAM-language inline policy is AWS's: the RAM engine does not evaluate it.
        if let Some(inline) = ps
            .inline_policy
            .as_deref()
            .filter(|t| !crate::cloud::aws::iam::is_iam_document(t))
        {
            if let Some(p) = parse_field("inline", inline, MAX_POLICY_CHARS, &mut faults) {
                named.push(("inline".into(), p));
            }
        }
    }
    let session = req
        .session_policy
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| parse_field("session_policy", s, MAX_SESSION_POLICY_CHARS, &mut faults));
    if named.is_empty() && faults.is_empty() {
        faults.push(FieldError::new(
            "policies",
            "Give at least one policy document or a permission set.",
        ));
    }
    if !faults.is_empty() {
        return Err(PermissionSetError::Invalid(faults));
    }

    let mut context = Context::new();
    for (key, values) in &req.context {
        context.set(key, values.clone());
    }
    let request = Request::new(req.action.trim(), req.resource.trim()).with_context(context);
    let policies: Vec<&RamPolicy> = named.iter().map(|(_, p)| p).collect();
    let decision = evaluate_with_session_policy(&request, &policies, session.as_ref());
    let label = |m: &MatchedStatement| SimulatedStatement {
        policy: named
            .get(m.policy_index)
            .map_or_else(|| "session".to_string(), |(n, _)| n.clone()),
        statement_index: m.statement_index,
        sid: m.sid.clone(),
        effect: m.effect.to_string(),
    };
    Ok(Simulation {
        decision: match decision.effect {
            DecisionEffect::Allow => "allow",
            DecisionEffect::ExplicitDeny => "explicit_deny",
            DecisionEffect::ImplicitDeny => "implicit_deny",
        }
        .to_string(),
        allowed: decision.is_allowed(),
        matched: decision.matched.iter().map(label).collect(),
        deciding: decision.deciding.iter().map(label).collect(),
        context_errors: decision
            .errors
            .iter()
            .map(|e| format!("{} = {:?} is not {}", e.key, e.value, e.expected))
            .collect(),
    })
}
