//! The HTTP edge: the one error type, extractors, CSRF origin guard, operations endpoints
//! (`/healthz`, `/readyz`, `/metrics`), request metrics, the session cookie and extractor,
//! and serving the SPA.

pub mod csrf;
pub mod error;
pub mod extract;
pub mod ops;
pub mod session;
pub mod spa;
