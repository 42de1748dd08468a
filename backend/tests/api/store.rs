//! The store's conformance suite: the same store-level tests on SQLite and, when
//! `TEST_DATABASE_URL` is `postgres://…`, on PostgreSQL, through `store::connect` and the
//! store traits alone (no HTTP). Whatever engine `Store` gains must pass these.

use std::sync::Arc;

use gatehouse::audit::verify::verify_store;
use gatehouse::audit::{AuditCtx, NewEvent, StoredEvent};
use gatehouse::secrets::MasterKey;
use gatehouse::store::{
    self, GroupChange, NewGroupRecord, NewUserRecord, SessionRecord, Store, StoreError, UserChange,
};
use tempfile::TempDir;

use crate::helpers::TestDb;

/// A store on a fresh database of the suite's engine. `_db` outlives the stores (fields
/// drop in order), so a PostgreSQL database is dropped after its pools.
struct Fixture {
    stores: Vec<Arc<dyn Store>>,
    _db: TestDb,
    _dir: TempDir,
}

impl Fixture {
    /// One store, or on PostgreSQL `instances` stores on the same database, as that many
    /// Gatehouse instances would have. (SQLite is one process's database.)
    async fn open(instances: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::for_suite(dir.path()).await;
        let master = MasterKey::generate();
        let first = store::connect(&db.url, &master).await.unwrap();
        let mut stores = vec![first];
        if stores[0].engine() == "postgres" {
            for _ in 1..instances {
                stores.push(store::connect(&db.url, &master).await.unwrap());
            }
        }
        Self {
            stores,
            _db: db,
            _dir: dir,
        }
    }

    fn store(&self) -> &dyn Store {
        self.stores[0].as_ref()
    }

    async fn events(&self) -> Vec<StoredEvent> {
        self.store().events_after(0, 100_000).await.unwrap()
    }

    async fn actions(&self) -> Vec<String> {
        self.events().await.into_iter().map(|e| e.action).collect()
    }
}

fn event(action: &'static str, target: &str) -> NewEvent {
    let ctx = AuditCtx {
        actor_id: Some("u-admin".into()),
        actor_name: "admin".into(),
        source_ip: Some("127.0.0.1".into()),
        user_agent: Some("store-tests".into()),
    };
    NewEvent::named(1_000, &ctx, action, "test", Some(target.to_string()))
}

fn user(id: &str, username: &str) -> NewUserRecord {
    NewUserRecord {
        id: id.into(),
        username: username.into(),
        email: format!("{username}@example.com"),
        display_name: username.to_uppercase(),
        source: "local".into(),
        password_hash: Some("not-a-real-hash".into()),
        created_at: 1_000,
    }
}

fn group(id: &str, name: &str) -> NewGroupRecord {
    NewGroupRecord {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        roles: String::new(),
        created_at: 1_000,
    }
}

async fn assert_chain_intact(f: &Fixture, events: i64) {
    let report = verify_store(f.store()).await.unwrap();
    assert!(report.intact, "{:?}", report.problem);
    assert_eq!(report.events_checked, events);
}

#[tokio::test]
async fn users_and_groups_change_with_their_audit_events() {
    let f = Fixture::open(1).await;
    let s = f.store();

    let alice = s
        .create_user(user("u-1", "alice"), event("directory.user.create", "u-1"))
        .await
        .unwrap();
    assert_eq!(alice.username, "alice");
    assert_eq!(s.get_user("u-1").await.unwrap(), alice);
    let change = UserChange {
        display_name: Some("Alice A.".into()),
        at: 2_000,
        ..UserChange::default()
    };
    let updated = s
        .update_user("u-1", change, event("directory.user.update", "u-1"))
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Alice A.");
    assert_eq!(updated.updated_at, 2_000);

    let g = s
        .create_group(group("g-1", "ops"), event("directory.group.create", "g-1"))
        .await
        .unwrap();
    assert_eq!(g.member_count, 0);
    s.add_member("g-1", "u-1", 3_000, event("directory.member.add", "g-1"))
        .await
        .unwrap();
    // Adding a member twice is no error and records no second event.
    s.add_member("g-1", "u-1", 3_000, event("directory.member.add", "g-1"))
        .await
        .unwrap();
    assert_eq!(s.get_group("g-1").await.unwrap().member_count, 1);
    assert_eq!(
        s.groups_of_user("u-1").await.unwrap(),
        vec![s.get_group("g-1").await.unwrap()]
    );
    let change = GroupChange {
        description: Some("on call".into()),
        at: 4_000,
        ..GroupChange::default()
    };
    s.update_group("g-1", change, event("directory.group.update", "g-1"))
        .await
        .unwrap();
    s.remove_member("g-1", "u-1", event("directory.member.remove", "g-1"))
        .await
        .unwrap();
    s.delete_group("g-1", event("directory.group.delete", "g-1"))
        .await
        .unwrap();
    s.delete_user("u-1", event("directory.user.delete", "u-1"))
        .await
        .unwrap();
    assert!(matches!(s.get_user("u-1").await, Err(StoreError::NotFound)));
    assert!(matches!(
        s.get_group("g-1").await,
        Err(StoreError::NotFound)
    ));

    assert_eq!(
        f.actions().await,
        [
            "directory.user.create",
            "directory.user.update",
            "directory.group.create",
            "directory.member.add",
            "directory.group.update",
            "directory.member.remove",
            "directory.group.delete",
            "directory.user.delete",
        ]
    );
    // An update's event carries the images before and after it.
    let events = f.events().await;
    let details: serde_json::Value = serde_json::from_str(&events[1].details).unwrap();
    assert_eq!(details["before"]["display_name"], "ALICE");
    assert_eq!(details["after"]["display_name"], "Alice A.");
    assert_chain_intact(&f, 8).await;
}

