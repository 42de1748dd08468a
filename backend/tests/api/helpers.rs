//! The harness every test module uses: [`TestApp`] (a fresh Gatehouse on 127.0.0.1:0 with
//! its own database and a [`TestClock`]), [`Browser`] (a cookie-keeping HTTP client that sends
//! the session's CSRF token), [`TestDb`] (SQLite by default, a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is `postgres://…`), and helpers for TOTP codes, raw database access
//! (to play the attacker) and the `gatehouse` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse::app::AppState;
use gatehouse::clock::{Clock, SystemClock, TestClock};
use gatehouse::config::Config;
use gatehouse::jobs::TickReport;
use gatehouse_shared::audit::{AuditEvent, AuditPage};
use gatehouse_shared::auth::{Me, Role};
use gatehouse_shared::directory::{Group, User};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The bootstrap administrator's password in every test app.
pub const ADMIN_PASSWORD: &str = "bootstrap-admin-password";
/// The password of users the tests create.
pub const USER_PASSWORD: &str = "a-long-enough-test-password";
/// What the test clients send as `User-Agent`, so audit events carry one.
pub const USER_AGENT: &str = "gatehouse-api-tests";
/// The admin URL used when a test needs PostgreSQL and `TEST_DATABASE_URL` is not one.
pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The `gatehouse` binary built alongside this test binary.
pub fn gatehouse_bin() -> &'static str {
    env!("CARGO_BIN_EXE_gatehouse")
}

/// `TEST_DATABASE_URL` when it names PostgreSQL.
pub fn suite_pg_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

/// `url` with its database name replaced by `name` (query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

// --- databases --------------------------------------------------------------------------

/// A database of one test: a SQLite file in the test's directory, or a fresh PostgreSQL
/// database dropped when this value is dropped.
pub struct TestDb {
    pub url: String,
    /// (admin URL, database name) of a PostgreSQL database to drop afterwards.
    pg: Option<(String, String)>,
}

impl TestDb {
    /// The suite's choice: PostgreSQL when `TEST_DATABASE_URL` is `postgres://…`, else SQLite
    /// under `dir`.
    pub async fn for_suite(dir: &Path) -> Self {
        match suite_pg_admin_url() {
            Some(admin) => Self::postgres(&admin).await,
            None => Self::sqlite(dir),
        }
    }

    pub fn sqlite(dir: &Path) -> Self {
        Self {
            url: format!("sqlite://{}", dir.join("gatehouse.db").display()),
            pg: None,
        }
    }

    /// Creates `gh_test_<random>` through `admin_url`.
    pub async fn postgres(admin_url: &str) -> Self {
        let name = format!("gh_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot reach PostgreSQL at {admin_url} ({e}); start it with \
                     `pg_ctlcluster --skip-systemctl-redirect 15 main start`"
                )
            });
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create the test database");
        let _ = conn.close().await;
        Self {
            url: with_database(admin_url, &name),
            pg: Some((admin_url.to_string(), name)),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Best effort, on a thread of its own: Drop cannot await, and the test's runtime
        // may be the one calling us.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = conn.execute(sql.as_str()).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// Direct access to a test's database, as an attacker with the database password has.
pub enum RawDb {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl RawDb {
    pub async fn connect(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            RawDb::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await
                    .expect("open the SQLite file"),
            )
        } else {
            RawDb::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await
                    .expect("connect to PostgreSQL"),
            )
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, RawDb::Postgres(_))
    }

    /// Runs one statement; the error is the database's.
    pub async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        match self {
            RawDb::Sqlite(p) => Ok(sqlx::query(sql).execute(p).await?.rows_affected()),
            RawDb::Postgres(p) => Ok(sqlx::query(sql).execute(p).await?.rows_affected()),
        }
    }

    /// Turns off the append-only triggers on `audit_events` and `audit_checkpoints`.
    pub async fn disable_audit_triggers(&self) {
        let statements: &[&str] = if self.is_postgres() {
            &[
                "ALTER TABLE audit_events DISABLE TRIGGER USER",
                "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER",
            ]
        } else {
            &[
                "DROP TRIGGER IF EXISTS audit_events_no_update",
                "DROP TRIGGER IF EXISTS audit_events_no_delete",
                "DROP TRIGGER IF EXISTS audit_checkpoints_no_update",
                "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete",
            ]
        };
        for s in statements {
            self.exec(s).await.expect("disable the audit triggers");
        }
    }
}

