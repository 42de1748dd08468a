//! Admission under overload (`http::admission`): a kind of request beyond its turns and its
//! line is refused at once with 503 and `Retry-After`, in its caller's own form; other kinds
//! are served meanwhile; the one who waited too long is refused; and the moment a turn
//! frees, the same request is served again. A turn is held here the way a slow client holds
//! it: an STS call whose body has not all arrived.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::sts::{Signer, ACCOUNT};

/// A `POST` to `path` whose headers promise a body of which only `start` comes: it holds a
/// turn (or a place in line) until the connection closes.
async fn unfinished_post(base_url: &str, path: &str, content_type: &str, start: &str) -> TcpStream {
    let addr = base_url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: gatehouse\r\nContent-Type: {content_type}\r\n\
         Content-Length: 100\r\n\r\n{start}"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // Let the server read the headers and reach the gate.
    tokio::time::sleep(Duration::from_millis(150)).await;
    s
}

/// An STS call that holds a turn: see [`unfinished_post`].
async fn unfinished_sts_call(base_url: &str) -> TcpStream {
    let form = "application/x-www-form-urlencoded";
    unfinished_post(base_url, "/", form, "Action=GetCallerIdentity").await
}

#[tokio::test]
async fn a_kind_beyond_its_turns_is_refused_at_once_and_served_again_when_a_turn_frees() {
    let crate::sts::World {
        app,
        alice: browser,
        dev,
        ..
    } = crate::sts::world_with(|c| {
        c.admission_sts = Some(1);
        c.admission_wait_ms = 1_500;
    })
    .await;
    let c = crate::sts::issue(&browser, ACCOUNT, &dev, json!({})).await;
    let signer = Signer::new(&app.base_url, &c, app.now_ms());
    let (status, _) = signer.rpc("GetCallerIdentity", &[], "before").await;
    assert_eq!(status, 200);

    // The one STS turn is taken, and the one place in line.
    let holder = unfinished_sts_call(&app.base_url).await;
    let mut waiter = unfinished_sts_call(&app.base_url).await;

    // The next call is refused at once, in the STS's own words, which the SDKs retry.
    let started = Instant::now();
    let (status, v) = signer.rpc("GetCallerIdentity", &[], "during").await;
    assert_eq!(
        (status, v["Code"].as_str()),
        (503, Some("ServiceUnavailable")),
        "{v}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "the refusal took {:?}: it waited instead of being refused at once",
        started.elapsed()
    );

    // Other kinds of request have turns of their own meanwhile.
    let issued = browser
        .post(
            "/api/v1/portal/credentials",
            &json!({ "account_id": ACCOUNT, "permission_set_id": dev.id }),
        )
        .await;
    issued.assert_status(200);
    browser.get("/api/v1/portal").await.assert_status(200);

    // The one in line waited the whole wait and is refused, with when to come back.
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), waiter.read(&mut answer))
        .await
        .expect("the waiting call is answered within the wait")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");

    // Refusals are counted, by kind and reason.
    let metrics = app.browser().get("/metrics").await.body;
    assert!(
        metrics.contains(r#"gatehouse_requests_shed_total{class="sts",reason="queue_full"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"gatehouse_requests_shed_total{class="sts",reason="waited"} 1"#),
        "{metrics}"
    );

    // The slow client goes away: its turn is free, and service is back at once.
    drop(holder);
    drop(waiter);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, v) = signer.rpc("GetCallerIdentity", &[], "after").await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn a_refused_sign_in_says_the_server_is_busy_in_the_api_envelope() {
    // Sign-ins have one turn and one place in line; two slow sign-ins take both.
    let app = TestApp::spawn_with(|c| {
        c.admission_sign_in = Some(1);
        c.admission_wait_ms = 1_500;
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..2 {
        let login = "/api/v1/auth/login";
        slow.push(unfinished_post(&app.base_url, login, "application/json", "{").await);
    }
    let started = Instant::now();
    let r = app.browser().login("admin", ADMIN_PASSWORD, None).await;
    r.assert_error(503, "overloaded");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    // Given outside the edge's other layers, it still carries the edge's headers.
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert!(started.elapsed() < Duration::from_millis(500));
    drop(slow);
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.browser()
        .login("admin", ADMIN_PASSWORD, None)
        .await
        .assert_status(200);
}
