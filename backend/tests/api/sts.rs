//! STS credentials end to end: issuing from the portal (assignment checks, provisioning,
//! duration clamping, session policies, audit without secrets), the `/sts/` API with both
//! signature schemes signed here by hand (tampering, nonces, clock skew, expiry, revocation,
//! role chaining), and `credentials_uri`.

use std::time::Duration;

use gatehouse::sts::signature;
use gatehouse_shared::directory::User;
use gatehouse_shared::permission_sets::PermissionSet;
use gatehouse_shared::portal::{CredentialUri, IssuedCredentials, Portal, StsCredentialInfo};
use serde_json::{json, Value};

use crate::helpers::{Browser, TestApp, USER_PASSWORD};

pub const ACCOUNT: &str = "1234567890123456";
pub const OTHER_ACCOUNT: &str = "6543210987654321";

/// Allows assuming any Gatehouse role, and reading ECS.
pub const CHAINING_POLICY: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"acs:ram::*:role/GatehouseSSO-*"}]}"#;

/// An administrator, an employee assigned `Dev` on [`ACCOUNT`] (provisioned), and the set.
pub struct World {
    pub app: TestApp,
    pub admin: Browser,
    pub alice: Browser,
    pub alice_user: User,
    pub dev: PermissionSet,
}

pub async fn account(admin: &Browser, id: &str) {
    admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": id, "name": format!("Account {id}"), "environment": "prod" }),
        )
        .await
        .assert_status(201);
}

pub async fn permission_set(admin: &Browser, name: &str, inline: Option<&str>) -> PermissionSet {
    admin
        .post(
            "/api/v1/permission-sets",
            &json!({
                "name": name,
                "session_duration_secs": 7200,
                "system_policies": ["AliyunECSReadOnlyAccess"],
                "inline_policy": inline,
            }),
        )
        .await
        .assert_status(201)
        .json()
}

pub async fn assign(
    admin: &Browser,
    user: &User,
    account: &str,
    set: &PermissionSet,
    provision: bool,
) {
    admin
        .post(
            "/api/v1/assignments",
            &json!({ "principal_type": "user", "principal_id": user.id, "account_id": account, "permission_set_id": set.id }),
        )
        .await
        .assert_status(201);
    if provision {
        admin
            .post(
                &format!("/api/v1/permission-sets/{}/provision", set.id),
                &json!({ "account_ids": [account] }),
            )
            .await
            .assert_status(200);
    }
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

/// [`world`] on an app whose configuration `tweak` changes first.
pub async fn world_with(tweak: impl FnOnce(&mut gatehouse::config::Config)) -> World {
    let app = TestApp::spawn_with(tweak).await;
    let admin = app.admin().await;
    account(&admin, ACCOUNT).await;
    let alice_user = app.create_user_with_roles(&admin, "alice", &[]).await;
    let dev = permission_set(&admin, "Dev", Some(CHAINING_POLICY)).await;
    assign(&admin, &alice_user, ACCOUNT, &dev, true).await;
    let alice = app.browser();
    alice.sign_in("alice", USER_PASSWORD).await;
    World {
        app,
        admin,
        alice,
        alice_user,
        dev,
    }
}

pub async fn issue(
    b: &Browser,
    account: &str,
    set: &PermissionSet,
    extra: Value,
) -> IssuedCredentials {
    let mut body = json!({ "account_id": account, "permission_set_id": set.id });
    if let (Value::Object(m), Value::Object(e)) = (&mut body, extra) {
        m.extend(e);
    }
    b.post("/api/v1/portal/credentials", &body)
        .await
        .assert_status(200)
        .json()
}

/// Signs and sends an STS call the way the official SDKs do.
pub struct Signer<'a> {
    pub base: &'a str,
    pub ak: String,
    pub secret: String,
    pub token: String,
    pub at_ms: i64,
}

fn timestamp(ms: i64) -> String {
    gatehouse::sts::expiration_text(ms)
}

