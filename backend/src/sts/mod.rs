//! Short-lived STS credentials for the RAM role a permission set becomes in an account:
//! issuing them (for the portal, `credentials_uri` and `AssumeRole`), and the `/sts/` API
//! that verifies Alibaba Cloud signatures made with them ([`rpc_routes`]).
//!
//! Issuing needs a current assignment (or a just-in-time grant in force) and a provisioned
//! role, clamps the duration to the permission set's session duration (and a grant's end), and records the credential with an audit event (no
//! secrets). Verifying reads no database, and writes only the request's nonce, batched
//! with others': see [`token`], [`revocation`] and [`nonce`].

mod assume_role_routes;
pub mod commit;
pub mod nonce;
pub mod revocation;
pub mod routes;
pub mod rpc_routes;
pub mod signature;
pub mod token;

use gatehouse_shared::audit::AuditAction;
use std::sync::Arc;

use gatehouse_shared::error::FieldError;
use gatehouse_shared::validate::{MAX_SESSION_SECS, MIN_SESSION_SECS};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::audit::{AuditCtx, NewEvent};
use crate::clock::Millis;
use crate::permission_sets::{catalogue, role_arn, role_name};
use crate::policy::{RamPolicy, MAX_POLICY_CHARS, MAX_SESSION_POLICY_CHARS};
use crate::secrets::MasterKey;
use crate::store::{CredentialWrite, EntitlementRecord, Store, StoreError, StsCredentialRecord};
use gatehouse_shared::audit::Outcome;

pub use commit::CommitQueue;
pub use nonce::{NonceCache, SharedNonces};
pub use revocation::Revocations;
pub use token::{Claims, Credential, Lineage, StsKeys};

/// Everything STS keeps in memory: its keys, the revocations, the nonces seen, and the
/// queues that commit issued credentials and nonces.
#[derive(Debug)]
pub struct Sts {
    pub keys: StsKeys,
    pub revocations: Revocations,
    /// This instance's memory of nonces: the first, fast check.
    pub nonces: NonceCache,
    /// The nonces every instance sees: the second check, batched into the database.
    pub shared_nonces: SharedNonces,
    pub commits: CommitQueue,
}

impl Sts {
    /// Starts the commit queues' writer tasks: call inside the runtime.
    pub fn new(master: &MasterKey, store: Arc<dyn Store>) -> Self {
        Self {
            keys: StsKeys::derive(master),
            revocations: Revocations::default(),
            nonces: NonceCache::default(),
            shared_nonces: SharedNonces::start(store.clone()),
            commits: CommitQueue::start(store),
        }
    }
}

/// How a credential came to be issued.
#[derive(Debug, Clone)]
pub enum Source {
    Portal,
    /// Through the `credentials_uri` with this id.
    CredentialsUri(String),
    /// `AssumeRole`: the new credential's lineage, whose parent is the key the call was
    /// signed with.
    AssumeRole {
        lineage: Lineage,
    },
}

impl Source {
    fn as_str(&self) -> &'static str {
        match self {
            Source::Portal => "portal",
            Source::CredentialsUri(_) => "credentials_uri",
            Source::AssumeRole { .. } => "assume_role",
        }
    }
}

/// Who asks, for what.
#[derive(Debug)]
pub struct IssueRequest<'a> {
    pub user_id: &'a str,
    pub username: &'a str,
    /// The role session name: the username, or what `AssumeRole` was given.
    pub session_name: &'a str,
    pub account_id: &'a str,
    pub permission_set_id: &'a str,
    pub duration_secs: Option<i64>,
    pub session_policy: Option<String>,
    pub source: Source,
    pub ctx: AuditCtx,
}

/// Credentials just issued, with what they are for.
#[derive(Debug)]
pub struct Issued {
    pub credential: Credential,
    pub claims: Claims,
    pub role_arn: String,
    pub assumed_role_arn: String,
}

impl Issued {
    /// `Expiration` as Alibaba Cloud writes it: `2026-11-23T10:00:00Z`.
    pub fn expiration(&self) -> String {
        expiration_text(self.claims.exp)
    }
}

pub use crate::clock::expiration_text;

