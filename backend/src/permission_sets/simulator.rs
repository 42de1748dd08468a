//! The policy engine offered to people (`POST /api/v1/policies/validate` and
//! `/simulate`, routed in `routes.rs`). Validation checks a document in its language — RAM's
//! (Version "1") with Gatehouse's engine, IAM's (Version "2012-10-17") with the IAM driver's
//! shape check — or in the language the caller demands, and reports a fault as data (line,
//! column, what was expected). Simulation answers "may this do action A on resource R in
//! context C?" in RAM's language with the statements that decided, naming each policy as a
//! person would (`AliyunECSFullAccess`, `inline`, `policies[0]`, `session`), and lists the
//! policies it did not evaluate (IAM ones) rather than dropping them unseen.

use gatehouse_shared::error::FieldError;
use gatehouse_shared::policies::{
    PolicyFault, PolicyLanguage, PolicyValidation, SimulatePolicy, SimulatedStatement, Simulation,
    SkippedPolicy, ValidatePolicy,
};
use serde_json::Value;

use super::{catalogue, PermissionSetError};
use crate::cloud::aws::iam;
use crate::policy::{
    check_json, evaluate_with_session_policy, version_position, Context, DecisionEffect,
    MatchedStatement, PolicyParseError, RamPolicy, Request, MAX_POLICY_CHARS,
    MAX_SESSION_POLICY_CHARS,
};
use crate::store::Store;
use gatehouse_shared::cloud::Provider;

/// A RAM principal holds at most this many policies of each kind; we take the same bound.
const MAX_POLICIES: usize = 20;

/// Why the simulator does not evaluate an IAM document.
const IAM_NOT_EVALUATED: &str = "An IAM policy (AWS accounts): the simulator evaluates RAM \
    policies (Version 1) only; AWS's IAM policy simulator evaluates IAM policies.";

fn fault(e: &PolicyParseError) -> PolicyFault {
    PolicyFault {
        line: e.line,
        column: e.column,
        expected: e.expected.clone(),
        found: e.found.clone(),
        message: e.to_string(),
    }
}

fn invalid(
    language: PolicyLanguage,
    fault: Option<PolicyFault>,
    message: String,
) -> PolicyValidation {
    PolicyValidation {
        valid: false,
        statement_count: 0,
        fault,
        language,
        message: Some(message),
    }
}

/// The `Version` a JSON document names, if it names one as a string.
fn version_of(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .ok()?
        .get("Version")?
        .as_str()
        .map(str::to_string)
}

/// The language `text` is written in, by its `Version`: IAM's when it names IAM's (as the
/// permission-set form and the AWS driver decide), otherwise RAM's.
pub fn language_of(text: &str) -> PolicyLanguage {
    if iam::is_iam_document(text) {
        PolicyLanguage::Iam
    } else {
        PolicyLanguage::Ram
    }
}

/// "This is an IAM policy (Version 2012-10-17); Alibaba Cloud and local accounts take RAM
/// policies (Version 1)." and the reverse.
fn wrong_language_sentence(found: PolicyLanguage, version: &str) -> String {
    match found {
        PolicyLanguage::Iam => format!(
            "This is an IAM policy (Version {version}); Alibaba Cloud and local accounts \
             take RAM policies (Version 1)."
        ),
        PolicyLanguage::Ram => format!(
            "This is a RAM policy (Version {version}); AWS accounts take IAM policies \
             (Version 2012-10-17)."
        ),
    }
}

