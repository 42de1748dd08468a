//! Access policies as one set of domain operations over their two kinds: eligibility (who
//! may ask for what, for how long) and approval (who approves, how many). Each write is
//! checked field by field, its references resolved (a missing account, permission set,
//! user or group is a fault on the field that named it), and stored with its audit event.

use async_trait::async_trait;
use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::error::FieldError;
use gatehouse_shared::requests::{
    check_approval_policy, check_eligibility_policy, ApprovalPolicy, ApprovalPolicyInput,
    EligibilityPolicy, EligibilityPolicyInput, PrincipalKind, ANY,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use super::RequestError;
use crate::audit::{AuditCtx, NewEvent};
use crate::clock::{to_datetime, Millis};
use crate::store::{ApprovalPolicyRecord, EligibilityPolicyRecord, Store, StoreError, StoreResult};

/// The ids a policy names, each list with the input field a missing id is reported on.
/// Account and permission-set lists may hold `*` (any), which names nothing.
pub struct References<'a> {
    pub accounts: (&'static str, &'a [String]),
    pub permission_sets: (&'static str, &'a [String]),
    pub users: (&'static str, &'a [String]),
    pub groups: (&'static str, &'a [String]),
}

/// What differs between the two kinds of access policy; the operations below are the same.
#[async_trait]
pub trait AccessPolicyKind: Send + Sync + 'static {
    type Input: DeserializeOwned + Send + Sync + 'static;
    type Record: Send + Sync + 'static;
    type Policy: Serialize + Send + 'static;
    /// The audit trail's target type.
    const TARGET: &'static str;
    const CREATED: AuditAction;
    const UPDATED: AuditAction;
    const DELETED: AuditAction;

    /// Faults in the input alone (shared with the SPA, which shows them before sending).
    fn check(input: &Self::Input) -> Vec<FieldError>;
    fn references(input: &Self::Input) -> References<'_>;
    fn record(id: String, input: &Self::Input, created_at: Millis, now: Millis) -> Self::Record;
    fn created_at(record: &Self::Record) -> Millis;
    fn policy(record: &Self::Record) -> Self::Policy;

    async fn list(store: &dyn Store) -> StoreResult<Vec<Self::Record>>;
    async fn get(store: &dyn Store, id: &str) -> StoreResult<Self::Record>;
    async fn put(
        store: &dyn Store,
        record: Self::Record,
        create: bool,
        event: NewEvent,
    ) -> StoreResult<Self::Record>;
    async fn delete(store: &dyn Store, id: &str, event: NewEvent) -> StoreResult<()>;
    /// Why `record` cannot work as the directory stands now.
    async fn warnings(store: &dyn Store, record: &Self::Record) -> StoreResult<Vec<String>>;
    fn set_warnings(policy: &mut Self::Policy, warnings: Vec<String>);
}

/// The policy `record` reads as, with its warnings.
async fn read<K: AccessPolicyKind>(
    store: &dyn Store,
    record: &K::Record,
) -> StoreResult<K::Policy> {
    let mut policy = K::policy(record);
    K::set_warnings(&mut policy, K::warnings(store, record).await?);
    Ok(policy)
}

pub async fn list<K: AccessPolicyKind>(store: &dyn Store) -> Result<Vec<K::Policy>, RequestError> {
    let mut out = Vec::new();
    for record in K::list(store).await? {
        out.push(read::<K>(store, &record).await?);
    }
    Ok(out)
}

pub async fn get<K: AccessPolicyKind>(
    store: &dyn Store,
    id: &str,
) -> Result<K::Policy, RequestError> {
    let record = K::get(store, id)
        .await
        .map_err(|e| e.or_not_found(RequestError::PolicyNotFound))?;
    Ok(read::<K>(store, &record).await?)
}

/// Creates a policy after checking it and every id it names.
pub async fn create<K: AccessPolicyKind>(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    input: &K::Input,
) -> Result<K::Policy, RequestError> {
    let id = uuid::Uuid::new_v4().to_string();
    let record = checked_record::<K>(store, id.clone(), input, now, now).await?;
    let event = NewEvent::new(now, ctx, K::CREATED, K::TARGET, Some(id));
    let saved = K::put(store, record, true, event).await?;
    Ok(read::<K>(store, &saved).await?)
}

