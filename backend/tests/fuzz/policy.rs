//! The RAM policy parser (`policy::RamPolicy::parse`, its JSON reader and its limit) against
//! any text: it never panics, every refusal points inside the text at a character boundary
//! with the right line and column, it agrees with serde_json on what is JSON, and one
//! document written two ways (whitespace, `\uXXXX` and short escapes) parses to the same
//! policy, or is refused for the same reason.

use gatehouse::policy::{
    check_json, evaluate, version_position, Context, DecisionEffect, Effect, PolicyParseError,
    RamPolicy, Request,
};
use proptest::prelude::*;

use crate::config;

/// A JSON document as a tree, so that it can be written out in several ways.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    /// The number as written (JSON grammar).
    Num(&'static str),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

#[rustfmt::skip]
const NUMBERS: &[&str] = &[
    "0", "1", "-1", "10", "3", "0.5", "-0.0", "1e3", "2E-2", "9007199254740993",
    "18446744073709551616", "1.5e308",
];

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "1", "2", "Allow", "Deny", "allow", "*", "ecs:*", "ecs:Describe*", "oss:GetObject",
    "ecs:?tart*", "acs:ecs:*:*:instance/*", "acs:oss:*:*:bucket/reports/*", "acs:ram::123:user/*",
    "10.0.0.0/8", "192.168.1.1", "2001:db8::/32", "300.1.1.1/8", "10.0.0.0/33", "true",
    "false", "TRUE", "5", "-3", "1.5", "abc", "2025-06-01T00:00:00Z",
    "2019-08-12T17:00:00+08:00", "2025-06-01", "2025-13-01T00:00:00Z", "", "é", "\u{1F600}",
    "a\"b", "back\\slash", "tab\there", "line\nbreak", "\u{0}", "\u{7f}", "\u{feff}",
];

#[rustfmt::skip]
const KEYS: &[&str] = &[
    "Version", "Statement", "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
    "Condition", "Principal", "version", "StringEquals", "StringNotEquals", "StringLike",
    "StringNotLikeIfExists", "StringEqualsIgnoreCase", "NumericLessThan", "NumericEquals",
    "DateLessThan", "DateGreaterThanEquals", "Bool", "BoolIfExists", "IpAddress",
    "NotIpAddress", "IfExists", "acs:SourceIp", "acs:MFAPresent", "acs:CurrentTime",
    "acs:SourceVpc", "ecs:Count", "ACS:SOURCEIP", "",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Any JSON value, drawn towards the words and keys of a policy.
fn any_json() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        proptest::sample::select(NUMBERS).prop_map(J::Num),
        word().prop_map(J::Str),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(J::Arr),
            proptest::collection::vec((key(), inner), 0..5).prop_map(J::Obj),
        ]
    })
}

/// Mostly `good`, sometimes any JSON at all: a document that is nearly a policy.
fn or_any(good: impl Strategy<Value = J> + 'static) -> BoxedStrategy<J> {
    prop_oneof![12 => good, 1 => any_json()].boxed()
}

fn string_or_list(words: &'static [&'static str]) -> impl Strategy<Value = J> {
    let one = proptest::sample::select(words).prop_map(|w| J::Str(w.to_owned()));
    prop_oneof![
        one.clone(),
        proptest::collection::vec(one, 0..4).prop_map(J::Arr),
    ]
}

const ACTIONS: &[&str] = &[
    "*",
    "ecs:*",
    "ecs:Describe*",
    "oss:GetObject",
    "ECS:?tart*",
    "bad",
];
const RESOURCES: &[&str] = &[
    "*",
    "acs:ecs:*:*:instance/*",
    "acs:oss:*:*:bucket/reports/*",
    "acs:ram::123:user/?lice",
    "arn:aws:s3:::x",
];

/// `{operator: {key: value or [values]}}`, values of the right type most of the time.
fn condition() -> impl Strategy<Value = J> {
    let operator = proptest::sample::select(&KEYS[11..25]).prop_map(str::to_owned);
    let cond_key = proptest::sample::select(&KEYS[25..]).prop_map(str::to_owned);
    let value = prop_oneof![
        word().prop_map(J::Str),
        proptest::sample::select(NUMBERS).prop_map(J::Num),
        any::<bool>().prop_map(J::Bool),
    ];
    let values = prop_oneof![
        value.clone(),
        proptest::collection::vec(value, 0..3).prop_map(J::Arr)
    ];
    proptest::collection::vec(
        (
            operator,
            proptest::collection::vec((cond_key, values), 1..3).prop_map(J::Obj),
        ),
        0..3,
    )
    .prop_map(J::Obj)
}

