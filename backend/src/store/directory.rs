//! The directory: users (with their TOTP enrolment), groups and their members, and the
//! first administrator. Records are in [`super::records`].

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::assembled::Assembled;
use super::chain::Tx;
use super::dialect::{Dialect, RowsAffected};
use super::sql_store::{SqlStore, Written};
use super::{conflict_on_unique, RevocationRecord, StoreError, StoreResult};
use crate::audit::NewEvent;
use crate::clock::Millis;
use crate::store::sql_store::AuditView;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub source: String,
    pub disabled: bool,
    pub password_hash: Option<String>,
    pub totp_secret_enc: Option<String>,
    pub totp_pending_enc: Option<String>,
    pub totp_last_step: Option<i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl AuditView for UserRecord {
    /// What the audit trail may show of a user: no hashes, no seeds.
    fn audit_view(&self) -> Value {
        json!({
            "username": self.username,
            "email": self.email,
            "display_name": self.display_name,
            "source": self.source,
            "disabled": self.disabled,
            "password_set": self.password_hash.is_some(),
            "totp_enrolled": self.totp_secret_enc.is_some(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewUserRecord {
    pub id: String,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub source: String,
    pub password_hash: Option<String>,
    pub created_at: Millis,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Comma-separated role names.
    pub roles: String,
    /// An IdP's groups claim may add members even if the group confers a privilege.
    pub idp_managed: bool,
    pub member_count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl AuditView for GroupRecord {
    fn audit_view(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "roles": self.roles,
            "idp_managed": self.idp_managed,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewGroupRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub roles: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Default)]
pub struct GroupChange {
    pub description: Option<String>,
    pub roles: Option<String>,
    pub idp_managed: Option<bool>,
    pub at: Millis,
}

pub(super) const USER_COLS: &str =
    "id, username, email, display_name, source, disabled, password_hash, totp_secret_enc, \
     totp_pending_enc, totp_last_step, created_at, updated_at";

const GROUP_COLS: &str = "g.id, g.name, g.description, g.roles, g.idp_managed, (SELECT \
     COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count, g.created_at, \
     g.updated_at";

/// Whether membership of `g` confers a privilege: a Gatehouse role, a place among the
/// approvers of an approval policy, or root-credential custody (a vault entry's custodian
/// group, or the custodian group a pending or open break-glass request was made under).
const GROUP_PRIVILEGED: &str = "(g.roles <> '' OR EXISTS (SELECT 1 FROM approval_policies p \
     WHERE p.approver_group_ids LIKE '%\"' || g.id || '\"%') OR EXISTS (SELECT 1 FROM \
     vault_entries v WHERE v.password_group_id = g.id OR v.mfa_group_id = g.id) OR EXISTS \
     (SELECT 1 FROM breakglass_requests r WHERE r.status IN ('pending', 'approved') AND \
     (r.password_group_id = g.id OR r.mfa_group_id = g.id)))";

impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'q> String: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> &'q str: Encode<'q, D> + Type<D> + ColumnIndex<D::Row>,
    for<'q> i64: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> bool: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> Option<String>: Encode<'q, D>,
    for<'q> Option<i64>: Encode<'q, D>,
    for<'q> Option<bool>: Encode<'q, D>,
    usize: ColumnIndex<D::Row>,
{
    pub(super) async fn user_in(tx: &mut Tx<D>, id: &str) -> StoreResult<UserRecord> {
        sqlx::query_as::<_, UserRecord>(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub(super) async fn group_in(tx: &mut Tx<D>, id: &str) -> StoreResult<GroupRecord> {
        sqlx::query_as::<_, GroupRecord>(&format!(
            "SELECT {GROUP_COLS} FROM user_groups g WHERE g.id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)
    }

    pub(super) async fn insert_user_in(tx: &mut Tx<D>, u: &NewUserRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, username, email, display_name, source, disabled, \
             password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&u.id)
        .bind(&u.username)
        .bind(&u.email)
        .bind(&u.display_name)
        .bind(&u.source)
        .bind(false)
        .bind(&u.password_hash)
        .bind(u.created_at)
        .execute(&mut **tx)
        .await
        .map_err(conflict_on_unique("a user with this username"))?;
        Ok(())
    }

    pub(super) async fn insert_group_in(tx: &mut Tx<D>, g: &NewGroupRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_groups (id, name, description, roles, created_at, updated_at) VALUES \
             ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(&g.roles)
        .bind(g.created_at)
        .execute(&mut **tx)
        .await
        .map_err(conflict_on_unique("a group with this name"))?;
        Ok(())
    }
}

/// Users, groups and memberships. Part of [`Store`](super::Store).
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Creates the first administrator (user, `gatehouse-admins` group, membership) if the
    /// directory has no users. Returns `false` when users already exist.
    async fn bootstrap_admin(
        &self,
        user: NewUserRecord,
        group: NewGroupRecord,
        event: NewEvent,
    ) -> StoreResult<bool>;

    async fn list_users(&self, query: Option<&str>) -> StoreResult<Vec<UserRecord>>;
    async fn get_user(&self, id: &str) -> StoreResult<UserRecord>;
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    async fn create_user(&self, user: NewUserRecord, event: NewEvent) -> StoreResult<UserRecord>;
    /// Applies `change`; the event's details get `before` and `after` images (no secrets).
    async fn update_user(
        &self,
        id: &str,
        change: UserChange,
        event: NewEvent,
    ) -> StoreResult<UserRecord>;
    async fn delete_user(&self, id: &str, event: NewEvent) -> StoreResult<()>;
    async fn groups_of_user(&self, user_id: &str) -> StoreResult<Vec<GroupRecord>>;
    /// Sets a user's own new password hash and ends every session of theirs but `keep`.
    async fn change_own_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: &str,
        event: NewEvent,
    ) -> StoreResult<()>;

    async fn set_totp_pending(
        &self,
        user_id: &str,
        sealed: &str,
        event: NewEvent,
    ) -> StoreResult<()>;
    /// Makes the pending secret the active one and records `step` as used.
    async fn confirm_totp(
        &self,
        user_id: &str,
        sealed: &str,
        step: i64,
        event: NewEvent,
    ) -> StoreResult<()>;
    /// Records a used time step; `false` if it (or a later one) was already used: a replay.
    async fn use_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool>;

    async fn list_groups(&self) -> StoreResult<Vec<GroupRecord>>;
    async fn get_group(&self, id: &str) -> StoreResult<GroupRecord>;
    async fn create_group(
        &self,
        group: NewGroupRecord,
        event: NewEvent,
    ) -> StoreResult<GroupRecord>;
    async fn update_group(
        &self,
        id: &str,
        change: GroupChange,
        event: NewEvent,
    ) -> StoreResult<GroupRecord>;
    async fn delete_group(&self, id: &str, event: NewEvent) -> StoreResult<()>;
    /// The groups named `names` or with an ID in `ids`, for an identity provider's group
    /// sync: `(id, name, idp_managed, privileged)`, where `privileged` says membership gives
    /// a Gatehouse role, approves access requests or holds root-credential custody.
    async fn groups_for_idp(
        &self,
        names: &[String],
        ids: &[String],
    ) -> StoreResult<Vec<(String, String, bool, bool)>>;
    async fn list_members(&self, group_id: &str) -> StoreResult<Vec<UserRecord>>;
    /// Idempotent: adding a member twice is not an error and records no second event.
    async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<()>;
    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
        event: NewEvent,
    ) -> StoreResult<()>;
}

#[async_trait]
impl<D: Dialect> DirectoryStore for SqlStore<D>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'q> String: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> &'q str: Encode<'q, D> + Type<D> + ColumnIndex<D::Row>,
    for<'q> i64: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> bool: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> Option<String>: Encode<'q, D>,
    for<'q> Option<i64>: Encode<'q, D>,
    for<'q> Option<bool>: Encode<'q, D>,
    usize: ColumnIndex<D::Row>,
{
    async fn bootstrap_admin(
        &self,
        user: NewUserRecord,
        group: NewGroupRecord,
        event: NewEvent,
    ) -> StoreResult<bool> {
        self.audited_write(|mut tx| async move {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
                .fetch_one(&mut *tx)
                .await?;
            if n > 0 {
                return Ok((tx, Written::unchanged(false)));
            }
            match Self::insert_user_in(&mut tx, &user).await {
                Ok(()) => {}
                // Another instance bootstrapped at the same moment.
                Err(StoreError::Conflict(_)) => return Ok((tx, Written::unchanged(false))),
                Err(e) => return Err(e),
            }
            let existing: Option<(String,)> =
                sqlx::query_as("SELECT id FROM user_groups WHERE name = $1")
                    .bind(&group.name)
                    .fetch_optional(&mut *tx)
                    .await?;
            let group_id = match existing {
                Some((id,)) => id,
                None => {
                    Self::insert_group_in(&mut tx, &group).await?;
                    group.id.clone()
                }
            };
            sqlx::query(
                "INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3)",
            )
            .bind(&group_id)
            .bind(&user.id)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await?;
            let event = event;
            Ok((tx, Written::with(true, event)))
        })
        .await
    }

    async fn list_users(&self, query: Option<&str>) -> StoreResult<Vec<UserRecord>> {
        let pattern = query.map(|q| format!("%{}%", q.to_lowercase()));
        Ok(sqlx::query_as::<_, UserRecord>(&format!(
            "SELECT {USER_COLS} FROM users WHERE ($1 IS NULL OR LOWER(username) LIKE $1 OR \
             LOWER(email) LIKE $1 OR LOWER(display_name) LIKE $1) ORDER BY username"
        ))
        .bind(pattern)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn get_user(&self, id: &str) -> StoreResult<UserRecord> {
        sqlx::query_as::<_, UserRecord>(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        Ok(sqlx::query_as::<_, UserRecord>(&format!(
            "SELECT {USER_COLS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn create_user(&self, user: NewUserRecord, event: NewEvent) -> StoreResult<UserRecord> {
        self.audited_write(|mut tx| async move {
            Self::insert_user_in(&mut tx, &user).await?;
            let created = Self::user_in(&mut tx, &user.id).await?;
            Ok((tx, Written::created(created, event)))
        })
        .await
    }

    async fn update_user(
        &self,
        id: &str,
        change: UserChange,
        event: NewEvent,
    ) -> StoreResult<UserRecord> {
        self.audited_write(|mut tx| async move {
            let before = Self::user_in(&mut tx, id).await?;
            sqlx::query(
                "UPDATE users SET email = COALESCE($2, email), display_name = COALESCE($3, \
                 display_name), disabled = COALESCE($4, disabled), password_hash = COALESCE($5, \
                 password_hash), updated_at = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(&change.email)
            .bind(&change.display_name)
            .bind(change.disabled)
            .bind(&change.password_hash)
            .bind(change.at)
            .execute(&mut *tx)
            .await?;
            if change.disabled == Some(true) {
                // A disabled user's sessions and STS credentials end now, not at their expiry.
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                Self::revoke_user_in(&mut tx, &RevocationRecord::for_user(id, change.at)).await?;
            }
            if change.password_hash.is_some() {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            let after = Self::user_in(&mut tx, id).await?;
            Ok((tx, Written::changed(&before, after, event)))
        })
        .await
    }

    async fn delete_user(&self, id: &str, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let before = Self::user_in(&mut tx, id).await?;
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Self::drop_assignments_of_in(&mut tx, "user", id, event.occurred_at).await?;
            Self::revoke_user_in(&mut tx, &RevocationRecord::for_user(id, event.occurred_at))
                .await?;
            Ok((tx, Written::deleted(&before, event)))
        })
        .await
    }

    async fn groups_of_user(&self, user_id: &str) -> StoreResult<Vec<GroupRecord>> {
        Ok(sqlx::query_as::<_, GroupRecord>(&format!(
            "SELECT {GROUP_COLS} FROM user_groups g JOIN group_members gm ON gm.group_id = g.id \
             WHERE gm.user_id = $1 ORDER BY g.name"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn change_own_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: &str,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let r =
                sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(user_id)
                    .bind(password_hash)
                    .bind(event.occurred_at)
                    .execute(&mut *tx)
                    .await?;
            if r.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
                .bind(user_id)
                .bind(keep)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let ev = event.details(serde_json::json!({ "other_sessions_ended": ended }));
            let event = ev;
            Ok((tx, Written::with((), event)))
        })
        .await
    }

    async fn set_totp_pending(
        &self,
        user_id: &str,
        sealed: &str,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let r = sqlx::query(
                "UPDATE users SET totp_pending_enc = $2, updated_at = $3 WHERE id = $1",
            )
            .bind(user_id)
            .bind(sealed)
            .bind(event.occurred_at)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let event = event;
            Ok((tx, Written::with((), event)))
        })
        .await
    }

    async fn confirm_totp(
        &self,
        user_id: &str,
        sealed: &str,
        step: i64,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let r = sqlx::query(
                "UPDATE users SET totp_secret_enc = $2, totp_pending_enc = NULL, totp_last_step = \
                 $3, updated_at = $4 WHERE id = $1",
            )
            .bind(user_id)
            .bind(sealed)
            .bind(step)
            .bind(event.occurred_at)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let event = event;
            Ok((tx, Written::with((), event)))
        })
        .await
    }

    async fn use_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
        let _gate = self.write_gate().await;
        let r = sqlx::query(
            "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR \
             totp_last_step < $2)",
        )
        .bind(user_id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn list_groups(&self) -> StoreResult<Vec<GroupRecord>> {
        Ok(sqlx::query_as::<_, GroupRecord>(&format!(
            "SELECT {GROUP_COLS} FROM user_groups g ORDER BY g.name"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn get_group(&self, id: &str) -> StoreResult<GroupRecord> {
        sqlx::query_as::<_, GroupRecord>(&format!(
            "SELECT {GROUP_COLS} FROM user_groups g WHERE g.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn create_group(
        &self,
        group: NewGroupRecord,
        event: NewEvent,
    ) -> StoreResult<GroupRecord> {
        self.audited_write(|mut tx| async move {
            Self::insert_group_in(&mut tx, &group).await?;
            let created = Self::group_in(&mut tx, &group.id).await?;
            Ok((tx, Written::created(created, event)))
        })
        .await
    }

    async fn update_group(
        &self,
        id: &str,
        change: GroupChange,
        event: NewEvent,
    ) -> StoreResult<GroupRecord> {
        self.audited_write(|mut tx| async move {
            let before = Self::group_in(&mut tx, id).await?;
            sqlx::query(
                "UPDATE user_groups SET description = COALESCE($2, description), roles = \
                 COALESCE($3, roles), updated_at = $4, idp_managed = COALESCE($5, idp_managed) \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(&change.description)
            .bind(&change.roles)
            .bind(change.at)
            .bind(change.idp_managed)
            .execute(&mut *tx)
            .await?;
            let after = Self::group_in(&mut tx, id).await?;
            Ok((tx, Written::changed(&before, after, event)))
        })
        .await
    }

    async fn delete_group(&self, id: &str, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let before = Self::group_in(&mut tx, id).await?;
            sqlx::query("DELETE FROM user_groups WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Self::drop_assignments_of_in(&mut tx, "group", id, event.occurred_at).await?;
            Ok((tx, Written::deleted(&before, event)))
        })
        .await
    }

    async fn groups_for_idp(
        &self,
        names: &[String],
        ids: &[String],
    ) -> StoreResult<Vec<(String, String, bool, bool)>> {
        if names.is_empty() && ids.is_empty() {
            return Ok(Vec::new());
        }
        // An empty list is `IN (NULL)`: true for no row.
        let list = |q: &mut Assembled<'_, D>, values: &[String]| {
            if values.is_empty() {
                q.push("NULL");
            }
            let mut sep = q.separated(", ");
            for v in values {
                sep.bind(v.clone());
            }
        };
        let mut q = Assembled::<D>::new(format!(
            "SELECT g.id, g.name, g.idp_managed, {GROUP_PRIVILEGED} AS privileged FROM \
             user_groups g WHERE g.name IN ("
        ));
        list(&mut q, names);
        q.push(") OR g.id IN (");
        list(&mut q, ids);
        q.push(")");
        let (sql, args) = q.finish()?;
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn list_members(&self, group_id: &str) -> StoreResult<Vec<UserRecord>> {
        let _ = self.get_group(group_id).await?;
        Ok(sqlx::query_as::<_, UserRecord>(
            "SELECT u.id, u.username, u.email, u.display_name, u.source, u.disabled, \
             u.password_hash, u.totp_secret_enc, u.totp_pending_enc, u.totp_last_step, \
             u.created_at, u.updated_at FROM users u JOIN group_members gm ON gm.user_id = u.id \
             WHERE gm.group_id = $1 ORDER BY u.username",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let mut events: Vec<NewEvent> = Vec::new();
            Self::group_in(&mut tx, group_id).await?;
            Self::user_in(&mut tx, user_id).await?;
            let r = sqlx::query(
                "INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3) ON \
                 CONFLICT (group_id, user_id) DO NOTHING",
            )
            .bind(group_id)
            .bind(user_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 1 {
                events.push(event);
            }
            Ok((tx, Written::with_all((), events)))
        })
        .await
    }

    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let r = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
                .bind(group_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if r.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let event = event;
            Ok((tx, Written::with((), event)))
        })
        .await
    }
}
