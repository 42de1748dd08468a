//! `kill -9` at random moments, over and over, while credentials are issued, access requests
//! are asked for and approved by two people at once, a permission set is provisioned, and
//! the root password is revealed through break-glass: after every kill the chain verifies,
//! no credential exists without its audit event (nor an event without its credential), every
//! acknowledged credential is there, no approval is counted twice, and no reveal was handed
//! out without its audit event. `CRASH_LOOPS` sets the number of kills (8 by default; BENCHMARKS.md has
//! the run of 100).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_shared::audit::VerifyReport;
use gatehouse_shared::auth::Me;
use gatehouse_shared::breakglass::BreakGlassRequest;
use rand::Rng;
use serde_json::json;

use crate::access_requests::jit;
use crate::helpers::{
    cli_verify, totp_code, Browser, RawDb, TestApp, ADMIN_PASSWORD, USER_PASSWORD,
};
use crate::processes::{post_with_session, Server};
use crate::sts::ACCOUNT;

type Session = (String, String);

async fn session(base: &str, username: &str, password: &str) -> Session {
    let reply = Browser::cookieless(base)
        .login(username, password, None)
        .await;
    reply.assert_status(200);
    let me: Me = reply.json();
    (reply.session_cookie().unwrap().value.clone(), me.csrf_token)
}

/// Break-glass in the kill loop's world: rita's request for ACCOUNT's root password,
/// approved, and a session of hers to hand to the real binary, signed in with TOTP (so fresh
/// enough to reveal for the next few minutes) with the code of the next time step (her
/// enrolment used this one's).
async fn approved_break_glass(app: &TestApp, admin: &Browser) -> (BreakGlassRequest, Session) {
    let (rita, r) = crate::break_glass::approved_request(
        app,
        admin,
        ACCOUNT,
        "r00t-Pa55word-for-the-kill-loop",
        "Kill loop: root password under kill -9",
    )
    .await;
    let reply = Browser::cookieless(&app.base_url)
        .login(
            "rita",
            USER_PASSWORD,
            Some(&totp_code(&rita.totp, app.now_ms() + 30_000)),
        )
        .await;
    reply.assert_status(200);
    let me: Me = reply.json();
    let session = (reply.session_cookie().unwrap().value.clone(), me.csrf_token);
    (r, session)
}

