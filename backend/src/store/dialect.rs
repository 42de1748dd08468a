//! What differs between the two engines, named in one trait, [`Dialect`], implemented for
//! sqlx's [`Sqlite`] and [`Postgres`]: the SQL that locks the audit chain head, the lock
//! clause of the notifier's claim, whether writers queue on an in-process gate, and how
//! one event is appended inside a transaction. Everything else is the same SQL on both.

use std::future::Future;

use sqlx::{Postgres, Sqlite};

use super::chain::{self, Tx};
use super::StoreResult;
use crate::audit::{AuditSigner, NewEvent, StoredEvent};

/// One database engine as the store uses it. The generic store code ([`super::SqlStore`])
/// asks this trait, never the engine's name, for what differs.
pub trait Dialect: sqlx::Database<QueryResult: RowsAffected> {
    /// `sqlite` or `postgres`, as [`super::Store::engine`] reports it.
    const ENGINE: &'static str;
    /// Reads the audit head (`seq`, `hash`) inside a write transaction such that nobody
    /// else appends until the transaction ends: `FOR UPDATE` on PostgreSQL; on SQLite the
    /// write gate already holds every other writer off.
    const HEAD_LOCK_SQL: &'static str;
    /// Appended to the notifier's claim query: `FOR UPDATE SKIP LOCKED` on PostgreSQL,
    /// nothing on SQLite (one writer at a time).
    const CLAIM_LOCK: &'static str;
    /// Whether write transactions queue on the store's in-process gate. SQLite has one
    /// writer, and a transaction that started reading fails with `SQLITE_BUSY` if it
    /// upgrades while another writes; PostgreSQL has row locks and needs no gate.
    const GATED_WRITES: bool;

    /// Appends one event inside `tx` after the locked head and returns it as stored
    /// (with a checkpoint when its `seq` calls for one). No other writer can append
    /// between this and the commit of `tx`.
    fn append_one<'t>(
        tx: &'t mut Tx<Self>,
        signer: &'t AuditSigner,
        event: NewEvent,
    ) -> impl Future<Output = StoreResult<StoredEvent>> + Send + 't;
}

/// What a statement reports back that the store uses: sqlx has it on each engine's result
/// type but in no trait, so generic code asks this one.
pub trait RowsAffected {
    /// The number of rows the statement inserted, changed or deleted.
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

impl Dialect for Sqlite {
    const ENGINE: &'static str = "sqlite";
    const HEAD_LOCK_SQL: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1";
    const CLAIM_LOCK: &'static str = "";
    const GATED_WRITES: bool = true;

    /// Under the write gate nobody else appends, so the head is read and the event
    /// inserted after it, as for several events.
    async fn append_one<'t>(
        tx: &'t mut Tx<Self>,
        signer: &'t AuditSigner,
        event: NewEvent,
    ) -> StoreResult<StoredEvent> {
        chain::append_one_after_head(tx, signer, event).await
    }
}

impl Dialect for Postgres {
    const ENGINE: &'static str = "postgres";
    const HEAD_LOCK_SQL: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";
    const CLAIM_LOCK: &'static str = "FOR UPDATE SKIP LOCKED";
    const GATED_WRITES: bool = false;

    /// One statement ([`super::postgres::append_one_in`]): the head row stays locked from
    /// this statement to the commit, not across another round trip.
    async fn append_one<'t>(
        tx: &'t mut Tx<Self>,
        signer: &'t AuditSigner,
        event: NewEvent,
    ) -> StoreResult<StoredEvent> {
        super::postgres::append_one_in(tx, signer, event).await
    }
}
