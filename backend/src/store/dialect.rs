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
pub trait Dialect:
    sqlx::Database<QueryResult: RowsAffected> + sqlx::database::HasStatementCache
{
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
    /// Brings the query planner's statistics up to date (the audit searches' choice of
    /// index rests on them): `ANALYZE` on PostgreSQL, which samples and blocks no one.
    /// `None` on SQLite, whose ANALYZE holds the write lock while it reads every index (most
    /// of a minute over ten million events) and whose sampled form is misleading; there the
    /// audit searches name their index instead ([`Dialect::INDEX_HINTS`]).
    const STATISTICS_SQL: Option<&'static str>;
    /// Whether a search names the index it reads (`INDEXED BY`, SQLite), so that its plan
    /// rests on the filters given, not on statistics.
    const INDEX_HINTS: bool;

    /// Whether the database can take writes, beyond answering a query: `Err` (unavailable)
    /// when SQLite's file system has less than [`MIN_FREE_BYTES`] left, where a commit
    /// would fail with `SQLITE_FULL`. PostgreSQL's server reports its own full disk (53100)
    /// on the write that meets it.
    fn room_to_write(_pool: &sqlx::Pool<Self>) -> StoreResult<()> {
        Ok(())
    }

    /// Appends one event inside `tx` after the locked head and returns it as stored
    /// (with a checkpoint when its `seq` calls for one). No other writer can append
    /// between this and the commit of `tx`.
    fn append_one<'t>(
        tx: &'t mut Tx<Self>,
        signer: &'t AuditSigner,
        event: NewEvent,
    ) -> impl Future<Output = StoreResult<StoredEvent>> + Send + 't;
}

/// Less than this free beside the SQLite file counts as a full disk: a few transactions'
/// worth of WAL frames.
pub const MIN_FREE_BYTES: u64 = 1 << 20;

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
    const STATISTICS_SQL: Option<&'static str> = None;
    const INDEX_HINTS: bool = true;

    fn room_to_write(pool: &sqlx::Pool<Self>) -> StoreResult<()> {
        let file = pool.connect_options().get_filename().to_path_buf();
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            // In memory, or relative to the working directory.
            _ => std::path::Path::new("."),
        };
        let Ok(fs) = rustix::fs::statvfs(dir) else {
            // Not knowing is not "full": the next write says for itself.
            return Ok(());
        };
        let free = fs.f_bavail.saturating_mul(fs.f_frsize);
        if free < MIN_FREE_BYTES {
            return Err(super::StoreError::Db(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!("{free} bytes free on the database's file system"),
            ))));
        }
        Ok(())
    }

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
    const STATISTICS_SQL: Option<&'static str> = Some("ANALYZE");
    const INDEX_HINTS: bool = false;

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
