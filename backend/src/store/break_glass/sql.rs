//! The SQL of [`BreakGlassStore`](super::BreakGlassStore): written once, generic over the engine's
//! [`Dialect`], every change in [`SqlStore::audited_write`].

use crate::audit::{AuditCtx, NewEvent};
use crate::clock::Millis;
use crate::store::chain::Tx;
use crate::store::dialect::{Dialect, RowsAffected};
use crate::store::sql_store::{with_detail, with_images, SqlStore, Written};
use crate::store::StoreResult;
use async_trait::async_trait;
use gatehouse_shared::audit::AuditAction;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::*;
use crate::store::{conflict_on_unique, StoreError};

const VAULT_SELECT: &str = "SELECT v.id, v.account_id, COALESCE(a.name, v.account_id) AS \
     account_name, v.password_enc, v.totp_seed_enc, v.password_group_id, COALESCE(pg.name, \
     '(deleted group)') AS password_group_name, v.mfa_group_id, COALESCE(mg.name, '(deleted \
     group)') AS mfa_group_name, v.password_approvals, v.mfa_approvals, v.window_secs, \
     v.rotation_required_at, v.rotated_at, v.rotated_by, v.password_set_by_id, \
     v.totp_set_by_id, v.created_at, v.updated_at FROM vault_entries v LEFT JOIN accounts a ON \
     a.id = v.account_id LEFT JOIN user_groups pg ON pg.id = v.password_group_id LEFT JOIN \
     user_groups mg ON mg.id = v.mfa_group_id";
const BG_SELECT: &str = "SELECT r.id, r.vault_entry_id, r.account_id, COALESCE(a.name, \
     r.account_id) AS account_name, r.requester_id, r.requester_name, r.justification, r.status, \
     r.version, r.created_at, r.expires_at, r.decided_at, r.window_ends_at, r.first_used_at, \
     r.review_note, r.reviewed_at, r.updated_at, r.password_approvals, r.mfa_approvals, \
     r.window_secs, r.password_group_id, r.mfa_group_id FROM breakglass_requests r LEFT JOIN \
     accounts a ON a.id = r.account_id";
