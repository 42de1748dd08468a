//! The production and multi-instance store. Nothing that matters lives in one process:
//! sessions, throttling counters, replay caches and the audit chain head are all rows here,
//! and concurrent appends from many instances serialise on the `audit_head` row lock.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};
use tokio::sync::MutexGuard;

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

pub struct PgStore {
    pool: PgPool,
    signer: AuditSigner,
    /// The chain head this process last appended (seq, hash); a hint, checked by the database.
    head: std::sync::Mutex<Option<(i64, [u8; 32])>>,
}

impl PgStore {
    /// Connects and migrates (sqlx holds an advisory lock, so instances may start together).
    pub async fn connect(url: &str, master: &MasterKey) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        let signer = load_signer(&pool, master, SystemClock.now_ms()).await?;
        Ok(Self {
            pool,
            signer,
            head: std::sync::Mutex::new(None),
        })
    }

    /// The pool, for tests and benchmarks that need raw access.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// PostgreSQL has row locks; no process-wide gate is needed.
    #[expect(
        clippy::unused_async,
        reason = "same shape as the SQLite gate, used by the shared SQL"
    )]
    async fn write_gate(&self) -> Option<MutexGuard<'_, ()>> {
        None
    }
}

/// Reads the chain head for appending inside a transaction.
const HEAD_LOCK_SQL: &str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";

sql_store!(PgStore, Postgres, "postgres");
credential_sql!(PgStore, Postgres);
breakglass_sql!(PgStore, Postgres);
federation_sql!(PgStore);
notification_sql!(PgStore, Postgres, "FOR UPDATE SKIP LOCKED");
request_sql!(PgStore, Postgres);
