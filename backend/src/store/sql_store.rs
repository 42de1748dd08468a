//! The one store implementation, [`SqlStore`], generic over the engine's [`Dialect`]; and
//! [`SqlStore::audited_write`], the transaction every audited change runs in.
//!
//! Generic code over sqlx needs bounds that Rust does not imply from `D: Dialect` (which
//! value types the engine encodes and decodes, that its connections execute queries): a
//! where-clause on another type is not a supertrait, so no trait can carry it. Each
//! `impl<D: Dialect>` block of the store states the same where-clause once.

use std::future::Future;

use async_trait::async_trait;

use serde_json::Value;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use tokio::sync::{Mutex, MutexGuard};

use super::chain::Tx;
use super::dialect::Dialect;
use super::{Store, StoreResult};
use crate::audit::{AuditSigner, NewEvent};

/// Everything Gatehouse keeps, in one database of engine `D`.
pub struct SqlStore<D: Dialect> {
    pub(super) pool: sqlx::Pool<D>,
    pub(super) signer: AuditSigner,
    /// Serialises write transactions when [`Dialect::GATED_WRITES`].
    gate: Mutex<()>,
    /// The chain head this process last appended (seq, hash); a hint, checked by the database.
    pub(super) head: std::sync::Mutex<Option<(i64, [u8; 32])>>,
}

/// What the write inside [`SqlStore::audited_write`] hands back: its result and the events
/// to append in the same transaction.
pub(super) struct Written<T> {
    pub(super) value: T,
    pub(super) events: Vec<NewEvent>,
    /// `false`: roll back instead of committing (and append nothing).
    pub(super) commit: bool,
}

/// `ev` with `before` and `after` images added to its details (each only if given).
pub(super) fn with_images(
    mut ev: NewEvent,
    before: Option<Value>,
    after: Option<Value>,
) -> NewEvent {
    if let Value::Object(map) = &mut ev.details {
        if let Some(b) = before {
            map.insert("before".into(), b);
        }
        if let Some(a) = after {
            map.insert("after".into(), a);
        }
    }
    ev
}

/// `ev` with `key` set to `value` in its details.
pub(super) fn with_detail(mut ev: NewEvent, key: &str, value: Value) -> NewEvent {
    if let Value::Object(map) = &mut ev.details {
        map.insert(key.into(), value);
    }
    ev
}

/// A record as the audit trail may show it: the `before`/`after` image of a change,
/// without secrets.
pub(crate) trait AuditView {
    /// The image: never hashes, seeds or sealed secrets.
    fn audit_view(&self) -> Value;
}

impl<T: AuditView> Written<T> {
    /// `created` is new: recorded by `event` with its image as `after`.
    pub(super) fn created(created: T, event: NewEvent) -> Self {
        let event = with_images(event, None, Some(created.audit_view()));
        Self::with(created, event)
    }

    /// `before` became `after`: recorded by `event` with both images.
    pub(super) fn changed(before: &T, after: T, event: NewEvent) -> Self {
        let event = with_images(event, Some(before.audit_view()), Some(after.audit_view()));
        Self::with(after, event)
    }
}

impl Written<()> {
    /// `before` is gone: recorded by `event` with its image as `before`.
    pub(super) fn deleted(before: &impl AuditView, event: NewEvent) -> Self {
        Self::with((), with_images(event, Some(before.audit_view()), None))
    }
}

impl<T> Written<T> {
    /// A change recorded by one event.
    pub(super) fn with(value: T, event: NewEvent) -> Self {
        Self {
            value,
            events: vec![event],
            commit: true,
        }
    }

    /// Nothing to record (nothing changed, or nothing worth an event); still committed.
    pub(super) fn silent(value: T) -> Self {
        Self {
            value,
            events: Vec::new(),
            commit: true,
        }
    }

    /// Nothing happened that should be kept: the transaction is rolled back, and `value`
    /// is returned all the same (a refusal, or work someone else already did).
    pub(super) fn unchanged(value: T) -> Self {
        Self {
            value,
            events: Vec::new(),
            commit: false,
        }
    }

    /// A change recorded by `events`, in order (none is fine).
    pub(super) fn with_all(value: T, events: Vec<NewEvent>) -> Self {
        Self {
            value,
            events,
            commit: true,
        }
    }
}

impl<D: Dialect> SqlStore<D> {
    /// A store over `pool`, whose migrations have run, signing checkpoints with `signer`.
    pub(super) fn new(pool: sqlx::Pool<D>, signer: AuditSigner) -> Self {
        Self {
            pool,
            signer,
            gate: Mutex::new(()),
            head: std::sync::Mutex::new(None),
        }
    }

    /// The pool, for tests and benchmarks that need raw access.
    pub fn pool(&self) -> &sqlx::Pool<D> {
        &self.pool
    }

    /// Held for the whole of a write: on SQLite every other writer of this process waits;
    /// on PostgreSQL nothing waits here (row locks do the work).
    pub(super) async fn write_gate(&self) -> Option<MutexGuard<'_, ()>> {
        if D::GATED_WRITES {
            Some(self.gate.lock().await)
        } else {
            None
        }
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
    /// Runs one audited change: takes the write gate, begins a transaction, runs `write`
    /// in it (read before, change, read after), appends the events it hands back after
    /// the locked chain head, and commits. If `write` or an append fails, nothing of it
    /// is committed: the change and its record commit together or not at all.
    ///
    /// `write` owns the transaction while it runs and hands it back with its result
    /// (an error drops it, which rolls it back).
    pub(super) async fn audited_write<T, F, W>(&self, write: W) -> StoreResult<T>
    where
        W: FnOnce(Tx<D>) -> F,
        F: Future<Output = StoreResult<(Tx<D>, Written<T>)>>,
    {
        let _gate = self.write_gate().await;
        let tx = self.pool.begin().await?;
        let (mut tx, written) = write(tx).await?;
        let Written {
            value,
            mut events,
            commit,
        } = written;
        if !commit {
            // Roll back now, under the gate: a dropped transaction is rolled back only when
            // its connection next goes back to the pool, and until then it may still hold
            // SQLite's write lock (an UPDATE that matched nothing takes it) against the next
            // writer the gate lets in.
            tx.rollback().await?;
            return Ok(value);
        }
        if events.len() == 1 {
            if let Some(event) = events.pop() {
                D::append_one(&mut tx, &self.signer, event).await?;
            }
        } else if !events.is_empty() {
            Self::append_many_in(&mut tx, &self.signer, events, None).await?;
        }
        tx.commit().await?;
        Ok(value)
    }
}

#[async_trait]
impl<D: Dialect> Store for SqlStore<D>
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
    fn engine(&self) -> &'static str {
        D::ENGINE
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        D::room_to_write(&self.pool)
    }

    async fn refresh_statistics(&self) -> StoreResult<()> {
        if let Some(sql) = D::STATISTICS_SQL {
            sqlx::query(sql).execute(&self.pool).await?;
        }
        Ok(())
    }

    fn audit_signer(&self) -> &AuditSigner {
        &self.signer
    }
}
