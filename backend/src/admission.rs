//! Admission: each kind of expensive request gets a bounded number of turns, so that more
//! requests than the machine can serve are refused at once instead of all of them slowing
//! down together.
//!
//! Without it, every request that arrives is started: at 2× the load an endpoint sustains,
//! the work in progress grows until every request waits behind all the others (and their
//! memory), throughput collapses and nobody is served in time. With it, each [`Class`] has
//! `concurrency` requests in progress at most, half as many again waiting for a turn (first
//! come, first served, for at most `wait`), and anything beyond that is answered at once with 503
//! and `Retry-After: 1` — before its body is read or the database is touched, outside every
//! other layer, with a body made once: a refusal costs about what `/healthz` does (BENCHMARKS.md,
//! "Overload"). What is admitted is served at the speed of a machine that is not
//! overloaded, and service is back to normal the moment the load drops.
//!
//! The classes are the endpoints whose cost is real: local sign-in (Argon2), federated
//! sign-in (the SAML ACS and the OIDC callback), credential issue (the portal's and the
//! credentials URIs'), the portal's list, and the STS API (every action, `GetCallerIdentity`
//! included). Everything else — the administrators' pages, `/healthz`, the SPA's files — is
//! not gated. Refusals are counted in `/metrics` as `gatehouse_requests_shed_total{class}`.
//!
//! This module is the rule (the classes, their turns and lines); `http/admission.rs` is the
//! layer that applies it to each request and words the refusals.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A kind of request with its own bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `POST /api/v1/auth/login` and step-up: a password check each.
    SignIn,
    /// The SAML ACS and the OIDC callback.
    Federation,
    /// `POST /api/v1/portal/credentials` and `GET /credentials/{token}`.
    Credentials,
    /// `GET /api/v1/portal`.
    Portal,
    /// The STS API at `/`, `/sts` and `/sts/…`.
    Sts,
}

impl Class {
    pub const ALL: [Class; 5] = [
        Class::SignIn,
        Class::Federation,
        Class::Credentials,
        Class::Portal,
        Class::Sts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::SignIn => "sign_in",
            Class::Federation => "federation",
            Class::Credentials => "credentials",
            Class::Portal => "portal",
            Class::Sts => "sts",
        }
    }

    /// The class of a request, from its method and path alone (nothing is read to decide);
    /// `None` for requests that are not gated.
    pub fn of(method: &str, path: &str, has_query: bool) -> Option<Class> {
        let post = method == "POST";
        match path {
            "/api/v1/auth/login" | "/api/v1/auth/step-up" if post => Some(Class::SignIn),
            "/api/v1/portal/credentials" if post => Some(Class::Credentials),
            "/api/v1/portal" if method == "GET" => Some(Class::Portal),
            // The SPA's page is `GET /` without a query; any other call to `/` is STS.
            "/" => (post || has_query).then_some(Class::Sts),
            "/sts" => Some(Class::Sts),
            _ if path.starts_with("/sts/") => Some(Class::Sts),
            _ if path.starts_with("/credentials/") => Some(Class::Credentials),
            _ if path.starts_with("/auth/saml/") && path.ends_with("/acs") && post => {
                Some(Class::Federation)
            }
            _ if path.starts_with("/auth/oidc/") && path.ends_with("/callback") => {
                Some(Class::Federation)
            }
            _ => None,
        }
    }

    /// The default bound for `cpus` cores: about where each kind's throughput stops
    /// growing with concurrency (measured in BENCHMARKS.md, "Overload").
    pub fn default_concurrency(self, cpus: usize) -> usize {
        let per_cpu = match self {
            // Argon2 holds one core per check (the hashing bound is one per CPU); two per
            // core keep the database part of the sign-ins overlapping with the hashing.
            Class::SignIn => 2,
            Class::Federation => 8,
            Class::Portal => 16,
            // Issues are committed in groups (`store/commit.rs`), so more of them at once
            // keep making bigger, cheaper groups: 1,160/s at 32 at once, 1,940/s at 64.
            Class::Credentials | Class::Sts => 32,
        };
        per_cpu * cpus.max(1)
    }
}

/// One class's turns: `concurrency` in progress, half as many again waiting. (With a
/// closed loop of clients, the time an admitted request spends grows with how many are in
/// the building; half again keeps it within 1.5× of a full house's, while the line still
/// hands each freed turn to the next request at once.)
#[derive(Debug)]
pub struct Gate {
    turns: Arc<Semaphore>,
    /// Requests waiting for a turn now.
    waiting: AtomicUsize,
    queue: usize,
    wait: Duration,
}

/// Why a request was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shed {
    /// The queue was full when it arrived.
    QueueFull,
    /// It waited `wait` without a turn coming.
    Waited,
}

