//! Break-glass root sessions in AWS: `sts:AssumeRoot`, which AWS accepts only from the
//! organization's management account (or its IAM delegated administrator) for a member
//! account, at a regional STS endpoint, with one of its five root-task policies.

use gatehouse_shared::breakglass::RootTask;
use gatehouse_shared::cloud::{CloudFault, Provider};

use super::client::{self, Api, Xml};
use super::{
    bad_credentials, credentials, explain_provisioner, refused_credential, Aws, STS_VERSION,
};
use crate::cloud::{Env, RootCredentials, RootRefusal, RootTarget};
use crate::store::AccountRecord;
use crate::sts::Credential;

impl Aws<'_> {
    /// Where `sts:AssumeRoot` is sent: AWS takes it at a regional STS endpoint only (the
    /// account's region, or us-east-1), or the configured endpoint.
    fn regional_sts(&self) -> (String, String) {
        let region = self
            .account
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| client::SIGNING_REGION.to_string());
        let endpoint = self
            .env
            .cloud
            .settings
            .aws_sts_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
        (endpoint, region)
    }

    /// `sts:AssumeRoot` for `target`'s root, limited to `task`'s AWS managed task policy,
    /// signed by this (the root-sessions) account's provisioner.
    async fn assume_root(
        &mut self,
        target: &str,
        task: RootTask,
        duration_secs: i64,
    ) -> Result<Xml, CloudFault> {
        let mut retried = false;
        loop {
            let signer = self
                .provisioner()
                .await
                .map_err(|f| explain_provisioner(f, &self.account.id))?;
            let (endpoint, region) = self.regional_sts();
            let api = Api {
                http: &self.env.cloud.http,
                endpoint: &endpoint,
                service: "sts",
                version: STS_VERSION,
                region: &region,
            };
            let params = [
                ("TargetPrincipal".to_string(), target.to_string()),
                (
                    "TaskPolicyArn.arn".to_string(),
                    task.aws_policy_arn().to_string(),
                ),
                ("DurationSeconds".to_string(), duration_secs.to_string()),
            ];
            match api
                .call("AssumeRoot", &params, Some(&signer), &mut self.log)
                .await
            {
                Err(f) if refused_credential(&f.code) && !retried => {
                    self.env.cloud.aws.forget(&self.account.id);
                    retried = true;
                }
                other => return other,
            }
        }
    }
}

/// A refusal of `sts:AssumeRoot`, said as what to set up.
fn explain_root(f: &CloudFault, from: &str, target: &str) -> String {
    let cause = if matches!(f.code.as_str(), "AccessDenied" | "AccessDeniedException") {
        format!(
            "AWS refused sts:AssumeRoot from account {from} for account {target}. Centralized \
             root access (root sessions) must be enabled in the organization, {from} must be its \
             management account or IAM delegated administrator, {target} a member, and {from}'s \
             setup kit applied (its GatehouseRootSessions policy allows sts:AssumeRoot)."
        )
    } else if matches!(f.code.as_str(), "Unreachable" | "BadResponse") || f.code.starts_with("Http")
    {
        "AWS STS could not start the root session.".to_string()
    } else {
        format!("AWS refused the root session for account {target}.")
    };
    match &f.request_id {
        Some(id) => format!("{cause} ({}: {}; RequestId {id})", f.code, f.message),
        None => format!("{cause} ({}: {})", f.code, f.message),
    }
}

/// The account that starts root sessions in `target`, as configured and connected.
async fn root_sessions_account(env: Env<'_>, target: &str) -> Result<AccountRecord, RootRefusal> {
    let Some(id) = env.cloud.settings.aws_root_sessions_account.clone() else {
        return Err(RootRefusal::Unavailable(
            "Root sessions in AWS accounts are started with sts:AssumeRoot from the \
             organization's management account (or its IAM delegated administrator): set \
             GATEHOUSE_AWS_ROOT_SESSIONS_ACCOUNT to that account (see docs/CLOUD.md)."
                .into(),
        ));
    };
    if id == target {
        return Err(RootRefusal::Unavailable(format!(
            "Account {target} is the one root sessions are started from: sts:AssumeRoot reaches \
             the organization's member accounts, not the account that calls it."
        )));
    }
    let not_connected = || {
        RootRefusal::Unavailable(format!(
            "GATEHOUSE_AWS_ROOT_SESSIONS_ACCOUNT names {id}, which is not an AWS account in \
             Gatehouse: add it on the Accounts page and apply its setup kit."
        ))
    };
    match env.store.get_account(&id).await {
        Ok(a) if a.provider == Provider::Aws.as_str() => Ok(a),
        Ok(_) => Err(not_connected()),
        Err(crate::store::StoreError::NotFound) => Err(not_connected()),
        Err(e) => Err(RootRefusal::Store(e)),
    }
}

/// `sts:AssumeRoot` from the root-sessions account (`GATEHOUSE_AWS_ROOT_SESSIONS_ACCOUNT`)
/// with `target`'s account as the target and the task's AWS managed policy, at most 900 s.
pub(super) async fn root_session(
    target: &mut Aws<'_>,
    t: &RootTarget<'_>,
) -> Result<RootCredentials, RootRefusal> {
    let from = root_sessions_account(target.env, &target.account.id).await?;
    let mut broker = Aws::new(target.env, &from);
    let answer = broker
        .assume_root(&target.account.id, t.task, t.duration_secs)
        .await;
    target.log.append(&mut broker.log);
    let x = answer.map_err(|f| RootRefusal::Cloud {
        message: explain_root(&f, &from.id, &target.account.id),
        fault: f,
    })?;
    let (signer, expires) = credentials(&x).ok_or_else(|| {
        let mut f = bad_credentials();
        f.action = Some("AssumeRoot".into());
        RootRefusal::Cloud {
            message: f.message.clone(),
            fault: f,
        }
    })?;
    Ok(RootCredentials {
        credential: Credential {
            access_key_id: signer.access_key_id.clone(),
            access_key_secret: signer.secret_access_key.clone(),
            security_token: signer.session_token.clone(),
        },
        expires,
        principal_arn: format!("arn:aws:iam::{}:root", target.account.id),
        policy_document: String::new(),
        task_policy_arn: Some(t.task.aws_policy_arn().to_string()),
        request_id: x.text_of("RequestId").map(str::to_string),
    })
}
