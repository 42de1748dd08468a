//! The policy tools: validate a RAM policy document, and simulate "may P do A on R in C?".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /api/v1/policies/validate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidatePolicy {
    pub document: String,
}

/// Where and why a policy document is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFault {
    /// 1-based line and column of the fault.
    pub line: usize,
    pub column: usize,
    pub expected: String,
    pub found: String,
    /// `line L, column C: expected …, found …`.
    pub message: String,
}

/// The answer of `validate`: a fault is data here, not a request error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyValidation {
    pub valid: bool,
    pub statement_count: usize,
    pub fault: Option<PolicyFault>,
}

/// `POST /api/v1/policies/simulate`: the policies are the documents given, plus those of
/// `permission_set_id` (its system policies and inline policy) when given; an optional
/// session policy can only narrow.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SimulatePolicy {
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_set_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    pub action: String,
    pub resource: String,
    /// Condition keys such as `acs:SourceIp`, `acs:MFAPresent`, each with one or more values.
    #[serde(default)]
    pub context: BTreeMap<String, Vec<String>>,
}

/// One statement that matched the simulated request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatedStatement {
    /// Which policy: a system policy's name, `inline`, `policies[i]` or `session`.
    pub policy: String,
    /// 0-based index of the statement within that policy.
    pub statement_index: usize,
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: String,
}

/// The simulator's answer, with the statements that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulation {
    /// `allow`, `explicit_deny` or `implicit_deny`.
    pub decision: String,
    pub allowed: bool,
    pub matched: Vec<SimulatedStatement>,
    pub deciding: Vec<SimulatedStatement>,
    /// Request values a condition could not read (say an `acs:SourceIp` that is not an address).
    pub context_errors: Vec<String>,
}