impl Signer<'_> {
    pub fn new<'a>(base: &'a str, c: &IssuedCredentials, at_ms: i64) -> Signer<'a> {
        Signer {
            base,
            ak: c.access_key_id.clone(),
            secret: c.access_key_secret.clone(),
            token: c.security_token.clone(),
            at_ms,
        }
    }

    /// RPC (HMAC-SHA1), parameters in the query, `POST /`.
    pub async fn rpc(&self, action: &str, params: &[(&str, &str)], nonce: &str) -> (u16, Value) {
        let ts = timestamp(self.at_ms);
        let mut all: Vec<(String, String)> = vec![
            ("Action".into(), action.into()),
            ("Version".into(), "2015-04-01".into()),
            ("Format".into(), "JSON".into()),
            ("AccessKeyId".into(), self.ak.clone()),
            ("SecurityToken".into(), self.token.clone()),
            ("SignatureMethod".into(), "HMAC-SHA1".into()),
            ("SignatureVersion".into(), "1.0".into()),
            ("SignatureNonce".into(), nonce.into()),
            ("Timestamp".into(), ts),
        ];
        all.extend(
            params
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
        );
        let sts = signature::rpc_string_to_sign("POST", &all);
        all.push((
            "Signature".into(),
            signature::rpc_signature(&self.secret, &sts),
        ));
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(all.iter())
            .finish();
        let resp = reqwest::Client::new()
            .post(format!("{}/?{query}", self.base))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// V3 (ACS3-HMAC-SHA256), `POST /` with `x-acs-*` headers.
    pub async fn v3(&self, action: &str, params: &[(&str, &str)], nonce: &str) -> (u16, Value) {
        let host = self.base.trim_start_matches("http://").to_string();
        let query: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let headers: Vec<(String, String)> = vec![
            ("host".into(), host),
            ("x-acs-action".into(), action.into()),
            ("x-acs-content-sha256".into(), signature::payload_hash(b"")),
            ("x-acs-date".into(), timestamp(self.at_ms)),
            ("x-acs-security-token".into(), self.token.clone()),
            ("x-acs-signature-nonce".into(), nonce.into()),
            ("x-acs-version".into(), "2015-04-01".into()),
        ];
        let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        let canonical = signature::v3_canonical_request(
            "POST",
            "/",
            &query,
            &signed,
            |n| {
                headers
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.as_str())
            },
            &signature::payload_hash(b""),
        );
        let sig = signature::v3_signature(&self.secret, &signature::v3_string_to_sign(&canonical));
        let qs: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter())
            .finish();
        let mut req = reqwest::Client::new().post(format!("{}/?{qs}", self.base));
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req
            .header(
                "authorization",
                format!(
                    "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={sig}",
                    self.ak,
                    signed.join(";")
                ),
            )
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }
}

