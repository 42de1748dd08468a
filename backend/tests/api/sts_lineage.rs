//! Issue 17, STS under attack: revoking a credential ends every credential assumed from it,
//! generation after generation, for as long as any of them lives; role chains are bounded;
//! a signed request cannot be replayed against another instance or after a restart; and a
//! break-glass root session is listed and revoked with the person's other credentials.

use std::time::Duration;

use gatehouse_shared::breakglass::RootSession;
use gatehouse_shared::portal::StsCredentialInfo;
use serde_json::{json, Value};

use crate::break_glass::{approve, ask, path, person};
use crate::helpers::{Browser, TestApp};
use crate::sts::{assign, issue, permission_set, world, Signer, ACCOUNT, CHAINING_POLICY};

fn code(v: &Value) -> &str {
    v["Code"].as_str().unwrap_or("")
}

/// `AssumeRole` into `role` signed by `s` with `nonce`: a signer for the new credentials.
async fn assume<'a>(s: &Signer<'a>, role: &str, nonce: &str) -> Signer<'a> {
    let arn = format!("acs:ram::{ACCOUNT}:role/{role}");
    let (status, v) = s
        .rpc(
            "AssumeRole",
            &[("RoleArn", &arn), ("RoleSessionName", "alice-chain")],
            nonce,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let c = &v["Credentials"];
    Signer {
        base: s.base,
        ak: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["AccessKeySecret"].as_str().unwrap().into(),
        token: c["SecurityToken"].as_str().unwrap().into(),
        at_ms: s.at_ms,
    }
}

/// The signer `s` at `at_ms`.
fn at<'a>(s: &Signer<'a>, at_ms: i64) -> Signer<'a> {
    Signer {
        base: s.base,
        ak: s.ak.clone(),
        secret: s.secret.clone(),
        token: s.token.clone(),
        at_ms,
    }
}

async fn who_am_i(s: &Signer<'_>, nonce: &str) -> (u16, String) {
    let (status, v) = s.rpc("GetCallerIdentity", &[], nonce).await;
    (status, code(&v).to_string())
}

async fn listed(b: &Browser, query: &str) -> Vec<StsCredentialInfo> {
    b.get(&format!("/api/v1/sts-credentials{query}"))
        .await
        .assert_status(200)
        .json()
}

#[tokio::test]
async fn revoking_a_credential_ends_its_whole_lineage_until_the_last_descendant_expires() {
    // Arrange: A (portal, 15 minutes) → B (AssumeRole, an hour) → C (AssumeRole, an hour):
    // the children outlive their parent.
    let w = world().await;
    let ops = permission_set(&w.admin, "Ops", Some(CHAINING_POLICY)).await;
    assign(&w.admin, &w.alice_user, ACCOUNT, &ops, true).await;
    let a = issue(&w.alice, ACCOUNT, &w.dev, json!({ "duration_secs": 900 })).await;
    let sa = Signer::new(w.app.base_url.as_str(), &a, w.app.now_ms());
    let sb = assume(&sa, "GatehouseSSO-Ops", "a-1").await;
    let sc = assume(&sb, "GatehouseSSO-Dev", "b-1").await;
    assert_eq!(who_am_i(&sc, "c-1").await, (200, String::new()));

    // Act: alice revokes A.
    w.alice
        .delete(&format!("/api/v1/sts-credentials/{}", a.access_key_id))
        .await
        .assert_status(204);

    // Assert: the child and the grandchild are refused at once…
    let revoked = (400, "InvalidSecurityToken.Revoked".to_string());
    assert_eq!(who_am_i(&sb, "b-2").await, revoked);
    assert_eq!(who_am_i(&sc, "c-2").await, revoked);
    // …and listed as revoked.
    let rows = listed(&w.alice, "").await;
    for ak in [&a.access_key_id, &sb.ak, &sc.ak] {
        let row = rows.iter().find(|r| &r.access_key_id == ak).unwrap();
        assert!(row.revoked_at.is_some(), "{ak} is not marked revoked");
    }
    // …and still, past A's own expiry, while B and C live, on this instance (whose tick
    // reloads the revocations in force) and on one started now.
    w.app.advance(Duration::from_secs(20 * 60));
    w.app.tick().await;
    let later = w.app.now_ms();
    assert_eq!(who_am_i(&at(&sb, later), "b-3").await, revoked);
    assert_eq!(who_am_i(&at(&sc, later), "c-3").await, revoked);
    let other = w.app.another_instance().await;
    other.tick().await;
    let mut elsewhere = at(&sc, later);
    elsewhere.base = other.base_url.as_str();
    assert_eq!(who_am_i(&elsewhere, "c-4").await, revoked);
}

