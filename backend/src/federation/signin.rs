//! The one place a verified federated identity becomes a Gatehouse session. The identity is
//! keyed by (IdP, subject); without a link, an existing user is linked by a verified e-mail
//! address only if the IdP allows it, and a user is created just in time only if the IdP
//! allows it. Groups named in the assertion that exist in Gatehouse are applied (and the
//! ones this IdP applied before and no longer asserts are removed), except a group that
//! gives a role, approves access requests or holds root-credential custody and that no
//! administrator marked IdP-managed: that one is refused; MFA asserted by the IdP
//! is recorded on the session. A disabled user is refused. Every outcome is audited as
//! `auth.federated_login` with the IdP and the reason code.

use gatehouse_shared::audit::AuditAction;
use std::collections::{BTreeMap, BTreeSet};

use gatehouse_shared::audit::Outcome;
use gatehouse_shared::directory::UserSource;
use gatehouse_shared::validate::{DisplayName, Email, Username};
use serde_json::json;

use super::errors::SignInRefusal;
use super::saml::Refusal;
use super::Env;
use crate::audit::ClientMeta;
use crate::audit::{AuditCtx, NewEvent};
use crate::auth::sessions::hash_token;
use crate::clock::Millis;
use crate::secrets::random_token;
use crate::store::{
    FederatedLogin, FederatedUser, GuardOutcome, IdpRecord, LinkedUser, NewUserRecord, ReplayGuard,
    SessionRecord, StoreError,
};

pub const AUDIT_ACTION: AuditAction = AuditAction::AuthFederatedLogin;

/// What a verified SAML assertion or OIDC ID token says, after the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub subject: String,
    pub email: Option<String>,
    /// Only OIDC's `email_verified: true` counts; a SAML IdP vouches for what it signs.
    pub email_verified: bool,
    pub display_name: Option<String>,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub mfa: bool,
    /// The `amr`/`acr` or AuthnContextClassRef behind `mfa`, for the audit trail.
    pub mfa_evidence: Option<String>,
    /// `saml` or `oidc`.
    pub method: &'static str,
}

/// A signed-in browser: the session cookie's value, and where it goes next.
pub struct FederatedSession {
    pub token: String,
    pub return_to: String,
}

/// Where the browser goes after signing in, and what guards the sign-in.
#[derive(Debug, Clone)]
pub enum After {
    /// The return path is known already (OIDC: its request was consumed by the callback).
    Known(String),
    /// A SAML response: its replay guard is committed with the sign-in, and the request it
    /// consumes holds the return path.
    Guarded(ReplayGuard),
}

fn ctx(client: &ClientMeta, name: &str, user_id: Option<String>) -> AuditCtx {
    AuditCtx {
        actor_id: user_id,
        actor_name: name.chars().take(128).collect(),
        source_ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    }
}

/// Records a refused sign-in in the audit trail: reason code, IdP, precise detail.
pub async fn audit_refusal(
    env: Env<'_>,
    now: Millis,
    idp_id: &str,
    idp_name: Option<&str>,
    client: &ClientMeta,
    refusal: &SignInRefusal,
    subject: Option<&str>,
) {
    let outcome = if matches!(refusal, SignInRefusal::Internal(_)) {
        Outcome::Failure
    } else {
        Outcome::Denied
    };
    let event = NewEvent::new(
        now,
        &ctx(client, subject.unwrap_or("anonymous"), None),
        AUDIT_ACTION,
        "idp",
        Some(idp_id.to_string()),
    )
    .failed(outcome, refusal.code())
    .details(json!({
        "idp": idp_name,
        "detail": refusal.detail(),
        "subject": subject,
    }));
    if let Err(e) = env.store.append_event(event).await {
        tracing::error!(error = %e, code = refusal.code(), "could not audit a refused federated sign-in");
    }
    if let SignInRefusal::Internal(d) = refusal {
        tracing::error!(detail = %d, idp = idp_id, "federated sign-in failed internally");
    }
}

