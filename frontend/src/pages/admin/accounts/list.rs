//! The accounts page: the table of accounts with each one's provider, and for
//! administrators the add / edit form, the way to each cloud account's setup kit, deletion
//! (after a confirmation) and the panel of Gatehouse's SAML signing keys.

use gatehouse_shared::auth::Role;
use gatehouse_shared::cloud::Provider;
use gatehouse_shared::directory::Account;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::form::AccountForm;
use super::idp_keys::IdpKeysPanel;
use super::{cloud_details, setup_kit_href};
use crate::api;
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::form::FormState;
use crate::components::loaded::{Empty, Loaded};
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::components::time::Timestamp;
use crate::session::use_session;

#[component]
pub fn AccountsPage() -> impl IntoView {
    set_page_title("Accounts");
    let session = use_session();
    let can_write = Memo::new(move |_| session.has_role(Role::Administrator));
    let accounts = LocalResource::new(api::accounts);
    let page = FormState::new();
    let editing = RwSignal::new(None::<Account>);
    // A newly added cloud account, whose owner runs the setup kit next.
    let added_cloud = RwSignal::new(None::<Account>);
    let on_saved = move |account: Account, edited: bool| {
        page.error.set(None);
        added_cloud.set(None);
        page.notice.set(None);
        if edited {
            editing.set(None);
            page.notice.set(Some(format!(
                "Saved account {} ({}).",
                account.name, account.id
            )));
        } else if account.provider != Provider::Local {
            added_cloud.set(Some(account));
        } else {
            page.notice.set(Some(format!(
                "Added account {} ({}).",
                account.name, account.id
            )));
        }
        accounts.refetch();
    };
    view! {
        <section class="page">
            <h1>"Accounts"</h1>
            <p class="lead">
                "The cloud accounts access is granted to. An account in a cloud (Alibaba Cloud, AWS) needs its setup kit run once by its owner; an account on Gatehouse's own STS needs nothing."
            </p>
            <ErrorAlert error=page.error />
            <Notice message=page.notice />
            {move || added_cloud.get().map(|account| view! { <NextStep account /> })}
            <Loaded data=move || accounts.get() loading="Loading accounts…" let:list
                empty=Empty::list(|| view! { <p>"No accounts yet."</p> })>
                <AccountTable accounts=list can_write page editing reload=move || accounts.refetch() />
            </Loaded>
            <Show when=move || can_write.get()>
                {move || {
                    let current = editing.get();
                    view! { <AccountForm editing=current on_saved on_cancel=move || editing.set(None) /> }
                }}
                <IdpKeysPanel accounts=Signal::derive(move || {
                    accounts.get().and_then(Result::ok).unwrap_or_default()
                }) />
            </Show>
        </section>
    }
}

/// After adding a cloud account: what its owner does next.
#[component]
fn NextStep(account: Account) -> impl IntoView {
    view! {
        <div class="alert alert-ok" role="status">
            <p>
                {format!("Added account {} ({}). ", account.name, account.id)}
                "Before Gatehouse can provision roles there, the account's owner runs its setup kit once: "
                <A href=setup_kit_href(&account.id)>"open the setup kit"</A>
                "."
            </p>
        </div>
    }
}

#[component]
fn AccountTable(
    accounts: Vec<Account>,
    can_write: Memo<bool>,
    page: FormState,
    editing: RwSignal<Option<Account>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let headers: &'static [&'static str] = if can_write.get_untracked() {
        &[
            "Account ID",
            "Name",
            "Environment",
            "Provider",
            "Added",
            "Actions",
        ]
    } else {
        &["Account ID", "Name", "Environment", "Provider", "Added"]
    };
    view! {
        <DataTable caption="Accounts" headers wide=true>
            {accounts
                .into_iter()
                .map(|account| view! { <AccountRow account can_write page editing reload /> })
                .collect_view()}
        </DataTable>
    }
}

#[component]
fn AccountRow(
    account: Account,
    can_write: Memo<bool>,
    page: FormState,
    editing: RwSignal<Option<Account>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let delete = {
        let id = account.id.clone();
        let name = account.name.clone();
        move |_| {
            if !page.start() {
                return;
            }
            let id = id.clone();
            let name = name.clone();
            spawn_local(async move {
                match api::delete_account(&id).await {
                    Ok(()) => {
                        if editing.with_untracked(|e| e.as_ref().is_some_and(|a| a.id == id)) {
                            editing.set(None);
                        }
                        page.succeed(Some(format!("Deleted account {name} ({id}).")));
                        reload();
                    }
                    Err(e) => {
                        confirming.set(false);
                        page.fail(e);
                    }
                }
            });
        }
    };
    let edit = {
        let account = account.clone();
        move |_| editing.set(Some(account.clone()))
    };
    let delete_label = format!("Delete account {}", account.id);
    let confirm_label = format!("Yes, delete account {}", account.id);
    let edit_label = format!("Edit account {}", account.id);
    let kit = (account.provider != Provider::Local).then(|| {
        (
            setup_kit_href(&account.id),
            format!("Setup kit of account {}", account.id),
        )
    });
    let details = cloud_details(&account);
    view! {
        <tr>
            <th scope="row"><code>{account.id.clone()}</code></th>
            <td>{account.name}</td>
            <td>
                <Badge
                    tone=if account.environment == "production" { Tone::Warn } else { Tone::Neutral }
                    text=account.environment
                />
            </td>
            <td>
                {account.provider.label()}
                {details.map(|d| view! { <span class="hint block">{d}</span> })}
            </td>
            <td><Timestamp at=account.created_at /></td>
            {can_write.get_untracked().then(|| view! {
                <td class="row-actions">
                    {move || {
                        if confirming.get() {
                            view! {
                                <span class="confirm">
                                    "Delete this account?"
                                    <button type="button" class="danger small" aria-label=confirm_label.clone() disabled=move || page.busy.get() on:click=delete.clone()>
                                        "Delete"
                                    </button>
                                    <button type="button" class="secondary small" on:click=move |_| confirming.set(false)>
                                        "Cancel"
                                    </button>
                                </span>
                            }
                            .into_any()
                        } else {
                            view! {
                                <button type="button" class="secondary small" aria-label=edit_label.clone() on:click=edit.clone()>
                                    "Edit"
                                </button>
                                " "
                                {kit.clone().map(|(href, label)| view! {
                                    <A href=href attr:class="button secondary small" attr:aria-label=label>"Setup kit"</A>
                                })}
                                " "
                                <button type="button" class="danger small" aria-label=delete_label.clone() on:click=move |_| confirming.set(true)>
                                    "Delete"
                                </button>
                            }
                            .into_any()
                        }
                    }}
                </td>
            })}
        </tr>
    }
}
