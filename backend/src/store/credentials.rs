//! What STS and the portal keep: who may use which role ([`EntitlementRecord`]), issued
//! credentials, revocations and `credentials_uri` capabilities. The trait is part of
//! [`Store`](super::Store); the SQL is written once, generic over the engine's
//! [`Dialect`], and every change runs in [`SqlStore::audited_write`].

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::assembled::Assembled;
use super::chain::Tx;
use super::dialect::{Dialect, RowsAffected};
use super::sql_store::{with_detail, with_images, SqlStore, Written};
use super::{PermissionSetRecord, StoreError, StoreResult};
use crate::audit::NewEvent;
use crate::clock::Millis;
use crate::store::sql_store::AuditView;

/// A permission set a user may use on an account (directly or through a group), with its
/// role's provisioning status there.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EntitlementRecord {
    pub account_id: String,
    pub account_name: String,
    pub environment: String,
    /// The account's provider (`local`, `alibaba`).
    pub provider: String,
    #[sqlx(flatten)]
    pub permission_set: PermissionSetRecord,
    /// `provisioned`, `needs_reprovisioning` or `not_provisioned`.
    pub role_status: String,
}

/// An issued STS credential (no secret: it is derived from the key id).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StsCredentialRecord {
    pub access_key_id: String,
    pub user_id: String,
    pub username: String,
    pub account_id: String,
    pub permission_set_id: String,
    pub role_name: String,
    /// `portal`, `credentials_uri` or `assume_role`.
    pub source: String,
    pub parent_access_key_id: Option<String>,
    pub session_policy: bool,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub revoked_at: Option<Millis>,
    /// `local`, or the cloud that issued it.
    pub provider: String,
    /// The role session name a cloud knows it by.
    pub session_name: Option<String>,
    /// The just-in-time grant it was issued under.
    pub grant_id: Option<String>,
}

impl AuditView for StsCredentialRecord {
    fn audit_view(&self) -> Value {
        json!({
            "access_key_id": self.access_key_id,
            "account_id": self.account_id,
            "permission_set_id": self.permission_set_id,
            "role_name": self.role_name,
            "source": self.source,
            "parent_access_key_id": self.parent_access_key_id,
            "session_policy": self.session_policy,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        })
    }
}

/// Which STS credentials to list.
#[derive(Debug, Clone, Default)]
pub struct CredentialFilter {
    pub user_id: Option<String>,
    /// Only those neither expired nor revoked at this time.
    pub active_at: Option<Millis>,
    pub limit: i64,
}

/// What verifiers must refuse: one key (`key`), or a user's credentials issued before
/// `not_before` (`user`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RevocationRecord {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub not_before: Millis,
    pub expires_at: Millis,
    pub created_at: Millis,
}

/// A `credentials_uri` capability (only the hash of its secret).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CredentialUriRecord {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub account_id: String,
    pub permission_set_id: String,
    pub permission_set_name: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl AuditView for CredentialUriRecord {
    fn audit_view(&self) -> Value {
        json!({
            "account_id": self.account_id,
            "permission_set_id": self.permission_set_id,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        })
    }
}

/// The longest an STS credential lives (a permission set's longest session), so a
/// revocation can be forgotten once every credential it could refuse has expired.
pub const MAX_CREDENTIAL_LIFETIME_MS: Millis = 43_200_000;