/// Turns `who` into a session for a person of `idp`, replacing `previous`. A SAML
/// response's replay guard is committed with the session; should the sign-in be refused,
/// it is committed alone, so the response is used up either way.
pub async fn complete(
    env: Env<'_>,
    now: Millis,
    idp: &IdpRecord,
    who: &VerifiedIdentity,
    client: &ClientMeta,
    previous: Option<String>,
    after: After,
) -> Result<FederatedSession, SignInRefusal> {
    let (guard, known) = match after {
        After::Known(to) => (None, Some(to)),
        After::Guarded(g) => (Some(g), None),
    };
    let (mut login, token) = match prepare(env, now, idp, who, client, previous).await {
        Ok(prepared) => prepared,
        Err(refusal) => return Err(use_up(env, guard, refusal).await),
    };
    login.guard.clone_from(&guard);
    match env.federation.commits.sign_in(login).await {
        Ok(Ok(to)) => Ok(FederatedSession {
            token,
            return_to: to.or(known).unwrap_or_else(|| "/".into()),
        }),
        Ok(Err(outcome)) => Err(guard_refusal(&outcome)
            .unwrap_or_else(|| SignInRefusal::Internal("a fresh guard refused".into()))),
        Err(StoreError::Conflict(_)) => Err(use_up(env, guard, SignInRefusal::UsernameTaken).await),
        Err(e) => Err(e.into()),
    }
}

/// What a replay guard's outcome refuses, if anything.
fn guard_refusal(outcome: &GuardOutcome) -> Option<SignInRefusal> {
    match outcome {
        GuardOutcome::Fresh(_) => None,
        GuardOutcome::UnknownRequest => Some(SignInRefusal::Saml(Refusal::UnknownInResponseTo)),
        GuardOutcome::Replayed => Some(SignInRefusal::Saml(Refusal::Replayed)),
    }
}

/// A sign-in refused after the response's checks: its guard is committed alone, and a
/// response that was already used (or answers no request of this browser) is refused as
/// that, the earlier check.
async fn use_up(env: Env<'_>, guard: Option<ReplayGuard>, refusal: SignInRefusal) -> SignInRefusal {
    let Some(guard) = guard else { return refusal };
    match env.federation.commits.guard(guard).await {
        Ok(outcome) => guard_refusal(&outcome).unwrap_or(refusal),
        Err(e) => e.into(),
    }
}

