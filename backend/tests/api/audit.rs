//! The audit trail: search filters and cursor paging; chain verification through the API
//! and `gatehouse audit verify`; tampering (a changed byte in any column, a deleted event,
//! two swapped events, rewritten or truncated history) detected and named; the database's
//! own refusal of UPDATE and DELETE; and signed checkpoints.

use std::collections::BTreeSet;
use std::time::Duration;

use gatehouse::audit::chain::{event_hash, parse_hash};
use gatehouse::audit::{AuditCtx, NewEvent, StoredEvent};
use gatehouse_shared::audit::{AuditPage, ChainProblemKind, VerifyReport};
use gatehouse_shared::auth::Role;
use gatehouse_shared::directory::Group;
use serde_json::json;

use crate::helpers::{
    q, rfc3339, sql_text, Browser, RawDb, TestApp, ADMIN_PASSWORD, USER_PASSWORD,
};

const HOUR: Duration = Duration::from_secs(3600);

// --- search -----------------------------------------------------------------------------

#[tokio::test]
async fn search_filters_by_time_actor_action_target_and_outcome() {
    // Arrange: events at three times, by two people, of several kinds.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ann = app
        .create_user_with_roles(&admin, "ann", &[Role::Administrator])
        .await;
    app.advance(HOUR);
    let t1 = app.now_ms();
    let ann_browser = app.browser();
    ann_browser.sign_in("ann", USER_PASSWORD).await;
    let ann_group: Group = ann_browser
        .post("/api/v1/groups", &json!({ "name": "ann-group" }))
        .await
        .assert_status(201)
        .json();
    app.browser()
        .login("ann", "not-anns-password", None)
        .await
        .assert_status(401);
    ann_browser
        .post("/api/v1/auth/step-up", &json!({ "code": "000000" }))
        .await
        .assert_status(401);
    app.advance(HOUR);
    let t2 = app.now_ms();
    admin.sign_in("admin", ADMIN_PASSWORD).await; // the old session went idle
    admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": "1234567890123456", "name": "A", "environment": "dev" }),
        )
        .await
        .assert_status(201);
    let all = app.all_events().await;
    type Pick = Box<dyn Fn(&StoredEvent) -> bool>;
    let (ann_id, group_id) = (ann.id.clone(), ann_group.id.clone());
    let ann_id2 = ann_id.clone();
    let cases: Vec<(String, Pick, usize)> = vec![
        (
            format!("from={}", q(&rfc3339(t1))),
            Box::new(move |e| e.occurred_at >= t1),
            6,
        ),
        (
            format!("to={}", q(&rfc3339(t1))),
            Box::new(move |e| e.occurred_at < t1),
            5,
        ),
        (
            format!("from={}&to={}", q(&rfc3339(t1)), q(&rfc3339(t2))),
            Box::new(move |e| (t1..t2).contains(&e.occurred_at)),
            4,
        ),
        ("actor=ann".into(), Box::new(|e| e.actor_name == "ann"), 4),
        (
            format!("actor={ann_id}"),
            Box::new(move |e| e.actor_id.as_deref() == Some(ann_id.as_str())),
            4,
        ),
        (
            "action=auth.login".into(),
            Box::new(|e| e.action == "auth.login"),
            4,
        ),
        (
            "action=auth.*".into(),
            Box::new(|e| e.action.starts_with("auth.")),
            5,
        ),
        (
            "action=directory.group.*".into(),
            Box::new(|e| e.action.starts_with("directory.group.")),
            3,
        ),
        ("action=auth".into(), Box::new(|_| false), 0),
        (
            format!("target={group_id}"),
            Box::new(move |e| e.target_id.as_deref() == Some(group_id.as_str())),
            1,
        ),
        (
            "outcome=failure".into(),
            Box::new(|e| e.outcome == "failure"),
            2,
        ),
        (
            "outcome=denied".into(),
            Box::new(|e| e.outcome == "denied"),
            0,
        ),
        (
            format!("actor={ann_id2}&outcome=failure&action=auth.*"),
            Box::new(|e| e.actor_name == "ann" && e.outcome == "failure"),
            2,
        ),
    ];

    for (query, pick, count) in cases {
        // Act
        let page: AuditPage = admin
            .get(&format!("/api/v1/audit/events?{query}"))
            .await
            .assert_status(200)
            .json();

        // Assert
        let got: Vec<i64> = page.events.iter().map(|e| e.seq).collect();
        let want: Vec<i64> = all
            .iter()
            .rev()
            .filter(|e| pick(e))
            .map(|e| e.seq)
            .collect();
        assert_eq!(got, want, "query {query}");
        assert_eq!(got.len(), count, "query {query}: {:?}", page.events);
        assert_eq!(page.next_cursor, None);
    }
}

