//! The policy tools: validate a RAM policy document, and simulate "may P do A on R in C?";
//! and how a fault or a statement is quoted back from the document's text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
