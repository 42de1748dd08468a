//! SAML sign-in end to end over HTTP, with the real pysaml2 IdP (`e2e/saml/idp.py`): an
//! administrator imports the IdP's metadata, a browser follows `/auth/saml/{idp}/login` to the
//! IdP and posts its signed response to the ACS, and lands signed in. Then the whole negative
//! corpus through the ACS, each case against a request that is outstanding for the browser
//! posting it, and the replay and browser-binding checks only the ACS (not the pure SAML
//! core) can make.

use std::io::Read as _;
use std::process::Child;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gatehouse_shared::federation::IdentityProvider;
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::helpers::{Reply, TestApp};
use crate::saml_support::{self, Mint, IDP_ENTITY_ID, MFA_CONTEXT};

const PASSWORD_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

/// The pysaml2 IdP in its HTTP mode; killed when dropped.
pub struct Idp {
    child: Child,
    url: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One person's browser: keeps cookies, does not follow redirects (each hop is checked).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .expect("a client")
}

/// Starts the IdP, and has the administrator add it from the IdP's own metadata through the
/// import route (created first with placeholder settings, as the admin UI allows).
pub async fn setup(app: &TestApp) -> (Idp, IdentityProvider) {
    let (child, url) = saml_support::serve();
    let idp_proc = Idp { child, url };
    let admin = app.admin().await;
    let created: IdentityProvider = admin
        .post(
            "/api/v1/idps",
            &json!({
                "name": "pysaml2",
                "kind": "saml",
                "saml": {
                    "entity_id": "https://placeholder.example/saml",
                    "sso_url": "https://placeholder.example/sso",
                    "certificates": [saml_support::keys().other_cert],
                },
                "jit_create": true,
            }),
        )
        .await
        .assert_status(201)
        .json();
    let metadata = saml_support::idp_metadata(&format!("{}/sso", idp_proc.url));
    let idp: IdentityProvider = admin
        .post(
            &format!("/api/v1/idps/{}/metadata", created.id),
            &json!({ "xml": metadata }),
        )
        .await
        .assert_status(200)
        .json();
    let saml = idp.saml.clone().expect("SAML settings");
    assert_eq!(saml.entity_id, IDP_ENTITY_ID);
    assert_eq!(saml.certificates, vec![saml_support::keys().cert.clone()]);
    for group in ["engineers", "approvers"] {
        admin
            .post("/api/v1/groups", &json!({ "name": group }))
            .await
            .assert_status(201);
    }
    (idp_proc, idp)
}

fn sp_entity_id(app: &TestApp, idp: &IdentityProvider) -> String {
    format!("{}/auth/saml/{}/metadata", app.base_url, idp.id)
}

fn acs_url(app: &TestApp, idp: &IdentityProvider) -> String {
    format!("{}/auth/saml/{}/acs", app.base_url, idp.id)
}

/// `GET /auth/saml/{idp}/login`: the redirect to the IdP, and the AuthnRequest's ID in it.
async fn start_login(
    app: &TestApp,
    http: &reqwest::Client,
    idp: &IdentityProvider,
) -> (String, String) {
    let resp = http
        .get(format!(
            "{}/auth/saml/{}/login?return_to=/portal",
            app.base_url, idp.id
        ))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status().as_u16(), 303);
    let location = resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_string();
    let url = reqwest::Url::parse(&location).expect("a URL");
    let request = url
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .map(|(_, v)| v.into_owned())
        .expect("a SAMLRequest");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&STANDARD.decode(request).expect("base64")[..])
        .read_to_string(&mut xml)
        .expect("DEFLATE");
    let id = xml
        .split(" ID=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("an ID")
        .to_string();
    (location, id)
}

/// Follows the redirect to the IdP, which answers an auto-posting form; returns the form's
/// action and its `SAMLResponse`.
async fn at_idp(http: &reqwest::Client, location: &str, extra: &str) -> (String, String) {
    let resp = http
        .get(format!("{location}{extra}"))
        .send()
        .await
        .expect("the IdP");
    assert_eq!(resp.status().as_u16(), 200);
    let page = resp.text().await.expect("the IdP's page");
    let field = |marker: &str| {
        page.split(marker)
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{marker} in {page}"))
            .to_string()
    };
    (
        field("<form method=\"post\" action=\""),
        field("name=\"SAMLResponse\" value=\""),
    )
}

