//! The official clients against a running Gatehouse: Alibaba Cloud's Python SDKs
//! (`alibabacloud_sts20150401` with V3 and with RPC signatures, the legacy
//! `aliyun-python-sdk-sts`), `alibabacloud_credentials` reading a `credentials_uri`, and boto3
//! reading `credential_process` from `gatehouse credentials`. Each gets the right ARN from
//! `GetCallerIdentity`, and is refused with the right error code once the credentials are
//! revoked or expired, or when the token or secret is tampered with.
//!
//! The clients run as `e2e/sdk/client.py` in the virtualenv `scripts/install-test.sh` makes
//! (`e2e/sdk/.venv`); see `e2e/sdk/WIRE.md` for what each sends.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use gatehouse_shared::portal::{CredentialUri, IssuedCredentials};
use serde_json::{json, Value};

use crate::helpers::gatehouse_bin;
use crate::sts::{issue, world, ACCOUNT};

fn sdk_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../e2e/sdk"))
}

/// Runs `client.py <mode> --endpoint <host:port> <args…>` and returns its one JSON line.
async fn client(endpoint: &str, mode: &str, args: &[&str]) -> Value {
    let python = sdk_dir().join(".venv/bin/python");
    assert!(
        python.exists(),
        "the SDK virtualenv is missing at {}: run scripts/install-test.sh",
        python.display()
    );
    let mut cmd = Command::new(python);
    cmd.arg(sdk_dir().join("client.py"))
        .arg(mode)
        .args(["--endpoint", endpoint])
        .args(args)
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_CREDENTIALS_URI");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("run client.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client.py {mode} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

pub async fn with_keys(endpoint: &str, mode: &str, c: &IssuedCredentials) -> Value {
    // `--sk=…`: a secret may start with '-', which argparse would take for an option.
    client(
        endpoint,
        mode,
        &[
            &format!("--ak={}", c.access_key_id),
            &format!("--sk={}", c.access_key_secret),
            &format!("--token={}", c.security_token),
        ],
    )
    .await
}

fn assert_arn(v: &Value, arn: &str) {
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["arn"], arn, "{v}");
    assert_eq!(v["identity_type"], "AssumedRoleUser");
    assert_eq!(v["account_id"], ACCOUNT);
}

pub fn assert_code(v: &Value, code: &str) {
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["code"], code, "{v}");
}

const MODES: [&str; 3] = ["tea-v3", "tea-rpc", "legacy"];

#[tokio::test]
async fn the_alibaba_cloud_sdks_get_the_caller_identity_and_are_refused_once_revoked() {
    let w = world().await;
    let endpoint = w.app.base_url.trim_start_matches("http://").to_string();
    let arn = format!("acs:ram::{ACCOUNT}:assumed-role/GatehouseSSO-Dev/alice");
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    for mode in MODES {
        assert_arn(&with_keys(&endpoint, mode, &c).await, &arn);
    }

    // A tampered token, and a wrong secret, in each client.
    let mut token = c.security_token.clone().into_bytes();
    let i = token.len() / 2;
    token[i] = if token[i] == b'A' { b'B' } else { b'A' };
    let tampered = IssuedCredentials {
        security_token: String::from_utf8(token).unwrap(),
        ..c.clone()
    };
    let forged = IssuedCredentials {
        access_key_secret: format!("{}x", c.access_key_secret),
        ..c.clone()
    };
    for mode in MODES {
        assert_code(
            &with_keys(&endpoint, mode, &tampered).await,
            "InvalidSecurityToken.Malformed",
        );
        // The legacy SDK compares the server's string to sign with its own and, when they
        // agree, reports the secret as the culprit.
        let expected = if mode == "legacy" {
            "InvalidAccessKeySecret"
        } else {
            "SignatureDoesNotMatch"
        };
        assert_code(&with_keys(&endpoint, mode, &forged).await, expected);
    }

    // AssumeRole through the SDK, then GetCallerIdentity with what it returned.
    let ops = crate::sts::permission_set(&w.admin, "Ops", None).await;
    crate::sts::assign(&w.admin, &w.alice_user, ACCOUNT, &ops, true).await;
    let ops_arn = format!("acs:ram::{ACCOUNT}:role/GatehouseSSO-Ops");
    let assumed = client(
        &endpoint,
        "tea-v3",
        &[
            // `=`: a secret may start with '-' (see `with_keys`).
            &format!("--ak={}", c.access_key_id),
            &format!("--sk={}", c.access_key_secret),
            &format!("--token={}", c.security_token),
            "--action",
            "AssumeRole",
            "--role-arn",
            &ops_arn,
            "--session-name",
            "alice-ops",
        ],
    )
    .await;
    assert_eq!(assumed["ok"], true, "{assumed}");
    let chained = IssuedCredentials {
        access_key_id: assumed["access_key_id"].as_str().unwrap().into(),
        access_key_secret: assumed["access_key_secret"].as_str().unwrap().into(),
        security_token: assumed["security_token"].as_str().unwrap().into(),
        ..c.clone()
    };
    assert_arn(
        &with_keys(&endpoint, "legacy", &chained).await,
        &format!("acs:ram::{ACCOUNT}:assumed-role/GatehouseSSO-Ops/alice-ops"),
    );

    // Revoked: every client is refused, the chained credentials too.
    w.alice
        .delete(&format!("/api/v1/sts-credentials/{}", c.access_key_id))
        .await
        .assert_status(204);
    for mode in MODES {
        assert_code(
            &with_keys(&endpoint, mode, &c).await,
            "InvalidSecurityToken.Revoked",
        );
    }
    assert_code(
        &with_keys(&endpoint, "tea-rpc", &chained).await,
        "InvalidSecurityToken.Revoked",
    );
}

