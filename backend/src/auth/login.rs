//! The sign-in, TOTP and step-up rules, apart from HTTP so tests reach them directly.
//!
//! Throttling counts failures in fixed windows stored in the database (so the limit holds
//! across instances): sign-ins per account and per source address (a success clears the
//! account's counter), and wrong TOTP codes per person, wherever a code is checked (a
//! success never clears those). Every attempt is counted before it is checked and given back
//! if it succeeds, so attempts sent in parallel cannot outrun the limit. A refusal for
//! throttling is itself audited.

use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::audit::Outcome;
use gatehouse_shared::validate::{Password, TotpCodeInput, Username};
use serde_json::json;
use zeroize::Zeroizing;

use super::sessions::{hash_token, roles_of, CurrentSession};
use super::{password, totp, AuthError};
use crate::audit::ClientMeta;
use crate::audit::{AuditCtx, NewEvent};
use crate::clock::Millis;
use crate::config::Settings;
use crate::secrets::{random_token, MasterKey};
use crate::store::{SessionRecord, Store, UserRecord};

/// The purpose a user's TOTP seed is sealed for.
pub fn totp_purpose(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// What the sign-in and TOTP rules work on: the store, the key TOTP seeds are sealed with,
/// and the throttling and session settings. The handler lends them from its state.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub store: &'a dyn Store,
    pub master: &'a MasterKey,
    pub settings: &'a Settings,
}

pub struct NewSession {
    /// The cookie value; shown to the browser once, stored only as its hash.
    pub token: String,
    pub session: CurrentSession,
}

fn ctx_for(name: &str, user: Option<&UserRecord>, client: &ClientMeta) -> AuditCtx {
    AuditCtx {
        actor_id: user.map(|u| u.id.clone()),
        actor_name: name.to_string(),
        source_ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    }
}

/// One attempt counted under a sign-in limit before the password is looked at, so
/// attempts sent in parallel cannot all pass a read of the counter and all be checked.
#[derive(Clone, Copy)]
struct Counted<'k> {
    key: &'k str,
    window_start: Millis,
}

impl Counted<'_> {
    /// Gives the count back: the attempt succeeded, or was never checked.
    async fn refund(self, env: Env<'_>) -> Result<(), AuthError> {
        Ok(env.store.rate_refund(self.key, self.window_start).await?)
    }
}

/// Counts an attempt under `key` (at most `limit` per window are checked). Past the limit
/// the count is given back at once (a refusal is not a failure) and the answer is the
/// seconds until the window ends.
async fn count_attempt<'k>(
    env: Env<'_>,
    key: &'k str,
    limit: i64,
    window_ms: i64,
    now: Millis,
) -> Result<Result<Counted<'k>, i64>, AuthError> {
    let (count, window_start) = env.store.rate_hit(key, now, window_ms).await?;
    let counted = Counted { key, window_start };
    if count > limit {
        counted.refund(env).await?;
        return Ok(Err((window_start + window_ms - now + 999) / 1000));
    }
    Ok(Ok(counted))
}

