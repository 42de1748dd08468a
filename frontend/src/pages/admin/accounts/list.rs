//! Cloud accounts: the table of accounts that access can be granted to; administrators add
//! them by their 16-digit ID and delete them (after a confirmation).

use gatehouse_shared::auth::Role;
use gatehouse_shared::directory::{Account, CreateAccount};
use gatehouse_shared::validate::{AccountId, AccountName, Environment, Faults};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::field::TextField;
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
    view! {
        <section class="page">
            <h1>"Accounts"</h1>
            <ErrorAlert error=page.error />
            <Notice message=page.notice />
            <Loaded data=move || accounts.get() loading="Loading accounts…" let:list
                empty=Empty::list(|| view! { <p>"No accounts yet."</p> })>
                <AccountTable accounts=list can_write page reload=move || accounts.refetch() />
            </Loaded>
            <Show when=move || can_write.get()>
                <CreateAccountForm on_created=move |account: Account| {
                    page.notice.set(Some(format!("Added account {} ({}).", account.name, account.id)));
                    accounts.refetch();
                } />
            </Show>
        </section>
    }
}

#[component]
fn AccountTable(
    accounts: Vec<Account>,
    can_write: Memo<bool>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let headers: &'static [&'static str] = if can_write.get_untracked() {
        &["Account ID", "Name", "Environment", "Added", "Actions"]
    } else {
        &["Account ID", "Name", "Environment", "Added"]
    };
    view! {
        <DataTable caption="Accounts" headers>
            {accounts
                .into_iter()
                .map(|account| view! { <AccountRow account can_write page reload /> })
                .collect_view()}
        </DataTable>
    }
}

#[component]
fn AccountRow(
    account: Account,
    can_write: Memo<bool>,
    page: FormState,
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
    let delete_label = format!("Delete account {}", account.id);
    let confirm_label = format!("Yes, delete account {}", account.id);
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

#[component]
fn CreateAccountForm(on_created: impl Fn(Account) + Copy + Send + Sync + 'static) -> impl IntoView {
    let id = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let environment = RwSignal::new(String::new());
    let form = FormState::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        let account_id = faults.check("id", AccountId::parse(&id.get_untracked()));
        let account_name = faults.check("name", AccountName::parse(&name.get_untracked()));
        let env = faults.check(
            "environment",
            Environment::parse(&environment.get_untracked()),
        );
        if !form.check(faults) {
            return;
        }
        let (Some(account_id), Some(account_name), Some(env)) = (account_id, account_name, env)
        else {
            return;
        };
        let request = CreateAccount {
            id: account_id.into_inner(),
            name: account_name.into_inner(),
            environment: env.into_inner(),
        };
        spawn_local(async move {
            match api::create_account(&request).await {
                Ok(account) => {
                    form.succeed(None);
                    for field in [id, name, environment] {
                        field.set(String::new());
                    }
                    on_created(account);
                }
                Err(e) if e.code == ErrorCode::Conflict => {
                    form.busy.set(false);
                    form.error.set(Some("The account was not created.".into()));
                    form.set_field_error("id", "An account with this ID is already registered.");
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="create-account-heading">
            <h2 id="create-account-heading">"Add an account"</h2>
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate class="grid-form">
                <TextField
                    id="new-account-id"
                    label="Account ID"
                    value=id
                    inputmode="numeric"
                    autocomplete="off"
                    maxlength=16
                    hint="The 16-digit ID of the cloud account."
                    error=form.field_error("id")
                    required=true
                />
                <TextField id="new-account-name" label="Account name" value=name autocomplete="off" error=form.field_error("name") required=true />
                <TextField
                    id="new-account-environment"
                    label="Environment"
                    value=environment
                    autocomplete="off"
                    placeholder="production"
                    hint="Letters, digits and '-', e.g. production, staging."
                    error=form.field_error("environment")
                    required=true
                />
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>"Add account"</button>
                </div>
            </form>
        </section>
    }
}