#[tokio::test]
async fn the_sdks_refuse_expired_credentials() {
    let w = world().await;
    let endpoint = w.app.base_url.trim_start_matches("http://").to_string();
    // Issued 20 minutes ago for 15 minutes; the clients sign with the real time.
    let real = w.app.now_ms();
    w.app.clock.set_ms(real - 20 * 60 * 1000);
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({ "duration_secs": 900 })).await;
    w.app.clock.set_ms(real);
    for mode in MODES {
        assert_code(
            &with_keys(&endpoint, mode, &c).await,
            "InvalidSecurityToken.Expired",
        );
    }
}

#[tokio::test]
async fn credentials_uri_and_credential_process_deliver_working_credentials_until_revoked() {
    let w = world().await;
    let endpoint = w.app.base_url.trim_start_matches("http://").to_string();
    let arn = format!("acs:ram::{ACCOUNT}:assumed-role/GatehouseSSO-Dev/alice");
    let uri: CredentialUri = w
        .alice
        .post(
            "/api/v1/portal/credential-uris",
            &json!({ "account_id": ACCOUNT, "permission_set_id": w.dev.id }),
        )
        .await
        .assert_status(201)
        .json();
    let url = uri.url.clone().unwrap();
    let process = format!("{} credentials --uri {url}", gatehouse_bin());

    let v = client(&endpoint, "credentials-uri", &["--uri", &url]).await;
    assert_arn(&v, &arn);
    assert!(v["credentials"]["access_key_id"]
        .as_str()
        .unwrap()
        .starts_with("STS."));
    let v = client(&endpoint, "credential-process", &["--process", &process]).await;
    assert_arn(&v, &arn);

    // Each use issued new credentials, and each is in the audit trail.
    w.app.advance(Duration::from_millis(1));
    let uses = w
        .app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "sts.credentials.issue" && e.details.contains(&uri.id))
        .count();
    assert_eq!(uses, 2);

    w.alice
        .delete(&format!("/api/v1/portal/credential-uris/{}", uri.id))
        .await
        .assert_status(204);
    let v = client(&endpoint, "credentials-uri", &["--uri", &url]).await;
    assert_code(&v, "CredentialException");
    assert_eq!(v["server_code"], "Revoked", "{v}");
    let v = client(&endpoint, "credential-process", &["--process", &process]).await;
    assert_code(&v, "CredentialRetrievalError");
    assert!(v["message"].as_str().unwrap().contains("Revoked"), "{v}");
}
