//! Identity provider administration, the sign-in page's list, the SAML SP's HTTP edge
//! (refusals with a page, a reason code and an audit event), and the federation tables
//! that must hold across restarts and instances: requests consumed once, assertion IDs
//! remembered until they expire.

use std::time::Duration;

use gatehouse::audit::{AuditCtx, NewEvent};
use gatehouse::store::{
    FederatedLogin, FederatedUser, FederationRequestRecord, FederationWrite, FederationWritten,
    GuardOutcome, GuardedRequest, NewUserRecord, ReplayGuard, SessionRecord, Store,
};
use gatehouse_shared::federation::{IdentityProvider, PublicIdp};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::helpers::{Browser, Reply, TestApp};

const SECRET: &str = "a-very-secret-client-secret-value-42";
/// Two self-signed certificates' worth of base64 (the SAML core checks them at sign-in).
const CERT_A: &str = "MIIBszCCAVmgAwIBAgIUQUFBQUFBQUFBQUFBQUFBQUFBQUEwCgYIKoZIzj0EAwIw";
const CERT_B: &str = "MIIBszCCAVmgAwIBAgIUQkJCQkJCQkJCQkJCQkJCQkJCQkIwCgYIKoZIzj0EAwIw";

fn oidc_body(name: &str) -> Value {
    json!({
        "name": name,
        "kind": "oidc",
        "oidc": { "issuer": "https://idp.example.com", "client_id": "gatehouse", "client_secret": SECRET },
        "preset": "okta",
        "jit_create": true,
    })
}

fn saml_body(name: &str, certificates: &[&str]) -> Value {
    json!({
        "name": name,
        "kind": "saml",
        "saml": {
            "entity_id": "https://idp.example.com/saml",
            "sso_url": "https://idp.example.com/saml/sso",
            "certificates": certificates,
        },
    })
}

async fn create_idp(admin: &Browser, body: &Value) -> IdentityProvider {
    admin
        .post("/api/v1/idps", body)
        .await
        .assert_status(201)
        .json()
}

/// A client that does not follow redirects and keeps no cookies unless told.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .expect("a client")
}

#[tokio::test]
async fn an_administrator_manages_an_oidc_idp_and_its_secret_is_never_shown() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Act
    let created = admin.post("/api/v1/idps", &oidc_body("Okta")).await;
    let idp: IdentityProvider = created.assert_status(201).json();
    let listed = admin.get("/api/v1/idps").await;
    let renamed = admin
        .patch(
            &format!("/api/v1/idps/{}", idp.id),
            &json!({ "name": "Okta (staff)", "oidc": { "issuer": "https://idp.example.com",
                     "client_id": "gatehouse", "client_secret": "rotated-secret-value-123" },
                     "enabled": false }),
        )
        .await;
    let public_after_disable: Vec<PublicIdp> = app
        .browser()
        .get("/api/v1/auth/idps")
        .await
        .assert_status(200)
        .json();
    let deleted = admin.delete(&format!("/api/v1/idps/{}", idp.id)).await;
    let gone = admin.get(&format!("/api/v1/idps/{}", idp.id)).await;

    // Assert
    assert!(idp.client_secret_set);
    assert_eq!(idp.mapping.groups, "groups");
    assert!(idp.jit_create);
    assert_eq!(idp.clock_skew_secs, 60);
    assert_eq!(idp.max_response_bytes, 256 * 1024);
    assert_eq!(
        idp.sp.redirect_uri.as_deref(),
        Some(format!("{}/auth/oidc/{}/callback", app.base_url, idp.id).as_str())
    );
    let renamed_idp: IdentityProvider = renamed.assert_status(200).json();
    assert_eq!(renamed_idp.name, "Okta (staff)");
    assert!(!renamed_idp.enabled);
    assert!(public_after_disable.is_empty());
    deleted.assert_status(204);
    gone.assert_error(404, "not_found");
    for body in [&created.body, &listed.body, &renamed.body] {
        assert!(!body.contains(SECRET) && !body.contains("rotated-secret"));
    }
    let events = app.all_events().await;
    let idp_events: Vec<_> = events
        .iter()
        .filter(|e| e.action.starts_with("idp."))
        .collect();
    assert_eq!(
        idp_events
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["idp.create", "idp.update", "idp.delete"]
    );
    for e in &events {
        assert!(!e.details.contains(SECRET) && !e.details.contains("rotated-secret"));
    }
    assert!(idp_events[0].details.contains("\"client_secret_set\":true"));
}

