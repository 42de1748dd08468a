//! Permission sets (CloudSSO "access configurations"), their standing assignments to users
//! and groups on accounts, and provisioning: each permission set becomes the RAM role
//! `GatehouseSSO-<name>` in every account it is assigned on, with a status that turns
//! `needs_reprovisioning` whenever the permission set changes. Input is parsed at the edge
//! with `shared::validate`; inline policies must parse with the policy engine; system
//! policies must come from the [`catalogue`].

pub mod catalogue;
pub mod routes;
pub mod simulator;

use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::error::FieldError;
use gatehouse_shared::permission_sets::{
    Assignment, CreateAssignment, CreatePermissionSet, PermissionSet, PrincipalType,
    ProvisionRequest, ProvisionedRole, ProvisioningStatus, UpdatePermissionSet,
};
use gatehouse_shared::validate::{
    inline_policy_length, system_policy_names, AccountId, Description, Faults, PermissionSetName,
    RelayState, SessionDuration, DEFAULT_SESSION_SECS,
};
use std::collections::HashMap;

use gatehouse_shared::cloud::Provider;
use serde_json::json;

use crate::audit::{AuditCtx, NewEvent};
use crate::clock::{to_datetime, Millis};
use crate::policy::RamPolicy;
use crate::store::{
    AssignmentFilter, AssignmentRecord, Deletion, NewAssignmentRecord, PermissionSetChange,
    PermissionSetRecord, RoleRecord, Store, StoreError,
};

/// The prefix of every role Gatehouse provisions, so they are recognisable in RAM.
pub const ROLE_PREFIX: &str = "GatehouseSSO-";

#[derive(Debug, thiserror::Error)]
pub enum PermissionSetError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such permission set")]
    PermissionSetNotFound,
    #[error("no such assignment")]
    AssignmentNotFound,
    #[error("no such user")]
    UserNotFound,
    #[error("no such group")]
    GroupNotFound,
    #[error("no such account")]
    AccountNotFound,
    #[error("the permission set is not assigned on that account")]
    NotAssignedOnAccount,
    #[error("the permission set is still assigned {0} time(s)")]
    StillAssigned(i64),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for PermissionSetError {
    fn from(e: StoreError) -> Self {
        PermissionSetError::Store(e)
    }
}

/// The RAM role a permission set becomes: `GatehouseSSO-<name>`.
pub fn role_name(permission_set_name: &str) -> String {
    format!("{ROLE_PREFIX}{permission_set_name}")
}

/// The role's ARN as RAM writes it: `acs:ram::<account-id>:role/<role-name>` (RAM's
/// `GetRole` shows the name with its case, e.g. `acs:ram::123456789012****:role/ECSAdmin`).
pub fn role_arn(account_id: &str, role_name: &str) -> String {
    format!("acs:ram::{account_id}:role/{role_name}")
}

/// The role's ARN as its provider writes it: IAM's in an `aws` account, RAM's otherwise.
pub fn role_arn_in(provider: Provider, account_id: &str, role_name: &str) -> String {
    match provider {
        Provider::Aws => crate::cloud::aws::role_arn(account_id, role_name),
        Provider::Local | Provider::Alibaba => role_arn(account_id, role_name),
    }
}

pub fn permission_set_dto(p: &PermissionSetRecord) -> PermissionSet {
    PermissionSet {
        id: p.id.clone(),
        name: p.name.clone(),
        description: p.description.clone(),
        session_duration_secs: p.session_duration_secs,
        relay_state: p.relay_state.clone(),
        system_policies: p.policy_names(),
        inline_policy: p.inline_policy.clone(),
        version: p.version,
        role_name: role_name(&p.name),
        created_at: to_datetime(p.created_at),
        updated_at: to_datetime(p.updated_at),
    }
}

pub fn assignment_dto(a: &AssignmentRecord) -> Assignment {
    Assignment {
        id: a.id.clone(),
        principal_type: PrincipalType::parse(&a.principal_type).unwrap_or(PrincipalType::User),
        principal_id: a.principal_id.clone(),
        principal_name: a.principal_name.clone(),
        account_id: a.account_id.clone(),
        permission_set_id: a.permission_set_id.clone(),
        permission_set_name: a.permission_set_name.clone(),
        created_at: to_datetime(a.created_at),
    }
}

