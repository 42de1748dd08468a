//! Break-glass end to end: the sealed vault, split-custody approval (both custodian groups,
//! distinct people, never the requester, fresh TOTP), the reveal window (password and the
//! current TOTP code, only for the requester), task-scoped root sessions that `/sts/` and
//! the simulator agree on, rotation state, expiry, and one winner under concurrency.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_shared::breakglass::{
    BreakGlassDetail, BreakGlassRequest, BreakGlassStatus, CustodianSlot, Revealed, RootSession,
    VaultEntry,
};
use gatehouse_shared::directory::{Group, User};
use gatehouse_shared::policies::Simulation;
use serde_json::json;

use crate::helpers::{totp_code, Browser, TestApp, USER_PASSWORD};
use crate::sts::{account, Signer, ACCOUNT};

/// The root MFA seed the tests configure: RFC 6238's "12345678901234567890" in base32.
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const ROOT_PASSWORD: &str = "r00t-Pa55word-that-must-stay-secret";

pub(crate) struct Person {
    pub b: Arc<Browser>,
    pub user: User,
    pub totp: String,
}

pub(crate) struct World {
    pub(crate) app: TestApp,
    pub(crate) admin: Browser,
    pub(crate) entry: VaultEntry,
    pub(crate) password_group: Group,
    pub(crate) mfa_group: Group,
    pub(crate) requester: Person,
}

pub(crate) async fn group(admin: &Browser, name: &str) -> Group {
    admin
        .post("/api/v1/groups", &json!({ "name": name }))
        .await
        .assert_status(201)
        .json()
}

pub(crate) async fn join(admin: &Browser, g: &Group, u: &User) {
    admin
        .put(&format!("/api/v1/groups/{}/members/{}", g.id, u.id))
        .await
        .assert_status(204);
}

/// A signed-in user with TOTP enrolled (which also makes their MFA fresh), in `groups`.
pub(crate) async fn person(
    app: &TestApp,
    admin: &Browser,
    name: &str,
    groups: &[&Group],
) -> Person {
    let user = app.create_user_with_roles(admin, name, &[]).await;
    for g in groups {
        join(admin, g, &user).await;
    }
    let b = app.browser();
    b.sign_in(name, USER_PASSWORD).await;
    let totp = app.enrol_totp(&b).await;
    Person {
        b: Arc::new(b),
        user,
        totp,
    }
}

pub(crate) async fn world(m: i64, n: i64) -> World {
    world_with_seed(m, n, SEED).await
}

async fn world_with_seed(m: i64, n: i64, seed: &str) -> World {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    account(&admin, ACCOUNT).await;
    let password_group = group(&admin, "root-password-custodians").await;
    let mfa_group = group(&admin, "root-mfa-custodians").await;
    let entry: VaultEntry = admin
        .post(
            "/api/v1/break-glass/vault",
            &json!({
                "account_id": ACCOUNT,
                "password": ROOT_PASSWORD,
                "totp_seed": seed,
                "password_group_id": password_group.id,
                "mfa_group_id": mfa_group.id,
                "password_approvals": m,
                "mfa_approvals": n,
            }),
        )
        .await
        .assert_status(201)
        .json();
    let requester = person(&app, &admin, "rita", &[]).await;
    World {
        app,
        admin,
        entry,
        password_group,
        mfa_group,
        requester,
    }
}

pub(crate) async fn ask(w: &World) -> BreakGlassRequest {
    w.requester
        .b
        .post(
            "/api/v1/break-glass/requests",
            &json!({ "vault_entry_id": w.entry.id, "justification": "Root MFA device lost during incident INC-42" }),
        )
        .await
        .assert_status(201)
        .json()
}

pub(crate) fn path(r: &BreakGlassRequest, verb: &str) -> String {
    format!("/api/v1/break-glass/requests/{}/{verb}", r.id)
}

pub(crate) async fn approve(p: &Person, r: &BreakGlassRequest) -> crate::helpers::Reply {
    p.b.post(&path(r, "approve"), &json!({ "comment": "ok" }))
        .await
}

/// A vault entry for `account` (root password `root_password`, one approval per custodian
/// group) and rita's break-glass request, approved by pam and max.
pub(crate) async fn approved_request(
    app: &TestApp,
    admin: &Browser,
    account: &str,
    root_password: &str,
    justification: &str,
) -> (Person, BreakGlassRequest) {
    let password_group = group(admin, "root-password-custodians").await;
    let mfa_group = group(admin, "root-mfa-custodians").await;
    let entry: VaultEntry = admin
        .post(
            "/api/v1/break-glass/vault",
            &json!({
                "account_id": account,
                "password": root_password,
                "totp_seed": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
                "password_group_id": password_group.id,
                "mfa_group_id": mfa_group.id,
                "password_approvals": 1,
                "mfa_approvals": 1,
            }),
        )
        .await
        .assert_status(201)
        .json();
    let requester = person(app, admin, "rita", &[]).await;
    let pam = person(app, admin, "pam", &[&password_group]).await;
    let max = person(app, admin, "max", &[&mfa_group]).await;
    let request: BreakGlassRequest = requester
        .b
        .post(
            "/api/v1/break-glass/requests",
            &json!({ "vault_entry_id": entry.id, "justification": justification }),
        )
        .await
        .assert_status(201)
        .json();
    approve(&pam, &request).await.assert_status(200);
    approve(&max, &request).await.assert_status(200);
    (requester, request)
}

