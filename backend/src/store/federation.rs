//! What federation keeps: identity providers, the federated identities they vouch for,
//! sign-in requests in flight (bound to a browser, consumed once by `DELETE … RETURNING`),
//! and SAML assertion IDs already used (so a replay is refused on any instance, after any
//! restart). The trait is part of [`Store`](super::Store); the SQL is written once, generic
//! over the engine.

use async_trait::async_trait;
use serde_json::{json, Value};

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::chain::Tx;
use super::dialect::{Dialect, RowsAffected};
use super::directory::USER_COLS;
use super::sql_store::{with_images, SqlStore, Written};
use super::{conflict_on_unique, AuditSigner, StoreError};
use super::{NewUserRecord, SessionRecord, StoreResult, UserRecord};
use crate::audit::NewEvent;
use crate::clock::Millis;
use crate::store::sql_store::AuditView;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdpRecord {
    pub id: String,
    pub name: String,
    /// `saml` or `oidc`.
    pub kind: String,
    pub enabled: bool,
    /// Kind-specific settings (JSON, no secrets).
    pub settings: String,
    /// The OIDC client secret sealed under `idp-secret:<id>`.
    pub client_secret_enc: Option<String>,
    pub allow_sha1: bool,
    pub allow_idp_initiated: bool,
    pub jit_create: bool,
    pub link_by_verified_email: bool,
    /// The attribute mapping (JSON).
    pub mapping: String,
    pub clock_skew_secs: i64,
    pub max_response_bytes: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl AuditView for IdpRecord {
    /// What the audit trail may show: everything but the secret, whose presence it notes.
    fn audit_view(&self) -> Value {
        json!({
            "name": self.name,
            "kind": self.kind,
            "enabled": self.enabled,
            "settings": serde_json::from_str::<Value>(&self.settings).unwrap_or(Value::Null),
            "client_secret_set": self.client_secret_enc.is_some(),
            "allow_sha1": self.allow_sha1,
            "allow_idp_initiated": self.allow_idp_initiated,
            "jit_create": self.jit_create,
            "link_by_verified_email": self.link_by_verified_email,
            "mapping": serde_json::from_str::<Value>(&self.mapping).unwrap_or(Value::Null),
            "clock_skew_secs": self.clock_skew_secs,
            "max_response_bytes": self.max_response_bytes,
        })
    }
}

/// A sign-in in flight: the SAML AuthnRequest ID or the OIDC `state`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FederationRequestRecord {
    pub id: String,
    pub idp_id: String,
    /// SHA-256 (hex) of the browser's binding cookie.
    pub binding_hash: String,
    pub nonce: Option<String>,
    /// The PKCE verifier, sealed under `oidc-pkce:<id>`.
    pub pkce_verifier_enc: Option<String>,
    pub return_to: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// Who the verified federated identity becomes.
#[derive(Debug, Clone)]
pub enum FederatedUser {
    /// Already linked (or linked now) to this existing user.
    Existing(String),
    /// Created just in time.
    Create(NewUserRecord),
}

/// Everything one federated sign-in writes, in one transaction with its audit event.
#[derive(Debug, Clone)]
pub struct FederatedLogin {
    pub idp_id: String,
    pub subject: String,
    pub user: FederatedUser,
    /// Memberships to add (group IDs).
    pub add_groups: Vec<String>,
    /// Memberships this IdP applied before and no longer asserts (group IDs).
    pub remove_groups: Vec<String>,
    /// The group IDs this IdP now vouches for (stored for the next sign-in).
    pub applied_groups: Vec<String>,
    pub session: SessionRecord,
    /// The browser's previous session, deleted.
    pub replaces: Option<String>,
    pub at: Millis,
    pub event: NewEvent,
    /// A SAML response's replay guard, made first in the same transaction: if it fails,
    /// nothing of the sign-in is written.
    pub guard: Option<ReplayGuard>,
}

/// A SAML response's replay guard: consume the request its `InResponseTo` names (this
/// browser's, this IdP's, unexpired; none for an IdP-initiated response) and, only if that
/// succeeds, remember its assertion ID until `keep_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayGuard {
    pub idp_id: String,
    pub request: Option<GuardedRequest>,
    pub now: Millis,
    pub assertion_id: String,
    pub keep_until: Millis,
}

