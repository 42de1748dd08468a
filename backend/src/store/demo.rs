//! What `gatehouse serve --demo` made: each object's kind and ID, so the demo company can be
//! removed in one action and a real installation never confuses its own data with it. The
//! objects themselves live in their own tables and were audited when they were made.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::dialect::Dialect;
use super::sql_store::{SqlStore, Written};
use super::StoreResult;
use crate::audit::NewEvent;

#[async_trait]
pub trait DemoStore {
    /// Records that the demo made `(kind, id)`; recording it twice is not an error.
    async fn mark_demo(&self, kind: &str, id: &str) -> StoreResult<()>;
    /// Every object the demo made that is still recorded, in the order they were made.
    async fn demo_objects(&self) -> StoreResult<Vec<(String, String)>>;
    /// Forgets every recorded object, recording `event` (what the removal did) with it.
    async fn forget_demo(&self, event: NewEvent) -> StoreResult<()>;
}

#[async_trait]
impl<D: Dialect> DemoStore for SqlStore<D>
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
    async fn mark_demo(&self, kind: &str, id: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO demo_objects (kind, id, made) SELECT $1, $2, COALESCE(MAX(made), 0) + 1 \
             FROM demo_objects WHERE true ON CONFLICT (kind, id) DO NOTHING",
        )
        .bind(kind)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn demo_objects(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(
            sqlx::query_as::<_, (String, String)>(
                "SELECT kind, id FROM demo_objects ORDER BY made",
            )
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn forget_demo(&self, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            sqlx::query("DELETE FROM demo_objects")
                .execute(&mut *tx)
                .await?;
            Ok((tx, Written::with((), event)))
        })
        .await
    }
}