/// Every event's text, to look for secrets in.
pub(crate) async fn trail_text(app: &TestApp) -> String {
    app.all_events()
        .await
        .iter()
        .map(|e| format!("{} {} {:?}", e.action, e.details, e.reason))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn an_80_bit_root_mfa_seed_reveals_its_current_code() {
    // Arrange: the shortest seed the vault accepts, base32 of "1234567890" (80 bits).
    let w = world_with_seed(1, 1, "GEZDGNBVGY3TQOJQ").await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let max = person(&w.app, &w.admin, "max", &[&w.mfa_group]).await;
    let r = ask(&w).await;
    approve(&pam, &r).await.assert_status(200);
    approve(&max, &r).await.assert_status(200);

    // Act
    let code: Revealed = w
        .requester
        .b
        .post(&path(&r, "reveal"), &json!({ "what": "totp" }))
        .await
        .assert_status(200)
        .json();

    // Assert
    let secs = u64::try_from(w.app.now_ms() / 1000).unwrap();
    let expected = gatehouse::auth::totp::code_for_seed(b"1234567890", secs).unwrap();
    assert_eq!(code.value, expected);
}

#[tokio::test]
async fn a_custodians_inbox_holds_the_requests_they_can_decide_and_the_requester_is_told_who() {
    let w = world(1, 1).await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let max = person(&w.app, &w.admin, "max", &[&w.mfa_group]).await;
    let ann = person(&w.app, &w.admin, "ann", &[]).await;

    let r = ask(&w).await;

    // The answer says who was asked (the requester is not) and that no one was told.
    let told = r.notified.clone().expect("who was told");
    let mut people = told.people.clone();
    people.sort();
    assert_eq!(people, ["Test user max", "Test user pam"]);
    assert!(!told.by_email && told.webhooks.is_empty());
    let waiting = |p: &Person| {
        let b = p.b.clone();
        async move {
            b.get("/api/v1/approvals/waiting")
                .await
                .assert_status(200)
                .json::<gatehouse_shared::requests::Waiting>()
        }
    };
    for custodian in [&pam, &max] {
        let inbox = waiting(custodian).await;
        assert_eq!(
            inbox
                .break_glass
                .iter()
                .map(|x| x.id.as_str())
                .collect::<Vec<_>>(),
            [r.id.as_str()]
        );
        assert!(inbox.access_requests.is_empty());
    }
    assert!(
        waiting(&w.requester).await.break_glass.is_empty(),
        "not the requester's to decide"
    );
    assert!(waiting(&ann).await.break_glass.is_empty());
    let count = |p: &Person| {
        let b = p.b.clone();
        async move {
            b.get("/api/v1/approvals/count")
                .await
                .assert_status(200)
                .json::<gatehouse_shared::requests::WaitingCount>()
                .waiting
        }
    };
    assert_eq!(
        (
            count(&pam).await,
            count(&w.requester).await,
            count(&ann).await
        ),
        (1, 0, 0)
    );

    // Decided, it leaves the inbox of the custodian who decided.
    approve(&pam, &r).await.assert_status(200);
    assert!(waiting(&pam).await.break_glass.is_empty());
}

#[tokio::test]
async fn quorum_needs_both_groups_and_only_the_requester_reveals_inside_the_window() {
    let w = world(1, 1).await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let pat = person(&w.app, &w.admin, "pat", &[&w.password_group]).await;
    let max = person(&w.app, &w.admin, "max", &[&w.mfa_group]).await;
    let ann = person(&w.app, &w.admin, "ann", &[]).await;
    let r = ask(&w).await;
    assert_eq!(r.status, BreakGlassStatus::Pending);
    assert!(!r.can_decide, "the requester never sees an approve button");

    // The custodians see it and may decide; the requester may not, even with fresh MFA.
    let listed: Vec<BreakGlassRequest> = max
        .b
        .get("/api/v1/break-glass/requests")
        .await
        .assert_status(200)
        .json();
    assert!(listed.iter().any(|x| x.id == r.id && x.can_decide));
    approve(&w.requester, &r)
        .await
        .assert_error(403, "forbidden");
    // Someone in neither group cannot even see it.
    approve(&ann, &r).await.assert_error(404, "not_found");
    // Nothing to reveal before quorum.
    w.requester
        .b
        .post(&path(&r, "reveal"), &json!({ "what": "password" }))
        .await
        .assert_error(409, "conflict");

    // Two password custodians are still no MFA custodian.
    let after: BreakGlassRequest = approve(&pam, &r).await.assert_status(200).json();
    assert_eq!(
        (after.status, after.password_approvals, after.mfa_approvals),
        (BreakGlassStatus::Pending, 1, 0)
    );
    let after: BreakGlassRequest = approve(&pat, &r).await.assert_status(200).json();
    assert_eq!(after.status, BreakGlassStatus::Pending);
    // One decision per person.
    approve(&pam, &r).await.assert_error(409, "conflict");

    let done: BreakGlassRequest = approve(&max, &r).await.assert_status(200).json();
    assert_eq!(done.status, BreakGlassStatus::Approved);
    let window_end = done.window_ends_at.expect("the window is open");
    assert_eq!(
        (window_end - done.decided_at.unwrap()).whole_seconds(),
        900,
        "the default window is 15 minutes"
    );
    // Decisions after quorum are refused.
    approve(&ann, &r).await.assert_error(404, "not_found");

    // Only the requester reveals.
    for other in [&pam, &max] {
        other
            .b
            .post(&path(&r, "reveal"), &json!({ "what": "password" }))
            .await
            .assert_error(403, "forbidden");
    }
    w.admin
        .post(&path(&r, "reveal"), &json!({ "what": "totp" }))
        .await
        .assert_error(403, "forbidden");
    let password: Revealed = w
        .requester
        .b
        .post(&path(&r, "reveal"), &json!({ "what": "password" }))
        .await
        .assert_status(200)
        .json();
    assert_eq!(password.value, ROOT_PASSWORD);
    let code: Revealed = w
        .requester
        .b
        .post(&path(&r, "reveal"), &json!({ "what": "totp" }))
        .await
        .assert_status(200)
        .json();
    assert_eq!(code.value, totp_code(SEED, w.app.now_ms()));
    assert_eq!(code.value.len(), 6);
    w.requester
        .b
        .post(&path(&r, "reveal"), &json!({ "what": "seed" }))
        .await
        .assert_status(400);

    // The vault now says "rotation required", and custodians were told.
    let entry: VaultEntry = w
        .admin
        .get(&format!("/api/v1/break-glass/vault/{}", w.entry.id))
        .await
        .assert_status(200)
        .json();
    assert!(entry.rotation.required && entry.rotation.required_since.is_some());

    // The window closes: the requester can no longer reveal, and the sweep records it.
    w.app.advance(Duration::from_secs(15 * 60 + 1));
    w.requester
        .b
        .post(&path(&r, "reveal"), &json!({ "what": "password" }))
        .await
        .assert_error(409, "conflict");
    assert_eq!(w.app.tick().await.breakglass, 1);
    assert_eq!(w.app.tick().await.breakglass, 0, "processed once");

    // The review note, once.
    let reviewed: BreakGlassRequest = w
        .requester
        .b
        .post(
            &path(&r, "review"),
            &json!({ "note": "Replaced the lost MFA device; root password rotated." }),
        )
        .await
        .assert_status(200)
        .json();
    assert!(reviewed.review_note.is_some() && !reviewed.review_due);
    w.requester
        .b
        .post(&path(&r, "review"), &json!({ "note": "again" }))
        .await
        .assert_error(409, "conflict");

    // Rotation: custodians only; it clears the state and the new password is the one revealed next.
    let rotate = format!("/api/v1/break-glass/vault/{}/rotated", w.entry.id);
    w.requester
        .b
        .post(&rotate, &json!({ "password": "new-root-password-1" }))
        .await
        .assert_error(403, "forbidden");
    max.b
        .post(&rotate, &json!({}))
        .await
        .assert_error(422, "validation_failed");
    // Split custody: each half from its own custodian.
    max.b
        .post(
            &rotate,
            &json!({ "totp_seed": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" }),
        )
        .await
        .assert_status(200);
    let rotated: VaultEntry = pam
        .b
        .post(&rotate, &json!({ "password": "new-root-password-1" }))
        .await
        .assert_status(200)
        .json();
    assert!(!rotated.rotation.required);
    assert_eq!(rotated.rotation.rotated_by.as_deref(), Some("pam"));

    // The whole story, in order, and never a secret in it or in any other answer.
    let detail: BreakGlassDetail = w
        .requester
        .b
        .get(&format!("/api/v1/break-glass/requests/{}", r.id))
        .await
        .assert_status(200)
        .json();
    let actions: Vec<&str> = detail.timeline.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "breakglass.create",
            "breakglass.approve",
            "breakglass.approve",
            "breakglass.approve",
            "breakglass.approved",
            "breakglass.reveal_password",
            // The reveal made the root credential due for rotation: named by the request.
            "vault.rotation_required",
            "breakglass.reveal_totp",
            "breakglass.close",
            "breakglass.review",
        ]
    );
    let approved = &detail.timeline[4];
    assert!(approved.details["window_ends_at"].is_string());
    assert_eq!(approved.details["requester_id"], json!(w.requester.user.id));
    assert_eq!(approved.details["vault_entry_id"], json!(w.entry.id));
    assert_eq!(
        approved.details["notify_user_ids"],
        json!([w.requester.user.id])
    );
    let reveal = &detail.timeline[5];
    let told: Vec<String> =
        serde_json::from_value(reveal.details["notify_user_ids"].clone()).unwrap();
    for c in [&pam, &pat, &max] {
        assert!(told.contains(&c.user.id), "custodians are told of reveals");
    }
    let trail = trail_text(&w.app).await;
    for secret in [
        ROOT_PASSWORD,
        SEED,
        "new-root-password-1",
        code.value.as_str(),
    ] {
        assert!(
            !trail.contains(secret),
            "{secret} leaked into the audit trail"
        );
    }
    for action in ["vault.rotation_required", "vault.rotate", "vault.create"] {
        assert!(trail.contains(action), "{action} is recorded");
    }
    let vault_json = w
        .admin
        .get("/api/v1/break-glass/vault")
        .await
        .assert_status(200)
        .value()
        .to_string();
    let detail_json = serde_json::to_string(&detail).unwrap();
    for text in [vault_json, detail_json] {
        assert!(!text.contains(ROOT_PASSWORD) && !text.contains(SEED));
        assert!(!text.contains("v1."), "no sealed value leaves the server");
    }
}

#[tokio::test]
async fn wrong_codes_given_with_a_decision_are_limited_like_any_step_up() {
    // Arrange: pam's MFA is stale, so each approval carries a code.
    let w = world(1, 1).await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let r = ask(&w).await;
    w.app.advance(Duration::from_secs(6 * 60));
    let approve_with = |code: String| {
        let b = pam.b.clone();
        let url = path(&r, "approve");
        async move { b.post(&url, &json!({ "totp": code })).await }
    };
    for _ in 0..5 {
        approve_with("000000".into())
            .await
            .assert_error(401, "invalid_totp");
    }

    // Act
    let sixth = approve_with("000000".into()).await;
    let right_code = totp_code(&pam.totp, w.app.now_ms());
    let right_while_locked = approve_with(right_code.clone()).await;
    w.app.advance(Duration::from_secs(15 * 60));
    let after = approve_with(totp_code(&pam.totp, w.app.now_ms())).await;

    // Assert
    sixth.assert_error(429, "rate_limited");
    assert_eq!(sixth.header("retry-after").as_deref(), Some("900"));
    right_while_locked.assert_error(429, "rate_limited");
    assert!(right_while_locked.body.contains("authenticator codes"));
    let done: BreakGlassRequest = after.assert_status(200).json();
    assert_eq!(
        done.decisions.len(),
        1,
        "no decision was recorded while locked"
    );
    let refused: Vec<_> = w
        .app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.step_up" && e.outcome != "success")
        .map(|e| {
            (
                e.actor_id.unwrap_or_default(),
                e.outcome,
                e.reason.unwrap_or_default(),
            )
        })
        .collect();
    let pam_id = pam.user.id.clone();
    let mut expected = vec![
        (
            pam_id.clone(),
            "failure".to_string(),
            "invalid_totp".to_string()
        );
        5
    ];
    expected.extend(vec![(pam_id, "denied".into(), "rate_limited".into()); 2]);
    assert_eq!(refused, expected);
    assert!(!trail_text(&w.app).await.contains(&right_code));
}

#[tokio::test]
async fn a_custodian_in_both_groups_fills_one_slot_and_mfa_must_be_fresh() {
    let w = world(1, 1).await;
    let both = person(&w.app, &w.admin, "bo", &[&w.password_group, &w.mfa_group]).await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let r = ask(&w).await;

    // MFA older than 5 minutes: a fresh code is needed, inline or by step-up.
    w.app.advance(Duration::from_secs(6 * 60));
    approve(&both, &r).await.assert_error(403, "mfa_required");
    both.b
        .post(&path(&r, "approve"), &json!({ "totp": "000000" }))
        .await
        .assert_error(401, "invalid_totp");
    let code = totp_code(&both.totp, w.app.now_ms());
    let one: BreakGlassRequest = both
        .b
        .post(&path(&r, "approve"), &json!({ "totp": code }))
        .await
        .assert_status(200)
        .json();
    assert_eq!(
        one.status,
        BreakGlassStatus::Pending,
        "one person is one slot"
    );

    // The next approval from the password group completes it: `bo` moves to the MFA slot.
    let code = totp_code(&pam.totp, w.app.now_ms());
    pam.b
        .post("/api/v1/auth/step-up", &json!({ "code": code }))
        .await
        .assert_status(200);
    let done: BreakGlassRequest = approve(&pam, &r).await.assert_status(200).json();
    assert_eq!(done.status, BreakGlassStatus::Approved);
    let slot = |id: &str| {
        done.decisions
            .iter()
            .find(|d| d.user_id == id)
            .unwrap()
            .counts_as
    };
    assert_eq!(slot(&both.user.id), Some(CustodianSlot::Mfa));
    assert_eq!(slot(&pam.user.id), Some(CustodianSlot::Password));

    // An administrator who is also a custodian still cannot approve their own request.
    let w2 = world(1, 1).await;
    let boss = person(
        &w2.app,
        &w2.admin,
        "boss",
        &[&w2.password_group, &w2.mfa_group],
    )
    .await;
    let admins: Vec<Group> = w2
        .admin
        .get("/api/v1/groups")
        .await
        .assert_status(200)
        .json();
    let admin_group = admins
        .iter()
        .find(|g| g.name == "gatehouse-admins")
        .unwrap();
    join(&w2.admin, admin_group, &boss.user).await;
    let own: BreakGlassRequest = boss
        .b
        .post(
            "/api/v1/break-glass/requests",
            &json!({ "vault_entry_id": w2.entry.id, "justification": "testing self approval refusal" }),
        )
        .await
        .assert_status(201)
        .json();
    approve(&boss, &own).await.assert_error(403, "forbidden");
    boss.b
        .post(&path(&own, "reject"), &json!({}))
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn root_sessions_are_limited_to_their_task_and_expire_within_900_seconds() {
    let w = world(1, 1).await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let max = person(&w.app, &w.admin, "max", &[&w.mfa_group]).await;
    let r = ask(&w).await;
    approve(&pam, &r).await.assert_status(200);
    approve(&max, &r).await.assert_status(200);

    w.requester
        .b
        .post(
            &path(&r, "root-session"),
            &json!({ "task": "unlock_bucket_policy", "duration_secs": 901 }),
        )
        .await
        .assert_error(422, "validation_failed");
    max.b
        .post(
            &path(&r, "root-session"),
            &json!({ "task": "unlock_bucket_policy" }),
        )
        .await
        .assert_error(403, "forbidden");
    let now = w.app.now_ms();
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
    assert!(s.access_key_id.starts_with("STS."));
    let lifetime_ms = gatehouse::clock::to_millis(s.expiration) - now;
    assert!((0..=900_000).contains(&lifetime_ms), "{lifetime_ms} ms");
    assert!(s
        .formats
        .iter()
        .any(|(name, text)| name == "shell" && text.contains(&s.access_key_id)));

    let signer = Signer {
        base: &w.app.base_url,
        ak: s.access_key_id.clone(),
        secret: s.access_key_secret.clone(),
        token: s.security_token.clone(),
        at_ms: w.app.now_ms(),
    };
    let (status, who) = signer.rpc("GetCallerIdentity", &[], "root-1").await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["Arn"], json!(format!("acs:ram::{ACCOUNT}:root")));
    assert_eq!(who["AccountId"], json!(ACCOUNT));

    // What the simulator says of the task policy is what `/sts/` does.
    let simulate = |action: &str, resource: &str| {
        let body =
            json!({ "policies": [s.policy_document], "action": action, "resource": resource });
        let admin = &w.admin;
        async move {
            let sim: Simulation = admin
                .post("/api/v1/policies/simulate", &body)
                .await
                .assert_status(200)
                .json();
            sim.allowed
        }
    };
    let role_arn = format!("acs:ram::{ACCOUNT}:role/GatehouseSSO-Dev");
    assert!(!simulate("sts:AssumeRole", &role_arn).await);
    let (status, refused) = signer
        .rpc(
            "AssumeRole",
            &[
                ("RoleArn", role_arn.as_str()),
                ("RoleSessionName", "escape"),
            ],
            "root-2",
        )
        .await;
    assert_eq!(
        (status, refused["Code"].as_str()),
        (403, Some("NoPermission")),
        "{refused}"
    );
    assert!(
        simulate(
            "oss:DeleteBucketPolicy",
            &format!("acs:oss:*:{ACCOUNT}:locked-bucket")
        )
        .await
    );
    assert!(
        !simulate(
            "ram:DeleteLoginProfile",
            &format!("acs:ram:*:{ACCOUNT}:root")
        )
        .await
    );
    assert!(!simulate("oss:DeleteBucketPolicy", "acs:oss:*:6543210987654321:b").await);

    // The session is recorded (no secret) and marks the entry for rotation.
    let detail: BreakGlassDetail = w
        .requester
        .b
        .get(&format!("/api/v1/break-glass/requests/{}", r.id))
        .await
        .assert_status(200)
        .json();
    let ev = detail
        .timeline
        .iter()
        .find(|e| e.action == "breakglass.root_session")
        .unwrap();
    assert_eq!(ev.details["task"], json!("unlock_bucket_policy"));
    assert!(!trail_text(&w.app).await.contains(&s.access_key_secret));
    assert!(!trail_text(&w.app).await.contains(&s.security_token));
    let entry: VaultEntry = w
        .admin
        .get(&format!("/api/v1/break-glass/vault/{}", w.entry.id))
        .await
        .json();
    assert!(entry.rotation.required);

    // After 900 seconds the credentials are refused.
    w.app.advance(Duration::from_secs(901));
    let later = Signer {
        at_ms: w.app.now_ms(),
        ..signer
    };
    let (status, expired) = later.rpc("GetCallerIdentity", &[], "root-3").await;
    assert_eq!(status, 400, "{expired}");
    assert_eq!(expired["Code"], json!("InvalidSecurityToken.Expired"));
}

#[tokio::test]
async fn pending_requests_expire_reject_ends_them_and_cancel_is_the_requesters() {
    let w = world(1, 1).await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let max = person(&w.app, &w.admin, "max", &[&w.mfa_group]).await;

    // One rejection ends a request.
    let r1 = ask(&w).await;
    let rejected: BreakGlassRequest = pam
        .b
        .post(
            &path(&r1, "reject"),
            &json!({ "comment": "not an emergency" }),
        )
        .await
        .assert_status(200)
        .json();
    assert_eq!(rejected.status, BreakGlassStatus::Rejected);
    approve(&max, &r1).await.assert_error(409, "conflict");

    // Only the requester cancels; then nothing more happens to it.
    let r2 = ask(&w).await;
    pam.b
        .post(&path(&r2, "cancel"), &json!({}))
        .await
        .assert_error(403, "forbidden");
    w.requester
        .b
        .post(&path(&r2, "cancel"), &json!({}))
        .await
        .assert_status(200);
    approve(&max, &r2).await.assert_error(409, "conflict");
    w.requester
        .b
        .post(&path(&r2, "cancel"), &json!({}))
        .await
        .assert_error(409, "conflict");

    // Pending for an hour: expired, whether or not the sweep ran yet.
    let r3 = ask(&w).await;
    w.app.advance(Duration::from_secs(3_600));
    let max2 = w.app.browser();
    max2.login(
        "max",
        USER_PASSWORD,
        Some(&totp_code(&max.totp, w.app.now_ms())),
    )
    .await
    .assert_status(200);
    max2.post(&path(&r3, "approve"), &json!({}))
        .await
        .assert_error(409, "conflict");
    assert_eq!(w.app.tick().await.breakglass, 1);
    let events = w.app.all_events().await;
    let expired = events
        .iter()
        .find(|e| e.action == "breakglass.expire")
        .expect("an expire event");
    assert_eq!(expired.target_id.as_deref(), Some(r3.id.as_str()));

    // Bad input is answered clearly.
    w.requester
        .b
        .post(
            "/api/v1/break-glass/requests",
            &json!({ "vault_entry_id": w.entry.id, "justification": "now" }),
        )
        .await
        .assert_error(401, "unauthenticated");
    let rita = w.app.browser();
    w.app.advance(Duration::from_secs(30));
    rita.login(
        "rita",
        USER_PASSWORD,
        Some(&totp_code(&w.requester.totp, w.app.now_ms())),
    )
    .await
    .assert_status(200);
    let bad = rita
        .post(
            "/api/v1/break-glass/requests",
            &json!({ "vault_entry_id": w.entry.id, "justification": "now" }),
        )
        .await;
    bad.assert_error(422, "validation_failed");
    assert_eq!(bad.fields(), ["justification"]);
    rita.get("/api/v1/break-glass/requests/no-such-request")
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn the_vault_is_administered_by_administrators_with_clear_errors() {
    let w = world(1, 1).await;
    let admin2 = w.app.admin().await;
    // One entry per account.
    let dup = admin2
        .post(
            "/api/v1/break-glass/vault",
            &json!({
                "account_id": ACCOUNT, "password": "x", "totp_seed": SEED,
                "password_group_id": w.password_group.id, "mfa_group_id": w.mfa_group.id,
            }),
        )
        .await;
    dup.assert_error(409, "conflict");
    let bad = admin2
        .post(
            "/api/v1/break-glass/vault",
            &json!({
                "account_id": ACCOUNT, "password": "", "totp_seed": "not base32!",
                "password_group_id": w.password_group.id, "mfa_group_id": "no-such-group",
                "password_approvals": 0, "window_secs": 5,
            }),
        )
        .await;
    bad.assert_error(422, "validation_failed");
    let mut fields = bad.fields();
    fields.sort();
    assert_eq!(
        fields,
        ["password", "password_approvals", "totp_seed", "window_secs"]
    );
    // Non-administrators read (no secrets) but do not write.
    w.requester
        .b
        .post(
            "/api/v1/break-glass/vault",
            &json!({ "account_id": ACCOUNT, "password": "x", "totp_seed": SEED,
                     "password_group_id": w.password_group.id, "mfa_group_id": w.mfa_group.id }),
        )
        .await
        .assert_error(403, "forbidden");
    let listed: Vec<VaultEntry> = w
        .requester
        .b
        .get("/api/v1/break-glass/vault")
        .await
        .assert_status(200)
        .json();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].password_approvals, listed[0].mfa_approvals),
        (1, 1)
    );
    let updated: VaultEntry = admin2
        .patch(
            &format!("/api/v1/break-glass/vault/{}", w.entry.id),
            &json!({ "mfa_approvals": 2, "window_secs": 600 }),
        )
        .await
        .assert_status(200)
        .json();
    assert_eq!((updated.mfa_approvals, updated.window_secs), (2, 600));
    admin2
        .delete(&format!("/api/v1/break-glass/vault/{}", w.entry.id))
        .await
        .assert_status(204);
    admin2
        .get(&format!("/api/v1/break-glass/vault/{}", w.entry.id))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn concurrent_approvals_make_exactly_one_approved_transition() {
    for round in 0..3 {
        let w = world(2, 2).await;
        let mut custodians = Vec::new();
        for i in 0..5 {
            custodians.push(person(&w.app, &w.admin, &format!("p{i}"), &[&w.password_group]).await);
            custodians.push(person(&w.app, &w.admin, &format!("m{i}"), &[&w.mfa_group]).await);
        }
        let r = ask(&w).await;
        // Everyone approves at once; in round 2 the requester also cancels at the same time.
        let tasks: Vec<_> = custodians
            .iter()
            .map(|p| {
                let (b, url) = (p.b.clone(), path(&r, "approve"));
                tokio::spawn(async move { b.post(&url, &json!({})).await })
            })
            .collect();
        let cancel = (round == 2).then(|| {
            let (b, url) = (w.requester.b.clone(), path(&r, "cancel"));
            tokio::spawn(async move { b.post(&url, &json!({})).await.status.as_u16() })
        });
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(t.await.unwrap());
        }
        let cancelled = match cancel {
            Some(t) => Some(t.await.unwrap()),
            None => None,
        };
        let ok = replies.iter().filter(|x| x.status.as_u16() == 200).count();
        for x in replies.iter().filter(|x| x.status.as_u16() != 200) {
            x.assert_error(409, "conflict");
        }
        let events = w.app.all_events().await;
        let count = |a: &str| {
            events
                .iter()
                .filter(|e| e.action == a && e.target_id.as_deref() == Some(r.id.as_str()))
                .count()
        };
        assert_eq!(
            count("breakglass.approve"),
            ok,
            "each recorded approval has one event"
        );
        let final_state: BreakGlassDetail = w
            .admin
            .get(&format!("/api/v1/break-glass/requests/{}", r.id))
            .await
            .assert_status(200)
            .json();
        match final_state.request.status {
            BreakGlassStatus::Approved => {
                assert_eq!(count("breakglass.approved"), 1, "exactly one last approval");
                assert_eq!(count("breakglass.cancel"), 0);
                assert!(ok >= 4, "quorum took at least 2 + 2 approvals, got {ok}");
                assert_ne!(cancelled, Some(200));
            }
            BreakGlassStatus::Cancelled => {
                assert_eq!(cancelled, Some(200));
                assert_eq!(count("breakglass.approved"), 0);
                assert_eq!(count("breakglass.cancel"), 1);
            }
            other => panic!("unexpected final status {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_requester_needs_a_fresh_step_up_to_reveal_or_start_a_root_session() {
    let w = world(1, 1).await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let max = person(&w.app, &w.admin, "max", &[&w.mfa_group]).await;
    let r = ask(&w).await;
    approve(&pam, &r).await.assert_status(200);
    approve(&max, &r).await.assert_status(200);
    // Six minutes after her last TOTP, Rita's password session alone reaches nothing.
    w.app.advance(Duration::from_secs(6 * 60));
    for (verb, body) in [
        ("reveal", json!({ "what": "password" })),
        ("reveal", json!({ "what": "totp" })),
        ("root-session", json!({ "task": "audit_root_credentials" })),
    ] {
        w.requester
            .b
            .post(&path(&r, verb), &body)
            .await
            .assert_error(403, "mfa_required");
    }
    let trail = trail_text(&w.app).await;
    assert!(
        !trail.contains("breakglass.reveal_password"),
        "nothing was revealed"
    );
    // A step-up opens them again.
    let code = totp_code(&w.requester.totp, w.app.now_ms());
    w.requester
        .b
        .post("/api/v1/auth/step-up", &json!({ "code": code }))
        .await
        .assert_status(200);
    let v: Revealed = w
        .requester
        .b
        .post(&path(&r, "reveal"), &json!({ "what": "password" }))
        .await
        .assert_status(200)
        .json();
    assert_eq!(v.value, ROOT_PASSWORD);
}

#[tokio::test]
async fn one_custodian_never_sets_both_halves_of_the_root_credential() {
    let w = world(1, 1).await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let max = person(&w.app, &w.admin, "max", &[&w.mfa_group]).await;
    let bea = person(&w.app, &w.admin, "bea", &[&w.password_group, &w.mfa_group]).await;
    let rotate = format!("/api/v1/break-glass/vault/{}/rotated", w.entry.id);
    let new_seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let message =
        |r: &crate::helpers::Reply| r.value()["error"]["message"].as_str().unwrap().to_string();

    // Both halves in one rotation: refused, even for someone in both groups.
    let both = bea
        .b
        .post(
            &rotate,
            &json!({ "password": "both-halves-1", "totp_seed": new_seed }),
        )
        .await;
    both.assert_error(403, "forbidden");
    assert!(message(&both).contains("both"), "{}", message(&both));
    // Each half only from its own group.
    let wrong = pam.b.post(&rotate, &json!({ "totp_seed": new_seed })).await;
    wrong.assert_error(403, "forbidden");
    assert!(
        message(&wrong).contains("MFA custodian"),
        "{}",
        message(&wrong)
    );
    max.b
        .post(&rotate, &json!({ "password": "max-sets-the-password" }))
        .await
        .assert_error(403, "forbidden");

    // Both halves in two rotations by one person: the second is refused.
    bea.b
        .post(&rotate, &json!({ "password": "bea-sets-the-password" }))
        .await
        .assert_status(200);
    let second = bea.b.post(&rotate, &json!({ "totp_seed": new_seed })).await;
    second.assert_error(403, "forbidden");
    assert!(
        message(&second).contains("You set the current root password"),
        "{}",
        message(&second)
    );
    // Someone else sets the other half; then bea may replace her own half again.
    max.b
        .post(&rotate, &json!({ "totp_seed": new_seed }))
        .await
        .assert_status(200);
    bea.b
        .post(&rotate, &json!({ "password": "bea-sets-it-again" }))
        .await
        .assert_status(200);
    // ...but not the seed over max's while her password is current.
    bea.b
        .post(&rotate, &json!({ "totp_seed": new_seed }))
        .await
        .assert_error(403, "forbidden");

    // Refusals change nothing and leak nothing.
    let rotations = w
        .app
        .all_events()
        .await
        .iter()
        .filter(|e| e.action == "vault.rotate")
        .count();
    assert_eq!(rotations, 3);
    let trail = trail_text(&w.app).await;
    for secret in [
        "both-halves-1",
        "bea-sets-the-password",
        "max-sets-the-password",
        new_seed,
    ] {
        assert!(
            !trail.contains(secret),
            "{secret} leaked into the audit trail"
        );
    }
}

#[tokio::test]
async fn a_pending_request_keeps_the_custody_it_was_made_under() {
    let w = world(2, 1).await;
    let pam = person(&w.app, &w.admin, "pam", &[&w.password_group]).await;
    let pat = person(&w.app, &w.admin, "pat", &[&w.password_group]).await;
    let max = person(&w.app, &w.admin, "max", &[&w.mfa_group]).await;
    let other_mfa = group(&w.admin, "other-mfa-custodians").await;
    let mo = person(&w.app, &w.admin, "mo", &[&other_mfa]).await;
    let entry_path = format!("/api/v1/break-glass/vault/{}", w.entry.id);

    // Not easier: M lowered from 2 to 1 after the request still needs 2.
    let r = ask(&w).await;
    w.admin
        .patch(&entry_path, &json!({ "password_approvals": 1 }))
        .await
        .assert_status(200);
    approve(&pam, &r).await.assert_status(200);
    let after: BreakGlassRequest = approve(&max, &r).await.assert_status(200).json();
    assert_eq!(
        (after.status, after.password_approvals_needed),
        (BreakGlassStatus::Pending, 2),
        "lowering M does not approve a request made under M = 2"
    );
    let done: BreakGlassRequest = approve(&pat, &r).await.assert_status(200).json();
    assert_eq!(done.status, BreakGlassStatus::Approved);

    // Not harder, and not someone else's: made under 1 + 1 with these groups, the request
    // keeps them when M and N are raised and the MFA custodians replaced.
    let r2 = ask(&w).await;
    assert_eq!(
        (r2.password_approvals_needed, r2.mfa_approvals_needed),
        (1, 1)
    );
    w.admin
        .patch(
            &entry_path,
            &json!({
                "password_approvals": 2,
                "mfa_approvals": 2,
                "mfa_group_id": other_mfa.id,
                "window_secs": 300,
            }),
        )
        .await
        .assert_status(200);
    // The new group's member is no custodian of this request.
    approve(&mo, &r2).await.assert_error(404, "not_found");
    approve(&pam, &r2).await.assert_status(200);
    let done: BreakGlassRequest = approve(&max, &r2).await.assert_status(200).json();
    assert_eq!(
        (
            done.status,
            done.password_approvals_needed,
            done.mfa_approvals_needed
        ),
        (BreakGlassStatus::Approved, 1, 1)
    );
    // The window is the one the request was made under too (15 minutes, not 5).
    let end = done.window_ends_at.unwrap();
    assert_eq!((end - done.decided_at.unwrap()).whole_seconds(), 900);

    // A request made now takes the new settings.
    let r3 = ask(&w).await;
    assert_eq!(
        (r3.password_approvals_needed, r3.mfa_approvals_needed),
        (2, 2)
    );
    approve(&max, &r3).await.assert_error(404, "not_found");
}