/// A SQL string literal (both engines: quotes doubled).
pub fn sql_text(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("'{}'", s.replace('\'', "''")),
        None => "NULL".into(),
    }
}

// --- HTTP -------------------------------------------------------------------------------

/// A `Set-Cookie` the server sent.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    pub http_only: bool,
    pub secure: bool,
    pub same_site_lax: bool,
    pub path: Option<String>,
}

/// A response, read whole, with helpers that fail with the body in the message.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub cookies: Vec<SetCookie>,
    pub body: String,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status();
        let headers = resp.headers().clone();
        let cookies = resp
            .cookies()
            .map(|c| SetCookie {
                name: c.name().to_string(),
                value: c.value().to_string(),
                http_only: c.http_only(),
                secure: c.secure(),
                same_site_lax: c.same_site_lax(),
                path: c.path().map(str::to_string),
            })
            .collect();
        let body = resp.text().await.expect("read the response body");
        Self {
            status,
            headers,
            cookies,
            body,
        }
    }

    /// Asserts the status, showing the body if it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts an error: the status and the envelope's `code`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        self.assert_status(status);
        assert_eq!(
            self.code(),
            code,
            "unexpected error code; body: {}",
            self.body
        );
        self
    }

    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "unexpected JSON ({e}); status {}: {}",
                self.status, self.body
            )
        })
    }

    pub fn value(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The envelope's `error.code`, or "" if the body is not an error envelope.
    pub fn code(&self) -> String {
        self.value()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The `field` names of a `validation_failed` envelope.
    pub fn fields(&self) -> Vec<String> {
        self.value()["error"]["fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn session_cookie(&self) -> Option<&SetCookie> {
        self.cookies.iter().find(|c| c.name == "gatehouse_session")
    }
}

fn client(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(cookies)
        .user_agent(USER_AGENT)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("build the HTTP client")
}

/// One person's browser: keeps cookies, and sends `X-CSRF-Token` once it knows the token.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    csrf: Mutex<Option<String>>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            client: client(true),
            base: base.trim_end_matches('/').to_string(),
            csrf: Mutex::new(None),
        }
    }

    /// A client without a cookie store, for sending cookies by hand.
    pub fn cookieless(base: &str) -> Self {
        Self {
            client: client(false),
            base: base.trim_end_matches('/').to_string(),
            csrf: Mutex::new(None),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn csrf(&self) -> Option<String> {
        self.csrf.lock().expect("csrf lock").clone()
    }

    pub fn set_csrf(&self, token: Option<String>) {
        *self.csrf.lock().expect("csrf lock") = token;
    }

    /// A request with the CSRF header (if known) and a JSON body (if any), sent and read.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = self.csrf() {
            req = req.header("x-csrf-token", token);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Reply::read(req.send().await.expect("send the request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str) -> Reply {
        self.send(Method::PUT, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// `POST /api/v1/auth/login`; on success keeps the new CSRF token.
    pub async fn login(&self, username: &str, password: &str, totp: Option<&str>) -> Reply {
        let mut body = json!({ "username": username, "password": password });
        if let Some(code) = totp {
            body["totp"] = json!(code);
        }
        let reply = Reply::read(
            self.client
                .post(self.url("/api/v1/auth/login"))
                .json(&body)
                .send()
                .await
                .expect("send the sign-in"),
        )
        .await;
        if reply.status == StatusCode::OK {
            let me: Me = reply.json();
            self.set_csrf(Some(me.csrf_token));
        }
        reply
    }

    /// Signs in with a password and returns who-am-I; fails the test otherwise.
    pub async fn sign_in(&self, username: &str, password: &str) -> Me {
        let reply = self.login(username, password, None).await;
        reply.assert_status(200);
        reply.json()
    }

    pub async fn me(&self) -> Reply {
        self.get("/api/v1/me").await
    }
}

// --- TOTP -------------------------------------------------------------------------------

/// Decodes the `secret_base32` the enrolment API returns.
pub fn totp_secret(secret_base32: &str) -> Vec<u8> {
    totp_rs::Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .expect("a base32 TOTP secret")
}

/// The TOTP code of `secret_base32` at `at_ms` (what an authenticator app shows then).
pub fn totp_code(secret_base32: &str, at_ms: i64) -> String {
    let secs = u64::try_from(at_ms / 1000).expect("a time after 1970");
    gatehouse::auth::totp::code_at(&totp_secret(secret_base32), secs).expect("a TOTP code")
}

// --- the app ----------------------------------------------------------------------------

/// What `gatehouse audit verify` did.
#[derive(Debug)]
pub struct CliRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for CliRun {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `gatehouse audit verify` (`--json` if asked) against a database and data directory.
pub fn cli_verify(db_url: &str, data_dir: &Path, envs: &[(&str, &str)], json: bool) -> CliRun {
    let mut cmd = Command::new(gatehouse_bin());
    cmd.arg("--database-url")
        .arg(db_url)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["audit", "verify"])
        .env("GATEHOUSE_LOG", "warn");
    if json {
        cmd.arg("--json");
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run gatehouse audit verify").into()
}

/// A Gatehouse serving on 127.0.0.1:0 in this process, with a fresh database and data
/// directory, on a [`TestClock`] that starts at the real time.
pub struct TestApp {
    pub base_url: String,
    pub state: AppState,
    pub clock: TestClock,
    pub db_url: String,
    pub data_dir: PathBuf,
    /// What it was built from, for [`TestApp::restart`] and [`TestApp::another_instance`].
    config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    // Dropped in this order, after the server was told to stop: the database, then the files.
    _db: TestDb,
    _dir: TempDir,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], with `tweak` applied to the configuration first.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = TestDb::for_suite(dir.path()).await;
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            database_url: Some(db.url.clone()),
            bootstrap_password: Some(ADMIN_PASSWORD.into()),
            static_dir: dir.path().join("no-spa-here"),
            ..Config::default()
        };
        tweak(&mut config);
        let clock = TestClock::new(SystemClock.now_ms());
        let (base_url, state, shutdown) = serve_on(&config, &clock).await;
        Self {
            base_url,
            state,
            clock,
            db_url: db.url.clone(),
            data_dir: dir.path().to_path_buf(),
            config,
            shutdown: Some(shutdown),
            _db: db,
            _dir: dir,
        }
    }

    /// Stops this Gatehouse and starts it again on the same database, data directory and
    /// clock, on a new port: everything it kept only in memory is gone.
    pub async fn restart(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let (base_url, state, shutdown) = serve_on(&self.config, &self.clock).await;
        self.base_url = base_url;
        self.state = state;
        self.shutdown = Some(shutdown);
    }

    /// Stops serving (and the background jobs with it), keeping the database and data
    /// directory: for tests that hand both to the real binary, which must be their only
    /// writer (SQLite is one instance's).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Graceful shutdown closes idle connections at once; then the jobs are aborted.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// A second Gatehouse on this one's database and data directory (so the same master
    /// key), with memory of its own and the same clock: another instance behind a load
    /// balancer. Stopped when dropped.
    pub async fn another_instance(&self) -> Instance {
        let (base_url, state, shutdown) = serve_on(&self.config, &self.clock).await;
        Instance {
            base_url,
            state,
            _shutdown: shutdown,
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base_url)
    }

    /// A browser signed in as the bootstrap administrator.
    pub async fn admin(&self) -> Browser {
        let b = self.browser();
        b.sign_in("admin", ADMIN_PASSWORD).await;
        b
    }

    /// Creates a local user with [`USER_PASSWORD`] and, if `roles` is not empty, a group
    /// `<username>-roles` carrying them with the user as its member.
    pub async fn create_user_with_roles(
        &self,
        admin: &Browser,
        username: &str,
        roles: &[Role],
    ) -> User {
        let user: User = admin
            .post(
                "/api/v1/users",
                &json!({
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "display_name": format!("Test user {username}"),
                    "password": USER_PASSWORD,
                }),
            )
            .await
            .assert_status(201)
            .json();
        if !roles.is_empty() {
            let group: Group = admin
                .post(
                    "/api/v1/groups",
                    &json!({ "name": format!("{username}-roles"), "roles": roles }),
                )
                .await
                .assert_status(201)
                .json();
            admin
                .put(&format!("/api/v1/groups/{}/members/{}", group.id, user.id))
                .await
                .assert_status(204);
        }
        user
    }

    /// A browser signed in as a new user holding `roles`.
    pub async fn signed_in_user(&self, admin: &Browser, username: &str, roles: &[Role]) -> Browser {
        self.create_user_with_roles(admin, username, roles).await;
        let b = self.browser();
        b.sign_in(username, USER_PASSWORD).await;
        b
    }

    /// Begins and confirms TOTP for the browser's user; returns the base32 secret.
    pub async fn enrol_totp(&self, b: &Browser) -> String {
        let enrolment: gatehouse_shared::auth::TotpEnrollment = b
            .post("/api/v1/me/mfa/totp", &json!({}))
            .await
            .assert_status(200)
            .json();
        let code = totp_code(&enrolment.secret_base32, self.now_ms());
        let me: Me = b
            .post("/api/v1/me/mfa/totp/confirm", &json!({ "code": code }))
            .await
            .assert_status(200)
            .json();
        assert!(me.mfa.totp_enrolled);
        enrolment.secret_base32
    }

    /// Moves the test clock forward.
    pub fn advance(&self, d: Duration) {
        self.clock
            .advance_ms(i64::try_from(d.as_millis()).expect("a short duration"));
    }

    /// One step of the background jobs, as production runs every few seconds.
    pub async fn tick(&self) -> TickReport {
        gatehouse::app::tick(&self.state).await.expect("a job tick")
    }

    /// Every event, oldest first, straight from the store.
    pub async fn all_events(&self) -> Vec<gatehouse::audit::StoredEvent> {
        self.state
            .store
            .events_after(0, 1_000_000)
            .await
            .expect("read the events")
    }

    /// Pages through `GET /api/v1/audit/events?<query>` to the end; newest first.
    pub async fn audit_events(&self, reader: &Browser, query: &str) -> Vec<AuditEvent> {
        self.audit_events_paged(reader, query, 500).await
    }

    /// [`TestApp::audit_events`] in pages of `limit`.
    pub async fn audit_events_paged(
        &self,
        reader: &Browser,
        query: &str,
        limit: usize,
    ) -> Vec<AuditEvent> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/audit/events?limit={limit}&{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page: AuditPage = reader.get(&path).await.assert_status(200).json();
            out.extend(page.events);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }

    pub async fn raw_db(&self) -> RawDb {
        RawDb::connect(&self.db_url).await
    }

    /// `gatehouse audit verify` against this app's database and data directory.
    pub fn cli_verify(&self, json: bool) -> CliRun {
        cli_verify(&self.db_url, &self.data_dir, &[], json)
    }
}

/// Builds the app from `config` on `clock` and serves it on 127.0.0.1:0 until the sender
/// it hands back is used or dropped.
async fn serve_on(config: &Config, clock: &TestClock) -> (String, AppState, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("the bound address");
    let state = gatehouse::app::build(config, addr, Arc::new(clock.clone()))
        .await
        .expect("the app builds");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(gatehouse::app::serve(state.clone(), listener, async move {
        let _ = rx.await;
    }));
    (format!("http://{addr}"), state, tx)
}

/// Another instance of a [`TestApp`] (see [`TestApp::another_instance`]).
pub struct Instance {
    pub base_url: String,
    pub state: AppState,
    /// Dropping it stops the server.
    _shutdown: oneshot::Sender<()>,
}

impl Instance {
    /// One step of this instance's background jobs.
    pub async fn tick(&self) -> TickReport {
        gatehouse::app::tick(&self.state).await.expect("a job tick")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Percent-encodes a query value (RFC 3339 times carry `+` and `:`).
pub fn q(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Milliseconds since the epoch as an RFC 3339 UTC string.
pub fn rfc3339(ms: i64) -> String {
    gatehouse::clock::to_datetime(ms)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format a time")
}
