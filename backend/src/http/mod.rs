//! The HTTP edge: the one error type, extractors, CSRF origin guard, operations endpoints
//! (`/healthz`, `/readyz`, `/metrics`), request metrics, the session cookie and extractor,
//! serving the SPA, failing fast while the database is away, and shedding what is beyond
//! the machine's capacity.

pub mod admission;
pub mod availability;
pub mod csrf;
pub mod error;
pub mod extract;
pub mod ops;
pub mod session;
pub mod spa;