fn code(v: &Value) -> &str {
    v["Code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_portal_lists_assignments_and_issues_clamped_credentials_with_an_audit_event() {
    let w = world().await;
    let portal: Portal = w
        .alice
        .get("/api/v1/portal")
        .await
        .assert_status(200)
        .json();
    assert_eq!(portal.accounts.len(), 1);
    let set = &portal.accounts[0].permission_sets[0];
    assert_eq!(
        set.role_arn,
        format!("acs:ram::{ACCOUNT}:role/GatehouseSSO-Dev")
    );

    // No duration: the permission set's 2 hours. More than that: clamped to it.
    let now = w.app.now_ms();
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    assert!(c.access_key_id.starts_with("STS.") && c.access_key_id.len() == 28);
    assert_eq!(
        gatehouse::clock::to_millis(c.expiration) / 1000,
        (now + 7_200_000) / 1000
    );
    let c = issue(
        &w.alice,
        ACCOUNT,
        &w.dev,
        json!({ "duration_secs": 43_200 }),
    )
    .await;
    assert_eq!(
        gatehouse::clock::to_millis(c.expiration) / 1000,
        (now + 7_200_000) / 1000
    );
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({ "duration_secs": 900 })).await;
    assert_eq!(
        gatehouse::clock::to_millis(c.expiration) / 1000,
        (now + 900_000) / 1000
    );
    assert!(c.formats.shell.contains(&c.access_key_id));
    let process: Value = serde_json::from_str(&c.formats.credential_process).unwrap();
    assert_eq!(process["Version"], 1);
    assert_eq!(process["SessionToken"], c.security_token.as_str());

    // Out of range, and a session policy that does not parse: 422 naming the field.
    let bad = w
        .alice
        .post(
            "/api/v1/portal/credentials",
            &json!({ "account_id": ACCOUNT, "permission_set_id": w.dev.id, "duration_secs": 60 }),
        )
        .await;
    bad.assert_error(422, "validation_failed");
    assert_eq!(bad.fields(), vec!["duration_secs"]);
    let bad = w
        .alice
        .post(
            "/api/v1/portal/credentials",
            &json!({ "account_id": ACCOUNT, "permission_set_id": w.dev.id, "session_policy": "{\"Version\": \"1\", \"Statement\": 5}" }),
        )
        .await;
    bad.assert_error(422, "validation_failed");
    assert_eq!(bad.fields(), vec!["session_policy"]);

    // The audit trail has the issue, never the secret or token.
    let events = w.app.all_events().await;
    let issued: Vec<_> = events
        .iter()
        .filter(|e| e.action == "sts.credentials.issue")
        .collect();
    assert_eq!(issued.len(), 3);
    assert!(issued[2].details.contains(&c.access_key_id));
    for e in &events {
        assert!(
            !e.details.contains(&c.access_key_secret),
            "secret in {}",
            e.action
        );
        assert!(
            !e.details.contains(&c.security_token),
            "token in {}",
            e.action
        );
    }
}

#[tokio::test]
async fn credentials_need_an_assignment_and_a_provisioned_role() {
    let w = world().await;
    account(&w.admin, OTHER_ACCOUNT).await;
    // Not assigned on the other account: 403 and a denied audit event.
    w.alice
        .post(
            "/api/v1/portal/credentials",
            &json!({ "account_id": OTHER_ACCOUNT, "permission_set_id": w.dev.id }),
        )
        .await
        .assert_error(403, "forbidden");
    let events = w.app.all_events().await;
    let denied = events.last().unwrap();
    assert_eq!(denied.action, "sts.credentials.issue");
    assert_eq!(denied.outcome, "denied");
    assert_eq!(denied.reason.as_deref(), Some("not assigned"));

    // Assigned through a group but not provisioned: 409 until provisioned.
    let group: Value = w
        .admin
        .post("/api/v1/groups", &json!({ "name": "devs" }))
        .await
        .assert_status(201)
        .value();
    let gid = group["id"].as_str().unwrap();
    w.admin
        .put(&format!("/api/v1/groups/{gid}/members/{}", w.alice_user.id))
        .await
        .assert_status(204);
    w.admin
        .post(
            "/api/v1/assignments",
            &json!({ "principal_type": "group", "principal_id": gid, "account_id": OTHER_ACCOUNT, "permission_set_id": w.dev.id }),
        )
        .await
        .assert_status(201);
    let body = json!({ "account_id": OTHER_ACCOUNT, "permission_set_id": w.dev.id });
    w.alice
        .post("/api/v1/portal/credentials", &body)
        .await
        .assert_error(409, "conflict");
    w.admin
        .post(
            &format!("/api/v1/permission-sets/{}/provision", w.dev.id),
            &json!({}),
        )
        .await
        .assert_status(200);
    w.alice
        .post("/api/v1/portal/credentials", &body)
        .await
        .assert_status(200);
    let portal: Portal = w.alice.get("/api/v1/portal").await.json();
    assert_eq!(portal.accounts.len(), 2);
}

