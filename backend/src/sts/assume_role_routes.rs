//! STS `AssumeRole` over the `/sts/` API (the RPC surface's second routes file): role
//! chaining from a verified caller, judged by the caller's policies and the target's
//! assignment, issued through the same path as the portal (see [`super::rpc_routes`] for the
//! signature and nonce checks that come first).

use axum::http::StatusCode;
use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::audit::Outcome;
use serde_json::{json, Value};

use super::rpc_routes::{role_id, Call, StsError, CHAINED_MAX_SECS};
use super::{assumed_role_arn, role_policies, Claims, IssueError, IssueRequest, Lineage, Source};
use crate::app::AppState;
use crate::audit::{AuditCtx, NewEvent};
use crate::clock::Millis;
use crate::permission_sets::ROLE_PREFIX;
use crate::policy::{evaluate_with_session_policy, Context, RamPolicy, Request as PolicyRequest};
use crate::store::RevocationRecord;

/// `acs:ram::<account>:role/<name>` → (account, name).
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("acs:ram::")?;
    let (account, role) = rest.split_once(":role/")?;
    let ok = account.len() == 16 && account.bytes().all(|b| b.is_ascii_digit());
    (ok && !role.is_empty()).then_some((account, role))
}

fn valid_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'-'))
}

pub(super) async fn assume_role(
    state: &AppState,
    call: &Call<'_>,
    caller: &Claims,
    now: Millis,
    request_id: &str,
    source_ip: String,
) -> Result<Value, StsError> {
    let role_arn = call
        .param("RoleArn")
        .ok_or_else(|| StsError::missing("RoleArn"))?;
    let session_name = call
        .param("RoleSessionName")
        .ok_or_else(|| StsError::missing("RoleSessionName"))?;
    if !valid_session_name(session_name) {
        return Err(StsError::invalid(
            "RoleSessionName",
            "use 2 to 64 letters, digits, and the characters . @ - _",
        ));
    }
    let Some((account_id, role)) = parse_role_arn(role_arn) else {
        return Err(StsError::invalid(
            "RoleArn",
            "expected acs:ram::<16-digit account id>:role/<role name>",
        ));
    };
    let duration = match call.param("DurationSeconds") {
        None => None,
        Some(d) => Some(d.parse::<i64>().map_err(|_| {
            StsError::invalid("DurationSeconds", "expected a whole number of seconds")
        })?),
    };
    if duration.is_some_and(|d| !(900..=CHAINED_MAX_SECS).contains(&d)) {
        return Err(StsError::invalid(
            "DurationSeconds",
            &format!("role chaining allows 900 to {CHAINED_MAX_SECS} seconds"),
        ));
    }
    let session_policy = call.param("Policy").map(str::to_string);
    let ctx = AuditCtx {
        actor_id: Some(caller.uid.clone()),
        actor_name: caller.sn.clone(),
        source_ip: Some(source_ip.clone()),
        user_agent: call
            .header("user-agent")
            .map(|s| s.chars().take(256).collect()),
    };
    let deny = |reason: &str| {
        NewEvent::new(
            now,
            &ctx,
            AuditAction::StsAssumeRole,
            "role",
            Some(role_arn.to_string()),
        )
        .failed(Outcome::Denied, reason)
        .details(json!({ "caller": caller.ak, "request_id": request_id }))
    };
    let store = &*state.store;
    let internal = |e: crate::store::StoreError| StsError::store(&e, "assume role");
    // Lineages are bounded, so a revocation can be kept until its last descendant expires.
    if caller.depth() >= RevocationRecord::MAX_CHAIN_DEPTH {
        store
            .append_event(deny("role chain too deep"))
            .await
            .map_err(internal)?;
        return Err(StsError::no_permission(&format!(
            "role chaining goes at most {} deep; these credentials were assumed {} times.",
            RevocationRecord::MAX_CHAIN_DEPTH,
            caller.depth()
        )));
    }

    // The caller's effective policy must allow sts:AssumeRole on the target role.
    let own = store
        .entitlement(&caller.uid, &caller.acc, &caller.ps)
        .await
        .map_err(internal)?;
    // A root session is limited to its task policy alone.
    let root_task = caller
        .rt
        .as_deref()
        .and_then(gatehouse_shared::breakglass::RootTask::parse);
    let policies = match (&caller.rt, root_task) {
        (Some(_), Some(task)) => crate::break_glass::tasks::policy(task, &caller.acc)
            .into_iter()
            .collect(),
        (Some(_), None) => Vec::new(),
        (None, _) => match own.as_ref().map(role_policies) {
            None => Vec::new(),
            Some(Some(policies)) => policies,
            // A policy of the role that no longer parses refuses, as an unreadable session
            // policy does: it may have held the Deny that mattered.
            Some(None) => {
                store
                    .append_event(deny("a policy of the caller's role does not parse"))
                    .await
                    .map_err(internal)?;
                return Err(StsError::no_permission(
                    "a policy of these credentials' role cannot be read.",
                ));
            }
        },
    };
    // A session policy that no longer parses (stored under an older grammar, say) narrows
    // to nothing: fail closed rather than assume the role with the session unnarrowed.
    let session = match caller.pol.as_deref().map(RamPolicy::parse) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => {
            store
                .append_event(deny("the caller's session policy does not parse"))
                .await
                .map_err(internal)?;
            return Err(StsError::no_permission(
                "the session policy of these credentials cannot be read.",
            ));
        }
    };
    // The person's own entitlement to the target role, looked up as RAM does, whatever the
    // letter case of the ARN; the policies are evaluated on its canonical ARN, so that a
    // Deny on `…:role/GatehouseSSO-Admin` also holds for `…:role/gatehousesso-admin`.
    let target = match role.get(..ROLE_PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(ROLE_PREFIX) => store
            .entitlement_by_name(&caller.uid, account_id, &role[ROLE_PREFIX.len()..])
            .await
            .map_err(internal)?,
        _ => None,
    };
    let canonical_arn = target.as_ref().map_or_else(
        || role_arn.to_string(),
        |t| {
            crate::permission_sets::role_arn(
                account_id,
                &crate::permission_sets::role_name(&t.permission_set.name),
            )
        },
    );
    let mut context = Context::new();
    context.insert("acs:SourceIp", source_ip.clone());
    context.insert("acs:CurrentTime", super::expiration_text(now));
    context.insert(
        "acs:SecureTransport",
        state
            .settings
            .public_url
            .starts_with("https://")
            .to_string(),
    );
    context.insert("acs:MFAPresent", "false");
    context.insert("acs:PrincipalARN", assumed_role_arn(caller));
    let request = PolicyRequest::new("sts:AssumeRole", &canonical_arn).with_context(context);
    let refs: Vec<&RamPolicy> = policies.iter().collect();
    if !evaluate_with_session_policy(&request, &refs, session.as_ref()).is_allowed() {
        store
            .append_event(deny("policy does not allow sts:AssumeRole"))
            .await
            .map_err(internal)?;
        return Err(StsError::no_permission(&format!(
            "the policies of {} do not allow sts:AssumeRole on {role_arn}.",
            caller.role
        )));
    }
    // …and the person must be assigned the target role.
    let Some(target) = target else {
        store
            .append_event(deny("not assigned the target role"))
            .await
            .map_err(internal)?;
        return Err(StsError::no_permission(&format!(
            "{} is not assigned {role_arn}.",
            caller.sn
        )));
    };
    let issued = super::issue(
        state.cloud_env(),
        now,
        IssueRequest {
            user_id: &caller.uid,
            username: &caller.sn,
            session_name,
            account_id,
            permission_set_id: &target.permission_set.id,
            duration_secs: duration,
            session_policy,
            source: Source::AssumeRole {
                lineage: Lineage::of_child(caller),
            },
            ctx,
        },
        Some(CHAINED_MAX_SECS),
    )
    .await
    .map_err(|e| match e {
        IssueError::Invalid(faults) => StsError::invalid(
            faults.first().map_or("Policy", |f| {
                if f.field == "session_policy" {
                    "Policy"
                } else {
                    "DurationSeconds"
                }
            }),
            &faults
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_default(),
        ),
        IssueError::NotAssigned => StsError::no_permission("not assigned the target role."),
        IssueError::NotProvisioned => StsError::new(
            StatusCode::BAD_REQUEST,
            "EntityNotExist.Role",
            "The role is not provisioned in that account yet.",
        ),
        IssueError::Cloud { fault, message } => StsError::new(
            StatusCode::BAD_GATEWAY,
            "CloudRefused",
            format!("{message} ({})", fault.code),
        ),
        IssueError::Store(e) => internal(e),
    })?;
    let role_id = role_id(account_id, &issued.claims.role);
    Ok(json!({
        "AssumedRoleUser": {
            "Arn": issued.assumed_role_arn,
            "AssumedRoleId": format!("{role_id}:{}", issued.claims.sn),
        },
        "Credentials": {
            "AccessKeyId": issued.credential.access_key_id,
            "AccessKeySecret": issued.credential.access_key_secret.as_str(),
            "SecurityToken": issued.credential.security_token,
            "Expiration": issued.expiration(),
        },
    }))
}
