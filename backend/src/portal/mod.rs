//! The employee portal: the accounts × permission sets a person is assigned, credentials
//! for one of them in the forms tools read, and `credentials_uri` capability URLs that
//! hand out fresh credentials to Alibaba Cloud's credentials provider (and, through
//! `gatehouse credentials`, to anything that runs an AWS-style `credential_process`).

pub mod cli;
pub mod formats;
pub mod routes;

use gatehouse_shared::cloud::Provider;
use gatehouse_shared::permission_sets::ProvisioningStatus;
use gatehouse_shared::portal::{
    CredentialUri, IssuedCredentials, Portal, PortalAccount, PortalPermissionSet,
};

use crate::clock::{to_datetime, Millis};
use crate::permission_sets::role_name;
use crate::store::{CredentialUriRecord, EntitlementRecord};
use crate::sts::Issued;

/// Where the console link goes when a permission set has no relay state.
pub const CONSOLE_HOME: &str = "https://home.console.aliyun.com/";

/// Groups entitlements (ordered by account) into the portal's accounts; an entitlement
/// that comes from a just-in-time grant carries the grant's id and end.
pub fn portal_dto(entitlements: &[(EntitlementRecord, Option<(String, Millis)>)]) -> Portal {
    let mut accounts: Vec<PortalAccount> = Vec::new();
    for (e, grant) in entitlements {
        if accounts.last().is_none_or(|a| a.account_id != e.account_id) {
            accounts.push(PortalAccount {
                account_id: e.account_id.clone(),
                name: e.account_name.clone(),
                environment: e.environment.clone(),
                provider: Provider::parse(&e.provider).unwrap_or_default(),
                permission_sets: Vec::new(),
            });
        }
        let p = &e.permission_set;
        let role = role_name(&p.name);
        if let Some(account) = accounts.last_mut() {
            account.permission_sets.push(PortalPermissionSet {
                permission_set_id: p.id.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                session_duration_secs: p.session_duration_secs,
                role_arn: crate::permission_sets::role_arn_in(
                    Provider::parse(&e.provider).unwrap_or_default(),
                    &e.account_id,
                    &role,
                ),
                role_name: role,
                status: ProvisioningStatus::parse(&e.role_status)
                    .unwrap_or(ProvisioningStatus::NotProvisioned),
                console_url: p
                    .relay_state
                    .clone()
                    .unwrap_or_else(|| CONSOLE_HOME.to_string()),
                grant_id: grant.as_ref().map(|(id, _)| id.clone()),
                grant_ends_at: grant.as_ref().map(|(_, ends)| to_datetime(*ends)),
            });
        }
    }
    Portal { accounts }
}

pub fn issued_dto(issued: &Issued) -> IssuedCredentials {
    IssuedCredentials {
        access_key_id: issued.credential.access_key_id.clone(),
        access_key_secret: issued.credential.access_key_secret.to_string(),
        security_token: issued.credential.security_token.clone(),
        expiration: to_datetime(issued.claims.exp),
        account_id: issued.claims.acc.clone(),
        role_arn: issued.role_arn.clone(),
        assumed_role_arn: issued.assumed_role_arn.clone(),
        formats: formats::all(issued),
    }
}

pub fn credential_uri_dto(r: &CredentialUriRecord, url: Option<String>) -> CredentialUri {
    CredentialUri {
        id: r.id.clone(),
        account_id: r.account_id.clone(),
        permission_set_id: r.permission_set_id.clone(),
        permission_set_name: r.permission_set_name.clone(),
        url,
        created_at: to_datetime(r.created_at),
        expires_at: to_datetime(r.expires_at),
        last_used_at: r.last_used_at.map(to_datetime),
    }
}
