//! Role checks on every route: one table of route × role → expected status (and error code),
//! checked against the endpoint list of `docs/API.md` so a new route cannot go untested.

use std::collections::BTreeSet;

use gatehouse_shared::auth::{Me, Role};
use gatehouse_shared::directory::{Account, Group, User};
use gatehouse_shared::permission_sets::{Assignment, PermissionSet};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Browser, TestApp};

/// What one role should get: a status, and for errors the envelope's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expect(u16, Option<&'static str>);

const OK: Expect = Expect(200, None);
const CREATED: Expect = Expect(201, None);
const GONE: Expect = Expect(204, None);
const UNAUTHENTICATED: Expect = Expect(401, Some("unauthenticated"));
const FORBIDDEN: Expect = Expect(403, Some("forbidden"));
const BAD_CODE: Expect = Expect(401, Some("invalid_totp"));
const WRONG_PASSWORD: Expect = Expect(422, Some("validation_failed"));
const BAD_LOGIN: Expect = Expect(401, Some("invalid_credentials"));
const NO_SUCH_PATH: Expect = Expect(404, Some("not_found"));
const NO_SUCH_ITEM: Expect = Expect(404, Some("not_found"));
const NO_SUCH_METHOD: Expect = Expect(405, Some("method_not_allowed"));
/// The federation flows' refusal page for an unknown IdP (HTML, no envelope).
const NO_IDP: Expect = Expect(404, None);
const NOT_ELIGIBLE: Expect = Expect(403, Some("not_eligible"));
const INVALID: Expect = Expect(422, Some("validation_failed"));

/// The roles in the order the table's columns list them (and the order they run in: the
/// administrator last, so the items others must not delete still exist for them).
const WHO: [&str; 4] = ["anonymous", "no roles", "auditor", "administrator"];

/// Reads: anyone signed in with a reading role. Writes: administrators only.
const READ: [Expect; 4] = [UNAUTHENTICATED, FORBIDDEN, OK, OK];
const SIGNED_IN: [Expect; 4] = [UNAUTHENTICATED, OK, OK, OK];

struct Case {
    method: Method,
    /// The path as `docs/API.md` writes it.
    template: &'static str,
    /// The path requested.
    path: String,
    body: Option<Value>,
    expect: [Expect; 4],
}

fn case(
    method: Method,
    template: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    expect: [Expect; 4],
) -> Case {
    Case {
        method,
        template,
        path: path.into(),
        body,
        expect,
    }
}

fn write(ok: Expect) -> [Expect; 4] {
    [UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, ok]
}

struct Fixtures {
    user: String,
    victim_user: String,
    group: String,
    victim_group: String,
    account: String,
    victim_account: String,
    permission_set: String,
    victim_permission_set: String,
    victim_assignment: String,
}

