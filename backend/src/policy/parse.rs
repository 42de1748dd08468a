//! Turns policy text into a [`RamPolicy`], or refuses it with the line and column of the
//! first fault and what was expected there.

use std::fmt;

use serde::Serialize;

use super::condition::{Condition, Operator, Scalar};
use super::json::{self, Member, Node, Value};
use super::wildcard::{fold_str, Pattern};

/// A RAM policy document (version "1") that has passed every check: patterns compiled,
/// condition values typed. Past [`RamPolicy::parse`], an invalid policy cannot exist.
#[derive(Debug, Clone, PartialEq)]
pub struct RamPolicy {
    pub(crate) statements: Vec<Statement>,
}

/// Whether a statement allows or denies what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) actions: Matcher,
    pub(crate) resources: Matcher,
    /// All must hold (AND across operators and across keys).
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    /// The statement's `Sid`, if it has one.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Allow or Deny.
    pub fn effect(&self) -> Effect {
        self.effect
    }
}

/// `Action`/`Resource` (covers what matches a pattern) or `NotAction`/`NotResource`
/// (covers what matches none). Action patterns are stored folded to lower case and must be
/// given a folded action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matcher {
    pub(crate) negated: bool,
    pub(crate) patterns: Vec<Pattern>,
}

impl Matcher {
    #[inline]
    pub(crate) fn covers(&self, text: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(text)) != self.negated
    }
}

/// Why a policy document was refused: where (1-based line and column, the column counted
/// in characters; and the byte offset) and what was expected there instead of what was
/// found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}, column {column}: expected {expected}, found {found}")]
pub struct PolicyParseError {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub expected: String,
    pub found: String,
}

/// A fault before it is placed on a line: byte offset, expected, found.
struct Fault {
    at: usize,
    expected: String,
    found: String,
}

impl Fault {
    fn new(at: usize, expected: impl Into<String>, found: impl Into<String>) -> Self {
        Fault {
            at,
            expected: expected.into(),
            found: found.into(),
        }
    }
}

const STATEMENT_KEYS: &str =
    r#"one of "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition""#;

impl RamPolicy {
    /// Parses a policy document. Refuses, with the position of the fault: JSON syntax
    /// errors, duplicate keys, unknown keys and operators, a `Version` other than "1", an
    /// `Effect` other than "Allow"/"Deny", a statement without exactly one of
    /// `Action`/`NotAction` and one of `Resource`/`NotResource`, empty lists, and
    /// condition values that do not suit their operator (numbers, dates, booleans, CIDRs).
    pub fn parse(text: &str) -> Result<RamPolicy, PolicyParseError> {
        let root =
            json::parse(text).map_err(|e| locate(text, Fault::new(e.at, e.expected, e.found)))?;
        policy(&root).map_err(|fault| locate(text, fault))
    }

    /// Like [`RamPolicy::parse`], but first refuses a document longer than `max_chars`
    /// characters (RAM allows 6,144 for a policy; a session policy 2,048), pointing at the
    /// first character past the limit.
    pub fn parse_with_limit(text: &str, max_chars: usize) -> Result<RamPolicy, PolicyParseError> {
        if let Some((at, _)) = text.char_indices().nth(max_chars) {
            let total = text.chars().count();
            return Err(locate(
                text,
                Fault::new(
                    at,
                    format!("at most {max_chars} characters"),
                    format!("{total} characters"),
                ),
            ));
        }
        RamPolicy::parse(text)
    }

