//! Gatehouse's own CPU per credential issue with a real cloud, run with
//! `cargo bench --bench cloud`: for the `alibaba` provider, everything Gatehouse does
//! without the cloud's round trip — sign the SAML Response (RSA-2048 SHA-256, the whole
//! Assertion written in canonical form), base64 it, build the `AssumeRoleWithSAML` request and
//! read STS's answer — beside, in the same run:
//! - `aws_issue_own_cpu`: the same for the `aws` provider (AWS's attributes and audience,
//!   the `AssumeRoleWithSAML` Query form, STS's XML answer);
//! - `local_issue_own_cpu`: the `local` provider minting a credential (token sealed with the
//!   STS keys), the same step for Gatehouse's own STS;
//! - `rsa2048_sha256_sign_only`: one bare RSA-2048 signature with openssl, the floor of any
//!   signed assertion.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark should stop loudly on any failure"
)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse::clock::{Clock as _, SystemClock};
use gatehouse::cloud::alibaba::{self, client};
use gatehouse::cloud::aws;
use gatehouse::cloud::idp::{self, AssertionFor};
use gatehouse::secrets::MasterKey;
use gatehouse::sts::{Claims, StsKeys};
use serde_json::Value;

const ANSWER: &[u8] = br#"{"RequestId":"6894B13B-6D71-4EF5-88FA-F32781734A7F","AssumedRoleUser":{"AssumedRoleId":"344584339364951186:alice.1a2b3c4d","Arn":"acs:ram::1234567890123456:assumed-role/gatehousesso-ops/alice.1a2b3c4d"},"Credentials":{"SecurityToken":"CAIS6QJ1q6Ft5B2yfSjIr5bTIu2Ale1v0fKEdUHIhGVVbNBrvKqNkzz2IHhMenFoB+wXsfw0nW5U6vkflrMqF8ceHhCbMJApsssKrF3wJpfZv8u84YADi5CjQfZ6pk2CqQaXTPWYAcSSeQKcQAk4BtDnZy7fQOX+ZzZA2JsJKlHvB9n9lohr1n3oR7nTAl94Pb1pg0EY2c8DCmQNrAPOJ0eR5aYb4WPBu","AccessKeyId":"STS.NUgYrLnoC37mZZCNnAbez2mKA","AccessKeySecret":"3bwySLKdwdSk8k4uTzDHNcPqBiGA2pDA8HzZmHvQpSj5","Expiration":"2026-12-07T11:00:00Z"},"SAMLAssertionInfo":{"SubjectType":"persistent","Subject":"alice.1a2b3c4d","Recipient":"https://signin.alibabacloud.com/saml-role/sso","Issuer":"https://gatehouse.example/saml/idp/metadata.xml"}}"#;

/// AWS's documented AssumeRoleWithSAML answer, with Gatehouse's role.
const AWS_ANSWER: &str = r#"<AssumeRoleWithSAMLResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithSAMLResult><Issuer>https://gatehouse.example/saml/idp/metadata.xml</Issuer><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/GatehouseSSO-Ops/alice.1a2b3c4d</Arn><AssumedRoleId>AROACLKWSDQRAOEXAMPLE:alice.1a2b3c4d</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>ASIAV3ZUEFP6EXAMPLE</AccessKeyId><SecretAccessKey>8P+SQvWIuLnKhh8d++jpw0nNmQRBZvNEXAMPLEKEY</SecretAccessKey><SessionToken>IQoJb3JpZ2luX2VjEOz////////////////////wEXAMPLEtMSJHMEUCIDoKK3JH9uGQE1z0sINr5M4jk+Na8KHDcCYRVjJCZEvOAiEA3OvJGtw1EcViOleS2vhs8VdCKFJQWPQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA</SessionToken><Expiration>2026-12-07T11:00:00Z</Expiration></Credentials><Audience>https://signin.aws.amazon.com/saml</Audience><SubjectType>persistent</SubjectType><PackedPolicySize>6</PackedPolicySize><NameQualifier>SbdGOnUkh1i4+EXAMPLExL/jEvs=</NameQualifier><Subject>alice.1a2b3c4d</Subject></AssumeRoleWithSAMLResult><ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata></AssumeRoleWithSAMLResponse>"#;

