//! Background work as single steps: [`tick`] does what is due now (sign the audit chain
//! head and witness the checkpoints outside the database, drop stale sessions, time out/start/end access requests, reload STS revocations,
//! forget old nonces, expire break-glass requests and close their windows, enqueue and send
//! notifications) and returns; production repeats it on a timer, tests call it
//! after moving the test clock. Safe with several instances: each step is one transaction
//! that re-checks what is due under the chain-head lock. The timer, which reads the parts
//! from `AppState`, is wiring and lives in `app.rs`.

use crate::audit::CHECKPOINT_INTERVAL_MS;
use crate::clock::Millis;
use crate::notifications::Notifier;
use crate::store::{Store, StoreResult};
use crate::sts::Sts;

/// The planner's statistics are refreshed with every this many checkpoints.
const STATISTICS_EVERY_CHECKPOINTS: i64 = 60;

/// What one tick did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub checkpoint: Option<i64>,
    /// Checkpoints witnessed outside the database (file, TSA) this tick, and how many wait
    /// for the next because witnessing failed.
    pub witness: crate::audit::witness::WitnessReport,
    pub sessions_removed: u64,
    /// Revocations in force after reloading them.
    pub revocations: usize,
    /// Break-glass requests expired or windows closed.
    pub breakglass: u64,
    /// Expired federation requests and SAML assertion IDs dropped.
    pub federation_pruned: u64,
    /// Notification deliveries created from new audit events, and what sending did.
    pub notifications_enqueued: usize,
    pub notifications: crate::notifications::DeliverReport,
    /// Access requests timed out, started or ended.
    pub requests_transitioned: u64,
    /// Roles provisioned, checked or removed in clouds, and session denials applied.
    pub cloud: crate::cloud::work::WorkReport,
}

/// What a tick works on: the parts of the application it reads, so that it knows no
/// `AppState` (the timer that builds these from it is [`crate::app::tick`]).
pub struct Parts<'a> {
    pub store: &'a dyn Store,
    pub sts: &'a Sts,
    pub notifier: &'a Notifier,
    /// Where checkpoints are witnessed outside the database.
    pub witness: &'a crate::audit::witness::Witness,
    /// Sessions idle this long are dropped.
    pub session_idle_ms: i64,
    /// The clouds: provisioning, drift, role removals, session denials.
    pub cloud: crate::cloud::Env<'a>,
}

pub async fn tick(parts: &Parts<'_>, now: Millis) -> StoreResult<TickReport> {
    let Parts {
        store,
        sts,
        notifier,
        witness,
        session_idle_ms,
        cloud,
    } = *parts;
    // Ticks come every few seconds; sign when the last checkpoint is nearly a minute old so
    // no more than a minute passes between checkpoints while events arrive.
    let cp = store
        .checkpoint_if_due(now, CHECKPOINT_INTERVAL_MS - 5_000)
        .await?;
    // Statistics drift as events arrive, and so do checkpoints: about once an hour of a
    // busy trail (never while nothing happens) the planner's statistics are refreshed
    // (PostgreSQL; SQLite's searches name their index).
    if cp
        .as_ref()
        .is_some_and(|c| c.id % STATISTICS_EVERY_CHECKPOINTS == 0)
    {
        store.refresh_statistics().await?;
    }
    // Every checkpoint not yet witnessed, in order; a TSA or file failure leaves them for
    // the next tick (and is logged and counted) without holding up the rest of the tick.
    let witness = crate::audit::witness::step(store, witness, now).await?;
    let removed = store
        .delete_stale_sessions(now, now - session_idle_ms)
        .await?;
    // Before reloading revocations, so a grant ended now is refused from this tick on.
    let requests = crate::access_requests::step(store, now).await?;
    // Another instance's revocations take effect here within one tick.
    let revocations = sts.revocations.reload(store, now).await?;
    sts.nonces.prune(now);
    store.prune_nonces(now).await?;
    let breakglass = crate::break_glass::sweep(store, now).await?;
    let federation_pruned = crate::federation::prune(store, now).await?;
    let (notifications_enqueued, notifications) =
        crate::notifications::step(store, notifier, now).await?;
    let cloud = crate::cloud::work::step(cloud, now).await?;
    Ok(TickReport {
        cloud,
        notifications_enqueued,
        notifications,
        checkpoint: cp.map(|c| c.id),
        witness,
        sessions_removed: removed,
        revocations,
        breakglass,
        federation_pruned,
        requests_transitioned: requests.transitioned,
    })
}
