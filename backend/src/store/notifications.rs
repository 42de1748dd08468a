//! What the notifier keeps: webhook endpoints, its cursor over the audit trail, deliveries
//! and their attempts. The trait is part of [`Store`](super::Store); the SQL is written
//! once, generic over the engine. The claim differs by engine only in its lock clause,
//! [`Dialect::CLAIM_LOCK`]: `FOR UPDATE SKIP LOCKED` on PostgreSQL, nothing on SQLite (one
//! writer at a time).

use async_trait::async_trait;
use serde_json::{json, Value};

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::assembled::Assembled;
use super::chain::Tx;
use super::dialect::{Dialect, RowsAffected};
use super::sql_store::{with_detail, with_images, SqlStore, Written};
use super::StoreResult;
use super::{conflict_on_unique, StoreError};
use crate::audit::NewEvent;
use crate::clock::Millis;
use crate::store::sql_store::AuditView;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EndpointRecord {
    pub id: String,
    pub name: String,
    pub url: String,
    /// Comma-separated; empty for every type.
    pub event_types: String,
    pub enabled: bool,
    pub secret_sealed: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl EndpointRecord {
    pub fn event_type_list(&self) -> Vec<String> {
        self.event_types
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Whether this endpoint wants events of `action`.
    pub fn wants(&self, action: &str) -> bool {
        self.enabled
            && (self.event_types.is_empty() || self.event_types.split(',').any(|t| t == action))
    }
}

impl AuditView for EndpointRecord {
    /// What the audit trail may show of an endpoint: never the secret.
    fn audit_view(&self) -> Value {
        json!({
            "name": self.name,
            "url": self.url,
            "event_types": self.event_type_list(),
            "enabled": self.enabled,
        })
    }
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    pub name: Option<String>,
    pub url: Option<String>,
    pub event_types: Option<String>,
    pub enabled: Option<bool>,
    pub secret_sealed: Option<String>,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: String,
    pub event_seq: Option<i64>,
    pub event_type: String,
    /// `webhook` or `email`.
    pub channel: String,
    pub endpoint_id: Option<String>,
    pub recipient: Option<String>,
    pub payload: String,
    /// `pending`, `retrying`, `delivered` or `dead`.
    pub status: String,
    /// Attempts started (a claim counts one).
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Millis>,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub event_seq: Option<i64>,
    pub event_type: String,
    pub channel: &'static str,
    pub endpoint_id: Option<String>,
    pub recipient: Option<String>,
    /// `<seq>:<channel>:<endpoint or user>`; `None` for a test delivery.
    pub dedupe_key: Option<String>,
    pub payload: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AttemptRecord {
    pub delivery_id: String,
    pub attempt: i64,
    pub started_at: Millis,
    pub duration_ms: i64,
    pub ok: bool,
    pub status_code: Option<i64>,
    pub detail: String,
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub status: &'static str,
    pub next_attempt_at: Millis,
    pub delivered_at: Option<Millis>,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<String>,
    pub status: Option<String>,
    pub limit: i64,
}

#[async_trait]
pub trait NotificationStore: Send + Sync {
    async fn list_endpoints(&self) -> StoreResult<Vec<EndpointRecord>>;
    async fn get_endpoint(&self, id: &str) -> StoreResult<EndpointRecord>;
    async fn create_endpoint(
        &self,
        e: EndpointRecord,
        event: NewEvent,
    ) -> StoreResult<EndpointRecord>;
    /// Applies `change`; the event gets `before`/`after` images (never the secret).
    async fn update_endpoint(
        &self,
        id: &str,
        change: EndpointChange,
        event: NewEvent,
    ) -> StoreResult<EndpointRecord>;
    /// Deletes the endpoint with its deliveries and their attempts.
    async fn delete_endpoint(&self, id: &str, event: NewEvent) -> StoreResult<()>;
    /// Inserts one delivery (a "send test") with its audit event.
    async fn enqueue_delivery(&self, d: NewDelivery, event: NewEvent) -> StoreResult<()>;

    /// The last audit sequence number turned into deliveries.
    async fn notification_cursor(&self) -> StoreResult<i64>;
    /// Inserts `deliveries` and moves the cursor from `expected` to `to`, in one
    /// transaction. Returns `false`, having changed nothing, if the cursor was no longer at
    /// `expected` (another instance enqueued those events first).
    async fn enqueue_after_cursor(
        &self,
        expected: i64,
        to: i64,
        deliveries: Vec<NewDelivery>,
        at: Millis,
    ) -> StoreResult<bool>;

    /// Claims at most `limit` due deliveries for `owner` until `now + lease_ms`, counting an
    /// attempt on each. A delivery claimed by someone else whose lease has not run out is
    /// never returned.
    async fn claim_deliveries(
        &self,
        now: Millis,
        lease_ms: i64,
        owner: &str,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>>;
    /// Records an attempt and where the delivery goes next, if `owner` still holds the
    /// claim of that attempt; returns `false` (recording nothing) otherwise.
    async fn finish_attempt(
        &self,
        owner: &str,
        attempt: AttemptRecord,
        outcome: AttemptOutcome,
    ) -> StoreResult<bool>;
    async fn get_delivery(&self, id: &str) -> StoreResult<DeliveryRecord>;
    /// Newest first.
    async fn list_deliveries(&self, filter: &DeliveryFilter) -> StoreResult<Vec<DeliveryRecord>>;
    /// The attempts of these deliveries, in order.
    async fn attempts_of(&self, delivery_ids: &[String]) -> StoreResult<Vec<AttemptRecord>>;
}

const ENDPOINT_COLS: &str =
    "id, name, url, event_types, enabled, secret_sealed, created_at, updated_at";
const DELIVERY_COLS: &str =
    "id, event_seq, event_type, channel, endpoint_id, recipient, payload, status, attempts, \
     next_attempt_at, lease_owner, lease_until, created_at, delivered_at";

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
    async fn endpoint_in(tx: &mut Tx<D>, id: &str) -> StoreResult<EndpointRecord> {
        sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLS} FROM notification_endpoints WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn insert_delivery_in(tx: &mut Tx<D>, d: &NewDelivery) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO notification_deliveries (id, event_seq, event_type, channel, endpoint_id, \
             recipient, dedupe_key, payload, status, attempts, next_attempt_at, created_at) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9)",
        )
        .bind(&d.id)
        .bind(d.event_seq)
        .bind(&d.event_type)
        .bind(d.channel)
        .bind(&d.endpoint_id)
        .bind(&d.recipient)
        .bind(&d.dedupe_key)
        .bind(&d.payload)
        .bind(d.created_at)
        .execute(&mut **tx)
        .await
        .map_err(conflict_on_unique("delivery"))?;
        Ok(())
    }
}

