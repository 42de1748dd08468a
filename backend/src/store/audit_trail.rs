//! Reading and extending the audit trail as a whole: events on their own, searches,
//! checkpoints. How an event joins the chain is in [`super::chain`].

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::assembled::Assembled;
use super::chain::{malformed_head, CHECKPOINT_COLS};
use super::dialect::Dialect;
use super::sql_store::{SqlStore, Written};
use super::StoreResult;
use crate::audit::chain::parse_hash;
use crate::audit::NewEvent;
use crate::audit::{EventFilter, StoredCheckpoint, StoredEvent};
use crate::clock::Millis;

const EVENT_COLS: &str = "seq, occurred_at, actor_id, actor_name, source_ip, user_agent, action, \
     target_type, target_id, outcome, reason, details, prev_hash, hash";

/// The audit trail. Part of [`Store`](super::Store).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an event on its own (for refusals that change nothing else).
    async fn append_event(&self, event: NewEvent) -> StoreResult<StoredEvent>;
    /// Appends many events in one transaction.
    async fn append_events(&self, events: Vec<NewEvent>) -> StoreResult<()>;
    async fn search_events(&self, filter: &EventFilter) -> StoreResult<Vec<StoredEvent>>;
    /// Events with `seq > after`, ascending, at most `limit`.
    async fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<StoredEvent>>;
    /// One subject's story, oldest first: the events whose target is `subject`, and the later
    /// events whose details name it as `"request_id"` (credentials issued under a grant, …).
    async fn related_events(&self, subject: &str, limit: i64) -> StoreResult<Vec<StoredEvent>>;
    /// Every checkpoint, by number.
    async fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>>;
    /// Checkpoints numbered above `after`, ascending, at most `limit`.
    async fn checkpoints_after(&self, after: i64, limit: i64)
        -> StoreResult<Vec<StoredCheckpoint>>;
    /// The newest checkpoint's number, 0 if there is none.
    async fn newest_checkpoint_id(&self) -> StoreResult<i64>;
    /// The RFC 3161 time-stamp token (base64 DER) kept for a checkpoint, if it has one.
    async fn checkpoint_stamp(&self, checkpoint_id: i64) -> StoreResult<Option<String>>;
    /// Every kept time-stamp token, by checkpoint number.
    async fn checkpoint_stamps(&self) -> StoreResult<Vec<(i64, String)>>;
    /// The newest checkpoint that has a time-stamp token.
    async fn newest_stamped_checkpoint(&self) -> StoreResult<Option<i64>>;
    /// Keeps `token` for a checkpoint unless one is kept already (another instance got there
    /// first); returns the token kept, so every instance witnesses the same one.
    async fn save_checkpoint_stamp(
        &self,
        checkpoint_id: i64,
        token: &str,
        at: Millis,
    ) -> StoreResult<String>;
    /// Signs the chain head if there are unsigned events and the last checkpoint is at
    /// least `min_interval_ms` old. Safe to call from every instance at once.
    async fn checkpoint_if_due(
        &self,
        now: Millis,
        min_interval_ms: i64,
    ) -> StoreResult<Option<StoredCheckpoint>>;
}