#[tokio::test]
async fn a_user_revocation_reaches_children_assumed_from_older_credentials() {
    // Arrange: A, then a child B assumed from it.
    let w = world().await;
    let ops = permission_set(&w.admin, "Ops", Some(CHAINING_POLICY)).await;
    assign(&w.admin, &w.alice_user, ACCOUNT, &ops, true).await;
    let a = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let sa = Signer::new(w.app.base_url.as_str(), &a, w.app.now_ms());
    let sb = assume(&sa, "GatehouseSSO-Ops", "a-1").await;

    // Act: an administrator revokes everything alice holds.
    w.admin
        .post(
            &format!("/api/v1/users/{}/revoke-credentials", w.alice_user.id),
            &json!({}),
        )
        .await
        .assert_status(200);

    // Assert: B is refused, while credentials issued since work. (A child assumed from A
    // after the revocation, on an instance that had not yet reloaded it, is refused too: its
    // lineage began before the revocation; see `sts::revocation`'s unit tests.)
    let revoked = (400, "InvalidSecurityToken.Revoked".to_string());
    assert_eq!(who_am_i(&sb, "b-1").await, revoked);
    w.app.advance(Duration::from_millis(1));
    let fresh = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let sf = Signer::new(w.app.base_url.as_str(), &fresh, w.app.now_ms());
    assert_eq!(who_am_i(&sf, "f-1").await, (200, String::new()));
}

#[tokio::test]
async fn role_chains_are_bounded() {
    // Arrange: alice may chain Dev ↔ Ops as often as the bound allows.
    let w = world().await;
    let ops = permission_set(&w.admin, "Ops", Some(CHAINING_POLICY)).await;
    assign(&w.admin, &w.alice_user, ACCOUNT, &ops, true).await;
    let a = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let mut s = Signer::new(w.app.base_url.as_str(), &a, w.app.now_ms());
    let depth = gatehouse::store::RevocationRecord::MAX_CHAIN_DEPTH;
    for i in 0..depth {
        let role = if i % 2 == 0 {
            "GatehouseSSO-Ops"
        } else {
            "GatehouseSSO-Dev"
        };
        s = assume(&s, role, &format!("hop-{i}")).await;
    }

    // Act: one hop more.
    let (status, v) = s
        .rpc(
            "AssumeRole",
            &[
                (
                    "RoleArn",
                    &format!("acs:ram::{ACCOUNT}:role/GatehouseSSO-Ops"),
                ),
                ("RoleSessionName", "too-deep"),
            ],
            "hop-last",
        )
        .await;

    // Assert
    assert_eq!((status, code(&v)), (403, "NoPermission"), "{v}");
    assert!(v["Message"].as_str().unwrap().contains("at most"), "{v}");
}

/// A signed `AssumeRole` on alice's credentials, its answer, and the same request again
/// sent to `second_base`.
async fn assume_twice(first: &Signer<'_>, second_base: &str) -> ((u16, String), (u16, String)) {
    let arn = format!("acs:ram::{ACCOUNT}:role/GatehouseSSO-Dev");
    let params = [
        ("RoleArn", arn.as_str()),
        ("RoleSessionName", "alice-replay"),
    ];
    let (s1, v1) = first.rpc("AssumeRole", &params, "replayed-nonce").await;
    let mut again = at(first, first.at_ms);
    again.base = second_base;
    let (s2, v2) = again.rpc("AssumeRole", &params, "replayed-nonce").await;
    ((s1, code(&v1).into()), (s2, code(&v2).into()))
}