/// Checks username, password and (if enrolled) TOTP; on success creates a new session,
/// replacing `previous` (the session the browser presented, if any).
pub async fn sign_in(
    env: Env<'_>,
    now: Millis,
    client: &ClientMeta,
    username_raw: &str,
    password_raw: Zeroizing<String>,
    totp_raw: Option<&str>,
    previous: Option<String>,
) -> Result<NewSession, AuthError> {
    let s = &env.settings;
    let name_for_audit: String = username_raw
        .trim()
        .chars()
        .take(64)
        .collect::<String>()
        .to_lowercase();
    let account_key_owned = format!("login:user:{name_for_audit}");
    let ip_key_owned = format!("login:ip:{}", client.ip.as_deref().unwrap_or("unknown"));
    let (account_key, ip_key) = (account_key_owned.as_str(), ip_key_owned.as_str());

    let ctx = ctx_for(&name_for_audit, None, client);
    let refusal = |reason: &str, user: Option<&UserRecord>| {
        NewEvent::new(
            now,
            &ctx_for(&name_for_audit, user, client),
            AuditAction::AuthLogin,
            "user",
            user.map(|u| u.id.clone()),
        )
        .failed(Outcome::Failure, reason)
    };

    // Count the attempt first, per account and per address, and give it back if the
    // password proves right (or is never checked): N wrong passwords sent at once cannot
    // have more than the limit checked.
    let mut counted = Vec::with_capacity(2);
    for (key, limit, window, scope) in [
        (
            account_key,
            s.login_account_limit,
            s.login_account_window_ms,
            "account",
        ),
        (ip_key, s.login_ip_limit, s.login_ip_window_ms, "address"),
    ] {
        match count_attempt(env, key, limit, window, now).await? {
            Ok(c) => counted.push(c),
            Err(retry_after_secs) => {
                for c in counted {
                    c.refund(env).await?;
                }
                env.store
                    .append_event(
                        NewEvent::new(now, &ctx, AuditAction::AuthLogin, "user", None)
                            .failed(Outcome::Denied, "rate_limited")
                            .details(json!({ "scope": scope })),
                    )
                    .await?;
                return Err(AuthError::RateLimited {
                    scope,
                    retry_after_secs,
                });
            }
        }
    }
    let refund_all = || async {
        for c in &counted {
            c.refund(env).await?;
        }
        Ok::<(), AuthError>(())
    };

    // The attempt is already counted: a wrong password only needs its record.
    let fail = |reason: &'static str, user: Option<UserRecord>, err: AuthError| async move {
        env.store
            .append_event(refusal(reason, user.as_ref()))
            .await?;
        Err::<NewSession, AuthError>(err)
    };

    let user = match Username::parse(username_raw) {
        Ok(u) => env.store.find_user_by_username(u.as_str()).await?,
        Err(_) => None,
    };
    // Unknown users spend the time a real check would, so absence is not observable.
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let right = match password::verify(&s.password_hashing, stored, password_raw).await {
        Ok(right) => right,
        Err(AuthError::Busy) => {
            // Not checked, so not counted; recorded so an operator sees the load.
            refund_all().await?;
            env.store
                .append_event(refusal("busy", user.as_ref()))
                .await?;
            return Err(AuthError::Busy);
        }
        Err(e) => return Err(e),
    };
    let Some(user) = user else {
        return fail("unknown_user", None, AuthError::InvalidCredentials).await;
    };
    if !right {
        return fail("bad_password", Some(user), AuthError::InvalidCredentials).await;
    }
    refund_all().await?;
    if user.disabled {
        env.store
            .append_event(refusal("account_disabled", Some(&user)))
            .await?;
        return Err(AuthError::Disabled);
    }

    let mut mfa_at = None;
    if let Some(sealed) = &user.totp_secret_enc {
        let Some(code_raw) = totp_raw.filter(|c| !c.trim().is_empty()) else {
            return Err(AuthError::TotpRequired);
        };
        match check_seed(env, now, &user.id, sealed, code_raw).await {
            Ok(()) => {}
            Err(e @ AuthError::RateLimited { .. }) => {
                let event = NewEvent::new(
                    now,
                    &ctx_for(&name_for_audit, Some(&user), client),
                    AuditAction::AuthLogin,
                    "user",
                    Some(user.id.clone()),
                );
                env.store.append_event(totp_refusal(event, &e)).await?;
                return Err(e);
            }
            Err(e @ (AuthError::InvalidTotp | AuthError::TotpReplayed)) => {
                env.store
                    .rate_hit(account_key, now, s.login_account_window_ms)
                    .await?;
                env.store
                    .rate_hit(ip_key, now, s.login_ip_window_ms)
                    .await?;
                return fail(totp_reason(&e), Some(user), e).await;
            }
            Err(e) => return Err(e),
        }
        mfa_at = Some(now);
    }

    env.store.rate_clear(account_key).await?;
    let token = random_token(32);
    let session = SessionRecord {
        id_hash: hash_token(&token),
        user_id: user.id.clone(),
        csrf_token: random_token(24),
        auth_method: if mfa_at.is_some() {
            "password+totp"
        } else {
            "password"
        }
        .to_string(),
        idp_mfa: false,
        mfa_at,
        created_at: now,
        last_seen_at: now,
        expires_at: now + s.session_absolute_ms,
        source_ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    let event = NewEvent::new(
        now,
        &ctx_for(&user.username, Some(&user), client),
        AuditAction::AuthLogin,
        "user",
        Some(user.id.clone()),
    )
    .details(json!({ "method": session.auth_method, "session_rotated": previous.is_some() }));
    env.store
        .create_session(session.clone(), previous.as_deref(), event)
        .await?;
    let groups = env.store.groups_of_user(&user.id).await?;
    let roles = roles_of(&groups);
    Ok(NewSession {
        token,
        session: CurrentSession {
            session,
            user,
            groups,
            roles,
            client: client.clone(),
        },
    })
}

/// Opens the user's sealed TOTP seed and finds the time step `code_raw` is valid for now.
fn totp_step(
    env: Env<'_>,
    user_id: &str,
    sealed: &str,
    code_raw: &str,
    now: Millis,
) -> Result<Option<i64>, AuthError> {
    let secret = env
        .master
        .open(&totp_purpose(user_id), sealed)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(TotpCodeInput::parse(code_raw)
        .ok()
        .and_then(|c| totp::matching_step(&secret, c.as_str(), now_secs(now))))
}