async fn count(db: &RawDb, sql: &str) -> i64 {
    match db {
        RawDb::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        RawDb::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_again_and_again_nothing_is_unaudited_lost_or_counted_twice() {
    let loops: usize = std::env::var("CRASH_LOOPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8);
    // The world of the access-request tests (alice may ask; bob and carol approve; `holder`
    // is assigned Ops on ACCOUNT), two approvals needed; then served by the real binary on
    // the same database and master key, killed and restarted `loops` times.
    let mut j = jit().await;
    j.approval_policy(2, json!({})).await;
    let (glass, rita) = approved_break_glass(&j.app, &j.admin).await;
    j.app.stop().await;
    let revealed_ok = Arc::new(Mutex::new(0_i64));
    let key = std::fs::read_to_string(j.app.data_dir.join("master.key")).unwrap();
    let key = key.trim().to_string();
    let ops = j.ops.id.clone();
    let client = reqwest::Client::new();
    let issued_ok = Arc::new(Mutex::new(0_i64));
    let mut kills_mid_write = 0;
    let mut totals = (0, 0, 0);
    let mut reveals = 0;
    for round in 0..loops {
        let server = Server::start(
            &j.app.db_url,
            &j.app.data_dir,
            &key,
            &format!("round-{round}"),
        );
        let base = server.base.clone();
        let holder = session(&base, "holder", USER_PASSWORD).await;
        let alice = session(&base, "alice", USER_PASSWORD).await;
        let approvers = [
            session(&base, "bob", USER_PASSWORD).await,
            session(&base, "carol", USER_PASSWORD).await,
        ];
        let admin = session(&base, "admin", ADMIN_PASSWORD).await;
        let asked = Arc::new(Mutex::new(Vec::<String>::new()));
        let mut workers = Vec::new();
        // The holder issues credentials, one after another.
        {
            let (client, base, ok) = (client.clone(), base.clone(), issued_ok.clone());
            let body = json!({ "account_id": ACCOUNT, "permission_set_id": ops });
            workers.push(tokio::spawn(async move {
                let path = "/api/v1/portal/credentials";
                while let Some(r) = post_with_session(&client, &base, &holder, path, &body).await {
                    r.assert_status(200);
                    *ok.lock().unwrap() += 1;
                }
            }));
        }
        // Alice asks; bob and carol approve whatever she asked, at the same time.
        {
            let (client, base, asked) = (client.clone(), base.clone(), asked.clone());
            let body = json!({
                "account_id": ACCOUNT,
                "permission_set_id": ops,
                "duration_secs": 1800,
                "justification": "crash test",
            });
            workers.push(tokio::spawn(async move {
                let path = "/api/v1/requests";
                while let Some(r) = post_with_session(&client, &base, &alice, path, &body).await {
                    if r.status == 201 {
                        let id = r.value()["id"].as_str().unwrap().to_string();
                        asked.lock().unwrap().push(id);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }));
        }
        for approver in approvers {
            let (client, base, asked) = (client.clone(), base.clone(), asked.clone());
            workers.push(tokio::spawn(async move {
                let mut done = 0;
                loop {
                    let next = asked.lock().unwrap().get(done).cloned();
                    let Some(id) = next else {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        if client.get(format!("{base}/healthz")).send().await.is_err() {
                            return; // the server is gone
                        }
                        continue;
                    };
                    let path = format!("/api/v1/requests/{id}/approve");
                    let body = json!({ "comment": "ok" });
                    if post_with_session(&client, &base, &approver, &path, &body)
                        .await
                        .is_none()
                    {
                        return;
                    }
                    done += 1;
                }
            }));
        }
        // Rita reveals the root password again and again inside her window.
        {
            let (client, base, ok, rita) = (
                client.clone(),
                base.clone(),
                revealed_ok.clone(),
                rita.clone(),
            );
            let path = format!("/api/v1/break-glass/requests/{}/reveal", glass.id);
            workers.push(tokio::spawn(async move {
                let body = json!({ "what": "password" });
                while let Some(r) = post_with_session(&client, &base, &rita, &path, &body).await {
                    r.assert_status(200);
                    *ok.lock().unwrap() += 1;
                }
            }));
        }
        // The administrator provisions the permission set again and again.
        {
            let (client, base) = (client.clone(), base.clone());
            let path = format!("/api/v1/permission-sets/{ops}/provision");
            let log = j.app.data_dir.join(format!("round-{round}.log"));
            workers.push(tokio::spawn(async move {
                while let Some(r) =
                    post_with_session(&client, &base, &admin, &path, &json!({})).await
                {
                    assert!(
                        r.status.is_success(),
                        "{}\nserver log:\n{}",
                        r.body,
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }));
        }

        let before = *issued_ok.lock().unwrap();
        let wait = rand::thread_rng().gen_range(50..400);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let mut server = server;
        server.kill_9();
        for w in workers {
            w.await.unwrap();
        }
        if *issued_ok.lock().unwrap() > before {
            kills_mid_write += 1;
        }

        // After each kill: the chain verifies…
        let envs = [("GATEHOUSE_MASTER_KEY", key.as_str())];
        let cli = cli_verify(&j.app.db_url, &j.app.data_dir, &envs, true);
        assert_eq!(cli.code, Some(0), "round {round}: {cli:?}");
        let report: VerifyReport = serde_json::from_str(&cli.stdout).unwrap();
        assert!(report.intact, "round {round}: {report:?}");
        // …each credential has its event and each event its credential, and every
        // credential the holder was given is there…
        let db = RawDb::connect(&j.app.db_url).await;
        let credentials = count(&db, "SELECT COUNT(*) FROM sts_credentials").await;
        let issue_events = count(
            &db,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'sts.credentials.issue' \
             AND outcome = 'success'",
        )
        .await;
        assert_eq!(credentials, issue_events, "round {round}");
        let acknowledged = *issued_ok.lock().unwrap();
        assert!(
            credentials >= acknowledged,
            "round {round}: {acknowledged} credentials were handed out, {credentials} recorded"
        );
        // …and each approval is counted once: one event per decision, at most one
        // "approved" per request, and exactly one for each request with both approvals.
        let decisions = count(
            &db,
            "SELECT COUNT(*) FROM access_request_decisions WHERE decision = 'approve'",
        )
        .await;
        let approve_events = count(
            &db,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'access_request.approve' \
             AND outcome = 'success'",
        )
        .await;
        assert_eq!(decisions, approve_events, "round {round}");
        let approved_twice = count(
            &db,
            "SELECT COUNT(*) FROM (SELECT target_id FROM audit_events WHERE action = \
             'access_request.approved' GROUP BY target_id HAVING COUNT(*) > 1) t",
        )
        .await;
        assert_eq!(approved_twice, 0, "round {round}");
        let fully_approved = count(
            &db,
            "SELECT COUNT(*) FROM (SELECT request_id FROM access_request_decisions WHERE \
             decision = 'approve' GROUP BY request_id HAVING COUNT(*) >= 2) t",
        )
        .await;
        let approved_events = count(
            &db,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'access_request.approved'",
        )
        .await;
        assert_eq!(fully_approved, approved_events, "round {round}");
        let not_moved_on = count(
            &db,
            "SELECT COUNT(*) FROM access_requests r WHERE r.state = 'pending' AND (SELECT \
             COUNT(*) FROM access_request_decisions d WHERE d.request_id = r.id AND \
             d.decision = 'approve') >= 2",
        )
        .await;
        assert_eq!(
            not_moved_on, 0,
            "round {round}: two approvals, still pending"
        );
        // …and no root password was handed out without its audit event.
        let reveal_events = count(
            &db,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'breakglass.reveal_password' \
             AND outcome = 'success'",
        )
        .await;
        let revealed = *revealed_ok.lock().unwrap();
        assert!(
            reveal_events >= revealed,
            "round {round}: {revealed} reveals handed out, {reveal_events} recorded"
        );
        reveals = reveal_events;
        totals = (credentials, decisions, fully_approved);
        drop(db);
    }
    println!(
        "{loops} kills: {} credentials, {} approvals, {} requests approved, {reveals} reveals",
        totals.0, totals.1, totals.2
    );
    assert!(
        totals.0 > 0 && totals.1 > 0 && totals.2 > 0 && reveals > 0,
        "the kills must come while all four kinds of write go on: {totals:?}, {reveals} reveals"
    );
    assert!(
        kills_mid_write * 2 >= loops,
        "most kills should come while credentials were being issued ({kills_mid_write} of {loops})"
    );
}
