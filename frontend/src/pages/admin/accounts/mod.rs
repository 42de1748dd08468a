//! Cloud accounts: the table of accounts that access can be granted to, each with the
//! provider that grants it (Gatehouse's own STS or a cloud: Alibaba Cloud, AWS);
//! administrators add, edit and delete them, and fetch a cloud account's one-time setup kit.
//!
//! `list`: the page with the table; `form`: the add and edit form; `idp_keys`: the panel of
//! Gatehouse's SAML signing keys and their rollover; `setup_kit`: the setup kit's own page
//! (`/admin/accounts/{id}/setup`).

mod form;
mod idp_keys;
mod list;
mod setup_kit;

pub use list::AccountsPage;
pub use setup_kit::SetupKitPage;

use gatehouse_shared::cloud::Provider;
use gatehouse_shared::directory::Account;

/// Where an account's setup kit page is.
fn setup_kit_href(account_id: &str) -> String {
    format!(
        "/admin/accounts/{}/setup",
        js_sys::encode_uri_component(account_id)
    )
}

/// The site and region of an Alibaba Cloud account, as one line; `None` for `local`.
fn cloud_details(account: &Account) -> Option<String> {
    (account.provider == Provider::Alibaba).then(|| {
        let region = account
            .region
            .as_deref()
            .map_or_else(|| "global endpoints".to_string(), |r| format!("region {r}"));
        format!("{} · {region}", account.site.label())
    })
}
