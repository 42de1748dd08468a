//! The vault: entries administrators write, rotations custodians record, and the split-
//! custody rule that keeps the two halves of a root credential in two people's hands.

use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::breakglass::{
    self as rules, CreateVaultEntry, RecordRotation, UpdateVaultEntry, VaultEntry,
};
use gatehouse_shared::error::FieldError;
use serde_json::json;

use crate::audit::NewEvent;
use crate::auth::login::Env;
use crate::auth::sessions::CurrentSession;
use crate::clock::Millis;
use crate::store::break_glass::{VaultChange, VaultEntryRecord};
use crate::store::StoreError;

use super::{
    check_group, custodian_ids, entry_dto, field, in_group, is_custodian_of, password_purpose,
    totp_purpose, BreakGlassError, Result,
};

/// Split custody of a recorded rotation: the password comes from a password custodian and
/// the TOTP seed from an MFA custodian, and never both from one person, whether in one
/// rotation or in two (the other current half set by the same person).
fn split_custody(
    who_id: &str,
    in_password_group: bool,
    in_mfa_group: bool,
    new_password: bool,
    new_seed: bool,
    entry: &VaultEntryRecord,
) -> std::result::Result<(), &'static str> {
    if new_password && new_seed {
        return Err(
            "One person cannot replace both the root password and the root MFA seed: \
                    each half comes from a different custodian.",
        );
    }
    if new_password && !in_password_group {
        return Err("Only a password custodian of this vault entry can replace the root password.");
    }
    if new_seed && !in_mfa_group {
        return Err("Only an MFA custodian of this vault entry can replace the root MFA seed.");
    }
    if new_password && entry.totp_set_by_id.as_deref() == Some(who_id) {
        return Err(
            "You set the current root MFA seed, so the new root password must come from \
                    another custodian.",
        );
    }
    if new_seed && entry.password_set_by_id.as_deref() == Some(who_id) {
        return Err(
            "You set the current root password, so the new root MFA seed must come from \
                    another custodian.",
        );
    }
    Ok(())
}

pub async fn list_vault(env: Env<'_>, who: &CurrentSession) -> Result<Vec<VaultEntry>> {
    let entries = env.store.list_vault_entries().await?;
    Ok(entries.iter().map(|e| entry_dto(e, who)).collect())
}

pub async fn get_vault(env: Env<'_>, who: &CurrentSession, id: &str) -> Result<VaultEntry> {
    let e = env
        .store
        .get_vault_entry(id)
        .await
        .map_err(|e| e.or_not_found(BreakGlassError::EntryNotFound))?;
    Ok(entry_dto(&e, who))
}

/// Creates an entry (administrators): the secrets are sealed before they reach the store.
pub async fn create_vault(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    req: CreateVaultEntry,
) -> Result<VaultEntry> {
    let faults = rules::check_create(&req);
    if !faults.is_empty() {
        return Err(BreakGlassError::Invalid(faults));
    }
    match env.store.get_account(&req.account_id).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => return Err(field("account_id", "No account with this ID.")),
        Err(e) => return Err(e.into()),
    }
    check_group(env, "password_group_id", &req.password_group_id).await?;
    check_group(env, "mfa_group_id", &req.mfa_group_id).await?;
    let seed = rules::totp_seed(&req.totp_seed).map_err(|m| field("totp_seed", m))?;
    let id = uuid::Uuid::new_v4().to_string();
    let record = VaultEntryRecord {
        password_enc: env
            .master
            .seal(&password_purpose(&id), req.password.as_bytes()),
        totp_seed_enc: env.master.seal(&totp_purpose(&id), &seed),
        account_id: req.account_id.clone(),
        account_name: String::new(),
        password_group_id: req.password_group_id,
        password_group_name: String::new(),
        mfa_group_id: req.mfa_group_id,
        mfa_group_name: String::new(),
        password_approvals: req.password_approvals.unwrap_or(rules::DEFAULT_APPROVALS),
        mfa_approvals: req.mfa_approvals.unwrap_or(rules::DEFAULT_APPROVALS),
        window_secs: req.window_secs.unwrap_or(rules::DEFAULT_WINDOW_SECS),
        rotation_required_at: None,
        rotated_at: None,
        rotated_by: None,
        password_set_by_id: None,
        totp_set_by_id: None,
        created_at: now,
        updated_at: now,
        id: id.clone(),
    };
    let event = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::VaultCreate,
        "vault_entry",
        Some(id),
    );
    let created = env
        .store
        .create_vault_entry(record, event)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => BreakGlassError::EntryExists,
            other => other.into(),
        })?;
    Ok(entry_dto(&created, who))
}