#[tokio::test]
async fn invalid_idps_are_refused_field_by_field() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    create_idp(&admin, &oidc_body("Taken")).await;
    let mut no_secret = oidc_body("No secret");
    no_secret["oidc"]["client_secret"] = Value::Null;
    let mut bad_issuer = oidc_body("Bad issuer");
    bad_issuer["oidc"]["issuer"] = json!("ftp://idp.example.com");
    let mut bad_skew = oidc_body("Bad skew");
    bad_skew["clock_skew_secs"] = json!(100_000);

    // Act + Assert
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "name": "", "kind": "oidc" }), "name"),
        (json!({ "name": "No kind" }), "kind"),
        (no_secret, "oidc.client_secret"),
        (bad_issuer, "oidc.issuer"),
        (bad_skew, "clock_skew_secs"),
        (oidc_body("Taken"), "name"),
        (saml_body("No certificate", &[]), "saml.certificates"),
        (
            saml_body("Not base64", &["not base64!"]),
            "saml.certificates",
        ),
        (
            json!({ "name": "Metadata URL", "kind": "saml", "saml_metadata_url": "file:///etc/passwd" }),
            "saml_metadata_url",
        ),
        (
            json!({ "name": "Nothing", "kind": "saml" }),
            "saml_metadata_xml",
        ),
        (
            json!({ "name": "Unreachable", "kind": "saml", "saml_metadata_url": "http://127.0.0.1:1/metadata" }),
            "saml_metadata_url",
        ),
        (
            json!({ "name": "Broken XML", "kind": "saml", "saml_metadata_xml": "<not-metadata/>" }),
            "saml_metadata_xml",
        ),
    ];
    for (body, field) in cases {
        let r = admin.post("/api/v1/idps", &body).await;
        r.assert_error(422, "validation_failed");
        assert!(
            r.fields().contains(&field.to_string()),
            "{field}: {}",
            r.body
        );
        assert!(!r.body.contains(SECRET));
    }
    let not_json = admin.post("/api/v1/idps", &json!({ "name": 5 })).await;
    not_json.assert_error(400, "invalid_json");
    let unknown = admin
        .patch("/api/v1/idps/no-such-idp", &json!({ "enabled": false }))
        .await;
    unknown.assert_error(404, "not_found");
}

#[tokio::test]
async fn a_saml_idp_keeps_several_certificates_and_warns_about_sha1() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let pem_b = format!("-----BEGIN CERTIFICATE-----\n{CERT_B}\n-----END CERTIFICATE-----\n");

    // Act
    let idp = create_idp(&admin, &saml_body("Entra ID", &[CERT_A, &pem_b])).await;
    let sha1: IdentityProvider = admin
        .patch(
            &format!("/api/v1/idps/{}", idp.id),
            &json!({ "allow_sha1": true, "allow_idp_initiated": true }),
        )
        .await
        .assert_status(200)
        .json();
    let metadata = raw_client()
        .get(format!("{}/auth/saml/{}/metadata", app.base_url, idp.id))
        .send()
        .await
        .expect("metadata");
    let import_on_oidc = {
        let o = create_idp(&admin, &oidc_body("OIDC one")).await;
        admin
            .post(
                &format!("/api/v1/idps/{}/metadata", o.id),
                &json!({ "xml": "<x/>" }),
            )
            .await
    };

    // Assert
    let saml = idp.saml.expect("SAML settings");
    assert_eq!(
        saml.certificates,
        vec![CERT_A.to_string(), CERT_B.to_string()]
    );
    assert!(idp.warning.is_none());
    assert!(sha1.allow_sha1 && sha1.allow_idp_initiated);
    assert!(sha1.warning.expect("a warning").contains("SHA-1"));
    let sp = &idp.sp;
    assert_eq!(
        sp.acs_url.as_deref(),
        Some(format!("{}/auth/saml/{}/acs", app.base_url, idp.id).as_str())
    );
    assert_eq!(sp.entity_id, sp.metadata_url);
    assert_eq!(metadata.status().as_u16(), 200);
    assert_eq!(
        metadata.headers()["content-type"],
        "application/samlmetadata+xml"
    );
    import_on_oidc.assert_error(422, "validation_failed");
}

