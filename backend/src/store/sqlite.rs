//! The embedded default: SQLite in WAL mode with full fsync on commit. SQLite allows one
//! writer at a time; an in-process gate serialises our write transactions so none of them
//! fails with `SQLITE_BUSY` when a read-started transaction upgrades to a write.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Sqlite;

use super::sql_store::SqlStore;
use super::{StoreError, StoreResult};
use crate::clock::{Clock, SystemClock};
use crate::secrets::MasterKey;

/// The store on SQLite.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating if missing) the database file named by `url` and migrates it.
    pub async fn connect(url: &str, master: &MasterKey) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Each connection keeps 8 MiB of pages instead of 2: an index walk over a large
            // trail stays in memory, and eight connections stay under 64 MiB.
            .pragma("cache_size", "-8192");
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
        let signer = Self::load_signer(&pool, master, SystemClock.now_ms()).await?;
        Ok(Self::new(pool, signer))
    }
}
