//! The SQL of [`RequestStore`](super::RequestStore): written once, generic over the engine's
//! [`Dialect`], every change in [`SqlStore::audited_write`].

use crate::audit::NewEvent;
use crate::clock::Millis;
use crate::store::assembled::Assembled;
use crate::store::chain::Tx;
use crate::store::dialect::{Dialect, RowsAffected};
use crate::store::sql_store::{with_images, SqlStore, Written};
use crate::store::StoreResult;
use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::*;
use crate::store::StoreError;

const EP_SELECT: &str = "SELECT e.id, e.name, e.principal_type, e.principal_id, e.account_ids, \
     e.permission_set_ids, e.max_duration_secs, e.approval_required, e.justification_required, \
     e.ticket_required, COALESCE(u.username, g.name, '') AS principal_name, e.created_at, \
     e.updated_at FROM eligibility_policies e LEFT JOIN users u ON e.principal_type = 'user' AND \
     u.id = e.principal_id LEFT JOIN user_groups g ON e.principal_type = 'group' AND g.id = \
     e.principal_id";
const AP_COLS: &str = "id, name, account_id, permission_set_id, approver_group_ids, \
     approver_user_ids, approvals_needed, rejections_to_end, mfa_required, pending_lifetime_secs, \
     created_at, updated_at";
const AR_SELECT: &str = "SELECT r.id, r.requester_id, r.requester_name, r.account_id, ac.name AS \
     account_name, r.permission_set_id, p.name AS permission_set_name, r.duration_secs, \
     r.justification, r.ticket, r.requested_start_at, r.state, r.version, r.approval_required, \
     r.approvals_needed, r.rejections_to_end, r.mfa_required, r.pending_expires_at, r.starts_at, \
     r.ends_at, r.closed_at, r.closed_by, r.created_at, r.updated_at FROM access_requests r JOIN \
     accounts ac ON ac.id = r.account_id JOIN permission_sets p ON p.id = r.permission_set_id";
/// Enabled users among a request's approver users and its approver groups' current
/// members, never the requester. `$1` request id, `$2` requester id, `$3` false.
const CURRENT_APPROVERS_SQL: &str = "SELECT u.id, u.username FROM users u WHERE u.id <> $2 AND \
     u.disabled = $3 AND ( u.id IN (SELECT a.principal_id FROM access_request_approvers a WHERE \
     a.request_id = $1 AND a.principal_type = 'user') OR u.id IN (SELECT m.user_id FROM \
     group_members m JOIN access_request_approvers a ON a.principal_type = 'group' AND \
     a.principal_id = m.group_id WHERE a.request_id = $1)) ORDER BY u.username, u.id";
