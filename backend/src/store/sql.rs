//! The SQL of [`Store`](super::Store), written once and instantiated for each engine's
//! pool type by `sql_store!`. Both engines accept this dialect: `$n` placeholders,
//! `RETURNING`, `ON CONFLICT`, integers for times, and booleans bound from Rust `bool`.
//!
//! The audit chain's order comes from one row, `audit_head`, which a trigger moves with every
//! inserted event and which refuses an event that does not extend it exactly. Transactions
//! that change data lock the head first (`HEAD_LOCK_SQL`: `FOR UPDATE` on PostgreSQL, the
//! write gate on SQLite) and append after it; a standalone event is one optimistic INSERT
//! from the head this process last saw, retried if another writer got there first. Either
//! way the chain never forks, on any number of instances.

macro_rules! sql_store {
    ($store:ty, $db:ty, $engine:literal) => {
        const USER_COLS: &str = "id, username, email, display_name, source, disabled, password_hash, \
             totp_secret_enc, totp_pending_enc, totp_last_step, created_at, updated_at";
        const GROUP_COLS: &str = "g.id, g.name, g.description, g.roles, \
             (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count, \
             g.created_at, g.updated_at";
        const EVENT_COLS: &str = "seq, occurred_at, actor_id, actor_name, source_ip, user_agent, action, \
             target_type, target_id, outcome, reason, details, prev_hash, hash";

        const PS_COLS: &str = "id, name, description, session_duration_secs, relay_state, system_policies, \
             inline_policy, version, created_at, updated_at";
        const ASSIGNMENT_SELECT: &str = "SELECT a.id, a.principal_type, a.principal_id, \
             COALESCE(u.username, g.name, '') AS principal_name, a.account_id, a.permission_set_id, \
             p.name AS permission_set_name, a.created_at FROM assignments a \
             JOIN permission_sets p ON p.id = a.permission_set_id \
             LEFT JOIN users u ON a.principal_type = 'user' AND u.id = a.principal_id \
             LEFT JOIN user_groups g ON a.principal_type = 'group' AND g.id = a.principal_id";
        const ROLE_COLS: &str = "permission_set_id, account_id, status, provisioned_at, provisioned_version, \
             created_at, updated_at";
        /// A role exists only while its permission set has an assignment in its account.
        const DROP_UNASSIGNED_ROLES_SQL: &str = "DELETE FROM provisioned_roles WHERE NOT EXISTS \
             (SELECT 1 FROM assignments a WHERE a.permission_set_id = provisioned_roles.permission_set_id \
             AND a.account_id = provisioned_roles.account_id)";

        type Tx = sqlx::Transaction<'static, $db>;

        fn with_detail(mut ev: NewEvent, key: &str, value: serde_json::Value) -> NewEvent {
            if let serde_json::Value::Object(map) = &mut ev.details {
                map.insert(key.into(), value);
            }
            ev
        }

        fn with_images(mut ev: NewEvent, before: Option<serde_json::Value>, after: Option<serde_json::Value>) -> NewEvent {
            if let serde_json::Value::Object(map) = &mut ev.details {
                if let Some(b) = before {
                    map.insert("before".into(), b);
                }
                if let Some(a) = after {
                    map.insert("after".into(), a);
                }
            }
            ev
        }

        impl $store {
            /// A new session for `user_id` inside `tx`, replacing the browser's previous one.
            async fn insert_session_in(
                tx: &mut Tx,
                s: &SessionRecord,
                user_id: &str,
                replaces: Option<&str>,
            ) -> StoreResult<()> {
                if let Some(old) = replaces {
                    sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(old).execute(&mut **tx).await?;
                }
                sqlx::query(
                    "INSERT INTO sessions (id_hash, user_id, csrf_token, auth_method, idp_mfa, mfa_at, created_at, \
                     last_seen_at, expires_at, source_ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&s.id_hash)
                .bind(user_id)
                .bind(&s.csrf_token)
                .bind(&s.auth_method)
                .bind(s.idp_mfa)
                .bind(s.mfa_at)
                .bind(s.created_at)
                .bind(s.last_seen_at)
                .bind(s.expires_at)
                .bind(&s.source_ip)
                .bind(&s.user_agent)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn user_in(tx: &mut Tx, id: &str) -> StoreResult<UserRecord> {
                sqlx::query_as::<_, UserRecord>(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or(StoreError::NotFound)
            }

            async fn group_in(tx: &mut Tx, id: &str) -> StoreResult<GroupRecord> {
                sqlx::query_as::<_, GroupRecord>(&format!("SELECT {GROUP_COLS} FROM user_groups g WHERE g.id = $1"))
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or(StoreError::NotFound)
            }

            async fn account_in(tx: &mut Tx, id: &str) -> StoreResult<AccountRecord> {
                sqlx::query_as::<_, AccountRecord>(
                    "SELECT id, name, environment, created_at, updated_at FROM accounts WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound)
            }

            async fn permission_set_in(tx: &mut Tx, id: &str) -> StoreResult<PermissionSetRecord> {
                sqlx::query_as::<_, PermissionSetRecord>(&format!("SELECT {PS_COLS} FROM permission_sets WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or(StoreError::NotFound)
            }

            async fn assignment_in(tx: &mut Tx, id: &str) -> StoreResult<AssignmentRecord> {
                sqlx::query_as::<_, AssignmentRecord>(&format!("{ASSIGNMENT_SELECT} WHERE a.id = $1"))
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or(StoreError::NotFound)
            }

            async fn roles_in(tx: &mut Tx, permission_set_id: &str) -> StoreResult<Vec<RoleRecord>> {
                Ok(sqlx::query_as::<_, RoleRecord>(&format!(
                    "SELECT {ROLE_COLS} FROM provisioned_roles WHERE permission_set_id = $1 ORDER BY account_id"
                ))
                .bind(permission_set_id)
                .fetch_all(&mut **tx)
                .await?)
            }

            /// Removes a deleted user's or group's assignments, and the roles left without one.
            async fn drop_assignments_of_in(tx: &mut Tx, principal_type: &str, principal_id: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM assignments WHERE principal_type = $1 AND principal_id = $2")
                    .bind(principal_type)
                    .bind(principal_id)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query(DROP_UNASSIGNED_ROLES_SQL).execute(&mut **tx).await?;
                Ok(())
            }

            async fn insert_user_in(tx: &mut Tx, u: &NewUserRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO users (id, username, email, display_name, source, disabled, password_hash, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
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

            async fn insert_group_in(tx: &mut Tx, g: &NewGroupRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO user_groups (id, name, description, roles, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
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

        #[async_trait]
        impl Store for $store {
            fn engine(&self) -> &'static str {
                $engine
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            fn audit_signer(&self) -> &AuditSigner {
                &self.signer
            }

            async fn bootstrap_admin(&self, user: NewUserRecord, group: NewGroupRecord, event: NewEvent) -> StoreResult<bool> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await?;
                if n > 0 {
                    return Ok(false);
                }
                match Self::insert_user_in(&mut tx, &user).await {
                    Ok(()) => {}
                    // Another instance bootstrapped at the same moment.
                    Err(StoreError::Conflict(_)) => return Ok(false),
                    Err(e) => return Err(e),
                }
                let existing: Option<(String,)> = sqlx::query_as("SELECT id FROM user_groups WHERE name = $1")
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
                sqlx::query("INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3)")
                    .bind(&group_id)
                    .bind(&user.id)
                    .bind(user.created_at)
                    .execute(&mut *tx)
                    .await?;
                Self::append_in(&mut tx, &self.signer, event).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn list_users(&self, query: Option<&str>) -> StoreResult<Vec<UserRecord>> {
                let pattern = query.map(|q| format!("%{}%", q.to_lowercase()));
                Ok(sqlx::query_as::<_, UserRecord>(&format!(
                    "SELECT {USER_COLS} FROM users WHERE ($1 IS NULL OR LOWER(username) LIKE $1 \
                     OR LOWER(email) LIKE $1 OR LOWER(display_name) LIKE $1) ORDER BY username"
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
                Ok(sqlx::query_as::<_, UserRecord>(&format!("SELECT {USER_COLS} FROM users WHERE username = $1"))
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn create_user(&self, user: NewUserRecord, event: NewEvent) -> StoreResult<UserRecord> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                Self::insert_user_in(&mut tx, &user).await?;
                let created = Self::user_in(&mut tx, &user.id).await?;
                Self::append_in(&mut tx, &self.signer, with_images(event, None, Some(created.audit_view()))).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn update_user(&self, id: &str, change: UserChange, event: NewEvent) -> StoreResult<UserRecord> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let before = Self::user_in(&mut tx, id).await?;
                sqlx::query(
                    "UPDATE users SET email = COALESCE($2, email), display_name = COALESCE($3, display_name), \
                     disabled = COALESCE($4, disabled), password_hash = COALESCE($5, password_hash), \
                     updated_at = $6 WHERE id = $1",
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
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
                    Self::revoke_user_in(&mut tx, &RevocationRecord::for_user(id, change.at)).await?;
                }
                if change.password_hash.is_some() {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
                }
                let after = Self::user_in(&mut tx, id).await?;
                Self::append_in(&mut tx, &self.signer, with_images(event, Some(before.audit_view()), Some(after.audit_view()))).await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn delete_user(&self, id: &str, event: NewEvent) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let before = Self::user_in(&mut tx, id).await?;
                sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
                Self::drop_assignments_of_in(&mut tx, "user", id).await?;
                Self::revoke_user_in(&mut tx, &RevocationRecord::for_user(id, event.occurred_at)).await?;
                Self::append_in(&mut tx, &self.signer, with_images(event, Some(before.audit_view()), None)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn change_own_password(
                &self,
                user_id: &str,
                password_hash: &str,
                keep: &str,
                event: NewEvent,
            ) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let r = sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
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
                Self::append_in(&mut tx, &self.signer, ev).await?;
                tx.commit().await?;
                Ok(())
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

            async fn set_totp_pending(&self, user_id: &str, sealed: &str, event: NewEvent) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let r = sqlx::query("UPDATE users SET totp_pending_enc = $2, updated_at = $3 WHERE id = $1")
                    .bind(user_id)
                    .bind(sealed)
                    .bind(event.occurred_at)
                    .execute(&mut *tx)
                    .await?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Self::append_in(&mut tx, &self.signer, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn confirm_totp(&self, user_id: &str, sealed: &str, step: i64, event: NewEvent) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let r = sqlx::query(
                    "UPDATE users SET totp_secret_enc = $2, totp_pending_enc = NULL, totp_last_step = $3, \
                     updated_at = $4 WHERE id = $1",
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
                Self::append_in(&mut tx, &self.signer, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn use_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
                let _gate = self.write_gate().await;
                let r = sqlx::query(
                    "UPDATE users SET totp_last_step = $2 WHERE id = $1 \
                     AND (totp_last_step IS NULL OR totp_last_step < $2)",
                )
                .bind(user_id)
                .bind(step)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn list_groups(&self) -> StoreResult<Vec<GroupRecord>> {
                Ok(sqlx::query_as::<_, GroupRecord>(&format!("SELECT {GROUP_COLS} FROM user_groups g ORDER BY g.name"))
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn get_group(&self, id: &str) -> StoreResult<GroupRecord> {
                sqlx::query_as::<_, GroupRecord>(&format!("SELECT {GROUP_COLS} FROM user_groups g WHERE g.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)
            }

            async fn create_group(&self, group: NewGroupRecord, event: NewEvent) -> StoreResult<GroupRecord> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                Self::insert_group_in(&mut tx, &group).await?;
                let created = Self::group_in(&mut tx, &group.id).await?;
                Self::append_in(&mut tx, &self.signer, with_images(event, None, Some(created.audit_view()))).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn update_group(&self, id: &str, change: GroupChange, event: NewEvent) -> StoreResult<GroupRecord> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let before = Self::group_in(&mut tx, id).await?;
                sqlx::query(
                    "UPDATE user_groups SET description = COALESCE($2, description), roles = COALESCE($3, roles), \
                     updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(&change.description)
                .bind(&change.roles)
                .bind(change.at)
                .execute(&mut *tx)
                .await?;
                let after = Self::group_in(&mut tx, id).await?;
                Self::append_in(&mut tx, &self.signer, with_images(event, Some(before.audit_view()), Some(after.audit_view()))).await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn delete_group(&self, id: &str, event: NewEvent) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let before = Self::group_in(&mut tx, id).await?;
                sqlx::query("DELETE FROM user_groups WHERE id = $1").bind(id).execute(&mut *tx).await?;
                Self::drop_assignments_of_in(&mut tx, "group", id).await?;
                Self::append_in(&mut tx, &self.signer, with_images(event, Some(before.audit_view()), None)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_members(&self, group_id: &str) -> StoreResult<Vec<UserRecord>> {
                let _ = self.get_group(group_id).await?;
                Ok(sqlx::query_as::<_, UserRecord>(
                    "SELECT u.id, u.username, u.email, u.display_name, u.source, u.disabled, u.password_hash, \
                     u.totp_secret_enc, u.totp_pending_enc, u.totp_last_step, u.created_at, u.updated_at \
                     FROM users u JOIN group_members gm ON gm.user_id = u.id \
                     WHERE gm.group_id = $1 ORDER BY u.username",
                )
                .bind(group_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn add_member(&self, group_id: &str, user_id: &str, at: Millis, event: NewEvent) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                Self::group_in(&mut tx, group_id).await?;
                Self::user_in(&mut tx, user_id).await?;
                let r = sqlx::query(
                    "INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (group_id, user_id) DO NOTHING",
                )
                .bind(group_id)
                .bind(user_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() == 1 {
                    Self::append_in(&mut tx, &self.signer, event).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn remove_member(&self, group_id: &str, user_id: &str, event: NewEvent) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let r = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
                    .bind(group_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Self::append_in(&mut tx, &self.signer, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>> {
                Ok(sqlx::query_as::<_, AccountRecord>(
                    "SELECT id, name, environment, created_at, updated_at FROM accounts ORDER BY name, id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn get_account(&self, id: &str) -> StoreResult<AccountRecord> {
                sqlx::query_as::<_, AccountRecord>(
                    "SELECT id, name, environment, created_at, updated_at FROM accounts WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)
            }

            async fn create_account(&self, a: AccountRecord, event: NewEvent) -> StoreResult<AccountRecord> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO accounts (id, name, environment, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&a.id)
                .bind(&a.name)
                .bind(&a.environment)
                .bind(a.created_at)
                .bind(a.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(conflict_on_unique("an account with this ID"))?;
                Self::append_in(&mut tx, &self.signer, with_images(event, None, Some(a.audit_view()))).await?;
                tx.commit().await?;
                Ok(a)
            }

            async fn update_account(&self, id: &str, change: AccountChange, event: NewEvent) -> StoreResult<AccountRecord> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let before = Self::account_in(&mut tx, id).await?;
                sqlx::query(
                    "UPDATE accounts SET name = COALESCE($2, name), environment = COALESCE($3, environment), \
                     updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(&change.name)
                .bind(&change.environment)
                .bind(change.at)
                .execute(&mut *tx)
                .await?;
                let after = Self::account_in(&mut tx, id).await?;
                Self::append_in(&mut tx, &self.signer, with_images(event, Some(before.audit_view()), Some(after.audit_view()))).await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn delete_account(&self, id: &str, event: NewEvent) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let before = Self::account_in(&mut tx, id).await?;
                sqlx::query("DELETE FROM accounts WHERE id = $1").bind(id).execute(&mut *tx).await?;
                Self::append_in(&mut tx, &self.signer, with_images(event, Some(before.audit_view()), None)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_permission_sets(&self) -> StoreResult<Vec<PermissionSetRecord>> {
                Ok(sqlx::query_as::<_, PermissionSetRecord>(&format!("SELECT {PS_COLS} FROM permission_sets ORDER BY name"))
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn get_permission_set(&self, id: &str) -> StoreResult<PermissionSetRecord> {
                sqlx::query_as::<_, PermissionSetRecord>(&format!("SELECT {PS_COLS} FROM permission_sets WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)
            }

            async fn create_permission_set(&self, p: PermissionSetRecord, event: NewEvent) -> StoreResult<PermissionSetRecord> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO permission_sets (id, name, description, session_duration_secs, relay_state, \
                     system_policies, inline_policy, version, created_at, updated_at) \
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
                let created = Self::permission_set_in(&mut tx, &p.id).await?;
                Self::append_in(&mut tx, &self.signer, with_images(event, None, Some(created.audit_view()))).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn update_permission_set(&self, id: &str, change: PermissionSetChange, event: NewEvent) -> StoreResult<PermissionSetRecord> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let before = Self::permission_set_in(&mut tx, id).await?;
                sqlx::query(
                    "UPDATE permission_sets SET description = COALESCE($2, description), \
                     session_duration_secs = COALESCE($3, session_duration_secs), \
                     relay_state = CASE WHEN $4 THEN $5 ELSE relay_state END, \
                     system_policies = COALESCE($6, system_policies), \
                     inline_policy = CASE WHEN $7 THEN $8 ELSE inline_policy END, \
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
                         WHERE permission_set_id = $1 AND status = 'provisioned' RETURNING account_id",
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
                let ev = with_detail(ev, "roles_needing_reprovisioning", serde_json::json!(marked));
                Self::append_in(&mut tx, &self.signer, ev).await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn delete_permission_set(&self, id: &str, event: NewEvent) -> StoreResult<Deletion> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let before = Self::permission_set_in(&mut tx, id).await?;
                let (assigned,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM assignments WHERE permission_set_id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                if assigned > 0 {
                    return Ok(Deletion::InUse(assigned));
                }
                sqlx::query("DELETE FROM provisioned_roles WHERE permission_set_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM permission_sets WHERE id = $1").bind(id).execute(&mut *tx).await?;
                Self::append_in(&mut tx, &self.signer, with_images(event, Some(before.audit_view()), None)).await?;
                tx.commit().await?;
                Ok(Deletion::Deleted)
            }

            async fn list_assignments(&self, f: &AssignmentFilter) -> StoreResult<Vec<AssignmentRecord>> {
                Ok(sqlx::query_as::<_, AssignmentRecord>(&format!(
                    "{ASSIGNMENT_SELECT} WHERE ($1 IS NULL OR a.account_id = $1) \
                     AND ($2 IS NULL OR a.permission_set_id = $2) \
                     AND ($3 IS NULL OR a.principal_type = $3) \
                     AND ($4 IS NULL OR a.principal_id = $4) \
                     ORDER BY a.account_id, p.name, a.principal_type, principal_name, a.id"
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

            async fn create_assignment(&self, a: NewAssignmentRecord, event: NewEvent) -> StoreResult<AssignmentRecord> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO assignments (id, principal_type, principal_id, account_id, permission_set_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
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
                    "INSERT INTO provisioned_roles (permission_set_id, account_id, status, created_at, updated_at) \
                     VALUES ($1, $2, 'not_provisioned', $3, $3) ON CONFLICT (permission_set_id, account_id) DO NOTHING",
                )
                .bind(&a.permission_set_id)
                .bind(&a.account_id)
                .bind(a.created_at)
                .execute(&mut *tx)
                .await?;
                let created = Self::assignment_in(&mut tx, &a.id).await?;
                let ev = with_images(event, None, Some(created.audit_view()));
                let ev = with_detail(ev, "role_created", serde_json::json!(role.rows_affected() == 1));
                Self::append_in(&mut tx, &self.signer, ev).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn delete_assignment(&self, id: &str, event: NewEvent) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let before = Self::assignment_in(&mut tx, id).await?;
                sqlx::query("DELETE FROM assignments WHERE id = $1").bind(id).execute(&mut *tx).await?;
                let removed = sqlx::query(DROP_UNASSIGNED_ROLES_SQL).execute(&mut *tx).await?;
                let ev = with_images(event, Some(before.audit_view()), None);
                let ev = with_detail(ev, "role_removed", serde_json::json!(removed.rows_affected() > 0));
                Self::append_in(&mut tx, &self.signer, ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_roles(&self, permission_set_id: &str) -> StoreResult<Vec<RoleRecord>> {
                Ok(sqlx::query_as::<_, RoleRecord>(&format!(
                    "SELECT {ROLE_COLS} FROM provisioned_roles WHERE permission_set_id = $1 ORDER BY account_id"
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
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                let ps = Self::permission_set_in(&mut tx, permission_set_id).await?;
                let roles = Self::roles_in(&mut tx, permission_set_id).await?;
                let targets: Vec<RoleRecord> = match account_ids {
                    None => roles,
                    Some(ids) => {
                        if ids.iter().any(|id| !roles.iter().any(|r| &r.account_id == id)) {
                            return Err(StoreError::NotFound);
                        }
                        roles.into_iter().filter(|r| ids.contains(&r.account_id)).collect()
                    }
                };
                for r in &targets {
                    sqlx::query(
                        "UPDATE provisioned_roles SET status = 'provisioned', provisioned_at = $3, \
                         provisioned_version = $4, updated_at = $3 WHERE permission_set_id = $1 AND account_id = $2",
                    )
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
                let images = |v: &[RoleRecord]| serde_json::Value::Array(v.iter().map(RoleRecord::audit_view).collect());
                let ev = with_images(event, Some(images(&targets)), Some(images(&after)));
                let ev = with_detail(ev, "version", serde_json::json!(ps.version));
                Self::append_in(&mut tx, &self.signer, ev).await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn create_session(&self, s: SessionRecord, replaces: Option<&str>, event: NewEvent) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                Self::insert_session_in(&mut tx, &s, &s.user_id, replaces).await?;
                Self::append_in(&mut tx, &self.signer, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_session(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>> {
                Ok(sqlx::query_as::<_, SessionRecord>(
                    "SELECT id_hash, user_id, csrf_token, auth_method, idp_mfa, mfa_at, created_at, last_seen_at, \
                     expires_at, source_ip, user_agent FROM sessions WHERE id_hash = $1",
                )
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn touch_session(&self, id_hash: &str, at: Millis) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2")
                    .bind(id_hash)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn set_session_mfa(&self, id_hash: &str, at: Millis, event: NewEvent) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                sqlx::query("UPDATE sessions SET mfa_at = $2 WHERE id_hash = $1")
                    .bind(id_hash)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                Self::append_in(&mut tx, &self.signer, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_session(&self, id_hash: &str, event: Option<NewEvent>) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&mut *tx).await?;
                if let Some(ev) = event {
                    Self::append_in(&mut tx, &self.signer, ev).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn delete_stale_sessions(&self, now: Millis, idle_before: Millis) -> StoreResult<u64> {
                let _gate = self.write_gate().await;
                let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
                    .bind(now)
                    .bind(idle_before)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }

            async fn rate_hit(&self, key: &str, now: Millis, window_ms: i64) -> StoreResult<(i64, Millis)> {
                let _gate = self.write_gate().await;
                Ok(sqlx::query_as::<_, (i64, i64)>(
                    "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
                     ON CONFLICT (key) DO UPDATE SET \
                     count = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.count + 1 END, \
                     window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END \
                     RETURNING count, window_start",
                )
                .bind(key)
                .bind(now)
                .bind(now - window_ms)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn rate_get(&self, key: &str) -> StoreResult<Option<(i64, Millis)>> {
                Ok(sqlx::query_as::<_, (i64, i64)>("SELECT count, window_start FROM rate_limits WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn rate_clear(&self, key: &str) -> StoreResult<()> {
                let _gate = self.write_gate().await;
                sqlx::query("DELETE FROM rate_limits WHERE key = $1").bind(key).execute(&self.pool).await?;
                Ok(())
            }

            async fn append_event(&self, event: NewEvent) -> StoreResult<StoredEvent> {
                let _gate = self.write_gate().await;
                self.append_alone(event).await
            }

            async fn append_events(&self, events: Vec<NewEvent>) -> StoreResult<()> {
                if events.is_empty() {
                    return Ok(());
                }
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                Self::append_many_in(&mut tx, &self.signer, events).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn search_events(&self, f: &EventFilter) -> StoreResult<Vec<StoredEvent>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {EVENT_COLS} FROM audit_events WHERE 1 = 1"));
                if let Some(from) = f.from {
                    q.push(" AND occurred_at >= ").push_bind(from);
                }
                if let Some(to) = f.to {
                    q.push(" AND occurred_at < ").push_bind(to);
                }
                if let Some(actor) = &f.actor {
                    q.push(" AND (actor_name = ").push_bind(actor.clone());
                    q.push(" OR actor_id = ").push_bind(actor.clone()).push(")");
                }
                if let Some(action) = &f.action {
                    if let Some(prefix) = action.strip_suffix('*') {
                        // A range instead of LIKE: '_' in action names is not a wildcard.
                        let mut upper = prefix.to_string();
                        let last = upper.pop().map_or('\u{0}', |c| char::from_u32(c as u32 + 1).unwrap_or(c));
                        upper.push(last);
                        q.push(" AND action >= ").push_bind(prefix.to_string());
                        q.push(" AND action < ").push_bind(upper);
                    } else {
                        q.push(" AND action = ").push_bind(action.clone());
                    }
                }
                if let Some(target) = &f.target {
                    q.push(" AND target_id = ").push_bind(target.clone());
                }
                if let Some(outcome) = f.outcome {
                    q.push(" AND outcome = ").push_bind(outcome.as_str());
                }
                if let Some(before) = f.before_seq {
                    q.push(" AND seq < ").push_bind(before);
                }
                q.push(" ORDER BY seq DESC LIMIT ").push_bind(f.limit);
                Ok(q.build_query_as::<StoredEvent>().fetch_all(&self.pool).await?)
            }

            async fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<StoredEvent>> {
                Ok(sqlx::query_as::<_, StoredEvent>(&format!(
                    "SELECT {EVENT_COLS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
                ))
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn related_events(&self, subject: &str, limit: i64) -> StoreResult<Vec<StoredEvent>> {
                // The story starts at the subject's first own event (an indexed lookup), so the
                // scan of details is bounded to what happened since.
                let first: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_events WHERE target_id = $1")
                    .bind(subject)
                    .fetch_one(&self.pool)
                    .await?;
                let Some(first) = first else { return Ok(Vec::new()) };
                Ok(sqlx::query_as::<_, StoredEvent>(&format!(
                    "SELECT {EVENT_COLS} FROM audit_events WHERE seq >= $1 AND (target_id = $2 OR details LIKE $3) ORDER BY seq LIMIT $4"
                ))
                .bind(first)
                .bind(subject)
                .bind(format!("%\"request_id\":\"{subject}\"%"))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
                Ok(sqlx::query_as::<_, StoredCheckpoint>(
                    "SELECT id, event_seq, event_hash, signed_at, key_id, signature FROM audit_checkpoints ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn checkpoint_if_due(&self, now: Millis, min_interval_ms: i64) -> StoreResult<Option<StoredCheckpoint>> {
                let _gate = self.write_gate().await;
                let mut tx = self.pool.begin().await?;
                // Lock the head so the checkpoint names the chain as it is at commit.
                let (seq, hash_hex): (i64, String) =
                    sqlx::query_as("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
                        .fetch_one(&mut *tx)
                        .await?;
                let last: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT event_seq, signed_at FROM audit_checkpoints ORDER BY id DESC LIMIT 1",
                )
                .fetch_optional(&mut *tx)
                .await?;
                let due = seq > 0
                    && match last {
                        None => true,
                        Some((last_seq, last_at)) => seq > last_seq && now - last_at >= min_interval_ms,
                    };
                if !due {
                    return Ok(None);
                }
                let hash = parse_hash(&hash_hex).ok_or_else(malformed_head)?;
                let cp = Self::checkpoint_in(&mut tx, &self.signer, seq, &hash, now).await?;
                tx.commit().await?;
                Ok(Some(cp))
            }
        }
    };
}

pub(crate) use sql_store;
