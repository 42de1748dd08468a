//! The real binary as operators run it: `kill -9` in the middle of writes leaves a chain that
//! verifies (and that the restarted server continues), and two `gatehouse serve` processes on
//! one PostgreSQL database share sessions and one audit chain.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse::secrets::MasterKey;
use gatehouse_shared::audit::VerifyReport;
use gatehouse_shared::auth::Me;
use gatehouse_shared::directory::Group;
use serde_json::{json, Value};

use crate::helpers::{
    cli_verify, gatehouse_bin, suite_pg_admin_url, Browser, Reply, TestDb, ADMIN_PASSWORD,
    DEFAULT_PG_ADMIN_URL,
};

/// A `gatehouse serve` process on 127.0.0.1:0. Killed (SIGKILL) when dropped.
pub(crate) struct Server {
    child: Child,
    ready: mpsc::Receiver<String>,
    pub(crate) base: String,
    log: PathBuf,
}

impl Server {
    /// Starts the process; call [`Server::wait_ready`] before using it.
    fn launch(db_url: &str, data_dir: &Path, master_key: &str, name: &str) -> Self {
        Self::launch_logging(db_url, data_dir, master_key, name, "warn")
    }

    /// As [`Server::launch`], logging at `level` (`GATEHOUSE_LOG`) into the server log.
    fn launch_logging(
        db_url: &str,
        data_dir: &Path,
        master_key: &str,
        name: &str,
        level: &str,
    ) -> Self {
        let log = data_dir.join(format!("{name}.log"));
        let mut child = Command::new(gatehouse_bin())
            .args(["serve", "--bind", "127.0.0.1:0", "--database-url", db_url])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--static-dir")
            .arg(data_dir.join("no-spa-here"))
            .env("GATEHOUSE_BOOTSTRAP_PASSWORD", ADMIN_PASSWORD)
            .env("GATEHOUSE_MASTER_KEY", master_key)
            .env("GATEHOUSE_LOG", level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("create the server log"))
            .spawn()
            .expect("start gatehouse serve");
        let stdout = child.stdout.take().expect("the server's stdout");
        let (tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            // Report the address, then keep draining so the server never blocks on stdout.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("Gatehouse listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        Self {
            child,
            ready,
            base: String::new(),
            log,
        }
    }

    fn wait_ready(&mut self) {
        match self.ready.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => self.base = base,
            Err(e) => panic!(
                "the server did not report ready ({e}); its log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            ),
        }
    }

    pub(crate) fn start(db_url: &str, data_dir: &Path, master_key: &str, name: &str) -> Self {
        let mut s = Self::launch(db_url, data_dir, master_key, name);
        s.wait_ready();
        s
    }