#[tokio::test]
async fn malformed_search_queries_are_refused() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    for query in [
        "from=yesterday",
        "to=2026-13-01T00:00:00Z",
        "outcome=maybe",
        "limit=0",
        "limit=501",
        "cursor=abc",
        "cursor=-5",
    ] {
        // Act
        let reply = admin.get(&format!("/api/v1/audit/events?{query}")).await;

        // Assert
        reply.assert_error(400, "invalid_query");
    }
}

#[tokio::test]
async fn a_cursor_pages_through_250_events_without_gaps_or_repeats() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let events: Vec<NewEvent> = (0..250)
        .map(|i| {
            NewEvent::named(
                app.now_ms(),
                &AuditCtx::system(),
                "test.paging",
                "thing",
                Some(format!("thing-{i}")),
            )
        })
        .collect();
    app.state.store.append_events(events).await.unwrap();

    // Act
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/audit/events?action=test.paging&limit=100".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: AuditPage = admin.get(&path).await.assert_status(200).json();
        cursor.clone_from(&page.next_cursor);
        pages.push(page);
        if cursor.is_none() || pages.len() > 10 {
            break;
        }
    }

    // Assert
    let sizes: Vec<usize> = pages.iter().map(|p| p.events.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let seqs: Vec<i64> = pages
        .iter()
        .flat_map(|p| p.events.iter().map(|e| e.seq))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    let targets: BTreeSet<String> = pages
        .iter()
        .flat_map(|p| p.events.iter().filter_map(|e| e.target_id.clone()))
        .collect();
    assert_eq!(targets.len(), 250);
    // The default page size, and paging the whole trail in small pages, agree with the store.
    let first: AuditPage = admin.get("/api/v1/audit/events").await.json();
    assert_eq!(first.events.len(), 50);
    let mut all_seqs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/audit/events?limit=37&cursor={c}"),
            None => "/api/v1/audit/events?limit=37".into(),
        };
        let page: AuditPage = admin.get(&path).await.json();
        all_seqs.extend(page.events.iter().map(|e| e.seq));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let stored: Vec<i64> = app.all_events().await.iter().rev().map(|e| e.seq).collect();
    assert_eq!(all_seqs, stored);
}

// --- verification and tampering ---------------------------------------------------------

/// Asserts that both the API and the CLI report `kind` at `seq`.
async fn assert_detected(
    app: &TestApp,
    reader: &Browser,
    seq: i64,
    kind: ChainProblemKind,
    what: &str,
) {
    let report: VerifyReport = reader
        .get("/api/v1/audit/verify")
        .await
        .assert_status(200)
        .json();
    assert!(!report.intact, "{what}: the API says intact: {report:?}");
    let problem = report.problem.unwrap();
    assert_eq!(
        (problem.seq, problem.kind),
        (seq, kind),
        "{what}: {}",
        problem.message
    );
    let cli = app.cli_verify(false);
    assert_eq!(cli.code, Some(1), "{what}: exit status; {cli:?}");
    assert!(
        cli.stdout.contains(&format!("at event {seq} ({kind:?})")),
        "{what}: the CLI names the event: {cli:?}"
    );
}

async fn assert_intact(reader: &Browser, what: &str) -> VerifyReport {
    let report: VerifyReport = reader
        .get("/api/v1/audit/verify")
        .await
        .assert_status(200)
        .json();
    assert!(report.intact, "{what}: {report:?}");
    assert_eq!(report.problem, None);
    report
}

/// One byte of `s` changed, keeping it ASCII (and hex digits hex).
fn one_byte_changed(s: &str) -> String {
    let mut bytes = s.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = match bytes[i] {
        b'0' => b'1',
        b if b.is_ascii_hexdigit() => b'0',
        b if b.is_ascii_alphabetic() => b ^ 0x20,
        _ => b'x',
    };
    String::from_utf8(bytes).unwrap()
}

/// The `UPDATE … SET` list that gives a row every stored column of `e` but `seq`.
fn set_all_but_seq(e: &StoredEvent) -> String {
    format!(
        "occurred_at = {}, actor_id = {}, actor_name = {}, source_ip = {}, user_agent = {}, \
         action = {}, target_type = {}, target_id = {}, outcome = {}, reason = {}, details = {}, \
         prev_hash = {}, hash = {}",
        e.occurred_at,
        sql_text(e.actor_id.as_deref()),
        sql_text(Some(&e.actor_name)),
        sql_text(e.source_ip.as_deref()),
        sql_text(e.user_agent.as_deref()),
        sql_text(Some(&e.action)),
        sql_text(Some(&e.target_type)),
        sql_text(e.target_id.as_deref()),
        sql_text(Some(&e.outcome)),
        sql_text(e.reason.as_deref()),
        sql_text(Some(&e.details)),
        sql_text(Some(&e.prev_hash)),
        sql_text(Some(&e.hash)),
    )
}

