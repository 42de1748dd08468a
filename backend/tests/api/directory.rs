//! The directory API: users, groups, memberships and accounts; validation, conflicts, unknown
//! ids, malformed bodies; and the audit event each change leaves (before/after, no secrets).

use std::collections::BTreeSet;

use gatehouse_shared::audit::AuditEvent;
use gatehouse_shared::auth::Role;
use gatehouse_shared::directory::{Account, Group, GroupMember, User, UserSource};
use serde_json::{json, Value};

use crate::helpers::{Browser, Reply, TestApp, USER_PASSWORD};

/// The events about `target`, newest first.
async fn events_for(app: &TestApp, reader: &Browser, target: &str) -> Vec<AuditEvent> {
    app.audit_events(reader, &format!("target={target}")).await
}

fn field_set(reply: &Reply) -> BTreeSet<String> {
    reply.fields().into_iter().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_string()).collect()
}

/// A request with the session's CSRF token and a raw body and content type.
async fn raw_post(b: &Browser, path: &str, content_type: Option<&str>, body: String) -> Reply {
    let mut req = b
        .client
        .post(b.url(path))
        .header("x-csrf-token", b.csrf().unwrap())
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    Reply::read(req.send().await.unwrap()).await
}

#[tokio::test]
async fn users_are_created_read_changed_and_deleted_with_audit_images() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Act
    let created = admin
        .post(
            "/api/v1/users",
            &json!({ "username": " Alice ", "email": "alice@example.com", "display_name": "Alice Example" }),
        )
        .await;
    created.assert_status(201);
    let alice: User = created.json();
    let fetched: User = admin
        .get(&format!("/api/v1/users/{}", alice.id))
        .await
        .json();
    let search: Vec<User> = admin.get("/api/v1/users?q=ALI").await.json();
    let changed = admin
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            &json!({ "email": "alice@corp.example", "display_name": "Alice Corp" }),
        )
        .await;
    let deleted = admin.delete(&format!("/api/v1/users/{}", alice.id)).await;
    let after_delete = admin.get(&format!("/api/v1/users/{}", alice.id)).await;

    // Assert
    assert_eq!(alice.username, "alice", "trimmed and lower-cased");
    assert_eq!(alice.source, UserSource::Local);
    assert!(!alice.disabled && !alice.totp_enrolled && alice.groups.is_empty());
    assert_eq!(fetched, alice);
    assert_eq!(
        search
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["alice"]
    );
    changed.assert_status(200);
    let changed: User = changed.json();
    assert_eq!(
        (changed.email.as_str(), changed.display_name.as_str()),
        ("alice@corp.example", "Alice Corp")
    );
    deleted.assert_status(204);
    after_delete.assert_error(404, "not_found");
    let events = events_for(&app, &admin, &alice.id).await;
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "directory.user.delete",
            "directory.user.update",
            "directory.user.create"
        ]
    );
    assert!(events.iter().all(|e| e.actor_name == "admin"));
    let (delete, update, create) = (&events[0].details, &events[1].details, &events[2].details);
    assert_eq!(create["after"]["username"], "alice");
    assert!(create.get("before").is_none());
    assert_eq!(update["before"]["email"], "alice@example.com");
    assert_eq!(update["after"]["email"], "alice@corp.example");
    assert_eq!(delete["before"]["display_name"], "Alice Corp");
    assert!(delete.get("after").is_none());
}

#[tokio::test]
async fn groups_are_created_read_changed_and_deleted_with_audit_images() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Act
    let created = admin
        .post(
            "/api/v1/groups",
            &json!({ "name": "ops", "description": "Ops", "roles": ["auditor"] }),
        )
        .await;
    created.assert_status(201);
    let ops: Group = created.json();
    let listed: Vec<Group> = admin.get("/api/v1/groups").await.json();
    let changed: Group = admin
        .patch(
            &format!("/api/v1/groups/{}", ops.id),
            &json!({ "description": "Operations", "roles": ["auditor", "administrator"] }),
        )
        .await
        .assert_status(200)
        .json();
    let deleted = admin.delete(&format!("/api/v1/groups/{}", ops.id)).await;
    let after_delete = admin.get(&format!("/api/v1/groups/{}", ops.id)).await;

    // Assert
    assert_eq!(
        (ops.name.as_str(), ops.roles.as_slice()),
        ("ops", &[Role::Auditor][..])
    );
    assert_eq!(ops.member_count, 0);
    assert!(listed.iter().any(|g| g.id == ops.id));
    assert_eq!(changed.description, "Operations");
    assert_eq!(changed.roles, vec![Role::Administrator, Role::Auditor]);
    deleted.assert_status(204);
    after_delete.assert_error(404, "not_found");
    let events = events_for(&app, &admin, &ops.id).await;
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "directory.group.delete",
            "directory.group.update",
            "directory.group.create"
        ]
    );
    assert_eq!(events[2].details["after"]["roles"], "auditor");
    assert_eq!(events[1].details["before"]["description"], "Ops");
    assert_eq!(events[1].details["after"]["roles"], "administrator,auditor");
    assert_eq!(events[0].details["before"]["name"], "ops");
}

