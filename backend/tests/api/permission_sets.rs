//! Permission sets, assignments and provisioning through the API: validation (the inline
//! policy's fault position, name, duration, catalogue), uniqueness, assignments to users and
//! groups, the role status life cycle with its ARNs, audit images, and deletion refused while
//! assigned.

use gatehouse_shared::audit::AuditEvent;
use gatehouse_shared::directory::{Account, Group, User};
use gatehouse_shared::permission_sets::{
    Assignment, PermissionSet, ProvisionedRole, ProvisioningStatus, SystemPolicy,
};
use serde_json::{json, Value};

use crate::helpers::{Browser, TestApp};

const ACCOUNT_A: &str = "1111000011110000";
const ACCOUNT_B: &str = "2222000022220000";

/// An inline policy whose `Effect` on line 5 is not Allow or Deny.
const BAD_POLICY: &str = "{\n  \"Version\": \"1\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Permit\",\n      \"Action\": \"ecs:*\",\n      \"Resource\": \"*\"\n    }\n  ]\n}";

const GOOD_POLICY: &str = r#"{"Version": "1", "Statement": [{"Effect": "Deny", "Action": "ecs:DeleteInstance", "Resource": "*"}]}"#;

async fn create_set(admin: &Browser, body: &Value) -> PermissionSet {
    admin
        .post("/api/v1/permission-sets", body)
        .await
        .assert_status(201)
        .json()
}

async fn create_account(admin: &Browser, id: &str) -> Account {
    admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": id, "name": format!("Account {id}"), "environment": "dev" }),
        )
        .await
        .assert_status(201)
        .json()
}

async fn assign(
    admin: &Browser,
    kind: &str,
    principal: &str,
    account: &str,
    set: &str,
) -> Assignment {
    admin
        .post(
            "/api/v1/assignments",
            &json!({
                "principal_type": kind,
                "principal_id": principal,
                "account_id": account,
                "permission_set_id": set,
            }),
        )
        .await
        .assert_status(201)
        .json()
}

async fn roles(admin: &Browser, set: &str) -> Vec<ProvisionedRole> {
    admin
        .get(&format!("/api/v1/permission-sets/{set}/roles"))
        .await
        .assert_status(200)
        .json()
}

fn statuses(roles: &[ProvisionedRole]) -> Vec<(&str, ProvisioningStatus)> {
    roles
        .iter()
        .map(|r| (r.account_id.as_str(), r.status))
        .collect()
}

async fn events(app: &TestApp, admin: &Browser, action: &str) -> Vec<AuditEvent> {
    app.audit_events(admin, &format!("action={action}")).await
}

fn field_message(body: &Value, field: &str) -> String {
    body["error"]["fields"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["field"] == field))
        .and_then(|f| f["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn an_invalid_inline_policy_is_refused_with_the_line_and_column_of_the_fault() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Act
    let reply = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "Broken", "inline_policy": BAD_POLICY }),
        )
        .await;
    let too_long = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "Long", "inline_policy": "x".repeat(6_145) }),
        )
        .await;

    // Assert
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.fields(), ["inline_policy"]);
    let message = field_message(&reply.value(), "inline_policy");
    assert!(message.contains("line 5, column 17"), "{message}");
    assert!(message.contains("Permit"), "{message}");
    too_long.assert_error(422, "validation_failed");
    assert!(field_message(&too_long.value(), "inline_policy").contains("6,144"));
    let listed: Vec<PermissionSet> = admin.get("/api/v1/permission-sets").await.json();
    assert!(listed.is_empty(), "nothing half-written");
    assert!(events(&app, &admin, "permission_set.*").await.is_empty());
}

