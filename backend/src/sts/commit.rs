//! Group commit for issued credentials. Every issue must be durable with its audit event
//! before the credentials are handed out, and a durable commit costs an fsync; so one task
//! writes whatever requests are waiting in one transaction. Under load many issues share a
//! commit; alone, a request waits for nothing but its own.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{CredentialWrite, Store, StoreError, StoreResult};

/// At most this many credentials share one transaction.
const MAX_BATCH: usize = 256;

type Job = (CredentialWrite, oneshot::Sender<StoreResult<()>>);

#[derive(Debug, Clone)]
pub struct CommitQueue {
    tx: mpsc::Sender<Job>,
}

impl CommitQueue {
    /// Starts the writer task; it ends when the last queue handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(writer(store, rx));
        Self { tx }
    }

    /// Records `write` durably; returns once it is committed.
    pub async fn record(&self, write: CredentialWrite) -> StoreResult<()> {
        let (done, wait) = oneshot::channel();
        let stopped = || StoreError::Db(sqlx::Error::PoolClosed);
        self.tx.send((write, done)).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (writes, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut jobs).into_iter().unzip();
        match store.record_credentials(&writes).await {
            Ok(()) => {
                for r in replies {
                    let _ = r.send(Ok(()));
                }
            }
            // Should a batch fail, each write is retried on its own so one bad write cannot
            // fail the others, and each caller gets its own error.
            Err(e) if writes.len() > 1 => {
                tracing::warn!(error = %e, "batched credential commit failed; retrying one by one");
                for (w, r) in writes.iter().zip(replies) {
                    let _ = r.send(store.record_credentials(std::slice::from_ref(w)).await);
                }
            }
            Err(e) => {
                if let Some(r) = replies.into_iter().next() {
                    let _ = r.send(Err(e));
                }
            }
        }
    }
}
