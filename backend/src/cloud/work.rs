//! The background work that keeps clouds as Gatehouse says they should be, as single steps
//! the job tick (and the provision request, for an answer at once) runs:
//!
//! - [`provision_pending`]: roles in `provisioning`, leased so a crash or a second instance
//!   finishes them; each ends `provisioned` or `failed` with the cloud's answer;
//! - [`check_drift`]: provisioned roles compared with what they should be, every
//!   `drift_check_interval_secs`;
//! - [`remove_roles`]: roles the last assignment left, deleted in their cloud;
//! - [`apply_denials`]: revoked sessions a cloud must deny until their tokens expire.
//!
//! Every cloud call is audited (`cloud.api.call`: action, account, RequestId, code).

use gatehouse_shared::audit::{AuditAction, Outcome};
use serde_json::json;

use super::alibaba::client::CallRecord;
use super::{fault_json, provider_for, Env};
use crate::audit::{AuditCtx, NewEvent};
use crate::clock::Millis;
use crate::store::{ProvisionOutcome, StoreResult};

/// How long one worker holds a role.
const LEASE_MS: i64 = 120_000;
const BATCH: i64 = 20;

/// What one step of cloud work did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkReport {
    pub provisioned: u64,
    pub failed: u64,
    pub checked: u64,
    pub removed: u64,
    pub denials: u64,
}

async fn audit_calls(
    env: Env<'_>,
    now: Millis,
    account: &str,
    calls: &[CallRecord],
) -> StoreResult<()> {
    for c in calls {
        let mut ev = NewEvent::new(
            now,
            &AuditCtx::system(),
            AuditAction::CloudApiCall,
            "account",
            Some(account.to_string()),
        )
        .details(json!({
            "action": c.action,
            "request_id": c.request_id,
            "code": c.code,
            "attempts": c.attempts,
        }));
        if let Some(code) = &c.code {
            ev = ev.failed(Outcome::Failure, code);
        }
        env.store.append_event(ev).await?;
    }
    Ok(())
}

/// The calls a driver made, if it is one that calls a cloud.
fn calls_of(p: &mut dyn super::CloudProvider) -> Vec<CallRecord> {
    p.take_calls()
}

/// Provisions the roles waiting in `provisioning`.
pub async fn provision_pending(env: Env<'_>, now: Millis) -> StoreResult<WorkReport> {
    let mut report = WorkReport::default();
    for (ps_id, account_id, version) in env.store.claim_provisioning(now, LEASE_MS, BATCH).await? {
        let (Ok(ps), Ok(account)) = (
            env.store.get_permission_set(&ps_id).await,
            env.store.get_account(&account_id).await,
        ) else {
            continue;
        };
        let mut provider = provider_for(env, &account);
        let desired = provider.desired(&ps);
        let result = provider.provision(&desired).await;
        let calls = calls_of(provider.as_mut());
        drop(provider);
        audit_calls(env, now, &account_id, &calls).await?;
        let target = Some(format!("{account_id}/{ps_id}"));
        let ev = NewEvent::new(now, &AuditCtx::system(), AuditAction::CloudRoleProvision, "role", target)
            .details(json!({ "role_name": desired.role_name, "version": version, "provider": account.provider }));
        let (outcome, ev) = match result {
            Ok(changes) => {
                report.provisioned += 1;
                (ProvisionOutcome::Done, ev.details(json!({ "role_name": desired.role_name, "version": version, "provider": account.provider, "changes": changes })))
            }
            Err(f) => {
                report.failed += 1;
                tracing::warn!(account = %account_id, role = %desired.role_name, code = %f.code, "provisioning failed");
                (
                    ProvisionOutcome::Failed(fault_json(&f)),
                    ev.failed(Outcome::Failure, &f.code),
                )
            }
        };
        env.store
            .finish_provisioning(&ps_id, &account_id, version, outcome, ev)
            .await?;
    }
    Ok(report)
}

