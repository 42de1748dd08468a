//! The form that adds an account or edits one: its ID (when adding), name and environment,
//! and the cloud that grants access there (any provider of `Provider::ALL`; for Alibaba
//! Cloud the site and an optional region), checked with the shared rules before it is sent.

use gatehouse_shared::cloud::{AlibabaSite, Provider};
use gatehouse_shared::directory::{Account, CreateAccount, UpdateAccount};
use gatehouse_shared::validate::{AccountId, AccountName, Environment, Faults, Region};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::field::{SelectField, TextField};
use crate::components::form::FormState;

fn provider_options() -> Vec<(String, String)> {
    Provider::ALL
        .iter()
        .map(|p| (p.as_str().to_string(), p.label().to_string()))
        .collect()
}

/// What each provider means, one sentence each, in the order of [`Provider::ALL`].
fn provider_notes() -> String {
    Provider::ALL
        .iter()
        .map(|p| match p {
            Provider::Local => {
                "Local: Gatehouse's own STS, no cloud is called (demos, evaluation).".to_string()
            }
            other => format!(
                "{}: a real account, connected once by its setup kit.",
                other.label()
            ),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn site_options() -> Vec<(String, String)> {
    AlibabaSite::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), s.label().to_string()))
        .collect()
}

/// The cloud part of the form, once checked.
struct Cloud {
    provider: Provider,
    site: AlibabaSite,
    /// Normalised; `None` when empty or when the provider is `local`.
    region: Option<String>,
}

/// What an edit changes: only the fields that differ from `before`; `None` when nothing does.
fn changes(
    before: &Account,
    name: String,
    environment: String,
    cloud: &Cloud,
) -> Option<UpdateAccount> {
    let mut change = UpdateAccount {
        name: (name != before.name).then_some(name),
        environment: (environment != before.environment).then_some(environment),
        provider: (cloud.provider != before.provider).then_some(cloud.provider),
        site: None,
        region: None,
    };
    if cloud.provider == Provider::Alibaba {
        change.site = (cloud.site != before.site).then_some(cloud.site);
        // An empty region clears it.
        change.region =
            (cloud.region != before.region).then(|| cloud.region.clone().unwrap_or_default());
    }
    let nothing = change.name.is_none()
        && change.environment.is_none()
        && change.provider.is_none()
        && change.site.is_none()
        && change.region.is_none();
    (!nothing).then_some(change)
}

