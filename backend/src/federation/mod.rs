//! Federated sign-in: identity providers (SAML 2.0 and OIDC), their administration, and
//! the flows that turn a verified assertion or ID token into a Gatehouse session.
//!
//! `idp` administers providers; `oidc` is the relying party; `saml` is the pure SAML core
//! and `routes` its HTTP flow (binding cookie, `InResponseTo` consumed once, replay table);
//! `signin` is the one place an identity becomes a session; `errors` names every refusal.

pub mod commit;
pub mod errors;
pub mod idp;
pub mod oidc;
pub mod routes;
pub mod saml;
pub mod saml_signin;
pub mod signin;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Millis;
use crate::config::Settings;
use crate::secrets::MasterKey;
use crate::store::{Store, StoreResult};

/// What the federation rules work on: the store, the master key sealing IdP secrets, the
/// settings (Gatehouse's URLs, the session lifetime) and the process-local [`Federation`].
/// The handlers lend it from their state.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub store: &'a dyn Store,
    pub master: &'a MasterKey,
    pub settings: &'a Settings,
    pub federation: &'a Federation,
}

/// Process-local federation state: the outbound HTTP client, each OIDC provider's
/// discovery document and keys (a cache only: every instance fills its own), and the queue
/// that commits sign-ins.
pub struct Federation {
    /// Outbound requests to IdPs: no redirects for OIDC (as openidconnect advises), a
    /// timeout on everything.
    pub http: reqwest::Client,
    providers: Mutex<HashMap<String, oidc::CachedProvider>>,
    pub commits: commit::CommitQueue,
}

impl Federation {
    /// Starts the commit queue's writer task: call inside the runtime.
    pub fn new(store: Arc<dyn Store>) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .user_agent("gatehouse-federation")
                .build()?,
            providers: Mutex::new(HashMap::new()),
            commits: commit::CommitQueue::start(store),
        })
    }

    pub fn cached(&self, idp_id: &str) -> Option<oidc::CachedProvider> {
        self.providers.lock().ok()?.get(idp_id).cloned()
    }

    pub fn store_cached(&self, idp_id: &str, p: oidc::CachedProvider) {
        if let Ok(mut m) = self.providers.lock() {
            m.insert(idp_id.to_string(), p);
        }
    }

    /// Drops what is cached for an IdP (after it changed or was deleted).
    pub fn forget(&self, idp_id: &str) {
        if let Ok(mut m) = self.providers.lock() {
            m.remove(idp_id);
        }
    }
}

/// Drops expired sign-in requests and SAML assertion IDs (from `jobs::tick`).
pub async fn prune(store: &dyn Store, now: Millis) -> StoreResult<u64> {
    store.prune_federation(now).await
}