/// The outstanding request a SAML response answers, and the browser it is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardedRequest {
    pub id: String,
    /// SHA-256 (hex) of the browser's binding cookie.
    pub binding_hash: String,
}

/// What a [`ReplayGuard`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardOutcome {
    /// The request (if any) was consumed and the assertion ID is new: the request's
    /// `return_to`.
    Fresh(Option<String>),
    /// No outstanding request of this browser has this ID (nothing was written).
    UnknownRequest,
    /// The assertion ID was already used. On its own, the request stays consumed; inside a
    /// sign-in, nothing is written.
    Replayed,
}

/// One durable write of a federated sign-in, for the federation commit queue
/// (`federation::commit`), which puts many of them in one transaction.
#[derive(Debug, Clone)]
pub enum FederationWrite {
    /// A replay guard alone: for a response refused after its checks, so that it is
    /// consumed all the same.
    Guard(ReplayGuard),
    /// A sign-in with its replay guard, if any.
    SignIn(Box<FederatedLogin>),
}

/// What a [`FederationWrite`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FederationWritten {
    Guard(GuardOutcome),
    /// The user signed in (their ID), and the `return_to` of the request the guard consumed.
    SignedIn {
        user_id: String,
        return_to: Option<String>,
    },
    /// The sign-in's guard refused it (never `Fresh`); nothing was written.
    GuardRefused(GuardOutcome),
}

impl FederationWritten {
    /// Whether the write must be undone: it failed, or its guard refused the sign-in.
    pub fn undone(result: &StoreResult<Self>) -> bool {
        matches!(result, Err(_) | Ok(Self::GuardRefused(_)))
    }
}

/// A federated identity's user, and the groups this IdP applied at its last sign-in.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LinkedUser {
    #[sqlx(flatten)]
    pub user: UserRecord,
    /// JSON array of group IDs.
    pub applied_groups: String,
}

impl LinkedUser {
    pub fn applied_group_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.applied_groups).unwrap_or_default()
    }
}

#[async_trait]
pub trait FederationStore: Send + Sync {
    async fn list_idps(&self) -> StoreResult<Vec<IdpRecord>>;
    async fn get_idp(&self, id: &str) -> StoreResult<IdpRecord>;
    /// A duplicate name is a conflict.
    async fn create_idp(&self, idp: IdpRecord, event: NewEvent) -> StoreResult<IdpRecord>;
    /// Replaces the IdP's row with `idp` (same ID); the event gets before/after images.
    async fn update_idp(&self, idp: IdpRecord, event: NewEvent) -> StoreResult<IdpRecord>;
    /// Deletes the IdP with its federated identities and requests in flight.
    async fn delete_idp(&self, id: &str, event: NewEvent) -> StoreResult<()>;

    /// The user linked to (IdP, subject), if any, in one read.
    async fn linked_user(&self, idp_id: &str, subject: &str) -> StoreResult<Option<LinkedUser>>;
    /// Users whose e-mail address is `email` (any case).
    async fn users_by_email(&self, email: &str) -> StoreResult<Vec<UserRecord>>;

