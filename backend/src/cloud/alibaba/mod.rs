//! The `alibaba` provider: a real Alibaba Cloud account, trusted through role-based SSO.
//! Gatehouse signs a SAML assertion for exactly one role and session and trades it at STS
//! (`AssumeRoleWithSAML`, anonymous) for short-lived credentials: for a person, or for
//! itself as `GatehouseProvisioner`, whose credentials sign the RAM calls of [`ram`]. It
//! holds no AccessKey. Console sign-in posts a fresh assertion to the site's role-SSO
//! endpoint.

pub mod client;
pub mod ram;

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_shared::cloud::{AlibabaSite, CloudFault, ConsoleSignIn, Provider};
use serde_json::Value;
use zeroize::Zeroizing;

use self::client::{Api, CallRecord, Signer};
use super::idp::AssertionFor;
use super::{
    CloudProvider, ConsoleTarget, DesiredRole, Env, IssueGrant, Revocation, RootCredentials,
    RootRefusal, RootTarget,
};
use crate::clock::{Clock, Millis, SystemClock};
use crate::permission_sets::role_name;
use crate::sts::{Claims, Credential, IssueError, Issued};

/// STS's API version.
pub const STS_VERSION: &str = "2015-04-01";
const ROLE_ATTRIBUTE: &str = "https://www.aliyun.com/SAML-Role/Attributes/Role";
const SESSION_ATTRIBUTE: &str = "https://www.aliyun.com/SAML-Role/Attributes/RoleSessionName";
const DURATION_ATTRIBUTE: &str = "https://www.aliyun.com/SAML-Role/Attributes/SessionDuration";
/// An assertion traded at STS at once needs only a short life.
const STS_ASSERTION_MS: i64 = 5 * 60 * 1000;
/// The provisioner's session: RAM's minimum role maximum, so any provisioner role allows it.
const PROVISIONER_SECS: i64 = 3600;

pub fn site(account: &crate::store::AccountRecord) -> AlibabaSite {
    AlibabaSite::parse(&account.site).unwrap_or_default()
}

pub fn saml_provider_arn(account_id: &str) -> String {
    format!(
        "acs:ram::{account_id}:saml-provider/{}",
        super::SAML_PROVIDER_NAME
    )
}

pub fn provisioner_role_arn(account_id: &str) -> String {
    format!("acs:ram::{account_id}:role/{}", super::PROVISIONER_ROLE)
}

/// The role session name of one issue: the person's name as RAM allows it, and a random
/// suffix, so one revoked session can be denied without denying the person's next one.
pub fn session_name(username: &str) -> String {
    let base: String = username
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(55)
        .collect();
    let suffix: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(8)
        .collect();
    format!("{base}.{suffix}")
}

/// `acs:ram::<account>:assumed-role/<role>/<session>`, as Alibaba Cloud writes a role
/// session's principal (role names in lower case).
pub fn assumed_role_arn(account_id: &str, role: &str, session: &str) -> String {
    format!(
        "acs:ram::{account_id}:assumed-role/{}/{session}",
        role.to_ascii_lowercase()
    )
}

/// The provisioner's credentials per account (see [`super::Sessions`]).
pub type Sessions = super::Sessions<Signer>;

/// The driver for one account.
pub struct Alibaba<'a> {
    env: Env<'a>,
    account: &'a crate::store::AccountRecord,
    /// The calls made so far, for the audit trail.
    pub log: Vec<CallRecord>,
}

impl<'a> Alibaba<'a> {
    pub fn new(env: Env<'a>, account: &'a crate::store::AccountRecord) -> Self {
        Self {
            env,
            account,
            log: Vec::new(),
        }
    }

    fn sts_endpoint(&self) -> String {
        if let Some(e) = &self.env.cloud.settings.alibaba_sts_endpoint {
            return e.clone();
        }
        match &self.account.region {
            Some(r) => format!("https://sts.{r}.aliyuncs.com"),
            None => "https://sts.aliyuncs.com".into(),
        }
    }

    fn ram_endpoint(&self) -> String {
        self.env
            .cloud
            .settings
            .alibaba_ram_endpoint
            .clone()
            .unwrap_or_else(|| "https://ram.aliyuncs.com".into())
    }

    fn signin_url(&self) -> String {
        self.env
            .cloud
            .settings
            .alibaba_signin_url
            .clone()
            .unwrap_or_else(|| site(self.account).signin_url().to_string())
    }