fn now_secs(now: Millis) -> u64 {
    u64::try_from(now / 1000).unwrap_or(0)
}

/// The key a person's wrong TOTP codes are counted under, wherever a code is checked:
/// sign-in, step-up (break-glass decisions included), replacing and confirming the
/// authenticator. One count per person, so no path gives a guesser more tries.
fn totp_key(user_id: &str) -> String {
    format!("totp:user:{user_id}")
}

/// Runs one TOTP check of `user_id` under the per-person limit. The attempt is counted
/// before `check` looks at the code, so guesses sent in parallel cannot all slip in under
/// the limit, and is given back only if the check succeeds: a success takes away no
/// earlier failure, so a lockout lasts its window whatever follows. Once the limit is
/// reached the code is not checked at all (a right one is refused too) and the refusal is
/// [`AuthError::RateLimited`] with scope `totp`; the caller audits it.
async fn under_totp_limit<T>(
    env: Env<'_>,
    now: Millis,
    user_id: &str,
    check: impl std::future::Future<Output = Result<T, AuthError>>,
) -> Result<T, AuthError> {
    let s = &env.settings;
    let key = totp_key(user_id);
    let (count, window_start) = env
        .store
        .rate_hit(&key, now, s.totp_failure_window_ms)
        .await?;
    if count > s.totp_failure_limit {
        return Err(AuthError::RateLimited {
            scope: "totp",
            retry_after_secs: (window_start + s.totp_failure_window_ms - now + 999) / 1000,
        });
    }
    let result = check.await;
    if result.is_ok() {
        env.store.rate_refund(&key, window_start).await?;
    }
    result
}

/// Checks `code_raw` against the user's active seed `sealed` under the per-person limit,
/// and consumes the matched time step.
async fn check_seed(
    env: Env<'_>,
    now: Millis,
    user_id: &str,
    sealed: &str,
    code_raw: &str,
) -> Result<(), AuthError> {
    under_totp_limit(env, now, user_id, async {
        let step = totp_step(env, user_id, sealed, code_raw, now)?.ok_or(AuthError::InvalidTotp)?;
        if env.store.use_totp_step(user_id, step).await? {
            Ok(())
        } else {
            Err(AuthError::TotpReplayed)
        }
    })
    .await
}

/// Checks a TOTP code for `user` now, under the per-person limit on wrong codes, and
/// consumes its time step.
pub async fn check_totp(
    env: Env<'_>,
    now: Millis,
    user: &UserRecord,
    code_raw: &str,
) -> Result<(), AuthError> {
    let sealed = user
        .totp_secret_enc
        .as_ref()
        .ok_or(AuthError::InvalidTotp)?;
    check_seed(env, now, &user.id, sealed, code_raw).await
}

/// The audit reason for a refused TOTP check.
fn totp_reason(e: &AuthError) -> &'static str {
    match e {
        AuthError::RateLimited { .. } => "rate_limited",
        AuthError::TotpReplayed => "totp_replayed",
        _ => "invalid_totp",
    }
}

/// `event` as the record of a refused TOTP check: `denied` with the scope when the limit
/// was reached (as a throttled sign-in is), `failure` otherwise. Never the code.
/// An event about `who`'s own account, by `who`.
fn own_event(now: Millis, who: &CurrentSession, action: AuditAction) -> NewEvent {
    NewEvent::new(now, &who.ctx(), action, "user", Some(who.user.id.clone()))
}

fn totp_refusal(event: NewEvent, e: &AuthError) -> NewEvent {
    match e {
        AuthError::RateLimited { scope, .. } => event
            .failed(Outcome::Denied, totp_reason(e))
            .details(json!({ "scope": scope })),
        _ => event.failed(Outcome::Failure, totp_reason(e)),
    }
}

/// Starts (or replaces) TOTP enrolment: a new pending secret, sealed; the old one stays
/// active until the new one is confirmed.
pub async fn begin_totp(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    current_code: Option<&str>,
) -> Result<(String, String, String), AuthError> {
    if who.user.totp_secret_enc.is_some() {
        let code = current_code.ok_or(AuthError::CurrentTotpRequired)?;
        if let Err(e) = check_totp(env, now, &who.user, code).await {
            let event = own_event(now, who, AuditAction::AuthTotpEnroll);
            env.store.append_event(totp_refusal(event, &e)).await?;
            return Err(e);
        }
    }
    let secret = totp::generate_secret();
    let enrollment = totp::enrollment(&secret, &who.user.username)?;
    let sealed = env.master.seal(&totp_purpose(&who.user.id), &secret);
    let event = own_event(now, who, AuditAction::AuthTotpEnroll)
        .details(json!({ "replacing": who.user.totp_secret_enc.is_some() }));
    env.store
        .set_totp_pending(&who.user.id, &sealed, event)
        .await?;
    Ok(enrollment)
}

