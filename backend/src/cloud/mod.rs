//! The cloud-provider seam: everything else asks an account's provider, through
//! [`CloudProvider`], to make a permission set's role real, say how it drifted, delete it,
//! deny revoked sessions, issue credentials and sign a person in to the console.
//!
//! Drivers: [`local`] (Gatehouse's own STS: the embedded default, for demos, tests and
//! air-gapped use), [`alibaba`] (a real Alibaba Cloud account) and [`aws`] (a real AWS
//! account), both trusted through Gatehouse's SAML IdP: no long-lived key is held. The
//! background work that drives them — the provisioning queue, drift checks, role removals
//! and session denials — is in [`work`]; the one-time setup kit an account's owner runs is
//! in [`setup_kit`] (AWS's in [`aws::setup_kit`]).

pub mod alibaba;
pub mod aws;
pub mod idp;
pub mod local;
pub mod routes;
pub mod setup_kit;
pub mod work;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_shared::cloud::{CloudFault, ConsoleSignIn, Provider};
use serde_json::json;

use crate::clock::Millis;
use crate::permission_sets::role_name;
use crate::secrets::MasterKey;
use crate::store::{AccountRecord, EntitlementRecord, PermissionSetRecord, Store};
use crate::sts::{IssueRequest, Issued, Sts};

/// The SAML provider every account's setup kit creates.
pub const SAML_PROVIDER_NAME: &str = "Gatehouse";
/// The role Gatehouse assumes in an account to manage its `GatehouseSSO-*` roles.
pub const PROVISIONER_ROLE: &str = "GatehouseProvisioner";
/// How long a console sign-in assertion may be used.
pub const CONSOLE_ASSERTION_MS: i64 = 5 * 60 * 1000;

/// Where the clouds' APIs are (configuration, so tests and private regions point elsewhere).
#[derive(Debug, Clone)]
pub struct CloudSettings {
    pub alibaba_sts_endpoint: Option<String>,
    pub alibaba_ram_endpoint: Option<String>,
    pub alibaba_signin_url: Option<String>,
    pub aws_sts_endpoint: Option<String>,
    pub aws_iam_endpoint: Option<String>,
    pub aws_signin_url: Option<String>,
    /// Where `sts:AssumeRoot` is called from, for every other `aws` account.
    pub aws_root_sessions_account: Option<String>,
    pub timeout: Duration,
    pub drift_interval_ms: i64,
}

impl CloudSettings {
    pub fn from_config(c: &crate::config::Config) -> Self {
        Self {
            alibaba_sts_endpoint: c.alibaba_sts_endpoint.clone(),
            alibaba_ram_endpoint: c.alibaba_ram_endpoint.clone(),
            alibaba_signin_url: c.alibaba_signin_url.clone(),
            aws_sts_endpoint: c.aws_sts_endpoint.clone(),
            aws_iam_endpoint: c.aws_iam_endpoint.clone(),
            aws_signin_url: c.aws_signin_url.clone(),
            aws_root_sessions_account: c.aws_root_sessions_account.clone(),
            timeout: Duration::from_secs(c.cloud_timeout_secs.max(1)),
            drift_interval_ms: c.drift_check_interval_secs.max(10) * 1000,
        }
    }
}

/// What the clouds need in memory: one HTTP client, the IdP keys, the provisioner
/// credentials each account lent last.
#[derive(Debug)]
pub struct Cloud {
    pub http: reqwest::Client,
    pub idp: idp::Idp,
    pub settings: CloudSettings,
    /// Gatehouse's IdP entity ID: its metadata URL.
    pub entity_id: String,
    pub alibaba: alibaba::Sessions,
    pub aws: aws::Sessions,
}

impl Cloud {
    pub fn new(settings: CloudSettings, public_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            idp: idp::Idp::default(),
            settings,
            entity_id: metadata_url(public_url),
            alibaba: alibaba::Sessions::default(),
            aws: aws::Sessions::default(),
        })
    }
}

/// A driver's provisioner credentials (`S`, its signer) per account, kept until five
/// minutes before they expire, so provisioning does not assume the role for every call.
pub struct Sessions<S>(Mutex<HashMap<String, (Arc<S>, Millis)>>);

impl<S> Default for Sessions<S> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<S> std::fmt::Debug for Sessions<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl<S> Sessions<S> {
    fn get(&self, account: &str, now: Millis) -> Option<Arc<S>> {
        let map = self.0.lock().ok()?;
        map.get(account)
            .filter(|(_, exp)| *exp - 300_000 > now)
            .map(|(s, _)| s.clone())
    }

