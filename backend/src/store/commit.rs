//! Group commit: one queue for writes that must each be durable before their caller goes
//! on. A durable commit costs an fsync, so one task writes whatever is waiting in one
//! transaction: under load many writes share a commit; alone, a write waits for nothing but
//! its own. What a batch writes is the capability's ([`Batch`]: `sts::commit`,
//! `federation::commit`); the queue knows only how to gather, answer and retry.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};

/// A capability's side of group commit: its writes, and how to make many of them in one
/// transaction or one alone.
#[async_trait]
pub trait Batch: Send + Sync + 'static {
    type Write: Send + Sync + 'static;
    type Written: Send + 'static;
    /// At most this many writes share one transaction.
    const MAX_BATCH: usize;
    /// Names the writes in the log line of a failed batch (`credential`, `federation`).
    const WHAT: &'static str;

    /// Makes `writes` (two or more), in order, in one transaction: each write's own result,
    /// in the same order. `Err` means nothing was committed: each write is then retried
    /// with [`Batch::one`], so one bad write cannot fail the others.
    async fn all(&self, writes: &[Self::Write]) -> StoreResult<Vec<StoreResult<Self::Written>>>;

    /// Makes one write in a transaction of its own.
    async fn one(&self, write: Self::Write) -> StoreResult<Self::Written>;
}

type Job<B> = (
    <B as Batch>::Write,
    oneshot::Sender<StoreResult<<B as Batch>::Written>>,
);

pub struct CommitQueue<B: Batch> {
    /// The writer task's queue; `None` where each write is its own transaction, made at once.
    tx: Option<mpsc::Sender<Job<B>>>,
    batch: Arc<B>,
}

impl<B: Batch> Clone for CommitQueue<B> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            batch: self.batch.clone(),
        }
    }
}

impl<B: Batch> std::fmt::Debug for CommitQueue<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitQueue")
            .field("what", &B::WHAT)
            .field("batched", &self.tx.is_some())
            .finish_non_exhaustive()
    }
}

impl<B: Batch> CommitQueue<B> {
    /// Group commit: starts the writer task (call inside the runtime; it ends when the last
    /// handle goes).
    pub fn batched(batch: B) -> Self {
        let batch = Arc::new(batch);
        let (tx, rx) = mpsc::channel::<Job<B>>(4 * B::MAX_BATCH);
        tokio::spawn(writer(batch.clone(), rx));
        Self {
            tx: Some(tx),
            batch,
        }
    }

    /// No writer task: each write is its own transaction, made at once by its caller.
    pub fn unbatched(batch: B) -> Self {
        Self {
            tx: None,
            batch: Arc::new(batch),
        }
    }

