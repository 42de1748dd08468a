//! Removing the demo company in one action: what it made, newest dependants first, each
//! through the domain function an administrator's own deletion goes through (so each is
//! audited as theirs), and then one `demo.remove` event that says what was done.

use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::demo::DemoRemoved;
use serde_json::json;

use super::{kind, DemoError, Env};
use crate::access_requests::access_policies::{self, ApprovalPolicies, EligibilityPolicies};
use crate::access_requests::RequestError;
use crate::access_requests::{state_of, Actor};
use crate::audit::NewEvent;
use crate::auth::sessions::CurrentSession;
use crate::break_glass::BreakGlassError;
use crate::clock::Millis;
use crate::directory::DirectoryError;
use crate::permission_sets::PermissionSetError;
use crate::store::StoreError;
use gatehouse_shared::requests::RequestState;

/// The order kinds are removed in: what refers to something goes before it.
const ORDER: &[&str] = &[
    kind::REQUEST,
    kind::ENDPOINT,
    kind::VAULT_ENTRY,
    kind::APPROVAL_POLICY,
    kind::ELIGIBILITY_POLICY,
    kind::ASSIGNMENT,
    kind::PERMISSION_SET,
    kind::ACCOUNT,
    kind::GROUP,
    kind::USER,
];

/// Removes everything the demo made that is still there, as `who` (an administrator).
/// Grants in force are revoked first, so their credentials stop working at once; pending
/// requests go with the people who made them. Something the demo made that is already
/// gone is counted, not an error. A step that is refused (a demo permission set someone
/// assigned outside the demo, say) stops the removal with that step's own error; what
/// was removed before it stays removed, and removing again carries on from there.
pub async fn remove(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
) -> Result<DemoRemoved, DemoError> {
    let store = env.cloud.store;
    let objects = store.demo_objects().await?;
    let ctx = who.ctx();
    let mut removed = 0;
    let mut already_gone = 0;
    for k in ORDER {
        for (_, id) in objects.iter().filter(|(kind, _)| kind == k) {
            let done = match *k {
                kind::REQUEST => revoke_grant(env, now, who, id).await?,
                kind::ENDPOINT => {
                    let ev = NewEvent::new(
                        now,
                        &ctx,
                        AuditAction::NotificationEndpointDelete,
                        "notification_endpoint",
                        Some(id.clone()),
                    );
                    done(store.delete_endpoint(id, ev).await, |e| {
                        matches!(e, StoreError::NotFound)
                    })?
                }
                kind::VAULT_ENTRY => done(
                    crate::break_glass::delete_vault(env.auth, now, who, id).await,
                    |e| matches!(e, BreakGlassError::EntryNotFound),
                )?,
                kind::APPROVAL_POLICY => done(
                    access_policies::delete::<ApprovalPolicies>(store, now, &ctx, id).await,
                    |e| matches!(e, RequestError::PolicyNotFound),
                )?,
                kind::ELIGIBILITY_POLICY => done(
                    access_policies::delete::<EligibilityPolicies>(store, now, &ctx, id).await,
                    |e| matches!(e, RequestError::PolicyNotFound),
                )?,
                kind::ASSIGNMENT => done(
                    crate::permission_sets::delete_assignment(store, now, &ctx, id).await,
                    |e| matches!(e, PermissionSetError::AssignmentNotFound),
                )?,
                kind::PERMISSION_SET => done(
                    crate::permission_sets::delete_permission_set(store, now, &ctx, id).await,
                    |e| matches!(e, PermissionSetError::PermissionSetNotFound),
                )?,
                kind::ACCOUNT => done(
                    crate::directory::delete_account(store, now, &ctx, id).await,
                    |e| matches!(e, DirectoryError::AccountNotFound),
                )?,
                kind::GROUP => done(
                    crate::directory::delete_group(store, now, who, id).await,
                    |e| matches!(e, DirectoryError::GroupNotFound),
                )?,
                kind::USER => done(
                    crate::directory::delete_user(store, now, who, id).await,
                    |e| matches!(e, DirectoryError::UserNotFound),
                )?,
                _ => false,
            };
            if done {
                removed += 1;
            } else if *k != kind::REQUEST {
                already_gone += 1;
            }
        }
    }
    let event = NewEvent::new(now, &ctx, AuditAction::DemoRemove, "demo", None)
        .details(json!({ "removed": removed, "already_gone": already_gone }));
    store.forget_demo(event).await?;
    Ok(DemoRemoved {
        removed,
        already_gone,
    })
}

/// Revokes the demo request's grant if it is in force; `true` if it was.
async fn revoke_grant(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
) -> Result<bool, DemoError> {
    let store = env.cloud.store;
    let snap = match store.get_request(id).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let r = &snap.request;
    if state_of(r) != RequestState::Active || r.ends_at.is_some_and(|e| e <= now) {
        return Ok(false);
    }
    crate::access_requests::close_grant(store, env.cloud.sts, &Actor::of(who, now), id, true, now)
        .await?;
    Ok(true)
}

/// `Ok(true)` when the deletion happened, `Ok(false)` when there was nothing to delete
/// (`gone` says which error means that).
fn done<E: Into<DemoError>>(
    r: Result<(), E>,
    gone: impl Fn(&E) -> bool,
) -> Result<bool, DemoError> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if gone(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