#[tokio::test]
async fn the_sign_in_page_lists_enabled_idps_to_anyone() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let on = create_idp(&admin, &oidc_body("Keycloak")).await;
    let mut off_body = saml_body("Old SAML", &[CERT_A]);
    off_body["enabled"] = json!(false);
    create_idp(&admin, &off_body).await;

    // Act
    let listed: Vec<PublicIdp> = app
        .browser()
        .get("/api/v1/auth/idps")
        .await
        .assert_status(200)
        .json();

    // Assert
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, on.id);
    assert_eq!(listed[0].login_url, format!("/auth/oidc/{}/login", on.id));
}

async fn page(resp: reqwest::Response) -> Reply {
    Reply::read(resp).await
}

fn reason_code(r: &Reply) -> String {
    r.body
        .split("<code id=\"reason\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_acs_refuses_garbage_with_a_page_a_code_and_an_audit_event() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let idp = create_idp(&admin, &saml_body("SAML", &[CERT_A])).await;
    let acs = format!("{}/auth/saml/{}/acs", app.base_url, idp.id);
    let http = raw_client();

    // Act
    let garbage = page(
        http.post(&acs)
            .header("origin", "https://idp.example.com")
            .form(&[
                ("SAMLResponse", "<script>alert(1)</script>"),
                ("RelayState", "x"),
            ])
            .send()
            .await
            .expect("post"),
    )
    .await;
    let huge = "A".repeat(1024 * 1024);
    let oversized = page(
        http.post(&acs)
            .form(&[("SAMLResponse", huge.as_str())])
            .send()
            .await
            .expect("post"),
    )
    .await;
    let unknown = page(
        http.post(format!("{}/auth/saml/no-such-idp/acs", app.base_url))
            .form(&[("SAMLResponse", "x")])
            .send()
            .await
            .expect("post"),
    )
    .await;
    let healthy = app.browser().get("/healthz").await;

    // Assert
    assert!(garbage.status.is_client_error(), "{}", garbage.body);
    assert!(garbage
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    let code = reason_code(&garbage);
    assert!(code.starts_with("saml_"), "{}", garbage.body);
    assert!(!garbage.body.contains("<script>alert"));
    assert!(garbage.body.contains("href=\"/login?error="));
    assert_eq!(oversized.status.as_u16(), 413);
    assert_eq!(reason_code(&oversized), "saml_too_large");
    assert_eq!(unknown.status.as_u16(), 404);
    assert_eq!(reason_code(&unknown), "idp_unknown");
    healthy.assert_status(200);
    let events = app.all_events().await;
    let refusals: Vec<_> = events
        .iter()
        .filter(|e| e.action == "auth.federated_login")
        .collect();
    assert_eq!(refusals.len(), 3);
    assert_eq!(refusals[0].reason.as_deref(), Some(code.as_str()));
    assert_eq!(refusals[0].target_id.as_deref(), Some(idp.id.as_str()));
    assert_eq!(refusals[1].reason.as_deref(), Some("saml_too_large"));
    assert!(refusals.iter().all(|e| e.outcome == "denied"));
}

#[tokio::test]
async fn sp_initiated_sign_in_redirects_with_a_saml_request_and_binds_the_browser() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let idp = create_idp(&admin, &saml_body("SAML", &[CERT_A])).await;

    // Act
    let resp = raw_client()
        .get(format!(
            "{}/auth/saml/{}/login?return_to=/portal",
            app.base_url, idp.id
        ))
        .send()
        .await
        .expect("login");

    // Assert
    assert_eq!(resp.status().as_u16(), 303);
    let location = resp.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with("https://idp.example.com/saml/sso?"));
    assert!(location.contains("SAMLRequest="));
    let cookie = resp
        .cookies()
        .find(|c| c.name() == "gatehouse_fed_saml")
        .expect("a binding cookie");
    assert!(cookie.http_only());
}

