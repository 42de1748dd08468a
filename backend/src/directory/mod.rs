//! The directory: users, groups (which carry Gatehouse roles), memberships, and the cloud
//! accounts access is granted to. Input is parsed into `shared::validate` types at the
//! edge; the rules that depend on data (no locking yourself out) live here.

pub mod routes;

use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::auth::{GroupRef, Role};
use gatehouse_shared::cloud::{AlibabaSite, Provider};
use gatehouse_shared::directory::{
    Account, CreateAccount, CreateGroup, CreateUser, Group, GroupMember, UpdateAccount,
    UpdateGroup, UpdateUser, User, UserSource,
};
use gatehouse_shared::error::FieldError;
use gatehouse_shared::validate::{
    AccountId, AccountName, DisplayName, Email, Environment, Faults, GroupName, Password, Region,
    Username,
};
use serde_json::json;
use zeroize::Zeroizing;

use crate::audit::{AuditCtx, NewEvent};
use crate::auth::sessions::CurrentSession;
use crate::auth::{password, AuthError};
use crate::clock::{to_datetime, Millis};
use crate::store::{
    AccountChange, AccountRecord, GroupChange, GroupRecord, NewGroupRecord, NewUserRecord, Store,
    StoreError, UserChange, UserRecord,
};

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    SelfLockout(&'static str),
    #[error("no such user")]
    UserNotFound,
    #[error("no such group")]
    GroupNotFound,
    #[error("no such account")]
    AccountNotFound,
    #[error("not a member")]
    NotAMember,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        DirectoryError::Store(e)
    }
}

pub fn roles_to_string(roles: &[Role]) -> String {
    let mut names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

pub fn user_dto(u: &UserRecord, groups: &[GroupRecord]) -> User {
    User {
        id: u.id.clone(),
        username: u.username.clone(),
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        source: UserSource::parse(&u.source).unwrap_or(UserSource::Local),
        disabled: u.disabled,
        totp_enrolled: u.totp_secret_enc.is_some(),
        groups: groups
            .iter()
            .map(|g| GroupRef {
                id: g.id.clone(),
                name: g.name.clone(),
            })
            .collect(),
        created_at: to_datetime(u.created_at),
        updated_at: to_datetime(u.updated_at),
    }
}

pub fn group_dto(g: &GroupRecord) -> Group {
    Group {
        id: g.id.clone(),
        name: g.name.clone(),
        description: g.description.clone(),
        roles: g.roles.split(',').filter_map(Role::parse).collect(),
        idp_managed: g.idp_managed,
        member_count: g.member_count,
        created_at: to_datetime(g.created_at),
        updated_at: to_datetime(g.updated_at),
    }
}

pub fn account_dto(a: &AccountRecord) -> Account {
    Account {
        id: a.id.clone(),
        name: a.name.clone(),
        environment: a.environment.clone(),
        provider: Provider::parse(&a.provider).unwrap_or_default(),
        site: AlibabaSite::parse(&a.site).unwrap_or_default(),
        region: a.region.clone(),
        created_at: to_datetime(a.created_at),
        updated_at: to_datetime(a.updated_at),
    }
}

pub fn member_dto(u: &UserRecord) -> GroupMember {
    GroupMember {
        user_id: u.id.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub async fn user_with_groups(store: &dyn Store, u: UserRecord) -> Result<User, DirectoryError> {
    let groups = store.groups_of_user(&u.id).await?;
    Ok(user_dto(&u, &groups))
}

pub async fn create_user(
    store: &dyn Store,
    hashing: &password::Hashing,
    now: Millis,
    ctx: &AuditCtx,
    req: CreateUser,
) -> Result<User, DirectoryError> {
    let mut f = Faults::new();
    let username = f.check("username", Username::parse(&req.username));
    let email = f.check("email", Email::parse(&req.email));
    let display_name = f.check("display_name", DisplayName::parse(&req.display_name));
    let password = match &req.password {
        Some(p) => f.check("password", Password::parse(p)).map(Some),
        None => Some(None),
    };
    f.into_result().map_err(DirectoryError::Invalid)?;
    let (Some(username), Some(email), Some(display_name), Some(password)) =
        (username, email, display_name, password)
    else {
        return Err(DirectoryError::Invalid(Vec::new()));
    };
    let password_hash = match password {
        Some(p) => Some(password::hash(hashing, Zeroizing::new(p.into_inner())).await?),
        None => None,
    };
    let id = new_id();
    let rec = NewUserRecord {
        id: id.clone(),
        username: username.into_inner(),
        email: email.into_inner(),
        display_name: display_name.into_inner(),
        source: UserSource::Local.as_str().into(),
        password_hash,
        created_at: now,
    };
    let ev = NewEvent::new(now, ctx, AuditAction::DirectoryUserCreate, "user", Some(id));
    let created = store.create_user(rec, ev).await?;
    Ok(user_dto(&created, &[]))
}

pub async fn update_user(
    store: &dyn Store,
    hashing: &password::Hashing,
    now: Millis,
    who: &CurrentSession,
    id: &str,
    req: UpdateUser,
) -> Result<User, DirectoryError> {
    let mut f = Faults::new();
    let email = req
        .email
        .as_deref()
        .map(|e| f.check("email", Email::parse(e)));
    let display_name = req
        .display_name
        .as_deref()
        .map(|d| f.check("display_name", DisplayName::parse(d)));
    let password = req
        .password
        .as_deref()
        .map(|p| f.check("password", Password::parse(p)));
    f.into_result().map_err(DirectoryError::Invalid)?;
    if req.disabled == Some(true) && id == who.user.id {
        return Err(DirectoryError::SelfLockout(
            "You cannot disable your own account.",
        ));
    }
    let password_hash = match password.flatten() {
        Some(p) => Some(password::hash(hashing, Zeroizing::new(p.into_inner())).await?),
        None => None,
    };
    let change = UserChange {
        email: email.flatten().map(Email::into_inner),
        display_name: display_name.flatten().map(DisplayName::into_inner),
        disabled: req.disabled,
        password_hash,
        at: now,
    };
    let mut ev = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::DirectoryUserUpdate,
        "user",
        Some(id.to_string()),
    );
    if change.password_hash.is_some() {
        ev = ev.details(json!({ "password_changed": true }));
    }
    let updated = store
        .update_user(id, change, ev)
        .await
        .map_err(|e| e.or_not_found(DirectoryError::UserNotFound))?;
    user_with_groups(store, updated).await
}

pub async fn delete_user(
    store: &dyn Store,
    now: Millis,
    who: &CurrentSession,
    id: &str,
) -> Result<(), DirectoryError> {
    if id == who.user.id {
        return Err(DirectoryError::SelfLockout(
            "You cannot delete your own account.",
        ));
    }
    let ev = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::DirectoryUserDelete,
        "user",
        Some(id.to_string()),
    );
    store
        .delete_user(id, ev)
        .await
        .map_err(|e| e.or_not_found(DirectoryError::UserNotFound))
}

pub async fn create_group(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    req: CreateGroup,
) -> Result<Group, DirectoryError> {
    let mut f = Faults::new();
    let name = f.check("name", GroupName::parse(&req.name));
    if req.description.chars().count() > 1024 {
        f.push("description", "A description has at most 1,024 characters.");
    }
    f.into_result().map_err(DirectoryError::Invalid)?;
    let Some(name) = name else {
        return Err(DirectoryError::Invalid(Vec::new()));
    };
    let id = new_id();
    let rec = NewGroupRecord {
        id: id.clone(),
        name: name.into_inner(),
        description: req.description.trim().to_string(),
        roles: roles_to_string(&req.roles),
        created_at: now,
    };
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::DirectoryGroupCreate,
        "group",
        Some(id),
    );
    Ok(group_dto(&store.create_group(rec, ev).await?))
}

