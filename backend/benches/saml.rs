//! SAML Response verification, run with `cargo bench --bench saml` (needs `e2e/saml/.venv`
//! from `scripts/install-test.sh`):
//! - `verify_response`: Gatehouse's whole check of a ~5 KB response signed by pysaml2 +
//!   xmlsec1 (RSA-2048, SHA-256), beside
//! - `xmlsec_verify_only`: libxmlsec1 alone on the same document (samael's `verify_signed_xml`:
//!   parse + one signature check with the configured certificate), in the same run, so the
//!   ratio is measured rather than assumed;
//! - and, for reference, the `xmlsec1 --verify` command on the same file (process start
//!   included), timed with a plain loop and printed.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark should stop loudly on any failure"
)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse::federation::saml::{verify_response, Expectations, IdpSettings, SpSettings};
use samael::crypto::{CertificateDer, Crypto, CryptoProvider as _};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

const IDP: &str = "https://idp.bench.example/saml";
const SP: &str = "https://gatehouse.bench.example/auth/saml/corp/metadata";
const ACS: &str = "https://gatehouse.bench.example/auth/saml/corp/acs";

fn idp_py(args: &[&str], stdin: Option<&Value>) -> String {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../e2e/saml"));
    let mut child = Command::new(dir.join(".venv/bin/python"))
        .args(["-W", "ignore"])
        .arg(dir.join("idp.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("e2e/saml/.venv missing: run scripts/install-test.sh");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(v) = stdin {
            input.write_all(v.to_string().as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[expect(
    clippy::disallowed_methods,
    reason = "the IdP script stamps the document with the real time, so it is checked against it"
)]
fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let dir_s = dir.path().to_str().unwrap();
    let keys: Value = serde_json::from_str(&idp_py(&["keys", dir_s], None)).unwrap();
    let cert = keys["cert"].as_str().unwrap().to_owned();
    let minted: Value = serde_json::from_str(&idp_py(
        &["mint"],
        Some(&json!({
            "dir": dir_s, "idp_entity_id": IDP, "sp_entity_id": SP, "acs_url": ACS,
            "in_response_to": "_bench", "name_id": "alice@example.com",
            "attributes": {"email": ["alice@example.com"], "displayName": ["Alice Example"],
                           "groups": ["engineers", "approvers", "platform-oncall", "db-readers"]},
            "sign": "response",
        })),
    ))
    .unwrap();
    let xml = minted["xml"].as_str().unwrap().to_owned();
    let b64 = STANDARD.encode(&xml);
    println!(
        "document: {} bytes of XML, Response signed, RSA-2048 + SHA-256",
        xml.len()
    );

    let sp = SpSettings {
        entity_id: SP.into(),
        acs_url: ACS.into(),
    };
    let idp = IdpSettings {
        entity_id: IDP.into(),
        sso_url: "https://idp.bench.example/sso".into(),
        certificates: vec![cert.clone()],
        allow_sha1: false,
    };
    let outstanding = vec!["_bench".to_owned()];
    let expect = Expectations {
        outstanding_request_ids: &outstanding,
        allow_unsolicited: false,
        clock_skew: Duration::seconds(60),
        now: OffsetDateTime::now_utc(),
        max_bytes: 256 * 1024,
    };
    verify_response(&b64, &sp, &idp, &expect).expect("the benchmark document verifies");
    let der = CertificateDer::from(STANDARD.decode(&cert).unwrap());
    Crypto::verify_signed_xml(xml.as_bytes(), &der, Some("ID")).expect("xmlsec verifies");

    let mut group = c.benchmark_group("saml");
    group.measurement_time(StdDuration::from_secs(5));
    group.bench_function("verify_response", |b| {
        b.iter(|| verify_response(&b64, &sp, &idp, &expect).unwrap());
    });
    group.bench_function("xmlsec_verify_only", |b| {
        b.iter(|| Crypto::verify_signed_xml(xml.as_bytes(), &der, Some("ID")).unwrap());
    });
    group.finish();

    // The command-line tool, for reference (process start dominates).
    let file = dir.path().join("response.xml");
    std::fs::write(&file, &xml).unwrap();
    let pem = dir.path().join("idp.crt");
    let runs = 30;
    let mut times: Vec<StdDuration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let status = Command::new("xmlsec1")
                .args(["--verify", "--pubkey-cert-pem"])
                .arg(&pem)
                .args([
                    "--id-attr:ID",
                    "urn:oasis:names:tc:SAML:2.0:protocol:Response",
                ])
                .arg(&file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "xmlsec1 --verify (command, {runs} runs): median {:?}",
        times[runs / 2]
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
