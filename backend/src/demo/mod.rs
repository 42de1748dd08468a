//! `gatehouse serve --demo`: a small example directory to try things with — three people,
//! an auditors group, and three accounts. Runs only on a directory without accounts, so it
//! never touches a real installation's data; every change is audited like any other.

use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::auth::Role;
use serde_json::json;
use zeroize::Zeroizing;

use crate::audit::{AuditCtx, NewEvent};
use crate::clock::Millis;
use crate::store::{AccountRecord, NewGroupRecord, NewUserRecord, Store, StoreError};

/// The demo users' shared password, printed at start-up.
pub const DEMO_PASSWORD: &str = "gatehouse-demo-password";

pub async fn seed(
    store: &dyn Store,
    hashing: &crate::auth::password::Hashing,
    now: Millis,
) -> anyhow::Result<()> {
    if !store.list_accounts().await?.is_empty() {
        return Ok(());
    }
    let ctx = AuditCtx::system();
    let hash =
        crate::auth::password::hash(hashing, Zeroizing::new(DEMO_PASSWORD.to_string())).await?;
    let mut ids = Vec::new();
    for (username, name) in [
        ("alice", "Alice Employee"),
        ("bob", "Bob Approver"),
        ("carol", "Carol Auditor"),
    ] {
        let id = uuid::Uuid::new_v4().to_string();
        let rec = NewUserRecord {
            id: id.clone(),
            username: username.into(),
            email: format!("{username}@example.com"),
            display_name: name.into(),
            source: "local".into(),
            password_hash: Some(hash.clone()),
            created_at: now,
        };
        match store
            .create_user(
                rec,
                NewEvent::new(
                    now,
                    &ctx,
                    AuditAction::DirectoryUserCreate,
                    "user",
                    Some(id.clone()),
                ),
            )
            .await
        {
            Ok(_) => ids.push((username, id)),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for (name, description, roles, members) in [
        (
            "engineering",
            "Engineers who operate the workloads",
            "",
            &["alice", "bob"][..],
        ),
        (
            "auditors",
            "Read-only access to the audit trail",
            Role::Auditor.as_str(),
            &["carol"][..],
        ),
    ] {
        let id = uuid::Uuid::new_v4().to_string();
        let rec = NewGroupRecord {
            id: id.clone(),
            name: name.into(),
            description: description.into(),
            roles: roles.into(),
            created_at: now,
        };
        match store
            .create_group(
                rec,
                NewEvent::new(
                    now,
                    &ctx,
                    AuditAction::DirectoryGroupCreate,
                    "group",
                    Some(id.clone()),
                ),
            )
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        for (username, user_id) in ids.iter().filter(|(u, _)| members.contains(u)) {
            let ev = NewEvent::new(
                now,
                &ctx,
                AuditAction::DirectoryGroupMemberAdd,
                "group",
                Some(id.clone()),
            )
            .details(json!({ "group": name, "user_id": user_id, "username": username }));
            store.add_member(&id, user_id, now, ev).await?;
        }
    }
    for (id, name, env) in [
        ("1000000000000001", "payments-prod", "production"),
        ("1000000000000002", "payments-staging", "staging"),
        ("1000000000000003", "sandbox", "development"),
    ] {
        let rec = AccountRecord {
            id: id.into(),
            name: name.into(),
            environment: env.into(),
            provider: "local".into(),
            site: "international".into(),
            region: None,
            created_at: now,
            updated_at: now,
        };
        store
            .create_account(
                rec,
                NewEvent::new(
                    now,
                    &ctx,
                    AuditAction::DirectoryAccountCreate,
                    "account",
                    Some(id.into()),
                ),
            )
            .await?;
    }
    println!("Demo directory seeded: users alice, bob, carol (password: {DEMO_PASSWORD}); carol is an auditor.");
    Ok(())
}
