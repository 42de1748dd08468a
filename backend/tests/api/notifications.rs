//! Notifications: webhook endpoints administered over the API, deliveries created from the
//! audit trail's contract events, signed webhooks to a receiver started here (checked with
//! an independent HMAC), retries with backoff on the test clock, dead deliveries, two
//! notifier instances on one database, and e-mail to a real SMTP server (Python aiosmtpd,
//! `e2e/smtp/sink.py`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use gatehouse::audit::{AuditCtx, NewEvent};
use gatehouse::notifications::{deliver_due, enqueue_due};
use gatehouse_shared::auth::Role;
use gatehouse_shared::notifications::{
    Delivery, DeliveryStatus, EndpointWithSecret, MailSettings, TestSent,
};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{Browser, TestApp};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// Whether `X-Gatehouse-Signature` is HMAC-SHA256(secret, "<timestamp>.<body>"),
    /// computed here independently of the server's code.
    fn signed_with(&self, secret: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{}.{}", self.header("x-gatehouse-timestamp"), self.body).as_bytes());
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        self.header("x-gatehouse-signature") == expected
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Default)]
struct ReceiverState {
    got: Vec<Received>,
    /// Answer 500 to this many requests first.
    fail_first: usize,
}

/// A webhook receiver on 127.0.0.1:0.
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            got: Vec::new(),
            fail_first,
        }));
        async fn hook(
            State(s): State<Arc<Mutex<ReceiverState>>>,
            headers: HeaderMap,
            body: Bytes,
        ) -> (StatusCode, &'static str) {
            let mut s = s.lock().unwrap();
            s.got.push(Received {
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect(),
                body: String::from_utf8(body.to_vec()).unwrap(),
            });
            if s.fail_first > 0 {
                s.fail_first -= 1;
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "receiver is down\nfor now",
                )
            } else {
                (StatusCode::OK, "ok")
            }
        }
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/hook"),
            state,
        }
    }

    fn got(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }
}

/// A test app whose background jobs stay out of the way: these tests take each step
/// themselves, on the test clock.
async fn spawn_app(tweak: impl FnOnce(&mut gatehouse::config::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.jobs_interval_secs = 3600;
        tweak(c);
    })
    .await
}

async fn create_endpoint(admin: &Browser, url: &str, types: &[&str]) -> EndpointWithSecret {
    admin
        .post(
            "/api/v1/notification-endpoints",
            &json!({ "name": "SIEM", "url": url, "event_types": types }),
        )
        .await
        .assert_status(201)
        .json()
}

/// Appends a contract event the way the request and break-glass code do: through the
/// store's audit append, in its own transaction.
async fn append_event(app: &TestApp, action: &'static str, target: &str, details: Value) -> i64 {
    // `named`: the test also appends an action Gatehouse never writes.
    let ev = NewEvent::named(
        app.now_ms(),
        &AuditCtx {
            actor_id: Some("u-requester".into()),
            actor_name: "rita".into(),
            ..AuditCtx::default()
        },
        action,
        if action.starts_with("vault.") {
            "vault_entry"
        } else {
            "access_request"
        },
        Some(target.into()),
    )
    .details(details);
    app.state.store.append_event(ev).await.unwrap().seq
}

fn request_details(notify: &[&str]) -> Value {
    json!({
        "request_id": "req-1",
        "requester_id": "u-requester",
        "requester_name": "rita",
        "account_id": "1111222233334444",
        "permission_set_id": "ps-1",
        "permission_set_name": "ProdAdmin",
        "justification": "INC-42 database failover",
        "notify_user_ids": notify,
    })
}

async fn enqueue(app: &TestApp) -> usize {
    enqueue_due(&*app.state.store, &app.state.notify, app.now_ms())
        .await
        .unwrap()
}

async fn deliver(app: &TestApp) {
    deliver_due(&*app.state.store, &app.state.notify, app.now_ms())
        .await
        .unwrap();
}

async fn deliveries(admin: &Browser, query: &str) -> Vec<Delivery> {
    admin
        .get(&format!("/api/v1/notification-deliveries?{query}"))
        .await
        .assert_status(200)
        .json()
}

