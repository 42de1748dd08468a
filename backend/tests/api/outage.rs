//! A database outage, as PostgreSQL going away looks from Gatehouse: a TCP proxy between the
//! two drops every connection and refuses new ones, then lets them through again. Gatehouse
//! must say so on `/readyz` within a second, answer 503 with `Retry-After` quickly (no hang,
//! no 500), write nothing half-way, and resume by itself when the database is back.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::*;
use crate::sts::{Signer, ACCOUNT};

/// A loopback TCP proxy to PostgreSQL that can be cut (listener closed, so connecting is
/// refused; live connections dropped) and restored on the same port.
struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let p = Self {
            addr: listener.local_addr().unwrap(),
            upstream,
            tasks: Arc::default(),
        };
        p.serve(listener);
        p
    }

    fn serve(&self, listener: TcpListener) {
        let tasks = self.tasks.clone();
        let upstream = self.upstream;
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// The database "goes away": nothing listens on the port, every connection is dropped.
    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// The database is back on the same address.
    async fn restore(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

/// `url` with its host and port replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!("{scheme}://{}{addr}/{path}", userinfo.unwrap_or_default())
}

/// Creating group `name` during the fault is refused with 503 `unavailable` and
/// `Retry-After: 1` in under 1.5 s (never the pool's whole timeout); how long it took.
async fn refused_at_once(admin: &Browser, name: &str) -> Duration {
    let started = Instant::now();
    let r = admin.post("/api/v1/groups", &json!({ "name": name })).await;
    r.assert_error(503, "unavailable");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1_500),
        "a write during the fault took {took:?}"
    );
    took
}

/// Once the fault is gone, creating group "after" succeeds within 3 s without a restart
/// (503 `unavailable` until then), and `/readyz` says ready; how long it took.
async fn resumes(app: &TestApp, admin: &Browser) -> Duration {
    let started = Instant::now();
    loop {
        let r = admin
            .post("/api/v1/groups", &json!({ "name": "after" }))
            .await;
        if r.status == 201 {
            break;
        }
        r.assert_error(503, "unavailable");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "Gatehouse did not resume within 3 s of the fault ending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    app.browser().get("/readyz").await.assert_status(200);
    took
}

/// Nothing half-written: the groups asked for during the fault ("during…") do not exist,
/// "before" and "after" do, each with its one audit event.
async fn only_the_groups_outside_the_fault_exist(app: &TestApp, admin: &Browser) {
    let groups = admin.get("/api/v1/groups").await.value();
    let names: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"before") && names.contains(&"after"),
        "{names:?}"
    );
    assert!(!names.iter().any(|g| g.starts_with("during")), "{names:?}");
    let created = app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "directory.group.create")
        .count();
    assert_eq!(
        created, 2,
        "one event for each group that exists, none for the others"
    );
}

#[tokio::test]
async fn a_database_outage_is_answered_503_at_once_and_service_resumes_by_itself() {
    let admin_url = suite_pg_admin_url().unwrap_or_else(|| DEFAULT_PG_ADMIN_URL.to_string());
    let db = TestDb::postgres(&admin_url).await;
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let url = through(&db.url, proxy.addr);
    // Credentials for an SDK's call during the outage.
    let crate::sts::World {
        app,
        admin,
        alice,
        dev,
        ..
    } = crate::sts::world_with(|c| c.database_url = Some(url.clone())).await;
    admin
        .post("/api/v1/groups", &json!({ "name": "before" }))
        .await
        .assert_status(201);
    app.browser().get("/readyz").await.assert_status(200);
    let c = crate::sts::issue(&alice, ACCOUNT, &dev, json!({})).await;

    proxy.cut();

    // An SDK's call is told, in the cloud's own words, that the service is briefly away:
    // `ServiceUnavailable` is what the SDKs retry.
    let started = Instant::now();
    let signer = Signer::new(&app.base_url, &c, app.now_ms());
    let (status, v) = signer.rpc("GetCallerIdentity", &[], "outage-1").await;
    assert_eq!(
        (status, v["Code"].as_str()),
        (503, Some("ServiceUnavailable")),
        "{v}"
    );
    println!("STS call: {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "an STS call during the outage took {:?}",
        started.elapsed()
    );

    // Whatever the outage finds first, and everything after it, is a quick 503 that says
    // when to come back; never a 500, never the pool's whole timeout per request.
    for name in ["during-1", "during-2", "during-3"] {
        let took = refused_at_once(&admin, name).await;
        println!("request during outage: {took:?}");
    }
    let started = Instant::now();
    app.browser()
        .get("/readyz")
        .await
        .assert_error(503, "unavailable");
    println!("/readyz: {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "/readyz took {:?} to say the database is away",
        started.elapsed()
    );
    let started = Instant::now();
    admin
        .get("/api/v1/groups")
        .await
        .assert_error(503, "unavailable");
    println!("request once known: {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "once the outage is known, requests are refused at once (took {:?})",
        started.elapsed()
    );

    proxy.restore().await;

    // Back within a second or so, without a restart: the next probe finds the database.
    let took = resumes(&app, &admin).await;
    println!("back after the database returned: {took:?}");
    // Nothing half-written (and the chain verifies, below).
    only_the_groups_outside_the_fault_exist(&app, &admin).await;
    let verify = cli_verify(&db.url, &app.data_dir, &[], false);
    assert_eq!(verify.code, Some(0), "{}{}", verify.stdout, verify.stderr);
}

/// A small file system of its own (tmpfs), unmounted when dropped.
struct SmallDisk {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "mounting a tmpfs needs root (the project's machines and CI run as root)"
        );
        Self { path, _dir: dir }
    }

    /// Fills what is left with a file, which [`SmallDisk::free`] removes.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path.join("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let small = vec![0u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_under_sqlite_is_answered_503_at_once_and_service_resumes_when_there_is_room() {
    let disk = SmallDisk::mount(16);
    let url = format!("sqlite://{}/gatehouse.db", disk.path.display());
    let data_dir = disk.path.clone();
    let mut app = TestApp::spawn_with(|c| {
        c.database_url = Some(url.clone());
        c.data_dir = data_dir;
    })
    .await;
    let admin = app.admin().await;
    admin
        .post("/api/v1/groups", &json!({ "name": "before" }))
        .await
        .assert_status(201);

    disk.fill();

    // `/readyz` says so within a second, without waiting for a write to fail.
    let started = Instant::now();
    app.browser()
        .get("/readyz")
        .await
        .assert_error(503, "unavailable");
    assert!(started.elapsed() < Duration::from_secs(1));

    // Writes are refused at once with 503 and when to come back; never a 500.
    for name in ["during-1", "during-2"] {
        refused_at_once(&admin, name).await;
    }

    disk.free();

    // Back within a second or so, without a restart.
    resumes(&app, &admin).await;
    // Nothing half-written, no event missing, the chain verifies.
    only_the_groups_outside_the_fault_exist(&app, &admin).await;
    app.stop().await;
    // The master key (and the database) are on the small disk, the app's data directory.
    let verify = cli_verify(&url, &disk.path, &[], false);
    assert_eq!(verify.code, Some(0), "{}{}", verify.stdout, verify.stderr);
}