impl Gate {
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            turns: Arc::new(Semaphore::new(concurrency)),
            waiting: AtomicUsize::new(0),
            queue: (concurrency / 2).max(1),
            wait,
        }
    }

    /// A turn: at once if one is free, else after waiting in line if the line has room and
    /// a turn comes within the wait. The turn is given back when the permit is dropped.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Shed> {
        if let Ok(turn) = self.turns.clone().try_acquire_owned() {
            return Ok(turn);
        }
        // Take a place in line, unless the line is full.
        let placed = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                (w < self.queue).then_some(w + 1)
            });
        if placed.is_err() {
            return Err(Shed::QueueFull);
        }
        let _place = Place(&self.waiting);
        match tokio::time::timeout(self.wait, self.turns.clone().acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            // The semaphore is never closed; a timeout is the only way here.
            _ => Err(Shed::Waited),
        }
    }
}

/// A place in a gate's line, given up when dropped (also when the client goes away).
struct Place<'a>(&'a AtomicUsize);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The gates of every class.
#[derive(Debug)]
pub struct Admission {
    gates: [Gate; Class::ALL.len()],
}

impl Admission {
    /// `concurrency(class)` turns per class; a waiting request is refused after `wait`.
    pub fn new(concurrency: impl Fn(Class) -> usize, wait: Duration) -> Self {
        Self {
            gates: Class::ALL.map(|c| Gate::new(concurrency(c), wait)),
        }
    }

    pub fn gate(&self, class: Class) -> &Gate {
        &self.gates[class as usize]
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn classes_come_from_method_and_path() {
        let of = |m: &str, p: &str, q: bool| Class::of(m, p, q);
        assert_eq!(of("POST", "/api/v1/auth/login", false), Some(Class::SignIn));
        assert_eq!(
            of("POST", "/api/v1/portal/credentials", false),
            Some(Class::Credentials)
        );
        assert_eq!(
            of("GET", "/credentials/abc", false),
            Some(Class::Credentials)
        );
        assert_eq!(of("GET", "/api/v1/portal", false), Some(Class::Portal));
        assert_eq!(of("POST", "/", false), Some(Class::Sts));
        assert_eq!(of("GET", "/", true), Some(Class::Sts));
        assert_eq!(of("GET", "/sts/", false), Some(Class::Sts));
        assert_eq!(
            of("POST", "/auth/saml/idp1/acs", false),
            Some(Class::Federation)
        );
        assert_eq!(
            of("GET", "/auth/oidc/idp1/callback", true),
            Some(Class::Federation)
        );
        // Not gated: the SPA's page, the SSO redirects out, the rest of the API.
        assert_eq!(of("GET", "/", false), None);
        assert_eq!(of("GET", "/auth/saml/idp1/login", false), None);
        assert_eq!(of("GET", "/api/v1/portal/credentials", false), None);
        assert_eq!(of("GET", "/api/v1/users", false), None);
        assert_eq!(of("GET", "/healthz", false), None);
    }

    #[test]
    fn each_class_has_its_own_gate() {
        // `Admission::gate` indexes by the discriminant: ALL must list the classes in order.
        for (i, c) in Class::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c:?}");
        }
    }

    #[tokio::test]
    async fn a_full_gate_queues_half_as_many_again_and_refuses_the_rest() {
        let gate = Gate::new(4, Duration::from_millis(100));
        let a = gate.enter().await.expect("first turn");
        let mut rest = Vec::new();
        for _ in 0..3 {
            rest.push(gate.enter().await.expect("a turn"));
        }
        // Two may wait; the third finds the line full at once.
        let w1 = gate.enter();
        let w2 = gate.enter();
        tokio::pin!(w1, w2);
        assert!((&mut w1).now_or_never().is_none());
        assert!((&mut w2).now_or_never().is_none());
        assert_eq!(gate.enter().await.err(), Some(Shed::QueueFull));
        // A turn given back goes to the first in line…
        drop(a);
        let _c = w1.await.expect("the first waiting gets the turn");
        // …and one who waits the whole wait is refused and leaves the line.
        assert_eq!(w2.await.err(), Some(Shed::Waited));
        assert_eq!(gate.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_client_that_goes_away_gives_up_its_place() {
        let gate = Gate::new(1, Duration::from_secs(60));
        let _a = gate.enter().await.expect("turn");
        {
            let w = gate.enter();
            tokio::pin!(w);
            assert!((&mut w).now_or_never().is_none());
            assert_eq!(gate.waiting.load(Ordering::Acquire), 1);
        }
        assert_eq!(gate.waiting.load(Ordering::Acquire), 0);
        // The line has room again.
        let w = gate.enter();
        tokio::pin!(w);
        assert!((&mut w).now_or_never().is_none());
    }
}