#[tokio::test]
async fn sign_in_with_an_unknown_or_disabled_idp_is_refused_with_a_page() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut body = oidc_body("Disabled");
    body["enabled"] = json!(false);
    let idp = create_idp(&admin, &body).await;
    let http = raw_client();

    // Act
    let disabled = page(
        http.get(format!("{}/auth/oidc/{}/login", app.base_url, idp.id))
            .send()
            .await
            .expect("get"),
    )
    .await;
    let wrong_kind = page(
        http.get(format!("{}/auth/saml/{}/login", app.base_url, idp.id))
            .send()
            .await
            .expect("get"),
    )
    .await;
    let disabled_callback = page(
        http.get(format!(
            "{}/auth/oidc/{}/callback?code=x",
            app.base_url, idp.id
        ))
        .send()
        .await
        .expect("get"),
    )
    .await;

    // Assert
    assert_eq!(disabled.status.as_u16(), 403);
    assert_eq!(reason_code(&disabled), "idp_disabled");
    assert_eq!(wrong_kind.status.as_u16(), 404);
    assert_eq!(reason_code(&wrong_kind), "idp_unknown");
    assert_eq!(reason_code(&disabled_callback), "idp_disabled");
}

async fn second_instance(app: &TestApp) -> std::sync::Arc<dyn gatehouse::store::Store> {
    gatehouse::store::connect(&app.db_url, &app.state.master)
        .await
        .expect("a second store on the same database")
}

#[tokio::test]
async fn a_request_is_consumed_once_by_its_own_browser_on_any_instance() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let idp = create_idp(&admin, &oidc_body("OIDC")).await;
    let now = app.now_ms();
    let request = FederationRequestRecord {
        id: "state-1".into(),
        idp_id: idp.id.clone(),
        binding_hash: "browser-a".into(),
        nonce: Some("n".into()),
        pkce_verifier_enc: None,
        return_to: "/portal".into(),
        created_at: now,
        expires_at: now + 600_000,
    };
    let store = &app.state.store;
    store
        .create_federation_request(request.clone())
        .await
        .expect("create");
    let other = second_instance(&app).await;

    // Act
    let outstanding = other
        .outstanding_requests(&idp.id, "browser-a", now)
        .await
        .expect("list");
    let other_browser = store
        .consume_federation_request("state-1", &idp.id, "browser-b", now)
        .await
        .expect("consume");
    let first = other
        .consume_federation_request("state-1", &idp.id, "browser-a", now)
        .await
        .expect("consume");
    let second = store
        .consume_federation_request("state-1", &idp.id, "browser-a", now)
        .await
        .expect("consume");

    // Assert
    assert_eq!(outstanding, vec!["state-1".to_string()]);
    assert!(other_browser.is_none());
    assert_eq!(first, Some(request));
    assert!(second.is_none());
}