/// A document in `found`'s language where the other was demanded: the fault points at its
/// `Version`.
fn wrong_language(document: &str, found: PolicyLanguage) -> PolicyValidation {
    let version = version_of(document).unwrap_or_else(|| found.version().to_string());
    let wanted = match found {
        PolicyLanguage::Iam => PolicyLanguage::Ram,
        PolicyLanguage::Ram => PolicyLanguage::Iam,
    };
    let place = version_position(document).map(|(line, column)| {
        let expected = format!(
            "\"{}\" for \"Version\" (a{} {})",
            wanted.version(),
            if wanted == PolicyLanguage::Iam {
                "n"
            } else {
                ""
            },
            wanted.label()
        );
        let found_text = format!(
            "\"{version}\" (a{} {})",
            if found == PolicyLanguage::Iam {
                "n"
            } else {
                ""
            },
            found.label()
        );
        PolicyFault {
            line,
            column,
            message: format!(
                "line {line}, column {column}: expected {expected}, found {found_text}"
            ),
            expected,
            found: found_text,
        }
    });
    invalid(found, place, wrong_language_sentence(found, &version))
}

/// Checks a RAM policy with the engine.
fn check_ram(document: &str) -> PolicyValidation {
    match RamPolicy::parse_with_limit(document, MAX_POLICY_CHARS) {
        Ok(p) => PolicyValidation {
            valid: true,
            statement_count: p.statements().len(),
            fault: None,
            language: PolicyLanguage::Ram,
            message: None,
        },
        Err(e) => invalid(
            PolicyLanguage::Ram,
            Some(fault(&e)),
            format!("The RAM policy is not valid: {e}."),
        ),
    }
}

/// Checks an IAM policy: its length and JSON syntax with a place (as for RAM), then its shape
/// with the AWS driver's check, which says what is wrong but not where.
fn check_iam(document: &str) -> PolicyValidation {
    let too_long = document.chars().nth(MAX_POLICY_CHARS).is_some();
    let early = if too_long {
        RamPolicy::parse_with_limit(document, MAX_POLICY_CHARS).err()
    } else {
        check_json(document).err()
    };
    if let Some(e) = early {
        return invalid(
            PolicyLanguage::Iam,
            Some(fault(&e)),
            format!("The IAM policy is not valid: {e}."),
        );
    }
    match iam::check_document(document) {
        Ok(()) => PolicyValidation {
            valid: true,
            statement_count: serde_json::from_str::<Value>(document)
                .ok()
                .and_then(|v| match v.get("Statement") {
                    Some(Value::Array(list)) => Some(list.len()),
                    Some(_) => Some(1),
                    None => None,
                })
                .unwrap_or(0),
            fault: None,
            language: PolicyLanguage::Iam,
            message: None,
        },
        Err(e) => invalid(
            PolicyLanguage::Iam,
            None,
            format!("The IAM policy is not valid: {e}."),
        ),
    }
}

/// Checks a document in the language its `Version` names, or in `demand`: a document
/// written in the other language is then not valid, and the fault says so at its `Version`.
pub fn validate_document(document: &str, demand: Option<PolicyLanguage>) -> PolicyValidation {
    let written = language_of(document);
    match (demand, written) {
        (Some(PolicyLanguage::Ram), PolicyLanguage::Iam) => wrong_language(document, written),
        (Some(PolicyLanguage::Iam), PolicyLanguage::Ram)
            if version_of(document).as_deref() == Some("1") =>
        {
            wrong_language(document, PolicyLanguage::Ram)
        }
        (Some(PolicyLanguage::Iam), _) | (None, PolicyLanguage::Iam) => check_iam(document),
        (_, PolicyLanguage::Ram) => check_ram(document),
    }
}

/// `POST /api/v1/policies/validate`: the demanded language is `language`, or the one
/// `provider`'s accounts take; naming two that differ is refused.
pub fn validate_request(req: &ValidatePolicy) -> Result<PolicyValidation, PermissionSetError> {
    let by_provider = req.provider.map(PolicyLanguage::of_provider);
    let demand = match (req.language, by_provider, req.provider) {
        (Some(language), Some(other), Some(provider)) if language != other => {
            return Err(PermissionSetError::Invalid(vec![FieldError::new(
                "language",
                format!(
                    "{} accounts take {} policies, not {}: give the language or the \
                     provider, not both.",
                    provider_name(provider),
                    other.as_str().to_uppercase(),
                    language.as_str().to_uppercase()
                ),
            )]));
        }
        (language, other, _) => language.or(other),
    };
    Ok(validate_document(&req.document, demand))
}

fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::Local => "Local",
        Provider::Alibaba => "Alibaba Cloud",
        Provider::Aws => "AWS",
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
    // IAM's language is AWS's: the RAM engine does not evaluate it, and says so.
    let mut skipped: Vec<SkippedPolicy> = Vec::new();
    let mut skip = |policy: String, reason: &str| {
        skipped.push(SkippedPolicy {
            policy,
            reason: reason.to_string(),
        });
    };
    for (i, text) in req.policies.iter().enumerate() {
        let field = format!("policies[{i}]");
        if language_of(text) == PolicyLanguage::Iam {
            skip(field, IAM_NOT_EVALUATED);
        } else if let Some(p) = parse_field(&field, text, MAX_POLICY_CHARS, &mut faults) {
            named.push((field, p));
        }
    }
    let from_set = req.permission_set_id.as_deref().filter(|s| !s.is_empty());
    if let Some(id) = from_set {
        let ps = store
            .get_permission_set(id)
            .await
            .map_err(|e| e.or_not_found(PermissionSetError::PermissionSetNotFound))?;
        for name in ps.policy_names() {
            match catalogue::find_any(&name) {
                Some(entry) if entry.provider == Provider::Aws => skip(
                    name,
                    "An AWS managed policy (IAM), attached in AWS accounts: the simulator \
                     evaluates RAM policies (Version 1) only; AWS's IAM policy simulator \
                     evaluates IAM policies.",
                ),
                Some(entry) => {
                    if let Some(p) = parse_field(&name, entry.document, usize::MAX, &mut faults) {
                        named.push((name, p));
                    }
                }
                None => skip(
                    name,
                    "Not in the system policy catalogue (any more): there is no document to \
                     evaluate.",
                ),
            }
        }
        if let Some(inline) = ps.inline_policy.as_deref() {
            if language_of(inline) == PolicyLanguage::Iam {
                skip("inline".into(), IAM_NOT_EVALUATED);
            } else if let Some(p) = parse_field("inline", inline, MAX_POLICY_CHARS, &mut faults) {
                named.push(("inline".into(), p));
            }
        }
    }
    // A session policy only narrows: one the engine cannot read must not be dropped, or the
    // answer would be wider than the truth.
    let session = match req
        .session_policy
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        Some(text) if language_of(text) == PolicyLanguage::Iam => {
            faults.push(FieldError::new(
                "session_policy",
                format!(
                    "{} The simulator evaluates RAM policies, so the session policy must be \
                     one.",
                    wrong_language_sentence(
                        PolicyLanguage::Iam,
                        version_of(text).as_deref().unwrap_or("2012-10-17")
                    )
                ),
            ));
            None
        }
        Some(text) => parse_field(
            "session_policy",
            text,
            MAX_SESSION_POLICY_CHARS,
            &mut faults,
        ),
        None => None,
    };
    if named.is_empty() && faults.is_empty() {
        if skipped.is_empty() {
            faults.push(FieldError::new(
                "policies",
                "Give at least one policy document or a permission set.",
            ));
        } else {
            let names: Vec<&str> = skipped.iter().map(|s| s.policy.as_str()).collect();
            let field = if req.policies.is_empty() && from_set.is_some() {
                "permission_set_id"
            } else {
                "policies"
            };
            faults.push(FieldError::new(
                field,
                format!(
                    "Nothing to simulate: the simulator evaluates RAM policies (Version 1), \
                     the language of Alibaba Cloud and local accounts, and none of these is \
                     one ({}). IAM policies (Version 2012-10-17), for AWS accounts, are \
                     evaluated by AWS's IAM policy simulator.",
                    names.join(", ")
                ),
            ));
        }
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
        language: PolicyLanguage::Ram,
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
        skipped,
    })
}
