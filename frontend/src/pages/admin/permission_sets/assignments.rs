//! Who a permission set is assigned to, on which account: the table (with removal) and the
//! form that adds an assignment.

use gatehouse_shared::directory::{Account, Group, User};
use gatehouse_shared::permission_sets::{Assignment, CreateAssignment, PrincipalType};
use gatehouse_shared::validate::Faults;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use crate::api::{self, ErrorCode};
use crate::components::alert::ErrorAlert;
use crate::components::badge::{Badge, Tone};
use crate::components::field::SelectField;
use crate::components::form::FormState;
use crate::components::table::DataTable;
use crate::components::time::Timestamp;

/// "Payments production (1234567890123456)", or the bare ID for an account not (or no
/// longer) in the list.
fn account_text(accounts: &[Account], id: &str) -> String {
    accounts
        .iter()
        .find(|a| a.id == id)
        .map_or_else(|| id.to_string(), |a| format!("{} ({})", a.name, a.id))
}

/// Users and groups that can be assigned (administrators only).
#[derive(Debug, Clone, Default)]
pub(super) struct Principals {
    pub(super) users: Vec<User>,
    pub(super) groups: Vec<Group>,
}

#[component]
#[expect(
    clippy::needless_pass_by_value,
    reason = "a component owns its props; this one only reads them"
)]
pub(super) fn Assignments(
    set_name: String,
    list: Vec<Assignment>,
    accounts: Vec<Account>,
    can_write: Memo<bool>,
    page: FormState,
    changed: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p>"Not assigned to anyone yet."</p> }.into_any();
    }
    let headers: &'static [&'static str] = if can_write.get_untracked() {
        &["Principal", "Type", "Account", "Assigned", "Actions"]
    } else {
        &["Principal", "Type", "Account", "Assigned"]
    };
    view! {
        <DataTable caption=format!("Assignments of {set_name}") wide=true headers>
            {list
                .into_iter()
                .map(|a| {
                    let account = account_text(&accounts, &a.account_id);
                    view! { <AssignmentRow a account can_write page changed /> }
                })
                .collect_view()}
        </DataTable>
    }
    .into_any()
}