pub async fn update_group(
    store: &dyn Store,
    now: Millis,
    who: &CurrentSession,
    id: &str,
    req: UpdateGroup,
) -> Result<Group, DirectoryError> {
    if req
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1024)
    {
        return Err(DirectoryError::Invalid(vec![FieldError::new(
            "description",
            "A description has at most 1,024 characters.",
        )]));
    }
    if let Some(roles) = &req.roles {
        let is_member = who.groups.iter().any(|g| g.id == id);
        let group_gives_admin = who
            .groups
            .iter()
            .any(|g| g.id == id && g.roles.contains(Role::Administrator.as_str()));
        let admin_elsewhere = who
            .groups
            .iter()
            .any(|g| g.id != id && g.roles.contains(Role::Administrator.as_str()));
        if is_member
            && group_gives_admin
            && !admin_elsewhere
            && !roles.contains(&Role::Administrator)
        {
            return Err(DirectoryError::SelfLockout(
                "This would remove your own administrator role. Another administrator must do it.",
            ));
        }
    }
    let change = GroupChange {
        description: req.description.map(|d| d.trim().to_string()),
        roles: req.roles.as_deref().map(roles_to_string),
        idp_managed: req.idp_managed,
        at: now,
    };
    let ev = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::DirectoryGroupUpdate,
        "group",
        Some(id.to_string()),
    );
    let g = store
        .update_group(id, change, ev)
        .await
        .map_err(|e| e.or_not_found(DirectoryError::GroupNotFound))?;
    Ok(group_dto(&g))
}

fn only_admin_source(who: &CurrentSession, group_id: &str) -> bool {
    let gives = |g: &GroupRecord| g.roles.contains(Role::Administrator.as_str());
    who.groups.iter().any(|g| g.id == group_id && gives(g))
        && !who.groups.iter().any(|g| g.id != group_id && gives(g))
}