/// Confirms the pending secret with a code from it; the session counts as MFA-fresh.
pub async fn confirm_totp(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    code_raw: &str,
) -> Result<(), AuthError> {
    let user = env.store.get_user(&who.user.id).await?;
    let sealed = user.totp_pending_enc.ok_or(AuthError::NoPendingTotp)?;
    let checked = under_totp_limit(env, now, &user.id, async {
        totp_step(env, &user.id, &sealed, code_raw, now)?.ok_or(AuthError::InvalidTotp)
    })
    .await;
    let step = match checked {
        Ok(step) => step,
        Err(e @ (AuthError::InvalidTotp | AuthError::RateLimited { .. })) => {
            let event = NewEvent::new(
                now,
                &who.ctx(),
                AuditAction::AuthTotpConfirm,
                "user",
                Some(user.id.clone()),
            );
            env.store.append_event(totp_refusal(event, &e)).await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let event = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::AuthTotpConfirm,
        "user",
        Some(user.id.clone()),
    );
    env.store
        .confirm_totp(&user.id, &sealed, step, event)
        .await?;
    let mfa_event = NewEvent::new(now, &who.ctx(), AuditAction::AuthStepUp, "session", None)
        .details(json!({ "via": "totp_enrolment" }));
    env.store
        .set_session_mfa(&who.session.id_hash, now, mfa_event)
        .await?;
    Ok(())
}

/// A fresh MFA check for sensitive actions.
pub async fn step_up(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    code_raw: &str,
) -> Result<(), AuthError> {
    if let Err(e) = check_totp(env, now, &who.user, code_raw).await {
        let event = NewEvent::new(now, &who.ctx(), AuditAction::AuthStepUp, "session", None);
        env.store.append_event(totp_refusal(event, &e)).await?;
        return Err(e);
    }
    let event = NewEvent::new(now, &who.ctx(), AuditAction::AuthStepUp, "session", None)
        .details(json!({ "via": "totp" }));
    env.store
        .set_session_mfa(&who.session.id_hash, now, event)
        .await?;
    Ok(())
}

/// Changes the signed-in person's own password after checking the current one. A wrong
/// current password counts as a failed sign-in for the account (so this is no side door
/// around throttling) and is audited; other sessions end, this one stays. Someone who has
/// no password here (they sign in through an identity provider) is told so.
pub async fn change_password(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    current: Zeroizing<String>,
    new: Zeroizing<String>,
) -> Result<(), AuthError> {
    if who.user.password_hash.is_none() {
        return Err(AuthError::NoPassword);
    }
    let s = &env.settings;
    let account_key = format!("login:user:{}", who.user.username);
    // Counted before the check and given back when right, as at sign-in.
    let counted = match count_attempt(
        env,
        &account_key,
        s.login_account_limit,
        s.login_account_window_ms,
        now,
    )
    .await?
    {
        Ok(c) => c,
        Err(retry_after_secs) => {
            return Err(AuthError::RateLimited {
                scope: "account",
                retry_after_secs,
            })
        }
    };
    let event = own_event(now, who, AuditAction::AuthPasswordChange);
    let right = match password::verify(
        &s.password_hashing,
        who.user.password_hash.clone(),
        current.clone(),
    )
    .await
    {
        Ok(right) => right,
        Err(e) => {
            counted.refund(env).await?;
            return Err(e);
        }
    };
    if !right {
        env.store
            .append_event(event.failed(Outcome::Failure, "bad_password"))
            .await?;
        return Err(AuthError::WrongCurrentPassword);
    }
    counted.refund(env).await?;
    let new = Password::parse(&new).map_err(AuthError::WeakPassword)?;
    if new.as_str() == current.as_str() {
        return Err(AuthError::WeakPassword(
            "Choose a password different from the current one.".into(),
        ));
    }
    let hash = password::hash(&s.password_hashing, Zeroizing::new(new.into_inner())).await?;
    env.store
        .change_own_password(&who.user.id, &hash, &who.session.id_hash, event)
        .await?;
    Ok(())
}

/// Ends the session.
pub async fn sign_out(
    store: &dyn Store,
    now: Millis,
    who: &CurrentSession,
) -> Result<(), AuthError> {
    let event = own_event(now, who, AuditAction::AuthLogout);
    store
        .delete_session(&who.session.id_hash, Some(event))
        .await?;
    Ok(())
}