#[tokio::test]
async fn a_contract_event_is_signed_retried_after_a_500_with_backoff_and_then_delivered() {
    // Arrange
    let app = spawn_app(|_| {}).await;
    let admin = app.admin().await;
    let receiver = Receiver::start(1).await;
    let created = create_endpoint(&admin, &receiver.url, &[]).await;
    assert!(created.secret.starts_with("whsec_") && created.secret.len() > 30);
    let seq = append_event(&app, "access_request.create", "req-1", request_details(&[])).await;

    // Act: enqueue and the first attempt (the receiver answers 500)
    enqueue(&app).await;
    deliver(&app).await;
    let first = deliveries(&admin, &format!("endpoint={}", created.endpoint.id)).await;
    // Act: no retry before the backoff has passed…
    deliver(&app).await;
    let before_backoff = receiver.got().len();
    // …then one after it
    app.advance(Duration::from_secs(40));
    deliver(&app).await;

    // Assert
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].status, DeliveryStatus::Retrying);
    assert_eq!(first[0].attempts.len(), 1);
    assert_eq!(first[0].attempts[0].status_code, Some(500));
    assert_eq!(
        first[0].attempts[0].detail,
        "HTTP 500: receiver is down for now"
    );
    let next = first[0].next_attempt_at.unwrap();
    let waited = next - first[0].attempts[0].at;
    assert!(
        waited >= time::Duration::seconds(30) && waited <= time::Duration::milliseconds(37_500),
        "first backoff {waited}"
    );
    assert_eq!(before_backoff, 1, "retried before the backoff passed");
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    for r in &got {
        assert!(r.signed_with(&created.secret), "signature of {r:?}");
        assert!(!r.signed_with("whsec_not-the-secret"));
        assert_eq!(r.header("x-gatehouse-event"), "access_request.create");
        assert_eq!(r.header("content-type"), "application/json");
    }
    assert_eq!(got[0].body, got[1].body, "a retry sends the same body");
    assert_eq!(got[0].header("x-gatehouse-delivery"), first[0].id);
    let body = got[1].json();
    assert_eq!(body["id"], first[0].id.as_str());
    assert_eq!(body["type"], "access_request.create");
    assert_eq!(body["event_seq"], seq);
    assert_eq!(body["actor"]["name"], "rita");
    assert_eq!(body["target"]["id"], "req-1");
    assert_eq!(body["outcome"], "success");
    assert_eq!(body["details"]["permission_set_name"], "ProdAdmin");
    assert!(
        body["link"].as_str().unwrap().ends_with("/approvals"),
        "an approver's inbox"
    );
    let log = deliveries(&admin, &format!("endpoint={}", created.endpoint.id)).await;
    assert_eq!(log[0].status, DeliveryStatus::Delivered);
    assert!(log[0].next_attempt_at.is_none() && log[0].delivered_at.is_some());
    let codes: Vec<_> = log[0]
        .attempts
        .iter()
        .map(|a| (a.attempt, a.ok, a.status_code))
        .collect();
    assert_eq!(codes, vec![(1, false, Some(500)), (2, true, Some(200))]);
    // The secret is nowhere in the audit trail.
    for ev in app.all_events().await {
        assert!(
            !ev.details.contains(&created.secret),
            "secret in {}",
            ev.action
        );
    }
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_dead_after_eight_attempts() {
    // Arrange
    let app = spawn_app(|_| {}).await;
    let admin = app.admin().await;
    let receiver = Receiver::start(usize::MAX).await;
    let ep = create_endpoint(&admin, &receiver.url, &["vault.rotation_required"]).await;
    append_event(
        &app,
        "vault.rotation_required",
        "vault-1",
        json!({ "vault_entry_id": "vault-1", "account_id": "1111222233334444" }),
    )
    .await;
    enqueue(&app).await;

    // Act: every step two hours later (more than the longest backoff)
    for _ in 0..12 {
        deliver(&app).await;
        app.advance(Duration::from_secs(2 * 3600));
    }

    // Assert (a day later: a new session)
    let admin = app.admin().await;
    let log = deliveries(&admin, &format!("endpoint={}&status=dead", ep.endpoint.id)).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].attempts.len(), 8);
    assert_eq!(receiver.got().len(), 8);
    assert!(log[0].next_attempt_at.is_none());
    let gaps: Vec<i64> = log[0]
        .attempts
        .windows(2)
        .map(|w| (w[1].at - w[0].at).whole_seconds())
        .collect();
    assert_eq!(gaps.len(), 7);
    assert!(
        gaps.iter().all(|g| *g == 7200),
        "each retry waited for the step: {gaps:?}"
    );
    assert!(deliveries(&admin, "status=retrying").await.is_empty());
}

