//! Decides a request against policies: explicit Deny beats Allow, no match is an implicit
//! deny, and the decision names the statements that matched and the ones that decided.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::parse::{Effect, RamPolicy};
use super::wildcard::{bytes_eq, eq_folded, fold_str};

/// "May this principal do `action` on `resource` in this context?"
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// `<service>:<operation>`, compared case-insensitively.
    pub action: String,
    /// The resource ARN, compared case-sensitively.
    pub resource: String,
    /// Condition key values (`acs:SourceIp`, `acs:CurrentTime`, ...), supplied by the caller.
    #[serde(default)]
    pub context: Context,
}

impl Request {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Request {
            action: action.into(),
            resource: resource.into(),
            context: Context::new(),
        }
    }

    #[must_use]
    pub fn with_context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }
}

/// The request context: condition keys (case-insensitive; kept in lower case) and their
/// values. A key may carry several values; a key with no values counts as absent. Global
/// keys such as `acs:SourceIp`, `acs:CurrentTime` (ISO 8601), `acs:MFAPresent`,
/// `acs:SecureTransport` ("true"/"false"), `acs:SourceVpc`, `acs:PrincipalARN` and
/// `acs:AccessId` are ordinary entries: the engine never looks at a clock or a socket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// Few entries in practice: a linear scan beats hashing.
    entries: Vec<(String, Vec<String>)>,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// Adds a value to `key` (keeping any values it already has).
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        let key = fold_str(key);
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value.into()),
            None => self.entries.push((key, vec![value.into()])),
        }
    }

    /// Builder form of [`Context::insert`].
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Replaces all values of `key`.
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        let key = fold_str(key);
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) => *existing = values,
            None => self.entries.push((key, values)),
        }
    }

    /// The values of `key` (any letter case), if the request carries it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(k, _)| eq_folded(key, k))
            .map(|(_, v)| v.as_slice())
    }

    /// `key` must already be folded (condition keys are folded at parse time).
    #[inline]
    pub(crate) fn get_folded(&self, key: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(k, _)| bytes_eq(k.as_bytes(), key.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }

    /// Every key (lower case) with its values, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: AsRef<str>> FromIterator<(K, Vec<String>)> for Context {
    fn from_iter<I: IntoIterator<Item = (K, Vec<String>)>>(iter: I) -> Self {
        let mut context = Context::new();
        for (key, values) in iter {
            for value in values {
                context.insert(key.as_ref(), value);
            }
        }
        context
    }
}

impl From<HashMap<String, Vec<String>>> for Context {
    fn from(map: HashMap<String, Vec<String>>) -> Self {
        map.into_iter().collect()
    }
}

impl Serialize for Context {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.entries.iter().map(|(k, v)| (k, v)))
    }
}

/// A context value as a caller may write it in JSON: one value or a list; strings,
/// numbers and booleans are all taken as their text.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(ContextScalar),
    Many(Vec<ContextScalar>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ContextScalar {
    String(String),
    Bool(bool),
    Number(serde_json::Number),
}

impl ContextScalar {
    fn into_text(self) -> String {
        match self {
            ContextScalar::String(s) => s,
            ContextScalar::Bool(b) => b.to_string(),
            ContextScalar::Number(n) => n.to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for Context {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: Vec<(String, OneOrMany)> = deserializer.deserialize_map(PairsVisitor)?;
        let mut context = Context::new();
        for (key, values) in raw {
            match values {
                OneOrMany::One(v) => context.insert(&key, v.into_text()),
                OneOrMany::Many(vs) => {
                    if vs.is_empty() {
                        // An explicit empty list: the key is present with no values, which
                        // counts as absent.
                        context.set(&key, Vec::new());
                    }
                    for v in vs {
                        context.insert(&key, v.into_text());
                    }
                }
            }
        }
        Ok(context)
    }
}

/// Reads a JSON object as ordered pairs, so that keys differing only in case merge.
struct PairsVisitor;

impl<'de> serde::de::Visitor<'de> for PairsVisitor {
    type Value = Vec<(String, OneOrMany)>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of condition keys to a value or a list of values")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry::<String, OneOrMany>()? {
            pairs.push(pair);
        }
        Ok(pairs)
    }
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DecisionEffect {
    /// Some statement allows and none denies.
    Allow,
    /// Some statement denies: nothing else matters.
    ExplicitDeny,
    /// Nothing allows (the default).
    ImplicitDeny,
}

/// A statement whose action, resource and conditions all matched the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedStatement {
    /// Index into the `policies` slice given to [`evaluate`]; with
    /// [`evaluate_with_session_policy`] the session policy comes after the role's policies
    /// (index `role_policies.len()`).
    pub policy_index: usize,
    /// Index into [`RamPolicy::statements`].
    pub statement_index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
}

/// A request value a condition could not read as its operator's type (say `acs:SourceIp`
/// = "localhost" under `IpAddress`). Such a value matches nothing; it is reported so that
/// a simulator can show the mistake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextValueError {
    pub policy_index: usize,
    pub statement_index: usize,
    pub key: String,
    pub value: String,
    pub expected: &'static str,
}