/// Remembers an IdP-initiated response's assertion ID through `store`: `true` if it was new.
async fn remember(store: &dyn Store, idp_id: &str, assertion_id: &str, keep_until: i64) -> bool {
    let guard = ReplayGuard {
        idp_id: idp_id.into(),
        request: None,
        now: keep_until - 300_000,
        assertion_id: assertion_id.into(),
        keep_until,
    };
    let mut written = store
        .federation_writes(vec![FederationWrite::Guard(guard)])
        .await
        .expect("the guard commits");
    match written.pop() {
        Some(Ok(FederationWritten::Guard(GuardOutcome::Fresh(None)))) => true,
        Some(Ok(FederationWritten::Guard(GuardOutcome::Replayed))) => false,
        other => panic!("not a guard's outcome: {other:?}"),
    }
}

#[tokio::test]
async fn a_replayed_assertion_is_refused_after_a_restart_until_it_expires() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let idp = create_idp(&admin, &saml_body("SAML", &[CERT_A])).await;
    let expires = app.now_ms() + 300_000;
    let first = remember(&*app.state.store, &idp.id, "_assertion-1", expires).await;

    // Act: another instance (or this one after a restart) sees the same table.
    let restarted = second_instance(&app).await;
    let replay = remember(&*restarted, &idp.id, "_assertion-1", expires).await;
    let other_idp = remember(&*restarted, "another-idp", "_assertion-1", expires).await;
    app.advance(Duration::from_secs(301));
    let report = app.tick().await;
    let after_expiry = remember(&*restarted, &idp.id, "_assertion-1", app.now_ms() + 300_000).await;

    // Assert
    assert!(first);
    assert!(!replay);
    assert!(other_idp, "IDs are per IdP");
    assert!(report.federation_pruned >= 2);
    assert!(after_expiry);
}

fn jit_sign_in(idp_id: &str, subject: &str, username: &str, now: i64) -> FederatedLogin {
    let ctx = AuditCtx {
        actor_id: None,
        actor_name: username.into(),
        source_ip: None,
        user_agent: None,
    };
    FederatedLogin {
        idp_id: idp_id.into(),
        subject: subject.into(),
        user: FederatedUser::Create(NewUserRecord {
            id: format!("user-{subject}"),
            username: username.into(),
            email: format!("{subject}@example.com"),
            display_name: username.into(),
            source: "federated".into(),
            password_hash: None,
            created_at: now,
        }),
        add_groups: vec![],
        remove_groups: vec![],
        applied_groups: vec![],
        session: SessionRecord {
            id_hash: format!("session-{subject}"),
            user_id: String::new(),
            csrf_token: "csrf".into(),
            auth_method: "saml".into(),
            idp_mfa: false,
            mfa_at: None,
            created_at: now,
            last_seen_at: now,
            expires_at: now + 3_600_000,
            source_ip: None,
            user_agent: None,
        },
        replaces: None,
        at: now,
        event: NewEvent::new(
            now,
            &ctx,
            gatehouse_shared::audit::AuditAction::AuthFederatedLogin,
            "user",
            None,
        ),
        guard: None,
    }
}