pub async fn update_vault(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
    req: UpdateVaultEntry,
) -> Result<VaultEntry> {
    let mut faults = Vec::new();
    for (name, v) in [
        ("password_approvals", req.password_approvals),
        ("mfa_approvals", req.mfa_approvals),
    ] {
        if let Some(Err(m)) = v.map(rules::approvals) {
            faults.push(FieldError::new(name, m));
        }
    }
    if let Some(Err(m)) = req.window_secs.map(rules::window_secs) {
        faults.push(FieldError::new("window_secs", m));
    }
    if !faults.is_empty() {
        return Err(BreakGlassError::Invalid(faults));
    }
    if let Some(g) = &req.password_group_id {
        check_group(env, "password_group_id", g).await?;
    }
    if let Some(g) = &req.mfa_group_id {
        check_group(env, "mfa_group_id", g).await?;
    }
    let change = VaultChange {
        password_group_id: req.password_group_id,
        mfa_group_id: req.mfa_group_id,
        password_approvals: req.password_approvals,
        mfa_approvals: req.mfa_approvals,
        window_secs: req.window_secs,
        updated_at: now,
    };
    let event = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::VaultUpdate,
        "vault_entry",
        Some(id.into()),
    );
    let e = env
        .store
        .update_vault_entry(id, change, event)
        .await
        .map_err(|e| e.or_not_found(BreakGlassError::EntryNotFound))?;
    Ok(entry_dto(&e, who))
}

pub async fn delete_vault(env: Env<'_>, now: Millis, who: &CurrentSession, id: &str) -> Result<()> {
    let event = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::VaultDelete,
        "vault_entry",
        Some(id.into()),
    );
    env.store
        .delete_vault_entry(id, event)
        .await
        .map_err(|e| e.or_not_found(BreakGlassError::EntryNotFound))
}

/// A custodian records that the root password and/or TOTP seed were changed.
pub async fn record_rotation(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
    req: RecordRotation,
) -> Result<VaultEntry> {
    let entry = env
        .store
        .get_vault_entry(id)
        .await
        .map_err(|e| e.or_not_found(BreakGlassError::EntryNotFound))?;
    if !is_custodian_of(who, &entry.password_group_id, &entry.mfa_group_id) {
        return Err(BreakGlassError::NotCustodian);
    }
    let mut faults = Vec::new();
    let password = match req.password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => match rules::root_password(p) {
            Ok(p) => Some(env.master.seal(&password_purpose(id), p.as_bytes())),
            Err(m) => {
                faults.push(FieldError::new("password", m));
                None
            }
        },
        None => None,
    };
    let seed = match req.totp_seed.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => match rules::totp_seed(s) {
            Ok(b) => Some(env.master.seal(&totp_purpose(id), &b)),
            Err(m) => {
                faults.push(FieldError::new("totp_seed", m));
                None
            }
        },
        None => None,
    };
    if faults.is_empty() && password.is_none() && seed.is_none() {
        faults.push(FieldError::new(
            "password",
            "Enter the new root password, the new TOTP seed, or both.",
        ));
    }
    if !faults.is_empty() {
        return Err(BreakGlassError::Invalid(faults));
    }
    split_custody(
        &who.user.id,
        in_group(who, &entry.password_group_id),
        in_group(who, &entry.mfa_group_id),
        password.is_some(),
        seed.is_some(),
        &entry,
    )
    .map_err(BreakGlassError::SplitCustody)?;
    let custodians = custodian_ids(env, &entry.password_group_id, &entry.mfa_group_id).await?;
    let event = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::VaultRotate,
        "vault_entry",
        Some(id.into()),
    )
    .details(json!({
        "vault_entry_id": id,
        "account_id": entry.account_id,
        "notify_user_ids": custodians,
    }));
    let e = env
        .store
        .record_rotation(
            id,
            password,
            seed,
            &who.user.username,
            &who.user.id,
            now,
            event,
        )
        .await
        .map_err(|e| match e {
            // The same rule, lost to a concurrent rotation of the other half.
            StoreError::Conflict(_) => BreakGlassError::SplitCustody(
                "The other half of this root credential was just set by you; it must come \
                 from another custodian.",
            ),
            other => other.or_not_found(BreakGlassError::EntryNotFound),
        })?;
    Ok(entry_dto(&e, who))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(password_by: Option<&str>, totp_by: Option<&str>) -> VaultEntryRecord {
        VaultEntryRecord {
            id: "e".into(),
            account_id: "a".into(),
            account_name: "a".into(),
            password_enc: String::new(),
            totp_seed_enc: String::new(),
            password_group_id: "pw".into(),
            password_group_name: "pw".into(),
            mfa_group_id: "mfa".into(),
            mfa_group_name: "mfa".into(),
            password_approvals: 1,
            mfa_approvals: 1,
            window_secs: 900,
            rotation_required_at: None,
            rotated_at: None,
            rotated_by: None,
            password_set_by_id: password_by.map(Into::into),
            totp_set_by_id: totp_by.map(Into::into),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn split_custody_keeps_the_halves_in_two_hands() {
        let fresh = entry(None, None);
        // (who, in password group, in MFA group, new password, new seed)
        assert!(split_custody("bea", true, true, true, true, &fresh).is_err());
        assert!(split_custody("pam", true, false, true, false, &fresh).is_ok());
        assert!(split_custody("pam", true, false, false, true, &fresh).is_err());
        assert!(split_custody("max", false, true, false, true, &fresh).is_ok());
        assert!(split_custody("max", false, true, true, false, &fresh).is_err());
        // The other current half set by the same person.
        let bea_password = entry(Some("bea"), Some("max"));
        assert!(split_custody("bea", true, true, false, true, &bea_password).is_err());
        assert!(split_custody("bea", true, true, true, false, &bea_password).is_ok());
        assert!(split_custody("max", false, true, false, true, &bea_password).is_ok());
        let bea_seed = entry(Some("pam"), Some("bea"));
        assert!(split_custody("bea", true, true, true, false, &bea_seed).is_err());
    }
}