#[tokio::test]
async fn only_subscribed_contract_events_become_deliveries_and_history_is_not_replayed() {
    // Arrange
    let app = spawn_app(|_| {}).await;
    let admin = app.admin().await;
    let receiver = Receiver::start(0).await;
    let all = create_endpoint(&admin, &receiver.url, &[]).await;
    let glass_only = create_endpoint(&admin, &receiver.url, &["breakglass.create"]).await;
    let disabled = create_endpoint(&admin, &receiver.url, &[]).await;
    admin
        .patch(
            &format!("/api/v1/notification-endpoints/{}", disabled.endpoint.id),
            &json!({ "enabled": false }),
        )
        .await
        .assert_status(200);

    // Act
    append_event(&app, "access_request.create", "req-1", request_details(&[])).await;
    append_event(
        &app,
        "breakglass.create",
        "bg-1",
        json!({ "request_id": "bg-1", "vault_entry_id": "v-1" }),
    )
    .await;
    // Not in the contract: ignored.
    append_event(&app, "directory.user.create", "u-9", json!({})).await;
    append_event(&app, "access_request.bogus", "req-1", json!({})).await;
    enqueue(&app).await;
    let again = enqueue(&app).await;
    let created = deliveries(&admin, "").await.len();
    deliver(&app).await;

    // Assert
    assert_eq!(created, 3, "all: 2, breakglass-only: 1, disabled: 0");
    assert_eq!(again, 0);
    let types = |id: &str| {
        let mut t: Vec<String> = receiver
            .got()
            .iter()
            .filter(|r| r.json()["id"].is_string())
            .filter(|r| {
                let want = if id == all.endpoint.id {
                    &all.secret
                } else {
                    &glass_only.secret
                };
                r.signed_with(want)
            })
            .map(|r| r.header("x-gatehouse-event").to_string())
            .collect();
        t.sort();
        t
    };
    assert_eq!(
        types(&all.endpoint.id),
        vec!["access_request.create", "breakglass.create"]
    );
    assert_eq!(types(&glass_only.endpoint.id), vec!["breakglass.create"]);
    assert!(
        deliveries(&admin, &format!("endpoint={}", disabled.endpoint.id))
            .await
            .is_empty()
    );
    // The other events (the bootstrap, sign-ins, endpoint changes) made no deliveries, and
    // the cursor is at the head now.
    let head = app.all_events().await.last().unwrap().seq;
    assert_eq!(app.state.store.notification_cursor().await.unwrap(), head);
}