#[tokio::test]
async fn a_signed_request_replayed_against_another_instance_is_refused() {
    // Arrange: two instances on one database.
    let w = world().await;
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let other = w.app.another_instance().await;
    let s = Signer::new(w.app.base_url.as_str(), &c, w.app.now_ms());

    // Act
    let (first, replay) = assume_twice(&s, &other.base_url).await;

    // Assert
    assert_eq!(first, (200, String::new()));
    assert_eq!(replay, (400, "SignatureNonceUsed".to_string()));
    // A fresh nonce is still welcome there, and the tick forgets nonces past the window.
    let mut there = at(&s, w.app.now_ms());
    there.base = other.base_url.as_str();
    assert_eq!(who_am_i(&there, "fresh-1").await, (200, String::new()));
    let raw = w.app.raw_db().await;
    // The rows an UPDATE of every row touches: how many nonces are kept.
    let kept = "UPDATE sts_nonces SET expires_at = expires_at";
    assert_eq!(raw.exec(kept).await.unwrap(), 2);
    w.app.advance(Duration::from_secs(31 * 60));
    w.app.tick().await;
    assert_eq!(raw.exec(kept).await.unwrap(), 0);
}

#[tokio::test]
async fn a_signed_request_replayed_after_a_restart_is_refused() {
    // Arrange
    let mut w = world().await;
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let base = w.app.base_url.clone();
    let s = Signer::new(base.as_str(), &c, w.app.now_ms());
    let arn = format!("acs:ram::{ACCOUNT}:role/GatehouseSSO-Dev");
    let params = [
        ("RoleArn", arn.as_str()),
        ("RoleSessionName", "alice-replay"),
    ];
    let (status, v) = s.rpc("AssumeRole", &params, "replayed-nonce").await;
    assert_eq!(status, 200, "{v}");

    // Act: the same request, to the same Gatehouse started again.
    w.app.restart().await;
    let mut again = at(&s, s.at_ms);
    again.base = w.app.base_url.as_str();
    let (status, v) = again.rpc("AssumeRole", &params, "replayed-nonce").await;

    // Assert
    assert_eq!((status, code(&v)), (400, "SignatureNonceUsed"), "{v}");
}

#[tokio::test]
async fn an_oversized_nonce_is_refused() {
    let w = world().await;
    let c = issue(&w.alice, ACCOUNT, &w.dev, json!({})).await;
    let s = Signer::new(w.app.base_url.as_str(), &c, w.app.now_ms());
    let (status, v) = s.rpc("GetCallerIdentity", &[], &"n".repeat(129)).await;
    assert_eq!((status, code(&v)), (400, "InvalidParameter"), "{v}");
}

/// A local account's vault, a request by rita approved by both custodians, and the root
/// session she starts: (app, admin, rita, session).
async fn root_session() -> (TestApp, Browser, Browser, RootSession) {
    let w = crate::break_glass::world(1, 1).await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let max = person(&w.app, &w.admin, "max", &[&w.mfa_group]).await;
    let r = ask(&w).await;
    approve(&pam, &r).await.assert_status(200);
    approve(&max, &r).await.assert_status(200);
    let s: RootSession = w
        .requester
        .b
        .post(
            &path(&r, "root-session"),
            &json!({ "task": "unlock_bucket_policy" }),
        )
        .await
        .assert_status(200)
        .json();
    let rita = std::sync::Arc::try_unwrap(w.requester.b).unwrap_or_else(|_| panic!("one owner"));
    (w.app, w.admin, rita, s)
}