fn statement() -> impl Strategy<Value = J> {
    (
        proptest::option::of(word()),
        or_any(
            proptest::sample::select(&["Allow", "Deny", "Deny "][..])
                .prop_map(|e| J::Str(e.to_owned())),
        ),
        proptest::sample::select(&["Action", "NotAction"][..]),
        or_any(string_or_list(ACTIONS)),
        proptest::sample::select(&["Resource", "NotResource"][..]),
        or_any(string_or_list(RESOURCES)),
        proptest::option::of(or_any(condition())),
        proptest::option::of((key(), any_json())),
        any::<usize>(),
    )
        .prop_map(|(sid, effect, ak, a, rk, r, cond, extra, turn)| {
            let mut members = Vec::new();
            if let Some(sid) = sid {
                members.push(("Sid".to_owned(), J::Str(sid)));
            }
            members.push(("Effect".to_owned(), effect));
            members.push((ak.to_owned(), a));
            members.push((rk.to_owned(), r));
            if let Some(cond) = cond {
                members.push(("Condition".to_owned(), cond));
            }
            if let Some(extra) = extra {
                members.push(extra);
            }
            // Members in any order: the grammar does not care.
            let len = members.len();
            members.rotate_left(turn % len);
            J::Obj(members)
        })
}

/// A document shaped like a policy, valid often and wrong in one place often.
fn policy_like() -> impl Strategy<Value = J> {
    let statements = prop_oneof![
        statement(),
        proptest::collection::vec(statement(), 0..4).prop_map(J::Arr),
    ];
    (
        or_any(proptest::sample::select(&["1", "2", " 1"][..]).prop_map(|v| J::Str(v.to_owned()))),
        or_any(statements),
        proptest::option::of((key(), any_json())),
    )
        .prop_map(|(version, statements, extra)| {
            let mut members = vec![
                ("Version".to_owned(), version),
                ("Statement".to_owned(), statements),
            ];
            if let Some(extra) = extra {
                members.push(extra);
            }
            J::Obj(members)
        })
}

/// A tiny deterministic generator for the writing choices of one rendering.
struct Choices(u64);

