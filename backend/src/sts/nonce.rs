//! Signature nonces: each (access key, nonce) is accepted once, on every instance and
//! across restarts. A request is only valid within ±15 minutes of its timestamp, so a
//! nonce is remembered for 30 minutes and then forgotten.
//!
//! Two checks, both before a request is answered: [`NonceCache`], this instance's memory
//! (sharded, so concurrent verifications rarely wait on one another), refuses a replay to
//! this instance at once; [`SharedNonces`] then inserts the nonce into the database's
//! `sts_nonces`, where a row already there (from another instance, or from before a
//! restart) refuses it. The inserts go through the group-commit queue
//! ([`store::commit`](crate::store::commit)): under load, many requests share one
//! multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`, so the database costs a
//! transaction per batch, not per request.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::clock::Millis;
use crate::store::commit::{self, Batch};
use crate::store::{NonceWrite, Store, StoreResult};

/// The longest nonce kept: SDKs send a UUID or 32 hex digits.
pub const MAX_NONCE_LEN: usize = 128;

const SHARDS: usize = 16;
/// How long a nonce is remembered: the whole window a timestamp can be accepted in.
pub const NONCE_TTL_MS: Millis = 30 * 60 * 1000;

#[derive(Debug)]
pub struct NonceCache {
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<String, Millis>>>,
}

impl Default for NonceCache {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl NonceCache {
    /// Remembers `nonce` for `access_key_id`; `false` if it was seen within the window.
    pub fn first_use(&self, access_key_id: &str, nonce: &str, now: Millis) -> bool {
        let key = format!("{access_key_id}\n{nonce}");
        let shard = usize::try_from(self.hasher.hash_one(&key) % SHARDS as u64).unwrap_or(0);
        let mut map = self.shards[shard]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(&key) {
            Some(&until) if until > now => false,
            _ => {
                map.insert(key, now + NONCE_TTL_MS);
                true
            }
        }
    }

    /// Forgets nonces whose window has passed. Called from the background tick.
    pub fn prune(&self, now: Millis) -> usize {
        let mut left = 0;
        for shard in &self.shards {
            let mut map = shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.retain(|_, until| *until > now);
            left += map.len();
        }
        left
    }
}

/// What a batch of nonces writes: [`CredentialStore::record_nonces`], all or nothing.
///
/// [`CredentialStore::record_nonces`]: crate::store::CredentialStore::record_nonces
pub struct SeenNonces(Arc<dyn Store>);

#[async_trait]
impl Batch for SeenNonces {
    type Write = NonceWrite;
    /// Whether the nonce was new.
    type Written = bool;
    const MAX_BATCH: usize = 1_024;
    const WHAT: &'static str = "nonce";

    async fn all(&self, writes: &[NonceWrite]) -> StoreResult<Vec<StoreResult<bool>>> {
        Ok(self
            .0
            .record_nonces(writes)
            .await?
            .into_iter()
            .map(Ok)
            .collect())
    }

    async fn one(&self, write: NonceWrite) -> StoreResult<bool> {
        Ok(self
            .0
            .record_nonces(std::slice::from_ref(&write))
            .await?
            .first()
            .copied()
            .unwrap_or(false))
    }
}

/// The nonces every instance sees, written through the group-commit queue.
pub type SharedNonces = commit::CommitQueue<SeenNonces>;

impl SharedNonces {
    /// Starts the writer task; it ends when the last queue handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> Self {
        Self::batched(SeenNonces(store))
    }

    /// Records `nonce` for `access_key_id` in the database; `false` if it is there already
    /// (used on another instance, or before a restart). Returns once committed.
    pub async fn first_use(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: Millis,
    ) -> StoreResult<bool> {
        self.write(NonceWrite {
            access_key_id: access_key_id.to_string(),
            nonce: nonce.to_string(),
            expires_at: now + NONCE_TTL_MS,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_once_per_key_within_the_window() {
        let c = NonceCache::default();
        assert!(c.first_use("STS.a", "n1", 0));
        assert!(!c.first_use("STS.a", "n1", 1_000));
        assert!(c.first_use("STS.b", "n1", 1_000));
        assert!(c.first_use("STS.a", "n2", 1_000));
        assert_eq!(c.prune(NONCE_TTL_MS + 500), 2);
        assert!(c.first_use("STS.a", "n1", NONCE_TTL_MS + 500));
    }
}
