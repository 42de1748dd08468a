//! Gatehouse's SAML signing keys, a compact panel of the Accounts page (administrators):
//! each key's state and SHA-256 fingerprint, and the two steps of a key rollover (publish a
//! next key, then activate it once every cloud account trusts the new metadata).

use gatehouse_shared::cloud::{IdpKey, Provider};
use gatehouse_shared::directory::Account;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::setup_kit_href;
use crate::api::{self, ApiError};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::confirm::ConfirmAction;
use crate::components::copy::CopyButton;
use crate::components::form::FormState;
use crate::components::loaded::{Empty, Loaded};
use crate::components::time::Timestamp;

/// A hex fingerprint as `openssl x509 -fingerprint` shows it: `AB:CD:…`.
fn colon_hex(hex: &str) -> String {
    let upper: Vec<char> = hex
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    upper
        .chunks(2)
        .map(|pair| pair.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(":")
}

fn state_tone(state: &str) -> Tone {
    match state {
        "active" => Tone::Good,
        "next" => Tone::Warn,
        _ => Tone::Neutral,
    }
}

/// The panel. `accounts` is the page's list, for the links to each cloud account's kit.
#[component]
pub(super) fn IdpKeysPanel(#[prop(into)] accounts: Signal<Vec<Account>>) -> impl IntoView {
    let keys = RwSignal::new(None::<Result<Vec<IdpKey>, ApiError>>);
    spawn_local(async move {
        let loaded = api::idp_keys().await;
        keys.try_set(Some(loaded));
    });
    let page = FormState::new();
    let has = move |state: &'static str| {
        keys.with(|k| {
            k.as_ref()
                .and_then(|r| r.as_ref().ok())
                .is_some_and(|list| list.iter().any(|key| key.state == state))
        })
    };
    let any_key = move || {
        keys.with(|k| {
            k.as_ref()
                .and_then(|r| r.as_ref().ok())
                .is_some_and(|list| !list.is_empty())
        })
    };
    let can_publish = Memo::new(move |_| any_key() && !has("next"));
    let can_activate = Memo::new(move |_| has("next"));
    let published = move |list: Vec<IdpKey>| {
        keys.set(Some(Ok(list)));
        page.notice.set(Some(
            "Published a next key: update every cloud account's SAML provider, then activate it."
                .into(),
        ));
    };
    let activated = move |list: Vec<IdpKey>| {
        keys.set(Some(Ok(list)));
        page.notice.set(Some(
            "Activated the next key: it signs from now on; the old one is retired.".into(),
        ));
    };
    let cloud_accounts = Memo::new(move |_| {
        accounts.with(|list| {
            list.iter()
                .filter(|a| a.provider != Provider::Local)
                .map(|a| (a.id.clone(), a.name.clone()))
                .collect::<Vec<_>>()
        })
    });
    view! {
        <section class="card idp-keys" aria-labelledby="idp-keys-heading">
            <h2 id="idp-keys-heading">"Gatehouse's SAML signing keys"</h2>
            <p class="hint">
                "To replace the key that signs sign-ins to the clouds, publish a next key, then update every cloud account's SAML provider with the new metadata (rerun the first step of its setup kit). Once every account trusts it, activate the next key: it signs from then on and the old one is retired."
            </p>
            <ErrorAlert error=page.error />
            <Notice message=page.notice />
            <Loaded data=move || keys.get() loading="Loading the signing keys…" let:list
                empty=Empty::list(|| view! {
                    <p class="muted">"No key yet: Gatehouse makes one the first time a cloud account needs it."</p>
                })>
                <KeyTable keys=list />
            </Loaded>
            <Show when=move || any_key() && !cloud_accounts.with(Vec::is_empty)>
                <p class="hint kit-links">
                    "Each cloud account's setup kit: "
                    {move || {
                        let links = cloud_accounts.get();
                        let last = links.len().saturating_sub(1);
                        links
                            .into_iter()
                            .enumerate()
                            .map(|(i, (id, name))| view! {
                                <A href=setup_kit_href(&id)>{format!("{name} ({id})")}</A>
                                {if i < last { ", " } else { "." }}
                            })
                            .collect_view()
                    }}
                </p>
            </Show>
            <div class="key-actions">
                <Show when=move || can_publish.get()>
                    <div class="key-action">
                        <ConfirmAction
                            label="Publish next key"
                            question="Publish a next key in the metadata?"
                            confirm="Publish"
                            page
                            action=api::publish_idp_key
                            done=published
                        />
                        <span class="hint">"Adds a key to the metadata; it does not sign until it is activated."</span>
                    </div>
                </Show>
                <Show when=move || can_activate.get()>
                    <div class="key-action">
                        <ConfirmAction
                            label="Activate next key"
                            question="Has every cloud account's SAML provider been updated?"
                            confirm="Activate"
                            page
                            action=api::activate_idp_key
                            done=activated
                        />
                        <span class="hint">"The next key signs from now on and the active one is retired: accounts not yet updated stop accepting sign-ins."</span>
                    </div>
                </Show>
            </div>
        </section>
    }
}

#[component]
fn KeyTable(keys: Vec<IdpKey>) -> impl IntoView {
    view! {
        <ul class="plain key-list">
            {keys
                .into_iter()
                .map(|key| {
                    let fingerprint = colon_hex(&key.fingerprint);
                    let copy_label = format!("Copy the fingerprint of the {} key {}", key.state, key.id);
                    view! {
                        <li class="key-row">
                            <Badge tone=state_tone(&key.state) text=key.state.clone() />
                            <span class="key-fingerprint">
                                <abbr title="SHA-256 fingerprint of the certificate" class="hint">"SHA-256"</abbr>
                                " "
                                <code class="break">{fingerprint.clone()}</code>
                                " "
                                <CopyButton text=fingerprint label=copy_label />
                            </span>
                            <span class="hint">
                                "made " <Timestamp at=key.created_at />
                                {key.activated_at.map(|at| view! { " · activated " <Timestamp at /> })}
                            </span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
