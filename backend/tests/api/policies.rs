//! The policy tools through the API: validation reports the fault's position as data, and
//! the simulator answers with the deciding statement — for documents, for a permission
//! set's system and inline policies, with conditions, and narrowed by a session policy.
//! Each says which policy language it speaks: the catalogue marks each policy's provider,
//! validation names the language it checked (and refuses the other when one is demanded),
//! and the simulator evaluates RAM's and lists the IAM policies it did not.

use gatehouse_shared::cloud::Provider;
use gatehouse_shared::permission_sets::{PermissionSet, SystemPolicy};
use gatehouse_shared::policies::{PolicyLanguage, PolicyValidation, Simulation};
use serde_json::json;

use crate::helpers::TestApp;

const INSTANCE: &str = "acs:ecs:cn-hangzhou:1111000011110000:instance/i-abc";

/// An AWS IAM identity policy: reads of one S3 bucket.
const S3_READ: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ReadLogs", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"]}
  ]
}"#;

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
    let fault = v.fault.clone().expect("a fault");
    assert_eq!((fault.line, fault.column), (3, 28), "{fault:?}");
    assert!(fault.message.contains("Alow"), "{}", fault.message);
    assert_eq!(v.language, PolicyLanguage::Ram);
    assert!(
        v.message
            .as_deref()
            .is_some_and(|m| m.contains("line 3, column 28")),
        "{v:?}"
    );
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
async fn validate_checks_each_language_and_refuses_the_other_when_one_is_demanded() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let check = |body: serde_json::Value| {
        let admin = &admin;
        async move {
            admin
                .post("/api/v1/policies/validate", &body)
                .await
                .assert_status(200)
                .json::<PolicyValidation>()
        }
    };

    // Undemanded, each document is checked in its own language.
    let v = check(json!({ "document": S3_READ })).await;
    assert!(v.valid, "{v:?}");
    assert_eq!((v.language, v.statement_count), (PolicyLanguage::Iam, 1));
    let v = check(json!({ "document": OFFICE_ECS })).await;
    assert_eq!((v.valid, v.language), (true, PolicyLanguage::Ram));

    // An IAM document of the wrong shape is said to be one, by the IAM rules.
    let with_principal = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}}"#;
    let v = check(json!({ "document": with_principal })).await;
    assert_eq!((v.valid, v.language), (false, PolicyLanguage::Iam));
    assert!(
        v.message.as_deref().is_some_and(
            |m| m.starts_with("The IAM policy is not valid") && m.contains("Principal")
        ),
        "{v:?}"
    );
    // Its JSON syntax faults keep their place.
    let v = check(json!({ "document": "{\"Version\": \"2012-10-17\",\n \"Statement\": [}", "language": "iam" })).await;
    assert!(!v.valid);
    let fault = v.fault.expect("a placed fault");
    assert_eq!((fault.line, fault.column), (2, 16), "{fault:?}");

    // Demanded RAM (by language, or by an Alibaba Cloud or local account), an IAM policy is
    // refused at its Version, saying what it is and what is taken.
    for demand in [
        json!({ "language": "ram" }),
        json!({ "provider": "alibaba" }),
        json!({ "provider": "local" }),
    ] {
        let mut body = demand.clone();
        body["document"] = json!(S3_READ);
        let v = check(body).await;
        assert!(!v.valid, "{demand}: {v:?}");
        assert_eq!(v.language, PolicyLanguage::Iam);
        assert_eq!(
            v.message.as_deref(),
            Some("This is an IAM policy (Version 2012-10-17); Alibaba Cloud and local accounts take RAM policies (Version 1).")
        );
        let fault = v.fault.expect("the Version is pointed at");
        assert_eq!((fault.line, fault.column), (2, 14), "{fault:?}");
        assert!(fault.found.contains("2012-10-17"), "{fault:?}");
    }
    // And the reverse, for an AWS account.
    let v = check(json!({ "document": OFFICE_ECS, "provider": "aws" })).await;
    assert_eq!((v.valid, v.language), (false, PolicyLanguage::Ram));
    assert_eq!(
        v.message.as_deref(),
        Some("This is a RAM policy (Version 1); AWS accounts take IAM policies (Version 2012-10-17).")
    );
    // A demanded language that the document is in passes.
    let v = check(json!({ "document": S3_READ, "provider": "aws" })).await;
    assert!(v.valid, "{v:?}");

    // A language and a provider that disagree, or an unknown language, are refused.
    admin
        .post(
            "/api/v1/policies/validate",
            &json!({ "document": S3_READ, "language": "ram", "provider": "aws" }),
        )
        .await
        .assert_error(422, "validation_failed");
    admin
        .post(
            "/api/v1/policies/validate",
            &json!({ "document": S3_READ, "language": "cedar" }),
        )
        .await
        .assert_error(400, "invalid_json");
}