pub fn role_dto(p: &PermissionSetRecord, r: &RoleRecord, provider: Provider) -> ProvisionedRole {
    let name = role_name(&p.name);
    ProvisionedRole {
        permission_set_id: p.id.clone(),
        account_id: r.account_id.clone(),
        arn: role_arn_in(provider, &r.account_id, &name),
        role_name: name,
        status: ProvisioningStatus::parse(&r.status).unwrap_or(ProvisioningStatus::NotProvisioned),
        provisioned_at: r.provisioned_at.map(to_datetime),
        provisioned_version: r.provisioned_version,
        current_version: p.version,
        provider,
        fault: crate::cloud::parse_fault(r.fault.as_deref()),
        drift: r
            .drift
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default(),
    }
}

/// The provider of each account, for role DTOs.
async fn providers(store: &dyn Store) -> Result<HashMap<String, Provider>, PermissionSetError> {
    Ok(store
        .list_accounts()
        .await?
        .into_iter()
        .map(|a| (a.id, Provider::parse(&a.provider).unwrap_or_default()))
        .collect())
}

/// Checks the system policy names: at most 20, no duplicates, each from the catalogue.
fn check_system_policies(f: &mut Faults, names: &[String]) -> Option<String> {
    if let Err(m) = system_policy_names(names) {
        f.push("system_policies", m);
        return None;
    }
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| catalogue::find_any(n).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        f.push(
            "system_policies",
            format!(
                "Not in the system policy catalogue: {}. See GET /api/v1/system-policies.",
                unknown.join(", ")
            ),
        );
        return None;
    }
    Some(serde_json::Value::from(names.to_vec()).to_string())
}

/// Checks an inline policy: at most 6,144 characters, and a valid RAM policy document; the
/// fault names the line and column the policy engine found.
fn check_inline_policy(f: &mut Faults, text: &str) -> Option<String> {
    if let Err(m) = inline_policy_length(text) {
        f.push("inline_policy", m);
        return None;
    }
    // IAM's language (Version "2012-10-17") is for AWS accounts; RAM's for the others.
    if crate::cloud::aws::iam::is_iam_document(text) {
        return match crate::cloud::aws::iam::check_document(text) {
            Ok(()) => Some(text.to_string()),
            Err(e) => {
                f.push(
                    "inline_policy",
                    format!("The IAM policy is not valid: {e}."),
                );
                None
            }
        };
    }
    match RamPolicy::parse(text) {
        Ok(_) => Some(text.to_string()),
        Err(e) => {
            f.push("inline_policy", format!("The policy is not valid: {e}."));
            None
        }
    }
}

/// `Some(None)` for an empty string (remove it), `Some(Some(v))` for a valid value.
fn optional_relay_state(f: &mut Faults, raw: &str) -> Option<Option<String>> {
    if raw.trim().is_empty() {
        return Some(None);
    }
    f.check("relay_state", RelayState::parse(raw))
        .map(|r| Some(r.into_inner()))
}

fn optional_inline_policy(f: &mut Faults, raw: &str) -> Option<Option<String>> {
    if raw.trim().is_empty() {
        return Some(None);
    }
    check_inline_policy(f, raw).map(Some)
}