/// Replaces policy `id` (keeping when it was created) after the same checks as [`create`].
pub async fn update<K: AccessPolicyKind>(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    id: &str,
    input: &K::Input,
) -> Result<K::Policy, RequestError> {
    let old = K::get(store, id)
        .await
        .map_err(|e| e.or_not_found(RequestError::PolicyNotFound))?;
    let record =
        checked_record::<K>(store, id.to_string(), input, K::created_at(&old), now).await?;
    let event = NewEvent::new(now, ctx, K::UPDATED, K::TARGET, Some(id.to_string()));
    let saved = K::put(store, record, false, event).await?;
    Ok(read::<K>(store, &saved).await?)
}

pub async fn delete<K: AccessPolicyKind>(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    id: &str,
) -> Result<(), RequestError> {
    let event = NewEvent::new(now, ctx, K::DELETED, K::TARGET, Some(id.to_string()));
    K::delete(store, id, event)
        .await
        .map_err(|e| e.or_not_found(RequestError::PolicyNotFound))
}

async fn checked_record<K: AccessPolicyKind>(
    store: &dyn Store,
    id: String,
    input: &K::Input,
    created_at: Millis,
    now: Millis,
) -> Result<K::Record, RequestError> {
    let faults = K::check(input);
    if !faults.is_empty() {
        return Err(RequestError::Invalid(faults));
    }
    let faults = missing_references(store, &K::references(input)).await?;
    if !faults.is_empty() {
        return Err(RequestError::Invalid(faults));
    }
    Ok(K::record(id, input, created_at, now))
}

