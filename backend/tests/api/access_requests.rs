//! Just-in-time access end to end: eligibility and approval policies (strictest wins,
//! unapprovable requests refused up front), the request state machine and its rules
//! (self-approval, one decision per person, current approvers only, MFA freshness,
//! terminal states), scheduled starts, grants in the portal, and credentials that stop
//! working the moment a grant ends or is revoked (`/sts/`, an official SDK, credentials_uri).

use std::time::Duration;

use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::directory::{Group, User};
use gatehouse_shared::permission_sets::PermissionSet;
use gatehouse_shared::portal::{CredentialUri, IssuedCredentials, Portal};
use gatehouse_shared::requests::{AccessRequest, RequestState};
use serde_json::{json, Value};

use crate::helpers::{rfc3339, totp_code, Browser, TestApp, USER_PASSWORD};
use crate::sts::{account, issue, permission_set, Signer, ACCOUNT};

/// An administrator; alice (requester, also in the approvers group); bob, carol, dave
/// (approvers); the permission set `Ops` provisioned on [`ACCOUNT`] (assigned to `holder`,
/// so its role exists) and an eligibility policy for alice.
pub struct Jit {
    pub app: TestApp,
    pub admin: Browser,
    pub alice: Browser,
    pub alice_user: User,
    pub bob: Browser,
    pub carol: Browser,
    pub dave: Browser,
    pub users: Vec<User>,
    pub approvers: Group,
    pub ops: PermissionSet,
}

pub async fn jit() -> Jit {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    account(&admin, ACCOUNT).await;
    let ops = permission_set(&admin, "Ops", None).await;
    let holder = app.create_user_with_roles(&admin, "holder", &[]).await;
    crate::sts::assign(&admin, &holder, ACCOUNT, &ops, true).await;
    let approvers: Group = admin
        .post("/api/v1/groups", &json!({ "name": "approvers" }))
        .await
        .assert_status(201)
        .json();
    let mut users = Vec::new();
    let mut browsers = Vec::new();
    for name in ["alice", "bob", "carol", "dave"] {
        let u = app.create_user_with_roles(&admin, name, &[]).await;
        admin
            .put(&format!("/api/v1/groups/{}/members/{}", approvers.id, u.id))
            .await
            .assert_status(204);
        let b = app.browser();
        b.sign_in(name, USER_PASSWORD).await;
        users.push(u);
        browsers.push(b);
    }
    let mut it = browsers.into_iter();
    let (alice, bob, carol, dave) = (
        it.next().unwrap(),
        it.next().unwrap(),
        it.next().unwrap(),
        it.next().unwrap(),
    );
    let jit = Jit {
        alice_user: users[0].clone(),
        app,
        admin,
        alice,
        bob,
        carol,
        dave,
        users,
        approvers,
        ops,
    };
    jit.eligibility("alice", &jit.alice_user.id.clone(), json!({}))
        .await;
    jit
}

impl Jit {
    pub async fn eligibility(&self, name: &str, user_id: &str, extra: Value) -> Value {
        let mut body = json!({
            "name": name,
            "principal_type": "user",
            "principal_id": user_id,
            "account_ids": [ACCOUNT],
            "permission_set_ids": [self.ops.id],
            "max_duration_secs": 3600,
            "approval_required": true,
            "justification_required": true,
        });
        merge(&mut body, extra);
        self.admin
            .post("/api/v1/eligibility-policies", &body)
            .await
            .assert_status(201)
            .value()
    }

    pub async fn approval_policy(&self, needed: i64, extra: Value) -> Value {
        let mut body = json!({
            "name": format!("{needed} of approvers"),
            "account_id": ACCOUNT,
            "permission_set_id": self.ops.id,
            "approver_group_ids": [self.approvers.id],
            "approvals_needed": needed,
        });
        merge(&mut body, extra);
        self.admin
            .post("/api/v1/approval-policies", &body)
            .await
            .assert_status(201)
            .value()
    }

    pub async fn ask(&self, b: &Browser, extra: Value) -> crate::helpers::Reply {
        let mut body = json!({
            "account_id": ACCOUNT,
            "permission_set_id": self.ops.id,
            "duration_secs": 1800,
            "justification": "incident 42: restart the payment workers",
        });
        merge(&mut body, extra);
        b.post("/api/v1/requests", &body).await
    }

    pub async fn request(&self, extra: Value) -> AccessRequest {
        self.ask(&self.alice, extra).await.assert_status(201).json()
    }

    pub async fn events_of(&self, id: &str) -> Vec<String> {
        self.app
            .all_events()
            .await
            .into_iter()
            .filter(|e| e.target_id.as_deref() == Some(id) && e.outcome == "success")
            .map(|e| e.action)
            .collect()
    }
}

pub fn details(e: &gatehouse::audit::StoredEvent) -> Value {
    serde_json::from_str(&e.details).unwrap()
}

fn merge(body: &mut Value, extra: Value) {
    if let (Value::Object(m), Value::Object(e)) = (body, extra) {
        m.extend(e);
    }
}

pub async fn approve(b: &Browser, id: &str) -> crate::helpers::Reply {
    b.post(
        &format!("/api/v1/requests/{id}/approve"),
        &json!({ "comment": "ok" }),
    )
    .await
}

async fn act(b: &Browser, id: &str, verb: &str) -> crate::helpers::Reply {
    b.post(&format!("/api/v1/requests/{id}/{verb}"), &json!({}))
        .await
}

