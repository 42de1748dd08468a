//! The SQL of [`AccessStore`](super::AccessStore): written once, generic over the engine's
//! [`Dialect`], every change in [`SqlStore::audited_write`].

use crate::audit::NewEvent;
use crate::clock::Millis;
use crate::store::chain::Tx;
use crate::store::dialect::{Dialect, RowsAffected};
use crate::store::sql_store::{with_detail, with_images, SqlStore, Written};
use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::*;
use crate::store::{conflict_on_unique, StoreError, StoreResult};

const PS_COLS: &str =
    "id, name, description, session_duration_secs, relay_state, system_policies, inline_policy, \
     version, created_at, updated_at";

const ASSIGNMENT_SELECT: &str = "SELECT a.id, a.principal_type, a.principal_id, \
     COALESCE(u.username, g.name, '') AS principal_name, a.account_id, a.permission_set_id, p.name \
     AS permission_set_name, a.created_at FROM assignments a JOIN permission_sets p ON p.id = \
     a.permission_set_id LEFT JOIN users u ON a.principal_type = 'user' AND u.id = a.principal_id \
     LEFT JOIN user_groups g ON a.principal_type = 'group' AND g.id = a.principal_id";

pub(in crate::store) const ROLE_COLS: &str =
    "permission_set_id, account_id, status, provisioned_at, provisioned_version, created_at, \
     updated_at, target_version, fault, drift, checked_at";

pub(in crate::store) const ACCOUNT_COLS: &str =
    "id, name, environment, provider, site, region, created_at, updated_at";

/// Before roles are dropped: a role left without an assignment or an eligibility policy
/// in a cloud account, that may exist there, is queued for deletion in that cloud
/// (`$1`: now).
const QUEUE_CLOUD_REMOVALS_SQL: &str = "INSERT INTO cloud_role_removals (account_id, role_name, \
     created_at) SELECT r.account_id, 'GatehouseSSO-' || p.name, $1 FROM provisioned_roles r \
     JOIN accounts c ON c.id = r.account_id JOIN permission_sets p ON p.id = \
     r.permission_set_id WHERE c.provider <> 'local' AND r.status <> 'not_provisioned' AND NOT \
     EXISTS (SELECT 1 FROM assignments a WHERE a.permission_set_id = r.permission_set_id AND \
     a.account_id = r.account_id) AND NOT EXISTS (SELECT 1 FROM eligibility_policies e WHERE \
     (e.account_ids LIKE '%\"*\"%' OR e.account_ids LIKE ('%\"' || r.account_id || '\"%')) AND \
     (e.permission_set_ids LIKE '%\"*\"%' OR e.permission_set_ids LIKE ('%\"' || \
     r.permission_set_id || '\"%'))) ON CONFLICT (account_id, role_name) DO NOTHING";

/// A role exists only while its permission set is assigned in its account, or an
/// eligibility policy lets someone ask for it there (a grant must have a role to use).
const DROP_UNNEEDED_ROLES_SQL: &str = "DELETE FROM provisioned_roles WHERE NOT EXISTS (SELECT 1 \
     FROM assignments a WHERE a.permission_set_id = provisioned_roles.permission_set_id AND \
     a.account_id = provisioned_roles.account_id) AND NOT EXISTS (SELECT 1 FROM \
     eligibility_policies e WHERE (e.account_ids LIKE '%\"*\"%' OR e.account_ids LIKE ('%\"' || \
     provisioned_roles.account_id || '\"%')) AND (e.permission_set_ids LIKE '%\"*\"%' OR \
     e.permission_set_ids LIKE ('%\"' || provisioned_roles.permission_set_id || '\"%')))";