#[tokio::test]
async fn accounts_are_created_read_changed_and_deleted_with_audit_images() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let id = "1234567890123456";

    // Act
    let created = admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": id, "name": "Payments prod", "environment": "Production" }),
        )
        .await;
    created.assert_status(201);
    let account: Account = created.json();
    let fetched: Account = admin.get(&format!("/api/v1/accounts/{id}")).await.json();
    let listed: Vec<Account> = admin.get("/api/v1/accounts").await.json();
    let changed: Account = admin
        .patch(
            &format!("/api/v1/accounts/{id}"),
            &json!({ "name": "Payments" }),
        )
        .await
        .assert_status(200)
        .json();
    let deleted = admin.delete(&format!("/api/v1/accounts/{id}")).await;
    let after_delete = admin.get(&format!("/api/v1/accounts/{id}")).await;

    // Assert
    assert_eq!(account.id, id);
    assert_eq!(account.environment, "production", "lower-cased");
    assert_eq!(fetched, account);
    assert_eq!(listed, vec![account]);
    assert_eq!(
        (changed.name.as_str(), changed.environment.as_str()),
        ("Payments", "production")
    );
    deleted.assert_status(204);
    after_delete.assert_error(404, "not_found");
    let events = events_for(&app, &admin, id).await;
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "directory.account.delete",
            "directory.account.update",
            "directory.account.create"
        ]
    );
    assert_eq!(events[2].details["after"]["name"], "Payments prod");
    assert_eq!(events[1].details["before"]["name"], "Payments prod");
    assert_eq!(events[1].details["after"]["name"], "Payments");
    assert_eq!(events[0].details["before"]["environment"], "production");
}

#[tokio::test]
async fn invalid_fields_are_all_named_and_nothing_changes() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let events_before = app.all_events().await.len();
    let user: User = admin
        .post(
            "/api/v1/users",
            &json!({ "username": "valid", "email": "v@example.com", "display_name": "V" }),
        )
        .await
        .json();
    let group: Group = admin
        .post("/api/v1/groups", &json!({ "name": "valid" }))
        .await
        .json();
    admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": "1000000000000001", "name": "A", "environment": "dev" }),
        )
        .await
        .assert_status(201);

    // Act
    let bad_user = admin
        .post(
            "/api/v1/users",
            &json!({ "username": "-bad name", "email": "nope", "display_name": " ", "password": "short" }),
        )
        .await;
    let bad_user_change = admin
        .patch(
            &format!("/api/v1/users/{}", user.id),
            &json!({ "email": "a@b", "password": "short" }),
        )
        .await;
    let bad_group = admin
        .post(
            "/api/v1/groups",
            &json!({ "name": "a/b", "description": "x".repeat(1025) }),
        )
        .await;
    let bad_group_change = admin
        .patch(
            &format!("/api/v1/groups/{}", group.id),
            &json!({ "description": "x".repeat(1025) }),
        )
        .await;
    let bad_account = admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": "123", "name": "", "environment": "Prod Env" }),
        )
        .await;
    let bad_account_change = admin
        .patch(
            "/api/v1/accounts/1000000000000001",
            &json!({ "environment": "no spaces" }),
        )
        .await;

    // Assert
    for r in [
        &bad_user,
        &bad_user_change,
        &bad_group,
        &bad_group_change,
        &bad_account,
        &bad_account_change,
    ] {
        r.assert_error(422, "validation_failed");
        let v = r.value();
        assert!(
            v["error"]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| { f["message"].as_str().is_some_and(|m| !m.is_empty()) }),
            "each field has a message: {v}"
        );
    }
    assert_eq!(
        field_set(&bad_user),
        set(&["username", "email", "display_name", "password"])
    );
    assert_eq!(field_set(&bad_user_change), set(&["email", "password"]));
    assert_eq!(field_set(&bad_group), set(&["name", "description"]));
    assert_eq!(field_set(&bad_group_change), set(&["description"]));
    assert_eq!(field_set(&bad_account), set(&["id", "name", "environment"]));
    assert_eq!(field_set(&bad_account_change), set(&["environment"]));
    assert_eq!(
        app.all_events().await.len(),
        events_before + 3,
        "only the three valid creations were recorded"
    );
}

