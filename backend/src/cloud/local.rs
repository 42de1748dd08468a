//! The `local` provider: Gatehouse's own STS. Roles are rows, so provisioning changes
//! nothing outside Gatehouse; credentials are Gatehouse's stateless tokens, which only its
//! STS endpoint accepts and which it refuses from the moment they are revoked.

use async_trait::async_trait;
use gatehouse_shared::cloud::{CloudFault, ConsoleSignIn, Provider};

use super::{
    CloudProvider, ConsoleTarget, DesiredRole, Env, IssueGrant, Revocation, RootCredentials,
    RootRefusal, RootTarget,
};
use crate::break_glass::tasks;
use crate::portal::CONSOLE_HOME;
use crate::store::AccountRecord;
use crate::sts::{Claims, IssueError, Issued, StsKeys};

pub struct Local<'a> {
    pub env: Env<'a>,
    pub account: &'a AccountRecord,
}

#[async_trait]
impl CloudProvider for Local<'_> {
    fn kind(&self) -> Provider {
        Provider::Local
    }

    fn revocation(&self) -> Revocation {
        Revocation::Immediate
    }

    /// A local role is a row: it is what the permission set says, named as in RAM.
    fn desired(&self, p: &crate::store::PermissionSetRecord) -> DesiredRole {
        DesiredRole {
            role_name: crate::permission_sets::role_name(&p.name),
            description: p.description.clone(),
            trust_policy: String::new(),
            max_session_secs: p.session_duration_secs,
            system_policies: p.policy_names(),
            inline_policy: p.inline_policy.clone(),
        }
    }

    async fn provision(&mut self, _desired: &DesiredRole) -> Result<Vec<String>, CloudFault> {
        Ok(Vec::new())
    }

    async fn drift(&mut self, _desired: &DesiredRole) -> Result<Vec<String>, CloudFault> {
        Ok(Vec::new())
    }

    async fn deprovision(&mut self, _role_name: &str) -> Result<Vec<String>, CloudFault> {
        Ok(Vec::new())
    }

    async fn deny_sessions(&mut self, _role: &str, _sessions: &[String]) -> Result<(), CloudFault> {
        // Revoked tokens are refused by Gatehouse's own STS (`sts::revocation`).
        Ok(())
    }

    async fn issue(&mut self, g: IssueGrant<'_>) -> Result<Issued, IssueError> {
        debug_assert_eq!(g.entitlement.account_id, self.account.id);
        Ok(crate::sts::issue_local(
            self.env.sts,
            g.now,
            g.entitlement,
            g.req,
            g.session_policy,
            g.duration_ms,
            g.grant_id,
        )
        .await?)
    }

    async fn console(&mut self, t: &ConsoleTarget<'_>) -> Result<ConsoleSignIn, CloudFault> {
        Ok(ConsoleSignIn {
            method: "GET".into(),
            url: t
                .permission_set
                .relay_state
                .clone()
                .unwrap_or_else(|| CONSOLE_HOME.to_string()),
            fields: Vec::new(),
        })
    }

    /// A token of Gatehouse's own STS for the account's root, which the STS API and the
    /// simulator limit to the task's RAM policy ([`tasks`]).
    async fn root_session(&mut self, t: &RootTarget<'_>) -> Result<RootCredentials, RootRefusal> {
        let claims = Claims {
            ak: StsKeys::new_access_key_id(),
            uid: t.user_id.to_string(),
            sn: t.username.to_string(),
            acc: self.account.id.clone(),
            ps: String::new(),
            role: "root".into(),
            iat: t.now,
            exp: t.now + t.duration_secs * 1000,
            pol: None,
            par: None,
            rt: Some(t.task.as_str().to_string()),
            gr: None,
        };
        Ok(RootCredentials {
            credential: self.env.sts.keys.issue(&claims),
            expires: claims.exp,
            principal_arn: tasks::root_arn(&self.account.id),
            policy_document: tasks::policy_document(t.task, &self.account.id),
            task_policy_arn: None,
            request_id: None,
        })
    }
}