    fn put(&self, account: &str, signer: Arc<S>, expires: Millis) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(account.to_string(), (signer, expires));
        }
    }

    /// Forgets an account's provisioner credentials (after they were refused).
    pub fn forget(&self, account: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(account);
        }
    }
}

/// Where Gatehouse publishes its IdP metadata; also its entity ID.
pub fn metadata_url(public_url: &str) -> String {
    format!("{}/saml/idp/metadata.xml", public_url.trim_end_matches('/'))
}

/// What a domain function lends the cloud code.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub store: &'a dyn Store,
    pub master: &'a MasterKey,
    pub cloud: &'a Cloud,
    pub sts: &'a Sts,
}

/// The role a permission set should be in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRole {
    pub role_name: String,
    pub description: String,
    /// The trust policy document (JSON text).
    pub trust_policy: String,
    /// RAM's range is 3600–43200 s.
    pub max_session_secs: i64,
    pub system_policies: Vec<String>,
    pub inline_policy: Option<String>,
}

impl DesiredRole {
    /// For Alibaba Cloud: trusts Gatehouse's SAML provider in the account, on the site's
    /// role-SSO endpoint only.
    pub fn alibaba(p: &PermissionSetRecord, account: &AccountRecord) -> Self {
        let site = alibaba::site(account);
        let trust = json!({
            "Statement": [{
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": { "Federated": [alibaba::saml_provider_arn(&account.id)] },
                "Condition": { "StringEquals": { "saml:recipient": [site.signin_url()] } }
            }],
            "Version": "1"
        });
        let description: String = format!("Gatehouse permission set {}: {}", p.name, p.description)
            .chars()
            .take(1024)
            .collect();
        Self {
            role_name: role_name(&p.name),
            description,
            trust_policy: trust.to_string(),
            max_session_secs: p.session_duration_secs.clamp(3600, 43_200),
            // A permission set may list AWS managed policies too, and its inline policy may be
            // IAM's: a RAM role takes only what is Alibaba Cloud's.
            system_policies: crate::permission_sets::catalogue::for_provider(
                &p.policy_names(),
                Provider::Alibaba,
            ),
            inline_policy: p
                .inline_policy
                .clone()
                .filter(|t| !t.trim().is_empty() && !aws::iam::is_iam_document(t)),
        }
    }
}

/// What revocation can do in a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Refused from the next request on (Gatehouse verifies the token itself).
    Immediate,
    /// The cloud cannot recall a token: its session is denied by policy until it expires.
    DenyUntilExpiry,
}

/// The requested console target.
#[derive(Debug, Clone)]
pub struct ConsoleTarget<'a> {
    pub user_id: &'a str,
    pub username: &'a str,
    pub permission_set: &'a PermissionSetRecord,
    pub now: Millis,
}

/// Credentials to issue: the checks (assignment or grant, provisioned role, duration) are
/// done by `sts::issue` before a provider sees this.
pub struct IssueGrant<'a> {
    pub req: &'a IssueRequest<'a>,
    pub entitlement: &'a EntitlementRecord,
    pub duration_ms: i64,
    pub session_policy: Option<String>,
    pub grant_id: Option<String>,
    pub now: Millis,
}

/// A break-glass root session to start: the approvals and the window are checked by
/// `break_glass` before a provider sees this.
pub struct RootTarget<'a> {
    pub user_id: &'a str,
    pub username: &'a str,
    pub task: gatehouse_shared::breakglass::RootTask,
    pub duration_secs: i64,
    pub now: Millis,
}

/// A root session's credentials as the provider issued them.
pub struct RootCredentials {
    pub credential: crate::sts::Credential,
    pub expires: Millis,
    /// The principal the session acts as.
    pub principal_arn: String,
    /// The RAM document that limits a `local` session (empty when the cloud holds it).
    pub policy_document: String,
    /// The cloud's managed task policy that limits it.
    pub task_policy_arn: Option<String>,
    /// The cloud's RequestId, for the audit trail.
    pub request_id: Option<String>,
}

/// Why a provider starts no root session.
#[derive(Debug)]
pub enum RootRefusal {
    /// The provider has no task-scoped root sessions, or they are not set up here.
    Unavailable(String),
    /// The cloud was asked and refused, or could not be reached.
    Cloud {
        fault: CloudFault,
        message: String,
    },
    Store(crate::store::StoreError),
}