    /// A signed SAML Response for one role and session (base64, as STS and the SSO
    /// endpoint take it) and the assertion's ID.
    async fn assertion(
        &self,
        role: &str,
        session: &str,
        duration_secs: i64,
        lifetime_ms: i64,
    ) -> Result<(String, String), CloudFault> {
        let s = site(self.account);
        let role_arn = format!("acs:ram::{}:role/{role}", self.account.id);
        let attributes = [
            (
                ROLE_ATTRIBUTE,
                vec![format!(
                    "{role_arn},{}",
                    saml_provider_arn(&self.account.id)
                )],
            ),
            (SESSION_ATTRIBUTE, vec![session.to_string()]),
            (DURATION_ATTRIBUTE, vec![duration_secs.to_string()]),
        ];
        let a = AssertionFor {
            issuer: &self.env.cloud.entity_id,
            recipient: s.signin_url(),
            audience: s.audience(),
            session_name: session,
            attributes: &attributes,
            // The cloud judges the assertion's validity window by its own clock.
            now: SystemClock.now_ms(),
            lifetime_ms,
        };
        let (xml, id) = self
            .env
            .cloud
            .idp
            .sign_response(self.env.store, self.env.master, &a)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "signing a SAML assertion failed");
                CloudFault {
                    code: "SigningFailed".into(),
                    message: "Gatehouse could not sign the SAML assertion.".into(),
                    request_id: None,
                    action: None,
                }
            })?;
        use base64::Engine as _;
        Ok((base64::engine::general_purpose::STANDARD.encode(xml), id))
    }

    /// `AssumeRoleWithSAML` for `role` as `session`.
    async fn assume(
        &mut self,
        role: &str,
        session: &str,
        duration_secs: i64,
        policy: Option<&str>,
    ) -> Result<Value, CloudFault> {
        let (assertion, _) = self
            .assertion(role, session, duration_secs, STS_ASSERTION_MS)
            .await?;
        let mut params = vec![
            (
                "SAMLProviderArn".to_string(),
                saml_provider_arn(&self.account.id),
            ),
            (
                "RoleArn".to_string(),
                format!("acs:ram::{}:role/{role}", self.account.id),
            ),
            ("SAMLAssertion".to_string(), assertion),
            ("DurationSeconds".to_string(), duration_secs.to_string()),
        ];
        if let Some(p) = policy {
            params.push(("Policy".to_string(), p.to_string()));
        }
        let endpoint = self.sts_endpoint();
        let api = Api {
            http: &self.env.cloud.http,
            endpoint: &endpoint,
            version: STS_VERSION,
        };
        api.call("AssumeRoleWithSAML", &params, None, &mut self.log)
            .await
    }

    /// The provisioner's credentials, from the cache or from STS.
    async fn provisioner(&mut self) -> Result<Arc<Signer>, CloudFault> {
        let now = SystemClock.now_ms();
        if let Some(s) = self.env.cloud.alibaba.get(&self.account.id, now) {
            return Ok(s);
        }
        let v = self
            .assume(
                super::PROVISIONER_ROLE,
                "gatehouse-provisioner",
                PROVISIONER_SECS,
                None,
            )
            .await
            .map_err(|f| explain_provisioner(f, &self.account.id))?;
        let (signer, expires) = credentials(&v).ok_or_else(bad_credentials)?;
        let signer = Arc::new(signer);
        self.env
            .cloud
            .alibaba
            .put(&self.account.id, signer.clone(), expires);
        Ok(signer)
    }

    /// Runs `work` with RAM signed by the provisioner. Credentials the cloud no longer
    /// accepts (expired early, or the cache outlived them) are dropped and the role assumed
    /// afresh, once; the work is idempotent, so running it again is safe.
    async fn with_ram<T>(
        &mut self,
        work: impl for<'r> Fn(
            &'r mut ram::Ram<'_>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, CloudFault>> + Send + 'r>,
        >,
    ) -> Result<T, CloudFault> {
        let mut retried = false;
        loop {
            let signer = self.provisioner().await?;
            let endpoint = self.ram_endpoint();
            let mut r = ram::Ram {
                api: Api {
                    http: &self.env.cloud.http,
                    endpoint: &endpoint,
                    version: ram::VERSION,
                },
                signer: &signer,
                log: Vec::new(),
            };
            let out = work(&mut r).await;
            self.log.append(&mut r.log);
            match out {
                Err(f)
                    if f.code.starts_with("InvalidSecurityToken")
                        || f.code.starts_with("InvalidAccessKeyId") =>
                {
                    self.env.cloud.alibaba.forget(&self.account.id);
                    if retried {
                        return Err(f);
                    }
                    retried = true;
                }
                other => return other,
            }
        }
    }
}