#[tokio::test]
async fn two_notifier_instances_never_enqueue_or_deliver_an_event_twice() {
    // Arrange: a second store on the same database, as a second instance would have
    let app = spawn_app(|_| {}).await;
    let admin = app.admin().await;
    let receiver = Receiver::start(0).await;
    create_endpoint(&admin, &receiver.url, &[]).await;
    let other = gatehouse::store::connect(&app.db_url, &app.state.master)
        .await
        .unwrap();
    for i in 0..40 {
        append_event(
            &app,
            "access_request.approved",
            &format!("req-{i}"),
            request_details(&[]),
        )
        .await;
    }

    // Act: both instances enqueue and deliver at once, several times over
    let now = app.now_ms();
    let notify = &app.state.notify;
    let mut created = 0;
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            enqueue_due(&*app.state.store, notify, now),
            enqueue_due(&*other, notify, now)
        );
        created += a.unwrap() + b.unwrap();
    }
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            deliver_due(&*app.state.store, notify, now),
            deliver_due(&*other, notify, now)
        );
        a.unwrap();
        b.unwrap();
    }

    // Assert
    assert!(created <= 40, "no instance reports more than it made");
    let log = deliveries(&admin, "limit=500").await;
    assert_eq!(log.len(), 40);
    assert!(log
        .iter()
        .all(|d| d.status == DeliveryStatus::Delivered && d.attempts.len() == 1));
    let mut ids: Vec<String> = receiver
        .got()
        .iter()
        .map(|r| r.header("x-gatehouse-delivery").to_string())
        .collect();
    assert_eq!(ids.len(), 40, "each delivery sent once");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
}

#[tokio::test]
async fn an_expired_claim_is_taken_again_and_the_late_owner_cannot_record() {
    // Arrange
    let app = spawn_app(|_| {}).await;
    let admin = app.admin().await;
    let receiver = Receiver::start(0).await;
    let ep = create_endpoint(&admin, &receiver.url, &[]).await;
    let sent: TestSent = admin
        .post(
            &format!("/api/v1/notification-endpoints/{}/test", ep.endpoint.id),
            &json!({}),
        )
        .await
        .assert_status(202)
        .json();
    let store = &app.state.store;
    let now = app.now_ms();

    // Act: an instance claims it and "crashes"; another finds nothing until the lease ends
    let crashed = store
        .claim_deliveries(now, gatehouse::notifications::LEASE_MS, "crashed", 10)
        .await
        .unwrap();
    let meanwhile = store
        .claim_deliveries(now + 1_000, gatehouse::notifications::LEASE_MS, "other", 10)
        .await
        .unwrap();
    app.advance(Duration::from_millis(
        u64::try_from(gatehouse::notifications::LEASE_MS).unwrap() + 1,
    ));
    deliver(&app).await;
    let late = store
        .finish_attempt(
            "crashed",
            gatehouse::store::AttemptRecord {
                delivery_id: sent.delivery_id.clone(),
                attempt: 1,
                started_at: now,
                duration_ms: 1,
                ok: true,
                status_code: Some(200),
                detail: "late".into(),
            },
            gatehouse::store::AttemptOutcome {
                status: "delivered",
                next_attempt_at: now,
                delivered_at: Some(now),
            },
        )
        .await
        .unwrap();

    // Assert
    assert_eq!(crashed.len(), 1);
    assert!(meanwhile.is_empty());
    assert!(!late, "the crashed instance's claim was superseded");
    let d = store.get_delivery(&sent.delivery_id).await.unwrap();
    assert_eq!(d.status, "delivered");
    assert_eq!(d.attempts, 2);
    assert_eq!(receiver.got().len(), 1);
}

#[tokio::test]
async fn send_test_reaches_the_endpoint_and_rotating_the_secret_changes_the_signature() {
    // Arrange
    let app = spawn_app(|_| {}).await;
    let admin = app.admin().await;
    let receiver = Receiver::start(0).await;
    let ep = create_endpoint(&admin, &receiver.url, &["access_grant.start"]).await;
    let path = format!("/api/v1/notification-endpoints/{}", ep.endpoint.id);

    // Act
    let first: TestSent = admin
        .post(&format!("{path}/test"), &json!({}))
        .await
        .assert_status(202)
        .json();
    deliver(&app).await;
    let rotated: EndpointWithSecret = admin
        .post(&format!("{path}/rotate-secret"), &json!({}))
        .await
        .assert_status(200)
        .json();
    let second: TestSent = admin
        .post(&format!("{path}/test"), &json!({}))
        .await
        .assert_status(202)
        .json();
    deliver(&app).await;
    let listed: Vec<Value> = admin
        .get("/api/v1/notification-endpoints")
        .await
        .assert_status(200)
        .json();

    // Assert
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("x-gatehouse-event"), "notification.test");
    assert_eq!(got[0].header("x-gatehouse-delivery"), first.delivery_id);
    assert!(got[0].signed_with(&ep.secret));
    assert_eq!(got[1].header("x-gatehouse-delivery"), second.delivery_id);
    assert_ne!(rotated.secret, ep.secret);
    assert!(got[1].signed_with(&rotated.secret));
    assert!(
        !got[1].signed_with(&ep.secret),
        "the old secret no longer verifies"
    );
    let log = deliveries(
        &admin,
        &format!("endpoint={}&status=delivered", ep.endpoint.id),
    )
    .await;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d.event_type == "notification.test"));
    // Never a secret in a listing or the audit trail; each change is audited.
    assert!(!listed.iter().any(|e| e.to_string().contains("whsec_")));
    let actions: Vec<String> = app
        .all_events()
        .await
        .into_iter()
        .map(|e| {
            assert!(!e.details.contains("whsec_"), "secret in {}", e.action);
            e.action
        })
        .collect();
    for a in [
        "notification.endpoint.create",
        "notification.test",
        "notification.endpoint.rotate_secret",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited");
    }
}