#[async_trait]
impl<D: Dialect> NotificationStore for SqlStore<D>
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
    async fn list_endpoints(&self) -> StoreResult<Vec<EndpointRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLS} FROM notification_endpoints ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn get_endpoint(&self, id: &str) -> StoreResult<EndpointRecord> {
        sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLS} FROM notification_endpoints WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn create_endpoint(
        &self,
        e: EndpointRecord,
        event: NewEvent,
    ) -> StoreResult<EndpointRecord> {
        self.audited_write(|mut tx| async move {
            sqlx::query(
                "INSERT INTO notification_endpoints (id, name, url, event_types, enabled, \
                 secret_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&e.id)
            .bind(&e.name)
            .bind(&e.url)
            .bind(&e.event_types)
            .bind(e.enabled)
            .bind(&e.secret_sealed)
            .bind(e.created_at)
            .bind(e.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on_unique("endpoint"))?;
            Ok((tx, Written::created(e, event)))
        })
        .await
    }

    async fn update_endpoint(
        &self,
        id: &str,
        c: EndpointChange,
        event: NewEvent,
    ) -> StoreResult<EndpointRecord> {
        self.audited_write(|mut tx| async move {
            let before = Self::endpoint_in(&mut tx, id).await?;
            sqlx::query(
                "UPDATE notification_endpoints SET name = COALESCE($2, name), url = COALESCE($3, \
                 url), event_types = COALESCE($4, event_types), enabled = COALESCE($5, enabled), \
                 secret_sealed = COALESCE($6, secret_sealed), updated_at = $7 WHERE id = $1",
            )
            .bind(id)
            .bind(&c.name)
            .bind(&c.url)
            .bind(&c.event_types)
            .bind(c.enabled)
            .bind(&c.secret_sealed)
            .bind(c.at)
            .execute(&mut *tx)
            .await?;
            let after = Self::endpoint_in(&mut tx, id).await?;
            let ev = with_images(event, Some(before.audit_view()), Some(after.audit_view()));
            let event = ev;
            Ok((tx, Written::with(after, event)))
        })
        .await
    }

    async fn delete_endpoint(&self, id: &str, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let before = Self::endpoint_in(&mut tx, id).await?;
            sqlx::query(
                "DELETE FROM notification_attempts WHERE delivery_id IN (SELECT id FROM \
                 notification_deliveries WHERE endpoint_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM notification_deliveries WHERE endpoint_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM notification_endpoints WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok((tx, Written::deleted(&before, event)))
        })
        .await
    }

    async fn enqueue_delivery(&self, d: NewDelivery, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            Self::insert_delivery_in(&mut tx, &d).await?;
            let event = with_detail(event, "delivery_id", serde_json::json!(d.id));
            Ok((tx, Written::with((), event)))
        })
        .await
    }

    async fn notification_cursor(&self) -> StoreResult<i64> {
        let (seq,): (i64,) =
            sqlx::query_as("SELECT last_seq FROM notification_cursor WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(seq)
    }

    async fn enqueue_after_cursor(
        &self,
        expected: i64,
        to: i64,
        deliveries: Vec<NewDelivery>,
        at: Millis,
    ) -> StoreResult<bool> {
        self.audited_write(|mut tx| async move {
            // The compare-and-set first: on PostgreSQL a second instance blocks here on
            // the row lock until the first commits, then finds the cursor moved.
            let moved = sqlx::query(
                "UPDATE notification_cursor SET last_seq = $2, updated_at = $3 WHERE id = 1 AND \
                 last_seq = $1",
            )
            .bind(expected)
            .bind(to)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved != 1 {
                return Ok((tx, Written::unchanged(false)));
            }
            for d in &deliveries {
                Self::insert_delivery_in(&mut tx, d).await?;
            }
            Ok((tx, Written::silent(true)))
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: Millis,
        lease_ms: i64,
        owner: &str,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        let _gate = self.write_gate().await;
        let sql = format!(
            "UPDATE notification_deliveries SET attempts = attempts + 1, lease_owner = $1, \
             lease_until = $2 WHERE id IN (SELECT id FROM notification_deliveries WHERE status IN \
             ('pending', 'retrying') AND next_attempt_at <= $3 AND (lease_until IS NULL OR \
             lease_until <= $3) ORDER BY next_attempt_at, id LIMIT $4 {}) \
             RETURNING {DELIVERY_COLS}",
            D::CLAIM_LOCK
        );
        let mut rows: Vec<DeliveryRecord> = sqlx::query_as(&sql)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        Ok(rows)
    }

    async fn finish_attempt(
        &self,
        owner: &str,
        a: AttemptRecord,
        o: AttemptOutcome,
    ) -> StoreResult<bool> {
        self.audited_write(|mut tx| async move {
            let n = sqlx::query(
                "UPDATE notification_deliveries SET status = $3, next_attempt_at = $4, \
                 delivered_at = $5, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND \
                 lease_owner = $2 AND attempts = $6",
            )
            .bind(&a.delivery_id)
            .bind(owner)
            .bind(o.status)
            .bind(o.next_attempt_at)
            .bind(o.delivered_at)
            .bind(a.attempt)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Ok((tx, Written::unchanged(false)));
            }
            sqlx::query(
                "INSERT INTO notification_attempts (delivery_id, attempt, started_at, duration_ms, \
                 ok, status_code, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&a.delivery_id)
            .bind(a.attempt)
            .bind(a.started_at)
            .bind(a.duration_ms)
            .bind(a.ok)
            .bind(a.status_code)
            .bind(&a.detail)
            .execute(&mut *tx)
            .await?;
            Ok((tx, Written::silent(true)))
        })
        .await
    }

    async fn get_delivery(&self, id: &str) -> StoreResult<DeliveryRecord> {
        sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLS} FROM notification_deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn list_deliveries(&self, f: &DeliveryFilter) -> StoreResult<Vec<DeliveryRecord>> {
        let mut q = Assembled::<D>::new(format!(
            "SELECT {DELIVERY_COLS} FROM notification_deliveries WHERE 1 = 1"
        ));
        if let Some(e) = &f.endpoint_id {
            q.push(" AND endpoint_id = ").bind(e.clone());
        }
        if let Some(s) = &f.status {
            q.push(" AND status = ").bind(s.clone());
        }
        q.push(" ORDER BY created_at DESC, id LIMIT ").bind(f.limit);
        let (sql, args) = q.finish()?;
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn attempts_of(&self, ids: &[String]) -> StoreResult<Vec<AttemptRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Assembled::<D>::new(
            "SELECT delivery_id, attempt, started_at, duration_ms, ok, status_code, detail FROM \
             notification_attempts WHERE delivery_id IN (",
        );
        let mut sep = q.separated(", ");
        for id in ids {
            sep.bind(id.clone());
        }
        q.push(") ORDER BY delivery_id, attempt");
        let (sql, args) = q.finish()?;
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?)
    }
}
