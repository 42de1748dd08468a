//! Group commit for federated sign-ins. Each sign-in makes one durable write: a SAML
//! response's replay guard (`InResponseTo` consumed, assertion ID remembered) and the
//! sign-in itself (link, groups, session, audit event), in one transaction, so a replayed
//! response can never leave a session behind and an accepted one costs one commit. A
//! response refused after its checks (no account, say) has its guard written alone, so it
//! is consumed all the same. Each write must be on disk before the sign-in goes on, and a
//! durable commit costs an fsync. SQLite makes one write transaction at a time, so there
//! one task writes whatever is waiting in one transaction, each sign-in in its own
//! savepoint: under load many sign-ins share a commit; alone, a sign-in waits for nothing
//! but its own (the queue is [`store::commit`](crate::store::commit), as for `sts::commit`).
//! On PostgreSQL each write is its own transaction: see [`CommitQueue::start`].

use std::sync::Arc;

use async_trait::async_trait;

use crate::store::commit::{self, Batch};
use crate::store::{
    FederatedLogin, FederationWrite, FederationWritten, GuardOutcome, ReplayGuard, Store,
    StoreError, StoreResult,
};

/// Federated sign-ins and replay guards, many to a transaction on SQLite.
pub type CommitQueue = commit::CommitQueue<SignIns>;

/// What a batch of sign-ins writes: [`FederationStore::federation_writes`], each sign-in in
/// its own savepoint.
///
/// [`FederationStore::federation_writes`]: crate::store::FederationStore::federation_writes
pub struct SignIns(Arc<dyn Store>);

#[async_trait]
impl Batch for SignIns {
    type Write = FederationWrite;
    type Written = FederationWritten;
    const MAX_BATCH: usize = 128;
    const WHAT: &'static str = "federation";

    async fn all(
        &self,
        writes: &[FederationWrite],
    ) -> StoreResult<Vec<StoreResult<FederationWritten>>> {
        // A copy: the writes stay with the queue, to be retried one by one should the
        // batch fail.
        self.0.federation_writes(writes.to_vec()).await
    }

    /// One write in a transaction of its own.
    async fn one(&self, write: FederationWrite) -> StoreResult<FederationWritten> {
        self.0
            .federation_writes(vec![write])
            .await?
            .pop()
            .unwrap_or_else(|| Err(mismatch()))
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
        if store.engine() == "sqlite" {
            Self::batched(SignIns(store))
        } else {
            Self::unbatched(SignIns(store))
        }
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