/// Compares provisioned roles last checked an interval ago with what they should be.
pub async fn check_drift(env: Env<'_>, now: Millis) -> StoreResult<WorkReport> {
    let mut report = WorkReport::default();
    let before = now - env.cloud.settings.drift_interval_ms;
    for (ps_id, account_id) in env.store.roles_to_check(before, BATCH).await? {
        let (Ok(ps), Ok(account)) = (
            env.store.get_permission_set(&ps_id).await,
            env.store.get_account(&account_id).await,
        ) else {
            continue;
        };
        let mut provider = provider_for(env, &account);
        let desired = provider.desired(&ps);
        let result = provider.drift(&desired).await;
        let calls = calls_of(provider.as_mut());
        drop(provider);
        // Reads are not audited one by one; a failed read is.
        let failed: Vec<CallRecord> = calls.into_iter().filter(|c| c.code.is_some()).collect();
        audit_calls(env, now, &account_id, &failed).await?;
        let Ok(drift) = result else {
            continue;
        };
        report.checked += 1;
        let ev = NewEvent::new(
            now,
            &AuditCtx::system(),
            AuditAction::CloudRoleDrift,
            "role",
            Some(format!("{account_id}/{ps_id}")),
        )
        .details(json!({ "role_name": desired.role_name }));
        env.store
            .record_check(&ps_id, &account_id, drift, ev)
            .await?;
    }
    Ok(report)
}

/// Deletes, in their clouds, the roles no assignment needs any more.
pub async fn remove_roles(env: Env<'_>, now: Millis) -> StoreResult<WorkReport> {
    let mut report = WorkReport::default();
    for r in env.store.claim_role_removals(now, LEASE_MS, BATCH).await? {
        let Ok(account) = env.store.get_account(&r.account_id).await else {
            // The account is gone from Gatehouse: nothing is left to manage it with.
            let ev = NewEvent::new(
                now,
                &AuditCtx::system(),
                AuditAction::CloudRoleRemove,
                "role",
                Some(format!("{}/{}", r.account_id, r.role_name)),
            )
            .failed(Outcome::Failure, "account deleted");
            env.store
                .finish_role_removal(&r.account_id, &r.role_name, None, ev)
                .await?;
            continue;
        };
        let mut provider = provider_for(env, &account);
        let result = provider.deprovision(&r.role_name).await;
        let calls = calls_of(provider.as_mut());
        drop(provider);
        audit_calls(env, now, &r.account_id, &calls).await?;
        let ev = NewEvent::new(
            now,
            &AuditCtx::system(),
            AuditAction::CloudRoleRemove,
            "role",
            Some(format!("{}/{}", r.account_id, r.role_name)),
        );
        match result {
            Ok(changes) => {
                report.removed += 1;
                let ev = ev.details(json!({ "role_name": r.role_name, "changes": changes }));
                env.store
                    .finish_role_removal(&r.account_id, &r.role_name, None, ev)
                    .await?;
            }
            Err(f) => {
                let ev = ev
                    .details(json!({ "role_name": r.role_name }))
                    .failed(Outcome::Failure, &f.code);
                env.store
                    .finish_role_removal(&r.account_id, &r.role_name, Some(fault_json(&f)), ev)
                    .await?;
            }
        }
    }
    Ok(report)
}

/// Brings each cloud's session denials up to date: the unexpired ones in force, the
/// expired ones gone.
pub async fn apply_denials(env: Env<'_>, now: Millis) -> StoreResult<WorkReport> {
    let mut report = WorkReport::default();
    for (account_id, role) in env.store.denials_due(now).await? {
        let Ok(account) = env.store.get_account(&account_id).await else {
            continue;
        };
        let denials = env.store.denials_of(&account_id, &role, now).await?;
        let sessions: Vec<String> = denials.iter().map(|d| d.session_name.clone()).collect();
        let mut provider = provider_for(env, &account);
        let result = provider.deny_sessions(&role, &sessions).await;
        let calls = calls_of(provider.as_mut());
        drop(provider);
        audit_calls(env, now, &account_id, &calls).await?;
        let ev = NewEvent::new(
            now,
            &AuditCtx::system(),
            AuditAction::CloudSessionDeny,
            "role",
            Some(format!("{account_id}/{role}")),
        )
        .details(json!({ "role_name": role, "sessions": sessions }));
        match result {
            Ok(()) => {
                report.denials += 1;
                env.store.append_event(ev).await?;
                env.store.denials_applied(&account_id, &role, now).await?;
            }
            Err(f) => {
                env.store
                    .append_event(ev.failed(Outcome::Failure, &f.code))
                    .await?;
            }
        }
    }
    Ok(report)
}

/// All cloud work due now, in order.
pub async fn step(env: Env<'_>, now: Millis) -> StoreResult<WorkReport> {
    let p = provision_pending(env, now).await?;
    let d = apply_denials(env, now).await?;
    let r = remove_roles(env, now).await?;
    let c = check_drift(env, now).await?;
    Ok(WorkReport {
        provisioned: p.provisioned,
        failed: p.failed,
        checked: c.checked,
        removed: r.removed,
        denials: d.denials,
    })
}