// Membership is read now, of the custodian groups the request was made under.
const DECISION_SELECT: &str = "SELECT d.approver_id, d.approver_name, d.decision, d.comment, \
     d.created_at, EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = r.password_group_id \
     AND m.user_id = d.approver_id) AS in_password_group, EXISTS (SELECT 1 FROM group_members m \
     WHERE m.group_id = r.mfa_group_id AND m.user_id = d.approver_id) AS in_mfa_group FROM \
     breakglass_approvals d JOIN breakglass_requests r ON r.id = d.request_id WHERE \
     d.request_id = $1 ORDER BY d.created_at, d.approver_id";

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
    async fn vault_in(tx: &mut Tx<D>, id: &str) -> StoreResult<VaultEntryRecord> {
        sqlx::query_as(&format!("{VAULT_SELECT} WHERE v.id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn breakglass_in(tx: &mut Tx<D>, id: &str) -> StoreResult<BreakGlassRecord> {
        sqlx::query_as(&format!("{BG_SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The compare-and-set every transition starts with: bumps the version if the
    /// request is in `status` (and, for pending, before its deadline).
    async fn breakglass_cas(
        tx: &mut Tx<D>,
        id: &str,
        status: &str,
        at: Millis,
    ) -> StoreResult<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE breakglass_requests SET version = version + 1, updated_at = $3 WHERE id = $1 \
             AND status = $2 AND (status <> 'pending' OR expires_at > $3) AND (status <> \
             'approved' OR window_ends_at > $3) RETURNING version",
        )
        .bind(id)
        .bind(status)
        .bind(at)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.is_some())
    }
}

#[async_trait]
impl<D: Dialect> BreakGlassStore for SqlStore<D>
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
    async fn list_vault_entries(&self) -> StoreResult<Vec<VaultEntryRecord>> {
        Ok(sqlx::query_as(&format!(
            "{VAULT_SELECT} ORDER BY account_name, v.account_id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn get_vault_entry(&self, id: &str) -> StoreResult<VaultEntryRecord> {
        sqlx::query_as(&format!("{VAULT_SELECT} WHERE v.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn create_vault_entry(
        &self,
        e: VaultEntryRecord,
        event: NewEvent,
    ) -> StoreResult<VaultEntryRecord> {
        self.audited_write(|mut tx| async move {
            sqlx::query(
                "INSERT INTO vault_entries (id, account_id, password_enc, totp_seed_enc, \
                 password_group_id, mfa_group_id, password_approvals, mfa_approvals, window_secs, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            )
            .bind(&e.id)
            .bind(&e.account_id)
            .bind(&e.password_enc)
            .bind(&e.totp_seed_enc)
            .bind(&e.password_group_id)
            .bind(&e.mfa_group_id)
            .bind(e.password_approvals)
            .bind(e.mfa_approvals)
            .bind(e.window_secs)
            .bind(e.created_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on_unique("a vault entry for this account"))?;
            let created = Self::vault_in(&mut tx, &e.id).await?;
            Ok((tx, Written::created(created, event)))
        })
        .await
    }

    async fn update_vault_entry(
        &self,
        id: &str,
        c: VaultChange,
        event: NewEvent,
    ) -> StoreResult<VaultEntryRecord> {
        self.audited_write(|mut tx| async move {
            let before = Self::vault_in(&mut tx, id).await?;
            sqlx::query(
                "UPDATE vault_entries SET password_group_id = COALESCE($2, password_group_id), \
                 mfa_group_id = COALESCE($3, mfa_group_id), password_approvals = COALESCE($4, \
                 password_approvals), mfa_approvals = COALESCE($5, mfa_approvals), window_secs = \
                 COALESCE($6, window_secs), updated_at = $7 WHERE id = $1",
            )
            .bind(id)
            .bind(c.password_group_id)
            .bind(c.mfa_group_id)
            .bind(c.password_approvals)
            .bind(c.mfa_approvals)
            .bind(c.window_secs)
            .bind(c.updated_at)
            .execute(&mut *tx)
            .await?;
            let after = Self::vault_in(&mut tx, id).await?;
            Ok((tx, Written::changed(&before, after, event)))
        })
        .await
    }

    async fn delete_vault_entry(&self, id: &str, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let before = Self::vault_in(&mut tx, id).await?;
            sqlx::query("DELETE FROM vault_entries WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok((tx, Written::deleted(&before, event)))
        })
        .await
    }

    async fn record_rotation(
        &self,
        id: &str,
        password_enc: Option<String>,
        totp_seed_enc: Option<String>,
        by: &str,
        by_id: &str,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<VaultEntryRecord> {
        const SPLIT: &str = "both halves of a root credential from one custodian";
        if password_enc.is_some() && totp_seed_enc.is_some() {
            return Err(StoreError::Conflict(SPLIT));
        }
        self.audited_write(|mut tx| async move {
            let before = Self::vault_in(&mut tx, id).await?;
            let rotated = serde_json::json!({
                "password": password_enc.is_some(),
                "totp_seed": totp_seed_enc.is_some(),
            });
            let password_by = password_enc.as_ref().map(|_| by_id.to_string());
            let totp_by = totp_seed_enc.as_ref().map(|_| by_id.to_string());
            // The other half's setter is compared under the write, so two concurrent
            // rotations by one person cannot each pass a check made before the other.
            let changed = sqlx::query(
                "UPDATE vault_entries SET password_enc = COALESCE($2, password_enc), totp_seed_enc \
                 = COALESCE($3, totp_seed_enc), rotation_required_at = NULL, rotated_at = $4, \
                 rotated_by = $5, updated_at = $4, password_set_by_id = COALESCE($6, \
                 password_set_by_id), totp_set_by_id = COALESCE($7, totp_set_by_id) WHERE id = $1 \
                 AND ($6 IS NULL OR totp_set_by_id IS NULL OR totp_set_by_id <> $6) AND ($7 IS \
                 NULL OR password_set_by_id IS NULL OR password_set_by_id <> $7)",
            )
            .bind(id)
            .bind(password_enc)
            .bind(totp_seed_enc)
            .bind(at)
            .bind(by)
            .bind(password_by)
            .bind(totp_by)
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() == 0 {
                return Err(StoreError::Conflict(SPLIT));
            }
            let after = Self::vault_in(&mut tx, id).await?;
            let ev = with_detail(event, "rotated", rotated);
            let event = with_images(ev, Some(before.audit_view()), Some(after.audit_view()));
            Ok((tx, Written::with(after, event)))
        })
        .await
    }

    async fn create_breakglass(
        &self,
        r: BreakGlassRecord,
        event: NewEvent,
    ) -> StoreResult<BreakGlassRecord> {
        self.audited_write(|mut tx| async move {
            sqlx::query(
                "INSERT INTO breakglass_requests (id, vault_entry_id, account_id, requester_id, \
                 requester_name, justification, status, version, created_at, expires_at, \
                 updated_at, password_group_id, mfa_group_id, password_approvals, mfa_approvals, \
                 window_secs) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 1, $7, $8, $7, $9, $10, \
                 $11, $12, $13)",
            )
            .bind(&r.id)
            .bind(&r.vault_entry_id)
            .bind(&r.account_id)
            .bind(&r.requester_id)
            .bind(&r.requester_name)
            .bind(&r.justification)
            .bind(r.created_at)
            .bind(r.expires_at)
            .bind(&r.password_group_id)
            .bind(&r.mfa_group_id)
            .bind(r.password_approvals)
            .bind(r.mfa_approvals)
            .bind(r.window_secs)
            .execute(&mut *tx)
            .await?;
            let created = Self::breakglass_in(&mut tx, &r.id).await?;
            let event = event;
            Ok((tx, Written::with(created, event)))
        })
        .await
    }

    async fn get_breakglass(&self, id: &str) -> StoreResult<BreakGlassRecord> {
        sqlx::query_as(&format!("{BG_SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn list_breakglass(&self, user_id: Option<&str>) -> StoreResult<Vec<BreakGlassRecord>> {
        Ok(sqlx::query_as(&format!(
            "{BG_SELECT} WHERE $1 IS NULL OR r.requester_id = $1 OR EXISTS (SELECT 1 FROM \
             group_members m WHERE m.user_id = $1 AND (m.group_id = r.password_group_id OR \
             m.group_id = r.mfa_group_id)) ORDER BY r.created_at DESC, r.id LIMIT 500"
        ))
        .bind(user_id.map(str::to_owned))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn breakglass_decisions(&self, request_id: &str) -> StoreResult<Vec<DecisionRecord>> {
        Ok(sqlx::query_as(DECISION_SELECT)
            .bind(request_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn decide_breakglass(&self, d: DecisionWrite) -> StoreResult<DecideOutcome> {
        self.audited_write(|mut tx| async move {
            if !Self::breakglass_cas(&mut tx, &d.request_id, "pending", d.at).await? {
                let current = Self::breakglass_in(&mut tx, &d.request_id).await?;
                let status = if current.status == "pending" {
                    "expired".to_string()
                } else {
                    current.status
                };
                return Ok((tx, Written::unchanged(DecideOutcome::NotPending(status))));
            }
            let inserted = sqlx::query(
            "INSERT INTO breakglass_approvals (request_id, approver_id, approver_name, decision, \
             comment, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id, \
             approver_id) DO NOTHING",
        )
        .bind(&d.request_id)
        .bind(&d.approver_id)
        .bind(&d.approver_name)
        .bind(if d.approve { "approve" } else { "reject" })
        .bind(&d.comment)
        .bind(d.at)
        .execute(&mut *tx)
        .await?;
            if inserted.rows_affected() == 0 {
                return Ok((tx, Written::unchanged(DecideOutcome::AlreadyDecided)));
            }
            if !d.approve {
                sqlx::query(
                "UPDATE breakglass_requests SET status = 'rejected', decided_at = $2 WHERE id = $1",
            )
            .bind(&d.request_id)
            .bind(d.at)
            .execute(&mut *tx)
            .await?;
                let request = Self::breakglass_in(&mut tx, &d.request_id).await?;
                let ev = with_detail(
                    request.event(
                        d.at,
                        &d.ctx,
                        AuditAction::BreakGlassReject,
                        &d.notify_user_ids,
                    ),
                    "comment",
                    serde_json::json!(d.comment),
                );
                let outcome = DecideOutcome::Recorded {
                    request: Box::new(request),
                    approved: false,
                };
                return Ok((tx, Written::with(outcome, ev)));
            }
            let decisions: Vec<DecisionRecord> = sqlx::query_as(DECISION_SELECT)
                .bind(&d.request_id)
                .fetch_all(&mut *tx)
                .await?;
            let pending = Self::breakglass_in(&mut tx, &d.request_id).await?;
            let q = quorum(
                &decisions,
                &pending.requester_id,
                pending.password_approvals,
                pending.mfa_approvals,
            );
            let approvals = serde_json::json!({ "password": q.password, "mfa": q.mfa });
            let needed = serde_json::json!({
                "password": pending.password_approvals,
                "mfa": pending.mfa_approvals,
            });
            let mut events = vec![with_detail(
                with_detail(
                    with_detail(
                        pending.event(
                            d.at,
                            &d.ctx,
                            AuditAction::BreakGlassApprove,
                            &d.notify_user_ids,
                        ),
                        "approvals",
                        approvals.clone(),
                    ),
                    "needed",
                    needed.clone(),
                ),
                "comment",
                serde_json::json!(d.comment),
            )];
            let request = if q.reached {
                let ends = d.at + pending.window_secs * 1000;
                sqlx::query(
                    "UPDATE breakglass_requests SET status = 'approved', decided_at = $2, \
                     window_ends_at = $3 WHERE id = $1",
                )
                .bind(&d.request_id)
                .bind(d.at)
                .bind(ends)
                .execute(&mut *tx)
                .await?;
                let approved = Self::breakglass_in(&mut tx, &d.request_id).await?;
                let ev = approved.event(
                    d.at,
                    &d.ctx,
                    AuditAction::BreakGlassApproved,
                    &d.notify_user_ids,
                );
                let ev = with_detail(
                    ev,
                    "window_ends_at",
                    serde_json::json!(crate::clock::expiration_text(ends)),
                );
                events.push(with_detail(
                    with_detail(ev, "approvals", approvals),
                    "needed",
                    needed,
                ));
                approved
            } else {
                pending
            };
            let outcome = DecideOutcome::Recorded {
                request: Box::new(request),
                approved: q.reached,
            };
            Ok((tx, Written::with_all(outcome, events)))
        })
        .await
    }

    async fn cancel_breakglass(
        &self,
        id: &str,
        at: Millis,
        ctx: &AuditCtx,
    ) -> StoreResult<Option<BreakGlassRecord>> {
        self.audited_write(|mut tx| async move {
            if !Self::breakglass_cas(&mut tx, id, "pending", at).await? {
                return Ok((tx, Written::unchanged(None)));
            }
            sqlx::query(
                "UPDATE breakglass_requests SET status = 'cancelled', decided_at = $2 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let r = Self::breakglass_in(&mut tx, id).await?;
            let ev = r.event(at, ctx, AuditAction::BreakGlassCancel, &[]);
            let event = ev;
            Ok((tx, Written::with(Some(r), event)))
        })
        .await
    }

    async fn use_breakglass(
        &self,
        id: &str,
        requester_id: &str,
        at: Millis,
        kind: UseKind,
        event: NewEvent,
        custodians: &[String],
    ) -> StoreResult<bool> {
        self.audited_write(|mut tx| async move {
            let mine: Option<(String,)> =
                sqlx::query_as("SELECT requester_id FROM breakglass_requests WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if mine.map(|(r,)| r).as_deref() != Some(requester_id) {
                return Ok((tx, Written::unchanged(false)));
            }
            if !Self::breakglass_cas(&mut tx, id, "approved", at).await? {
                return Ok((tx, Written::unchanged(false)));
            }
            sqlx::query(
                "UPDATE breakglass_requests SET first_used_at = COALESCE(first_used_at, $2) WHERE \
                 id = $1",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if let UseKind::RootSession {
                access_key_id,
                task,
                expires_at,
            } = &kind
            {
                sqlx::query(
                    "INSERT INTO breakglass_root_sessions (access_key_id, request_id, task, \
                     issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(access_key_id)
                .bind(id)
                .bind(task)
                .bind(at)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            }
            let r = Self::breakglass_in(&mut tx, id).await?;
            let marked: Option<(String,)> = sqlx::query_as(
                "UPDATE vault_entries SET rotation_required_at = $2, updated_at = $2 WHERE id = $1 \
                 AND rotation_required_at IS NULL RETURNING id",
            )
            .bind(&r.vault_entry_id)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let mut events = vec![event];
            if marked.is_some() {
                let mut ev = NewEvent::new(
                    at,
                    &event_ctx(&events[0]),
                    AuditAction::VaultRotationRequired,
                    "vault_entry",
                    Some(r.vault_entry_id.clone()),
                )
                .details(r.event_details(custodians));
                let reason = "root credential used under a break-glass request";
                ev.details = with_detail_value(ev.details, "reason", serde_json::json!(reason));
                events.push(ev);
            }
            Ok((tx, Written::with_all(true, events)))
        })
        .await
    }

    async fn review_breakglass(
        &self,
        id: &str,
        note: &str,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<Option<BreakGlassRecord>> {
        self.audited_write(|mut tx| async move {
            let done = sqlx::query(
                "UPDATE breakglass_requests SET review_note = $2, reviewed_at = $3, version = \
                 version + 1, updated_at = $3 WHERE id = $1 AND review_note IS NULL",
            )
            .bind(id)
            .bind(note)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok((tx, Written::unchanged(None)));
            }
            let r = Self::breakglass_in(&mut tx, id).await?;
            let event = event;
            Ok((tx, Written::with(Some(r), event)))
        })
        .await
    }

    async fn sweep_breakglass(&self, now: Millis) -> StoreResult<u64> {
        let due: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, status FROM breakglass_requests WHERE (status = 'pending' AND expires_at \
             <= $1) OR (status = 'approved' AND window_ends_at <= $1) ORDER BY id LIMIT 200",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut n = 0;
        for (id, status) in due {
            let swept = self
                .audited_write(|mut tx| async move {
                    let (to, deadline) = if status == "pending" {
                        ("expired", "expires_at")
                    } else {
                        ("closed", "window_ends_at")
                    };
                    let changed = sqlx::query(&format!(
                        "UPDATE breakglass_requests SET status = $3, version = version + 1, \
                         updated_at = $2 WHERE id = $1 AND status = $4 AND {deadline} <= $2"
                    ))
                    .bind(&id)
                    .bind(now)
                    .bind(to)
                    .bind(&status)
                    .execute(&mut *tx)
                    .await?;
                    if changed.rows_affected() == 0 {
                        // Another instance got there first.
                        return Ok((tx, Written::unchanged(false)));
                    }
                    let r = Self::breakglass_in(&mut tx, &id).await?;
                    let event = sweep_event(&r, now, to == "expired");
                    Ok((tx, Written::with(true, event)))
                })
                .await?;
            if swept {
                n += 1;
            }
        }
        Ok(n)
    }
}