async fn post_acs(http: &reqwest::Client, acs: &str, b64: &str) -> Reply {
    Reply::read(
        http.post(acs)
            .form(&[("SAMLResponse", b64)])
            .send()
            .await
            .expect("the ACS"),
    )
    .await
}

pub async fn me(app: &TestApp, http: &reqwest::Client) -> Reply {
    Reply::read(
        http.get(format!("{}/api/v1/me", app.base_url))
            .send()
            .await
            .expect("me"),
    )
    .await
}

fn reason_code(r: &Reply) -> String {
    r.body
        .split("<code id=\"reason\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default()
        .to_string()
}

/// A refusal as a person sees it: an HTML page naming `code`, nothing internal.
fn assert_refused(r: &Reply, code: &str, what: &str) {
    assert!(
        r.status.is_client_error(),
        "{what}: {} {}",
        r.status,
        r.body
    );
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{what}"
    );
    assert_eq!(reason_code(r), code, "{what}: {}", r.body);
    assert!(r.session_cookie().is_none(), "{what}");
    for leak in ["panicked", "backtrace", ".rs:", "StoreError", "sqlx"] {
        assert!(!r.body.contains(leak), "{what} leaks {leak}: {}", r.body);
    }
}

fn group_names(me: &Value) -> Vec<String> {
    let mut names: Vec<String> = me["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["name"].as_str().expect("a name").to_string())
        .collect();
    names.sort();
    names
}

/// The whole SP-initiated round trip through the IdP's HTTP mode, for one user.
pub async fn sign_in_through_idp(
    app: &TestApp,
    idp: &IdentityProvider,
    http: &reqwest::Client,
    extra: &str,
) -> Reply {
    let (location, _) = start_login(app, http, idp).await;
    let (action, response) = at_idp(http, &location, extra).await;
    assert_eq!(action, acs_url(app, idp));
    post_acs(http, &action, &response).await
}

#[tokio::test]
async fn sp_initiated_sign_in_with_pysaml2_for_both_signing_shapes() {
    // Arrange
    let app = TestApp::spawn().await;
    let (_idp_proc, idp) = setup(&app).await;
    let response_signed = browser();
    let assertion_signed = browser();

    // Act
    let landed_a = sign_in_through_idp(
        &app,
        &idp,
        &response_signed,
        &format!(
            "&user=carol&group=engineers&group=approvers&sign=response&authn_context={MFA_CONTEXT}"
        ),
    )
    .await;
    let me_a = me(&app, &response_signed).await;
    let landed_b = sign_in_through_idp(
        &app,
        &idp,
        &assertion_signed,
        &format!("&user=dave&group=engineers&group=not-here&sign=assertion&authn_context={PASSWORD_CONTEXT}"),
    )
    .await;
    let me_b = me(&app, &assertion_signed).await;

    // Assert
    for (landed, me, email, groups, mfa) in [
        (
            &landed_a,
            &me_a,
            "carol@example.com",
            vec!["approvers", "engineers"],
            true,
        ),
        (
            &landed_b,
            &me_b,
            "dave@example.com",
            vec!["engineers"],
            false,
        ),
    ] {
        assert_eq!(landed.status.as_u16(), 303, "{}", landed.body);
        assert_eq!(landed.header("location").as_deref(), Some("/portal"));
        assert!(landed.session_cookie().is_some());
        me.assert_status(200);
        let v = me.value();
        assert_eq!(v["email"], email);
        assert_eq!(group_names(&v), groups);
        assert_eq!(v["mfa"]["idp_mfa"], mfa);
        assert_eq!(v["auth_method"], "saml:pysaml2", "{v}");
        assert_eq!(v["password_set"], false, "{v}");
    }
    // Someone with no password here is told where to change it, not that it is wrong.
    let csrf = me_a.value()["csrf_token"]
        .as_str()
        .expect("a CSRF token")
        .to_string();
    let change = Reply::read(
        response_signed
            .post(format!("{}/api/v1/me/password", app.base_url))
            .header("X-CSRF-Token", csrf)
            .header("Origin", app.base_url.clone())
            .json(&json!({ "current_password": "", "new_password": "a-long-new-password" }))
            .send()
            .await
            .expect("change password"),
    )
    .await;
    assert_eq!(change.status.as_u16(), 409, "{}", change.body);
    assert!(change.body.contains("identity provider"), "{}", change.body);
    let successes: Vec<_> = app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.federated_login" && e.outcome == "success")
        .collect();
    assert_eq!(successes.len(), 2);
}

/// Every corpus case of one signing shape, posted by a browser whose outstanding request the
/// corpus answers. Refusals happen before the request is consumed, so one request serves all
/// of them; the one case that must verify (a comment in the NameID) goes last.
async fn corpus_through_the_acs(shape: &str) {
    // Arrange
    let app = TestApp::spawn().await;
    let (_idp_proc, idp) = setup(&app).await;
    let http = browser();
    let (_, request_id) = start_login(&app, &http, &idp).await;
    let sp = sp_entity_id(&app, &idp);
    let acs = acs_url(&app, &idp);
    let cases = saml_support::corpus(&Mint {
        sp_entity_id: &sp,
        acs_url: &acs,
        in_response_to: Some(&request_id),
        sign: shape,
        ..Mint::default()
    });
    let (accepted, refused): (Vec<_>, Vec<_>) =
        cases.iter().partition(|c| c.code.starts_with("ok:"));
    assert!(refused.len() >= 30, "{} cases", refused.len());

    // Act + Assert, case by case
    for case in &refused {
        let before = app.all_events().await.len();
        let reply = post_acs(&http, &acs, &case.b64).await;
        assert_refused(&reply, &case.code, &case.name);
        let events = app.all_events().await;
        let new: Vec<_> = events[before..]
            .iter()
            .filter(|e| e.action == "auth.federated_login")
            .collect();
        assert_eq!(new.len(), 1, "{}: one audit event", case.name);
        assert_eq!(new[0].outcome, "denied", "{}", case.name);
        assert_eq!(
            new[0].reason.as_deref(),
            Some(case.code.as_str()),
            "{}",
            case.name
        );
        assert_eq!(
            new[0].target_id.as_deref(),
            Some(idp.id.as_str()),
            "{}",
            case.name
        );
        assert!(!new[0].details.contains(&case.b64), "{}", case.name);
    }
    for case in &accepted {
        let subject = case.code.trim_start_matches("ok:");
        let reply = post_acs(&http, &acs, &case.b64).await;
        assert_eq!(reply.status.as_u16(), 303, "{}: {}", case.name, reply.body);
        let success = app
            .all_events()
            .await
            .into_iter()
            .rfind(|e| e.action == "auth.federated_login")
            .expect("an event");
        assert_eq!(success.outcome, "success", "{}", case.name);
        assert!(
            success.details.contains(subject),
            "{}: {}",
            case.name,
            success.details
        );
    }

    // The server still serves: a valid sign-in of someone else, through the IdP.
    let later = browser();
    let landed = sign_in_through_idp(&app, &idp, &later, "&user=erin").await;
    assert_eq!(landed.status.as_u16(), 303, "{}", landed.body);
    assert_eq!(me(&app, &later).await.value()["email"], "erin@example.com");
}

#[tokio::test]
async fn the_whole_corpus_is_refused_by_the_acs_with_response_signatures() {
    corpus_through_the_acs("response").await;
}

#[tokio::test]
async fn the_whole_corpus_is_refused_by_the_acs_with_assertion_signatures() {
    corpus_through_the_acs("assertion").await;
}

#[tokio::test]
async fn responses_are_bound_to_their_browser_used_once_and_unsolicited_only_when_allowed() {
    // Arrange
    let app = TestApp::spawn().await;
    let (_idp_proc, idp) = setup(&app).await;
    let sp = sp_entity_id(&app, &idp);
    let acs = acs_url(&app, &idp);
    let owner = browser();
    let thief = browser();
    let (_, owner_request) = start_login(&app, &owner, &idp).await;
    let (_, _thief_request) = start_login(&app, &thief, &idp).await;
    let minted = saml_support::mint(&Mint {
        sp_entity_id: &sp,
        acs_url: &acs,
        in_response_to: Some(&owner_request),
        ..Mint::default()
    });
    let unsolicited = saml_support::mint(&Mint {
        sp_entity_id: &sp,
        acs_url: &acs,
        in_response_to: None,
        name_id: "frank@example.com",
        attributes: [("email", vec!["frank@example.com"])].into(),
        ..Mint::default()
    });

    // Act
    let stolen = post_acs(&thief, &acs, &minted.b64).await;
    let cookieless = post_acs(
        &reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("a client"),
        &acs,
        &minted.b64,
    )
    .await;
    let first = post_acs(&owner, &acs, &minted.b64).await;
    let again = post_acs(&owner, &acs, &minted.b64).await;
    let unsolicited_refused = post_acs(&browser(), &acs, &unsolicited.b64).await;
    let admin = app.admin().await;
    admin
        .patch(
            &format!("/api/v1/idps/{}", idp.id),
            &json!({ "allow_idp_initiated": true }),
        )
        .await
        .assert_status(200);
    let idp_initiated = browser();
    let unsolicited_allowed = post_acs(&idp_initiated, &acs, &unsolicited.b64).await;
    let unsolicited_replayed = post_acs(&browser(), &acs, &unsolicited.b64).await;

    // Assert
    assert_refused(&stolen, "saml_in_response_to", "another browser's response");
    assert_refused(&cookieless, "saml_in_response_to", "no binding cookie");
    assert_eq!(first.status.as_u16(), 303, "{}", first.body);
    assert_eq!(me(&app, &owner).await.value()["email"], "alice@example.com");
    // The request was consumed by the first use, so the second use no longer answers an
    // outstanding request: refused before the assertion-ID table is even asked.
    assert_refused(&again, "saml_in_response_to", "the same response again");
    assert_refused(&unsolicited_refused, "saml_unsolicited", "unsolicited");
    assert_eq!(
        unsolicited_allowed.status.as_u16(),
        303,
        "{}",
        unsolicited_allowed.body
    );
    assert_eq!(unsolicited_allowed.header("location").as_deref(), Some("/"));
    assert_eq!(
        me(&app, &idp_initiated).await.value()["email"],
        "frank@example.com"
    );
    assert_refused(&unsolicited_replayed, "saml_replayed", "replayed assertion");
    let reasons: Vec<String> = app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.federated_login" && e.outcome == "denied")
        .filter_map(|e| e.reason)
        .collect();
    assert_eq!(
        reasons,
        [
            "saml_in_response_to",
            "saml_in_response_to",
            "saml_in_response_to",
            "saml_unsolicited",
            "saml_replayed"
        ]
    );
}

#[tokio::test]
async fn a_response_refused_after_its_checks_is_used_up_all_the_same() {
    // Arrange: no just-in-time accounts, IdP-initiated sign-in allowed.
    let app = TestApp::spawn().await;
    let (_idp_proc, idp) = setup(&app).await;
    let admin = app.admin().await;
    let patch = |body: Value| {
        let admin = &admin;
        let path = format!("/api/v1/idps/{}", idp.id);
        async move {
            admin.patch(&path, &body).await.assert_status(200);
        }
    };
    patch(json!({ "jit_create": false, "allow_idp_initiated": true })).await;
    let sp = sp_entity_id(&app, &idp);
    let acs = acs_url(&app, &idp);
    let owner = browser();
    let (_, request) = start_login(&app, &owner, &idp).await;
    let solicited = saml_support::mint(&Mint {
        sp_entity_id: &sp,
        acs_url: &acs,
        in_response_to: Some(&request),
        ..Mint::default()
    });
    let unsolicited = saml_support::mint(&Mint {
        sp_entity_id: &sp,
        acs_url: &acs,
        in_response_to: None,
        ..Mint::default()
    });

    // Act: both refused (no account); then accounts may be created, and both come back.
    let solicited_first = post_acs(&owner, &acs, &solicited.b64).await;
    let unsolicited_first = post_acs(&browser(), &acs, &unsolicited.b64).await;
    patch(json!({ "jit_create": true })).await;
    let solicited_again = post_acs(&owner, &acs, &solicited.b64).await;
    let unsolicited_again = post_acs(&browser(), &acs, &unsolicited.b64).await;

    // Assert: the refusal consumed the request and remembered the assertion ID.
    assert_refused(&solicited_first, "no_account", "no account yet");
    assert_refused(&unsolicited_first, "no_account", "no account yet");
    assert_refused(
        &solicited_again,
        "saml_in_response_to",
        "the request is used up",
    );
    assert_refused(
        &unsolicited_again,
        "saml_replayed",
        "the assertion is used up",
    );
    let users = admin.get("/api/v1/users").await.assert_status(200).value();
    assert!(
        !users.to_string().contains("alice@example.com"),
        "no account was created: {users}"
    );
}