/// An app with a few events after a failed sign-in of a known user: an event whose every
/// column has a value. Returns (app, admin browser, that event's seq).
async fn trail_with_a_full_event() -> (TestApp, Browser, i64) {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user_with_roles(&admin, "tess", &[]).await;
    app.browser()
        .login("tess", "wrong-password-here", None)
        .await
        .assert_status(401);
    let full = app.all_events().await.last().unwrap().seq;
    for name in ["after-1", "after-2", "after-3"] {
        admin
            .post("/api/v1/groups", &json!({ "name": name }))
            .await
            .assert_status(201);
    }
    (app, admin, full)
}

#[tokio::test]
async fn events_with_any_text_chain_as_the_verifier_hashes_them() {
    // Arrange: each engine appends its own way (on PostgreSQL the database hashes the event
    // in the insert); text beyond ASCII, up to four bytes a character, and absent fields.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let name = "Zoë Ångström 東京 🚀";

    // Act
    let created = admin
        .post(
            "/api/v1/users",
            &json!({ "username": "zoe", "email": "zoe@example.com", "display_name": name }),
        )
        .await;
    app.browser()
        .login("zoe", "not-her-password", None)
        .await
        .assert_status(401);

    // Assert
    created.assert_status(201);
    let events = app.all_events().await;
    let creation = events
        .iter()
        .find(|e| e.action == "directory.user.create")
        .expect("the creation event");
    assert!(creation.details.contains(name), "{}", creation.details);
    assert!(events.iter().any(|e| e.reason.is_none()), "an absent field");
    assert_intact(&admin, "non-ASCII and absent fields").await;
}

#[tokio::test]
async fn an_untouched_trail_verifies_through_the_api_and_the_cli() {
    // Arrange
    let (app, admin, _) = trail_with_a_full_event().await;
    let stored = app.all_events().await.len();

    // Act
    let report = assert_intact(&admin, "untouched").await;
    let cli = app.cli_verify(false);
    let cli_json = app.cli_verify(true);

    // Assert
    assert_eq!(report.events_checked, i64::try_from(stored).unwrap());
    assert_eq!(cli.code, Some(0), "{cli:?}");
    assert!(cli.stdout.starts_with("Intact:"), "{cli:?}");
    assert!(!cli.stderr.contains("ERROR"), "{}", cli.stderr);
    assert_eq!(cli_json.code, Some(0));
    let from_cli: VerifyReport = serde_json::from_str(&cli_json.stdout).unwrap();
    assert_eq!(from_cli, report);
}

#[tokio::test]
async fn a_single_changed_byte_in_any_column_is_named() {
    // Arrange
    let (app, admin, seq) = trail_with_a_full_event().await;
    let db = app.raw_db().await;
    db.disable_audit_triggers().await;
    let original = app
        .state
        .store
        .events_after(seq - 1, 1)
        .await
        .unwrap()
        .remove(0);
    let text_columns: Vec<(&str, Option<&str>)> = vec![
        ("actor_id", original.actor_id.as_deref()),
        ("actor_name", Some(&original.actor_name)),
        ("source_ip", original.source_ip.as_deref()),
        ("user_agent", original.user_agent.as_deref()),
        ("action", Some(&original.action)),
        ("target_type", Some(&original.target_type)),
        ("target_id", original.target_id.as_deref()),
        ("outcome", Some(&original.outcome)),
        ("reason", original.reason.as_deref()),
        ("details", Some(&original.details)),
        ("prev_hash", Some(&original.prev_hash)),
        ("hash", Some(&original.hash)),
    ];
    let mut changes: Vec<(&str, String, String, ChainProblemKind)> = text_columns
        .into_iter()
        .map(|(column, value)| {
            let value = value.unwrap_or_else(|| panic!("{column} has a value in this event"));
            (
                column,
                sql_text(Some(&one_byte_changed(value))),
                sql_text(Some(value)),
                ChainProblemKind::Altered,
            )
        })
        .collect();
    changes.push((
        "occurred_at",
        (original.occurred_at ^ 1).to_string(),
        original.occurred_at.to_string(),
        ChainProblemKind::Altered,
    ));
    // Renumbering the event takes it out of its place: the chain misses it there.
    changes.push((
        "seq",
        (seq + 1_000_000).to_string(),
        seq.to_string(),
        ChainProblemKind::Missing,
    ));
    assert_eq!(changes.len(), 14, "every stored column");

    for (column, tampered, restored, kind) in changes {
        let current_seq = if column == "seq" {
            seq + 1_000_000
        } else {
            seq
        };

        // Act
        let n = db
            .exec(&format!(
                "UPDATE audit_events SET {column} = {tampered} WHERE seq = {seq}"
            ))
            .await
            .unwrap();
        assert_eq!(n, 1);

        // Assert
        assert_detected(&app, &admin, seq, kind, &format!("column {column}")).await;
        db.exec(&format!(
            "UPDATE audit_events SET {column} = {restored} WHERE seq = {current_seq}"
        ))
        .await
        .unwrap();
        assert_intact(&admin, &format!("after restoring {column}")).await;
    }
}