fn bad_credentials() -> CloudFault {
    CloudFault {
        code: "BadResponse".into(),
        message: "Alibaba Cloud's STS answered without credentials.".into(),
        request_id: None,
        action: Some("AssumeRoleWithSAML".into()),
    }
}

/// Signing credentials and their expiry from an STS answer.
pub fn credentials(v: &Value) -> Option<(Signer, Millis)> {
    let c = v.get("Credentials")?;
    let expires = crate::sts::parse_timestamp(c.get("Expiration")?.as_str()?)?;
    Some((
        Signer {
            access_key_id: c.get("AccessKeyId")?.as_str()?.to_string(),
            access_key_secret: Zeroizing::new(c.get("AccessKeySecret")?.as_str()?.to_string()),
            security_token: c.get("SecurityToken")?.as_str()?.to_string(),
        },
        expires,
    ))
}

/// A refusal of the provisioner's role, said as what the owner has to do.
fn explain_provisioner(mut f: CloudFault, account: &str) -> CloudFault {
    if !matches!(f.code.as_str(), "Unreachable" | "BadResponse") && !f.code.starts_with("Http5") {
        f.message = format!(
            "Alibaba Cloud refused Gatehouse's provisioner role in account {account} ({}: {}). Run the \
             account's setup kit: it creates the SAML provider and the {} role.",
            f.code,
            f.message,
            super::PROVISIONER_ROLE
        );
    }
    f
}

/// A refusal of a person's role, said as its cause.
pub fn explain_issue(f: &CloudFault, role: &str, account: &str) -> String {
    let cause = if f.code.starts_with("EntityNotExist.Role") {
        format!("The role {role} does not exist in account {account}: provision the permission set there.")
    } else if f.code.contains("DurationSeconds") {
        format!("The duration asked for is above the role {role}'s maximum session: ask for less, or re-provision.")
    } else if f.code.starts_with("EntityNotExist.SAMLProvider")
        || f.code.starts_with("AuthenticationFail")
        || f.code.starts_with("NoPermission")
        || f.code.contains("Trust")
    {
        format!("Alibaba Cloud does not trust Gatehouse for the role {role}: run the account's setup kit, then re-provision the permission set.")
    } else {
        "Alibaba Cloud refused to issue credentials.".to_string()
    };
    match &f.request_id {
        Some(id) => format!("{cause} ({}: {}; RequestId {id})", f.code, f.message),
        None => format!("{cause} ({}: {})", f.code, f.message),
    }
}