fn table(fx: &Fixtures) -> Vec<Case> {
    use Method as M;
    let user = format!("/api/v1/users/{}", fx.user);
    let group = format!("/api/v1/groups/{}", fx.group);
    let account = format!("/api/v1/accounts/{}", fx.account);
    let member = format!("/api/v1/groups/{}/members/{}", fx.group, fx.user);
    let permission_set = format!("/api/v1/permission-sets/{}", fx.permission_set);
    let code = Some(json!({ "code": "000000" }));
    let eligibility_body = json!({
        "name": "", "principal_type": "user", "principal_id": fx.user, "account_ids": ["*"],
        "permission_set_ids": ["*"], "max_duration_secs": 0, "approval_required": true,
    });
    let approval_body = json!({
        "name": "", "account_id": "*", "permission_set_id": "*", "approvals_needed": 0,
    });
    vec![
        case(M::GET, "/healthz", "/healthz", None, [OK; 4]),
        case(M::GET, "/readyz", "/readyz", None, [OK; 4]),
        case(M::GET, "/metrics", "/metrics", None, [OK; 4]),
        case(
            M::POST,
            "/api/v1/auth/login",
            "/api/v1/auth/login",
            Some(json!({ "username": "nobody", "password": "not-a-password" })),
            [BAD_LOGIN; 4],
        ),
        case(M::GET, "/api/v1/me", "/api/v1/me", None, SIGNED_IN),
        case(
            M::POST,
            "/api/v1/me/mfa/totp",
            "/api/v1/me/mfa/totp",
            Some(json!({})),
            SIGNED_IN,
        ),
        case(
            M::POST,
            "/api/v1/me/mfa/totp/confirm",
            "/api/v1/me/mfa/totp/confirm",
            code.clone(),
            [UNAUTHENTICATED, BAD_CODE, BAD_CODE, BAD_CODE],
        ),
        case(
            M::POST,
            "/api/v1/me/password",
            "/api/v1/me/password",
            Some(
                json!({ "current_password": "not the password", "new_password": "a brand new password" }),
            ),
            [
                UNAUTHENTICATED,
                WRONG_PASSWORD,
                WRONG_PASSWORD,
                WRONG_PASSWORD,
            ],
        ),
        case(
            M::POST,
            "/api/v1/auth/step-up",
            "/api/v1/auth/step-up",
            code,
            [UNAUTHENTICATED, BAD_CODE, BAD_CODE, BAD_CODE],
        ),
        // users
        case(M::GET, "/api/v1/users", "/api/v1/users", None, READ),
        case(
            M::POST,
            "/api/v1/users",
            "/api/v1/users",
            Some(
                json!({ "username": "made-by-table", "email": "t@example.com", "display_name": "T" }),
            ),
            write(CREATED),
        ),
        case(M::GET, "/api/v1/users/{id}", user.clone(), None, READ),
        case(
            M::PATCH,
            "/api/v1/users/{id}",
            user,
            Some(json!({ "display_name": "Renamed" })),
            write(OK),
        ),
        case(
            M::DELETE,
            "/api/v1/users/{id}",
            format!("/api/v1/users/{}", fx.victim_user),
            None,
            write(GONE),
        ),
        // groups and members
        case(M::GET, "/api/v1/groups", "/api/v1/groups", None, READ),
        case(
            M::POST,
            "/api/v1/groups",
            "/api/v1/groups",
            Some(json!({ "name": "made-by-table" })),
            write(CREATED),
        ),
        case(M::GET, "/api/v1/groups/{id}", group.clone(), None, READ),
        case(
            M::PATCH,
            "/api/v1/groups/{id}",
            group.clone(),
            Some(json!({ "description": "changed" })),
            write(OK),
        ),
        case(
            M::DELETE,
            "/api/v1/groups/{id}",
            format!("/api/v1/groups/{}", fx.victim_group),
            None,
            write(GONE),
        ),
        case(
            M::GET,
            "/api/v1/groups/{id}/members",
            format!("{group}/members"),
            None,
            READ,
        ),
        case(
            M::PUT,
            "/api/v1/groups/{id}/members/{user_id}",
            member.clone(),
            None,
            write(GONE),
        ),
        case(
            M::DELETE,
            "/api/v1/groups/{id}/members/{user_id}",
            member,
            None,
            write(GONE),
        ),
        // accounts
        case(M::GET, "/api/v1/accounts", "/api/v1/accounts", None, READ),
        case(
            M::POST,
            "/api/v1/accounts",
            "/api/v1/accounts",
            Some(
                json!({ "id": "5555666677778888", "name": "Made by table", "environment": "dev" }),
            ),
            write(CREATED),
        ),
        case(M::GET, "/api/v1/accounts/{id}", account.clone(), None, READ),
        case(
            M::PATCH,
            "/api/v1/accounts/{id}",
            account,
            Some(json!({ "name": "Renamed" })),
            write(OK),
        ),
        case(
            M::DELETE,
            "/api/v1/accounts/{id}",
            format!("/api/v1/accounts/{}", fx.victim_account),
            None,
            write(GONE),
        ),
        // permission sets, provisioning, assignments
        case(
            M::GET,
            "/api/v1/permission-sets",
            "/api/v1/permission-sets",
            None,
            READ,
        ),
        case(
            M::POST,
            "/api/v1/permission-sets",
            "/api/v1/permission-sets",
            Some(json!({ "name": "made-by-table" })),
            write(CREATED),
        ),
        case(
            M::GET,
            "/api/v1/permission-sets/{id}",
            permission_set.clone(),
            None,
            READ,
        ),
        case(
            M::PATCH,
            "/api/v1/permission-sets/{id}",
            permission_set.clone(),
            Some(json!({ "description": "changed" })),
            write(OK),
        ),
        case(
            M::DELETE,
            "/api/v1/permission-sets/{id}",
            format!("/api/v1/permission-sets/{}", fx.victim_permission_set),
            None,
            write(GONE),
        ),
        case(
            M::GET,
            "/api/v1/permission-sets/{id}/roles",
            format!("{permission_set}/roles"),
            None,
            READ,
        ),
        case(
            M::POST,
            "/api/v1/permission-sets/{id}/provision",
            format!("{permission_set}/provision"),
            Some(json!({})),
            write(OK),
        ),
        case(
            M::GET,
            "/api/v1/system-policies",
            "/api/v1/system-policies",
            None,
            READ,
        ),
        case(
            M::POST,
            "/api/v1/policies/validate",
            "/api/v1/policies/validate",
            Some(json!({ "document": "{\"Version\": \"1\", \"Statement\": []}" })),
            READ,
        ),
        case(
            M::POST,
            "/api/v1/policies/simulate",
            "/api/v1/policies/simulate",
            Some(json!({
                "policies": ["{\"Version\": \"1\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"ecs:*\", \"Resource\": \"*\"}]}"],
                "action": "ecs:StartInstance",
                "resource": "acs:ecs:cn-hangzhou:1111000011110000:instance/i-1",
            })),
            READ,
        ),
        case(
            M::GET,
            "/api/v1/assignments",
            "/api/v1/assignments",
            None,
            READ,
        ),
        case(
            M::POST,
            "/api/v1/assignments",
            "/api/v1/assignments",
            Some(json!({
                "principal_type": "user",
                "principal_id": fx.user,
                "account_id": fx.account,
                "permission_set_id": fx.permission_set,
            })),
            write(CREATED),
        ),
        case(
            M::DELETE,
            "/api/v1/assignments/{id}",
            format!("/api/v1/assignments/{}", fx.victim_assignment),
            None,
            write(GONE),
        ),
        // portal and STS credentials
        case(M::GET, "/api/v1/portal", "/api/v1/portal", None, SIGNED_IN),
        case(
            M::POST,
            "/api/v1/portal/credentials",
            "/api/v1/portal/credentials",
            Some(json!({ "account_id": fx.account, "permission_set_id": fx.permission_set })),
            [UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN],
        ),
        case(
            M::GET,
            "/api/v1/portal/credential-uris",
            "/api/v1/portal/credential-uris",
            None,
            SIGNED_IN,
        ),
        case(
            M::POST,
            "/api/v1/portal/credential-uris",
            "/api/v1/portal/credential-uris",
            Some(json!({ "account_id": fx.account, "permission_set_id": fx.permission_set })),
            [UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN],
        ),
        case(
            M::DELETE,
            "/api/v1/portal/credential-uris/{id}",
            "/api/v1/portal/credential-uris/no-such-uri",
            None,
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::GET,
            "/credentials/{token}",
            "/credentials/gh_cu_not-a-real-token",
            None,
            [Expect(404, None); 4],
        ),
        case(
            M::GET,
            "/api/v1/sts-credentials",
            "/api/v1/sts-credentials",
            None,
            SIGNED_IN,
        ),
        case(
            M::DELETE,
            "/api/v1/sts-credentials/{access_key_id}",
            "/api/v1/sts-credentials/STS.no-such-key",
            None,
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/users/{id}/revoke-credentials",
            format!("/api/v1/users/{}/revoke-credentials", fx.user),
            Some(json!({})),
            write(OK),
        ),
        // just-in-time access
        case(
            M::GET,
            "/api/v1/requests/eligibility",
            "/api/v1/requests/eligibility",
            None,
            SIGNED_IN,
        ),
        case(
            M::GET,
            "/api/v1/requests",
            "/api/v1/requests",
            None,
            SIGNED_IN,
        ),
        case(
            M::POST,
            "/api/v1/requests",
            "/api/v1/requests",
            Some(
                json!({ "account_id": fx.account, "permission_set_id": fx.permission_set, "duration_secs": 900 }),
            ),
            [UNAUTHENTICATED, NOT_ELIGIBLE, NOT_ELIGIBLE, NOT_ELIGIBLE],
        ),
        case(
            M::GET,
            "/api/v1/requests/{id}",
            "/api/v1/requests/no-such-request",
            None,
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::GET,
            "/api/v1/requests/{id}/timeline",
            "/api/v1/requests/no-such-request/timeline",
            None,
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/requests/{id}/approve",
            "/api/v1/requests/no-such-request/approve",
            Some(json!({})),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/requests/{id}/reject",
            "/api/v1/requests/no-such-request/reject",
            Some(json!({ "comment": "no" })),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/requests/{id}/cancel",
            "/api/v1/requests/no-such-request/cancel",
            Some(json!({})),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/requests/{id}/end",
            "/api/v1/requests/no-such-request/end",
            Some(json!({})),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/requests/{id}/revoke",
            "/api/v1/requests/no-such-request/revoke",
            Some(json!({})),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::GET,
            "/api/v1/approvals",
            "/api/v1/approvals",
            None,
            SIGNED_IN,
        ),
        case(
            M::GET,
            "/api/v1/approvals/waiting",
            "/api/v1/approvals/waiting",
            None,
            SIGNED_IN,
        ),
        case(
            M::GET,
            "/api/v1/approvals/count",
            "/api/v1/approvals/count",
            None,
            SIGNED_IN,
        ),
        case(
            M::GET,
            "/api/v1/eligibility-policies",
            "/api/v1/eligibility-policies",
            None,
            READ,
        ),
        case(
            M::POST,
            "/api/v1/eligibility-policies",
            "/api/v1/eligibility-policies",
            Some(eligibility_body.clone()),
            write(INVALID),
        ),
        case(
            M::GET,
            "/api/v1/eligibility-policies/{id}",
            "/api/v1/eligibility-policies/no-such-policy",
            None,
            [UNAUTHENTICATED, FORBIDDEN, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::PUT,
            "/api/v1/eligibility-policies/{id}",
            "/api/v1/eligibility-policies/no-such-policy",
            Some(eligibility_body),
            write(NO_SUCH_ITEM),
        ),
        case(
            M::DELETE,
            "/api/v1/eligibility-policies/{id}",
            "/api/v1/eligibility-policies/no-such-policy",
            None,
            write(NO_SUCH_ITEM),
        ),
        case(
            M::GET,
            "/api/v1/approval-policies",
            "/api/v1/approval-policies",
            None,
            READ,
        ),
        case(
            M::POST,
            "/api/v1/approval-policies",
            "/api/v1/approval-policies",
            Some(approval_body.clone()),
            write(INVALID),
        ),
        case(
            M::GET,
            "/api/v1/approval-policies/{id}",
            "/api/v1/approval-policies/no-such-policy",
            None,
            [UNAUTHENTICATED, FORBIDDEN, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::PUT,
            "/api/v1/approval-policies/{id}",
            "/api/v1/approval-policies/no-such-policy",
            Some(approval_body),
            write(NO_SUCH_ITEM),
        ),
        case(
            M::DELETE,
            "/api/v1/approval-policies/{id}",
            "/api/v1/approval-policies/no-such-policy",
            None,
            write(NO_SUCH_ITEM),
        ),
        // audit
        case(
            M::GET,
            "/api/v1/audit/events",
            "/api/v1/audit/events",
            None,
            READ,
        ),
        case(
            M::GET,
            "/api/v1/audit/verify",
            "/api/v1/audit/verify",
            None,
            READ,
        ),
        case(
            M::GET,
            "/api/v1/audit/export",
            "/api/v1/audit/export?format=jsonl",
            None,
            READ,
        ),
        case(
            M::GET,
            "/api/v1/audit/timeline/{subject}",
            "/api/v1/audit/timeline/some-request",
            None,
            READ,
        ),
        // break-glass (unknown ids: the role checks come before the lookups where they apply)
        case(
            M::GET,
            "/api/v1/break-glass/vault",
            "/api/v1/break-glass/vault",
            None,
            SIGNED_IN,
        ),
        case(
            M::POST,
            "/api/v1/break-glass/vault",
            "/api/v1/break-glass/vault",
            Some(json!({
                "account_id": fx.account, "password": "", "totp_seed": "",
                "password_group_id": fx.group, "mfa_group_id": fx.group,
            })),
            write(Expect(422, Some("validation_failed"))),
        ),
        case(
            M::GET,
            "/api/v1/break-glass/vault/{id}",
            "/api/v1/break-glass/vault/no-such-entry",
            None,
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::PATCH,
            "/api/v1/break-glass/vault/{id}",
            "/api/v1/break-glass/vault/no-such-entry",
            Some(json!({ "window_secs": 600 })),
            write(NO_SUCH_ITEM),
        ),
        case(
            M::DELETE,
            "/api/v1/break-glass/vault/{id}",
            "/api/v1/break-glass/vault/no-such-entry",
            None,
            write(NO_SUCH_ITEM),
        ),
        case(
            M::POST,
            "/api/v1/break-glass/vault/{id}/rotated",
            "/api/v1/break-glass/vault/no-such-entry/rotated",
            Some(json!({ "password": "new" })),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::GET,
            "/api/v1/break-glass/requests",
            "/api/v1/break-glass/requests",
            None,
            SIGNED_IN,
        ),
        case(
            M::POST,
            "/api/v1/break-glass/requests",
            "/api/v1/break-glass/requests",
            Some(
                json!({ "vault_entry_id": "no-such-entry", "justification": "an emergency of some kind" }),
            ),
            [
                UNAUTHENTICATED,
                Expect(422, Some("validation_failed")),
                Expect(422, Some("validation_failed")),
                Expect(422, Some("validation_failed")),
            ],
        ),
        case(
            M::GET,
            "/api/v1/break-glass/requests/{id}",
            "/api/v1/break-glass/requests/no-such-request",
            None,
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/break-glass/requests/{id}/approve",
            "/api/v1/break-glass/requests/no-such-request/approve",
            Some(json!({})),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/break-glass/requests/{id}/reject",
            "/api/v1/break-glass/requests/no-such-request/reject",
            Some(json!({})),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/break-glass/requests/{id}/cancel",
            "/api/v1/break-glass/requests/no-such-request/cancel",
            Some(json!({})),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/break-glass/requests/{id}/reveal",
            "/api/v1/break-glass/requests/no-such-request/reveal",
            Some(json!({ "what": "password" })),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/break-glass/requests/{id}/root-session",
            "/api/v1/break-glass/requests/no-such-request/root-session",
            Some(json!({ "task": "audit_root_credentials" })),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        case(
            M::POST,
            "/api/v1/break-glass/requests/{id}/review",
            "/api/v1/break-glass/requests/no-such-request/review",
            Some(json!({ "note": "what happened" })),
            [UNAUTHENTICATED, NO_SUCH_ITEM, NO_SUCH_ITEM, NO_SUCH_ITEM],
        ),
        // federation: identity providers (an unknown ID is 404 once the role allows it)
        case(M::GET, "/api/v1/idps", "/api/v1/idps", None, write(OK)),
        case(
            M::POST,
            "/api/v1/idps",
            "/api/v1/idps",
            Some(json!({ "name": "Made by table", "kind": "oidc", "oidc": {
                "issuer": "https://idp.example.com", "client_id": "c", "client_secret": "s" } })),
            write(CREATED),
        ),
        case(
            M::GET,
            "/api/v1/idps/{id}",
            "/api/v1/idps/none",
            None,
            write(NO_SUCH_ITEM),
        ),
        case(
            M::PATCH,
            "/api/v1/idps/{id}",
            "/api/v1/idps/none",
            Some(json!({ "enabled": false })),
            write(NO_SUCH_ITEM),
        ),
        case(
            M::DELETE,
            "/api/v1/idps/{id}",
            "/api/v1/idps/none",
            None,
            write(NO_SUCH_ITEM),
        ),
        case(
            M::POST,
            "/api/v1/idps/{id}/metadata",
            "/api/v1/idps/none/metadata",
            Some(json!({ "xml": "<x/>" })),
            write(NO_SUCH_ITEM),
        ),
        case(
            M::GET,
            "/api/v1/auth/idps",
            "/api/v1/auth/idps",
            None,
            [OK; 4],
        ),
        // the browser flows answer an unknown IdP with the refusal page, whoever asks
        case(
            M::GET,
            "/auth/oidc/{idp}/login",
            "/auth/oidc/none/login",
            None,
            [NO_IDP; 4],
        ),
        case(
            M::GET,
            "/auth/oidc/{idp}/callback",
            "/auth/oidc/none/callback",
            None,
            [NO_IDP; 4],
        ),
        case(
            M::GET,
            "/auth/saml/{idp}/login",
            "/auth/saml/none/login",
            None,
            [NO_IDP; 4],
        ),
        case(
            M::POST,
            "/auth/saml/{idp}/acs",
            "/auth/saml/none/acs",
            Some(json!({})),
            [NO_IDP; 4],
        ),
        case(
            M::GET,
            "/auth/saml/{idp}/metadata",
            "/auth/saml/none/metadata",
            None,
            [NO_SUCH_ITEM; 4],
        ),
        // not in the endpoint list: the edge's answers for wrong paths and methods
        case(
            M::GET,
            "-",
            "/api/v1/no-such-thing",
            None,
            [NO_SUCH_PATH; 4],
        ),
        case(
            M::PUT,
            "-",
            "/api/v1/users",
            Some(json!({})),
            [NO_SUCH_METHOD; 4],
        ),
        // notifications: administrators only, reads too (unknown ids are 404 for them)
        case(
            M::GET,
            "/api/v1/notification-endpoints",
            "/api/v1/notification-endpoints",
            None,
            write(OK),
        ),
        case(
            M::POST,
            "/api/v1/notification-endpoints",
            "/api/v1/notification-endpoints",
            Some(json!({ "name": "made-by-table", "url": "http://127.0.0.1:9/hook" })),
            write(CREATED),
        ),
        case(
            M::GET,
            "/api/v1/notification-endpoints/{id}",
            "/api/v1/notification-endpoints/no-such-endpoint",
            None,
            write(NO_SUCH_ITEM),
        ),
        case(
            M::PATCH,
            "/api/v1/notification-endpoints/{id}",
            "/api/v1/notification-endpoints/no-such-endpoint",
            Some(json!({ "enabled": false })),
            write(NO_SUCH_ITEM),
        ),
        case(
            M::DELETE,
            "/api/v1/notification-endpoints/{id}",
            "/api/v1/notification-endpoints/no-such-endpoint",
            None,
            write(NO_SUCH_ITEM),
        ),
        case(
            M::POST,
            "/api/v1/notification-endpoints/{id}/test",
            "/api/v1/notification-endpoints/no-such-endpoint/test",
            Some(json!({})),
            write(NO_SUCH_ITEM),
        ),
        case(
            M::POST,
            "/api/v1/notification-endpoints/{id}/rotate-secret",
            "/api/v1/notification-endpoints/no-such-endpoint/rotate-secret",
            Some(json!({})),
            write(NO_SUCH_ITEM),
        ),
        case(
            M::GET,
            "/api/v1/notification-deliveries",
            "/api/v1/notification-deliveries",
            None,
            write(OK),
        ),
        case(
            M::GET,
            "/api/v1/notification-settings",
            "/api/v1/notification-settings",
            None,
            write(OK),
        ),
        // `null` and 404: this server made no demo company.
        case(M::GET, "/api/v1/demo", "/api/v1/demo", None, write(OK)),
        case(
            M::DELETE,
            "/api/v1/demo",
            "/api/v1/demo",
            None,
            write(NO_SUCH_ITEM),
        ),
        // last: it ends the session
        case(
            M::POST,
            "/api/v1/auth/logout",
            "/api/v1/auth/logout",
            Some(json!({})),
            [UNAUTHENTICATED, GONE, GONE, GONE],
        ),
    ]
}

/// (method, path) of every endpoint in the "Endpoints" table of `docs/API.md`. A cell like
/// `` `GET /api/v1/users` · `POST` `` names two methods on one path; `` `GET /healthz` ·
/// `/readyz` `` names one method on two paths.
fn documented_routes() -> BTreeSet<(String, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md"))
        .expect("read docs/API.md");
    let section = doc
        .split("## Endpoints")
        .nth(1)
        .expect("an Endpoints section in docs/API.md");
    let mut routes = BTreeSet::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cell = line.split('|').nth(1).unwrap_or_default();
        let (mut method, mut path) = (String::new(), String::new());
        for piece in cell.split('·') {
            let piece = piece.trim().trim_matches('`');
            match piece.split_once(' ') {
                Some((m, p)) => {
                    method = m.to_string();
                    path = p.to_string();
                }
                None if piece.starts_with('/') => path = piece.to_string(),
                None => method = piece.to_string(),
            }
            routes.insert((method.clone(), path.clone()));
        }
    }
    routes
}

#[test]
fn the_table_covers_every_documented_route() {
    // Arrange
    let fx = Fixtures {
        user: "u".into(),
        victim_user: "v".into(),
        group: "g".into(),
        victim_group: "h".into(),
        account: "a".into(),
        victim_account: "b".into(),
        permission_set: "p".into(),
        victim_permission_set: "q".into(),
        victim_assignment: "r".into(),
    };
    let documented = documented_routes();

    // Act
    let tested: BTreeSet<(String, String)> = table(&fx)
        .iter()
        .map(|c| (c.method.to_string(), c.template.to_string()))
        .collect();

    // Assert
    assert!(
        documented.len() >= 25,
        "the parser found the table: {documented:?}"
    );
    let untested: Vec<_> = documented.difference(&tested).collect();
    assert!(
        untested.is_empty(),
        "documented routes missing from the role table: {untested:?}"
    );
}

#[tokio::test]
async fn every_route_answers_each_role_as_documented() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let no_roles = app.signed_in_user(&admin, "plain", &[]).await;
    let auditor = app
        .signed_in_user(&admin, "auditor", &[Role::Auditor])
        .await;
    let mut ids = Vec::new();
    for name in ["fixture-user", "victim-user"] {
        let body = json!({ "username": name, "email": "f@example.com", "display_name": name });
        let u: User = admin
            .post("/api/v1/users", &body)
            .await
            .assert_status(201)
            .json();
        ids.push(u.id);
    }
    for name in ["fixture-group", "victim-group"] {
        let g: Group = admin
            .post("/api/v1/groups", &json!({ "name": name }))
            .await
            .assert_status(201)
            .json();
        ids.push(g.id);
    }
    for id in ["1111222233334444", "9999888877776666"] {
        let body = json!({ "id": id, "name": "Fixture", "environment": "production" });
        let a: Account = admin
            .post("/api/v1/accounts", &body)
            .await
            .assert_status(201)
            .json();
        ids.push(a.id);
    }
    for name in ["fixture-set", "victim-set"] {
        let p: PermissionSet = admin
            .post("/api/v1/permission-sets", &json!({ "name": name }))
            .await
            .assert_status(201)
            .json();
        ids.push(p.id);
    }
    let victim_assignment: Assignment = admin
        .post(
            "/api/v1/assignments",
            &json!({
                "principal_type": "group",
                "principal_id": ids[2],
                "account_id": ids[4],
                "permission_set_id": ids[6],
            }),
        )
        .await
        .assert_status(201)
        .json();
    let fx = Fixtures {
        user: ids[0].clone(),
        victim_user: ids[1].clone(),
        group: ids[2].clone(),
        victim_group: ids[3].clone(),
        account: ids[4].clone(),
        victim_account: ids[5].clone(),
        permission_set: ids[6].clone(),
        victim_permission_set: ids[7].clone(),
        victim_assignment: victim_assignment.id,
    };
    let plain_me: Me = no_roles.me().await.json();
    let auditor_me: Me = auditor.me().await.json();
    assert!(plain_me.roles.is_empty());
    assert_eq!(auditor_me.roles, vec![Role::Auditor]);
    let anonymous = app.browser();
    let browsers: [&Browser; 4] = [&anonymous, &no_roles, &auditor, &admin];

    // Act
    let mut mismatches = Vec::new();
    let mut requests = 0;
    for (who, browser) in WHO.iter().zip(browsers) {
        for c in table(&fx) {
            let reply = browser
                .send(c.method.clone(), &c.path, c.body.as_ref())
                .await;
            requests += 1;
            let column = WHO.iter().position(|w| w == who).unwrap();
            let Expect(status, code) = c.expect[column];
            let code_ok = code.is_none_or(|code| reply.code() == code);
            if reply.status.as_u16() != status || !code_ok {
                mismatches.push(format!(
                    "{who}: {} {} → {} {} (expected {status} {})",
                    c.method,
                    c.path,
                    reply.status.as_u16(),
                    reply.code(),
                    code.unwrap_or("")
                ));
            }
        }
    }

    // Assert
    assert!(requests >= 4 * 30);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
