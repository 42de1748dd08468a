//! Seeded randomized properties: a session policy never widens what the role allows, more
//! Deny never allows more, more Allow never allows less, and decisions explain themselves.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::super::{
    evaluate, evaluate_with_session_policy, Context, Decision, DecisionEffect, Effect, RamPolicy,
    Request,
};

const ITERATIONS: usize = 2_500;

const ACTION_PATTERNS: &[&str] = &[
    "*",
    "ecs:*",
    "oss:*",
    "ram:*",
    "ecs:Describe*",
    "ECS:describeinstances",
    "ecs:?tartInstance",
    "ecs:StopInstance",
    "oss:GetObject",
    "oss:*Object",
    "ram:CreateUser",
    "sts:AssumeRole",
];

const ACTIONS: &[&str] = &[
    "ecs:DescribeInstances",
    "ecs:StartInstance",
    "ecs:StopInstance",
    "ECS:STARTINSTANCE",
    "oss:GetObject",
    "oss:PutObject",
    "ram:CreateUser",
    "sts:AssumeRole",
    "kms:Decrypt",
];

const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "acs:ecs:*:*:instance/*",
    "acs:ecs:cn-hangzhou:*:instance/i-00?",
    "acs:ecs:*:*:instance/prod-*",
    "acs:oss:*:*:bucket/*",
    "acs:oss:*:*:bucket/reports/*",
    "acs:oss:*:*:Bucket/*",
    "acs:ram::123:user/*",
];

const RESOURCES: &[&str] = &[
    "acs:ecs:cn-hangzhou:123:instance/i-001",
    "acs:ecs:cn-hangzhou:123:instance/i-0012",
    "acs:ecs:us-west-1:123:instance/prod-7",
    "acs:oss:cn-hangzhou:123:bucket/reports/q1.csv",
    "acs:oss:cn-hangzhou:123:bucket/secret.txt",
    "acs:oss:cn-hangzhou:123:Bucket/x",
    "acs:ram::123:user/alice",
];

/// (operator, key, candidate policy values)
const CONDITIONS: &[(&str, &str, &[&str])] = &[
    (
        "IpAddress",
        "acs:SourceIp",
        &["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32"],
    ),
    (
        "NotIpAddress",
        "acs:SourceIp",
        &["10.0.0.0/8", "203.0.113.7"],
    ),
    ("Bool", "acs:MFAPresent", &["true", "false"]),
    ("Bool", "acs:SecureTransport", &["true"]),
    ("StringEquals", "acs:SourceVpc", &["vpc-a", "vpc-b"]),
    ("StringNotEquals", "acs:SourceVpc", &["vpc-a"]),
    (
        "StringLike",
        "acs:PrincipalARN",
        &["acs:ram::123:role/*", "acs:ram::*:user/?lice"],
    ),
    ("StringEqualsIgnoreCase", "acs:SourceVpc", &["VPC-A"]),
    ("DateLessThan", "acs:CurrentTime", &["2025-06-01T00:00:00Z"]),
    (
        "DateGreaterThanEquals",
        "acs:CurrentTime",
        &["2025-01-01T00:00:00+08:00"],
    ),
    ("NumericLessThanEquals", "ecs:Count", &["3", "10"]),
    ("NumericNotEquals", "ecs:Count", &["0"]),
];

/// (key, candidate request values)
const CONTEXT: &[(&str, &[&str])] = &[
    (
        "acs:SourceIp",
        &[
            "10.1.2.3",
            "192.168.1.9",
            "203.0.113.7",
            "2001:db8::5",
            "8.8.8.8",
        ],
    ),
    ("acs:MFAPresent", &["true", "false"]),
    ("acs:SecureTransport", &["true", "false"]),
    ("acs:SourceVpc", &["vpc-a", "vpc-b", "vpc-c"]),
    (
        "acs:PrincipalARN",
        &["acs:ram::123:role/dev", "acs:ram::456:user/alice"],
    ),
    (
        "acs:CurrentTime",
        &[
            "2024-12-31T20:00:00Z",
            "2025-03-01T00:00:00Z",
            "2025-07-01T00:00:00Z",
        ],
    ),
    ("ecs:Count", &["0", "2", "5", "11"]),
];

