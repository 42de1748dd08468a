//! What Gatehouse keeps about real clouds: its SAML IdP signing keys, the work queue of
//! roles being provisioned in a cloud (leased, so a crash or a second instance finishes
//! it), drift checks, roles to delete there, and the session denials that stand in for
//! recalling a cloud's STS token.

use async_trait::async_trait;
use serde_json::json;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::access::sql::ROLE_COLS;
use super::dialect::Dialect;
use super::sql_store::{with_detail, AuditView, SqlStore, Written};
use super::{RoleRecord, StoreError, StoreResult};
use crate::audit::NewEvent;
use crate::clock::Millis;

/// One of Gatehouse's SAML IdP signing keys.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdpKeyRecord {
    pub id: String,
    /// `next` (published, not yet signing), `active` (signing) or `retired`.
    pub state: String,
    /// The PKCS#8 DER private key, sealed under the master key.
    pub private_key: String,
    /// base64 DER of the self-signed certificate.
    pub certificate: String,
    pub created_at: Millis,
    pub activated_at: Option<Millis>,
    pub retired_at: Option<Millis>,
}

/// A role the last assignment left in a cloud account, to delete there.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoleRemovalRecord {
    pub account_id: String,
    pub role_name: String,
    pub created_at: Millis,
    pub attempts: i64,
    pub fault: Option<String>,
}

/// A role session a cloud must refuse until `expires_at` (its token's expiry).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionDenialRecord {
    pub account_id: String,
    pub role_name: String,
    pub session_name: String,
    pub expires_at: Millis,
    pub created_at: Millis,
    pub applied_at: Option<Millis>,
}

/// How one provisioning attempt ended.
#[derive(Debug, Clone)]
pub enum ProvisionOutcome {
    Done,
    /// JSON of the cloud's fault.
    Failed(String),
}

#[async_trait]
pub trait CloudStore: Send + Sync {
    /// Every IdP key, newest first.
    async fn idp_keys(&self) -> StoreResult<Vec<IdpKeyRecord>>;
    /// Adds a key as `active` when there is none (start-up; another instance may win the
    /// race, then nothing is written) or as `next`. `Conflict` when that slot is taken.
    async fn add_idp_key(&self, key: IdpKeyRecord, event: NewEvent) -> StoreResult<()>;
    /// `next` becomes `active` and `active` becomes `retired`. `NotFound` without a `next`.
    async fn promote_idp_key(&self, at: Millis, event: NewEvent) -> StoreResult<IdpKeyRecord>;