#[tokio::test]
async fn duplicates_are_conflicts() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = json!({ "username": "bob", "email": "bob@example.com", "display_name": "Bob" });
    let group = json!({ "name": "ops" });
    let account = json!({ "id": "1234567890123456", "name": "A", "environment": "dev" });
    admin.post("/api/v1/users", &user).await.assert_status(201);
    admin
        .post("/api/v1/groups", &group)
        .await
        .assert_status(201);
    admin
        .post("/api/v1/accounts", &account)
        .await
        .assert_status(201);

    // Act
    let same_user = admin
        .post(
            "/api/v1/users",
            &json!({ "username": "BOB", "email": "other@example.com", "display_name": "Other" }),
        )
        .await;
    let same_group = admin.post("/api/v1/groups", &group).await;
    let same_account = admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": "1234567890123456", "name": "B", "environment": "prod" }),
        )
        .await;
    let bootstrap_group = admin
        .post("/api/v1/groups", &json!({ "name": "gatehouse-admins" }))
        .await;

    // Assert
    same_user.assert_error(409, "conflict");
    same_group.assert_error(409, "conflict");
    same_account.assert_error(409, "conflict");
    bootstrap_group.assert_error(409, "conflict");
    let users: Vec<User> = admin.get("/api/v1/users").await.json();
    assert_eq!(users.iter().filter(|u| u.username == "bob").count(), 1);
    let creates = app
        .all_events()
        .await
        .iter()
        .filter(|e| e.action.ends_with(".create"))
        .count();
    assert_eq!(creates, 3, "refused creations leave no event");
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user: User = admin
        .post(
            "/api/v1/users",
            &json!({ "username": "real", "email": "r@example.com", "display_name": "R" }),
        )
        .await
        .json();
    let group: Group = admin
        .post("/api/v1/groups", &json!({ "name": "real" }))
        .await
        .json();
    let nobody = "00000000-0000-0000-0000-000000000000";
    let no_account = "9999999999999999";

    // Act
    let replies = vec![
        admin.get(&format!("/api/v1/users/{nobody}")).await,
        admin
            .patch(
                &format!("/api/v1/users/{nobody}"),
                &json!({ "display_name": "X" }),
            )
            .await,
        admin.delete(&format!("/api/v1/users/{nobody}")).await,
        admin.get(&format!("/api/v1/groups/{nobody}")).await,
        admin
            .patch(
                &format!("/api/v1/groups/{nobody}"),
                &json!({ "description": "X" }),
            )
            .await,
        admin.delete(&format!("/api/v1/groups/{nobody}")).await,
        admin.get(&format!("/api/v1/groups/{nobody}/members")).await,
        admin
            .put(&format!("/api/v1/groups/{nobody}/members/{}", user.id))
            .await,
        admin
            .put(&format!("/api/v1/groups/{}/members/{nobody}", group.id))
            .await,
        admin
            .delete(&format!("/api/v1/groups/{}/members/{}", group.id, user.id))
            .await,
        admin
            .delete(&format!("/api/v1/groups/{nobody}/members/{}", user.id))
            .await,
        admin.get(&format!("/api/v1/accounts/{no_account}")).await,
        admin
            .patch(
                &format!("/api/v1/accounts/{no_account}"),
                &json!({ "name": "X" }),
            )
            .await,
        admin
            .delete(&format!("/api/v1/accounts/{no_account}"))
            .await,
        admin.get("/api/v1/nothing-here").await,
        admin.get("/api").await,
    ];

    // Assert
    for r in &replies {
        r.assert_error(404, "not_found");
    }
    assert!(
        replies[0].body.contains("user"),
        "the message says what is missing: {}",
        replies[0].body
    );
}

