//! `gatehouse serve --demo`: the demo company, used as its people would use it, and its
//! removal in one action.

use gatehouse::demo::DEMO_PASSWORD;
use gatehouse_shared::audit::Outcome;
use gatehouse_shared::auth::Role;
use gatehouse_shared::demo::{DemoGuide, DemoRemoved};
use gatehouse_shared::directory::{Account, User};
use gatehouse_shared::portal::Portal;
use gatehouse_shared::requests::{AccessRequest, RequestState};
use serde_json::{json, Value};

use crate::helpers::{TestApp, ADMIN_PASSWORD};

async fn demo() -> TestApp {
    TestApp::spawn_with(|c| c.demo = true).await
}

fn request<'a>(all: &'a [AccessRequest], set: &str, state: RequestState) -> &'a AccessRequest {
    all.iter()
        .find(|r| r.permission_set_name == set && r.state == state)
        .unwrap_or_else(|| panic!("no {state:?} request for {set} in {all:#?}"))
}

#[tokio::test]
async fn the_demo_company_shows_each_capability_to_the_person_it_is_for() {
    let app = demo().await;
    let admin = app.admin().await;

    let guide: Option<DemoGuide> = admin.get("/api/v1/demo").await.assert_status(200).json();
    let guide = guide.expect("the guide while the demo is there");
    assert_eq!(guide.password, DEMO_PASSWORD);
    let people: Vec<&str> = guide.people.iter().map(|p| p.username.as_str()).collect();
    assert_eq!(
        people,
        ["alice", "bob", "carol", "dave", "frank", "erin", "grace"]
    );

    // Accounts of the local provider, permission sets from read-only to administrator,
    // both kinds of policy, a vault entry and a (disabled) webhook endpoint.
    let accounts: Vec<Account> = admin.get("/api/v1/accounts").await.json();
    assert_eq!(accounts.len(), 3);
    let sets: Vec<Value> = admin.get("/api/v1/permission-sets").await.json();
    let names: Vec<&str> = sets.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["Administrator", "Developer", "ReadOnly"]);
    let eligibility: Vec<Value> = admin.get("/api/v1/eligibility-policies").await.json();
    assert_eq!(eligibility.len(), 1);
    let approval: Vec<Value> = admin.get("/api/v1/approval-policies").await.json();
    assert!(approval.iter().any(|p| p["approvals_needed"] == 2));
    let vault: Vec<Value> = admin.get("/api/v1/break-glass/vault").await.json();
    assert_eq!(vault.len(), 1);
    let endpoints: Vec<Value> = admin.get("/api/v1/notification-endpoints").await.json();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0]["enabled"], false);

    // Requests in every state a story has: ended, rejected, a grant in force, and one
    // that Bob approved and waits for the administrator.
    let all: Vec<AccessRequest> = admin.get("/api/v1/requests?scope=all").await.json();
    request(&all, "Developer", RequestState::Ended);
    request(&all, "Administrator", RequestState::Rejected);
    let grant = request(&all, "Developer", RequestState::Active);
    let ends = grant.ends_at.expect("the grant's end");
    let left = (ends.unix_timestamp() * 1000) - app.now_ms();
    assert!(
        (30 * 60_000..=60 * 60_000).contains(&left),
        "{left} ms left"
    );
    let waiting = request(&all, "Administrator", RequestState::Pending);
    assert_eq!(waiting.approvals_counted, 1);
    admin
        .post(
            &format!("/api/v1/requests/{}/approve", waiting.id),
            &json!({ "comment": "Second approval." }),
        )
        .await
        .assert_status(200);

    // Alice's portal has her standing access and both grants, and each gives credentials.
    let alice = app.browser();
    alice.sign_in("alice", DEMO_PASSWORD).await;
    let portal: Portal = alice.get("/api/v1/portal").await.json();
    let prod = portal
        .accounts
        .iter()
        .find(|a| a.name == "payments-prod")
        .expect("payments-prod in Alice's portal");
    let mut sets: Vec<&str> = prod
        .permission_sets
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    sets.sort_unstable();
    assert_eq!(sets, ["Administrator", "Developer", "ReadOnly"]);
    for p in &prod.permission_sets {
        alice
            .post(
                "/api/v1/portal/credentials",
                &json!({ "account_id": prod.account_id, "permission_set_id": p.permission_set_id }),
            )
            .await
            .assert_status(200);
    }
    alice.get("/api/v1/demo").await.assert_status(403);

    // Carol reads three days of history, and the chain verifies.
    let carol = app.browser();
    carol.sign_in("carol", DEMO_PASSWORD).await;
    let events = app.audit_events(&carol, "").await;
    let oldest = events.iter().map(|e| e.occurred_at).min().expect("events");
    let days = (app.now_ms() - oldest.unix_timestamp() * 1000) / 86_400_000;
    assert!(days >= 2, "the history goes back {days} days");
    assert!(events
        .iter()
        .any(|e| e.action == "auth.login" && e.outcome == Outcome::Failure));
    let verified: Value = carol.get("/api/v1/audit/verify").await.json();
    assert_eq!(verified["intact"], true, "{verified}");
}

