//! The policy tools: validate a policy document (RAM's language or IAM's), and simulate
//! "may P do A on R in C?" (RAM's language); which language a document is written in; and
//! how a fault or a statement is quoted back from the document's text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cloud::Provider;

/// The language a policy document is written in, told by its `Version`: Alibaba Cloud RAM's
/// (`"1"`), which `alibaba` and `local` accounts take and Gatehouse's engine evaluates, or
/// AWS IAM's (`"2012-10-17"`), which `aws` accounts take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyLanguage {
    #[default]
    Ram,
    Iam,
}

impl PolicyLanguage {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyLanguage::Ram => "ram",
            PolicyLanguage::Iam => "iam",
        }
    }

    /// The language an account of `provider` takes.
    pub fn of_provider(provider: Provider) -> Self {
        match provider {
            Provider::Aws => PolicyLanguage::Iam,
            Provider::Alibaba | Provider::Local => PolicyLanguage::Ram,
        }
    }

    /// "RAM policy" / "IAM policy".
    pub fn label(self) -> &'static str {
        match self {
            PolicyLanguage::Ram => "RAM policy",
            PolicyLanguage::Iam => "IAM policy",
        }
    }

    /// The `Version` a document in this language carries (IAM also knows the older
    /// `"2008-10-17"`).
    pub fn version(self) -> &'static str {
        match self {
            PolicyLanguage::Ram => "1",
            PolicyLanguage::Iam => "2012-10-17",
        }
    }

    /// The accounts that take it: "Alibaba Cloud and local accounts" / "AWS accounts".
    pub fn accounts(self) -> &'static str {
        match self {
            PolicyLanguage::Ram => "Alibaba Cloud and local accounts",
            PolicyLanguage::Iam => "AWS accounts",
        }
    }
}

/// `POST /api/v1/policies/validate`. Without `language` or `provider` the document is
/// checked in the language its `Version` names; with one, a document in the other language
/// is not valid.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ValidatePolicy {
    pub document: String,
    /// Demand this language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<PolicyLanguage>,
    /// Demand the language an account of this provider takes (`aws`: IAM; `alibaba`,
    /// `local`: RAM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
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
    /// Where the fault is, when it has a place: every fault of a RAM policy, a JSON syntax
    /// error, and a document in the wrong language (at its `Version`). An IAM policy's other
    /// faults are said in `message` only.
    pub fault: Option<PolicyFault>,
    /// The language the document is written in (by its `Version`), and so the rules it was
    /// checked by; a document that names neither is read as RAM's, unless IAM's was
    /// demanded.
    #[serde(default)]
    pub language: PolicyLanguage,
    /// Why it is not valid, in a sentence; present whenever `valid` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
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

/// A policy the simulator was given but did not evaluate, and why (an IAM policy, say: the
/// simulator evaluates RAM's language only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedPolicy {
    /// Named as in `matched`: a system policy's name, `inline` or `policies[i]`.
    pub policy: String,
    pub reason: String,
}

/// The simulator's answer, with the statements that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulation {
    /// The policy language evaluated: always `ram` (Gatehouse's engine, as Alibaba Cloud RAM
    /// and `local` accounts decide).
    #[serde(default)]
    pub language: PolicyLanguage,
    /// `allow`, `explicit_deny` or `implicit_deny`.
    pub decision: String,
    pub allowed: bool,
    pub matched: Vec<SimulatedStatement>,
    pub deciding: Vec<SimulatedStatement>,
    /// Request values a condition could not read (say an `acs:SourceIp` that is not an address).
    pub context_errors: Vec<String>,
    /// The policies given (or of the permission set) that were not evaluated: IAM policies,
    /// AWS managed policies, names no longer in the catalogue. The decision is without them.
    #[serde(default)]
    pub skipped: Vec<SkippedPolicy>,
}

/// The faulty line of `text` and a caret line under its column, tabs shown as one space so
/// the caret stays under the character.
pub fn excerpt(text: &str, fault: &PolicyFault) -> (String, String) {
    let line = text
        .split('\n')
        .nth(fault.line.saturating_sub(1))
        .unwrap_or_default()
        .trim_end_matches('\r')
        .replace('\t', " ");
    let caret = format!("{}^", " ".repeat(fault.column.saturating_sub(1)));
    (line, caret)
}

/// Where the fault is as the text area counts (UTF-16 code units from the start).
pub fn utf16_offset(text: &str, fault: &PolicyFault) -> u32 {
    let mut offset = 0usize;
    for (i, line) in text.split('\n').enumerate() {
        if i + 1 == fault.line {
            offset += line
                .chars()
                .take(fault.column.saturating_sub(1))
                .map(char::len_utf16)
                .sum::<usize>();
            break;
        }
        offset += line.encode_utf16().count() + 1;
    }
    u32::try_from(offset).unwrap_or(u32::MAX)
}

/// The statement `index` of `document`, pretty-printed, if it can be found.
pub fn statement_text(document: &str, index: usize) -> Option<String> {
    let value: Value = serde_json::from_str(document).ok()?;
    let statement = match value.get("Statement")? {
        Value::Array(list) => list.get(index)?.clone(),
        single @ Value::Object(_) if index == 0 => single.clone(),
        _ => return None,
    };
    serde_json::to_string_pretty(&statement).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(line: usize, column: usize) -> PolicyFault {
        PolicyFault {
            line,
            column,
            expected: "x".into(),
            found: "y".into(),
            message: String::new(),
        }
    }

    #[test]
    fn languages_go_with_providers_and_read_as_snake_case() {
        assert_eq!(
            PolicyLanguage::of_provider(Provider::Aws),
            PolicyLanguage::Iam
        );
        for p in [Provider::Alibaba, Provider::Local] {
            assert_eq!(PolicyLanguage::of_provider(p), PolicyLanguage::Ram);
        }
        assert_eq!(
            serde_json::to_string(&PolicyLanguage::Iam).unwrap(),
            "\"iam\""
        );
        // An answer from a server that did not say its language was RAM's.
        let old: PolicyValidation =
            serde_json::from_str(r#"{"valid": true, "statement_count": 1, "fault": null}"#)
                .unwrap();
        assert_eq!((old.language, old.message), (PolicyLanguage::Ram, None));
    }

    #[test]
    fn the_caret_stands_under_the_column() {
        let text = "{\n  \"Version\": 1\n}";
        let (line, caret) = excerpt(text, &fault(2, 14));
        assert_eq!(line, "  \"Version\": 1");
        assert_eq!(caret, "             ^");
        assert_eq!(line.chars().nth(13), Some('1'));
    }

    #[test]
    fn offsets_count_utf16_units() {
        let text = "ab\n\u{1F600}x";
        assert_eq!(utf16_offset(text, &fault(1, 1)), 0);
        assert_eq!(utf16_offset(text, &fault(2, 2)), 5);
    }

    #[test]
    fn statements_are_found_by_index() {
        let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*"},{"Effect":"Deny","Action":"a:c","Resource":"*"}]}"#;
        assert!(statement_text(doc, 1).is_some_and(|t| t.contains("Deny")));
        assert!(statement_text(doc, 2).is_none());
        assert!(statement_text("not json", 0).is_none());
    }
}
