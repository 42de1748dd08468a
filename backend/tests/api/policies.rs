//! The policy tools through the API: validation reports the fault's position as data, and
//! the simulator answers with the deciding statement — for documents, for a permission
//! set's system and inline policies, with conditions, and narrowed by a session policy.
//! The catalogue marks each policy's provider and filters by it.

use gatehouse_shared::cloud::Provider;
use gatehouse_shared::permission_sets::{PermissionSet, SystemPolicy};
use gatehouse_shared::policies::{PolicyValidation, Simulation};
use serde_json::json;

use crate::helpers::TestApp;

const INSTANCE: &str = "acs:ecs:cn-hangzhou:1111000011110000:instance/i-abc";

/// Allows ECS from the office network only, and never deleting instances.
const OFFICE_ECS: &str = r#"{
  "Version": "1",
  "Statement": [
    {"Sid": "OfficeEcs", "Effect": "Allow", "Action": "ecs:*", "Resource": "*",
     "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}},
    {"Sid": "NoDelete", "Effect": "Deny", "Action": "ecs:DeleteInstance", "Resource": "*"}
  ]
}"#;

#[tokio::test]
async fn validate_reports_the_fault_position_as_data() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    let ok: PolicyValidation = admin
        .post(
            "/api/v1/policies/validate",
            &json!({ "document": OFFICE_ECS }),
        )
        .await
        .assert_status(200)
        .json();
    assert!(ok.valid);
    assert_eq!(ok.statement_count, 2);

    let bad = "{\n  \"Version\": \"1\",\n  \"Statement\": [{\"Effect\": \"Alow\", \"Action\": \"*\", \"Resource\": \"*\"}]\n}";
    let v: PolicyValidation = admin
        .post("/api/v1/policies/validate", &json!({ "document": bad }))
        .await
        .assert_status(200)
        .json();
    assert!(!v.valid);
    let fault = v.fault.expect("a fault");
    assert_eq!((fault.line, fault.column), (3, 28), "{fault:?}");
    assert!(fault.message.contains("Alow"), "{}", fault.message);
}

