//! Sign-in through a real OpenID Provider (npm `oidc-provider`, started by the test from
//! `e2e/oidc/provider.mjs`): the whole redirect dance by an HTTP client with a cookie jar,
//! redirects followed by hand. The same script's misbehaving IdP supplies the negatives;
//! each is refused with its own reason code and an audit event, and the server keeps serving.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use gatehouse_shared::auth::Me;
use gatehouse_shared::federation::IdentityProvider;
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::helpers::{Browser, TestApp};

const CLIENT_SECRET: &str = "gatehouse-test-client-secret-0123456789";

/// The provider script's process; killed when dropped.
struct Provider {
    child: Child,
    /// Kept open: the script must never write into a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
    issuer: String,
    fake_issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn e2e_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../e2e"))
}

fn start_provider(redirect_uris: &[String]) -> Provider {
    let dir = e2e_dir();
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "run `npm ci` in e2e/ (scripts/install-test.sh does) to install oidc-provider"
    );
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir).arg("oidc/provider.mjs");
    for r in redirect_uris {
        cmd.arg("--redirect-uri").arg(r);
    }
    let mut child = cmd
        .arg("--client-secret")
        .arg(CLIENT_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node e2e/oidc/provider.mjs");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("the provider's first line");
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    Provider {
        child,
        _stdout: stdout,
        issuer: v["issuer"].as_str().expect("issuer").to_string(),
        fake_issuer: v["fake_issuer"].as_str().expect("fake issuer").to_string(),
    }
}

fn jar_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .user_agent("gatehouse-oidc-tests")
        .build()
        .expect("a client")
}

/// Where a response sends the browser, resolved against `base`.
fn location(resp: &reqwest::Response) -> Option<String> {
    let loc = resp.headers().get("location")?.to_str().ok()?;
    Some(resp.url().join(loc).ok()?.to_string())
}

/// Follows redirects from `url` until a response that is not one; returns it and the
/// URLs visited.
async fn follow(http: &reqwest::Client, url: &str) -> (reqwest::Response, Vec<String>) {
    let mut url = url.to_string();
    let mut seen = vec![url.clone()];
    for _ in 0..15 {
        let resp = http.get(&url).send().await.expect("GET");
        match location(&resp) {
            Some(next) if resp.status().is_redirection() => {
                url = next;
                seen.push(url.clone());
            }
            _ => return (resp, seen),
        }
    }
    panic!("too many redirects: {seen:?}")
}

/// Submits oidc-provider's login form as `user` and follows redirects back to Gatehouse's
/// callback (not requesting it). Returns the callback URL.
async fn provider_login(
    http: &reqwest::Client,
    login_page: reqwest::Response,
    user: &str,
) -> String {
    let page_url = login_page.url().clone();
    let html = login_page.text().await.expect("the login page");
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("a login form in {html}"));
    let action = page_url.join(action).expect("form action");
    let resp = http
        .post(action)
        .form(&[("prompt", "login"), ("login", user), ("password", "any")])
        .send()
        .await
        .expect("submit the login form");
    let mut next = location(&resp).expect("a redirect after login");
    for _ in 0..10 {
        if next.contains("/auth/oidc/") && next.contains("/callback") {
            return next;
        }
        let resp = http.get(&next).send().await.expect("GET");
        next = location(&resp).unwrap_or_else(|| panic!("no redirect from {next}"));
    }
    panic!("never came back to Gatehouse: {next}")
}

