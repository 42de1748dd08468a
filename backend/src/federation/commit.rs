//! Group commit for federated sign-ins. Each sign-in makes two durable writes: a SAML
//! response's replay guard (`InResponseTo` consumed, assertion ID remembered, one
//! transaction) before the identity is used, and the sign-in itself (link, groups, session,
//! audit event) after. Each must be on disk before the sign-in goes on, and a durable commit
//! costs an fsync. SQLite makes one write transaction at a time, so there one task writes
//! whatever is waiting in one transaction, each sign-in in its own savepoint: under load many
//! sign-ins share a commit; alone, a sign-in waits for nothing but its own (the shape of
//! `sts::commit`). On PostgreSQL each write is its own transaction: see
//! [`CommitQueue::start`].

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{
    FederatedLogin, FederationWrite, FederationWritten, Store, StoreError, StoreResult, UserRecord,
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

/// What a SAML replay guard found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// The request was consumed and the assertion ID is new: its `return_to`.
    Fresh(String),
    /// No outstanding request of this browser has this ID (nothing was written).
    UnknownRequest,
    /// The request was consumed, but the assertion ID was already used.
    Replayed,
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

    /// Consumes the request `request_id` of this browser and IdP (unexpired) and, if that
    /// succeeded, remembers `assertion_id` until `keep_until`; durably, before it returns.
    pub async fn saml_guard(
        &self,
        request_id: &str,
        idp_id: &str,
        binding_hash: &str,
        now: crate::clock::Millis,
        assertion_id: &str,
        keep_until: crate::clock::Millis,
    ) -> StoreResult<Guard> {
        let written = self
            .write(FederationWrite::SamlGuard {
                request_id: request_id.to_string(),
                idp_id: idp_id.to_string(),
                binding_hash: binding_hash.to_string(),
                now,
                assertion_id: assertion_id.to_string(),
                keep_until,
            })
            .await?;
        Ok(match written {
            FederationWritten::SamlGuard {
                request: Some(r),
                fresh: true,
            } => Guard::Fresh(r.return_to),
            FederationWritten::SamlGuard { request: None, .. } => Guard::UnknownRequest,
            FederationWritten::SamlGuard { .. } => Guard::Replayed,
            FederationWritten::SignedIn(_) => return Err(mismatch()),
        })
    }

    /// What `Store::federated_sign_in` does, durably, before it returns.
    pub async fn sign_in(&self, login: FederatedLogin) -> StoreResult<UserRecord> {
        match self.write(FederationWrite::SignIn(Box::new(login))).await? {
            FederationWritten::SignedIn(u) => Ok(*u),
            FederationWritten::SamlGuard { .. } => Err(mismatch()),
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