#[tokio::test]
async fn endpoint_input_is_validated_and_unknown_ids_are_404() {
    // Arrange
    let app = spawn_app(|_| {}).await;
    let admin = app.admin().await;
    let receiver = Receiver::start(0).await;
    let ep = create_endpoint(&admin, &receiver.url, &[]).await;
    let path = format!("/api/v1/notification-endpoints/{}", ep.endpoint.id);

    // Act / Assert
    for (body, field) in [
        (json!({ "name": "x", "url": "ftp://example.com/" }), "url"),
        (
            json!({ "name": "x", "url": "https://user:pw@example.com/" }),
            "url",
        ),
        (json!({ "name": "", "url": "https://example.com/" }), "name"),
        (
            json!({ "name": "x", "url": "https://example.com/", "event_types": ["user.create"] }),
            "event_types",
        ),
    ] {
        let r = admin.post("/api/v1/notification-endpoints", &body).await;
        r.assert_error(422, "validation_failed");
        assert_eq!(r.fields(), vec![field.to_string()], "{body}");
    }
    admin
        .patch(&path, &json!({ "url": "javascript:alert(1)" }))
        .await
        .assert_error(422, "validation_failed");
    admin
        .get("/api/v1/notification-deliveries?status=lost")
        .await
        .assert_error(422, "validation_failed");
    admin
        .get("/api/v1/notification-endpoints/nope")
        .await
        .assert_error(404, "not_found");
    admin
        .post("/api/v1/notification-endpoints/nope/test", &json!({}))
        .await
        .assert_error(404, "not_found");
    admin
        .patch(&path, &json!({ "enabled": false }))
        .await
        .assert_status(200);
    admin
        .post(&format!("{path}/test"), &json!({}))
        .await
        .assert_error(409, "conflict");
    let settings: MailSettings = admin
        .get("/api/v1/notification-settings")
        .await
        .assert_status(200)
        .json();
    assert!(!settings.configured && !settings.password_set);
    admin.delete(&path).await.assert_status(204);
    admin.get(&path).await.assert_error(404, "not_found");
}

/// A real SMTP server: `e2e/smtp/sink.py` (aiosmtpd) writing each message into a directory.
struct SmtpSink {
    port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl SmtpSink {
    async fn start() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = root.join("e2e/smtp/.venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/install-test.sh",
            python.display()
        );
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(python)
            .arg(root.join("e2e/smtp/sink.py"))
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Ready when it accepts connections.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { port, dir, child }
    }