#[tokio::test]
async fn get_caller_identity_verifies_both_signature_schemes_and_refuses_forgeries() {
    let w = world().await;
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let now = w.app.now_ms();
    let base = w.app.base_url.as_str();
    let arn = format!("acs:ram::{ACCOUNT}:assumed-role/GatehouseSSO-Dev/alice");

    let s = Signer::new(base, &c, now);
    let (status, v) = s.rpc("GetCallerIdentity", &[], "n-1").await;
    assert_eq!(
        (status, v["Arn"].as_str()),
        (200, Some(arn.as_str())),
        "{v}"
    );
    assert_eq!(v["IdentityType"], "AssumedRoleUser");
    assert_eq!(v["AccountId"], ACCOUNT);
    assert!(v["RequestId"].is_string());
    let (status, v) = s.v3("GetCallerIdentity", &[], "n-2").await;
    assert_eq!(
        (status, v["Arn"].as_str()),
        (200, Some(arn.as_str())),
        "{v}"
    );

    // A nonce is good once.
    let (status, v) = s.rpc("GetCallerIdentity", &[], "n-1").await;
    assert_eq!((status, code(&v)), (400, "SignatureNonceUsed"));
    let (_, v) = s.v3("GetCallerIdentity", &[], "n-2").await;
    assert_eq!(code(&v), "SignatureNonceUsed");

    // A wrong secret: the error says the server's string to sign, in Alibaba's shape.
    let wrong = Signer {
        secret: "not-the-secret".into(),
        ..Signer::new(base, &c, now)
    };
    let (status, v) = wrong.rpc("GetCallerIdentity", &[], "n-3").await;
    assert_eq!((status, code(&v)), (400, "SignatureDoesNotMatch"));
    assert!(v["Message"]
        .as_str()
        .unwrap()
        .contains("server string to sign is:POST&%2F&AccessKeyId"));
    for key in ["RequestId", "HostId", "Recommend"] {
        assert!(v[key].is_string(), "{key} missing from {v}");
    }
    let (_, v) = wrong.v3("GetCallerIdentity", &[], "n-4").await;
    assert_eq!(code(&v), "SignatureDoesNotMatch");

    // A token changed by one character, or another credential's token.
    let mut token = c.security_token.clone().into_bytes();
    let i = token.len() / 2;
    token[i] = if token[i] == b'A' { b'B' } else { b'A' };
    let tampered = Signer {
        token: String::from_utf8(token).unwrap(),
        ..Signer::new(base, &c, now)
    };
    let (_, v) = tampered.rpc("GetCallerIdentity", &[], "n-5").await;
    assert_eq!(code(&v), "InvalidSecurityToken.Malformed");
    let other = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let swapped = Signer {
        token: other.security_token.clone(),
        ..Signer::new(base, &c, now)
    };
    let (_, v) = swapped.v3("GetCallerIdentity", &[], "n-6").await;
    assert_eq!(code(&v), "InvalidSecurityToken.MismatchWithAccessKey");
    let unknown = Signer {
        ak: "LTAI5tSomeLongLivedKey".into(),
        ..Signer::new(base, &c, now)
    };
    let (status, v) = unknown.rpc("GetCallerIdentity", &[], "n-7").await;
    assert_eq!((status, code(&v)), (404, "InvalidAccessKeyId.NotFound"));

    // A timestamp more than 15 minutes off.
    let late = Signer::new(base, &c, now - 16 * 60 * 1000);
    let (_, v) = late.rpc("GetCallerIdentity", &[], "n-8").await;
    assert_eq!(code(&v), "InvalidTimeStamp.Expired");

    // Unknown actions and versions.
    let (status, v) = s.rpc("CreateUser", &[], "n-9").await;
    assert_eq!((status, code(&v)), (404, "InvalidAction.NotFound"));

    // Also served at /sts/; `/` without an STS call is still the web app.
    let resp = reqwest::get(format!("{base}/")).await.unwrap();
    assert_ne!(resp.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn expired_and_revoked_credentials_are_refused() {
    let w = world().await;
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({ "duration_secs": 900 })).await;
    let base = w.app.base_url.as_str();
    w.app.advance(Duration::from_secs(901));
    let s = Signer::new(base, &c, w.app.now_ms());
    let (_, v) = s.rpc("GetCallerIdentity", &[], "e-1").await;
    assert_eq!(code(&v), "InvalidSecurityToken.Expired");

    // Revoking one credential (its owner may) refuses it at once and keeps others working.
    let a = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let b = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    w.alice
        .delete(&format!("/api/v1/sts-credentials/{}", a.access_key_id))
        .await
        .assert_status(204);
    let (_, v) = Signer::new(base, &a, w.app.now_ms())
        .v3("GetCallerIdentity", &[], "r-1")
        .await;
    assert_eq!(code(&v), "InvalidSecurityToken.Revoked");
    let (status, _) = Signer::new(base, &b, w.app.now_ms())
        .v3("GetCallerIdentity", &[], "r-2")
        .await;
    assert_eq!(status, 200);
    let listed: Vec<StsCredentialInfo> = w
        .alice
        .get("/api/v1/sts-credentials?active=true")
        .await
        .assert_status(200)
        .json();
    assert!(listed.iter().all(|x| x.access_key_id != a.access_key_id));
    assert!(listed.iter().any(|x| x.access_key_id == b.access_key_id));

    // An administrator revokes everything alice holds, credentials URLs included.
    let uri: CredentialUri = w
        .alice
        .post(
            "/api/v1/portal/credential-uris",
            &json!({ "account_id": ACCOUNT, "permission_set_id": w.dev.id, "ttl_secs": 3600 }),
        )
        .await
        .assert_status(201)
        .json();
    w.admin
        .post(
            &format!("/api/v1/users/{}/revoke-credentials", w.alice_user.id),
            &json!({}),
        )
        .await
        .assert_status(200);
    let (_, v) = Signer::new(base, &b, w.app.now_ms())
        .rpc("GetCallerIdentity", &[], "r-3")
        .await;
    assert_eq!(code(&v), "InvalidSecurityToken.Revoked");
    let from_url: Value = reqwest::get(uri.url.as_deref().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(from_url["Code"], "Revoked", "{from_url}");
    // Credentials issued after the revocation work.
    w.app.advance(Duration::from_millis(5));
    let fresh = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let (status, _) = Signer::new(base, &fresh, w.app.now_ms())
        .rpc("GetCallerIdentity", &[], "r-4")
        .await;
    assert_eq!(status, 200);

    // Disabling the user revokes everything they hold.
    w.admin
        .patch(
            &format!("/api/v1/users/{}", w.alice_user.id),
            &json!({ "disabled": true }),
        )
        .await
        .assert_status(200);
    w.app.tick().await;
    let (_, v) = Signer::new(base, &fresh, w.app.now_ms())
        .rpc("GetCallerIdentity", &[], "r-5")
        .await;
    assert_eq!(code(&v), "InvalidSecurityToken.Revoked");
    let revokes = w
        .app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action.starts_with("sts.credentials.revoke"))
        .count();
    assert_eq!(revokes, 2);
}

#[tokio::test]
async fn revocations_reach_other_instances_through_the_database() {
    let w = world().await;
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    // Another process's revocation, written straight to the store: this instance refuses
    // the credential only after its next tick reloads the revocations.
    let now = w.app.now_ms();
    let rev = gatehouse::store::RevocationRecord::for_key(&c.access_key_id, now + 3_600_000, now);
    let ev = gatehouse::audit::NewEvent::new(
        now,
        &gatehouse::audit::AuditCtx::system(),
        gatehouse_shared::audit::AuditAction::StsCredentialsRevoke,
        "sts_credential",
        Some(c.access_key_id.clone()),
    );
    w.app
        .state
        .store
        .revoke_credential(&c.access_key_id, rev, ev)
        .await
        .unwrap();
    let base = w.app.base_url.as_str();
    let (status, _) = Signer::new(base, &c, now)
        .rpc("GetCallerIdentity", &[], "x-1")
        .await;
    assert_eq!(status, 200, "not yet reloaded");
    let report = w.app.tick().await;
    assert_eq!(report.revocations, 1);
    let (_, v) = Signer::new(base, &c, now)
        .rpc("GetCallerIdentity", &[], "x-2")
        .await;
    assert_eq!(code(&v), "InvalidSecurityToken.Revoked");
}

#[tokio::test]
async fn assume_role_chains_within_policy_and_assignments() {
    let w = world().await;
    let ops = permission_set(&w.admin, "Ops", None).await;
    assign(&w.admin, &w.alice_user, ACCOUNT, &ops, true).await;
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let base = w.app.base_url.as_str();
    let now = w.app.now_ms();
    let s = Signer::new(base, &c, now);
    let ops_arn = format!("acs:ram::{ACCOUNT}:role/GatehouseSSO-Ops");

    let (status, v) = s
        .v3(
            "AssumeRole",
            &[
                ("RoleArn", &ops_arn),
                ("RoleSessionName", "alice-ops"),
                ("DurationSeconds", "3600"),
            ],
            "a-1",
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["AssumedRoleUser"]["Arn"],
        format!("acs:ram::{ACCOUNT}:assumed-role/GatehouseSSO-Ops/alice-ops")
    );
    let chained = IssuedCredentials {
        access_key_id: v["Credentials"]["AccessKeyId"].as_str().unwrap().into(),
        access_key_secret: v["Credentials"]["AccessKeySecret"].as_str().unwrap().into(),
        security_token: v["Credentials"]["SecurityToken"].as_str().unwrap().into(),
        ..c.clone()
    };
    let (status, v) = Signer::new(base, &chained, now)
        .rpc("GetCallerIdentity", &[], "a-2")
        .await;
    assert_eq!(
        (status, v["Arn"].as_str().unwrap()),
        (
            200,
            format!("acs:ram::{ACCOUNT}:assumed-role/GatehouseSSO-Ops/alice-ops").as_str()
        )
    );

    // Ops has no sts:AssumeRole: chaining from it is refused by policy.
    let (status, v) = Signer::new(base, &chained, now)
        .rpc(
            "AssumeRole",
            &[
                (
                    "RoleArn",
                    &format!("acs:ram::{ACCOUNT}:role/GatehouseSSO-Dev"),
                ),
                ("RoleSessionName", "x1"),
            ],
            "a-3",
        )
        .await;
    assert_eq!((status, code(&v)), (403, "NoPermission"));
    // Dev may assume roles, but not one alice is not assigned.
    let (status, v) = s
        .rpc(
            "AssumeRole",
            &[
                (
                    "RoleArn",
                    &format!("acs:ram::{OTHER_ACCOUNT}:role/GatehouseSSO-Ops"),
                ),
                ("RoleSessionName", "x2"),
            ],
            "a-4",
        )
        .await;
    assert_eq!((status, code(&v)), (403, "NoPermission"));
    // A session policy narrows: with one that allows nothing, AssumeRole is refused.
    let narrow = issue(
        &w.alice,
        ACCOUNT,
        &w.dev,
        json!({ "session_policy": r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}"# }),
    )
    .await;
    let (status, v) = Signer::new(base, &narrow, now)
        .rpc(
            "AssumeRole",
            &[("RoleArn", &ops_arn), ("RoleSessionName", "x3")],
            "a-5",
        )
        .await;
    assert_eq!((status, code(&v)), (403, "NoPermission"));
    // Bad parameters.
    let (status, v) = s
        .rpc("AssumeRole", &[("RoleSessionName", "x4")], "a-6")
        .await;
    assert_eq!((status, code(&v)), (400, "MissingParameter"));
    let (_, v) = s
        .rpc(
            "AssumeRole",
            &[
                ("RoleArn", &ops_arn),
                ("RoleSessionName", "x5"),
                ("DurationSeconds", "7200"),
            ],
            "a-7",
        )
        .await;
    assert_eq!(code(&v), "InvalidParameter");

    // Revoking the parent revokes what was assumed from it.
    w.alice
        .delete(&format!("/api/v1/sts-credentials/{}", c.access_key_id))
        .await
        .assert_status(204);
    let (_, v) = Signer::new(base, &chained, now)
        .rpc("GetCallerIdentity", &[], "a-8")
        .await;
    assert_eq!(code(&v), "InvalidSecurityToken.Revoked");

    let events = w.app.all_events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "sts.assume_role" && e.outcome == "denied")
            .count(),
        3
    );
}