/// Adds an account (`editing` none) or edits `editing`. `on_saved` gets the saved account
/// and whether it was an edit.
#[component]
pub(super) fn AccountForm(
    editing: Option<Account>,
    on_saved: impl Fn(Account, bool) + Copy + Send + Sync + 'static,
    on_cancel: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let is_edit = editing.is_some();
    let heading = match &editing {
        Some(a) => format!("Edit account {} ({})", a.name, a.id),
        None => "Add an account".to_string(),
    };
    let start = editing.as_ref();
    let id = RwSignal::new(String::new());
    let name = RwSignal::new(start.map(|a| a.name.clone()).unwrap_or_default());
    let environment = RwSignal::new(start.map(|a| a.environment.clone()).unwrap_or_default());
    let provider = RwSignal::new(
        start
            .map_or(Provider::default(), |a| a.provider)
            .as_str()
            .to_string(),
    );
    let site = RwSignal::new(
        start
            .map_or(AlibabaSite::default(), |a| a.site)
            .as_str()
            .to_string(),
    );
    let region = RwSignal::new(start.and_then(|a| a.region.clone()).unwrap_or_default());
    let is_alibaba =
        Memo::new(move |_| provider.with(|p| Provider::parse(p) == Some(Provider::Alibaba)));
    let before = StoredValue::new(editing);
    let form = FormState::new();
    let name_input = NodeRef::<leptos::html::Input>::new();
    if is_edit {
        // The form is below the table: bring it to the person who clicked "Edit".
        request_animation_frame(move || {
            if let Some(el) = name_input.get_untracked() {
                let _ = el.focus();
            }
        });
    }

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        let chosen = Provider::parse(&provider.get_untracked()).unwrap_or_default();
        let account_id = if is_edit {
            None
        } else {
            faults.check("id", AccountId::parse_for(&id.get_untracked(), chosen))
        };
        let account_name = faults.check("name", AccountName::parse(&name.get_untracked()));
        let env = faults.check(
            "environment",
            Environment::parse(&environment.get_untracked()),
        );
        let region_value = if chosen == Provider::Alibaba {
            let raw = region.get_untracked();
            if raw.trim().is_empty() {
                Some(None)
            } else {
                faults
                    .check("region", Region::parse(&raw))
                    .map(|r| Some(r.into_inner()))
            }
        } else {
            Some(None)
        };
        if !form.check(faults) {
            return;
        }
        let (Some(account_name), Some(env), Some(region_value)) = (account_name, env, region_value)
        else {
            return;
        };
        let cloud = Cloud {
            provider: chosen,
            site: AlibabaSite::parse(&site.get_untracked()).unwrap_or_default(),
            region: region_value,
        };
        match before.get_value() {
            Some(before) => {
                let Some(change) =
                    changes(&before, account_name.into_inner(), env.into_inner(), &cloud)
                else {
                    form.succeed(Some("Nothing to save: no field was changed.".into()));
                    return;
                };
                let provider_changed = change.provider.is_some();
                spawn_local(async move {
                    match api::update_account(&before.id, &change).await {
                        Ok(account) => {
                            form.succeed(None);
                            on_saved(account, true);
                        }
                        Err(e) if e.code == ErrorCode::Conflict => {
                            form.busy.set(false);
                            if provider_changed {
                                form.set_field_error("provider", e.message.clone());
                            }
                            form.error.set(Some(format!("Not saved: {}", e.message)));
                        }
                        Err(e) => form.fail(e),
                    }
                });
            }
            None => {
                let Some(account_id) = account_id else {
                    return;
                };
                let request = CreateAccount {
                    id: account_id.into_inner(),
                    name: account_name.into_inner(),
                    environment: env.into_inner(),
                    provider: cloud.provider,
                    site: cloud.site,
                    region: cloud.region,
                };
                spawn_local(async move {
                    match api::create_account(&request).await {
                        Ok(account) => {
                            form.succeed(None);
                            for field in [id, name, environment, region] {
                                field.set(String::new());
                            }
                            on_saved(account, false);
                        }
                        Err(e) if e.code == ErrorCode::Conflict => {
                            form.busy.set(false);
                            form.error.set(Some("The account was not created.".into()));
                            form.set_field_error(
                                "id",
                                "An account with this ID is already registered.",
                            );
                        }
                        Err(e) => form.fail(e),
                    }
                });
            }
        }
    };

    let provider_hint = if is_edit {
        format!(
            "{} The provider cannot change while a role is provisioned in the account.",
            provider_notes()
        )
    } else {
        provider_notes()
    };
    view! {
        <section class="card" aria-labelledby="account-form-heading">
            <h2 id="account-form-heading">{heading}</h2>
            <ErrorAlert error=form.error />
            <Notice message=form.notice />
            <form on:submit=submit novalidate class="grid-form">
                {(!is_edit).then(|| view! {
                    <TextField
                        id="account-id"
                        label="Account ID"
                        value=id
                        inputmode="numeric"
                        autocomplete="off"
                        maxlength=16
                        hint="The ID of the cloud account: 16 digits (Alibaba Cloud, local) or 12 digits (AWS)."
                        error=form.field_error("id")
                        required=true
                    />
                })}
                <TextField id="account-name" label="Account name" value=name autocomplete="off" error=form.field_error("name") required=true node_ref=name_input />
                <TextField
                    id="account-environment"
                    label="Environment"
                    value=environment
                    autocomplete="off"
                    placeholder="production"
                    hint="Letters, digits and '-', e.g. production, staging."
                    error=form.field_error("environment")
                    required=true
                />
                <fieldset>
                    <legend>"Cloud"</legend>
                    <SelectField id="account-provider" label="Provider" value=provider options=Signal::stored(provider_options()) error=form.field_error("provider") />
                    <p class="hint">{provider_hint}</p>
                    <Show when=move || is_alibaba.get()>
                        <SelectField id="account-site" label="Alibaba Cloud site" value=site options=Signal::stored(site_options()) error=form.field_error("site") />
                        <TextField
                            id="account-region"
                            label="Region (optional)"
                            value=region
                            autocomplete="off"
                            placeholder="cn-hangzhou"
                            maxlength=32
                            hint="Gatehouse then calls that region's STS and RAM endpoints. Empty: the global endpoints."
                            error=form.field_error("region")
                        />
                    </Show>
                </fieldset>
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>
                        {if is_edit { "Save account" } else { "Add account" }}
                    </button>
                    {is_edit.then(|| view! {
                        <button type="button" class="secondary" on:click=move |_| on_cancel()>"Cancel"</button>
                    })}
                </div>
            </form>
        </section>
    }
}