#[tokio::test]
async fn self_approval_is_refused_also_for_an_administrator() {
    let j = jit().await;
    j.approval_policy(1, json!({})).await;
    let r = j.request(json!({})).await;
    // alice is in the approvers group, but never an approver of her own request.
    assert!(r.approvers.iter().all(|a| a.name != "alice"));
    assert!(!r.can_approve);
    approve(&j.alice, &r.id)
        .await
        .assert_error(403, "self_approval");

    // The administrator, made eligible and an approver, cannot approve their own either.
    let admin_me = j.admin.me().await.value();
    let admin_id = admin_me["user"]["id"].as_str().unwrap().to_string();
    j.admin
        .put(&format!(
            "/api/v1/groups/{}/members/{admin_id}",
            j.approvers.id
        ))
        .await
        .assert_status(204);
    j.eligibility("admin", &admin_id, json!({})).await;
    let own: AccessRequest = j.ask(&j.admin, json!({})).await.assert_status(201).json();
    assert!(!own.can_approve);
    approve(&j.admin, &own.id)
        .await
        .assert_error(403, "self_approval");
    let after: AccessRequest = j
        .admin
        .get(&format!("/api/v1/requests/{}", own.id))
        .await
        .assert_status(200)
        .json();
    assert_eq!(after.state, RequestState::Pending);
    assert!(after.decisions.is_empty());
    // Refusals are audited.
    let denied = j
        .app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "access_request.approve" && e.outcome == "denied")
        .count();
    assert_eq!(denied, 2);
    // Someone else can.
    let done: AccessRequest = approve(&j.bob, &own.id).await.assert_status(200).json();
    assert_eq!(done.state, RequestState::Active);
}