#[tokio::test]
async fn a_deny_on_a_role_holds_whatever_the_letter_case_of_its_arn() {
    // Arrange: alice may assume any role but Ops, and is assigned Ops.
    let w = world().await;
    let fenced = permission_set(
        &w.admin,
        "Fenced",
        Some(
            r#"{"Version":"1","Statement":[
                {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"acs:ram::*:role/*"},
                {"Effect":"Deny","Action":"sts:AssumeRole","Resource":"acs:ram::*:role/GatehouseSSO-Ops"}]}"#,
        ),
    )
    .await;
    assign(&w.admin, &w.alice_user, ACCOUNT, &fenced, true).await;
    let ops = permission_set(&w.admin, "Ops", None).await;
    assign(&w.admin, &w.alice_user, ACCOUNT, &ops, true).await;
    let c = issue(&w.alice, ACCOUNT, &fenced, json!({})).await;
    let s = Signer::new(w.app.base_url.as_str(), &c, w.app.now_ms());

    // Act
    let mut refused = Vec::new();
    for (i, role) in ["GatehouseSSO-Ops", "gatehousesso-ops", "GATEHOUSESSO-OPS"]
        .iter()
        .enumerate()
    {
        let arn = format!("acs:ram::{ACCOUNT}:role/{role}");
        let (status, v) = s
            .rpc(
                "AssumeRole",
                &[("RoleArn", &arn), ("RoleSessionName", "alice-ops")],
                &format!("case-{i}"),
            )
            .await;
        refused.push((status, code(&v).to_string()));
    }

    // Assert
    assert_eq!(refused, vec![(403, "NoPermission".to_string()); 3]);
}