fn pick<'a>(rng: &mut StdRng, items: &'a [&'a str]) -> &'a str {
    items.choose(rng).unwrap()
}

fn one_or_many(rng: &mut StdRng, items: &[&str]) -> Value {
    let n = rng.gen_range(1..=2);
    let chosen: Vec<&str> = (0..n).map(|_| *items.choose(rng).unwrap()).collect();
    if chosen.len() == 1 && rng.gen_bool(0.5) {
        json!(chosen[0])
    } else {
        json!(chosen)
    }
}

fn random_statement(rng: &mut StdRng, deny_weight: f64) -> Value {
    let mut s = serde_json::Map::new();
    if rng.gen_bool(0.2) {
        s.insert("Sid".into(), json!(format!("s{}", rng.gen_range(0..100))));
    }
    let effect = if rng.gen_bool(deny_weight) {
        "Deny"
    } else {
        "Allow"
    };
    s.insert("Effect".into(), json!(effect));
    let action_key = if rng.gen_bool(0.15) {
        "NotAction"
    } else {
        "Action"
    };
    s.insert(action_key.into(), one_or_many(rng, ACTION_PATTERNS));
    let resource_key = if rng.gen_bool(0.15) {
        "NotResource"
    } else {
        "Resource"
    };
    s.insert(resource_key.into(), one_or_many(rng, RESOURCE_PATTERNS));
    if rng.gen_bool(0.5) {
        let mut block = serde_json::Map::new();
        for _ in 0..rng.gen_range(1..=3) {
            let (op, key, values) = CONDITIONS.choose(rng).unwrap();
            let op = if rng.gen_bool(0.25) {
                format!("{op}IfExists")
            } else {
                (*op).to_owned()
            };
            let entry = block.entry(op).or_insert_with(|| json!({}));
            entry
                .as_object_mut()
                .unwrap()
                .insert((*key).to_owned(), one_or_many(rng, values));
        }
        s.insert("Condition".into(), Value::Object(block));
    }
    Value::Object(s)
}

fn random_policy_json(rng: &mut StdRng, deny_weight: f64) -> Value {
    let statements: Vec<Value> = (0..rng.gen_range(1..=4))
        .map(|_| random_statement(rng, deny_weight))
        .collect();
    json!({"Version": "1", "Statement": statements})
}

fn parse(value: &Value) -> RamPolicy {
    let text = serde_json::to_string_pretty(value).unwrap();
    RamPolicy::parse(&text).unwrap_or_else(|e| panic!("generated policy refused: {e}\n{text}"))
}

fn random_policy(rng: &mut StdRng, deny_weight: f64) -> RamPolicy {
    parse(&random_policy_json(rng, deny_weight))
}

fn random_request(rng: &mut StdRng) -> Request {
    let mut context = Context::new();
    for (key, values) in CONTEXT {
        if rng.gen_bool(0.7) {
            context.insert(key, pick(rng, values));
            if rng.gen_bool(0.1) {
                context.insert(key, pick(rng, values));
            }
        }
    }
    Request::new(pick(rng, ACTIONS), pick(rng, RESOURCES)).with_context(context)
}

fn explains_itself(decision: &Decision) {
    let wanted = match decision.effect {
        DecisionEffect::Allow => Some(Effect::Allow),
        DecisionEffect::ExplicitDeny => Some(Effect::Deny),
        DecisionEffect::ImplicitDeny => None,
    };
    assert_eq!(
        decision.deciding.is_empty(),
        wanted.is_none(),
        "{decision:?}"
    );
    for d in &decision.deciding {
        assert_eq!(Some(d.effect), wanted, "{decision:?}");
        assert!(decision.matched.contains(d), "{decision:?}");
    }
    let any_deny = decision.matched.iter().any(|m| m.effect == Effect::Deny);
    assert_eq!(
        any_deny,
        decision.effect == DecisionEffect::ExplicitDeny,
        "{decision:?}"
    );
}

#[test]
fn a_session_policy_never_widens_what_the_role_allows() {
    let mut rng = StdRng::seed_from_u64(0x6a7e_4f05);
    let mut allowed_with_session = 0;
    let mut narrowed = 0;
    for _ in 0..ITERATIONS {
        let role: Vec<RamPolicy> = (0..rng.gen_range(0..=3))
            .map(|_| random_policy(&mut rng, 0.2))
            .collect();
        let session = random_policy(&mut rng, 0.2);
        let refs: Vec<&RamPolicy> = role.iter().collect();
        for _ in 0..4 {
            let request = random_request(&mut rng);
            let role_only = evaluate(&request, &refs);
            let session_only = evaluate(&request, &[&session]);
            let combined = evaluate_with_session_policy(&request, &refs, Some(&session));
            explains_itself(&combined);
            if combined.is_allowed() {
                allowed_with_session += 1;
                assert!(
                    role_only.is_allowed(),
                    "session policy widened the role: {request:?}\nrole {role:?}\nsession {session:?}"
                );
                assert!(session_only.is_allowed(), "{request:?}");
            } else if role_only.is_allowed() {
                narrowed += 1;
            }
            if role_only.effect == DecisionEffect::ExplicitDeny
                || session_only.effect == DecisionEffect::ExplicitDeny
            {
                assert_eq!(combined.effect, DecisionEffect::ExplicitDeny, "{request:?}");
            }
            if role_only.is_allowed() && session_only.is_allowed() {
                assert!(combined.is_allowed(), "{request:?}");
            }
        }
    }
    // The generator must exercise both outcomes, or the property proves nothing.
    assert!(
        allowed_with_session > 200,
        "only {allowed_with_session} allowed"
    );
    assert!(narrowed > 200, "only {narrowed} narrowed");
}

#[test]
fn an_allow_everything_session_policy_changes_nothing() {
    let mut rng = StdRng::seed_from_u64(11);
    let everything = RamPolicy::parse(
        r#"{"Version": "1", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#,
    )
    .unwrap();
    for _ in 0..ITERATIONS {
        let role: Vec<RamPolicy> = (0..rng.gen_range(1..=3))
            .map(|_| random_policy(&mut rng, 0.2))
            .collect();
        let refs: Vec<&RamPolicy> = role.iter().collect();
        let request = random_request(&mut rng);
        assert_eq!(
            evaluate_with_session_policy(&request, &refs, Some(&everything)).effect,
            evaluate(&request, &refs).effect,
            "{request:?}"
        );
    }
}

#[test]
fn adding_deny_never_allows_more_and_adding_allow_never_allows_less() {
    let mut rng = StdRng::seed_from_u64(23);
    for _ in 0..ITERATIONS {
        let mut policies: Vec<RamPolicy> = (0..rng.gen_range(1..=3))
            .map(|_| random_policy(&mut rng, 0.3))
            .collect();
        let request = random_request(&mut rng);
        let before = evaluate(&request, &policies.iter().collect::<Vec<_>>());
        explains_itself(&before);
        let only_deny = rng.gen_bool(0.5);
        policies.push(random_policy(&mut rng, if only_deny { 1.0 } else { 0.0 }));
        let after = evaluate(&request, &policies.iter().collect::<Vec<_>>());
        explains_itself(&after);
        if only_deny {
            assert!(!after.is_allowed() || before.is_allowed(), "{request:?}");
        } else {
            assert!(after.is_allowed() || !before.is_allowed(), "{request:?}");
            assert_eq!(
                after.effect == DecisionEffect::ExplicitDeny,
                before.effect == DecisionEffect::ExplicitDeny,
                "{request:?}"
            );
        }
    }
}

#[test]
fn policy_order_and_action_case_do_not_matter() {
    let mut rng = StdRng::seed_from_u64(37);
    for _ in 0..ITERATIONS {
        let policies: Vec<RamPolicy> = (0..rng.gen_range(1..=4))
            .map(|_| random_policy(&mut rng, 0.3))
            .collect();
        let request = random_request(&mut rng);
        let forward: Vec<&RamPolicy> = policies.iter().collect();
        let backward: Vec<&RamPolicy> = policies.iter().rev().collect();
        let decision = evaluate(&request, &forward);
        assert_eq!(decision.effect, evaluate(&request, &backward).effect);
        let mut shouted = request.clone();
        shouted.action = request.action.to_uppercase();
        assert_eq!(decision, evaluate(&shouted, &forward), "{request:?}");
        let mut whispered = request.clone();
        whispered.action = request.action.to_lowercase();
        assert_eq!(decision, evaluate(&whispered, &forward), "{request:?}");
    }
}

#[test]
fn layout_does_not_change_the_parsed_policy() {
    let mut rng = StdRng::seed_from_u64(41);
    for _ in 0..ITERATIONS {
        let value = random_policy_json(&mut rng, 0.3);
        let compact = RamPolicy::parse(&serde_json::to_string(&value).unwrap()).unwrap();
        assert_eq!(compact, parse(&value));
    }
}