#[tokio::test]
async fn a_deleted_event_is_named() {
    // Arrange
    let (app, admin, seq) = trail_with_a_full_event().await;
    let db = app.raw_db().await;
    db.disable_audit_triggers().await;

    // Act
    let n = db
        .exec(&format!("DELETE FROM audit_events WHERE seq = {seq}"))
        .await
        .unwrap();

    // Assert
    assert_eq!(n, 1);
    assert_detected(
        &app,
        &admin,
        seq,
        ChainProblemKind::Missing,
        "deleted event",
    )
    .await;
}

#[tokio::test]
async fn two_swapped_events_are_named() {
    // Arrange
    let (app, admin, seq) = trail_with_a_full_event().await;
    let db = app.raw_db().await;
    db.disable_audit_triggers().await;
    let pair = app.state.store.events_after(seq - 1, 2).await.unwrap();
    let (a, b) = (&pair[0], &pair[1]);

    // Act: every column but the position is exchanged.
    db.exec(&format!(
        "UPDATE audit_events SET {} WHERE seq = {}",
        set_all_but_seq(b),
        a.seq
    ))
    .await
    .unwrap();
    db.exec(&format!(
        "UPDATE audit_events SET {} WHERE seq = {}",
        set_all_but_seq(a),
        b.seq
    ))
    .await
    .unwrap();

    // Assert
    let moved = app
        .state
        .store
        .events_after(seq - 1, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (moved.seq, moved.hash.as_str()),
        (a.seq, b.hash.as_str()),
        "swapped"
    );
    assert_detected(
        &app,
        &admin,
        seq,
        ChainProblemKind::Reordered,
        "swapped events",
    )
    .await;
}

#[tokio::test]
async fn history_rewritten_with_fresh_hashes_is_caught_by_the_signed_checkpoint() {
    // Arrange: a checkpoint signs the chain, then an attacker rewrites an event and
    // recomputes every hash after it, as anyone with the database (but not the key) could.
    let (app, admin, seq) = trail_with_a_full_event().await;
    app.advance(Duration::from_secs(61));
    app.tick().await;
    let last_seq = app.all_events().await.last().unwrap().seq;
    // The first checkpoint that covers the rewritten event (normally the one just signed).
    let first_covering = app
        .state
        .store
        .checkpoints()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.event_seq >= seq)
        .map(|c| c.event_seq)
        .min()
        .unwrap();
    assert!(first_covering <= last_seq);
    let db = app.raw_db().await;
    db.disable_audit_triggers().await;
    let mut events = app.state.store.events_after(seq - 1, 1_000).await.unwrap();

    // Act
    events[0].actor_name = "somebody-else".into();
    let mut prev = parse_hash(&events[0].prev_hash).unwrap();
    for e in &mut events {
        e.prev_hash = hex::encode(prev);
        prev = event_hash(&prev, &e.content());
        e.hash = hex::encode(prev);
        db.exec(&format!(
            "UPDATE audit_events SET {} WHERE seq = {}",
            set_all_but_seq(e),
            e.seq
        ))
        .await
        .unwrap();
    }

    // Assert
    assert_detected(
        &app,
        &admin,
        first_covering,
        ChainProblemKind::CheckpointInvalid,
        "rewritten history",
    )
    .await;
}

#[tokio::test]
async fn events_removed_from_the_end_are_caught_by_the_signed_checkpoint() {
    // Arrange
    let (app, admin, _) = trail_with_a_full_event().await;
    app.advance(Duration::from_secs(61));
    app.tick().await;
    let last_seq = app.all_events().await.last().unwrap().seq;
    let db = app.raw_db().await;
    db.disable_audit_triggers().await;

    // Act
    db.exec(&format!(
        "DELETE FROM audit_events WHERE seq >= {}",
        last_seq - 1
    ))
    .await
    .unwrap();

    // Assert
    assert_detected(
        &app,
        &admin,
        last_seq - 1,
        ChainProblemKind::Truncated,
        "truncated tail",
    )
    .await;
}