    /// Leases up to `limit` roles in `provisioning` whose lease has run out (or that never
    /// had one) until `now + lease_ms`: (permission set, account, target version).
    async fn claim_provisioning(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<(String, String, i64)>>;
    /// Records how provisioning `target_version` ended, if the role still waits for that
    /// version (else nothing is written and `None` comes back).
    async fn finish_provisioning(
        &self,
        permission_set_id: &str,
        account_id: &str,
        target_version: i64,
        outcome: ProvisionOutcome,
        event: NewEvent,
    ) -> StoreResult<Option<RoleRecord>>;
    /// One role.
    async fn get_role(&self, permission_set_id: &str, account_id: &str) -> StoreResult<RoleRecord>;

    /// Provisioned (or drifted) roles in cloud accounts last checked before `before`.
    async fn roles_to_check(
        &self,
        before: Millis,
        limit: i64,
    ) -> StoreResult<Vec<(String, String)>>;
    /// Records a drift check: a role whose drift appears becomes `drifted`, one whose drift
    /// went away `provisioned` again (each such change audited with `event`).
    async fn record_check(
        &self,
        permission_set_id: &str,
        account_id: &str,
        drift: Vec<String>,
        event: NewEvent,
    ) -> StoreResult<Option<RoleRecord>>;

    /// Leases up to `limit` due role removals.
    async fn claim_role_removals(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<RoleRemovalRecord>>;
    /// The removal is done (`fault` `None`: the row goes) or failed (kept, retried later).
    async fn finish_role_removal(
        &self,
        account_id: &str,
        role_name: &str,
        fault: Option<String>,
        event: NewEvent,
    ) -> StoreResult<()>;
    async fn list_role_removals(&self) -> StoreResult<Vec<RoleRemovalRecord>>;

    /// Adds (or extends) a denial of a role session.
    async fn add_session_denial(&self, denial: SessionDenialRecord) -> StoreResult<()>;
    /// Roles (account, role) whose denials the cloud does not yet hold, or hold past expiry.
    async fn denials_due(&self, now: Millis) -> StoreResult<Vec<(String, String)>>;
    /// The denials of one role still in force at `now`.
    async fn denials_of(
        &self,
        account_id: &str,
        role_name: &str,
        now: Millis,
    ) -> StoreResult<Vec<SessionDenialRecord>>;
    /// The cloud now holds exactly the denials in force at `now`: marks them applied and
    /// drops the expired ones.
    async fn denials_applied(
        &self,
        account_id: &str,
        role_name: &str,
        now: Millis,
    ) -> StoreResult<()>;
}

const IDP_KEY_COLS: &str =
    "id, state, private_key, certificate, created_at, activated_at, retired_at";
const REMOVAL_COLS: &str = "account_id, role_name, created_at, attempts, fault";
const DENIAL_COLS: &str = "account_id, role_name, session_name, expires_at, created_at, applied_at";

#[async_trait]
impl<D: Dialect> CloudStore for SqlStore<D>
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
    async fn idp_keys(&self) -> StoreResult<Vec<IdpKeyRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {IDP_KEY_COLS} FROM idp_keys ORDER BY created_at DESC, id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn add_idp_key(&self, key: IdpKeyRecord, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let taken: Option<(String,)> =
                sqlx::query_as("SELECT id FROM idp_keys WHERE state = $1")
                    .bind(&key.state)
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_some() {
                return Err(StoreError::Conflict("an IdP key in this state"));
            }
            sqlx::query(&format!(
                "INSERT INTO idp_keys ({IDP_KEY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(&key.id)
            .bind(&key.state)
            .bind(&key.private_key)
            .bind(&key.certificate)
            .bind(key.created_at)
            .bind(key.activated_at)
            .bind(key.retired_at)
            .execute(&mut *tx)
            .await
            .map_err(super::conflict_on_unique("an IdP key in this state"))?;
            let event = with_detail(event, "state", json!(key.state));
            Ok((tx, Written::with((), event)))
        })
        .await
    }

    async fn promote_idp_key(&self, at: Millis, event: NewEvent) -> StoreResult<IdpKeyRecord> {
        self.audited_write(|mut tx| async move {
            let next: IdpKeyRecord = sqlx::query_as(&format!(
                "SELECT {IDP_KEY_COLS} FROM idp_keys WHERE state = 'next'"
            ))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
            sqlx::query(
                "UPDATE idp_keys SET state = 'retired', retired_at = $1 WHERE state = 'active'",
            )
            .bind(at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE idp_keys SET state = 'active', activated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(&next.id)
                .execute(&mut *tx)
                .await?;
            let event = with_detail(event, "key_id", json!(next.id));
            Ok((tx, Written::with(next, event)))
        })
        .await
    }

    async fn claim_provisioning(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<(String, String, i64)>> {
        let _gate = self.write_gate().await;
        let sql = format!(
            "UPDATE provisioned_roles SET lease_until = $1 WHERE (permission_set_id, account_id) \
             IN (SELECT permission_set_id, account_id FROM provisioned_roles WHERE status = \
             'provisioning' AND (lease_until IS NULL OR lease_until <= $2) ORDER BY updated_at \
             LIMIT $3 {}) RETURNING permission_set_id, account_id, target_version",
            D::CLAIM_LOCK
        );
        let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(&sql)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(p, a, v)| (p, a, v.unwrap_or(0)))
            .collect())
    }

    async fn finish_provisioning(
        &self,
        permission_set_id: &str,
        account_id: &str,
        target_version: i64,
        outcome: ProvisionOutcome,
        event: NewEvent,
    ) -> StoreResult<Option<RoleRecord>> {
        self.audited_write(|mut tx| async move {
            let at = event.occurred_at;
            let (sql, fault) = match &outcome {
                ProvisionOutcome::Done => (
                    "UPDATE provisioned_roles SET status = 'provisioned', provisioned_at = $4, \
                     provisioned_version = $3, target_version = NULL, lease_until = NULL, fault \
                     = $5, drift = NULL, checked_at = $4, updated_at = $4 WHERE \
                     permission_set_id = $1 AND account_id = $2 AND status = 'provisioning' AND \
                     target_version = $3",
                    None,
                ),
                ProvisionOutcome::Failed(f) => (
                    "UPDATE provisioned_roles SET status = 'failed', lease_until = NULL, fault = \
                     $5, updated_at = $4 WHERE permission_set_id = $1 AND account_id = $2 AND \
                     status = 'provisioning' AND target_version = $3",
                    Some(f.clone()),
                ),
            };
            let n = sqlx::query(sql)
                .bind(permission_set_id)
                .bind(account_id)
                .bind(target_version)
                .bind(at)
                .bind(fault)
                .execute(&mut *tx)
                .await?;
            if super::dialect::RowsAffected::rows_affected(&n) != 1 {
                return Ok((tx, Written::unchanged(None)));
            }
            let after = role_in::<D>(&mut tx, permission_set_id, account_id).await?;
            let event = with_detail(event, "after", after.audit_view());
            Ok((tx, Written::with(Some(after), event)))
        })
        .await
    }

    async fn get_role(&self, permission_set_id: &str, account_id: &str) -> StoreResult<RoleRecord> {
        sqlx::query_as(&format!(
            "SELECT {ROLE_COLS} FROM provisioned_roles WHERE permission_set_id = $1 AND \
             account_id = $2"
        ))
        .bind(permission_set_id)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn roles_to_check(
        &self,
        before: Millis,
        limit: i64,
    ) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT r.permission_set_id, r.account_id FROM provisioned_roles r JOIN accounts c ON \
             c.id = r.account_id WHERE c.provider <> 'local' AND r.status IN ('provisioned', \
             'drifted') AND (r.checked_at IS NULL OR r.checked_at < $1) ORDER BY r.checked_at, \
             r.account_id LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn record_check(
        &self,
        permission_set_id: &str,
        account_id: &str,
        drift: Vec<String>,
        event: NewEvent,
    ) -> StoreResult<Option<RoleRecord>> {
        self.audited_write(|mut tx| async move {
            let at = event.occurred_at;
            let before = role_in::<D>(&mut tx, permission_set_id, account_id).await?;
            let (status, text) = match (before.status.as_str(), drift.is_empty()) {
                ("provisioned" | "drifted", false) => ("drifted", Some(json!(drift).to_string())),
                ("drifted", true) => ("provisioned", None),
                (other, _) => (other, before.drift.clone()),
            };
            let changed = status != before.status || text != before.drift;
            sqlx::query(
                "UPDATE provisioned_roles SET status = $3, drift = $4, checked_at = $5 WHERE \
                 permission_set_id = $1 AND account_id = $2",
            )
            .bind(permission_set_id)
            .bind(account_id)
            .bind(status)
            .bind(&text)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if !changed {
                return Ok((tx, Written::silent(None)));
            }
            let after = role_in::<D>(&mut tx, permission_set_id, account_id).await?;
            let event = with_detail(event, "drift", json!(drift));
            let event = with_detail(event, "status", json!(after.status));
            Ok((tx, Written::with(Some(after), event)))
        })
        .await
    }

    async fn claim_role_removals(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<RoleRemovalRecord>> {
        let _gate = self.write_gate().await;
        let sql = format!(
            "UPDATE cloud_role_removals SET lease_until = $1, attempts = attempts + 1 WHERE \
             (account_id, role_name) IN (SELECT account_id, role_name FROM cloud_role_removals \
             WHERE lease_until IS NULL OR lease_until <= $2 ORDER BY created_at LIMIT $3 {}) \
             RETURNING {REMOVAL_COLS}",
            D::CLAIM_LOCK
        );
        Ok(sqlx::query_as(&sql)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn finish_role_removal(
        &self,
        account_id: &str,
        role_name: &str,
        fault: Option<String>,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            match &fault {
                None => {
                    sqlx::query(
                        "DELETE FROM cloud_role_removals WHERE account_id = $1 AND role_name = $2",
                    )
                    .bind(account_id)
                    .bind(role_name)
                    .execute(&mut *tx)
                    .await?;
                }
                Some(f) => {
                    sqlx::query(
                        "UPDATE cloud_role_removals SET fault = $3 WHERE account_id = $1 AND \
                         role_name = $2",
                    )
                    .bind(account_id)
                    .bind(role_name)
                    .bind(f)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            Ok((tx, Written::with((), event)))
        })
        .await
    }

    async fn list_role_removals(&self) -> StoreResult<Vec<RoleRemovalRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {REMOVAL_COLS} FROM cloud_role_removals ORDER BY created_at, account_id, \
             role_name"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn add_session_denial(&self, d: SessionDenialRecord) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(&format!(
            "INSERT INTO cloud_session_denials ({DENIAL_COLS}) VALUES ($1, $2, $3, $4, $5, NULL) \
             ON CONFLICT (account_id, role_name, session_name) DO UPDATE SET expires_at = \
             CASE WHEN excluded.expires_at > cloud_session_denials.expires_at THEN \
             excluded.expires_at ELSE cloud_session_denials.expires_at END, applied_at = NULL"
        ))
        .bind(&d.account_id)
        .bind(&d.role_name)
        .bind(&d.session_name)
        .bind(d.expires_at)
        .bind(d.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn denials_due(&self, now: Millis) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT account_id, role_name FROM cloud_session_denials WHERE applied_at \
             IS NULL OR expires_at <= $1 ORDER BY account_id, role_name",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn denials_of(
        &self,
        account_id: &str,
        role_name: &str,
        now: Millis,
    ) -> StoreResult<Vec<SessionDenialRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {DENIAL_COLS} FROM cloud_session_denials WHERE account_id = $1 AND role_name \
             = $2 AND expires_at > $3 ORDER BY session_name"
        ))
        .bind(account_id)
        .bind(role_name)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn denials_applied(
        &self,
        account_id: &str,
        role_name: &str,
        now: Millis,
    ) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "DELETE FROM cloud_session_denials WHERE account_id = $1 AND role_name = $2 AND \
             expires_at <= $3",
        )
        .bind(account_id)
        .bind(role_name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "UPDATE cloud_session_denials SET applied_at = $3 WHERE account_id = $1 AND \
             role_name = $2 AND applied_at IS NULL",
        )
        .bind(account_id)
        .bind(role_name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

async fn role_in<D: Dialect>(
    tx: &mut super::chain::Tx<D>,
    permission_set_id: &str,
    account_id: &str,
) -> StoreResult<RoleRecord>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'q> String: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> &'q str: Encode<'q, D> + Type<D> + ColumnIndex<D::Row>,
    for<'q> i64: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> Option<String>: Encode<'q, D>,
    usize: ColumnIndex<D::Row>,
{
    sqlx::query_as(&format!(
        "SELECT {ROLE_COLS} FROM provisioned_roles WHERE permission_set_id = $1 AND account_id \
         = $2"
    ))
    .bind(permission_set_id)
    .bind(account_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)
}