#[tokio::test]
async fn a_session_policy_that_no_longer_parses_refuses_assume_role() {
    // Arrange: alice's credentials, re-issued with a session policy the engine cannot read
    // (as if stored under an older grammar).
    let w = world().await;
    let ops = permission_set(&w.admin, "Ops", None).await;
    assign(&w.admin, &w.alice_user, ACCOUNT, &ops, true).await;
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let keys = &w.app.state.sts.keys;
    let mut claims = keys.open(&c.access_key_id, &c.security_token).unwrap();
    claims.pol = Some(r#"{"Version":"1","Statement":[{"Effect":"Sometimes"}]}"#.into());
    let odd = keys.issue(&claims);
    let odd = IssuedCredentials {
        access_key_secret: odd.access_key_secret.to_string(),
        security_token: odd.security_token,
        ..c.clone()
    };

    // Act
    let (status, v) = Signer::new(w.app.base_url.as_str(), &odd, w.app.now_ms())
        .rpc(
            "AssumeRole",
            &[
                (
                    "RoleArn",
                    &format!("acs:ram::{ACCOUNT}:role/GatehouseSSO-Ops"),
                ),
                ("RoleSessionName", "alice-ops"),
            ],
            "odd-1",
        )
        .await;

    // Assert: refused, where an unreadable narrowing used to mean no narrowing at all.
    assert_eq!((status, code(&v)), (403, "NoPermission"), "{v}");
}

#[tokio::test]
async fn a_credentials_uri_hands_out_credentials_until_revoked_or_expired() {
    let w = world().await;
    let created: CredentialUri = w
        .alice
        .post(
            "/api/v1/portal/credential-uris",
            &json!({ "account_id": ACCOUNT, "permission_set_id": w.dev.id, "ttl_secs": 3600 }),
        )
        .await
        .assert_status(201)
        .json();
    let url = created.url.clone().unwrap();
    let got: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(got["Code"], "Success");
    let ak = got["AccessKeyId"].as_str().unwrap();
    assert!(ak.starts_with("STS."));
    let exp = got["Expiration"].as_str().unwrap();
    assert!(exp.ends_with('Z') && exp.len() == 20, "{exp}");
    // Listed without its URL, with its last use.
    let listed: Vec<CredentialUri> = w.alice.get("/api/v1/portal/credential-uris").await.json();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].url.is_none() && listed[0].last_used_at.is_some());
    // Others cannot see or revoke it.
    let bob = w.app.signed_in_user(&w.admin, "bob", &[]).await;
    bob.delete(&format!("/api/v1/portal/credential-uris/{}", created.id))
        .await
        .assert_error(404, "not_found");
    // A wrong token: 404.
    let resp = reqwest::get(format!("{url}x")).await.unwrap();
    assert_eq!(resp.status(), 404);
    // Not for a role one is not assigned.
    w.alice
        .post(
            "/api/v1/portal/credential-uris",
            &json!({ "account_id": OTHER_ACCOUNT, "permission_set_id": w.dev.id }),
        )
        .await
        .assert_error(403, "forbidden");
    // Revoked…
    let second: CredentialUri = w
        .alice
        .post(
            "/api/v1/portal/credential-uris",
            &json!({ "account_id": ACCOUNT, "permission_set_id": w.dev.id }),
        )
        .await
        .assert_status(201)
        .json();
    w.alice
        .delete(&format!("/api/v1/portal/credential-uris/{}", second.id))
        .await
        .assert_status(204);
    let resp = reqwest::get(second.url.unwrap()).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await.unwrap()["Code"], "Revoked");
    // …and expired after its TTL.
    w.app.advance(Duration::from_secs(3601));
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await.unwrap()["Code"], "Expired");
    // Every use is audited, and the URL's secret is never in the trail.
    let events = w.app.all_events().await;
    let uses = events
        .iter()
        .filter(|e| e.action == "sts.credentials.issue" && e.details.contains("credentials_uri"))
        .count();
    assert_eq!(uses, 3);
    let secret = url.rsplit('/').next().unwrap();
    assert!(events.iter().all(|e| !e.details.contains(secret)));
}