fn reason_code(body: &str) -> String {
    body.split("<code id=\"reason\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default()
        .to_string()
}

async fn create_oidc_idp(admin: &Browser, name: &str, issuer: &str) -> IdentityProvider {
    admin
        .post(
            "/api/v1/idps",
            &json!({
                "name": name,
                "kind": "oidc",
                "oidc": { "issuer": issuer, "client_id": "gatehouse",
                          "client_secret": CLIENT_SECRET, "scopes": ["groups"] },
                "jit_create": true,
            }),
        )
        .await
        .assert_status(201)
        .json()
}

async fn me(app: &TestApp, http: &reqwest::Client) -> Me {
    let r = http
        .get(format!("{}/api/v1/me", app.base_url))
        .send()
        .await
        .expect("me");
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("Me")
}

#[tokio::test]
async fn an_employee_signs_in_through_a_real_openid_provider() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    admin
        .post("/api/v1/groups", &json!({ "name": "engineers" }))
        .await
        .assert_status(201);
    let idp = create_oidc_idp(&admin, "Company IdP", "http://127.0.0.1:1").await;
    let redirect = idp.sp.redirect_uri.clone().expect("a redirect URI");
    let provider = start_provider(&[redirect]);
    admin
        .patch(
            &format!("/api/v1/idps/{}", idp.id),
            &json!({ "oidc": { "issuer": provider.issuer, "client_id": "gatehouse", "scopes": ["groups"] } }),
        )
        .await
        .assert_status(200);
    let http = jar_client();
    let login = format!(
        "{}/auth/oidc/{}/login?return_to=/portal?tab=1",
        app.base_url, idp.id
    );

    // Act
    let (login_page, visited) = follow(&http, &login).await;
    let authorize = &visited[1];
    let callback = provider_login(&http, login_page, "alice").await;
    let landed = http.get(&callback).send().await.expect("callback");
    let landed_at = location(&landed);
    let landed_status = landed.status().as_u16();
    let landed_body = landed.text().await.expect("body");
    let who = me(&app, &http).await;
    let replayed = http.get(&callback).send().await.expect("callback again");
    let replayed_status = replayed.status().as_u16();
    let replayed_body = replayed.text().await.expect("body");

    // Assert
    assert!(authorize.starts_with(&format!("{}/auth?", provider.issuer)));
    for p in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "scope=openid",
    ] {
        assert!(authorize.contains(p), "{p} in {authorize}");
    }
    assert_eq!(landed_status, 303, "{landed_body}");
    assert_eq!(
        landed_at.as_deref(),
        Some(format!("{}/portal?tab=1", app.base_url).as_str())
    );
    assert_eq!(who.user.username, "alice");
    assert_eq!(who.email, "alice@example.com");
    assert_eq!(who.user.display_name, "Alice Liddell");
    assert_eq!(who.auth_method, "oidc:Company IdP");
    assert!(!who.password_set);
    assert!(who.groups.iter().any(|g| g.name == "engineers"));
    assert_eq!(replayed_status, 403);
    assert_eq!(reason_code(&replayed_body), "oidc_state");
    let events = app.all_events().await;
    let ok = events
        .iter()
        .find(|e| e.action == "auth.federated_login" && e.outcome == "success")
        .expect("a success event");
    let details: Value = serde_json::from_str(&ok.details).expect("details");
    assert_eq!(details["linked_by"], "jit");
    assert_eq!(details["groups_applied"], json!(["engineers"]));
    assert_eq!(details["groups_unknown"], json!(["not-in-gatehouse"]));
    assert!(!events.iter().any(|e| e.details.contains(CLIENT_SECRET)));

    // A second sign-in finds the same person by (IdP, subject).
    let again = jar_client();
    let (page, _) = follow(&again, &login).await;
    let cb = provider_login(&again, page, "alice").await;
    again.get(&cb).send().await.expect("callback");
    assert_eq!(me(&app, &again).await.user.id, who.user.id);
}

#[tokio::test]
async fn a_reused_code_and_a_wrong_pkce_verifier_are_refused_by_the_real_provider() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let idp = create_oidc_idp(&admin, "Company IdP", "http://127.0.0.1:1").await;
    let provider = start_provider(&[idp.sp.redirect_uri.clone().expect("redirect")]);
    admin
        .patch(
            &format!("/api/v1/idps/{}", idp.id),
            &json!({ "oidc": { "issuer": provider.issuer, "client_id": "gatehouse", "scopes": ["groups"] } }),
        )
        .await
        .assert_status(200);
    let http = jar_client();
    let login = format!("{}/auth/oidc/{}/login", app.base_url, idp.id);
    let (page, _) = follow(&http, &login).await;
    let first_callback = provider_login(&http, page, "bob").await;
    http.get(&first_callback).send().await.expect("callback");
    let old_code = url_param(&first_callback, "code");

    // Act 1: a fresh state with the old, used code.
    let (_, visited) = follow_until_callback(&http, &login).await;
    let fresh = visited.last().cloned().expect("a callback");
    let fresh_state = url_param(&fresh, "state");
    let reused = http
        .get(format!(
            "{}/auth/oidc/{}/callback?code={}&state={}&iss={}",
            app.base_url,
            idp.id,
            old_code,
            fresh_state,
            urlencode(&provider.issuer)
        ))
        .send()
        .await
        .expect("callback");
    let reused = (
        reused.status().as_u16(),
        reason_code(&reused.text().await.expect("body")),
    );

    // Act 2: a fresh code, but the stored PKCE verifier is not the one the challenge named.
    let (_, visited) = follow_until_callback(&http, &login).await;
    let cb = visited.last().cloned().expect("a callback");
    let state = url_param(&cb, "state");
    let wrong = app
        .state
        .master
        .seal(&format!("oidc-pkce:{state}"), "x".repeat(43).as_bytes());
    app.raw_db()
        .await
        .exec(&format!(
            "UPDATE federation_requests SET pkce_verifier_enc = '{wrong}' WHERE id = '{state}'"
        ))
        .await
        .expect("tamper with the verifier");
    let pkce = http.get(&cb).send().await.expect("callback");
    let pkce = (
        pkce.status().as_u16(),
        reason_code(&pkce.text().await.expect("body")),
    );

    // Act 3: a state this browser never had.
    let forged = http
        .get(format!(
            "{}/auth/oidc/{}/callback?code=abc&state=forged-state",
            app.base_url, idp.id
        ))
        .send()
        .await
        .expect("callback");
    let forged = reason_code(&forged.text().await.expect("body"));

    // Assert
    assert_eq!(reused, (403, "oidc_token_exchange".to_string()));
    assert_eq!(pkce, (403, "oidc_token_exchange".to_string()));
    assert_eq!(forged, "oidc_state");
    let reasons: Vec<String> = app
        .all_events()
        .await
        .iter()
        .filter(|e| e.action == "auth.federated_login" && e.outcome != "success")
        .filter_map(|e| e.reason.clone())
        .collect();
    assert_eq!(
        reasons,
        ["oidc_token_exchange", "oidc_token_exchange", "oidc_state"]
    );
}