#[tokio::test]
async fn the_database_refuses_to_update_or_delete_audit_rows() {
    // Arrange
    let (app, admin, seq) = trail_with_a_full_event().await;
    app.advance(Duration::from_secs(61));
    app.tick().await;
    let db: RawDb = app.raw_db().await;
    let mut statements = vec![
        format!("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = {seq}"),
        format!("DELETE FROM audit_events WHERE seq = {seq}"),
        "DELETE FROM audit_events".to_string(),
        "UPDATE audit_checkpoints SET signed_at = 0".to_string(),
        "DELETE FROM audit_checkpoints".to_string(),
    ];
    if db.is_postgres() {
        statements.push("TRUNCATE audit_events".into());
        statements.push("TRUNCATE audit_checkpoints".into());
    }

    for sql in statements {
        // Act
        let result = db.exec(&sql).await;

        // Assert
        let err = result.expect_err(&format!("the database allowed: {sql}"));
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let report = assert_intact(&admin, "after the refused statements").await;
    assert_eq!(
        report.events_checked,
        i64::try_from(app.all_events().await.len()).unwrap()
    );
}

#[tokio::test]
async fn a_tick_a_minute_later_signs_a_checkpoint_that_verify_reports() {
    // Arrange
    let (app, admin, _) = trail_with_a_full_event().await;
    let before = app.state.store.checkpoints().await.unwrap().len();
    let head = app.all_events().await.last().unwrap().seq;

    // Act
    app.advance(Duration::from_secs(61));
    app.tick().await;

    // Assert
    let checkpoints = app.state.store.checkpoints().await.unwrap();
    assert_eq!(checkpoints.len(), before + 1, "one new checkpoint");
    let newest = checkpoints.last().unwrap();
    assert_eq!(newest.event_seq, head);
    assert_eq!(newest.signed_at, app.now_ms());
    let report = assert_intact(&admin, "after the checkpoint").await;
    let signed = report.last_checkpoint.clone().unwrap();
    assert_eq!((signed.id, signed.event_seq), (newest.id, head));
    assert_eq!(report.unsigned_events, 0);
    let cli = app.cli_verify(false);
    assert!(
        cli.stdout.contains(&format!(
            "signed up to checkpoint #{} (event {head})",
            newest.id
        )),
        "{cli:?}"
    );

    // A new event is chained but unsigned; a tick within the minute signs nothing…
    admin
        .post("/api/v1/groups", &json!({ "name": "later" }))
        .await
        .assert_status(201);
    let tick = app.tick().await;
    assert_eq!(tick.checkpoint, None);
    assert_eq!(
        assert_intact(&admin, "unsigned tail").await.unsigned_events,
        1
    );
    // …and one a minute later does.
    app.advance(Duration::from_secs(61));
    app.tick().await;
    let report = assert_intact(&admin, "signed again").await;
    assert_eq!(report.unsigned_events, 0);
    assert_eq!(report.last_checkpoint.unwrap().event_seq, head + 1);
}

#[tokio::test]
async fn a_server_stopped_for_longer_than_the_cadence_leaves_a_trail_that_verifies() {
    // Arrange: an event the tick has not signed yet when the server is stopped.
    let mut app = TestApp::spawn().await;
    let admin = app.admin().await;
    admin
        .post("/api/v1/groups", &json!({ "name": "before-the-stop" }))
        .await
        .assert_status(201);
    let head = app.all_events().await.last().unwrap().seq;

    // Act: a planned stop, half an hour of maintenance, a start.
    app.stop().await;
    let signed_on_the_way_out = app.state.store.checkpoints().await.unwrap();
    app.advance(Duration::from_secs(30 * 60));
    app.restart().await;
    let admin = app.browser();
    admin.sign_in("admin", ADMIN_PASSWORD).await;
    app.advance(Duration::from_secs(61));
    app.tick().await;

    // Assert: the stop signed the head, so the gap reads as no events, not as removed
    // checkpoints.
    assert_eq!(signed_on_the_way_out.last().unwrap().event_seq, head);
    let report = assert_intact(&admin, "after a long planned stop").await;
    assert_eq!(report.unsigned_events, 0);
}

// --- export and timeline -----------------------------------------------------------------

fn test_event(
    app: &TestApp,
    action: &'static str,
    target: &str,
    details: serde_json::Value,
) -> NewEvent {
    let mut e = NewEvent::named(
        app.now_ms(),
        &AuditCtx::system(),
        action,
        "thing",
        Some(target.to_string()),
    );
    e.details = details;
    e
}

#[tokio::test]
async fn export_streams_every_matching_event_as_csv_and_json_lines() {
    // Arrange: 2,500 matching events (more than one page of the stream), noise around them,
    // and one whose reason a spreadsheet would run as a formula.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let events: Vec<NewEvent> = (0..2_500)
        .map(|i| {
            test_event(
                &app,
                "test.export",
                &format!("t-{i}"),
                json!({ "i": i, "note": "a, \"quoted\"\nline" }),
            )
        })
        .collect();
    app.state.store.append_events(events).await.unwrap();
    let mut formula = test_event(&app, "test.export", "t-formula", json!({}));
    formula = formula.failed(
        gatehouse_shared::audit::Outcome::Denied,
        "=HYPERLINK(\"http://evil\")",
    );
    app.state.store.append_event(formula).await.unwrap();
    app.state
        .store
        .append_event(test_event(&app, "test.other", "x", json!({})))
        .await
        .unwrap();

    // Act
    let csv = admin
        .get("/api/v1/audit/export?format=csv&action=test.export")
        .await;
    let jsonl = admin
        .get("/api/v1/audit/export?format=jsonl&action=test.export")
        .await;

    // Assert: CSV — a header, every event once, newest first, fields quoted, formula defused.
    csv.assert_status(200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .contains("attachment"));
    let mut reader = ::csv::Reader::from_reader(csv.body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "seq");
    assert_eq!(&headers[11], "details");
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2_501);
    let seqs: Vec<i64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    assert!(rows.iter().all(|r| &r[6] == "test.export"));
    assert_eq!(&rows[0][10], "'=HYPERLINK(\"http://evil\")");
    let last: serde_json::Value = serde_json::from_str(&rows[2_500][11]).unwrap();
    assert_eq!(last["i"], 0);
    assert_eq!(last["note"], "a, \"quoted\"\nline");

    // JSON Lines: the API's own event objects, with their hashes, same order.
    jsonl.assert_status(200);
    let lines: Vec<gatehouse_shared::audit::AuditEvent> = jsonl
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs);
    // Each line is the event exactly as the search API gives it, field for field.
    let stored: std::collections::HashMap<i64, StoredEvent> = app
        .all_events()
        .await
        .into_iter()
        .map(|e| (e.seq, e))
        .collect();
    for line in &lines {
        assert_eq!(line, &stored[&line.seq].to_api());
    }
    let time = stored[&seqs[0]]
        .to_api()
        .occurred_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(&rows[0][1], time, "CSV times as the API writes them");
    assert_eq!(
        lines[0].reason.as_deref(),
        Some("=HYPERLINK(\"http://evil\")"),
        "JSON Lines is faithful"
    );

    // Compressed as a browser asks for it (gzip or brotli), the stream still ends cleanly and
    // carries the same file.
    let raw = Browser::cookieless(&app.base_url);
    let login = raw.login("admin", ADMIN_PASSWORD, None).await;
    let cookie = login
        .session_cookie()
        .expect("a session cookie")
        .value
        .clone();
    let zipped = reqwest::Client::new()
        .get(raw.url("/api/v1/audit/export?format=csv&action=test.export"))
        .header("cookie", format!("gatehouse_session={cookie}"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let bytes = zipped.bytes().await.expect("the whole compressed body");
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut unzipped)
        .unwrap();
    assert_eq!(unzipped.lines().count(), csv.body.lines().count());

    // The exports are themselves in the trail.
    let exports: Vec<_> = app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "audit.export")
        .collect();
    assert_eq!(exports.len(), 3);
    assert_eq!(exports[0].actor_name, "admin");
}