/// `acs:ram::<account>:assumed-role/<role>/<session>`, as GetCallerIdentity reports it.
pub fn assumed_role_arn(claims: &Claims) -> String {
    format!(
        "acs:ram::{}:assumed-role/{}/{}",
        claims.acc, claims.role, claims.sn
    )
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("not assigned")]
    NotAssigned,
    #[error("role not provisioned")]
    NotProvisioned,
    /// The account's cloud refused or could not be reached; `message` names the cause.
    #[error("the cloud refused: {message}")]
    Cloud {
        fault: gatehouse_shared::cloud::CloudFault,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The policies of a permission set: its system policies and its inline policy, parsed;
/// `None` when one of them no longer parses (stored under an older grammar, say), so that
/// the caller fails closed: a Deny it holds must not be dropped silently.
pub fn role_policies(e: &EntitlementRecord) -> Option<Vec<RamPolicy>> {
    let mut out = Vec::new();
    for name in e.permission_set.policy_names() {
        if let Some(c) = catalogue::find(&name) {
            out.push(RamPolicy::parse(c.document).ok()?);
        }
    }
    if let Some(text) = e.permission_set.inline_policy.as_deref() {
        out.push(RamPolicy::parse_with_limit(text, MAX_POLICY_CHARS).ok()?);
    }
    Some(out)
}

/// Checks a requested duration and session policy; returns the clamped duration in ms.
pub fn check_request(
    duration_secs: Option<i64>,
    session_policy: Option<&str>,
    max_secs: i64,
) -> Result<i64, Vec<FieldError>> {
    let mut faults = Vec::new();
    if let Some(d) = duration_secs {
        if !(MIN_SESSION_SECS..=MAX_SESSION_SECS).contains(&d) {
            faults.push(FieldError::new(
                "duration_secs",
                format!("Ask for {MIN_SESSION_SECS} to {MAX_SESSION_SECS} seconds."),
            ));
        }
    }
    if let Some(text) = session_policy {
        if let Err(e) = RamPolicy::parse_with_limit(text, MAX_SESSION_POLICY_CHARS) {
            faults.push(FieldError::new(
                "session_policy",
                format!("The session policy is not valid: {e}"),
            ));
        }
    }
    if !faults.is_empty() {
        return Err(faults);
    }
    Ok(duration_secs.unwrap_or(max_secs).min(max_secs) * 1000)
}

/// Issues credentials for `req`, or refuses (and records the refusal) when the user is not
/// assigned the permission set on the account or its role is not provisioned there.
pub async fn issue(
    env: crate::cloud::Env<'_>,
    now: Millis,
    req: IssueRequest<'_>,
    max_duration_secs: Option<i64>,
) -> Result<Issued, IssueError> {
    let store = env.store;
    let session_policy = req.session_policy.clone().filter(|p| !p.trim().is_empty());
    // An assignment, or else a just-in-time grant in force now (whose end caps the duration).
    let found = crate::access_requests::entitlement(
        store,
        req.user_id,
        req.account_id,
        req.permission_set_id,
        now,
    )
    .await?;
    let denied = |reason: &str| {
        NewEvent::new(
            now,
            &req.ctx,
            AuditAction::StsCredentialsIssue,
            "role",
            Some(format!("{}/{}", req.account_id, req.permission_set_id)),
        )
        .failed(Outcome::Denied, reason)
        .details(json!({ "source": req.source.as_str(), "user_id": req.user_id }))
    };
    let Some((entitlement, grant)) = found else {
        store.append_event(denied("not assigned")).await?;
        return Err(IssueError::NotAssigned);
    };
    let grant_left_secs = grant.as_ref().map(|(_, ends)| (ends - now) / 1000);
    if grant_left_secs.is_some_and(|s| s < 1) {
        store.append_event(denied("grant ends now")).await?;
        return Err(IssueError::NotAssigned);
    }
    if entitlement.role_status == "not_provisioned" {
        store.append_event(denied("role not provisioned")).await?;
        return Err(IssueError::NotProvisioned);
    }
    let max = entitlement
        .permission_set
        .session_duration_secs
        .min(max_duration_secs.unwrap_or(i64::MAX))
        .min(grant_left_secs.unwrap_or(i64::MAX));
    // A grant with less than the shortest session left gives what is left of it, whatever
    // was asked for.
    let asked = if grant_left_secs.is_some_and(|left| left < MIN_SESSION_SECS) {
        None
    } else {
        req.duration_secs
    };
    let duration_ms =
        check_request(asked, session_policy.as_deref(), max).map_err(IssueError::Invalid)?;
    let grant_id = grant.map(|(id, _)| id);
    let account = store.get_account(req.account_id).await?;
    let mut provider = crate::cloud::provider_for(env, &account);
    provider
        .issue(crate::cloud::IssueGrant {
            req: &req,
            entitlement: &entitlement,
            duration_ms,
            session_policy,
            grant_id,
            now,
        })
        .await
}

/// Records credentials a cloud issued, like Gatehouse's own: the row (no secret) and its
/// audit event, with the cloud's RequestId, through the commit queue.
pub async fn record_cloud_issue(
    sts: &Sts,
    req: &IssueRequest<'_>,
    claims: &Claims,
    provider: gatehouse_shared::cloud::Provider,
    request_id: Option<String>,
) -> Result<(), StoreError> {
    let record = StsCredentialRecord {
        access_key_id: claims.ak.clone(),
        user_id: claims.uid.clone(),
        username: req.username.to_string(),
        account_id: claims.acc.clone(),
        permission_set_id: claims.ps.clone(),
        role_name: claims.role.clone(),
        source: req.source.as_str().to_string(),
        // So that revoking the parent denies this cloud session too.
        parent_access_key_id: match &req.source {
            Source::AssumeRole { lineage } => Some(lineage.p.clone()),
            _ => None,
        },
        session_policy: claims.pol.is_some(),
        issued_at: claims.iat,
        expires_at: claims.exp,
        revoked_at: None,
        provider: provider.as_str().to_string(),
        session_name: Some(claims.sn.clone()),
        grant_id: claims.gr.clone(),
    };
    let uri = match &req.source {
        Source::CredentialsUri(id) => Some(id.clone()),
        _ => None,
    };
    let event = NewEvent::new(
        claims.iat,
        &req.ctx,
        AuditAction::StsCredentialsIssue,
        "role",
        Some(format!("{}/{}", claims.acc, claims.ps)),
    )
    .details(json!({
        "credentials_uri_id": uri,
        "grant_id": claims.gr,
        "provider": provider.as_str(),
        "role_session_name": claims.sn,
        "request_id": request_id,
    }));
    sts.commits
        .record(CredentialWrite {
            credential: record,
            uri,
            event,
        })
        .await
}

pub(crate) async fn issue_local(
    sts: &Sts,
    now: Millis,
    e: &EntitlementRecord,
    req: &IssueRequest<'_>,
    session_policy: Option<String>,
    duration_ms: i64,
    grant_id: Option<String>,
) -> Result<Issued, StoreError> {
    let role = role_name(&e.permission_set.name);
    let claims = Claims {
        ak: StsKeys::new_access_key_id(),
        uid: req.user_id.to_string(),
        sn: req.session_name.to_string(),
        acc: e.account_id.clone(),
        ps: e.permission_set.id.clone(),
        role: role.clone(),
        iat: now,
        exp: now + duration_ms,
        pol: session_policy,
        par: match &req.source {
            Source::AssumeRole { lineage } => Some(lineage.clone()),
            _ => None,
        },
        rt: None,
        gr: grant_id,
    };
    let record = StsCredentialRecord {
        access_key_id: claims.ak.clone(),
        user_id: claims.uid.clone(),
        username: req.username.to_string(),
        account_id: claims.acc.clone(),
        permission_set_id: claims.ps.clone(),
        role_name: role.clone(),
        source: req.source.as_str().to_string(),
        parent_access_key_id: claims.par.as_ref().map(|l| l.p.clone()),
        session_policy: claims.pol.is_some(),
        issued_at: now,
        expires_at: claims.exp,
        revoked_at: None,
        provider: "local".into(),
        session_name: None,
        grant_id: claims.gr.clone(),
    };
    let uri = match &req.source {
        Source::CredentialsUri(id) => Some(id.clone()),
        _ => None,
    };
    let event = NewEvent::new(
        now,
        &req.ctx,
        AuditAction::StsCredentialsIssue,
        "role",
        Some(format!("{}/{}", e.account_id, e.permission_set.id)),
    )
    .details(json!({ "credentials_uri_id": uri, "grant_id": claims.gr }));
    sts.commits
        .record(CredentialWrite {
            credential: record,
            uri,
            event,
        })
        .await?;
    let credential = sts.keys.issue(&claims);
    Ok(Issued {
        credential,
        role_arn: role_arn(&claims.acc, &role),
        assumed_role_arn: assumed_role_arn(&claims),
        claims,
    })
}

/// Parses Alibaba Cloud's `Timestamp`/`x-acs-date` (`2026-11-23T10:00:00Z`).
pub fn parse_timestamp(s: &str) -> Option<Millis> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(crate::clock::to_millis)
}