#[tokio::test]
async fn sign_ins_committed_together_each_stand_or_fall_alone() {
    // Arrange: two requests of one browser, and a JIT user whose name is already taken.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let idp = create_idp(&admin, &saml_body("SAML", &[CERT_A])).await;
    let now = app.now_ms();
    let store = &app.state.store;
    for id in ["_req-1", "_req-2", "_req-3", "_req-4", "_req-5"] {
        store
            .create_federation_request(FederationRequestRecord {
                id: id.into(),
                idp_id: idp.id.clone(),
                binding_hash: "browser-a".into(),
                nonce: None,
                pkce_verifier_enc: None,
                return_to: format!("/after{id}"),
                created_at: now,
                expires_at: now + 600_000,
            })
            .await
            .expect("create");
    }
    let guard = |request: &str, assertion: &str| ReplayGuard {
        idp_id: idp.id.clone(),
        request: Some(GuardedRequest {
            id: request.into(),
            binding_hash: "browser-a".into(),
        }),
        now,
        assertion_id: assertion.into(),
        keep_until: now + 300_000,
    };
    let guarded = |mut login: FederatedLogin, request: &str, assertion: &str| {
        login.guard = Some(guard(request, assertion));
        FederationWrite::SignIn(Box::new(login))
    };

    // Act: one transaction holding a fresh guard, a replay of its assertion answering the
    // other request, an unknown request, a sign-in that must fail, a sign-in whose guard
    // refuses it (a replayed assertion), and one that must stand.
    let results = store
        .federation_writes(vec![
            FederationWrite::Guard(guard("_req-1", "_assertion-1")),
            FederationWrite::Guard(guard("_req-2", "_assertion-1")),
            FederationWrite::Guard(guard("_req-unknown", "_assertion-2")),
            FederationWrite::SignIn(Box::new(jit_sign_in(&idp.id, "taken", "admin", now))),
            guarded(
                jit_sign_in(&idp.id, "replay", "replayer", now),
                "_req-4",
                "_assertion-1",
            ),
            guarded(
                jit_sign_in(&idp.id, "new", "newcomer", now),
                "_req-5",
                "_assertion-5",
            ),
        ])
        .await
        .expect("the batch commits");
    // Through the queue, four answers to one request at once: only one may consume it.
    let queue = gatehouse::federation::commit::CommitQueue::start(store.clone());
    let racing = futures_util::future::join_all((0..4).map(|i| {
        let queue = &queue;
        let guard = guard("_req-3", &format!("_racing-{i}"));
        async move { queue.guard(guard).await }
    }))
    .await;

    // Assert
    let guard_of = |r: &gatehouse::store::StoreResult<FederationWritten>| match r {
        Ok(FederationWritten::Guard(outcome)) => outcome.clone(),
        other => panic!("not a guard: {other:?}"),
    };
    assert_eq!(
        guard_of(&results[0]),
        GuardOutcome::Fresh(Some("/after_req-1".into()))
    );
    assert_eq!(guard_of(&results[1]), GuardOutcome::Replayed);
    assert_eq!(guard_of(&results[2]), GuardOutcome::UnknownRequest);
    assert!(
        matches!(results[3], Err(gatehouse::store::StoreError::Conflict(_))),
        "{:?}",
        results[3]
    );
    assert_eq!(
        results[4].as_ref().ok(),
        Some(&FederationWritten::GuardRefused(GuardOutcome::Replayed))
    );
    assert_eq!(
        results[5].as_ref().ok(),
        Some(&FederationWritten::SignedIn {
            user_id: "user-new".into(),
            return_to: Some("/after_req-5".into())
        })
    );
    assert!(store.get_user("user-new").await.is_ok());
    assert!(store.get_user("user-taken").await.is_err(), "undone alone");
    assert!(
        store.get_user("user-replay").await.is_err(),
        "a sign-in its guard refused wrote nothing"
    );
    let still_outstanding = store
        .outstanding_requests(&idp.id, "browser-a", now)
        .await
        .expect("list");
    assert_eq!(
        still_outstanding,
        vec!["_req-4".to_string()],
        "the refused sign-in's request was not consumed; the others were"
    );
    let fresh = racing
        .iter()
        .filter(|r| matches!(r, Ok(GuardOutcome::Fresh(Some(to))) if to == "/after_req-3"))
        .count();
    let unknown = racing
        .iter()
        .filter(|r| matches!(r, Ok(GuardOutcome::UnknownRequest)))
        .count();
    assert_eq!((fresh, unknown), (1, 3), "{racing:?}");
    let logins = app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.federated_login")
        .count();
    assert_eq!(logins, 1, "only the sign-in that stood is audited");
    let report: Value = admin
        .get("/api/v1/audit/verify")
        .await
        .assert_status(200)
        .value();
    assert_eq!(report["intact"], true, "{report}");
}