#[tokio::test]
async fn export_refuses_bad_formats_and_people_who_may_not_read_the_trail() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for query in [
        "",
        "format=xml",
        "format=csv&outcome=maybe",
        "format=csv&from=yesterday",
    ] {
        admin
            .get(&format!("/api/v1/audit/export?{query}"))
            .await
            .assert_error(400, "invalid_query");
    }
    app.create_user_with_roles(&admin, "emp", &[]).await;
    let emp = app.browser();
    emp.sign_in("emp", USER_PASSWORD).await;
    emp.get("/api/v1/audit/export?format=csv")
        .await
        .assert_status(403);
    emp.get("/api/v1/audit/timeline/abc")
        .await
        .assert_status(403);
    app.browser()
        .get("/api/v1/audit/export?format=csv")
        .await
        .assert_status(401);
}

#[tokio::test]
async fn a_timeline_tells_one_subjects_story_in_order() {
    // Arrange: a request's own events, events elsewhere that name it (credentials issued
    // under its grant), and noise: another request whose ID shares a prefix, and an STS
    // call whose own API request ID happens to read the same.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let s = &app.state.store;
    for (action, target, details) in [
        ("test.noise", "other", json!({ "request_id": "req-10" })),
        ("test.before", "req-1", json!({})),
        (
            "access_request.create",
            "req-1",
            json!({ "request_id": "req-1" }),
        ),
        (
            "access_request.create",
            "req-10",
            json!({ "request_id": "req-10" }),
        ),
        (
            "access_request.approve",
            "req-1",
            json!({ "comment": "ok" }),
        ),
        (
            "sts.credentials.issue",
            "1234/ps-1",
            json!({ "grant_id": "req-1", "request_id": "sts-call-1" }),
        ),
        (
            "sts.credentials.issue",
            "1234/ps-1",
            json!({ "grant_id": "req-10" }),
        ),
        (
            "sts.assume_role",
            "acs:ram::1:role/x",
            json!({ "request_id": "req-1" }),
        ),
        ("access_grant.end", "req-1", json!({ "grant_id": "req-1" })),
    ] {
        s.append_event(test_event(&app, action, target, details))
            .await
            .unwrap();
    }

    // Act
    let story: Vec<gatehouse_shared::audit::AuditEvent> = admin
        .get("/api/v1/audit/timeline/req-1")
        .await
        .assert_status(200)
        .json();

    // Assert
    let actions: Vec<&str> = story.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "test.before",
            "access_request.create",
            "access_request.approve",
            "sts.credentials.issue",
            "access_grant.end"
        ]
    );
    assert_eq!(story[3].details["grant_id"], "req-1");
    let empty: Vec<gatehouse_shared::audit::AuditEvent> = admin
        .get("/api/v1/audit/timeline/nothing-here")
        .await
        .json();
    assert!(empty.is_empty());
    for bad in ["a%25b", "a%22b", "x%20y"] {
        admin
            .get(&format!("/api/v1/audit/timeline/{bad}"))
            .await
            .assert_error(400, "invalid_query");
    }
}

