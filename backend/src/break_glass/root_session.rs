//! A task-scoped root session in the window: the account's provider issues it
//! (`cloud::CloudProvider::root_session`), and it is recorded before it is returned.

use gatehouse_shared::audit::{AuditAction, Outcome};
use gatehouse_shared::breakglass::{RootSession, RootSessionRequest, MAX_ROOT_SESSION_SECS};
use gatehouse_shared::cloud::Provider;
use serde_json::json;

use super::{custodian_ids, field, usable, BreakGlassError, Result};
use crate::auth::login::Env;
use crate::auth::sessions::CurrentSession;
use crate::clock::{to_datetime, Millis};
use crate::cloud::{RootRefusal, RootTarget};
use crate::portal::formats;
use crate::store::break_glass::UseKind;

/// Starts a root session for the requester inside the window: credentials for the account's
/// root principal limited to one task policy, for at most 900 seconds, from the account's
/// provider (Gatehouse's STS for `local`, `sts:AssumeRoot` for `aws`). A refusal is recorded
/// as a failed use; a session is recorded before its credentials are returned.
pub async fn root_session(
    env: Env<'_>,
    cloud: crate::cloud::Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
    req: RootSessionRequest,
) -> Result<RootSession> {
    let duration = req.duration_secs.unwrap_or(MAX_ROOT_SESSION_SECS);
    if !(60..=MAX_ROOT_SESSION_SECS).contains(&duration) {
        return Err(field(
            "duration_secs",
            format!("A root session lasts 60 to {MAX_ROOT_SESSION_SECS} seconds."),
        ));
    }
    let r = usable(env, now, who, id).await?;
    let account = env.store.get_account(&r.account_id).await?;
    let provider_kind = Provider::parse(&account.provider).unwrap_or_default();
    let mut provider = crate::cloud::provider_for(cloud, &account);
    let issued = provider
        .root_session(&RootTarget {
            user_id: &who.user.id,
            username: &who.user.username,
            task: req.task,
            duration_secs: duration,
            now,
        })
        .await;
    let calls = provider.take_calls();
    let custodians = custodian_ids(env, &r.password_group_id, &r.mfa_group_id).await?;
    let mut event = r.event(
        now,
        &who.ctx(),
        AuditAction::BreakGlassRootSession,
        &custodians,
    );
    if let serde_json::Value::Object(m) = &mut event.details {
        m.insert("task".into(), json!(req.task.as_str()));
        m.insert("provider".into(), json!(provider_kind.as_str()));
        if !calls.is_empty() {
            let calls: Vec<_> = calls
                .iter()
                .map(|c| json!({ "action": c.action, "request_id": c.request_id, "code": c.code, "attempts": c.attempts }))
                .collect();
            m.insert("cloud_calls".into(), json!(calls));
        }
    }
    let c = match issued {
        Ok(c) => c,
        Err(refusal) => {
            let reason = match &refusal {
                RootRefusal::Cloud { fault, .. } => fault.code.clone(),
                RootRefusal::Unavailable(_) => "unavailable".into(),
                RootRefusal::Store(_) => "store".into(),
            };
            env.store
                .append_event(event.failed(Outcome::Failure, &reason))
                .await?;
            return Err(BreakGlassError::Root(refusal));
        }
    };
    if let serde_json::Value::Object(m) = &mut event.details {
        m.insert("access_key_id".into(), json!(c.credential.access_key_id));
        m.insert(
            "expires_at".into(),
            json!(crate::sts::expiration_text(c.expires)),
        );
        if let Some(arn) = &c.task_policy_arn {
            m.insert("task_policy_arn".into(), json!(arn));
        }
        if let Some(rid) = &c.request_id {
            m.insert("request_id".into(), json!(rid));
        }
    }
    let kind = UseKind::RootSession {
        access_key_id: c.credential.access_key_id.clone(),
        task: req.task.as_str().into(),
        expires_at: c.expires,
    };
    if !env
        .store
        .use_breakglass(id, &who.user.id, now, kind, event, &custodians)
        .await?
    {
        return Err(BreakGlassError::WindowNotOpen);
    }
    let (ak, secret, token) = (
        c.credential.access_key_id.as_str(),
        c.credential.access_key_secret.as_str(),
        c.credential.security_token.as_str(),
    );
    let profile = format!("gatehouse-{}-root", account.id);
    let formats = if provider_kind == Provider::Aws {
        vec![
            ("shell".into(), formats::aws_shell(ak, secret, token)),
            (
                "aws_cli".into(),
                formats::aws_configure(&profile, ak, secret, token),
            ),
        ]
    } else {
        vec![
            ("shell".into(), formats::shell(ak, secret, token)),
            (
                "aliyun_cli".into(),
                formats::aliyun_cli(&profile, ak, secret, token),
            ),
        ]
    };
    Ok(RootSession {
        task: req.task,
        provider: provider_kind,
        policy_document: c.policy_document,
        task_policy_arn: c.task_policy_arn,
        principal_arn: c.principal_arn,
        access_key_id: ak.to_string(),
        access_key_secret: secret.to_string(),
        security_token: token.to_string(),
        expiration: to_datetime(c.expires),
        formats,
    })
}