    /// `kill -9`: no graceful shutdown, no chance to finish anything.
    pub(crate) fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn random_master_key() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// A request made by hand with a session cookie and its CSRF token; `None` if the server
/// could not be reached (it may have just been killed).
pub(crate) async fn post_with_session(
    client: &reqwest::Client,
    base: &str,
    session: &(String, String),
    path: &str,
    body: &Value,
) -> Option<Reply> {
    let resp = client
        .post(format!("{base}{path}"))
        .header("cookie", format!("gatehouse_session={}", session.0))
        .header("x-csrf-token", &session.1)
        .json(body)
        .send()
        .await
        .ok()?;
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.text().await.ok()?;
    Some(Reply {
        status,
        headers,
        cookies: Vec::new(),
        body,
    })
}

/// Signs in as admin through `base`; returns (cookie value, CSRF token).
async fn admin_session(base: &str) -> (String, String) {
    let reply = Browser::cookieless(base)
        .login("admin", ADMIN_PASSWORD, None)
        .await;
    reply.assert_status(200);
    let me: Me = reply.json();
    (reply.session_cookie().unwrap().value.clone(), me.csrf_token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_write_leaves_a_chain_that_verifies() {
    // Arrange: a server on the suite's database, with writers hammering it.
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::for_suite(dir.path()).await;
    let key = random_master_key();
    let mut server = Server::start(&db.url, dir.path(), &key, "crash");
    let session = Arc::new(admin_session(&server.base).await);
    let client = reqwest::Client::new();
    let acked_groups = Arc::new(Mutex::new(Vec::<String>::new()));
    let acked_accounts = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..6_u64 {
        let (client, base, session) = (client.clone(), server.base.clone(), session.clone());
        let (groups, accounts) = (acked_groups.clone(), acked_accounts.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..400_u64 {
                let (path, body) = if i % 2 == 0 {
                    (
                        "/api/v1/groups",
                        json!({ "name": format!("crash-{w}-{i}") }),
                    )
                } else {
                    let id = format!("{:016}", w * 1_000_000 + i);
                    (
                        "/api/v1/accounts",
                        json!({ "id": id, "name": "Crash test", "environment": "test" }),
                    )
                };
                let Some(reply) = post_with_session(&client, &base, &session, path, &body).await
                else {
                    return; // the server is gone
                };
                reply.assert_status(201);
                let id = reply.value()["id"].as_str().unwrap().to_string();
                if i % 2 == 0 {
                    groups.lock().unwrap().push(id);
                } else {
                    accounts.lock().unwrap().push(id);
                }
            }
        }));
    }
    let started = Instant::now();
    while acked_groups.lock().unwrap().len() + acked_accounts.lock().unwrap().len() < 150 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the writers are too slow"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Act
    server.kill_9();
    for w in writers {
        w.await.unwrap();
    }

    // Assert: the chain verifies…
    let acked = acked_groups.lock().unwrap().len() + acked_accounts.lock().unwrap().len();
    assert!(
        acked < 6 * 400,
        "the kill came while writes were still going on"
    );
    let envs = [("GATEHOUSE_MASTER_KEY", key.as_str())];
    let cli = cli_verify(&db.url, dir.path(), &envs, true);
    assert_eq!(cli.code, Some(0), "{cli:?}");
    let report: VerifyReport = serde_json::from_str(&cli.stdout).unwrap();
    assert!(report.intact, "{report:?}");
    // …every acknowledged write is there, and every change that is there has its event.
    let store = gatehouse::store::connect(&db.url, &MasterKey::from_hex(&key).unwrap())
        .await
        .unwrap();
    let groups: Vec<String> = store
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    let accounts: Vec<String> = store
        .list_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    for id in acked_groups.lock().unwrap().iter() {
        assert!(groups.contains(id), "acknowledged group {id} was lost");
    }
    for id in acked_accounts.lock().unwrap().iter() {
        assert!(accounts.contains(id), "acknowledged account {id} was lost");
    }
    let events = store.events_after(0, 1_000_000).await.unwrap();
    let count = |action: &str| events.iter().filter(|e| e.action == action).count();
    assert_eq!(
        count("directory.group.create"),
        groups.len() - 1,
        "one event per group"
    );
    assert_eq!(
        count("directory.account.create"),
        accounts.len(),
        "one event per account"
    );
    assert_eq!(report.events_checked, i64::try_from(events.len()).unwrap());
    drop(store);

    // The restarted server continues the same chain.
    let server = Server::start(&db.url, dir.path(), &key, "restarted");
    let session = admin_session(&server.base).await;
    post_with_session(
        &client,
        &server.base,
        &session,
        "/api/v1/groups",
        &json!({ "name": "after-crash" }),
    )
    .await
    .unwrap()
    .assert_status(201);
    let cli = cli_verify(&db.url, dir.path(), &envs, true);
    let after: VerifyReport = serde_json::from_str(&cli.stdout).unwrap();
    assert!(after.intact, "{after:?}");
    assert_eq!(
        after.events_checked,
        report.events_checked + 2,
        "sign-in and group"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_share_sessions_and_one_chain() {
    // Arrange: two processes started together on one fresh PostgreSQL database.
    let admin_url = suite_pg_admin_url().unwrap_or_else(|| DEFAULT_PG_ADMIN_URL.to_string());
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::postgres(&admin_url).await;
    let key = random_master_key();
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    let mut a = Server::launch(&db.url, &dir_a, &key, "a");
    let mut b = Server::launch(&db.url, &dir_b, &key, "b");
    a.wait_ready();
    b.wait_ready();
    let client = reqwest::Client::new();

    // Act: sign in through A, use the cookie on B.
    let session = admin_session(&a.base).await;
    let me_on_b = Reply::read(
        client
            .get(format!("{}/api/v1/me", b.base))
            .header("cookie", format!("gatehouse_session={}", session.0))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let made_on_b = post_with_session(
        &client,
        &b.base,
        &session,
        "/api/v1/groups",
        &json!({ "name": "made-on-b" }),
    )
    .await
    .unwrap();

    // Assert
    me_on_b.assert_status(200);
    let me: Me = me_on_b.json();
    assert_eq!(
        (me.user.username.as_str(), me.csrf_token.as_str()),
        ("admin", session.1.as_str())
    );
    made_on_b.assert_status(201);
    let group: Group = made_on_b.json();
    let seen_on_a = Reply::read(
        client
            .get(format!("{}/api/v1/groups/{}", a.base, group.id))
            .header("cookie", format!("gatehouse_session={}", session.0))
            .send()
            .await
            .unwrap(),
    )
    .await;
    seen_on_a.assert_status(200);

    // Act: 200 audited writes through each instance, at the same time.
    let mut writers = Vec::new();
    for (name, base) in [("a", a.base.clone()), ("b", b.base.clone())] {
        for w in 0..4 {
            let (client, base, session) = (client.clone(), base.clone(), session.clone());
            writers.push(tokio::spawn(async move {
                for i in 0..50 {
                    let body = json!({ "name": format!("{name}-{w}-{i}") });
                    post_with_session(&client, &base, &session, "/api/v1/groups", &body)
                        .await
                        .expect("the instance answers")
                        .assert_status(201);
                }
            }));
        }
    }
    for w in writers {
        w.await.unwrap();
    }

    // Assert: one chain with every event, in order, verified with the shared key.
    let envs = [("GATEHOUSE_MASTER_KEY", key.as_str())];
    let cli = cli_verify(&db.url, dir.path(), &envs, true);
    assert_eq!(cli.code, Some(0), "{cli:?}");
    let report: VerifyReport = serde_json::from_str(&cli.stdout).unwrap();
    assert!(report.intact, "{report:?}");
    // bootstrap + sign-in + made-on-b + 2 × 200 creations; the loser of the bootstrap race
    // wrote nothing.
    assert_eq!(report.events_checked, 1 + 1 + 1 + 400);
    let groups = Reply::read(
        client
            .get(format!("{}/api/v1/groups", b.base))
            .header("cookie", format!("gatehouse_session={}", session.0))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(groups.json::<Vec<Group>>().len(), 1 + 1 + 400);

    // Signing out through B ends the session on A too.
    post_with_session(
        &client,
        &b.base,
        &session,
        "/api/v1/auth/logout",
        &json!({}),
    )
    .await
    .unwrap()
    .assert_status(204);
    let on_a = Reply::read(
        client
            .get(format!("{}/api/v1/me", a.base))
            .header("cookie", format!("gatehouse_session={}", session.0))
            .send()
            .await
            .unwrap(),
    )
    .await;
    on_a.assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn a_credentials_url_token_never_reaches_the_log() {
    // Arrange: a server logging every request (tower_http at debug).
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::for_suite(dir.path()).await;
    let mut server = Server::launch_logging(
        &db.url,
        dir.path(),
        &random_master_key(),
        "tokens",
        "info,tower_http=debug",
    );
    server.wait_ready();
    let token = "tok3n-th4t-mu5t-n0t-b3-l0gged";

    // Act: the token is a path segment, the only credential a credentials_uri has.
    let reply = reqwest::get(format!("{}/credentials/{token}", server.base))
        .await
        .unwrap();
    let status = reply.status();
    drop(reply);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Assert: the request was logged, without its token.
    assert!(status.is_client_error(), "{status}");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains(token), "the token is in the log:\n{log}");
    assert!(
        log.contains("/credentials/…"),
        "the request is logged:\n{log}"
    );
}

#[tokio::test]
async fn no_secret_in_a_url_reaches_the_log_at_any_level() {
    // Arrange: a server logging everything (every target at debug).
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::for_suite(dir.path()).await;
    let mut server =
        Server::launch_logging(&db.url, dir.path(), &random_master_key(), "urls", "debug");
    server.wait_ready();
    let secrets = [
        "cr3d-t0ken-plain",
        "cr3d-t0ken-double-slash",
        "cr3d-t0ken-encoded",
        "cr3d-t0ken-upper",
        "oidc-c0de-from-the-idp",
        "oidc-st4te-of-the-browser",
        "st5-s3curity-t0ken",
        "st5-s1gnature",
    ];
    let paths = [
        format!("/credentials/{}", secrets[0]),
        format!("//credentials/{}", secrets[1]),
        format!("/%63redentials/{}", secrets[2]),
        format!("/CREDENTIALS/{}", secrets[3]),
        format!(
            "/auth/oidc/some-idp/callback?code={}&state={}",
            secrets[4], secrets[5]
        ),
        format!(
            "/sts/?Action=AssumeRole&AccessKeyId=STS.x&SecurityToken={}&Signature={}",
            secrets[6], secrets[7]
        ),
    ];

    // Act: each URL, as a browser, the CLI or an SDK would send it.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for p in &paths {
        let reply = http.get(format!("{}{p}", server.base)).send().await;
        drop(reply.expect("the server answers"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Assert: every request was logged, and no secret with it.
    let log = std::fs::read_to_string(&server.log).unwrap();
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
    for logged in [
        "/credentials/…",
        "//credentials/…",
        "/auth/oidc/some-idp/callback",
        "/sts/",
    ] {
        assert!(log.contains(logged), "{logged} is logged:\n{log}");
    }
}
