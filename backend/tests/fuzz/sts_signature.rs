//! The STS request signatures (`sts::signature`), both versions: RPC (HMAC-SHA1) and V3
//! (ACS3-HMAC-SHA256). Nothing panics on any input; every change to a request that changes
//! what the server would act on (a parameter, a signed header, the body, the path, the
//! method, the order of repeated parameters) makes the signature fail or the request be
//! refused; and for the inputs the official SDKs can send, Gatehouse computes exactly the
//! signature that the official Alibaba Cloud Python SDKs compute (`sdk_signers.py`, run once
//! per batch with `e2e/sdk/.venv`).
//!
//! `server_accepts_*` below is the route's check (`sts::rpc_routes`, `check_rpc` and
//! `check_v3`) written over the same pure functions it calls, without the token, clock and
//! nonce steps that come after it.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use gatehouse::sts::signature::{
    parse_v3_authorization, payload_hash, percent_encode, repeated_parameter, rpc_signature,
    rpc_string_to_sign, same, v3_canonical_request, v3_signature, v3_string_to_sign, V3_ALGORITHM,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

use crate::{cases, config};

type Params = Vec<(String, String)>;

const SECRET: &str = "fuzz-secret-Xk3";

/// Parameter names: a few, so that repeats happen; sometimes any text.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(&["Action", "RoleArn", "Policy", "a", "ab", "b", "Signature", "Version"][..])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(&["", "1", "b", "c=d", "x&y", "a b", "a+b", "%20", "é", "*~"][..])
            .prop_map(str::to_owned),
        2 => any::<String>(),
    ]
}

fn params() -> impl Strategy<Value = Params> {
    proptest::collection::vec((name(), value()), 0..8)
}

/// What the server acts on among a request's parameters: the last value of each name
/// (`Call::param`), leaving out the signature itself.
fn reading(params: &[(String, String)]) -> BTreeMap<String, String> {
    params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn last_signature(params: &[(String, String)]) -> &str {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == "Signature")
        .map_or("", |(_, v)| v.as_str())
}

/// The RPC check: no repeated parameter, then the signature over every other parameter.
fn server_accepts_rpc(method: &str, params: &[(String, String)]) -> bool {
    repeated_parameter(params).is_none()
        && same(
            &rpc_signature(SECRET, &rpc_string_to_sign(method, params)),
            last_signature(params),
        )
}

/// Signs `params` the RPC way and adds the `Signature` parameter.
fn sign_rpc(method: &str, mut params: Params) -> Params {
    params.retain(|(k, _)| k != "Signature");
    let signature = rpc_signature(SECRET, &rpc_string_to_sign(method, &params));
    params.push(("Signature".to_owned(), signature));
    params
}

/// One change to a list of parameters, picked by `kind` and placed by `at`.
fn change(mut p: Params, kind: u8, at: usize, text: String, shift: usize) -> Params {
    let i = if p.is_empty() { 0 } else { at % p.len() };
    match kind % 7 {
        0 if !p.is_empty() => p[i].1 = text,
        1 if !p.is_empty() => p[i].0 = text,
        2 if !p.is_empty() => {
            p.remove(i);
        }
        3 => p.insert(i, (text, String::new())),
        4 if !p.is_empty() => {
            // Move characters across the `=` between a name and its value.
            let (k, v) = p[i].clone();
            let joined = format!("{k}{v}");
            let cut = joined
                .char_indices()
                .map(|(j, _)| j)
                .chain([joined.len()])
                .nth(shift % (joined.chars().count() + 1))
                .unwrap_or(0);
            p[i] = (joined[..cut].to_owned(), joined[cut..].to_owned());
        }
        5 => {
            // Any order, repeated names included.
            let len = p.len().max(1);
            p.rotate_left(shift % len);
            if p.len() > 1 {
                p.swap(i, (i + shift) % len);
            }
        }
        _ => p.push((text, "1".to_owned())),
    }
    p
}

/// A request as the V3 check sees it.
#[derive(Debug, Clone)]
struct V3Call {
    method: String,
    path: String,
    query: Params,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    authorization: String,
}