impl RevocationRecord {
    /// Role chaining: a credential from `AssumeRole` lives at most an hour (as in AWS STS).
    pub const CHAINED_MAX_MS: Millis = 3_600_000;
    /// Role chaining: at most this many credentials stand above one (`AssumeRole` refuses
    /// to go deeper), so that a lineage, and the revocations that must outlive it, end.
    pub const MAX_CHAIN_DEPTH: usize = 5;
    /// How long after a credential expires a descendant of it can still live: a child is
    /// issued before its parent expires and lives at most [`Self::CHAINED_MAX_MS`], so a
    /// descendant `k` generations down expires less than `k` hours after it.
    #[expect(
        clippy::cast_possible_wrap,
        reason = "MAX_CHAIN_DEPTH is a small constant"
    )]
    pub const LINEAGE_TAIL_MS: Millis = Self::MAX_CHAIN_DEPTH as Millis * Self::CHAINED_MAX_MS;

    /// Refuses every credential of `user_id` whose lineage began at or before `at`, until
    /// the last credential that can descend from one of them has expired.
    pub fn for_user(user_id: &str, at: Millis) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            kind: "user".into(),
            subject: user_id.into(),
            not_before: at,
            expires_at: at + MAX_CREDENTIAL_LIFETIME_MS + Self::LINEAGE_TAIL_MS,
            created_at: at,
        }
    }

    /// Refuses the credential `access_key_id`, which expires at `credential_expires_at`,
    /// and every credential assumed from it or from those, for as long as any of them can
    /// live ([`Self::LINEAGE_TAIL_MS`] past its own expiry).
    pub fn for_key(access_key_id: &str, credential_expires_at: Millis, at: Millis) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            kind: "key".into(),
            subject: access_key_id.into(),
            not_before: at,
            expires_at: credential_expires_at.max(at) + Self::LINEAGE_TAIL_MS,
            created_at: at,
        }
    }
}

/// One issued credential to record, with its audit event.
#[derive(Debug)]
pub struct CredentialWrite {
    pub credential: StsCredentialRecord,
    /// The `credentials_uri` it was issued through, to mark used.
    pub uri: Option<String>,
    pub event: NewEvent,
}

/// A signature nonce used with an access key, to be remembered until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceWrite {
    pub access_key_id: String,
    pub nonce: String,
    pub expires_at: Millis,
}