#[tokio::test]
async fn a_root_session_is_listed_and_revoked_like_any_other_key() {
    // Arrange
    let (app, admin, rita, s) = root_session().await;
    let signer = Signer {
        base: &app.base_url,
        ak: s.access_key_id.clone(),
        secret: s.access_key_secret.clone(),
        token: s.security_token.clone(),
        at_ms: app.now_ms(),
    };
    assert_eq!(who_am_i(&signer, "root-1").await, (200, String::new()));
    let own = listed(&rita, "").await;
    let row = own
        .iter()
        .find(|r| r.access_key_id == s.access_key_id)
        .expect("rita sees her root session");
    assert_eq!(
        (row.source.as_str(), row.account_id.as_str(), row.revoked_at),
        ("root_session", ACCOUNT, None)
    );
    let everyone = listed(&admin, &format!("?user_id={}", row.user_id)).await;
    assert!(everyone.iter().any(|r| r.access_key_id == s.access_key_id));

    // Act: an administrator revokes it from the list.
    admin
        .delete(&format!("/api/v1/sts-credentials/{}", s.access_key_id))
        .await
        .assert_status(204);

    // Assert: the STS API refuses it, and the list says so.
    assert_eq!(
        who_am_i(&signer, "root-2").await,
        (400, "InvalidSecurityToken.Revoked".to_string())
    );
    let own = listed(&rita, "?active=true").await;
    assert!(own.iter().all(|r| r.access_key_id != s.access_key_id));
    let row: Vec<StsCredentialInfo> = listed(&rita, "").await;
    assert!(row
        .iter()
        .any(|r| r.access_key_id == s.access_key_id && r.revoked_at.is_some()));
}

#[tokio::test]
async fn a_stored_role_policy_that_no_longer_parses_refuses_assume_role() {
    // Arrange: alice's Guarded set allows sts:AssumeRole but its inline policy denies Ops;
    // then the stored inline policy stops parsing (as if written under an older grammar).
    let w = world().await;
    let guarded: gatehouse_shared::permission_sets::PermissionSet = w
        .admin
        .post(
            "/api/v1/permission-sets",
            &json!({
                "name": "Guarded",
                "session_duration_secs": 3600,
                "system_policies": ["AliyunSTSAssumeRoleAccess"],
                "inline_policy": r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"acs:ram::*:role/GatehouseSSO-Ops"}]}"#,
            }),
        )
        .await
        .assert_status(201)
        .json();
    assign(&w.admin, &w.alice_user, ACCOUNT, &guarded, true).await;
    let ops = permission_set(&w.admin, "Ops", None).await;
    assign(&w.admin, &w.alice_user, ACCOUNT, &ops, true).await;
    let c = issue(&w.alice, ACCOUNT, &guarded, json!({})).await;
    let s = Signer::new(w.app.base_url.as_str(), &c, w.app.now_ms());
    let arn = format!("acs:ram::{ACCOUNT}:role/GatehouseSSO-Ops");
    let params = [("RoleArn", arn.as_str()), ("RoleSessionName", "alice-ops")];
    let (status, v) = s.rpc("AssumeRole", &params, "g-1").await;
    assert_eq!(
        (status, code(&v)),
        (403, "NoPermission"),
        "the Deny holds: {v}"
    );
    let corrupt = format!(
        "UPDATE permission_sets SET inline_policy = '{{\"Version\":\"1\",\"Statement\":[{{\"Effect\":\"Deny\",\"Action\":\"sts:AssumeRole\",\"Resource\":\"*\",\"Sometimes\":true}}]}}' WHERE id = '{}'",
        guarded.id
    );
    assert_eq!(w.app.raw_db().await.exec(&corrupt).await.unwrap(), 1);

    // Act
    let (status, v) = s.rpc("AssumeRole", &params, "g-2").await;

    // Assert: refused, where the unreadable policy (and its Deny) used to be skipped.
    assert_eq!((status, code(&v)), (403, "NoPermission"), "{v}");
    assert!(
        v["Message"].as_str().unwrap().contains("cannot be read"),
        "{v}"
    );
}