#[tokio::test]
async fn malformed_bodies_are_refused_in_the_error_envelope() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let json_type = Some("application/json");

    // Act
    let not_json = raw_post(&admin, "/api/v1/groups", json_type, "{not json".into()).await;
    let wrong_type = raw_post(&admin, "/api/v1/groups", json_type, r#"{"name": 5}"#.into()).await;
    let missing = raw_post(
        &admin,
        "/api/v1/groups",
        json_type,
        r#"{"description": "x"}"#.into(),
    )
    .await;
    let unknown_role = raw_post(
        &admin,
        "/api/v1/groups",
        json_type,
        r#"{"name": "x", "roles": ["emperor"]}"#.into(),
    )
    .await;
    let text = raw_post(
        &admin,
        "/api/v1/groups",
        Some("text/plain"),
        r#"{"name": "x"}"#.into(),
    )
    .await;
    let form = raw_post(
        &admin,
        "/api/v1/groups",
        Some("application/x-www-form-urlencoded"),
        "name=x".into(),
    )
    .await;
    let no_type = raw_post(&admin, "/api/v1/groups", None, r#"{"name": "x"}"#.into()).await;
    let huge = raw_post(
        &admin,
        "/api/v1/groups",
        json_type,
        json!({ "name": "x", "description": "d".repeat(2 << 20) }).to_string(),
    )
    .await;
    let login_not_json = Reply::read(
        app.browser()
            .client
            .post(admin.url("/api/v1/auth/login"))
            .header("content-type", "application/json")
            .body("[")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let bad_query = admin.get("/api/v1/audit/events?limit=abc").await;

    // Assert
    not_json.assert_error(400, "invalid_json");
    wrong_type.assert_error(400, "invalid_json");
    missing.assert_error(400, "invalid_json");
    unknown_role.assert_error(400, "invalid_json");
    text.assert_error(415, "unsupported_media_type");
    form.assert_error(415, "unsupported_media_type");
    no_type.assert_error(415, "unsupported_media_type");
    huge.assert_error(413, "payload_too_large");
    login_not_json.assert_error(400, "invalid_json");
    bad_query.assert_error(400, "invalid_query");
    let groups: Vec<Group> = admin.get("/api/v1/groups").await.json();
    assert_eq!(groups.len(), 1, "only gatehouse-admins: {groups:?}");
}

#[tokio::test]
async fn members_are_added_and_removed_with_audit_events() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user: User = admin
        .post(
            "/api/v1/users",
            &json!({ "username": "mia", "email": "mia@example.com", "display_name": "Mia" }),
        )
        .await
        .json();
    let group: Group = admin
        .post("/api/v1/groups", &json!({ "name": "team" }))
        .await
        .json();
    let member_path = format!("/api/v1/groups/{}/members/{}", group.id, user.id);
    let members_path = format!("/api/v1/groups/{}/members", group.id);

    // Act
    let added = admin.put(&member_path).await;
    let added_again = admin.put(&member_path).await;
    let members: Vec<GroupMember> = admin.get(&members_path).await.json();
    let group_after: Group = admin
        .get(&format!("/api/v1/groups/{}", group.id))
        .await
        .json();
    let user_after: User = admin
        .get(&format!("/api/v1/users/{}", user.id))
        .await
        .json();
    let removed = admin.delete(&member_path).await;
    let removed_again = admin.delete(&member_path).await;
    let members_after: Vec<GroupMember> = admin.get(&members_path).await.json();

    // Assert
    added.assert_status(204);
    added_again.assert_status(204);
    assert_eq!(
        members,
        vec![GroupMember {
            user_id: user.id.clone(),
            username: "mia".into(),
            display_name: "Mia".into()
        }]
    );
    assert_eq!(group_after.member_count, 1);
    assert_eq!(
        user_after
            .groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>(),
        ["team"]
    );
    removed.assert_status(204);
    removed_again.assert_error(404, "not_found");
    assert!(members_after.is_empty());
    let events = events_for(&app, &admin, &group.id).await;
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "directory.group.member_remove",
            "directory.group.member_add",
            "directory.group.create"
        ],
        "adding twice records one event"
    );
    for e in &events[..2] {
        assert_eq!(e.details["user_id"], Value::String(user.id.clone()));
        assert_eq!(e.details["username"], "mia");
        assert_eq!(e.details["group"], "team");
    }
}