/// The decision and its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub effect: DecisionEffect,
    /// Every matching statement, Allow and Deny, in policy then statement order.
    pub matched: Vec<MatchedStatement>,
    /// The statements that decided: the matching Deny statements for `ExplicitDeny`, the
    /// matching Allow statements for `Allow`, none for `ImplicitDeny`.
    pub deciding: Vec<MatchedStatement>,
    /// Unreadable request values met on the way (empty in normal operation).
    pub errors: Vec<ContextValueError>,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.effect == DecisionEffect::Allow
    }
}

/// Decides `request` against `policies` (the union of a principal's policies).
///
/// A statement matches when its `Action` (or `NotAction`) covers the action — compared
/// without regard to case — and its `Resource` (or `NotResource`) covers the resource —
/// compared case-sensitively — and every condition holds. Any matching Deny gives
/// `ExplicitDeny`; otherwise any matching Allow gives `Allow`; otherwise `ImplicitDeny`.
/// Pure: no clock, no I/O; the same inputs always give the same decision.
pub fn evaluate(request: &Request, policies: &[&RamPolicy]) -> Decision {
    let mut matched = Vec::new();
    let mut errors = Vec::new();
    collect(request, policies, 0, &mut matched, &mut errors);
    decide(matched, errors)
}

/// Decides a request made with a session policy (STS `AssumeRole` with `Policy`): allowed
/// only when the role's policies allow it *and* the session policy allows it; an explicit
/// Deny in either denies. A session policy can therefore only narrow what the role
/// allows. Without a session policy this is [`evaluate`].
pub fn evaluate_with_session_policy(
    request: &Request,
    role_policies: &[&RamPolicy],
    session_policy: Option<&RamPolicy>,
) -> Decision {
    let Some(session) = session_policy else {
        return evaluate(request, role_policies);
    };
    let mut matched = Vec::new();
    let mut errors = Vec::new();
    collect(request, role_policies, 0, &mut matched, &mut errors);
    let role_allows = matched.iter().any(|m| m.effect == Effect::Allow);
    let role_matches = matched.len();
    collect(
        request,
        &[session],
        role_policies.len(),
        &mut matched,
        &mut errors,
    );
    let session_allows = matched[role_matches..]
        .iter()
        .any(|m| m.effect == Effect::Allow);
    let any_deny = matched.iter().any(|m| m.effect == Effect::Deny);
    let effect = if any_deny {
        DecisionEffect::ExplicitDeny
    } else if role_allows && session_allows {
        DecisionEffect::Allow
    } else {
        DecisionEffect::ImplicitDeny
    };
    finish(effect, matched, errors)
}

fn decide(matched: Vec<MatchedStatement>, errors: Vec<ContextValueError>) -> Decision {
    let effect = if matched.iter().any(|m| m.effect == Effect::Deny) {
        DecisionEffect::ExplicitDeny
    } else if matched.is_empty() {
        DecisionEffect::ImplicitDeny
    } else {
        DecisionEffect::Allow
    };
    finish(effect, matched, errors)
}