    /// The statements, in document order (the `statement_index` of a decision indexes
    /// this).
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

/// Checks only that `text` is one JSON document, by the same strict reader a policy is read
/// with, saying where it is not (for documents in another policy language).
pub fn check_json(text: &str) -> Result<(), PolicyParseError> {
    json::parse(text)
        .map(|_| ())
        .map_err(|e| locate(text, Fault::new(e.at, e.expected, e.found)))
}

/// Where the value of the top-level `"Version"` of `text` starts (1-based line and column,
/// the column in characters), when `text` is a JSON object that has one: the place to point
/// at when a document is in the wrong policy language.
pub fn version_position(text: &str) -> Option<(usize, usize)> {
    let root = json::parse(text).ok()?;
    let Value::Object(members) = &root.value else {
        return None;
    };
    let member = members.iter().find(|m| m.key == "Version")?;
    Some(json::line_column(text, member.value.at))
}

fn locate(text: &str, fault: Fault) -> PolicyParseError {
    let (line, column) = json::line_column(text, fault.at);
    PolicyParseError {
        line,
        column,
        offset: fault.at,
        expected: fault.expected,
        found: fault.found,
    }
}

/// Refuses a repeated key, pointing at its second occurrence.
fn refuse_duplicates(members: &[Member]) -> Result<(), Fault> {
    let mut seen = std::collections::HashSet::with_capacity(members.len());
    for member in members {
        if !seen.insert(member.key.as_str()) {
            return Err(Fault::new(
                member.key_at,
                format!("\"{}\" only once", json::shorten(&member.key)),
                "it a second time",
            ));
        }
    }
    Ok(())
}

fn policy(root: &Node) -> Result<RamPolicy, Fault> {
    let Value::Object(members) = &root.value else {
        return Err(Fault::new(
            root.at,
            "a policy object",
            root.value.describe(),
        ));
    };
    refuse_duplicates(members)?;
    let mut version = None;
    let mut statements = None;
    for member in members {
        match member.key.as_str() {
            "Version" => version = Some(&member.value),
            "Statement" => statements = Some(&member.value),
            other => {
                return Err(Fault::new(
                    member.key_at,
                    r#""Version" or "Statement""#,
                    format!("\"{}\"", json::shorten(other)),
                ))
            }
        }
    }
    let Some(version) = version else {
        return Err(Fault::new(
            root.at,
            r#"a "Version": "1" in the policy"#,
            "none",
        ));
    };
    if version.value != Value::String("1".to_owned()) {
        return Err(Fault::new(
            version.at,
            r#""1" for "Version""#,
            version.value.describe(),
        ));
    }
    let Some(list) = statements else {
        return Err(Fault::new(
            root.at,
            r#"a "Statement" in the policy"#,
            "none",
        ));
    };
    let statements = match &list.value {
        Value::Object(_) => vec![statement(list)?],
        Value::Array(items) if items.is_empty() => {
            return Err(Fault::new(
                list.at,
                "at least one statement",
                "an empty array",
            ))
        }
        Value::Array(items) => items.iter().map(statement).collect::<Result<_, _>>()?,
        other => {
            return Err(Fault::new(
                list.at,
                "a statement object or an array of them",
                other.describe(),
            ))
        }
    };
    Ok(RamPolicy { statements })
}

fn statement(node: &Node) -> Result<Statement, Fault> {
    let Value::Object(members) = &node.value else {
        return Err(Fault::new(
            node.at,
            "a statement object",
            node.value.describe(),
        ));
    };
    refuse_duplicates(members)?;
    let mut sid = None;
    let mut effect = None;
    let mut actions: Option<(&Member, bool)> = None;
    let mut resources: Option<(&Member, bool)> = None;
    let mut conditions = Vec::new();
    for member in members {
        match member.key.as_str() {
            "Sid" => match &member.value.value {
                Value::String(s) => sid = Some(s.clone()),
                other => {
                    return Err(Fault::new(
                        member.value.at,
                        "a string for \"Sid\"",
                        other.describe(),
                    ))
                }
            },
            "Effect" => {
                effect = Some(match &member.value.value {
                    Value::String(s) if s == "Allow" => Effect::Allow,
                    Value::String(s) if s == "Deny" => Effect::Deny,
                    other => {
                        return Err(Fault::new(
                            member.value.at,
                            r#""Allow" or "Deny""#,
                            other.describe(),
                        ))
                    }
                });
            }
            "Action" | "NotAction" => {
                if let Some((first, _)) = actions {
                    return Err(Fault::new(
                        member.key_at,
                        format!(
                            r#"only one of "Action" or "NotAction" (already have "{}")"#,
                            first.key
                        ),
                        format!("\"{}\"", member.key),
                    ));
                }
                actions = Some((member, member.key == "NotAction"));
            }
            "Resource" | "NotResource" => {
                if let Some((first, _)) = resources {
                    return Err(Fault::new(
                        member.key_at,
                        format!(
                            r#"only one of "Resource" or "NotResource" (already have "{}")"#,
                            first.key
                        ),
                        format!("\"{}\"", member.key),
                    ));
                }
                resources = Some((member, member.key == "NotResource"));
            }
            "Condition" => conditions = condition_block(&member.value)?,
            "Principal" => {
                return Err(Fault::new(
                    member.key_at,
                    STATEMENT_KEYS,
                    "\"Principal\" (only resource-based policies name a principal)",
                ))
            }
            other => {
                return Err(Fault::new(
                    member.key_at,
                    STATEMENT_KEYS,
                    format!("\"{}\"", json::shorten(other)),
                ))
            }
        }
    }
    let Some(effect) = effect else {
        return Err(Fault::new(node.at, r#""Effect" in the statement"#, "none"));
    };
    let Some((action_member, not_action)) = actions else {
        return Err(Fault::new(
            node.at,
            r#""Action" or "NotAction" in the statement"#,
            "neither",
        ));
    };
    let Some((resource_member, not_resource)) = resources else {
        return Err(Fault::new(
            node.at,
            r#""Resource" or "NotResource" in the statement"#,
            "neither",
        ));
    };
    let actions = Matcher {
        negated: not_action,
        patterns: string_list(action_member, check_action)?
            .into_iter()
            .map(|a| Pattern::new(&fold_str(a)))
            .collect(),
    };
    let resources = Matcher {
        negated: not_resource,
        patterns: string_list(resource_member, check_resource)?
            .into_iter()
            .map(Pattern::new)
            .collect(),
    };
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        conditions,
    })
}

/// An action is `*` or `<service>:<operation>`, either part possibly with wildcards.
fn check_action(s: &str) -> Result<(), &'static str> {
    match s.split_once(':') {
        _ if s == "*" => Ok(()),
        Some((service, operation)) if !service.is_empty() && !operation.is_empty() => Ok(()),
        _ => Err(r#"an action like "ecs:DescribeInstances", "ecs:Describe*" or "*""#),
    }
}

/// A resource is `*` or an ARN `acs:<service>:<region>:<account>:<relative-id>`
/// (possibly with wildcards).
fn check_resource(s: &str) -> Result<(), &'static str> {
    if s == "*" || s.starts_with("acs:") {
        Ok(())
    } else {
        Err(r#"a resource like "acs:ecs:*:*:instance/*" or "*""#)
    }
}

/// A string or a non-empty array of strings, each accepted by `check`.
fn string_list<'a>(
    member: &'a Member,
    check: fn(&str) -> Result<(), &'static str>,
) -> Result<Vec<&'a str>, Fault> {
    let one = |node: &'a Node| -> Result<&'a str, Fault> {
        match &node.value {
            Value::String(s) => {
                check(s)
                    .map_err(|expected| Fault::new(node.at, expected, node.value.describe()))?;
                Ok(s.as_str())
            }
            other => Err(Fault::new(
                node.at,
                format!("a string in \"{}\"", member.key),
                other.describe(),
            )),
        }
    };
    match &member.value.value {
        Value::String(_) => Ok(vec![one(&member.value)?]),
        Value::Array(items) if items.is_empty() => Err(Fault::new(
            member.value.at,
            format!("at least one entry in \"{}\"", member.key),
            "an empty array",
        )),
        Value::Array(items) => items.iter().map(one).collect(),
        other => Err(Fault::new(
            member.value.at,
            format!("a string or an array of strings for \"{}\"", member.key),
            other.describe(),
        )),
    }
}