#[tokio::test]
async fn a_double_approval_counts_once_and_only_distinct_approvers_reach_the_threshold() {
    let j = jit().await;
    j.approval_policy(2, json!({})).await;
    let r = j.request(json!({})).await;
    assert_eq!((r.approvals_needed, r.approvals_counted), (2, 0));
    assert_eq!(r.approvers.len(), 3);
    let once: AccessRequest = approve(&j.bob, &r.id).await.assert_status(200).json();
    assert_eq!(
        (once.state, once.approvals_counted),
        (RequestState::Pending, 1)
    );
    approve(&j.bob, &r.id).await.assert_error(409, "conflict");
    let still: AccessRequest = j
        .alice
        .get(&format!("/api/v1/requests/{}", r.id))
        .await
        .assert_status(200)
        .json();
    assert_eq!(
        (still.state, still.approvals_counted),
        (RequestState::Pending, 1)
    );
    // Someone outside the approver set is refused and does not count.
    let eve = j.app.signed_in_user(&j.admin, "eve", &[]).await;
    approve(&eve, &r.id).await.assert_error(404, "not_found");
    let done: AccessRequest = approve(&j.carol, &r.id).await.assert_status(200).json();
    assert_eq!(
        (done.state, done.approvals_counted),
        (RequestState::Active, 2)
    );
    assert!(done.ends_at.is_some());
    let events = j.events_of(&r.id).await;
    assert_eq!(
        events,
        [
            "access_request.create",
            "access_request.approve",
            "access_request.approve",
            "access_request.approved",
            "access_grant.start"
        ]
    );
    // The contract's details on the quorum event.
    let approved = j
        .app
        .all_events()
        .await
        .into_iter()
        .find(|e| e.action == "access_request.approved")
        .unwrap();
    let d = details(&approved);
    assert_eq!(d["request_id"], r.id.as_str());
    assert_eq!(d["requester_id"], j.alice_user.id.as_str());
    assert_eq!(d["requester_name"], "alice");
    assert_eq!(d["account_id"], ACCOUNT);
    assert_eq!(d["permission_set_name"], "Ops");
    assert_eq!(d["approvals"], 2);
    assert_eq!(d["needed"], 2);
    assert_eq!(d["notify_user_ids"][0], j.alice_user.id.as_str());
    // The whole story, in order, in one call.
    let timeline: Vec<Value> = j
        .alice
        .get(&format!("/api/v1/requests/{}/timeline", r.id))
        .await
        .assert_status(200)
        .json();
    let actions: Vec<&str> = timeline
        .iter()
        .filter(|e| e["outcome"] == "success")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        events.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

/// A request cannot be edited: a change (a longer duration, say) is a new request, so no
/// approval given to what was asked before counts for what is asked now.
#[tokio::test]
async fn a_change_to_what_is_asked_is_a_new_request_without_the_earlier_approvals() {
    let j = jit().await;
    j.approval_policy(2, json!({})).await;
    let r = j.request(json!({ "duration_secs": 1800 })).await;
    let half: AccessRequest = approve(&j.bob, &r.id).await.assert_status(200).json();
    assert_eq!(half.approvals_counted, 1);
    // No way to change the approved-of request in place.
    let path = format!("/api/v1/requests/{}", r.id);
    let longer = json!({ "duration_secs": 3600 });
    j.alice
        .patch(&path, &longer)
        .await
        .assert_error(405, "method_not_allowed");
    let unchanged: AccessRequest = j.alice.get(&path).await.assert_status(200).json();
    assert_eq!(
        (unchanged.duration_secs, unchanged.approvals_counted),
        (1800, 1)
    );
    // The change is asked for anew; bob's approval stays with the old request.
    act(&j.alice, &r.id, "cancel").await.assert_status(200);
    let again = j.request(longer).await;
    assert_ne!(again.id, r.id);
    assert_eq!((again.approvals_needed, again.approvals_counted), (2, 0));
    let one: AccessRequest = approve(&j.carol, &again.id).await.assert_status(200).json();
    assert_eq!(
        (one.state, one.approvals_counted),
        (RequestState::Pending, 1)
    );
    approve(&j.dave, &r.id)
        .await
        .assert_error(409, "invalid_state");
}

#[tokio::test]
async fn decisions_after_a_rejection_cancellation_timeout_or_grant_end_are_refused() {
    let j = jit().await;
    j.approval_policy(1, json!({ "pending_lifetime_secs": 600 }))
        .await;

    let rejected = j.request(json!({})).await;
    let r: AccessRequest = j
        .bob
        .post(
            &format!("/api/v1/requests/{}/reject", rejected.id),
            &json!({ "comment": "not during the freeze" }),
        )
        .await
        .assert_status(200)
        .json();
    assert_eq!(r.state, RequestState::Rejected);
    approve(&j.carol, &rejected.id)
        .await
        .assert_error(409, "invalid_state");
    act(&j.alice, &rejected.id, "cancel")
        .await
        .assert_error(409, "invalid_state");

    let cancelled = j.request(json!({})).await;
    // Only the requester cancels.
    act(&j.bob, &cancelled.id, "cancel")
        .await
        .assert_error(403, "forbidden");
    let c: AccessRequest = act(&j.alice, &cancelled.id, "cancel")
        .await
        .assert_status(200)
        .json();
    assert_eq!(c.state, RequestState::Cancelled);
    approve(&j.bob, &cancelled.id)
        .await
        .assert_error(409, "invalid_state");

    let timed = j.request(json!({})).await;
    j.app.advance(Duration::from_secs(600));
    // Refused as soon as the lifetime is over, before any background step ran…
    approve(&j.bob, &timed.id)
        .await
        .assert_error(409, "invalid_state");
    // …and the step records it once, on however many ticks.
    assert_eq!(j.app.tick().await.requests_transitioned, 1);
    assert_eq!(j.app.tick().await.requests_transitioned, 0);
    let t: AccessRequest = j
        .alice
        .get(&format!("/api/v1/requests/{}", timed.id))
        .await
        .json();
    assert_eq!(t.state, RequestState::TimedOut);
    assert_eq!(
        j.events_of(&timed.id).await,
        ["access_request.create", "access_request.expire"]
    );
    approve(&j.bob, &timed.id)
        .await
        .assert_error(409, "invalid_state");

    let granted = j.request(json!({ "duration_secs": 900 })).await;
    approve(&j.bob, &granted.id).await.assert_status(200);
    j.app.advance(Duration::from_secs(900));
    j.app.tick().await;
    let g: AccessRequest = j
        .alice
        .get(&format!("/api/v1/requests/{}", granted.id))
        .await
        .json();
    assert_eq!(g.state, RequestState::Expired);
    for (b, verb) in [
        (&j.carol, "approve"),
        (&j.alice, "end"),
        (&j.admin, "revoke"),
    ] {
        let path = format!("/api/v1/requests/{}/{verb}", granted.id);
        let code = b.post(&path, &json!({})).await.code();
        assert!(
            code == "invalid_state" || code == "not_found",
            "{verb}: {code}"
        );
    }
    let ev = j
        .app
        .all_events()
        .await
        .into_iter()
        .find(|e| e.action == "access_grant.end")
        .unwrap();
    assert_eq!(details(&ev)["reason"], "expired");
}

#[tokio::test]
async fn an_approver_removed_from_the_group_no_longer_counts() {
    let j = jit().await;
    j.approval_policy(2, json!({})).await;
    let r = j.request(json!({})).await;
    approve(&j.bob, &r.id).await.assert_status(200);
    let bob_id = &j.users[1].id;
    j.admin
        .delete(&format!(
            "/api/v1/groups/{}/members/{bob_id}",
            j.approvers.id
        ))
        .await
        .assert_status(204);
    let now: AccessRequest = approve(&j.carol, &r.id).await.assert_status(200).json();
    assert_eq!(
        (now.state, now.approvals_counted),
        (RequestState::Pending, 1)
    );
    let bob_decision = now
        .decisions
        .iter()
        .find(|d| d.approver_name == "bob")
        .unwrap();
    assert!(!bob_decision.counts);
    let done: AccessRequest = approve(&j.dave, &r.id).await.assert_status(200).json();
    assert_eq!(
        (done.state, done.approvals_counted),
        (RequestState::Active, 2)
    );
}

#[tokio::test]
async fn the_strictest_matching_policies_win() {
    let j = jit().await;
    // A broad policy (any account, any set, one approval by the leads) and a specific one
    // (two approvals by the approvers group, MFA).
    let leads: Group = j
        .admin
        .post("/api/v1/groups", &json!({ "name": "leads" }))
        .await
        .assert_status(201)
        .json();
    j.admin
        .put(&format!(
            "/api/v1/groups/{}/members/{}",
            leads.id, j.users[1].id
        ))
        .await
        .assert_status(204);
    j.admin
        .post(
            "/api/v1/approval-policies",
            &json!({
                "name": "broad", "account_id": "*", "permission_set_id": "*",
                "approver_group_ids": [leads.id], "approvals_needed": 1,
                "pending_lifetime_secs": 600,
            }),
        )
        .await
        .assert_status(201);
    j.approval_policy(2, json!({ "mfa_required": true })).await;
    // A second eligibility policy through a group: shorter maximum, ticket required.
    let staff: Group = j
        .admin
        .post("/api/v1/groups", &json!({ "name": "staff" }))
        .await
        .assert_status(201)
        .json();
    j.admin
        .put(&format!(
            "/api/v1/groups/{}/members/{}",
            staff.id, j.alice_user.id
        ))
        .await
        .assert_status(204);
    j.admin
        .post(
            "/api/v1/eligibility-policies",
            &json!({
                "name": "staff", "principal_type": "group", "principal_id": staff.id,
                "account_ids": ["*"], "permission_set_ids": ["*"], "max_duration_secs": 1200,
                "approval_required": false, "ticket_required": true,
            }),
        )
        .await
        .assert_status(201);
    // alice signs in again so her session knows her new group.
    let alice = j.app.browser();
    alice.sign_in("alice", USER_PASSWORD).await;
    let el: Value = alice
        .get("/api/v1/requests/eligibility")
        .await
        .assert_status(200)
        .value();
    let limits = &el["items"][0]["limits"];
    assert_eq!(el["items"].as_array().unwrap().len(), 1);
    assert_eq!(limits["max_duration_secs"], 1200);
    assert_eq!(limits["approval_required"], true);
    assert_eq!(limits["ticket_required"], true);
    assert_eq!(limits["justification_required"], true);
    assert_eq!(limits["approvals_needed"], 2);
    assert_eq!(limits["mfa_required"], true);
    assert_eq!(limits["pending_lifetime_secs"], 600);
    let refused = j.ask(&alice, json!({})).await;
    refused.assert_error(422, "validation_failed");
    assert_eq!(refused.fields(), ["duration_secs", "ticket"]);
    let r: AccessRequest = j
        .ask(&alice, json!({ "duration_secs": 1200, "ticket": "INC-7" }))
        .await
        .assert_status(201)
        .json();
    assert_eq!(r.approvals_needed, 2);
    assert!(r.mfa_required);
    // The approvers are those of the strictest policy (the specific one), not the leads'.
    let mut names: Vec<&str> = r.approvers.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["bob", "carol", "dave"]);
}