/// The roles eligibility policies need, not provisioned yet where they are new (`$1`:
/// now). A policy keeps its ids as a JSON array, `["*"]` for any.
const ADD_ELIGIBLE_ROLES_SQL: &str = "INSERT INTO provisioned_roles (permission_set_id, \
     account_id, status, created_at, updated_at) SELECT DISTINCT p.id, c.id, 'not_provisioned', \
     $1, $1 FROM eligibility_policies e JOIN accounts c ON (e.account_ids LIKE '%\"*\"%' OR \
     e.account_ids LIKE ('%\"' || c.id || '\"%')) JOIN permission_sets p ON \
     (e.permission_set_ids LIKE '%\"*\"%' OR e.permission_set_ids LIKE ('%\"' || p.id || \
     '\"%')) WHERE true ON CONFLICT (permission_set_id, account_id) DO NOTHING";

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
    pub(in crate::store) async fn account_in(
        tx: &mut Tx<D>,
        id: &str,
    ) -> StoreResult<AccountRecord> {
        sqlx::query_as::<_, AccountRecord>(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)
    }

    pub(in crate::store) async fn permission_set_in(
        tx: &mut Tx<D>,
        id: &str,
    ) -> StoreResult<PermissionSetRecord> {
        sqlx::query_as::<_, PermissionSetRecord>(&format!(
            "SELECT {PS_COLS} FROM permission_sets WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn assignment_in(tx: &mut Tx<D>, id: &str) -> StoreResult<AssignmentRecord> {
        sqlx::query_as::<_, AssignmentRecord>(&format!("{ASSIGNMENT_SELECT} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn roles_in(tx: &mut Tx<D>, permission_set_id: &str) -> StoreResult<Vec<RoleRecord>> {
        Ok(sqlx::query_as::<_, RoleRecord>(&format!(
            "SELECT {ROLE_COLS} FROM provisioned_roles WHERE permission_set_id = $1 ORDER BY \
             account_id"
        ))
        .bind(permission_set_id)
        .fetch_all(&mut **tx)
        .await?)
    }

    /// Removes a deleted user's or group's assignments, and the roles left without one.
    pub(in crate::store) async fn drop_assignments_of_in(
        tx: &mut Tx<D>,
        principal_type: &str,
        principal_id: &str,
        at: Millis,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM assignments WHERE principal_type = $1 AND principal_id = $2")
            .bind(principal_type)
            .bind(principal_id)
            .execute(&mut **tx)
            .await?;
        Self::drop_unassigned_roles_in(tx, at).await?;
        Ok(())
    }

    /// Adds the roles eligibility policies cover and no assignment made yet: after a
    /// policy is saved, and when an account or permission set a `*` may cover is made.
    pub(in crate::store) async fn add_eligible_roles_in(
        tx: &mut Tx<D>,
        at: Millis,
    ) -> StoreResult<()> {
        sqlx::query(ADD_ELIGIBLE_ROLES_SQL)
            .bind(at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Drops the roles no assignment or eligibility policy needs any more, queueing those a
    /// cloud holds for deletion there. Returns how many were dropped.
    pub(in crate::store) async fn drop_unassigned_roles_in(
        tx: &mut Tx<D>,
        at: Millis,
    ) -> StoreResult<u64> {
        sqlx::query(QUEUE_CLOUD_REMOVALS_SQL)
            .bind(at)
            .execute(&mut **tx)
            .await?;
        let dropped = sqlx::query(DROP_UNNEEDED_ROLES_SQL)
            .execute(&mut **tx)
            .await?;
        Ok(dropped.rows_affected())
    }
}

/// Accounts, permission sets, assignments and provisioned roles. Part of
/// [`Store`](super::Store).

#[async_trait]
impl<D: Dialect> AccessStore for SqlStore<D>
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
    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>> {
        Ok(sqlx::query_as::<_, AccountRecord>(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn get_account(&self, id: &str) -> StoreResult<AccountRecord> {
        sqlx::query_as::<_, AccountRecord>(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn create_account(
        &self,
        a: AccountRecord,
        event: NewEvent,
    ) -> StoreResult<AccountRecord> {
        self.audited_write(|mut tx| async move {
            sqlx::query(
                "INSERT INTO accounts (id, name, environment, provider, site, region, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&a.id)
            .bind(&a.name)
            .bind(&a.environment)
            .bind(&a.provider)
            .bind(&a.site)
            .bind(&a.region)
            .bind(a.created_at)
            .bind(a.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on_unique("an account with this ID"))?;
            Self::add_eligible_roles_in(&mut tx, a.created_at).await?;
            Ok((tx, Written::created(a, event)))
        })
        .await
    }

    async fn update_account(
        &self,
        id: &str,
        change: AccountChange,
        event: NewEvent,
    ) -> StoreResult<AccountRecord> {
        self.audited_write(|mut tx| async move {
            let before = Self::account_in(&mut tx, id).await?;
            if change
                .provider
                .as_ref()
                .is_some_and(|p| *p != before.provider)
            {
                let (live,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM provisioned_roles WHERE account_id = $1 AND status <> \
                     'not_provisioned'",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if live > 0 {
                    return Err(StoreError::Conflict(
                        "roles provisioned in this account (remove its assignments first)",
                    ));
                }
            }
            sqlx::query(
                "UPDATE accounts SET name = COALESCE($2, name), environment = COALESCE($3, \
                 environment), provider = COALESCE($4, provider), site = COALESCE($5, site), \
                 region = CASE WHEN $6 THEN $7 ELSE region END, updated_at = $8 WHERE id = $1",
            )
            .bind(id)
            .bind(&change.name)
            .bind(&change.environment)
            .bind(&change.provider)
            .bind(&change.site)
            .bind(change.region.is_some())
            .bind(change.region.clone().flatten())
            .bind(change.at)
            .execute(&mut *tx)
            .await?;
            let after = Self::account_in(&mut tx, id).await?;
            Ok((tx, Written::changed(&before, after, event)))
        })
        .await
    }

    async fn delete_account(&self, id: &str, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let before = Self::account_in(&mut tx, id).await?;
            sqlx::query("DELETE FROM accounts WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok((tx, Written::deleted(&before, event)))
        })
        .await
    }

    async fn list_permission_sets(&self) -> StoreResult<Vec<PermissionSetRecord>> {
        Ok(sqlx::query_as::<_, PermissionSetRecord>(&format!(
            "SELECT {PS_COLS} FROM permission_sets ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn get_permission_set(&self, id: &str) -> StoreResult<PermissionSetRecord> {
        sqlx::query_as::<_, PermissionSetRecord>(&format!(
            "SELECT {PS_COLS} FROM permission_sets WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn create_permission_set(
        &self,
        p: PermissionSetRecord,
        event: NewEvent,
    ) -> StoreResult<PermissionSetRecord> {
        self.audited_write(|mut tx| async move {
            sqlx::query(
                "INSERT INTO permission_sets (id, name, description, session_duration_secs, \
                 relay_state, system_policies, inline_policy, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&p.id)
            .bind(&p.name)
            .bind(&p.description)
            .bind(p.session_duration_secs)
            .bind(&p.relay_state)
            .bind(&p.system_policies)
            .bind(&p.inline_policy)
            .bind(p.version)
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on_unique("a permission set with this name"))?;
            Self::add_eligible_roles_in(&mut tx, p.created_at).await?;
            let created = Self::permission_set_in(&mut tx, &p.id).await?;
            Ok((tx, Written::created(created, event)))
        })
        .await
    }

    async fn update_permission_set(
        &self,
        id: &str,
        change: PermissionSetChange,
        event: NewEvent,
    ) -> StoreResult<PermissionSetRecord> {
        self.audited_write(|mut tx| async move {
            let before = Self::permission_set_in(&mut tx, id).await?;
            sqlx::query(
                "UPDATE permission_sets SET description = COALESCE($2, description), \
                 session_duration_secs = COALESCE($3, session_duration_secs), relay_state = CASE \
                 WHEN $4 THEN $5 ELSE relay_state END, system_policies = COALESCE($6, \
                 system_policies), inline_policy = CASE WHEN $7 THEN $8 ELSE inline_policy END, \
                 updated_at = $9 WHERE id = $1",
            )
            .bind(id)
            .bind(&change.description)
            .bind(change.session_duration_secs)
            .bind(change.relay_state.is_some())
            .bind(change.relay_state.clone().flatten())
            .bind(&change.system_policies)
            .bind(change.inline_policy.is_some())
            .bind(change.inline_policy.clone().flatten())
            .bind(change.at)
            .execute(&mut *tx)
            .await?;
            let mut after = Self::permission_set_in(&mut tx, id).await?;
            let mut marked: Vec<String> = Vec::new();
            if !before.same_content(&after) {
                sqlx::query("UPDATE permission_sets SET version = version + 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                marked = sqlx::query_as::<_, (String,)>(
                    "UPDATE provisioned_roles SET status = 'needs_reprovisioning', updated_at = $2 \
                     WHERE permission_set_id = $1 AND status IN ('provisioned', 'drifted') RETURNING \
                     account_id",
                )
                .bind(id)
                .bind(change.at)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(a,)| a)
                .collect();
                marked.sort();
                after = Self::permission_set_in(&mut tx, id).await?;
            }
            let ev = with_images(event, Some(before.audit_view()), Some(after.audit_view()));
            let ev = with_detail(
                ev,
                "roles_needing_reprovisioning",
                serde_json::json!(marked),
            );
            let event = ev;
            Ok((tx, Written::with(after, event)))
        })
        .await
    }

    async fn delete_permission_set(&self, id: &str, event: NewEvent) -> StoreResult<Deletion> {
        self.audited_write(|mut tx| async move {
            let before = Self::permission_set_in(&mut tx, id).await?;
            let (assigned,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM assignments WHERE permission_set_id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            if assigned > 0 {
                return Ok((tx, Written::unchanged(Deletion::InUse(assigned))));
            }
            // Roles an eligibility policy kept in a cloud go from that cloud too.
            sqlx::query(
                "INSERT INTO cloud_role_removals (account_id, role_name, created_at) SELECT \
                 r.account_id, 'GatehouseSSO-' || $2, $3 FROM provisioned_roles r JOIN accounts c \
                 ON c.id = r.account_id WHERE r.permission_set_id = $1 AND c.provider <> 'local' \
                 AND r.status <> 'not_provisioned' ON CONFLICT (account_id, role_name) DO NOTHING",
            )
            .bind(id)
            .bind(&before.name)
            .bind(event.occurred_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM provisioned_roles WHERE permission_set_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM permission_sets WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let event = with_images(event, Some(before.audit_view()), None);
            Ok((tx, Written::with(Deletion::Deleted, event)))
        })
        .await
    }

    async fn list_assignments(&self, f: &AssignmentFilter) -> StoreResult<Vec<AssignmentRecord>> {
        Ok(sqlx::query_as::<_, AssignmentRecord>(&format!(
            "{ASSIGNMENT_SELECT} WHERE ($1 IS NULL OR a.account_id = $1) AND ($2 IS NULL OR \
             a.permission_set_id = $2) AND ($3 IS NULL OR a.principal_type = $3) AND ($4 IS NULL \
             OR a.principal_id = $4) ORDER BY a.account_id, p.name, a.principal_type, \
             principal_name, a.id"
        ))
        .bind(&f.account_id)
        .bind(&f.permission_set_id)
        .bind(&f.principal_type)
        .bind(&f.principal_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn get_assignment(&self, id: &str) -> StoreResult<AssignmentRecord> {
        sqlx::query_as::<_, AssignmentRecord>(&format!("{ASSIGNMENT_SELECT} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn create_assignment(
        &self,
        a: NewAssignmentRecord,
        event: NewEvent,
    ) -> StoreResult<AssignmentRecord> {
        self.audited_write(|mut tx| async move {
            sqlx::query(
                "INSERT INTO assignments (id, principal_type, principal_id, account_id, \
                 permission_set_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&a.id)
            .bind(&a.principal_type)
            .bind(&a.principal_id)
            .bind(&a.account_id)
            .bind(&a.permission_set_id)
            .bind(a.created_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on_unique("this assignment"))?;
            let role = sqlx::query(
                "INSERT INTO provisioned_roles (permission_set_id, account_id, status, created_at, \
                 updated_at) VALUES ($1, $2, 'not_provisioned', $3, $3) ON CONFLICT \
                 (permission_set_id, account_id) DO NOTHING",
            )
            .bind(&a.permission_set_id)
            .bind(&a.account_id)
            .bind(a.created_at)
            .execute(&mut *tx)
            .await?;
            let created = Self::assignment_in(&mut tx, &a.id).await?;
            let ev = with_images(event, None, Some(created.audit_view()));
            let ev = with_detail(
                ev,
                "role_created",
                serde_json::json!(role.rows_affected() == 1),
            );
            let event = ev;
            Ok((tx, Written::with(created, event)))
        })
        .await
    }

    async fn delete_assignment(&self, id: &str, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let before = Self::assignment_in(&mut tx, id).await?;
            sqlx::query("DELETE FROM assignments WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let removed = Self::drop_unassigned_roles_in(&mut tx, event.occurred_at).await?;
            let ev = with_images(event, Some(before.audit_view()), None);
            let ev = with_detail(ev, "role_removed", serde_json::json!(removed > 0));
            let event = ev;
            Ok((tx, Written::with((), event)))
        })
        .await
    }

    async fn list_roles(&self, permission_set_id: &str) -> StoreResult<Vec<RoleRecord>> {
        Ok(sqlx::query_as::<_, RoleRecord>(&format!(
            "SELECT {ROLE_COLS} FROM provisioned_roles WHERE permission_set_id = $1 ORDER BY \
             account_id"
        ))
        .bind(permission_set_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn provision_roles(
        &self,
        permission_set_id: &str,
        account_ids: Option<&[String]>,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<Vec<RoleRecord>> {
        self.audited_write(|mut tx| async move {
            let ps = Self::permission_set_in(&mut tx, permission_set_id).await?;
            let roles = Self::roles_in(&mut tx, permission_set_id).await?;
            let targets: Vec<RoleRecord> = match account_ids {
                None => roles,
                Some(ids) => {
                    if ids
                        .iter()
                        .any(|id| !roles.iter().any(|r| &r.account_id == id))
                    {
                        return Err(StoreError::NotFound);
                    }
                    roles
                        .into_iter()
                        .filter(|r| ids.contains(&r.account_id))
                        .collect()
                }
            };
            for r in &targets {
                // Gatehouse's own STS needs nothing more; a cloud's role is `provisioning`
                // until the cloud has it (`CloudStore::finish_provisioning`).
                let local = Self::account_in(&mut tx, &r.account_id).await?.provider == "local";
                let sql = if local {
                    "UPDATE provisioned_roles SET status = 'provisioned', provisioned_at = $3, \
                     provisioned_version = $4, target_version = NULL, fault = NULL, drift = \
                     NULL, updated_at = $3 WHERE permission_set_id = $1 AND account_id = $2"
                } else {
                    "UPDATE provisioned_roles SET status = 'provisioning', target_version = $4, \
                     lease_until = NULL, fault = NULL, updated_at = $3 WHERE permission_set_id \
                     = $1 AND account_id = $2"
                };
                sqlx::query(sql)
                    .bind(permission_set_id)
                    .bind(&r.account_id)
                    .bind(at)
                    .bind(ps.version)
                    .execute(&mut *tx)
                    .await?;
            }
            let after: Vec<RoleRecord> = Self::roles_in(&mut tx, permission_set_id)
                .await?
                .into_iter()
                .filter(|r| targets.iter().any(|t| t.account_id == r.account_id))
                .collect();
            let images = |v: &[RoleRecord]| {
                serde_json::Value::Array(v.iter().map(RoleRecord::audit_view).collect())
            };
            let ev = with_images(event, Some(images(&targets)), Some(images(&after)));
            let ev = with_detail(ev, "version", serde_json::json!(ps.version));
            let event = ev;
            Ok((tx, Written::with(after, event)))
        })
        .await
    }
}
