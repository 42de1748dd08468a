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
use gatehouse_shared::audit::Outcome;

const EVENT_COLS: &str = "seq, occurred_at, actor_id, actor_name, source_ip, user_agent, action, \
     target_type, target_id, outcome, reason, details, prev_hash, hash";

/// The audit trail. Part of [`Store`](super::Store).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an event on its own (for refusals that change nothing else).
    async fn append_event(&self, event: NewEvent) -> StoreResult<StoredEvent>;
    /// Appends many events in one transaction.
    async fn append_events(&self, events: Vec<NewEvent>) -> StoreResult<()>;
    /// Appends events that happened over time (history being imported or generated) in one
    /// transaction, signing a checkpoint whenever `sign_every_ms` of their time would
    /// otherwise pass unsigned, and at the last, as the tick signs live events.
    async fn append_history(&self, events: Vec<NewEvent>, sign_every_ms: i64) -> StoreResult<()>;
    /// The events `filter` matches, newest first (by time, then sequence number).
    async fn search_events(&self, filter: &EventFilter) -> StoreResult<Vec<StoredEvent>>;
    /// Events with `seq > after`, ascending, at most `limit`.
    async fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<StoredEvent>>;
    /// One subject's story, oldest first: the events whose target is `subject`, and the
    /// events whose details name it (`audit_mentions`: credentials issued under a grant, …).
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

    async fn append_history(&self, events: Vec<NewEvent>, sign_every_ms: i64) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        let mut tx = self.pool.begin().await?;
        Self::append_many_in(&mut tx, &self.signer, events, Some(sign_every_ms)).await?;
        tx.commit().await?;
        self.set_head_hint(None);
        Ok(())
    }

    async fn search_events(&self, f: &EventFilter) -> StoreResult<Vec<StoredEvent>> {
        // Each branch is one index range read newest first (see migration 0012); a search
        // that names several actions (a prefix) or two actor columns is the union of its
        // branches' first pages.
        let actions: Vec<Option<String>> = match f.action.as_deref() {
            None => vec![None],
            Some(action) => match action.strip_suffix('*') {
                None => vec![Some(action.to_string())],
                Some(prefix) => {
                    let found = self.actions_starting(prefix).await?;
                    if found.is_empty() {
                        return Ok(Vec::new());
                    }
                    found.into_iter().map(Some).collect()
                }
            },
        };
        let actor_columns: &[Option<&str>] = if f.actor.is_some() {
            &[Some("actor_name"), Some("actor_id")]
        } else {
            &[None]
        };
        let branches: Vec<(Option<&str>, Option<&String>)> = actor_columns
            .iter()
            .flat_map(|col| actions.iter().map(move |a| (*col, a.as_ref())))
            .collect();
        let mut q = Assembled::<D>::new("");
        if let [(actor_column, action)] = branches.as_slice() {
            search_branch(&mut q, f, *actor_column, *action);
        } else {
            for (i, (actor_column, action)) in branches.iter().enumerate() {
                if i > 0 {
                    q.push(" UNION ");
                }
                q.push(format!("SELECT {EVENT_COLS} FROM ("));
                search_branch(&mut q, f, *actor_column, *action);
                q.push(format!(") AS b{i}"));
            }
            q.push(" ORDER BY occurred_at DESC, seq DESC LIMIT ")
                .bind(f.limit);
        }
        let (sql, args) = q.finish()?;
        // Planned for the values given, every time: a prepared statement's generic plan on
        // PostgreSQL (chosen after five runs) cannot know that this actor is busy or this
        // combination rare, and walked ten million events for an empty page one time in
        // twenty. Search statements vary with the filters anyway, so caching them buys little.
        Ok(sqlx::query_as_with(&sql, args)
            .persistent(false)
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
        // Two seeks: the subject's own events (target index) and the events that name it
        // (`audit_mentions`, kept by a trigger), each bounded to the story's length.
        Ok(sqlx::query_as::<_, StoredEvent>(&format!(
            "SELECT {EVENT_COLS} FROM (SELECT {EVENT_COLS} FROM audit_events WHERE target_id = \
             $1 ORDER BY occurred_at, seq LIMIT $2) AS own UNION SELECT {EVENT_COLS} FROM \
             (SELECT {EVENT_COLS} FROM audit_events WHERE seq IN (SELECT seq FROM \
             audit_mentions WHERE subject = $1 ORDER BY seq LIMIT $2)) AS named ORDER BY \
             occurred_at, seq LIMIT $2"
        ))
        .bind(subject)
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

impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'q> String: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> &'q str: Encode<'q, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
{
    /// The distinct actions that begin with `prefix`, by a skip scan of the action index:
    /// one seek per action, however many events each has. At most [`MAX_PREFIX_ACTIONS`].
    async fn actions_starting(&self, prefix: &str) -> StoreResult<Vec<String>> {
        let sql = format!(
            "WITH RECURSIVE found(action) AS (SELECT (SELECT action FROM audit_events WHERE \
             action >= $1 AND action < $2 ORDER BY action LIMIT 1) UNION ALL SELECT (SELECT \
             a.action FROM audit_events a WHERE a.action > found.action AND a.action < $2 \
             ORDER BY a.action LIMIT 1) FROM found WHERE found.action IS NOT NULL) SELECT \
             action FROM found WHERE action IS NOT NULL LIMIT {MAX_PREFIX_ACTIONS}"
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(prefix)
            .bind(prefix_end(prefix))
            .fetch_all(&self.pool)
            .await?)
    }
}

/// The most actions one prefix search reads as separate branches.
const MAX_PREFIX_ACTIONS: usize = 64;

/// The least string above every string that starts with `prefix` (its last character
/// moved up by one): a range instead of LIKE, since `_` in action names is no wildcard.
fn prefix_end(prefix: &str) -> String {
    let mut upper = prefix.to_string();
    let last = upper
        .pop()
        .map_or('\u{0}', |c| char::from_u32(c as u32 + 1).unwrap_or(c));
    upper.push(last);
    upper
}

/// The index a search branch reads where the engine is told ([`Dialect::INDEX_HINTS`]):
/// the one whose leading columns the branch's filters narrow most, in this order (migration
/// 0012 has them all). A target is nearly always selective; a failure or denial is rare, so
/// its partial indexes come before a busy actor's or a common action's.
fn driving_index(f: &EventFilter, actor_column: Option<&str>, action: bool) -> &'static str {
    let unsuccessful = f.outcome.is_some_and(|o| o != Outcome::Success);
    let by_name = actor_column == Some("actor_name");
    if f.target.is_some() {
        "audit_events_target"
    } else if unsuccessful && action {
        "audit_events_unsuccessful_action"
    } else if unsuccessful && by_name {
        "audit_events_unsuccessful_actor"
    } else if unsuccessful && actor_column.is_none() {
        "audit_events_unsuccessful"
    } else if by_name && action {
        "audit_events_actor_action"
    } else if by_name {
        "audit_events_actor"
    } else if actor_column.is_some() {
        "audit_events_actor_id"
    } else if action {
        "audit_events_action"
    } else {
        "audit_events_time"
    }
}

/// One branch of a search: every filter of `f`, the actor matched in `actor_column` and
/// the action exactly, newest first, one page.
fn search_branch<'q, D: Dialect>(
    q: &mut Assembled<'q, D>,
    f: &EventFilter,
    actor_column: Option<&str>,
    action: Option<&String>,
) where
    String: Encode<'q, D> + Type<D>,
    i64: Encode<'q, D> + Type<D>,
{
    q.push(format!("SELECT {EVENT_COLS} FROM audit_events"));
    if D::INDEX_HINTS {
        let index = driving_index(f, actor_column, action.is_some());
        q.push(format!(" INDEXED BY {index}"));
    }
    q.push(" WHERE 1 = 1");
    if let (Some(column), Some(actor)) = (actor_column, &f.actor) {
        q.push(format!(" AND {column} = ")).bind(actor.clone());
    }
    if let Some(action) = action {
        q.push(" AND action = ").bind(action.clone());
    }
    if let Some(target) = &f.target {
        q.push(" AND target_id = ").bind(target.clone());
    }
    if let Some(outcome) = f.outcome {
        // Written out, not bound, so that either engine sees the partial index
        // (`outcome <> 'success'`) applies: the value is one of three fixed words.
        let word = outcome.as_str();
        q.push(format!(" AND outcome = '{word}'"));
        if outcome != Outcome::Success {
            q.push(" AND outcome <> 'success'");
        }
    }
    if let Some(from) = f.from {
        q.push(" AND occurred_at >= ").bind(from);
    }
    if let Some(to) = f.to {
        q.push(" AND occurred_at < ").bind(to);
    }
    if let Some((at, seq)) = f.before {
        q.push(" AND (occurred_at, seq) < (").bind(at);
        q.push(", ").bind(seq).push(")");
    }
    q.push(" ORDER BY occurred_at DESC, seq DESC LIMIT ")
        .bind(f.limit);
}