#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Every (account, permission set) the user is assigned, directly or through a group,
    /// ordered by account name then permission set name.
    async fn entitlements(&self, user_id: &str) -> StoreResult<Vec<EntitlementRecord>>;
    /// The one entitlement, if the user has it.
    async fn entitlement(
        &self,
        user_id: &str,
        account_id: &str,
        permission_set_id: &str,
    ) -> StoreResult<Option<EntitlementRecord>>;
    /// The entitlement to the permission set named `name` (any case, as RAM role names
    /// are) in `account_id`, if the user has it.
    async fn entitlement_by_name(
        &self,
        user_id: &str,
        account_id: &str,
        name: &str,
    ) -> StoreResult<Option<EntitlementRecord>>;

    /// Records issued credentials with their audit events, all in one transaction (group
    /// commit: see `sts::commit`); a write with `uri` also marks that `credentials_uri` used.
    async fn record_credentials(&self, writes: &[CredentialWrite]) -> StoreResult<()>;
    async fn list_credentials(
        &self,
        filter: &CredentialFilter,
    ) -> StoreResult<Vec<StsCredentialRecord>>;
    async fn get_credential(&self, access_key_id: &str) -> StoreResult<StsCredentialRecord>;
    /// Marks a credential revoked and records the revocation verifiers load.
    async fn revoke_credential(
        &self,
        access_key_id: &str,
        revocation: RevocationRecord,
        event: NewEvent,
    ) -> StoreResult<StsCredentialRecord>;
    /// Revokes every credential of a user issued before `revocation.not_before`.
    async fn revoke_user_credentials(
        &self,
        user_id: &str,
        revocation: RevocationRecord,
        event: NewEvent,
    ) -> StoreResult<u64>;
    /// Revocations that can still matter at `now`.
    async fn active_revocations(&self, now: Millis) -> StoreResult<Vec<RevocationRecord>>;
    /// Remembers signature nonces, all in one transaction (batched: see `sts::nonce`);
    /// for each, in order, whether it is new (`false`: this access key used it already,
    /// here or on another instance, or earlier in `nonces`).
    async fn record_nonces(&self, nonces: &[NonceWrite]) -> StoreResult<Vec<bool>>;
    /// Forgets nonces remembered until `now` or before; returns how many.
    async fn prune_nonces(&self, now: Millis) -> StoreResult<u64>;

    async fn create_credential_uri(
        &self,
        uri: CredentialUriRecord,
        event: NewEvent,
    ) -> StoreResult<CredentialUriRecord>;
    async fn list_credential_uris(&self, user_id: &str) -> StoreResult<Vec<CredentialUriRecord>>;
    async fn get_credential_uri(&self, id: &str) -> StoreResult<CredentialUriRecord>;
    async fn find_credential_uri(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<CredentialUriRecord>>;
    async fn revoke_credential_uri(
        &self,
        id: &str,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<CredentialUriRecord>;
}

/// The entitlements of user `$1`: assignments to them or to a group they are in.
const ENTITLEMENT_SELECT: &str = "SELECT DISTINCT ac.id AS account_id, ac.name AS account_name, \
     ac.environment, ac.provider, p.id, p.name, p.description, p.session_duration_secs, p.relay_state, \
     p.system_policies, p.inline_policy, p.version, p.created_at, p.updated_at, COALESCE(r.status, \
     'not_provisioned') AS role_status FROM assignments a JOIN accounts ac ON ac.id = a.account_id \
     JOIN permission_sets p ON p.id = a.permission_set_id LEFT JOIN provisioned_roles r ON \
     r.permission_set_id = a.permission_set_id AND r.account_id = a.account_id WHERE \
     ((a.principal_type = 'user' AND a.principal_id = $1) OR (a.principal_type = 'group' AND \
     a.principal_id IN (SELECT m.group_id FROM group_members m WHERE m.user_id = $1)))";
/// Queues, for the cloud credentials a revocation ends (the `WHERE` clause follows; `$2`
/// is now), a denial of their role session until they expire.
const DENY_CLOUD_SESSIONS_SQL: &str = "INSERT INTO cloud_session_denials (account_id, role_name, \
     session_name, expires_at, created_at) SELECT account_id, role_name, session_name, \
     expires_at, $2 FROM sts_credentials WHERE provider <> 'local' AND session_name IS NOT NULL \
     AND expires_at > $2 AND";
const CREDENTIAL_COLS: &str = "access_key_id, user_id, username, account_id, permission_set_id, \
     role_name, source, parent_access_key_id, session_policy, issued_at, expires_at, revoked_at, \
     provider, session_name, grant_id";
/// Every credential people see and revoke, as a table to select [`CREDENTIAL_COLS`] from:
/// those STS issued, and break-glass root sessions (which the break-glass store records;
/// here with `source` `root_session`, role `root` and no permission set).
const CREDENTIAL_LIST: &str = "(SELECT access_key_id, user_id, username, account_id, \
     permission_set_id, role_name, source, parent_access_key_id, session_policy, issued_at, \
     expires_at, revoked_at, provider, session_name, grant_id FROM sts_credentials UNION ALL \
     SELECT s.access_key_id, r.requester_id, r.requester_name, r.account_id, '', 'root', \
     'root_session', NULL, FALSE, s.issued_at, s.expires_at, s.revoked_at, COALESCE(ac.provider, \
     'local'), NULL, NULL FROM breakglass_root_sessions s JOIN breakglass_requests r ON r.id = \
     s.request_id LEFT JOIN accounts ac ON ac.id = r.account_id) AS c";
/// The key `$1` and every credential assumed from it, or from those, down the lineage.
const LINEAGE_SQL: &str = "WITH RECURSIVE lineage (k) AS (SELECT CAST($1 AS TEXT) UNION SELECT \
     d.access_key_id FROM sts_credentials d JOIN lineage l ON d.parent_access_key_id = l.k) \
     SELECT k FROM lineage";
const URI_SELECT: &str =
    "SELECT c.id, c.token_hash, c.user_id, c.account_id, c.permission_set_id, p.name AS \
     permission_set_name, c.created_at, c.expires_at, c.last_used_at, c.revoked_at FROM \
     credential_uris c JOIN permission_sets p ON p.id = c.permission_set_id";

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
    /// Records a revocation for verifiers to load.
    pub(super) async fn insert_revocation_in(
        tx: &mut Tx<D>,
        r: &RevocationRecord,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sts_revocations (id, kind, subject, not_before, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&r.id)
        .bind(&r.kind)
        .bind(&r.subject)
        .bind(r.not_before)
        .bind(r.expires_at)
        .bind(r.created_at)
        .execute(&mut **tx)
        .await?;
        if r.kind == "grant" {
            // A grant ended early: its cloud sessions are denied until their tokens expire.
            sqlx::query(&format!(
                "{DENY_CLOUD_SESSIONS_SQL} grant_id = $1 AND revoked_at IS NULL ON CONFLICT \
                 (account_id, role_name, session_name) DO NOTHING"
            ))
            .bind(&r.subject)
            .bind(r.created_at)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Every STS credential of the revocation's user issued until its `not_before` is
    /// refused from now on; returns how many unexpired credentials that marks revoked.
    pub(super) async fn revoke_user_in(tx: &mut Tx<D>, r: &RevocationRecord) -> StoreResult<u64> {
        // A cloud's token cannot be recalled: its session is denied there until it expires.
        sqlx::query(&format!(
            "{DENY_CLOUD_SESSIONS_SQL} user_id = $1 AND revoked_at IS NULL AND issued_at <= $3 {}",
            "ON CONFLICT (account_id, role_name, session_name) DO NOTHING"
        ))
        .bind(&r.subject)
        .bind(r.created_at)
        .bind(r.not_before)
        .execute(&mut **tx)
        .await?;
        let done = sqlx::query(
            "UPDATE sts_credentials SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND issued_at <= $3",
        )
        .bind(&r.subject)
        .bind(r.created_at)
        .bind(r.not_before)
        .execute(&mut **tx)
        .await?;
        // Break-glass root sessions are the user's credentials too.
        let roots = sqlx::query(
            "UPDATE breakglass_root_sessions SET revoked_at = $2 WHERE revoked_at IS NULL AND \
             expires_at > $2 AND issued_at <= $3 AND request_id IN (SELECT id FROM \
             breakglass_requests WHERE requester_id = $1)",
        )
        .bind(&r.subject)
        .bind(r.created_at)
        .bind(r.not_before)
        .execute(&mut **tx)
        .await?;
        // A credentials URL mints fresh credentials on every call, so "everything the user
        // holds" includes the URLs: revoke those still live too.
        sqlx::query(
            "UPDATE credential_uris SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2",
        )
        .bind(&r.subject)
        .bind(r.created_at)
        .execute(&mut **tx)
        .await?;
        Self::insert_revocation_in(tx, r).await?;
        Ok(done.rows_affected() + roots.rows_affected())
    }

    async fn credential_uri_in(tx: &mut Tx<D>, id: &str) -> StoreResult<CredentialUriRecord> {
        sqlx::query_as(&format!("{URI_SELECT} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn credential_in(
        tx: &mut Tx<D>,
        access_key_id: &str,
    ) -> StoreResult<StsCredentialRecord> {
        sqlx::query_as(&format!(
            "SELECT {CREDENTIAL_COLS} FROM {CREDENTIAL_LIST} WHERE access_key_id = $1"
        ))
        .bind(access_key_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl<D: Dialect> CredentialStore for SqlStore<D>
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
    async fn entitlements(&self, user_id: &str) -> StoreResult<Vec<EntitlementRecord>> {
        Ok(sqlx::query_as(&format!(
            "{ENTITLEMENT_SELECT} ORDER BY ac.name, ac.id, p.name"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn entitlement(
        &self,
        user_id: &str,
        account_id: &str,
        permission_set_id: &str,
    ) -> StoreResult<Option<EntitlementRecord>> {
        Ok(sqlx::query_as(&format!(
            "{ENTITLEMENT_SELECT} AND a.account_id = $2 AND a.permission_set_id = $3"
        ))
        .bind(user_id)
        .bind(account_id)
        .bind(permission_set_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn entitlement_by_name(
        &self,
        user_id: &str,
        account_id: &str,
        name: &str,
    ) -> StoreResult<Option<EntitlementRecord>> {
        Ok(sqlx::query_as(&format!(
            "{ENTITLEMENT_SELECT} AND a.account_id = $2 AND LOWER(p.name) = LOWER($3)"
        ))
        .bind(user_id)
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn record_credentials(&self, writes: &[CredentialWrite]) -> StoreResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        self.audited_write(|mut tx| async move {
            // 14 binds a row: 500 rows stay far below both engines' bind limits.
            for chunk in writes.chunks(500) {
                let mut q = Assembled::<D>::new(
                    "INSERT INTO sts_credentials (access_key_id, user_id, username, account_id, \
                     permission_set_id, role_name, source, parent_access_key_id, session_policy, \
                     issued_at, expires_at, provider, session_name, grant_id) ",
                );
                q.values(chunk, |b, w| {
                    let c = &w.credential;
                    b.bind(c.access_key_id.clone())
                        .bind(c.user_id.clone())
                        .bind(c.username.clone())
                        .bind(c.account_id.clone())
                        .bind(c.permission_set_id.clone())
                        .bind(c.role_name.clone())
                        .bind(c.source.clone())
                        .bind(c.parent_access_key_id.clone())
                        .bind(c.session_policy)
                        .bind(c.issued_at)
                        .bind(c.expires_at)
                        .bind(c.provider.clone())
                        .bind(c.session_name.clone())
                        .bind(c.grant_id.clone());
                });
                let (sql, args) = q.finish()?;
                sqlx::query_with(&sql, args).execute(&mut *tx).await?;
            }
            let mut events = Vec::with_capacity(writes.len());
            for w in writes {
                if let Some(id) = &w.uri {
                    sqlx::query("UPDATE credential_uris SET last_used_at = $2 WHERE id = $1")
                        .bind(id)
                        .bind(w.credential.issued_at)
                        .execute(&mut *tx)
                        .await?;
                }
                let view = w.credential.audit_view();
                events.push(with_images(w.event.clone(), None, Some(view)));
            }
            Ok((tx, Written::with_all((), events)))
        })
        .await
    }

    async fn list_credentials(
        &self,
        f: &CredentialFilter,
    ) -> StoreResult<Vec<StsCredentialRecord>> {
        let mut q = Assembled::<D>::new(format!(
            "SELECT {CREDENTIAL_COLS} FROM {CREDENTIAL_LIST} WHERE 1 = 1"
        ));
        if let Some(user) = &f.user_id {
            q.push(" AND user_id = ").bind(user.clone());
        }
        if let Some(at) = f.active_at {
            q.push(" AND revoked_at IS NULL AND expires_at > ").bind(at);
        }
        q.push(" ORDER BY issued_at DESC, access_key_id LIMIT ")
            .bind(f.limit);
        let (sql, args) = q.finish()?;
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn get_credential(&self, access_key_id: &str) -> StoreResult<StsCredentialRecord> {
        sqlx::query_as(&format!(
            "SELECT {CREDENTIAL_COLS} FROM {CREDENTIAL_LIST} WHERE access_key_id = $1"
        ))
        .bind(access_key_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn revoke_credential(
        &self,
        access_key_id: &str,
        r: RevocationRecord,
        event: NewEvent,
    ) -> StoreResult<StsCredentialRecord> {
        self.audited_write(|mut tx| async move {
            let before = Self::credential_in(&mut tx, access_key_id).await?;
            // Credentials assumed from this one, and from those (role chaining), end with it.
            sqlx::query(&format!(
                "{DENY_CLOUD_SESSIONS_SQL} revoked_at IS NULL AND access_key_id IN \
                 ({LINEAGE_SQL}) ON CONFLICT (account_id, role_name, session_name) DO NOTHING"
            ))
            .bind(access_key_id)
            .bind(r.created_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "UPDATE sts_credentials SET revoked_at = $2 WHERE revoked_at IS NULL AND \
                 access_key_id IN ({LINEAGE_SQL})"
            ))
            .bind(access_key_id)
            .bind(r.created_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE breakglass_root_sessions SET revoked_at = $2 WHERE access_key_id = $1 AND \
                 revoked_at IS NULL",
            )
            .bind(access_key_id)
            .bind(r.created_at)
            .execute(&mut *tx)
            .await?;
            Self::insert_revocation_in(&mut tx, &r).await?;
            let after = StsCredentialRecord {
                revoked_at: before.revoked_at.or(Some(r.created_at)),
                ..before
            };
            let event = with_images(event, None, Some(after.audit_view()));
            Ok((tx, Written::with(after, event)))
        })
        .await
    }

    async fn revoke_user_credentials(
        &self,
        user_id: &str,
        r: RevocationRecord,
        event: NewEvent,
    ) -> StoreResult<u64> {
        debug_assert_eq!(r.subject, user_id);
        self.audited_write(|mut tx| async move {
            let n = Self::revoke_user_in(&mut tx, &r).await?;
            let event = with_detail(event, "credentials_revoked", serde_json::json!(n));
            Ok((tx, Written::with(n, event)))
        })
        .await
    }

    async fn record_nonces(&self, nonces: &[NonceWrite]) -> StoreResult<Vec<bool>> {
        if nonces.is_empty() {
            return Ok(Vec::new());
        }
        self.audited_write(|mut tx| async move {
            let mut fresh = std::collections::HashSet::with_capacity(nonces.len());
            // 3 binds a row: 1,000 rows stay far below both engines' bind limits.
            for chunk in nonces.chunks(1_000) {
                let mut q = Assembled::<D>::new(
                    "INSERT INTO sts_nonces (access_key_id, nonce, expires_at) ",
                );
                q.values(chunk, |b, n| {
                    b.bind(n.access_key_id.clone())
                        .bind(n.nonce.clone())
                        .bind(n.expires_at);
                });
                q.push(
                    " ON CONFLICT (access_key_id, nonce) DO NOTHING RETURNING access_key_id, \
                     nonce",
                );
                let (sql, args) = q.finish()?;
                let rows: Vec<(String, String)> =
                    sqlx::query_as_with(&sql, args).fetch_all(&mut *tx).await?;
                fresh.extend(rows);
            }
            // A pair inserted once is new once: a repeat later in the batch is not.
            let answers = nonces
                .iter()
                .map(|n| fresh.remove(&(n.access_key_id.clone(), n.nonce.clone())))
                .collect();
            Ok((tx, Written::silent(answers)))
        })
        .await
    }

    async fn prune_nonces(&self, now: Millis) -> StoreResult<u64> {
        self.audited_write(|mut tx| async move {
            let gone = sqlx::query("DELETE FROM sts_nonces WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            Ok((tx, Written::silent(gone)))
        })
        .await
    }

    async fn active_revocations(&self, now: Millis) -> StoreResult<Vec<RevocationRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, kind, subject, not_before, expires_at, created_at FROM sts_revocations \
             WHERE expires_at > $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn create_credential_uri(
        &self,
        u: CredentialUriRecord,
        event: NewEvent,
    ) -> StoreResult<CredentialUriRecord> {
        self.audited_write(|mut tx| async move {
            sqlx::query(
                "INSERT INTO credential_uris (id, token_hash, user_id, account_id, \
                 permission_set_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&u.id)
            .bind(&u.token_hash)
            .bind(&u.user_id)
            .bind(&u.account_id)
            .bind(&u.permission_set_id)
            .bind(u.created_at)
            .bind(u.expires_at)
            .execute(&mut *tx)
            .await?;
            let created = Self::credential_uri_in(&mut tx, &u.id).await?;
            Ok((tx, Written::created(created, event)))
        })
        .await
    }

    async fn list_credential_uris(&self, user_id: &str) -> StoreResult<Vec<CredentialUriRecord>> {
        Ok(sqlx::query_as(&format!(
            "{URI_SELECT} WHERE c.user_id = $1 ORDER BY c.created_at DESC, c.id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn get_credential_uri(&self, id: &str) -> StoreResult<CredentialUriRecord> {
        sqlx::query_as(&format!("{URI_SELECT} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn find_credential_uri(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<CredentialUriRecord>> {
        Ok(
            sqlx::query_as(&format!("{URI_SELECT} WHERE c.token_hash = $1"))
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn revoke_credential_uri(
        &self,
        id: &str,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<CredentialUriRecord> {
        self.audited_write(|mut tx| async move {
            let before = Self::credential_uri_in(&mut tx, id).await?;
            sqlx::query(
                "UPDATE credential_uris SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let after = Self::credential_uri_in(&mut tx, id).await?;
            Ok((tx, Written::changed(&before, after, event)))
        })
        .await
    }
}
