//! Persistence behind one trait, [`Store`]: one trait per capability (directory, access,
//! sessions, audit trail, credentials, break-glass, federation, notifications, requests),
//! each module holding its records, its trait and its SQL. One implementation,
//! [`SqlStore`], serves both engines; [`connect`] picks the engine from the database URL.
//! Every method that changes something is one transaction that also appends its audit
//! event, so a change and its record commit together or not at all.
//!
//! Why ordinary generics: the SQL is the same on both engines (`$n` placeholders,
//! `RETURNING`, `ON CONFLICT`), so it is written once, as `impl<D: Dialect>` blocks on
//! `SqlStore<D>`. [`Dialect`], implemented for sqlx's `Sqlite` and `Postgres`, names what
//! differs (the head lock, the claim lock, the write gate, the single-event append), where
//! the earlier `macro_rules!` bodies relied on names the including file had to supply.
//! Generic code is formatted by rustfmt, checked by clippy, and "go to definition" follows
//! a call into it. Its costs, accepted: Rust does not imply bounds on other types from
//! `D: Dialect` (that `String` encodes for `D`, that its connections execute), so each
//! `impl<D: Dialect>` block repeats one where-clause; sqlx's `QueryBuilder` cannot be used
//! generically (its borrowed arguments cannot be shortened there), so run-time SQL goes
//! through [`assembled`]; and `audited_write` hands the transaction to its closure by value
//! and takes it back, because an async closure borrowing it fails the `Send` check of
//! `#[async_trait]` futures ("implementation of `AsyncFnOnce` is not general enough").
//!
//! Every audited change runs in [`SqlStore::audited_write`] (gate, begin, the caller's
//! read-change-read, append, commit); how events join the chain is in [`chain`].
//! Connecting and migrating differ per engine and live in [`sqlite`] and [`postgres`].
//! [`commit`] is the group-commit queue a capability puts its durable writes through.

mod access;
mod access_requests;
mod assembled;
mod audit_trail;
pub mod break_glass;
mod chain;
pub mod cloud;
pub mod commit;
mod credentials;
mod demo;
mod dialect;
mod directory;
mod federation;
mod notifications;
pub mod postgres;
mod sessions;
mod sql_store;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use access::{
    AccessStore, AccountChange, AccountRecord, AssignmentFilter, AssignmentRecord, Deletion,
    NewAssignmentRecord, PermissionSetChange, PermissionSetRecord, RoleRecord,
};
pub use access_requests::*;
pub use audit_trail::AuditStore;
pub use break_glass::BreakGlassStore;
pub use cloud::{
    CloudStore, IdpKeyRecord, ProvisionOutcome, RoleRemovalRecord, SessionDenialRecord,
};
pub use credentials::{
    CredentialFilter, CredentialStore, CredentialUriRecord, CredentialWrite, EntitlementRecord,
    NonceWrite, RevocationRecord, StsCredentialRecord,
};
pub use demo::DemoStore;
pub use dialect::Dialect;
pub use directory::{
    DirectoryStore, GroupChange, GroupRecord, NewGroupRecord, NewUserRecord, UserChange, UserRecord,
};
pub use federation::{
    FederatedLogin, FederatedUser, FederationRequestRecord, FederationStore, FederationWrite,
    FederationWritten, GuardOutcome, GuardedRequest, IdpRecord, LinkedUser, ReplayGuard,
};
pub use notifications::{
    AttemptOutcome, AttemptRecord, DeliveryFilter, DeliveryRecord, EndpointChange, EndpointRecord,
    NewDelivery, NotificationStore,
};
pub use sessions::{SessionOf, SessionRecord, SessionStore};
pub use sql_store::SqlStore;

use crate::audit::AuditSigner;
use crate::secrets::MasterKey;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(&'static str),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("server key could not be opened with this master key: {0}")]
    Key(#[from] crate::secrets::SecretsError),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// The database could not be reached or cannot take the change now (connection refused
    /// or lost, no connection within the pool's timeout, the server shutting down or out of
    /// connections, a full disk): a retry later may succeed; it is not a bug here.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(e) => db_unreachable(e),
            _ => false,
        }
    }

    /// `NotFound` becomes the caller's own "no such …" error; anything else wraps as is.
    pub fn or_not_found<E: From<StoreError>>(self, not_found: E) -> E {
        match self {
            StoreError::NotFound => not_found,
            other => E::from(other),
        }
    }
}

/// Everything Gatehouse keeps. Implemented by [`sqlite::SqliteStore`] and
/// [`postgres::PgStore`]; the conformance tests run against both.
#[async_trait]
pub trait Store:
    DirectoryStore
    + AccessStore
    + SessionStore
    + AuditStore
    + CredentialStore
    + BreakGlassStore
    + CloudStore
    + FederationStore
    + NotificationStore
    + RequestStore
    + DemoStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;
    /// A round trip to the database and, on SQLite, room on its disk: for `/readyz` and the
    /// availability guard's probes.
    async fn ping(&self) -> StoreResult<()>;
    /// Brings the query planner's statistics up to date where the engine keeps them
    /// without stopping writers ([`Dialect::STATISTICS_SQL`]).
    async fn refresh_statistics(&self) -> StoreResult<()>;
    /// The key that signs audit checkpoints.
    fn audit_signer(&self) -> &AuditSigner;
}

/// Opens the store named by `url` (`sqlite://…` or `postgres://…`), runs its migrations,
/// and loads (or on first start creates) the audit signing key under `master`.
pub async fn connect(url: &str, master: &MasterKey) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url, master).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::connect(url, master).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// See [`StoreError::is_unavailable`].
fn db_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite's primary result codes: SQLITE_IOERR (10), SQLITE_FULL (13),
                // SQLITE_CANTOPEN (14); extended codes keep the primary in the low byte.
                code.parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 10 | 13 | 14))
            } else {
                // PostgreSQL's SQLSTATE classes 08 (connection exception) and 57P (the
                // server shutting down or not yet up); 53100 disk full, 53300 too many
                // connections.
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "53100"
                    || code == "53300"
            }
        }
        _ => false,
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn conflict_on_unique(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Db(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    /// A full disk, as SQLite reports it (a database capped at a few pages fails exactly as
    /// one on a full file system does, with `SQLITE_FULL`), is "unavailable"; a constraint
    /// violation is not.
    #[tokio::test]
    async fn a_full_sqlite_database_is_unavailable_and_a_constraint_is_not() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
            .execute(&pool)
            .await
            .unwrap();
        let duplicate = sqlx::query("INSERT INTO t (id) VALUES (1), (1)")
            .execute(&pool)
            .await
            .unwrap_err();
        assert!(!StoreError::Db(duplicate).is_unavailable());
        sqlx::query("PRAGMA max_page_count = 4")
            .execute(&pool)
            .await
            .unwrap();
        let full = sqlx::query("INSERT INTO t (v) VALUES (zeroblob(100000))")
            .execute(&pool)
            .await
            .unwrap_err();
        assert!(full.to_string().contains("full"), "{full}");
        assert!(StoreError::Db(full).is_unavailable());
        assert!(StoreError::Db(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(!StoreError::NotFound.is_unavailable());
    }
}
