//! Break-glass root sessions in AWS accounts (issue 15, item 7): after the same split-custody
//! approvals, Gatehouse calls `sts:AssumeRoot` from the root-sessions account
//! (`GATEHOUSE_AWS_ROOT_SESSIONS_ACCOUNT`, here moto's account) with the member account as
//! `TargetPrincipal` and the task's AWS managed policy. moto 5.2 has no `AssumeRoot`: the
//! launcher (`e2e/aws/moto_gatehouse.py`) answers it after moto's own SigV4 check and after
//! the caller's IAM policies allow `sts:AssumeRoot` on `arn:aws:iam::<member>:root` with the
//! request's `sts:TaskPolicyArn`, and validates it as AWS does (12-digit target, a root-task
//! policy, at most 900 s). So these tests prove the request Gatehouse sends, who signs it and
//! what IAM must allow; that the credentials act as the member's root is AWS's part.

use gatehouse_shared::breakglass::{BreakGlassRequest, RootSession};
use gatehouse_shared::cloud::{Provider, SetupKit};
use serde_json::json;

use crate::break_glass::{approved_request, path, trail_text, Person};
use crate::cloud_aws::{gatehouse_with, run_setup_kit, Keys, Moto, ACCOUNT};
use crate::helpers::{Browser, TestApp};

/// A member account of the organization whose root the sessions are for.
const MEMBER: &str = "210987654321";
const ROOT_PASSWORD: &str = "m3mber-r00t-Pa55word-never-logged";
const S3_UNLOCK: &str = "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy";
const AUDIT_ROOT: &str = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials";

struct World {
    moto: Moto,
    app: TestApp,
    owner: Keys,
    kit: SetupKit,
    requester: Person,
    request: BreakGlassRequest,
}

async fn account(admin: &Browser, id: &str, name: &str) {
    admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": id, "name": name, "environment": "production", "provider": "aws" }),
        )
        .await
        .assert_status(201);
}

/// moto's account starts root sessions and has its setup kit applied; the member account
/// has a vault entry, and the requester's break-glass request is approved by one custodian
/// of each group.
async fn world() -> World {
    let moto = Moto::start().await;
    let owner = moto.bootstrap().await;
    let app = gatehouse_with(&moto, |c| {
        c.aws_root_sessions_account = Some(ACCOUNT.into());
    })
    .await;
    let admin = app.admin().await;
    account(&admin, ACCOUNT, "aws-management").await;
    account(&admin, MEMBER, "aws-member").await;
    let kit = run_setup_kit(&moto, &admin, &owner).await;
    let (requester, request) = approved_request(
        &app,
        &admin,
        MEMBER,
        ROOT_PASSWORD,
        "A bucket policy locks everyone out (INC-77)",
    )
    .await;
    World {
        moto,
        app,
        owner,
        kit,
        requester,
        request,
    }
}

async fn root_session(w: &World, task: &str) -> crate::helpers::Reply {
    w.requester
        .b
        .post(&path(&w.request, "root-session"), &json!({ "task": task }))
        .await
}

