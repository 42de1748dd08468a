//! Failing fast while the database is away. Without this, every request during an outage
//! waits the pool's whole acquire timeout and then answers 500; with it, the first requests
//! that find the database unreachable answer 503 with `Retry-After`, and the ones after
//! them are answered 503 at once, without touching the pool, until a probe reaches the
//! database again. The probe is a `SELECT 1` with a short timeout, tried by at most one
//! request every [`PROBE_EVERY`] (and by `/readyz` on every call), so service resumes by
//! itself within a fraction of a second of the database coming back, without a restart.
//!
//! What counts as "unreachable" is [`StoreError::is_unavailable`]: connections refused or
//! lost, the pool unable to connect in time, the server shutting down, a full disk. Nothing
//! half-written follows from a refusal: every change and its audit event commit in one
//! transaction, which the database rolls back when the connection is lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::store::Store;

/// How often a request may probe the database while it is marked down.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long a probe (and `/readyz`) waits for the database before calling it down.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Marks a response that failed because the database could not be reached; set by
/// [`ApiError`]'s response and read by [`guard`].
#[derive(Clone, Copy, Debug)]
pub struct DatabaseUnreachable;

/// Whether the database was last seen down, and when it may next be probed.
#[derive(Debug, Default)]
pub struct DbHealth {
    down: AtomicBool,
    /// Milliseconds since [`epoch`] before which no request probes.
    next_probe_ms: AtomicU64,
}

/// A monotonic origin for [`DbHealth`]'s times (wall-clock jumps must not stall probing).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn since_epoch_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl DbHealth {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Records that a request found the database unreachable.
    pub fn mark_down(&self) {
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!("the database is unreachable: answering 503 until it is back");
            self.next_probe_ms
                .store(since_epoch_ms() + probe_every_ms(), Ordering::Release);
        }
    }

    fn mark_up(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!("the database is reachable again");
        }
    }

    /// Claims the next probe if it is due: `true` for exactly one caller per interval.
    fn claim_probe(&self) -> bool {
        let now = since_epoch_ms();
        let due = self.next_probe_ms.load(Ordering::Acquire);
        now >= due
            && self
                .next_probe_ms
                .compare_exchange(
                    due,
                    now + probe_every_ms(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    /// Asks the database whether it is there, within [`PROBE_TIMEOUT`], and records the
    /// answer.
    pub async fn probe(&self, store: &dyn Store) -> bool {
        let ok = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, store.ping()).await,
            Ok(Ok(()))
        );
        if ok {
            self.mark_up();
        } else {
            self.mark_down();
            // Whoever probed (a request or `/readyz`), the next probe is an interval away.
            self.next_probe_ms
                .store(since_epoch_ms() + probe_every_ms(), Ordering::Release);
        }
        ok
    }
}

fn probe_every_ms() -> u64 {
    u64::try_from(PROBE_EVERY.as_millis()).unwrap_or(250)
}

/// Answers 503 at once while the database is down (one request per interval probes it
/// instead), and marks it down when a response says it could not be reached.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let health = &state.db_health;
    // The SPA's page at `/` needs no database (STS calls to `/` carry a query or a body).
    let page = req.method() == axum::http::Method::GET
        && req.uri().path() == "/"
        && req.uri().query().is_none();
    if !page && health.is_down() && !(health.claim_probe() && health.probe(&*state.store).await) {
        return ApiError::Unavailable.into_response();
    }
    let resp = next.run(req).await;
    if resp.extensions().get::<DatabaseUnreachable>().is_some() {
        health.mark_down();
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_caller_claims_each_probe() {
        let h = DbHealth::default();
        h.mark_down();
        assert!(h.is_down());
        // Not yet due: marking down schedules the first probe one interval ahead.
        assert!(!h.claim_probe());
        h.next_probe_ms.store(0, Ordering::Release);
        assert!(h.claim_probe());
        assert!(!h.claim_probe());
        h.mark_up();
        assert!(!h.is_down());
    }
}