#[tokio::test]
async fn concurrent_issues_share_commits_and_every_one_is_recorded_and_audited() {
    let w = world().await;
    let alice = std::sync::Arc::new(w.alice);
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let (b, dev) = (alice.clone(), w.dev.clone());
        tasks.push(tokio::spawn(async move {
            issue(&b, ACCOUNT, &dev, json!({})).await.access_key_id
        }));
    }
    let mut keys = std::collections::BTreeSet::new();
    for t in tasks {
        keys.insert(t.await.unwrap());
    }
    assert_eq!(keys.len(), 40);
    let listed: Vec<StsCredentialInfo> = w
        .admin
        .get("/api/v1/sts-credentials?limit=500")
        .await
        .assert_status(200)
        .json();
    let listed: std::collections::BTreeSet<_> =
        listed.into_iter().map(|c| c.access_key_id).collect();
    assert_eq!(listed, keys);
    let audited = w
        .app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "sts.credentials.issue" && e.outcome == "success")
        .count();
    assert_eq!(audited, 40);
    let report: Value = w
        .admin
        .get("/api/v1/audit/verify")
        .await
        .assert_status(200)
        .value();
    assert_eq!(report["intact"], true, "{report}");
}

/// The string to sign sorts parameters, so it does not sign the order of two values of one
/// name: a signed request repeating a name could have them swapped in transit. Refused under
/// both signature versions, before anything is read (found by backend/tests/fuzz).
#[tokio::test]
async fn a_repeated_parameter_is_refused_under_both_signatures() {
    let w = world().await;
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let s = Signer::new(w.app.base_url.as_str(), &c, w.app.now_ms());

    let (status, v) = s
        .rpc(
            "GetCallerIdentity",
            &[("Action", "GetCallerIdentity")],
            "r-1",
        )
        .await;
    assert_eq!((status, code(&v)), (400, "InvalidParameter"), "{v}");
    assert!(v["Message"].as_str().unwrap().contains("\"Action\""), "{v}");
    let (status, v) = s
        .v3(
            "GetCallerIdentity",
            &[("RoleArn", "a"), ("RoleArn", "b")],
            "r-2",
        )
        .await;
    assert_eq!((status, code(&v)), (400, "InvalidParameter"), "{v}");

    // Each name once is still fine.
    let (status, v) = s.v3("GetCallerIdentity", &[("RoleArn", "a")], "r-3").await;
    assert_eq!(status, 200, "{v}");
}
