//! The RAM policy engine: parses Alibaba Cloud RAM policy documents (version "1") and
//! decides requests against them, explaining which statements decided. Pure: no I/O, no
//! clock, nothing from the rest of the crate.
//!
//! # Grammar
//!
//! `{"Version": "1", "Statement": <statement or [statements]>}`; a statement has `Effect`
//! (`"Allow"`/`"Deny"`), exactly one of `Action`/`NotAction`, exactly one of
//! `Resource`/`NotResource` (each a string or a non-empty array of strings), and optionally
//! `Sid` and `Condition` (`{operator: {key: value or [values]}}`). Element names,
//! operators and `Allow`/`Deny` are case-sensitive, as RAM documents ("Policy structure and
//! syntax"). Unknown or repeated keys are refused, and so is `Principal` (only
//! resource-based policies have one). Actions are `*` or `<service>:<operation>`;
//! resources are `*` or `acs:...` ARNs.
//!
//! # Semantics, and where they come from
//!
//! - Explicit Deny beats Allow; nothing matching is an implicit deny (RAM "Policy
//!   elements": "Deny takes precedence").
//! - Actions compare case-insensitively (RAM: "in most cases, the value of the Action
//!   element is not case-sensitive"); resources case-sensitively. `*` matches any run of
//!   characters including none, `?` exactly one character, in Action, Resource and
//!   `StringLike`/`StringNotLike` (RAM "Conditional operators").
//! - Condition keys compare case-insensitively (as in AWS IAM, whose condition model RAM
//!   shares); values per operator: `StringEquals`/`StringLike` case-sensitive,
//!   `...IgnoreCase` not.
//! - Several operators in a `Condition`, and several keys under one operator, are ANDed;
//!   several values of one key are ORed — except under the negated operators
//!   (`StringNotEquals`, `StringNotEqualsIgnoreCase`, `StringNotLike`, `NumericNotEquals`,
//!   `DateNotEquals`, `NotIpAddress`), which hold when the request value matches *none* of
//!   them (NOR). When the request carries several values for a key, a positive operator
//!   holds if any of them matches, a negated one if none does. (AWS IAM "Conditions with
//!   multiple context keys or values".)
//! - A key the request does not carry: a positive operator does not hold; its
//!   `...IfExists` form holds; a negated operator holds ("If the policy condition requires
//!   that the key is not matched, such as StringNotLike, and the right key is not present,
//!   the condition is true" — AWS IAM "Condition operators"; the RAM pages do not say
//!   otherwise). So `Deny` + `NotIpAddress` denies a request with no source IP.
//! - Numbers compare numerically (integers exactly); dates compare as instants and must
//!   carry a zone (`Z` or `±hh:mm`, e.g. RAM's own example `2019-08-12T17:00:00+08:00`),
//!   a bare date meaning midnight UTC; `Bool` takes true/false; `IpAddress` takes IPv4 and
//!   IPv6 addresses and CIDR blocks. Policy values of the wrong type are refused at
//!   parse; request values of the wrong type match nothing and are listed in
//!   [`Decision::errors`].
//! - With a session policy, a request is allowed only if the role's policies and the
//!   session policy both allow it, and a Deny in either denies: a session policy can only
//!   narrow.

mod condition;
mod eval;
mod json;
mod parse;
mod wildcard;

#[cfg(test)]
mod tests;

pub use condition::Operator;
pub use eval::{
    evaluate, evaluate_with_session_policy, Context, ContextValueError, Decision, DecisionEffect,
    MatchedStatement, Request,
};
pub use parse::{check_json, version_position, Effect, PolicyParseError, RamPolicy, Statement};

/// The longest policy document RAM accepts, in characters.
pub const MAX_POLICY_CHARS: usize = 6_144;

/// The longest session policy STS accepts, in characters.
pub const MAX_SESSION_POLICY_CHARS: usize = 2_048;
