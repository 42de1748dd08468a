//! Password hashing with Argon2id (the `argon2` crate's defaults: OWASP's m=19 MiB, t=2, p=1),
//! run off the async executor. Unknown users are checked against a dummy hash so the time
//! taken does not reveal whether a username exists.
//!
//! Every hash and verify runs under [`Hashing`]: a process-wide (per application) semaphore
//! sized by `password_hash_concurrency`. The blocking task is spawned only while a permit is
//! held, so at most that many 19 MiB Argon2 buffers exist at once whatever arrives; a caller
//! that cannot get a permit within `password_hash_wait_ms` is refused with
//! [`AuthError::Busy`] (503) instead of queueing without bound.
//!
//! The work area itself (19 MiB of [`Block`]s) is kept and reused, one per permit in use,
//! rather than allocated and freed per hash: with glibc, freeing one 19 MiB allocation after
//! another while small allocations land between them grew the heap by one more buffer
//! every few hashes (650 MB resident after ~100 hashes one at a time), and that memory was
//! not given back.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::password_hash::{Output, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::AuthError;

/// The bound on concurrent password hashing: how many may run at once and how long a
/// caller waits for a turn. Cheap to clone; clones share the permits.
#[derive(Debug, Clone)]
pub struct Hashing {
    permits: Arc<Semaphore>,
    wait: Duration,
    /// Argon2 work areas not in use; never more than the permits.
    areas: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl Hashing {
    /// `concurrency` hashes at once (at least 1); a caller waits up to `wait` for a turn.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
            areas: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs `work` on a blocking thread while holding a permit; [`AuthError::Busy`] if no
    /// permit came within the wait. The permit is released when `work` has finished (or
    /// the task was lost), never while its buffer may still be alive.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| AuthError::Busy)?
            .map_err(|_| AuthError::Busy)?;
        // The permit moves into the blocking task, so even if this future is dropped (the
        // client went away) the permit is held until the hash itself is done.
        let areas = self.areas.clone();
        tokio::task::spawn_blocking(move || {
            let taken = areas.lock().ok().and_then(|mut a| a.pop());
            let mut area = taken.unwrap_or_default();
            let out = work(&mut area);
            // Nothing of this password stays in memory until the next one overwrites it.
            area.fill(Block::default());
            if let Ok(mut a) = areas.lock() {
                a.push(area);
            }
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

/// Argon2 of `password` with `salt` under the hash's algorithm, version and `params`, in
/// `area` (grown to the parameters' size if it is smaller).
fn compute(
    area: &mut Vec<Block>,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: Salt<'_>,
) -> Result<Output, argon2::password_hash::Error> {
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;
    let blocks = params.block_count();
    if area.len() < blocks {
        area.resize(blocks, Block::default());
    }
    let out_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let argon = Argon2::new(algorithm, version, params);
    Output::init_with(out_len, |out| {
        argon
            .hash_password_into_with_memory(password, salt, out, &mut area[..blocks])
            .map_err(|_| argon2::password_hash::Error::Password)
    })
}

pub async fn hash(gate: &Hashing, password: Zeroizing<String>) -> Result<String, AuthError> {
    gate.run(move |area| {
        let salt = SaltString::generate(&mut OsRng);
        let params = Params::default();
        let output = compute(
            area,
            Algorithm::default(),
            Version::default(),
            params.clone(),
            password.as_bytes(),
            salt.as_salt(),
        )
        .and_then(|output| {
            Ok(PasswordHash {
                algorithm: Algorithm::default().ident(),
                version: Some(Version::default().into()),
                params: argon2::password_hash::ParamsString::try_from(&params)?,
                salt: Some(salt.as_salt()),
                hash: Some(output),
            }
            .to_string())
        });
        output.map_err(|e| AuthError::Internal(format!("password hashing failed: {e}")))
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
    gate.run(move |area| {
        let stored = stored.unwrap_or_else(|| dummy_hash().to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(version), Ok(params)) = (
            Algorithm::try_from(parsed.algorithm),
            Version::try_from(parsed.version.unwrap_or(Version::default().into())),
            Params::try_from(&parsed),
        ) else {
            return false;
        };
        // `Output`'s comparison takes the same time wherever the first difference is.
        compute(area, algorithm, version, params, password.as_bytes(), salt)
            .is_ok_and(|computed| computed == expected)
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

#[cfg(test)]
mod tests {
    use argon2::PasswordVerifier;

    use super::*;

    fn pw(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_string())
    }

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crates_own() {
        let gate = Hashing::new(1, Duration::from_secs(5));
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        let ours = hash(&gate, pw("correct horse battery")).await.unwrap();

        assert!(
            verify(&gate, Some(theirs.clone()), pw("correct horse battery"))
                .await
                .unwrap()
        );
        assert!(!verify(&gate, Some(theirs), pw("correct horse batterY"))
            .await
            .unwrap());
        assert!(
            verify(&gate, Some(ours.clone()), pw("correct horse battery"))
                .await
                .unwrap()
        );
        assert!(!verify(&gate, Some(ours.clone()), pw("wrong"))
            .await
            .unwrap());
        assert!(!verify(&gate, None, pw("anything")).await.unwrap());
        assert!(!verify(&gate, Some("not a hash".into()), pw("x"))
            .await
            .unwrap());
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
        assert_eq!(gate.areas.lock().unwrap().len(), 1, "one area, reused");
    }
}