    /// The messages received: (envelope JSON, raw message text).
    fn messages(&self) -> Vec<(Value, String)> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let env = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                let eml = std::fs::read_to_string(p.with_extension("eml")).unwrap();
                (env, eml)
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn email_goes_to_the_named_enabled_users_through_a_real_smtp_server() {
    // Arrange
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = spawn_app(|c| {
        c.smtp_host = Some("127.0.0.1".into());
        c.smtp_port = Some(port);
        c.smtp_tls = "none".into();
        c.smtp_from = Some("Gatehouse <gatehouse@example.com>".into());
        // No user name: aiosmtpd offers no AUTH without TLS. The password must still
        // never be shown.
        c.smtp_password = Some("smtp-password-never-shown".into());
    })
    .await;
    let admin = app.admin().await;
    let approver = app.create_user_with_roles(&admin, "approver", &[]).await;
    let gone = app
        .create_user_with_roles(&admin, "gone", &[Role::Auditor])
        .await;
    admin
        .patch(
            &format!("/api/v1/users/{}", gone.id),
            &json!({ "disabled": true }),
        )
        .await
        .assert_status(200);
    let settings: MailSettings = admin
        .get("/api/v1/notification-settings")
        .await
        .assert_status(200)
        .json();

    // Act
    append_event(
        &app,
        "access_request.create",
        "req-7",
        request_details(&[&approver.id, &gone.id, "no-such-user", &approver.id]),
    )
    .await;
    let created = enqueue(&app).await;
    let enqueued = deliveries(&admin, "").await;
    // Deliver; the server's own first tick may hold the claim for a moment.
    for _ in 0..50 {
        deliver(&app).await;
        if deliveries(&admin, "status=pending").await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = deliveries(&admin, "").await;

    // Assert
    assert!(settings.configured && settings.password_set);
    assert_eq!(settings.port, Some(port));
    assert!(!serde_json::to_string(&settings)
        .unwrap()
        .contains("smtp-password"));
    assert_eq!(
        enqueued.len(),
        1,
        "one e-mail: the disabled and unknown users are skipped, duplicates once: {enqueued:?}"
    );
    assert!(
        created <= 1,
        "the server's first background tick may have enqueued it"
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{after:?}");
    let (envelope, raw) = &messages[0];
    // Long header lines may be folded: unfold them before reading.
    let eml = raw.replace("\r\n ", " ").replace("\r\n\t", " ");
    let to_line = eml
        .lines()
        .find(|l| l.starts_with("To: "))
        .unwrap_or_default();
    assert_eq!(envelope["rcpt_tos"], json!(["approver@example.com"]));
    assert_eq!(envelope["mail_from"], "gatehouse@example.com");
    assert!(
        to_line.contains("Test user approver") && to_line.contains("<approver@example.com>"),
        "{eml}"
    );
    assert!(
        eml.contains("Subject: [Gatehouse] New access request: rita, permission set ProdAdmin on"),
        "{eml}"
    );
    assert!(eml.contains("Requester:   rita"), "{eml}");
    assert!(eml.contains("Account:     1111222233334444"), "{eml}");
    assert!(
        eml.contains("Reason:      INC-42 database failover"),
        "{eml}"
    );
    assert!(
        eml.contains(&format!("{}/approvals", app.base_url)),
        "{eml}"
    );
    let log = deliveries(&admin, "").await;
    let mail: Vec<_> = log.iter().filter(|d| d.recipient.is_some()).collect();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].status, DeliveryStatus::Delivered);
    assert!(
        mail[0].attempts[0].detail.starts_with("SMTP 250"),
        "{:?}",
        mail[0].attempts
    );
}

#[tokio::test]
async fn email_to_an_unreachable_smtp_server_is_retried() {
    // Arrange: a port nobody listens on
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = spawn_app(|c| {
        c.smtp_host = Some("127.0.0.1".into());
        c.smtp_port = Some(port);
        c.smtp_tls = "none".into();
        c.smtp_from = Some("gatehouse@example.com".into());
    })
    .await;
    let admin = app.admin().await;
    let user = app.create_user_with_roles(&admin, "requester", &[]).await;
    append_event(
        &app,
        "access_grant.start",
        "req-8",
        request_details(&[&user.id]),
    )
    .await;

    // Act
    enqueue(&app).await;
    deliver(&app).await;

    // Assert
    let log = deliveries(&admin, "status=retrying").await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].recipient.as_deref(), Some("requester@example.com"));
    assert_eq!(log[0].attempts[0].detail, "SMTP connection failed");
}
