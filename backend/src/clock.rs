//! Time, injected: the only place that reads the system clock. Tests use [`TestClock`] and
//! move it forward; background jobs take their "now" from here.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::OffsetDateTime;

/// Milliseconds since the Unix epoch, the unit stored in the database.
pub type Millis = i64;

pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> Millis;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place the wall clock is read; everything else is handed a Clock"
    )]
    fn now_ms(&self) -> Millis {
        let now = OffsetDateTime::now_utc();
        i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }
}

/// A clock tests set and advance by hand.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn new(start_ms: Millis) -> Self {
        Self(Arc::new(AtomicI64::new(start_ms)))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn set_ms(&self, ms: Millis) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// Converts stored milliseconds into a UTC date-time for the API.
pub fn to_datetime(ms: Millis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Converts a date-time from the API into stored milliseconds.
pub fn to_millis(t: OffsetDateTime) -> Millis {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `ms` as RFC 3339 in whole seconds (`2026-01-02T03:04:05Z`), the way STS writes an
/// expiration and the way events that name one carry it.
pub fn expiration_text(ms: Millis) -> String {
    use time::format_description::well_known::Rfc3339;
    let t = to_datetime(ms)
        .replace_nanosecond(0)
        .unwrap_or_else(|_| to_datetime(ms));
    t.format(&Rfc3339).unwrap_or_default()
}