/// One provider, for one account.
#[async_trait]
pub trait CloudProvider: Send + Sync {
    fn kind(&self) -> Provider;
    /// What revoking a credential achieves here.
    fn revocation(&self) -> Revocation;
    /// The role permission set `p` should be in this provider's account.
    fn desired(&self, p: &PermissionSetRecord) -> DesiredRole;
    /// Makes the role match `desired`; returns what changed.
    async fn provision(&mut self, desired: &DesiredRole) -> Result<Vec<String>, CloudFault>;
    /// How the role differs from `desired` (empty: it matches).
    async fn drift(&mut self, desired: &DesiredRole) -> Result<Vec<String>, CloudFault>;
    /// Deletes the role and what Gatehouse made for it.
    async fn deprovision(&mut self, role_name: &str) -> Result<Vec<String>, CloudFault>;
    /// Denies exactly these role sessions (names) of `role_name` from now on.
    async fn deny_sessions(
        &mut self,
        role_name: &str,
        sessions: &[String],
    ) -> Result<(), CloudFault>;
    /// Credentials for one person's session in the role (checks are done by the caller).
    async fn issue(&mut self, grant: IssueGrant<'_>) -> Result<Issued, crate::sts::IssueError>;
    /// How the browser signs in to the console as that role.
    async fn console(&mut self, target: &ConsoleTarget<'_>) -> Result<ConsoleSignIn, CloudFault>;
    /// Credentials for the account's root principal, limited to one task.
    async fn root_session(
        &mut self,
        target: &RootTarget<'_>,
    ) -> Result<RootCredentials, RootRefusal>;
    /// The cloud API calls made so far (for the audit trail), handed over once.
    fn take_calls(&mut self) -> Vec<alibaba::client::CallRecord> {
        Vec::new()
    }
}

/// The provider of `account`.
pub fn provider_for<'a>(env: Env<'a>, account: &'a AccountRecord) -> Box<dyn CloudProvider + 'a> {
    match Provider::parse(&account.provider).unwrap_or_default() {
        Provider::Local => Box::new(local::Local { env, account }),
        Provider::Alibaba => Box::new(alibaba::Alibaba::new(env, account)),
        Provider::Aws => Box::new(aws::Aws::new(env, account)),
    }
}

/// A fault as stored with a role (JSON).
pub fn fault_json(f: &CloudFault) -> String {
    serde_json::to_string(f).unwrap_or_default()
}

/// A stored fault.
pub fn parse_fault(text: Option<&str>) -> Option<CloudFault> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// A console sign-in for one of the person's roles: the same checks as issuing credentials
/// (an assignment or a grant in force, a provisioned role), then the provider's sign-in,
/// audited.
pub async fn console(
    env: Env<'_>,
    now: Millis,
    user_id: &str,
    username: &str,
    req: &gatehouse_shared::cloud::ConsoleRequest,
    ctx: &crate::audit::AuditCtx,
) -> Result<ConsoleSignIn, crate::sts::IssueError> {
    use crate::sts::IssueError;
    use gatehouse_shared::audit::{AuditAction, Outcome};
    let target = Some(format!("{}/{}", req.account_id, req.permission_set_id));
    let event = || {
        crate::audit::NewEvent::new(
            now,
            ctx,
            AuditAction::CloudConsoleSignIn,
            "role",
            target.clone(),
        )
    };
    let found = crate::access_requests::entitlement(
        env.store,
        user_id,
        &req.account_id,
        &req.permission_set_id,
        now,
    )
    .await?;
    let Some((entitlement, _grant)) = found else {
        env.store
            .append_event(event().failed(Outcome::Denied, "not assigned"))
            .await?;
        return Err(IssueError::NotAssigned);
    };
    if entitlement.role_status == "not_provisioned" {
        env.store
            .append_event(event().failed(Outcome::Denied, "role not provisioned"))
            .await?;
        return Err(IssueError::NotProvisioned);
    }
    let account = env.store.get_account(&req.account_id).await?;
    let mut provider = provider_for(env, &account);
    let signin = provider
        .console(&ConsoleTarget {
            user_id,
            username,
            permission_set: &entitlement.permission_set,
            now,
        })
        .await;
    match signin {
        Ok(s) => {
            env.store
                .append_event(
                    event().details(json!({ "provider": account.provider, "method": s.method })),
                )
                .await?;
            Ok(s)
        }
        Err(f) => {
            env.store
                .append_event(event().failed(Outcome::Failure, &f.code))
                .await?;
            let message = format!("Could not open the console: {} ({})", f.message, f.code);
            Err(IssueError::Cloud { fault: f, message })
        }
    }
}