#[tokio::test]
async fn a_valid_permission_set_is_created_read_and_audited() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Act
    let created = create_set(
        &admin,
        &json!({
            "name": "Ops-Admin",
            "description": "  Operations  ",
            "relay_state": "https://ecs.console.aliyun.com/",
            "system_policies": ["AliyunECSFullAccess", "AliyunOSSReadOnlyAccess"],
            "inline_policy": GOOD_POLICY,
        }),
    )
    .await;
    let fetched: PermissionSet = admin
        .get(&format!("/api/v1/permission-sets/{}", created.id))
        .await
        .assert_status(200)
        .json();
    let catalogue: Vec<SystemPolicy> = admin
        .get("/api/v1/system-policies")
        .await
        .assert_status(200)
        .json();

    // Assert
    assert_eq!(created.name, "Ops-Admin");
    assert_eq!(created.role_name, "GatehouseSSO-Ops-Admin");
    assert_eq!(created.description, "Operations");
    assert_eq!(created.session_duration_secs, 3_600, "the default");
    assert_eq!(created.version, 1);
    assert_eq!(
        created.system_policies,
        ["AliyunECSFullAccess", "AliyunOSSReadOnlyAccess"]
    );
    assert_eq!(created.inline_policy.as_deref(), Some(GOOD_POLICY));
    assert_eq!(fetched, created);
    assert!(catalogue.len() >= 10);
    assert!(catalogue
        .iter()
        .any(|p| p.name == "AdministratorAccess" && p.document.contains("\"Version\": \"1\"")));
    let created_events = events(&app, &admin, "permission_set.create").await;
    assert_eq!(created_events.len(), 1);
    assert_eq!(
        created_events[0].target_id.as_deref(),
        Some(created.id.as_str())
    );
    assert_eq!(created_events[0].details["after"]["name"], "Ops-Admin");
    assert_eq!(
        created_events[0].details["after"]["inline_policy"],
        GOOD_POLICY
    );
}

#[tokio::test]
async fn names_are_unique_ignoring_case_and_keep_to_their_alphabet() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    create_set(&admin, &json!({ "name": "Developers" })).await;

    // Act
    let same = admin
        .post("/api/v1/permission-sets", &json!({ "name": "Developers" }))
        .await;
    let other_case = admin
        .post("/api/v1/permission-sets", &json!({ "name": "developers" }))
        .await;
    let bad_chars = admin
        .post("/api/v1/permission-sets", &json!({ "name": "dev_ops" }))
        .await;
    let too_long = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "a".repeat(33) }),
        )
        .await;

    // Assert
    same.assert_error(409, "conflict");
    other_case.assert_error(409, "conflict");
    bad_chars.assert_error(422, "validation_failed");
    assert_eq!(bad_chars.fields(), ["name"]);
    too_long.assert_error(422, "validation_failed");
}

#[tokio::test]
async fn session_durations_stay_within_fifteen_minutes_and_twelve_hours() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Act
    let short = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "Short", "session_duration_secs": 899 }),
        )
        .await;
    let long = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "Long", "session_duration_secs": 43_201 }),
        )
        .await;
    let min = create_set(
        &admin,
        &json!({ "name": "Min", "session_duration_secs": 900 }),
    )
    .await;
    let max = create_set(
        &admin,
        &json!({ "name": "Max", "session_duration_secs": 43_200 }),
    )
    .await;
    let patched_too_long = admin
        .patch(
            &format!("/api/v1/permission-sets/{}", min.id),
            &json!({ "session_duration_secs": 50_000 }),
        )
        .await;

    // Assert
    short.assert_error(422, "validation_failed");
    assert_eq!(short.fields(), ["session_duration_secs"]);
    long.assert_error(422, "validation_failed");
    assert_eq!(long.fields(), ["session_duration_secs"]);
    assert_eq!(min.session_duration_secs, 900);
    assert_eq!(max.session_duration_secs, 43_200);
    patched_too_long.assert_error(422, "validation_failed");
}

#[tokio::test]
async fn system_policies_must_come_from_the_catalogue_without_repeats() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Act
    let unknown = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "X", "system_policies": ["AliyunECSFullAccess", "AliyunMadeUpAccess"] }),
        )
        .await;
    let twice = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "Y", "system_policies": ["ReadOnlyAccess", "ReadOnlyAccess"] }),
        )
        .await;
    let many: Vec<String> = (0..21).map(|i| format!("P{i}")).collect();
    let too_many = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "Z", "system_policies": many }),
        )
        .await;
    let bad_relay = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "R", "relay_state": "http://ecs.console.aliyun.com/" }),
        )
        .await;

    // Assert
    unknown.assert_error(422, "validation_failed");
    assert!(field_message(&unknown.value(), "system_policies").contains("AliyunMadeUpAccess"));
    twice.assert_error(422, "validation_failed");
    assert_eq!(twice.fields(), ["system_policies"]);
    too_many.assert_error(422, "validation_failed");
    bad_relay.assert_error(422, "validation_failed");
    assert_eq!(bad_relay.fields(), ["relay_state"]);
}

