//! Sign-in, TOTP, sessions (rotation, sign-out, idle and absolute timeouts), CSRF, sign-in
//! throttling, step-up and the per-person limit on wrong TOTP codes.

use std::time::Duration;

use gatehouse_shared::auth::{Me, Role, TotpEnrollment};
use gatehouse_shared::directory::Group;
use serde_json::json;

use crate::helpers::{totp_code, Browser, Reply, TestApp, ADMIN_PASSWORD, USER_PASSWORD};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn sign_in_with_the_right_password_returns_me_and_a_safe_cookie() {
    // Arrange
    let app = TestApp::spawn().await;
    let browser = app.browser();

    // Act
    let reply = browser.login("admin", ADMIN_PASSWORD, None).await;

    // Assert
    reply.assert_status(200);
    let me: Me = reply.json();
    assert_eq!(me.user.username, "admin");
    assert_eq!(me.roles, vec![Role::Administrator]);
    assert_eq!(me.auth_method, "password");
    assert!(me.password_set);
    assert!(me.csrf_token.len() >= 24, "a real CSRF token: {me:?}");
    assert!(!me.mfa.totp_enrolled);
    let cookie = reply.session_cookie().expect("a session cookie");
    assert!(cookie.value.len() >= 32);
    assert!(cookie.http_only, "HttpOnly");
    assert!(cookie.same_site_lax, "SameSite=Lax");
    assert!(!cookie.secure, "not Secure: the public URL is http");
    assert_eq!(cookie.path.as_deref(), Some("/"));
    assert!(
        !reply.body.contains(&cookie.value),
        "the token is only in the cookie"
    );
    browser.me().await.assert_status(200);
    let events = app.all_events().await;
    let login = events.last().unwrap();
    assert_eq!(
        (
            login.action.as_str(),
            login.outcome.as_str(),
            login.actor_name.as_str()
        ),
        ("auth.login", "success", "admin")
    );
    assert_eq!(login.target_id.as_deref(), Some(me.user.id.as_str()));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_refusal() {
    // Arrange
    let app = TestApp::spawn().await;
    let browser = app.browser();

    // Act
    let wrong_password = browser.login("admin", "not-the-password", None).await;
    let unknown_user = browser.login("nobody", ADMIN_PASSWORD, None).await;

    // Assert
    wrong_password.assert_error(401, "invalid_credentials");
    unknown_user.assert_error(401, "invalid_credentials");
    assert_eq!(
        wrong_password.body, unknown_user.body,
        "which one was wrong is not said"
    );
    assert!(wrong_password.session_cookie().is_none());
    browser.me().await.assert_error(401, "unauthenticated");
    let reasons: Vec<_> = app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.login")
        .map(|e| (e.outcome, e.reason, e.actor_name))
        .collect();
    let expected: Vec<(String, Option<String>, String)> = vec![
        (
            "failure".into(),
            Some("bad_password".into()),
            "admin".into(),
        ),
        (
            "failure".into(),
            Some("unknown_user".into()),
            "nobody".into(),
        ),
    ];
    assert_eq!(reasons, expected);
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in_and_loses_their_session() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.create_user_with_roles(&admin, "dora", &[]).await;
    let dora = app.browser();
    dora.sign_in("dora", USER_PASSWORD).await;

    // Act
    admin
        .patch(
            &format!("/api/v1/users/{}", user.id),
            &json!({ "disabled": true }),
        )
        .await
        .assert_status(200);
    let with_password = app.browser().login("dora", USER_PASSWORD, None).await;
    let with_wrong_password = app
        .browser()
        .login("dora", "wrong-password-here", None)
        .await;

    // Assert
    with_password.assert_error(403, "account_disabled");
    with_wrong_password.assert_error(401, "invalid_credentials");
    dora.me().await.assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn totp_enrolment_takes_effect_once_confirmed_with_a_code() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Act
    let begin = admin.post("/api/v1/me/mfa/totp", &json!({})).await;
    begin.assert_status(200);
    let enrolment: TotpEnrollment = begin.json();
    let pending: Me = admin.me().await.json();
    let wrong = admin
        .post("/api/v1/me/mfa/totp/confirm", &json!({ "code": "000000" }))
        .await;
    let code = totp_code(&enrolment.secret_base32, app.now_ms());
    let confirmed = admin
        .post("/api/v1/me/mfa/totp/confirm", &json!({ "code": code }))
        .await;

    // Assert
    assert!(enrolment
        .otpauth_uri
        .starts_with("otpauth://totp/Gatehouse:admin?"));
    assert!(enrolment.otpauth_uri.contains(&enrolment.secret_base32));
    assert!(enrolment.qr_svg.contains("<svg"));
    assert!(!pending.mfa.totp_enrolled, "pending until confirmed");
    wrong.assert_error(401, "invalid_totp");
    confirmed.assert_status(200);
    let me: Me = confirmed.json();
    assert!(me.mfa.totp_enrolled);
    assert!(me.mfa.fresh, "confirming counts as a fresh MFA check");
    let again = admin.post("/api/v1/me/mfa/totp", &json!({})).await;
    again.assert_error(422, "validation_failed");
    assert_eq!(
        again.fields(),
        vec!["current_code"],
        "replacing needs a current code"
    );
}

#[tokio::test]
async fn sign_in_with_totp_requires_a_fresh_right_code() {
    // Arrange
    let app = TestApp::spawn().await;
    let secret = app.enrol_totp(&app.admin().await).await;
    app.advance(Duration::from_secs(30)); // the enrolment code's step is used up
    let code = totp_code(&secret, app.now_ms());

    // Act
    let no_code = app.browser().login("admin", ADMIN_PASSWORD, None).await;
    let wrong_code = app
        .browser()
        .login("admin", ADMIN_PASSWORD, Some("123456"))
        .await;
    let not_digits = app
        .browser()
        .login("admin", ADMIN_PASSWORD, Some("abcdef"))
        .await;
    let right = app
        .browser()
        .login("admin", ADMIN_PASSWORD, Some(&code))
        .await;
    let replayed = app
        .browser()
        .login("admin", ADMIN_PASSWORD, Some(&code))
        .await;

    // Assert
    no_code.assert_error(401, "totp_required");
    assert!(no_code.session_cookie().is_none());
    wrong_code.assert_error(401, "invalid_totp");
    not_digits.assert_error(401, "invalid_totp");
    right.assert_status(200);
    let me: Me = right.json();
    assert_eq!(me.auth_method, "password+totp");
    assert!(me.mfa.fresh);
    replayed.assert_error(401, "invalid_totp");
    assert!(replayed.body.contains("already used"), "{}", replayed.body);
    let reasons: Vec<_> = app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.login" && e.outcome == "failure")
        .filter_map(|e| e.reason)
        .collect();
    assert_eq!(
        reasons,
        vec!["invalid_totp", "invalid_totp", "totp_replayed"]
    );
}

#[tokio::test]
async fn sign_in_rotates_the_session_id_and_kills_the_old_one() {
    // Arrange
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let first = browser.login("admin", ADMIN_PASSWORD, None).await;
    let old = first.session_cookie().unwrap().value.clone();

    // Act: the same browser signs in again, presenting its old cookie.
    let second = browser.login("admin", ADMIN_PASSWORD, None).await;

    // Assert
    let new = second.session_cookie().unwrap().value.clone();
    assert_ne!(old, new, "a new session id at sign-in");
    let by_hand = Browser::cookieless(&app.base_url);
    let with_old = Reply::read(
        by_hand
            .client
            .get(by_hand.url("/api/v1/me"))
            .header("cookie", format!("gatehouse_session={old}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    with_old.assert_error(401, "unauthenticated");
    browser.me().await.assert_status(200);
    let login = app.all_events().await.pop().unwrap();
    let details: serde_json::Value = serde_json::from_str(&login.details).unwrap();
    assert_eq!(
        details,
        json!({ "method": "password", "session_rotated": true })
    );
}

#[tokio::test]
async fn a_session_id_planted_before_sign_in_is_never_used() {
    // Arrange: an attacker plants a cookie value in the victim's browser (session fixation).
    let app = TestApp::spawn().await;
    let by_hand = Browser::cookieless(&app.base_url);

    // Act
    let reply = Reply::read(
        by_hand
            .client
            .post(by_hand.url("/api/v1/auth/login"))
            .header("cookie", "gatehouse_session=planted-by-the-attacker")
            .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Assert
    reply.assert_status(200);
    let issued = reply.session_cookie().unwrap().value.clone();
    assert_ne!(issued, "planted-by-the-attacker");
    let planted = Reply::read(
        by_hand
            .client
            .get(by_hand.url("/api/v1/me"))
            .header("cookie", "gatehouse_session=planted-by-the-attacker")
            .send()
            .await
            .unwrap(),
    )
    .await;
    planted.assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn logout_ends_the_session() {
    // Arrange
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let token = browser
        .login("admin", ADMIN_PASSWORD, None)
        .await
        .session_cookie()
        .unwrap()
        .value
        .clone();

    // Act
    let reply = browser.post("/api/v1/auth/logout", &json!({})).await;

    // Assert
    reply.assert_status(204);
    let cleared = reply.session_cookie().expect("the cookie is removed");
    assert_eq!(cleared.value, "");
    browser.me().await.assert_error(401, "unauthenticated");
    let by_hand = Browser::cookieless(&app.base_url);
    let with_copy = Reply::read(
        by_hand
            .client
            .get(by_hand.url("/api/v1/me"))
            .header("cookie", format!("gatehouse_session={token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    with_copy.assert_error(401, "unauthenticated");
    let last = app.all_events().await.pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.outcome.as_str()),
        ("auth.logout", "success")
    );
}

#[tokio::test]
async fn a_session_idle_for_the_timeout_ends_but_activity_keeps_it() {
    // Arrange: the default idle timeout is 30 minutes.
    let app = TestApp::spawn().await;
    let browser = app.admin().await;

    // Act / Assert: activity every 29 minutes keeps the session alive…
    for _ in 0..3 {
        app.advance(29 * MINUTE);
        browser.me().await.assert_status(200);
    }
    // …and 30 quiet minutes end it.
    app.advance(30 * MINUTE);
    browser.me().await.assert_error(401, "unauthenticated");
    app.advance(MINUTE);
    browser.me().await.assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_timeout_however_active() {
    // Arrange: the default absolute timeout is 12 hours.
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let me = browser.sign_in("admin", ADMIN_PASSWORD).await;
    let started = app.now_ms();
    assert_eq!(
        gatehouse::clock::to_millis(me.session_expires_at),
        started + 12 * 60 * 60 * 1000
    );

    // Act / Assert: active every 20 minutes up to a minute before the end…
    while app.now_ms() + 21 * 60 * 1000 <= started + 12 * 60 * 60 * 1000 {
        app.advance(20 * MINUTE);
        browser.me().await.assert_status(200);
    }
    let left = started + 12 * 60 * 60 * 1000 - app.now_ms();
    app.clock.advance_ms(left - 60_000);
    browser.me().await.assert_status(200);
    // …then it ends.
    app.advance(MINUTE);
    browser.me().await.assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn state_changing_requests_need_the_sessions_csrf_token() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let other = app.admin().await; // another session of the same person
    let body = json!({ "name": "csrf-test" });
    let token = admin.csrf().unwrap();

    // Act
    admin.set_csrf(None);
    let without = admin.post("/api/v1/groups", &body).await;
    admin.set_csrf(Some("not-the-token".into()));
    let wrong = admin.post("/api/v1/groups", &body).await;
    admin.set_csrf(other.csrf());
    let other_sessions = admin.post("/api/v1/groups", &body).await;
    admin.set_csrf(Some(token));
    let logout_without = {
        let r = admin
            .client
            .post(admin.url("/api/v1/auth/logout"))
            .send()
            .await
            .unwrap();
        Reply::read(r).await
    };
    let groups_meanwhile: Vec<Group> = admin.get("/api/v1/groups").await.json();
    let right = admin.post("/api/v1/groups", &body).await;

    // Assert
    without.assert_error(403, "csrf_failed");
    wrong.assert_error(403, "csrf_failed");
    other_sessions.assert_error(403, "csrf_failed");
    logout_without.assert_error(403, "csrf_failed");
    assert!(
        groups_meanwhile.iter().all(|g| g.name != "csrf-test"),
        "nothing was created"
    );
    right.assert_status(201);
    admin.me().await.assert_status(200);
}

#[tokio::test]
async fn requests_from_a_foreign_origin_are_refused() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let post_with_origin = |origin: &'static str| {
        let req = admin
            .client
            .post(admin.url("/api/v1/groups"))
            .header("x-csrf-token", admin.csrf().unwrap())
            .header("origin", origin)
            .json(&json!({ "name": format!("from-{}", origin.len()) }));
        async move { Reply::read(req.send().await.unwrap()).await }
    };

    // Act
    let foreign = post_with_origin("https://evil.example").await;
    let null_origin = post_with_origin("null").await;
    let same_origin = Reply::read(
        admin
            .client
            .post(admin.url("/api/v1/groups"))
            .header("x-csrf-token", admin.csrf().unwrap())
            .header("origin", app.base_url.clone())
            .json(&json!({ "name": "from-same-origin" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let foreign_login = Reply::read(
        app.browser()
            .client
            .post(admin.url("/api/v1/auth/login"))
            .header("origin", "https://evil.example")
            .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let foreign_read = Reply::read(
        admin
            .client
            .get(admin.url("/api/v1/me"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Assert
    foreign.assert_error(403, "csrf_failed");
    null_origin.assert_error(403, "csrf_failed");
    same_origin.assert_status(201);
    foreign_login.assert_error(403, "csrf_failed");
    assert!(foreign_login.session_cookie().is_none());
    foreign_read.assert_status(200);
}

#[tokio::test]
async fn the_sixth_failed_attempt_on_an_account_is_throttled() {
    // Arrange: 5 failures per account per 15 minutes are allowed.
    let app = TestApp::spawn().await;
    let attacker = app.browser();
    for _ in 0..5 {
        attacker
            .login("admin", "guessing-the-password", None)
            .await
            .assert_error(401, "invalid_credentials");
    }

    // Act
    let sixth = attacker.login("admin", "guessing-the-password", None).await;
    let even_right = app.browser().login("Admin", ADMIN_PASSWORD, None).await;

    // Assert
    sixth.assert_error(429, "rate_limited");
    let retry_after: i64 = sixth.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=15 * 60).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    even_right.assert_error(429, "rate_limited");
    let denied = app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.outcome == "denied")
        .count();
    assert_eq!(denied, 2, "each throttled attempt is audited");
    // The window passes.
    app.advance(15 * MINUTE);
    app.browser()
        .login("admin", ADMIN_PASSWORD, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_success_clears_the_accounts_failure_count() {
    // Arrange
    let app = TestApp::spawn().await;
    let b = app.browser();
    for _ in 0..4 {
        b.login("admin", "guessing-the-password", None).await;
    }

    // Act
    b.login("admin", ADMIN_PASSWORD, None)
        .await
        .assert_status(200);
    for _ in 0..5 {
        b.login("admin", "guessing-the-password", None)
            .await
            .assert_error(401, "invalid_credentials");
    }

    // Assert
    b.login("admin", "guessing-the-password", None)
        .await
        .assert_error(429, "rate_limited");
}

#[tokio::test]
async fn too_many_failures_from_one_address_are_throttled_across_accounts() {
    // Arrange: a low per-address limit, so the test does not hash 30 passwords.
    let app = TestApp::spawn_with(|c| c.login_ip_limit = 4).await;
    let attacker = app.browser();
    for i in 0..4 {
        attacker
            .login(&format!("user{i}"), "guessing-the-password", None)
            .await
            .assert_error(401, "invalid_credentials");
    }

    // Act: a new account, from the same address; a spoofed X-Forwarded-For does not help
    // because the server does not trust it unless configured to.
    let fifth = attacker
        .login("someone-else", "guessing-the-password", None)
        .await;
    let spoofed = Reply::read(
        attacker
            .client
            .post(attacker.url("/api/v1/auth/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Assert
    fifth.assert_error(429, "rate_limited");
    assert!(fifth.body.contains("address"), "{}", fifth.body);
    assert!(fifth.header("retry-after").is_some());
    spoofed.assert_error(429, "rate_limited");
    app.advance(5 * MINUTE);
    attacker
        .login("admin", ADMIN_PASSWORD, None)
        .await
        .assert_status(200);
}

/// `(status, Retry-After)` of `n` sign-ins sent at once, each from a browser of its own.
async fn burst(
    app: &TestApp,
    n: usize,
    username: impl Fn(usize) -> String,
) -> Vec<(u16, Option<String>)> {
    let replies = futures_util::future::join_all((0..n).map(|i| {
        let b = app.browser();
        let name = username(i);
        async move { b.login(&name, "guessing-the-password", None).await }
    }))
    .await;
    replies
        .iter()
        .map(|r| (r.status.as_u16(), r.header("retry-after")))
        .collect()
}

fn count(statuses: &[(u16, Option<String>)], status: u16) -> usize {
    statuses.iter().filter(|(s, _)| *s == status).count()
}

#[tokio::test]
async fn wrong_passwords_sent_at_once_are_checked_no_more_than_the_limit() {
    // Arrange: 5 per account; a long wait for a turn to hash, so none is refused as busy,
    // and turns for all at once, so none is refused before it is counted (`overload.rs`).
    let app = TestApp::spawn_with(|c| {
        c.password_hash_wait_ms = 120_000;
        c.admission_sign_in = Some(64);
    })
    .await;

    // Act: 20 wrong passwords for one account, all at once.
    let statuses = burst(&app, 20, |_| "admin".into()).await;

    // Assert: each attempt is counted before its password is looked at.
    assert_eq!(count(&statuses, 401), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 15, "{statuses:?}");
    let reasons: Vec<_> = outcomes(&app, "auth.login")
        .await
        .into_iter()
        .map(|(outcome, reason, _)| (outcome, reason.unwrap_or_default()))
        .collect();
    let checked = reasons.iter().filter(|(_, r)| r == "bad_password").count();
    let throttled = reasons
        .iter()
        .filter(|(o, r)| o == "denied" && r == "rate_limited")
        .count();
    assert_eq!((checked, throttled), (5, 15), "{reasons:?}");
    // The refusals did not count: the window's end still frees the account.
    app.advance(15 * MINUTE);
    app.browser()
        .login("admin", ADMIN_PASSWORD, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn sign_ins_beyond_the_hashing_bound_are_refused_busy_and_not_counted() {
    // Arrange: one hash at a time and no waiting for a turn (but every sign-in admitted:
    // this is the hashing bound, beneath admission).
    let app = TestApp::spawn_with(|c| {
        c.password_hash_concurrency = Some(1);
        c.password_hash_wait_ms = 0;
        c.admission_sign_in = Some(64);
    })
    .await;

    // Act: 4 wrong passwords for the administrator at once.
    let statuses = burst(&app, 4, |_| "admin".into()).await;

    // Assert: some were refused with 503 and Retry-After: 1 without being checked…
    let busy = count(&statuses, 503);
    let checked = count(&statuses, 401);
    assert!(busy >= 1, "{statuses:?}");
    assert_eq!(busy + checked, 4, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .filter(|(s, _)| *s == 503)
            .all(|(_, retry)| retry.as_deref() == Some("1")),
        "{statuses:?}"
    );
    let reply = loop {
        // One more burst, to read one refusal's body.
        let replies = futures_util::future::join_all((0..3).map(|_| {
            let b = app.browser();
            async move { b.login("nobody-here", "guessing-the-password", None).await }
        }))
        .await;
        if let Some(r) = replies.into_iter().find(|r| r.status.as_u16() == 503) {
            break r;
        }
    };
    reply.assert_error(503, "unavailable");
    assert!(
        reply.body.contains("busy checking other sign-ins"),
        "{}",
        reply.body
    );
    let busy_events: Vec<_> = outcomes(&app, "auth.login")
        .await
        .into_iter()
        .filter(|(_, reason, _)| reason.as_deref() == Some("busy"))
        .collect();
    assert!(busy_events.len() > busy, "{busy_events:?}");
    assert!(busy_events
        .iter()
        .all(|(outcome, _, details)| outcome == "failure" && !details.contains("guessing")));
    // …and a busy refusal is not a failure: the account has 5 - checked tries left.
    let b = app.browser();
    for _ in checked..5 {
        b.login("admin", "guessing-the-password", None)
            .await
            .assert_error(401, "invalid_credentials");
    }
    b.login("admin", "guessing-the-password", None)
        .await
        .assert_error(429, "rate_limited");
}

#[tokio::test]
async fn a_right_password_gives_its_count_back() {
    // Arrange: 3 sign-ins per address; success clears no address counter.
    let app = TestApp::spawn_with(|c| c.login_ip_limit = 3).await;
    let b = app.browser();

    // Act / Assert: more right sign-ins than the limit all succeed…
    for _ in 0..5 {
        b.login("admin", ADMIN_PASSWORD, None)
            .await
            .assert_status(200);
    }
    // …and failures below the limit leave a right password working.
    for _ in 0..2 {
        b.login("admin", "guessing-the-password", None)
            .await
            .assert_error(401, "invalid_credentials");
    }
    b.login("admin", ADMIN_PASSWORD, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_is_the_one_the_proxy_saw() {
    // Arrange: one proxy in front, which appends the address it received from.
    let app = TestApp::spawn_with(|c| c.trust_forwarded_for = true).await;
    let attacker = app.browser();
    let spoofing = |claimed: &'static str| {
        attacker
            .client
            .post(attacker.url("/api/v1/auth/login"))
            .header("x-forwarded-for", claimed)
            .json(&json!({ "username": "admin", "password": "guessing-the-password" }))
            .send()
    };

    // Act: the client writes an address of its choosing; the proxy appends the real one.
    let first = Reply::read(spoofing("203.0.113.9, 198.51.100.7").await.unwrap()).await;
    let second = Reply::read(spoofing("203.0.113.10, 198.51.100.7").await.unwrap()).await;

    // Assert: both failures are recorded against the address the proxy saw.
    first.assert_error(401, "invalid_credentials");
    second.assert_error(401, "invalid_credentials");
    let admin = app.admin().await;
    let failures = app
        .audit_events(&admin, "action=auth.login&outcome=failure")
        .await;
    assert_eq!(failures.len(), 2);
    assert!(
        failures
            .iter()
            .all(|e| e.source_ip.as_deref() == Some("198.51.100.7")),
        "{:?}",
        failures.iter().map(|e| &e.source_ip).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn step_up_marks_mfa_fresh_again() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let secret = app.enrol_totp(&admin).await;
    app.advance(6 * MINUTE); // past the 5-minute freshness window
    let stale: Me = admin.me().await.json();

    // Act
    let wrong = admin
        .post("/api/v1/auth/step-up", &json!({ "code": "000000" }))
        .await;
    let code = totp_code(&secret, app.now_ms());
    let right = admin
        .post("/api/v1/auth/step-up", &json!({ "code": code }))
        .await;
    let replay = admin
        .post("/api/v1/auth/step-up", &json!({ "code": code }))
        .await;

    // Assert
    assert!(stale.mfa.totp_enrolled && !stale.mfa.fresh, "{stale:?}");
    wrong.assert_error(401, "invalid_totp");
    right.assert_status(200);
    let me: Me = right.json();
    assert!(me.mfa.fresh);
    assert_eq!(
        me.mfa.last_mfa_at.map(gatehouse::clock::to_millis),
        Some(app.now_ms())
    );
    replay.assert_error(401, "invalid_totp");
    let step_ups: Vec<_> = app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.step_up")
        .map(|e| (e.outcome, e.reason))
        .collect();
    let expected: Vec<(String, Option<String>)> = vec![
        ("success".into(), None), // at enrolment
        ("failure".into(), Some("invalid_totp".into())),
        ("success".into(), None),
        ("failure".into(), Some("totp_replayed".into())),
    ];
    assert_eq!(step_ups, expected);
}

async fn step_up(b: &Browser, code: &str) -> Reply {
    b.post("/api/v1/auth/step-up", &json!({ "code": code }))
        .await
}

/// Five wrong step-up codes: as many as the limit allows (5 per person per 15 minutes).
async fn five_wrong_step_ups(b: &Browser) {
    for _ in 0..5 {
        step_up(b, "000000").await.assert_error(401, "invalid_totp");
    }
}

/// `(outcome, reason, details)` of every event with `action`, in order.
async fn outcomes(app: &TestApp, action: &str) -> Vec<(String, Option<String>, String)> {
    app.all_events()
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| (e.outcome, e.reason, e.details))
        .collect()
}

/// No event's reason or details carries `code`.
async fn assert_no_event_holds(app: &TestApp, code: &str) {
    for e in app.all_events().await {
        assert!(
            !e.details.contains(code) && !e.reason.as_deref().unwrap_or("").contains(code),
            "{} {} {:?}",
            e.action,
            e.details,
            e.reason
        );
    }
}

#[tokio::test]
async fn the_sixth_wrong_totp_code_locks_step_up_until_the_window_passes() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let secret = app.enrol_totp(&admin).await;
    app.advance(6 * MINUTE); // MFA is stale again
    five_wrong_step_ups(&admin).await;

    // Act
    let sixth = step_up(&admin, "000000").await;
    let right_code = totp_code(&secret, app.now_ms());
    let right_while_locked = step_up(&admin, &right_code).await;
    let me_while_locked: Me = admin.me().await.json();
    app.advance(10 * MINUTE);
    let later = step_up(&admin, &totp_code(&secret, app.now_ms())).await;
    app.advance(5 * MINUTE); // the 15-minute window has passed
    let after = step_up(&admin, &totp_code(&secret, app.now_ms())).await;

    // Assert
    sixth.assert_error(429, "rate_limited");
    assert_eq!(sixth.header("retry-after").as_deref(), Some("900"));
    assert!(
        sixth.body.contains("Too many wrong authenticator codes")
            && sixth.body.contains("15 minute(s)"),
        "{}",
        sixth.body
    );
    right_while_locked.assert_error(429, "rate_limited");
    assert!(
        !me_while_locked.mfa.fresh,
        "a right code is not even checked while locked"
    );
    later.assert_error(429, "rate_limited");
    assert_eq!(
        later.header("retry-after").as_deref(),
        Some("300"),
        "Retry-After counts down to the window's end"
    );
    after.assert_status(200);
    assert!(after.json::<Me>().mfa.fresh);
    let step_ups = outcomes(&app, "auth.step_up").await;
    let summary: Vec<(&str, Option<&str>)> = step_ups
        .iter()
        .map(|(o, r, _)| (o.as_str(), r.as_deref()))
        .collect();
    let mut expected = vec![("success", None)]; // at enrolment
    expected.extend([("failure", Some("invalid_totp")); 5]);
    expected.extend([("denied", Some("rate_limited")); 3]);
    expected.push(("success", None));
    assert_eq!(summary, expected);
    for (_, _, details) in step_ups.iter().filter(|(o, _, _)| o == "denied") {
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(details).unwrap(),
            json!({ "scope": "totp" })
        );
    }
    assert_no_event_holds(&app, &right_code).await;
}

#[tokio::test]
async fn a_right_totp_code_does_not_clear_the_wrong_ones_before_it() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let secret = app.enrol_totp(&admin).await;
    app.advance(6 * MINUTE);
    for _ in 0..4 {
        step_up(&admin, "000000").await;
    }

    // Act: a success in between; it is not counted, and it takes none of the four away.
    let right = step_up(&admin, &totp_code(&secret, app.now_ms())).await;
    let fifth_wrong = step_up(&admin, "000000").await;
    app.advance(MINUTE);
    let right_again = step_up(&admin, &totp_code(&secret, app.now_ms())).await;

    // Assert
    right.assert_status(200);
    fifth_wrong.assert_error(401, "invalid_totp");
    right_again.assert_error(429, "rate_limited");
}

#[tokio::test]
async fn replacing_the_authenticator_counts_wrong_codes_and_the_lockout_holds_everywhere() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let secret = app.enrol_totp(&admin).await;
    app.advance(MINUTE); // the enrolment code's step is used up
    let replace = |code: String| {
        let admin = &admin;
        async move {
            admin
                .post("/api/v1/me/mfa/totp", &json!({ "current_code": code }))
                .await
        }
    };
    for _ in 0..5 {
        replace("000000".into())
            .await
            .assert_error(401, "invalid_totp");
    }

    // Act
    let right_code = totp_code(&secret, app.now_ms());
    let replace_while_locked = replace(right_code.clone()).await;
    let step_up_while_locked = step_up(&admin, &right_code).await;
    let sign_in_while_locked = app
        .browser()
        .login("admin", ADMIN_PASSWORD, Some(&right_code))
        .await;
    app.advance(15 * MINUTE);
    let replace_after = replace(totp_code(&secret, app.now_ms())).await;

    // Assert
    replace_while_locked.assert_error(429, "rate_limited");
    assert!(replace_while_locked.header("retry-after").is_some());
    step_up_while_locked.assert_error(429, "rate_limited");
    sign_in_while_locked.assert_error(429, "rate_limited");
    assert!(
        sign_in_while_locked.body.contains("authenticator codes"),
        "{}",
        sign_in_while_locked.body
    );
    assert!(sign_in_while_locked.session_cookie().is_none());
    replace_after.assert_status(200);
    let summary = |events: Vec<(String, Option<String>, String)>| {
        events
            .into_iter()
            .map(|(o, r, _)| (o, r.unwrap_or_default()))
            .filter(|(o, _)| o != "success")
            .collect::<Vec<_>>()
    };
    let mut expected = vec![("failure".to_string(), "invalid_totp".to_string()); 5];
    expected.push(("denied".into(), "rate_limited".into()));
    assert_eq!(summary(outcomes(&app, "auth.totp.enroll").await), expected);
    let denied = ("denied".to_string(), "rate_limited".to_string());
    assert_eq!(
        summary(outcomes(&app, "auth.step_up").await),
        vec![denied.clone()]
    );
    assert_eq!(summary(outcomes(&app, "auth.login").await), vec![denied]);
    assert_no_event_holds(&app, &right_code).await;
}

#[tokio::test]
async fn confirming_a_new_authenticator_counts_wrong_codes() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let enrolment: TotpEnrollment = admin
        .post("/api/v1/me/mfa/totp", &json!({}))
        .await
        .assert_status(200)
        .json();
    let confirm = |code: String| {
        let admin = &admin;
        async move {
            admin
                .post("/api/v1/me/mfa/totp/confirm", &json!({ "code": code }))
                .await
        }
    };
    for _ in 0..5 {
        confirm("000000".into())
            .await
            .assert_error(401, "invalid_totp");
    }

    // Act
    let right_code = totp_code(&enrolment.secret_base32, app.now_ms());
    let while_locked = confirm(right_code.clone()).await;
    let me: Me = admin.me().await.json();
    app.advance(15 * MINUTE);
    let after = confirm(totp_code(&enrolment.secret_base32, app.now_ms())).await;

    // Assert
    while_locked.assert_error(429, "rate_limited");
    assert!(while_locked.header("retry-after").is_some());
    assert!(!me.mfa.totp_enrolled, "still pending");
    after.assert_status(200);
    assert!(after.json::<Me>().mfa.totp_enrolled);
    let refusals: Vec<_> = outcomes(&app, "auth.totp.confirm")
        .await
        .into_iter()
        .filter(|(o, _, _)| o != "success")
        .map(|(o, r, _)| (o, r.unwrap_or_default()))
        .collect();
    assert_eq!(refusals.len(), 6);
    assert_eq!(
        refusals[5],
        ("denied".to_string(), "rate_limited".to_string())
    );
    assert_no_event_holds(&app, &right_code).await;
}

#[tokio::test]
async fn step_up_without_an_authenticator_is_refused() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Act
    let reply = admin
        .post("/api/v1/auth/step-up", &json!({ "code": "123456" }))
        .await;

    // Assert
    reply.assert_error(401, "invalid_totp");
    let me: Me = admin.me().await.json();
    assert!(!me.mfa.fresh);
}

#[tokio::test]
async fn no_or_unknown_session_is_unauthenticated() {
    // Arrange
    let app = TestApp::spawn().await;
    let by_hand = Browser::cookieless(&app.base_url);

    // Act
    let none = by_hand.get("/api/v1/me").await;
    let garbage = Reply::read(
        by_hand
            .client
            .get(by_hand.url("/api/v1/me"))
            .header("cookie", "gatehouse_session=0123456789abcdef")
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Assert
    none.assert_error(401, "unauthenticated");
    garbage.assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn people_change_their_own_password_and_their_other_sessions_end() {
    // Arrange: the administrator signed in twice (two browsers).
    let app = TestApp::spawn().await;
    let here = app.admin().await;
    let elsewhere = app.admin().await;
    let new = "a different long passphrase";

    // A wrong current password is a field fault, audited, and changes nothing.
    here.post(
        "/api/v1/me/password",
        &json!({ "current_password": "wrong password!", "new_password": new }),
    )
    .await
    .assert_error(422, "validation_failed");
    // A too-short new password is refused with its own field fault.
    let r = here
        .post(
            "/api/v1/me/password",
            &json!({ "current_password": ADMIN_PASSWORD, "new_password": "short" }),
        )
        .await;
    r.assert_error(422, "validation_failed");
    assert!(r.body.contains("new_password"), "{}", r.body);

    // Act
    here.post(
        "/api/v1/me/password",
        &json!({ "current_password": ADMIN_PASSWORD, "new_password": new }),
    )
    .await
    .assert_status(204);

    // Assert: this session stays, the other one is gone, only the new password signs in.
    here.me().await.assert_status(200);
    elsewhere.me().await.assert_error(401, "unauthenticated");
    app.browser()
        .login("admin", ADMIN_PASSWORD, None)
        .await
        .assert_error(401, "invalid_credentials");
    app.browser().sign_in("admin", new).await;
    let events = app.audit_events(&here, "action=auth.password.change").await;
    let outcomes: Vec<_> = events.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["success", "failure"], "newest first");
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains(new) && !text.contains(ADMIN_PASSWORD),
        "no passwords in the trail"
    );
}