#[tokio::test]
async fn removing_the_demo_takes_away_what_it_made_and_nothing_else() {
    let mut app = demo().await;
    let admin = app.admin().await;
    let zoe = app.create_user_with_roles(&admin, "zoe", &[]).await;

    // A demo permission set assigned outside the demo stops the removal, with the reason.
    let sets: Vec<Value> = admin.get("/api/v1/permission-sets").await.json();
    let developer = sets
        .iter()
        .find(|s| s["name"] == "Developer")
        .expect("Developer");
    let mine: Value = admin
        .post(
            "/api/v1/assignments",
            &json!({
                "principal_type": "user",
                "principal_id": zoe.id,
                "account_id": "1000000000000003",
                "permission_set_id": developer["id"],
            }),
        )
        .await
        .assert_status(201)
        .json();
    let refused = admin.delete("/api/v1/demo").await;
    refused.assert_status(409);
    assert!(admin
        .get("/api/v1/demo")
        .await
        .json::<Option<DemoGuide>>()
        .is_some());

    admin
        .delete(&format!(
            "/api/v1/assignments/{}",
            mine["id"].as_str().unwrap()
        ))
        .await
        .assert_status(204);
    let removed: DemoRemoved = admin.delete("/api/v1/demo").await.assert_status(200).json();
    assert!(removed.removed > 0, "{removed:?}");
    assert!(
        removed.already_gone > 0,
        "the first attempt's removals: {removed:?}"
    );

    let users: Vec<User> = admin.get("/api/v1/users").await.json();
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["admin", "zoe"]);
    for path in [
        "/api/v1/accounts",
        "/api/v1/permission-sets",
        "/api/v1/eligibility-policies",
        "/api/v1/approval-policies",
        "/api/v1/break-glass/vault",
        "/api/v1/notification-endpoints",
        "/api/v1/requests?scope=all",
    ] {
        let left: Vec<Value> = admin.get(path).await.json();
        assert!(left.is_empty(), "{path} still has {left:?}");
    }
    assert!(admin
        .get("/api/v1/demo")
        .await
        .json::<Option<DemoGuide>>()
        .is_none());
    assert_eq!(
        admin.delete("/api/v1/demo").await.assert_status(404).code(),
        "not_found"
    );
    let events = app.audit_events(&admin, "action=demo.remove").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_name, "admin");

    // A restart with --demo on a database in use makes no second company.
    app.restart().await;
    let admin = app.browser();
    admin.sign_in("admin", ADMIN_PASSWORD).await;
    let users: Vec<User> = admin.get("/api/v1/users").await.json();
    assert_eq!(users.len(), 2);
    let verified: Value = admin.get("/api/v1/audit/verify").await.json();
    assert_eq!(verified["intact"], true, "{verified}");
}

#[tokio::test]
async fn only_administrators_see_or_remove_the_demo() {
    let app = demo().await;
    let admin = app.admin().await;
    let auditor = app
        .signed_in_user(&admin, "quentin", &[Role::Auditor])
        .await;
    auditor.get("/api/v1/demo").await.assert_status(403);
    auditor.delete("/api/v1/demo").await.assert_status(403);
    app.browser().get("/api/v1/demo").await.assert_status(401);
    assert!(admin
        .get("/api/v1/demo")
        .await
        .json::<Option<DemoGuide>>()
        .is_some());

    // Without --demo there is no guide and nothing to remove.
    let plain = TestApp::spawn().await;
    let admin = plain.admin().await;
    assert!(admin
        .get("/api/v1/demo")
        .await
        .json::<Option<DemoGuide>>()
        .is_none());
    admin.delete("/api/v1/demo").await.assert_status(404);
}