/// Everything the sign-in will write, decided from what the store holds now, and the new
/// session's cookie value.
async fn prepare(
    env: Env<'_>,
    now: Millis,
    idp: &IdpRecord,
    who: &VerifiedIdentity,
    client: &ClientMeta,
    previous: Option<String>,
) -> Result<(FederatedLogin, String), SignInRefusal> {
    if who.subject.is_empty() {
        return Err(SignInRefusal::MissingSubject);
    }
    let existing = env.store.linked_user(&idp.id, &who.subject).await?;
    let previously_applied = existing
        .as_ref()
        .map(LinkedUser::applied_group_ids)
        .unwrap_or_default();
    let (user, linked_by) = if let Some(link) = existing {
        let u = link.user;
        (FederatedUser::Existing(u.id.clone()), Some((u, "existing")))
    } else {
        let by_email = match (&who.email, idp.link_by_verified_email) {
            (Some(email), true) if who.email_verified || who.method == "saml" => {
                let found = env.store.users_by_email(email).await?;
                if found.len() > 1 {
                    return Err(SignInRefusal::AmbiguousEmail);
                }
                found.into_iter().next()
            }
            _ => None,
        };
        if let Some(u) = by_email {
            (FederatedUser::Existing(u.id.clone()), Some((u, "email")))
        } else if idp.jit_create {
            (FederatedUser::Create(new_user(who, now)?), None)
        } else {
            return Err(SignInRefusal::NoAccount);
        }
    };
    if let Some((u, _)) = &linked_by {
        if u.disabled {
            return Err(SignInRefusal::AccountDisabled);
        }
    }
    let how = linked_by.as_ref().map_or("jit", |(_, how)| *how);

    // Groups: those named in the assertion that exist here, by name, and the ones this IdP
    // applied last time (for their names, should they go). A group whose membership gives a
    // role, approves access requests or holds root-credential custody is applied only if an
    // administrator marked it IdP-managed; otherwise it is refused, and a membership this
    // IdP applied before is removed.
    let asserted: BTreeSet<&String> = who.groups.iter().collect();
    let names: Vec<String> = asserted.iter().map(|g| (*g).clone()).collect();
    let known = env
        .store
        .groups_for_idp(&names, &previously_applied)
        .await?;
    let by_name: BTreeMap<&str, (&str, bool)> = known
        .iter()
        .map(|(id, name, managed, privileged)| {
            (name.as_str(), (id.as_str(), *managed || !*privileged))
        })
        .collect();
    let mut applied: Vec<String> = Vec::new();
    let mut applied_names: Vec<&str> = Vec::new();
    let mut refused: Vec<&str> = Vec::new();
    let mut unknown: Vec<&str> = Vec::new();
    for g in &asserted {
        match by_name.get(g.as_str()) {
            Some((id, true)) => {
                applied.push((*id).to_string());
                applied_names.push(g.as_str());
            }
            Some((_, false)) => refused.push(g.as_str()),
            None => unknown.push(g.as_str()),
        }
    }
    let removed: Vec<String> = previously_applied
        .into_iter()
        .filter(|g| !applied.contains(g))
        .collect();
    let removed_names: Vec<&str> = known
        .iter()
        .filter(|(id, ..)| removed.contains(id))
        .map(|(_, n, ..)| n.as_str())
        .collect();

    let token = random_token(32);
    let session = SessionRecord {
        id_hash: hash_token(&token),
        user_id: String::new(),
        csrf_token: random_token(24),
        auth_method: format!("{}:{}", who.method, idp.name),
        idp_mfa: who.mfa,
        mfa_at: None,
        created_at: now,
        last_seen_at: now,
        expires_at: now + env.settings.session_absolute_ms,
        source_ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    let actor = match &user {
        FederatedUser::Existing(_) => linked_by
            .as_ref()
            .map(|(u, _)| u.username.clone())
            .unwrap_or_default(),
        FederatedUser::Create(n) => n.username.clone(),
    };
    let event =
        NewEvent::new(now, &ctx(client, &actor, None), AUDIT_ACTION, "user", None).details(json!({
            "idp_id": idp.id,
            "idp": idp.name,
            "kind": idp.kind,
            "subject": who.subject,
            "linked_by": how,
            "groups_applied": applied_names,
            "groups_removed": removed_names,
            "groups_refused": refused,
            "groups_unknown": unknown,
            "idp_mfa": who.mfa,
            "mfa_evidence": who.mfa_evidence,
            "session_rotated": previous.is_some(),
        }));
    let login = FederatedLogin {
        idp_id: idp.id.clone(),
        subject: who.subject.clone(),
        user,
        add_groups: applied.clone(),
        remove_groups: removed,
        applied_groups: applied,
        session,
        replaces: previous,
        at: now,
        event,
        guard: None,
    };
    Ok((login, token))
}

/// The just-in-time user: username from the mapping (or the e-mail address), e-mail
/// required, display name from the mapping (or the username).
fn new_user(who: &VerifiedIdentity, now: i64) -> Result<NewUserRecord, SignInRefusal> {
    let email = who
        .email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
        .ok_or(SignInRefusal::MissingEmail)?;
    let username = who
        .username
        .as_deref()
        .and_then(|u| Username::parse(u).ok())
        .or_else(|| Username::parse(email.as_str()).ok())
        .ok_or(SignInRefusal::UsernameInvalid)?;
    let display = who
        .display_name
        .as_deref()
        .and_then(|d| DisplayName::parse(d).ok())
        .map_or_else(|| username.as_str().to_string(), DisplayName::into_inner);
    Ok(NewUserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.into_inner(),
        email: email.into_inner(),
        display_name: display,
        source: UserSource::Federated.as_str().into(),
        password_hash: None,
        created_at: now,
    })
}