/// The names of the groups `me` lists, sorted.
fn my_groups(me: &Value) -> Vec<String> {
    let mut names: Vec<String> = me["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["name"].as_str().expect("a name").to_string())
        .collect();
    names.sort();
    names
}

/// The details of the latest successful federated sign-in.
async fn last_sign_in(app: &TestApp) -> Value {
    let events = app.all_events().await;
    let e = events
        .iter()
        .rev()
        .find(|e| e.action == "auth.federated_login" && e.outcome == "success")
        .expect("a successful sign-in");
    serde_json::from_str(&e.details).expect("details")
}

#[tokio::test]
async fn an_idp_groups_claim_grants_roles_and_custody_only_through_idp_managed_groups() {
    // Arrange: a real SAML IdP (pysaml2), and groups that give an administrator role
    // (the bootstrap `gatehouse-admins`), root-credential custody, and access-request
    // approval, beside a plain group.
    let app = TestApp::spawn().await;
    let (_idp_proc, idp) = crate::saml_http::setup(&app).await;
    let admin = app.admin().await;
    crate::sts::account(&admin, crate::sts::ACCOUNT).await;
    let mut ids = std::collections::BTreeMap::new();
    for name in ["root-password", "root-mfa", "release-approvers"] {
        let g: gatehouse_shared::directory::Group = admin
            .post("/api/v1/groups", &json!({ "name": name }))
            .await
            .assert_status(201)
            .json();
        assert!(!g.idp_managed, "off by default");
        ids.insert(name, g.id);
    }
    let groups: Vec<gatehouse_shared::directory::Group> =
        admin.get("/api/v1/groups").await.assert_status(200).json();
    let admins = groups
        .iter()
        .find(|g| g.name == "gatehouse-admins")
        .expect("the bootstrap group");
    assert!(!admins.idp_managed, "off for existing groups");
    ids.insert("gatehouse-admins", admins.id.clone());
    admin
        .post(
            "/api/v1/break-glass/vault",
            &json!({
                "account_id": crate::sts::ACCOUNT,
                "password": "r00t-Pa55word-that-must-stay-secret",
                "totp_seed": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
                "password_group_id": ids["root-password"],
                "mfa_group_id": ids["root-mfa"],
            }),
        )
        .await
        .assert_status(201);
    admin
        .post(
            "/api/v1/approval-policies",
            &json!({
                "name": "Releases",
                "account_id": "*",
                "permission_set_id": "*",
                "approver_group_ids": [ids["release-approvers"]],
                "approvals_needed": 1,
            }),
        )
        .await
        .assert_status(201);
    let claim = "&user=erin&group=gatehouse-admins&group=root-mfa&group=release-approvers\
                 &group=engineers&sign=response";

    // Act 1: erin signs in claiming all four.
    let first = crate::saml_http::browser();
    let landed = crate::saml_http::sign_in_through_idp(&app, &idp, &first, claim).await;
    assert_eq!(landed.status.as_u16(), 303, "{}", landed.body);
    let me = crate::saml_http::me(&app, &first).await.value();

    // Assert 1: only the plain group; no role; each refusal is in the audit trail.
    assert_eq!(my_groups(&me), ["engineers"]);
    assert_eq!(me["roles"], json!([]), "{me}");
    let details = last_sign_in(&app).await;
    assert_eq!(details["groups_applied"], json!(["engineers"]));
    assert_eq!(
        details["groups_refused"],
        json!(["gatehouse-admins", "release-approvers", "root-mfa"])
    );

    // Act 2: an administrator marks the admin and MFA-custodian groups IdP-managed.
    for name in ["gatehouse-admins", "root-mfa"] {
        let g: gatehouse_shared::directory::Group = admin
            .patch(
                &format!("/api/v1/groups/{}", ids[name]),
                &json!({ "idp_managed": true }),
            )
            .await
            .assert_status(200)
            .json();
        assert!(g.idp_managed);
    }
    let second = crate::saml_http::browser();
    crate::saml_http::sign_in_through_idp(&app, &idp, &second, claim).await;
    let me = crate::saml_http::me(&app, &second).await.value();

    // Assert 2: those two now apply; the approvers' group still does not.
    assert_eq!(
        my_groups(&me),
        ["engineers", "gatehouse-admins", "root-mfa"]
    );
    assert_eq!(me["roles"], json!(["administrator"]), "{me}");
    assert_eq!(
        last_sign_in(&app).await["groups_refused"],
        json!(["release-approvers"])
    );

    // Act 3: the MFA-custodian group is no longer IdP-managed.
    admin
        .patch(
            &format!("/api/v1/groups/{}", ids["root-mfa"]),
            &json!({ "idp_managed": false }),
        )
        .await
        .assert_status(200);
    let third = crate::saml_http::browser();
    crate::saml_http::sign_in_through_idp(&app, &idp, &third, claim).await;
    let me = crate::saml_http::me(&app, &third).await.value();

    // Assert 3: the custody the IdP gave is taken back at the next sign-in.
    assert_eq!(my_groups(&me), ["engineers", "gatehouse-admins"]);
    let details = last_sign_in(&app).await;
    assert_eq!(details["groups_removed"], json!(["root-mfa"]));
    // The flag's changes are audited like any group change.
    let trail = app.all_events().await;
    let flagged = trail
        .iter()
        .filter(|e| e.action == "directory.group.update" && e.details.contains("idp_managed"))
        .count();
    assert_eq!(flagged, 3);
}

/// A SAML Response posted to the ACS with `inner` inside, base64 as the form carries it.
fn unsigned_response(inner: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" ID=\"_r1\" Version=\"2.0\" \
         IssueInstant=\"2026-01-01T00:00:00Z\">{inner}</samlp:Response>"
    ))
}

