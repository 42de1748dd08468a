//! Runs every case in `backend/tests/fixtures/policy/*.json` and reports all failures at once.
//!
//! A file holds one case or an array of cases:
//! `{"name", "policies": [<policy object or policy text>], "session_policy"?: <policy>,
//! "request": {"action", "resource", "context"?}, "expected": "Allow" | "ExplicitDeny" |
//! "ImplicitDeny", "deciding"?: [[policy_index, statement_index], ...],
//! "context_errors"?: <count of unreadable request values>}`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::super::{
    evaluate, evaluate_with_session_policy, Decision, DecisionEffect, Effect, RamPolicy, Request,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    policies: Vec<serde_json::Value>,
    #[serde(default)]
    session_policy: Option<serde_json::Value>,
    request: Request,
    expected: DecisionEffect,
    #[serde(default)]
    deciding: Option<Vec<(usize, usize)>>,
    #[serde(default)]
    context_errors: Option<usize>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy")
}

/// Policies may be written as JSON objects (re-serialized, pretty) or as raw text.
fn policy_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap(),
    }
}

fn load_cases() -> Vec<(String, Case)> {
    let mut files: Vec<PathBuf> = fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let label = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(&file).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{label}: not JSON: {e}"));
        let items = match value {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        for item in items {
            let case: Case = serde_json::from_value(item)
                .unwrap_or_else(|e| panic!("{label}: malformed case: {e}"));
            cases.push((label.clone(), case));
        }
    }
    cases
}

/// Checks that hold for every decision, whatever the policies.
fn check_explanation(decision: &Decision) -> Result<(), String> {
    let wanted = match decision.effect {
        DecisionEffect::Allow => Some(Effect::Allow),
        DecisionEffect::ExplicitDeny => Some(Effect::Deny),
        DecisionEffect::ImplicitDeny => None,
    };
    match wanted {
        Some(effect) if decision.deciding.is_empty() => {
            return Err(format!("{effect} decision without deciding statements"))
        }
        None if !decision.deciding.is_empty() => {
            return Err("implicit deny with deciding statements".to_owned())
        }
        _ => {}
    }
    for d in &decision.deciding {
        if Some(d.effect) != wanted {
            return Err(format!("deciding statement with effect {}", d.effect));
        }
        if !decision.matched.contains(d) {
            return Err("deciding statement that did not match".to_owned());
        }
    }
    Ok(())
}

fn run(case: &Case) -> Result<(), String> {
    let mut policies = Vec::new();
    for (i, value) in case.policies.iter().enumerate() {
        policies
            .push(RamPolicy::parse(&policy_text(value)).map_err(|e| format!("policy {i}: {e}"))?);
    }
    let session = match &case.session_policy {
        Some(value) => Some(
            RamPolicy::parse(&policy_text(value)).map_err(|e| format!("session policy: {e}"))?,
        ),
        None => None,
    };
    let refs: Vec<&RamPolicy> = policies.iter().collect();
    let decision = match &session {
        Some(session) => evaluate_with_session_policy(&case.request, &refs, Some(session)),
        None => {
            let decision = evaluate(&case.request, &refs);
            let same = evaluate_with_session_policy(&case.request, &refs, None);
            if same != decision {
                return Err("evaluate_with_session_policy(None) differs from evaluate".to_owned());
            }
            decision
        }
    };
    if decision.effect != case.expected {
        return Err(format!(
            "expected {:?}, got {:?} (matched {:?})",
            case.expected, decision.effect, decision.matched
        ));
    }
    if let Some(expected) = &case.deciding {
        let got: Vec<(usize, usize)> = decision
            .deciding
            .iter()
            .map(|d| (d.policy_index, d.statement_index))
            .collect();
        if &got != expected {
            return Err(format!("expected deciding {expected:?}, got {got:?}"));
        }
    }
    let expected_errors = case.context_errors.unwrap_or(0);
    if decision.errors.len() != expected_errors {
        return Err(format!(
            "expected {expected_errors} context errors, got {:?}",
            decision.errors
        ));
    }
    check_explanation(&decision)
}

#[test]
fn every_fixture_case_decides_as_expected() {
    let cases = load_cases();
    assert!(
        cases.len() >= 100,
        "only {} fixture cases found in {}",
        cases.len(),
        fixtures_dir().display()
    );
    let mut names = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for (file, case) in &cases {
        if !names.insert((file.as_str(), case.name.as_str())) {
            failures.push(format!("{file}: duplicate case name {:?}", case.name));
        }
        if let Err(why) = run(case) {
            failures.push(format!("{file}: {}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixture cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The fixtures must cover every operator, in its plain and `IfExists` form.
#[test]
fn fixtures_use_every_operator() {
    let mut all_text = String::new();
    for (_, case) in load_cases() {
        for p in case.policies.iter().chain(case.session_policy.iter()) {
            all_text.push_str(&policy_text(p));
        }
    }
    for op in super::super::Operator::ALL {
        for name in [op.name().to_owned(), format!("{}IfExists", op.name())] {
            assert!(
                all_text.contains(&format!("\"{name}\"")),
                "no fixture uses {name}"
            );
        }
    }
}