#[async_trait]
impl<D: Dialect> AuditStore for SqlStore<D>
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
    async fn append_event(&self, event: NewEvent) -> StoreResult<StoredEvent> {
        let _gate = self.write_gate().await;
        self.append_alone(event).await
    }

    async fn append_events(&self, events: Vec<NewEvent>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.audited_write(|tx| async move { Ok((tx, Written::with_all((), events))) })
            .await
    }

    async fn search_events(&self, f: &EventFilter) -> StoreResult<Vec<StoredEvent>> {
        let mut q =
            Assembled::<D>::new(format!("SELECT {EVENT_COLS} FROM audit_events WHERE 1 = 1"));
        if let Some(from) = f.from {
            q.push(" AND occurred_at >= ").bind(from);
        }
        if let Some(to) = f.to {
            q.push(" AND occurred_at < ").bind(to);
        }
        if let Some(actor) = &f.actor {
            q.push(" AND (actor_name = ").bind(actor.clone());
            q.push(" OR actor_id = ").bind(actor.clone()).push(")");
        }
        if let Some(action) = &f.action {
            if let Some(prefix) = action.strip_suffix('*') {
                // A range instead of LIKE: '_' in action names is not a wildcard.
                let mut upper = prefix.to_string();
                let last = upper
                    .pop()
                    .map_or('\u{0}', |c| char::from_u32(c as u32 + 1).unwrap_or(c));
                upper.push(last);
                q.push(" AND action >= ").bind(prefix.to_string());
                q.push(" AND action < ").bind(upper);
            } else {
                q.push(" AND action = ").bind(action.clone());
            }
        }
        if let Some(target) = &f.target {
            q.push(" AND target_id = ").bind(target.clone());
        }
        if let Some(outcome) = f.outcome {
            q.push(" AND outcome = ").bind(outcome.as_str());
        }
        if let Some(before) = f.before_seq {
            q.push(" AND seq < ").bind(before);
        }
        q.push(" ORDER BY seq DESC LIMIT ").bind(f.limit);
        let (sql, args) = q.finish()?;
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<StoredEvent>> {
        Ok(sqlx::query_as::<_, StoredEvent>(&format!(
            "SELECT {EVENT_COLS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn related_events(&self, subject: &str, limit: i64) -> StoreResult<Vec<StoredEvent>> {
        // The story starts at the subject's first own event (an indexed lookup), so the
        // scan of details is bounded to what happened since.
        let first: Option<i64> =
            sqlx::query_scalar("SELECT MIN(seq) FROM audit_events WHERE target_id = $1")
                .bind(subject)
                .fetch_one(&self.pool)
                .await?;
        let Some(first) = first else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_as::<_, StoredEvent>(&format!(
            "SELECT {EVENT_COLS} FROM audit_events WHERE seq >= $1 AND (target_id = $2 OR details \
             LIKE $3) ORDER BY seq LIMIT $4"
        ))
        .bind(first)
        .bind(subject)
        .bind(format!("%\"request_id\":\"{subject}\"%"))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
        Ok(sqlx::query_as::<_, StoredCheckpoint>(&format!(
            "SELECT {CHECKPOINT_COLS} FROM audit_checkpoints ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn checkpoints_after(
        &self,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<StoredCheckpoint>> {
        Ok(sqlx::query_as::<_, StoredCheckpoint>(&format!(
            "SELECT {CHECKPOINT_COLS} FROM audit_checkpoints WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn newest_checkpoint_id(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM audit_checkpoints")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn checkpoint_stamp(&self, checkpoint_id: i64) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar(
                "SELECT token FROM audit_checkpoint_stamps WHERE checkpoint_id = $1",
            )
            .bind(checkpoint_id)
            .fetch_optional(&self.pool)
            .await?,
        )
    }

    async fn checkpoint_stamps(&self) -> StoreResult<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT checkpoint_id, token FROM audit_checkpoint_stamps ORDER BY checkpoint_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn newest_stamped_checkpoint(&self) -> StoreResult<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT MAX(checkpoint_id) FROM audit_checkpoint_stamps")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn save_checkpoint_stamp(
        &self,
        checkpoint_id: i64,
        token: &str,
        at: Millis,
    ) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO audit_checkpoint_stamps (checkpoint_id, token, stamped_at) VALUES ($1, \
             $2, $3) ON CONFLICT (checkpoint_id) DO NOTHING",
        )
        .bind(checkpoint_id)
        .bind(token)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar(
                "SELECT token FROM audit_checkpoint_stamps WHERE checkpoint_id = $1",
            )
            .bind(checkpoint_id)
            .fetch_one(&self.pool)
            .await?,
        )
    }

    async fn checkpoint_if_due(
        &self,
        now: Millis,
        min_interval_ms: i64,
    ) -> StoreResult<Option<StoredCheckpoint>> {
        self.audited_write(|mut tx| async move {
            // Lock the head so the checkpoint names the chain as it is at commit.
            let (seq, hash_hex): (i64, String) =
                sqlx::query_as("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
                    .fetch_one(&mut *tx)
                    .await?;
            let last: Option<(i64, i64)> = sqlx::query_as(
                "SELECT event_seq, signed_at FROM audit_checkpoints ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(&mut *tx)
            .await?;
            let due = seq > 0
                && match last {
                    None => true,
                    Some((last_seq, last_at)) => seq > last_seq && now - last_at >= min_interval_ms,
                };
            if !due {
                return Ok((tx, Written::unchanged(None)));
            }
            let hash = parse_hash(&hash_hex).ok_or_else(malformed_head)?;
            let cp = Self::checkpoint_in(&mut tx, &self.signer, seq, &hash, now).await?;
            Ok((tx, Written::silent(Some(cp))))
        })
        .await
    }
}