#[tokio::test]
async fn the_catalogue_says_each_policys_provider_and_filters_by_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let list = |query: &'static str| {
        let admin = &admin;
        async move {
            admin
                .get(&format!("/api/v1/system-policies{query}"))
                .await
                .assert_status(200)
                .json::<Vec<SystemPolicy>>()
        }
    };

    let all = list("").await;
    let of = |name: &str| all.iter().find(|p| p.name == name).map(|p| p.provider);
    assert_eq!(of("AliyunECSFullAccess"), Some(Provider::Alibaba));
    assert_eq!(
        of("arn:aws:iam::aws:policy/ReadOnlyAccess"),
        Some(Provider::Aws)
    );
    // Every policy's document is in its provider's language.
    for p in &all {
        let iam = p.document.contains("2012-10-17");
        assert_eq!(iam, p.provider == Provider::Aws, "{}", p.name);
    }

    let aws = list("?provider=aws").await;
    assert!(!aws.is_empty() && aws.iter().all(|p| p.provider == Provider::Aws));
    let alibaba = list("?provider=alibaba").await;
    assert!(alibaba.iter().all(|p| p.provider == Provider::Alibaba));
    assert_eq!(aws.len() + alibaba.len(), all.len());
    // A local account evaluates RAM's language: it takes Alibaba Cloud's policies.
    assert_eq!(list("?provider=local").await, alibaba);

    let r = admin.get("/api/v1/system-policies?provider=gcp").await;
    r.assert_error(400, "invalid_query");
    assert!(
        r.body.contains("local, alibaba or aws") && r.body.contains("gcp"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn simulate_names_the_deciding_statement_and_honours_conditions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ask = |action: &str, ip: &str| {
        json!({
            "policies": [OFFICE_ECS],
            "action": action,
            "resource": INSTANCE,
            "context": { "acs:SourceIp": [ip] },
        })
    };

    let s: Simulation = admin
        .post(
            "/api/v1/policies/simulate",
            &ask("ecs:StartInstance", "10.1.2.3"),
        )
        .await
        .assert_status(200)
        .json();
    assert!(s.allowed);
    assert_eq!(s.decision, "allow");
    assert_eq!(s.deciding[0].sid.as_deref(), Some("OfficeEcs"));
    assert_eq!(s.deciding[0].policy, "policies[0]");

    let s: Simulation = admin
        .post(
            "/api/v1/policies/simulate",
            &ask("ecs:StartInstance", "203.0.113.9"),
        )
        .await
        .assert_status(200)
        .json();
    assert_eq!(s.decision, "implicit_deny");
    assert!(s.deciding.is_empty());

    let s: Simulation = admin
        .post(
            "/api/v1/policies/simulate",
            &ask("ecs:DeleteInstance", "10.1.2.3"),
        )
        .await
        .assert_status(200)
        .json();
    assert_eq!(s.decision, "explicit_deny");
    assert_eq!(s.deciding[0].sid.as_deref(), Some("NoDelete"));
}

#[tokio::test]
async fn simulate_uses_a_permission_sets_policies_and_a_session_policy_only_narrows() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let set: PermissionSet = admin
        .post(
            "/api/v1/permission-sets",
            &json!({
                "name": "EcsOperators",
                "system_policies": ["AliyunECSFullAccess"],
                "inline_policy": r#"{"Version": "1", "Statement": [{"Sid": "KeepDisks", "Effect": "Deny", "Action": "ecs:DeleteDisk", "Resource": "*"}]}"#,
            }),
        )
        .await
        .assert_status(201)
        .json();
    let ask = |action: &str, session: Option<&str>| {
        json!({
            "permission_set_id": set.id,
            "action": action,
            "resource": INSTANCE,
            "session_policy": session,
        })
    };

    let s: Simulation = admin
        .post("/api/v1/policies/simulate", &ask("ecs:StartInstance", None))
        .await
        .assert_status(200)
        .json();
    assert!(s.allowed, "{s:?}");
    assert_eq!(s.deciding[0].policy, "AliyunECSFullAccess");

    let s: Simulation = admin
        .post("/api/v1/policies/simulate", &ask("ecs:DeleteDisk", None))
        .await
        .assert_status(200)
        .json();
    assert_eq!(
        (s.decision.as_str(), s.deciding[0].policy.as_str()),
        ("explicit_deny", "inline")
    );

    // A session policy that allows only reads narrows the role: StartInstance is no longer allowed…
    let read_only = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]}"#;
    let s: Simulation = admin
        .post(
            "/api/v1/policies/simulate",
            &ask("ecs:StartInstance", Some(read_only)),
        )
        .await
        .assert_status(200)
        .json();
    assert!(!s.allowed, "{s:?}");
    // …and one that allows everything cannot widen it beyond the role.
    let everything =
        r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#;
    let s: Simulation = admin
        .post(
            "/api/v1/policies/simulate",
            &ask("ram:CreateUser", Some(everything)),
        )
        .await
        .assert_status(200)
        .json();
    assert!(!s.allowed, "{s:?}");
}

#[tokio::test]
async fn simulate_refuses_bad_input_with_field_faults() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    let r = admin
        .post(
            "/api/v1/policies/simulate",
            &json!({ "policies": ["{\"Version\": \"2\"}"], "action": "", "resource": "*" }),
        )
        .await;
    r.assert_error(422, "validation_failed");
    let body = &r.body;
    assert!(
        body.contains("policies[0]") && body.contains("line 1"),
        "{body}"
    );
    assert!(body.contains("\"action\""), "{body}");

    admin
        .post(
            "/api/v1/policies/simulate",
            &json!({ "permission_set_id": "no-such-set", "action": "ecs:StartInstance", "resource": "*" }),
        )
        .await
        .assert_status(404);

    admin
        .post(
            "/api/v1/policies/simulate",
            &json!({ "action": "ecs:StartInstance", "resource": "*" }),
        )
        .await
        .assert_status(422);
}