#[tokio::test]
async fn assignments_go_to_users_and_groups_and_refuse_unknown_things() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user: User = app.create_user_with_roles(&admin, "alice", &[]).await;
    let group: Group = admin
        .post("/api/v1/groups", &json!({ "name": "engineers" }))
        .await
        .assert_status(201)
        .json();
    create_account(&admin, ACCOUNT_A).await;
    create_account(&admin, ACCOUNT_B).await;
    let set = create_set(&admin, &json!({ "name": "Dev" })).await;

    // Act
    let to_user = assign(&admin, "user", &user.id, ACCOUNT_A, &set.id).await;
    let to_group = assign(&admin, "group", &group.id, ACCOUNT_B, &set.id).await;
    let duplicate = admin
        .post(
            "/api/v1/assignments",
            &json!({ "principal_type": "user", "principal_id": user.id, "account_id": ACCOUNT_A, "permission_set_id": set.id }),
        )
        .await;
    let unknown = |kind: &str, principal: &str, account: &str, ps: &str| json!({ "principal_type": kind, "principal_id": principal, "account_id": account, "permission_set_id": ps });
    let no_user = admin
        .post(
            "/api/v1/assignments",
            &unknown("user", "nobody", ACCOUNT_A, &set.id),
        )
        .await;
    let no_group = admin
        .post(
            "/api/v1/assignments",
            &unknown("group", "nogroup", ACCOUNT_A, &set.id),
        )
        .await;
    let no_account = admin
        .post(
            "/api/v1/assignments",
            &unknown("user", &user.id, "9999999999999999", &set.id),
        )
        .await;
    let no_set = admin
        .post(
            "/api/v1/assignments",
            &unknown("user", &user.id, ACCOUNT_A, "no-such-set"),
        )
        .await;
    let bad_kind = admin
        .post(
            "/api/v1/assignments",
            &unknown("robot", &user.id, ACCOUNT_A, &set.id),
        )
        .await;
    let all: Vec<Assignment> = admin
        .get("/api/v1/assignments")
        .await
        .assert_status(200)
        .json();
    let on_a: Vec<Assignment> = admin
        .get(&format!("/api/v1/assignments?account_id={ACCOUNT_A}"))
        .await
        .json();
    let of_group: Vec<Assignment> = admin
        .get(&format!(
            "/api/v1/assignments?principal_type=group&principal_id={}",
            group.id
        ))
        .await
        .json();
    let of_set: Vec<Assignment> = admin
        .get(&format!("/api/v1/assignments?permission_set_id={}", set.id))
        .await
        .json();
    let bad_filter = admin.get("/api/v1/assignments?principal_type=robot").await;

    // Assert
    assert_eq!(to_user.principal_name, "alice");
    assert_eq!(to_user.permission_set_name, "Dev");
    assert_eq!(to_group.principal_name, "engineers");
    duplicate.assert_error(409, "conflict");
    no_user.assert_error(404, "not_found");
    no_group.assert_error(404, "not_found");
    no_account.assert_error(404, "not_found");
    no_set.assert_error(404, "not_found");
    bad_kind.assert_error(400, "invalid_json");
    bad_filter.assert_error(422, "validation_failed");
    assert_eq!(all.len(), 2);
    assert_eq!(on_a, vec![to_user.clone()]);
    assert_eq!(of_group, vec![to_group.clone()]);
    assert_eq!(of_set.len(), 2);
    let created = events(&app, &admin, "assignment.create").await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].details["after"]["principal_name"], "engineers");
    assert_eq!(created[0].details["role_created"], true);

    // Deleting the user takes its assignment (and the role nobody is assigned to) with it.
    admin
        .delete(&format!("/api/v1/users/{}", user.id))
        .await
        .assert_status(204);
    let left: Vec<Assignment> = admin.get("/api/v1/assignments").await.json();
    assert_eq!(left, vec![to_group]);
    assert_eq!(
        statuses(&roles(&admin, &set.id).await),
        [(ACCOUNT_B, ProvisioningStatus::NotProvisioned)]
    );
}