/// A fault for every id that names nothing, in the order accounts, permission sets, users,
/// groups.
async fn missing_references(
    store: &dyn Store,
    refs: &References<'_>,
) -> Result<Vec<FieldError>, StoreError> {
    fn missing(
        found: StoreResult<()>,
        field: &'static str,
        what: &str,
        id: &str,
        faults: &mut Vec<FieldError>,
    ) -> StoreResult<()> {
        match found {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => {
                faults.push(FieldError::new(field, format!("No {what} with ID {id}.")));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
    let mut faults = Vec::new();
    let (field, ids) = refs.accounts;
    for id in ids.iter().filter(|id| *id != ANY) {
        let found = store.get_account(id).await.map(drop);
        missing(found, field, "account", id, &mut faults)?;
    }
    let (field, ids) = refs.permission_sets;
    for id in ids.iter().filter(|id| *id != ANY) {
        let found = store.get_permission_set(id).await.map(drop);
        missing(found, field, "permission set", id, &mut faults)?;
    }
    let (field, ids) = refs.users;
    for id in ids {
        let found = store.get_user(id).await.map(drop);
        missing(found, field, "user", id, &mut faults)?;
    }
    let (field, ids) = refs.groups;
    for id in ids {
        let found = store.get_group(id).await.map(drop);
        missing(found, field, "group", id, &mut faults)?;
    }
    Ok(faults)
}

/// Eligibility policies: who may ask for which permission sets on which accounts.
pub struct EligibilityPolicies;

#[async_trait]
impl AccessPolicyKind for EligibilityPolicies {
    type Input = EligibilityPolicyInput;
    type Record = EligibilityPolicyRecord;
    type Policy = EligibilityPolicy;
    const TARGET: &'static str = "eligibility_policy";
    const CREATED: AuditAction = AuditAction::EligibilityPolicyCreate;
    const UPDATED: AuditAction = AuditAction::EligibilityPolicyUpdate;
    const DELETED: AuditAction = AuditAction::EligibilityPolicyDelete;

    fn check(input: &EligibilityPolicyInput) -> Vec<FieldError> {
        check_eligibility_policy(input)
    }

    fn references(input: &EligibilityPolicyInput) -> References<'_> {
        let principal = std::slice::from_ref(&input.principal_id);
        let (users, groups): (&[String], &[String]) = match input.principal_type {
            PrincipalKind::User => (principal, &[]),
            PrincipalKind::Group => (&[], principal),
        };
        References {
            accounts: ("account_ids", &input.account_ids),
            permission_sets: ("permission_set_ids", &input.permission_set_ids),
            users: ("principal_id", users),
            groups: ("principal_id", groups),
        }
    }

    fn record(
        id: String,
        input: &EligibilityPolicyInput,
        created_at: Millis,
        now: Millis,
    ) -> EligibilityPolicyRecord {
        EligibilityPolicyRecord {
            id,
            name: input.name.trim().to_string(),
            principal_type: input.principal_type.as_str().into(),
            principal_id: input.principal_id.clone(),
            account_ids: json!(input.account_ids).to_string(),
            permission_set_ids: json!(input.permission_set_ids).to_string(),
            max_duration_secs: input.max_duration_secs,
            approval_required: input.approval_required,
            justification_required: input.justification_required,
            ticket_required: input.ticket_required,
            principal_name: String::new(),
            created_at,
            updated_at: now,
        }
    }

    fn created_at(record: &EligibilityPolicyRecord) -> Millis {
        record.created_at
    }

    fn policy(r: &EligibilityPolicyRecord) -> EligibilityPolicy {
        EligibilityPolicy {
            id: r.id.clone(),
            input: EligibilityPolicyInput {
                name: r.name.clone(),
                principal_type: PrincipalKind::parse(&r.principal_type)
                    .unwrap_or(PrincipalKind::User),
                principal_id: r.principal_id.clone(),
                account_ids: serde_json::from_str(&r.account_ids).unwrap_or_default(),
                permission_set_ids: serde_json::from_str(&r.permission_set_ids).unwrap_or_default(),
                max_duration_secs: r.max_duration_secs,
                approval_required: r.approval_required,
                justification_required: r.justification_required,
                ticket_required: r.ticket_required,
            },
            principal_name: r.principal_name.clone(),
            updated_at: to_datetime(r.updated_at),
            warnings: Vec::new(),
        }
    }

    async fn list(store: &dyn Store) -> StoreResult<Vec<EligibilityPolicyRecord>> {
        store.list_eligibility_policies().await
    }

    async fn get(store: &dyn Store, id: &str) -> StoreResult<EligibilityPolicyRecord> {
        store.get_eligibility_policy(id).await
    }

    async fn put(
        store: &dyn Store,
        record: EligibilityPolicyRecord,
        create: bool,
        event: NewEvent,
    ) -> StoreResult<EligibilityPolicyRecord> {
        store.put_eligibility_policy(record, create, event).await
    }

    async fn delete(store: &dyn Store, id: &str, event: NewEvent) -> StoreResult<()> {
        store.delete_eligibility_policy(id, event).await
    }

    /// Roles it names that are not provisioned: a grant of them could not be used.
    async fn warnings(store: &dyn Store, r: &EligibilityPolicyRecord) -> StoreResult<Vec<String>> {
        let sets: Vec<String> = serde_json::from_str(&r.permission_set_ids).unwrap_or_default();
        let accounts: Vec<String> = serde_json::from_str(&r.account_ids).unwrap_or_default();
        let mut waiting = Vec::new();
        for set in sets.iter().filter(|s| *s != ANY) {
            for role in store.list_roles(set).await? {
                let covered = accounts.iter().any(|a| a == ANY || *a == role.account_id);
                if covered && role.status == "not_provisioned" {
                    let name = match store.get_permission_set(set).await {
                        Ok(p) => p.name,
                        Err(StoreError::NotFound) => continue,
                        Err(e) => return Err(e),
                    };
                    waiting.push(format!("{name} in {}", role.account_id));
                }
            }
        }
        Ok(if waiting.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "Not provisioned yet: {}. A grant cannot be used until its role is provisioned on the permission set's page.",
                waiting.join(", ")
            )]
        })
    }

    fn set_warnings(policy: &mut EligibilityPolicy, warnings: Vec<String>) {
        policy.warnings = warnings;
    }
}

/// Approval policies: who approves requests for a permission set on an account, and how.
pub struct ApprovalPolicies;

#[async_trait]
impl AccessPolicyKind for ApprovalPolicies {
    type Input = ApprovalPolicyInput;
    type Record = ApprovalPolicyRecord;
    type Policy = ApprovalPolicy;
    const TARGET: &'static str = "approval_policy";
    const CREATED: AuditAction = AuditAction::ApprovalPolicyCreate;
    const UPDATED: AuditAction = AuditAction::ApprovalPolicyUpdate;
    const DELETED: AuditAction = AuditAction::ApprovalPolicyDelete;

    fn check(input: &ApprovalPolicyInput) -> Vec<FieldError> {
        check_approval_policy(input)
    }