pub async fn create_permission_set(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    req: CreatePermissionSet,
) -> Result<PermissionSet, PermissionSetError> {
    let mut f = Faults::new();
    let name = f.check("name", PermissionSetName::parse(&req.name));
    let description = f.check("description", Description::parse(&req.description));
    let duration = f.check(
        "session_duration_secs",
        SessionDuration::parse(req.session_duration_secs.unwrap_or(DEFAULT_SESSION_SECS)),
    );
    let relay_state = optional_relay_state(&mut f, req.relay_state.as_deref().unwrap_or(""));
    let system_policies = check_system_policies(&mut f, &req.system_policies);
    let inline_policy = optional_inline_policy(&mut f, req.inline_policy.as_deref().unwrap_or(""));
    f.into_result().map_err(PermissionSetError::Invalid)?;
    let (
        Some(name),
        Some(description),
        Some(duration),
        Some(relay_state),
        Some(system_policies),
        Some(inline_policy),
    ) = (
        name,
        description,
        duration,
        relay_state,
        system_policies,
        inline_policy,
    )
    else {
        return Err(PermissionSetError::Invalid(Vec::new()));
    };
    let rec = PermissionSetRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.into_inner(),
        description: description.into_inner(),
        session_duration_secs: duration.secs(),
        relay_state,
        system_policies,
        inline_policy,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::PermissionSetCreate,
        "permission_set",
        Some(rec.id.clone()),
    );
    Ok(permission_set_dto(
        &store.create_permission_set(rec, ev).await?,
    ))
}

pub async fn update_permission_set(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    id: &str,
    req: UpdatePermissionSet,
) -> Result<PermissionSet, PermissionSetError> {
    let mut f = Faults::new();
    let description = req
        .description
        .as_deref()
        .map(|d| f.check("description", Description::parse(d)));
    let duration = req
        .session_duration_secs
        .map(|d| f.check("session_duration_secs", SessionDuration::parse(d)));
    let relay_state = req
        .relay_state
        .as_deref()
        .map(|r| optional_relay_state(&mut f, r));
    let system_policies = req
        .system_policies
        .as_deref()
        .map(|p| check_system_policies(&mut f, p));
    let inline_policy = req
        .inline_policy
        .as_deref()
        .map(|p| optional_inline_policy(&mut f, p));
    f.into_result().map_err(PermissionSetError::Invalid)?;
    let change = PermissionSetChange {
        description: description.flatten().map(Description::into_inner),
        session_duration_secs: duration.flatten().map(SessionDuration::secs),
        relay_state: relay_state.flatten(),
        system_policies: system_policies.flatten(),
        inline_policy: inline_policy.flatten(),
        at: now,
    };
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::PermissionSetUpdate,
        "permission_set",
        Some(id.to_string()),
    );
    let p = store
        .update_permission_set(id, change, ev)
        .await
        .map_err(|e| e.or_not_found(PermissionSetError::PermissionSetNotFound))?;
    Ok(permission_set_dto(&p))
}

/// Refused while assignments name the permission set (delete them first): a role that
/// people use must not vanish as a side effect.
pub async fn delete_permission_set(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    id: &str,
) -> Result<(), PermissionSetError> {
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::PermissionSetDelete,
        "permission_set",
        Some(id.to_string()),
    );
    match store
        .delete_permission_set(id, ev)
        .await
        .map_err(|e| e.or_not_found(PermissionSetError::PermissionSetNotFound))?
    {
        Deletion::Deleted => Ok(()),
        Deletion::InUse(n) => Err(PermissionSetError::StillAssigned(n)),
    }
}

pub async fn roles(
    store: &dyn Store,
    id: &str,
) -> Result<Vec<ProvisionedRole>, PermissionSetError> {
    let p = store
        .get_permission_set(id)
        .await
        .map_err(|e| e.or_not_found(PermissionSetError::PermissionSetNotFound))?;
    let roles = store.list_roles(id).await?;
    let providers = providers(store).await?;
    Ok(roles
        .iter()
        .map(|r| {
            role_dto(
                &p,
                r,
                providers.get(&r.account_id).copied().unwrap_or_default(),
            )
        })
        .collect())
}