// --- search at scale: every shape against the trail itself ------------------------------

/// Appends a generated trail of `events` events by `people` people over the `days` before
/// now, after the app's own (so time and sequence disagree); returns its shape.
async fn generated_trail(
    app: &TestApp,
    events: u64,
    people: u32,
    days: u32,
    seed: u64,
) -> gatehouse::audit::generate::Shape {
    let shape = gatehouse::audit::generate::Shape {
        events,
        people,
        days,
        seed,
        end: app.now_ms(),
    };
    let generated: Vec<NewEvent> = gatehouse::audit::generate::Generator::new(shape).collect();
    app.state.store.append_events(generated).await.unwrap();
    shape
}

/// The events `query` should find, newest first by time, then by sequence number.
fn expected(all: &[StoredEvent], pick: impl Fn(&StoredEvent) -> bool) -> Vec<i64> {
    let mut found: Vec<&StoredEvent> = all.iter().filter(|e| pick(e)).collect();
    found.sort_by_key(|e| std::cmp::Reverse((e.occurred_at, e.seq)));
    found.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn every_search_shape_pages_a_generated_trail_exactly() {
    // Arrange: a generated trail of 6,000 events over three days, appended after the
    // bootstrap's events although it happened before them, so time and sequence disagree.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let shape = generated_trail(&app, 6_000, 40, 3, 11).await;
    let all = app.all_events().await;
    let day = 86_400_000;
    let (t1, t2) = (app.now_ms() - 2 * day, app.now_ms() - day);
    let person = "person00003";
    let person_id = gatehouse::audit::generate::Generator::new(shape).user_id(3);
    let request = all
        .iter()
        .find(|e| e.action == "access_grant.start")
        .and_then(|e| e.target_id.clone())
        .unwrap();
    type Pick = Box<dyn Fn(&StoredEvent) -> bool>;
    let window = move |e: &StoredEvent| e.occurred_at >= t1 && e.occurred_at < t2;
    let cases: Vec<(String, Pick)> = vec![
        (String::new(), Box::new(|_| true)),
        (
            format!("actor={person}"),
            Box::new(move |e| e.actor_name == person),
        ),
        (
            format!("actor={person_id}"),
            Box::new({
                let id = person_id.clone();
                move |e| e.actor_id.as_deref() == Some(id.as_str())
            }),
        ),
        (
            "actor=system".into(),
            Box::new(|e| e.actor_name == "system"),
        ),
        (
            "action=access_request.*".into(),
            Box::new(|e| e.action.starts_with("access_request.")),
        ),
        (
            "action=auth.*".into(),
            Box::new(|e| e.action.starts_with("auth.")),
        ),
        ("action=nothing.*".into(), Box::new(|_| false)),
        (
            "action=auth.login&outcome=failure".into(),
            Box::new(|e| e.action == "auth.login" && e.outcome == "failure"),
        ),
        ("outcome=denied".into(), Box::new(|e| e.outcome == "denied")),
        (
            format!("from={}&to={}", q(&rfc3339(t1)), q(&rfc3339(t2))),
            Box::new(window),
        ),
        (
            format!(
                "action=sts.*&actor={person}&from={}&to={}",
                q(&rfc3339(t1)),
                q(&rfc3339(t2))
            ),
            Box::new(move |e| window(e) && e.action.starts_with("sts.") && e.actor_name == person),
        ),
        (
            format!("target={request}"),
            Box::new({
                let r = request.clone();
                move |e| e.target_id.as_deref() == Some(r.as_str())
            }),
        ),
    ];

    for (query, pick) in cases {
        // Act: page through in pages of 97, across branch boundaries.
        let got: Vec<i64> = app
            .audit_events_paged(&admin, &query, 97)
            .await
            .iter()
            .map(|e| e.seq)
            .collect();

        // Assert
        let want = expected(&all, &pick);
        assert_eq!(got.len(), want.len(), "query {query:?}");
        assert_eq!(got, want, "query {query:?}");
    }
}

#[tokio::test]
async fn the_request_timeline_includes_the_credentials_taken_under_its_grant() {
    // Arrange: a generated trail; one grant that credentials were issued under.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    generated_trail(&app, 4_000, 10, 2, 5).await;
    let all = app.all_events().await;
    let grant = all
        .iter()
        .find(|e| e.action == "sts.credentials.issue" && e.details.contains("\"grant_id\":\""))
        .map(|e| serde_json::from_str::<serde_json::Value>(&e.details).unwrap()["grant_id"].clone())
        .and_then(|g| g.as_str().map(str::to_string))
        .unwrap();

    // Act
    let story: Vec<gatehouse_shared::audit::AuditEvent> = admin
        .get(&format!("/api/v1/audit/timeline/{grant}"))
        .await
        .assert_status(200)
        .json();

    // Assert: every event about it or naming it, oldest first, and nothing else.
    let want: Vec<i64> = {
        let mut v: Vec<&StoredEvent> = all
            .iter()
            .filter(|e| {
                e.target_id.as_deref() == Some(grant.as_str())
                    || e.details.contains(&format!("\"grant_id\":\"{grant}\""))
                    || (!e.action.starts_with("sts.")
                        && e.details.contains(&format!("\"request_id\":\"{grant}\"")))
            })
            .collect();
        v.sort_by_key(|e| (e.occurred_at, e.seq));
        v.iter().map(|e| e.seq).collect()
    };
    let got: Vec<i64> = story.iter().map(|e| e.seq).collect();
    assert_eq!(got, want);
    let actions: BTreeSet<&str> = story.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "access_request.create",
        "access_grant.start",
        "sts.credentials.issue",
        "access_grant.end",
    ] {
        assert!(actions.contains(a), "{a} missing from {actions:?}");
    }
}