fn bench(c: &mut Criterion) {
    let master = MasterKey::generate();
    let now = SystemClock.now_ms();
    let key = idp::generate_key(&master, "active", now).unwrap();
    let der = master.open(idp::PURPOSE, &key.private_key).unwrap();
    let pkey = openssl::pkey::PKey::private_key_from_pkcs8(&der).unwrap();
    let role_arn = "acs:ram::1234567890123456:role/GatehouseSSO-Ops";
    let provider_arn = "acs:ram::1234567890123456:saml-provider/Gatehouse";
    let attributes = [
        (
            "https://www.aliyun.com/SAML-Role/Attributes/Role",
            vec![format!("{role_arn},{provider_arn}")],
        ),
        (
            "https://www.aliyun.com/SAML-Role/Attributes/RoleSessionName",
            vec!["alice.1a2b3c4d".to_string()],
        ),
        (
            "https://www.aliyun.com/SAML-Role/Attributes/SessionDuration",
            vec!["3600".to_string()],
        ),
    ];
    let assertion = AssertionFor {
        issuer: "https://gatehouse.example/saml/idp/metadata.xml",
        recipient: "https://signin.alibabacloud.com/saml-role/sso",
        audience: "urn:alibaba:cloudcomputing:international",
        session_name: "alice.1a2b3c4d",
        attributes: &attributes,
        now,
        lifetime_ms: 300_000,
    };
    let mut g = c.benchmark_group("cloud");
    g.bench_function("alibaba_issue_own_cpu", |b| {
        b.iter(|| {
            let (xml, _) = idp::sign(&assertion, &pkey, &key.certificate).unwrap();
            let params = vec![
                ("SAMLProviderArn".to_string(), provider_arn.to_string()),
                ("RoleArn".to_string(), role_arn.to_string()),
                ("SAMLAssertion".to_string(), STANDARD.encode(xml)),
                ("DurationSeconds".to_string(), "3600".to_string()),
            ];
            let req = client::prepare(
                "https://sts.aliyuncs.com",
                alibaba::STS_VERSION,
                "AssumeRoleWithSAML",
                &params,
                None,
                "2026-12-07T10:00:00Z",
                "4f3c0f1e9d8a4b6c8e7f6a5b4c3d2e1f",
            );
            let v: Value = serde_json::from_slice(ANSWER).unwrap();
            (req.url.len(), alibaba::credentials(&v).unwrap().1)
        });
    });
    let aws_role = "arn:aws:iam::123456789012:role/GatehouseSSO-Ops";
    let aws_provider = "arn:aws:iam::123456789012:saml-provider/Gatehouse";
    let aws_attributes = [
        (
            "https://aws.amazon.com/SAML/Attributes/Role",
            vec![format!("{aws_role},{aws_provider}")],
        ),
        (
            "https://aws.amazon.com/SAML/Attributes/RoleSessionName",
            vec!["alice.1a2b3c4d".to_string()],
        ),
        (
            "https://aws.amazon.com/SAML/Attributes/SessionDuration",
            vec!["3600".to_string()],
        ),
    ];
    let aws_assertion = AssertionFor {
        issuer: "https://gatehouse.example/saml/idp/metadata.xml",
        recipient: aws::AWS_SIGNIN,
        audience: aws::AWS_AUDIENCE,
        session_name: "alice.1a2b3c4d",
        attributes: &aws_attributes,
        now,
        lifetime_ms: 300_000,
    };
    let http = reqwest::Client::new();
    let api = aws::client::Api {
        http: &http,
        endpoint: "https://sts.amazonaws.com",
        service: "sts",
        version: aws::STS_VERSION,
        region: aws::client::SIGNING_REGION,
    };
    g.bench_function("aws_issue_own_cpu", |b| {
        b.iter(|| {
            let (xml, _) = idp::sign(&aws_assertion, &pkey, &key.certificate).unwrap();
            let params = vec![
                ("RoleArn".to_string(), aws_role.to_string()),
                ("PrincipalArn".to_string(), aws_provider.to_string()),
                ("SAMLAssertion".to_string(), STANDARD.encode(xml)),
                ("DurationSeconds".to_string(), "3600".to_string()),
            ];
            let req = aws::client::prepare(
                &api,
                "AssumeRoleWithSAML",
                &params,
                None,
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_000_000),
            )
            .unwrap();
            let x = aws::client::Xml::parse(AWS_ANSWER).unwrap();
            (req.body.len(), aws::credentials(&x).unwrap().1)
        });
    });
    let keys = StsKeys::derive(&master);
    let claims = Claims {
        ak: StsKeys::new_access_key_id(),
        uid: "u-1".into(),
        sn: "alice".into(),
        acc: "1234567890123456".into(),
        ps: "ps-1".into(),
        role: "GatehouseSSO-Ops".into(),
        iat: now,
        exp: now + 3_600_000,
        pol: None,
        par: None,
        rt: None,
        gr: None,
    };
    g.bench_function("local_issue_own_cpu", |b| b.iter(|| keys.issue(&claims)));
    g.bench_function("rsa2048_sha256_sign_only", |b| {
        b.iter(|| {
            let mut s =
                openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
            s.update(b"the SignedInfo of one assertion").unwrap();
            s.sign_to_vec().unwrap()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