#[tokio::test]
async fn huge_unauthenticated_saml_values_are_capped_before_the_page_and_the_audit_trail() {
    // Arrange: a status code and an algorithm URI of 60,000 two-byte characters each.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let idp = create_idp(&admin, &saml_body("SAML", &[CERT_A])).await;
    let acs = format!("{}/auth/saml/{}/acs", app.base_url, idp.id);
    let http = raw_client();
    let tail = "é".repeat(60_000);
    let status = format!("urn:evil:{tail}");
    let bad_status = unsigned_response(&format!(
        "<samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>"
    ));
    let bad_algorithm = unsigned_response(&format!(
        "<samlp:Status><samlp:StatusCode \
         Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
         <ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod \
         Algorithm=\"urn:evil:{tail}\"/></ds:SignedInfo></ds:Signature>"
    ));

    // Act
    let mut pages = Vec::new();
    for body in [&bad_status, &bad_algorithm] {
        pages.push(
            page(
                http.post(&acs)
                    .form(&[("SAMLResponse", body.as_str())])
                    .send()
                    .await
                    .expect("post"),
            )
            .await,
        );
    }

    // Assert: refused for what they are, each value cut to 128 characters and marked, on
    // the page and in the trail.
    assert_eq!(reason_code(&pages[0]), "saml_status", "{}", pages[0].body);
    assert_eq!(reason_code(&pages[1]), "saml_algorithm_forbidden");
    let kept = format!("urn:evil:{}", "é".repeat(128 - "urn:evil:".len()));
    for p in &pages {
        assert!(
            p.body.len() < 16 * 1024,
            "the page is small: {}",
            p.body.len()
        );
        assert!(p.body.contains("…[truncated]"), "{}", p.body);
    }
    let events = app.all_events().await;
    let refusals: Vec<Value> = events
        .iter()
        .filter(|e| e.action == "auth.federated_login")
        .map(|e| serde_json::from_str(&e.details).expect("details"))
        .collect();
    assert_eq!(refusals.len(), 2);
    for (details, prefix) in refusals.iter().zip(["status ", "algorithm "]) {
        let detail = details["detail"].as_str().expect("a detail");
        assert_eq!(detail, format!("{prefix}{kept}…[truncated]"));
    }
    let longest = events.iter().map(|e| e.details.len()).max().unwrap_or(0);
    assert!(longest < 4 * 1024, "an event of {longest} bytes");
}
