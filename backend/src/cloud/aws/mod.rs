//! The `aws` provider: a real AWS account, trusted through SAML 2.0 federation. Gatehouse
//! signs an assertion for exactly one role and session (the IdP key and metadata of
//! [`crate::cloud::idp`], as for Alibaba Cloud) and trades it at STS
//! (`AssumeRoleWithSAML`, unsigned) for short-lived credentials: for a person, or for
//! itself as `GatehouseProvisioner`, whose credentials sign (SigV4) the IAM calls of
//! [`iam`]. It holds no access key. Console sign-in posts a fresh assertion to AWS's SAML
//! sign-in endpoint.

pub mod client;
pub mod iam;
mod root;
pub mod setup_kit;

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_shared::cloud::{CloudFault, ConsoleSignIn, Provider};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use self::client::{Api, Signer, Xml};
use super::alibaba::client::CallRecord;
use super::idp::AssertionFor;
use super::{
    CloudProvider, ConsoleTarget, DesiredRole, Env, IssueGrant, Revocation, RootCredentials,
    RootRefusal, RootTarget,
};
use crate::clock::{Clock, Millis, SystemClock};
use crate::permission_sets::{catalogue, role_name};
use crate::store::{AccountRecord, PermissionSetRecord};
use crate::sts::{Claims, Credential, IssueError, Issued};

/// STS's API version.
pub const STS_VERSION: &str = "2011-06-15";
/// AWS's SAML sign-in endpoint: the assertion's Recipient and Destination, the trust
/// policies' `SAML:aud`, and where console sign-in posts.
pub const AWS_SIGNIN: &str = "https://signin.aws.amazon.com/saml";
/// AWS's service-provider entity ID: the assertion's Audience.
pub const AWS_AUDIENCE: &str = "urn:amazon:webservices";
const ROLE_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
const SESSION_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
const DURATION_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
/// An assertion traded at STS at once needs only a short life.
const STS_ASSERTION_MS: i64 = 5 * 60 * 1000;
/// The provisioner's session: IAM's minimum role maximum, so any provisioner role allows it.
const PROVISIONER_SECS: i64 = 3600;

pub fn saml_provider_arn(account_id: &str) -> String {
    format!(
        "arn:aws:iam::{account_id}:saml-provider/{}",
        super::SAML_PROVIDER_NAME
    )
}

pub fn role_arn(account_id: &str, role: &str) -> String {
    format!("arn:aws:iam::{account_id}:role/{role}")
}

pub fn provisioner_role_arn(account_id: &str) -> String {
    role_arn(account_id, super::PROVISIONER_ROLE)
}

/// `arn:aws:sts::<account>:assumed-role/<role>/<session>`, as STS writes a role session.
pub fn assumed_role_arn(account_id: &str, role: &str, session: &str) -> String {
    format!("arn:aws:sts::{account_id}:assumed-role/{role}/{session}")
}

/// A role's trust policy: Gatehouse's SAML provider in the account, for AWS's sign-in
/// audience only.
pub fn trust_policy(account_id: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": saml_provider_arn(account_id) },
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": { "StringEquals": { "SAML:aud": AWS_SIGNIN } }
        }]
    })
}

/// An IAM role description: at most 1,000 characters of the ones IAM accepts (Latin-1
/// printable); anything else becomes `?`.
fn description(p: &PermissionSetRecord) -> String {
    format!("Gatehouse permission set {}: {}", p.name, p.description)
        .chars()
        .map(|c| {
            if c == '\t'
                || c == '\n'
                || (' '..='~').contains(&c)
                || ('\u{a1}'..='\u{ff}').contains(&c)
            {
                c
            } else {
                '?'
            }
        })
        .take(1000)
        .collect()
}

/// The role permission set `p` is in an AWS account: the AWS managed policies it lists,
/// and its inline policy when it is written in IAM's language (a RAM-language one is
/// Alibaba Cloud's and `local`'s, and is not put here).
pub fn desired(p: &PermissionSetRecord, account_id: &str) -> DesiredRole {
    DesiredRole {
        role_name: role_name(&p.name),
        description: description(p),
        trust_policy: trust_policy(account_id).to_string(),
        max_session_secs: p.session_duration_secs.clamp(3600, 43_200),
        system_policies: catalogue::for_provider(&p.policy_names(), Provider::Aws),
        inline_policy: p
            .inline_policy
            .clone()
            .filter(|t| !t.trim().is_empty() && iam::is_iam_document(t)),
    }
}