/// Provisions the permission set's roles in the given accounts (default: every assigned
/// account) at its current version, recording each role's status before and after. A
/// `local` account's role is provisioned at once; a cloud's goes `provisioning` and is
/// worked on now (a crash or a slow cloud leaves it to the job, which finishes it), so the
/// answer says `provisioned`, `failed` (with the cloud's fault) or still `provisioning`.
pub async fn provision(
    env: crate::cloud::Env<'_>,
    now: Millis,
    ctx: &AuditCtx,
    id: &str,
    req: ProvisionRequest,
) -> Result<Vec<ProvisionedRole>, PermissionSetError> {
    let store = env.store;
    let p = store
        .get_permission_set(id)
        .await
        .map_err(|e| e.or_not_found(PermissionSetError::PermissionSetNotFound))?;
    if let Some(ids) = &req.account_ids {
        let mut f = Faults::new();
        for a in ids {
            f.check("account_ids", AccountId::parse(a));
        }
        f.into_result().map_err(PermissionSetError::Invalid)?;
    }
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::PermissionSetProvision,
        "permission_set",
        Some(id.to_string()),
    )
    .details(json!({ "permission_set": p.name, "role_name": role_name(&p.name) }));
    let ids: Option<Vec<String>> = req
        .account_ids
        .map(|v| v.iter().map(|a| a.trim().to_string()).collect());
    let marked = store
        .provision_roles(id, ids.as_deref(), now, ev)
        .await
        .map_err(|e| e.or_not_found(PermissionSetError::NotAssignedOnAccount))?;
    if marked.iter().any(|r| r.status == "provisioning") {
        crate::cloud::work::provision_pending(env, now).await?;
    }
    let p = store.get_permission_set(id).await?;
    let providers = providers(store).await?;
    let mut out = Vec::new();
    for r in &marked {
        let now_role = store.get_role(id, &r.account_id).await?;
        let provider = providers.get(&r.account_id).copied().unwrap_or_default();
        out.push(role_dto(&p, &now_role, provider));
    }
    Ok(out)
}

pub async fn create_assignment(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    req: CreateAssignment,
) -> Result<Assignment, PermissionSetError> {
    match req.principal_type {
        PrincipalType::User => store
            .get_user(&req.principal_id)
            .await
            .map(|_| ())
            .map_err(|e| e.or_not_found(PermissionSetError::UserNotFound))?,
        PrincipalType::Group => store
            .get_group(&req.principal_id)
            .await
            .map(|_| ())
            .map_err(|e| e.or_not_found(PermissionSetError::GroupNotFound))?,
    }
    store
        .get_account(&req.account_id)
        .await
        .map_err(|e| e.or_not_found(PermissionSetError::AccountNotFound))?;
    store
        .get_permission_set(&req.permission_set_id)
        .await
        .map_err(|e| e.or_not_found(PermissionSetError::PermissionSetNotFound))?;
    let rec = NewAssignmentRecord {
        id: uuid::Uuid::new_v4().to_string(),
        principal_type: req.principal_type.as_str().to_string(),
        principal_id: req.principal_id,
        account_id: req.account_id,
        permission_set_id: req.permission_set_id,
        created_at: now,
    };
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::AssignmentCreate,
        "assignment",
        Some(rec.id.clone()),
    );
    // A principal, account or permission set deleted since the checks above fails the
    // insert's foreign key (or leaves a dangling principal the directory's delete removes).
    Ok(assignment_dto(&store.create_assignment(rec, ev).await?))
}

pub async fn delete_assignment(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    id: &str,
) -> Result<(), PermissionSetError> {
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::AssignmentDelete,
        "assignment",
        Some(id.to_string()),
    );
    store
        .delete_assignment(id, ev)
        .await
        .map_err(|e| e.or_not_found(PermissionSetError::AssignmentNotFound))
}

/// Parses the list filter of `GET /api/v1/assignments`.
pub fn assignment_filter(
    account_id: Option<String>,
    permission_set_id: Option<String>,
    principal_type: Option<&str>,
    principal_id: Option<String>,
) -> Result<AssignmentFilter, PermissionSetError> {
    let principal_type = match principal_type {
        None | Some("") => None,
        Some(t) => match PrincipalType::parse(t) {
            Some(p) => Some(p.as_str().to_string()),
            None => {
                return Err(PermissionSetError::Invalid(vec![FieldError::new(
                    "principal_type",
                    "A principal type is user or group.",
                )]))
            }
        },
    };
    let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    Ok(AssignmentFilter {
        account_id: non_empty(account_id),
        permission_set_id: non_empty(permission_set_id),
        principal_type,
        principal_id: non_empty(principal_id),
    })
}