#[component]
fn AssignmentRow(
    a: Assignment,
    account: String,
    can_write: Memo<bool>,
    page: FormState,
    changed: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let what = format!("{} on {}", a.principal_name, a.account_id);
    let remove = {
        let id = a.id.clone();
        let what = what.clone();
        move |_| {
            if !page.start() {
                return;
            }
            let id = id.clone();
            let what = what.clone();
            spawn_local(async move {
                match api::delete_assignment(&id).await {
                    Ok(()) => {
                        page.succeed(Some(format!("Removed the assignment of {what}.")));
                        changed();
                    }
                    Err(e) => {
                        confirming.set(false);
                        page.fail(e);
                    }
                }
            });
        }
    };
    let remove_label = format!("Remove assignment of {what}");
    let confirm_label = format!("Yes, remove assignment of {what}");
    let kind = match a.principal_type {
        PrincipalType::User => "user",
        PrincipalType::Group => "group",
    };
    view! {
        <tr>
            <th scope="row">{a.principal_name}</th>
            <td><Badge tone=Tone::Neutral text=kind /></td>
            <td>{account}</td>
            <td class="nowrap"><Timestamp at=a.created_at /></td>
            {can_write.get_untracked().then(|| view! {
                <td class="row-actions">
                    {move || {
                        if confirming.get() {
                            view! {
                                <span class="confirm">
                                    "Remove this access?"
                                    <button type="button" class="danger small" aria-label=confirm_label.clone() disabled=move || page.busy.get() on:click=remove.clone()>
                                        "Remove"
                                    </button>
                                    <button type="button" class="secondary small" on:click=move |_| confirming.set(false)>
                                        "Cancel"
                                    </button>
                                </span>
                            }
                            .into_any()
                        } else {
                            view! {
                                <button type="button" class="secondary small" aria-label=remove_label.clone() on:click=move |_| confirming.set(true)>
                                    "Remove"
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
#[expect(
    clippy::needless_pass_by_value,
    reason = "a component owns its props; this one only reads them"
)]
pub(super) fn AddAssignment(
    permission_set_id: String,
    accounts: Vec<Account>,
    principals: Principals,
    page: FormState,
    changed: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let kind = RwSignal::new("user".to_string());
    let user = RwSignal::new(String::new());
    let group = RwSignal::new(String::new());
    let account = RwSignal::new(String::new());
    let form = FormState::new();
    let kinds = Signal::stored(vec![
        ("user".to_string(), "User".to_string()),
        ("group".to_string(), "Group".to_string()),
    ]);
    let mut user_options = vec![(String::new(), "Choose a user…".to_string())];
    user_options.extend(
        principals
            .users
            .iter()
            .map(|u| (u.id.clone(), format!("{} ({})", u.display_name, u.username))),
    );
    let mut group_options = vec![(String::new(), "Choose a group…".to_string())];
    group_options.extend(
        principals
            .groups
            .iter()
            .map(|g| (g.id.clone(), g.name.clone())),
    );
    let mut account_options = vec![(String::new(), "Choose an account…".to_string())];
    account_options.extend(
        accounts
            .iter()
            .map(|a| (a.id.clone(), format!("{} ({})", a.name, a.id))),
    );
    if accounts.is_empty() {
        return view! {
            <p class="muted">
                "There are no accounts to assign on yet. " <A href="/admin/accounts">"Add an account"</A> " first."
            </p>
        }
        .into_any();
    }
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let principal_type =
            PrincipalType::parse(&kind.get_untracked()).unwrap_or(PrincipalType::User);
        let principal_id = match principal_type {
            PrincipalType::User => user.get_untracked(),
            PrincipalType::Group => group.get_untracked(),
        };
        let mut faults = Faults::new();
        if principal_id.is_empty() {
            faults.push(
                principal_type.as_str(),
                format!("Choose the {} to assign.", principal_type.as_str()),
            );
        }
        if account.with_untracked(String::is_empty) {
            faults.push("account_id", "Choose the account.");
        }
        if !form.check(faults) {
            return;
        }
        let request = CreateAssignment {
            principal_type,
            principal_id,
            account_id: account.get_untracked(),
            permission_set_id: permission_set_id.clone(),
        };
        spawn_local(async move {
            match api::create_assignment(&request).await {
                Ok(a) => {
                    form.succeed(None);
                    page.error.set(None);
                    page.notice.set(Some(format!(
                        "Assigned to {} on account {}. Provision the role there so it can be used.",
                        a.principal_name, a.account_id
                    )));
                    user.set(String::new());
                    group.set(String::new());
                    account.set(String::new());
                    changed();
                }
                Err(e) if e.code == ErrorCode::Conflict => {
                    form.busy.set(false);
                    form.error.set(Some(
                        "This user or group already has this permission set on that account."
                            .into(),
                    ));
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <h3 class="subhead">"Add an assignment"</h3>
        <ErrorAlert error=form.error />
        <form on:submit=submit novalidate class="inline-form">
            <SelectField id="assign-type" label="Assign to" value=kind options=kinds />
            <Show
                when=move || kind.get() == "group"
                fallback=move || view! {
                    <SelectField id="assign-user" label="User" value=user options=Signal::stored(user_options.clone()) error=form.field_error("user") />
                }
            >
                <SelectField id="assign-group" label="Group" value=group options=Signal::stored(group_options.clone()) error=form.field_error("group") />
            </Show>
            <SelectField id="assign-account" label="Account" value=account options=Signal::stored(account_options.clone()) error=form.field_error("account_id") />
            <button type="submit" disabled=move || form.busy.get()>"Assign"</button>
        </form>
    }
    .into_any()
}
