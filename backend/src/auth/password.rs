//! Password hashing with Argon2id (the `argon2` crate's defaults: OWASP's m=19 MiB, t=2, p=1),
//! run off the async executor. Unknown users are checked against a dummy hash so the time
//! taken does not reveal whether a username exists.
//!
//! Every hash and verify runs under [`Hashing`]: a process-wide (per application) semaphore
//! sized by `password_hash_concurrency`. The blocking task is spawned only while a permit is
//! held, so at most that many 19 MiB Argon2 buffers exist at once whatever arrives; a caller
//! that cannot get a permit within `password_hash_wait_ms` is refused with
//! [`AuthError::Busy`] (503) instead of queueing without bound.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::AuthError;

/// The bound on concurrent password hashing: how many may run at once and how long a
/// caller waits for a turn. Cheap to clone; clones share the permits.
#[derive(Debug, Clone)]
pub struct Hashing {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Hashing {
    /// `concurrency` hashes at once (at least 1); a caller waits up to `wait` for a turn.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
        }
    }

    /// Runs `work` on a blocking thread while holding a permit; [`AuthError::Busy`] if no
    /// permit came within the wait. The permit is released when `work` has finished (or
    /// the task was lost), never while its buffer may still be alive.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| AuthError::Busy)?
            .map_err(|_| AuthError::Busy)?;
        // The permit moves into the blocking task, so even if this future is dropped (the
        // client went away) the permit is held until the hash itself is done.
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))
    }
}

impl Default for Hashing {
    /// One per CPU, waiting up to 2 s: for start-up and tests that build no configuration.
    fn default() -> Self {
        Self::new(default_concurrency(), Duration::from_secs(2))
    }
}

/// The number of CPUs (at least 1): Argon2 with p=1 keeps one core busy per hash, so more
/// at once only adds memory and latency.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

pub async fn hash(gate: &Hashing, password: Zeroizing<String>) -> Result<String, AuthError> {
    gate.run(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AuthError::Internal(format!("password hashing failed: {e}")))
    })
    .await?
}

/// Whether `password` matches `stored`; with `None`, spends the same time and says no.
/// [`AuthError::Busy`] when no turn to hash came in time: the password was not looked at.
pub async fn verify(
    gate: &Hashing,
    stored: Option<String>,
    password: Zeroizing<String>,
) -> Result<bool, AuthError> {
    gate.run(move || {
        let stored = stored.unwrap_or_else(|| dummy_hash().to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"no such user, no such password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}