#[tokio::test]
async fn roles_follow_group_membership_at_once() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.create_user_with_roles(&admin, "pat", &[]).await;
    let pat = app.browser();
    pat.sign_in("pat", USER_PASSWORD).await;
    let auditors: Group = admin
        .post(
            "/api/v1/groups",
            &json!({ "name": "auditors", "roles": ["auditor"] }),
        )
        .await
        .json();
    let member = format!("/api/v1/groups/{}/members/{}", auditors.id, user.id);

    // Act
    let before = pat.get("/api/v1/audit/events").await;
    admin.put(&member).await.assert_status(204);
    let during = pat.get("/api/v1/audit/events").await;
    let write_during = pat.post("/api/v1/groups", &json!({ "name": "nope" })).await;
    admin.delete(&member).await.assert_status(204);
    let after = pat.get("/api/v1/audit/events").await;

    // Assert
    before.assert_error(403, "forbidden");
    during.assert_status(200);
    write_during.assert_error(403, "forbidden");
    after.assert_error(403, "forbidden");
}

#[tokio::test]
async fn an_administrator_cannot_lock_themselves_out() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let me: gatehouse_shared::auth::Me = admin.me().await.json();
    let admins = &me.groups[0];

    // Act
    let disable_self = admin
        .patch(
            &format!("/api/v1/users/{}", me.user.id),
            &json!({ "disabled": true }),
        )
        .await;
    let delete_self = admin.delete(&format!("/api/v1/users/{}", me.user.id)).await;
    let leave = admin
        .delete(&format!(
            "/api/v1/groups/{}/members/{}",
            admins.id, me.user.id
        ))
        .await;
    let drop_role = admin
        .patch(
            &format!("/api/v1/groups/{}", admins.id),
            &json!({ "roles": ["auditor"] }),
        )
        .await;
    let delete_group = admin.delete(&format!("/api/v1/groups/{}", admins.id)).await;

    // Assert
    assert_eq!(admins.name, "gatehouse-admins");
    for r in [
        &disable_self,
        &delete_self,
        &leave,
        &drop_role,
        &delete_group,
    ] {
        r.assert_error(409, "conflict");
    }
    let still: gatehouse_shared::auth::Me = admin.me().await.json();
    assert_eq!(still.roles, vec![Role::Administrator]);
}

#[tokio::test]
async fn audit_events_never_carry_passwords_hashes_or_totp_seeds() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let first_password = "first-password-of-sam";
    let second_password = "second-password-of-sam";

    // Act: everything that touches a secret.
    let sam: User = admin
        .post(
            "/api/v1/users",
            &json!({ "username": "sam", "email": "sam@example.com", "display_name": "Sam", "password": first_password }),
        )
        .await
        .assert_status(201)
        .json();
    admin
        .patch(
            &format!("/api/v1/users/{}", sam.id),
            &json!({ "password": second_password }),
        )
        .await
        .assert_status(200);
    let sam_browser = app.browser();
    sam_browser
        .login("sam", first_password, None)
        .await
        .assert_error(401, "invalid_credentials");
    sam_browser.sign_in("sam", second_password).await;
    let seed = app.enrol_totp(&sam_browser).await;
    let pending: gatehouse_shared::auth::TotpEnrollment = sam_browser
        .post(
            "/api/v1/me/mfa/totp",
            &json!({ "current_code": crate::helpers::totp_code(&seed, app.now_ms() + 30_000) }),
        )
        .await
        .assert_status(200)
        .json();
    let record = app.state.store.get_user(&sam.id).await.unwrap();
    let trail = serde_json::to_string(&app.audit_events(&admin, "").await).unwrap();
    let users_json = admin.get("/api/v1/users").await.body;

    // Assert
    let hash = record.password_hash.clone().unwrap();
    let sealed_seed = record.totp_secret_enc.clone().unwrap();
    let sealed_pending = record.totp_pending_enc.clone().unwrap();
    for secret in [
        first_password,
        second_password,
        hash.as_str(),
        "$argon2",
        seed.as_str(),
        pending.secret_base32.as_str(),
        sealed_seed.as_str(),
        sealed_pending.as_str(),
        crate::helpers::ADMIN_PASSWORD,
    ] {
        assert!(
            !trail.contains(secret),
            "the audit trail contains a secret: {secret}"
        );
        assert!(
            !users_json.contains(secret),
            "the user list contains a secret: {secret}"
        );
    }
    assert!(trail.contains("\"password_changed\":true"));
    assert!(trail.contains("auth.totp.enroll") && trail.contains("auth.totp.confirm"));
}
