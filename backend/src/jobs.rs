//! Background work as single steps: [`tick`] does what is due now (sign the audit chain
//! head, drop stale sessions, time out/start/end access requests, reload STS revocations,
//! forget old nonces, expire break-glass requests and close their windows, enqueue and send
//! notifications) and returns; production repeats it on a timer, tests call it
//! after moving the test clock. Safe with several instances: each step is one transaction
//! that re-checks what is due under the chain-head lock.

use std::time::Duration;

use crate::app::AppState;
use crate::audit::CHECKPOINT_INTERVAL_MS;
use crate::store::StoreResult;

/// What one tick did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub checkpoint: Option<i64>,
    pub sessions_removed: u64,
    /// Revocations in force after reloading them.
    pub revocations: usize,
    /// Break-glass requests expired or windows closed.
    pub breakglass: u64,
    /// Expired federation requests and SAML assertion IDs dropped.
    pub federation_pruned: u64,
    /// Notification deliveries created from new audit events, and what sending did.
    pub notifications_enqueued: usize,
    pub notifications: crate::notify::DeliverReport,
    /// Access requests timed out, started or ended.
    pub requests_transitioned: u64,
}

pub async fn tick(state: &AppState) -> StoreResult<TickReport> {
    let now = state.clock.now_ms();
    // Ticks come every few seconds; sign when the last checkpoint is nearly a minute old so
    // no more than a minute passes between checkpoints while events arrive.
    let cp = state
        .store
        .checkpoint_if_due(now, CHECKPOINT_INTERVAL_MS - 5_000)
        .await?;
    let removed = state
        .store
        .delete_stale_sessions(now, now - state.settings.session_idle_ms)
        .await?;
    // Before reloading revocations, so a grant ended now is refused from this tick on.
    let requests = crate::requests::step(&*state.store, now).await?;
    // Another instance's revocations take effect here within one tick.
    let revocations = state.sts.revocations.reload(&*state.store, now).await?;
    state.sts.nonces.prune(now);
    let breakglass = crate::breakglass::sweep(state).await?;
    let federation_pruned = crate::federation::prune(state, now).await?;
    let (notifications_enqueued, notifications) = crate::notify::step(state, now).await?;
    Ok(TickReport {
        notifications_enqueued,
        notifications,
        checkpoint: cp.map(|c| c.id),
        sessions_removed: removed,
        revocations,
        breakglass,
        federation_pruned,
        requests_transitioned: requests.transitioned,
    })
}

pub async fn run_forever(state: AppState, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(e) = tick(&state).await {
            tracing::warn!(error = %e, "background tick failed; will retry");
        }
    }
}
