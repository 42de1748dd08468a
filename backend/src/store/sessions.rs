//! Browser sessions and the sign-in throttling counters: rows, so every instance sees
//! the same ones.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::chain::Tx;
use super::dialect::{Dialect, RowsAffected};
use super::directory::{GroupRecord, UserRecord};
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

/// A session, its person and their groups: what every signed-in request starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOf {
    pub session: SessionRecord,
    pub user: UserRecord,
    /// By name.
    pub groups: Vec<GroupRecord>,
}

/// One row of [`SessionStore::session_of`]'s join: the session and its user, and one of
/// the user's groups (none if they have none). Columns are prefixed where the tables share
/// a name.
#[derive(sqlx::FromRow)]
struct SessionOfRow {
    id_hash: String,
    user_id: String,
    csrf_token: String,
    auth_method: String,
    idp_mfa: bool,
    mfa_at: Option<Millis>,
    s_created_at: Millis,
    last_seen_at: Millis,
    expires_at: Millis,
    source_ip: Option<String>,
    user_agent: Option<String>,
    u_username: String,
    u_email: String,
    u_display_name: String,
    u_source: String,
    u_disabled: bool,
    u_password_hash: Option<String>,
    u_totp_secret_enc: Option<String>,
    u_totp_pending_enc: Option<String>,
    u_totp_last_step: Option<i64>,
    u_created_at: Millis,
    u_updated_at: Millis,
    g_id: Option<String>,
    g_name: Option<String>,
    g_description: Option<String>,
    g_roles: Option<String>,
    g_idp_managed: Option<bool>,
    g_member_count: Option<i64>,
    g_created_at: Option<Millis>,
    g_updated_at: Option<Millis>,
}

/// The join behind [`SessionStore::session_of`]: one statement instead of three (session,
/// user, groups), which on SQLite is two fewer hops to its worker thread per request.
const SESSION_OF_SQL: &str = "SELECT s.id_hash, s.user_id, s.csrf_token, s.auth_method, \
     s.idp_mfa, s.mfa_at, s.created_at AS s_created_at, s.last_seen_at, s.expires_at, \
     s.source_ip, s.user_agent, u.username AS u_username, u.email AS u_email, \
     u.display_name AS u_display_name, u.source AS u_source, u.disabled AS u_disabled, \
     u.password_hash AS u_password_hash, u.totp_secret_enc AS u_totp_secret_enc, \
     u.totp_pending_enc AS u_totp_pending_enc, u.totp_last_step AS u_totp_last_step, \
     u.created_at AS u_created_at, u.updated_at AS u_updated_at, g.id AS g_id, \
     g.name AS g_name, g.description AS g_description, g.roles AS g_roles, \
     g.idp_managed AS g_idp_managed, (SELECT COUNT(*) FROM group_members m WHERE \
     m.group_id = g.id) AS g_member_count, g.created_at AS g_created_at, \
     g.updated_at AS g_updated_at \
     FROM sessions s JOIN users u ON u.id = s.user_id \
     LEFT JOIN group_members gm ON gm.user_id = u.id \
     LEFT JOIN user_groups g ON g.id = gm.group_id \
     WHERE s.id_hash = $1 ORDER BY g.name";

impl SessionOf {
    /// Folds the join's rows (all of one session and user) into one value.
    fn from_rows(rows: Vec<SessionOfRow>) -> Option<Self> {
        let mut groups = Vec::with_capacity(rows.len());
        let mut first = None;
        for mut r in rows {
            // A group's columns are all there (NOT NULL) or, for a user without groups,
            // all NULL.
            if let Some(id) = r.g_id.take() {
                groups.push(GroupRecord {
                    id,
                    name: r.g_name.take().unwrap_or_default(),
                    description: r.g_description.take().unwrap_or_default(),
                    roles: r.g_roles.take().unwrap_or_default(),
                    idp_managed: r.g_idp_managed.unwrap_or_default(),
                    member_count: r.g_member_count.unwrap_or_default(),
                    created_at: r.g_created_at.unwrap_or_default(),
                    updated_at: r.g_updated_at.unwrap_or_default(),
                });
            }
            first.get_or_insert(r);
        }
        let r = first?;
        Some(Self {
            user: UserRecord {
                id: r.user_id.clone(),
                username: r.u_username,
                email: r.u_email,
                display_name: r.u_display_name,
                source: r.u_source,
                disabled: r.u_disabled,
                password_hash: r.u_password_hash,
                totp_secret_enc: r.u_totp_secret_enc,
                totp_pending_enc: r.u_totp_pending_enc,
                totp_last_step: r.u_totp_last_step,
                created_at: r.u_created_at,
                updated_at: r.u_updated_at,
            },
            session: SessionRecord {
                id_hash: r.id_hash,
                user_id: r.user_id,
                csrf_token: r.csrf_token,
                auth_method: r.auth_method,
                idp_mfa: r.idp_mfa,
                mfa_at: r.mfa_at,
                created_at: r.s_created_at,
                last_seen_at: r.last_seen_at,
                expires_at: r.expires_at,
                source_ip: r.source_ip,
                user_agent: r.user_agent,
            },
            groups,
        })
    }
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
    /// The session `id_hash` with its user and the user's groups, in one statement; `None`
    /// if there is no such session (or its user is gone).
    async fn session_of(&self, id_hash: &str) -> StoreResult<Option<SessionOf>>;
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

    async fn session_of(&self, id_hash: &str) -> StoreResult<Option<SessionOf>> {
        let rows = sqlx::query_as::<_, SessionOfRow>(SESSION_OF_SQL)
            .bind(id_hash)
            .fetch_all(&self.pool)
            .await?;
        Ok(SessionOf::from_rows(rows))
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