    fn references(input: &ApprovalPolicyInput) -> References<'_> {
        References {
            accounts: ("account_id", std::slice::from_ref(&input.account_id)),
            permission_sets: (
                "permission_set_id",
                std::slice::from_ref(&input.permission_set_id),
            ),
            users: ("approver_user_ids", &input.approver_user_ids),
            groups: ("approver_group_ids", &input.approver_group_ids),
        }
    }

    fn record(
        id: String,
        input: &ApprovalPolicyInput,
        created_at: Millis,
        now: Millis,
    ) -> ApprovalPolicyRecord {
        ApprovalPolicyRecord {
            id,
            name: input.name.trim().to_string(),
            account_id: input.account_id.clone(),
            permission_set_id: input.permission_set_id.clone(),
            approver_group_ids: json!(input.approver_group_ids).to_string(),
            approver_user_ids: json!(input.approver_user_ids).to_string(),
            approvals_needed: input.approvals_needed,
            rejections_to_end: input.rejections_to_end,
            mfa_required: input.mfa_required,
            pending_lifetime_secs: input.pending_lifetime_secs,
            created_at,
            updated_at: now,
        }
    }

    fn created_at(record: &ApprovalPolicyRecord) -> Millis {
        record.created_at
    }

    fn policy(r: &ApprovalPolicyRecord) -> ApprovalPolicy {
        ApprovalPolicy {
            id: r.id.clone(),
            input: ApprovalPolicyInput {
                name: r.name.clone(),
                account_id: r.account_id.clone(),
                permission_set_id: r.permission_set_id.clone(),
                approver_group_ids: serde_json::from_str(&r.approver_group_ids).unwrap_or_default(),
                approver_user_ids: serde_json::from_str(&r.approver_user_ids).unwrap_or_default(),
                approvals_needed: r.approvals_needed,
                rejections_to_end: r.rejections_to_end,
                mfa_required: r.mfa_required,
                pending_lifetime_secs: r.pending_lifetime_secs,
            },
            updated_at: to_datetime(r.updated_at),
            warnings: Vec::new(),
        }
    }

    async fn list(store: &dyn Store) -> StoreResult<Vec<ApprovalPolicyRecord>> {
        store.list_approval_policies().await
    }

    async fn get(store: &dyn Store, id: &str) -> StoreResult<ApprovalPolicyRecord> {
        store.get_approval_policy(id).await
    }

    async fn put(
        store: &dyn Store,
        record: ApprovalPolicyRecord,
        create: bool,
        event: NewEvent,
    ) -> StoreResult<ApprovalPolicyRecord> {
        store.put_approval_policy(record, create, event).await
    }

    async fn delete(store: &dyn Store, id: &str, event: NewEvent) -> StoreResult<()> {
        store.delete_approval_policy(id, event).await
    }

    /// More approvals needed than there are people who could give them, and approvers
    /// without an authenticator under a policy that demands a fresh MFA check.
    async fn warnings(store: &dyn Store, r: &ApprovalPolicyRecord) -> StoreResult<Vec<String>> {
        let groups: Vec<String> = serde_json::from_str(&r.approver_group_ids).unwrap_or_default();
        let users: Vec<String> = serde_json::from_str(&r.approver_user_ids).unwrap_or_default();
        let mut people = std::collections::BTreeMap::new();
        for g in &groups {
            match store.list_members(g).await {
                Ok(members) => people.extend(members.into_iter().map(|u| (u.id.clone(), u))),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        for u in &users {
            match store.get_user(u).await {
                Ok(user) => {
                    people.insert(user.id.clone(), user);
                }
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        people.retain(|_, u| !u.disabled);
        let mut out = Vec::new();
        let n = i64::try_from(people.len()).unwrap_or(i64::MAX);
        if n < r.approvals_needed {
            out.push(format!(
                "{} can approve, but {} approvals are needed: no request could ever be approved. Add approvers or lower the number.",
                match n {
                    0 => "No one".to_string(),
                    1 => "Only 1 person".to_string(),
                    n => format!("Only {n} people"),
                },
                r.approvals_needed
            ));
        }
        if r.mfa_required {
            let mut without: Vec<&str> = people
                .values()
                .filter(|u| u.totp_secret_enc.is_none() && u.source == "local")
                .map(|u| u.username.as_str())
                .collect();
            without.sort_unstable();
            if !without.is_empty() {
                out.push(format!(
                    "A fresh MFA check is required, but {} {} no authenticator: they cannot approve until they enrol one under My account.",
                    without.join(", "),
                    if without.len() == 1 { "has" } else { "have" }
                ));
            }
        }
        Ok(out)
    }

    fn set_warnings(policy: &mut ApprovalPolicy, warnings: Vec<String>) {
        policy.warnings = warnings;
    }
}