pub async fn delete_group(
    store: &dyn Store,
    now: Millis,
    who: &CurrentSession,
    id: &str,
) -> Result<(), DirectoryError> {
    if only_admin_source(who, id) {
        return Err(DirectoryError::SelfLockout(
            "This group is where your administrator role comes from. Another administrator must delete it.",
        ));
    }
    let ev = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::DirectoryGroupDelete,
        "group",
        Some(id.to_string()),
    );
    store
        .delete_group(id, ev)
        .await
        .map_err(|e| e.or_not_found(DirectoryError::GroupNotFound))
}

pub async fn add_member(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    group_id: &str,
    user_id: &str,
) -> Result<(), DirectoryError> {
    let group = store
        .get_group(group_id)
        .await
        .map_err(|e| e.or_not_found(DirectoryError::GroupNotFound))?;
    let user = store
        .get_user(user_id)
        .await
        .map_err(|e| e.or_not_found(DirectoryError::UserNotFound))?;
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::DirectoryGroupMemberAdd,
        "group",
        Some(group_id.to_string()),
    )
    .details(json!({ "group": group.name, "user_id": user.id, "username": user.username }));
    store.add_member(group_id, user_id, now, ev).await?;
    Ok(())
}

pub async fn remove_member(
    store: &dyn Store,
    now: Millis,
    who: &CurrentSession,
    group_id: &str,
    user_id: &str,
) -> Result<(), DirectoryError> {
    if user_id == who.user.id && only_admin_source(who, group_id) {
        return Err(DirectoryError::SelfLockout(
            "This would remove your own administrator role. Another administrator must do it.",
        ));
    }
    let group = store
        .get_group(group_id)
        .await
        .map_err(|e| e.or_not_found(DirectoryError::GroupNotFound))?;
    let username = store.get_user(user_id).await.map(|u| u.username).ok();
    let ev = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::DirectoryGroupMemberRemove,
        "group",
        Some(group_id.to_string()),
    )
    .details(json!({ "group": group.name, "user_id": user_id, "username": username }));
    store
        .remove_member(group_id, user_id, ev)
        .await
        .map_err(|e| e.or_not_found(DirectoryError::NotAMember))
}

pub async fn create_account(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    req: CreateAccount,
) -> Result<Account, DirectoryError> {
    let mut f = Faults::new();
    // Each provider's own length: 12 digits for AWS, 16 for Alibaba Cloud and local.
    let id = f.check("id", AccountId::parse_for(&req.id, req.provider));
    let name = f.check("name", AccountName::parse(&req.name));
    let env = f.check("environment", Environment::parse(&req.environment));
    let region = req
        .region
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .map(|r| f.check("region", Region::parse(r)));
    f.into_result().map_err(DirectoryError::Invalid)?;
    let (Some(id), Some(name), Some(env)) = (id, name, env) else {
        return Err(DirectoryError::Invalid(Vec::new()));
    };
    let rec = AccountRecord {
        id: id.into_inner(),
        name: name.into_inner(),
        environment: env.into_inner(),
        provider: req.provider.as_str().to_string(),
        site: req.site.as_str().to_string(),
        region: region.flatten().map(Region::into_inner),
        created_at: now,
        updated_at: now,
    };
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::DirectoryAccountCreate,
        "account",
        Some(rec.id.clone()),
    );
    Ok(account_dto(&store.create_account(rec, ev).await?))
}

pub async fn update_account(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    id: &str,
    req: UpdateAccount,
) -> Result<Account, DirectoryError> {
    let mut f = Faults::new();
    if let Some(p) = req.provider {
        // The ID stays: the new provider must be one whose IDs look like it.
        f.check("provider", AccountId::parse_for(id, p));
    }
    let name = req
        .name
        .as_deref()
        .map(|n| f.check("name", AccountName::parse(n)));
    let env = req
        .environment
        .as_deref()
        .map(|e| f.check("environment", Environment::parse(e)));
    // An empty region clears it.
    let region = req.region.as_deref().map(|r| {
        (!r.trim().is_empty())
            .then(|| f.check("region", Region::parse(r)))
            .flatten()
            .map(Region::into_inner)
    });
    f.into_result().map_err(DirectoryError::Invalid)?;
    let change = AccountChange {
        name: name.flatten().map(AccountName::into_inner),
        environment: env.flatten().map(Environment::into_inner),
        provider: req.provider.map(|p| p.as_str().to_string()),
        site: req.site.map(|s| s.as_str().to_string()),
        region,
        at: now,
    };
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::DirectoryAccountUpdate,
        "account",
        Some(id.to_string()),
    );
    let a = store
        .update_account(id, change, ev)
        .await
        .map_err(|e| e.or_not_found(DirectoryError::AccountNotFound))?;
    Ok(account_dto(&a))
}

pub async fn delete_account(
    store: &dyn Store,
    now: Millis,
    ctx: &AuditCtx,
    id: &str,
) -> Result<(), DirectoryError> {
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::DirectoryAccountDelete,
        "account",
        Some(id.to_string()),
    );
    store
        .delete_account(id, ev)
        .await
        .map_err(|e| e.or_not_found(DirectoryError::AccountNotFound))
}
