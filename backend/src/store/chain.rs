//! How events join the audit chain, on either engine ([AUDIT.md](../../../docs/AUDIT.md)).
//!
//! The chain's order comes from one row, `audit_head`, which a trigger moves with every
//! inserted event and which refuses an event that does not extend it exactly. Transactions
//! that change data lock the head first ([`Dialect::HEAD_LOCK_SQL`]: `FOR UPDATE` on
//! PostgreSQL, the write gate on SQLite) and append after it; a standalone event is one
//! optimistic INSERT from the head this process last saw, retried if another writer got
//! there first. Either way the chain never forks, on any number of instances.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::assembled::Assembled;
use super::dialect::Dialect;
use super::sql_store::SqlStore;
use super::{StoreError, StoreResult};
use crate::audit::chain::{checkpoint_message_v2, event_hash, parse_hash, GENESIS};
use crate::audit::CHECKPOINT_EVERY_EVENTS;
use crate::audit::{signer, AuditSigner, NewEvent, StoredCheckpoint, StoredEvent};
use crate::clock::Millis;
use crate::secrets::MasterKey;

/// A write transaction on engine `D`.
pub type Tx<D> = sqlx::Transaction<'static, D>;

/// The columns of `audit_events`, in insert order.
const EVENT_INSERT: &str = "INSERT INTO audit_events (seq, occurred_at, actor_id, actor_name, \
     source_ip, user_agent, action, target_type, target_id, outcome, reason, details, prev_hash, \
     hash) ";

/// The columns of `audit_checkpoints`, as [`StoredCheckpoint`] reads them.
pub(super) const CHECKPOINT_COLS: &str =
    "id, event_seq, event_hash, signed_at, key_id, signature, prev_hash";

/// Rows per multi-row INSERT: 14 binds each stays far below both engines' bind limits.
const CHUNK: usize = 500;

pub(super) fn malformed_head() -> StoreError {
    StoreError::Db(sqlx::Error::Protocol(
        "audit_head holds a malformed hash".into(),
    ))
}

/// Another writer extended the chain first (the trigger refused, or the sequence number is
/// taken).
fn head_moved(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation() || d.message().contains("audit chain head moved")
        }
        _ => false,
    }
}

/// The event as it will be stored at `seq` after `prev`, hashed.
pub(super) fn build_event(seq: i64, prev: &[u8; 32], ev: NewEvent) -> StoredEvent {
    let mut stored = StoredEvent {
        seq,
        occurred_at: ev.occurred_at,
        actor_id: ev.ctx.actor_id,
        actor_name: ev.ctx.actor_name,
        source_ip: ev.ctx.source_ip,
        user_agent: ev.ctx.user_agent,
        action: ev.action.to_string(),
        target_type: ev.target_type.to_string(),
        target_id: ev.target_id,
        outcome: ev.outcome.as_str().to_string(),
        reason: ev.reason,
        details: ev.details.to_string(),
        prev_hash: hex::encode(prev),
        hash: String::new(),
    };
    stored.hash = hex::encode(event_hash(prev, &stored.content()));
    stored
}

/// One event inside `tx` after the head, read with [`Dialect::HEAD_LOCK_SQL`]: the way
/// SQLite appends a single event under its write gate.
pub(super) async fn append_one_after_head(
    tx: &mut Tx<sqlx::Sqlite>,
    signer: &AuditSigner,
    ev: NewEvent,
) -> StoreResult<StoredEvent> {
    let mut stored = SqlStore::<sqlx::Sqlite>::append_many_in(tx, signer, vec![ev], None).await?;
    stored
        .pop()
        .ok_or_else(|| StoreError::Db(sqlx::Error::RowNotFound))
}

impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'q> String: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> &'q str: Encode<'q, D> + Type<D> + ColumnIndex<D::Row>,
    for<'q> i64: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> bool: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> Option<String>: Encode<'q, D>,
    for<'q> Option<i64>: Encode<'q, D>,
    for<'q> Option<bool>: Encode<'q, D>,
    usize: ColumnIndex<D::Row>,
{
    /// The chain head for appending inside `tx`, locked the engine's way: no one else
    /// appends until `tx` ends.
    pub(super) async fn head_in(tx: &mut Tx<D>) -> StoreResult<(i64, [u8; 32])> {
        let (seq, hash): (i64, String) = sqlx::query_as(D::HEAD_LOCK_SQL)
            .fetch_one(&mut **tx)
            .await?;
        Ok((seq, parse_hash(&hash).ok_or_else(malformed_head)?))
    }

    /// One event inside `tx`, the engine's way ([`Dialect::append_one`]).
    pub(super) async fn append_in(
        tx: &mut Tx<D>,
        signer: &AuditSigner,
        ev: NewEvent,
    ) -> StoreResult<StoredEvent> {
        D::append_one(tx, signer, ev).await
    }

    /// Appends `events` in order inside `tx`, after the locked head. The database's
    /// trigger checks that each insert extends the head and moves the head along. A
    /// checkpoint is signed at every multiple of [`CHECKPOINT_EVERY_EVENTS`] and, with
    /// `sign_every_ms` (history being imported), whenever that much event time would
    /// otherwise pass unsigned, and at the last event.
    pub(super) async fn append_many_in(
        tx: &mut Tx<D>,
        signer: &AuditSigner,
        events: Vec<NewEvent>,
        sign_every_ms: Option<i64>,
    ) -> StoreResult<Vec<StoredEvent>> {
        let (mut seq, mut prev) = Self::head_in(tx).await?;
        let mut out = Vec::with_capacity(events.len());
        for ev in events {
            seq += 1;
            let stored = build_event(seq, &prev, ev);
            prev = parse_hash(&stored.hash).ok_or_else(malformed_head)?;
            out.push(stored);
        }
        let mut signed_at = Vec::with_capacity(out.len());
        let mut window: Option<Millis> = None;
        for (i, e) in out.iter().enumerate() {
            let start = *window.get_or_insert(e.occurred_at);
            let sign = e.seq % CHECKPOINT_EVERY_EVENTS == 0
                || sign_every_ms.is_some_and(|ms| {
                    out.get(i + 1)
                        .is_none_or(|next| next.occurred_at - start >= ms)
                });
            if sign {
                window = None;
            }
            signed_at.push(sign);
        }
        for (chunk, signs) in out.chunks(CHUNK).zip(signed_at.chunks(CHUNK)) {
            let mut q = Assembled::<D>::new(EVENT_INSERT);
            q.values(chunk, |b, e| {
                b.bind(e.seq)
                    .bind(e.occurred_at)
                    .bind(e.actor_id.clone())
                    .bind(e.actor_name.clone())
                    .bind(e.source_ip.clone())
                    .bind(e.user_agent.clone())
                    .bind(e.action.clone())
                    .bind(e.target_type.clone())
                    .bind(e.target_id.clone())
                    .bind(e.outcome.clone())
                    .bind(e.reason.clone())
                    .bind(e.details.clone())
                    .bind(e.prev_hash.clone())
                    .bind(e.hash.clone());
            });
            let (sql, args) = q.finish()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
            for (e, _) in chunk.iter().zip(signs).filter(|(_, sign)| **sign) {
                let h = parse_hash(&e.hash).ok_or_else(malformed_head)?;
                Self::checkpoint_in(tx, signer, e.seq, &h, e.occurred_at).await?;
            }
        }
        Ok(out)
    }

    /// One event on its own, in one statement: extend the head this process last saw; if
    /// another writer moved it, re-read it and try again. After a few lost races, or when
    /// a checkpoint falls due, take the locking path. The caller holds the write gate.
    pub(super) async fn append_alone(&self, ev: NewEvent) -> StoreResult<StoredEvent> {
        for _ in 0..8 {
            let (seq, prev) = match self.head_hint() {
                Some(h) => h,
                None => {
                    let (seq, hash): (i64, String) =
                        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                            .fetch_one(&self.pool)
                            .await?;
                    (seq, parse_hash(&hash).ok_or_else(malformed_head)?)
                }
            };
            if (seq + 1) % CHECKPOINT_EVERY_EVENTS == 0 {
                break;
            }
            let stored = build_event(seq + 1, &prev, ev.clone());
            match Self::insert_event(&self.pool, &stored).await {
                Ok(()) => {
                    let hash = parse_hash(&stored.hash).ok_or_else(malformed_head)?;
                    self.set_head_hint(Some((stored.seq, hash)));
                    return Ok(stored);
                }
                Err(StoreError::Db(e)) if head_moved(&e) => self.set_head_hint(None),
                Err(e) => return Err(e),
            }
        }
        let mut tx = self.pool.begin().await?;
        let stored = D::append_one(&mut tx, &self.signer, ev).await?;
        tx.commit().await?;
        self.set_head_hint(None);
        Ok(stored)
    }

    fn head_hint(&self) -> Option<(i64, [u8; 32])> {
        *self
            .head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn set_head_hint(&self, head: Option<(i64, [u8; 32])>) {
        *self
            .head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = head;
    }

    /// Inserts `stored` as it is; the trigger refuses it unless it extends the head.
    async fn insert_event(pool: &sqlx::Pool<D>, stored: &StoredEvent) -> StoreResult<()> {
        let sql = format!(
            "{EVENT_INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        );
        sqlx::query(&sql)
            .bind(stored.seq)
            .bind(stored.occurred_at)
            .bind(&stored.actor_id)
            .bind(&stored.actor_name)
            .bind(&stored.source_ip)
            .bind(&stored.user_agent)
            .bind(&stored.action)
            .bind(&stored.target_type)
            .bind(&stored.target_id)
            .bind(&stored.outcome)
            .bind(&stored.reason)
            .bind(&stored.details)
            .bind(&stored.prev_hash)
            .bind(&stored.hash)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Signs (`event_seq`, `event_hash`) as the next checkpoint inside `tx`, linked to the
    /// checkpoint before it. The caller holds the chain head, so checkpoints are numbered
    /// and linked in one line on any number of instances.
    pub(super) async fn checkpoint_in(
        tx: &mut Tx<D>,
        signer: &AuditSigner,
        event_seq: i64,
        event_hash: &[u8; 32],
        at: Millis,
    ) -> StoreResult<StoredCheckpoint> {
        let last: Option<StoredCheckpoint> = sqlx::query_as(&format!(
            "SELECT {CHECKPOINT_COLS} FROM audit_checkpoints ORDER BY id DESC LIMIT 1"
        ))
        .fetch_optional(&mut **tx)
        .await?;
        let prev = match &last {
            None => GENESIS,
            Some(cp) => cp.hash().ok_or_else(malformed_head)?,
        };
        let mut cp = StoredCheckpoint {
            id: last.map_or(1, |c| c.id + 1),
            event_seq,
            event_hash: hex::encode(event_hash),
            signed_at: at,
            key_id: signer.key_id().to_string(),
            signature: String::new(),
            prev_hash: Some(hex::encode(prev)),
        };
        cp.signature = signer.sign(&checkpoint_message_v2(
            cp.id, event_seq, event_hash, at, &prev,
        ));
        sqlx::query(
            "INSERT INTO audit_checkpoints (id, event_seq, event_hash, signed_at, key_id, \
             signature, prev_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(cp.id)
        .bind(cp.event_seq)
        .bind(&cp.event_hash)
        .bind(cp.signed_at)
        .bind(&cp.key_id)
        .bind(&cp.signature)
        .bind(&cp.prev_hash)
        .execute(&mut **tx)
        .await?;
        Ok(cp)
    }

    /// Opens the checkpoint signing key, creating it on first start. When two instances
    /// start at once, the first insert wins and both use its key.
    pub(super) async fn load_signer(
        pool: &sqlx::Pool<D>,
        master: &MasterKey,
        now: Millis,
    ) -> StoreResult<AuditSigner> {
        let q = "SELECT sealed FROM server_keys WHERE name = $1";
        let found: Option<(String,)> = sqlx::query_as(q)
            .bind(signer::KEY_NAME)
            .fetch_optional(pool)
            .await?;
        if let Some((sealed,)) = found {
            return Ok(AuditSigner::open(master, &sealed)?);
        }
        let (_, sealed) = AuditSigner::generate(master);
        sqlx::query(
            "INSERT INTO server_keys (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT \
             (name) DO NOTHING",
        )
        .bind(signer::KEY_NAME)
        .bind(&sealed)
        .bind(now)
        .execute(pool)
        .await?;
        let (sealed,): (String,) = sqlx::query_as(q)
            .bind(signer::KEY_NAME)
            .fetch_one(pool)
            .await?;
        Ok(AuditSigner::open(master, &sealed)?)
    }
}