#[tokio::test]
async fn a_session_comes_with_its_user_and_their_groups_in_one_read() {
    let f = Fixture::open(1).await;
    let s = f.store();
    s.create_user(user("u-1", "alice"), event("directory.user.create", "u-1"))
        .await
        .unwrap();
    let session = SessionRecord {
        id_hash: "h-1".into(),
        user_id: "u-1".into(),
        csrf_token: "csrf".into(),
        auth_method: "password".into(),
        idp_mfa: false,
        mfa_at: Some(1_500),
        created_at: 1_000,
        last_seen_at: 1_200,
        expires_at: 9_000,
        source_ip: Some("127.0.0.1".into()),
        user_agent: None,
    };
    s.create_session(session.clone(), None, event("auth.login", "u-1"))
        .await
        .unwrap();
    // Without groups: the session and the user, no groups.
    let found = s.session_of("h-1").await.unwrap().expect("the session");
    assert_eq!(found.session, session);
    assert_eq!(found.user, s.get_user("u-1").await.unwrap());
    assert!(found.groups.is_empty());
    // With groups: each once, by name, as the directory reads them.
    for (id, name) in [("g-2", "zeta"), ("g-1", "alpha")] {
        s.create_group(group(id, name), event("directory.group.create", id))
            .await
            .unwrap();
        s.add_member(id, "u-1", 2_000, event("directory.member.add", id))
            .await
            .unwrap();
    }
    let found = s.session_of("h-1").await.unwrap().expect("the session");
    assert_eq!(found.groups, s.groups_of_user("u-1").await.unwrap());
    assert_eq!(
        found
            .groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>(),
        ["alpha", "zeta"]
    );
    assert_eq!(found.session, session);
    assert!(s.session_of("no-such").await.unwrap().is_none());
}

#[tokio::test]
async fn a_refused_change_leaves_nothing_half_written() {
    let f = Fixture::open(1).await;
    let s = f.store();
    s.create_user(user("u-1", "alice"), event("directory.user.create", "u-1"))
        .await
        .unwrap();
    s.create_group(group("g-1", "ops"), event("directory.group.create", "g-1"))
        .await
        .unwrap();

    // The same username again: a conflict, and neither the row nor its event is kept.
    let again = s
        .create_user(user("u-2", "alice"), event("directory.user.create", "u-2"))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert!(matches!(s.get_user("u-2").await, Err(StoreError::NotFound)));
    let again = s
        .create_group(group("g-2", "ops"), event("directory.group.create", "g-2"))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert!(matches!(
        s.get_group("g-2").await,
        Err(StoreError::NotFound)
    ));

    // Changes to what does not exist fail whole, with no event either.
    let missing = s
        .add_member(
            "g-1",
            "u-nobody",
            2_000,
            event("directory.member.add", "g-1"),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert_eq!(s.get_group("g-1").await.unwrap().member_count, 0);
    let missing = s
        .update_user(
            "u-nobody",
            UserChange::default(),
            event("directory.user.update", "x"),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let missing = s
        .remove_member("g-1", "u-1", event("directory.member.remove", "g-1"))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    assert_eq!(
        f.actions().await,
        ["directory.user.create", "directory.group.create"]
    );
    assert_chain_intact(&f, 2).await;
}

#[tokio::test]
async fn concurrent_writers_extend_one_chain() {
    const TASKS: usize = 8;
    const ROUNDS: usize = 6;
    // On PostgreSQL, three stores on one database: three instances racing for the head.
    let f = Fixture::open(3).await;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let s = f.stores[t % f.stores.len()].clone();
        tasks.push(tokio::spawn(async move {
            for r in 0..ROUNDS {
                let id = format!("u-{t}-{r}");
                // A change with its event (the locked path) …
                s.create_user(user(&id, &id), event("directory.user.create", &id))
                    .await
                    .unwrap();
                // … an event on its own (the optimistic path) …
                s.append_event(event("test.alone", &id)).await.unwrap();
                // … and several events in one transaction.
                let batch = vec![event("test.batch", &id), event("test.batch", &id)];
                s.append_events(batch).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let expected = i64::try_from(TASKS * ROUNDS * 4).unwrap();
    let events = f.events().await;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=expected).collect::<Vec<_>>());
    assert_eq!(
        f.store().list_users(None).await.unwrap().len(),
        TASKS * ROUNDS
    );
    assert_chain_intact(&f, expected).await;
}