    async fn create_federation_request(&self, request: FederationRequestRecord) -> StoreResult<()>;
    /// IDs of unexpired requests of this browser for this IdP.
    async fn outstanding_requests(
        &self,
        idp_id: &str,
        binding_hash: &str,
        now: Millis,
    ) -> StoreResult<Vec<String>>;
    /// Removes and returns the request if it exists, belongs to this browser and IdP and
    /// has not expired. Exactly one caller can ever get it.
    async fn consume_federation_request(
        &self,
        id: &str,
        idp_id: &str,
        binding_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<FederationRequestRecord>>;
    /// Drops expired requests and assertion IDs; returns how many rows went.
    async fn prune_federation(&self, now: Millis) -> StoreResult<u64>;
    /// Makes `writes` in order in one transaction. Each sign-in is all or nothing on its own
    /// (a savepoint): its error is its own result and undoes only that sign-in. Any other
    /// error fails the whole batch: `Err` means nothing was committed.
    async fn federation_writes(
        &self,
        writes: Vec<FederationWrite>,
    ) -> StoreResult<Vec<StoreResult<FederationWritten>>>;
}

const IDP_COLS: &str = "id, name, kind, enabled, settings, client_secret_enc, allow_sha1, \
     allow_idp_initiated, jit_create, link_by_verified_email, mapping, clock_skew_secs, \
     max_response_bytes, created_at, updated_at";
const FEDREQ_COLS: &str =
    "id, idp_id, binding_hash, nonce, pkce_verifier_enc, return_to, created_at, expires_at";
/// `USER_COLS` of `users u`, beside another table's columns of the same names.
const LINKED_USER_COLS: &str = "u.id, u.username, u.email, u.display_name, u.source, u.disabled, \
     u.password_hash, u.totp_secret_enc, u.totp_pending_enc, u.totp_last_step, u.created_at, \
     u.updated_at";

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
    async fn idp_in(tx: &mut Tx<D>, id: &str) -> StoreResult<IdpRecord> {
        sqlx::query_as(&format!(
            "SELECT {IDP_COLS} FROM identity_providers WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// What one federated sign-in writes, inside `tx`, its replay guard first. A
    /// refusal by the guard is returned before anything else is written; the caller
    /// undoes what the guard wrote.
    async fn sign_in_in(
        tx: &mut Tx<D>,
        signer: &AuditSigner,
        l: FederatedLogin,
    ) -> StoreResult<FederationWritten> {
        let return_to = match &l.guard {
            None => None,
            Some(g) => match Self::guard_in(tx, g).await? {
                GuardOutcome::Fresh(to) => to,
                refused => return Ok(FederationWritten::GuardRefused(refused)),
            },
        };
        let user_id = match &l.user {
            FederatedUser::Existing(id) => id.clone(),
            FederatedUser::Create(u) => {
                Self::insert_user_in(tx, u).await?;
                u.id.clone()
            }
        };
        let applied = serde_json::to_string(&l.applied_groups).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO federated_identities (idp_id, subject, user_id, applied_groups, \
             created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (idp_id, \
             subject) DO UPDATE SET applied_groups = $4, last_login_at = $5",
        )
        .bind(&l.idp_id)
        .bind(&l.subject)
        .bind(&user_id)
        .bind(&applied)
        .bind(l.at)
        .execute(&mut **tx)
        .await?;
        for g in &l.add_groups {
            sqlx::query(
                "INSERT INTO group_members (group_id, user_id, added_at) SELECT id, $2, $3 FROM \
                 user_groups WHERE id = $1 ON CONFLICT (group_id, user_id) DO NOTHING",
            )
            .bind(g)
            .bind(&user_id)
            .bind(l.at)
            .execute(&mut **tx)
            .await?;
        }
        for g in &l.remove_groups {
            sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
                .bind(g)
                .bind(&user_id)
                .execute(&mut **tx)
                .await?;
        }
        Self::insert_session_in(tx, &l.session, &user_id, l.replaces.as_deref()).await?;
        let mut event = l.event;
        event.target_id = Some(user_id.clone());
        if event.ctx.actor_id.is_none() {
            event.ctx.actor_id = Some(user_id.clone());
        }
        if let FederatedUser::Create(_) = &l.user {
            // Only a new user is read back, for the event's after-image.
            let user = Self::user_in(tx, &user_id).await?;
            event = with_images(event, None, Some(user.audit_view()));
        }
        Self::append_in(tx, signer, event).await?;
        Ok(FederationWritten::SignedIn { user_id, return_to })
    }

    /// A SAML replay guard inside `tx`: the request (if any) consumed, then the
    /// assertion ID remembered.
    async fn guard_in(tx: &mut Tx<D>, g: &ReplayGuard) -> StoreResult<GuardOutcome> {
        let return_to = match &g.request {
            None => None,
            Some(r) => {
                let found: Option<(String,)> = sqlx::query_as(
                    "DELETE FROM federation_requests WHERE id = $1 AND idp_id = $2 AND \
                     binding_hash = $3 AND expires_at > $4 RETURNING return_to",
                )
                .bind(&r.id)
                .bind(&g.idp_id)
                .bind(&r.binding_hash)
                .bind(g.now)
                .fetch_optional(&mut **tx)
                .await?;
                match found {
                    Some((to,)) => Some(to),
                    None => return Ok(GuardOutcome::UnknownRequest),
                }
            }
        };
        let r = sqlx::query(
            "INSERT INTO saml_seen_assertions (idp_id, assertion_id, expires_at) VALUES ($1, $2, \
             $3) ON CONFLICT (idp_id, assertion_id) DO NOTHING",
        )
        .bind(&g.idp_id)
        .bind(&g.assertion_id)
        .bind(g.keep_until)
        .execute(&mut **tx)
        .await?;
        Ok(if r.rows_affected() == 1 {
            GuardOutcome::Fresh(return_to)
        } else {
            GuardOutcome::Replayed
        })
    }

    async fn federation_write_in(
        tx: &mut Tx<D>,
        signer: &AuditSigner,
        w: FederationWrite,
    ) -> StoreResult<FederationWritten> {
        match w {
            FederationWrite::Guard(g) => {
                Ok(FederationWritten::Guard(Self::guard_in(tx, &g).await?))
            }
            FederationWrite::SignIn(l) => Self::sign_in_in(tx, signer, *l).await,
        }
    }
}

#[async_trait]
impl<D: Dialect> FederationStore for SqlStore<D>
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
    async fn list_idps(&self) -> StoreResult<Vec<IdpRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {IDP_COLS} FROM identity_providers ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn get_idp(&self, id: &str) -> StoreResult<IdpRecord> {
        sqlx::query_as(&format!(
            "SELECT {IDP_COLS} FROM identity_providers WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn create_idp(&self, i: IdpRecord, event: NewEvent) -> StoreResult<IdpRecord> {
        self.audited_write(|mut tx| async move {
            sqlx::query(&format!(
                "INSERT INTO identity_providers ({IDP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                 $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .bind(&i.id)
            .bind(&i.name)
            .bind(&i.kind)
            .bind(i.enabled)
            .bind(&i.settings)
            .bind(&i.client_secret_enc)
            .bind(i.allow_sha1)
            .bind(i.allow_idp_initiated)
            .bind(i.jit_create)
            .bind(i.link_by_verified_email)
            .bind(&i.mapping)
            .bind(i.clock_skew_secs)
            .bind(i.max_response_bytes)
            .bind(i.created_at)
            .bind(i.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on_unique("an identity provider with this name"))?;
            let created = Self::idp_in(&mut tx, &i.id).await?;
            Ok((tx, Written::created(created, event)))
        })
        .await
    }

    async fn update_idp(&self, i: IdpRecord, event: NewEvent) -> StoreResult<IdpRecord> {
        self.audited_write(|mut tx| async move {
            let before = Self::idp_in(&mut tx, &i.id).await?;
            sqlx::query(
                "UPDATE identity_providers SET name = $2, enabled = $3, settings = $4, \
                 client_secret_enc = $5, allow_sha1 = $6, allow_idp_initiated = $7, jit_create = \
                 $8, link_by_verified_email = $9, mapping = $10, clock_skew_secs = $11, \
                 max_response_bytes = $12, updated_at = $13 WHERE id = $1",
            )
            .bind(&i.id)
            .bind(&i.name)
            .bind(i.enabled)
            .bind(&i.settings)
            .bind(&i.client_secret_enc)
            .bind(i.allow_sha1)
            .bind(i.allow_idp_initiated)
            .bind(i.jit_create)
            .bind(i.link_by_verified_email)
            .bind(&i.mapping)
            .bind(i.clock_skew_secs)
            .bind(i.max_response_bytes)
            .bind(i.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on_unique("an identity provider with this name"))?;
            let after = Self::idp_in(&mut tx, &i.id).await?;
            Ok((tx, Written::changed(&before, after, event)))
        })
        .await
    }

    async fn delete_idp(&self, id: &str, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let before = Self::idp_in(&mut tx, id).await?;
            for sql in [
                "DELETE FROM federation_requests WHERE idp_id = $1",
                "DELETE FROM federated_identities WHERE idp_id = $1",
                "DELETE FROM saml_seen_assertions WHERE idp_id = $1",
                "DELETE FROM identity_providers WHERE id = $1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
            Ok((tx, Written::deleted(&before, event)))
        })
        .await
    }

    async fn linked_user(&self, idp_id: &str, subject: &str) -> StoreResult<Option<LinkedUser>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {LINKED_USER_COLS}, f.applied_groups FROM federated_identities f JOIN users u \
             ON u.id = f.user_id WHERE f.idp_id = $1 AND f.subject = $2"
        ))
        .bind(idp_id)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn users_by_email(&self, email: &str) -> StoreResult<Vec<UserRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {USER_COLS} FROM users WHERE LOWER(email) = LOWER($1) ORDER BY id"
        ))
        .bind(email)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn create_federation_request(&self, r: FederationRequestRecord) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(&format!(
            "INSERT INTO federation_requests ({FEDREQ_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8)"
        ))
        .bind(&r.id)
        .bind(&r.idp_id)
        .bind(&r.binding_hash)
        .bind(&r.nonce)
        .bind(&r.pkce_verifier_enc)
        .bind(&r.return_to)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn outstanding_requests(
        &self,
        idp_id: &str,
        binding_hash: &str,
        now: Millis,
    ) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM federation_requests WHERE idp_id = $1 AND binding_hash = $2 AND \
             expires_at > $3 ORDER BY created_at DESC LIMIT 20",
        )
        .bind(idp_id)
        .bind(binding_hash)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn consume_federation_request(
        &self,
        id: &str,
        idp_id: &str,
        binding_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<FederationRequestRecord>> {
        let _gate = self.write_gate().await;
        Ok(sqlx::query_as(&format!(
            "DELETE FROM federation_requests WHERE id = $1 AND idp_id = $2 AND binding_hash = $3 \
             AND expires_at > $4 RETURNING {FEDREQ_COLS}"
        ))
        .bind(id)
        .bind(idp_id)
        .bind(binding_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn federation_writes(
        &self,
        writes: Vec<FederationWrite>,
    ) -> StoreResult<Vec<StoreResult<FederationWritten>>> {
        let _gate = self.write_gate().await;
        let mut tx = self.pool.begin().await?;
        if let [_] = writes.as_slice() {
            // Alone in its transaction: a failed write is undone with it.
            let Some(w) = writes.into_iter().next() else {
                return Ok(vec![]);
            };
            let r = Self::federation_write_in(&mut tx, &self.signer, w).await;
            if FederationWritten::undone(&r) {
                tx.rollback().await?;
            } else {
                tx.commit().await?;
            }
            return Ok(vec![r]);
        }
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            // A sign-in may fail on its own (a JIT username taken): in a savepoint. A
            // replay guard fails only with the database, and then fails the batch.
            let alone = matches!(w, FederationWrite::SignIn(_));
            if !alone {
                out.push(Ok(
                    Self::federation_write_in(&mut tx, &self.signer, w).await?
                ));
                continue;
            }
            sqlx::query("SAVEPOINT federation_write")
                .execute(&mut *tx)
                .await?;
            let r = Self::federation_write_in(&mut tx, &self.signer, w).await;
            if FederationWritten::undone(&r) {
                sqlx::query("ROLLBACK TO SAVEPOINT federation_write")
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("RELEASE SAVEPOINT federation_write")
                .execute(&mut *tx)
                .await?;
            out.push(r);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn prune_federation(&self, now: Millis) -> StoreResult<u64> {
        let _gate = self.write_gate().await;
        let a = sqlx::query("DELETE FROM federation_requests WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let b = sqlx::query("DELETE FROM saml_seen_assertions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(a.rows_affected() + b.rows_affected())
    }
}