impl V3Call {
    /// A header as the route reads it: the first of that name, and only when it is visible
    /// ASCII (`HeaderValue::to_str`).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
    }

    /// What the server acts on: method, path, query readings, the headers it reads, the body.
    /// A header that is absent, empty or not visible ASCII signs as empty, and the route
    /// refuses each of those for every header it reads (missing or malformed), so the three
    /// read alike here.
    fn reading(
        &self,
    ) -> (
        String,
        String,
        BTreeMap<String, String>,
        Vec<String>,
        Vec<u8>,
    ) {
        let headers = REQUIRED
            .iter()
            .chain(["x-acs-security-token"].iter())
            .map(|h| self.header(h).map_or("", str::trim).to_owned())
            .collect();
        (
            self.method.to_ascii_uppercase(),
            // An HTTP request's path is never empty: `Uri::path` gives "/" for none.
            if self.path.is_empty() {
                "/".to_owned()
            } else {
                self.path.clone()
            },
            reading(&self.query),
            headers,
            self.body.clone(),
        )
    }

    fn canonical(&self, signed: &[String]) -> String {
        v3_canonical_request(
            &self.method,
            &self.path,
            &self.query,
            signed,
            |name| self.header(name),
            self.header("x-acs-content-sha256").unwrap_or_default(),
        )
    }
}

const REQUIRED: &[&str] = &[
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

/// The V3 check: no repeated parameter, the required headers signed, the body's hash, then
/// the signature over the canonical request.
fn server_accepts_v3(call: &V3Call) -> bool {
    let Some(auth) = parse_v3_authorization(&call.authorization) else {
        return false;
    };
    let mut required: Vec<&str> = REQUIRED.to_vec();
    if call
        .headers
        .iter()
        .any(|(k, _)| k == "x-acs-security-token")
    {
        required.push("x-acs-security-token");
    }
    if repeated_parameter(&call.query).is_some()
        || required
            .iter()
            .any(|h| !auth.signed_headers.iter().any(|s| s == h))
        || !call
            .header("x-acs-content-sha256")
            .unwrap_or_default()
            .eq_ignore_ascii_case(&payload_hash(&call.body))
    {
        return false;
    }
    let string_to_sign = v3_string_to_sign(&call.canonical(&auth.signed_headers));
    same(&v3_signature(SECRET, &string_to_sign), &auth.signature)
}

/// Header values: what SDKs send, surrounding spaces, and sometimes any text.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~]{0,12}",
        1 => any::<String>(),
    ]
}

fn v3_call() -> impl Strategy<Value = V3Call> {
    (
        proptest::sample::select(&["POST", "GET", "post"][..]),
        proptest::sample::select(&["/", "/sts/", "", "/%2F"][..]),
        params(),
        proptest::collection::vec(header_value(), REQUIRED.len() + 2),
        proptest::option::of(header_value()),
        proptest::collection::vec(any::<u8>(), 0..32),
        any::<bool>(),
    )
        .prop_map(
            |(method, path, mut query, values, token, body, sign_extra)| {
                query.retain(|(k, _)| k != "Signature");
                let mut headers: Vec<(String, String)> = REQUIRED
                    .iter()
                    .zip(&values)
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect();
                headers[2].1 = payload_hash(&body);
                headers.push(("content-type".to_owned(), values[REQUIRED.len()].clone()));
                if let Some(token) = token {
                    headers.push(("x-acs-security-token".to_owned(), token));
                }
                let mut signed: Vec<String> = headers
                    .iter()
                    .map(|(k, _)| k.clone())
                    .filter(|k| sign_extra || k != "content-type")
                    .collect();
                signed.sort();
                let mut call = V3Call {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    query,
                    headers,
                    body,
                    authorization: String::new(),
                };
                let signature = v3_signature(SECRET, &v3_string_to_sign(&call.canonical(&signed)));
                call.authorization = format!(
                    "{V3_ALGORITHM} Credential=STS.fuzz,SignedHeaders={},Signature={signature}",
                    signed.join(";")
                );
                call
            },
        )
}

/// One change to a V3 request.
fn change_v3(mut c: V3Call, kind: u8, at: usize, text: String, shift: usize) -> V3Call {
    let h = at % c.headers.len();
    match kind % 9 {
        0..=1 => c.query = change(c.query, kind / 9, at, text, shift),
        2 => c.headers[h].1 = text,
        3 => {
            // A new body, and the hash header made to match it.
            c.body = text.into_bytes();
            let hash = payload_hash(&c.body);
            if let Some(slot) = c
                .headers
                .iter_mut()
                .find(|(k, _)| k == "x-acs-content-sha256")
            {
                slot.1 = hash;
            }
        }
        4 => c.body.push(at.to_le_bytes()[0]),
        5 => c.path = text,
        6 => {
            c.method = if c.method == "GET" {
                "POST".into()
            } else {
                "GET".into()
            }
        }
        7 => {
            // Sign fewer (or other) headers: drop one name from SignedHeaders.
            if let Some(auth) = parse_v3_authorization(&c.authorization) {
                let mut signed = auth.signed_headers.clone();
                signed.remove(at % signed.len());
                c.authorization = format!(
                    "{V3_ALGORITHM} Credential={},SignedHeaders={},Signature={}",
                    auth.access_key_id,
                    signed.join(";"),
                    auth.signature
                );
            }
        }
        _ => c.headers.insert(h, (c.headers[h].0.clone(), text)),
    }
    c
}