#[tokio::test]
async fn simulate_says_it_evaluated_ram_and_lists_the_iam_policies_it_skipped() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Pasted documents: the IAM one is listed, not silently dropped.
    let s: Simulation = admin
        .post(
            "/api/v1/policies/simulate",
            &json!({
                "policies": [S3_READ, OFFICE_ECS],
                "action": "ecs:StartInstance",
                "resource": INSTANCE,
                "context": { "acs:SourceIp": ["10.1.2.3"] },
            }),
        )
        .await
        .assert_status(200)
        .json();
    assert_eq!(s.language, PolicyLanguage::Ram);
    assert!(s.allowed, "{s:?}");
    assert_eq!(s.deciding[0].policy, "policies[1]");
    assert_eq!(s.skipped.len(), 1, "{s:?}");
    assert_eq!(s.skipped[0].policy, "policies[0]");
    assert!(
        s.skipped[0].reason.contains("IAM policy simulator"),
        "{s:?}"
    );

    // A permission set with both kinds: its AWS managed policy and IAM inline policy are
    // listed as skipped; its Alibaba Cloud policy decides.
    let set: PermissionSet = admin
        .post(
            "/api/v1/permission-sets",
            &json!({
                "name": "BothClouds",
                "system_policies": ["AliyunECSReadOnlyAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"],
                "inline_policy": S3_READ,
            }),
        )
        .await
        .assert_status(201)
        .json();
    let s: Simulation = admin
        .post(
            "/api/v1/policies/simulate",
            &json!({ "permission_set_id": set.id, "action": "ecs:DescribeInstances", "resource": INSTANCE }),
        )
        .await
        .assert_status(200)
        .json();
    assert!(s.allowed, "{s:?}");
    let skipped: Vec<&str> = s.skipped.iter().map(|k| k.policy.as_str()).collect();
    assert_eq!(
        skipped,
        ["arn:aws:iam::aws:policy/ReadOnlyAccess", "inline"],
        "{s:?}"
    );

    // Only IAM policies: nothing to simulate, and said why, at the field given.
    let r = admin
        .post(
            "/api/v1/policies/simulate",
            &json!({ "policies": [S3_READ], "action": "s3:GetObject", "resource": "arn:aws:s3:::logs/a" }),
        )
        .await;
    r.assert_error(422, "validation_failed");
    assert!(
        r.body.contains("\"policies\"")
            && r.body.contains("evaluates RAM policies")
            && r.body.contains("IAM policy simulator"),
        "{}",
        r.body
    );
    let aws_only: PermissionSet = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "AwsOnly", "system_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"] }),
        )
        .await
        .assert_status(201)
        .json();
    let r = admin
        .post(
            "/api/v1/policies/simulate",
            &json!({ "permission_set_id": aws_only.id, "action": "s3:GetObject", "resource": "*" }),
        )
        .await;
    r.assert_error(422, "validation_failed");
    assert!(
        r.body.contains("\"permission_set_id\"") && r.body.contains("IAM policy simulator"),
        "{}",
        r.body
    );

    // An IAM session policy cannot be skipped (it would widen the answer): it is refused.
    let r = admin
        .post(
            "/api/v1/policies/simulate",
            &json!({ "policies": [OFFICE_ECS], "session_policy": S3_READ, "action": "ecs:StartInstance", "resource": INSTANCE }),
        )
        .await;
    r.assert_error(422, "validation_failed");
    assert!(
        r.body.contains("session_policy") && r.body.contains("This is an IAM policy"),
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
