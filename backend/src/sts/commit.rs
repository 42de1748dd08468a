//! Group commit for issued credentials. Every issue must be durable with its audit event
//! before the credentials are handed out, and a durable commit costs an fsync; so one task
//! writes whatever requests are waiting in one transaction (the queue is
//! [`store::commit`](crate::store::commit)). Under load many issues share a commit; alone, a
//! request waits for nothing but its own. Here: what a batch of credentials writes.

use std::sync::Arc;

use async_trait::async_trait;

use crate::store::commit::{self, Batch};
use crate::store::{CredentialWrite, Store, StoreResult};

/// Issued credentials with their audit events, many to a transaction (on both engines).
pub type CommitQueue = commit::CommitQueue<Credentials>;

/// What a batch of issues writes: [`CredentialStore::record_credentials`], all or nothing.
///
/// [`CredentialStore::record_credentials`]: crate::store::CredentialStore::record_credentials
pub struct Credentials(Arc<dyn Store>);

#[async_trait]
impl Batch for Credentials {
    type Write = CredentialWrite;
    type Written = ();
    const MAX_BATCH: usize = 256;
    const WHAT: &'static str = "credential";

    async fn all(&self, writes: &[CredentialWrite]) -> StoreResult<Vec<StoreResult<()>>> {
        self.0.record_credentials(writes).await?;
        Ok(writes.iter().map(|_| Ok(())).collect())
    }

    async fn one(&self, write: CredentialWrite) -> StoreResult<()> {
        self.0
            .record_credentials(std::slice::from_ref(&write))
            .await
    }
}

impl CommitQueue {
    /// Starts the writer task; it ends when the last queue handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> Self {
        Self::batched(Credentials(store))
    }

    /// Records `write` durably; returns once it is committed.
    pub async fn record(&self, write: CredentialWrite) -> StoreResult<()> {
        self.write(write).await
    }
}