impl Choices {
    fn next(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    fn space(&mut self, out: &mut String) {
        out.push_str(
            ["", "", " ", "\n", "\t", "\r\n  ", "  \n\n "]
                [usize::try_from(self.next(7)).unwrap_or(0)],
        );
    }
}

/// Writes `j` as JSON, spacing and escaping as `choices` say (`seed` 0: compact, no optional
/// escapes).
fn render(j: &J, seed: u64) -> String {
    let mut out = String::new();
    let mut choices = Choices(seed);
    write(j, &mut out, &mut choices, seed == 0);
    out
}

fn write(j: &J, out: &mut String, c: &mut Choices, plain: bool) {
    let space = |out: &mut String, c: &mut Choices| {
        if !plain {
            c.space(out);
        }
    };
    match j {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(n) => out.push_str(n),
        J::Str(s) => write_string(s, out, c, plain),
        J::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(out, c);
                write(item, out, c, plain);
                space(out, c);
            }
            out.push(']');
        }
        J::Obj(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(out, c);
                write_string(k, out, c, plain);
                space(out, c);
                out.push(':');
                space(out, c);
                write(v, out, c, plain);
                space(out, c);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String, c: &mut Choices, plain: bool) {
    out.push('"');
    for ch in s.chars() {
        let must = matches!(ch, '"' | '\\') || u32::from(ch) < 0x20;
        let how = if plain { 0 } else { c.next(4) };
        match ch {
            '"' if how < 3 => out.push_str("\\\""),
            '\\' if how < 3 => out.push_str("\\\\"),
            '/' if how == 1 => out.push_str("\\/"),
            '\n' if how < 3 => out.push_str("\\n"),
            '\t' if how < 3 => out.push_str("\\t"),
            '\r' if how < 3 => out.push_str("\\r"),
            '\u{8}' if how < 3 => out.push_str("\\b"),
            '\u{c}' if how < 3 => out.push_str("\\f"),
            _ if must || how == 3 => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    // Upper or lower case hex digits, both are JSON.
                    if c.next(2) == 0 {
                        out.push_str(&format!("\\u{unit:04x}"));
                    } else {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
            }
            _ => out.push(ch),
        }
    }
    out.push('"');
}

/// A refusal points at a character boundary inside the text, on the line and column that
/// its byte offset is on (columns counted in characters).
fn check_location(text: &str, e: &PolicyParseError) -> Result<(), TestCaseError> {
    prop_assert!(e.offset <= text.len(), "offset {} past the end", e.offset);
    prop_assert!(
        text.is_char_boundary(e.offset),
        "offset {} inside a character",
        e.offset
    );
    let before = &text[..e.offset];
    let line = 1 + before.matches('\n').count();
    let column = 1 + before.rsplit('\n').next().unwrap_or("").chars().count();
    prop_assert_eq!((e.line, e.column), (line, column));
    prop_assert!(!e.expected.is_empty());
    Ok(())
}

/// Everything the parser module offers, on one text: none may panic, and they agree.
fn all_entry_points(text: &str) -> Result<Option<RamPolicy>, TestCaseError> {
    let parsed = RamPolicy::parse(text);
    if let Err(e) = &parsed {
        check_location(text, e)?;
    }
    let json = check_json(text);
    if let Err(e) = &json {
        check_location(text, e)?;
        prop_assert!(parsed.is_err(), "a policy that is not JSON parsed");
    }
    if let Some((line, column)) = version_position(text) {
        prop_assert!(json.is_ok());
        prop_assert!(line >= 1 && column >= 1);
    }
    let chars = text.chars().count();
    for limit in [0, chars / 2, chars, chars + 1] {
        let limited = RamPolicy::parse_with_limit(text, limit);
        if chars > limit {
            let e = limited.expect_err("a document over the limit was accepted");
            check_location(text, &e)?;
            prop_assert_eq!(
                Some(e.offset),
                text.char_indices().nth(limit).map(|(i, _)| i)
            );
        } else {
            prop_assert_eq!(&limited, &parsed);
        }
    }
    Ok(parsed.ok())
}

/// serde_json's opinion of `text` as one JSON document, where the two readers' documented
/// differences do not decide: `None` when nesting is deeper than the policy reader's 32
/// levels, or a number is beyond serde_json's f64.
fn serde_accepts(text: &str) -> Option<bool> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(_) => Some(true),
        Err(e) if e.to_string().contains("out of range") => None,
        Err(_) => Some(false),
    }
}

#[rustfmt::skip]
const TOKENS: &[&str] = &[
    "{", "}", "[", "]", ",", ":", " ", "\n", "\"Version\"", "\"1\"", "\"Statement\"",
    "\"Effect\"", "\"Allow\"", "\"Deny\"", "\"Action\"", "\"NotAction\"", "\"ecs:*\"",
    "\"Resource\"", "\"*\"", "\"Condition\"", "\"IpAddress\"", "\"acs:SourceIp\"",
    "\"10.0.0.0/8\"", "\"Bool\"", "\"NumericLessThan\"", "1", "-0.5e3", "01", "1.", "-",
    "true", "nul", "null", "\"\\u00e9\"", "\"\\ud83d\\ude00\"", "\"\\ud800\"", "\"\\udc00\"",
    "\"\\ud800\\u0041\"", "\\", "\"", "\\u12", "é", "\u{feff}", "\t", "\u{0}", "\"a\u{1}b\"",
];

/// Token soup: mostly JSON's own tokens in any order, so the reader's every branch is met.
fn token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKENS), 0..60).prop_map(|t| t.concat())
}

/// One edit of a text: delete, insert or replace a character.
fn edit(text: &str, at: usize, op: u8, ch: char) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = if chars.is_empty() {
        0
    } else {
        at % chars.len()
    };
    match op % 3 {
        0 if !chars.is_empty() => {
            chars.remove(at);
        }
        1 => chars.insert(at, ch),
        _ if !chars.is_empty() => chars[at] = ch,
        _ => chars.push(ch),
    }
    chars.into_iter().collect()
}

fn edit_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::sample::select(&['"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'u', '0', '*', '?', '\n', '\t', '\u{0}', '\u{1f}', '\u{7f}'][..]),
        1 => any::<char>(),
    ]
}