/// Follows from the login URL through the provider (already signed in there) up to, not
/// including, Gatehouse's callback.
async fn follow_until_callback(http: &reqwest::Client, url: &str) -> (u16, Vec<String>) {
    let mut url = url.to_string();
    let mut seen = vec![url.clone()];
    for _ in 0..15 {
        let resp = http.get(&url).send().await.expect("GET");
        let status = resp.status().as_u16();
        match location(&resp) {
            Some(next) => {
                seen.push(next.clone());
                if next.contains("/callback?") {
                    return (status, seen);
                }
                url = next;
            }
            None => return (status, seen),
        }
    }
    panic!("too many redirects: {seen:?}")
}

fn url_param(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Percent-encodes everything but unreserved characters.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn every_misbehaviour_of_an_idp_is_refused_with_its_own_reason() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let provider = start_provider(&[]);
    let idp = create_oidc_idp(&admin, "Misbehaving IdP", &provider.fake_issuer).await;
    let control = reqwest::Client::new();
    let login = format!("{}/auth/oidc/{}/login", app.base_url, idp.id);
    let cases = [
        ("bad_signature", "oidc_signature"),
        ("unknown_kid", "oidc_unknown_key"),
        ("wrong_aud", "oidc_audience"),
        ("wrong_iss", "oidc_issuer"),
        ("expired", "oidc_expired"),
        ("future_iat", "oidc_iat"),
        ("no_nonce", "oidc_nonce"),
        ("wrong_nonce", "oidc_nonce"),
        ("alg_none", "oidc_alg"),
        ("hs256_pubkey", "oidc_alg"),
        ("userinfo_sub", "oidc_userinfo_sub"),
        ("wrong_iss_param", "oidc_iss_parameter"),
    ];

    // Act
    let mut got = Vec::new();
    for (mode, _) in cases {
        control
            .post(format!("{}/__mode?m={mode}", provider.fake_issuer))
            .send()
            .await
            .expect("set the mode");
        let http = jar_client();
        let (last, _) = follow(&http, &login).await;
        let status = last.status().as_u16();
        let body = last.text().await.expect("body");
        let who = http
            .get(format!("{}/api/v1/me", app.base_url))
            .send()
            .await
            .expect("me")
            .status()
            .as_u16();
        got.push((mode, status, reason_code(&body), who));
    }
    control
        .post(format!("{}/__mode?m=ok", provider.fake_issuer))
        .send()
        .await
        .expect("set the mode");
    let http = jar_client();
    let (last, _) = follow(&http, &login).await;
    let well_behaved = last.url().path().to_string();
    let who = me(&app, &http).await;

    // Assert
    for ((mode, status, code, me_status), (_, expected)) in got.iter().zip(cases) {
        assert_eq!(
            (code.as_str(), *status, *me_status),
            (expected, 403, 401),
            "mode {mode}"
        );
    }
    let reasons: Vec<String> = app
        .all_events()
        .await
        .iter()
        .filter(|e| e.action == "auth.federated_login" && e.outcome == "denied")
        .filter_map(|e| e.reason.clone())
        .collect();
    assert_eq!(
        reasons,
        cases
            .iter()
            .map(|(_, c)| (*c).to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(well_behaved, "/");
    assert_eq!(who.user.username, "fake-alice");
    assert!(who.mfa.idp_mfa, "amr pwd+otp is MFA");
}

#[tokio::test]
async fn the_return_path_is_only_ever_a_path_on_this_site() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let provider = start_provider(&[]);
    let idp = create_oidc_idp(&admin, "Fake", &provider.fake_issuer).await;

    // Act + Assert
    for (asked, expected) in [
        ("/portal", "/portal"),
        ("//evil.example/", "/"),
        ("/%5Cevil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ] {
        let http = jar_client();
        let url = format!(
            "{}/auth/oidc/{}/login?return_to={}",
            app.base_url,
            idp.id,
            urlencode(asked)
        );
        let (_, visited) = follow(&http, &url).await;
        let last = visited.last().expect("a URL");
        assert_eq!(
            reqwest::Url::parse(last).expect("url").path(),
            expected,
            "{asked}"
        );
        assert!(last.starts_with(&app.base_url), "{asked} → {last}");
    }
}