#[tokio::test]
async fn an_aws_root_session_is_assume_root_from_the_root_sessions_account_with_the_task_policy() {
    let w = world().await;
    // The root-sessions account's kit lets its provisioner call sts:AssumeRoot, and only that.
    assert_eq!(w.kit.provider, Provider::Aws);
    let root_step = w
        .kit
        .steps
        .iter()
        .find(|s| {
            s.parameters
                .iter()
                .any(|(k, v)| k == "PolicyName" && v == "GatehouseRootSessions")
        })
        .expect("the root-sessions account's kit has the GatehouseRootSessions policy");
    assert!(root_step
        .parameters
        .iter()
        .any(|(_, v)| v.contains("sts:AssumeRoot")));

    // AWS (moto) sets the expiry by the real clock, not the test server's.
    let real_now = || gatehouse::clock::Clock::now_ms(&gatehouse::clock::SystemClock);
    let before = real_now();
    let s: RootSession = root_session(&w, "unlock_bucket_policy")
        .await
        .assert_status(200)
        .json();
    let after = real_now();
    assert_eq!(s.provider, Provider::Aws);
    assert_eq!(s.principal_arn, format!("arn:aws:iam::{MEMBER}:root"));
    assert_eq!(s.task_policy_arn.as_deref(), Some(S3_UNLOCK));
    assert!(s.policy_document.is_empty(), "AWS holds the task policy");
    assert!(s.access_key_id.starts_with("ASIA"), "{}", s.access_key_id);
    let expires = gatehouse::clock::to_millis(s.expiration);
    assert!(
        expires > before && expires <= after + 900_000,
        "expires {} ms after the call",
        expires - before
    );
    let shell = &s.formats.iter().find(|(n, _)| n == "shell").unwrap().1;
    assert!(shell.contains("export AWS_ACCESS_KEY_ID=") && shell.contains(&s.access_key_id));
    assert!(s
        .formats
        .iter()
        .any(|(n, t)| n == "aws_cli" && t.contains("aws_session_token")));

    // Audited with AWS's RequestId and the calls made; no secret in the trail.
    let events = w.app.all_events().await;
    let used = events
        .iter()
        .rev()
        .find(|e| e.action == "breakglass.root_session")
        .expect("the root session is audited");
    let details: serde_json::Value = serde_json::from_str(&used.details).unwrap();
    assert_eq!(details["provider"], "aws");
    assert_eq!(details["task_policy_arn"], S3_UNLOCK);
    assert_eq!(details["access_key_id"], s.access_key_id.as_str());
    assert!(details["request_id"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    let calls = details["cloud_calls"].as_array().unwrap();
    assert!(
        calls
            .iter()
            .any(|c| c["action"] == "AssumeRoot" && c["code"].is_null()),
        "{calls:?}"
    );
    let trail = trail_text(&w.app).await;
    assert!(!trail.contains(&s.access_key_secret) && !trail.contains(&s.security_token));
    assert!(!trail.contains(ROOT_PASSWORD));
}

#[tokio::test]
async fn iam_decides_which_tasks_the_root_sessions_account_may_start() {
    let w = world().await;
    // The owner narrows the provisioner to one task: moto's IAM check now refuses the others,
    // which proves Gatehouse names the task in the request (TaskPolicyArn.arn).
    let only_audit = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "sts:AssumeRoot",
            "Resource": "*",
            "Condition": { "StringEquals": { "sts:TaskPolicyArn": [AUDIT_ROOT] } }
        }]
    });
    let v = w
        .moto
        .call(
            &w.owner,
            "iam",
            "PutRolePolicy",
            &json!({ "RoleName": "GatehouseProvisioner", "PolicyName": "GatehouseRootSessions", "PolicyDocument": only_audit.to_string() }),
        )
        .await;
    assert_eq!(v["ok"], true, "{v}");
    let refused = root_session(&w, "unlock_bucket_policy").await;
    refused.assert_error(502, "cloud_refused");
    let message = refused.json::<serde_json::Value>()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("sts:AssumeRoot") && message.contains("AccessDenied"),
        "{message}"
    );
    let s: RootSession = root_session(&w, "audit_root_credentials")
        .await
        .assert_status(200)
        .json();
    assert_eq!(s.task_policy_arn.as_deref(), Some(AUDIT_ROOT));

    // The refusal is in the trail as a failed root session.
    let events = w.app.all_events().await;
    assert!(events.iter().any(|e| e.action == "breakglass.root_session"
        && e.outcome != "success"
        && e.reason.as_deref() == Some("AccessDenied")));

    // Without the policy at all, every task is refused.
    let v = w
        .moto
        .call(
            &w.owner,
            "iam",
            "DeleteRolePolicy",
            &json!({ "RoleName": "GatehouseProvisioner", "PolicyName": "GatehouseRootSessions" }),
        )
        .await;
    assert_eq!(v["ok"], true, "{v}");
    root_session(&w, "audit_root_credentials")
        .await
        .assert_error(502, "cloud_refused");
}

#[tokio::test]
async fn root_sessions_need_a_root_sessions_account_that_is_not_the_target() {
    // The management account itself: sts:AssumeRoot reaches members only.
    let moto = Moto::start().await;
    let owner = moto.bootstrap().await;
    let app = gatehouse_with(&moto, |c| {
        c.aws_root_sessions_account = Some(ACCOUNT.into());
    })
    .await;
    let admin = app.admin().await;
    account(&admin, ACCOUNT, "aws-management").await;
    let _ = run_setup_kit(&moto, &admin, &owner).await;
    let (rita, r) = approved_request(
        &app,
        &admin,
        ACCOUNT,
        ROOT_PASSWORD,
        "Root access to the management account",
    )
    .await;
    let refused = rita
        .b
        .post(
            &path(&r, "root-session"),
            &json!({ "task": "audit_root_credentials" }),
        )
        .await;
    refused.assert_error(409, "conflict");
    let message = refused.json::<serde_json::Value>()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("member accounts"), "{message}");
    // The vault's reveals still work for it.
    rita.b
        .post(&path(&r, "reveal"), &json!({ "what": "password" }))
        .await
        .assert_status(200);
}