proptest! {
    #![proptest_config(config(2_000))]

    /// Any Unicode text: no panic, refusals placed correctly, the entry points agree.
    #[test]
    fn any_text_is_parsed_or_refused_in_place(text in any::<String>()) {
        all_entry_points(&text)?;
    }

    /// Text made of JSON's tokens: the same, and the reader agrees with serde_json on what
    /// is one JSON document.
    #[test]
    fn token_soup_agrees_with_serde_json(text in token_soup()) {
        all_entry_points(&text)?;
        let ours = check_json(&text);
        let deep = ours.as_ref().is_err_and(|e| e.expected == "less deeply nested JSON");
        if let (false, Some(serde)) = (deep, serde_accepts(&text)) {
            prop_assert_eq!(ours.is_ok(), serde, "check_json {:?} on {:?}", ours, text);
        }
    }

    /// One document written two ways parses to the same policy or is refused for the same
    /// reason; what parses is JSON to serde_json too, and evaluating it never panics.
    #[test]
    fn a_document_means_the_same_however_written(
        doc in policy_like(),
        seed in 1..u64::MAX,
        action in proptest::sample::select(&["ecs:DescribeInstances", "ECS:STARTINSTANCE", "oss:GetObject", "ram:CreateUser", ""][..]),
        resource in proptest::sample::select(&["acs:ecs:cn-hangzhou:123:instance/i-1", "acs:oss:cn-hangzhou:123:bucket/reports/q1", "acs:ram::123:user/alice", "*"][..]),
        ip in proptest::sample::select(&["10.1.2.3", "2001:db8::1", "localhost", ""][..]),
    ) {
        let plain = render(&doc, 0);
        let fancy = render(&doc, seed);
        let a = all_entry_points(&plain)?;
        let b = all_entry_points(&fancy)?;
        match (RamPolicy::parse(&plain), RamPolicy::parse(&fancy)) {
            (Ok(x), Ok(y)) => prop_assert_eq!(x, y),
            (Err(x), Err(y)) => {
                prop_assert_eq!(&x.expected, &y.expected);
                prop_assert_eq!(&x.found, &y.found);
            }
            (x, y) => prop_assert!(false, "{:?}\n  vs {:?}\n{}\n{}", x, y, plain, fancy),
        }
        prop_assert_eq!(serde_accepts(&fancy), Some(true), "{}", fancy);
        if let (Some(policy), Some(_)) = (a, b) {
            let request = Request::new(action, resource)
                .with_context(Context::new().with("acs:SourceIp", ip).with("acs:MFAPresent", "true"));
            let decision = evaluate(&request, &[&policy]);
            let denies = decision.matched.iter().any(|m| m.effect == Effect::Deny);
            let allows = decision.matched.iter().any(|m| m.effect == Effect::Allow);
            let expected = if denies {
                DecisionEffect::ExplicitDeny
            } else if allows {
                DecisionEffect::Allow
            } else {
                DecisionEffect::ImplicitDeny
            };
            prop_assert_eq!(decision.effect, expected);
            prop_assert!(decision.deciding.iter().all(|m| decision.matched.contains(m)));
            prop_assert_eq!(evaluate(&request, &[&policy]), decision);
        }
    }

    /// A policy-shaped document with a few characters deleted, inserted or replaced: no panic,
    /// refusals in place, and the reader agrees with serde_json on what is still JSON.
    #[test]
    fn edited_documents_are_parsed_or_refused_in_place(
        doc in policy_like(),
        seed in 0..u64::MAX,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), edit_char()), 1..4),
    ) {
        let mut text = render(&doc, seed);
        for (at, op, ch) in edits {
            text = edit(&text, at, op, ch);
        }
        if all_entry_points(&text)?.is_some() {
            prop_assert_eq!(serde_accepts(&text), Some(true), "{}", text);
        }
        // Nearly JSON: the reader and serde_json agree on what is JSON.
        let ours = check_json(&text);
        let deep = ours.as_ref().is_err_and(|e| e.expected == "less deeply nested JSON");
        if let (false, Some(serde)) = (deep, serde_accepts(&text)) {
            prop_assert_eq!(ours.is_ok(), serde, "check_json {:?} on {:?}", ours, text);
        }
    }
}

/// The writer above, checked once by hand: escapes of every kind read back as the text.
#[test]
fn escaped_and_plain_spellings_parse_alike() {
    let plain = r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"acs:ecs:*:*:instance/é*"}}"#;
    let escaped = "{\"Version\" : \"\\u0031\",\n \"Statement\": [{\"Effect\":\"\\u0041llow\",\
                   \"Action\":\"ecs\\u003a*\",\"Resource\":\"acs:ecs:*:*:instance\\/\\u00E9*\"}]}";
    assert_eq!(
        RamPolicy::parse(plain).unwrap(),
        RamPolicy::parse(escaped).unwrap()
    );
}