#[tokio::test]
async fn generate_fills_only_an_empty_trail_and_what_it_writes_verifies() {
    // Arrange: a new database no server has opened.
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::TestDb::for_suite(dir.path()).await;
    let generate = || {
        std::process::Command::new(crate::helpers::gatehouse_bin())
            .args(["--database-url", &db.url, "--data-dir"])
            .arg(dir.path())
            .args(["audit", "generate", "--events", "3000", "--people", "30"])
            .args(["--days", "1", "--seed", "9"])
            .env("GATEHOUSE_LOG", "warn")
            .output()
            .unwrap()
    };

    // Act
    let first = generate();
    let second = generate();

    // Assert: chained, checkpointed within the default cadence, and never twice.
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let run = crate::helpers::cli_verify(&db.url, dir.path(), &[], true);
    let report: VerifyReport = serde_json::from_str(&run.stdout).unwrap();
    assert!(report.intact, "{report:?}");
    assert_eq!(report.events_checked, 3_000);
    assert_eq!(report.unsigned_events, 0);
    // A day of events, signed within five minutes of event time each: some 250 times.
    let checkpoint = report.last_checkpoint.unwrap();
    assert_eq!(checkpoint.event_seq, 3_000);
    assert!(checkpoint.id >= 200, "{checkpoint:?}");
    assert_eq!(
        second.status.code(),
        Some(2),
        "an error, as every command reports one"
    );
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
}