/// The provisioner's credentials per account (see [`super::Sessions`]).
pub type Sessions = super::Sessions<Signer>;

/// The driver for one account.
pub struct Aws<'a> {
    env: Env<'a>,
    account: &'a AccountRecord,
    /// The calls made so far, for the audit trail.
    pub log: Vec<CallRecord>,
}

fn bad_credentials() -> CloudFault {
    CloudFault {
        code: "BadResponse".into(),
        message: "AWS STS answered without credentials.".into(),
        request_id: None,
        action: Some("AssumeRoleWithSAML".into()),
    }
}

/// Signing credentials and their expiry from an STS answer (`AssumeRoleWithSAML`, `AssumeRoot`).
pub fn credentials(x: &Xml) -> Option<(Signer, Millis)> {
    let c = x.find("Credentials")?;
    let expires = crate::sts::parse_timestamp(c.text_of("Expiration")?)?;
    Some((
        Signer {
            access_key_id: c.text_of("AccessKeyId")?.to_string(),
            secret_access_key: Zeroizing::new(c.text_of("SecretAccessKey")?.to_string()),
            session_token: c.text_of("SessionToken")?.to_string(),
        },
        expires,
    ))
}

/// A refusal of the provisioner's role, said as what the owner has to do.
fn explain_provisioner(mut f: CloudFault, account: &str) -> CloudFault {
    if !matches!(f.code.as_str(), "Unreachable" | "BadResponse") && !f.code.starts_with("Http5") {
        f.message = format!(
            "AWS refused Gatehouse's provisioner role in account {account} ({}: {}). Run the \
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
    let cause = if f.code == "NoSuchEntity" || f.message.contains("does not exist") {
        format!("The role {role} does not exist in account {account}: provision the permission set there.")
    } else if f.message.contains("DurationSeconds") || f.message.contains("MaxSessionDuration") {
        format!("The duration asked for is above the role {role}'s maximum session: ask for less, or re-provision.")
    } else if matches!(
        f.code.as_str(),
        "AccessDenied" | "InvalidIdentityToken" | "IDPRejectedClaim"
    ) {
        format!("AWS does not trust Gatehouse for the role {role}: run the account's setup kit, then re-provision the permission set.")
    } else {
        "AWS refused to issue credentials.".to_string()
    };
    match &f.request_id {
        Some(id) => format!("{cause} ({}: {}; RequestId {id})", f.code, f.message),
        None => format!("{cause} ({}: {})", f.code, f.message),
    }
}

impl<'a> Aws<'a> {
    pub fn new(env: Env<'a>, account: &'a AccountRecord) -> Self {
        Self {
            env,
            account,
            log: Vec::new(),
        }
    }

    fn sts_endpoint(&self) -> String {
        self.env
            .cloud
            .settings
            .aws_sts_endpoint
            .clone()
            .unwrap_or_else(|| "https://sts.amazonaws.com".into())
    }

    fn iam_endpoint(&self) -> String {
        self.env
            .cloud
            .settings
            .aws_iam_endpoint
            .clone()
            .unwrap_or_else(|| "https://iam.amazonaws.com".into())
    }

    fn signin_url(&self) -> String {
        self.env
            .cloud
            .settings
            .aws_signin_url
            .clone()
            .unwrap_or_else(|| AWS_SIGNIN.to_string())
    }

    /// A signed SAML Response for one role and session, base64 (as STS and the sign-in
    /// endpoint take it).
    async fn assertion(
        &self,
        role: &str,
        session: &str,
        duration_secs: i64,
        lifetime_ms: i64,
    ) -> Result<String, CloudFault> {
        let attributes = [
            (
                ROLE_ATTRIBUTE,
                vec![format!(
                    "{},{}",
                    role_arn(&self.account.id, role),
                    saml_provider_arn(&self.account.id)
                )],
            ),
            (SESSION_ATTRIBUTE, vec![session.to_string()]),
            (DURATION_ATTRIBUTE, vec![duration_secs.to_string()]),
        ];
        let a = AssertionFor {
            issuer: &self.env.cloud.entity_id,
            recipient: AWS_SIGNIN,
            audience: AWS_AUDIENCE,
            session_name: session,
            attributes: &attributes,
            // AWS judges the assertion's validity window by its own clock.
            now: SystemClock.now_ms(),
            lifetime_ms,
        };
        let (xml, _id) = self
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
        Ok(base64::engine::general_purpose::STANDARD.encode(xml))
    }

    /// `AssumeRoleWithSAML` for `role` as `session`.
    async fn assume(
        &mut self,
        role: &str,
        session: &str,
        duration_secs: i64,
        policy: Option<&str>,
    ) -> Result<Xml, CloudFault> {
        let assertion = self
            .assertion(role, session, duration_secs, STS_ASSERTION_MS)
            .await?;
        let mut params = vec![
            ("RoleArn".to_string(), role_arn(&self.account.id, role)),
            (
                "PrincipalArn".to_string(),
                saml_provider_arn(&self.account.id),
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
            service: "sts",
            version: STS_VERSION,
            region: client::SIGNING_REGION,
        };
        api.call("AssumeRoleWithSAML", &params, None, &mut self.log)
            .await
    }

    /// The provisioner's credentials, from the cache or from STS.
    async fn provisioner(&mut self) -> Result<Arc<Signer>, CloudFault> {
        let now = SystemClock.now_ms();
        if let Some(s) = self.env.cloud.aws.get(&self.account.id, now) {
            return Ok(s);
        }
        let x = self
            .assume(
                super::PROVISIONER_ROLE,
                "gatehouse-provisioner",
                PROVISIONER_SECS,
                None,
            )
            .await
            .map_err(|f| explain_provisioner(f, &self.account.id))?;
        let (signer, expires) = credentials(&x).ok_or_else(bad_credentials)?;
        let signer = Arc::new(signer);
        self.env
            .cloud
            .aws
            .put(&self.account.id, signer.clone(), expires);
        Ok(signer)
    }

    /// Runs `work` with IAM signed by the provisioner. A credential IAM refuses (expired or
    /// revoked early) is dropped from the cache and the work runs once more with a fresh one.
    async fn with_iam<T>(
        &mut self,
        work: impl for<'r> Fn(
            &'r mut iam::Iam<'_>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, CloudFault>> + Send + 'r>,
        >,
    ) -> Result<T, CloudFault> {
        let mut retried = false;
        loop {
            let signer = self.provisioner().await?;
            let endpoint = self.iam_endpoint();
            let mut r = iam::Iam {
                api: Api {
                    http: &self.env.cloud.http,
                    endpoint: &endpoint,
                    service: "iam",
                    version: iam::VERSION,
                    region: client::SIGNING_REGION,
                },
                signer: &signer,
                log: Vec::new(),
            };
            let out = work(&mut r).await;
            self.log.append(&mut r.log);
            match out {
                Err(f) if refused_credential(&f.code) => {
                    self.env.cloud.aws.forget(&self.account.id);
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

/// AWS's codes for a signing credential it no longer takes.
fn refused_credential(code: &str) -> bool {
    matches!(
        code,
        "ExpiredToken" | "InvalidClientTokenId" | "SignatureDoesNotMatch"
    )
}

#[async_trait]
impl CloudProvider for Aws<'_> {
    fn kind(&self) -> Provider {
        Provider::Aws
    }

    fn revocation(&self) -> Revocation {
        Revocation::DenyUntilExpiry
    }

    fn desired(&self, p: &PermissionSetRecord) -> DesiredRole {
        desired(p, &self.account.id)
    }

    async fn provision(&mut self, d: &DesiredRole) -> Result<Vec<String>, CloudFault> {
        self.with_iam(move |r| {
            let d = d.clone();
            Box::pin(async move { r.provision(&d).await })
        })
        .await
    }

    async fn drift(&mut self, d: &DesiredRole) -> Result<Vec<String>, CloudFault> {
        self.with_iam(move |r| {
            let d = d.clone();
            Box::pin(async move { r.drift(&d).await })
        })
        .await
    }

    async fn deprovision(&mut self, role_name: &str) -> Result<Vec<String>, CloudFault> {
        let role = role_name.to_string();
        self.with_iam(move |r| {
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
        let role = role_name.to_string();
        let sessions = sessions.to_vec();
        // Tokens issued before now: every revoked session was, and the session names are
        // unique per issue, so no later session matches.
        let before = crate::clock::expiration_text(SystemClock.now_ms() + 1000);
        self.with_iam(move |r| {
            let (role, sessions, before) = (role.clone(), sessions.clone(), before.clone());
            Box::pin(async move { r.deny_sessions(&role, &sessions, &before).await })
        })
        .await
    }

    async fn issue(&mut self, g: IssueGrant<'_>) -> Result<Issued, IssueError> {
        let e = g.entitlement;
        let role = role_name(&e.permission_set.name);
        let session = super::alibaba::session_name(g.req.username);
        let secs = (g.duration_ms / 1000).max(900);
        let x = self
            .assume(&role, &session, secs, g.session_policy.as_deref())
            .await
            .map_err(|f| {
                let message = explain_issue(&f, &role, &e.account_id);
                IssueError::Cloud { fault: f, message }
            })?;
        let (signer, expires) = credentials(&x).ok_or_else(|| {
            let f = bad_credentials();
            IssueError::Cloud {
                message: f.message.clone(),
                fault: f,
            }
        })?;
        let arn = x
            .find("AssumedRoleUser")
            .and_then(|u| u.text_of("Arn"))
            .map(str::to_string)
            .unwrap_or_else(|| assumed_role_arn(&e.account_id, &role, &session));
        let request_id = x.text_of("RequestId").map(str::to_string);
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
        crate::sts::record_cloud_issue(self.env.sts, g.req, &claims, Provider::Aws, request_id)
            .await?;
        Ok(Issued {
            credential: Credential {
                access_key_id: signer.access_key_id.clone(),
                access_key_secret: signer.secret_access_key.clone(),
                security_token: signer.session_token.clone(),
            },
            role_arn: role_arn(&e.account_id, &role),
            assumed_role_arn: arn,
            claims,
        })
    }

    async fn console(&mut self, t: &ConsoleTarget<'_>) -> Result<ConsoleSignIn, CloudFault> {
        let role = role_name(&t.permission_set.name);
        let session = super::alibaba::session_name(t.username);
        let secs = t.permission_set.session_duration_secs.clamp(900, 43_200);
        let assertion = self
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

    /// `sts:AssumeRoot` from the root-sessions account (see [`root`]).
    async fn root_session(&mut self, t: &RootTarget<'_>) -> Result<RootCredentials, RootRefusal> {
        root::root_session(self, t).await
    }

    fn take_calls(&mut self) -> Vec<CallRecord> {
        std::mem::take(&mut self.log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_trust_gatehouse_for_aws_sign_in_only() {
        let t = trust_policy("123456789012");
        assert_eq!(
            t["Statement"][0]["Principal"]["Federated"],
            "arn:aws:iam::123456789012:saml-provider/Gatehouse"
        );
        assert_eq!(t["Statement"][0]["Action"], "sts:AssumeRoleWithSAML");
        assert_eq!(
            t["Statement"][0]["Condition"]["StringEquals"]["SAML:aud"],
            AWS_SIGNIN
        );
    }

    #[test]
    fn refusals_name_their_cause() {
        let f = CloudFault {
            code: "ValidationError".into(),
            message:
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            request_id: Some("R1".into()),
            action: None,
        };
        let m = explain_issue(&f, "GatehouseSSO-x", "123456789012");
        assert!(
            m.contains("maximum session") && m.contains("RequestId R1"),
            "{m}"
        );
        let f = CloudFault {
            code: "AccessDenied".into(),
            message: "Not authorized to perform sts:AssumeRoleWithSAML".into(),
            request_id: None,
            action: None,
        };
        assert!(explain_issue(&f, "r", "1").contains("setup kit"));
    }
}