#[tokio::test]
async fn roles_move_from_not_provisioned_to_provisioned_and_back_when_the_set_changes() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user: User = app.create_user_with_roles(&admin, "bob", &[]).await;
    let group: Group = admin
        .post("/api/v1/groups", &json!({ "name": "ops" }))
        .await
        .assert_status(201)
        .json();
    create_account(&admin, ACCOUNT_A).await;
    create_account(&admin, ACCOUNT_B).await;
    let set = create_set(&admin, &json!({ "name": "Ops" })).await;
    let path = format!("/api/v1/permission-sets/{}", set.id);

    // Act + Assert, step by step
    assert!(
        roles(&admin, &set.id).await.is_empty(),
        "no assignment, no role"
    );

    assign(&admin, "user", &user.id, ACCOUNT_A, &set.id).await;
    let first = roles(&admin, &set.id).await;
    assert_eq!(
        statuses(&first),
        [(ACCOUNT_A, ProvisioningStatus::NotProvisioned)]
    );
    assert_eq!(first[0].role_name, "GatehouseSSO-Ops");
    assert_eq!(
        first[0].arn,
        format!("acs:ram::{ACCOUNT_A}:role/GatehouseSSO-Ops")
    );
    assert_eq!(first[0].provisioned_at, None);

    let provisioned: Vec<ProvisionedRole> = admin
        .post(&format!("{path}/provision"), &json!({}))
        .await
        .assert_status(200)
        .json();
    assert_eq!(
        statuses(&provisioned),
        [(ACCOUNT_A, ProvisioningStatus::Provisioned)]
    );
    assert_eq!(provisioned[0].provisioned_version, Some(1));
    assert!(provisioned[0].provisioned_at.is_some());

    let unchanged: PermissionSet = admin
        .patch(&path, &json!({ "description": "" }))
        .await
        .assert_status(200)
        .json();
    assert_eq!(
        unchanged.version, 1,
        "a change that changes nothing is no change"
    );
    assert_eq!(
        statuses(&roles(&admin, &set.id).await)[0].1,
        ProvisioningStatus::Provisioned
    );

    let changed: PermissionSet = admin
        .patch(
            &path,
            &json!({ "system_policies": ["ReadOnlyAccess"], "session_duration_secs": 7_200 }),
        )
        .await
        .assert_status(200)
        .json();
    assert_eq!(changed.version, 2);
    let after_change = roles(&admin, &set.id).await;
    assert_eq!(
        statuses(&after_change),
        [(ACCOUNT_A, ProvisioningStatus::NeedsReprovisioning)]
    );
    assert_eq!(after_change[0].provisioned_version, Some(1));
    assert_eq!(after_change[0].current_version, 2);

    assign(&admin, "group", &group.id, ACCOUNT_B, &set.id).await;
    assert_eq!(
        statuses(&roles(&admin, &set.id).await),
        [
            (ACCOUNT_A, ProvisioningStatus::NeedsReprovisioning),
            (ACCOUNT_B, ProvisioningStatus::NotProvisioned)
        ]
    );

    let only_a: Vec<ProvisionedRole> = admin
        .post(
            &format!("{path}/provision"),
            &json!({ "account_ids": [ACCOUNT_A] }),
        )
        .await
        .assert_status(200)
        .json();
    assert_eq!(
        statuses(&only_a),
        [(ACCOUNT_A, ProvisioningStatus::Provisioned)]
    );
    assert_eq!(only_a[0].provisioned_version, Some(2));
    assert_eq!(
        statuses(&roles(&admin, &set.id).await),
        [
            (ACCOUNT_A, ProvisioningStatus::Provisioned),
            (ACCOUNT_B, ProvisioningStatus::NotProvisioned)
        ]
    );

    admin
        .post(
            &format!("{path}/provision"),
            &json!({ "account_ids": ["3333000033330000"] }),
        )
        .await
        .assert_error(404, "not_found");
    admin
        .post("/api/v1/permission-sets/no-such-set/provision", &json!({}))
        .await
        .assert_error(404, "not_found");

    // No body at all provisions every assigned account.
    let everything = crate::helpers::Reply::read(
        admin
            .client
            .post(admin.url(&format!("{path}/provision")))
            .header("x-csrf-token", admin.csrf().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    everything.assert_status(200);
    assert_eq!(
        statuses(&roles(&admin, &set.id).await),
        [
            (ACCOUNT_A, ProvisioningStatus::Provisioned),
            (ACCOUNT_B, ProvisioningStatus::Provisioned)
        ]
    );
    assert_eq!(
        roles(&admin, &set.id).await[1].arn,
        format!("acs:ram::{ACCOUNT_B}:role/GatehouseSSO-Ops")
    );

    // The trail: each provisioning with the status before and after; the change with its
    // images and the roles it sent back to re-provisioning.
    let provisions = events(&app, &admin, "permission_set.provision").await;
    assert_eq!(provisions.len(), 3);
    let last = &provisions[0].details;
    assert_eq!(last["version"], 2);
    assert_eq!(last["before"][0]["status"], "provisioned");
    assert_eq!(last["before"][1]["status"], "not_provisioned");
    assert_eq!(last["after"][1]["status"], "provisioned");
    let first_provision = &provisions[2].details;
    assert_eq!(first_provision["before"][0]["status"], "not_provisioned");
    assert_eq!(first_provision["after"][0]["status"], "provisioned");
    assert_eq!(first_provision["role_name"], "GatehouseSSO-Ops");
    let updates = events(&app, &admin, "permission_set.update").await;
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0].details["before"]["session_duration_secs"], 3_600);
    assert_eq!(updates[0].details["after"]["session_duration_secs"], 7_200);
    assert_eq!(updates[0].details["before"]["version"], 1);
    assert_eq!(updates[0].details["after"]["version"], 2);
    assert_eq!(
        updates[0].details["roles_needing_reprovisioning"],
        json!([ACCOUNT_A])
    );
    assert_eq!(
        updates[1].details["roles_needing_reprovisioning"],
        json!([])
    );
}

