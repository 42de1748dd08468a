//! Group commit for federated sign-ins. Each sign-in makes one durable write: a SAML
//! response's replay guard (`InResponseTo` consumed, assertion ID remembered) and the
//! sign-in itself (link, groups, session, audit event), in one transaction, so a replayed
//! response can never leave a session behind and an accepted one costs one commit. A
//! response refused after its checks (no account, say) has its guard written alone, so it
//! is consumed all the same. Each write must be on disk before the sign-in goes on, and a
//! durable commit costs an fsync. SQLite makes one write transaction at a time, so there
//! one task writes whatever is waiting in one transaction, each sign-in in its own
//! savepoint: under load many sign-ins share a commit; alone, a sign-in waits for nothing
//! but its own (the shape of `sts::commit`). On PostgreSQL each write is its own
//! transaction: see [`CommitQueue::start`].

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{
    FederatedLogin, FederationWrite, FederationWritten, GuardOutcome, ReplayGuard, Store,
    StoreError, StoreResult,
};

/// At most this many writes share one transaction.
const MAX_BATCH: usize = 128;

type Job = (
    FederationWrite,
    oneshot::Sender<StoreResult<FederationWritten>>,
);

#[derive(Clone)]
pub struct CommitQueue {
    /// The writer task's queue; `None` where the database serialises nothing for us.
    tx: Option<mpsc::Sender<Job>>,
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for CommitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitQueue")
            .field("batched", &self.tx.is_some())
            .finish_non_exhaustive()
    }
}

impl CommitQueue {
    /// On SQLite, starts the writer task (call inside the runtime; it ends when the last
    /// handle goes): there every write transaction waits for the one before it anyway, so
    /// sharing one is pure gain. PostgreSQL runs concurrent transactions and shares WAL
    /// flushes between them by itself, while one writer would make every statement of every
    /// sign-in wait for the previous one's round trip: there each write is its own
    /// transaction, made at once.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let tx = (store.engine() == "sqlite").then(|| {
            let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
            tokio::spawn(writer(store.clone(), rx));
            tx
        });
        Self { tx, store }
    }

    async fn write(&self, write: FederationWrite) -> StoreResult<FederationWritten> {
        let Some(tx) = &self.tx else {
            return alone(&*self.store, write).await;
        };
        let (done, wait) = oneshot::channel();
        let stopped = || StoreError::Db(sqlx::Error::PoolClosed);
        tx.send((write, done)).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }

    /// A SAML response's replay guard alone, durably, before it returns: for a response
    /// refused after its checks, which must be consumed all the same.
    pub async fn guard(&self, guard: ReplayGuard) -> StoreResult<GuardOutcome> {
        match self.write(FederationWrite::Guard(guard)).await? {
            FederationWritten::Guard(outcome) => Ok(outcome),
            _ => Err(mismatch()),
        }
    }

    /// A sign-in (with its replay guard first, if any), durably, before it returns: the
    /// `return_to` of the request the guard consumed, or what the guard refused.
    pub async fn sign_in(
        &self,
        login: FederatedLogin,
    ) -> StoreResult<Result<Option<String>, GuardOutcome>> {
        match self.write(FederationWrite::SignIn(Box::new(login))).await? {
            FederationWritten::SignedIn { return_to, .. } => Ok(Ok(return_to)),
            FederationWritten::GuardRefused(outcome) => Ok(Err(outcome)),
            FederationWritten::Guard(_) => Err(mismatch()),
        }
    }
}

/// A result of the other kind than the write: cannot happen, reported rather than trusted.
fn mismatch() -> StoreError {
    StoreError::Db(sqlx::Error::Protocol(
        "federation commit answered another write".into(),
    ))
}

/// One write in a transaction of its own.
async fn alone(store: &dyn Store, write: FederationWrite) -> StoreResult<FederationWritten> {
    store
        .federation_writes(vec![write])
        .await?
        .pop()
        .unwrap_or_else(|| Err(mismatch()))
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (writes, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut jobs).into_iter().unzip();
        let n = writes.len();
        let retry = (n > 1).then(|| writes.clone());
        match store.federation_writes(writes).await {
            Ok(results) => {
                for (r, reply) in results.into_iter().zip(replies) {
                    let _ = reply.send(r);
                }
            }
            // Should the batch fail as a whole, nothing of it was committed: each write is
            // retried on its own, so one bad write cannot fail the others.
            Err(e) => match retry {
                Some(writes) => {
                    tracing::warn!(error = %e, "batched federation commit failed; retrying one by one");
                    for (w, reply) in writes.into_iter().zip(replies) {
                        let _ = reply.send(alone(&*store, w).await);
                    }
                }
                None => {
                    if let Some(reply) = replies.into_iter().next() {
                        let _ = reply.send(Err(e));
                    }
                }
            },
        }
    }
}
