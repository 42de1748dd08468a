//! The embedded default: SQLite in WAL mode with full fsync on commit. SQLite allows one
//! writer at a time; an in-process gate serialises our write transactions so none of them
//! fails with `SQLITE_BUSY` when a read-started transaction upgrades to a write.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::{Mutex, MutexGuard};

use super::breakglass::{
    breakglass_sql, event_ctx, quorum, sweep_event, with_detail_value, BreakGlassRecord,
    DecideOutcome, DecisionRecord, DecisionWrite, UseKind, VaultChange, VaultEntryRecord,
};
use super::credentials::credential_sql;
use super::federation::federation_sql;
use super::notifications::notification_sql;
use super::requests::request_sql;
use super::sql::sql_store;
use super::*;
use crate::audit::chain::{checkpoint_message, event_hash, parse_hash};
use crate::audit::AuditCtx;
use crate::audit::{signer, CHECKPOINT_EVERY_EVENTS};
use crate::clock::{Clock, SystemClock};

pub struct SqliteStore {
    pool: SqlitePool,
    signer: AuditSigner,
    gate: Mutex<()>,
    /// The chain head this process last appended (seq, hash); a hint, checked by the database.
    head: std::sync::Mutex<Option<(i64, [u8; 32])>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file named by `url` and migrates it.
    pub async fn connect(url: &str, master: &MasterKey) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(dir) = opts.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        let signer = load_signer(&pool, master, SystemClock.now_ms()).await?;
        Ok(Self {
            pool,
            signer,
            gate: Mutex::new(()),
            head: std::sync::Mutex::new(None),
        })
    }

    /// The pool, for tests and benchmarks that need raw access.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn write_gate(&self) -> Option<MutexGuard<'_, ()>> {
        Some(self.gate.lock().await)
    }
}

/// Reads the chain head for appending inside a transaction.
const HEAD_LOCK_SQL: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";

impl SqliteStore {
    /// One event inside `tx`: under the write gate nobody else appends, so the head is read
    /// and the event inserted after it.
    async fn append_one_in(
        tx: &mut Tx,
        signer: &AuditSigner,
        ev: NewEvent,
    ) -> StoreResult<StoredEvent> {
        let mut stored = Self::append_many_in(tx, signer, vec![ev]).await?;
        stored
            .pop()
            .ok_or_else(|| StoreError::Db(sqlx::Error::RowNotFound))
    }
}

sql_store!(SqliteStore, Sqlite, "sqlite");
credential_sql!(SqliteStore, Sqlite);
breakglass_sql!(SqliteStore, Sqlite);
federation_sql!(SqliteStore, Sqlite);
notification_sql!(SqliteStore, Sqlite, "");
request_sql!(SqliteStore, Sqlite);