fn finish(
    effect: DecisionEffect,
    matched: Vec<MatchedStatement>,
    errors: Vec<ContextValueError>,
) -> Decision {
    let deciding_effect = match effect {
        DecisionEffect::Allow => Some(Effect::Allow),
        DecisionEffect::ExplicitDeny => Some(Effect::Deny),
        DecisionEffect::ImplicitDeny => None,
    };
    let deciding = match deciding_effect {
        Some(wanted) => matched
            .iter()
            .filter(|m| m.effect == wanted)
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    Decision {
        effect,
        matched,
        deciding,
        errors,
    }
}

/// Room for the folded action on the stack; longer (or non-ASCII) actions are folded into
/// a `String`. RAM action names are far shorter.
const ACTION_BUFFER: usize = 128;

/// Calls `f` with the request's action folded to lower case, without allocating for
/// ordinary (ASCII, short) actions.
fn with_folded_action<R>(action: &str, f: impl FnOnce(&str) -> R) -> R {
    if action.is_ascii() && action.len() <= ACTION_BUFFER {
        let mut buffer = [0u8; ACTION_BUFFER];
        let folded = &mut buffer[..action.len()];
        folded.copy_from_slice(action.as_bytes());
        folded.make_ascii_lowercase();
        if let Ok(folded) = std::str::from_utf8(folded) {
            return f(folded);
        }
    }
    f(&fold_str(action))
}

/// Appends every statement of `policies` that matches `request` to `matched`.
fn collect(
    request: &Request,
    policies: &[&RamPolicy],
    first_index: usize,
    matched: &mut Vec<MatchedStatement>,
    errors: &mut Vec<ContextValueError>,
) {
    with_folded_action(&request.action, |action| {
        collect_folded(request, action, policies, first_index, matched, errors);
    });
}

/// [`collect`] with the action already folded (action patterns are folded at parse time).
fn collect_folded(
    request: &Request,
    action: &str,
    policies: &[&RamPolicy],
    first_index: usize,
    matched: &mut Vec<MatchedStatement>,
    errors: &mut Vec<ContextValueError>,
) {
    for (offset, policy) in policies.iter().enumerate() {
        let policy_index = first_index + offset;
        for (statement_index, statement) in policy.statements.iter().enumerate() {
            if !statement.actions.covers(action) || !statement.resources.covers(&request.resource) {
                continue;
            }
            let holds = statement.conditions.iter().all(|condition| {
                condition.holds(
                    request.context.get_folded(condition.key()),
                    |value, expected| {
                        errors.push(ContextValueError {
                            policy_index,
                            statement_index,
                            key: condition.key().to_owned(),
                            value: value.to_owned(),
                            expected,
                        });
                    },
                )
            });
            if holds {
                matched.push(MatchedStatement {
                    policy_index,
                    statement_index,
                    sid: statement.sid.clone(),
                    effect: statement.effect,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::RamPolicy;
    use super::{evaluate, Context, DecisionEffect, Request};

    #[test]
    fn context_keys_ignore_case_and_values_accumulate() {
        let mut context = Context::new().with("ACS:SourceIp", "10.0.0.1");
        context.insert("acs:sourceip", "10.0.0.2");
        assert_eq!(
            context.get("Acs:SourceIP"),
            Some(&["10.0.0.1".to_owned(), "10.0.0.2".to_owned()][..])
        );
        context.set("acs:SOURCEIP", vec!["1.1.1.1".to_owned()]);
        assert_eq!(context.get("acs:sourceip").map(<[String]>::len), Some(1));
        assert_eq!(context.iter().count(), 1);
        assert!(context.get("acs:SourceVpc").is_none());
    }

    #[test]
    fn context_reads_json_scalars_and_lists() {
        let request: Request = serde_json::from_str(
            r#"{"action": "ecs:StartInstance", "resource": "*", "context": {
                "acs:MFAPresent": true, "ecs:Count": 3, "acs:SourceIp": ["10.0.0.1", "::1"],
                "ACS:MFAPRESENT": "false"}}"#,
        )
        .unwrap();
        let c = &request.context;
        assert_eq!(
            c.get("acs:mfapresent"),
            Some(&["true".to_owned(), "false".to_owned()][..])
        );
        assert_eq!(c.get("ecs:count"), Some(&["3".to_owned()][..]));
        assert_eq!(c.get("acs:sourceip").map(<[String]>::len), Some(2));
        let bare: Request = serde_json::from_str(r#"{"action": "a:b", "resource": "*"}"#).unwrap();
        assert!(bare.context.is_empty());
        assert!(serde_json::from_str::<Request>(
            r#"{"action": "a:b", "resource": "*", "context": {"k": {"x": 1}}}"#
        )
        .is_err());
    }

    #[test]
    fn decision_names_sids_and_unreadable_values() {
        let policy = RamPolicy::parse(
            r#"{"Version": "1", "Statement": [
                {"Sid": "Office", "Effect": "Allow", "Action": "ecs:*", "Resource": "*",
                 "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}},
                {"Sid": "Anywhere", "Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}
            ]}"#,
        )
        .unwrap();
        let request = Request::new("ecs:DescribeInstances", "acs:ecs:*:1:instance/i-1")
            .with_context(Context::new().with("acs:SourceIp", "not-an-ip"));
        let decision = evaluate(&request, &[&policy]);
        assert_eq!(decision.effect, DecisionEffect::Allow);
        assert_eq!(decision.deciding.len(), 1);
        assert_eq!(decision.deciding[0].sid.as_deref(), Some("Anywhere"));
        assert_eq!(decision.errors.len(), 1);
        assert_eq!(decision.errors[0].statement_index, 0);
        assert_eq!(decision.errors[0].key, "acs:sourceip");
        assert_eq!(decision.errors[0].value, "not-an-ip");
        let json = serde_json::to_value(&decision).unwrap();
        assert_eq!(json["effect"], "Allow");
        assert_eq!(json["deciding"][0]["sid"], "Anywhere");
    }
}