/// RFC 3986 percent-encoding, written out byte by byte: the reference `percent_encode` must
/// agree with.
fn reference_percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

proptest! {
    #![proptest_config(config(3_000))]

    /// Any method and parameters: no panic; the string to sign has its three parts and only
    /// unreserved characters and `%XX` escapes after the method.
    #[test]
    fn rpc_string_to_sign_is_well_formed(method in "[A-Za-z]{0,7}", p in params()) {
        let sts = rpc_string_to_sign(&method, &p);
        let rest = sts.strip_prefix(&format!("{}&%2F&", method.to_ascii_uppercase()));
        prop_assert!(rest.is_some(), "{}", sts);
        prop_assert!(rest.unwrap_or_default().bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
        prop_assert_eq!(rpc_signature(SECRET, &sts).len(), 28);
    }

    /// Percent-encoding is RFC 3986's, byte for byte.
    #[test]
    fn percent_encoding_matches_the_reference(s in any::<String>()) {
        prop_assert_eq!(percent_encode(&s), reference_percent_encode(&s));
    }

    /// A signed RPC request changed in any way is refused, or still means the same to the
    /// server.
    #[test]
    fn rpc_changes_are_refused(
        method in proptest::sample::select(&["GET", "POST"][..]),
        p in params(),
        kind in any::<u8>(),
        at in any::<usize>(),
        text in value(),
        shift in any::<usize>(),
        other_method in any::<bool>(),
    ) {
        let signed = sign_rpc(method, p);
        let repeated = repeated_parameter(&signed).is_some();
        prop_assert_eq!(server_accepts_rpc(method, &signed), !repeated);
        let changed = change(signed.clone(), kind, at, text, shift);
        let changed_method = if other_method { if method == "GET" { "POST" } else { "GET" } } else { method };
        if server_accepts_rpc(changed_method, &changed) {
            prop_assert_eq!(changed_method, method);
            prop_assert_eq!(reading(&changed), reading(&signed), "{:?} became {:?}", signed, changed);
        }
    }

    /// A signed V3 request changed in any way is refused, or still means the same to the
    /// server.
    #[test]
    fn v3_changes_are_refused(
        call in v3_call(),
        kind in any::<u8>(),
        at in any::<usize>(),
        text in value(),
        shift in any::<usize>(),
    ) {
        let repeated = repeated_parameter(&call.query).is_some();
        prop_assert_eq!(server_accepts_v3(&call), !repeated, "{:?}", call);
        let changed = change_v3(call.clone(), kind, at, text, shift);
        if server_accepts_v3(&changed) {
            prop_assert_eq!(changed.reading(), call.reading(), "{:?} became {:?}", call, changed);
        }
    }

    /// Any Authorization header: no panic; what parses writes back to the same parts.
    #[test]
    fn v3_authorization_parses_or_not_without_panic(
        value in prop_oneof![
            any::<String>(),
            "ACS3-HMAC-SHA256 ?[A-Za-z=;, .]{0,40}",
            "ACS3-HMAC-SHA256 Credential=[A-Za-z.]{0,8}, ?SignedHeaders=[a-z;-]{0,20},Signature=[0-9a-f]{0,8}",
        ],
    ) {
        if let Some(a) = parse_v3_authorization(&value) {
            let again = format!(
                "{V3_ALGORITHM} Credential={},SignedHeaders={},Signature={}",
                a.access_key_id,
                a.signed_headers.join(";"),
                a.signature
            );
            prop_assert_eq!(parse_v3_authorization(&again), Some(a));
        }
    }
}

/// Found by `rpc_changes_are_refused`: a request signed with a parameter given twice could be
/// replayed with the two values swapped (the string to sign sorts them, so it is the same)
/// and the server would read the other value. Repeated names are refused now.
#[test]
fn swapping_repeated_parameters_is_refused() {
    let signed = sign_rpc(
        "GET",
        vec![
            ("Action".into(), "AssumeRole".into()),
            ("RoleArn".into(), "acs:ram::1:role/reader".into()),
            ("RoleArn".into(), "acs:ram::1:role/admin".into()),
        ],
    );
    let mut swapped = signed.clone();
    swapped.swap(1, 2);
    assert_eq!(
        rpc_string_to_sign("GET", &signed),
        rpc_string_to_sign("GET", &swapped)
    );
    assert_ne!(reading(&signed), reading(&swapped));
    assert_eq!(repeated_parameter(&swapped), Some("RoleArn"));
    assert!(!server_accepts_rpc("GET", &swapped));
}

fn sdk_python() -> PathBuf {
    let python = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../e2e/sdk/.venv/bin/python"
    ));
    assert!(
        python.exists(),
        "the SDK virtualenv is missing at {}: run scripts/install-test.sh",
        python.display()
    );
    python
}