#[tokio::test]
async fn a_request_no_one_could_approve_is_refused_up_front() {
    let j = jit().await;
    // No approval policy at all.
    j.ask(&j.alice, json!({}))
        .await
        .assert_error(422, "unapprovable");
    // Four approvals needed, but only bob, carol and dave can give them (alice is the
    // requester and does not count).
    let p = j.approval_policy(4, json!({})).await;
    let reply = j.ask(&j.alice, json!({})).await;
    reply.assert_error(422, "unapprovable");
    assert!(reply.value()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("only 3"));
    j.admin
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/approval-policies/{}", p["id"].as_str().unwrap()),
            Some(&json!({
                "name": "three", "account_id": ACCOUNT, "permission_set_id": j.ops.id,
                "approver_group_ids": [j.approvers.id], "approvals_needed": 3,
            })),
        )
        .await
        .assert_status(200);
    j.ask(&j.alice, json!({})).await.assert_status(201);
    // Not eligible at all: refused, with nothing stored.
    let eve = j.app.signed_in_user(&j.admin, "eve", &[]).await;
    j.ask(&eve, json!({}))
        .await
        .assert_error(403, "not_eligible");
    let mine: Vec<AccessRequest> = eve.get("/api/v1/requests").await.assert_status(200).json();
    assert!(mine.is_empty());
}

#[tokio::test]
async fn an_approver_needs_a_fresh_mfa_when_the_policy_demands_it() {
    let j = jit().await;
    j.approval_policy(1, json!({ "mfa_required": true })).await;
    let r = j.request(json!({})).await;
    approve(&j.bob, &r.id)
        .await
        .assert_error(403, "mfa_required");
    let secret = j.app.enrol_totp(&j.bob).await;
    j.app.advance(Duration::from_secs(6 * 60));
    approve(&j.bob, &r.id)
        .await
        .assert_error(403, "mfa_required");
    let code = totp_code(&secret, j.app.now_ms());
    j.bob
        .post("/api/v1/auth/step-up", &json!({ "code": code }))
        .await
        .assert_status(200);
    j.app.advance(Duration::from_secs(4 * 60));
    let done: AccessRequest = approve(&j.bob, &r.id).await.assert_status(200).json();
    assert_eq!(done.state, RequestState::Active);
}

#[tokio::test]
async fn a_scheduled_request_starts_when_its_time_comes() {
    let j = jit().await;
    j.approval_policy(1, json!({})).await;
    let start = j.app.now_ms() + 1_200_000;
    let r = j.request(json!({ "start_at": rfc3339(start) })).await;
    let a: AccessRequest = approve(&j.bob, &r.id).await.assert_status(200).json();
    assert_eq!(a.state, RequestState::Approved);
    let portal: Portal = j.alice.get("/api/v1/portal").await.json();
    assert!(portal.accounts.is_empty());
    j.app.advance(Duration::from_secs(1199));
    assert_eq!(j.app.tick().await.requests_transitioned, 0);
    j.app.advance(Duration::from_secs(1));
    assert_eq!(j.app.tick().await.requests_transitioned, 1);
    let now: AccessRequest = j
        .alice
        .get(&format!("/api/v1/requests/{}", r.id))
        .await
        .json();
    assert_eq!(now.state, RequestState::Active);
    assert_eq!(now.ends_at.unwrap().unix_timestamp(), (start / 1000) + 1800);
    let portal: Portal = j.alice.get("/api/v1/portal").await.json();
    assert_eq!(portal.accounts[0].permission_sets[0].name, "Ops");
}

#[tokio::test]
async fn a_grant_shows_in_the_portal_and_its_credentials_fail_once_it_ends_or_is_revoked() {
    let j = jit().await;
    j.approval_policy(1, json!({})).await;
    let base = j.app.base_url.clone();
    let r = j.request(json!({})).await;
    // Nothing in the portal before approval; issuing is refused.
    let portal: Portal = j.alice.get("/api/v1/portal").await.json();
    assert!(portal.accounts.is_empty());
    j.alice
        .post(
            "/api/v1/portal/credentials",
            &json!({ "account_id": ACCOUNT, "permission_set_id": j.ops.id }),
        )
        .await
        .assert_status(403);
    let active: AccessRequest = approve(&j.bob, &r.id).await.assert_status(200).json();
    let ends = active.ends_at.unwrap();
    let portal: Portal = j.alice.get("/api/v1/portal").await.json();
    let ps = &portal.accounts[0].permission_sets[0];
    assert_eq!(ps.grant_id.as_deref(), Some(r.id.as_str()));
    assert_eq!(ps.grant_ends_at, Some(ends));
    // Credentials never outlive the grant (the permission set allows 2 hours).
    let c: IssuedCredentials = issue(&j.alice, ACCOUNT, &j.ops, json!({})).await;
    assert!(c.expiration <= ends);
    assert!(c.expiration >= ends - time::Duration::seconds(2));
    let (status, _) = Signer::new(&base, &c, j.app.now_ms())
        .rpc("GetCallerIdentity", &[], "g-1")
        .await;
    assert_eq!(status, 200);
    let uri: CredentialUri = j
        .alice
        .post(
            "/api/v1/portal/credential-uris",
            &json!({ "account_id": ACCOUNT, "permission_set_id": j.ops.id }),
        )
        .await
        .assert_status(201)
        .json();
    assert!(uri.expires_at <= ends);
    let url = uri.url.clone().unwrap();
    let path = url.trim_start_matches(&base);
    let ok = j.alice.get(path).await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    // Only the requester ends it early.
    act(&j.bob, &r.id, "end")
        .await
        .assert_error(403, "forbidden");
    let ended: AccessRequest = act(&j.alice, &r.id, "end").await.assert_status(200).json();
    assert_eq!(ended.state, RequestState::Ended);
    let (_, v) = Signer::new(&base, &c, j.app.now_ms())
        .rpc("GetCallerIdentity", &[], "g-2")
        .await;
    assert_eq!(v["Code"], "InvalidSecurityToken.Revoked");
    let refused = crate::helpers::Browser::cookieless(&base).get(path).await;
    assert_ne!(refused.status, 200);
    let portal: Portal = j.alice.get("/api/v1/portal").await.json();
    assert!(portal.accounts.is_empty());
    let ev = j
        .app
        .all_events()
        .await
        .into_iter()
        .find(|e| e.action == "access_grant.end")
        .unwrap();
    assert_eq!(details(&ev)["reason"], "ended_early");

    // A second grant, revoked by an approver; alice (the requester) cannot revoke.
    let r2 = j.request(json!({})).await;
    approve(&j.carol, &r2.id).await.assert_status(200);
    let c2 = issue(&j.alice, ACCOUNT, &j.ops, json!({})).await;
    act(&j.alice, &r2.id, "revoke")
        .await
        .assert_error(403, "forbidden");
    let revoked: AccessRequest = act(&j.dave, &r2.id, "revoke")
        .await
        .assert_status(200)
        .json();
    assert_eq!(revoked.state, RequestState::Revoked);
    let (_, v) = Signer::new(&base, &c2, j.app.now_ms())
        .v3("GetCallerIdentity", &[], "g-3")
        .await;
    assert_eq!(v["Code"], "InvalidSecurityToken.Revoked");
    // Another instance learns of it from the database on its next reload.
    let fresh = gatehouse::sts::Revocations::default();
    fresh
        .reload(&*j.app.state.store, j.app.now_ms())
        .await
        .unwrap();
    let claims = j
        .app
        .state
        .sts
        .keys
        .open(&c2.access_key_id, &c2.security_token)
        .unwrap();
    assert_eq!(claims.gr.as_deref(), Some(r2.id.as_str()));
    assert!(fresh.is_revoked(&claims));
}