const DECISION_COLS: &str = "request_id, approver_id, approver_name, decision, comment, decided_at";

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
    async fn snapshot_in(
        conn: &mut <D as sqlx::Database>::Connection,
        id: &str,
    ) -> StoreResult<RequestSnapshot> {
        let request: AccessRequestRecord = sqlx::query_as(&format!("{AR_SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let decisions = sqlx::query_as(&format!(
            "SELECT {DECISION_COLS} FROM access_request_decisions WHERE request_id = $1 ORDER BY \
             decided_at, approver_id"
        ))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let approvers = sqlx::query_as(CURRENT_APPROVERS_SQL)
            .bind(id)
            .bind(&request.requester_id)
            .bind(false)
            .fetch_all(&mut *conn)
            .await?;
        Ok(RequestSnapshot {
            request,
            decisions,
            approvers,
        })
    }

    async fn eligibility_in(tx: &mut Tx<D>, id: &str) -> StoreResult<EligibilityPolicyRecord> {
        sqlx::query_as(&format!("{EP_SELECT} WHERE e.id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn approval_in(tx: &mut Tx<D>, id: &str) -> StoreResult<ApprovalPolicyRecord> {
        sqlx::query_as(&format!(
            "SELECT {AP_COLS} FROM approval_policies WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// One attempt at a transition: `Ok(None)` when the version moved under us. A refusal
    /// (the plan's, or a decision already recorded) rolls back, like a database error.
    async fn try_transition(
        &self,
        id: &str,
        plan: Plan<'_>,
    ) -> Result<Option<RequestSnapshot>, RequestError> {
        self.audited_write(|mut tx| async move {
            let snap = Self::snapshot_in(&mut tx, id).await?;
            let t = match plan(&snap) {
                Ok(t) => t,
                Err(refused) => return Ok((tx, Written::unchanged(Err(refused)))),
            };
            let r = &t.request;
            let changed = sqlx::query(
                "UPDATE access_requests SET state = $3, version = version + 1, starts_at = $4, \
                 ends_at = $5, closed_at = $6, closed_by = $7, updated_at = $8 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(id)
            .bind(snap.request.version)
            .bind(&r.state)
            .bind(r.starts_at)
            .bind(r.ends_at)
            .bind(r.closed_at)
            .bind(&r.closed_by)
            .bind(r.updated_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Ok((tx, Written::unchanged(Ok(None))));
            }
            if let Some(d) = &t.decision {
                let inserted = sqlx::query(
                    "INSERT INTO access_request_decisions (request_id, approver_id, \
                     approver_name, decision, comment, decided_at) VALUES ($1, $2, $3, $4, $5, \
                     $6) ON CONFLICT (request_id, approver_id) DO NOTHING",
                )
                .bind(&d.request_id)
                .bind(&d.approver_id)
                .bind(&d.approver_name)
                .bind(&d.decision)
                .bind(&d.comment)
                .bind(d.decided_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    // Only reachable if the row changed without the version moving.
                    let refused = Err(RequestError::AlreadyDecided);
                    return Ok((tx, Written::unchanged(refused)));
                }
            }
            if let Some(rev) = &t.revocation {
                Self::insert_revocation_in(&mut tx, rev).await?;
            }
            let after = Self::snapshot_in(&mut tx, id).await?;
            Ok((tx, Written::with_all(Ok(Some(after)), t.events)))
        })
        .await?
    }
}

#[async_trait]
impl<D: Dialect> RequestStore for SqlStore<D>
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
    async fn list_eligibility_policies(&self) -> StoreResult<Vec<EligibilityPolicyRecord>> {
        Ok(
            sqlx::query_as(&format!("{EP_SELECT} ORDER BY e.name, e.id"))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn get_eligibility_policy(&self, id: &str) -> StoreResult<EligibilityPolicyRecord> {
        sqlx::query_as(&format!("{EP_SELECT} WHERE e.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn put_eligibility_policy(
        &self,
        p: EligibilityPolicyRecord,
        create: bool,
        event: NewEvent,
    ) -> StoreResult<EligibilityPolicyRecord> {
        self.audited_write(|mut tx| async move {
            let before = if create {
                None
            } else {
                Some(Self::eligibility_in(&mut tx, &p.id).await?)
            };
            sqlx::query(
                "INSERT INTO eligibility_policies (id, name, principal_type, principal_id, \
                 account_ids, permission_set_ids, max_duration_secs, approval_required, \
                 justification_required, ticket_required, created_at, updated_at) VALUES ($1, $2, \
                 $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO UPDATE SET name = \
                 $2, principal_type = $3, principal_id = $4, account_ids = $5, permission_set_ids \
                 = $6, max_duration_secs = $7, approval_required = $8, justification_required = \
                 $9, ticket_required = $10, updated_at = $12",
            )
            .bind(&p.id)
            .bind(&p.name)
            .bind(&p.principal_type)
            .bind(&p.principal_id)
            .bind(&p.account_ids)
            .bind(&p.permission_set_ids)
            .bind(p.max_duration_secs)
            .bind(p.approval_required)
            .bind(p.justification_required)
            .bind(p.ticket_required)
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(&mut *tx)
            .await?;
            // A grant needs its role: what the policy now covers gets one, what it no
            // longer covers loses it unless something else still needs it.
            Self::add_eligible_roles_in(&mut tx, p.updated_at).await?;
            Self::drop_unassigned_roles_in(&mut tx, p.updated_at).await?;
            let after = Self::eligibility_in(&mut tx, &p.id).await?;
            let ev = with_images(
                event,
                before.map(|b| b.audit_view()),
                Some(after.audit_view()),
            );
            let event = ev;
            Ok((tx, Written::with(after, event)))
        })
        .await
    }

    async fn delete_eligibility_policy(&self, id: &str, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let before = Self::eligibility_in(&mut tx, id).await?;
            sqlx::query("DELETE FROM eligibility_policies WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Self::drop_unassigned_roles_in(&mut tx, event.occurred_at).await?;
            Ok((tx, Written::deleted(&before, event)))
        })
        .await
    }

    async fn list_approval_policies(&self) -> StoreResult<Vec<ApprovalPolicyRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {AP_COLS} FROM approval_policies ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn get_approval_policy(&self, id: &str) -> StoreResult<ApprovalPolicyRecord> {
        sqlx::query_as(&format!(
            "SELECT {AP_COLS} FROM approval_policies WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn put_approval_policy(
        &self,
        p: ApprovalPolicyRecord,
        create: bool,
        event: NewEvent,
    ) -> StoreResult<ApprovalPolicyRecord> {
        self.audited_write(|mut tx| async move {
            let before = if create {
                None
            } else {
                Some(Self::approval_in(&mut tx, &p.id).await?)
            };
            sqlx::query(
                "INSERT INTO approval_policies (id, name, account_id, permission_set_id, \
                 approver_group_ids, approver_user_ids, approvals_needed, rejections_to_end, \
                 mfa_required, pending_lifetime_secs, created_at, updated_at) VALUES ($1, $2, $3, \
                 $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO UPDATE SET name = $2, \
                 account_id = $3, permission_set_id = $4, approver_group_ids = $5, \
                 approver_user_ids = $6, approvals_needed = $7, rejections_to_end = $8, \
                 mfa_required = $9, pending_lifetime_secs = $10, updated_at = $12",
            )
            .bind(&p.id)
            .bind(&p.name)
            .bind(&p.account_id)
            .bind(&p.permission_set_id)
            .bind(&p.approver_group_ids)
            .bind(&p.approver_user_ids)
            .bind(p.approvals_needed)
            .bind(p.rejections_to_end)
            .bind(p.mfa_required)
            .bind(p.pending_lifetime_secs)
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(&mut *tx)
            .await?;
            let after = Self::approval_in(&mut tx, &p.id).await?;
            let ev = with_images(
                event,
                before.map(|b| b.audit_view()),
                Some(after.audit_view()),
            );
            let event = ev;
            Ok((tx, Written::with(after, event)))
        })
        .await
    }

    async fn delete_approval_policy(&self, id: &str, event: NewEvent) -> StoreResult<()> {
        self.audited_write(|mut tx| async move {
            let before = Self::approval_in(&mut tx, id).await?;
            sqlx::query("DELETE FROM approval_policies WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok((tx, Written::deleted(&before, event)))
        })
        .await
    }

    async fn resolve_approvers(
        &self,
        requester_id: &str,
        group_ids: &[String],
        user_ids: &[String],
    ) -> StoreResult<Vec<ApproverRecord>> {
        let mut q = Assembled::<D>::new("SELECT u.id, u.username FROM users u WHERE u.disabled = ");
        q.bind(false)
            .push(" AND u.id <> ")
            .bind(requester_id.to_string())
            .push(" AND (1 = 0");
        if !user_ids.is_empty() {
            q.push(" OR u.id IN (");
            let mut s = q.separated(", ");
            for id in user_ids {
                s.bind(id.clone());
            }
            q.push(")");
        }
        if !group_ids.is_empty() {
            q.push(" OR u.id IN (SELECT m.user_id FROM group_members m WHERE m.group_id IN (");
            let mut s = q.separated(", ");
            for id in group_ids {
                s.bind(id.clone());
            }
            q.push("))");
        }
        q.push(") ORDER BY u.username, u.id");
        let (sql, args) = q.finish()?;
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn create_request(
        &self,
        r: AccessRequestRecord,
        groups: &[String],
        users: &[String],
        events: Vec<NewEvent>,
    ) -> StoreResult<RequestSnapshot> {
        self.audited_write(|mut tx| async move {
            sqlx::query(
                "INSERT INTO access_requests (id, requester_id, requester_name, account_id, \
                 permission_set_id, duration_secs, justification, ticket, requested_start_at, \
                 state, version, approval_required, approvals_needed, rejections_to_end, \
                 mfa_required, pending_expires_at, starts_at, ends_at, closed_at, closed_by, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                 $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
            )
            .bind(&r.id)
            .bind(&r.requester_id)
            .bind(&r.requester_name)
            .bind(&r.account_id)
            .bind(&r.permission_set_id)
            .bind(r.duration_secs)
            .bind(&r.justification)
            .bind(&r.ticket)
            .bind(r.requested_start_at)
            .bind(&r.state)
            .bind(r.version)
            .bind(r.approval_required)
            .bind(r.approvals_needed)
            .bind(r.rejections_to_end)
            .bind(r.mfa_required)
            .bind(r.pending_expires_at)
            .bind(r.starts_at)
            .bind(r.ends_at)
            .bind(r.closed_at)
            .bind(&r.closed_by)
            .bind(r.created_at)
            .bind(r.updated_at)
            .execute(&mut *tx)
            .await?;
            for (kind, ids) in [("group", groups), ("user", users)] {
                for pid in ids {
                    sqlx::query(
                        "INSERT INTO access_request_approvers (request_id, principal_type, \
                         principal_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(&r.id)
                    .bind(kind)
                    .bind(pid)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            let snap = Self::snapshot_in(&mut *tx, &r.id).await?;
            Ok((tx, Written::with_all(snap, events)))
        })
        .await
    }

    async fn get_request(&self, id: &str) -> StoreResult<RequestSnapshot> {
        let mut conn = self.pool.acquire().await?;
        Self::snapshot_in(&mut *conn, id).await
    }

    async fn list_requests(&self, f: &RequestFilter) -> StoreResult<Vec<AccessRequestRecord>> {
        let mut q = Assembled::<D>::new(format!("{AR_SELECT} WHERE 1 = 1"));
        if let Some(u) = &f.requester_id {
            q.push(" AND r.requester_id = ").bind(u.clone());
        }
        if let Some(s) = &f.state {
            q.push(" AND r.state = ").bind(s.clone());
        }
        if let Some(a) = &f.approver_id {
            q.push(" AND r.state = 'pending' AND r.requester_id <> ")
                .bind(a.clone());
            q.push(
                " AND (EXISTS (SELECT 1 FROM access_request_approvers x WHERE x.request_id = r.id \
                 AND x.principal_type = 'user' AND x.principal_id = ",
            )
            .bind(a.clone());
            q.push(
                ") OR EXISTS (SELECT 1 FROM access_request_approvers x JOIN group_members m ON \
                 x.principal_type = 'group' AND m.group_id = x.principal_id WHERE x.request_id = \
                 r.id AND m.user_id = ",
            )
            .bind(a.clone());
            q.push("))");
        }
        q.push(" ORDER BY r.created_at DESC, r.id LIMIT ")
            .bind(f.limit);
        let (sql, args) = q.finish()?;
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn transition_request(
        &self,
        id: &str,
        plan: Plan<'_>,
    ) -> Result<RequestSnapshot, RequestError> {
        // Each lost race means another transition committed; a request has few
        // transitions, so this bound is generous.
        for _ in 0..64 {
            if let Some(after) = self.try_transition(id, plan).await? {
                return Ok(after);
            }
        }
        Err(RequestError::Busy)
    }

    async fn due_requests(&self, now: Millis, limit: i64) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM access_requests WHERE (state = 'pending' AND pending_expires_at <= $1) \
             OR (state = 'approved' AND starts_at <= $1) OR (state = 'active' AND ends_at <= $1) \
             ORDER BY updated_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn active_grants(
        &self,
        user_id: &str,
        now: Millis,
    ) -> StoreResult<Vec<GrantEntitlementRecord>> {
        Ok(sqlx::query_as(
            "SELECT r.id AS grant_id, r.ends_at AS grant_ends_at, ac.id AS account_id, ac.name AS \
             account_name, ac.environment, ac.provider, p.id, p.name, p.description, p.session_duration_secs, \
             p.relay_state, p.system_policies, p.inline_policy, p.version, p.created_at, \
             p.updated_at, COALESCE(pr.status, 'not_provisioned') AS role_status FROM \
             access_requests r JOIN accounts ac ON ac.id = r.account_id JOIN permission_sets p ON \
             p.id = r.permission_set_id LEFT JOIN provisioned_roles pr ON pr.permission_set_id = \
             r.permission_set_id AND pr.account_id = r.account_id WHERE r.requester_id = $1 AND \
             r.state = 'active' AND r.starts_at <= $2 AND r.ends_at > $2 ORDER BY ac.name, ac.id, \
             p.name, r.ends_at DESC",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }
}