/// `{ operator: { key: value-or-values } }`, flattened into one list of conditions.
fn condition_block(node: &Node) -> Result<Vec<Condition>, Fault> {
    let Value::Object(operators) = &node.value else {
        return Err(Fault::new(
            node.at,
            r#"an object like {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}} for "Condition""#,
            node.value.describe(),
        ));
    };
    refuse_duplicates(operators)?;
    let mut conditions = Vec::new();
    for entry in operators {
        let Some((operator, if_exists)) = Operator::parse(&entry.key) else {
            return Err(Fault::new(
                entry.key_at,
                r#"a condition operator such as "StringEquals", "IpAddress" or "DateLessThanIfExists""#,
                format!("\"{}\"", json::shorten(&entry.key)),
            ));
        };
        let Value::Object(keys) = &entry.value.value else {
            return Err(Fault::new(
                entry.value.at,
                format!("an object of condition keys for \"{}\"", entry.key),
                entry.value.value.describe(),
            ));
        };
        if keys.is_empty() {
            return Err(Fault::new(
                entry.value.at,
                format!("at least one condition key for \"{}\"", entry.key),
                "an empty object",
            ));
        }
        refuse_duplicates(keys)?;
        for key in keys {
            if key.key.is_empty() {
                return Err(Fault::new(
                    key.key_at,
                    "a condition key like \"acs:SourceIp\"",
                    "\"\"",
                ));
            }
            let nodes: Vec<&Node> = match &key.value.value {
                Value::Array(items) if items.is_empty() => {
                    return Err(Fault::new(
                        key.value.at,
                        format!("at least one value for \"{}\"", key.key),
                        "an empty array",
                    ))
                }
                Value::Array(items) => items.iter().collect(),
                _ => vec![&key.value],
            };
            let scalars = nodes
                .iter()
                .map(|n| match &n.value {
                    Value::String(s) => Ok(Scalar::String(s.clone())),
                    Value::Number(s) => Ok(Scalar::Number(s.clone())),
                    Value::Bool(b) => Ok(Scalar::Bool(*b)),
                    other => Err(Fault::new(
                        n.at,
                        format!("a string, number or boolean value for \"{}\"", key.key),
                        other.describe(),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let condition = Condition::new(operator, if_exists, &key.key, &scalars)
                .map_err(|fault| Fault::new(nodes[fault.index].at, fault.expected, fault.found))?;
            conditions.push(condition);
        }
    }
    Ok(conditions)
}