#[tokio::test]
async fn an_official_sdk_call_fails_once_the_grant_is_revoked() {
    let j = jit().await;
    j.approval_policy(1, json!({})).await;
    let endpoint = j.app.base_url.trim_start_matches("http://").to_string();
    let r = j.request(json!({})).await;
    approve(&j.bob, &r.id).await.assert_status(200);
    let c = issue(&j.alice, ACCOUNT, &j.ops, json!({})).await;
    let ok = crate::sdk::with_keys(&endpoint, "tea-v3", &c).await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(
        ok["arn"],
        format!("acs:ram::{ACCOUNT}:assumed-role/GatehouseSSO-Ops/alice")
    );
    act(&j.admin, &r.id, "revoke").await.assert_status(200);
    for mode in ["tea-v3", "tea-rpc", "legacy"] {
        crate::sdk::assert_code(
            &crate::sdk::with_keys(&endpoint, mode, &c).await,
            "InvalidSecurityToken.Revoked",
        );
    }
}

#[tokio::test]
async fn policies_are_validated_and_only_administrators_write_them() {
    let j = jit().await;
    let bad = j
        .admin
        .post(
            "/api/v1/approval-policies",
            &json!({
                "name": "", "account_id": "9999999999999999", "permission_set_id": "*",
                "approvals_needed": 0,
            }),
        )
        .await;
    bad.assert_error(422, "validation_failed");
    let fields = bad.fields();
    for f in ["name", "approver_group_ids", "approvals_needed"] {
        assert!(fields.iter().any(|x| x == f), "{fields:?}");
    }
    let unknown = j
        .admin
        .post(
            "/api/v1/eligibility-policies",
            &json!({
                "name": "x", "principal_type": "group", "principal_id": "nope",
                "account_ids": ["*"], "permission_set_ids": ["*"], "max_duration_secs": 3600,
                "approval_required": false,
            }),
        )
        .await;
    unknown.assert_error(422, "validation_failed");
    assert_eq!(unknown.fields(), ["principal_id"]);
    j.bob
        .post(
            "/api/v1/eligibility-policies",
            &json!({
                "name": "x", "principal_type": "user", "principal_id": j.users[1].id,
                "account_ids": ["*"], "permission_set_ids": ["*"], "max_duration_secs": 3600,
                "approval_required": false,
            }),
        )
        .await
        .assert_error(403, "forbidden");
    let listed: Vec<Value> = j
        .admin
        .get("/api/v1/eligibility-policies")
        .await
        .assert_status(200)
        .json();
    assert_eq!(listed.len(), 1);
    let id = listed[0]["id"].as_str().unwrap();
    j.admin
        .delete(&format!("/api/v1/eligibility-policies/{id}"))
        .await
        .assert_status(204);
    j.ask(&j.alice, json!({}))
        .await
        .assert_error(403, "not_eligible");
}

#[tokio::test]
async fn without_approval_required_a_grant_starts_at_once() {
    let j = jit().await;
    let bob_id = j.users[1].id.clone();
    j.eligibility(
        "bob self-service",
        &bob_id,
        json!({ "approval_required": false, "justification_required": false }),
    )
    .await;
    let r: AccessRequest = j
        .ask(&j.bob, json!({ "justification": "" }))
        .await
        .assert_status(201)
        .json();
    assert_eq!(r.state, RequestState::Active);
    assert_eq!(
        j.events_of(&r.id).await,
        [
            "access_request.create",
            "access_request.approved",
            "access_grant.start"
        ]
    );
}