/// Runs the SDK signers over `cases` (one process for the batch), answers in order.
fn sdk_sign(cases: &[Value]) -> Vec<Value> {
    let script = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fuzz/sdk_signers.py"
    ));
    let mut child = Command::new(sdk_python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input: String = cases.iter().map(|c| format!("{c}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let answers: Vec<Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(answers.len(), cases.len());
    answers
}

/// What the SDKs send: parameter names of letters and digits, each once; values any text.
fn sdk_params() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map("[A-Za-z0-9]{1,12}", value(), 0..8)
}

/// Draws `n` values of `strategy` (no shrinking: a mismatch is printed whole).
fn draw<S: Strategy>(strategy: S, n: u32) -> Vec<S::Value> {
    let mut runner = TestRunner::new(config(n));
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

/// Gatehouse's RPC signature equals both official SDKs' (tea-openapi and aliyun-python-sdk-core)
/// for any parameters they can send.
#[test]
fn rpc_signature_matches_the_official_sdks() {
    let drawn = draw(
        (proptest::sample::select(&["GET", "POST"][..]), sdk_params()),
        cases(3_000),
    );
    let requests: Vec<Value> = drawn
        .iter()
        .map(|(method, p)| json!({"kind": "rpc", "method": method, "params": p, "secret": SECRET}))
        .collect();
    for ((method, p), answer) in drawn.iter().zip(sdk_sign(&requests)) {
        let pairs: Params = p.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let ours = rpc_signature(SECRET, &rpc_string_to_sign(method, &pairs));
        assert_eq!(answer["tea"], ours, "{method} {p:?}");
        assert_eq!(answer["core"], ours, "{method} {p:?}");
    }
}

/// Gatehouse's V3 canonical request and signature equal tea-openapi's `get_authorization` for
/// any request it can send: query names of letters and digits, header values of visible ASCII.
#[test]
fn v3_signature_matches_the_official_sdk() {
    let headers = proptest::collection::btree_map(
        proptest::sample::select(REQUIRED).prop_map(str::to_owned),
        "[ -~]{0,16}",
        0..6,
    );
    let drawn = draw(
        (
            proptest::sample::select(&["POST", "GET"][..]),
            proptest::sample::select(&["/", "/sts/"][..]),
            sdk_params(),
            headers,
            proptest::collection::vec(any::<u8>(), 0..64),
        ),
        cases(3_000),
    );
    let requests: Vec<Value> = drawn
        .iter()
        .map(|(method, path, query, headers, body)| {
            json!({"kind": "v3", "method": method, "path": path, "query": query,
                   "headers": headers, "body_hex": hex::encode(body), "secret": SECRET})
        })
        .collect();
    for ((method, path, query, headers, body), answer) in drawn.iter().zip(sdk_sign(&requests)) {
        let pairs: Params = query.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let signed: Vec<String> = headers.keys().cloned().collect();
        let canonical = v3_canonical_request(
            method,
            path,
            &pairs,
            &signed,
            |n| headers.get(n).map(String::as_str),
            &payload_hash(body),
        );
        let ours = format!(
            "{V3_ALGORITHM} Credential=STS.fuzz,SignedHeaders={},Signature={}",
            signed.join(";"),
            v3_signature(SECRET, &v3_string_to_sign(&canonical))
        );
        assert_eq!(answer["tea"], ours, "{method} {path} {query:?} {headers:?}");
    }
}