    /// Makes `write` durably; returns once it is committed, with its result.
    pub async fn write(&self, write: B::Write) -> StoreResult<B::Written> {
        let Some(tx) = &self.tx else {
            return self.batch.one(write).await;
        };
        let (done, wait) = oneshot::channel();
        let stopped = || StoreError::Db(sqlx::Error::PoolClosed);
        tx.send((write, done)).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}

async fn writer<B: Batch>(batch: Arc<B>, mut rx: mpsc::Receiver<Job<B>>) {
    let mut jobs: Vec<Job<B>> = Vec::with_capacity(B::MAX_BATCH);
    while rx.recv_many(&mut jobs, B::MAX_BATCH).await > 0 {
        let (mut writes, mut replies): (Vec<_>, Vec<_>) =
            std::mem::take(&mut jobs).into_iter().unzip();
        if writes.len() == 1 {
            // Alone: nothing to share, nothing to retry; its error is its own.
            if let (Some(w), Some(reply)) = (writes.pop(), replies.pop()) {
                let _ = reply.send(batch.one(w).await);
            }
            continue;
        }
        match batch.all(&writes).await {
            Ok(results) => {
                for (r, reply) in results.into_iter().zip(replies) {
                    let _ = reply.send(r);
                }
            }
            // Should the batch fail as a whole, nothing of it was committed: each write is
            // retried on its own, so one bad write cannot fail the others, and each caller
            // gets its own error.
            Err(e) => {
                tracing::warn!(error = %e, "batched {} commit failed; retrying one by one", B::WHAT);
                for (w, reply) in writes.into_iter().zip(replies) {
                    let _ = reply.send(batch.one(w).await);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::Notify;

    use super::*;

    /// What the fake was asked to write.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Call {
        All(Vec<i32>),
        One(i32),
    }

    /// Writes numbers: each is written as ten times itself; a negative one fails, and fails
    /// a whole batch it is in. The first `one` may be held until the test lets it go, so
    /// that the writes sent meanwhile queue up behind it.
    struct Fake {
        calls: Arc<Mutex<Vec<Call>>>,
        hold: Mutex<Option<oneshot::Receiver<()>>>,
        held: Arc<Notify>,
    }

    fn refused() -> StoreError {
        StoreError::Conflict("negative")
    }

    #[async_trait]
    impl Batch for Fake {
        type Write = i32;
        type Written = i32;
        const MAX_BATCH: usize = 3;
        const WHAT: &'static str = "test";

        async fn all(&self, writes: &[i32]) -> StoreResult<Vec<StoreResult<i32>>> {
            self.calls.lock().unwrap().push(Call::All(writes.to_vec()));
            if writes.iter().any(|w| *w < 0) {
                return Err(refused());
            }
            Ok(writes.iter().map(|w| Ok(w * 10)).collect())
        }

        async fn one(&self, write: i32) -> StoreResult<i32> {
            self.calls.lock().unwrap().push(Call::One(write));
            let hold = self.hold.lock().unwrap().take();
            if let Some(hold) = hold {
                self.held.notify_one();
                let _ = hold.await;
            }
            if write < 0 {
                return Err(refused());
            }
            Ok(write * 10)
        }
    }

    struct Harness {
        queue: CommitQueue<Fake>,
        calls: Arc<Mutex<Vec<Call>>>,
        held: Arc<Notify>,
    }

    fn harness(hold: Option<oneshot::Receiver<()>>, batched: bool) -> Harness {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let held = Arc::new(Notify::new());
        let fake = Fake {
            calls: calls.clone(),
            hold: Mutex::new(hold),
            held: held.clone(),
        };
        let queue = if batched {
            CommitQueue::batched(fake)
        } else {
            CommitQueue::unbatched(fake)
        };
        Harness { queue, calls, held }
    }

    impl Harness {
        fn calls(&self) -> Vec<Call> {
            self.calls.lock().unwrap().clone()
        }

        /// Writes `first`, holds it in its transaction, sends `rest` meanwhile and waits
        /// until they are all queued, then lets go: the answers, in the order of `rest`.
        async fn queued_behind_one(
            &self,
            release: oneshot::Sender<()>,
            first: i32,
            rest: &[i32],
        ) -> (StoreResult<i32>, Vec<StoreResult<i32>>) {
            let q = self.queue.clone();
            let first = tokio::spawn(async move { q.write(first).await });
            self.held.notified().await;
            let waiting: Vec<_> = rest
                .iter()
                .map(|&w| {
                    let q = self.queue.clone();
                    tokio::spawn(async move { q.write(w).await })
                })
                .collect();
            let tx = self.queue.tx.as_ref().unwrap();
            while tx.max_capacity() - tx.capacity() < rest.len() {
                tokio::task::yield_now().await;
            }
            release.send(()).unwrap();
            let first = first.await.unwrap();
            let mut answers = Vec::new();
            for w in waiting {
                answers.push(w.await.unwrap());
            }
            (first, answers)
        }
    }

    fn values(answers: &[StoreResult<i32>]) -> Vec<Option<i32>> {
        answers.iter().map(|a| a.as_ref().ok().copied()).collect()
    }

    #[tokio::test]
    async fn a_write_alone_is_made_alone_and_answered() {
        let h = harness(None, true);
        assert_eq!(h.queue.write(4).await.unwrap(), 40);
        assert!(matches!(
            h.queue.write(-1).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(h.calls(), [Call::One(4), Call::One(-1)], "never retried");
    }

    #[tokio::test]
    async fn waiting_writes_share_a_transaction_of_at_most_max_batch() {
        let (release, hold) = oneshot::channel();
        let h = harness(Some(hold), true);

        let (first, answers) = h.queued_behind_one(release, 1, &[2, 3, 4, 5]).await;

        assert_eq!(first.unwrap(), 10);
        assert_eq!(values(&answers), [Some(20), Some(30), Some(40), Some(50)]);
        let calls = h.calls();
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert_eq!(calls[0], Call::One(1));
        // Four waiting, at most three to a transaction: three together, then the last alone.
        match (&calls[1], &calls[2]) {
            (Call::All(batch), Call::One(last)) => {
                let mut all = batch.clone();
                all.push(*last);
                all.sort_unstable();
                assert_eq!(batch.len(), 3);
                assert_eq!(all, [2, 3, 4, 5]);
            }
            other => panic!("not one batch of three and one alone: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_failed_batch_is_retried_one_by_one_so_only_the_bad_write_fails() {
        let (release, hold) = oneshot::channel();
        let h = harness(Some(hold), true);

        let (first, answers) = h.queued_behind_one(release, 1, &[2, -3, 4]).await;

        assert_eq!(first.unwrap(), 10);
        assert_eq!(values(&answers), [Some(20), None, Some(40)]);
        assert!(matches!(answers[1], Err(StoreError::Conflict(_))));
        let calls = h.calls();
        assert_eq!(calls.len(), 5, "{calls:?}");
        assert!(matches!(&calls[1], Call::All(b) if b.len() == 3));
        let mut retried: Vec<Call> = calls[2..].to_vec();
        retried.sort_by_key(|c| match c {
            Call::One(w) => *w,
            Call::All(_) => i32::MAX,
        });
        assert_eq!(retried, [Call::One(-3), Call::One(2), Call::One(4)]);
    }

    #[tokio::test]
    async fn unbatched_each_write_is_made_at_once_on_its_own() {
        let h = harness(None, false);
        let both = futures_util::future::join(h.queue.write(2), h.queue.write(-2)).await;
        assert_eq!(both.0.unwrap(), 20);
        assert!(matches!(both.1, Err(StoreError::Conflict(_))));
        assert_eq!(h.calls(), [Call::One(2), Call::One(-2)]);
        assert!(format!("{:?}", h.queue).contains("batched: false"));
    }
}