#[tokio::test]
async fn what_only_an_eligibility_policy_covers_gets_a_role_a_grant_can_use() {
    // Arrange: `Break` is assigned to nobody; only a policy lets bob ask for it.
    let j = jit().await;
    let bob_id = j.users[1].id.clone();
    let lone = permission_set(&j.admin, "Break", None).await;
    let roles = |ps: &str| format!("/api/v1/permission-sets/{ps}/roles");
    let listed = |v: Value| -> Vec<(String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["account_id"].as_str().unwrap().into(),
                    r["status"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert!(listed(j.admin.get(&roles(&lone.id)).await.value()).is_empty());

    // Act: the policy makes the role; provisioning it makes the grant usable.
    let policy = j
        .eligibility(
            "bob may break",
            &bob_id,
            json!({ "permission_set_ids": [lone.id], "approval_required": false, "justification_required": false }),
        )
        .await;
    let before = listed(j.admin.get(&roles(&lone.id)).await.value());
    j.admin
        .post(
            &format!("/api/v1/permission-sets/{}/provision", lone.id),
            &json!({}),
        )
        .await
        .assert_status(200);
    let grant: AccessRequest = j
        .ask(
            &j.bob,
            json!({ "permission_set_id": lone.id, "justification": "" }),
        )
        .await
        .assert_status(201)
        .json();
    let issued = j
        .bob
        .post(
            "/api/v1/portal/credentials",
            &json!({ "account_id": ACCOUNT, "permission_set_id": lone.id }),
        )
        .await;

    // Assert
    assert_eq!(
        before,
        [(ACCOUNT.to_string(), "not_provisioned".to_string())]
    );
    assert_eq!(grant.state, RequestState::Active);
    issued.assert_status(200);

    // The role goes with the last thing that needed it; the assigned one stays.
    j.admin
        .delete(&format!(
            "/api/v1/eligibility-policies/{}",
            policy["id"].as_str().unwrap()
        ))
        .await
        .assert_status(204);
    assert!(listed(j.admin.get(&roles(&lone.id)).await.value()).is_empty());
    assert_eq!(
        listed(j.admin.get(&roles(&j.ops.id)).await.value()).len(),
        1
    );
}

#[tokio::test]
async fn an_approver_sees_who_asks_where_what_it_grants_and_whether_it_could_be_used() {
    // Arrange: Ops has a provisioned role; Fresh only an eligibility policy's, never
    // provisioned.
    let j = jit().await;
    j.approval_policy(1, json!({})).await;
    let fresh = permission_set(&j.admin, "Fresh", None).await;
    j.eligibility(
        "alice fresh",
        &j.alice_user.id.clone(),
        json!({ "permission_set_ids": [fresh.id] }),
    )
    .await;
    j.approval_policy(1, json!({ "name": "fresh", "permission_set_id": fresh.id }))
        .await;
    let ready = j.request(json!({})).await;
    let unusable = j.request(json!({ "permission_set_id": fresh.id })).await;

    // Act
    let inbox: Vec<AccessRequest> = j
        .bob
        .get("/api/v1/approvals")
        .await
        .assert_status(200)
        .json();
    let mine: Vec<AccessRequest> = j.alice.get("/api/v1/requests").await.json();
    let one: AccessRequest = j
        .bob
        .get(&format!("/api/v1/requests/{}", ready.id))
        .await
        .assert_status(200)
        .json();

    // Assert
    let context = |id: &str| {
        inbox
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| r.context.clone())
            .expect("the request in bob's inbox, with its context")
    };
    let ops = context(&ready.id);
    assert_eq!(ops.requester_display_name, "Test user alice");
    assert_eq!(ops.account_environment, "prod");
    assert_eq!(ops.system_policies, ["AliyunECSReadOnlyAccess"]);
    assert!(ops.role_usable);
    assert!(!context(&unusable.id).role_usable);
    assert_eq!(one.context, Some(ops));
    assert!(mine.iter().all(|r| r.context.is_none()), "lists stay lean");
}

#[tokio::test]
async fn a_new_request_says_truthfully_who_was_told_and_how() {
    let j = jit().await;
    j.approval_policy(1, json!({})).await;

    // No mail and no webhook: no one was told, and the answer names whom to ask.
    let first = j.request(json!({})).await;
    let told = first.notified.expect("who was told");
    let mut people = told.people.clone();
    people.sort();
    assert_eq!(
        people,
        ["Test user bob", "Test user carol", "Test user dave"]
    );
    assert!(!told.by_email);
    assert!(told.webhooks.is_empty());
    assert!(told
        .sentence()
        .starts_with("No e-mail or webhook is set up, so no one was told: ask "));

    // An enabled endpoint that wants new requests is named; a disabled one is not.
    for (name, enabled) in [("Chat", true), ("Pager", false)] {
        j.admin
            .post(
                "/api/v1/notification-endpoints",
                &json!({
                    "name": name,
                    "url": "https://hooks.example.com/gatehouse",
                    "event_types": ["access_request.create"],
                    "enabled": enabled,
                }),
            )
            .await
            .assert_status(201);
    }
    j.alice
        .post(&format!("/api/v1/requests/{}/cancel", first.id), &json!({}))
        .await
        .assert_status(200);
    let second = j.request(json!({})).await;
    assert_eq!(second.notified.expect("who was told").webhooks, ["Chat"]);
    let read: AccessRequest = j
        .alice
        .get(&format!("/api/v1/requests/{}", second.id))
        .await
        .json();
    assert!(
        read.notified.is_none(),
        "only the answer to creating it says it"
    );
}

#[tokio::test]
async fn policies_that_cannot_work_say_why_and_a_group_that_shrinks_shows_it() {
    let j = jit().await;
    let warnings = |v: &Value| -> Vec<String> {
        v["warnings"]
            .as_array()
            .map(|w| w.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    // Four approvers (alice, bob, carol, dave), none with an authenticator.
    let fine = j.approval_policy(4, json!({})).await;
    assert!(warnings(&fine).is_empty(), "{fine}");
    let too_many = j.approval_policy(5, json!({ "name": "five" })).await;
    assert_eq!(
        warnings(&too_many),
        ["Only 4 people can approve, but 5 approvals are needed: no request could ever be approved. Add approvers or lower the number."]
    );
    let mfa = j
        .approval_policy(1, json!({ "name": "mfa", "mfa_required": true }))
        .await;
    assert_eq!(
        warnings(&mfa),
        ["A fresh MFA check is required, but alice, bob, carol, dave have no authenticator: they cannot approve until they enrol one under My account."]
    );

    // The group shrinks: the policy that was fine now says so, on every read.
    let dave = &j.users[3];
    j.admin
        .delete(&format!(
            "/api/v1/groups/{}/members/{}",
            j.approvers.id, dave.id
        ))
        .await
        .assert_status(204);
    let read: Value = j
        .admin
        .get(&format!(
            "/api/v1/approval-policies/{}",
            fine["id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(warnings(&read).len(), 1, "{read}");
    assert!(warnings(&read)[0].starts_with("Only 3 people can approve, but 4"));

    // An eligibility policy for a role nobody provisioned says so, until it is.
    let fresh = permission_set(&j.admin, "Fresh", None).await;
    let eligible = j
        .eligibility(
            "fresh",
            &j.alice_user.id.clone(),
            json!({ "permission_set_ids": [fresh.id] }),
        )
        .await;
    assert_eq!(
        warnings(&eligible),
        [format!("Not provisioned yet: Fresh in {ACCOUNT}. A grant cannot be used until its role is provisioned on the permission set's page.")]
    );
    j.admin
        .post(
            &format!("/api/v1/permission-sets/{}/provision", fresh.id),
            &json!({}),
        )
        .await
        .assert_status(200);
    let listed: Vec<Value> = j.admin.get("/api/v1/eligibility-policies").await.json();
    assert!(listed.iter().all(|p| warnings(p).is_empty()), "{listed:?}");
}

/// The randomized concurrency test: thousands of requests, each with 2–20 approvers and a
/// threshold of 1–5, each hit by a random burst of approve / reject / cancel / expire /
/// end / revoke (and refused self- and outsider approvals) issued concurrently against
/// the real store. Afterwards every request's audit trail is replayed through the state
/// machine: no double grant, no grant without quorum, no transition out of a terminal
/// state, and the stored state is where the replay ends. `JIT_RACE_SEED` replays a run;
/// `JIT_RACE_REQUESTS` changes its size.
mod race {
    use std::collections::HashMap;
    use std::sync::Arc;

    use gatehouse::access_requests::{cancel_plan, close_grant_plan, decide_plan, due_plan, Actor};
    use gatehouse::audit::{AuditCtx, NewEvent};
    use gatehouse::store::{AccessRequestRecord, NewUserRecord, RequestSnapshot, Store};
    use gatehouse_shared::requests::DecisionKind;
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// A request id, its approvers, its threshold and the burst of operations it gets.
    type Scenario = (String, Arc<Vec<String>>, i64, Vec<Op>);

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Approve(usize),
        Reject(usize),
        SelfApprove,
        Outsider,
        Cancel,
        Expire,
        End,
        Revoke,
    }

    fn actor(id: &str, admin: bool) -> Actor {
        Actor {
            id: id.into(),
            name: id.into(),
            is_admin: admin,
            mfa_fresh: true,
            ctx: AuditCtx {
                actor_id: Some(id.into()),
                actor_name: id.into(),
                source_ip: None,
                user_agent: None,
            },
        }
    }

    async fn user(store: &dyn Store, id: &str, now: i64) {
        let ev = NewEvent::new(
            now,
            &AuditCtx::system(),
            AuditAction::DirectoryUserCreate,
            "user",
            Some(id.into()),
        );
        store
            .create_user(
                NewUserRecord {
                    id: id.into(),
                    username: id.into(),
                    email: format!("{id}@example.com"),
                    display_name: id.into(),
                    source: "local".into(),
                    password_hash: None,
                    created_at: now,
                },
                ev,
            )
            .await
            .unwrap();
    }

    async fn run(
        store: Arc<dyn Store>,
        id: String,
        op: Op,
        approvers: Arc<Vec<String>>,
        now: i64,
        far: i64,
    ) -> bool {
        let requester = actor("requester", false);
        let admin = actor("root-admin", true);
        let result = match op {
            Op::Approve(i) | Op::Reject(i) => {
                let who = actor(&approvers[i], false);
                let kind = if matches!(op, Op::Approve(_)) {
                    DecisionKind::Approve
                } else {
                    DecisionKind::Reject
                };
                let plan = |s: &RequestSnapshot| decide_plan(s, &who, kind, "", now);
                store.transition_request(&id, &plan).await
            }
            Op::SelfApprove => {
                let plan = |s: &RequestSnapshot| {
                    decide_plan(s, &requester, DecisionKind::Approve, "", now)
                };
                store.transition_request(&id, &plan).await
            }
            Op::Outsider => {
                let who = actor("outsider", false);
                let plan =
                    |s: &RequestSnapshot| decide_plan(s, &who, DecisionKind::Approve, "", now);
                store.transition_request(&id, &plan).await
            }
            Op::Cancel => {
                let plan = |s: &RequestSnapshot| cancel_plan(s, &requester, now);
                store.transition_request(&id, &plan).await
            }
            Op::Expire => {
                let plan = |s: &RequestSnapshot| due_plan(s, far);
                store.transition_request(&id, &plan).await
            }
            Op::End => {
                let plan = |s: &RequestSnapshot| close_grant_plan(s, &requester, false, now);
                store.transition_request(&id, &plan).await
            }
            Op::Revoke => {
                let plan = |s: &RequestSnapshot| close_grant_plan(s, &admin, true, now);
                store.transition_request(&id, &plan).await
            }
        };
        match result {
            Ok(_) => true,
            Err(gatehouse::access_requests::RequestError::Store(e)) => panic!("store error: {e}"),
            Err(gatehouse::access_requests::RequestError::Busy) => panic!("a transition starved"),
            Err(_) => false,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn randomized_concurrent_transitions_keep_every_invariant() {
        let seed: u64 = std::env::var("JIT_RACE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| rand::thread_rng().gen());
        let n: usize = std::env::var("JIT_RACE_REQUESTS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2_000);
        println!("randomized JIT race: JIT_RACE_SEED={seed} JIT_RACE_REQUESTS={n}");
        let mut rng = StdRng::seed_from_u64(seed);
        let app = TestApp::spawn().await;
        let admin = app.admin().await;
        account(&admin, ACCOUNT).await;
        let ops_set = permission_set(&admin, "Ops", None).await;
        let store = app.state.store.clone();
        let now = app.now_ms();
        let far = now + 10 * 3_600_000;
        user(&*store, "requester", now).await;
        user(&*store, "outsider", now).await;
        let mut pool = Vec::new();
        for i in 0..20 {
            let id = format!("approver-{i:02}");
            user(&*store, &id, now).await;
            pool.push(id);
        }

        // The requests, with their approver sets and thresholds.
        let mut plans: Vec<Scenario> = Vec::with_capacity(n);
        for i in 0..n {
            let k = rng.gen_range(2..=20);
            let mut approvers = pool.clone();
            approvers.shuffle(&mut rng);
            approvers.truncate(k);
            let needed = rng.gen_range(1..=5_i64.min(i64::try_from(k).unwrap()));
            let id = format!("req-{i:05}");
            let len = rng.gen_range(3..=10);
            let ops: Vec<Op> = (0..len)
                .map(|_| match rng.gen_range(0..100) {
                    0..=49 => Op::Approve(rng.gen_range(0..k)),
                    50..=59 => Op::Reject(rng.gen_range(0..k)),
                    60..=67 => Op::Cancel,
                    68..=75 => Op::Expire,
                    76..=83 => Op::End,
                    84..=91 => Op::Revoke,
                    92..=95 => Op::SelfApprove,
                    _ => Op::Outsider,
                })
                .collect();
            let record = AccessRequestRecord {
                id: id.clone(),
                requester_id: "requester".into(),
                requester_name: "requester".into(),
                account_id: ACCOUNT.into(),
                account_name: String::new(),
                permission_set_id: ops_set.id.clone(),
                permission_set_name: "Ops".into(),
                duration_secs: 3_600,
                justification: "race".into(),
                ticket: None,
                requested_start_at: None,
                state: "pending".into(),
                version: 1,
                approval_required: true,
                approvals_needed: needed,
                rejections_to_end: rng.gen_range(1..=3),
                mfa_required: false,
                pending_expires_at: now + 3 * 3_600_000,
                starts_at: None,
                ends_at: None,
                closed_at: None,
                closed_by: None,
                created_at: now,
                updated_at: now,
            };
            let ev = NewEvent::new(
                now,
                &AuditCtx::system(),
                AuditAction::AccessRequestCreate,
                "access_request",
                Some(id.clone()),
            );
            store
                .create_request(record, &[], &approvers, vec![ev])
                .await
                .unwrap();
            plans.push((id, Arc::new(approvers), needed, ops));
        }
        let total_ops: usize = plans.iter().map(|p| p.3.len()).sum();
        assert!(n < 2_000 || total_ops >= 10_000, "{total_ops} operations");

        // Each request's burst runs concurrently; 24 requests are in flight at a time.
        let started = std::time::Instant::now();
        let gate = Arc::new(tokio::sync::Semaphore::new(24));
        let mut set = tokio::task::JoinSet::new();
        for (id, approvers, _, ops) in &plans {
            let permit = gate.clone().acquire_owned().await.unwrap();
            let (store, id, approvers, ops) =
                (store.clone(), id.clone(), approvers.clone(), ops.clone());
            set.spawn(async move {
                let mut burst = tokio::task::JoinSet::new();
                for op in ops {
                    burst.spawn(run(
                        store.clone(),
                        id.clone(),
                        op,
                        approvers.clone(),
                        now,
                        far,
                    ));
                }
                let mut ok = 0usize;
                while let Some(r) = burst.join_next().await {
                    ok += usize::from(r.unwrap());
                }
                drop(permit);
                ok
            });
        }
        let mut succeeded = 0;
        while let Some(r) = set.join_next().await {
            succeeded += r.unwrap();
        }
        println!(
            "{total_ops} concurrent operations on {n} requests in {:?}, {succeeded} succeeded",
            started.elapsed()
        );

        // Replay every request's trail.
        let mut trails: HashMap<String, Vec<gatehouse::audit::StoredEvent>> = HashMap::new();
        for e in app.all_events().await {
            if e.target_type == "access_request" {
                trails
                    .entry(e.target_id.clone().unwrap())
                    .or_default()
                    .push(e);
            }
        }
        let mut violations = Vec::new();
        let mut primary = 0usize;
        let mut grants = 0usize;
        for (id, approvers, needed, _) in &plans {
            let trail = &trails[id];
            let snap = store.get_request(id).await.unwrap();
            let mut state = "none";
            let mut approvals_seen = 0i64;
            let mut starts = 0;
            for e in trail {
                let d = &super::details(e);
                let next = match (state, e.action.as_str()) {
                    ("none", "access_request.create") => "pending",
                    ("pending", "access_request.approve") => {
                        approvals_seen += 1;
                        "pending"
                    }
                    ("pending", "access_request.reject") => {
                        if d["final"] == true {
                            "rejected"
                        } else {
                            "pending"
                        }
                    }
                    ("pending", "access_request.approved") => {
                        if approvals_seen < *needed
                            || d["approvals"].as_i64().unwrap_or(0) < *needed
                        {
                            violations.push(format!(
                                "{id}: quorum {approvals_seen}/{needed} at approval"
                            ));
                        }
                        "approved"
                    }
                    ("approved", "access_grant.start") => {
                        starts += 1;
                        "active"
                    }
                    ("pending" | "approved", "access_request.cancel") => "cancelled",
                    ("pending", "access_request.expire") => "timed_out",
                    ("active", "access_grant.end") => {
                        if d["reason"] == "expired" {
                            "expired"
                        } else {
                            "ended"
                        }
                    }
                    ("active", "access_grant.revoke") => "revoked",
                    (s, a) => {
                        violations.push(format!("{id}: {a} in state {s}"));
                        s
                    }
                };
                state = next;
                if !matches!(
                    e.action.as_str(),
                    "access_request.create" | "access_request.approved" | "access_grant.start"
                ) {
                    primary += 1;
                }
            }
            grants += starts;
            if starts > 1 {
                violations.push(format!("{id}: {starts} grants"));
            }
            if snap.request.state != state {
                violations.push(format!(
                    "{id}: stored {} but the trail ends in {state}",
                    snap.request.state
                ));
            }
            let approving: std::collections::HashSet<&str> = snap
                .decisions
                .iter()
                .filter(|d| d.decision == "approve")
                .map(|d| d.approver_id.as_str())
                .collect();
            if starts == 1 && i64::try_from(approving.len()).unwrap() < *needed {
                violations.push(format!(
                    "{id}: a grant with {} distinct approvals of {needed}",
                    approving.len()
                ));
            }
            for d in &snap.decisions {
                if !approvers.contains(&d.approver_id) {
                    violations.push(format!("{id}: a decision by {}", d.approver_id));
                }
            }
        }
        if primary != succeeded {
            violations.push(format!(
                "{succeeded} operations succeeded but {primary} were recorded"
            ));
        }
        println!("{grants} grants");
        assert!(
            violations.is_empty(),
            "JIT_RACE_SEED={seed}: {violations:#?}"
        );
    }
}