#[async_trait]
impl CloudProvider for Alibaba<'_> {
    fn kind(&self) -> Provider {
        Provider::Alibaba
    }

    fn revocation(&self) -> Revocation {
        Revocation::DenyUntilExpiry
    }

    fn desired(&self, p: &crate::store::PermissionSetRecord) -> DesiredRole {
        DesiredRole::alibaba(p, self.account)
    }

    async fn provision(&mut self, d: &DesiredRole) -> Result<Vec<String>, CloudFault> {
        let d = d.clone();
        self.with_ram(move |r| {
            let d = d.clone();
            Box::pin(async move { r.provision(&d).await })
        })
        .await
    }

    async fn drift(&mut self, d: &DesiredRole) -> Result<Vec<String>, CloudFault> {
        let d = d.clone();
        self.with_ram(move |r| {
            let d = d.clone();
            Box::pin(async move { r.drift(&d).await })
        })
        .await
    }

    async fn deprovision(&mut self, role_name: &str) -> Result<Vec<String>, CloudFault> {
        let role = role_name.to_string();
        self.with_ram(move |r| {
            let role = role.clone();
            Box::pin(async move { r.deprovision(&role).await })
        })
        .await
    }

    async fn deny_sessions(
        &mut self,
        role_name: &str,
        sessions: &[String],
    ) -> Result<(), CloudFault> {
        let account = self.account.id.clone();
        let role = role_name.to_string();
        let principals: Vec<String> = sessions
            .iter()
            .map(|s| assumed_role_arn(&account, &role, s))
            .collect();
        self.with_ram(move |r| {
            let (role, principals) = (role.clone(), principals.clone());
            Box::pin(async move { r.deny_sessions(&role, &principals).await })
        })
        .await
    }

    async fn issue(&mut self, g: IssueGrant<'_>) -> Result<Issued, IssueError> {
        let e = g.entitlement;
        let role = role_name(&e.permission_set.name);
        let session = session_name(g.req.username);
        let secs = (g.duration_ms / 1000).max(900);
        let v = self
            .assume(&role, &session, secs, g.session_policy.as_deref())
            .await
            .map_err(|f| {
                let message = explain_issue(&f, &role, &e.account_id);
                IssueError::Cloud { fault: f, message }
            })?;
        let (signer, expires) = credentials(&v).ok_or_else(|| {
            let f = bad_credentials();
            IssueError::Cloud {
                message: f.message.clone(),
                fault: f,
            }
        })?;
        let arn = v
            .pointer("/AssumedRoleUser/Arn")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| assumed_role_arn(&e.account_id, &role, &session));
        let request_id = v
            .get("RequestId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let claims = Claims {
            ak: signer.access_key_id.clone(),
            uid: g.req.user_id.to_string(),
            sn: session.clone(),
            acc: e.account_id.clone(),
            ps: e.permission_set.id.clone(),
            role: role.clone(),
            iat: g.now,
            exp: expires,
            pol: g.session_policy,
            par: None,
            rt: None,
            gr: g.grant_id,
        };
        crate::sts::record_cloud_issue(self.env.sts, g.req, &claims, Provider::Alibaba, request_id)
            .await?;
        Ok(Issued {
            credential: Credential {
                access_key_id: signer.access_key_id.clone(),
                access_key_secret: signer.access_key_secret.clone(),
                security_token: signer.security_token.clone(),
            },
            role_arn: format!("acs:ram::{}:role/{role}", e.account_id),
            assumed_role_arn: arn,
            claims,
        })
    }

    async fn console(&mut self, t: &ConsoleTarget<'_>) -> Result<ConsoleSignIn, CloudFault> {
        let role = role_name(&t.permission_set.name);
        let session = session_name(t.username);
        let secs = t.permission_set.session_duration_secs.clamp(900, 43_200);
        let (assertion, _) = self
            .assertion(&role, &session, secs, super::CONSOLE_ASSERTION_MS)
            .await?;
        let mut fields = vec![("SAMLResponse".to_string(), assertion)];
        if let Some(relay) = &t.permission_set.relay_state {
            fields.push(("RelayState".to_string(), relay.clone()));
        }
        Ok(ConsoleSignIn {
            method: "POST".into(),
            url: self.signin_url(),
            fields,
        })
    }

    /// Alibaba Cloud has no API that lends its root identity for one task: its vault
    /// entry's reveals (password and MFA code) are the way in.
    async fn root_session(&mut self, _t: &RootTarget<'_>) -> Result<RootCredentials, RootRefusal> {
        Err(RootRefusal::Unavailable(
            "Alibaba Cloud has no task-scoped root sessions: reveal the root password and the \
             MFA code instead."
                .into(),
        ))
    }

    fn take_calls(&mut self) -> Vec<CallRecord> {
        std::mem::take(&mut self.log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_what_ram_allows_and_differ_per_issue() {
        let a = session_name("alice smith/ops");
        assert!(a.starts_with("alice-smith-ops."), "{a}");
        assert!(a.len() <= 64);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c)));
        assert_ne!(a, session_name("alice smith/ops"));
        assert!(session_name(&"x".repeat(200)).len() <= 64);
    }

    #[test]
    fn refusals_name_their_cause() {
        let f = CloudFault {
            code: "EntityNotExist.Role".into(),
            message: "no".into(),
            request_id: Some("R1".into()),
            action: None,
        };
        let m = explain_issue(&f, "GatehouseSSO-x", "1");
        assert!(
            m.contains("provision the permission set") && m.contains("RequestId R1"),
            "{m}"
        );
        let f = CloudFault {
            code: "InvalidParameter.DurationSeconds".into(),
            message: "max".into(),
            request_id: None,
            action: None,
        };
        assert!(explain_issue(&f, "r", "1").contains("maximum session"));
    }
}
