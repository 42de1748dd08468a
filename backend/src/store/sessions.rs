//! Browser sessions and the sign-in throttling counters: rows, so every instance sees
//! the same ones.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::chain::Tx;
use super::dialect::{Dialect, RowsAffected};
use super::sql_store::{SqlStore, Written};
use super::StoreResult;
use crate::audit::NewEvent;
use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub auth_method: String,
    pub idp_mfa: bool,
    pub mfa_at: Option<Millis>,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
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
    /// A new session for `user_id` inside `tx`, replacing the browser's previous one.
    pub(super) async fn insert_session_in(
        tx: &mut Tx<D>,
        s: &SessionRecord,
        user_id: &str,
        replaces: Option<&str>,
    ) -> StoreResult<()> {
        if let Some(old) = replaces {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(old)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, auth_method, idp_mfa, mfa_at, \
             created_at, last_seen_at, expires_at, source_ip, user_agent) VALUES ($1, $2, $3, $4, \
             $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&s.id_hash)
        .bind(user_id)
        .bind(&s.csrf_token)
        .bind(&s.auth_method)
        .bind(s.idp_mfa)
        .bind(s.mfa_at)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .bind(&s.source_ip)
        .bind(&s.user_agent)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Sessions and throttling counters. Part of [`Store`](super::Store).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session, deleting `replaces` (the browser's previous session) at once.
    async fn create_session(
        &self,
        session: SessionRecord,
        replaces: Option<&str>,
        event: NewEvent,
    ) -> StoreResult<()>;
    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>>;
    async fn touch_session(&self, id_hash: &str, at: Millis) -> StoreResult<()>;
    async fn set_session_mfa(&self, id_hash: &str, at: Millis, event: NewEvent) -> StoreResult<()>;
    async fn delete_session(&self, id_hash: &str, event: Option<NewEvent>) -> StoreResult<()>;
    /// Removes sessions past their absolute expiry or idle since before `idle_before`.
    async fn delete_stale_sessions(&self, now: Millis, idle_before: Millis) -> StoreResult<u64>;

    /// Counts one failure under `key` in a fixed window; returns (count, window start).
    async fn rate_hit(&self, key: &str, now: Millis, window_ms: i64) -> StoreResult<(i64, Millis)>;
    /// The current (count, window start) under `key`, if any.
    async fn rate_get(&self, key: &str) -> StoreResult<Option<(i64, Millis)>>;
    async fn rate_clear(&self, key: &str) -> StoreResult<()>;
    /// Takes back one count under `key` if its window still starts at `window_start`: for
    /// limits that count an attempt before checking it and give it back when it succeeds.
    /// A counter left at nothing is removed, so the next failure starts a window of its own.
    async fn rate_refund(&self, key: &str, window_start: Millis) -> StoreResult<()>;
}

#[async_trait]
impl<D: Dialect> SessionStore for SqlStore<D>
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
    async fn create_session(
        &self,
        s: SessionRecord,
        replaces: Option<&str>,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            Self::insert_session_in(&mut tx, &s, &s.user_id, replaces).await?;
            let event = event;
            Ok((tx, Written::with((), event)))
        })
        .await
    }

    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>> {
        Ok(sqlx::query_as::<_, SessionRecord>(
            "SELECT id_hash, user_id, csrf_token, auth_method, idp_mfa, mfa_at, created_at, \
             last_seen_at, expires_at, source_ip, user_agent FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn touch_session(&self, id_hash: &str, at: Millis) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2",
        )
        .bind(id_hash)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_session_mfa(&self, id_hash: &str, at: Millis, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            sqlx::query("UPDATE sessions SET mfa_at = $2 WHERE id_hash = $1")
                .bind(id_hash)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let event = event;
            Ok((tx, Written::with((), event)))
        })
        .await
    }

    async fn delete_session(&self, id_hash: &str, event: Option<NewEvent>) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let mut events: Vec<NewEvent> = Vec::new();
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(&mut *tx)
                .await?;
            if let Some(ev) = event {
                events.push(ev);
            }
            Ok((tx, Written::with_all((), events)))
        })
        .await
    }

    async fn delete_stale_sessions(&self, now: Millis, idle_before: Millis) -> StoreResult<u64> {
        let _gate = self.write_gate().await;
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
            .bind(now)
            .bind(idle_before)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn rate_hit(&self, key: &str, now: Millis, window_ms: i64) -> StoreResult<(i64, Millis)> {
        let _gate = self.write_gate().await;
        Ok(sqlx::query_as::<_, (i64, i64)>(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) ON CONFLICT \
             (key) DO UPDATE SET count = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE \
             rate_limits.count + 1 END, window_start = CASE WHEN rate_limits.window_start <= $3 \
             THEN $2 ELSE rate_limits.window_start END RETURNING count, window_start",
        )
        .bind(key)
        .bind(now)
        .bind(now - window_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn rate_get(&self, key: &str) -> StoreResult<Option<(i64, Millis)>> {
        Ok(sqlx::query_as::<_, (i64, i64)>(
            "SELECT count, window_start FROM rate_limits WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn rate_clear(&self, key: &str) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query("DELETE FROM rate_limits WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn rate_refund(&self, key: &str, window_start: Millis) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "UPDATE rate_limits SET count = count - 1 WHERE key = $1 AND window_start = $2 AND \
             count > 0",
        )
        .bind(key)
        .bind(window_start)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM rate_limits WHERE key = $1 AND count <= 0")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