#[tokio::test]
async fn a_permission_set_cannot_be_deleted_while_it_is_assigned() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user: User = app.create_user_with_roles(&admin, "carol", &[]).await;
    create_account(&admin, ACCOUNT_A).await;
    create_account(&admin, ACCOUNT_B).await;
    let set = create_set(
        &admin,
        &json!({ "name": "Audit", "inline_policy": GOOD_POLICY }),
    )
    .await;
    let path = format!("/api/v1/permission-sets/{}", set.id);
    let a = assign(&admin, "user", &user.id, ACCOUNT_A, &set.id).await;
    let b = assign(&admin, "user", &user.id, ACCOUNT_B, &set.id).await;

    // Act
    let refused = admin.delete(&path).await;
    admin
        .delete(&format!("/api/v1/assignments/{}", a.id))
        .await
        .assert_status(204);
    let roles_left = roles(&admin, &set.id).await;
    admin
        .delete(&format!("/api/v1/assignments/{}", b.id))
        .await
        .assert_status(204);
    let again = admin.delete(&format!("/api/v1/assignments/{}", b.id)).await;
    let deleted = admin.delete(&path).await;
    let gone = admin.get(&path).await;

    // Assert
    refused.assert_error(409, "conflict");
    assert!(refused.value()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 time(s)"));
    assert_eq!(
        statuses(&roles_left),
        [(ACCOUNT_B, ProvisioningStatus::NotProvisioned)],
        "the last assignment on an account takes its role with it"
    );
    again.assert_error(404, "not_found");
    deleted.assert_status(204);
    gone.assert_error(404, "not_found");
    let deletions = events(&app, &admin, "permission_set.delete").await;
    assert_eq!(
        deletions.len(),
        1,
        "the refusal changed and recorded nothing"
    );
    assert_eq!(deletions[0].details["before"]["name"], "Audit");
    let removed = events(&app, &admin, "assignment.delete").await;
    assert_eq!(removed.len(), 2);
    assert_eq!(removed[0].details["role_removed"], true);
    assert_eq!(removed[0].details["before"]["account_id"], ACCOUNT_B);
}

#[tokio::test]
async fn inline_policies_can_be_replaced_and_removed_and_a_bad_one_changes_nothing() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let set = create_set(
        &admin,
        &json!({ "name": "Edit", "inline_policy": GOOD_POLICY }),
    )
    .await;
    let path = format!("/api/v1/permission-sets/{}", set.id);

    // Act
    let bad = admin
        .patch(&path, &json!({ "inline_policy": BAD_POLICY }))
        .await;
    let unchanged: PermissionSet = admin.get(&path).await.json();
    let removed: PermissionSet = admin
        .patch(
            &path,
            &json!({ "inline_policy": "", "relay_state": "https://oss.console.aliyun.com/" }),
        )
        .await
        .assert_status(200)
        .json();

    // Assert
    bad.assert_error(422, "validation_failed");
    assert!(field_message(&bad.value(), "inline_policy").contains("line 5"));
    assert_eq!(unchanged, set);
    assert_eq!(removed.inline_policy, None);
    assert_eq!(
        removed.relay_state.as_deref(),
        Some("https://oss.console.aliyun.com/")
    );
    assert_eq!(removed.version, 2);
}
