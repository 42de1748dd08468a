//! Signature nonces: each (access key, nonce) is accepted once. A request is only valid
//! within ±15 minutes of its timestamp, so a nonce is remembered for 30 minutes and then
//! forgotten. Sharded so concurrent verifications rarely wait on one another.
//!
//! Nonces live in this instance's memory: with several instances behind a load balancer a
//! replay sent to another instance within the window is not caught (the signature, time
//! window and token checks still apply).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use crate::clock::Millis;

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
